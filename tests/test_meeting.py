"""The meeting's numbers on small hand-made portfolios whose answers are known."""

from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
import pytest

from relief_kit.core.model import Action, Checklist
from relief_kit.core.recommend import recommend
from relief_kit.shell.meeting import (
    agreements_kept,
    bursts,
    consistency,
    decisions_by_item,
    kept_summary,
    model_reliability,
    model_skill,
    requests_over_time,
    what_if,
)
from relief_kit.shell.pseudonyms import Pseudonymizer, load_or_create_key
from relief_kit.shell.replay import CaseRecommendation
from relief_kit.text import labels
from tests.portfolio_builder import bill, invoices
from tests.test_recommend import ANSWERED, EVEN, FAIR, GOOD, PF, POOR, REQUEST

T = pd.Timestamp
PSEUDONYM = Pseudonymizer(b"k" * 32)


def _requests(rows):
    return pd.DataFrame([{"request_id": r, "customer_id": c, "received_at": T(at),
                          "channel": ch, "asked": a, "evidence_file": e}
                         for r, c, at, ch, a, e in rows])


def test_requests_over_time_counts_and_documented_share():
    table = requests_over_time(_requests([
        ("r1", "c1", "2026-10-02", "whatsapp", "discount", "r1.txt"),
        ("r2", "c2", "2026-10-20", "phone", "not_said", ""),
        ("r3", "c3", "2026-11-05", "email", "new_date", "r3.eml"),
    ]))
    assert table.loc["2026-10", ("canal", "WhatsApp")] == 1
    assert table.loc["2026-10", ("canal", "telefone")] == 1
    assert table.loc["2026-10", ("documentado", "por escrito")] == 0.5
    assert table.loc["2026-11", ("pedido", "nova data")] == 1


def _cases(*rows):
    return pd.DataFrame([{"request_id": f"r{i}", "action": a, "small_business": sb,
                          "at_risk": ar, "band": b, "documented": True, "analyst": an}
                         for i, (a, sb, ar, b, an) in enumerate(rows)])


def test_the_at_risk_household_is_not_a_meeting_table_even_as_counts():
    cases = _cases(*[("discount", False, True, "good", "A")] * 6,
                   *[("refusal", False, False, "poor", "B")] * 6)
    tables = decisions_by_item(cases)
    assert not [name for name in tables if "risco" in name]
    assert not [t for t in tables.values() if "morador em risco" in t.index.names]
    assert tables["pontualidade"].loc["fraca", "Recusa"] == 6


def test_consistency_finds_alike_cases_with_different_decisions():
    cases = _cases(("discount", True, False, "good", "A"), ("refusal", True, False, "good", "B"),
                   ("refusal", False, False, "poor", "A"), ("refusal", False, False, "poor", "B"))
    table = consistency(cases, PSEUDONYM)
    assert len(table) == 1
    assert table.iloc[0]["casos"] == 2 and "Recusa: 1" in table.iloc[0]["decisões diferentes"]


def test_agreement_kept_when_old_bills_are_paid_by_the_new_date():
    bills = invoices(bill("c1", "2026-09-10", paid="2026-10-12"),
                     bill("c2", "2026-09-10"),
                     bill("c3", "2026-09-10", paid="2026-09-10", arrangement=""),
                     bill("c3", "2026-10-25", paid="2026-10-25", arrangement="instalment"),
                     bill("c3", "2026-11-10", arrangement="instalment"))
    decisions = pd.DataFrame([
        {"request_id": "r1", "customer_id": "c1", "action": "postponement", "analyst": "A",
         "segment": "PF", "decided_at": T("2026-10-01"), "deadline": T("2026-10-15")},
        {"request_id": "r2", "customer_id": "c2", "action": "discount", "analyst": "A",
         "segment": "PF", "decided_at": T("2026-10-01"), "deadline": T("2026-10-11")},
        {"request_id": "r3", "customer_id": "c3", "action": "instalments", "analyst": "B",
         "segment": "PJ", "decided_at": T("2026-10-01"), "deadline": T("2026-11-10")},
        {"request_id": "r4", "customer_id": "c1", "action": "discount", "analyst": "B",
         "segment": "PF", "decided_at": T("2026-11-18"), "deadline": T("2026-11-28")},
    ])
    result = agreements_kept(decisions, bills, date(2026, 11, 20), grace_days=5).set_index(
        "request_id")
    assert result.loc["r1", "kept"] is True
    assert result.loc["r2", "kept"] is False
    assert result.loc["r3", "kept"] is False  # the November instalment is still unpaid
    assert not result.loc["r4", "judged"]
    summary = kept_summary(result.reset_index(), "analyst")
    assert summary.loc["A", "cumpridos"] == 1 and summary.loc["A", "taxa"] == 0.5


