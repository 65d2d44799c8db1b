"""The written requests of the sample portfolio: WhatsApp exports and saved e-mails.

Each request's text is composed from the fragments in ``templates/sample/requests.toml``
and from the customer's own facts (their open bills, their plan, how long they have
been a customer), so what they write matches what the bills show. The files are laid
out as the real exports are (``ERP-FORMATS.md``): Android and iOS "Export chat" in
Portuguese, and RFC 5322 e-mails in UTF-8 or ISO-8859-1, one of them HTML only.
"""

from __future__ import annotations

import html
import random
import re
import tomllib
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from functools import lru_cache

from babel.dates import format_date

from relief_kit import resources
from relief_kit.core.settings import Provider
from relief_kit.text.formatting import money

#: Brasília time (no daylight saving since 2019): the offset of the e-mails' Date header.
BRASILIA = timezone(timedelta(hours=-3))

_ENCRYPTION = ("As mensagens e as chamadas são protegidas com a criptografia de ponta a "
               "ponta e ficam somente entre você e os participantes desta conversa. Nem "
               "mesmo o WhatsApp pode ler ou ouvi-las.")
_LRM = "\u200e"
_NUMBERS = {2: "duas", 3: "três", 4: "quatro", 5: "cinco", 6: "seis", 7: "sete", 8: "oito"}
_KINDS = {  # business kind → (noun, article)
    "padaria": ("padaria", "a"), "salao": ("salão", "o"), "oficina": ("oficina", "a"),
    "loja": ("loja", "a"), "mercearia": ("mercearia", "a"), "escritorio": ("escritório", "o"),
    "outro": ("negócio", "o"),
}
# Trade names that take "o" ("do Salão Charme"); the others take "a".
_MASCULINE = ("Salão", "Studio", "Espaço", "Bazar", "Armarinho", "Empório", "Mercadinho",
              "Sacolão", "Lava-Jato", "Pet", "Consultório", "Despachante", "Escritório",
              "Auto Center")
_ELDERS = (("minha mãe", True), ("meu pai", False), ("minha sogra", True),
           ("meu sogro", False), ("minha avó", True), ("meu avô", False))


@dataclass(frozen=True)
class RequestFacts:
    """What one request's written text may say, and how its file is laid out."""

    request_id: str
    protocol: str
    received_at: datetime
    channel: str  # how the request came in
    evidence_kind: str  # "whatsapp" | "email"
    layout: str  # WhatsApp "android" | "ios"; e-mail style
    asked: str
    situation: str
    group: str  # "trouble" | "first_time" | "opportunist"
    good_record: bool
    at_risk_category: str  # volunteered, or ""
    consent: bool
    customer_id: str
    name: str  # the person who writes
    first_name: str
    female: bool
    document: str
    phone: str
    email: str
    neighbourhood: str
    plan: str
    years: int
    months: int
    business_kind: str
    trade_name: str
    company: bool
    open_bills: tuple[tuple[date, float], ...]
    debt: float
    next_due: date
    trouble_began: date
    proposed_date: date | None
    proposed_amount: float | None
    instalments: int


