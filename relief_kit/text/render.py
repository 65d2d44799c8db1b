"""The one Jinja2 environment: every view, record, message and report is rendered here.

Templates live under ``templates/``; a template's name says how it is escaped:
``*.html`` and ``*.html.j2`` are HTML (autoescaped, and customer text passes through
:func:`visible` so a control character is shown, not obeyed); anything else
(``*.txt.j2``, ``*.subject.j2``) is plain text, rendered literally. Undefined variables
are errors, never silent blanks.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from jinja2 import (
    BytecodeCache,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    pass_eval_context,
)
from jinja2.bccache import Bucket

from relief_kit import resources
from relief_kit.text import formatting as fmt
from relief_kit.text import labels

#: Characters a person never types but that change what a reader sees: C0/C1 controls
#: (a terminal escape, a bell) and the bidirectional overrides, embeddings and isolates
#: that can make "arquivo.exe" read as "exe.ovihcra". WhatsApp wraps phone numbers in
#: U+202A…U+202C, harmless once every customer text is isolated (see _style.html).
_INVISIBLE = {**{c: chr(0x2400 + c) for c in range(0x20) if chr(c) not in "\n\r\t"},
              0x7F: "\u2421",
              **{c: f"[U+{c:04X}]" for c in range(0x80, 0xA0)},
              **{c: f"[U+{c:04X}]" for c in (0x202B, 0x202D, 0x202E, 0x2066, 0x2067,
                                              0x2068, 0x2069)}}


def visible(value: Any) -> Any:
    """Customer text as it is, with every control shown as a symbol instead of obeyed.

    Applied to every ``{{ }}`` of an HTML template before escaping, never to markup the
    kit built itself, nor to plain-text messages (kept literal).
    """
    if isinstance(value, str) and not hasattr(value, "__html__"):
        return value.translate(_INVISIBLE)
    return value


@pass_eval_context
def _finalize(eval_ctx, value: Any) -> Any:
    return visible(value) if eval_ctx.autoescape else value


def _is_html(name: str | None) -> bool:
    return bool(name) and (name.endswith(".html") or name.endswith(".html.j2"))


def _money(value) -> str:
    if value is None or value != value:  # None or NaN
        return "—"
    return fmt.money(Decimal(str(value)) if isinstance(value, float) else value)


def _day(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if value != value:  # NaT
        return "—"
    return fmt.day(value)


def _moment(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.astimezone(fmt.local_zone()).replace(tzinfo=None)
    if isinstance(value, date) and not isinstance(value, datetime):
        return fmt.day(value)
    return fmt.moment(value)


def _contacts(text: Any, reveal: bool = False) -> Any:
    """Customer text with its phones and CPF/CNPJ masked, unless ``reveal``."""
    from relief_kit.core.documents import mask_contacts

    return text if reveal or not isinstance(text, str) else mask_contacts(text)


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The Jinja2 environment over ``templates/`` (see the module docstring)."""
    env = Environment(
        loader=FileSystemLoader(str(resources.TEMPLATES)),
        autoescape=_is_html,
        undefined=StrictUndefined,
        finalize=_finalize,
        keep_trailing_newline=True,
        # The kit's templates do not change while a process runs: no look at each
        # file's modification time every time a template is asked for.
        auto_reload=False,
    )
    env.filters.update(
        money=_money, day=_day, moment=_moment, percent=fmt.percent, number=fmt.number,
        yes_no=fmt.yes_no, terms=lambda terms, action: fmt.terms_text(action, terms),
        action_label=labels.action,
        label=lambda key, group: labels.label(group, key),
        criterion=labels.criterion,
        contacts=_contacts,
    )
    env.globals.update(labels=labels.catalogue())
    from relief_kit.text import reasons  # it renders through this environment

    env.filters.update(reasons.filters())
    return env


