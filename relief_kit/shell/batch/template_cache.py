"""The kit's compiled templates, kept between runs in the user's own cache folder.

Every batch run hands its kernels the kit's templates compiled once
(``render.compile_templates``): about 0.2 s of the runner's start-up, on the way to the
first case, the same work in every run. What Jinja compiles depends only on the
templates' text, the kit, Jinja and Python; :func:`compiled_templates_file` keeps it
in a file named after all four, in ``platformdirs.user_cache_path("relief-kit")``, so a
later run hands the kernels that file as it is and compiles nothing. A template edited,
a kit, Jinja or Python upgraded: another name, compiled again (and each entry is still
checked by Jinja against its template's source and the Python version when loaded).

Compiled templates are code that the kernels run. The folder is created readable by the
user alone, and a folder or file owned by someone else, or writable by others, is never
used (as Jinja's own ``FileSystemBytecodeCache`` treats its folder); never in the data
folder, which may come from someone else. Best effort: without a usable cache the
templates are compiled into the run's private folder, as before.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
import sys
import tempfile
from pathlib import Path

from relief_kit import __version__, resources

#: The file name's prefix; the rest is the digest of what the compiled code depends on.
PREFIX = "templates-"


#: Environment variable naming another cache folder (the tests' own, say).
CACHE_ENV = "RELIEF_KIT_CACHE_DIR"


def cache_folder() -> Path:
    """The user's cache folder for the kit: ``$RELIEF_KIT_CACHE_DIR`` when set, else
    platformdirs' (``$XDG_CACHE_HOME/relief-kit``, by default ``~/.cache/relief-kit``)."""
    import platformdirs

    named = os.environ.get(CACHE_ENV)
    return Path(named) if named else platformdirs.user_cache_path("relief-kit")


def templates_key() -> str:
    """Digest (hex) of what the compiled templates depend on: every file under
    ``templates/`` (names and contents), the ``relief_kit.text`` modules that set the
    environment up, and the kit's, Jinja's and Python's versions."""
    import jinja2

    from relief_kit.text import render

    digest = hashlib.sha256()
    for part in (__version__, jinja2.__version__, sys.version,
                 sys.implementation.cache_tag or ""):
        digest.update(part.encode() + b"\0")
    text_package = Path(render.__file__).parent
    for root in (resources.TEMPLATES, text_package):
        for path in sorted(p for p in Path(root).rglob("*")
                           if p.is_file() and "__pycache__" not in p.parts):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _private(path: Path, *, folder: bool) -> bool:
    """``path`` exists, is the user's, is a real folder (or regular file), and nobody
    else can write to it."""
    try:
        info = path.lstat()
    except OSError:
        return False
    kind = stat.S_ISDIR if folder else stat.S_ISREG
    return (kind(info.st_mode) and info.st_uid == os.getuid()
            and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


def usable_folder(folder: Path) -> bool:
    """The cache folder, created for the user alone if missing; False when it cannot
    be, or is not private (see the module docstring)."""
    if not hasattr(os, "getuid"):  # no owner to check (Windows): no cache
        return False
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return False
    return _private(folder, folder=True)


def _readable(path: Path) -> bool:
    """``path`` holds compiled templates as :func:`compiled_templates_file` writes them
    (a damaged file is compiled over, not handed to every kernel of every run)."""
    try:
        entries = pickle.loads(path.read_bytes())
    except Exception:
        return False
    return isinstance(entries, dict) and all(
        isinstance(k, str) and isinstance(v, bytes) for k, v in entries.items())


def _write(folder: Path, name: str, data: bytes) -> Path | None:
    """``data`` written to ``folder/name`` at once (a temporary file renamed over it):
    another run reading meanwhile sees the old file or the whole new one."""
    temporary = None
    try:
        handle, temporary = tempfile.mkstemp(prefix=".templates-", dir=folder)
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        path = folder / name
        os.replace(temporary, path)
        return path
    except OSError:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
        return None


def compiled_templates_file(fallback: Path, folder: Path | None = None) -> Path | None:
    """A file holding the pickled :func:`relief_kit.text.render.compile_templates` of
    this kit (what ``render.use_compiled`` takes): the one in the user's cache
    (``folder``, default :func:`cache_folder`) when it exists, else compiled now and
    stored there; where the cache cannot be used, compiled into ``fallback`` (the run's
    private folder). None when the templates could not be compiled or written at all
    (each kernel then compiles them itself). Never raises."""
    from relief_kit.text.render import compile_templates

    folder = cache_folder() if folder is None else folder
    try:
        name = f"{PREFIX}{templates_key()[:40]}.pickle"
        cached = folder / name
        usable = usable_folder(folder)
        if usable and _private(cached, folder=False) and _readable(cached):
            return cached
        data = pickle.dumps(compile_templates(), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return None
    if usable:
        stored = _write(folder, name, data)
        if stored is not None:
            _forget_others(folder, keep=name)
            return stored
    return _write(fallback, "templates.pickle", data)


def _forget_others(folder: Path, keep: str) -> None:
    """Remove the compiled templates of other versions (one file per kit version in use
    would otherwise pile up with every upgrade or edit)."""
    for path in folder.glob(f"{PREFIX}*.pickle"):
        if path.name != keep:
            try:
                path.unlink()
            except OSError:
                pass
