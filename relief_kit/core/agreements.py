"""Agreements after the decision: the bills they cover, what is owed when, whether a
later export shows them kept, due soon or broken, and the rolling relief cap.

Definitions:

- *Covered bills*: when a decision is recorded, the customer's open or partly paid
  bills due by the data's as-of date (the open debt the terms' amount is); with no
  such bill, the next open bill (the one the customer says they cannot pay).
- *Schedule*: a discount is ``amount × (1 − percent/100)`` (to the centavo, half up)
  by ``pay_by``; a postponement the amount by ``new_due_date``; instalments each amount
  by its date.
- *Paid toward the agreement*: what was paid on the covered bills after the decision
  (beyond what was already paid then), plus what was paid on bills the ERP issued for
  the arrangement (``arrangement`` not empty, due on or after the decision day, not
  covered, not cancelled).
- A schedule date is *missed* when its deadline (date + ``follow_up.grace_days``) has
  passed and the payments made by that deadline fall short of the cumulative amount
  due: the agreement is *broken* (the first missed date, the shortfall in R$, the
  business days since). Paid in full without a miss: *kept*. Otherwise, *due_soon*
  when the next unpaid date is within ``follow_up.due_soon_business_days`` business
  days, else *active*.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

from relief_kit.core.calendar import BusinessCalendar
from relief_kit.core.criteria import Criteria
from relief_kit.core.decisions import RELIEF_ACTIONS, CoveredBill
from relief_kit.core.model import Action, Terms
from relief_kit.core.schema import OWED as _OPEN

CENT = Decimal("0.01")
FOLLOW_UP_KINDS = ("broken", "due_soon", "active", "kept")


def to_cents(value) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def _open_amount(row) -> Decimal:
    paid = row["amount_paid"]
    paid = 0.0 if paid is None or paid != paid else paid
    return max(to_cents(row["amount"]) - to_cents(paid), Decimal("0.00"))


def covered_bills(invoices: pd.DataFrame, as_of: date) -> tuple[CoveredBill, ...]:
    """The bills a decision taken on ``as_of`` is about (see the module's definition),
    from one customer's canonical invoices frame, oldest due first."""
    if invoices.empty:
        return ()
    owed = invoices[invoices["status"].isin(_OPEN)].sort_values(["due_date", "invoice_id"])
    due = owed[owed["due_date"] <= pd.Timestamp(as_of)]
    chosen = due if not due.empty else owed.head(1)
    return tuple(CoveredBill(str(r["invoice_id"]), r["due_date"].date(), _open_amount(r))
                 for _, r in chosen.iterrows())


def amount_to_pay(action: Action | str, terms: Terms) -> Decimal:
    """What the customer pays under the terms, in R$ to the centavo."""
    if Action(action) is Action.DISCOUNT and terms.discount_percent is not None:
        return to_cents(terms.amount * (1 - terms.discount_percent / 100))
    return to_cents(terms.amount)


def schedule(action: Action | str, terms: Terms) -> tuple[tuple[date, Decimal], ...]:
    """(date, R$) the customer owes under the terms, in date order; empty for a refusal
    or a request for information."""
    action = Action(action)
    if action is Action.DISCOUNT and terms.pay_by is not None:
        return ((terms.pay_by, amount_to_pay(action, terms)),)
    if action is Action.POSTPONEMENT and terms.new_due_date is not None:
        return ((terms.new_due_date, to_cents(terms.amount)),)
    if action is Action.INSTALMENTS:
        return tuple((i.due_date, to_cents(i.amount)) for i in terms.instalments)
    return ()


@dataclass(frozen=True)
class FollowUp:
    """One agreement checked against the bills on ``as_of``.

    ``kind``: FOLLOW_UP_KINDS. ``due``/``paid``: R$ owed in all and paid toward it.
    ``next_date``/``next_amount``: the next date not fully paid and what is still owed
    by it. ``missed_date``/``shortfall``: the first missed date and the R$ missing at its
    deadline. ``business_days``: until ``next_date`` (due soon) or since
    ``missed_date`` (broken).
    """

    request_id: str
    customer_id: str
    decision_id: int
    action: str
    kind: str
    due: Decimal
    paid: Decimal
    next_date: date | None = None
    next_amount: Decimal | None = None
    missed_date: date | None = None
    shortfall: Decimal | None = None
    business_days: int = 0


def agreement_bills(invoices: pd.DataFrame, covered: tuple[CoveredBill, ...],
                    decided_on: date) -> pd.DataFrame:
    """The customer's bills that belong to an agreement decided on ``decided_on``: the
    covered ones and the arrangement bills issued for it (see the module)."""
    if invoices.empty:
        return invoices
    ids = {b.invoice_id for b in covered}
    arrangement = invoices["arrangement"].fillna("").ne("")
    later = invoices["due_date"] >= pd.Timestamp(decided_on)
    mask = invoices["invoice_id"].isin(ids) | (
        arrangement & later & ~invoices["status"].eq("cancelled"))
    return invoices[mask]


def payments(invoices: pd.DataFrame, covered: tuple[CoveredBill, ...],
             decided_on: date) -> list[tuple[date, Decimal]]:
    """(paid on, R$) paid toward the agreement, oldest first."""
    before = {b.invoice_id: b.open_amount for b in covered}
    out = []
    for _, row in agreement_bills(invoices, covered, decided_on).iterrows():
        if pd.isna(row["paid_on"]):
            continue
        paid = to_cents(0 if pd.isna(row["amount_paid"]) else row["amount_paid"])
        invoice_id = str(row["invoice_id"])
        if invoice_id in before:
            # Only what was paid beyond what had been paid when the decision was taken.
            already = to_cents(row["amount"]) - before[invoice_id]
            paid = max(paid - already, Decimal("0.00"))
        if paid > 0:
            out.append((row["paid_on"].date(), paid))
    return sorted(out)


@dataclass(frozen=True)
class Agreement:
    """What :func:`payments_all` needs of one agreement: a key of the caller's choice,
    the customer, the bills covered and the decision's day."""

    key: object
    customer_id: str
    covered: tuple[CoveredBill, ...]
    decided_on: date


def payments_all(invoices: pd.DataFrame, agreements: list[Agreement]
                 ) -> dict[object, list[tuple[date, Decimal]]]:
    """:func:`payments` of many agreements at once, by ``Agreement.key``.

    ``invoices``: the canonical bills (any customers'). One join of the agreements with
    their customers' bills and one filter, instead of a scan of each customer's bills per
    agreement; the same (paid on, R$) lists, oldest first, as :func:`payments` gives one
    by one (a test compares them). Agreements without any payment map to ``[]``.
    """
    result: dict[object, list[tuple[date, Decimal]]] = {a.key: [] for a in agreements}
    if not agreements or invoices.empty:
        return result
    keys = pd.DataFrame({"agreement": range(len(agreements)),
                         "customer_id": [a.customer_id for a in agreements],
                         "decided": pd.to_datetime([a.decided_on for a in agreements])})
    covered = pd.DataFrame(
        [(i, b.invoice_id, b.open_amount) for i, a in enumerate(agreements)
         for b in a.covered], columns=["agreement", "invoice_id", "open_before"]
    ).drop_duplicates(["agreement", "invoice_id"], keep="last")
    bills = invoices[["invoice_id", "customer_id", "due_date", "amount", "paid_on",
                      "amount_paid", "status", "arrangement"]]
    bills = bills[bills["paid_on"].notna()]
    pairs = keys.merge(bills.assign(invoice_id=bills["invoice_id"].astype(str)),
                       on="customer_id", how="inner")
    pairs = pairs.merge(covered, on=["agreement", "invoice_id"], how="left")
    is_covered = pairs["open_before"].notna()
    arrangement = pairs["arrangement"].fillna("").ne("")
    later = pairs["due_date"] >= pairs["decided"]
    pairs = pairs[is_covered | (arrangement & later & ~pairs["status"].eq("cancelled"))]
    for agreement, amount, paid_on, amount_paid, before in zip(
            pairs["agreement"].tolist(), pairs["amount"].tolist(), pairs["paid_on"].tolist(),
            pairs["amount_paid"].tolist(), pairs["open_before"].tolist(), strict=True):
        paid = to_cents(0 if pd.isna(amount_paid) else amount_paid)
        if not pd.isna(before):
            # Only what was paid beyond what had been paid when the decision was taken.
            paid = max(paid - (to_cents(amount) - before), Decimal("0.00"))
        if paid > 0:
            result[agreements[agreement].key].append((paid_on.date(), paid))
    for found in result.values():
        found.sort()
    return result


def follow_up(*, request_id: str, customer_id: str, decision_id: int, action: str,
              terms: Terms, covered: tuple[CoveredBill, ...], decided_at: datetime,
              invoices: pd.DataFrame, as_of: date, criteria: Criteria,
              calendar: BusinessCalendar,
              paid: list[tuple[date, Decimal]] | None = None) -> FollowUp | None:
    """The follow-up of one relief decision against the customer's bills (a later
    export); None for a decision that is not an agreement. ``paid``: the payments
    toward it when the caller has them (:func:`payments_all`); else read from
    ``invoices``."""
    if Action(action) not in RELIEF_ACTIONS:
        return None
    plan = schedule(action, terms)
    if not plan:
        return None
    grace = timedelta(days=int(criteria["follow_up.grace_days"]))
    soon = int(criteria["follow_up.due_soon_business_days"])
    paid_list = paid if paid is not None else payments(invoices, covered, decided_at.date())
    total_paid = sum((p for _, p in paid_list), Decimal("0.00"))
    total_due = sum((a for _, a in plan), Decimal("0.00"))
    base = dict(request_id=request_id, customer_id=customer_id, decision_id=decision_id,
                action=str(Action(action).value), due=total_due, paid=total_paid)
    cumulative = Decimal("0.00")
    for due_date, amount in plan:
        cumulative += amount
        deadline = due_date + grace
        paid_by_deadline = sum((p for d, p in paid_list if d <= deadline), Decimal("0.00"))
        if deadline < as_of and paid_by_deadline < cumulative:
            return FollowUp(**base, kind="broken", missed_date=due_date,
                            shortfall=cumulative - paid_by_deadline,
                            business_days=calendar.business_days_between(due_date, as_of))
        if total_paid < cumulative:
            days = calendar.business_days_between(as_of, due_date)
            kind = "due_soon" if days <= soon else "active"
            return FollowUp(**base, kind=kind, next_date=due_date,
                            next_amount=cumulative - total_paid, business_days=days)
    return FollowUp(**base, kind="kept")


def reliefs_within(decided_on: list[date], today: date, months: int = 12) -> int:
    """How many relief agreements were decided in the ``months`` before ``today``."""
    start = (pd.Timestamp(today) - pd.DateOffset(months=months)).date()
    return sum(1 for day in decided_on if start < day <= today)



__all__ = ["FOLLOW_UP_KINDS", "Agreement", "FollowUp", "agreement_bills", "amount_to_pay",
           "covered_bills", "follow_up", "payments", "payments_all", "reliefs_within",
           "schedule"]
