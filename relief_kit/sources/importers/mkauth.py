"""MK-Auth: ``sis_cliente`` and ``sis_lanc`` exported from MySQL → canonical tables.

Exports come from phpMyAdmin or ``mysql -e``: latin-1, Windows-1252 or UTF-8 (detected;
``ç`` and ``ã`` survive), separated by ``;``, ``,`` or tab, with CRLF line ends and
``NULL`` for a missing value.

* Customers are joined to bills on ``login``. The canonical ``customer_id`` is the
  ``id`` column when the export has it, else the ``login``.
* ``deltitulo = 1`` marks a deleted bill: it is kept as ``cancelled`` (not debt).
* ``status``: ``pago`` → paid; ``aberto`` and ``vencido`` → open, or partial when
  ``valorpag`` holds part of ``valor``.
* ``valor``/``valorpag`` are text in mixed styles (``89,90``, ``1.149,90``, ``89.90``),
  read by :func:`relief_kit.core.values.parse_money`, which refuses the ambiguous ``1.149``.
* ``bloqueado = sim`` does not say why the customer is blocked (manual or overdue), so
  ``contract_status`` is left empty and the summary counts them; ``nao`` → active.
* MK-Auth keeps plan prices in another table: ``monthly_fee`` comes from the bills.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

from relief_kit.core.values import ValueProblem
from relief_kit.sources.importers.canonical import (
    Cells,
    ImportResult,
    assemble,
    assemble_frame,
    best_phone,
    bill_row,
    checked_person_type,
    customer_row,
    parse_money_once,
    read_date_once,
    read_document,
    read_rows,
    unique_rows,
)
from relief_kit.sources.importers.report import ImportReport
from relief_kit.sources.raw import (
    _NULLS,
    Row,
    SourceTable,
    decode_text,
    excel_separator,
    normalise_header,
    read_bytes,
    read_source,
    report_notes,
    require_columns,
    sniff_delimiter,
)

CUSTOMER_COLUMNS = ("login", "nome", "cpf_cnpj")
BILL_COLUMNS = ("id", "login", "datavenc", "valor", "status")
PERSON_TYPES = {"fisica": "PF", "física": "PF", "juridica": "PJ", "jurídica": "PJ",
                "f": "PF", "j": "PJ"}
OPEN_STATUSES = ("aberto", "vencido")
#: The columns read; the rest (passwords among them) are dropped on reading.
CUSTOMER_READ = {"id", "login", "nome", "cpf_cnpj", "fone", "celular", "email", "bairro",
                 "cidade", "plano", "bloqueado", "pessoa", "data_ins"}
BILL_READ = {"id", "login", "datavenc", "datapag", "valor", "valorpag", "status", "deltitulo"}


#: From this size on, ``sis_lanc`` is first read column-wise (:func:`clean_bills`).
BULK_BYTES = 4 * 1024 * 1024
#: Rows parsed at a time by the column-wise reader (bounds its memory).
CHUNK_ROWS = 200_000


def import_mkauth(clientes: Path, lancamentos: Path, *,
                  bulk_bytes: int = BULK_BYTES) -> ImportResult:
    """Read ``sis_cliente`` and ``sis_lanc`` exports and map them to canonical rows.

    A ``sis_lanc`` of ``bulk_bytes`` or more is first read column-wise, in chunks; when
    every cell reads cleanly the bills go to the folder as one typed frame. The first
    cell that does not (or a quote, a repeated id...) sends the whole file to the
    row-by-row reader, which names each problem by file, line and column.
    """
    customers = read_source(Path(clientes), keep=CUSTOMER_READ)
    path = Path(lancamentos)
    bulk = (clean_bills(path) if path.suffix.lower() not in (".json", ".xlsx", ".xlsm")
            and path.stat().st_size >= bulk_bytes else None)
    if bulk is not None:
        result = map_mkauth_bulk(customers, bulk)
        report_notes(customers, result.report)
    else:
        bills = read_source(path, keep=BILL_READ)
        result = map_mkauth(customers, bills)
        for table in (customers, bills):
            report_notes(table, result.report)
    result.files = [Path(clientes).name, path.name]
    result.report.files = result.files
    return result


def _map_customers(customers: SourceTable, report: ImportReport
                   ) -> tuple[list[dict], set[str], dict[str, str]]:
    """Canonical customers, the logins that failed, and the customer id of each login."""
    use_id = "id" in customers.columns
    report.table("clientes").read = len(customers.rows)
    ids_by_login: dict[str, str] = {}

    def customer(row: Row) -> dict | None:
        read = _customer(row, report, use_id)
        if read is not None:
            ids_by_login[row.get("login")] = read["customer_id"]
        return read

    canonical, unread = read_rows(unique_rows(customers.rows, "login", report, "clientes"),
                                  customer, report, "clientes")
    failed = {row.get("login") for row in unread}
    blocked = sum(1 for r in customers.rows if r.get("bloqueado").casefold() == "sim")
    if blocked:
        report.notes["bloqueado = sim (motivo não informado): status do contrato vazio"] = blocked
    return canonical, failed, ids_by_login


def map_mkauth(customers: SourceTable, bills: SourceTable) -> ImportResult:
    """MK-Auth tables → canonical customers and invoices, with the import's report."""
    require_columns(customers, CUSTOMER_COLUMNS, "clientes (sis_cliente)")
    require_columns(bills, BILL_COLUMNS, "lançamentos (sis_lanc)")
    report = ImportReport(source="mkauth")
    canonical, failed, ids_by_login = _map_customers(customers, report)

    report.table("faturas").read = len(bills.rows)
    invoices = []
    for row in unique_rows(bills.rows, "id", report, "faturas", what="lançamento"):
        bill = _bill(row, report)
        if bill is None:
            report.table("faturas").skip("com erro (ver erros abaixo)")
            continue
        # Bills name the login; canonical invoices name the customer id.
        bill["customer_id"] = ids_by_login.get(bill["customer_id"], bill["customer_id"])
        invoices.append(bill)

    kept_customers, kept_invoices = assemble(canonical, invoices, report, failed)
    return ImportResult(kept_customers, kept_invoices, report)


