"""The review app in-process: widgets changed as an analyst would, no kernel needed."""

import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from relief_kit.core.criteria import DEFAULT_CRITERIA
from relief_kit.core.decisions import terms_problems
from relief_kit.core.model import Action
from relief_kit.shell.case import open_case
from relief_kit.shell.review import ReviewApp, even_instalments
from relief_kit.store.cases import open_store
from relief_kit.text.lines import problem_lines
from tests.case_folder import HOSTILE, WHATSAPP_REQUEST, sample_copy

CLOCK = datetime(2026, 11, 20, 15, 30)


@pytest.fixture
def folder(tmp_path):
    return sample_copy(tmp_path)


def app_for(folder, analyst="Ana", request_id=WHATSAPP_REQUEST, **options) -> ReviewApp:
    return ReviewApp(open_case(folder, request_id, **options), analyst=analyst,
                     clock=lambda: CLOCK)


def answer_everything(app: ReviewApp) -> None:
    app.documented.value = "sim"
    app.small_business.value = "nao"
    app.at_risk.value = "nao"
    app.hardship.value = "job_loss"


def test_widgets_start_from_the_intake_answers_and_the_panel_shows_the_recommendation(folder):
    app = app_for(folder)
    intake = app.case.checklist
    assert app.checklist().documented is intake.documented
    assert app.checklist().asked == intake.asked
    assert app.recommendation == app.case.recommendation
    assert f'data-action="{app.recommendation.action.value}"' in app.panel.value
    assert app.action.value is app.recommendation.action


def test_answering_that_nothing_is_in_writing_turns_the_recommendation_into_asking(folder):
    app = app_for(folder)
    answer_everything(app)
    before = app.panel.value
    assert app.recommendation.action is not Action.ASK_INFO
    app.documented.value = "nao"
    assert app.recommendation.action is Action.ASK_INFO
    assert 'data-action="ask_info"' in app.panel.value and app.panel.value != before
    assert app.action.value is Action.ASK_INFO  # the decision follows until touched


def test_an_unanswered_required_item_is_asked_for(folder):
    app = app_for(folder)
    answer_everything(app)
    app.small_business.value = None
    assert app.recommendation.missing == ("small_business",)
    assert "pequeno negócio" in app.panel.value


def test_at_risk_household_shows_category_and_consent_and_blocks_plain_refusal(folder):
    app = app_for(folder)
    answer_everything(app)
    assert app.at_risk_box.layout.display == "none"
    app.at_risk.value = "sim"
    assert app.at_risk_box.layout.display == ""
    # A refusal stays possible, but only confirmed by a second analyst.
    if app.recommendation.action is Action.REFUSAL:
        assert app.recommendation.needs_second_analyst
    labels = [label for label, _ in app.at_risk_category.options]
    assert labels == ["— escolha —", "Idoso", "Doença crônica", "Deficiência", "Outro"]
    app.at_risk_category.value = "idoso"
    app.at_risk_consent.value = True
    assert "weights.at_risk" in app.panel.value
    # Saying "no" afterwards keeps no category or consent (LGPD necessity).
    app.at_risk.value = "nao"
    assert app.checklist().at_risk_category == "" and app.checklist().at_risk_consent is False


def test_no_free_text_field_asks_about_health(folder):
    app = app_for(folder)
    texts = [name for name, widget in vars(app).items()
             if type(widget).__name__ in ("Text", "Textarea")]
    assert sorted(texts) == ["analyst", "capacity_monthly", "justification", "notes",
                             "proposed_amount", "second_analyst"]
    assert "Não escreva diagnósticos" in app.notes.placeholder


