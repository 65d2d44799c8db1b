"""The meeting's shared and joined computations give the figures of the straightforward
ones (one customer, one agreement, one case at a time), on the sample portfolio."""

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from relief_kit.core.agreements import Agreement, payments, payments_all, to_cents
from relief_kit.core.bills import bills_concerned, bills_concerned_all
from relief_kit.core.calendar import BusinessCalendar, MunicipalHoliday
from relief_kit.core.criteria import load_criteria
from relief_kit.core.decisions import CoveredBill
from relief_kit.core.model import Action
from relief_kit.shell.replay import recommend_all, replay_inputs
from relief_kit.sources.tables import load_folder

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"
LATER = date(2027, 3, 1)


@pytest.fixture(scope="module")
def portfolio():
    return load_folder(SAMPLE)


@pytest.mark.parametrize("when", ["as_of", "later"])
def test_bills_of_every_case_at_once_are_those_found_one_customer_at_a_time(portfolio, when):
    as_of = portfolio.as_of if when == "as_of" else LATER
    customers = portfolio.customers_by_id()
    asking = {c: customers[c] for c in portfolio.requests["customer_id"] if c in customers}
    together = bills_concerned_all(portfolio.invoices, asking, as_of)
    assert set(together) == set(asking)
    for customer_id, customer in asking.items():
        alone = bills_concerned(portfolio.invoices_of(customer_id), customer, as_of)
        assert together[customer_id] == alone, customer_id
    # Both kinds occur on the sample: open bills, and the next bill of the cycle.
    assert any(not b[0].upcoming for b in together.values())
    assert any(b[0].upcoming for b in together.values())


def test_payments_of_every_agreement_at_once_are_those_of_each_agreement(portfolio):
    decided_on = portfolio.as_of - timedelta(days=75)
    agreements = []
    for customer_id in dict.fromkeys(portfolio.requests["customer_id"]):
        bills = portfolio.invoices_of(customer_id)
        # The bills still unpaid on the decision's day (the export shows them paid later),
        # the first one then partly paid already.
        unpaid = bills[(bills["due_date"] <= pd.Timestamp(decided_on))
                       & ~(bills["paid_on"] <= pd.Timestamp(decided_on))]
        covered = tuple(CoveredBill(str(r.invoice_id), r.due_date.date(),
                                    to_cents(r.amount) - (Decimal("10.00") if i == 0 else 0))
                        for i, r in enumerate(unpaid.itertuples()))
        agreements.append(Agreement(customer_id, customer_id, covered, decided_on))
    together = payments_all(portfolio.invoices, agreements)
    found = 0
    for agreement in agreements:
        alone = payments(portfolio.invoices_of(agreement.customer_id), agreement.covered,
                         agreement.decided_on)
        assert together[agreement.key] == alone, agreement.key
        found += len(alone)
    assert found > 0  # payments after the decision exist: the comparison is not empty


def test_proposed_replay_sharing_the_money_comparison_recommends_as_computed_afresh(
        portfolio, tmp_path):
    criteria = load_criteria()
    path = tmp_path / "proposta.toml"
    path.write_text((SAMPLE.parent / "criteria.toml").read_text(encoding="utf-8").replace(
        "grant_threshold = 1", "grant_threshold = 3"), encoding="utf-8")
    proposed = load_criteria(path)
    as_of = portfolio.as_of
    current_inputs = replay_inputs(portfolio, criteria, as_of=as_of)
    current = recommend_all(portfolio, criteria, as_of=as_of, inputs=current_inputs,
                            explain=False)
    proposed_inputs = replay_inputs(portfolio, proposed, as_of=as_of, like=current_inputs)
    shared = recommend_all(portfolio, proposed, as_of=as_of, inputs=proposed_inputs,
                           explain=False, like=current, like_inputs=current_inputs)
    afresh = recommend_all(portfolio, proposed, as_of=as_of)
    changed = 0
    for fast, slow, now in zip(shared, afresh, current, strict=True):
        assert fast.recommendation.action == slow.recommendation.action
        assert fast.recommendation.terms == slow.recommendation.terms
        assert fast.recommendation.options == slow.recommendation.options
        assert fast.recommendation.reasons == slow.recommendation.reasons
        changed += now.recommendation.action != fast.recommendation.action
    assert changed > 0  # the proposal does change some cases


def test_explanations_left_out_change_no_recommendation(portfolio):
    explained = recommend_all(portfolio, load_criteria(), as_of=portfolio.as_of)
    plain = recommend_all(portfolio, load_criteria(), as_of=portfolio.as_of, explain=False)
    for a, b in zip(explained, plain, strict=True):
        assert (a.recommendation.action, a.recommendation.terms, a.recommendation.options) == (
            b.recommendation.action, b.recommendation.terms, b.recommendation.options)
    assert any(a.recommendation.what_would_change for a in explained)
    assert not any(b.recommendation.what_would_change for b in plain)
    assert {a.recommendation.action for a in plain} & {Action.REFUSAL, Action.ASK_INFO}


@pytest.mark.parametrize("calendar", [
    BusinessCalendar(),
    BusinessCalendar(state="MG", municipal=(MunicipalHoliday(8, 15),), carnival=True,
                     optional_days=True),
])
def test_business_days_between_counts_as_walking_day_by_day(calendar):
    start = date(2025, 12, 20)
    for end in (start, start - timedelta(days=3), date(2026, 1, 2), date(2026, 3, 1),
                date(2027, 2, 15)):
        walked, day = 0, start
        while day < end:
            day += timedelta(days=1)
            walked += day.weekday() < 5 and not calendar.is_holiday(day)
        assert calendar.business_days_between(start, end) == walked
