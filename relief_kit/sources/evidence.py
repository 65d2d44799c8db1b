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

import email.utils
import os
import re
import stat
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from email import policy
from email.header import decode_header, make_header
from email.message import Message as MimePart
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

_OMITTED = (r"(imagem|image|foto|photo|v[íi]deo|video|[áa]udio|audio|figurinha|sticker|documento"
            r"|document|gif|cart[ãa]o de contato|contact card)( \S+)? (ocultad[oa]|oculto"
            r"|omitid[oa]|omitted)")
_MEDIA_PATTERNS = (
    # Android, export without media (older and newer pt-BR wording, English).
    re.compile(r"^<(m[íi]dia oculta|m[íi]dia omitida|arquivo de m[íi]dia oculto|media omitted)>$",
               re.I),
    # Android, export with media: "IMG-20240325-WA0001.jpg (arquivo anexado)".
    re.compile(r"^(?P<name>.+?\.\w{1,5}) \((arquivo anexado|file attached)\)$", re.I),
    # iOS, export with media: "<anexado: 00000012-PHOTO-2024-03-25-21-15-02.jpg>", also
    # after a document's title and page count: "Termo.pdf • 3 páginas <anexado: …>".
    re.compile(r"^(?:.*?\s)?<(anexado|attached|anexo): (?P<name>[^<>]+)>$", re.I),
    # iOS, export without media: "imagem ocultada", "audio omitted", and a document's
    # title and page count before it: "Termo • 3 páginas documento omitido".
    re.compile(rf"^(?:.+? • \d+ (p[áa]ginas?|pages?) )?{_OMITTED}$", re.I),
)
_CONTACT_FILE = re.compile(r"\.vcf$", re.I)
_CONTACT_OMITTED = re.compile(r"cart[ãa]o de contato|contact card", re.I)
# What WhatsApp writes in place of a message; each is a kind of message, not the words
# of its author. Matched on the first line with the invisible marks removed.
_KIND_PATTERNS = (
    ("deleted", re.compile(
        r"^((esta|essa) mensagem foi apagada|mensagem apagada|voc[êe] apagou esta mensagem"
        r"|this message was deleted|you deleted this message"
        r"|(esta|essa) mensagem foi apagada por um admin.*|this message was deleted by admin.*)"
        r"\.?$", re.I)),
    # Android writes "null" for a view-once photo, video or voice message.
    ("view_once", re.compile(
        r"^(null|<?(m[íi]dia|foto|v[íi]deo|mensagem de voz|[áa]udio|mensagem) de "
        r"visualiza[çc][ãa]o [úu]nica( (omitid[oa]|ocultad?[oa]))?>?|<?view once (message|photo"
        r"|video|voice message|media)( omitted)?>?)\.?$", re.I)),
    ("missed_call", re.compile(
        r"^((liga[çc][ãa]o|chamada)( em grupo)? de (voz|v[íi]deo) perdida"
        r"|missed (group )?(voice|video) call)([,.] .*)?$", re.I)),
    ("call", re.compile(
        r"^((liga[çc][ãa]o|chamada)( em grupo)? de (voz|v[íi]deo)|(group )?(voice|video) call)"
        r"([,.] .*)?$", re.I)),
    ("location", re.compile(
        r"^((localiza[çc][ãa]o|location|local)( em tempo real( compartilhada)?)?: ?https?://\S+"
        r"|localiza[çc][ãa]o em tempo real compartilhada|live location shared)\.?$", re.I)),
    ("poll", re.compile(r"^(enquete|poll):$", re.I)),
    ("unavailable", re.compile(
        r"^(aguardando (esta )?mensagem|waiting for this message)\b.*$", re.I)),
)
#: The kinds that are something the author sent: the request is dated by the first.
SENT_KINDS = ("text", "media", "contact", "location", "poll")
# An edited message ends with this marker; the words before it are the author's.
_EDITED = re.compile(
    rf"{_SP}*{_M}<{_M}(mensagem editada|(esta|essa) mensagem foi editada"
    rf"|this message was edited){_M}>{_M}[ \t]*$", re.I)


