"""A large MK-Auth ``sis_lanc`` read column-wise gives the folder and the summary the
row-by-row reader gives; a file with one bad cell goes to the row reader, which names it."""

from datetime import date
from pathlib import Path

import pytest

from relief_kit.sources.importers.folder import write_import
from relief_kit.sources.importers.mkauth import import_mkauth
from relief_kit.sources.tables import load_folder
from relief_kit.tools.bench import _write_mkauth

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"
ROW_BY_ROW = 1 << 60  # no file is that large: always the row reader
COLUMN_WISE = 0  # every file is tried column-wise first


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mkauth")
    _write_mkauth(load_folder(SAMPLE), folder)
    return folder / "sis_cliente.csv", folder / "sis_lanc.csv"


def _written(result, out: Path) -> dict[str, bytes]:
    write_import(result, out, date(2026, 11, 20))
    return {name: (out / name).read_bytes() for name in ("customers.csv", "invoices.csv")}


def test_column_wise_import_writes_the_same_folder_and_summary(export, tmp_path):
    clientes, lancamentos = export
    # A bill of a login missing from sis_cliente, skipped and counted by both readers.
    with lancamentos.open("a", encoding="cp1252") as file:
        file.write("999999;ninguem;2026-01-10 00:00:00;NULL;89,90;NULL;aberto;0\n")
    rows = import_mkauth(clientes, lancamentos, bulk_bytes=ROW_BY_ROW)
    columns = import_mkauth(clientes, lancamentos, bulk_bytes=COLUMN_WISE)
    assert rows.invoice_table is None and columns.invoice_table is not None
    assert columns.report.lines() == rows.report.lines()
    assert "1 de cliente ausente do arquivo de clientes" in "\n".join(rows.report.lines())
    assert _written(columns, tmp_path / "columns") == _written(rows, tmp_path / "rows")


@pytest.mark.parametrize("column, bad", [("valor", "89,9O"), ("datavenc", "31/02/2026"),
                                         ("status", "estornado"), ("id", "")])
def test_one_bad_cell_is_named_by_the_row_reader(export, tmp_path, column, bad):
    clientes, lancamentos = export
    lines = lancamentos.read_text(encoding="cp1252").splitlines()
    header = lines[0].split(";")
    cells = lines[4].split(";")
    cells[header.index(column)] = bad
    lines[4] = ";".join(cells)
    broken = tmp_path / "sis_lanc.csv"
    broken.write_text("\r\n".join(lines) + "\r\n", encoding="cp1252")
    rows = import_mkauth(clientes, broken, bulk_bytes=ROW_BY_ROW)
    columns = import_mkauth(clientes, broken, bulk_bytes=COLUMN_WISE)
    assert columns.invoice_table is None  # sent to the row reader
    assert [str(e) for e in columns.report.errors] == [str(e) for e in rows.report.errors]
    assert str(columns.report.errors[0]).startswith(
        f"sis_lanc.csv, linha 5, coluna {column}:")
    assert columns.report.lines() == rows.report.lines()
