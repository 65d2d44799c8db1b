"""The HTML record's exporter: nbconvert's page without its BeautifulSoup round trip,
the same document (no kernel needed: the outputs are the case's own fragments)."""

import nbformat
import pytest
from bs4 import BeautifulSoup
from nbconvert import HTMLExporter

from relief_kit import __version__
from relief_kit.shell import views
from relief_kit.shell.batch import NOTEBOOK
from relief_kit.shell.batch.export import record_exporter
from relief_kit.shell.case import open_case
from relief_kit.shell.facts import facts_of
from tests.case_folder import WHATSAPP_REQUEST, sample_copy


@pytest.fixture
def executed(tmp_path):
    """The review notebook as the batch leaves it, outputs drawn from a real case."""
    case = open_case(sample_copy(tmp_path), WHATSAPP_REQUEST)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    outputs = {"views.case_header(case)": views.case_header(case),
               "display(review.": views.customer_card(case) + views.payment_chart(case)
               + views.history_section(case, expanded=True) + views.written_request(case)
               + views.regulatory_section(case, True),
               "review.show(": views.record_sections(case)}
    for cell in notebook.cells:
        for marker, fragment in outputs.items():
            if cell.cell_type == "code" and marker in cell.source:
                cell.outputs.append(nbformat.v4.new_output(
                    "execute_result", {"text/html": str(fragment), "text/plain": "x"},
                    execution_count=1))
    assert sum(len(cell.get("outputs", [])) for cell in notebook.cells) == len(outputs)
    facts = {**facts_of(case), "kit_version": __version__}
    return notebook, facts


def _stock(exporter):
    return HTMLExporter(config=exporter.config)


def test_the_record_is_the_document_nbconvert_writes(executed):
    notebook, facts = executed
    exporter = record_exporter()
    fast, _ = exporter.from_notebook_node(notebook, resources={"relief_kit": facts})
    stock, _ = _stock(exporter).from_notebook_node(notebook, resources={"relief_kit": facts})
    assert "Registro de análise do pedido" in fast and "<svg" in fast
    # nbconvert's page is BeautifulSoup's serialisation of the rendered one: parsing ours
    # and writing it out gives nbconvert's page byte for byte.
    assert str(BeautifulSoup(fast, features="html.parser")) == stock


def test_a_record_with_an_image_gets_nbconverts_alt_text(executed):
    notebook, facts = executed
    shown = next(c for c in notebook.cells if "review.show(" in c.source)
    shown.outputs = [nbformat.v4.new_output(
        "display_data", {"image/png": "iVBORw0KGgo=", "text/plain": "imagem"})]
    exporter = record_exporter()
    fast, _ = exporter.from_notebook_node(notebook, resources={"relief_kit": facts})
    stock, _ = _stock(exporter).from_notebook_node(notebook, resources={"relief_kit": facts})
    assert fast == stock
    assert 'alt="No description has been provided for this image"' in fast


def test_the_record_is_checked_as_nbconvert_checks_it_with_the_runs_own_validator(
        executed, monkeypatch):
    from nbformat import json_compat, validator

    notebook, facts = executed
    exporter = record_exporter()
    nbformat.validate(notebook)  # the run's reading of the notebook compiles this one
    assert all(len(key) == 4 for key in validator.validators)  # (library, v, minor, relaxed)
    # Only the validators compiled so far, none of the relaxed one nbconvert asks for.
    monkeypatch.setattr(validator, "validators", {
        key: value for key, value in validator.validators.items() if not key[-1]})
    compiled = []
    real = json_compat.FastJsonSchemaValidator.__init__
    monkeypatch.setattr(json_compat.FastJsonSchemaValidator, "__init__",
                        lambda self, schema: compiled.append(1) or real(self, schema))
    exporter.from_notebook_node(notebook, resources={"relief_kit": facts})
    # nbconvert's own check compiles and keeps a relaxed validator (relax_add_props: the
    # key's last part), whichever validator library nbformat is set to use.
    assert compiled == [] and not any(key[-1] for key in validator.validators)
    # What the relaxed schema allows still passes (a property the schema does not know)...
    extra = nbformat.from_dict(notebook)
    extra.cells[-1]["ferramenta"] = "relief-kit"
    exporter._validate_preprocessor(extra, None)
    # ...and what it does not still fails, as nbconvert's check does.
    extra.cells[-1]["cell_type"] = "planilha"
    with pytest.raises(nbformat.ValidationError):
        exporter._validate_preprocessor(extra, None)
    with pytest.raises(nbformat.ValidationError):
        HTMLExporter()._validate_preprocessor(extra, None)


def _fresh_exporters(monkeypatch, cache_dir):
    import threading

    from relief_kit.shell.batch import export, template_cache

    monkeypatch.setenv(template_cache.CACHE_ENV, str(cache_dir))
    monkeypatch.setattr(export, "_bytecode", None)
    monkeypatch.setattr(export, "_exporters", threading.local())
    return export


def _compiles(monkeypatch):
    import jinja2

    compiled = []
    real = jinja2.Environment.compile
    monkeypatch.setattr(jinja2.Environment, "compile", lambda self, *a, **k: (
        compiled.append(a[1] if len(a) > 1 else k.get("name")) or real(self, *a, **k)))
    return compiled


def test_the_record_templates_are_compiled_once_and_kept_for_later_runs(
        executed, monkeypatch, tmp_path):
    import threading

    import jinja2

    notebook, facts = executed
    export = _fresh_exporters(monkeypatch, tmp_path / "cache")
    compiled = _compiles(monkeypatch)
    first, _ = export.record_exporter().from_notebook_node(
        notebook, resources={"relief_kit": facts})
    assert compiled  # nothing cached yet: compiled, and stored in the user's cache
    cache = export.record_bytecode_cache()
    folder = tmp_path / "cache" / export.BYTECODE_FOLDER
    assert isinstance(cache, jinja2.FileSystemBytecodeCache) and any(folder.iterdir())
    assert (folder.stat().st_mode & 0o777) == 0o700
    # Another writer thread's exporter, and a later run's (a new process: nothing in
    # memory), load the bytecode instead of compiling; the page is the same.
    compiled.clear()
    pages = []
    thread = threading.Thread(target=lambda: pages.append(export.record_exporter(
        ).from_notebook_node(notebook, resources={"relief_kit": facts})[0]))
    thread.start()
    thread.join()
    monkeypatch.setattr(export, "_bytecode", None)
    monkeypatch.setattr(export, "_exporters", threading.local())
    pages.append(export.record_exporter().from_notebook_node(
        notebook, resources={"relief_kit": facts})[0])
    assert compiled == []
    assert pages == [first, first]


def test_a_cache_folder_others_can_write_is_not_used_for_the_record_templates(
        executed, monkeypatch, tmp_path):
    import threading

    notebook, facts = executed
    shared = tmp_path / "compartilhada"
    (shared / "nbconvert-record").mkdir(parents=True)
    (shared / "nbconvert-record").chmod(0o777)
    export = _fresh_exporters(monkeypatch, shared)
    compiled = _compiles(monkeypatch)
    export.record_exporter().from_notebook_node(notebook, resources={"relief_kit": facts})
    assert compiled and not any((shared / "nbconvert-record").iterdir())
    # Kept in the process instead: a second writer thread compiles nothing.
    compiled.clear()
    thread = threading.Thread(target=lambda: export.record_exporter().from_notebook_node(
        notebook, resources={"relief_kit": facts}))
    thread.start()
    thread.join()
    assert compiled == []
