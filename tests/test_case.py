import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from relief_kit.core.criteria import load_criteria
from relief_kit.core.errors import InputError
from relief_kit.core.history import features, features_of
from relief_kit.core.model import Action, Checklist, Terms
from relief_kit.shell.case import (
    calibration_cache_path,
    calibration_for,
    data_fingerprint,
    debt_due_on,
    loaded_portfolio,
    notice_date_of,
    open_case,
    resolve_today,
)
from relief_kit.sources.tables import load_folder
from relief_kit.store.cases import DecisionDraft, open_store
from tests.case_folder import (
    EMAIL_REQUEST,
    UNWRITTEN_REQUEST,
    WHATSAPP_REQUEST,
    customer_of,
    evidence_of,
    sample_copy,
)

AS_OF = date(2026, 11, 20)  # data/sample/export.toml


@pytest.fixture
def folder(tmp_path):
    return sample_copy(tmp_path)


def test_case_holds_only_its_customer_and_the_same_features_as_the_whole_portfolio(folder):
    case = open_case(folder, WHATSAPP_REQUEST)
    customer_id = customer_of(folder, WHATSAPP_REQUEST)
    assert case.customer.customer_id == customer_id
    assert set(case.invoices["customer_id"]) == {customer_id}
    portfolio = load_folder(folder)
    criteria = load_criteria()
    everyone = features(portfolio.invoices, portfolio.customers, criteria, AS_OF)
    assert case.features == features_of(everyone, customer_id)
    assert len(case.history) == len(portfolio.invoices_of(customer_id))


def test_a_case_served_from_the_loaded_portfolio_is_the_case_read_alone(folder):
    from relief_kit.shell.facts import facts_of

    fingerprint = data_fingerprint(folder)
    moment = datetime(2026, 11, 20, 9, 0)
    for request_id in load_folder(folder).requests["request_id"]:
        alone = open_case(folder, request_id)
        served = open_case(folder, request_id, data_fingerprint=fingerprint)
        assert facts_of(served, moment) == facts_of(alone, moment)
        pd.testing.assert_frame_equal(served.history, alone.history)
        assert served.customer == alone.customer


