"""Ship the top-level ``templates/``, ``notebooks/`` and ``data/`` inside the package.

Everything else about the build is declared in ``pyproject.toml``; this file only adds
one step to ``build_py``.

Why a build step rather than the alternatives:

- the project brief keeps the three folders at the repository's top level, where the
  team edits them, so they cannot simply move under ``relief_kit/``;
- symlinks from ``relief_kit/`` to them would do for ``package-data`` on Linux, but git
  checks symlinks out as small text files on Windows (``core.symlinks=false``), where a
  provider's analyst may well build the kit;
- ``package-dir`` mappings would turn each folder into a pretend Python package
  (``relief_kit.bundled.templates``) with no ``__init__.py`` and namespace-package rules.

So the wheel gets a copy under ``relief_kit/bundled/`` made at build time, and
``relief_kit/resources.py`` (the one module that knows where the files are) looks there
through ``importlib.resources``, falling back to the folders beside the package in a
source checkout or an editable install, where no copy is made.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

#: The top-level folders the kit reads at run time; relief_kit.resources.BUNDLED_FOLDERS.
FOLDERS = ("templates", "notebooks", "data")
#: Never shipped: caches, and what a review or batch run on data/sample/ leaves behind
#: (case stores and the analysts' notebooks hold customer data).
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", ".relief-kit",
                                 "cases.sqlite*", ".DS_Store")


class BuildWithBundledFiles(build_py):
    """``build_py`` plus a copy of the bundled folders into ``relief_kit/bundled/``."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the folders where they are
        here = Path(__file__).resolve().parent
        target = Path(self.build_lib) / "relief_kit" / "bundled"
        if target.exists():
            shutil.rmtree(target)
        for folder in FOLDERS:
            shutil.copytree(here / folder, target / folder, ignore=IGNORED)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = super().get_outputs(include_bytecode)
        target = Path(self.build_lib) / "relief_kit" / "bundled"
        if target.is_dir():
            outputs += [str(path) for path in sorted(target.rglob("*")) if path.is_file()]
        return outputs


setup(cmdclass={"build_py": BuildWithBundledFiles})
