"""From source rows to canonical customers and invoices: the rules every importer shares.

Pure functions over :class:`~relief_kit.sources.raw.Row` values: reading one cell
(recording a problem with its file, row and column instead of guessing), documents and
phones, repeated rows, and the values an ERP export does not hold directly:

* ``monthly_fee`` — when the source has no fee: the most frequent amount among the
  customer's last six bills that are not cancelled or renegotiated (ties: the most
  recent). A customer without such a bill is skipped and counted.
* ``customer_since`` — when the source has no usable date: the first bill's issue
  date, or else its due date; counted in the summary.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache

import numpy as np
import pandas as pd

from relief_kit.core import schema
from relief_kit.core.values import ValueProblem, parse_date, parse_money, shown
from relief_kit.sources.importers.report import ImportReport
from relief_kit.sources.raw import Row

FEE_WINDOW = 6


@dataclass
class ImportResult:
    """Canonical rows (as plain dicts in schema column names) and the import's report."""

    customers: list[dict]
    invoices: list[dict]
    report: ImportReport
    #: Source file names, for the folder's provenance note.
    files: list[str] = field(default_factory=list)
    #: A large export read column-wise: the canonical bills as one typed frame (dates
    #: datetime64, R$ float64), in place of ``invoices`` (then empty).
    invoice_table: pd.DataFrame | None = None

    def customers_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.customers, columns=schema.column_names(schema.CUSTOMERS))

    def invoices_frame(self) -> pd.DataFrame:
        if self.invoice_table is not None:
            return self.invoice_table
        return pd.DataFrame(self.invoices, columns=schema.column_names(schema.INVOICES))


# --------------------------------------------------------------------------- values

# Bounded: thousands of digits are no amount, and would overflow the Decimal context.
_MACHINE_NUMBER = re.compile(r"^-?\d{1,15}(\.\d{1,15})?$")


def machine_money(text: str) -> Decimal | None:
    """A number as an API writes it (``1149.90``, ``89.9``): dot decimal, no thousands."""
    value = (text or "").strip()
    if not value:
        return None
    if not _MACHINE_NUMBER.match(value):
        raise ValueProblem(f"valor não numérico {shown(value)} (esperado como 1149.90)")
    amount = Decimal(value)
    rounded = amount.quantize(Decimal("0.01"))
    if rounded != amount:
        raise ValueProblem(f"valor com mais de dois decimais {value!r}")
    return rounded


def read_date(text: str) -> date | None:
    """:func:`tables.parse_date`, with a fast path for the ISO dates ERPs write."""
    value = text.strip() if text else ""
    if len(value) == 10 and value[4] == "-" and value[7] == "-" and value != "0000-00-00":
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass  # parse_date explains what is wrong
    return parse_date(value)


#: An export repeats the same few due dates and amounts hundreds of thousands of times:
#: each distinct text is parsed once and its (immutable) value reused. A text that
#: fails is not cached, so it raises its own message again on every row that holds it.
_once = lru_cache(maxsize=1 << 16)
read_date_once = _once(read_date)
parse_money_once = _once(parse_money)
machine_money_once = _once(machine_money)


class Cells:
    """Reads one source row's cells, recording each unusable value as a problem.

    ``ok`` stays true while every required value could be read.
    """

    def __init__(self, row: Row, report: ImportReport,
                 money: Callable[[str], Decimal | None] | None = None,
                 day: Callable[[str], date | None] | None = None) -> None:
        self.row = row
        self.report = report
        self.ok = True
        self._money = money or (machine_money_once if row.json else parse_money_once)
        self._day = day or read_date_once

    def text(self, column: str) -> str:
        return self.row.get(column)

    def fail(self, column: str | None, message: str) -> None:
        self.ok = False
        self.report.error(self.row.where(column), message)

    def warn(self, column: str | None, message: str) -> None:
        self.report.warn(self.row.where(column), message)

    def required(self, column: str, what: str) -> str:
        value = self.text(column)
        if not value:
            self.fail(column, f"{what} vazio (obrigatório)")
        return value

    def money(self, column: str, required: bool = False, what: str = "valor") -> Decimal | None:
        raw = self.text(column)
        if column in self.row.fractions:
            (self.fail if required else self.warn)(
                column, f"{what} {raw} com frações de centavo na planilha; arredonde a "
                        "célula para 2 casas decimais (ou confira a fórmula)")
            return None
        try:
            value = self._money(raw)
        except ValueProblem as exc:
            (self.fail if required else self.warn)(column, str(exc))
            return None
        if value is None and required:
            self.fail(column, f"{what} vazio (obrigatório)")
        elif value is not None and value < 0:
            (self.fail if required else self.warn)(column, f"{what} negativo {raw!r}")
            return None
        return value

    def day(self, column: str, required: bool = False, what: str = "data") -> date | None:
        raw = self.text(column)
        try:
            value = self._day(raw)
        except ValueProblem as exc:
            (self.fail if required else self.warn)(column, str(exc))
            return None
        if value is None and required:
            self.fail(column, f"{what} vazia (obrigatória)")
        return value


