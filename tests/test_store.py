import sqlite3
import threading
from datetime import date, datetime
from decimal import Decimal

import pytest

from relief_kit.core.criteria import load_criteria
from relief_kit.core.errors import InputError
from relief_kit.core.model import Action, Checklist, Instalment, Terms
from relief_kit.store.cases import DecisionConflict, DecisionDraft, open_store

NOW = datetime(2026, 11, 20, 14, 3)
ANSWERS = Checklist(documented=True, channel="whatsapp", small_business=True, at_risk=True,
                    at_risk_category="idoso", at_risk_consent=True, asked="instalments",
                    proposed_date=date(2026, 12, 5), proposed_amount=Decimal("150.50"),
                    notes="Cliente ligou de novo.", extra={"lost_income": True},
                    hardship="job_loss", hardship_since=date(2026, 9, 1),
                    capacity_monthly=Decimal("60.00"))
PLAN = Terms(amount=Decimal("300.00"), instalments=(
    Instalment(1, date(2026, 12, 1), Decimal("150.00")),
    Instalment(2, date(2027, 1, 1), Decimal("150.00"))))


@pytest.fixture(scope="module")
def criteria():
    return load_criteria()


POSTPONED = Terms(amount=Decimal("300.00"), new_due_date=date(2026, 12, 10))


def draft(analyst="Ana", action=Action.INSTALMENTS, second=""):
    terms = {Action.INSTALMENTS: PLAN, Action.POSTPONEMENT: POSTPONED}.get(
        action, Terms(amount=Decimal("300.00")))
    return DecisionDraft(action, terms, "Histórico bom, perdeu o emprego.", analyst, second,
                         Action.POSTPONEMENT)


def test_answers_round_trip_exactly(tmp_path):
    store = open_store(tmp_path)
    store.save_answers("r1", ANSWERS, analyst="Ana", now=NOW)
    assert open_store(tmp_path).load_answers("r1") == ANSWERS
    assert store.load_answers("nope") is None


def test_store_file_is_private(tmp_path):
    open_store(tmp_path)
    assert ((tmp_path / "cases.sqlite").stat().st_mode & 0o777) == 0o600


def test_diagnosis_instead_of_a_category_is_refused(tmp_path):
    store = open_store(tmp_path)
    with pytest.raises(InputError, match="nunca um diagnóstico"):
        store.save_answers("r1", Checklist(at_risk=True, at_risk_category="hipertensão"),
                           analyst="Ana")


def test_decisions_are_appended_never_overwritten(tmp_path, criteria):
    store = open_store(tmp_path)
    first = store.record_decision("r1", draft(), criteria, checklist=ANSWERS,
                                  expected_previous=None, now=NOW)
    second = store.record_decision("r1", draft("Bia", Action.POSTPONEMENT), criteria,
                                   checklist=ANSWERS, expected_previous=first.decision_id,
                                   now=NOW.replace(hour=15))
    history = store.history("r1")
    assert [d.decision_id for d in history] == [first.decision_id, second.decision_id]
    assert history[0].terms == PLAN and history[0].action == "instalments"
    assert history[0].criteria_hash == criteria.sha256
    assert history[0].recommended_action == "postponement"
    assert history[0].checklist == ANSWERS
    assert store.latest_decisions()[0].analyst == "Bia"


def test_second_analyst_is_told_and_nothing_is_lost(tmp_path, criteria):
    ana, bia = open_store(tmp_path), open_store(tmp_path)  # two connections
    ana.record_decision("r1", draft("Ana"), criteria, checklist=ANSWERS,
                        expected_previous=None, now=NOW)
    with pytest.raises(DecisionConflict, match="Ana registrou 'Parcelamento' em 20/11/2026 14:03"):
        bia.record_decision("r1", draft("Bia", Action.REFUSAL, "Caio"), criteria,
                            checklist=ANSWERS, expected_previous=None, now=NOW)
    assert [d.analyst for d in bia.history("r1")] == ["Ana"]


