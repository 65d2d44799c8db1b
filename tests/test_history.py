from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from relief_kit.core.criteria import load_criteria
from relief_kit.core.errors import InputError
from relief_kit.core.history import (
    FEATURE_COLUMNS,
    features,
    features_of,
    monthly_history,
)
from relief_kit.text.labels import label
from relief_kit.tools.oracles import reference_features_loop
from tests.portfolio_builder import bill, changed, customers, invoices, monthly

AS_OF = date(2026, 11, 20)  # recent window (3 months): bills due after 20/08/2026


@pytest.fixture(scope="module")
def criteria():
    return load_criteria()


def one(criteria, *bills, since="2026-01-01", fee=100.0, **changes):
    frame = features(invoices(*bills), customers(("1", since, fee)),
                     changed(criteria, **changes) if changes else criteria, AS_OF)
    return features_of(frame, "1")


def test_payment_within_grace_days_counts_as_on_time(criteria):
    grace = criteria["punctuality.grace_days"]
    row = one(criteria, bill("1", "2026-05-10", paid=f"2026-05-{10 + grace}"),
              bill("1", "2026-06-10", paid=f"2026-06-{10 + grace + 1}"))
    assert row.on_time_share == 0.5
    assert row.worst_days_late == grace + 1


def test_grace_days_come_from_the_criteria(criteria):
    three_days_late = bill("1", "2026-05-10", paid="2026-05-13")
    assert one(criteria, three_days_late, punctuality__grace_days=5).on_time_share == 1.0
    assert one(criteria, three_days_late, punctuality__grace_days=0).on_time_share == 0.0


def test_cancelled_and_renegotiated_bills_are_ignored(criteria):
    row = one(criteria, bill("1", "2026-05-10", paid="2026-05-10"),
              bill("1", "2026-06-10", status="cancelled"),
              bill("1", "2026-07-10", status="renegotiated"))
    assert row.bills == 1
    assert row.on_time_share == 1.0 and row.worst_days_late == 0
    assert row.open_debt == 0 and row.open_bills == 0


def test_partial_payment_leaves_the_rest_as_open_debt(criteria):
    row = one(criteria, bill("1", "2026-10-10", amount=120.0, amount_paid=50.0,
                             status="partial"), fee=120.0)
    assert row.open_debt == Decimal("70.00")
    assert row.open_bills == 1
    assert row.open_months == pytest.approx(70 / 120)


def test_partly_paid_bill_is_late_until_the_as_of_date(criteria):
    row = one(criteria, bill("1", "2026-09-10", paid="2026-09-10", amount=100.0,
                             amount_paid=40.0, status="partial"))
    assert row.on_time_share == 0.0
    assert row.worst_days_late == (AS_OF - date(2026, 9, 10)).days  # 71
    assert row.open_debt == Decimal("60.00")


def test_unpaid_bill_inside_grace_period_is_not_yet_judged(criteria):
    row = one(criteria, bill("1", "2026-11-15"))  # 15/11 + 5 days = 20/11: still in grace
    assert row.bills == 1
    assert row.on_time_share is None and row.mean_days_late == 0
    assert row.open_debt == Decimal("100.00")


def test_unpaid_bill_past_its_grace_period_is_judged_late(criteria):
    row = one(criteria, bill("1", "2026-11-14"))  # 14/11 + 5 days = 19/11 < 20/11
    assert row.on_time_share == 0.0
    assert row.worst_days_late == 6


def test_bills_not_yet_due_are_not_debt(criteria):
    row = one(criteria, bill("1", "2026-12-10"))
    assert row.bills == 0 and row.open_debt == 0


def test_open_months_is_debt_over_the_monthly_fee(criteria):
    row = one(criteria, bill("1", "2026-08-10"), bill("1", "2026-09-10"), fee=50.0)
    assert row.open_debt == Decimal("200.00") and row.open_bills == 2
    assert row.open_months == 4.0


