"""The customer's written request: WhatsApp "Export chat" files and saved e-mails.

Everything returned here is plain text exactly as the customer wrote it; nothing is
HTML. Whoever shows it in a page escapes it (the review and the record do).

WhatsApp rules, in short:

* Layouts: Android ``dd/mm/aaaa hh:mm - Autor: texto`` (English adds a comma after the
  date) and iOS ``[dd/mm/aaaa, hh:mm:ss] Autor: texto``; 24-hour or 12-hour clocks
  (``9:15 PM``, ``9:15 p.m.``); two- or four-digit years. A line without a header
  continues the message above it.
* Invisible marks (U+200E, U+200F, U+202A–U+202E, U+2066–U+2069) and non-breaking
  spaces (U+00A0, U+202F) are ignored in the header and in author names; the message
  text is kept as written.
* Dates: Brazilian exports are day first (``dd/mm``). A file is read day first unless
  its own headers prove otherwise (a second field above 12 and no first field above 12,
  as a phone set to US English writes); a file mixing both orders is refused, and
  ``day_first`` forces the order.
* Who is the customer: with ``provider_authors`` (the provider's names as they appear
  in its exports, e.g. ``settings.load_provider().whatsapp_author``), every other author
  is the customer. Without them, or when none of them wrote in the chat, the customer is
  whoever wrote the first message that is not a system line — the usual case of a
  customer writing in to ask. ``Chat.customer_rule`` says which rule was used, so the
  review can show it.
* The request's time is the customer's first message (a media message counts).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from html.parser import HTMLParser
from pathlib import Path

from relief_kit.core.errors import InputError
from relief_kit.core.values import ValueProblem
from relief_kit.text.formatting import local_zone

#: Evidence files larger than this are refused (a text chat of years is well under 1 MB).
MAX_EVIDENCE_BYTES = 5 * 1024 * 1024

WHATSAPP = "whatsapp"
EMAIL = "email"

# Direction and embedding marks WhatsApp scatters through its exports.
_MARKS = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"
_SPACES = "\u00a0\u202f\u2007"
_M = f"[{_MARKS}]*"
_SP = f"[ {_SPACES}]"
_DATE = r"(?P<d1>\d{1,2})[/.-](?P<d2>\d{1,2})[/.-](?P<year>\d{4}|\d{2})"
_TIME = (
    r"(?P<hour>\d{1,2})[:.](?P<minute>\d{2})(?:[:.](?P<second>\d{2}))?"
    rf"(?:{_SP}?{_M}(?P<ampm>[aApP])\.?{_SP}?[mM]\.?)?"
)
_ANDROID = re.compile(rf"^{_M}{_DATE},?{_SP}+{_M}{_TIME}{_M}{_SP}+[-–]{_SP}+(?P<rest>.*)$")
_IOS = re.compile(rf"^{_M}\[{_M}{_DATE},?{_SP}+{_M}{_TIME}{_M}\]{_SP}+(?P<rest>.*)$")
_AUTHOR = re.compile(r"^(?P<author>[^:\n]{1,80}?):(?P<text>(?: |\n|$).*)$", re.DOTALL)

_MEDIA_PATTERNS = (
    # Android, export without media.
    re.compile(r"^<(m[íi]dia oculta|m[íi]dia omitida|media omitted)>$", re.I),
    # Android, export with media: "IMG-20240325-WA0001.jpg (arquivo anexado)".
    re.compile(r"^(?P<name>.+?\.\w{1,5}) \((arquivo anexado|file attached)\)$", re.I),
    # iOS, export with media: "<anexado: 00000012-PHOTO-2024-03-25-21-15-02.jpg>".
    re.compile(r"^<(anexado|attached): (?P<name>[^<>]+)>$", re.I),
    # iOS, export without media: "imagem ocultada", "audio omitted", ...
    re.compile(
        r"^(imagem|image|v[íi]deo|video|[áa]udio|audio|figurinha|sticker|documento|document"
        r"|gif|cart[ãa]o de contato|contact card)( \S+)? (ocultad[oa]|oculto|omitid[oa]"
        r"|omitted)$",
        re.I,
    ),
)
# iOS marks system lines and media with U+200E at the start of the text; deleted
# messages carry it too but still belong to their author.
_DELETED = re.compile(
    r"^(esta mensagem foi apagada|voc[êe] apagou esta mensagem|this message was deleted"
    r"|you deleted this message)\.?$",
    re.I,
)


class ChatProblem(ValueProblem):
    """A chat that cannot be read; ``line`` is the line of the file, when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class Message:
    """One WhatsApp message. ``text`` is as the author wrote it (may span lines)."""

    time: datetime
    author: str  # cleaned name or phone; "" for a system line
    text: str
    is_media: bool = False
    is_system: bool = False
    from_customer: bool = False
    attachment: str = ""  # the attached file's name, when the export names it
    line: int = 0  # line of the file where the message starts


