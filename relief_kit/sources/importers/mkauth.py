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

from pathlib import Path

from relief_kit.core.values import ValueProblem
from relief_kit.sources.importers.canonical import (
    Cells,
    ImportResult,
    assemble,
    best_phone,
    bill_row,
    checked_person_type,
    customer_row,
    read_document,
    read_rows,
    unique_rows,
)
from relief_kit.sources.importers.report import ImportReport
from relief_kit.sources.raw import Row, SourceTable, read_source, report_notes, require_columns

CUSTOMER_COLUMNS = ("login", "nome", "cpf_cnpj")
BILL_COLUMNS = ("id", "login", "datavenc", "valor", "status")
PERSON_TYPES = {"fisica": "PF", "física": "PF", "juridica": "PJ", "jurídica": "PJ",
                "f": "PF", "j": "PJ"}
OPEN_STATUSES = ("aberto", "vencido")
#: The columns read; the rest (passwords among them) are dropped on reading.
CUSTOMER_READ = {"id", "login", "nome", "cpf_cnpj", "fone", "celular", "email", "bairro",
                 "cidade", "plano", "bloqueado", "pessoa", "data_ins"}
BILL_READ = {"id", "login", "datavenc", "datapag", "valor", "valorpag", "status", "deltitulo"}


def import_mkauth(clientes: Path, lancamentos: Path) -> ImportResult:
    """Read ``sis_cliente`` and ``sis_lanc`` exports and map them to canonical rows."""
    customers = read_source(Path(clientes), keep=CUSTOMER_READ)
    bills = read_source(Path(lancamentos), keep=BILL_READ)
    result = map_mkauth(customers, bills)
    for table in (customers, bills):
        report_notes(table, result.report)
    result.files = [Path(clientes).name, Path(lancamentos).name]
    result.report.files = result.files
    return result


def map_mkauth(customers: SourceTable, bills: SourceTable) -> ImportResult:
    """MK-Auth tables → canonical customers and invoices, with the import's report."""
    require_columns(customers, CUSTOMER_COLUMNS, "clientes (sis_cliente)")
    require_columns(bills, BILL_COLUMNS, "lançamentos (sis_lanc)")
    report = ImportReport(source="mkauth")
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
