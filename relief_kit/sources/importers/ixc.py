"""IXC Provedor: ``cliente``, ``fn_areceber`` and ``cliente_contrato`` → canonical tables.

Accepts the API responses saved as JSON (``{"page", "total", "registros": [...]}``,
every value a string; one file or several pages, repeated pages counted and dropped)
and CSV/XLSX exports of the same tables with the same column names.

Bills (``fn_areceber``): ``estornado = S`` (reversed) → cancelled; ``titulo_renegociado
= S`` (replaced by a renegotiation) → renegotiated; otherwise ``status`` ``A`` open,
``R`` paid, ``P`` partial (paid = ``valor`` − ``valor_aberto``), ``C`` cancelled.
``pagamento_data`` of ``0000-00-00`` or empty means unpaid.

Customers (``cliente``): ``razao`` (or ``nome``), ``cnpj_cpf`` stored formatted,
``tipo_pessoa`` F/J checked against the document, the best phone among ``whatsapp``,
``telefone_celular``, ``fone``, ``telefone_comercial``; ``cidade`` is the city table's
numeric id, kept as is unless the city table is given. IXC's customer table has no
fee: ``monthly_fee`` comes from the bills (see :mod:`.canonical`). ``customer_since``
is the earliest ``data_ativacao`` of the customer's contracts when contracts are given
(a plan change opens a new contract; the customer stayed), else ``data_cadastro``.

Contracts (``cliente_contrato``): per customer the active contract (``status`` A) is
chosen, else the most recently activated; its ``contrato`` is the plan and its
``status_internet`` the connection status.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

from relief_kit.core.values import ValueProblem
from relief_kit.sources.importers.canonical import (
    Cells,
    ImportResult,
    assemble,
    best_phone,
    check_announced_total,
    checked_person_type,
    customer_row,
    read_document,
    read_rows,
    unique_rows,
)
from relief_kit.sources.importers.report import ImportReport
from relief_kit.sources.raw import (
    Row,
    SourceTable,
    combine,
    read_source,
    report_notes,
    require_columns,
)

CUSTOMER_COLUMNS = ("id", "cnpj_cpf")
BILL_COLUMNS = ("id", "id_cliente", "data_vencimento", "valor", "status")
CONTRACT_COLUMNS = ("id_cliente", "status_internet")
CITY_COLUMNS = ("id", "nome")

PERSON_TYPES = {"f": "PF", "j": "PJ"}
BILL_STATUSES = {"A": "open", "R": "paid", "P": "partial", "C": "cancelled"}
#: ``AA`` (awaiting signature) has no canonical counterpart: the connection is not up yet.
INTERNET_STATUSES = {
    "A": "active", "CM": "blocked_manual", "CA": "blocked_auto", "FA": "blocked_financial",
    "D": "disabled", "AA": "",
}
PHONE_COLUMNS = ("whatsapp", "telefone_celular", "fone", "telefone_comercial")
#: The columns read from each table; IXC tables have dozens more, dropped on reading.
READ = {
    "clientes": {"id", "razao", "nome", "cnpj_cpf", "tipo_pessoa", "email", "bairro", "cidade",
                 "data_cadastro", *PHONE_COLUMNS},
    "fn_areceber": {"id", "id_cliente", "data_emissao", "data_vencimento", "valor",
                    "valor_recebido", "valor_aberto", "pagamento_data", "pagamento_valor",
                    "status", "titulo_renegociado", "estornado"},
    "cliente_contrato": {"id", "id_cliente", "status", "status_internet", "contrato",
                         "data_ativacao"},
    "cidade": {"id", "nome"},
}


def _yes(text: str) -> bool:
    return text.strip().upper() == "S"


def _read_all(paths: Sequence[Path], label: str) -> SourceTable:
    return combine([read_source(Path(p), keep=READ[label]) for p in paths], label)


def import_ixc(clientes: Sequence[Path], areceber: Sequence[Path],
               contratos: Sequence[Path] = (), cidades: Sequence[Path] = ()) -> ImportResult:
    """Read IXC files (JSON pages, CSV or XLSX) and map them to canonical rows."""
    paths = [*clientes, *areceber, *contratos, *cidades]
    tables = (
        _read_all(clientes, "clientes"),
        _read_all(areceber, "fn_areceber"),
        _read_all(contratos, "cliente_contrato") if contratos else None,
        _read_all(cidades, "cidade") if cidades else None,
    )
    result = map_ixc(*tables)
    for table in tables:
        if table is not None:
            report_notes(table, result.report)
    result.files = [Path(p).name for p in paths]
    result.report.files = result.files
    return result


def map_ixc(customers: SourceTable, bills: SourceTable, contracts: SourceTable | None = None,
            cities: SourceTable | None = None) -> ImportResult:
    """IXC tables → canonical customers and invoices, with the import's report."""
    require_columns(customers, CUSTOMER_COLUMNS, "clientes (cliente)")
    if customers.rows and "razao" not in customers.columns and "nome" not in customers.columns:
        require_columns(customers, ("razao",), "clientes (cliente)")
    require_columns(bills, BILL_COLUMNS, "faturas (fn_areceber)")
    if contracts is not None:
        require_columns(contracts, CONTRACT_COLUMNS, "contratos (cliente_contrato)")
    if cities is not None:
        require_columns(cities, CITY_COLUMNS, "cidades (cidade)")

    report = ImportReport(source="ixc")
    for table in ("clientes", "faturas"):
        report.table(table)  # the summary lists the main tables first
    city_names = _city_names(cities, report) if cities is not None else None
    chosen = _contracts(contracts, report) if contracts is not None else {}

    report.table("clientes").read = len(customers.rows)
    rows = unique_rows(customers.rows, "id", report, "clientes")
    check_announced_total(customers.announced_total, len({r.get("id") for r in rows}),
                          customers.label, report)
    canonical, unread = read_rows(rows, lambda row: _customer(row, report, city_names, chosen),
                                  report, "clientes")
    failed = {row.get("id") for row in unread}

    report.table("faturas").read = len(bills.rows)
    bill_rows = unique_rows(bills.rows, "id", report, "faturas")
    check_announced_total(bills.announced_total, len({r.get("id") for r in bill_rows}),
                          bills.label, report)
    invoices, _ = read_rows(bill_rows, lambda row: _bill(row, report), report, "faturas")

    kept_customers, kept_invoices = assemble(canonical, invoices, report, failed)
    return ImportResult(kept_customers, kept_invoices, report)


