"""The messages that formalise an outcome: one renderer, templates as data.

Every sentence a customer reads lives in ``templates/messages/pt_BR/``: for each kind
(ask_info, discount, postponement, instalments, refusal) a subject, an e-mail body and
a WhatsApp text, all ending with the provider's identification (legal name, CNPJ and
address, CDC art. 42-A; a short block on WhatsApp). What a message says about the
connection is ``service/<kind>.<status>.txt.j2``, one template per outcome and
connection status (``regulatory.connection_status``), so no sentence can be false for
some status; agreements say whether fine and interest apply (criteria
``[agreement]``) and, plainly, what happens if a date is missed (CDC arts. 42 and 71:
information, never a threat). The customer's own text (a name, say) is passed as data,
never as template source, so ``{{ 7*7 }}`` in a name stays ``{{ 7*7 }}``.

No message is prepared with a date earlier than the day it is produced
(:func:`relief_kit.core.terms.stale_dates`): the decision needs new terms first.

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

from relief_kit import resources
from relief_kit.core.criteria import load_criteria
from relief_kit.core.errors import InputError
from relief_kit.core.model import Action
from relief_kit.core.regulatory import connection_status
from relief_kit.core.settings import Provider, load_provider
from relief_kit.core.terms import amount_to_pay, stale_dates
from relief_kit.core.values import ValueProblem
from relief_kit.text import formatting as fmt
from relief_kit.text import labels
from relief_kit.text import render as text_render

TEMPLATES = resources.template_dir("messages")
KINDS = ("ask_info", "discount", "postponement", "instalments", "refusal")
#: Messages that formalise no decision: the reminder of an agreement payment due soon.
OTHER_KINDS = ("reminder",)

@dataclass(frozen=True)
class Messages:
    subject: str
    email_body: str
    whatsapp_text: str


def render_messages(kind: str, context: Mapping) -> Messages:
    """The subject, e-mail body and WhatsApp text of one kind for one customer."""
    if kind not in KINDS + OTHER_KINDS:
        raise InputError(f"mensagem {kind!r} desconhecida; use uma de: "
                         f"{', '.join(KINDS + OTHER_KINDS)}.")

    def render(part: str) -> str:
        return text_render.render(f"messages/pt_BR/{kind}.{part}", **context)

    return Messages(" ".join(render("subject.j2").split()), render("email.txt.j2"),
                    render("whatsapp.txt.j2").strip())


def _money(value) -> str:
    return fmt.money(Decimal(str(value)))


def _day(value) -> str:
    return fmt.day(date.fromisoformat(value) if isinstance(value, str) else value)


def _agreement(facts: Mapping) -> Mapping:
    """The fee policy the case was decided under; the bundled criteria's for facts
    that do not carry one (older ``case.json``)."""
    recorded = facts.get("agreement")
    return recorded if recorded else load_criteria().sections["agreement"]


def message_context(facts: Mapping, provider: Provider) -> dict:
    """The template context from a case's facts (``facts.case_facts``) and decision.

    ``connection`` is the customer's connection status (active, blocked, suspended,
    terminated, unknown); ``late_fees``, ``fine_percent`` and ``interest_percent`` the
    criteria's ``[agreement]``."""
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
        "connection": connection_status(customer.get("contract_status")),
    }
    agreement = _agreement(facts)
    context.update(
        late_fees=agreement["late_fees"],
        fine_percent=fmt.number(float(agreement["fine_percent"]), 0
                                if float(agreement["fine_percent"]).is_integer() else 1),
        interest_percent=fmt.number(float(agreement["interest_percent_month"]), 0
                                    if float(agreement["interest_percent_month"]).is_integer()
                                    else 1),
    )
    return context


def reminder_messages(check, customer, provider: Provider) -> Messages:
    """The private reminder for an agreement payment due soon (one customer):
    ``check`` is a ``core.agreements.FollowUp`` of kind ``due_soon``."""
    name = " ".join(str(customer.name).split())
    name = re.sub(r"^[\d./-]+\s+", "", name) or name
    from relief_kit.core.documents import mask_document

    return render_messages("reminder", {
        "provider": provider, "request_id": check.request_id,
        "customer_id": customer.customer_id, "document_masked": mask_document(customer.document),
        "first_name": name.split(" ")[0] if customer.person_type == "PF" else name,
        "amount": _money(check.next_amount), "due_date": fmt.day(check.next_date)})


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
    message["Date"] = email.utils.format_datetime(_provider_time(now, provider))
    message["Message-ID"] = email.utils.make_msgid(domain=provider.email.rsplit("@", 1)[-1])
    # A draft for the analyst to send: Outlook and Thunderbird open a message marked
    # X-Unsent with "Send", not as mail received from the provider itself.
    message["X-Unsent"] = "1"
    message.set_content(body, charset="utf-8")
    return message.as_bytes()