def best_phone(candidates: Iterable[str]) -> str:
    """The first phone with an area code (10+ digits), else the first one given."""
    given = [" ".join(c.split()) for c in candidates if c and c.strip()]
    for phone in given:
        if len(re.sub(r"\D", "", phone)) >= 10:
            return phone
    return given[0] if given else ""


def read_document(text: str) -> tuple[str, str]:
    """A CPF or CNPJ, formatted or bare → (formatted, "PF" | "PJ").

    Leading zeros a spreadsheet dropped (``1234567890`` for ``012.345.678-90``) are put
    back only when the check digits then agree. Raises ValueProblem otherwise.
    """
    from relief_kit.core.documents import (
        bare_document,
        document_kind,
        format_document,
        is_valid_document,
    )

    value = (text or "").strip()
    if not value:
        raise ValueProblem("CPF/CNPJ vazio (obrigatório)")
    candidates = [value]
    bare = bare_document(value)
    if bare.isdigit() and 9 <= len(bare) <= 10:
        candidates.append(bare.zfill(11))
    elif bare.isdigit() and 12 <= len(bare) <= 13:
        candidates.append(bare.zfill(14))
    for candidate in candidates:
        if is_valid_document(candidate):
            kind = document_kind(candidate)
            return format_document(candidate), "PF" if kind == "CPF" else "PJ"
    kind = document_kind(value) or document_kind(candidates[-1])
    if kind is None:
        raise ValueProblem(f"CPF/CNPJ {shown(value)} não é CPF (11 dígitos) nem CNPJ (14)")
    raise ValueProblem(f"{kind} inválido {shown(value)} (dígitos verificadores não conferem)")


def checked_person_type(cells: Cells, column: str, codes: dict[str, str], by_document: str) -> str:
    """The person type the source states, checked against the document's kind."""
    raw = cells.text(column)
    if not raw:
        return by_document
    stated = codes.get(raw.strip().casefold())
    if stated is None:
        cells.warn(column, f"tipo de pessoa desconhecido {raw!r}: usado {by_document}, "
                           "pelo documento")
        return by_document
    if stated != by_document:
        cells.warn(column, f"tipo de pessoa {raw!r} não combina com o documento: usado "
                           f"{by_document}, pelo documento")
    return by_document


# --------------------------------------------------------------------------- rows


def unique_rows(rows: Iterable[Row], key: str, report: ImportReport, table: str,
                what: str = "registro") -> list[Row]:
    """Rows with a repeated key: an identical repeat (a page saved twice, a page that
    overlaps the next) is skipped and counted; a repeat that differs is an error."""
    kept: dict[str, Row] = {}
    out = []
    for row in rows:
        value = row.get(key)
        if not value:
            out.append(row)  # the mapper reports the empty key
            continue
        first = kept.get(value)
        if first is None:
            kept[value] = row
            out.append(row)
        elif dict(first.values) == dict(row.values):
            report.table(table).skip(f"{what}(s) repetido(s) (mesmo {key} e mesmo conteúdo)")
        else:
            report.error(row.where(key), f"{key} {value!r} repetido com conteúdo diferente de "
                                         f"{first.where()}; mantenha só um deles")
            report.table(table).skip("com erro (ver erros abaixo)")
    return out


def check_announced_total(total: int | None, rows: int, label: str, report: ImportReport) -> None:
    """A saved API response says how many records the query had: say when pages are missing."""
    if total is not None and rows < total:
        report.warn(label, f"a API informou {total} registros, mas os arquivos têm {rows} "
                           "distintos: falta alguma página?")


