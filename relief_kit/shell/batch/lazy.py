"""Imports the batch's runner would pay for and never use, deferred to their first use.

``nbformat`` (through papermill, nbclient and nbconvert) imports ``jsonschema``, whose
``_format`` module imports ``rfc3987_syntax`` whenever it is installed (``jsonschema
[format-nongpl]``, pulled in by JupyterLab) to check the ``iri`` and ``iri-reference``
formats. That module builds about 35 Lark parsers when imported: 1.0–1.2 s of CPU in the
runner's process, more than a case's share of a 40-case run (jsonschema issue #1428).
Nothing the batch validates uses those formats (nbformat's notebook schema has none).

:func:`defer_rfc3987_syntax` puts a stand-in module under that name before jsonschema is
first imported: its ``is_valid_syntax`` imports the real module at its first call and
hands the call on, so an IRI is still checked the same way, only later.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types

_NAME = "rfc3987_syntax"
_lock = threading.Lock()


def defer_rfc3987_syntax() -> bool:
    """Install the stand-in for ``rfc3987_syntax`` unless jsonschema (or the module
    itself) is imported already or the module is not installed. Returns whether the
    stand-in is in place. Safe to call any number of times."""
    with _lock:
        if isinstance(sys.modules.get(_NAME), _Deferred):
            return True
        if _NAME in sys.modules or "jsonschema" in sys.modules:
            return False
        try:
            spec = importlib.util.find_spec(_NAME)
        except (ImportError, ValueError):
            return False
        if spec is None:
            return False
        sys.modules[_NAME] = _Deferred(_NAME)
        return True


class _Deferred(types.ModuleType):
    """``rfc3987_syntax`` until something calls it: then the real module."""

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(_real(), name)

    @staticmethod
    def is_valid_syntax(*args, **kwargs):
        return _real().is_valid_syntax(*args, **kwargs)


def _real() -> types.ModuleType:
    """The real ``rfc3987_syntax``, imported on first use in place of the stand-in."""
    with _lock:
        module = sys.modules.get(_NAME)
        if not isinstance(module, _Deferred):
            return module if module is not None else importlib.import_module(_NAME)
        del sys.modules[_NAME]
        try:
            return importlib.import_module(_NAME)
        except BaseException:
            sys.modules[_NAME] = module  # still deferred: the next call tries again
            raise
