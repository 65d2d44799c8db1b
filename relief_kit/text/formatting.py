"""How analysts and customers read money, dates and documents: pt-BR, via Babel."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from functools import lru_cache

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal, format_percent

LOCALE = "pt_BR"
# Parsed once: Babel parses a locale name again on every call given as text, which was
# most of the cost of a replay's Portuguese reasons.
_LOCALE = Locale.parse(LOCALE)
# The same amounts, shares and dates come back case after case (a replay formats tens of
# thousands); typed, so 1, 1.0 and Decimal("1") are kept apart.
_cached = lru_cache(maxsize=1 << 16, typed=True)


def local_zone() -> tzinfo:
    """Brasília time, in which moments are shown (UTC−3 if there is no tz database)."""
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("America/Sao_Paulo")
    except Exception:  # no tz database: Brasília time has had no daylight saving since 2019
        return timezone(timedelta(hours=-3))


@_cached
def money(value: Decimal | float | int | None) -> str:
    """``R$ 1.234,56`` (Babel; the non-breaking space is kept as a plain space)."""
    if value is None:
        return "—"
    return format_currency(value, "BRL", locale=_LOCALE).replace("\xa0", " ")


@_cached
def day(value: date | datetime | None) -> str:
    """``dd/mm/aaaa``."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.date()
    return format_date(value, "dd/MM/yyyy", locale=_LOCALE)


def moment(value: datetime | None) -> str:
    """``dd/mm/aaaa hh:mm``."""
    if value is None:
        return "—"
    return format_datetime(value, "dd/MM/yyyy HH:mm", locale=_LOCALE)


@_cached
def month(value: date | datetime | str | None) -> str:
    """A month as the team says it: ``ago/2026`` (CLDR's abbreviated month in pt-BR,
    without its abbreviation dot); ``value`` a date or ``"2026-08"``; "—" for none."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = date.fromisoformat(f"{value[:7]}-01")
    return format_date(value, "MMM/yyyy", locale=LOCALE).replace(".", "")


def percent(share: float | None, digits: int = 0) -> str:
    """A share 0–1 as ``85%``."""
    if share is None:
        return "—"
    pattern = "#,##0" + ("." + "0" * digits if digits else "") + "%"
    return format_percent(share, pattern, locale=_LOCALE).replace("\xa0", " ")


@_cached
def number(value: float | int | None, digits: int = 1) -> str:
    if value is None:
        return "—"
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, pattern, locale=_LOCALE)


def yes_no(value: bool | None) -> str:
    return {True: "Sim", False: "Não", None: "Não respondido"}[value]


def bills_text(bills) -> str:
    """The bills an option changes: ``fatura de 05/12/2026`` / ``faturas de 05/10 e 05/11``."""
    if not bills:
        return ""
    dates = [day(b.due_date) for b in bills]
    upcoming = all(getattr(b, "upcoming", False) for b in bills)
    noun = "próxima fatura" if upcoming else ("fatura" if len(bills) == 1 else "faturas")
    listed = dates[0] if len(dates) == 1 else ", ".join(dates[:-1]) + " e " + dates[-1]
    return f"{noun} de {listed}"


def terms_text(action, terms) -> str:
    """The terms of an option in one Portuguese line, for tables and panels."""
    from relief_kit.core.model import Action
    from relief_kit.core.terms import payable

    action = Action(action)
    which = bills_text(getattr(terms, "bills", ()))
    about = f" ({which})" if which else ""
    if action is Action.DISCOUNT and terms.discount_percent is not None:
        return (f"{number(float(terms.discount_percent), 0)}% de desconto sobre "
                f"{money(terms.amount)}{about}: pagar {money(payable(terms))} até "
                f"{day(terms.pay_by)}")
    if action is Action.POSTPONEMENT:
        if terms.new_due_date is None:
            return f"{money(terms.amount)}{about}: sem nova data possível"
        return f"{money(terms.amount)}{about} com novo vencimento em {day(terms.new_due_date)}"
    if action is Action.INSTALMENTS and terms.instalments:
        counts: dict = {}
        for i in terms.instalments:
            counts.setdefault(i.amount, []).append(i)
        if len(terms.instalments) > 3:
            parts = " + ".join(f"{len(v)} × {money(k)}" for k, v in counts.items())
            return (f"{len(terms.instalments)} parcelas{about}: {parts}, de "
                    f"{day(terms.instalments[0].due_date)} a "
                    f"{day(terms.instalments[-1].due_date)}")
        parts = "; ".join(f"{money(i.amount)} em {day(i.due_date)}" for i in terms.instalments)
        return f"{len(terms.instalments)} parcelas{about}: {parts}"
    if action is Action.REFUSAL:
        return f"sem acordo sobre {money(terms.amount)}{about}"
    if action is Action.ASK_INFO:
        return "pedir ao cliente a explicação por escrito e as informações que faltam"
    return "—"


def count(value: int, one: str, other: str) -> str:
    """``1 cadastro``, ``0 cadastros``, ``1.234 cadastros``: the number in pt-BR and the
    word in its plural form.

    ``ngettext``'s rule (singular for exactly one) is the Brazilian usage for counts:
    "0 pontos", "nenhum" aside. CLDR's Portuguese rule puts 0 with the singular
    ("0 ponto"), which is European and reads as a slip to a Brazilian analyst.
    """
    import gettext

    word = gettext.NullTranslations().ngettext(one, other, abs(int(value)))
    return f"{format_decimal(value, '#,##0', locale=LOCALE)} {word}"


def seconds(value: float) -> str:
    """``102,8 s``: a duration with a decimal comma."""
    return f"{number(value, 1)} s"