def test_months_as_customer_counts_whole_months(criteria):
    frame = features(invoices(), customers(("a", "2024-11-20", 1.0), ("b", "2024-11-21", 1.0),
                                           ("c", "2026-12-01", 1.0)), criteria, AS_OF)
    assert frame["months_as_customer"].to_dict() == {"a": 24, "b": 23, "c": 0}


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


def test_longest_run_follows_due_dates_not_the_row_order(criteria):
    rows = monthly("1", date(2026, 1, 10), 6, [0, 0, 40, 0, 0, 0])
    row = one(criteria, *reversed(rows))
    assert row.longest_on_time_run == 3


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


def test_recent_window_length_comes_from_the_criteria(criteria):
    lates = [0] * 8 + [40, None]
    row = one(criteria, *monthly("1", date(2026, 1, 10), 10, lates),
              punctuality__recent_months=6)
    # Recent = bills due after 20/05: June to October, 3 of 5 on time.
    assert row.recent_on_time_share == pytest.approx(3 / 5)
    assert row.earlier_on_time_share == 1.0
    assert row.trend == pytest.approx(3 / 5 - 1)


def test_bands_follow_the_criteria_thresholds(criteria):
    rows = (monthly("good", date(2026, 1, 10), 10, [0] * 8 + [30, 30])
            + monthly("fair", date(2026, 1, 10), 10, [0] * 6 + [30] * 4)
            + monthly("poor", date(2026, 1, 10), 10, [0] * 4 + [30] * 6)
            + monthly("new", date(2026, 9, 10), 2, 0))
    people = customers(("good", "2025-01-01", 100.0), ("fair", "2025-01-01", 100.0),
                       ("poor", "2025-01-01", 100.0), ("new", "2026-09-01", 100.0))
    bands = features(invoices(*rows), people, criteria, AS_OF)["punctuality_band"]
    assert bands.to_dict() == {"good": "good", "fair": "fair", "poor": "poor", "new": "new"}

    stricter = changed(criteria, punctuality__good_share=0.9, punctuality__poor_share=0.65)
    bands = features(invoices(*rows), people, stricter, AS_OF)["punctuality_band"]
    assert bands.to_dict() == {"good": "fair", "fair": "poor", "poor": "poor", "new": "new"}

    patient = changed(criteria, punctuality__min_bills=11)
    bands = features(invoices(*rows), people, patient, AS_OF)["punctuality_band"]
    assert set(bands) == {"new"}


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
    assert (row.open_debt, row.longest_on_time_run, row.trend) == (0, 0, None)


def test_portfolio_with_no_bills_at_all(criteria):
    frame = features(invoices(), customers(("1", "2025-01-01", 100.0), ("2", "2025-01-01", 90.0)),
                     criteria, AS_OF)
    assert list(frame.index) == ["1", "2"] and list(frame.columns) == FEATURE_COLUMNS
    assert (frame["bills"] == 0).all() and frame["on_time_share"].isna().all()


def test_bills_of_an_unknown_customer_are_left_out(criteria):
    frame = features(invoices(bill("1", "2026-05-10", paid="2026-05-10"),
                              bill("ghost", "2026-05-10")),
                     customers(("1", "2025-01-01", 100.0)), criteria, AS_OF)
    assert list(frame.index) == ["1"] and frame.loc["1", "bills"] == 1


def test_repeated_customer_id_is_one_clear_error(criteria):
    with pytest.raises(InputError, match="customer_id.*7.*mais de uma vez"):
        features(invoices(), customers(("7", "2025-01-01", 1.0), ("7", "2025-01-01", 1.0)),
                 criteria, AS_OF)


