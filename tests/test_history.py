from datetime import date

import numpy as np
import pandas as pd
import pytest

from relief_kit.criteria import load_criteria
from relief_kit.history import features, features_of, monthly_history
from tests.portfolio_builder import bill, customers, invoices, monthly

AS_OF = date(2026, 11, 20)


@pytest.fixture(scope="module")
def criteria():
    return load_criteria()


def test_payment_within_grace_days_counts_as_on_time(criteria):
    grace = criteria["punctuality.grace_days"]
    frame = features(
        invoices(bill("1", "2026-05-10", paid=f"2026-05-{10 + grace}"),
                 bill("1", "2026-06-10", paid=f"2026-06-{10 + grace + 1}")),
        customers(("1", "2026-01-01", 100.0)), criteria, AS_OF)
    assert frame.loc["1", "on_time_share"] == 0.5
    assert frame.loc["1", "worst_days_late"] == grace + 1


def test_cancelled_and_renegotiated_bills_are_ignored(criteria):
    frame = features(
        invoices(bill("1", "2026-05-10", paid="2026-05-10"),
                 bill("1", "2026-06-10", status="cancelled"),
                 bill("1", "2026-07-10", status="renegotiated")),
        customers(("1", "2026-01-01", 100.0)), criteria, AS_OF)
    assert frame.loc["1", "bills"] == 1
    assert frame.loc["1", "open_debt"] == 0


def test_partial_payment_leaves_the_rest_as_open_debt(criteria):
    frame = features(
        invoices(bill("1", "2026-10-10", amount=120.0, amount_paid=50.0, status="partial")),
        customers(("1", "2026-01-01", 120.0)), criteria, AS_OF)
    assert frame.loc["1", "open_debt"] == 70.0
    assert frame.loc["1", "open_bills"] == 1
    assert frame.loc["1", "open_months"] == pytest.approx(70 / 120)


def test_unpaid_bill_inside_grace_period_is_not_yet_judged(criteria):
    frame = features(
        invoices(bill("1", "2026-11-18")),
        customers(("1", "2026-01-01", 100.0)), criteria, AS_OF)
    assert frame.loc["1", "bills"] == 1
    assert np.isnan(frame.loc["1", "on_time_share"])
    assert frame.loc["1", "open_debt"] == 100.0


def test_bills_not_yet_due_are_not_debt(criteria):
    frame = features(invoices(bill("1", "2026-12-10")),
                     customers(("1", "2026-01-01", 100.0)), criteria, AS_OF)
    assert frame.loc["1", "bills"] == 0
    assert frame.loc["1", "open_debt"] == 0


def test_longest_on_time_run_and_days_late(criteria):
    lates = [0, 0, 30, 0, 0, 0, 1, 20, 0, 0]
    frame = features(invoices(*monthly("1", date(2026, 1, 5), 10, lates)),
                     customers(("1", "2025-06-01", 100.0)), criteria, AS_OF)
    row = features_of(frame, "1")
    assert row.longest_on_time_run == 4  # months 4–7 (1 day late is within grace)
    assert row.worst_days_late == 30
    assert row.mean_days_late == pytest.approx(sum(lates) / 10)
    assert row.on_time_share == pytest.approx(0.8)
    assert row.punctuality_band == "good"


def test_recent_shock_shows_as_a_negative_trend(criteria):
    lates = [0] * 8 + [40, None]  # punctual, then late and unpaid in the last months
    frame = features(invoices(*monthly("1", date(2026, 1, 10), 10, lates)),
                     customers(("1", "2024-01-01", 100.0)), criteria, AS_OF)
    row = features_of(frame, "1")
    assert row.earlier_on_time_share == 1.0
    # Recent = bills due after 20/08: September (40 days late) and October (unpaid).
    assert row.recent_on_time_share == 0.0
    assert row.trend == -1.0
    assert row.open_debt == 100