def customer_row(*, customer_id: str, name: str, document: str, person_type: str,
                 phone: str, email: str, neighbourhood: str, city: str, plan: str,
                 customer_since: date | None, contract_status: str,
                 monthly_fee: Decimal | None = None, business_kind: str = "") -> dict:
    """One canonical customer row (columns of :data:`schema.CUSTOMERS`); the name's
    runs of spaces folded. ``monthly_fee`` None: derived later from the bills."""
    return {
        "customer_id": customer_id, "name": " ".join(name.split()), "document": document,
        "person_type": person_type, "phone": phone, "email": email,
        "neighbourhood": neighbourhood, "city": city, "plan": plan,
        "monthly_fee": monthly_fee, "customer_since": customer_since,
        "business_kind": business_kind, "contract_status": contract_status,
    }


def bill_row(*, invoice_id: str, customer_id: str, due_date: date | None,
             amount: Decimal | None, status: str, paid_on: date | None,
             amount_paid: Decimal | None, where: str, issued_on: date | None = None,
             notified_on: date | None = None, arrangement: str = "") -> dict:
    """One canonical bill row (R$, dates); a payment is kept only on a paid or partly
    paid bill. ``where`` locates the row for later messages (file, line, column)."""
    settled = status in ("paid", "partial")
    return {
        "invoice_id": invoice_id, "customer_id": customer_id, "issued_on": issued_on,
        "due_date": due_date, "amount": amount,
        "paid_on": paid_on if settled else None,
        "amount_paid": amount_paid if settled else None,
        "status": status, "notified_on": notified_on, "arrangement": arrangement,
        "_where": where,
    }


def read_rows(rows: Iterable[Row], read_one: Callable[[Row], dict | None],
              report: ImportReport, table: str) -> tuple[list[dict], list[Row]]:
    """Apply ``read_one`` to every row: the rows it read, and the rows it could not (each
    counted as skipped in ``table``; its problems are already in the report)."""
    read, failed = [], []
    for row in rows:
        value = read_one(row)
        if value is None:
            failed.append(row)
            report.table(table).skip("com erro (ver erros abaixo)")
        else:
            read.append(value)
    return read, failed


def monthly_fee(bills: list[dict]) -> Decimal | None:
    """The most frequent amount among the last bills that show the plan's price."""
    billed = [b for b in bills if b["status"] not in schema.NOT_BILLED and b["amount"] is not None]
    recent = sorted(billed, key=lambda b: b["due_date"], reverse=True)[:FEE_WINDOW]
    if not recent:
        return None
    counts = Counter(b["amount"] for b in recent)
    best = max(counts.values())
    return next(b["amount"] for b in recent if counts[b["amount"]] == best)


def first_bill_date(bills: list[dict]) -> date | None:
    dates = [b.get("issued_on") or b["due_date"] for b in bills]
    return min(dates) if dates else None


def assemble(customers: list[dict], invoices: list[dict], report: ImportReport,
             failed_customers: set[str] = frozenset(),
             customer_table: str = "clientes", invoice_table: str = "faturas") -> tuple[
                 list[dict], list[dict]]:
    """Link bills to customers, derive what the source lacks, drop what cannot stand.

    ``customers``: canonical dicts, ``monthly_fee``/``customer_since`` may be None
    (derived from the bills). ``invoices``: canonical dicts of readable bills.
    ``failed_customers``: ids of customer rows that had errors (their bills are skipped).
    """
    known = {c["customer_id"] for c in customers}
    by_customer: dict[str, list[dict]] = {}
    kept_invoices, seen_ids = [], set()
    for bill in invoices:
        owner = bill["customer_id"]
        if owner not in known:
            reason = ("de cliente não importado por erro" if owner in failed_customers
                      else "de cliente ausente do arquivo de clientes")
            report.table(invoice_table).skip(reason)
            continue
        if bill["invoice_id"] in seen_ids:
            report.error(bill.pop("_where", ""),
                         f"fatura {bill['invoice_id']!r} repetida com conteúdo diferente")
            report.table(invoice_table).skip("com erro (ver erros abaixo)")
            continue
        seen_ids.add(bill["invoice_id"])
        by_customer.setdefault(owner, []).append(bill)
        kept_invoices.append(bill)

    kept_customers, dropped = [], set()
    for customer in customers:
        bills = by_customer.get(customer["customer_id"], [])
        if customer.get("monthly_fee") is None:
            fee = monthly_fee(bills)
            if fee is None:
                report.table(customer_table).skip(
                    "sem mensalidade no arquivo e sem faturas para calculá-la")
                dropped.add(customer["customer_id"])
                continue
            customer["monthly_fee"] = fee
            report.notes[f"mensalidade = valor mais frequente das últimas {FEE_WINDOW} "
                         "faturas"] += 1
        if customer.get("customer_since") is None:
            since = first_bill_date(bills)
            if since is None:
                report.table(customer_table).skip(
                    "sem data de início do contrato e sem faturas para estimá-la")
                dropped.add(customer["customer_id"])
                continue
            customer["customer_since"] = since
            report.notes["cliente desde = data da primeira fatura (sem data de cadastro)"] += 1
        kept_customers.append(customer)
    if dropped:
        before = len(kept_invoices)
        kept_invoices = [b for b in kept_invoices if b["customer_id"] not in dropped]
        if before - len(kept_invoices):
            report.table(invoice_table).skip("de cliente não importado",
                                             before - len(kept_invoices))
    for bill in kept_invoices:
        bill.pop("_where", None)
    report.table(customer_table).imported = len(kept_customers)
    report.table(invoice_table).imported = len(kept_invoices)
    return kept_customers, kept_invoices


