"""Payment-history features, computed for the whole portfolio at once.

Definitions (every threshold from the criteria file):

- A bill *counts* when it is due on or before the as-of date and is neither cancelled
  nor renegotiated (a renegotiated bill was replaced by others).
- A counted bill is *judged* once it is paid, or once its grace period
  (``punctuality.grace_days``) has passed unpaid: a bill still inside its grace period
  tells nothing yet.
- *On time*: paid no later than due date + grace days.
- *Days late*: (payment date, or the as-of date while unpaid) − due date, at least 0.
- *Open debt*: amount − amount paid over open and partly paid bills due by the as-of
  date; *open months*: open debt / monthly fee.
- *Recent*: bills due in the last ``punctuality.recent_months`` months; *trend* is the
  recent on-time share minus the earlier one.
- *Earlier reliefs*: judged bills that came from a relief arrangement; *broken*: those
  not paid on time.
- *Band*: "new" with fewer than ``punctuality.min_bills`` judged bills, else "good"
  (share ≥ ``good_share``), "poor" (share < ``poor_share``) or "fair".

No Python loop runs per customer: everything is grouped NumPy/pandas work.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd

from .criteria import Criteria
from .model import HistoryFeatures

NOT_COUNTED = ("cancelled", "renegotiated")
OPEN = ("open", "partial")
FEATURE_COLUMNS = [f.name for f in fields(HistoryFeatures) if f.name != "customer_id"]


def judged_bills(invoices: pd.DataFrame, criteria: Criteria, as_of: date) -> pd.DataFrame:
    """The counted bills with per-bill judgement columns (vectorised).

    Adds ``judged``, ``on_time``, ``days_late``, ``open_amount``, ``recent`` and
    ``relief`` (bill from an arrangement).
    """
    as_of_ts = pd.Timestamp(as_of)
    grace = pd.Timedelta(days=int(criteria["punctuality.grace_days"]))
    bills = invoices[(invoices["due_date"] <= as_of_ts)
                     & ~invoices["status"].isin(NOT_COUNTED)].copy()
    paid = bills["paid_on"].notna() & ~bills["status"].isin(OPEN)
    bills["on_time"] = paid & (bills["paid_on"] <= bills["due_date"] + grace)
    bills["judged"] = paid | (bills["due_date"] + grace < as_of_ts)
    settled = bills["paid_on"].where(paid, as_of_ts)
    bills["days_late"] = (settled - bills["due_date"]).dt.days.clip(lower=0)
    bills["open_amount"] = np.where(
        bills["status"].isin(OPEN),
        bills["amount"] - bills["amount_paid"].fillna(0.0), 0.0,
    ).clip(min=0)
    recent_start = as_of_ts - pd.DateOffset(months=int(criteria["punctuality.recent_months"]))
    bills["recent"] = bills["due_date"] > recent_start
    bills["relief"] = bills["arrangement"].fillna("").ne("")
    return bills


def band_of(share: pd.Series, judged: pd.Series, criteria: Criteria) -> pd.Series:
    """Punctuality band per row from on-time share and judged-bill count."""
    band = np.select(
        [judged < int(criteria["punctuality.min_bills"]),
         share >= float(criteria["punctuality.good_share"]),
         share < float(criteria["punctuality.poor_share"])],
        ["new", "good", "poor"], default="fair",
    )
    return pd.Series(band, index=share.index)


def _longest_run(bills: pd.DataFrame) -> pd.Series:
    """Longest streak of consecutive on-time judged bills per customer."""
    ordered = bills.sort_values(["customer_id", "due_date"], kind="stable")
    on_time = ordered["on_time"].to_numpy()
    customer = ordered["customer_id"].to_numpy()
    # A new streak starts wherever the customer changes or a late bill breaks it.
    breaks = ~on_time | np.r_[True, customer[1:] != customer[:-1]]
    streak_id = np.cumsum(breaks)
    runs = pd.Series(on_time.astype(int)).groupby(streak_id).sum()
    first_row = pd.Series(np.arange(len(ordered))).groupby(streak_id).first()
    per_streak = pd.DataFrame({"customer_id": customer[first_row.to_numpy()],
                               "run": runs.to_numpy()})
    return per_streak.groupby("customer_id")["run"].max()


def features(invoices: pd.DataFrame, customers: pd.DataFrame, criteria: Criteria,
             as_of: date) -> pd.DataFrame:
    """One row per customer (every customer, with or without bills), indexed by id.

    Columns are the fields of :class:`~relief_kit.model.HistoryFeatures`.
    """
    bills = judged_bills(invoices, criteria, as_of)
    judged = bills[bills["judged"]]
    by = judged.groupby("customer_id")
    out = pd.DataFrame(index=pd.Index(customers["customer_id"], name="customer_id"))
    out["bills"] = bills.groupby("customer_id").size()
    count = by.size()
    out["on_time_share"] = by["on_time"].sum() / count
    out["mean_days_late"] = by["days_late"].mean()
    out["worst_days_late"] = by["days_late"].max()
    since = customers.set_index("customer_id")["customer_since"]
    as_of_ts = pd.Timestamp(as_of)
    months = ((as_of_ts.year - since.dt.year) * 12 + (as_of_ts.month - since.dt.month)
              - (as_of_ts.day < since.dt.day).astype(int))
    out["months_as_customer"] = months.clip(lower=0)
    open_bills = bills[bills["open_amount"] > 0]
    out["open_debt"] = open_bills.groupby("customer_id")["open_amount"].sum()
    out["open_bills"] = open_bills.groupby("customer_id").size()
    fee = customers.set_index("customer_id")["monthly_fee"]
    recent = judged[judged["recent"]].groupby("customer_id")["on_time"]
    earlier = judged[~judged["recent"]].groupby("customer_id")["on_time"]
    out["recent_on_time_share"] = recent.mean()
    out["earlier_on_time_share"] = earlier.mean()
    out["trend"] = out["recent_on_time_share"] - out["earlier_on_time_share"]
    out["longest_on_time_run"] = _longest_run(judged) if len(judged) else np.nan
    relief = judged[judged["relief"]]
    out["earlier_reliefs"] = relief.groupby("customer_id").size()
    out["reliefs_broken"] = (~relief["on_time"]).groupby(relief["customer_id"]).sum()
    for column in ("bills", "worst_days_late", "open_bills", "longest_on_time_run",
                   "earlier_reliefs", "reliefs_broken", "months_as_customer"):
        out[column] = out[column].fillna(0).astype("int64")
    out["mean_days_late"] = out["mean_days_late"].fillna(0.0)
    out["open_debt"] = out["open_debt"].fillna(0.0).round(2)
    out["open_months"] = (out["open_debt"] / fee.reindex(out.index)).replace(
        [np.inf, -np.inf], np.nan).fillna(0.0)
    out["punctuality_band"] = band_of(out["on_time_share"], count.reindex(out.index).fillna(0),
                                      criteria)
    return out[FEATURE_COLUMNS]


def features_of(frame: pd.DataFrame, customer_id: str) -> HistoryFeatures:
    """One customer's row of :func:`features` as a value object."""
    row = frame.loc[customer_id]

    def share(value) -> float | None:
        return None if pd.isna(value) else float(value)

    return HistoryFeatures(
        customer_id=customer_id,
        bills=int(row["bills"]),
        on_time_share=share(row["on_time_share"]),
        mean_days_late=float(row["mean_days_late"]),
        worst_days_late=int(row["worst_days_late"]),
        months_as_customer=int(row["months_as_customer"]),
        open_debt=Decimal(f"{float(row['open_debt']):.2f}"),
        open_bills=int(row["open_bills"]),
        open_months=float(row["open_months"]),
        recent_on_time_share=share(row["recent_on_time_share"]),
        earlier_on_time_share=share(row["earlier_on_time_share"]),
        trend=share(row["trend"]),
        longest_on_time_run=int(row["longest_on_time_run"]),
        earlier_reliefs=int(row["earlier_reliefs"]),
        reliefs_broken=int(row["reliefs_broken"]),
        punctuality_band=str(row["punctuality_band"]),
    )