class LazyTemplates(Mapping):
    """A catalogue's section, ``code → template``, each entry compiled by
    :func:`environment` the first time it is used (``from_string``, with ``globals``).

    A catalogue holds about a hundred entries and a case renders a few of them:
    compiling them all up front cost about 0.05 s in every process (each batch kernel's
    first case). The same templates; an unknown code is a ``KeyError``, and ``in`` asks
    the catalogue without compiling anything."""

    def __init__(self, sources: Mapping[str, str], globals: dict | None = None) -> None:
        self._sources = dict(sources)
        self._globals = globals
        self._compiled: dict[str, Template] = {}

    def __getitem__(self, code: str) -> Template:
        template = self._compiled.get(code)
        if template is None:  # two threads may both compile it: the same template
            template = _from_string(self._sources[code], self._globals)
            self._compiled[code] = template
        return template

    def __contains__(self, code: object) -> bool:
        return code in self._sources

    def __iter__(self) -> Iterator[str]:
        return iter(self._sources)

    def __len__(self) -> int:
        return len(self._sources)


def _from_string(source: str, globals: dict | None) -> Template:
    """``environment().from_string(source, globals)``; its code taken from the
    environment's bytecode cache when it has one (:func:`use_compiled`), keyed by the
    source itself."""
    env = environment()
    cache = env.bytecode_cache
    if cache is None:
        return env.from_string(source, globals=globals)
    bucket = cache.get_bucket(env, _STRING_NAME, None, source)
    if bucket.code is None:
        bucket.code = env.compile(source)  # what from_string compiles
        cache.set_bucket(bucket)
    return env.template_class.from_code(env, bucket.code, env.make_globals(globals), None)


#: The name a string template is asked for under; :class:`CompiledTemplates` keys it by
#: its source (Jinja keys a bucket by name and checks the source's checksum only).
_STRING_NAME = "<string>"


class CompiledTemplates(BytecodeCache):
    """Jinja's compiled code of the kit's templates, in memory, as bytes a pickle
    carries to another process of the same Python and Jinja (the batch's kernels).

    :func:`compile_templates` fills one (in the batch's runner, once per run);
    :func:`use_compiled` makes it the environment's bytecode cache in a kernel, which
    then loads those templates instead of compiling them (about 0.2 s of each kernel's
    first case). Jinja checks each entry against the template's source and the
    Python version (``bc_magic``), and compiles a template itself when they differ;
    the code is what this environment compiles, so the rendered text is the same."""

    def __init__(self, entries: dict[str, bytes] | None = None) -> None:
        self.entries: dict[str, bytes] = dict(entries or {})

    def get_bucket(self, environment, name, filename, source):
        if name == _STRING_NAME:  # a string template: keyed by its source
            name = _STRING_NAME + hashlib.sha256(source.encode("utf-8")).hexdigest()
        return super().get_bucket(environment, name, filename, source)

    def load_bytecode(self, bucket: Bucket) -> None:
        data = self.entries.get(bucket.key)
        if data is not None:
            bucket.bytecode_from_string(data)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.entries[bucket.key] = bucket.bytecode_to_string()


#: The folders of templates the batch's kernels render with this environment.
KERNEL_TEMPLATES = ("views/",)


def compile_templates(prefixes: tuple[str, ...] = KERNEL_TEMPLATES) -> dict[str, bytes]:
    """The compiled code of every template under ``prefixes`` and of every entry of
    the reasons and lines catalogues, as :class:`CompiledTemplates` entries (compiled
    now, as loading them would; the environment's own cache is left as it is)."""
    from relief_kit.text import lines, reasons

    env = environment()
    cache = CompiledTemplates()
    for name in env.list_templates(filter_func=lambda n: n.startswith(prefixes)):
        source, filename, _ = env.loader.get_source(env, name)
        bucket = cache.get_bucket(env, name, filename, source)
        bucket.code = env.compile(source, name, filename)  # as the loader compiles it
        cache.set_bucket(bucket)
    for catalogue in (reasons.CATALOGUE, lines.CATALOGUE):
        for entries in tomllib.loads(catalogue.read_text(encoding="utf-8")).values():
            for source in entries.values():
                bucket = cache.get_bucket(env, _STRING_NAME, None, source)
                bucket.code = env.compile(source)
                cache.set_bucket(bucket)
    return cache.entries


def use_compiled(entries: dict[str, bytes]) -> None:
    """Make ``entries`` (:func:`compile_templates`, from another process) the bytecode
    cache of this process's environment: templates loaded from now on take their code
    from it. For a batch kernel, before its first case."""
    environment().bytecode_cache = CompiledTemplates(entries)


def render(name: str, **context: Any) -> str:
    """Render ``templates/<name>`` with ``context``."""
    return environment().get_template(name).render(**context)
