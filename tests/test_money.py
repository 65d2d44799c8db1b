"""The money comparison: each option's event tree, priced by hand."""

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest

from relief_kit.core.criteria import load_criteria
from relief_kit.core.model import Action, Bill, Checklist
from relief_kit.core.money import discount_percent, instalment_plan, options, present_value
from relief_kit.text.reasons import event_text, reason_text
from tests.test_recommend import EVEN, FAIR, GOOD, NEW, PF, POOR

TODAY = date(2026, 11, 20)
ANSWERED = Checklist(documented=True, small_business=False, at_risk=False, hardship="job_loss")


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


# --------------------------------------------------------------------------- by hand


class Hand:
    """The criteria's numbers and the tree's arithmetic, written out plainly."""

    def __init__(self, criteria, fee: float):
        self.r = criteria["money.monthly_cost_of_money"]
        self.window = criteria["calibration.window_days"]
        self.late = criteria["money.late_payment_prior"]  # EVEN carries no estimates
        self.late_days = round((self.window + criteria["money.termination_days"]) / 2)
        self.termination = criteria["money.termination_days"]
        self.recovered = criteria["money.recovered_after_termination"]
        months = min(1 / criteria["money.monthly_churn_prior"],
                     criteria["money.max_remaining_months"])
        self.lost = round(fee * criteria["money.margin_share"] * months, 2)
        self.refused = criteria["money.refused_payment_factor"]

    def pv(self, cash: float, days: int) -> float:
        return cash / (1 + self.r) ** (days / 30)

    def ordinary(self, debt: float, start: int, weight: float, p_window: float) -> float:
        """Value of an unpaid debt from day ``start``: within the window, late, or lost."""
        rest = weight * (1 - p_window)
        gone = start + self.termination + 90
        return (weight * p_window * self.pv(debt, start + self.window // 2)
                + rest * self.late * self.pv(debt, start + self.late_days)
                + rest * (1 - self.late) * (self.pv(debt * self.recovered, gone) - self.lost))


def test_discount_tree_by_hand(criteria):
    bills = (Bill("9001", TODAY - timedelta(days=15), Decimal("100.50")),)
    rows = {o.action: o for o in options(PF, GOOD, ANSWERED, criteria, TODAY, EVEN, bills)}
    discount = rows[Action.DISCOUNT]
    hand = Hand(criteria, 99.90)
    # 20 % off R$ 100,50 = R$ 80,40, paid within 10 days with 90 %; else the whole debt
    # goes the ordinary way from the pay-by date (60 % within the window, ...).
    assert discount.terms.to_pay == Decimal("80.40")
    assert discount.terms.pay_by == date(2026, 11, 30)
    value = 0.9 * hand.pv(80.40, 10) + hand.ordinary(100.50, 10, 0.1, 0.6)
    assert float(discount.present_value) == pytest.approx(value, abs=0.03)
    assert [event_text(e) for e in discount.events] == [
        "pago como combinado", "não pago no prazo; pago em até 30 dias",
        "não pago no prazo; pago com atraso, antes da rescisão",
        "não pago no prazo; não pago: suspensão, rescisão, cliente perdido"]
    assert sum(e.probability for e in discount.events) == pytest.approx(1.0)


def test_postponement_tree_by_hand_from_the_bills_own_due_date(criteria):
    # December's bill (due 05/12) moved to 20/12 at the customer's request.
    bills = (Bill("", date(2026, 12, 5), Decimal("99.90"), upcoming=True),)
    ask = replace(ANSWERED, proposed_date=date(2026, 12, 20))
    rows = {o.action: o for o in options(PF, GOOD, ask, criteria, TODAY, EVEN, bills)}
    post = rows[Action.POSTPONEMENT]
    # 20/12/2026 is a Sunday: the next business day (issue 13).
    assert post.allowed and post.terms.new_due_date == date(2026, 12, 21)
    assert post.terms.bills == bills
    hand = Hand(criteria, 99.90)
    day = (date(2026, 12, 21) - TODAY).days
    value = 0.8 * hand.pv(99.90, day) + hand.ordinary(99.90, day, 0.2, 0.6)
    assert float(post.present_value) == pytest.approx(value, abs=0.03)
    # A discount on a bill not due yet is paid by its own due date (Saturday 05/12/2026:
    # the next business day).
    assert rows[Action.DISCOUNT].terms.pay_by == date(2026, 12, 7)


def test_instalment_tree_by_hand_with_per_instalment_rates(criteria):
    bills = tuple(Bill(str(i), date(2026, m, 10), Decimal("100.00"))
                  for i, m in ((1, 9), (2, 10), (3, 11)))
    features = replace(FAIR, open_debt=Decimal("300.00"), open_bills=3, open_months=3.0)
    rows = {o.action: o for o in options(PF, features, ANSWERED, criteria, TODAY, EVEN, bills)}
    inst = rows[Action.INSTALMENTS]
    plan = inst.terms.instalments
    assert [i.amount for i in plan] == [Decimal("100.00")] * 3
    days = [(i.due_date - TODAY).days for i in plan]
    hand = Hand(criteria, 99.90)
    p = 0.85  # EVEN: each instalment paid given the earlier ones were
    value, reach, left = 0.0, 1.0, 300.0
    for day in days:
        value += hand.ordinary(left, day, reach * (1 - p), 0.6)
        reach *= p
        value += reach * hand.pv(100.0, day)
        left -= 100.0
    assert float(inst.present_value) == pytest.approx(value, abs=0.05)
    paid = [e for e in inst.events if event_text(e).endswith(" paga")]
    assert [round(e.probability, 4) for e in paid] == [0.85, 0.7225, 0.6141]


def test_refusal_is_the_ordinary_way_with_the_refused_prior(criteria):
    bills = (Bill("9001", date(2026, 11, 10), Decimal("99.90")),)
    rows = {o.action: o for o in options(PF, GOOD, ANSWERED, criteria, TODAY, EVEN, bills)}
    refusal = rows[Action.REFUSAL]
    hand = Hand(criteria, 99.90)
    p = 0.6 * hand.refused
    assert refusal.probability == pytest.approx(p)
    assert float(refusal.present_value) == pytest.approx(hand.ordinary(99.90, 0, 1.0, p),
                                                         abs=0.03)


# --------------------------------------------------------------------------- terms


def test_proposed_date_beyond_the_limit_is_capped_from_the_bills_due_date(criteria):
    bills = (Bill("", date(2026, 12, 5), Decimal("99.90"), upcoming=True),)
    ask = replace(ANSWERED, proposed_date=date(2027, 3, 1))
    rows = {o.action: o for o in options(PF, GOOD, ask, criteria, TODAY, EVEN, bills)}
    longest = criteria["postponement.max_days"]
    assert rows[Action.POSTPONEMENT].terms.new_due_date == date(2026, 12, 5) + timedelta(
        days=longest)
    assert str(longest) in reason_text(rows[Action.POSTPONEMENT].note)


def test_a_bill_overdue_past_the_limit_cannot_be_postponed(criteria):
    bills = (Bill("1", date(2026, 9, 5), Decimal("99.90")),)
    rows = {o.action: o for o in options(PF, POOR, ANSWERED, criteria, TODAY, EVEN, bills)}
    post = rows[Action.POSTPONEMENT]
    assert not post.allowed and "parcelamento" in reason_text(post.note)


def test_instalments_not_allowed_for_a_small_debt(criteria):
    rows = {o.action: o for o in options(PF, GOOD, ANSWERED, criteria, TODAY, EVEN)}
    assert not rows[Action.INSTALMENTS].allowed
    assert "instalments.min_debt_months" in reason_text(
        rows[Action.INSTALMENTS].note)


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


def test_instalments_fall_on_business_days_of_the_provider_calendar(criteria):
    from relief_kit.core.calendar import BusinessCalendar

    features = replace(GOOD, open_debt=Decimal("200.00"), open_months=2.0)
    today = date(2027, 1, 29)  # + 10 days = Monday 08/02/2027, Carnival Monday
    plain = instalment_plan(Decimal("200.00"), features, criteria, today)
    assert [i.due_date for i in plain] == [date(2027, 2, 8), date(2027, 3, 8)]
    carnival = instalment_plan(Decimal("200.00"), features, criteria, today,
                               calendar=BusinessCalendar(carnival=True))
    assert [i.due_date for i in carnival] == [date(2027, 2, 10), date(2027, 3, 8)]
def test_instalments_are_shaped_to_the_stated_capacity(criteria):
    features = replace(FAIR, open_debt=Decimal("359.70"), open_months=3.0)
    plan = instalment_plan(Decimal("359.70"), features, criteria, TODAY,
                           capacity=Decimal("60.00"))
    assert len(plan) == 6 and all(i.amount <= Decimal("60.00") for i in plan)
    assert sum(i.amount for i in plan) == Decimal("359.70")
    # More than max_count would be needed: the plan stops there, and says it exceeds.
    bills = tuple(Bill(str(n), date(2026, m, 10), Decimal("119.90")) for n, m in
                  ((1, 9), (2, 10), (3, 11)))
    tight = replace(ANSWERED, capacity_monthly=Decimal("40.00"))
    rows = {o.action: o for o in options(PF, features, tight, criteria, TODAY, EVEN, bills)}
    inst = rows[Action.INSTALMENTS]
    assert len(inst.terms.instalments) == criteria["instalments.max_count"]
    assert inst.exceeds_capacity and rows[Action.DISCOUNT].exceeds_capacity