STATE_LABELS = {
    "on_time": "paga em dia", "late": "paga com atraso", "open": "em aberto",
    "waiting": "a vencer", "cancelled": "cancelada", "renegotiated": "renegociada",
}


def monthly_history(invoices: pd.DataFrame, customer_id: str, criteria: Criteria,
                    as_of: date) -> pd.DataFrame:
    """One row per bill of a customer, oldest first, for the review's chart and table.

    Columns: due_date, amount, paid_on, amount_paid, days_late, state (a key of
    ``STATE_LABELS``), state_label, arrangement.
    """
    bills = invoices[invoices["customer_id"] == customer_id].sort_values("due_date").copy()
    as_of_ts = pd.Timestamp(as_of)
    grace = pd.Timedelta(days=int(criteria["punctuality.grace_days"]))
    paid = bills["paid_on"].notna() & ~bills["status"].isin(OPEN)
    on_time = paid & (bills["paid_on"] <= bills["due_date"] + grace)
    settled = bills["paid_on"].where(paid, as_of_ts)
    days = (settled - bills["due_date"]).dt.days.clip(lower=0)
    bills["days_late"] = days.where(bills["due_date"] <= as_of_ts, 0).astype("int64")
    bills["state"] = np.select(
        [bills["status"].eq("cancelled"), bills["status"].eq("renegotiated"), on_time, paid,
         bills["due_date"] > as_of_ts],
        ["cancelled", "renegotiated", "on_time", "late", "waiting"], default="open",
    )
    bills["state_label"] = bills["state"].map(STATE_LABELS)
    return bills[["invoice_id", "due_date", "amount", "paid_on", "amount_paid", "days_late",
                  "state", "state_label", "arrangement"]].reset_index(drop=True)
