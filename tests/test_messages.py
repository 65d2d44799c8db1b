"""Messages: one recipient, the provider's identification, customer text kept literal."""

import email
from email import policy
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from relief_kit.core.errors import InputError
from relief_kit.core.settings import load_provider
from relief_kit.shell.messages import KINDS, TEMPLATES, build_email, render_case_messages

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
          contact=None):
    terms = dict(TERMS[kind])
    terms["instalments"] = [{"number": n, "due_date": d, "amount": a}
                            for n, d, a in terms["instalments"]]
    return {
        "request_id": "R0009",
        "customer": {"customer_id": "C1", "name": name, "person_type": person_type,
                     "document_masked": "***.456.789-**"},
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