def test_racing_analysts_only_one_wins(tmp_path, criteria):
    open_store(tmp_path)
    results, barrier = [], threading.Barrier(4)

    def decide(name):
        store = open_store(tmp_path)
        barrier.wait()
        try:
            store.record_decision("r1", draft(name), criteria, checklist=ANSWERS,
                                  expected_previous=None, now=NOW)
            results.append("ok")
        except DecisionConflict:
            results.append("conflict")

    threads = [threading.Thread(target=decide, args=(n,)) for n in "ABCD"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["conflict"] * 3 + ["ok"]
    assert len(open_store(tmp_path).history("r1")) == 1


def test_refusing_an_at_risk_household_needs_another_analyst(tmp_path, criteria):
    store = open_store(tmp_path)
    alone = store.validate_decision(draft("Ana", Action.REFUSAL), ANSWERS, criteria)
    assert any("segundo analista" in p for p in alone)
    same = store.validate_decision(draft("Ana", Action.REFUSAL, "ana"), ANSWERS, criteria)
    assert any("outra pessoa" in p for p in same)
    assert store.validate_decision(draft("Ana", Action.REFUSAL, "Caio"), ANSWERS, criteria) == []


def test_unanswered_required_items_block_the_decision(tmp_path, criteria):
    store = open_store(tmp_path)
    with pytest.raises(InputError, match="Responda antes"):
        store.record_decision("r1", draft(), criteria, checklist=Checklist(documented=True),
                              expected_previous=None, now=NOW)
    assert store.history("r1") == []


def test_locked_database_is_reported_in_one_line(tmp_path, criteria, monkeypatch):
    import relief_kit.store.cases as store_module

    store = open_store(tmp_path)
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_SECONDS", 0.2)
    store._db.execute("PRAGMA busy_timeout = 200")
    holder = sqlite3.connect(tmp_path / "cases.sqlite", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # a crashed process that kept its write lock
    try:
        with pytest.raises(InputError, match="bloqueado por outro processo") as error:
            store.save_answers("r1", ANSWERS, analyst="Ana")
        assert "\n" not in str(error.value)
    finally:
        holder.execute("ROLLBACK")


def test_purge_drops_sensitive_details_but_keeps_the_trail(tmp_path, criteria):
    store = open_store(tmp_path)
    store.save_answers("r1", ANSWERS, analyst="Ana", now=NOW)
    store.record_decision("r1", draft(), criteria, checklist=ANSWERS, expected_previous=None,
                          now=NOW)
    store.purge_sensitive("r1", who="retenção", now=NOW)
    answers = store.load_answers("r1")
    assert answers.at_risk_category == "" and answers.notes == "" and answers.at_risk is True
    assert store.history("r1")[0].checklist.at_risk_category == ""
    assert [a["what"] for a in store.audit("r1")] == ["salvou respostas", "decidiu",
                                                     "expurgou dados sensíveis"]


@pytest.mark.parametrize(("terms", "message"), [
    (Terms(amount=Decimal("300.00"), discount_percent=Decimal("150"),
           pay_by=date(2026, 11, 30)), "desconto entre 0% e 100% (recebido: 150%)"),
    (Terms(amount=Decimal("300.00"), discount_percent=Decimal("10"),
           pay_by=date(2026, 11, 1)), "já passou"),
])
def test_store_itself_refuses_impossible_discounts(tmp_path, criteria, terms, message):
    store = open_store(tmp_path)
    bad = DecisionDraft(Action.DISCOUNT, terms, "Justificada.", "Ana")
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        store.record_decision("r1", bad, criteria, checklist=ANSWERS, expected_previous=None,
                              now=NOW)
    assert store.history("r1") == []


def test_messages_sent_are_recorded_with_when_and_how(tmp_path, criteria):
    store = open_store(tmp_path)
    with pytest.raises(InputError, match="nenhuma decisão"):
        store.record_message_sent("r1", "whatsapp", analyst="Ana", now=NOW)
    decided = store.record_decision("r1", draft(), criteria, checklist=ANSWERS,
                                    expected_previous=None, now=NOW)
    with pytest.raises(InputError, match="--channel"):
        store.record_message_sent("r1", "sms", analyst="Ana", now=NOW)
    store.record_message_sent("r1", "email", analyst="Ana", now=NOW.replace(hour=16))
    [sent] = store.messages_sent("r1")
    assert (sent.channel, sent.decision_id, sent.sent_at) == (
        "email", decided.decision_id, NOW.replace(hour=16))


def test_a_store_of_the_first_schema_is_migrated_and_keeps_its_decisions(tmp_path, criteria):
    from relief_kit.store import cases

    db = sqlite3.connect(tmp_path / "cases.sqlite")
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    db.executescript(cases._MIGRATIONS[1])
    db.execute("INSERT INTO schema_version VALUES (1)")
    db.execute("INSERT INTO decisions (request_id, action, terms, justification, analyst, "
               "second_analyst, decided_at, criteria_version, criteria_hash, "
               "recommended_action, checklist) VALUES ('r1', 'instalments', ?, 'j', 'Ana', '', "
               "'2026-11-20T10:00:00', 'v', 'h', 'instalments', ?)",
               (cases._terms_json(PLAN), cases._checklist_json(ANSWERS)))
    db.commit()
    db.close()
    [decision] = open_store(tmp_path).history("r1")
    assert decision.terms == PLAN and decision.covered == ()


def test_a_store_of_the_first_schema_gains_the_hardship_answers(tmp_path):
    import sqlite3

    from relief_kit.store import cases

    db = sqlite3.connect(tmp_path / "cases.sqlite")
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for statement in cases._MIGRATIONS[1].split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute("INSERT INTO schema_version VALUES (1)")
    db.execute("INSERT INTO answers VALUES ('r1', 1, 'whatsapp', 0, 0, '', 0, 'discount', "
               "NULL, NULL, '', '{}', 'Ana', '2026-01-01T00:00:00')")
    db.commit()
    db.close()
    store = open_store(tmp_path)
    old = store.load_answers("r1")
    assert old.asked == "discount" and old.hardship == "" and old.capacity_monthly is None
    store.save_answers("r1", ANSWERS, analyst="Ana", now=NOW)
    assert open_store(tmp_path).load_answers("r1") == ANSWERS