def _customer(row: Row, report: ImportReport, use_id: bool) -> dict | None:
    cells = Cells(row, report)
    login = cells.required("login", "login")
    customer_id = cells.required("id", "id do cliente") if use_id else login
    name = cells.required("nome", "nome")
    document, person = "", ""
    try:
        document, by_document = read_document(row.get("cpf_cnpj"))
        person = checked_person_type(cells, "pessoa", PERSON_TYPES, by_document)
    except ValueProblem as exc:
        cells.fail("cpf_cnpj", str(exc))
    blocked = row.get("bloqueado").casefold()
    since = cells.day("data_ins")
    if not cells.ok:
        return None
    return customer_row(
        customer_id=customer_id, name=name, document=document, person_type=person,
        phone=best_phone([row.get("celular"), row.get("fone")]), email=row.get("email"),
        neighbourhood=row.get("bairro"), city=row.get("cidade"), plan=row.get("plano"),
        # plan prices live in sis_plano: the monthly fee is derived from the bills
        customer_since=since, contract_status="active" if blocked in ("nao", "não") else "")


def _bill(row: Row, report: ImportReport) -> dict | None:
    cells = Cells(row, report)
    invoice_id = cells.required("id", "id do lançamento")
    login = cells.required("login", "login")
    due = cells.day("datavenc", required=True, what="datavenc")
    amount = cells.money("valor", required=True, what="valor")
    paid_on = cells.day("datapag", what="datapag")
    paid = cells.money("valorpag", what="valorpag")
    code = row.get("status").casefold()
    if row.get("deltitulo") == "1":
        status = "cancelled"  # deleted bill: not debt
    elif code == "pago":
        status = "paid"
        paid = paid or amount
        if paid_on is None:
            cells.warn("datapag", "lançamento pago sem data de pagamento")
    elif code in OPEN_STATUSES:
        status = "partial" if paid and amount and paid < amount else "open"
    else:
        cells.fail("status", f"status desconhecido {row.get('status')!r} "
                             "(esperado aberto, vencido ou pago)")
        status = ""
    if not cells.ok:
        return None
    return bill_row(invoice_id=invoice_id, customer_id=login, due_date=due, amount=amount,
                    status=status, paid_on=paid_on, amount_paid=paid, where=row.where("id"))


def map_mkauth_bulk(customers: SourceTable, bills: pd.DataFrame) -> ImportResult:
    """:func:`map_mkauth` for bills :func:`clean_bills` read: the same result, with the
    bills as one typed frame."""
    require_columns(customers, CUSTOMER_COLUMNS, "clientes (sis_cliente)")
    report = ImportReport(source="mkauth")
    canonical, failed, ids_by_login = _map_customers(customers, report)
    report.table("faturas").read = len(bills)
    # Bills name the login; canonical invoices name the customer id.
    bills["customer_id"] = bills["customer_id"].map(ids_by_login).fillna(bills["customer_id"])
    kept_customers, invoices = assemble_frame(canonical, bills, report, failed)
    return ImportResult(kept_customers, [], report, invoice_table=invoices)


