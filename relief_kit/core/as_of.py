"""The as-of date of a run: the day the case is judged on.

One rule, used by every command, the review and the batch: the date the user gave
(``--today`` or the notebook's ``today`` parameter), else the data folder's as-of date
(``export.toml``, written by the import or the sample), else the machine's date.
"""

from __future__ import annotations

from datetime import date, datetime

from relief_kit.core.values import parse_date


def as_of_date(given: date | str | None, folder_as_of: date | None, clock_today: date) -> date:
    """The as-of date: ``given`` (a date, ``aaaa-mm-dd`` or ``dd/mm/aaaa``), else
    ``folder_as_of``, else ``clock_today``.

    Raises :class:`~relief_kit.core.values.ValueProblem` when ``given`` is text that is
    not a date. The clock is injected: the core never reads it.
    """
    if isinstance(given, datetime):
        return given.date()
    if isinstance(given, date):
        return given
    if given is not None and str(given).strip():
        parsed = parse_date(str(given))
        if parsed is not None:
            return parsed
    return folder_as_of or clock_today
