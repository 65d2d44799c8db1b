"""The bills a relief option changes.

A customer who says they cannot pay means a bill: the bills still open, or — when
nothing is open — the next bill, with its real due date from the customer's billing
cycle. Every option names the bills it changes, so a postponement moves *those* bills
to a later date than their own due date, and is priced from there.

- *Open bills*: counted bills (not cancelled or renegotiated) due by the as-of date
  and still open or partly paid; the amount is what is still owed.
- *Next bill*: the earliest bill due after the as-of date that is still open; when the
  ERP has not issued it yet, the customer's cycle (the day of the month of their latest
  bill) one month after that bill — at the monthly fee.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal

import pandas as pd

from relief_kit.core.model import Bill, Customer, HistoryFeatures
from relief_kit.core.schema import NOT_BILLED as _NOT_COUNTED
from relief_kit.core.schema import OWED as _OPEN
from relief_kit.core.terms import add_months, cents


def open_due_by(invoices: pd.DataFrame, as_of: date) -> list[int]:
    """Positions (in ``invoices``' order) of the bills still open or partly paid and due
    by ``as_of``: a case's few dozen bills, walked in Python (a pandas operation costs
    as much on them as on a whole portfolio)."""
    if invoices.empty:
        return []
    day = pd.Timestamp(as_of)
    due = invoices["due_date"].tolist()
    return [i for i, value in enumerate(invoices["status"].tolist())
            if value in _OPEN and due[i] is not pd.NaT and due[i] <= day]


def bills_concerned(invoices: pd.DataFrame, customer: Customer, as_of: date
                    ) -> tuple[Bill, ...]:
    """The open bills (oldest first), else the next bill. ``invoices`` may hold other
    customers' bills too: only ``customer``'s are read."""
    mine = invoices[invoices["customer_id"] == customer.customer_id]
    due, amount = mine["due_date"].tolist(), mine["amount"].tolist()
    paid, ids = mine["amount_paid"].tolist(), mine["invoice_id"].tolist()
    bills = []
    # Oldest first; equal due dates in the file's order (a stable sort).
    for i in sorted(open_due_by(mine, as_of), key=due.__getitem__):
        owed = float(amount[i]) - (0.0 if pd.isna(paid[i]) else float(paid[i]))
        if owed > 0.004:
            bills.append(Bill(str(ids[i]), due[i].date(), cents(owed)))
    if bills:
        return tuple(bills)
    return (next_bill(mine, customer, as_of),)


def next_bill(invoices: pd.DataFrame, customer: Customer, as_of: date) -> Bill:
    """The customer's next bill after ``as_of``: issued and open, else from the cycle."""
    as_of_ts = pd.Timestamp(as_of)
    mine = invoices[invoices["customer_id"] == customer.customer_id]
    status, due = mine["status"].tolist(), mine["due_date"].tolist()
    coming = [i for i, value in enumerate(status)
              if value in _OPEN and due[i] is not pd.NaT and due[i] > as_of_ts]
    if coming:
        first = min(coming, key=due.__getitem__)  # the earliest; a tie: the file's first
        return Bill(str(mine["invoice_id"].iloc[first]), due[first].date(),
                    cents(mine["amount"].iloc[first]), upcoming=True)
    arrangement = (mine["arrangement"].tolist() if "arrangement" in mine
                   else [""] * len(status))
    ordinary = [due[i] for i, value in enumerate(status)
                if value not in _NOT_COUNTED and due[i] is not pd.NaT
                and not (isinstance(arrangement[i], str) and arrangement[i])]
    anchor = max(ordinary).date() if ordinary else customer.customer_since
    return _on_cycle(anchor, customer, as_of)


def _on_cycle(anchor: date, customer: Customer, as_of: date) -> Bill:
    """The bill not issued yet: ``anchor`` plus whole months, first after ``as_of``."""
    due = anchor
    step = 0
    while due <= as_of:
        step += 1
        due = add_months(anchor, step)
    return Bill("", due, cents(customer.monthly_fee), upcoming=True)


def bills_concerned_all(invoices: pd.DataFrame, customers: Mapping[str, Customer],
                        as_of: date) -> dict[str, tuple[Bill, ...]]:
    """:func:`bills_concerned` of many customers at once, by customer id.

    ``invoices``: canonical bills (any customers'; file order); ``customers``: the
    customers wanted, by id. One filter, one stable sort and one pass over the open
    bills for all of them, instead of a scan of ``invoices`` per customer: the same
    bills, in the same order, as :func:`bills_concerned` gives one by one (a test
    compares them).
    """
    as_of_ts = pd.Timestamp(as_of)
    mine = invoices[invoices["customer_id"].isin(list(customers))
                    & ~invoices["status"].isin(_NOT_COUNTED)]
    # Stable: within one customer, equal due dates keep the file's order, as one by one.
    mine = mine.sort_values("due_date", kind="stable")
    paid = mine["amount_paid"].astype(float).fillna(0.0)
    owed = mine["amount"].astype(float) - paid
    is_open = mine["status"].isin(_OPEN)
    now = mine[is_open & (mine["due_date"] <= as_of_ts) & (owed > 0.004)]
    found: dict[str, list[Bill]] = {}
    for owner, invoice_id, due, value in zip(
            now["customer_id"].tolist(), now["invoice_id"].astype(str).tolist(),
            now["due_date"].tolist(), owed[now.index].tolist(), strict=True):
        found.setdefault(owner, []).append(Bill(invoice_id, due.date(), cents(value)))
    result = {owner: tuple(bills) for owner, bills in found.items()}
    rest = [c for c in customers if c not in result]
    if not rest:
        return result
    left = mine[mine["customer_id"].isin(rest)]
    coming = left[(left["due_date"] > as_of_ts) & left["status"].isin(_OPEN)]
    first = coming.drop_duplicates("customer_id", keep="first")
    for owner, invoice_id, due, amount in zip(
            first["customer_id"].tolist(), first["invoice_id"].astype(str).tolist(),
            first["due_date"].tolist(), first["amount"].tolist(), strict=True):
        result[owner] = (Bill(invoice_id, due.date(), cents(amount), upcoming=True),)
    ordinary = (left[left["arrangement"].fillna("").eq("")] if "arrangement" in left
                else left)
    anchors = ordinary.groupby("customer_id", sort=False)["due_date"].max()
    anchors = anchors[anchors.notna()]
    # As a dict: a Series look-up per customer costs more than the rest of the loop.
    anchor_of = dict(zip(anchors.index.tolist(), anchors.tolist(), strict=True))
    for owner in rest:
        if owner in result:
            continue
        customer = customers[owner]
        anchor = (anchor_of[owner].date() if owner in anchor_of
                  else customer.customer_since)
        result[owner] = (_on_cycle(anchor, customer, as_of),)
    return result


def fallback_bills(customer: Customer, features: HistoryFeatures, as_of: date
                   ) -> tuple[Bill, ...]:
    """When the caller has no bills at hand (a test, an old caller): the open debt as one
    bill due on the as-of date, else a next bill at the fee on the cycle of the customer's
    start date."""
    if features.open_debt > 0:
        return (Bill("", as_of, cents(features.open_debt)),)
    due = customer.customer_since
    step = 0
    while due <= as_of:
        step += 1
        due = add_months(customer.customer_since, step)
    return (Bill("", due, cents(customer.monthly_fee), upcoming=True),)


def total(bills: tuple[Bill, ...]) -> Decimal:
    return sum((b.amount for b in bills), Decimal("0.00"))
