"""One computation of the terms, and properties every option keeps whatever the input."""

from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from relief_kit.core.calendar import NATIONAL
from relief_kit.core.criteria import load_criteria, parse_criteria
from relief_kit.core.model import Action, Bill, Checklist, Terms
from relief_kit.core.money import instalment_plan, options
from relief_kit.core.terms import amount_to_pay, payable, split, with_amount_to_pay
from relief_kit.text import formatting as fmt
from tests.test_recommend import EVEN, FAIR, PF

TODAY = date(2026, 11, 20)
ANSWERED = Checklist(documented=True, small_business=False, at_risk=False, hardship="job_loss")
CRITERIA = load_criteria()
money = st.decimals(min_value=Decimal("1.00"), max_value=Decimal("9999.99"), places=2)


def test_the_amount_to_pay_is_rounded_once_half_up():
    assert amount_to_pay(Decimal("100.50"), 15) == Decimal("85.43")
    terms = Terms(amount=Decimal("100.50"), discount_percent=Decimal("15"),
                  pay_by=date(2026, 11, 30))
    assert payable(terms) == Decimal("85.43")
    assert "R$ 85,43" in fmt.terms_text(Action.DISCOUNT, terms)


def test_the_message_says_the_amount_the_core_computed():
    from relief_kit.core.settings import load_provider
    from relief_kit.shell.facts import jsonable
    from relief_kit.shell.messages import message_context

    terms = with_amount_to_pay(Terms(amount=Decimal("100.50"), discount_percent=Decimal("15"),
                                     pay_by=date(2026, 11, 30)))
    facts = {"decision": {"terms": jsonable(terms)}, "request_id": "R1",
             "customer": {"name": "Ana Souza", "person_type": "PF", "customer_id": "1"},
             "recommendation": {"terms": {}}}
    assert message_context(facts, load_provider())["to_pay"] == "R$ 85,43"


@settings(max_examples=200, deadline=None)
@given(amount=money, percent=st.integers(min_value=0, max_value=100))
def test_the_same_amount_to_pay_everywhere(amount, percent):
    bills = (Bill("1", TODAY - timedelta(days=3), amount),)
    ask = replace(ANSWERED, proposed_amount=None)
    rows = {o.action: o for o in options(PF, FAIR, ask, CRITERIA, TODAY, EVEN, bills)}
    discount = rows[Action.DISCOUNT]
    expected = amount_to_pay(amount, discount.terms.discount_percent)
    assert discount.terms.to_pay == expected == payable(discount.terms)
    assert discount.events[0].cash == expected
    assert fmt.money(expected) in fmt.terms_text(Action.DISCOUNT, discount.terms)
    # Whatever percent an analyst types, the record and the store compute the same.
    typed = Terms(amount=amount, discount_percent=Decimal(percent), pay_by=TODAY)
    assert with_amount_to_pay(typed).to_pay == amount_to_pay(amount, percent)


@settings(max_examples=200, deadline=None)
@given(amount=money, max_count=st.integers(min_value=2, max_value=24),
       capacity=st.one_of(st.none(), money), months=st.floats(min_value=0, max_value=30))
# Found by hypothesis in CI: 23 × 30,03 would leave a last instalment of 29,92.
@example(amount=Decimal("690.58"), max_count=23, capacity=None, months=23.0)
def test_instalments_sum_to_the_debt_and_respect_the_minimum(amount, max_count, capacity,
                                                             months):
    raw = CRITERIA.source and open(CRITERIA.source, "rb").read()
    criteria = parse_criteria(raw.replace(b"max_count = 6", f"max_count = {max_count}".encode()))
    features = replace(FAIR, open_debt=amount, open_months=months)
    plan = instalment_plan(amount, features, criteria, TODAY, capacity)
    minimum = Decimal(str(criteria["instalments.min_amount"]))
    if not plan:
        assert amount < 2 * minimum
        return
    assert sum(i.amount for i in plan) == amount
    assert 2 <= len(plan) <= max_count
    assert all(i.amount >= minimum for i in plan)
    assert [i.number for i in plan] == list(range(1, len(plan) + 1))
    assert all(a.due_date < b.due_date for a, b in zip(plan, plan[1:], strict=False))
    if capacity is not None and len(plan) < max_count and amount // len(plan) >= minimum:
        # Stopped raising the count because an instalment fits (or the minimum stopped it).
        assert plan[0].amount <= capacity or (amount // (len(plan) + 1)) < minimum


@settings(max_examples=300, deadline=None)
@given(due_offset=st.integers(min_value=-200, max_value=40),
       proposed=st.one_of(st.none(), st.integers(min_value=-30, max_value=200)),
       bills=st.integers(min_value=1, max_value=4))
def test_a_postponed_date_is_after_the_bills_due_date_and_within_the_limit(due_offset,
                                                                             proposed, bills):
    longest = CRITERIA["postponement.max_days"]
    dues = [TODAY + timedelta(days=due_offset + 30 * k) for k in range(bills)]
    upcoming = all(d > TODAY for d in dues)
    concerned = tuple(Bill(str(k), d, Decimal("89.90"), upcoming=upcoming)
                      for k, d in enumerate(dues))
    ask = replace(ANSWERED, proposed_date=None if proposed is None
                  else TODAY + timedelta(days=proposed))
    rows = {o.action: o for o in options(PF, FAIR, ask, CRITERIA, TODAY, EVEN, concerned)}
    post = rows[Action.POSTPONEMENT]
    new = post.terms.new_due_date
    if post.allowed:
        assert new > TODAY and new > max(dues)
        assert new <= min(dues) + timedelta(days=longest)
    else:
        assert post.note
    # No option pays in the past.
    assert rows[Action.DISCOUNT].terms.pay_by > TODAY
    for option in rows.values():
        assert all(e.when is None or e.when >= TODAY for e in option.events)


def test_split_is_centavo_exact():
    plan = split(Decimal("100.00"), 3, date(2026, 1, 31))
    assert [i.amount for i in plan] == [Decimal("33.33"), Decimal("33.33"), Decimal("33.34")]
    assert [i.due_date for i in plan] == [date(2026, 1, 31), date(2026, 2, 28),
                                          date(2026, 3, 31)]


@pytest.mark.parametrize("stamp", [datetime(2026, 11, 18, 10, 0)])
def test_review_plan_uses_the_core_split(stamp):
    from relief_kit.shell.review import even_instalments

    # The same split, each date on a business day (31/01/2026 is a Saturday).
    assert even_instalments(Decimal("100.00"), 3, date(2026, 1, 31)) == tuple(
        replace(i, due_date=NATIONAL.next_business_day(i.due_date))
        for i in split(Decimal("100.00"), 3, date(2026, 1, 31)))