@lru_cache(maxsize=1)
def load_fragments() -> dict:
    """The text fragments (``templates/sample/requests.toml``)."""

    path = resources.template_dir("sample") / "requests.toml"
    return tomllib.loads(path.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- text


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _month(day: date) -> str:
    return format_date(day, "MMMM", locale="pt_BR")


def _context(f: RequestFacts, fragments: dict, provider: Provider,
             rnd: random.Random) -> dict[str, str]:
    fem = f.female
    noun, article = _KINDS.get(f.business_kind, ("negócio", "o"))
    attendant_female = rnd.random() < 0.6
    attendant = rnd.choice(fragments["attendants"]["female" if attendant_female else "male"])
    elder, elder_female = rnd.choice(_ELDERS)
    relative = elder if f.at_risk_category == "idoso" else rnd.choice(
        ["minha mãe", "meu pai", "meu marido" if fem else "minha esposa", "minha filha"])
    oldest = f.open_bills[0][0] if f.open_bills else f.next_due
    proposed = f.proposed_date or (f.received_at.date() + timedelta(days=10))
    years = (f"{f.years} anos" if f.years > 1 else "um ano" if f.years == 1
             else f"{max(f.months, 2)} meses")
    place = ("no Centro" if f.neighbourhood == "Centro" else f"no bairro {f.neighbourhood}")
    context = {
        "nome": f.name, "primeiro_nome": f.first_name, "o_a": "a" if fem else "o",
        "a_fem": "a" if fem else "", "obrigado": "obrigada" if fem else "obrigado",
        "sozinho": "sozinha" if fem else "sozinho", "demitido": "demitida" if fem else "demitido",
        "afastado": "afastada" if fem else "afastado",
        "contratado": "contratada" if fem else "contratado",
        "conjuge": "meu marido" if fem else "minha esposa",
        "documento": f.document, "telefone": f.phone, "bairro": f.neighbourhood,
        "no_bairro": place, "do_bairro": "d" + place[1:], "plano": f.plan, "anos": years,
        "cliente_id": f.customer_id, "negocio": noun,
        "do_negocio": f"d{article} {noun}", "pelo_negocio": f"pel{article} {noun}",
        "o_negocio": f"{article} {noun}", "negocio_nome": f.trade_name or noun,
        "do_negocio_nome": (f"d{_article(f.trade_name)} {f.trade_name}" if f.trade_name
                            else f"d{article} {noun}"),
        "valor": money(f.debt), "mes": _month(oldest), "n_faturas": _NUMBERS.get(
            len(f.open_bills), str(len(f.open_bills))),
        "vencimento": str(f.next_due.day), "data_proposta": proposed.strftime("%d/%m"),
        "dia_proposto": str(proposed.day),
        "valor_proposto": money(f.proposed_amount) if f.proposed_amount else "",
        "parcelas": str(f.instalments), "parente": relative,
        "de_parente": ("da " if relative.startswith("minha") else "do ") + relative,
        "idoso": "idosa" if elder_female else "idoso", "ele_ela": "ela" if elder_female else "ele",
        "dele_dela": "dela" if elder_female else "dele", "idade": str(rnd.randint(68, 91)),
        "mes_choque": _month(f.trouble_began),
        "atendente": attendant, "o_a_atendente": "a" if attendant_female else "o",
        "ele_ela_atendente": "ela" if attendant_female else "ele",
        "obrigado_atendente": "obrigada" if attendant_female else "obrigado",
        "empresa": provider.trade_name, "protocolo": f.protocol,
    }
    context.update({_cap(key): _cap(value) for key, value in list(context.items())})
    return context


def _article(trade_name: str) -> str:
    return "o" if trade_name.startswith(_MASCULINE) else "a"


def _pick(variants: list[str], context: dict[str, str], rnd: random.Random,
          female: bool) -> str:
    fitting = [v for v in variants if not v.startswith("(m) " if female else "(f) ")]
    chosen = rnd.choice(fitting)
    if chosen[:4] in ("(f) ", "(m) "):
        chosen = chosen[4:]
    return chosen.format_map(context)


def _story(f: RequestFacts, fr: dict, ctx: dict[str, str], rnd: random.Random,
           at_risk_in_story: bool) -> list[list[str]]:
    """The customer's explanation as paragraphs of sentences."""
    def pick(variants: list[str]) -> str:
        return _pick(variants, ctx, rnd, f.female)

    opportunist = f.situation == "opportunist"
    paragraphs: list[list[str]] = []
    opening = []
    if rnd.random() < (0.8 if f.evidence_kind == "email" else 0.6):
        opening.append(pick(fr["intro"]["business" if f.trade_name else "home"]))
    if f.group == "first_time" and rnd.random() < 0.7:
        opening.append(pick(fr["first_time"]["list"]))
    paragraphs.append(opening)
    what = [pick(fr["situation"][f.situation])]
    if rnd.random() < (0.2 if opportunist else 0.6):
        what.append(pick(fr["dependency"]["business" if f.trade_name else "home"]))
    paragraphs.append(what)
    if f.at_risk_category and at_risk_in_story:
        risk = [pick(fr["at_risk"][f.at_risk_category])]
        if f.consent:
            risk.append(pick(fr["consent"]["offer"]))
        paragraphs.append(risk)
    money_part = []
    if f.open_bills:
        money_part.append(pick(fr["debt"]["one" if len(f.open_bills) == 1 else "several"]))
    elif not opportunist and rnd.random() < 0.6:
        money_part.append(pick(fr["debt"]["upcoming"]))
    asks = fr["ask"]
    if f.asked == "discount":
        money_part.append(pick(asks["discount_amount"] if f.proposed_amount
                               else asks["discount"]))
    elif f.asked == "new_date":
        money_part.append(pick(asks["new_date_date"] if f.proposed_date else asks["new_date"]))
    elif f.asked == "instalments":
        money_part.append(pick(asks["instalments"]))
        if f.proposed_date:
            money_part.append(pick(asks["instalments_date"]))
    else:
        money_part.append(pick(asks["not_said"]))
    paragraphs.append(money_part)
    if not opportunist:
        extra = []
        if f.good_record and rnd.random() < 0.4:
            extra.append(pick(fr["record"]["good"]))
        if rnd.random() < 0.35:
            extra.append(pick(fr["record"]["any"]))
        paragraphs.append(extra)
    return [p for p in paragraphs if p]


def _greeting(moment: datetime, fr: dict, rnd: random.Random) -> str:
    part = "morning" if moment.hour < 12 else "afternoon" if moment.hour < 18 else "evening"
    return rnd.choice(fr["greeting"][part])


def _then(greeting: str, text: str) -> str:
    return f"{greeting} {text}" if greeting.endswith(("!", "?", ".")) else f"{greeting}. {text}"


def _informal(text: str, fr: dict, rnd: random.Random) -> str:
    """WhatsApp shorthand ("vc", "pra", "tô"), applied word by word, now and then."""
    shorthand = fr["informal"]

    def swap(match: re.Match) -> str:
        word = match.group(0)
        return shorthand[word] if rnd.random() < 0.6 else word

    pattern = r"\b(" + "|".join(re.escape(w) for w in sorted(shorthand, key=len,
                                                                 reverse=True)) + r")\b"
    return re.sub(pattern, swap, text)


# --------------------------------------------------------------------------- WhatsApp


@dataclass
class _Line:
    who: str  # "customer" | "provider"
    text: str
    media: str = ""  # "photo" | "audio" for an attachment


def _conversation(f: RequestFacts, fr: dict, ctx: dict[str, str],
                  rnd: random.Random) -> list[_Line]:
    def pick(variants: list[str]) -> str:
        return _pick(variants, ctx, rnd, f.female)

    casual = rnd.random() < 0.45
    follow_up = f.channel in ("phone", "in_person")
    flow = "follow_up" if follow_up else rnd.choice(["direct", "asked_in_writing",
                                                     "asked_in_writing"])
    # In a chat the provider may ask about residents at risk; the answer carries consent.
    asked_at_risk = bool(f.at_risk_category) and flow == "asked_in_writing" and f.consent
    story = _story(f, fr, ctx, rnd, at_risk_in_story=not asked_at_risk)
    greeting = _greeting(f.received_at, fr, rnd)
    lines: list[_Line] = []

    def say(text: str) -> None:
        if casual:
            text = _informal(text, fr, rnd)
            if rnd.random() < 0.6:
                text = text.rstrip(".")
        lines.append(_Line("customer", text))

    if flow == "direct":
        say(greeting)
        for paragraph in story:
            say(("\n" if rnd.random() < 0.4 else " ").join(paragraph))
    elif flow == "follow_up":
        say(_then(greeting, pick(fr["follow_up"][f.channel])))
        say("\n".join(" ".join(p) for p in story))
    else:
        say(_then(greeting, rnd.choice(fr["opener"]["list"])))
        lines.append(_Line("provider", pick(fr["provider"]["first_reply"])))
        lines.append(_Line("provider", pick(fr["provider"]["ask_in_writing"])))
        cut = rnd.randint(1, max(1, len(story) - 1))
        say("\n".join(" ".join(p) for p in story[:cut]))
        if story[cut:]:
            say("\n".join(" ".join(p) for p in story[cut:]))
    if rnd.random() < 0.35:
        lines.append(_Line("customer", "", media=rnd.choice(["photo", "photo", "audio"])))
    if asked_at_risk:
        lines.append(_Line("provider", pick(fr["provider"]["ask_at_risk"])))
        say(f"{pick(fr['consent']['yes'])}. {pick(fr['at_risk'][f.at_risk_category])}")
    if rnd.random() < 0.5:
        say(pick(fr["closing"]["whatsapp"]))
    lines.append(_Line("provider", pick(fr["provider"]["acknowledge"])))
    return lines


def _times(lines: list[_Line], start: datetime, rnd: random.Random) -> list[datetime]:
    """Plausible send times: bursts of seconds, the provider answering in office hours."""
    times, now = [], start
    for index, line in enumerate(lines):
        if index:
            before = lines[index - 1].who
            if line.who == "provider" and before == "customer":
                office = now.weekday() < 6 and 8 <= now.hour < 18
                if office:
                    now += timedelta(minutes=rnd.randint(2, 40), seconds=rnd.randint(0, 59))
                else:
                    next_day = (now + timedelta(days=1)) if now.hour >= 18 else now
                    if next_day.weekday() == 6:
                        next_day += timedelta(days=1)
                    now = next_day.replace(hour=8, minute=rnd.randint(0, 50),
                                           second=rnd.randint(0, 59))
            elif line.who == before:
                now += timedelta(seconds=rnd.randint(5, 40) + len(line.text) // 3)
            else:
                now += timedelta(minutes=rnd.randint(1, 25), seconds=rnd.randint(0, 59))
        times.append(now)
    return times


def _contact(f: RequestFacts, rnd: random.Random) -> tuple[str, bool]:
    """How the customer shows in the provider's phone: a saved name or the bare number."""
    if rnd.random() < 0.4:
        return f.phone, True
    if f.trade_name and rnd.random() < 0.5:
        return f.trade_name, False
    words = f.name.split()
    return (f"{words[0]} {words[-1]}" if len(words) > 1 else f.name), False


def _international(phone: str) -> tuple[str, str, str]:
    digits = re.sub(r"\D", "", phone)
    return digits[:2], digits[2:7], digits[7:]


def _whatsapp(f: RequestFacts, fr: dict, ctx: dict[str, str], provider: Provider,
              rnd: random.Random) -> tuple[str, bytes]:
    lines = _conversation(f, fr, ctx, rnd)
    times = _times(lines, f.received_at, rnd)
    contact, by_phone = _contact(f, rnd)
    ddd, head, tail = _international(f.phone)
    if f.layout == "android":
        author = f"+55 {ddd} {head}-{tail}" if by_phone else contact
        out = [f"{times[0]:%d/%m/%Y %H:%M} - {_ENCRYPTION} Toque para saber mais."]
        for line, moment in zip(lines, times, strict=True):
            who = author if line.who == "customer" else provider.whatsapp_author
            text = "<Mídia oculta>" if line.media else line.text
            out.append(f"{moment:%d/%m/%Y %H:%M} - {who}: {text}")
        name = f"Conversa do WhatsApp com {author}.txt"
        path = f"{f.request_id}/{name}"
        return path, ("\n".join(out) + "\n").encode("utf-8")

    # iOS: marks around the number, U+200E before system and attachment lines.
    author = (f"\u202a+55\u00a0{ddd}\u00a0{head}\u2011{tail}\u202c" if by_phone else contact)
    out = [f"{_LRM}[{times[0]:%d/%m/%Y, %H:%M:%S}] {author}: {_LRM}{_ENCRYPTION}"]
    attachment = rnd.randint(1, 40)
    for line, moment in zip(lines, times, strict=True):
        who = author if line.who == "customer" else provider.whatsapp_author
        stamp = f"[{moment:%d/%m/%Y, %H:%M:%S}]"
        if line.media:
            kind, ext = ("PHOTO", "jpg") if line.media == "photo" else ("AUDIO", "opus")
            file = f"{attachment:08d}-{kind}-{moment:%Y-%m-%d-%H-%M-%S}.{ext}"
            attachment += 1
            out.append(f"{_LRM}{stamp} {who}: {_LRM}<anexado: {file}>")
        else:
            out.append(f"{stamp} {who}: {line.text}")
    path = (f"{f.request_id}/_chat.txt" if rnd.random() < 0.5 else f"{f.request_id}_chat.txt")
    return path, ("\r\n".join(out) + "\r\n").encode("utf-8")


# --------------------------------------------------------------------------- e-mail


def _email_text(f: RequestFacts, fr: dict, ctx: dict[str, str],
                rnd: random.Random) -> tuple[str, list[str]]:
    def pick(variants: list[str]) -> str:
        return _pick(variants, ctx, rnd, f.female)

    story = _story(f, fr, ctx, rnd, at_risk_in_story=True)
    paragraphs = [" ".join(p) for p in story]
    if f.channel in ("phone", "in_person"):
        paragraphs.insert(0, pick(fr["follow_up"][f.channel]))
    paragraphs.append(pick(fr["closing"]["email"]))
    signature = [pick(fr["email"]["sign_off"]), f.name]
    if f.company or (f.trade_name and rnd.random() < 0.5):
        signature.append(f.trade_name)
    if f.company:
        signature.append(f"CNPJ {f.document}")
    elif rnd.random() < 0.4:
        signature.append(f"CPF {f.document}")
    if rnd.random() < 0.5:
        signature.append(f.phone)
    subject_key = "follow_up" if f.channel in ("phone", "in_person") else f.asked
    subject = pick(fr["email"]["subject"][subject_key])
    body = [pick(fr["email"]["salutation"]), *paragraphs, "\n".join(signature)]
    return subject, body


def _html(body: list[str]) -> str:
    parts = []
    for paragraph in body:
        lines = "<br>".join(html.escape(line) for line in paragraph.split("\n"))
        parts.append(f"<div>{lines}</div><div><br></div>")
    return ('<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
            '</head><body><div dir="ltr">' + "".join(parts) + "</div></body></html>\n")


def _email(f: RequestFacts, fr: dict, ctx: dict[str, str], provider: Provider,
           rnd: random.Random) -> tuple[str, bytes]:
    subject, body = _email_text(f, fr, ctx, rnd)
    text = "\n\n".join(body) + "\n"
    local, _, domain = f.email.partition("@")
    message = EmailMessage()
    message["From"] = Address(f.name, local, domain)
    message["To"] = Address(provider.trade_name, *provider.email.split("@", 1))
    message["Subject"] = subject
    message["Date"] = format_datetime(f.received_at.replace(tzinfo=BRASILIA))
    token = f"{rnd.getrandbits(64):016x}"
    message["Message-ID"] = (f"<CA{token}{rnd.getrandbits(32):08x}@mail.gmail.com>"
                             if domain == "gmail.com" else f"<{token}@{domain}>")
    style = f.layout
    linesep = "\n"
    if style == "latin1":
        try:
            text.encode("iso-8859-1")
        except UnicodeEncodeError:
            style = "utf8_plain"
    if style == "utf8_alternative":
        message.set_content(text, charset="utf-8", cte="quoted-printable")
        message.add_alternative(_html(body), subtype="html", charset="utf-8",
                                cte="quoted-printable")
        message.set_boundary(f"000000000000{rnd.getrandbits(48):012x}")
    elif style == "utf8_plain":
        message["User-Agent"] = "Mozilla Thunderbird"
        message.set_content(text, charset="utf-8", cte="quoted-printable")
    elif style == "latin1":
        message["X-Mailer"] = "Microsoft Outlook 16.0"
        message.set_content(text, charset="iso-8859-1",
                            cte=rnd.choice(["quoted-printable", "8bit"]))
        linesep = "\r\n"
    else:  # html_only: a webmail that sends no plain-text part
        message["X-Mailer"] = "Webmail"
        message.set_content(_html(body), subtype="html", charset="utf-8", cte="base64")
    data = message.as_bytes(policy=policy.default.clone(linesep=linesep))
    return f"{f.request_id}.eml", data


def render(facts: RequestFacts, fragments: dict, provider: Provider,
           rnd: random.Random) -> tuple[str, bytes]:
    """The evidence file of one request: its path under ``evidence/`` and its bytes."""
    context = _context(facts, fragments, provider, rnd)
    if facts.channel in ("phone", "in_person"):
        # The written follow-up comes a while after the call or the visit.
        later = facts.received_at + timedelta(minutes=rnd.randint(15, 240),
                                              seconds=rnd.randint(0, 59))
        facts = replace(facts, received_at=later)
    if facts.evidence_kind == "email":
        return _email(facts, fragments, context, provider, rnd)
    return _whatsapp(facts, fragments, context, provider, rnd)
