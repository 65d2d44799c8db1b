"""Messages: one recipient, the provider's identification, customer text kept literal."""

import email
import re
from datetime import date
from email import policy
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from relief_kit.core.errors import InputError
from relief_kit.core.regulatory import CONNECTION_STATUSES, connection_status
from relief_kit.core.schema import CONTRACT_STATUSES
from relief_kit.core.settings import load_provider
from relief_kit.shell.messages import (
    KINDS,
    TEMPLATES,
    build_email,
    prepare_case_messages,
    production_day,
)
from relief_kit.shell.messages import render_case_messages as _render

#: The day the test messages are produced: every date in TERMS is on or after it.
TODAY = date(2026, 11, 20)


def render_case_messages(facts, today=TODAY):
    return _render(facts, today=today)

TERMS = {
    "ask_info": {"amount": "120.00", "instalments": []},
    "discount": {"amount": "120.00", "discount_percent": "10.00", "pay_by": "2026-11-30",
                 "instalments": []},
    "postponement": {"amount": "120.00", "new_due_date": "2026-12-05", "instalments": []},
    "instalments": {"amount": "120.00", "instalments": [[1, "2026-12-01", "60.00"],
                                                        [2, "2027-01-01", "60.00"]]},
    "refusal": {"amount": "120.00", "instalments": []},
}


def facts(kind, name="Maria <script>alert(1)</script> {{ 7*7 }}", person_type="PF",
          contact=None, contract_status="active", agreement=None):
    terms = dict(TERMS[kind])
    terms["instalments"] = [{"number": n, "due_date": d, "amount": a}
                            for n, d, a in terms["instalments"]]
    return {
        "request_id": "R0009",
        "customer": {"customer_id": "C1", "name": name, "person_type": person_type,
                     "document_masked": "***.456.789-**", "contract_status": contract_status},
        "agreement": agreement,
        "recommendation": {"terms": terms},
        "decision": {"action": kind, "terms": terms},
        "contact": contact if contact is not None else {
            "email": "maria@example.com.br", "phone": "(35) 99999-1234"},
    }


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("person_type", ["PF", "PJ"])
def test_every_kind_renders_to_one_customer_with_the_provider_identified(kind, person_type):
    files = render_case_messages(facts(kind, person_type=person_type))
    message = email.message_from_bytes(files["email.eml"], policy=policy.default)
    assert message["To"] == "maria@example.com.br"
    assert message["Cc"] is None and message["Bcc"] is None
    body = message.get_content()
    provider = load_provider()
    assert provider.cnpj in body and provider.address in body and provider.name in body
    if person_type == "PJ":  # a company is greeted by its whole name: kept literally
        assert "<script>alert(1)</script>" in body and "{{ 7*7 }}" in body
    else:  # a person by the first name
        assert "Olá, Maria" in body and "<script>" not in body
    assert "49" not in body
    whatsapp = files["whatsapp.txt"].decode()
    text, link = whatsapp.rstrip("\n").rsplit("\n\n", 1)
    parsed = urlparse(link)
    assert parsed.netloc == "wa.me" and parsed.path == "/5535999991234"
    assert parse_qs(parsed.query)["text"] == [text]


def test_amounts_and_dates_in_brazilian_form():
    body = email.message_from_bytes(render_case_messages(facts("discount"))["email.eml"],
                                    policy=policy.default).get_content()
    assert "R$ 108,00" in body and "30/11/2026" in body and "10%" in body
    plan = render_case_messages(facts("instalments"))["whatsapp.txt"].decode()
    assert "R$ 60,00 em 01/12/2026" in plan and "continua ligada" in plan


def test_missing_contact_is_said_not_faked():
    files = render_case_messages(facts("refusal", contact={"email": "", "phone": "123"}))
    assert set(files) == {"LEIA-ME.txt"}
    readme = files["LEIA-ME.txt"].decode()
    assert "Sem e-mail" in readme and "Sem WhatsApp" in readme


def test_undecided_case_gets_no_message():
    pending = {**facts("discount"), "decision": None}
    assert list(render_case_messages(pending)) == ["LEIA-ME.txt"]


@pytest.mark.parametrize("recipients", ["a@x.com.br, b@x.com.br", "a@x.com.br; b@x.com.br",
                                        ["a@x.com.br", "b@x.com.br"]])
def test_a_message_never_goes_to_several_customers(recipients):
    with pytest.raises(InputError, match="um só cliente"):
        build_email(recipients, "Assunto", "Texto", load_provider())


def test_no_template_speaks_to_everyone():
    for path in (TEMPLATES / "pt_BR").glob("*.j2"):
        text = path.read_text(encoding="utf-8").lower()
        for phrase in ("todos os clientes", "a todos", "prezados clientes", "promoção",
                       "desconto para todos"):
            assert phrase not in text, f"{path.name}: {phrase}"
    assert Path(TEMPLATES / "pt_BR" / "refusal.whatsapp.txt.j2").is_file()