class ChatProblem(ValueProblem):
    """A chat that cannot be read; ``line`` is the line of the file, when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class Message:
    """One WhatsApp message. ``text`` is as the author wrote it (may span lines).

    ``kind`` says what the line is: ``text`` (the author's words), ``media`` (a photo,
    audio, video, sticker or document, sent or omitted from the export), ``contact``,
    ``location``, ``poll``, or a marker WhatsApp writes in place of a message —
    ``deleted``, ``view_once``, ``missed_call``, ``call``, ``unavailable`` — or
    ``system`` (no author). ``edited``: the author edited the text (the marker WhatsApp
    appends is taken out of ``text``).
    """

    time: datetime
    author: str  # cleaned name or phone; "" for a system line
    text: str
    is_media: bool = False
    is_system: bool = False
    from_customer: bool = False
    attachment: str = ""  # the attached file's name, when the export names it
    line: int = 0  # line of the file where the message starts
    kind: str = "text"
    edited: bool = False

    @property
    def caption(self) -> str:
        """What the author wrote under a media message (Android exports keep it)."""
        return self.text.partition("\n")[2].strip("\n") if self.kind == "media" else ""


@dataclass(frozen=True)
class Chat:
    """A WhatsApp export read: its messages and how the customer and dates were read."""

    messages: tuple[Message, ...]
    layout: str  # "android" | "ios"
    customer_authors: tuple[str, ...]
    customer_rule: str  # "provider_authors" | "first_author" | "none"
    day_first: bool
    preamble: str = ""  # lines before the first message header, kept rather than dropped
    #: Nothing in the file decided the day/month order (no field above 12, no 12-hour
    #: clock, both orders keep the messages in time order): ``day_first`` is presumed.
    date_order_presumed: bool = False

    @property
    def requested_at(self) -> datetime | None:
        """When the customer first sent something (not a deleted line or a missed call)."""
        return next((m.time for m in self.messages
                     if m.from_customer and m.kind in SENT_KINDS), None)

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
    #: The Date header's zone as written: "-0300", "+0100"; "-0000" (UTC, the sender's
    #: zone unknown); "" when the header has none or could not be read.
    zone: str = ""
    #: What could not be read as written (a malformed header, an undecodable part), in
    #: Portuguese, for the analyst; the rest of the e-mail is still read.
    warnings: tuple[str, ...] = ()


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
    #: What the analyst must know about how the file was read (Portuguese, one line
    #: each): a presumed day/month order, a date in UTC, a malformed header.
    notes: tuple[str, ...] = ()
    #: The notes that are defects of the file itself (a malformed header), which
    #: ``relief-kit check`` reports as warnings; the others are how it was read.
    defects: tuple[str, ...] = ()

    @property
    def customer_text(self) -> str:
        """Only the customer's own words (WhatsApp: their text messages, in order)."""
        if self.kind == EMAIL:
            return self.text
        return "\n".join(
            m.text for m in self.messages if m.from_customer and m.kind == "text"
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


def _kind(text: str) -> tuple[str, str]:
    """(kind, attached file's name) of a message's text, from its first line."""
    first = clean_name(text.split("\n", 1)[0])
    for pattern in _MEDIA_PATTERNS:
        match = pattern.match(first)
        if match:
            name = clean_name(match.groupdict().get("name") or "")
            contact = _CONTACT_FILE.search(name) if name else _CONTACT_OMITTED.search(first)
            return ("contact" if contact else "media"), name
    for kind, pattern in _KIND_PATTERNS:
        if pattern.match(first):
            return kind, ""
    return "text", ""


def _times(headers: list[tuple[int, re.Match]], day_first: bool) -> list[datetime] | None:
    """Each header's moment in one order; None when a date is impossible in that order."""
    try:
        return [_moment(m, day_first, line) for line, m in headers]
    except ChatProblem:
        return None


def _in_order(times: list[datetime] | None) -> bool:
    return times is not None and all(a <= b for a, b in zip(times, times[1:], strict=False))


def _date_order(headers: list[tuple[int, re.Match]], day_first: bool | None
                ) -> tuple[bool, bool]:
    """(day first?, presumed?) decided from the whole chat.

    In turn: a field above 12 (a day, so the other is the month); the order of the
    messages (an export is in time order, so an order that sends a reply back in time
    is wrong); the 12-hour clock (phones set to US English write month first). With
    none of these, day first as Brazilian phones write, and presumed.
    """
    if day_first is not None:
        return day_first, False
    firsts = [line for line, m in headers if int(m["d1"]) > 12]
    seconds = [line for line, m in headers if int(m["d2"]) > 12]
    if firsts and seconds:
        raise ChatProblem(
            "datas em ordens diferentes no mesmo arquivo (dia/mês na linha "
            f"{firsts[0]}, mês/dia na linha {seconds[0]}); corrija ou exporte de novo",
            seconds[0],
        )
    if firsts or seconds:
        return not seconds, False
    day_ordered = _in_order(_times(headers, True))
    month_ordered = _in_order(_times(headers, False))
    if day_ordered != month_ordered:
        return day_ordered, False
    if any(m["ampm"] for _, m in headers):
        return False, False
    return True, True


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
    """A WhatsApp "Export chat" text → the messages, each marked customer's or not, each
    of its kind (see :class:`Message`).

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
    order, presumed = _date_order(headers, day_first)
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
        edited = bool(found) and _EDITED.search(body.rstrip("\n")) is not None
        if edited:
            body = _EDITED.sub("", body.rstrip("\n"))
        kind, attachment = _kind(body) if found else ("text", "")
        if not found or not author:
            kind = "system"
        elif layout == "ios" and body.startswith("\u200e") and kind == "text":
            # iOS marks system lines with U+200E although they carry an author.
            kind = "system"
        if kind == "system":
            author, body, attachment, edited = "", clean_name(body), "", False
        elif kind != "text":
            # The marker line is WhatsApp's, not the author's: drop its marks; keep a
            # caption, or a poll's question and options, as written.
            first, newline, rest_of = body.partition("\n")
            body = clean_name(first) + newline + rest_of
        messages.append({
            "time": item["time"], "author": author, "text": body.rstrip("\n"),
            "is_media": kind == "media", "is_system": kind == "system",
            "attachment": attachment, "line": item["line"], "kind": kind, "edited": edited,
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
        date_order_presumed=presumed,
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


#: Deeper nesting of parts is refused: real e-mail nests a handful of levels (a
#: forward of a reply with attachments); a thousand is an attack on the parser.
MAX_MIME_DEPTH = 30

_BODY_TYPES = ("text/plain", "text/html")


def _safely(call, fallback, warnings: list[str] | None = None, warning: str = ""):
    """``call()``, or ``fallback`` when the e-mail package raises on a malformed value.

    Python's e-mail package can raise IndexError, TypeError, ValueError and others on
    headers real mail clients write (CPython issues 151857, 125648, 76359); one such
    header must cost only its own value, never the message.
    """
    try:
        return call()
    except Exception:  # noqa: BLE001 - any error of the parser is a malformed value here
        if warnings is not None and warning and warning not in warnings:
            warnings.append(warning)
        return fallback


def _unescaped(value: str) -> str:
    """A raw header value with its 8-bit bytes decoded as a body would be (UTF-8, else
    Windows-1252); the parser keeps such bytes as surrogate escapes."""
    if not any("\udc80" <= c <= "\udcff" for c in value):
        return value
    return _decode(value.encode("ascii", "surrogateescape"), None)


def _raw_header(part: MimePart, name: str) -> str | None:
    for key, value in part.raw_items():
        if key.lower() == name.lower():
            return _unescaped(str(value))
    return None


def _header(part: MimePart, name: str, warnings: list[str]) -> str:
    """A header decoded (RFC 2047 words, raw 8-bit bytes), one line; as written when
    the modern header parser cannot read it."""
    raw = _raw_header(part, name)
    if raw is None:
        return ""
    unfolded = re.sub(r"\r?\n(?=[ \t])", "", raw)

    def parsed() -> str:
        return str(policy.default.header_factory(name, unfolded))

    def words() -> str:
        return str(make_header(decode_header(unfolded)))

    value = _safely(parsed, None)
    if value is None:
        value = _safely(words, unfolded, warnings,
                        f"cabeçalho {name} malformado; mostrado como escrito")
    return " ".join(value.split())




def _email_date(raw: str, warnings: list[str]) -> tuple[datetime | None, str]:
    """(moment, zone as written) of a Date header. ``-0000`` is UTC with the sender's
    own zone unknown (RFC 5322 §3.3); a date without a zone is returned naive."""
    if not raw:
        return None, ""
    moment = _safely(lambda: email.utils.parsedate_to_datetime(raw), None)
    if moment is None:
        warnings.append(f"data do e-mail ilegível {raw[:60]!r}; a data do pedido vem da "
                        "planilha")
        return None, ""
    zone = re.search(r"([+-]\d{4})\s*(\(.*\))?\s*$", raw)
    if moment.tzinfo is None and zone and zone.group(1) == "-0000":
        return moment.replace(tzinfo=UTC), "-0000"
    if moment.tzinfo is None:
        return moment, ""
    if zone:
        return moment, zone.group(1)
    offset = moment.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    return moment, f"{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"


def _content_type(part: MimePart) -> str:
    return _safely(part.get_content_type, "text/plain")


def _is_attachment(part: MimePart) -> bool:
    disposition = _safely(part.get_content_disposition, None)
    return disposition == "attachment"


def _payload(part: MimePart, warnings: list[str]) -> bytes:
    def decoded() -> bytes:
        payload = part.get_payload(decode=True)
        return payload if isinstance(payload, bytes) else b""

    def raw() -> bytes:
        payload = part.get_payload()
        return payload.encode("ascii", "surrogateescape") if isinstance(payload, str) else b""

    value = _safely(decoded, None)
    if value is None:
        value = _safely(raw, b"", warnings,
                        f"parte {_content_type(part)} com codificação ilegível; lida como "
                        "escrita")
    return value


def _part_text(part: MimePart, warnings: list[str]) -> str:
    charset = _safely(part.get_content_charset, None)
    return _decode(_payload(part, warnings), charset if isinstance(charset, str) else None)


def _subparts(part: MimePart) -> list[MimePart]:
    if not _safely(part.is_multipart, False):
        return []
    payload = _safely(part.get_payload, [])
    return [p for p in payload if isinstance(p, MimePart)] if isinstance(payload, list) else []


def _depth(message: MimePart) -> int:
    deepest, stack = 0, [(message, 1)]
    while stack:
        part, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_MIME_DEPTH:
            break
        stack.extend((sub, depth + 1) for sub in _subparts(part))
    return deepest


def _body(part: MimePart, used: set[int], warnings: list[str]) -> tuple[str, bool] | None:
    """The readable text of a part, or None when it has none (blank, an attachment).

    ``multipart/alternative``: the plain text, unless it is blank beside a real HTML
    version (some clients send an empty text/plain part). Other multiparts: every
    inline text part in order (Apple Mail splits a text around an inline picture).
    """
    ctype = _content_type(part)
    if _is_attachment(part) or ctype.startswith("message/"):
        return None
    if ctype in _BODY_TYPES:
        text = _part_text(part, warnings)
        from_html = ctype == "text/html"
        if from_html:
            text = html_to_text(text)
        text = text.replace("\r\n", "\n").strip("\n")
        if not text.strip():
            used.add(id(part))  # a blank body is no attachment either
            return None
        used.add(id(part))
        return text, from_html
    subparts = _subparts(part)
    if ctype == "multipart/alternative":
        found = [(sub, _body(sub, set(), warnings)) for sub in subparts]
        found = [(sub, b) for sub, b in found if b is not None]
        if not found:
            used.update(id(sub) for sub in subparts if _content_type(sub) in _BODY_TYPES)
            return None
        chosen_part, chosen = next(((s, b) for s, b in found if not b[1]), found[0])
        used.update(id(sub) for sub in subparts if _content_type(sub) in _BODY_TYPES)
        _body(chosen_part, used, warnings)
        return chosen
    texts = [b for sub in subparts if (b := _body(sub, used, warnings)) is not None]
    if not texts:
        return None
    return "\n\n".join(t for t, _ in texts), any(h for _, h in texts)


def _attachments(message: MimePart, used: set[int], warnings: list[str]
                 ) -> list[Attachment]:
    found: list[Attachment] = []
    stack = [message]
    while stack:
        part = stack.pop()
        subparts = _subparts(part)
        ctype = _content_type(part)
        if subparts and not ctype.startswith("message/"):
            stack.extend(reversed(subparts))
            continue
        if part is message or id(part) in used:
            continue
        if ctype.startswith("message/"):
            size = _safely(lambda p=subparts: len(p[0].as_bytes()) if p else 0, 0)
        else:
            size = len(_payload(part, warnings))
        name = _safely(part.get_filename, "", warnings,
                       f"nome de anexo malformado na parte {ctype}; anexo listado sem nome")
        if not isinstance(name, str):
            name = ""
        if "=?" in name:
            name = _safely(lambda n=name: str(make_header(decode_header(n))), name)
        found.append(Attachment(filename=clean_name(_unescaped(name)), content_type=ctype,
                                size=size))
    return found


def parse_eml(data: bytes) -> Email:
    """A saved e-mail (RFC 5322 bytes) → sender, recipients, date, subject, text,
    attachments, and a warning for each value that could not be read as written.

    The lenient ``compat32`` parser splits the parts (the modern policy raises on some
    malformed headers), and each header is then decoded on its own. Raises ValueProblem
    when the bytes are not an e-mail or nest parts deeper than :data:`MAX_MIME_DEPTH`.
    """
    too_deep = ValueProblem(
        f"e-mail com partes aninhadas em mais de {MAX_MIME_DEPTH} níveis; salve de novo só "
        "a mensagem do cliente (sem encaminhamentos em cadeia)")
    try:
        message = BytesParser(policy=policy.compat32).parsebytes(data)
    except RecursionError:
        raise too_deep from None
    except Exception as exc:  # noqa: BLE001 - the parser should not raise; say so if it does
        raise ValueProblem(f"e-mail ilegível ({type(exc).__name__}); salve-o de novo como "
                           ".eml") from None
    if not any(_raw_header(message, h) is not None for h in ("From", "Date", "Subject")):
        raise ValueProblem(
            "não parece um e-mail salvo (.eml): faltam os cabeçalhos From, Date e Subject"
        )
    if _depth(message) > MAX_MIME_DEPTH:
        raise too_deep
    warnings: list[str] = []
    for part in message.walk():
        for key, value in part.raw_items():
            if key.lower() in ("content-type", "content-disposition"):
                def check(k=key, v=value) -> object:
                    return policy.default.header_factory(k, _unescaped(str(v))).params
                _safely(check, None, warnings,
                        f"cabeçalho {key} malformado ({' '.join(str(value).split())[:60]}); "
                        "o resto da mensagem foi lido")
    # The Date header as written: the modern parser would write "-0000" for no zone.
    moment, zone = _email_date(" ".join((_raw_header(message, "Date") or "").split()),
                               warnings)
    used: set[int] = set()
    body = _body(message, used, warnings)
    text, from_html = body if body is not None else ("", False)
    return Email(
        sender=_header(message, "From", warnings),
        to=_header(message, "To", warnings),
        date=moment,
        subject=_header(message, "Subject", warnings),
        text=text,
        attachments=tuple(_attachments(message, used, warnings)),
        from_html=from_html,
        zone=zone,
        warnings=tuple(warnings),
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
    time, like a WhatsApp time. Anything but a regular file (a FIFO, a device) is
    refused before it is opened. Any problem is one InputError line naming the file;
    what was read with a doubt is a line of ``notes``.
    """
    path = Path(path)
    kind = kind_of(path)
    data = evidence_bytes(path, max_bytes)
    if kind == WHATSAPP:
        from relief_kit.sources.raw import decode_text

        try:
            chat = parse_whatsapp(decode_text(data)[0], provider_authors)
        except ChatProblem as exc:
            where = f"{path}, linha {exc.line}" if exc.line else str(path)
            raise InputError(f"{where}: {exc}.")
        notes = []
        if chat.date_order_presumed:
            notes.append(
                "ordem de dia e mês presumida: nenhuma data da conversa decide entre dia/mês "
                f"e mês/dia; lidas como {'dia/mês' if chat.day_first else 'mês/dia'}, como "
                "escrevem os celulares em português; confira as datas com o cliente")
        return WrittenRequest(
            kind=WHATSAPP,
            file=path.name,
            requested_at=chat.requested_at,
            messages=chat.messages,
            customer_authors=chat.customer_authors,
            customer_rule=chat.customer_rule,
            notes=tuple(notes),
        )
    try:
        email = parse_eml(data)
    except ValueProblem as exc:
        raise InputError(f"{path}: {exc}.")
    notes = list(email.warnings)
    moment = email.date
    if moment is not None and moment.tzinfo is not None:
        if email.zone == "-0000":
            notes.append(f"o e-mail dá a hora em UTC ({moment:%H:%M} -0000), sem o fuso do "
                         "remetente; mostrada no horário de Brasília")
        moment = moment.astimezone(zone or local_zone()).replace(tzinfo=None)
    elif moment is not None:
        notes.append("a data do e-mail não tem fuso horário; mostrada como escrita")
    return WrittenRequest(
        kind=EMAIL,
        file=path.name,
        requested_at=moment,
        sender=email.sender,
        to=email.to,
        subject=email.subject,
        text=email.text,
        attachments=email.attachments,
        notes=tuple(notes),
        defects=email.warnings,
    )


def evidence_bytes(path: str | Path, max_bytes: int = MAX_EVIDENCE_BYTES, *,
                   allow_empty: bool = False) -> bytes:
    """An evidence file's bytes, or one InputError line naming it: a FIFO, device or
    folder is refused before it is opened (a FIFO would block the reader forever), and
    nothing beyond ``max_bytes`` is read. An empty file is refused unless
    ``allow_empty`` (the archive keeps a copy of what was there, even nothing)."""
    path = Path(path)
    try:
        status = path.stat()
        if not stat.S_ISREG(status.st_mode):
            raise InputError(f"{path}: a evidência não é um arquivo comum ({_file_kind(status)}); "
                             "copie para evidence/ o arquivo da conversa ou do e-mail.")
        if status.st_size > max_bytes:
            raise InputError(
                f"{path}: arquivo de evidência grande demais "
                f"({status.st_size / 1024 / 1024:.1f} MB; limite "
                f"{max_bytes / 1024 / 1024:.0f} MB)."
            )
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(f"{path}: não foi possível ler a evidência ({exc.strerror}).")
    if len(data) > max_bytes:
        raise InputError(f"{path}: arquivo de evidência grande demais (limite "
                         f"{max_bytes / 1024 / 1024:.0f} MB).")
    if not data.strip() and not allow_empty:
        raise InputError(f"{path}: arquivo de evidência vazio.")
    return data


def _file_kind(status: os.stat_result) -> str:
    mode = status.st_mode
    if stat.S_ISDIR(mode):
        return "é uma pasta"
    if stat.S_ISFIFO(mode):
        return "é um pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "é um dispositivo"
    if stat.S_ISSOCK(mode):
        return "é um socket"
    return "tipo especial"
