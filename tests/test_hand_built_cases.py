"""Hand-built cases a provider meets every week, and the recommendation each must get."""

from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal

import pytest

from relief_kit.core.criteria import load_criteria
from relief_kit.core.model import Action, Bill, Checklist, HistoryFeatures, ReliefRequest
from relief_kit.core.recommend import recommend
from relief_kit.text.reasons import change_text, reason_text
from tests.test_recommend import EVEN, PF

TODAY = date(2026, 11, 20)
CRITERIA = load_criteria()
REQUEST = ReliefRequest("r1", "c1", datetime(2026, 11, 18, 10, 0), "whatsapp", "not_said",
                        "r1.txt")
PUNCTUAL = HistoryFeatures("c1", bills=30, on_time_share=0.97, punctuality_band="good",
                           recent_on_time_share=1.0, earlier_on_time_share=0.96,
                           bills_past_window=29, paid_within_window_share=1.0)
LAID_OFF = HistoryFeatures("c1", bills=24, on_time_share=0.7, punctuality_band="fair",
                           open_debt=Decimal("359.70"), open_bills=3, open_months=3.0,
                           recent_on_time_share=0.0, earlier_on_time_share=0.85)
WRITTEN = Checklist(documented=True, channel="whatsapp", small_business=False, at_risk=False)
FEE = replace(PF, monthly_fee=Decimal("119.90"))
DECEMBER = (Bill("", date(2026, 12, 5), Decimal("119.90"), upcoming=True),)
THREE_BILLS = tuple(Bill(str(n), date(2026, m, 5), Decimal("119.90"))
                    for n, m in ((1, 9), (2, 10), (3, 11)))


@dataclass(frozen=True)
class Case:
    name: str
    features: HistoryFeatures
    checklist: Checklist
    bills: tuple
    action: Action


CASES = [
    Case("punctual customer moving next month's bill to payday", PUNCTUAL,
         replace(WRITTEN, asked="new_date", hardship="income_drop",
                 proposed_date=date(2026, 12, 15)), DECEMBER, Action.POSTPONEMENT),
    Case("laid-off customer with three bills who can pay 60 a month", LAID_OFF,
         replace(WRITTEN, hardship="job_loss", hardship_since=date(2026, 8, 1),
                 capacity_monthly=Decimal("60.00")), THREE_BILLS, Action.INSTALMENTS),
    Case("opportunist who states nothing: ask what happened", PUNCTUAL,
         replace(WRITTEN, asked="discount"), DECEMBER, Action.ASK_INFO),
    Case("opportunist who says nothing happened", PUNCTUAL,
         replace(WRITTEN, asked="discount", hardship="none"), DECEMBER, Action.REFUSAL),
    Case("at-risk household without consent, poor history", replace(
        LAID_OFF, on_time_share=0.3, punctuality_band="poor", earlier_on_time_share=0.35),
         replace(WRITTEN, at_risk=True, at_risk_category="idoso", hardship="illness"),
         THREE_BILLS, Action.REFUSAL),
    Case("phone call with nothing in writing", PUNCTUAL,
         replace(WRITTEN, documented=False, channel="phone", hardship="job_loss"), DECEMBER,
         Action.ASK_INFO),
]
#: Postponing a bill costs nothing when it is kept: EVEN's chances, with a postponement
#: as likely to be kept as a discount for a punctual customer.
RATES = type(EVEN)({**EVEN.rates, Action.POSTPONEMENT: 0.9})


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hand_built_case(case):
    rec = recommend(FEE, case.features, REQUEST, case.checklist, CRITERIA, TODAY, RATES, bills=
                    case.bills)
    assert rec.action is case.action, [reason_text(r) for r in rec.reasons]
    chosen = next((o for o in rec.options if o.action is rec.action), None)
    if chosen is not None and rec.action is not Action.REFUSAL:
        assert chosen.allowed
        assert not chosen.exceeds_capacity or any(
            r.criterion == "pratica.capacidade" for r in rec.reasons)


def test_the_punctual_customer_moves_december_to_the_15th():
    case = CASES[0]
    rec = recommend(FEE, case.features, REQUEST, case.checklist, CRITERIA, TODAY, RATES, bills=
                    case.bills)
    assert rec.terms.new_due_date == date(2026, 12, 15) > DECEMBER[0].due_date
    assert rec.terms.bills == DECEMBER


def test_the_laid_off_customer_gets_instalments_within_what_they_can_pay():
    case = CASES[1]
    rec = recommend(FEE, case.features, REQUEST, case.checklist, CRITERIA, TODAY, RATES, bills=
                    case.bills)
    plan = rec.terms.instalments
    assert len(plan) == 6 and all(i.amount <= Decimal("60.00") for i in plan)
    assert sum(i.amount for i in plan) == Decimal("359.70")
    assert rec.terms.bills == THREE_BILLS
    options = {o.action: o for o in rec.options}
    assert options[Action.DISCOUNT].exceeds_capacity
    assert options[Action.POSTPONEMENT].exceeds_capacity


def test_the_opportunist_is_asked_what_happened_never_granted():
    rec = recommend(FEE, PUNCTUAL, REQUEST, CASES[2].checklist, CRITERIA, TODAY, RATES, bills=
                    DECEMBER)
    assert rec.missing == ("hardship",)
    assert any(r.criterion == "pratica.necessidade" for r in rec.reasons)


def test_the_at_risk_refusal_waits_for_a_second_analyst():
    case = CASES[4]
    rec = recommend(FEE, case.features, REQUEST, case.checklist, CRITERIA, TODAY, RATES, bills=
                    case.bills)
    assert rec.needs_second_analyst
    # Without consent the at-risk fact gives no points.
    assert not any(r.criterion == "weights.at_risk" for r in rec.reasons)
    assert "consentimento" in change_text(rec.what_would_change[0])


def test_the_phone_call_is_asked_in_writing_and_told_what_would_change():
    case = CASES[5]
    rec = recommend(FEE, case.features, REQUEST, case.checklist, CRITERIA, TODAY, RATES, bills=
                    case.bills)
    assert rec.reasons[0].criterion == "pratica.documentacao"
    assert change_text(rec.what_would_change[0]).startswith(
        "Com o pedido explicado por escrito (e-mail ou WhatsApp), a recomendação seria ")
