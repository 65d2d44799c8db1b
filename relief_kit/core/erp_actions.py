"""The changes each decision needs in the provider's ERP, as rows of one CSV a day.

Column names are the ERPs' own fields where ``ERP-FORMATS.md`` knows them, so whoever
carries a row out (or a script) does not re-type terms:

- ``ids_faturas_origem`` (IXC; Hubsoft calls the same list ``ids_faturas``) the bills
  replaced by a renegotiation, which get ``titulo_renegociado = S``;
  ``quantidade_parcelas``, ``parcela``, ``vencimento`` (Hubsoft's first due date, here
  each instalment's) and ``valor`` the new bills;
- ``id_fatura`` and ``data_vencimento`` for a changed due date, with the CNAB reason
  ``motivo_cnab`` ``06`` (due date changed) or ``07`` (discount granted) and SGP's
  ``motivodesconto``;
- a trust unblock until the first payment date for a customer restricted when the
  decision was taken: IXC ``desbloqueio_confianca = S``, SGP ``data_promessa``,
  MK-Auth ``rem_obs``, Hubsoft ``dias_desbloqueio`` (calendar days; the ERP's admin
  rule may cap them).

Amounts are R$ with a dot (``123.45``) and dates ISO, as the ERPs' APIs take them. The
amounts of each decision add up to its terms to the centavo: a discount's amount to
pay, a postponement's amount, each instalment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from relief_kit.core.agreements import amount_to_pay, to_cents
from relief_kit.core.decisions import CoveredBill
from relief_kit.core.model import Action, Terms
from relief_kit.core.regulatory import connection_status

FILE_PATTERN = "acoes-erp-{day}.csv"
COLUMNS = (
    "data_decisao", "pedido", "decisao", "id_cliente", "acao", "ids_faturas_origem",
    "titulo_renegociado", "id_fatura", "parcela", "quantidade_parcelas", "vencimento",
    "data_vencimento", "valor", "valor_desconto", "motivo_cnab", "motivodesconto",
    "desbloqueio_confianca", "data_promessa", "rem_obs", "dias_desbloqueio", "analista",
)
#: ``acao`` codes.
RENEGOTIATE, CHANGE_DUE_DATE, DISCOUNT, TRUST_UNBLOCK = (
    "renegociar", "alterar_vencimento", "conceder_desconto", "desbloqueio_confianca")


@dataclass(frozen=True)
class DecidedCase:
    """A recorded decision with what the actions need (plain values)."""

    request_id: str
    decision_id: int
    customer_id: str
    action: str
    terms: Terms
    covered: tuple[CoveredBill, ...]
    decided_on: date
    analyst: str
    restricted: bool = False  # the customer's connection was restricted at the decision


def file_name(day: date) -> str:
    """``acoes-erp-AAAA-MM-DD.csv``."""
    return FILE_PATTERN.format(day=day.isoformat())


def _split(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """``total`` in parts proportional to ``weights``, cents exact (the last absorbs
    the rounding); equal parts when the weights add up to nothing."""
    if not weights:
        return []
    whole = sum(weights, Decimal("0.00"))
    if whole <= 0:
        weights, whole = [Decimal(1)] * len(weights), Decimal(len(weights))
    parts = [to_cents(total * w / whole) for w in weights[:-1]]
    return parts + [total - sum(parts, Decimal("0.00"))]


def _money(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}"


def actions(case: DecidedCase) -> list[dict[str, str]]:
    """The ERP rows of one decision (none for a refusal or a request for information)."""
    action = Action(case.action)
    terms = case.terms
    base = {c: "" for c in COLUMNS}
    base.update(data_decisao=case.decided_on.isoformat(), pedido=case.request_id,
                decisao=str(case.decision_id), id_cliente=case.customer_id,
                analista=case.analyst)
    bills = list(case.covered)
    ids = ",".join(b.invoice_id for b in bills)
    rows: list[dict[str, str]] = []
    first_date: date | None = None
    if action is Action.INSTALMENTS:
        count = len(terms.instalments)
        for instalment in terms.instalments:
            rows.append({**base, "acao": RENEGOTIATE, "ids_faturas_origem": ids,
                         "titulo_renegociado": "S" if ids else "",
                         "parcela": str(instalment.number), "quantidade_parcelas": str(count),
                         "vencimento": instalment.due_date.isoformat(),
                         "valor": _money(to_cents(instalment.amount))})
        first_date = terms.instalments[0].due_date if terms.instalments else None
    elif action is Action.POSTPONEMENT and terms.new_due_date is not None:
        parts = _split(to_cents(terms.amount), [b.open_amount for b in bills] or [Decimal(1)])
        for bill, part in zip(bills or [None], parts, strict=True):
            rows.append({**base, "acao": CHANGE_DUE_DATE,
                         "id_fatura": bill.invoice_id if bill else "",
                         "data_vencimento": terms.new_due_date.isoformat(),
                         "valor": _money(part), "motivo_cnab": "06"})
        first_date = terms.new_due_date
    elif action is Action.DISCOUNT and terms.pay_by is not None:
        to_pay = amount_to_pay(action, terms)
        weights = [b.open_amount for b in bills] or [Decimal(1)]
        parts = _split(to_pay, weights)
        discounts = _split(to_cents(terms.amount) - to_pay, weights)
        for bill, part, off in zip(bills or [None], parts, discounts, strict=True):
            rows.append({**base, "acao": DISCOUNT,
                         "id_fatura": bill.invoice_id if bill else "",
                         "data_vencimento": terms.pay_by.isoformat(), "valor": _money(part),
                         "valor_desconto": _money(off), "motivo_cnab": "07",
                         "motivodesconto": f"relief-kit {case.request_id} "
                                           f"{terms.discount_percent}%"})
        first_date = terms.pay_by
    if rows and case.restricted and first_date is not None:
        rows.append({**base, "acao": TRUST_UNBLOCK, "desbloqueio_confianca": "S",
                     "data_promessa": first_date.isoformat(), "rem_obs": first_date.isoformat(),
                     "dias_desbloqueio": str(max((first_date - case.decided_on).days, 1))})
    return rows


def is_restricted(contract_status: str) -> bool:
    """Blocked for a debt (``regulatory.connection_status`` "blocked"): the customer the
    agreement unblocks in trust until its first date, as the customer's message says
    (``templates/messages/pt_BR/service/*.blocked.txt.j2``). A manual block (reason
    unknown) or a terminated contract is not unblocked by an agreement."""
    return connection_status(contract_status) == "blocked"


__all__ = ["COLUMNS", "DecidedCase", "actions", "file_name", "is_restricted"]
