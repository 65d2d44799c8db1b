from datetime import date

import pytest

from relief_kit.calibration import Calibration, calibrate
from relief_kit.criteria import load_criteria
from relief_kit.model import Action
from tests.portfolio_builder import bill, customers, invoices, monthly

AS_OF = date(2026, 11, 20)


@pytest.fixture(scope="module")
def criteria():
    return load_criteria()


def test_rates_per_band_computed_by_hand(criteria):
    # min_bills = 3: each customer's first three bills are judged as "new".
    # "a" always pays on time; "b" pays its 4th..6th bills 40 days late (never within 30).
    rows = (monthly("a", date(2026, 1, 10), 6, 0)
            + monthly("b", date(2026, 1, 10), 6, [0, 0, 0, 40, 40, 40]))
    cal = calibrate(invoices(*rows), customers(("a", "2025-01-01", 100.0),
                                               ("b", "2025-01-01", 100.0)), criteria, AS_OF)
    assert cal.overall.bills == 12 and cal.overall.paid == 9
    assert (cal.ordinary["new"].bills, cal.ordinary["new"].paid) == (6, 6)
    # Before its 4th bill each customer is "good" (3 of 3 on time): a's 4th and b's 4th
    # (paid late). Before b's 5th: 3 of 4 = 75% → fair; before b's 6th: 3 of 5 → fair.
    # a's 5th and 6th are good too: good = 4 bills, 3 paid (b's 4th was not).
    assert (cal.ordinary["good"].bills, cal.ordinary["good"].paid) == (4, 3)
    assert (cal.ordinary["fair"].bills, cal.ordinary["fair"].paid) == (2, 0)
    prior = criteria["calibration.prior_strength"]
    assert cal.ordinary["fair"].used == pytest.approx((0 + prior * 0.75) / (2 + prior))
    assert cal.probability("fair", Action.REFUSAL) == cal.ordinary["fair"].used


def test_band_uses_only_earlier_bills(criteria):
    # The same first four bills; a later disaster must not change the band used for them.
    base = monthly("a", date(2026, 1, 10), 4, 0)
    later = base + monthly("a", date(2026, 5, 10), 4, [None] * 4)
    cust = customers(("a", "2025-01-01", 100.0))
    first = calibrate(invoices(*base), cust, criteria, AS_OF).outcomes
    second = calibrate(invoices(*later), cust, criteria, AS_OF).outcomes
    assert first["band"].tolist() == second["band"].tolist()[:4]


def test_small_band_leans_on_the_portfolio_rate(criteria):
    rows = monthly("a", date(2024, 1, 10), 30, 0) + monthly("b", date(2026, 1, 10), 4, None)
    cal = calibrate(invoices(*rows), customers(("a", "2024-01-01", 100.0),
                                               ("b", "2025-01-01", 100.0)), criteria, AS_OF)
    poor = cal.ordinary["poor"]
    assert poor.bills == 1 and poor.paid == 0
    assert 0 < poor.used < cal.overall.used  # pulled toward the portfolio rate, not 0
    table = cal.table()
    assert "apoia-se na taxa geral" in table.loc[2, "observação"]


def test_arrangement_rates_by_kind(criteria):
    rows = monthly("a", date(2026, 1, 10), 6, 0) + [
        bill("a", "2026-07-20", paid="2026-07-20", arrangement="discount"),
        bill("a", "2026-08-20", arrangement="discount", status="open"),
    ]
    cal = calibrate(invoices(*rows), customers(("a", "2025-01-01", 100.0)), criteria, AS_OF)
    assert (cal.kinds["discount"].bills, cal.kinds["discount"].paid) == (2, 1)
    assert cal.kinds["postponement"].bills == 0
    assert cal.probability("good", Action.DISCOUNT) == cal.arrangements[("good",
                                                                          "discount")].used
    assert cal.probability("good", Action.POSTPONEMENT) == pytest.approx(cal.overall.used)


def test_calibration_round_trips_through_plain_values(criteria):
    rows = monthly("a", date(2026, 1, 10), 6, [0, 3, 50, 0, None, 0])
    cal = calibrate(invoices(*rows), customers(("a", "2025-01-01", 100.0)), criteria, AS_OF)
    again = Calibration.from_dict(cal.to_dict())
    for band in ("good", "fair", "poor", "new"):
        for action in Action:
            assert again.probability(band, action) == cal.probability(band, action)
