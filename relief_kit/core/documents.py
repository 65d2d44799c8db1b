"""CPF, CNPJ and phone numbers: validation, canonical forms and masks.

The check-digit algorithms come from python-stdnum (``stdnum.br.cpf``/``cnpj``, which
already knows the alphanumeric CNPJ issued from July 2026) and phone rules from
phonenumbers (Google's libphonenumber metadata); nothing here re-implements them.

Masks (LGPD art. 6º, III — necessity): a screen or a list only needs enough of a
document or phone to tell two customers apart and to let the analyst confirm it on a
call. We therefore hide what identifies the person by itself and keep what helps to
recognise the record:

- CPF ``***.456.789-**``: the first three digits and the check digits are hidden; the
  middle six are what federal portals such as the Portal da Transparência publish, a
  known exposure that reveals no one by itself.
- CNPJ ``11.222.***/****-81``: the first five digits of the root (the registry's
  company prefix) and the check digits stay; the rest of the root and the branch
  number are hidden. A CNPJ is public for companies, but a MEI's CNPJ is a person's.
- Phone ``(35) 9****-0000``: area code (where the customer is), the first digit
  (mobile or landline) and the last four digits (what people confirm by ear).
"""

from __future__ import annotations

import re

import phonenumbers
from stdnum.br import cnpj, cpf

from relief_kit.core.values import ValueProblem

_SEPARATORS = re.compile(r"[\s.\-/]")
# Spreadsheets and ERPs write documents with dots, dashes, slashes and spaces (also the
# en dash some word processors substitute); anything else makes it a different thing.
_DOCUMENT_SHAPE = re.compile(r"^[0-9A-Za-z.\-/\s\u2013]+$")
# With letters (the alphanumeric CNPJ) only the bare or the official layout is taken, so
# that "CPF 529.982.247-25" is not read as a 14-character CNPJ.
_LETTERED_CNPJ = re.compile(
    r"^[0-9A-Z]{14}$|^[0-9A-Z]{2}\.[0-9A-Z]{3}\.[0-9A-Z]{3}/[0-9A-Z]{4}-\d{2}$"
)


def bare_document(text: str) -> str:
    """The document without separators: ``"123.456.789-09"`` → ``"12345678909"``.

    Letters of an alphanumeric CNPJ are kept and upper-cased.
    """
    return _SEPARATORS.sub("", (text or "").replace("\u2013", "-")).upper()


def document_kind(text: str) -> str | None:
    """``"CPF"`` (11 digits), ``"CNPJ"`` (14 characters, the last two digits) or None.

    The kind comes from the shape only, so an invalid CPF is still a CPF: callers ask
    :func:`is_valid_document` about the check digits.
    """
    value = (text or "").strip()
    if not value or not _DOCUMENT_SHAPE.match(value):
        return None
    bare = bare_document(value)
    if len(bare) == 11 and bare.isdigit():
        return "CPF"
    if len(bare) == 14 and bare[-2:].isdigit() and bare.isalnum() and bare.isascii():
        if bare.isdigit() or _LETTERED_CNPJ.match(value.upper()):
            return "CNPJ"
    return None


def is_valid_document(text: str, person_type: str | None = None) -> bool:
    """True for a CPF or CNPJ whose check digits agree.

    With ``person_type`` given, a PF (individual) must have a CPF and a PJ (company) a
    CNPJ. A CPF of eleven repeated digits (``111.111.111-11``) passes the check-digit
    test but is never issued by the Receita Federal: it is a placeholder, so refused.
    """
    kind = document_kind(text)
    if kind is None:
        return False
    if person_type is not None and {"PF": "CPF", "PJ": "CNPJ"}.get(person_type.upper()) != kind:
        return False
    bare = bare_document(text)
    if kind == "CPF":
        return cpf.is_valid(bare) and len(set(bare)) > 1
    return cnpj.is_valid(bare)