def _city_names(cities: SourceTable, report: ImportReport) -> dict[str, str]:
    report.table("cidades").read = len(cities.rows)
    names = {}
    for row in unique_rows(cities.rows, "id", report, "cidades"):
        if row.get("id") and row.get("nome"):
            names[row.get("id")] = row.get("nome")
    report.table("cidades").imported = len(names)
    return names


def _contracts(contracts: SourceTable, report: ImportReport) -> dict[str, tuple[Row, date | None]]:
    """Each customer's contract (the active one, else the most recently activated) and
    the earliest activation among all of that customer's contracts."""
    report.table("contratos").read = len(contracts.rows)
    rows = unique_rows(contracts.rows, "id", report, "contratos") \
        if "id" in contracts.columns else contracts.rows
    by_customer: dict[str, list[Row]] = {}
    for row in rows:
        owner = row.get("id_cliente")
        if not owner:
            report.error(row.where("id_cliente"), "id_cliente vazio (obrigatório)")
            report.table("contratos").skip("com erro (ver erros abaixo)")
            continue
        by_customer.setdefault(owner, []).append(row)

    def rank(row: Row) -> tuple:
        number = row.get("id")
        return (row.get("status").upper() == "A", row.get("data_ativacao")[:10]
                if row.get("data_ativacao") not in ("", "0000-00-00") else "",
                int(number) if number.isdigit() else 0)

    chosen = {}
    for owner, options in by_customer.items():
        starts = [d for o in options if (d := Cells(o, report).day("data_ativacao"))]
        chosen[owner] = (max(options, key=rank), min(starts, default=None))
        if sum(o.get("status").upper() == "A" for o in options) > 1:
            report.notes["mais de um contrato ativo: usado o ativado por último"] += 1
    report.table("contratos").imported = sum(len(o) for o in by_customer.values())
    return chosen