def assemble_frame(customers: list[dict], invoices: pd.DataFrame, report: ImportReport,
                   failed_customers: set[str] = frozenset(),
                   customer_table: str = "clientes", invoice_table: str = "faturas"
                   ) -> tuple[list[dict], pd.DataFrame]:
    """:func:`assemble` for bills held as one canonical frame (typed columns, file order,
    invoice ids already unique): the same customers, bills, counts and notes, with the
    monthly fee and the first bill's date derived by group-bys instead of per customer.
    """
    known = {c["customer_id"] for c in customers}
    owner = invoices["customer_id"]
    unknown = ~owner.isin(known)
    if unknown.any():
        failed = owner[unknown].isin(set(failed_customers))
        # The reasons in the order their first bill comes, as one by one.
        for reason in dict.fromkeys(failed.map({True: "de cliente não importado por erro",
                                                False: "de cliente ausente do arquivo de "
                                                       "clientes"})):
            rows = int(failed.sum()) if reason.endswith("erro") else int((~failed).sum())
            report.table(invoice_table).skip(reason, rows)
        invoices = invoices[~unknown]
    order = pd.Series(np.arange(len(invoices)), index=invoices.index)
    billed = invoices[~invoices["status"].isin(schema.NOT_BILLED)
                      & invoices["amount"].notna()].assign(order=order)
    # The latest FEE_WINDOW bills (ties: in file order, as a stable sort), then the most
    # frequent amount, ties to the one met first among them.
    recent = billed.sort_values(["customer_id", "due_date", "order"],
                                ascending=[True, False, True]).groupby(
                                    "customer_id", sort=False).head(FEE_WINDOW)
    counts = recent.groupby(["customer_id", "amount"])["order"].transform("size")
    best = counts.groupby(recent["customer_id"]).transform("max")
    fees = recent[counts.eq(best)].groupby("customer_id", sort=False)["amount"].first()
    firsts = invoices.assign(first=invoices["issued_on"].fillna(invoices["due_date"])
                             ).groupby("customer_id", sort=False)["first"].min()
    kept_customers, dropped = [], set()
    fee_note = f"mensalidade = valor mais frequente das últimas {FEE_WINDOW} faturas"
    since_note = "cliente desde = data da primeira fatura (sem data de cadastro)"
    for customer in customers:
        customer_id = customer["customer_id"]
        if customer.get("monthly_fee") is None:
            fee = fees.get(customer_id)
            if fee is None:
                report.table(customer_table).skip(
                    "sem mensalidade no arquivo e sem faturas para calculá-la")
                dropped.add(customer_id)
                continue
            customer["monthly_fee"] = Decimal(f"{fee:.2f}")
            report.notes[fee_note] += 1
        if customer.get("customer_since") is None:
            since = firsts.get(customer_id)
            if since is None or pd.isna(since):
                report.table(customer_table).skip(
                    "sem data de início do contrato e sem faturas para estimá-la")
                dropped.add(customer_id)
                continue
            customer["customer_since"] = since.date()
            report.notes[since_note] += 1
        kept_customers.append(customer)
    if dropped:
        gone = invoices["customer_id"].isin(dropped)
        if gone.any():
            report.table(invoice_table).skip("de cliente não importado", int(gone.sum()))
            invoices = invoices[~gone]
    report.table(customer_table).imported = len(kept_customers)
    report.table(invoice_table).imported = len(invoices)
    return kept_customers, invoices.reset_index(drop=True)