def test_extra_items_of_the_criteria_file_become_checkboxes_that_weigh(folder, tmp_path):
    text = Path(DEFAULT_CRITERIA).read_text(encoding="utf-8")
    criteria = tmp_path / "criteria.toml"
    criteria.write_text(text + '\n[[checklist.extra]]\nkey = "wholesale_client"\n'
                        f'label = "Cliente {HOSTILE} atacadista?"\nweight = 2\n',
                        encoding="utf-8")
    app = app_for(folder, criteria_path=criteria)
    assert set(app.extra) == {"wholesale_client"}
    question = app.extra_rows["wholesale_client"].children[0].value
    assert "Cliente &lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }} atacadista?" in question
    answer_everything(app)
    score = app.recommendation.score
    app.extra["wholesale_client"].value = True
    assert app.recommendation.score == score + 2
    assert "checklist.extra.wholesale_client" in app.panel.value
    assert "<script>" not in app.panel.value


def test_proposal_of_the_customer_changes_the_terms_and_a_bad_amount_is_explained(folder):
    app = app_for(folder)
    answer_everything(app)
    app.asked.value = "new_date"
    proposed = app.case.today + timedelta(days=20)
    app.proposed_date.day = proposed
    postponement = next(o for o in app.recommendation.options
                        if o.action is Action.POSTPONEMENT)
    assert postponement.terms.new_due_date == proposed
    app.proposed_amount.value = "1.149"
    assert app.checklist().proposed_amount is None
    assert "ambíguo" in app.message.value
    app.proposed_amount.value = "120,50"
    assert app.checklist().proposed_amount == Decimal("120.50")


def test_recording_a_decision_saves_answers_and_decision_and_reopening_restores_them(folder):
    app = app_for(folder)
    answer_everything(app)
    app.asked.value = "new_date"
    app.notes.value = "Cliente <b>pediu</b> prazo até o dia 10."
    app.hardship.value = "income_drop"
    app.capacity_monthly.value = "60,00"
    app.action.value = Action.POSTPONEMENT
    app.new_due_date.day = date(2026, 12, 10)
    app.justification.value = "Boa pagadora, desemprego recente."
    recorded = app.record()
    assert recorded is not None and "Decisão registrada" in app.message.value
    stored = open_store(folder).history(WHATSAPP_REQUEST)
    assert len(stored) == 1
    decision = stored[0]
    assert decision.action == "postponement" and decision.analyst == "Ana"
    assert decision.terms.new_due_date == date(2026, 12, 10)
    assert decision.decided_at == CLOCK
    assert decision.criteria_version == app.criteria.version
    assert decision.criteria_hash == app.criteria.sha256
    assert "<b>" not in app.decisions_view.value

    again = app_for(folder, analyst="Ana")
    assert again.checklist() == app.checklist()
    assert again.notes.value == "Cliente <b>pediu</b> prazo até o dia 10."
    assert again.hardship.value == "income_drop"
    assert again.capacity_monthly.value == "60,00"
    assert again.action.value is Action.POSTPONEMENT
    assert again.new_due_date.day == date(2026, 12, 10)
    assert again.new_due_date.value == "10/12/2026"
    assert "Boa pagadora" in again.decisions_view.value


def test_a_decision_needs_the_required_answers_and_a_justification(folder):
    app = app_for(folder)
    app.small_business.value = None
    # Any action but asking for information (which is how missing answers are got).
    app.action.value = Action.REFUSAL
    app.justification.value = ""
    assert app.record() is None
    assert "Responda antes" in app.message.value
    assert "justificativa" in app.message.value
    assert open_store(folder).history(WHATSAPP_REQUEST) == []


def test_second_analyst_is_told_of_the_first_decision_and_loses_nothing(folder):
    first, second = app_for(folder, "Ana"), app_for(folder, "Bia")
    for app, why in ((first, "Primeira análise."), (second, "Segunda análise.")):
        answer_everything(app)
        app.justification.value = why
    second.notes.value = "Notas da Bia"
    assert first.record() is not None
    assert second.record() is None
    assert "Ana registrou" in second.message.value
    assert "nada do que você escreveu se perdeu" in second.message.value
    assert second.justification.value == "Segunda análise."
    assert open_store(folder).load_answers(WHATSAPP_REQUEST).notes == "Notas da Bia"
    assert "Primeira análise." in second.decisions_view.value
    # Having seen it, a second click records the second decision; both are kept.
    assert second.record() is not None
    assert [d.analyst for d in open_store(folder).history(WHATSAPP_REQUEST)] == ["Ana", "Bia"]


