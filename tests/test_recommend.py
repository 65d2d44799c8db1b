"""The recommendation: a table of checklist combinations and the action each gets."""

from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal

import pytest

from relief_kit.core.criteria import load_criteria
from relief_kit.core.model import Action, Checklist, Customer, HistoryFeatures, ReliefRequest
from relief_kit.core.recommend import recommend
from relief_kit.text.reasons import change_text, reason_text

TODAY = date(2026, 11, 20)


@dataclass(frozen=True)
class FixedProbabilities:
    """A value object with fixed rates per action (what a calibration returns)."""

    rates: dict

    def probability(self, band: str, action: Action) -> float:
        return self.rates[action]


EVEN = FixedProbabilities({Action.DISCOUNT: 0.9, Action.POSTPONEMENT: 0.8,
                           Action.INSTALMENTS: 0.85, Action.REFUSAL: 0.6,
                           Action.ASK_INFO: 0.6})

PF = Customer("c1", "Maria", "52998224725", "PF", Decimal("99.90"), date(2022, 1, 10))
SHOP = replace(PF, person_type="PJ", business_kind="padaria")
REQUEST = ReliefRequest("r1", "c1", datetime(2026, 11, 18, 10, 0), "whatsapp", "not_said",
                        "r1.txt")

GOOD = HistoryFeatures("c1", bills=20, on_time_share=0.95, punctuality_band="good",
                       open_debt=Decimal("99.90"), open_bills=1, open_months=1.0,
                       recent_on_time_share=0.9, earlier_on_time_share=0.96)
FAIR = replace(GOOD, on_time_share=0.65, punctuality_band="fair",
               recent_on_time_share=0.6, earlier_on_time_share=0.7)
POOR = replace(GOOD, on_time_share=0.3, punctuality_band="poor",
               recent_on_time_share=0.2, earlier_on_time_share=0.35)
NEW = HistoryFeatures("c1", bills=1, punctuality_band="new", open_debt=Decimal("99.90"),
                      open_bills=1, open_months=1.0)
SHOCK = replace(FAIR, recent_on_time_share=0.0, earlier_on_time_share=0.9)
BROKE = replace(FAIR, earlier_reliefs=2, reliefs_broken=1)
KEPT = replace(FAIR, earlier_reliefs=2, reliefs_broken=0)
DEBT = replace(POOR, open_debt=Decimal("499.50"), open_bills=5, open_months=5.0)
DEBT_FAIR = replace(FAIR, open_debt=Decimal("299.70"), open_bills=3, open_months=3.0)

ANSWERED = Checklist(documented=True, channel="whatsapp", small_business=False,
                     at_risk=False, asked="not_said", hardship="job_loss")

CASES = [
    # (id, customer, features, checklist, expected action). With EVEN and the criteria's
    # priors for what follows a missed agreement, the option least likely to end with the
    # customer gone wins: a discount (90 % kept) over a postponement (80 %); a refusal
    # (60 % × money.refused_payment_factor) is never the best money but is what the score
    # says when the history weighs against relief.
    ("undocumented", PF, GOOD, replace(ANSWERED, documented=False), Action.ASK_INFO),
    ("documented unknown", PF, GOOD, replace(ANSWERED, documented=None), Action.ASK_INFO),
    ("small business unknown", PF, GOOD, replace(ANSWERED, small_business=None),
     Action.ASK_INFO),
    ("at-risk unknown", PF, GOOD, replace(ANSWERED, at_risk=None), Action.ASK_INFO),
    ("hardship not asked yet", PF, GOOD, replace(ANSWERED, hardship=""), Action.ASK_INFO),
    ("no difficulty stated", PF, GOOD, replace(ANSWERED, hardship="none"), Action.REFUSAL),
    ("good record", PF, GOOD, ANSWERED, Action.DISCOUNT),
    ("fair record", PF, FAIR, ANSWERED, Action.DISCOUNT),
    ("poor record", PF, POOR, ANSWERED, Action.REFUSAL),
    ("new customer", PF, NEW, ANSWERED, Action.DISCOUNT),
    ("poor record hit by a recent shock", PF,
     replace(POOR, earlier_on_time_share=0.9, recent_on_time_share=0.0), ANSWERED,
     Action.REFUSAL),
    ("fair record, earlier relief broken", PF, BROKE, ANSWERED, Action.REFUSAL),
    ("fair record, earlier relief kept", PF, KEPT, ANSWERED, Action.DISCOUNT),
    ("poor record, small business", PF, POOR, replace(ANSWERED, small_business=True),
     Action.REFUSAL),
    ("poor record, small business, at-risk with consent", PF, POOR,
     replace(ANSWERED, small_business=True, at_risk=True, at_risk_category="idoso",
             at_risk_consent=True), Action.DISCOUNT),
    ("fair record, PJ bakery answered as not depending on the connection", SHOP, BROKE,
     ANSWERED, Action.REFUSAL),
    ("broken relief, at-risk with consent", PF, BROKE,
     replace(ANSWERED, at_risk=True, at_risk_category="idoso", at_risk_consent=True),
     Action.REFUSAL),
    ("poor record, at-risk without consent: a refusal a second analyst confirms", PF, POOR,
     replace(ANSWERED, at_risk=True, at_risk_category="outro"), Action.REFUSAL),
    ("fair record, asked a postponement within tolerance", PF, FAIR,
     replace(ANSWERED, asked="new_date"), Action.DISCOUNT),
]