@dataclass(frozen=True)
class Chat:
    messages: tuple[Message, ...]
    layout: str  # "android" | "ios"
    customer_authors: tuple[str, ...]
    customer_rule: str  # "provider_authors" | "first_author" | "none"
    day_first: bool
    preamble: str = ""  # lines before the first message header, kept rather than dropped

    @property
    def requested_at(self) -> datetime | None:
        """When the customer first wrote."""
        return next((m.time for m in self.messages if m.from_customer), None)

    @property
    def authors(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(m.author for m in self.messages if m.author))


@dataclass(frozen=True)
class Attachment:
    filename: str  # "" when the sender gave none
    content_type: str
    size: int  # bytes after decoding


@dataclass(frozen=True)
class Email:
    sender: str
    to: str
    date: datetime | None  # as the Date header says (with its offset); None if absent
    subject: str
    text: str  # the body as plain text (an HTML-only body converted)
    attachments: tuple[Attachment, ...] = ()
    from_html: bool = False  # the text was converted from an HTML body


@dataclass(frozen=True)
class WrittenRequest:
    """What the review and the record show of a written request; plain text only."""

    kind: str  # "whatsapp" | "email"
    file: str  # the evidence file's name
    requested_at: datetime | None  # local wall-clock time, naive
    messages: tuple[Message, ...] = ()  # WhatsApp
    customer_authors: tuple[str, ...] = ()  # WhatsApp
    customer_rule: str = ""  # WhatsApp: how the customer was told apart
    sender: str = ""  # e-mail
    to: str = ""
    subject: str = ""
    text: str = ""
    attachments: tuple[Attachment, ...] = ()

    @property
    def customer_text(self) -> str:
        """Only the customer's own words (WhatsApp: their text messages, in order)."""
        if self.kind == EMAIL:
            return self.text
        return "\n".join(
            m.text for m in self.messages if m.from_customer and not m.is_media
        )


# --------------------------------------------------------------------------- WhatsApp


def clean_name(text: str) -> str:
    """An author's name or phone without invisible marks, with plain spaces and hyphens."""
    text = "".join(" " if c in _SPACES else c for c in text if c not in _MARKS)
    return " ".join(text.replace("\u2011", "-").replace("\u2010", "-").split())


def _name_key(name: str) -> str:
    cleaned = clean_name(name)
    digits = re.sub(r"\D", "", cleaned)
    # A phone number matches however it is punctuated (iOS uses U+2011 hyphens).
    if len(digits) >= 8 and not re.search(r"[^\d\s+().\-\u2010\u2011]", cleaned):
        return digits[-11:] if len(digits) > 11 else digits
    return unicodedata.normalize("NFC", cleaned).casefold()


def _media(text: str) -> tuple[bool, str]:
    first = clean_name(text.split("\n", 1)[0])
    for pattern in _MEDIA_PATTERNS:
        match = pattern.match(first)
        if match:
            return True, clean_name(match.groupdict().get("name") or "")
    return False, ""


def _date_order(headers: list[tuple[int, re.Match]], day_first: bool | None) -> bool:
    if day_first is not None:
        return day_first
    firsts = [line for line, m in headers if int(m["d1"]) > 12]
    seconds = [line for line, m in headers if int(m["d2"]) > 12]
    if firsts and seconds:
        raise ChatProblem(
            "datas em ordens diferentes no mesmo arquivo (dia/mês na linha "
            f"{firsts[0]}, mês/dia na linha {seconds[0]}); corrija ou exporte de novo",
            seconds[0],
        )
    return not seconds


def _moment(match: re.Match, day_first: bool, line: int) -> datetime:
    d1, d2 = int(match["d1"]), int(match["d2"])
    day, month = (d1, d2) if day_first else (d2, d1)
    year = int(match["year"])
    year += 2000 if year < 100 else 0
    hour, minute = int(match["hour"]), int(match["minute"])
    second = int(match["second"] or 0)
    if match["ampm"]:
        if not 1 <= hour <= 12:
            raise ChatProblem(f"hora inválida {hour} num relógio de 12 horas", line)
        hour = hour % 12 + (12 if match["ampm"] in "pP" else 0)
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        raise ChatProblem(
            f"data ou hora inválida {match['d1']}/{match['d2']}/{match['year']} "
            f"{match['hour']}:{match['minute']}",
            line,
        )