def test_refusing_an_at_risk_household_needs_a_second_analyst(folder):
    app = app_for(folder)
    answer_everything(app)
    app.at_risk.value = "sim"
    app.at_risk_category.value = "idoso"
    app.at_risk_consent.value = True
    app.action.value = Action.REFUSAL
    assert app.second_box.layout.display == ""
    app.justification.value = "Dívida antiga e acordo anterior quebrado."
    assert app.record() is None
    assert "segundo analista" in app.message.value
    app.second_analyst.value = "Carla"
    recorded = app.record()
    assert recorded is not None and recorded.second_analyst == "Carla"


def test_the_analyst_can_change_the_terms_and_return_to_the_recommendation(folder):
    app = app_for(folder)
    answer_everything(app)
    app.action.value = Action.INSTALMENTS
    app.instalment_count.value = 3
    app.first_due.day = date(2026, 12, 1)
    terms = app.terms()
    # 01/01/2027 is a holiday (and a Friday): the next business day, Monday 04/01.
    assert [i.due_date for i in terms.instalments] == [date(2026, 12, 1), date(2027, 1, 4),
                                                       date(2027, 2, 1)]
    assert sum(i.amount for i in terms.instalments) == terms.amount
    assert "3 parcelas" in app.terms_text.value
    app.documented.value = "nao"  # a touched decision no longer follows the panel
    assert app.action.value is Action.INSTALMENTS
    app.use_recommendation.click()
    assert app.action.value is app.recommendation.action is Action.ASK_INFO


def test_terms_beyond_the_criteria_are_pointed_out_but_allowed(folder):
    app = app_for(folder)
    answer_everything(app)
    app.action.value = Action.DISCOUNT
    app.discount_percent.value = 35
    app.pay_by.day = app.case.today + timedelta(days=5)
    assert "discount.min_percent/max_percent" in app.terms_text.value
    app.justification.value = "Cliente de 20 anos, caso excepcional."
    assert app.record() is not None


def test_terms_must_be_complete_and_in_the_future():
    today = date(2026, 11, 20)
    assert problem_lines(terms_problems(Action.POSTPONEMENT, _terms(), today)) == [
        "Informe o novo vencimento."]
    assert terms_problems(Action.POSTPONEMENT, _terms(new_due_date=today), today)
    assert terms_problems(Action.DISCOUNT, _terms(discount_percent=Decimal("10"),
                                                  pay_by=date(2026, 11, 1)), today)
    assert not terms_problems(Action.REFUSAL, _terms(), today)
    plan = even_instalments(Decimal("100.00"), 3, date(2026, 1, 31))
    assert [i.amount for i in plan] == [Decimal("33.33"), Decimal("33.33"), Decimal("33.34")]
    # Saturdays 31/01 and 28/02/2026 move to the Mondays after them.
    assert [i.due_date for i in plan] == [date(2026, 2, 2), date(2026, 3, 2),
                                          date(2026, 3, 31)]


def test_opening_the_review_is_in_the_audit_trail(folder):
    app_for(folder, analyst="Ana")
    entries = open_store(folder).audit(WHATSAPP_REQUEST)
    assert [(e["who"], e["what"]) for e in entries] == [("Ana", "abriu")]


def _terms(**fields):
    from relief_kit.core.model import Terms

    return Terms(amount=Decimal("100.00"), **fields)


