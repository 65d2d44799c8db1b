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
    # Without an agreement the comparable bills are those still unpaid after the grace
    # period. "b" pays its 4th and 6th bills 20 days late (within the 30-day window) and
    # its 5th 40 days late. Bands before each: 4th good (3 of 3 on time), 5th fair
    # (3 of 4), 6th fair (3 of 5). "a" is never late and contributes no such bill.
    rows = (monthly("a", date(2026, 1, 10), 6, 0)
            + monthly("b", date(2026, 1, 10), 6, [0, 0, 0, 20, 40, 20]))
    cal = calibrate(invoices(*rows), customers(("a", "2025-01-01", 100.0),
                                               ("b", "2025-01-01", 100.0)), criteria, AS_OF)
    assert (cal.overall.bills, cal.overall.paid) == (3, 2)
    assert (cal.ordinary["good"].bills, cal.ordinary["good"].paid) == (1, 1)
    assert (cal.ordinary["fair"].bills, cal.ordinary["fair"].paid) == (2, 1)
    assert cal.ordinary["new"].bills == 0
    prior = criteria["calibration.prior_strength"]
    assert cal.ordinary["fair"].used == pytest.approx((1 + prior * 2 / 3) / (2 + prior))
    assert cal.ordinary["new"].used == pytest.approx(2 / 3)  # no bills: the portfolio rate
    assert cal.probability("fair", Action.REFUSAL) == cal.ordinary["fair"].used


def test_band_uses_only_earlier_bills(criteria):
    # The same first bills; a later disaster must not change the band used for them.
    base = monthly("a", date(2026, 1, 10), 5, [0, 0, 0, 20, 15])
    later = base + monthly("a", date(2026, 6, 10), 4, [None] * 4)
    cust = customers(("a", "2025-01-01", 100.0))
    first = calibrate(invoices(*base), cust, criteria, AS_OF).outcomes
    second = calibrate(invoices(*later), cust, criteria, AS_OF).outcomes
    assert len(first) == 2 and len(second) == 6
    assert first["band"].tolist() == second["band"].tolist()[:2]


def test_small_band_leans_on_the_portfolio_rate(criteria):
    lates = [20 if i % 4 == 0 else 0 for i in range(30)]  # late but paid within the window
    rows = monthly("a", date(2024, 1, 10), 30, lates) + monthly("b", date(2026, 1, 10), 4, None)
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