def _distinct(values: pd.Series, parse) -> tuple[np.ndarray, list] | None:
    """(codes, parsed distinct values): each distinct text parsed once by the scalar
    parser the row reader uses; None when one of them does not parse."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    try:
        return codes, [parse(text) for text in uniques.tolist()]
    except ValueProblem:
        return None


def _days(values: pd.Series, required: bool) -> np.ndarray | None:
    found = _distinct(values, read_date_once)
    if found is None:
        return None
    codes, days = found
    if any(d is not None and not 1678 <= d.year <= 2261 for d in days) or (
            required and any(d is None for d in days)):
        return None  # empty, or a year pandas cannot hold: the row reader says which
    return np.array([np.datetime64(d, "ns") if d is not None else np.datetime64("NaT", "ns")
                     for d in days], dtype="datetime64[ns]")[codes]


def _amounts(values: pd.Series, required: bool) -> np.ndarray | None:
    found = _distinct(values, parse_money_once)
    if found is None:
        return None
    codes, amounts = found
    if any(a is not None and a < 0 for a in amounts) or (
            required and any(a is None for a in amounts)):
        return None
    return np.array([float(a) if a is not None else np.nan for a in amounts])[codes]


def _typed_chunk(chunk: pd.DataFrame) -> pd.DataFrame | None:
    """One chunk of ``sis_lanc`` cells → canonical bill columns; None at the first cell
    the row reader would report (an error or a warning)."""
    cells = {}
    for column in chunk.columns:
        text = chunk[column].fillna("").str.strip()  # a short row's missing cells: ""
        cells[column] = text.where(~text.isin(_NULLS), "")
    empty = pd.Series("", index=chunk.index)
    ids, logins = cells["id"], cells["login"]
    if ids.eq("").any() or logins.eq("").any():
        return None
    due = _days(cells["datavenc"], required=True)
    amount = _amounts(cells["valor"], required=True)
    paid_on = _days(cells.get("datapag", empty), required=False)
    paid = _amounts(cells.get("valorpag", empty), required=False)
    if due is None or amount is None or paid_on is None or paid is None:
        return None
    code = cells["status"].str.casefold().to_numpy()
    deleted = cells.get("deltitulo", empty).eq("1").to_numpy()
    settled_paid = ~deleted & (code == "pago")
    opened = ~deleted & np.isin(code, OPEN_STATUSES)
    no_paid_day = np.isnat(paid_on)
    if (settled_paid & no_paid_day).any() or (~deleted & ~settled_paid & ~opened).any():
        return None  # "pago sem data de pagamento" (a warning), an unknown status
    nothing_paid = np.isnan(paid) | (paid == 0)
    paid = np.where(settled_paid & nothing_paid, amount, paid)  # pago: paid or amount
    partial = opened & ~nothing_paid & (amount != 0) & (paid < amount)
    status = np.select([deleted, settled_paid, partial], ["cancelled", "paid", "partial"],
                       "open")
    settled = settled_paid | partial
    return pd.DataFrame({
        "invoice_id": ids.to_numpy(), "customer_id": logins.to_numpy(),
        "issued_on": np.full(len(chunk), np.datetime64("NaT", "ns")), "due_date": due,
        "amount": amount,
        "paid_on": np.where(settled, paid_on, np.datetime64("NaT", "ns")),
        "amount_paid": np.where(settled, paid, np.nan), "status": status,
        "notified_on": np.full(len(chunk), np.datetime64("NaT", "ns")), "arrangement": "",
    })


def clean_bills(path: Path) -> pd.DataFrame | None:
    """``sis_lanc`` read column-wise, in chunks of :data:`CHUNK_ROWS` rows: the canonical
    bills (columns of ``schema.INVOICES``, ``customer_id`` still the login), or None
    when the file is not plain (quotes, Excel's ``sep=`` line, repeated or missing
    columns, a blank line, a repeated id) or one cell would be reported. Dates and
    amounts are parsed once per distinct text, by the row reader's own parsers."""
    data = read_bytes(path)
    if b'"' in data or b"\x00" in data:
        return None
    text, encoding = decode_text(data)
    if encoding == "utf-16":
        return None
    first = text.lstrip("\ufeff").split("\n", 1)[0].rstrip("\r")
    del text  # pandas decodes the bytes again, chunk by chunk
    if not first.strip() or excel_separator(first) is not None:
        return None
    header = [normalise_header(h) for h in first.split(sniff_delimiter(first))]
    kept = [c for c in header if c in BILL_READ]
    if len(kept) != len(set(kept)) or any(c not in header for c in BILL_COLUMNS):
        return None
    positions = [i for i, c in enumerate(header) if c in BILL_READ]
    parts = []
    try:
        reader = pd.read_csv(io.BytesIO(data), encoding=encoding, sep=sniff_delimiter(first),
                             header=0,
                             usecols=positions, dtype=str, keep_default_na=False,
                             na_filter=False, skip_blank_lines=False, engine="c",
                             quoting=csv.QUOTE_NONE, chunksize=CHUNK_ROWS)
        for chunk in reader:
            chunk.columns = [header[i] for i in positions]
            typed = _typed_chunk(chunk)
            if typed is None:
                return None
            parts.append(typed)
    except (pd.errors.ParserError, ValueError):
        return None
    if not parts:
        return None
    bills = pd.concat(parts, ignore_index=True)
    if bills["invoice_id"].duplicated().any():
        return None
    return bills
