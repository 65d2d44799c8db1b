"""The HTML record: the executed notebook through nbconvert, code hidden.

One exporter per thread that exports (the runner's writer threads), built once
(building one costs about as much as exporting with it).

nbconvert's ``HTMLExporter`` ends every export by parsing the whole page with
BeautifulSoup (``html.parser``) to give ``<img>`` tags without ``alt`` a placeholder
text and ``tabindex="0"`` to JupyterLab's input and output areas, then writes the parsed
page back out. Our record (``templates/record``, on nbconvert's ``classic`` cells) has
neither — the chart is inline SVG and no cell outputs an image — so for it that pass
only re-serialises the same document, and it cost more than half of an export (about
80 ms of a case's time in the batch's parent, holding the GIL the other workers need).
:class:`RecordExporter` renders the same template without that pass whenever the page
has nothing for it to change, and falls back to nbconvert's full export when it does.
It also copies the notebook twice instead of three times and validates it once instead
of after each preprocessor (the same page; about 10 ms a case, see ``_preprocess``),
with the schema validator the run has already compiled (``_validate_preprocessor``).
"""

from __future__ import annotations

import threading

import jinja2
from nbconvert import HTMLExporter

from relief_kit import resources

#: Tags whose cells are left out of the HTML record entirely.
HIDDEN_TAGS = ("parameters", "injected-parameters", "hide-in-record")

#: What nbconvert's BeautifulSoup pass would change in a page (``HTMLExporter.
#: from_notebook_node``, nbconvert 7): images (``alt``), JupyterLab's cell areas
#: (``tabindex``). A page without any of them comes out of that pass as it went in.
_SOUP_TARGETS = ("<img", "jp-Cell-inputWrapper", "jp-OutputArea-output")

_exporters = threading.local()

#: Subfolder of the kit's cache (``template_cache.cache_folder``) for the bytecode Jinja
#: compiles nbconvert's record templates to.
BYTECODE_FOLDER = "nbconvert-record"
_bytecode_lock = threading.Lock()
_bytecode = None


class _InProcessBytecode(jinja2.BytecodeCache):
    """Jinja bytecode kept in this process, for when the user's cache folder cannot be
    used: the run's exporters compile the templates once between them instead of once
    each (a dict write or read is atomic under the interpreter lock)."""

    def __init__(self) -> None:
        self.stored: dict[str, bytes] = {}

    def load_bytecode(self, bucket) -> None:
        data = self.stored.get(bucket.key)
        if data is not None:
            bucket.bytecode_from_string(data)

    def dump_bytecode(self, bucket) -> None:
        self.stored[bucket.key] = bucket.bytecode_to_string()


def record_bytecode_cache():
    """The ``jinja2.BytecodeCache`` of the record exporters: a ``FileSystemBytecodeCache``
    in the user's cache folder (:data:`BYTECODE_FOLDER` under ``template_cache.
    cache_folder()``, created for the user alone; a folder someone else owns or can
    write to is never used), kept between runs, else one in this process.

    Each exporter (one per writer thread) compiled nbconvert's templates for the
    record at its first export: about 50 ms each, holding the runner's interpreter
    lock; from the cache it loads them in about 3 ms. Jinja checks each entry against
    its template's source and the Python version before using it (an edited template
    or another Python is compiled again)."""
    global _bytecode
    with _bytecode_lock:
        if _bytecode is None:
            from relief_kit.shell.batch.template_cache import cache_folder, usable_folder

            folder = cache_folder() / BYTECODE_FOLDER
            _bytecode = (jinja2.FileSystemBytecodeCache(str(folder)) if usable_folder(folder)
                         else _InProcessBytecode())
        return _bytecode