def _customer(row: Row, report: ImportReport, city_names: dict[str, str] | None,
              contracts: dict[str, tuple[Row, date | None]]) -> dict | None:
    cells = Cells(row, report)
    customer_id = cells.required("id", "id do cliente")
    name_column = "razao" if row.get("razao") or not row.get("nome") else "nome"
    name = cells.required(name_column, "nome (razao)")
    document, person = "", ""
    try:
        document, by_document = read_document(row.get("cnpj_cpf"))
        person = checked_person_type(cells, "tipo_pessoa", PERSON_TYPES, by_document)
    except ValueProblem as exc:
        cells.fail("cnpj_cpf", str(exc))

    city = row.get("cidade")
    if city and city_names is not None:
        if city in city_names:
            city = city_names[city]
        else:
            cells.warn("cidade", f"cidade {city!r} não está na tabela de cidades: mantido o id")

    contract, since = contracts.get(customer_id, (None, None))
    plan, status = "", ""
    if contract is not None:
        plan = contract.get("contrato")
        code = contract.get("status_internet").upper()
        if code in INTERNET_STATUSES:
            status = INTERNET_STATUSES[code]
        elif code:
            report.warn(contract.where("status_internet"),
                        f"status_internet desconhecido {code!r}: status do contrato vazio")
    if since is None:
        since = cells.day("data_cadastro")
    if not cells.ok:
        return None
    return customer_row(
        customer_id=customer_id, name=name, document=document, person_type=person,
        phone=best_phone(row.get(c) for c in PHONE_COLUMNS), email=row.get("email"),
        neighbourhood=row.get("bairro"), city=city, plan=plan,
        # not in IXC's customer table: the monthly fee is derived from the bills
        customer_since=since, contract_status=status)


def _bill(row: Row, report: ImportReport) -> dict | None:
    cells = Cells(row, report)
    invoice_id = cells.required("id", "id da fatura")
    customer_id = cells.required("id_cliente", "id_cliente")
    due = cells.day("data_vencimento", required=True, what="data_vencimento")
    amount = cells.money("valor", required=True, what="valor")
    code = row.get("status").upper()
    if _yes(row.get("estornado")):
        status = "cancelled"  # reversed: never was debt
    elif _yes(row.get("titulo_renegociado")):
        status = "renegotiated"  # replaced by the renegotiation's bills
    elif code in BILL_STATUSES:
        status = BILL_STATUSES[code]
    else:
        cells.fail("status", f"status desconhecido {row.get('status')!r} "
                             "(esperado A, R, P ou C)")
        status = ""
    paid_on = cells.day("pagamento_data", what="pagamento_data")
    paid = None
    if status == "paid":
        paid = next((v for v in (cells.money("valor_recebido"), cells.money("pagamento_valor"))
                     if v), amount)
        if paid_on is None:
            cells.warn("pagamento_data", "fatura recebida (R) sem data de pagamento")
    elif status == "partial" and amount is not None:
        still_open = cells.money("valor_aberto", required=True, what="valor_aberto")
        if still_open is not None and still_open > amount:
            cells.fail("valor_aberto", f"valor_aberto {row.get('valor_aberto')!r} maior que "
                                       f"o valor {row.get('valor')!r}")
        elif still_open is not None:
            paid = amount - still_open
    if not cells.ok:
        return None
    return {
        "invoice_id": invoice_id,
        "customer_id": customer_id,
        "issued_on": cells.day("data_emissao"),
        "due_date": due,
        "amount": amount,
        "paid_on": paid_on if status in ("paid", "partial") else None,
        "amount_paid": paid,
        "status": status,
        "notified_on": None,
        "arrangement": "",
        "_where": row.where("id"),
    }