def _provider_time(now: datetime | None, provider: Provider) -> datetime:
    """``now`` in the provider's zone (a naive ``now`` is the machine's local time)."""
    from zoneinfo import ZoneInfo

    moment = (now or datetime.now()).astimezone()
    return moment.astimezone(ZoneInfo(provider.time_zone))


def whatsapp_link(phone: str, text: str, region: str = "BR") -> str:
    """``https://wa.me/<E.164 digits>?text=<text>`` for one customer's phone."""
    from relief_kit.core.documents import normalize_phone

    digits = normalize_phone(phone, region).lstrip("+")
    return f"https://wa.me/{digits}?text={quote(text, safe='')}"


def production_day(facts: Mapping, today: date | None = None) -> date:
    """The day the messages are produced: ``today`` when given, else the later of the
    case's as-of date and the machine's date (a batch run days after the export must
    not promise dates that have passed since)."""
    if today is not None:
        return today
    as_of = facts.get("as_of")
    clock = date.today()
    return max(date.fromisoformat(as_of), clock) if as_of else clock


@dataclass(frozen=True)
class PreparedMessages:
    """What ``messages/`` holds and what the record says about it.

    ``record``: ``{"produced_on", "produced_on_text", "needs_new_terms": [ISO dates],
    "prepared": [{"channel": "email" | "whatsapp", "subject", "text", "sent"}]}`` for
    ``case.json`` and ``record.html``; ``sent`` is None until the analyst marks the
    message sent (then ``{"at", "channel"}``).
    """

    files: dict[str, bytes]
    record: dict

    @property
    def needs_new_terms(self) -> tuple[date, ...]:
        return tuple(date.fromisoformat(d) for d in self.record["needs_new_terms"])


def prepare_case_messages(facts: Mapping, settings_path: str | None = None,
                          today: date | None = None) -> PreparedMessages:
    """The files of a case folder's ``messages/`` (``email.eml``, ``whatsapp.txt``,
    ``LEIA-ME.txt``) and the record of what was prepared. An undecided case, or a
    decision with a date before the production day (:func:`production_day`), gets only
    the LEIA-ME, which says why."""
    provider = load_provider(settings_path or None)
    readme = text_render.environment().get_template("messages/pt_BR/LEIA-ME.txt.j2")
    produced_on = production_day(facts, today)
    record: dict = {"produced_on": produced_on.isoformat(),
                    "produced_on_text": fmt.day(produced_on), "needs_new_terms": [],
                    "prepared": []}
    decision = facts.get("decision")
    if not decision:
        return PreparedMessages(
            {"LEIA-ME.txt": readme.render(pending=True).encode("utf-8")}, record)
    kind = Action(decision["action"]).value
    past = stale_dates(decision.get("terms") or {}, produced_on)
    if past:
        record["needs_new_terms"] = [d.isoformat() for d in past]
        return PreparedMessages({"LEIA-ME.txt": readme.render(
            pending=False, stale=[fmt.day(d) for d in past], produced_on=fmt.day(produced_on),
            action_label=labels.action(kind), request_id=facts["request_id"],
        ).encode("utf-8")}, record)
    rendered = render_messages(kind, message_context(facts, provider))
    contact = facts.get("contact") or {}
    files: dict[str, bytes] = {}
    address = _one_address(contact.get("email", ""))
    if address:
        files["email.eml"] = build_email(address, rendered.subject, rendered.email_body,
                                         provider)
        record["prepared"].append({"channel": "email", "subject": rendered.subject,
                                   "text": rendered.email_body, "sent": None})
    try:
        link = whatsapp_link(contact.get("phone", ""), rendered.whatsapp_text, provider.region)
    except ValueProblem:
        link = ""
    if link:
        files["whatsapp.txt"] = f"{rendered.whatsapp_text}\n\n{link}\n".encode()
        record["prepared"].append({"channel": "whatsapp", "subject": "",
                                   "text": rendered.whatsapp_text, "sent": None})
    files["LEIA-ME.txt"] = readme.render(
        pending=False, stale=[], action_label=labels.action(kind),
        request_id=facts["request_id"], no_email=address is None,
        no_phone=not link).encode("utf-8")
    return PreparedMessages(files, record)


def render_case_messages(facts: Mapping, settings_path: str | None = None,
                         today: date | None = None) -> dict[str, bytes]:
    """The files of a case folder's ``messages/`` (see :func:`prepare_case_messages`)."""
    return prepare_case_messages(facts, settings_path, today).files
