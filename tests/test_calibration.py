from datetime import date

import pandas as pd
import pytest

from relief_kit.core.calibration import METHOD, Calibration, calibrate
from relief_kit.core.criteria import load_criteria
from relief_kit.core.model import Action
from relief_kit.text.calibration import calibration_table
from tests.portfolio_builder import bill, changed, customers, invoices, monthly


def table_of(calibration):
    """The calibration's table in Portuguese, as the review shows it: a frame whose
    columns are the headers."""
    columns, rows = calibration_table(calibration.table(), calibration.window_days)
    return pd.DataFrame([{header: row[code] for code, header in columns} for row in rows])

AS_OF = date(2026, 11, 20)
# "b" pays its 4th and 6th bills 20 days late (within the 30-day window) and its 5th
# 40 days late. Bands before each: 4th good (3 of 3 on time), 5th fair (3 of 4), 6th
# fair (3 of 5). "a" is never late: none of its bills is comparable without agreement.
PORTFOLIO = (monthly("a", date(2026, 1, 10), 6, 0)
             + monthly("b", date(2026, 1, 10), 6, [0, 0, 0, 20, 40, 20]))
PEOPLE = customers(("a", "2025-01-01", 100.0), ("b", "2025-01-01", 100.0))


@pytest.fixture(scope="module")
def criteria():
    return load_criteria()


def shrunk(paid, bills, prior, toward):
    return (paid + prior * toward) / (bills + prior)


def test_rates_per_band_computed_by_hand(criteria):
    cal = calibrate(invoices(*PORTFOLIO), PEOPLE, criteria, AS_OF)
    assert (cal.overall.bills, cal.overall.paid) == (3, 2)
    assert (cal.ordinary["good"].bills, cal.ordinary["good"].paid) == (1, 1)
    assert (cal.ordinary["fair"].bills, cal.ordinary["fair"].paid) == (2, 1)
    assert cal.ordinary["fair"].observed == 0.5
    assert cal.ordinary["new"].bills == 0
    prior = criteria["calibration.prior_strength"]
    assert cal.ordinary["fair"].used == pytest.approx(shrunk(1, 2, prior, 2 / 3))
    assert cal.ordinary["good"].used == pytest.approx(shrunk(1, 1, prior, 2 / 3))
    assert cal.ordinary["new"].used == pytest.approx(2 / 3)  # no bills: the portfolio rate
    assert set(cal.outcomes["customer_id"]) == {"b"}


def test_window_comes_from_the_criteria(criteria):
    longer = changed(criteria, calibration__window_days=45)
    cal = calibrate(invoices(*PORTFOLIO), PEOPLE, longer, AS_OF)
    assert (cal.overall.bills, cal.overall.paid) == (3, 3)  # 40 days late is within 45


def test_bill_whose_window_has_not_ended_is_not_counted_yet(criteria):
    rows = PORTFOLIO + [bill("b", "2026-11-01")]  # unpaid, but 01/11 + 30 days > 20/11
    cal = calibrate(invoices(*rows), PEOPLE, criteria, AS_OF)
    assert cal.overall.bills == 3


def test_without_prior_the_observed_rate_is_used_and_a_strong_prior_overrides_it(criteria):
    none = calibrate(invoices(*PORTFOLIO), PEOPLE,
                     changed(criteria, calibration__prior_strength=0), AS_OF)
    assert none.ordinary["fair"].used == 0.5 and none.ordinary["good"].used == 1.0
    strong = calibrate(invoices(*PORTFOLIO), PEOPLE,
                       changed(criteria, calibration__prior_strength=1e6), AS_OF)
    assert strong.ordinary["fair"].used == pytest.approx(2 / 3, abs=1e-5)