def format_document(text: str) -> str:
    """``"123.456.789-09"`` or ``"11.222.333/0001-81"``; raises ValueProblem if neither."""
    kind = document_kind(text)
    if kind is None:
        raise ValueProblem(f"documento {(text or '').strip()!r} não é CPF (11 dígitos) nem "
                           "CNPJ (14 caracteres)")
    bare = bare_document(text)
    return cpf.format(bare) if kind == "CPF" else cnpj.format(bare)


def mask_document(text: str) -> str:
    """``"***.456.789-**"`` for a CPF, ``"11.222.***/****-81"`` for a CNPJ.

    Anything that is neither is masked whole (``"***"``): a mask must never leak what
    it cannot recognise.
    """
    kind = document_kind(text)
    if kind is None:
        return "***"
    bare = bare_document(text)
    if kind == "CPF":
        return f"***.{bare[3:6]}.{bare[6:9]}-**"
    return f"{bare[0:2]}.{bare[2:5]}.***/****-{bare[12:]}"


def _parse_phone(text: str, region: str) -> phonenumbers.PhoneNumber:
    value = (text or "").strip()
    if not value:
        raise ValueProblem("telefone vazio")
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise ValueProblem(f"telefone ilegível {value!r} (esperado como (35) 99999-0000)")
    if not phonenumbers.is_valid_number(number):
        raise ValueProblem(
            f"telefone inválido {value!r}: confira o DDD e o número (celular com 9 dígitos, "
            "como (35) 99999-0000)"
        )
    return number


def normalize_phone(text: str, region: str = "BR") -> str:
    """E.164: ``"(35) 99999-0000"`` → ``"+5535999990000"``; raises ValueProblem.

    Accepts what customers and ERPs write: with or without +55, a trunk ``0``, a
    carrier code (``0 21 35 ...``), spaces, dots and dashes.
    """
    number = _parse_phone(text, region)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _national_parts(text: str) -> tuple[str, str]:
    """(area code, subscriber number) of a valid Brazilian phone; ValueProblem otherwise."""
    number = _parse_phone(text, "BR")
    national = str(number.national_number)
    if number.country_code != 55 or len(national) not in (10, 11):
        raise ValueProblem(f"telefone {text.strip()!r} não é um número brasileiro com DDD")
    return national[:2], national[2:]


def format_phone(text: str) -> str:
    """``"(35) 99999-0000"`` (mobile) or ``"(35) 3333-0000"`` (landline)."""
    area, subscriber = _national_parts(text)
    return f"({area}) {subscriber[:-4]}-{subscriber[-4:]}"


def mask_phone(text: str) -> str:
    """``"(35) 9****-0000"``; a phone that cannot be read is masked whole (``"***"``)."""
    try:
        area, subscriber = _national_parts(text)
    except ValueProblem:
        return "***"
    hidden = "*" * (len(subscriber) - 5)
    return f"({area}) {subscriber[0]}{hidden}-{subscriber[-4:]}"


#: A CPF or CNPJ written inside free text, with or without its separators.
_DOCUMENT_IN_TEXT = re.compile(
    r"(?<![\w/])(?:\d{3}\.?\d{3}\.?\d{3}-?\d{2}|\d{2}\.?\d{3}\.?\d{3}/?\d{4}-?\d{2})(?![\w/])"
)


def mask_contacts(text: str) -> str:
    """Free text (a chat author, a message) with every phone and CPF/CNPJ in it masked
    the way :func:`mask_phone` and :func:`mask_document` mask the customer's own.

    A WhatsApp export names a contact not saved in the phone by the number itself, and
    customers type their numbers in messages: the same data, so the same mask.
    """
    if not text:
        return text
    pieces, last = [], 0
    for match in phonenumbers.PhoneNumberMatcher(text, "BR", leniency=phonenumbers.Leniency.VALID):
        pieces += [text[last:match.start], mask_phone(match.raw_string)]
        last = match.end
    masked = "".join(pieces) + text[last:]
    return _DOCUMENT_IN_TEXT.sub(
        lambda m: mask_document(m[0]) if document_kind(m[0]) else m[0], masked)
