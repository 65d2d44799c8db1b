"""Small hand-made portfolios whose answers can be worked out by hand."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

T = pd.Timestamp


def customers(*rows: tuple[str, str, float]) -> pd.DataFrame:
    """(customer_id, customer_since ISO, monthly_fee) rows."""
    return pd.DataFrame({
        "customer_id": [r[0] for r in rows],
        "customer_since": [T(r[1]) for r in rows],
        "monthly_fee": [r[2] for r in rows],
    })


def bill(customer_id: str, due: str, *, paid: str | None = None, amount: float = 100.0,
         amount_paid: float | None = None, status: str | None = None,
         arrangement: str = "", invoice_id: str | None = None) -> dict:
    if status is None:
        status = "paid" if paid else "open"
    if amount_paid is None and paid:
        amount_paid = amount
    return {
        "invoice_id": invoice_id or f"{customer_id}-{due}-{arrangement}",
        "customer_id": customer_id,
        "issued_on": T(due) - pd.Timedelta(days=10),
        "due_date": T(due),
        "amount": amount,
        "paid_on": T(paid) if paid else pd.NaT,
        "amount_paid": np.nan if amount_paid is None else amount_paid,
        "status": status,
        "notified_on": pd.NaT,
        "arrangement": arrangement,
    }


def invoices(*bills: dict) -> pd.DataFrame:
    """The bills as a canonical invoices frame (typed columns even with no bill)."""
    columns = list(bill("x", "2026-01-01"))
    frame = pd.DataFrame(list(bills), columns=columns)
    if not bills:
        frame = frame.astype({"issued_on": "datetime64[ns]", "due_date": "datetime64[ns]",
                              "paid_on": "datetime64[ns]", "notified_on": "datetime64[ns]",
                              "amount": float, "amount_paid": float})
    return frame


def monthly(customer_id: str, first: date, months: int, days_late: list[int] | int = 0,
            amount: float = 100.0) -> list[dict]:
    """One bill a month from ``first``; ``days_late`` per bill (None = unpaid)."""
    lates = days_late if isinstance(days_late, list) else [days_late] * months
    out = []
    for i in range(months):
        due = (T(first) + pd.DateOffset(months=i)).date()
        late = lates[i]
        paid = None if late is None else (T(due) + pd.Timedelta(days=late)).date().isoformat()
        out.append(bill(customer_id, due.isoformat(), paid=paid, amount=amount))
    return out


def changed(criteria, **values):
    """The criteria with some keys changed: ``changed(c, punctuality__grace_days=0)``."""
    from dataclasses import replace

    sections = {name: dict(keys) for name, keys in criteria.sections.items()}
    for dotted, value in values.items():
        section, key = dotted.split("__")
        assert key in sections[section], dotted  # a typo must not pass silently
        sections[section][key] = value
    return replace(criteria, sections=sections)