def _random_portfolio(seed: int, people: int = 80) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every kind of bill: paid on time or late, unpaid, partial, cancelled,
    renegotiated, from agreements, not yet due, in grace; equal due dates; customers
    without bills, with a missing start date, and rows in no particular order."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(people):
        for i in range(int(rng.integers(0, 16))):
            due = pd.Timestamp("2025-09-01") + pd.Timedelta(days=int(rng.integers(0, 460)))
            if rng.random() < 0.1 and rows and rows[-1]["customer_id"] == str(c):
                due = rows[-1]["due_date"]  # same due date as the previous bill
            status = str(rng.choice(["paid"] * 6 + ["open", "partial", "cancelled",
                                                    "renegotiated"]))
            paid = None
            if status in ("paid", "partial") or rng.random() < 0.1:
                paid = (due + pd.Timedelta(days=int(rng.choice([-3, 0, 2, 5, 6, 12, 45]))))
                paid = paid.date().isoformat()
            amount = float(rng.choice([59.9, 99.9, 149.9]))
            rows.append(bill(
                str(c), due.date().isoformat(), paid=paid, amount=amount, status=status,
                amount_paid=round(amount * 0.4, 2) if status == "partial" else None,
                arrangement=str(rng.choice(["", "", "", "discount", "postponement",
                                            "instalment"])),
                invoice_id=f"{c}-{i}"))
    people_rows = [(str(c), f"20{int(rng.integers(18, 27))}-0{int(rng.integers(1, 10))}-15",
                    float(rng.choice([0.0, 79.9, 99.9]))) for c in range(people)]
    table = customers(*people_rows)
    table.loc[0, "customer_since"] = pd.NaT
    frame = invoices(*rows).sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return frame, table


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_vectorised_features_agree_with_a_per_customer_loop(criteria, seed):
    inv, cust = _random_portfolio(seed)
    vectorised = features(inv, cust, criteria, AS_OF)
    looped = reference_features_loop(inv, cust, criteria, AS_OF)
    assert vectorised["bills"].sum() > 200 and vectorised["earlier_reliefs"].sum() > 20
    assert set(vectorised["punctuality_band"]) == {"good", "fair", "poor", "new"}
    pd.testing.assert_frame_equal(vectorised, looped, check_dtype=False)


# The open bill, at 01/01/2300: late by every day from its due date to then.
_TO_2300 = (pd.Timestamp("2300-01-01").as_unit("us") - pd.Timestamp("2026-11-10")).days


@pytest.mark.parametrize("as_of, days_late, state", [
    (date(2300, 1, 1), [20, _TO_2300], ["late", "open"]),  # after nanoseconds end (2262)
    (date(1677, 1, 1), [0, 0], ["late", "waiting"]),  # before they begin (1677)
])
def test_monthly_history_with_a_date_nanoseconds_cannot_hold(criteria, as_of, days_late,
                                                              state):
    # Counted in days from the real date, never from a value wrapped around. In
    # nanoseconds, as the tables are read.
    bills = invoices(bill("1", "2026-10-10", paid="2026-10-30"), bill("1", "2026-11-10"))
    bills = bills.astype({name: "datetime64[ns]" for name in ("issued_on", "due_date",
                                                              "paid_on", "notified_on")})
    table = monthly_history(bills, "1", criteria, as_of)
    assert table["days_late"].tolist() == days_late
    assert table["state"].tolist() == state


def test_features_of_gives_plain_values(criteria):
    row = one(criteria, bill("1", "2026-10-10", amount=99.999, status="open"))
    assert row.open_debt == Decimal("100.00") and isinstance(row.open_debt, Decimal)
    assert isinstance(row.bills, int) and isinstance(row.punctuality_band, str)


def test_monthly_history_labels_each_bill(criteria):
    table = monthly_history(
        invoices(bill("1", "2026-09-10", paid="2026-09-10"),
                 bill("1", "2026-10-10", paid="2026-10-30"),
                 bill("1", "2026-11-10"), bill("1", "2026-12-10"),
                 bill("1", "2026-06-10", status="cancelled"),
                 bill("2", "2026-10-10")),
        "1", criteria, AS_OF)
    assert table["state"].tolist() == ["cancelled", "on_time", "late", "open", "waiting"]
    assert [label("bill_state", s) for s in table["state"]] == [
        "cancelada", "paga em dia", "paga com atraso", "em aberto", "a vencer"]
    assert table["days_late"].tolist() == [0, 0, 20, 10, 0]
    assert table["month"].tolist() == [pd.Timestamp(f"2026-{m:02d}-01")
                                       for m in (6, 9, 10, 11, 12)]