def test_band_uses_only_earlier_bills(criteria):
    # The same first bills; a later disaster must not change the band used for them.
    base = monthly("a", date(2026, 1, 10), 5, [0, 0, 0, 20, 15])
    later = base + monthly("a", date(2026, 6, 10), 4, [None] * 4)
    cust = customers(("a", "2025-01-01", 100.0))
    first = calibrate(invoices(*base), cust, criteria, AS_OF).outcomes
    second = calibrate(invoices(*later), cust, criteria, AS_OF).outcomes
    assert len(first) == 2 and len(second) == 6
    assert first["band"].tolist() == ["good", "fair"]
    assert second["band"].tolist()[:2] == first["band"].tolist()


def test_bill_whose_verdict_was_unknown_on_the_due_date_does_not_set_the_band(criteria):
    # On 12/04 the bill of 10/04 is still inside its grace period: nobody knew yet that
    # it would be late, so the band of the 12/04 bill is still "good" (3 of 3).
    rows = monthly("a", date(2026, 1, 10), 4, [0, 0, 0, 20]) + [
        bill("a", "2026-04-12", paid="2026-05-22")]
    cal = calibrate(invoices(*rows), customers(("a", "2025-01-01", 100.0)), criteria, AS_OF)
    assert cal.outcomes.sort_values("due_date")["band"].tolist() == ["good", "good"]


def test_small_band_leans_on_the_portfolio_rate(criteria):
    lates = [20 if i % 4 == 0 else 0 for i in range(30)]  # late but paid within the window
    rows = monthly("a", date(2024, 1, 10), 30, lates) + monthly("b", date(2026, 1, 10), 4, None)
    cal = calibrate(invoices(*rows), customers(("a", "2024-01-01", 100.0),
                                               ("b", "2025-01-01", 100.0)), criteria, AS_OF)
    poor = cal.ordinary["poor"]
    assert poor.bills == 1 and poor.paid == 0
    assert 0 < poor.used < cal.overall.used  # pulled toward the portfolio rate, not 0
    table = table_of(cal).set_index(["grupo", "faixa"])
    note = table.xs("pontualidade fraca", level="faixa")["observação"].iloc[0]
    assert note.startswith("poucas faturas (< 30)") and "toda a carteira" in note


def test_arrangement_rates_lean_on_the_kind_then_on_the_band(criteria):
    rows = PORTFOLIO + [
        bill("a", "2026-07-20", paid="2026-07-20", arrangement="discount"),
        bill("a", "2026-08-20", arrangement="discount", status="open"),
    ]
    cal = calibrate(invoices(*rows), PEOPLE, criteria, AS_OF)
    prior = criteria["calibration.prior_strength"]
    good, fair = cal.ordinary["good"].used, cal.ordinary["fair"].used
    assert (cal.kinds["discount"].bills, cal.kinds["discount"].paid) == (2, 1)
    assert cal.kinds["discount"].used == pytest.approx(shrunk(1, 2, prior, 2 / 3))
    cell = cal.arrangements[("good", "discount")]
    assert (cell.bills, cell.paid) == (2, 1)
    toward = shrunk(1, 2, prior, good)  # the kind's rate, leaning on the good band
    assert cell.toward == pytest.approx(toward)
    assert cell.used == pytest.approx(shrunk(1, 2, prior, toward))
    # No discount bill in the fair band: the kind's rate as the fair band sees it.
    assert cal.probability("fair", Action.DISCOUNT) == pytest.approx(shrunk(1, 2, prior, fair))
    # No postponement on record at all: priced like no agreement for that band.
    for band in ("good", "fair", "poor", "new"):
        assert cal.probability(band, Action.POSTPONEMENT) == pytest.approx(
            cal.probability(band, Action.REFUSAL))


