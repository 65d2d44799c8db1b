"""Whether the terms of a decision can still be offered: no date already past.

A message tells the customer what to pay and by when; a date earlier than the day the
message is produced would be a false promise (CDC art. 6 III: clear and correct
information; art. 37 §1: no misleading information). Such a decision needs new terms
before any message goes out.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any


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