def test_the_portfolio_is_loaded_once_per_fingerprint_and_again_when_it_changes(folder):
    fingerprint = data_fingerprint(folder)
    first = loaded_portfolio(folder, fingerprint)
    assert loaded_portfolio(folder, fingerprint) is first
    open_case(folder, WHATSAPP_REQUEST, data_fingerprint=fingerprint)
    open_case(folder, EMAIL_REQUEST, data_fingerprint=fingerprint)
    assert loaded_portfolio(folder, fingerprint) is first
    assert len(first._features) == 1 and len(first._calibrations) == 1

    invoices = folder / "invoices.csv"
    invoices.write_text(invoices.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    changed = data_fingerprint(folder)
    assert changed != fingerprint
    assert loaded_portfolio(folder, changed) is not first


def test_today_defaults_to_the_export_date_and_accepts_brazilian_dates(folder):
    assert open_case(folder, WHATSAPP_REQUEST).today == AS_OF
    assert resolve_today("", folder) == AS_OF
    assert resolve_today("05/12/2026", folder) == date(2026, 12, 5)
    with pytest.raises(InputError, match="today"):
        resolve_today("32/13/2026", folder)


def test_checklist_is_the_intake_until_answers_are_saved_then_the_saved_answers(folder):
    case = open_case(folder, WHATSAPP_REQUEST)
    assert not case.answers_restored
    assert case.checklist == Checklist.from_request(case.request)
    answers = Checklist(documented=True, channel="whatsapp", small_business=False,
                        at_risk=True, at_risk_category="idoso", at_risk_consent=True,
                        asked="new_date", proposed_date=date(2026, 12, 10),
                        notes="Ligou de novo.", extra={"lost_income": True})
    open_store(folder).save_answers(WHATSAPP_REQUEST, answers, analyst="Ana")
    reopened = open_case(folder, WHATSAPP_REQUEST)
    assert reopened.answers_restored
    assert reopened.checklist == answers
    assert reopened.recommendation == reopened.recommend(answers)


def test_latest_decision_and_every_earlier_one_come_with_the_case(folder):
    store = open_store(folder)
    case = open_case(folder, WHATSAPP_REQUEST, store=store)
    assert case.decision is None and case.decisions == ()
    criteria = load_criteria()
    terms = Terms(amount=Decimal("149.90"), new_due_date=date(2026, 12, 5))
    first = store.record_decision(
        WHATSAPP_REQUEST, DecisionDraft(Action.POSTPONEMENT, terms, "Pediu prazo.", "Ana"),
        criteria, checklist=case.checklist, expected_previous=None,
        now=datetime(2026, 11, 20, 10))
    store.record_decision(
        WHATSAPP_REQUEST, DecisionDraft(Action.REFUSAL, Terms(amount=Decimal("149.90")),
                                        "Revisto.", "Bia"),
        criteria, checklist=case.checklist, expected_previous=first.decision_id,
        now=datetime(2026, 11, 21, 10))
    reopened = open_case(folder, WHATSAPP_REQUEST)
    assert [d.analyst for d in reopened.decisions] == ["Ana", "Bia"]
    assert reopened.decision.analyst == "Bia"


def test_written_request_is_parsed_whatsapp_or_email_and_absent_when_not_written(folder):
    chat = open_case(folder, WHATSAPP_REQUEST).written_request
    assert chat.kind == "whatsapp"
    assert any(m.from_customer for m in chat.messages)
    assert not any(m.from_customer for m in chat.messages
                   if m.author == "NetVale Atendimento")
    assert open_case(folder, EMAIL_REQUEST).written_request.kind == "email"
    unwritten = open_case(folder, UNWRITTEN_REQUEST)
    assert unwritten.written_request is None and unwritten.evidence_problem == ""


def test_unreadable_written_request_is_explained_and_the_case_still_opens(folder):
    evidence_of(folder, WHATSAPP_REQUEST).write_text("isto não é uma conversa\n",
                                                     encoding="utf-8")
    case = open_case(folder, WHATSAPP_REQUEST)
    assert case.written_request is None
    assert "WhatsApp" in case.evidence_problem
    assert case.recommendation is not None


def test_missing_request_or_folder_is_one_portuguese_line(folder, tmp_path):
    with pytest.raises(InputError, match="pedido 'R9999' não encontrado"):
        open_case(folder, "R9999")
    with pytest.raises(InputError, match="data_dir"):
        open_case("", WHATSAPP_REQUEST)
    with pytest.raises(InputError, match="request_id"):
        open_case(folder, "")
    with pytest.raises(InputError, match="pasta de dados não encontrada"):
        open_case(tmp_path / "nada", WHATSAPP_REQUEST)


def test_calibration_is_cached_in_the_data_folder_and_read_back(folder):
    criteria = load_criteria()
    first = calibration_for(folder, criteria, AS_OF)
    path = calibration_cache_path(folder, criteria, AS_OF)
    assert path.parent == folder / ".relief-kit" and path.is_file()
    # Prove the file is what a later kernel uses: a value written into it comes back.
    payload = json.loads(path.read_text(encoding="utf-8"))
    payload["calibration"]["calibration"]["ordinary"]["good"][2] = 0.123
    path.write_text(json.dumps(payload), encoding="utf-8")
    assert calibration_for(folder, criteria, AS_OF).ordinary["good"].used == 0.123
    assert first.ordinary["good"].used != 0.123


def test_calibration_cache_key_follows_the_tables_the_criteria_and_the_date(folder, tmp_path):
    criteria = load_criteria()
    before = calibration_cache_path(folder, criteria, AS_OF)
    assert calibration_cache_path(folder, criteria, date(2026, 11, 21)) != before
    edited = tmp_path / "criteria.toml"
    text = Path(criteria.source).read_text(encoding="utf-8")
    edited.write_text(text.replace('version = "', 'version = "x', 1), encoding="utf-8")
    assert calibration_cache_path(folder, load_criteria(edited), AS_OF) != before
    with (folder / "invoices.csv").open("a", encoding="utf-8") as handle:
        handle.write("\n")
    after_bills = calibration_cache_path(folder, criteria, AS_OF)
    assert after_bills != before
    # The fit reads the customers too (cancellations: how long a customer stays).
    with (folder / "customers.csv").open("a", encoding="utf-8") as handle:
        handle.write("\n")
    assert calibration_cache_path(folder, criteria, AS_OF) != after_bills


def test_calibration_passed_in_prices_the_options(folder):
    criteria = load_criteria()
    calibration = calibration_for(folder, criteria, AS_OF)
    case = open_case(folder, WHATSAPP_REQUEST, calibration=calibration)
    refusal = next(o for o in case.recommendation.options if o.action is Action.REFUSAL)
    chance, _ = calibration.estimate(case.features, Action.REFUSAL,
                                     depth=float(refusal.terms.amount)
                                     / float(case.customer.monthly_fee))
    assert refusal.probability == pytest.approx(
        chance * case.criteria["money.refused_payment_factor"])


def test_suspension_clock_starts_at_the_earliest_notice_of_a_bill_still_open():
    t = pd.Timestamp
    bills = pd.DataFrame({
        "status": ["paid", "open", "open", "partial", "open"],
        "due_date": [t("2026-08-10"), t("2026-09-10"), t("2026-10-10"), t("2026-11-10"),
                     t("2026-12-10")],
        "notified_on": [t("2026-08-15"), pd.NaT, t("2026-10-15"), t("2026-11-15"),
                        t("2026-12-15")],
    })
    assert notice_date_of(bills, date(2026, 11, 20)) == date(2026, 10, 15)
    assert notice_date_of(bills[bills["status"] == "paid"], date(2026, 11, 20)) is None


def test_regulatory_timeline_is_in_the_case_with_the_provider_calendar(folder):
    case = open_case(folder, WHATSAPP_REQUEST)
    assert case.calendar.state == case.criteria["suspension.state"] and case.calendar.carnival
    if case.regulatory.status == "nothing_due":
        assert case.regulatory.acts == ()
    else:
        assert case.regulatory.suspension > case.regulatory.notice_date
        assert case.regulatory.termination > case.regulatory.suspension


def test_no_debt_due_no_notice_and_no_dates():
    t = pd.Timestamp
    bills = pd.DataFrame({"status": ["paid", "open"],
                          "due_date": [t("2026-10-10"), t("2026-12-10")]})
    assert not debt_due_on(bills, date(2026, 11, 20))
    assert debt_due_on(bills, date(2026, 12, 10))