@pytest.fixture(scope="module")
def criteria():
    return load_criteria()


@pytest.mark.parametrize("name,customer,features,checklist,expected", CASES,
                         ids=[c[0] for c in CASES])
def test_checklist_combination(name, customer, features, checklist, expected, criteria):
    rec = recommend(customer, features, REQUEST, checklist, criteria, TODAY, EVEN)
    assert rec.action is expected, [reason_text(r) for r in rec.reasons]
    assert rec.criteria_hash == criteria.sha256 and rec.criteria_version == criteria.version
    assert rec.reasons and all(r.criterion for r in rec.reasons)
    assert {o.action for o in rec.options} == {Action.DISCOUNT, Action.POSTPONEMENT,
                                               Action.INSTALMENTS, Action.REFUSAL}


def test_undocumented_request_asks_for_it_in_writing(criteria):
    rec = recommend(PF, GOOD, REQUEST, replace(ANSWERED, documented=False), criteria, TODAY,
                    EVEN)
    assert rec.reasons[0].criterion == "pratica.documentacao"
    assert "por escrito" in reason_text(rec.reasons[0])


def test_missing_answers_are_listed(criteria):
    rec = recommend(PF, GOOD, REQUEST, replace(ANSWERED, small_business=None, at_risk=None),
                    criteria, TODAY, EVEN)
    assert rec.missing == ("small_business", "at_risk")
    assert rec.what_would_change and "respostas que faltam" in change_text(
        rec.what_would_change[0])
    first = reason_text(rec.reasons[0])
    assert "pequeno negócio" in first and "situação de risco" in first


def test_reasons_quote_the_numbers_and_criteria(criteria):
    rec = recommend(PF, GOOD, REQUEST, ANSWERED, criteria, TODAY, EVEN)
    good = next(r for r in rec.reasons if r.criterion == "weights.good_record")
    text = reason_text(good)
    assert "95%" in text and "80%" in text and "+2 pontos" in text


def test_small_business_reason_says_it_keeps_the_connection(criteria):
    rec = recommend(PF, FAIR, REQUEST, replace(ANSWERED, small_business=True), criteria, TODAY,
                    EVEN)
    reason = next(r for r in rec.reasons if r.criterion == "weights.small_business")
    assert "mantê-lo conectado" in reason_text(reason)


def test_pj_bakery_counts_as_small_business_when_unanswered(criteria):
    from relief_kit.core.recommend import is_small_business
    assert is_small_business(SHOP, replace(ANSWERED, small_business=None), criteria)
    assert not is_small_business(PF, replace(ANSWERED, small_business=None), criteria)