def parse_whatsapp(
    text: str, provider_authors: Iterable[str] = (), day_first: bool | None = None
) -> Chat:
    """A WhatsApp "Export chat" text → the messages, each marked customer's or not.

    Raises :class:`ChatProblem` (with the line) when the text is not a chat export or
    a header holds an impossible date.
    """
    lines = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    android = [(n, m) for n, line in enumerate(lines, 1) if (m := _ANDROID.match(line))]
    ios = [(n, m) for n, line in enumerate(lines, 1) if (m := _IOS.match(line))]
    if not android and not ios:
        raise ChatProblem(
            "não parece uma conversa exportada do WhatsApp (nenhuma linha começa com "
            "data e hora, como 25/03/2024 21:15 - Nome: texto)"
        )
    layout, headers = ("ios", ios) if len(ios) >= len(android) else ("android", android)
    order = _date_order(headers, day_first)
    starts = dict(headers)

    raw: list[dict] = []
    preamble: list[str] = []
    for number, line in enumerate(lines, 1):
        match = starts.get(number)
        if match is None:
            if raw:
                raw[-1]["text"] += "\n" + line
            elif line.strip(_MARKS + _SPACES + " \t"):
                preamble.append(line)
            continue
        raw.append({"time": _moment(match, order, number), "rest": match["rest"],
                    "line": number, "text": ""})

    messages: list[dict] = []
    for item in raw:
        rest = item["rest"] + item["text"]
        found = _AUTHOR.match(rest)
        author = clean_name(found["author"]) if found else ""
        body = found["text"].removeprefix(" ") if found else rest
        is_media, attachment = _media(body) if found else (False, "")
        if not found or not author:
            is_system = True
        elif layout == "ios" and body.startswith("\u200e"):
            is_system = not is_media and not _DELETED.match(clean_name(body.split("\n")[0]))
        else:
            is_system = False
        if is_system:
            author, body = "", clean_name(body)
        elif is_media:
            # The file line is WhatsApp's, not the customer's: drop its marks; keep a caption.
            first, newline, caption = body.partition("\n")
            body = clean_name(first) + newline + caption
        messages.append({
            "time": item["time"], "author": author, "text": body.rstrip("\n"),
            "is_media": is_media and not is_system, "is_system": is_system,
            "attachment": attachment, "line": item["line"],
        })

    provider_keys = {_name_key(a) for a in provider_authors if clean_name(a)}
    authors = list(dict.fromkeys(m["author"] for m in messages if not m["is_system"]))
    if provider_keys and any(_name_key(a) in provider_keys for a in authors):
        customers = tuple(a for a in authors if _name_key(a) not in provider_keys)
        rule = "provider_authors"
    elif authors:
        customers, rule = (authors[0],), "first_author"
    else:
        customers, rule = (), "none"
    return Chat(
        messages=tuple(
            Message(**m, from_customer=not m["is_system"] and m["author"] in customers)
            for m in messages
        ),
        layout=layout,
        customer_authors=customers,
        customer_rule=rule,
        day_first=order,
        preamble="\n".join(preamble),
    )


# --------------------------------------------------------------------------- e-mail