def test_bands_follow_the_criteria_thresholds(criteria):
    rows = (monthly("good", date(2026, 1, 10), 10, [0] * 8 + [30, 30])
            + monthly("fair", date(2026, 1, 10), 10, [0] * 6 + [30] * 4)
            + monthly("poor", date(2026, 1, 10), 10, [0] * 4 + [30] * 6)
            + monthly("new", date(2026, 9, 10), 2, 0))
    frame = features(invoices(*rows), customers(
        ("good", "2025-01-01", 100.0), ("fair", "2025-01-01", 100.0),
        ("poor", "2025-01-01", 100.0), ("new", "2026-09-01", 100.0)), criteria, AS_OF)
    assert frame["punctuality_band"].to_dict() == {
        "good": "good", "fair": "fair", "poor": "poor", "new": "new"}


def test_earlier_relief_kept_or_broken(criteria):
    frame = features(
        invoices(bill("kept", "2026-06-10", paid="2026-06-10", arrangement="postponement"),
                 bill("broke", "2026-06-10", arrangement="instalment"),
                 bill("broke", "2026-07-10", paid="2026-07-09", arrangement="instalment")),
        customers(("kept", "2025-01-01", 100.0), ("broke", "2025-01-01", 100.0)),
        criteria, AS_OF)
    kept, broke = features_of(frame, "kept"), features_of(frame, "broke")
    assert (kept.earlier_reliefs, kept.reliefs_broken, kept.earlier_relief_kept) == (1, 0, True)
    assert (broke.earlier_reliefs, broke.reliefs_broken, broke.earlier_relief_kept) == (2, 1,
                                                                                        False)


def test_customer_without_bills_gets_a_row(criteria):
    frame = features(invoices(bill("1", "2026-05-10", paid="2026-05-10")),
                     customers(("1", "2025-01-01", 100.0), ("2", "2026-11-01", 90.0)),
                     criteria, AS_OF)
    row = features_of(frame, "2")
    assert row.bills == 0 and row.on_time_share is None and row.punctuality_band == "new"


def _reference(invoices_frame, customers_frame, criteria, as_of):
    """The straightforward per-customer loop the vectorised version must agree with."""
    grace = pd.Timedelta(days=criteria["punctuality.grace_days"])
    as_of_ts = pd.Timestamp(as_of)
    result = {}
    for customer_id in customers_frame["customer_id"]:
        bills = invoices_frame[(invoices_frame["customer_id"] == customer_id)
                               & (invoices_frame["due_date"] <= as_of_ts)
                               & ~invoices_frame["status"].isin(["cancelled", "renegotiated"])]
        on_time, judged, run, best = 0, 0, 0, 0
        for _, b in bills.sort_values("due_date").iterrows():
            paid = pd.notna(b["paid_on"]) and b["status"] not in ("open", "partial")
            if not paid and b["due_date"] + grace >= as_of_ts:
                continue
            judged += 1
            if paid and b["paid_on"] <= b["due_date"] + grace:
                on_time += 1
                run += 1
                best = max(best, run)
            else:
                run = 0
        result[customer_id] = (on_time / judged if judged else None, best)
    return result


def test_vectorised_features_agree_with_a_per_customer_loop(criteria):
    rng = np.random.default_rng(3)
    rows = []
    for c in range(40):
        lates = [None if rng.random() < 0.1 else int(rng.choice([0, 0, 0, 3, 9, 40]))
                 for _ in range(12)]
        rows += monthly(str(c), date(2025, 12, 1 + c % 20), 12, lates)
    inv = invoices(*rows)
    cust = customers(*[(str(c), "2025-01-01", 100.0) for c in range(40)])
    frame = features(inv, cust, criteria, AS_OF)
    for customer_id, (share, run) in _reference(inv, cust, criteria, AS_OF).items():
        row = features_of(frame, customer_id)
        assert row.on_time_share == pytest.approx(share)
        assert row.longest_on_time_run == run


def test_monthly_history_labels_each_bill(criteria):
    table = monthly_history(
        invoices(bill("1", "2026-09-10", paid="2026-09-10"),
                 bill("1", "2026-10-10", paid="2026-10-30"),
                 bill("1", "2026-11-10"), bill("1", "2026-12-10")),
        "1", criteria, AS_OF)
    assert table["state_label"].tolist() == ["paga em dia", "paga com atraso", "em aberto",
                                             "a vencer"]
    assert table["days_late"].tolist() == [0, 20, 10, 0]
