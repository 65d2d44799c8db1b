"""Where the kit's bundled files are: templates, notebooks, default criteria and settings.

Every module that needs one of them asks here, so that the layout of the files on disk
is known in exactly one place.
"""

from __future__ import annotations

from pathlib import Path

#: The folder that holds ``templates/``, ``notebooks/`` and ``data/``.
ROOT = Path(__file__).resolve().parent.parent

TEMPLATES = ROOT / "templates"
NOTEBOOKS = ROOT / "notebooks"
DATA = ROOT / "data"

#: The review notebook the analyst opens and the batch executes per case.
REVIEW_NOTEBOOK = NOTEBOOKS / "review_case.ipynb"
#: The team's default criteria and the provider's default settings.
DEFAULT_CRITERIA = DATA / "criteria.toml"
DEFAULT_SETTINGS = DATA / "settings.toml"
#: The bundled demo portfolio.
SAMPLE = DATA / "sample"


def template_dir(*parts: str) -> Path:
    """A folder under ``templates/``: ``template_dir("messages")``."""
    return TEMPLATES.joinpath(*parts)