# Declared Latin-1 is read as Windows-1252, as browsers do: mail clients label
# Windows-1252 text (curly quotes, the euro sign) as ISO-8859-1.
_LATIN1_LABELS = {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1", "us-ascii", "ascii"}
_BLOCKS = {
    "p", "div", "br", "li", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6",
    "blockquote", "pre", "hr", "ul", "ol", "section", "article", "header", "footer",
}
_SKIPPED = {"script", "style", "head", "title", "noscript", "template"}


class _TextOfHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0
        self.preformatted = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in _SKIPPED:
            self.skipping += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")
            if tag == "li":
                self.parts.append("- ")
            if tag == "pre":
                self.preformatted += 1
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs) -> None:
        if tag in ("br", "hr"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCKS and tag != "li":  # an item's line ends where the next begins
            self.parts.append("\n")
            if tag == "pre":
                self.preformatted = max(0, self.preformatted - 1)

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        if self.preformatted:
            self.parts.append(data)
        else:
            self.parts.append(re.sub(r"[ \t\r\n\f]+", " ", data))


def html_to_text(html: str) -> str:
    """The readable text of an HTML body: scripts, styles and the head dropped,
    paragraphs and line breaks kept, entities decoded. Never interprets anything."""
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts).replace("\xa0", " ")
    lines = [line.strip(" ") for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


def _decode(payload: bytes, charset: str | None) -> str:
    from relief_kit.sources.raw import decode_text

    if charset:
        label = charset.strip().lower()
        try:
            if label in _LATIN1_LABELS:
                try:
                    return payload.decode("cp1252")
                except UnicodeDecodeError:
                    return payload.decode("latin-1")
            return payload.decode(label)
        except (UnicodeDecodeError, LookupError):
            pass  # a wrong or unknown label: read the bytes for what they are
    return decode_text(payload)[0]


def _part_text(part: EmailMessage) -> str:
    payload = part.get_payload(decode=True)
    if payload is None:
        return ""
    return _decode(payload, part.get_content_charset())


def _header(message: EmailMessage, name: str) -> str:
    try:
        value = message.get(name)
    except (ValueError, IndexError, TypeError):
        # A header the policy cannot parse: show it undecoded rather than drop it.
        value = next((v for k, v in message.raw_items() if k.lower() == name.lower()), None)
    return " ".join(str(value).split()) if value is not None else ""


def parse_eml(data: bytes) -> Email:
    """A saved e-mail (RFC 5322 bytes) → sender, recipients, date, subject, text,
    attachments. Raises ValueProblem when the bytes are not an e-mail."""
    message = BytesParser(policy=policy.default).parsebytes(data)
    if not any(message.get(h) is not None for h in ("From", "Date", "Subject")):
        raise ValueProblem(
            "não parece um e-mail salvo (.eml): faltam os cabeçalhos From, Date e Subject"
        )
    moment = None
    try:
        header = message.get("Date")
        moment = getattr(header, "datetime", None)
    except (ValueError, TypeError, IndexError):
        moment = None
    body = message.get_body(preferencelist=("plain", "html"))
    text, from_html = "", False
    if body is not None:
        text = _part_text(body)
        if body.get_content_subtype() == "html":
            text, from_html = html_to_text(text), True
    attachments = []
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True)
        if part.get_content_maintype() == "message" or payload is None:
            inner = part.get_payload()
            size = len(inner[0].as_bytes()) if isinstance(inner, list) and inner else 0
        else:
            size = len(payload)
        attachments.append(Attachment(
            filename=clean_name(part.get_filename() or ""),
            content_type=part.get_content_type(),
            size=size,
        ))
    return Email(
        sender=_header(message, "From"),
        to=_header(message, "To"),
        date=moment,
        subject=_header(message, "Subject"),
        text=text.replace("\r\n", "\n").strip("\n"),
        attachments=tuple(attachments),
        from_html=from_html,
    )


# --------------------------------------------------------------------------- files




def kind_of(path: str | Path) -> str:
    """``whatsapp`` for .txt, ``email`` for .eml; anything else is refused."""
    suffix = Path(path).suffix.lower()
    if suffix == ".txt":
        return WHATSAPP
    if suffix == ".eml":
        return EMAIL
    raise InputError(
        f"{path}: tipo de evidência desconhecido {suffix or '(sem extensão)'!r} "
        "(esperado .txt de conversa do WhatsApp ou .eml de e-mail)."
    )


def read_evidence(
    path: str | Path,
    provider_authors: Iterable[str] = (),
    zone: tzinfo | None = None,
    max_bytes: int = MAX_EVIDENCE_BYTES,
) -> WrittenRequest:
    """Read a written request file for the review and the record.

    WhatsApp text is decoded from UTF-8 (with or without BOM), UTF-16 or Windows-1252.
    An e-mail's date is shown in ``zone`` (default Brasília time) as local wall-clock
    time, like a WhatsApp time. Any problem is one InputError line naming the file.
    """
    path = Path(path)
    kind = kind_of(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise InputError(
                f"{path}: arquivo de evidência grande demais ({size / 1024 / 1024:.1f} MB; "
                f"limite {max_bytes / 1024 / 1024:.0f} MB)."
            )
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: não foi possível ler a evidência ({exc.strerror}).")
    if not data.strip():
        raise InputError(f"{path}: arquivo de evidência vazio.")
    if kind == WHATSAPP:
        from relief_kit.sources.raw import decode_text

        try:
            chat = parse_whatsapp(decode_text(data)[0], provider_authors)
        except ChatProblem as exc:
            where = f"{path}, linha {exc.line}" if exc.line else str(path)
            raise InputError(f"{where}: {exc}.")
        return WrittenRequest(
            kind=WHATSAPP,
            file=path.name,
            requested_at=chat.requested_at,
            messages=chat.messages,
            customer_authors=chat.customer_authors,
            customer_rule=chat.customer_rule,
        )
    try:
        email = parse_eml(data)
    except ValueProblem as exc:
        raise InputError(f"{path}: {exc}.")
    moment = email.date
    if moment is not None and moment.tzinfo is not None:
        moment = moment.astimezone(zone or local_zone()).replace(tzinfo=None)
    return WrittenRequest(
        kind=EMAIL,
        file=path.name,
        requested_at=moment,
        sender=email.sender,
        to=email.to,
        subject=email.subject,
        text=email.text,
        attachments=email.attachments,
    )
