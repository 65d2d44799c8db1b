"""Values from text: money, dates, date-times and yes/no answers as people write them.

Brazilian spreadsheets write ``1.149,90`` and ``dd/mm/aaaa``; systems write
``1149.90`` and ISO dates. The parsers here accept both and refuse anything they
would have to guess at, with a :class:`ValueProblem` whose message (Portuguese) the
caller turns into a one-line error naming file, row and column.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation


class ValueProblem(ValueError):
    """A value that cannot be read; the message says what was expected (Portuguese)."""


#: Longer values are cut in messages: a 1 MB cell must not make a 1 MB error line.
SHOWN_CHARS = 60


def shown(text: str) -> str:
    """A value quoted for a message (``repr``, so control characters are visible),
    cut to its first characters when long: ``'xxxx…' (1.000.000 caracteres)``."""
    text = str(text)
    if len(text) <= SHOWN_CHARS:
        return repr(text)
    return f"{text[:SHOWN_CHARS]!r}… ({len(text):,} caracteres)".replace(",", ".")


_MONEY_BR = re.compile(r"^-?\d{1,3}(\.\d{3})*(,\d{1,2})?$|^-?\d+(,\d{1,2})?$")
_MONEY_DOT = re.compile(r"^-?\d{1,3}(,\d{3})*(\.\d{1,2})?$|^-?\d+(\.\d{1,2})?$")


def parse_money(text: str) -> Decimal | None:
    """``"1.149,90"``, ``"1149,90"``, ``"1149.90"``, ``"R$ 89,90"`` → Decimal; empty → None.

    A value with a single dot and three digits after it (``"1.149"``) is ambiguous
    (one thousand or one real?) and is refused rather than guessed.
    """
    value = (text or "").strip().replace("R$", "").replace("\xa0", "").replace(" ", "")
    if not value:
        return None
    if len(value) > 30:  # beyond a trillion reais: not an amount (and Decimal would overflow)
        raise ValueProblem(f"valor não numérico {shown(text.strip())} (esperado como 1.149,90)")
    if "," in value and "." in value:
        # The separator that comes last is the decimal one.
        if value.rfind(",") > value.rfind("."):
            ok = _MONEY_BR.match(value)
            normalised = value.replace(".", "").replace(",", ".")
        else:
            ok = _MONEY_DOT.match(value)
            normalised = value.replace(",", "")
    elif "," in value:
        ok = _MONEY_BR.match(value)
        normalised = value.replace(",", ".")
    elif "." in value:
        head, _, tail = value.rpartition(".")
        if len(tail) == 3 and head.lstrip("-").isdigit():
            raise ValueProblem(f"valor ambíguo {shown(text.strip())}: escreva 1.149,00 ou 1149.00")
        ok = _MONEY_DOT.match(value) or _MONEY_BR.match(value)
        normalised = value.replace(",", "") if _MONEY_DOT.match(value) else value.replace(".", "")
    else:
        ok = _MONEY_BR.match(value)
        normalised = value
    if not ok:
        raise ValueProblem(f"valor não numérico {shown(text.strip())} (esperado como 1.149,90)")
    try:
        return Decimal(normalised).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise ValueProblem(f"valor não numérico {shown(text.strip())} (esperado como 1.149,90)")


_DATE_FORMATS = ("%d/%m/%Y", "%Y-%m-%d")
_DATETIME_FORMATS = (
    "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M",
)
_EMPTY_DATES = {"", "0000-00-00", "00/00/0000", "0000-00-00 00:00:00"}


def parse_date(text: str) -> date | None:
    """``dd/mm/aaaa`` or ``aaaa-mm-dd`` (a time part is ignored); empty or zero → None."""
    value = (text or "").strip()
    if value in _EMPTY_DATES:
        return None
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            pass
    moment = _try_datetime(value)
    if moment is not None:
        return moment.date()
    raise ValueProblem(f"data inválida {shown(value)} (esperado dd/mm/aaaa ou aaaa-mm-dd)")


def parse_datetime(text: str) -> datetime | None:
    """A date with or without time; a bare date means midnight. Empty → None."""
    value = (text or "").strip()
    if value in _EMPTY_DATES:
        return None
    moment = _try_datetime(value)
    if moment is not None:
        return moment
    try:
        day = parse_date(value)
    except ValueProblem:
        raise ValueProblem(
            f"data e hora inválidas {shown(value)} (esperado dd/mm/aaaa hh:mm ou aaaa-mm-dd hh:mm)"
        )
    return datetime(day.year, day.month, day.day) if day else None


def _try_datetime(value: str) -> datetime | None:
    for fmt in _DATETIME_FORMATS:
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            pass
    return None


_TRUE = {"sim", "s", "yes", "y", "true", "t", "1", "verdadeiro"}
_FALSE = {"não", "nao", "n", "no", "false", "f", "0", "falso"}


def parse_bool(text: str) -> bool | None:
    """sim/não, yes/no, s/n, true/false, 1/0 → bool; empty → None (not answered)."""
    value = (text or "").strip().lower()
    if not value:
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueProblem(f"resposta inválida {shown(text.strip())} (esperado sim ou não)")