# --------------------------------------------------------------------------- issue 13

AGREEMENTS = ("discount", "postponement", "instalments")
RESTORES = "volta a funcionar em até 1 dia depois que soubermos do pagamento"
WAIVED = ("Sobre os valores deste acordo não cobramos multa nem juros, desde que cada "
          "pagamento seja feito até a data combinada.")


def _texts(files):
    body = email.message_from_bytes(files["email.eml"], policy=policy.default).get_content()
    whatsapp = files["whatsapp.txt"].decode().rstrip("\n").rsplit("\n\n", 1)[0]
    return {"email": " ".join(body.split()), "whatsapp": " ".join(whatsapp.split())}


def test_contract_statuses_map_to_what_a_message_can_say():
    assert {connection_status(s) for s in CONTRACT_STATUSES} == set(CONNECTION_STATUSES)
    assert connection_status("blocked_financial") == "blocked"
    assert connection_status("blocked_auto") == "blocked"
    assert connection_status("blocked_manual") == "suspended"
    assert connection_status("disabled") == "terminated"
    assert connection_status("") == connection_status("nonsense") == "unknown"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("status", CONTRACT_STATUSES)
def test_every_outcome_and_connection_status_says_what_is_true(kind, status):
    files = render_case_messages(facts(kind, contract_status=status))
    provider = load_provider()
    connection = connection_status(status)
    # Laid out as written: no WhatsApp line opens with a space (a template's trailing
    # line break once split a paragraph there), no run of blank lines in the e-mail.
    assert not re.search(r"(?m)^[ \t]", files["whatsapp.txt"].decode()), f"{kind}/{status}"
    body = email.message_from_bytes(files["email.eml"], policy=policy.default).get_content()
    assert "\n\n\n" not in body, f"{kind}/{status}/email"
    for channel, text in _texts(files).items():
        where = f"{kind}/{status}/{channel}"
        # Identification on every message, WhatsApp included (CDC art. 42-A).
        for part in (provider.name, f"CNPJ {provider.cnpj}", provider.address):
            assert part in text, where
        # No date earlier than the day the message is produced.
        for day in re.findall(r"\b(\d\d)/(\d\d)/(\d{4})\b", text):
            assert date(int(day[2]), int(day[1]), int(day[0])) >= TODAY, where
        # Return of service: only where the connection may be off, and the right trigger.
        if connection in ("blocked", "suspended", "unknown"):
            assert RESTORES in text and "sem taxa de religação" in text, where
            assert "Resolução Anatel 765/2023, art. 78" in text, where
            if kind == "instalments":
                assert "primeira parcela (R$ 60,00, até 01/12/2026)" in text, where
        else:
            assert RESTORES not in text, where
        if connection == "blocked":
            assert "está suspensa por falta de pagamento" in text, where
            assert "continua normalmente" not in text, where
            # The ERP actions unblock a customer blocked for debt in trust until the
            # agreement's first date (core.erp_actions); the message says the same.
            trusted = "liberamos a conexão em confiança até" in text
            assert trusted == (kind in AGREEMENTS), where
        if connection == "active":
            assert "está suspensa" not in text and "estiver suspensa" not in text, where
            if kind in AGREEMENTS:
                assert "Enquanto o acordo estiver em dia, a sua conexão continua ligada." in text
        if connection == "terminated":
            assert "contrato está encerrado" in text and "pagar não a religa" in text, where
            assert "continua ligada" not in text, where
        if connection in ("suspended", "unknown"):
            assert "continua ligada" not in text or "estiver ligada" in text, where
        # Fees and consequences on every agreement, plainly.
        if kind in AGREEMENTS:
            assert WAIVED in text, where
            assert "Se uma data combinada não for cumprida, o acordo deixa de valer" in text
            assert "multa de 2% e juros de 1% ao mês" in text, where
        else:
            assert WAIVED not in text, where
        for threat in ("justiça", "processo judicial", "protesto", "spc", "serasa",
                       "negativad", "última chance"):
            assert threat not in text.lower(), where


@pytest.mark.parametrize("kind", AGREEMENTS)
def test_fees_charged_is_said_with_the_rates(kind):
    agreement = {"late_fees": "charged", "fine_percent": 2.0, "interest_percent_month": 0.5}
    for text in _texts(render_case_messages(facts(kind, agreement=agreement))).values():
        assert ("não incluem a multa de 2% e os juros de 0,5% ao mês pelo atraso" in text)
        assert WAIVED not in text