def test_instalment_terms_add_up_to_the_debt_to_the_cent(criteria):
    features = replace(DEBT_FAIR, open_debt=Decimal("300.00"), open_months=3.0)
    rec = recommend(PF, features, REQUEST, replace(ANSWERED, small_business=True,
                                                   asked="instalments"),
                    criteria, TODAY, FixedProbabilities({**EVEN.rates,
                                                         Action.INSTALMENTS: 0.99}))
    assert rec.action is Action.INSTALMENTS
    plan = rec.terms.instalments
    assert [i.amount for i in plan] == [Decimal("100.00")] * 3
    assert sum(i.amount for i in plan) == Decimal("300.00")
    # Monthly from 30/11/2026; 30/01/2027 is a Saturday, so Monday 01/02/2027.
    assert [i.due_date for i in plan] == [date(2026, 11, 30), date(2026, 12, 30),
                                          date(2027, 2, 1)]


def test_recommendation_is_fast_enough_for_live_widgets(criteria):
    import time
    started = time.perf_counter()
    for _ in range(200):
        recommend(PF, GOOD, REQUEST, ANSWERED, criteria, TODAY, EVEN)
    # Not a timing target (the benchmark measures that): a guard against a regression
    # by orders of magnitude, e.g. re-reading the criteria file in every call.
    assert (time.perf_counter() - started) / 200 < 0.05


def test_refusing_an_at_risk_household_needs_a_second_analyst_said_openly(criteria):
    for features in (POOR, BROKE, DEBT):
        rec = recommend(PF, features, REQUEST, replace(ANSWERED, at_risk=True), criteria,
                        TODAY, EVEN)
        assert rec.action is Action.REFUSAL and rec.needs_second_analyst
        assert any(r.criterion == "at_risk.refusal_needs_second_analyst" for r in rec.reasons)


def test_without_the_setting_an_at_risk_refusal_is_an_ordinary_refusal(criteria):
    from relief_kit.core.criteria import parse_criteria

    raw = criteria.source and open(criteria.source, "rb").read()
    off = parse_criteria(raw.replace(b"refusal_needs_second_analyst = true",
                                     b"refusal_needs_second_analyst = false"))
    rec = recommend(PF, POOR, REQUEST, replace(ANSWERED, at_risk=True), off, TODAY, EVEN)
    assert rec.action is Action.REFUSAL and not rec.needs_second_analyst


def test_at_risk_without_consent_changes_nothing_but_the_guard(criteria):
    plain = recommend(PF, FAIR, REQUEST, ANSWERED, criteria, TODAY, EVEN)
    unconsented = recommend(PF, FAIR, REQUEST, replace(ANSWERED, at_risk=True), criteria,
                            TODAY, EVEN)
    assert unconsented.score == plain.score
    assert unconsented.options == plain.options and unconsented.action is plain.action


def test_asked_option_within_tolerance_is_explained(criteria):
    close = FixedProbabilities({**EVEN.rates, Action.POSTPONEMENT: 0.87})
    rec = recommend(PF, FAIR, REQUEST, replace(ANSWERED, asked="new_date"), criteria, TODAY,
                    close)
    assert rec.action is Action.POSTPONEMENT
    assert rec.reasons[-1].criterion == "money.prefer_asked_within"
    assert "O cliente pediu adiamento" in reason_text(rec.reasons[-1])


def test_a_refusal_says_what_would_change_it(criteria):
    rec = recommend(PF, POOR, REQUEST, ANSWERED, criteria, TODAY, EVEN)
    assert rec.action is Action.REFUSAL
    assert rec.what_would_change == ()  # the history decides: no answer changes it
    shop = replace(ANSWERED, small_business=True, at_risk=True, at_risk_category="idoso")
    near = recommend(PF, POOR, REQUEST, shop, criteria, TODAY, EVEN)
    assert near.action is Action.REFUSAL and near.needs_second_analyst
    assert change_text(near.what_would_change[0]).startswith(
        "Com o consentimento do cliente para considerar o morador em situação de risco, a "
        "recomendação seria desconto para pagamento no mês: ")


def test_hardship_is_asked_about_before_any_relief(criteria):
    rec = recommend(PF, GOOD, REQUEST, replace(ANSWERED, hardship=""), criteria, TODAY, EVEN)
    assert rec.action is Action.ASK_INFO and rec.missing == ("hardship",)
    assert any(r.criterion == "pratica.necessidade" for r in rec.reasons)
    assert "perda de emprego informada" in change_text(rec.what_would_change[0])
