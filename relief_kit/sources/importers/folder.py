"""Writing an import into a data folder, without ever clobbering someone's work.

The folder may be new, empty, or a previous import (its ``export.toml`` names an
importer as the source); anything else is refused. Tables are written beside the
folder's files and renamed over them, so a crash leaves the old table or the new one,
never half of one. A previous import's ``requests.csv`` and ``evidence/`` come from
intake, not from the ERP: they are kept.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import tomllib
from datetime import date
from pathlib import Path

import pandas as pd

from relief_kit.core import schema
from relief_kit.core.errors import InputError
from relief_kit.sources.importers.canonical import ImportResult
from relief_kit.sources.tables import write_table

IMPORT_SOURCES = ("ixc", "mkauth", "csv")


def previous_import_source(folder: Path) -> str | None:
    """The importer that wrote ``folder``, or None if it is not an import."""
    info = folder / schema.FOLDER_INFO
    try:
        source = tomllib.loads(info.read_text(encoding="utf-8")).get("source")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    return source if source in IMPORT_SOURCES else None


def check_destination(out: Path) -> None:
    """Refuse a destination that holds something other than a previous import."""
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: existe e não é uma pasta; escolha outra com --out.")
    if out.is_dir() and any(out.iterdir()) and previous_import_source(out) is None:
        raise InputError(
            f"{out}: a pasta não está vazia e não é uma importação anterior (sem export.toml "
            "de importação); escolha uma pasta nova ou vazia com --out."
        )


def _folder_info(source: str, as_of: date, files: list[str]) -> str:
    # The file names are provenance for people; keep them on one comment line.
    names = ", ".join(" ".join(f.split()) for f in files)
    return (
        f"# Importado por relief-kit import {source} de: {names}\n"
        f"as_of = {as_of.isoformat()}\n"
        f'source = "{source}"\n'
    )


def write_import(result: ImportResult, out: str | Path, as_of: date) -> Path:
    """Write the canonical tables and ``export.toml`` (as_of = the import day)."""
    out = Path(out)
    check_destination(out)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".import-", dir=out))
    try:
        write_table(result.customers_frame(), staging, schema.CUSTOMERS)
        write_table(result.invoices_frame(), staging, schema.INVOICES)
        if not (out / schema.REQUESTS).exists():
            # ERPs hold no relief requests: they come from intake, into this file.
            empty = pd.DataFrame(columns=schema.column_names(schema.REQUESTS))
            write_table(empty, staging, schema.REQUESTS)
        (staging / schema.FOLDER_INFO).write_text(
            _folder_info(result.report.source, as_of, result.files), encoding="utf-8")
        for path in staging.iterdir():
            os.replace(path, out / path.name)
        (out / schema.EVIDENCE_DIR).mkdir(exist_ok=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out
