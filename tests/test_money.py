from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from relief_kit.core.criteria import load_criteria
from relief_kit.core.model import Action, Checklist
from relief_kit.core.money import discount_percent, instalment_plan, options, present_value
from tests.test_recommend import EVEN, FAIR, GOOD, NEW, PF, POOR

TODAY = date(2026, 11, 20)
ANSWERED = Checklist(documented=True, small_business=False, at_risk=False)


@pytest.fixture(scope="module")
def criteria():
    return load_criteria()


def test_present_value_discounts_at_the_monthly_cost_of_money():
    assert present_value(Decimal("102.00"), 1.0, 0.02) == Decimal("100.00")
    assert present_value(Decimal("100.00"), 0.0, 0.02) == Decimal("100.00")


def test_discount_rises_with_punctuality_within_the_range(criteria):
    low, high = criteria["discount.min_percent"], criteria["discount.max_percent"]
    assert discount_percent(POOR, ANSWERED, Decimal("100"), criteria) == low
    assert discount_percent(NEW, ANSWERED, Decimal("100"), criteria) == low
    assert discount_percent(GOOD, ANSWERED, Decimal("100"), criteria) == high
    assert low < discount_percent(FAIR, ANSWERED, Decimal("100"), criteria) < high


def test_customer_proposal_sets_the_discount_clipped_to_the_range(criteria):
    ask = replace(ANSWERED, proposed_amount=Decimal("90.00"))
    assert discount_percent(FAIR, ask, Decimal("100.00"), criteria) == 10
    greedy = replace(ANSWERED, proposed_amount=Decimal("40.00"))
    assert discount_percent(FAIR, greedy, Decimal("100.00"), criteria) == \
        criteria["discount.max_percent"]


def test_option_values_by_hand(criteria):
    rows = {o.action: o for o in options(PF, GOOD, ANSWERED, criteria, TODAY, EVEN)}
    rate = criteria["money.monthly_cost_of_money"]
    discount = rows[Action.DISCOUNT]
    # 20% off R$ 99,90 = R$ 79,92; 90% chance → R$ 71,93; paid within 10 days.
    assert discount.terms.discount_percent == 20
    assert discount.expected == Decimal("71.93")
    assert discount.present_value == Decimal(f"{71.93 / (1 + rate) ** (10 / 30):.2f}")
    assert discount.terms.pay_by == date(2026, 11, 30)
    postponement = rows[Action.POSTPONEMENT]
    # 15 days after 20/11/2026 is Saturday 05/12: the next business day.
    assert postponement.terms.new_due_date == date(2026, 12, 7)
    assert postponement.expected == Decimal("79.92")


def test_proposed_date_beyond_the_limit_is_capped_and_said(criteria):
    ask = replace(ANSWERED, proposed_date=date(2027, 3, 1))
    rows = {o.action: o for o in options(PF, GOOD, ask, criteria, TODAY, EVEN)}
    longest = criteria["postponement.max_days"]
    # 30 days after 20/11/2026 is Sunday 20/12: the next business day.
    assert rows[Action.POSTPONEMENT].terms.new_due_date == date(2026, 12, 21)
    assert str(longest) in rows[Action.POSTPONEMENT].note


def test_instalments_not_allowed_for_a_small_debt(criteria):
    rows = {o.action: o for o in options(PF, GOOD, ANSWERED, criteria, TODAY, EVEN)}
    assert not rows[Action.INSTALMENTS].allowed
    assert "instalments.min_debt_months" in rows[Action.INSTALMENTS].note


def test_instalments_respect_the_minimum_amount(criteria):
    features = replace(GOOD, open_debt=Decimal("70.00"), open_months=2.0)
    plan = instalment_plan(Decimal("70.00"), features, criteria, TODAY)
    minimum = Decimal(str(criteria["instalments.min_amount"]))
    assert len(plan) == 2 and all(i.amount >= minimum for i in plan)
    assert instalment_plan(Decimal("50.00"), features, criteria, TODAY) == ()


def test_uneven_debt_leaves_the_rounding_in_the_last_instalment(criteria):
    features = replace(GOOD, open_debt=Decimal("100.00"), open_months=3.0)
    plan = instalment_plan(Decimal("100.00"), features, criteria, TODAY)
    assert [i.amount for i in plan] == [Decimal("33.33"), Decimal("33.33"), Decimal("33.34")]


def test_refusal_of_an_at_risk_household_is_not_allowed(criteria):
    rows = {o.action: o for o in options(PF, POOR, replace(ANSWERED, at_risk=True), criteria,
                                          TODAY, EVEN)}
    assert not rows[Action.REFUSAL].allowed
    assert "situação de risco" in rows[Action.REFUSAL].note


def test_instalments_fall_on_business_days_of_the_provider_calendar(criteria):
    from relief_kit.core.calendar import BusinessCalendar

    features = replace(GOOD, open_debt=Decimal("200.00"), open_months=2.0)
    today = date(2027, 1, 29)  # + 10 days = Monday 08/02/2027, Carnival Monday
    plain = instalment_plan(Decimal("200.00"), features, criteria, today)
    assert [i.due_date for i in plain] == [date(2027, 2, 8), date(2027, 3, 8)]
    carnival = instalment_plan(Decimal("200.00"), features, criteria, today,
                               BusinessCalendar(carnival=True))
    assert [i.due_date for i in carnival] == [date(2027, 2, 10), date(2027, 3, 8)]