def test_each_action_reads_its_own_rate(criteria):
    rows = PORTFOLIO + [bill("a", "2026-07-20", paid="2026-07-21", arrangement=kind)
                        for kind in ("discount", "postponement", "instalment")]
    cal = calibrate(invoices(*rows), PEOPLE, criteria, AS_OF)
    assert cal.probability("fair", Action.REFUSAL) == cal.ordinary["fair"].used
    assert cal.probability("fair", Action.ASK_INFO) == cal.ordinary["fair"].used
    assert cal.probability("good", Action.DISCOUNT) == cal.arrangements[("good",
                                                                          "discount")].used
    assert cal.probability("good", Action.POSTPONEMENT) == cal.arrangements[
        ("good", "postponement")].used
    assert cal.probability("good", Action.INSTALMENTS) == cal.arrangements[
        ("good", "instalment")].used


def test_table_is_codes_and_numbers_in_the_core(criteria):
    table = calibrate(invoices(*PORTFOLIO), PEOPLE, criteria, AS_OF).table()
    assert list(table.columns) == ["group", "scope", "bills", "paid", "observed", "toward",
                                   "used", "note"]
    assert table.loc[0, ["group", "scope", "bills", "paid"]].tolist() == [
        "ordinary", "portfolio", 3, 2]
    fair = table[(table["group"] == "ordinary") & (table["scope"] == "fair")].iloc[0]
    assert (fair["bills"], fair["paid"], fair["observed"]) == (2, 1, 0.5)
    assert fair["note"].code == "calibration_few_bills"
    assert fair["note"].params == {"toward": "portfolio", "min_bills": 30}
    cell = table[(table["group"] == "discount") & (table["scope"] == "good")].iloc[0]
    assert cell["note"].code == "calibration_no_bills" and cell["note"].params == {
        "toward": "kind"}
    assert not any(isinstance(v, str) and " " in v for v in table.drop(columns="note")
                   .to_numpy().ravel())  # no Portuguese: codes only


def test_table_has_portuguese_headers_and_says_where_data_is_thin(criteria):
    table = table_of(calibrate(invoices(*PORTFOLIO), PEOPLE, criteria, AS_OF))
    for header in ("faixa", "faturas", "pagas em 30 dias", "taxa observada", "taxa usada",
                   "observação"):
        assert header in table.columns
    assert len(table) == 1 + 4 + 3 * 5  # whole portfolio, bands, kinds × (all + bands)
    assert table.loc[0, "faixa"] == "toda a carteira" and table.loc[0, "faturas"] == 3
    assert (table["observação"].iloc[1:] != "").all()  # every group is under 30 bills here
    # Without bills: the poor and new bands, every kind, and every (kind, band) cell.
    assert table["observação"].str.startswith("sem faturas").sum() == 2 + 3 + 3 * 4


def test_empty_portfolio_gives_an_even_chance_and_says_so(criteria):
    cal = calibrate(invoices(), customers(("a", "2025-01-01", 100.0)), criteria, AS_OF)
    assert all(cal.probability(b, a) == 0.5 for b in ("good", "new") for a in Action)
    assert "sem histórico" in table_of(cal).loc[0, "observação"]
    assert cal.outcomes.empty


def test_outcomes_hold_the_prediction_made_then_against_what_happened(criteria):
    cal = calibrate(invoices(*PORTFOLIO), PEOPLE, criteria, AS_OF)
    outcomes = cal.outcomes.sort_values("due_date")
    assert outcomes["paid_within_window"].tolist() == [True, False, True]
    assert outcomes["predicted"].tolist() == [cal.ordinary[b].used for b in outcomes["band"]]
    prior = criteria["calibration.prior_strength"]
    # 10/04: nothing known yet (an even chance). 10/05: the April bill's outcome is known
    # (window ended 10/05): 1 of 1. 10/06: April and May known (1 of 2); the fair band
    # has May only (0 of 1).
    assert outcomes["predicted_then"].tolist() == pytest.approx(
        [0.5, 1.0, shrunk(0, 1, prior, 0.5)])