class RecordExporter(HTMLExporter):
    """nbconvert's ``HTMLExporter`` without its BeautifulSoup round trip when the page
    has no image and no JupyterLab cell area (the case record never has).

    ``from_notebook_node(nb, resources)`` returns ``(html, resources)`` like the stock
    exporter; the page is the same document, only not re-serialised by BeautifulSoup.
    """

    def from_notebook_node(self, nb, resources=None, **kw):
        from nbconvert.exporters.templateexporter import TemplateExporter
        from nbconvert.filters.highlight import Highlight2HTML
        from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

        # What HTMLExporter.from_notebook_node sets up before rendering (nbconvert 7).
        langinfo = nb.metadata.get("language_info", {})
        lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
        highlight_code = self.filters.get(
            "highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self))
        prepared = self._init_resources(resources)
        self.register_filter("highlight_code", highlight_code)
        self.register_filter("filter_data_type", WidgetsDataTypeFilter(
            notebook_metadata=self._nb_metadata, parent=self, resources=prepared))
        html, prepared = TemplateExporter.from_notebook_node(self, nb, prepared, **kw)
        if any(target in html for target in _SOUP_TARGETS):
            return super().from_notebook_node(nb, resources, **kw)  # nbconvert's own pass
        return html, prepared

    def _preprocess(self, nb, resources):
        """nbconvert's ``Exporter._preprocess`` (nbconvert 7) without its first deep copy
        of the notebook: ``Exporter.from_notebook_node`` hands it a copy of its own
        already, and ``nbformat.validator.normalize`` copies it once more. The same
        preprocessors on the same notebook; validated once, after the last of them
        (``optimistic_validation``, set by :func:`record_exporter`)."""
        import copy

        from nbformat import validator

        prepared = copy.deepcopy(resources)
        if hasattr(validator, "normalize"):
            _, nb = validator.normalize(nb)
        preprocessor = None
        for preprocessor in self._preprocessors:
            nb, prepared = preprocessor(nb, prepared)
            if not self.optimistic_validation:
                self._validate_preprocessor(nb, preprocessor)
        if self.optimistic_validation:
            self._validate_preprocessor(nb, preprocessor)
        return nb, prepared

    def _validate_preprocessor(self, nbc, preprocessor):
        """nbconvert's check of the preprocessed notebook, with the validator the run
        already has. nbconvert asks ``nbformat.validate(nb, relax_add_props=True)``, for
        which nbformat compiles a second schema validator (fastjsonschema; about 30 ms,
        measured with ``nbformat.validator.get_validator``) at the first export of every
        run, holding the runner's interpreter lock on the way to the first record. The
        relaxed schema only lifts constraints (every ``additionalProperties``: extra
        keys, any value under a mimebundle's keys), so a notebook valid under the full
        schema (compiled when the runner read the notebook) is valid under it; one that
        is not is checked nbconvert's way, which logs and raises as it does.

        Raises ``nbformat.ValidationError`` when the notebook is invalid."""
        import nbformat

        try:
            nbformat.validate(nbc)
        except nbformat.ValidationError:
            super()._validate_preprocessor(nbc, preprocessor)


def record_exporter() -> RecordExporter:
    """This thread's exporter: our ``templates/record`` page, no input, no prompts."""
    exporter = getattr(_exporters, "html", None)
    if exporter is None:
        from traitlets.config import Config

        config = Config()
        config.TagRemovePreprocessor.enabled = True
        config.TagRemovePreprocessor.remove_cell_tags = set(HIDDEN_TAGS)
        config.HTMLExporter.exclude_input = True
        config.HTMLExporter.exclude_input_prompt = True
        config.HTMLExporter.exclude_output_prompt = True
        # nbconvert validates the notebook after each of its dozen preprocessors, else
        # once after the last: none of ours can make a valid notebook invalid.
        config.HTMLExporter.optimistic_validation = True
        # Our page (templates/record): no CDN script, a CONFIDENCIAL banner, print CSS.
        config.HTMLExporter.extra_template_basedirs = [str(resources.TEMPLATES)]
        config.HTMLExporter.template_name = "record"
        exporter = _exporters.html = RecordExporter(config=config)
        # Set before the first export loads (and compiles) the templates.
        exporter.environment.bytecode_cache = record_bytecode_cache()
    return exporter


def export_record(executed, facts: dict) -> bytes:
    """The HTML record (UTF-8 bytes) of an executed case notebook; ``facts`` is the
    case's ``case.json`` content the page's header and footer show."""
    html, _ = record_exporter().from_notebook_node(executed, resources={"relief_kit": facts})
    return html.encode("utf-8")
