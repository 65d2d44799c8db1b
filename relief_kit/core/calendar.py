"""Business days in the provider's town: which days a bill may fall due on.

A business day is a Monday to Friday that is not a holiday. Holidays are:

- national and state holidays (the ``holidays`` package, country ``BR``, the provider's
  UF as ``subdiv``: Lei 662/1949 and Lei 6.802/1980 for the national ones, each state's
  own law for its date);
- the provider's municipal holidays (``settings.toml``, ``[calendar]
  municipal_holidays``: each town sets its own by municipal law, so the kit cannot know
  them);
- optionally Carnival Monday and Tuesday (``carnival = true``): a ponto facultativo,
  not a national holiday, but banks and many businesses close, so a bill due then is
  paid the next business day anyway;
- optionally every federal ponto facultativo the ``holidays`` package lists
  (``optional_days = true``: Ash Wednesday, Corpus Christi, 28/10, 24/12, 31/12).

Código Civil art. 132 §1: a term that ends on a holiday is extended to the next
business day; the kit applies the same to every date it proposes to a customer
(pay-by, new due and instalment dates) and to the regulatory dates.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

import holidays
import numpy as np
from dateutil.easter import easter

#: Carnival Monday and Tuesday fall 48 and 47 days before Easter Sunday.
_CARNIVAL_OFFSETS = (48, 47)


@dataclass(frozen=True)
class MunicipalHoliday:
    """A municipal holiday: every year on ``month``/``day``, or once when ``year`` is set."""

    month: int
    day: int
    year: int | None = None

    def falls_on(self, day: date) -> bool:
        return (day.month, day.day) == (self.month, self.day) and (
            self.year is None or self.year == day.year)


@dataclass(frozen=True)
class BusinessCalendar:
    """The provider's calendar (``settings.toml`` ``[calendar]``; see ``load_calendar``).

    ``state``: the UF (two letters, e.g. ``"MG"``) for state holidays, ``""`` for
    national holidays only. The default calendar is national holidays and weekends.
    """

    state: str = ""
    municipal: tuple[MunicipalHoliday, ...] = ()
    carnival: bool = False
    optional_days: bool = False

    def is_holiday(self, day: date) -> bool:
        """A national, state or municipal holiday, or a configured ponto facultativo."""
        if day in _official(self.state, day.year, self.optional_days):
            return True
        if any(h.falls_on(day) for h in self.municipal):
            return True
        if self.carnival:
            sunday = easter(day.year)
            return any(day == sunday - timedelta(days=d) for d in _CARNIVAL_OFFSETS)
        return False

    def is_business_day(self, day: date) -> bool:
        """Monday to Friday and not a holiday."""
        return day.weekday() < 5 and day not in _weekday_holidays(self, day.year)

    def next_business_day(self, day: date) -> date:
        """``day`` itself when it is a business day, else the first business day after it
        (Código Civil art. 132 §1)."""
        while not self.is_business_day(day):
            day += timedelta(days=1)
        return day

    def previous_business_day(self, day: date) -> date:
        """``day`` itself when it is a business day, else the last business day before it."""
        while not self.is_business_day(day):
            day -= timedelta(days=1)
        return day

    def business_day_within(self, day: date, limit: date) -> date:
        """The business day for ``day``: the next one, unless that passes ``limit``, then
        the last one before ``day`` (a limit of the criteria is never crossed)."""
        moved = self.next_business_day(day)
        return moved if moved <= limit else self.previous_business_day(day)

    def add_business_days(self, day: date, count: int) -> date:
        """The ``count``-th business day after ``day`` (``count`` ≥ 0; 0 gives
        :meth:`next_business_day` of ``day``). Raises ``ValueError`` for a negative count."""
        if count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        if count == 0:
            return self.next_business_day(day)
        while count:
            day += timedelta(days=1)
            if self.is_business_day(day):
                count -= 1
        return day

    def business_days_between(self, start: date, end: date) -> int:
        """Business days after ``start`` up to and including ``end`` (0 when ``end`` is
        not after ``start``): the days an analyst has left to answer by ``end``."""
        if end <= start:
            return 0
        closed = [d for year in range(start.year, end.year + 1)
                  for d in _weekday_holidays(self, year)]
        # numpy counts weekdays of [begin, end) without the given holidays: one call,
        # not a holiday look-up per day of a long-broken agreement.
        return int(np.busday_count(start + timedelta(days=1), end + timedelta(days=1),
                                   holidays=closed))


#: Weekends and national holidays: the calendar when the provider configured none.
NATIONAL = BusinessCalendar()


@lru_cache(maxsize=1024)
def _weekday_holidays(calendar: BusinessCalendar, year: int) -> frozenset[date]:
    """The Monday-to-Friday holidays of ``calendar`` in ``year`` (:meth:`is_holiday`
    asked once per day of the year, then kept)."""
    day, found = date(year, 1, 1), set()
    while day.year == year:
        if day.weekday() < 5 and calendar.is_holiday(day):
            found.add(day)
        day += timedelta(days=1)
    return frozenset(found)


_BRAZIL_MODULE = "holidays.countries.brazil"
_BRAZIL_LOCK = threading.Lock()  # the batch's worker threads: one load, one class


@lru_cache(maxsize=1)
def brazil() -> type[holidays.HolidayBase]:
    """The ``holidays`` package's Brazil class, imported alone.

    ``holidays.country_holidays("BR")`` (or ``holidays.Brazil``, or any import of
    ``holidays.countries.brazil``) first runs ``holidays/countries/__init__.py``, which
    imports every country of the package: about 270 modules and 0.2 s in each process
    (every kernel of a batch), for the one country the kit uses. The module is loaded
    from its file under its own name instead (it imports only the package's base:
    calendars, groups, helpers), so a later import of the whole package finds it and
    uses this module. ``country_holidays("BR")`` builds ``BR``, an alias subclass with
    no holidays of its own; with the same arguments, the same holidays (checked for
    every UF, 2015 to 2035, with and without the optional days).
    """
    with _BRAZIL_LOCK:
        return _load_brazil()


def _load_brazil() -> type[holidays.HolidayBase]:
    module = sys.modules.get(_BRAZIL_MODULE)
    if module is None:
        path = Path(holidays.__file__).parent / "countries" / "brazil.py"
        spec = importlib.util.spec_from_file_location(_BRAZIL_MODULE, path)
        if not path.is_file() or spec is None or spec.loader is None:  # laid out otherwise
            return holidays.country_holidays("BR").__class__
        module = importlib.util.module_from_spec(spec)
        sys.modules[_BRAZIL_MODULE] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(_BRAZIL_MODULE, None)
            raise
    return module.Brazil


@lru_cache(maxsize=64)
def _official(state: str, year: int, optional_days: bool) -> holidays.HolidayBase:
    categories = ("public", "optional") if optional_days else ("public",)
    # The keywords holidays.country_holidays("BR", ...) passes, with its defaults.
    return brazil()(years=year, subdiv=state or None, expand=True, observed=True,
                    prov=None, state=None, language=None, categories=categories)


def parse_municipal_holiday(text: str) -> MunicipalHoliday:
    """``"MM-DD"`` (every year) or ``"AAAA-MM-DD"`` (once). Raises ``ValueError`` with a
    Portuguese message for anything else."""
    parts = str(text).strip().split("-")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) == 2:
        holiday = MunicipalHoliday(numbers[0], numbers[1])
        probe = 2024  # a leap year: 02-29 is a valid yearly date
    elif len(numbers) == 3:
        holiday = MunicipalHoliday(numbers[1], numbers[2], numbers[0])
        probe = numbers[0]
    else:
        raise ValueError(f"data {text!r} inválida; use \"MM-DD\" (todo ano) ou "
                         "\"AAAA-MM-DD\" (uma vez)")
    try:
        date(probe, holiday.month, holiday.day)
    except ValueError:
        raise ValueError(f"data {text!r} inexistente") from None
    return holiday


__all__ = ["NATIONAL", "BusinessCalendar", "MunicipalHoliday", "parse_municipal_holiday"]
