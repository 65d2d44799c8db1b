"""After the decision, end to end through the command line: decide on one export, then
read a later export where agreements were kept, one was broken and a kept agreement's
customer was blocked anyway; queue, follow-up and guard report exactly those, with
clocks in business days (holidays included), and the ERP actions match the terms.

The portfolio is built by hand so every expected figure can be worked out on paper.
First export: 20/11/2026 (a Friday and a national holiday, Consciência Negra).
"""

import csv
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from relief_kit.cli import main
from relief_kit.core import schema
from relief_kit.core.agreements import follow_up
from relief_kit.core.calendar import BusinessCalendar
from relief_kit.core.criteria import load_criteria
from relief_kit.core.decisions import CoveredBill
from relief_kit.core.model import Action, Instalment, Terms
from relief_kit.sources.tables import write_table
from relief_kit.store.cases import open_store

FIRST, LATER = date(2026, 11, 20), date(2027, 1, 20)
DECIDED_AT = "2026-11-20 10:00"
#: customer -> (request, contract status on the later export)
CUSTOMERS = {"C1": "R1", "C2": "R2", "C3": "R3", "C4": "R4", "C5": "R5", "C6": "R6",
             "C7": "R7", "C8": "R8"}


def _customers(status: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame([{
        "customer_id": c, "name": f"Cliente {c}", "document": "529.982.247-25",
        "person_type": "PF", "phone": "(35) 99999-0000", "email": f"{c.lower()}@example.com",
        "neighbourhood": "Centro", "city": "Pouso Alegre", "plan": "Fibra",
        "monthly_fee": "100.00", "customer_since": "2020-01-10", "business_kind": "",
        "contract_status": status.get(c, "active")} for c in CUSTOMERS])


def _bill(customer, due, *, paid=None, amount="100.00", amount_paid=None, status=None,
          arrangement="", invoice_id=None, notified=""):
    status = status or ("paid" if paid else "open")
    return {"invoice_id": invoice_id or f"{customer}-{due}", "customer_id": customer,
            "issued_on": "", "due_date": due, "amount": amount, "paid_on": paid or "",
            "amount_paid": amount_paid or (amount if paid else ""), "status": status,
            "notified_on": notified, "arrangement": arrangement}


def _history(customer: str, last: str = "2026-08-05") -> list[dict]:
    """Twelve punctual months up to ``last`` (a good record)."""
    days = pd.date_range(end=pd.Timestamp(last), periods=12, freq="MS") + pd.Timedelta(days=4)
    return [_bill(customer, d.date().isoformat(), paid=d.date().isoformat()) for d in days]


def _first_bills() -> list[dict]:
    bills = []
    for customer in CUSTOMERS:
        bills += _history(customer)
    bills += [
        _bill("C1", "2026-10-05"), _bill("C1", "2026-11-05"),
        _bill("C2", "2026-11-05"),
        _bill("C3", "2026-09-05"), _bill("C3", "2026-10-05"), _bill("C3", "2026-11-05"),
        _bill("C4", "2026-11-05"),
        _bill("C5", "2026-11-05"),
        _bill("C6", "2026-11-05"),
        _bill("C7", "2026-11-05"),
        _bill("C8", "2026-10-05"), _bill("C8", "2026-11-05"),
    ]
    for customer in CUSTOMERS:  # punctual September and October elsewhere
        for due in ("2026-09-05", "2026-10-05"):
            if not any(b["invoice_id"] == f"{customer}-{due}" for b in bills):
                bills.append(_bill(customer, due, paid=due))
    return bills


def _write_export(folder: Path, bills: list[dict], status: dict[str, str], as_of: date):
    write_table(_customers(status), folder, schema.CUSTOMERS)
    write_table(pd.DataFrame(bills), folder, schema.INVOICES)
    (folder / schema.FOLDER_INFO).write_text(f"as_of = {as_of.isoformat()}\n",
                                             encoding="utf-8")


def _requests(folder: Path) -> None:
    rows = []
    for customer, request in CUSTOMERS.items():
        written = request != "R6"  # R6 was a phone call: nothing in writing yet
        rows.append({
            "request_id": request, "customer_id": customer,
            "received_at": "2026-11-10 10:00", "channel": "whatsapp" if written else "phone",
            "asked": "instalments", "evidence_file": f"{request}.txt" if written else "",
            "small_business": "não", "at_risk": "não" if written else "",
            "at_risk_category": "", "at_risk_consent": "", "proposed_date": "",
            "proposed_amount": "",
            # The written request says what happened (perdeu o emprego); the phone call not.
            "hardship": "job_loss" if written else "", "hardship_since": "",
            "capacity_monthly": ""})
        if written:
            (folder / "evidence").mkdir(exist_ok=True)
            (folder / "evidence" / f"{request}.txt").write_text(
                f"10/11/2026 10:00 - Cliente {customer}: Perdi o emprego, não consigo pagar "
                "a mensalidade este mês.\n", encoding="utf-8")
    write_table(pd.DataFrame(rows), folder, schema.REQUESTS)


def _later_bills() -> list[dict]:
    """The export of 20/01/2027, after the ERP carried out the decisions."""
    bills = [b for b in _first_bills() if b["due_date"] < "2026-10-01" or b["status"] == "paid"]
    for customer in CUSTOMERS:  # December and January: punctual for everyone
        for due in ("2026-12-05", "2027-01-05"):
            bills.append(_bill(customer, due, paid=due))
    bills += [
        # C1: renegotiated into 2 instalments, both paid on time → kept.
        _bill("C1", "2026-10-05", status="renegotiated"),
        _bill("C1", "2026-11-05", status="renegotiated"),
        _bill("C1", "2026-11-30", paid="2026-11-29", arrangement="instalment"),
        _bill("C1", "2026-12-30", paid="2026-12-28", arrangement="instalment"),
        # C2: due date moved to 10/12 and paid → kept, but blocked anyway (see status).
        _bill("C2", "2026-12-10", paid="2026-12-09", invoice_id="C2-2026-11-05"),
        # C3: 3 instalments; the first paid, the second (30/12) not → broken.
        _bill("C3", "2026-10-05", status="renegotiated"),
        _bill("C3", "2026-11-05", status="renegotiated"),
        _bill("C3", "2026-11-30", paid="2026-11-30", arrangement="instalment"),
        _bill("C3", "2026-12-30", arrangement="instalment", notified="2027-01-05"),
        _bill("C3", "2027-01-30", arrangement="instalment"),
        # C4: the discounted amount paid before the pay-by date → kept (filled in below).
        # C5, C6: undecided; their November bill still open.
        _bill("C5", "2026-11-05"), _bill("C6", "2026-11-05"),
        # C7: refused; November still open.
        _bill("C7", "2026-11-05"),
        # C8: 2 instalments, the first paid, the second due on 22/01 → due soon.
        _bill("C8", "2026-10-05", status="renegotiated"),
        _bill("C8", "2026-11-05", status="renegotiated"),
        _bill("C8", "2026-12-22", paid="2026-12-21", arrangement="instalment"),
        _bill("C8", "2027-01-22", arrangement="instalment"),
    ]
    # C3's September bill went into the plan too.
    for b in bills:
        if b["invoice_id"] == "C3-2026-09-05":
            b.update(status="renegotiated", paid_on="", amount_paid="")
    return bills


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result


@pytest.fixture(scope="module")
def decided(tmp_path_factory):
    """The first export, decided through ``relief-kit decide``; customers told."""
    folder = tmp_path_factory.mktemp("after") / "dados"
    folder.mkdir()
    _write_export(folder, _first_bills(), {}, FIRST)
    _requests(folder)
    common = ["--analyst", "Ana", "--justification", "Perdeu o emprego; bom histórico.",
              "--at", DECIDED_AT]
    decisions = {
        "R1": ["--action", "instalments", "--instalments", "2", "--first-due", "30/11/2026"],
        "R2": ["--action", "postponement", "--new-due-date", "10/12/2026"],
        "R3": ["--action", "instalments", "--instalments", "3", "--first-due", "2026-11-30"],
        "R4": ["--action", "discount"],  # the recommendation's discount terms
        "R7": ["--action", "refusal"],
        "R8": ["--action", "instalments", "--instalments", "2", "--first-due", "22/12/2026"],
    }
    outputs = {}
    for request, options in decisions.items():
        result = run("decide", folder, "--request", request, *options, *common)
        assert result.exit_code == 0, result.output
        outputs[request] = result.output
    for request in ("R1", "R2", "R3", "R4", "R8"):
        result = run("sent", folder, "--request", request, "--channel", "whatsapp",
                     "--analyst", "Ana", "--at", "2026-11-23 09:00")
        assert result.exit_code == 0, result.output
    return folder, outputs


@pytest.fixture(scope="module")
def later(decided, tmp_path_factory):
    """The same folder after the later export (20/01/2027)."""
    folder, _ = decided
    later = tmp_path_factory.mktemp("later") / "dados"
    import shutil

    shutil.copytree(folder, later)
    bills = _later_bills()
    c4 = open_store(later).latest_decision("R4")
    to_pay = (c4.terms.amount * (1 - c4.terms.discount_percent / 100)).quantize(Decimal("0.01"))
    bills.append(_bill("C4", "2026-11-30", paid="2026-11-25", amount="100.00",
                       amount_paid=f"{to_pay:.2f}", invoice_id="C4-2026-11-05"))
    _write_export(later, bills, {"C2": "blocked_auto", "C3": "blocked_financial"}, LATER)
    return later


def _csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


# --------------------------------------------------------------------------- decide


def test_decide_records_what_the_command_line_says_and_the_recommendation_fills_in(decided):
    folder, outputs = decided
    store = open_store(folder)
    r1 = store.latest_decision("R1")
    assert r1.terms.instalments == (Instalment(1, date(2026, 11, 30), Decimal("100.00")),
                                    Instalment(2, date(2026, 12, 30), Decimal("100.00")))
    assert r1.decided_at == datetime(2026, 11, 20, 10, 0)
    assert [b.invoice_id for b in r1.covered] == ["C1-2026-10-05", "C1-2026-11-05"]
    r4 = store.latest_decision("R4")
    assert r4.action == "discount" and r4.terms.pay_by == date(2026, 11, 30)
    assert 5 <= r4.terms.discount_percent <= 20
    assert "decisão registrada" in outputs["R2"] and "acoes-erp-2026-11-20.csv" in outputs["R2"]


@pytest.mark.parametrize(("options", "expected"), [
    (["--action", "discount", "--discount", "150", "--pay-by", "30/11/2026"],
     ["erro: R5: Informe um desconto entre 0% e 100% (recebido: 150%)."]),
    (["--action", "discount", "--discount", "10", "--pay-by", "01/11/2026"],
     ["erro: R5: A data para pagar com desconto (01/11/2026) já passou."]),
    (["--action", "postponement", "--new-due-date", "20/11/2026", "--justification", " "],
     ["erro: R5: O novo vencimento (20/11/2026) deve ser depois de hoje.",
      "erro: R5: Escreva a justificativa da decisão."]),
])
def test_decide_refuses_bad_terms_one_line_each_and_records_nothing(tmp_path, options,
                                                                    expected):
    folder = tmp_path / "dados"
    folder.mkdir()
    _write_export(folder, _first_bills(), {}, FIRST)
    _requests(folder)
    result = CliRunner().invoke(main, ["decide", str(folder), "--request", "R5", "--analyst",
                                       "Ana", "--justification", "ok", "--at", DECIDED_AT,
                                       *options])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == expected
    assert open_store(folder).history("R5") == []
    assert "Traceback" not in result.output


def test_decide_judges_the_terms_on_the_day_of_the_decision_not_the_export(tmp_path):
    # Export of 20/11/2026, decided on 29/11: a pay-by date of 27/11 has already passed.
    folder = tmp_path / "dados"
    folder.mkdir()
    _write_export(folder, _first_bills(), {}, FIRST)
    _requests(folder)
    result = CliRunner().invoke(main, [
        "decide", str(folder), "--request", "R5", "--analyst", "Ana", "--justification", "ok",
        "--at", "2026-11-29 10:00", "--action", "discount", "--discount", "10",
        "--pay-by", "27/11/2026"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "erro: R5: A data para pagar com desconto (27/11/2026) já passou."]
    assert open_store(folder).history("R5") == []


def test_refusing_an_at_risk_household_needs_a_second_analyst_on_the_command_line(tmp_path):
    folder = tmp_path / "dados"
    folder.mkdir()
    _write_export(folder, _first_bills(), {}, FIRST)
    _requests(folder)
    from tests.case_folder import set_cell

    set_cell(folder, "requests.csv", "request_id", "R5", "at_risk", "sim")
    base = ["decide", str(folder), "--request", "R5", "--action", "refusal", "--analyst",
            "Ana", "--justification", "Sem condições."]
    refused = CliRunner().invoke(main, base)
    assert refused.exit_code == 1 and "segundo analista" in refused.output
    same = CliRunner().invoke(main, base + ["--second-analyst", "ana"])
    assert same.exit_code == 1 and "outra pessoa" in same.output
    assert CliRunner().invoke(main, base + ["--second-analyst", "Bia"]).exit_code == 0


# --------------------------------------------------------------------------- ERP actions


def test_erp_actions_file_matches_each_decision_to_the_centavo(decided):
    folder, _ = decided
    rows = _csv(folder / "acoes-erp-2026-11-20.csv")
    by_request = {}
    for row in rows:
        by_request.setdefault(row["pedido"], []).append(row)
    assert set(by_request) == {"R1", "R2", "R3", "R4", "R8"}  # no action for a refusal
    store = open_store(folder)
    r3 = store.latest_decision("R3")
    plan = by_request["R3"]
    assert [(r["acao"], r["parcela"], r["quantidade_parcelas"], r["vencimento"], r["valor"])
            for r in plan] == [
        ("renegociar", str(i.number), "3", i.due_date.isoformat(), f"{i.amount:.2f}")
        for i in r3.terms.instalments]
    assert {r["ids_faturas_origem"] for r in plan} == {
        "C3-2026-09-05,C3-2026-10-05,C3-2026-11-05"}
    assert sum(Decimal(r["valor"]) for r in plan) == r3.terms.amount == Decimal("300.00")
    [moved] = by_request["R2"]
    assert (moved["acao"], moved["id_fatura"], moved["data_vencimento"], moved["valor"],
            moved["motivo_cnab"]) == ("alterar_vencimento", "C2-2026-11-05", "2026-12-10",
                                      "100.00", "06")
    r4 = store.latest_decision("R4")
    [discount] = by_request["R4"]
    to_pay = (r4.terms.amount * (1 - r4.terms.discount_percent / 100)).quantize(
        Decimal("0.01"))
    assert Decimal(discount["valor"]) == to_pay
    assert Decimal(discount["valor"]) + Decimal(discount["valor_desconto"]) == r4.terms.amount
    assert (discount["motivo_cnab"], discount["data_vencimento"]) == ("07", "2026-11-30")


# ------------------------------------------------------------------ queue, follow-up, guard


def test_queue_on_the_first_export_counts_business_days_without_the_holiday(decided):
    folder, _ = decided
    result = run("queue", folder)
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("3 caso(s) aberto(s) em 20/11/2026")
    # R5 arrived on Tuesday 10/11: 5 business days → 17/11; 18 and 19 late, 20 a holiday.
    assert lines[1].startswith("R5  novo  7 dia(s) útil(eis)  decidir até 17/11/2026, "
                               "ATRASADO 2 dia(s) útil(eis)")
    # R7 refused on 20/11 (a holiday): tell by 24/11 (Monday 23, Tuesday 24).
    assert lines[2].startswith("R7  decidido, cliente ainda não avisado  0 dia(s) útil(eis)  "
                               "avisar o cliente até 24/11/2026  com: Ana")
    assert lines[3].startswith("R6  aguardando informações")
    assert "sem prazo correndo" in lines[3]


def test_queue_follow_up_and_guard_on_the_later_export(later):
    queue = run("queue", later)
    lines = queue.output.strip().splitlines()
    assert [line.split()[0] for line in lines[1:]] == ["R5", "R7", "R6"]
    assert "ATRASADO" in lines[1] and "ATRASADO" in lines[2]

    follow = run("follow-up", later)
    assert follow.exit_code == 0, follow.output
    out = follow.output.strip().splitlines()
    assert out[0] == ("R3  cliente C3  rompido: faltaram R$ 100,00 em 30/12/2026 "
                      "(14 dia(s) útil(eis) de atraso)")
    assert out[1] == ("R8  cliente C8  vence em breve: R$ 100,00 até 22/01/2027 "
                      "(2 dia(s) útil(eis))")
    assert [line.split()[0] for line in out[2:5]] == ["R1", "R2", "R4"]
    assert all("cumprido" in line for line in out[2:5])
    assert out[5] == "Acordos: 3 cumpridos, 1 vencendo em breve, 1 rompidos."

    guard = run("guard", later)
    assert guard.exit_code == 1
    found = guard.output.strip().splitlines()
    # C2 kept its agreement and is blocked; C3 broke it (and is blocked): only C2.
    assert found[1:] == ["R2  cliente C2  acordo em dia: conexão bloqueada "
                         "automaticamente no ERP"]


def test_guard_passes_when_nobody_protected_is_restricted(decided):
    folder, _ = decided
    result = run("guard", folder)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Nenhum cliente")


def test_guard_reports_a_notice_and_a_fine_on_an_open_case(decided, tmp_path):
    folder, _ = decided
    import shutil

    copy = tmp_path / "dados"
    shutil.copytree(folder, copy)
    bills = _first_bills()
    for b in bills:
        if b["invoice_id"] == "C5-2026-11-05":
            b.update(notified_on="2026-11-15", fine="2.00")
    _write_export(copy, bills, {}, FIRST)
    result = run("guard", copy)
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[1:] == [
        "R5  cliente C5  caso aberto: fatura C5-2026-11-05 notificada em 15/11/2026",
        "R5  cliente C5  caso aberto: multa de R$ 2,00 na fatura C5-2026-11-05"]


def test_sent_needs_a_decision_and_a_known_channel(decided):
    folder, _ = decided
    undecided = run("sent", folder, "--request", "R5", "--channel", "whatsapp")
    assert undecided.exit_code == 1 and "nenhuma decisão" in undecided.output
    unknown = run("sent", folder, "--request", "R1", "--channel", "sms")
    assert unknown.exit_code == 2 and "--channel" in unknown.output
    [message] = open_store(folder).messages_sent("R1")
    assert (message.channel, message.sent_at) == ("whatsapp", datetime(2026, 11, 23, 9))


# --------------------------------------------------------------------------- pure pieces


def test_a_late_payment_still_within_the_grace_days_keeps_the_agreement():
    criteria = load_criteria()
    terms = Terms(amount=Decimal("100.00"), new_due_date=date(2026, 12, 10))
    covered = (CoveredBill("b1", date(2026, 11, 5), Decimal("100.00")),)
    bills = pd.DataFrame([{
        "invoice_id": "b1", "customer_id": "c", "due_date": pd.Timestamp("2026-12-10"),
        "amount": 100.0, "paid_on": pd.Timestamp(paid), "amount_paid": 100.0,
        "status": "paid", "notified_on": pd.NaT, "arrangement": ""}
        for paid in ["2026-12-13"]])
    grace = criteria["follow_up.grace_days"]
    assert grace == 3
    check = follow_up(request_id="r", customer_id="c", decision_id=1, action="postponement",
                      terms=terms, covered=covered, decided_at=datetime(2026, 11, 20),
                      invoices=bills, as_of=date(2027, 1, 5), criteria=criteria,
                      calendar=BusinessCalendar("MG"))
    assert check.kind == "kept"
    late = bills.assign(paid_on=pd.Timestamp("2026-12-14"))
    check = follow_up(request_id="r", customer_id="c", decision_id=1, action="postponement",
                      terms=terms, covered=covered, decided_at=datetime(2026, 11, 20),
                      invoices=late, as_of=date(2027, 1, 5), criteria=criteria,
                      calendar=BusinessCalendar("MG"))
    assert (check.kind, check.missed_date, check.shortfall) == (
        "broken", date(2026, 12, 10), Decimal("100.00"))


def test_business_days_skip_weekends_and_national_and_state_holidays():
    calendar = BusinessCalendar("MG")
    assert calendar.add_business_days(date(2026, 11, 19), 1) == date(2026, 11, 23)
    # Fri 20/11 is a holiday (Consciência Negra)
    assert calendar.business_days_between(date(2026, 12, 30), date(2027, 1, 4)) == 2  # 31/12, 04/01
    assert not BusinessCalendar("MG").is_business_day(date(2026, 4, 21))  # Tiradentes
    assert Action.INSTALMENTS.value == "instalments"


def test_the_review_records_the_message_sent_and_the_record_shows_it_with_the_erp_actions(
        tmp_path):
    from relief_kit.shell.case import open_case
    from relief_kit.shell.review import ReviewApp
    from relief_kit.shell.views import record_sections

    folder = tmp_path / "dados"
    folder.mkdir()
    _write_export(folder, _first_bills(), {}, FIRST)
    _requests(folder)
    moments = iter([datetime(2026, 11, 20, 10), datetime(2026, 11, 20, 10),  # save, decide
                    datetime(2026, 11, 23, 9, 30)])  # sent
    app = ReviewApp(open_case(folder, "R2"), analyst="Ana", clock=lambda: next(moments))
    app.action.value = Action.POSTPONEMENT
    app.new_due_date.day = date(2026, 12, 10)
    app.justification.value = "Pediu prazo."
    assert app.record() is not None
    assert (folder / "acoes-erp-2026-11-20.csv").is_file()
    app.sent_channel.value = "email"
    sent = app.mark_sent()
    assert (sent.channel, sent.sent_at) == ("email", datetime(2026, 11, 23, 9, 30))
    html = str(record_sections(open_case(folder, "R2")))
    assert "23/11/2026 09:30 por e-mail (Ana)" in html
    assert "alterar_vencimento" in html and "2026-12-10" in html and "C2-2026-11-05" in html


def test_a_private_reminder_for_the_agreement_due_soon_and_only_for_it(later):
    result = run("follow-up", later, "--reminder", "R8")
    assert result.exit_code == 0, result.output
    *lines, link = result.output.strip().splitlines()
    text = "\n".join(lines)
    assert "R$ 100,00 até 22/01/2027" in text and "(Pedido R8)" in text
    # The provider's identification, as on every collection message (CDC art. 42-A).
    assert "CNPJ 11.222.333/0001-81" in text
    assert link.startswith("https://wa.me/5535999990000?text=")
    kept = run("follow-up", later, "--reminder", "R1")
    assert kept.exit_code == 1 and "não tem acordo vencendo em breve" in kept.output


def test_no_reminder_names_a_date_already_past(later):
    # On 25/01/2027 R8's date (22/01/2027) has passed, within the grace days: still
    # "due soon" for the follow-up, but no message may name that date.
    result = run("follow-up", later, "--reminder", "R8", "--today", "2027-01-25")
    assert result.exit_code == 1 and "já passou" in result.output


def test_the_meeting_counts_agreements_by_kind(later):
    from relief_kit.shell.meeting import agreements_by_kind
    from relief_kit.sources.tables import load_folder

    table = agreements_by_kind(load_folder(later), load_criteria(), LATER)
    assert dict(zip(table["situação"], table["acordos"], strict=True)) == {
        "cumpridos": 3, "em dia": 0, "vencendo em breve": 1, "rompidos": 1}


def test_asking_for_information_never_waits_for_the_missing_answers(tmp_path):
    # R6 came by phone: nothing in writing, no hardship stated. Asking is how they come.
    folder = tmp_path / "dados"
    folder.mkdir()
    _write_export(folder, _first_bills(), {}, FIRST)
    _requests(folder)
    result = CliRunner().invoke(main, [
        "decide", str(folder), "--request", "R6", "--action", "ask_info", "--analyst", "Ana",
        "--justification", "Pedir por escrito o que aconteceu.", "--at", DECIDED_AT])
    assert result.exit_code == 0, result.output
    assert open_store(folder).latest_decision("R6").action == "ask_info"
