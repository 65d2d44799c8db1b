"""Where the kit's bundled files are: templates, notebooks, default criteria and settings.

Every module that needs one of them asks here, so that the layout of the files on disk
is known in exactly one place.

They are found through :mod:`importlib.resources`: an installed wheel carries them in
``relief_kit/bundled/`` (``setup.py`` copies the repository's top-level ``templates/``,
``notebooks/`` and ``data/`` there at build time); a source checkout or an editable
install has no such copy and reads the folders beside the package, where the team edits
them.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

#: The folders a wheel carries under ``relief_kit/bundled/`` (setup.py's FOLDERS).
BUNDLED_FOLDERS = ("templates", "notebooks", "data")


def _root() -> Path:
    package = resources.files("relief_kit")
    # Jinja2, papermill and shutil want real paths; pip always installs the package as
    # files on disk, so the Traversable is a Path (a zipped import would fail loudly here).
    if not isinstance(package, Path):
        raise RuntimeError(f"relief_kit must be installed as files on disk, not {package!r}")
    bundled = package / "bundled"
    return bundled if (bundled / "templates").is_dir() else package.parent


#: The folder that holds ``templates/``, ``notebooks/`` and ``data/``.
ROOT = _root()

TEMPLATES = ROOT / "templates"
NOTEBOOKS = ROOT / "notebooks"
DATA = ROOT / "data"

#: The review notebook the analyst opens and the batch executes per case.
REVIEW_NOTEBOOK = NOTEBOOKS / "review_case.ipynb"
#: The review app's queue page (``relief-kit review DIR``).
QUEUE_NOTEBOOK = NOTEBOOKS / "queue.ipynb"
#: The team's default criteria and the provider's default settings.
DEFAULT_CRITERIA = DATA / "criteria.toml"
DEFAULT_SETTINGS = DATA / "settings.toml"
#: The bundled demo portfolio.
SAMPLE = DATA / "sample"


def template_dir(*parts: str) -> Path:
    """A folder under ``templates/``: ``template_dir("messages")``."""
    return TEMPLATES.joinpath(*parts)