def test_recording_the_same_decision_twice_keeps_one_and_the_button_says_it_is_saved(folder):
    app = app_for(folder)
    answer_everything(app)
    app.justification.value = "Boa pagadora."
    first = app.record()
    assert first is not None
    assert app.record_button.description == "Decisão registrada"
    again = app.record()
    assert again.decision_id == first.decision_id
    assert "já está registrada" in app.message.value
    assert len(open_store(folder).history(WHATSAPP_REQUEST)) == 1
    app.justification.value = "Boa pagadora; confirmou por telefone."
    assert app.record_button.description == "Registrar decisão"
    assert app.record() is not None
    assert len(open_store(folder).history(WHATSAPP_REQUEST)) == 2
    reopened = app_for(folder)
    assert reopened.record_button.description == "Decisão registrada"


def test_an_error_goes_away_when_the_value_is_fixed(folder):
    app = app_for(folder)
    answer_everything(app)
    app.proposed_amount.value = "abc"
    assert "Valor proposto" in app.message.value
    app.proposed_amount.value = "120,50"
    assert app.message.value == ""
    app.justification.value = ""
    assert app.record() is None and "justificativa" in app.message.value
    app.justification.value = "Motivo escrito."
    assert "justificativa" not in app.message.value


def test_dates_are_typed_and_shown_as_dd_mm_aaaa(folder):
    app = app_for(folder)
    answer_everything(app)
    app.action.value = Action.POSTPONEMENT
    assert re.fullmatch(r"\d{2}/\d{2}/\d{4}", app.new_due_date.value)
    app.new_due_date.value = "10/12/2026"
    assert app.terms().new_due_date == date(2026, 12, 10)
    app.new_due_date.value = "12/31/2026"  # what an English date picker would give
    app.justification.value = "Adiar."
    assert app.record() is None
    assert "Novo vencimento: data inválida" in app.message.value
    app.new_due_date.value = "31/12/2026"
    assert "data inválida" not in app.message.value


def test_a_proposal_beyond_the_discount_limit_is_shown_with_the_limit(folder):
    app = app_for(folder)
    answer_everything(app)
    amount = app.amount()
    app.asked.value = "discount"
    app.proposed_amount.value = str((amount / 4).quantize(Decimal("0.01"))).replace(".", ",")
    discount = next(o for o in app.recommendation.options if o.action is Action.DISCOUNT)
    assert discount.terms.discount_percent == app.criteria["discount.max_percent"]
    # a quarter of the debt: a 75% discount
    assert discount.note.code == "proposed_discount_past_limit"
    assert "75,0% de desconto" in app.options_panel.value
    assert "discount.max_percent" in app.options_panel.value


#: A request written over WhatsApp by a contact saved as a bare phone number.
PHONE_AUTHOR_REQUEST = "R0033"


def test_revealing_document_and_phone_is_audited_and_every_view_follows(folder):
    from relief_kit.shell.review import customer_view, written_request_view

    case = open_case(folder, PHONE_AUTHOR_REQUEST)
    card = customer_view(case, True, "Ana").widget.children[0]
    chat = written_request_view(case, True).widget
    button = customer_view.__globals__["_REVEALS"][PHONE_AUTHOR_REQUEST].button
    assert "rk-msg-author" in chat.value and "9****-" in chat.value
    assert _unmasked_phones(card.value) == _unmasked_phones(chat.value) == []
    button.value = True
    assert _unmasked_phones(card.value) and _unmasked_phones(chat.value)
    button.value = False
    assert _unmasked_phones(chat.value) == []
    entries = open_store(folder).audit(PHONE_AUTHOR_REQUEST)
    assert [(e["who"], e["what"], e["detail"]) for e in entries] == [
        ("Ana", "revelou", "CPF/CNPJ e telefone")]


def _unmasked_phones(html: str) -> list[str]:
    return re.findall(r"\(\d{2}\) \d{4,5}-\d{4}|\+55 \d{2} \d{4,5}-\d{4}|\d{3}\.\d{3}\.\d{3}-\d{2}",
                      html)