def test_terminated_customer_is_told_about_credit_records_only_with_written_notice():
    text = _texts(render_case_messages(facts("instalments", contract_status="disabled")))
    assert "antes de qualquer registro em cadastro de proteção ao crédito, você recebe um " \
           "aviso por escrito (Código de Defesa do Consumidor, art. 43 §2)" in text["email"]


def test_request_for_information_asks_health_only_as_optional_with_specific_consent():
    text = _texts(render_case_messages(facts("ask_info")))
    email_text, whatsapp = text["email"], text["whatsapp"]
    assert "PERGUNTA OPCIONAL — RESPONDA SOMENTE SE QUISER" in email_text
    assert "arts. 5º II e 11 I" in email_text
    assert "só para isto: analisar este pedido de ajuda" in email_text
    assert "Nunca para preço, análise de crédito ou propaganda" in email_text
    assert "Não responder não impede a análise do seu pedido" in email_text
    assert "Concordo com o uso desta informação" in email_text
    # WhatsApp highlights with its own bold markers.
    assert "*PERGUNTA OPCIONAL — responda só se quiser:*" in whatsapp
    assert re.search(r"\*É um dado de saúde, sensível pela LGPD \(Lei 13\.709/2018, art\. 11 I\)"
                     r"[^*]+\*", whatsapp)
    assert "Não responder não impede a análise" in whatsapp


@pytest.mark.parametrize("kind, terms", [
    ("discount", {"amount": "120.00", "discount_percent": "10.00", "pay_by": "2026-11-19",
                  "instalments": []}),
    ("postponement", {"amount": "120.00", "new_due_date": "2026-11-25", "instalments": []}),
    ("instalments", {"amount": "120.00", "instalments": [
        {"number": 1, "due_date": "2026-11-27", "amount": "60.00"},
        {"number": 2, "due_date": "2026-12-30", "amount": "60.00"}]}),
])
def test_a_decision_with_a_past_date_gets_no_message_but_a_note(kind, terms):
    stale = facts(kind)
    stale["decision"] = {"action": kind, "terms": terms}
    prepared = prepare_case_messages(stale, today=date(2026, 11, 29))
    assert set(prepared.files) == {"LEIA-ME.txt"}
    assert prepared.needs_new_terms and all(d < date(2026, 11, 29)
                                            for d in prepared.needs_new_terms)
    assert prepared.record["prepared"] == []
    readme = prepared.files["LEIA-ME.txt"].decode()
    assert readme.startswith("Precisa de novos termos") and "29/11/2026" in readme


def test_messages_are_produced_no_earlier_than_the_machine_date():
    assert production_day({"as_of": "2020-01-01"}) == date.today()
    assert production_day({"as_of": "2999-01-01"}) == date(2999, 1, 1)
    assert production_day({}, today=TODAY) == TODAY


def test_the_record_of_the_messages_holds_each_text_prepared():
    prepared = prepare_case_messages(facts("postponement", contract_status="blocked_financial"),
                                     today=TODAY)
    record = prepared.record
    assert record["produced_on"] == "2026-11-20" and record["needs_new_terms"] == []
    channels = {m["channel"]: m for m in record["prepared"]}
    assert set(channels) == {"email", "whatsapp"}
    assert all(m["sent"] is None for m in record["prepared"])  # marked when sent
    body = email.message_from_bytes(prepared.files["email.eml"],
                                    policy=policy.default).get_content()
    assert channels["email"]["text"] == body
    assert prepared.files["whatsapp.txt"].decode().startswith(channels["whatsapp"]["text"])
    assert RESTORES in channels["whatsapp"]["text"]


def test_every_service_template_is_one_per_outcome_and_status():
    found = {p.name for p in (TEMPLATES / "pt_BR" / "service").glob("*.txt.j2")}
    assert found == {f"{k}.{s}.txt.j2" for k in KINDS for s in CONNECTION_STATUSES}
def test_an_email_is_a_draft_dated_in_the_providers_time_zone():
    from datetime import UTC, datetime

    provider = load_provider()
    raw = build_email("cliente@example.com", "Assunto", "Texto", provider,
                      now=datetime(2026, 11, 20, 18, 0, tzinfo=UTC))
    message = email.message_from_bytes(raw, policy=policy.default)
    assert message["X-Unsent"] == "1"
    assert message["Date"] == "Fri, 20 Nov 2026 15:00:00 -0300"


def test_an_unknown_time_zone_in_the_settings_is_one_line(tmp_path):
    from relief_kit.resources import DEFAULT_SETTINGS

    settings = tmp_path / "settings.toml"
    settings.write_text(DEFAULT_SETTINGS.read_text(encoding="utf-8").replace(
        'time_zone = "America/Sao_Paulo"', 'time_zone = "Brasil/Pouso_Alegre"'),
        encoding="utf-8")
    with pytest.raises(InputError, match="provider.time_zone: fuso horário desconhecido"):
        load_provider(settings)