def test_burst_in_one_neighbourhood_is_flagged_and_small_ones_pooled():
    rows = [(f"r{i}", f"c{i}", f"2026-{m:02d}-0{1 + i % 5}", "whatsapp", "discount", "x")
            for i, m in enumerate(range(1, 11))]
    rows += [(f"b{i}", f"b{i}", "2026-11-03", "whatsapp", "discount", "x") for i in range(6)]
    customers = pd.DataFrame({"customer_id": [r[1] for r in rows],
                              "neighbourhood": ["Centro"] * 10 + ["Vila Nova"] * 6})
    table = bursts(_requests(rows), customers)
    assert table["bairro"].tolist() == ["Vila Nova"]
    assert table.iloc[0]["pedidos"] == 6


def test_what_if_with_identical_criteria_changes_nothing():
    from relief_kit.core.criteria import load_criteria

    criteria = load_criteria()
    cases = [CaseRecommendation("r1", "c1", ANSWERED, recommend(
        PF, f, REQUEST, ANSWERED, criteria, date(2026, 11, 20), EVEN)) for f in (GOOD, FAIR)]
    again = [replace(c) for c in cases]
    replay = what_if(cases, again, PSEUDONYM)
    assert replay.changed.empty and replay.money_current == replay.money_proposed


def test_what_if_reports_changes_pseudonymously():
    from relief_kit.core.criteria import load_criteria

    criteria = load_criteria()
    shop = Checklist(**{**ANSWERED.__dict__, "small_business": True})
    before = [CaseRecommendation("r1", "c1", shop, recommend(
        PF, POOR, REQUEST, shop, criteria, date(2026, 11, 20), EVEN))]
    generous = Checklist(**{**shop.__dict__, "at_risk": True, "at_risk_category": "idoso",
                            "at_risk_consent": True})
    after = [CaseRecommendation("r1", "c1", generous, recommend(
        PF, POOR, REQUEST, generous, criteria, date(2026, 11, 20), EVEN))]
    replay = what_if(before, after, PSEUDONYM)
    row = replay.changed.iloc[0]
    assert (row["de"], row["para"]) == (labels.action(Action.REFUSAL),
                                    labels.action(Action.DISCOUNT))
    assert row["cliente"] == PSEUDONYM("customer", "c1") and "c1" not in row["cliente"]


def test_the_model_is_shown_against_the_base_rate_out_of_time():
    from relief_kit import resources
    from relief_kit.core.criteria import load_criteria
    from relief_kit.core.payment_model import fit_payment_model
    from relief_kit.sources.tables import load_folder

    sample = load_folder(resources.SAMPLE)
    model = fit_payment_model(sample.invoices, sample.customers, load_criteria(),
                              date(2026, 11, 20))
    table = model_skill(model).set_index("estimador")
    assert list(table.columns) == ["Brier", "log loss", "faturas avaliadas", "corte", "usado"]
    base = next(i for i in table.index if i.startswith("taxa-base"))
    model_row = next(i for i in table.index if i.startswith("modelo"))
    assert table.loc[model_row, "Brier"] == model.skill.brier_model
    assert table.loc[base, "Brier"] == model.skill.brier_base
    reliability = model_reliability(model)
    assert reliability["faturas"].sum() == model.skill.test_bills