def test_calibration_does_not_depend_on_row_order(criteria):
    rows = PORTFOLIO + [bill("a", "2026-07-20", paid="2026-07-20", arrangement="discount")]
    forward = calibrate(invoices(*rows), PEOPLE, criteria, AS_OF)
    backward = calibrate(invoices(*reversed(rows)), PEOPLE, criteria, AS_OF)
    assert forward == backward
    assert forward.outcomes.sort_values("due_date").reset_index(drop=True).equals(
        backward.outcomes.sort_values("due_date").reset_index(drop=True))


def test_calibration_round_trips_through_plain_values(criteria):
    rows = monthly("a", date(2026, 1, 10), 6, [0, 3, 50, 0, None, 0])
    cal = calibrate(invoices(*rows), customers(("a", "2025-01-01", 100.0)), criteria, AS_OF)
    again = Calibration.from_dict(cal.to_dict())
    assert again == cal
    for band in ("good", "fair", "poor", "new"):
        for action in Action:
            assert again.probability(band, action) == cal.probability(band, action)


def test_cached_calibration_of_another_method_is_refused(criteria):
    plain = calibrate(invoices(*PORTFOLIO), PEOPLE, criteria, AS_OF).to_dict()
    assert plain["method"] == METHOD
    with pytest.raises(ValueError):
        Calibration.from_dict({**plain, "method": "1"})
    with pytest.raises(ValueError):
        Calibration.from_dict({k: v for k, v in plain.items() if k != "method"})


def test_the_calibration_counts_what_a_groupby_over_each_bills_band_counts(criteria):
    # The calibration counts on the bills' arrays, with the bands as numbers; here the
    # same counts are taken the plain way, a frame per group of the bundled sample
    # (agreements of every kind, every band), at two dates.
    from relief_kit import resources
    from relief_kit.core.calibration import BANDS, KINDS, point_in_time_bands
    from relief_kit.core.history import judged_bills
    from relief_kit.sources.tables import load_folder

    sample = load_folder(resources.SAMPLE)
    window = int(criteria["calibration.window_days"])
    for as_of in (sample.as_of, date(2026, 3, 1)):
        cal = calibrate(sample.invoices, sample.customers, criteria, as_of)
        bills = judged_bills(sample.invoices, criteria, as_of)
        end = bills["due_date"] + pd.Timedelta(days=window)
        bills["within"] = bills["paid"] & (bills["paid_on"] <= end)
        bills["band"] = point_in_time_bands(bills, criteria)
        counted = bills[(end <= pd.Timestamp(as_of)) & (bills["relief"] | ~bills["on_time"])]
        ordinary = counted[~counted["relief"]]
        agreements = counted[counted["relief"]]
        assert len(ordinary) > 100 and set(agreements["arrangement"]) == set(KINDS)
        assert (cal.overall.bills, cal.overall.paid) == (len(ordinary),
                                                         int(ordinary["within"].sum()))
        for band in BANDS:
            mine = ordinary[ordinary["band"] == band]
            assert (cal.ordinary[band].bills, cal.ordinary[band].paid) == (
                len(mine), int(mine["within"].sum())), (as_of, band)
            for kind in KINDS:
                cell = agreements[(agreements["band"] == band)
                                  & (agreements["arrangement"] == kind)]
                rate = cal.arrangements[(band, kind)]
                assert (rate.bills, rate.paid) == (len(cell), int(cell["within"].sum())), (
                    as_of, band, kind)
        for kind in KINDS:
            mine = agreements[agreements["arrangement"] == kind]
            assert (cal.kinds[kind].bills, cal.kinds[kind].paid) == (
                len(mine), int(mine["within"].sum())), (as_of, kind)
        outcomes = cal.outcomes
        assert outcomes["invoice_id"].tolist() == ordinary["invoice_id"].tolist()
        assert outcomes["band"].tolist() == ordinary["band"].tolist()
        assert outcomes["paid_within_window"].tolist() == ordinary["within"].tolist()
        assert outcomes["predicted"].tolist() == [cal.ordinary[b].used
                                                  for b in ordinary["band"]]
