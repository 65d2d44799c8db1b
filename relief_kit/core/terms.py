"""The terms of an agreement, computed once: amount to pay, instalment plans, rounding.

Everything that shows, prices, validates or writes an amount — the money comparison,
the record, the messages, the review's validation, the meeting — takes it from here,
so R$ 100,50 at 15 % is R$ 85,43 everywhere (half-up to the centavo, once).

And whether terms can still be offered: no date already past. A message tells the
customer what to pay and by when; a date earlier than the day the message is produced
would be a false promise (CDC art. 6 III: clear and correct information; art. 37 §1: no
misleading information). Such a decision needs new terms before any message goes out.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from relief_kit.core.model import Instalment, Terms

CENT = Decimal("0.01")


def cents(value: Decimal | float | int) -> Decimal:
    """Rounded half-up to the centavo."""
    if type(value) is Decimal:  # Decimal(str(d)) is d: skip the round trip (hot path)
        return value.quantize(CENT, rounding=ROUND_HALF_UP)
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def amount_to_pay(amount: Decimal, percent: Decimal | float | int) -> Decimal:
    """What the customer pays after a discount of ``percent`` % on ``amount``."""
    amount, percent = Decimal(str(amount)), Decimal(str(percent))
    return cents(amount - amount * percent / 100)


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or the month's last day when it has no such day."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def split(amount: Decimal, count: int, first_due: date) -> tuple[Instalment, ...]:
    """``count`` monthly instalments summing to ``amount`` to the centavo: equal ones
    rounded half-up, the last absorbing the difference."""
    amount = cents(amount)
    if count < 1:
        return ()
    each = cents(amount / count)
    plan = []
    for number in range(1, count + 1):
        value = each if number < count else amount - each * (count - 1)
        plan.append(Instalment(number, add_months(first_due, number - 1), value))
    return tuple(plan)


def instalment_count(amount: Decimal, *, wanted: int, max_count: int, min_amount: Decimal,
                     capacity: Decimal | None = None) -> int:
    """How many instalments: ``wanted`` (at least 2), raised until each fits the monthly
    ``capacity`` the customer stated, never above ``max_count`` and never so many that
    an instalment falls below ``min_amount``. Below 2: no plan (0)."""
    amount = cents(amount)
    count = max(2, wanted)
    if capacity is not None and capacity > 0:
        while count < max_count and cents(amount / count) > capacity:
            count += 1
    count = min(count, max_count)
    if min_amount > 0:
        count = min(count, int(amount // min_amount))
        # The last instalment absorbs the rounding (:func:`split`): it too must reach the
        # minimum (R$ 690,58 in 23 is 22 × 30,03 and a last one of 29,92).
        while count >= 2 and amount - cents(amount / count) * (count - 1) < min_amount:
            count -= 1
    return count if count >= 2 else 0


def with_amount_to_pay(terms: Terms) -> Terms:
    """``terms`` with ``to_pay`` filled (a discount's amount to pay; else the amount,
    or the instalments' sum)."""
    from dataclasses import replace

    if terms.discount_percent is not None:
        to_pay = amount_to_pay(terms.amount, terms.discount_percent)
    elif terms.instalments:
        to_pay = sum((i.amount for i in terms.instalments), Decimal("0.00"))
    else:
        to_pay = cents(terms.amount)
    # Already filled with this very Decimal (sign, digits and exponent: the same value
    # written the same way), as the money comparison's rows are: no copy.
    if type(terms.to_pay) is Decimal and terms.to_pay.as_tuple() == to_pay.as_tuple():
        return terms
    return replace(terms, to_pay=to_pay)


def payable(terms: Terms) -> Decimal:
    """What the customer pays under ``terms`` (``to_pay`` when set, else computed)."""
    if terms.to_pay is not None:
        return terms.to_pay
    return with_amount_to_pay(terms).to_pay


def _as_date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def terms_dates(terms: Any) -> tuple[date, ...]:
    """Every date the customer is asked to keep: ``pay_by``, ``new_due_date`` and each
    instalment's ``due_date``. ``terms`` is a ``model.Terms`` or its JSON form (a mapping
    with ISO dates, as in ``case.json``)."""
    get = terms.get if isinstance(terms, Mapping) else (lambda k, d=None: getattr(terms, k, d))
    found = [_as_date(get("pay_by")), _as_date(get("new_due_date"))]
    for instalment in get("instalments") or ():
        due = (instalment.get("due_date") if isinstance(instalment, Mapping)
               else instalment.due_date)
        found.append(_as_date(due))
    return tuple(d for d in found if d is not None)


def stale_dates(terms: Any, today: date) -> tuple[date, ...]:
    """The dates of ``terms`` earlier than ``today`` (empty: the terms can be sent)."""
    return tuple(d for d in terms_dates(terms) if d < today)


__all__ = ["stale_dates", "terms_dates"]