def test_pseudonym_key_is_created_once_private_and_stable(tmp_path):
    path = tmp_path / "conf" / "key"
    first = load_or_create_key(path)
    assert load_or_create_key(path) == first
    assert (path.stat().st_mode & 0o777) == 0o600
    a, b = Pseudonymizer(first), Pseudonymizer(b"other-key-000000")
    assert a("customer", "c1") == a("customer", "c1") != b("customer", "c1")


@pytest.mark.parametrize("broken", ["", "zz", "abcd"])
def test_unreadable_key_is_one_clear_line(tmp_path, broken):
    from relief_kit.core.errors import InputError

    path = tmp_path / "key"
    path.write_text(broken)
    with pytest.raises(InputError, match="chave de pseudônimos"):
        load_or_create_key(path)


def test_money_summary_adds_up_per_action():
    from relief_kit.shell.meeting import money_summary

    decisions = pd.DataFrame([
        {"request_id": "r1", "action": "discount", "amount": 100.0, "discount_given": 10.0,
         "decided_value": 85.0, "recommended_value": 90.0},
        {"request_id": "r2", "action": "discount", "amount": 200.0, "discount_given": 20.0,
         "decided_value": 170.0, "recommended_value": 170.0},
        {"request_id": "r3", "action": "refusal", "amount": 80.0, "discount_given": 0.0,
         "decided_value": 50.0, "recommended_value": 60.0},
    ])
    table = money_summary(decisions).set_index("ação")
    discount = table.loc[labels.action(Action.DISCOUNT)]
    assert discount["casos"] == 2 and discount["valor em jogo"] == 300.0
    assert discount["descontos concedidos"] == 30.0
    assert discount["valor presente da decisão"] == 255.0
    refusal = labels.action(Action.REFUSAL)
    assert table.loc[refusal, "valor presente da alternativa recomendada"] == 60.0


def test_agreements_joined_in_pandas_judge_as_the_scan_of_each_customers_bills():
    from relief_kit.tools.oracles import reference_agreements_loop

    rng = np.random.default_rng(3)
    rows, decisions = [], []
    for c in range(60):
        for m in range(8):
            due = pd.Timestamp("2026-04-10") + pd.DateOffset(months=m)
            late = rng.choice([None, 0, 3, 9, 40])
            rows.append(bill(f"c{c}", due.strftime("%Y-%m-%d"),
                             paid=None if late is None else
                             (due + pd.Timedelta(days=int(late))).strftime("%Y-%m-%d"),
                             arrangement="instalment" if m >= 6 and c % 3 == 0 else "",
                             status=rng.choice(["paid", "cancelled", "renegotiated"],
                                               p=[0.8, 0.1, 0.1]) if late is not None
                             else "open"))
        action = ["discount", "postponement", "instalments", "refusal"][c % 4]
        decided = pd.Timestamp("2026-08-01") + pd.Timedelta(days=int(rng.integers(0, 90)))
        deadline = None if c % 11 == 0 else decided + pd.Timedelta(days=int(rng.integers(5, 60)))
        decisions.append({"request_id": f"r{c}", "customer_id": f"c{c}" if c % 13 else "x",
                          "action": action, "analyst": "A", "segment": "PF",
                          "decided_at": decided + pd.Timedelta(hours=15),
                          "deadline": None if deadline is None else deadline.date()})
    frame, bills = pd.DataFrame(decisions), invoices(*rows)
    for as_of in (date(2026, 9, 1), date(2026, 11, 20), date(2027, 3, 1)):
        fast = agreements_kept(frame, bills, as_of, grace_days=5)
        slow = reference_agreements_loop(frame, bills, as_of, grace_days=5)
        assert fast["kept"].tolist() == slow["kept"].tolist()
        assert fast["judged"].tolist() == slow["judged"].tolist()
        assert fast["deadline"].tolist() == slow["deadline"].tolist()
        assert fast["request_id"].tolist() == slow["request_id"].tolist()
    assert {True, False, None} <= set(fast["kept"].tolist()) | {None}
