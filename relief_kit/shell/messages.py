"""The messages that formalise an outcome: one renderer, templates as data.

Every sentence a customer reads lives in ``templates/messages/pt_BR/``: for each kind
(ask_info, discount, postponement, instalments, refusal) a subject, an e-mail body and
a WhatsApp text, all ending with the provider's identification (CDC art. 42-A). The
customer's own text (a name, say) is passed as data, never as template source, so
``{{ 7*7 }}`` in a name stays ``{{ 7*7 }}``.

Each message has exactly one recipient: there is no message to more than one
customer and none announcing a discount for everyone.
"""

from __future__ import annotations

import email.policy
import email.utils
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from email.message import EmailMessage
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from relief_kit import resources
from relief_kit.core.errors import InputError
from relief_kit.core.model import Action
from relief_kit.core.settings import Provider, load_provider
from relief_kit.core.terms import amount_to_pay
from relief_kit.core.values import ValueProblem
from relief_kit.text import formatting as fmt

TEMPLATES = resources.template_dir("messages")
KINDS = ("ask_info", "discount", "postponement", "instalments", "refusal")

_environment = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=False,
                           undefined=StrictUndefined, keep_trailing_newline=True)


@dataclass(frozen=True)
class Messages:
    subject: str
    email_body: str
    whatsapp_text: str


def render_messages(kind: str, context: Mapping) -> Messages:
    """The subject, e-mail body and WhatsApp text of one kind for one customer."""
    if kind not in KINDS:
        raise InputError(f"mensagem {kind!r} desconhecida; use uma de: {', '.join(KINDS)}.")

    def render(part: str) -> str:
        return _environment.get_template(f"pt_BR/{kind}.{part}").render(**context)

    return Messages(" ".join(render("subject.j2").split()), render("email.txt.j2"),
                    render("whatsapp.txt.j2").strip())


def _money(value) -> str:
    return fmt.money(Decimal(str(value)))


def _day(value) -> str:
    return fmt.day(date.fromisoformat(value) if isinstance(value, str) else value)


def message_context(facts: Mapping, provider: Provider) -> dict:
    """The template context from a case's facts (``facts.case_facts``) and decision."""
    decision = facts["decision"] or {}
    terms = decision.get("terms") or facts["recommendation"]["terms"]
    amount = Decimal(str(terms["amount"]))
    percent = terms.get("discount_percent")
    customer = facts["customer"]
    name = " ".join(str(customer["name"]).split())
    # A MEI's company name starts with its CNPJ digits: greet the person, not the number.
    name = re.sub(r"^[\d./-]+\s+", "", name) or name
    context = {
        "provider": provider,
        "first_name": name.split(" ")[0] if customer["person_type"] == "PF" else name,
        "request_id": facts["request_id"],
        "customer_id": customer["customer_id"],
        "document_masked": customer.get("document_masked", ""),
        "amount": _money(amount),
        "percent": fmt.number(float(percent), 0) if percent is not None else "",
        # The amount to pay as the core computed it (core.terms), never recomputed here.
        "to_pay": _money(terms["to_pay"] if terms.get("to_pay") is not None
                         else amount_to_pay(amount, Decimal(str(percent))))
        if percent is not None else "",
        "pay_by": _day(terms["pay_by"]) if terms.get("pay_by") else "",
        "new_due_date": _day(terms["new_due_date"]) if terms.get("new_due_date") else "",
        "instalments": [{"number": i["number"], "due_date": _day(i["due_date"]),
                         "amount": _money(i["amount"])} for i in terms.get("instalments", [])],
    }
    return context


def _one_address(address: str) -> str | None:
    address = (address or "").strip()
    if isinstance(address, list | tuple) or any(c in address for c in ",;"):
        raise InputError("uma mensagem vai para um só cliente: informe um único endereço.")
    name, parsed = email.utils.parseaddr(address)
    return parsed if "@" in parsed and "." in parsed.rsplit("@", 1)[-1] else None


def build_email(to: str, subject: str, body: str, provider: Provider,
                now: datetime | None = None) -> bytes:
    """An RFC 5322 message to exactly one recipient."""
    if not isinstance(to, str):
        raise InputError("uma mensagem vai para um só cliente: informe um único endereço.")
    recipient = _one_address(to)
    if recipient is None:
        raise InputError(f"e-mail {to!r} inválido.")
    message = EmailMessage(policy=email.policy.default)
    message["From"] = email.utils.formataddr((provider.trade_name, provider.email))
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = email.utils.format_datetime((now or datetime.now()).astimezone())
    message["Message-ID"] = email.utils.make_msgid(domain=provider.email.rsplit("@", 1)[-1])
    message.set_content(body, charset="utf-8")
    return message.as_bytes()


def whatsapp_link(phone: str, text: str, region: str = "BR") -> str:
    """``https://wa.me/<E.164 digits>?text=<text>`` for one customer's phone."""
    from relief_kit.core.documents import normalize_phone

    digits = normalize_phone(phone, region).lstrip("+")
    return f"https://wa.me/{digits}?text={quote(text, safe='')}"


def render_case_messages(facts: Mapping, settings_path: str | None = None) -> dict[str, bytes]:
    """The files of a case folder's ``messages/``: ``email.eml``, ``whatsapp.txt`` and a
    ``LEIA-ME.txt``. An undecided case gets only the LEIA-ME."""
    provider = load_provider(settings_path or None)
    readme = _environment.get_template("pt_BR/LEIA-ME.txt.j2")
    decision = facts.get("decision")
    if not decision:
        return {"LEIA-ME.txt": readme.render(pending=True).encode("utf-8")}
    kind = Action(decision["action"]).value
    rendered = render_messages(kind, message_context(facts, provider))
    contact = facts.get("contact") or {}
    files: dict[str, bytes] = {}
    address = _one_address(contact.get("email", ""))
    if address:
        files["email.eml"] = build_email(address, rendered.subject, rendered.email_body,
                                         provider)
    try:
        link = whatsapp_link(contact.get("phone", ""), rendered.whatsapp_text, provider.region)
    except ValueProblem:
        link = ""
    if link:
        files["whatsapp.txt"] = f"{rendered.whatsapp_text}\n\n{link}\n".encode()
    files["LEIA-ME.txt"] = readme.render(
        pending=False, action_label=Action(kind).label, request_id=facts["request_id"],
        no_email=address is None, no_phone=not link).encode("utf-8")
    return files
