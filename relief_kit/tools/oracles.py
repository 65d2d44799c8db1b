"""Test oracles: slow, obviously-right versions of the core's vectorised functions.

Not part of the runtime: the tests compare the core against these, and the benchmark
times them as the "obvious" way.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from relief_kit.core import schema
from relief_kit.core.criteria import Criteria
from relief_kit.core.history import FEATURE_COLUMNS, NOT_COUNTED, OPEN


def reference_features_loop(invoices: pd.DataFrame, customers: pd.DataFrame,
                            criteria: Criteria, as_of: date) -> pd.DataFrame:
    """The same frame as :func:`features`, computed the straightforward way: one
    customer at a time, one bill at a time, in plain Python.

    A yardstick, never used by the kit: the tests check that :func:`features` agrees
    with it, and ``python -m relief_kit.tools.bench`` times it against :func:`features`.
    """
    as_of_ts = pd.Timestamp(as_of)
    grace = pd.Timedelta(days=int(criteria["punctuality.grace_days"]))
    recent_start = as_of_ts - pd.DateOffset(months=int(criteria["punctuality.recent_months"]))
    min_bills = int(criteria["punctuality.min_bills"])
    good, poor = float(criteria["punctuality.good_share"]), float(
        criteria["punctuality.poor_share"])
    by_customer: dict[str, list[dict]] = {}
    for bill in invoices.to_dict("records"):
        by_customer.setdefault(bill["customer_id"], []).append(bill)

    def ratio(part: int, whole: int) -> float:
        return part / whole if whole else float("nan")

    rows = {}
    for customer in customers.to_dict("records"):
        bills = sorted((b for b in by_customer.get(customer["customer_id"], [])
                        if b["due_date"] <= as_of_ts and b["status"] not in NOT_COUNTED),
                       key=lambda b: b["due_date"])
        judged = on_time = days_total = worst = open_bills = 0
        open_debt = 0.0
        recent = [0, 0]  # judged, on time
        earlier = [0, 0]
        run = longest = reliefs = broken = 0
        past = past_paid = recent_past = recent_past_paid = late_past = late_past_paid = 0
        last_days, last_due = -1, None
        window_days = pd.Timedelta(days=int(criteria["calibration.window_days"]))
        recent_past_start = as_of_ts - window_days - pd.Timedelta(
            days=30 * int(criteria["punctuality.recent_months"]))
        for bill in bills:
            owed = bill["status"] in OPEN
            paid = not pd.isna(bill["paid_on"]) and not owed
            if bill["due_date"] < as_of_ts - window_days:
                in_window = paid and bill["paid_on"] <= bill["due_date"] + window_days
                past += 1
                past_paid += in_window
                if bill["due_date"] >= recent_past_start:
                    recent_past += 1
                    recent_past_paid += in_window
                if not (paid and bill["paid_on"] <= bill["due_date"] + grace):
                    late_past += 1
                    late_past_paid += in_window
                # bills are in due-date order: the last one past the window wins (of
                # two due the same day, the one that took longer)
                taken = max(((bill["paid_on"] if paid else as_of_ts) - bill["due_date"]).days,
                            0)
                last_days = max(last_days, taken) if bill["due_date"] == last_due else taken
                last_due = bill["due_date"]
            if owed:
                rest = bill["amount"] - (0.0 if pd.isna(bill["amount_paid"])
                                         else bill["amount_paid"])
                if rest > 0:
                    open_debt += rest
                    open_bills += 1
            if not paid and bill["due_date"] + grace >= as_of_ts:
                continue  # still inside its grace period: not judged yet
            judged += 1
            kept = paid and bill["paid_on"] <= bill["due_date"] + grace
            late = max(((bill["paid_on"] if paid else as_of_ts) - bill["due_date"]).days, 0)
            days_total += late
            worst = max(worst, late)
            on_time += kept
            window = recent if bill["due_date"] > recent_start else earlier
            window[0] += 1
            window[1] += kept
            run = run + 1 if kept else 0
            longest = max(longest, run)
            if isinstance(bill["arrangement"], str) and bill["arrangement"]:
                reliefs += 1
                broken += not kept
        share = ratio(on_time, judged)
        since = customer["customer_since"]
        months = 0 if pd.isna(since) else max(
            (as_of.year - since.year) * 12 + as_of.month - since.month
            - (as_of.day < since.day), 0)
        fee = customer["monthly_fee"]
        band = ("new" if judged < min_bills else "good" if share >= good
                else "poor" if share < poor else "fair")
        recent_share, earlier_share = ratio(recent[1], recent[0]), ratio(earlier[1], earlier[0])
        rows[customer["customer_id"]] = {
            "bills": len(bills), "on_time_share": share,
            "mean_days_late": days_total / judged if judged else 0.0,
            "worst_days_late": worst, "months_as_customer": months,
            "open_debt": round(open_debt, 2), "open_bills": open_bills,
            "open_months": round(open_debt, 2) / fee if fee and not pd.isna(fee) else 0.0,
            "recent_on_time_share": recent_share, "earlier_on_time_share": earlier_share,
            "trend": recent_share - earlier_share, "longest_on_time_run": longest,
            "earlier_reliefs": reliefs, "reliefs_broken": broken, "punctuality_band": band,
            "bills_past_window": past, "paid_within_window_share": ratio(past_paid, past),
            "recent_past_window": recent_past, "recent_paid_within_window": recent_past_paid,
            "late_past_window": late_past, "late_paid_within_window": late_past_paid,
            "last_days_to_pay": last_days,
        }
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=FEATURE_COLUMNS)
    frame.index.name = "customer_id"
    return frame


def reference_agreements_loop(decisions: pd.DataFrame, invoices: pd.DataFrame,
                              as_of: date, grace_days: int) -> pd.DataFrame:
    """:func:`relief_kit.shell.meeting.agreements_kept` the straightforward way: for
    each decision, scan the bills of its customer. Was each agreement kept?

    An agreement is judged once its last date (pay-by, new due date, last instalment)
    plus the grace days has passed: kept when the bills open at the decision were
    paid by then, or — for instalments — when the arrangement bills created after the
    decision were each paid on time. Columns: request_id, customer_id, action,
    analyst, segment, deadline, judged, kept.
    """
    rows = []
    as_of_ts = pd.Timestamp(as_of)
    grace = pd.Timedelta(days=grace_days)
    for decision in decisions.itertuples():
        if decision.action not in ("discount", "postponement", "instalments"):
            continue
        deadline = pd.Timestamp(decision.deadline) if pd.notna(decision.deadline) else None
        judged = deadline is not None and deadline + grace < as_of_ts
        kept = None
        if judged:
            bills = invoices[invoices["customer_id"] == decision.customer_id]
            decided = pd.Timestamp(decision.decided_at).normalize()
            if decision.action == "instalments":
                plan = bills[(bills["arrangement"] == "instalment")
                             & (bills["due_date"] >= decided)]
                kept = bool(len(plan)) and bool(
                    (plan["paid_on"].notna()
                     & (plan["paid_on"] <= plan["due_date"] + grace)).all())
            else:
                owed = bills[(bills["due_date"] <= decided)
                             & (bills["paid_on"].isna() | (bills["paid_on"] >= decided))
                             & ~bills["status"].isin(schema.NOT_BILLED)]
                kept = bool(len(owed)) and bool(
                    (owed["paid_on"].notna() & (owed["paid_on"] <= deadline + grace)).all())
        rows.append({"request_id": decision.request_id, "customer_id": decision.customer_id,
                     "action": decision.action, "analyst": decision.analyst,
                     "segment": decision.segment, "deadline": deadline, "judged": judged,
                     "kept": kept})
    return pd.DataFrame(rows, columns=["request_id", "customer_id", "action", "analyst",
                                       "segment", "deadline", "judged", "kept"])
