"""The guard against wrongful blocks: nobody with an open case, or keeping an agreement,
is restricted for the bills the case or agreement is about.

The telecom hardship standards ask for no restriction while an arrangement is kept
(Australia's Financial Hardship Industry Standard 2024; Australia's regulator found an
operator had suspended or disconnected 70 customers on hardship arrangements because
two systems disagreed). Protected: an open case (no decision yet, or "ask for more
information"), and an agreement being kept or already kept (the follow-up's ``active``,
``due_soon`` and ``kept``); a broken agreement or a refusal is not. From a fresh
export, for each protected customer:

- ``blocked``: the connection is blocked, suspended or disabled in the ERP
  (``contract_status``) while every overdue bill of the customer (open past
  ``follow_up.grace_days``) is one the case or agreement covers — a block for an
  unrelated debt is not reported;
- ``notified``: a protected bill got an overdue-debt notice (``notified_on``) on or
  after the protection began (the request's arrival for an open case, the decision
  for an agreement);
- ``fined``: a protected bill carries a late fine (``fine`` above zero).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from relief_kit.core.agreements import to_cents
from relief_kit.core.criteria import Criteria

RESTRICTED = ("blocked_manual", "blocked_auto", "blocked_financial", "disabled")


@dataclass(frozen=True)
class Protection:
    """Why a customer must not be restricted: ``reason`` is ``"open_case"`` or
    ``"agreement"``; ``bills`` the invoice ids protected; ``since`` when it began."""

    request_id: str
    customer_id: str
    reason: str
    bills: frozenset[str]
    since: date


@dataclass(frozen=True)
class Finding:
    """One restriction the guard found: ``kind`` is ``blocked``, ``notified`` or
    ``fined``; ``invoice_id``, ``on`` and ``amount`` (R$) where they apply."""

    request_id: str
    customer_id: str
    reason: str
    kind: str
    status: str = ""
    invoice_id: str = ""
    on: date | None = None
    amount: object = None


def guard(protections: list[Protection], customers: pd.DataFrame, invoices: pd.DataFrame,
          as_of: date, criteria: Criteria) -> list[Finding]:
    """Every restriction of a protected customer, by request then kind."""
    grace = pd.Timedelta(days=int(criteria["follow_up.grace_days"]))
    status_of = dict(zip(customers["customer_id"], customers["contract_status"].fillna(""),
                         strict=True))
    by_customer = {k: g for k, g in invoices.groupby("customer_id", sort=False)} \
        if len(invoices) else {}
    has_fine = "fine" in invoices.columns
    findings: list[Finding] = []
    for p in sorted(protections, key=lambda p: p.request_id):
        bills = by_customer.get(p.customer_id, invoices.iloc[0:0])
        status = status_of.get(p.customer_id, "")
        if status in RESTRICTED:
            overdue = bills[bills["status"].isin(("open", "partial"))
                            & (bills["due_date"] + grace < pd.Timestamp(as_of))]
            unrelated = set(overdue["invoice_id"]) - p.bills
            if not unrelated:
                findings.append(Finding(p.request_id, p.customer_id, p.reason, "blocked",
                                        status=status))
        mine = bills[bills["invoice_id"].isin(p.bills)].sort_values(["due_date", "invoice_id"])
        for _, row in mine.iterrows():
            notice = row["notified_on"]
            if not pd.isna(notice) and notice.date() >= p.since:
                findings.append(Finding(p.request_id, p.customer_id, p.reason, "notified",
                                        invoice_id=str(row["invoice_id"]), on=notice.date()))
            if has_fine and not pd.isna(row["fine"]) and row["fine"] > 0:
                findings.append(Finding(p.request_id, p.customer_id, p.reason, "fined",
                                        invoice_id=str(row["invoice_id"]),
                                        amount=to_cents(row["fine"])))
    return findings


__all__ = ["RESTRICTED", "Finding", "Protection", "guard"]
