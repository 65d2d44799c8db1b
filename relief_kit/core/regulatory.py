"""The earliest lawful suspension and termination dates for an unpaid bill.

Anatel's consumer rules (RGC) for fixed broadband, each act under the rules in force
on the day it would happen (Resolução 765/2023 revoked 632/2014, in full effect from
01/09/2025):

- Resolução 632/2014 (acts before 01/09/2025; its section on suspension for
  non-payment, arts. 90–97): partial suspension 15 days after the notice of the overdue
  debt, total suspension 30 days after the partial, termination 30 days after the total.
- Resolução 765/2023 (acts from 01/09/2025): total suspension 15 days after the notice
  (arts. 70–71); termination after 60 days of suspension, with a warning first
  (arts. 73, 75 and 77); credit-bureau registration only after termination. A total
  suspension or a termination that the old rules would have put on or after 01/09/2025
  follows 765: the total suspension no earlier than 01/09/2025 and the termination 60
  days after the total suspension.

How the 15 days are counted is the criteria setting ``suspension.count_from``:
``day_after_notice`` (the default: Código Civil art. 132 leaves the first day out, the
later date) or ``notice_day``.

Lei 14.015/2020 forbids cut-offs on Fridays, weekends, holidays and their eves; whether
it binds broadband providers is unconfirmed, so it is the setting
``suspension.avoid_friday_weekend_holidays`` (on by default, the safe side) and never
stated as law. Its holidays are the provider's calendar (:mod:`relief_kit.core.calendar`).

This module returns codes and dates; ``templates/views/regulatory.html`` says them in
Portuguese with their articles.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from relief_kit.core.calendar import NATIONAL, BusinessCalendar
from relief_kit.core.criteria import Criteria

NEW_RGC = "RGC 765/2023"
OLD_RGC = "RGC 632/2014"
NEW_RGC_START = date(2025, 9, 1)

#: ``SuspensionDates.status``: a notice was sent / a debt is due but not yet notified /
#: nothing is due, so no notice can be sent and no date runs.
NOTIFIED, NOT_NOTIFIED, NOTHING_DUE = "notified", "not_notified", "nothing_due"

#: ``RegulatoryAct.kind`` codes.
PARTIAL_SUSPENSION, SUSPENSION, TERMINATION = "partial_suspension", "suspension", "termination"

#: The articles behind each act under each regime.
ARTICLES = {
    (OLD_RGC, PARTIAL_SUSPENSION): "Resolução Anatel 632/2014, arts. 90–97",
    (OLD_RGC, SUSPENSION): "Resolução Anatel 632/2014, arts. 90–97",
    (OLD_RGC, TERMINATION): "Resolução Anatel 632/2014, arts. 90–97",
    (NEW_RGC, SUSPENSION): "Resolução Anatel 765/2023, arts. 70–71",
    (NEW_RGC, TERMINATION): "Resolução Anatel 765/2023, arts. 73, 75 e 77",
}


#: What the connection is, for what a message may truthfully say about it, from the
#: canonical ``contract_status`` (``schema.CONTRACT_STATUSES``):
#: ``blocked`` — blocked for the debt (the ERP's financial or automatic block: an RGC
#: suspension for non-payment, service back within 1 day of the payment, art. 78);
#: ``suspended`` — blocked by hand, the reason not recorded (a debt, or the customer's
#: own request); ``terminated`` — the contract ended (paying does not bring it back;
#: the debt stays, art. 77); ``unknown`` — the ERP did not say.
CONNECTION_STATUSES = ("active", "blocked", "suspended", "terminated", "unknown")
_CONNECTION = {"active": "active", "blocked_financial": "blocked", "blocked_auto": "blocked",
               "blocked_manual": "suspended", "disabled": "terminated", "": "unknown"}


def connection_status(contract_status: str | None) -> str:
    """One of :data:`CONNECTION_STATUSES` for a canonical ``contract_status``; anything
    unrecognised is ``unknown`` (the messages then say only what is true either way)."""
    return _CONNECTION.get((contract_status or "").strip(), "unknown")


def regime_on(day: date) -> str:
    """The RGC in force on ``day``: 765/2023 from 01/09/2025, 632/2014 before."""
    return NEW_RGC if day >= NEW_RGC_START else OLD_RGC


@dataclass(frozen=True)
class RegulatoryAct:
    """One step of the timeline: what may happen, from which day, under which rules."""

    kind: str  # PARTIAL_SUSPENSION | SUSPENSION (total) | TERMINATION
    day: date  # the earliest day it may happen
    regime: str  # OLD_RGC | NEW_RGC: the rules in force on ``day``
    article: str  # ARTICLES[(regime, kind)]
    moved: bool = False  # the Lei 14.015 setting moved it off a Friday/weekend/holiday/eve


@dataclass(frozen=True)
class SuspensionDates:
    """The timeline of one debt without an agreement.

    ``acts`` is empty when nothing is due (``status == NOTHING_DUE``). When no notice was
    sent (``NOT_NOTIFIED``) the acts are those of a notice sent on ``notice_date`` (today).
    """

    status: str  # NOTIFIED | NOT_NOTIFIED | NOTHING_DUE
    notice_date: date | None  # the notice sent, or today when a due debt was not notified
    notice_regime: str | None  # the rules in force on the notice day
    count_from: str  # criteria suspension.count_from
    avoid_cutoff_days: bool  # criteria suspension.avoid_friday_weekend_holidays
    acts: tuple[RegulatoryAct, ...] = ()

    @property
    def notice_sent(self) -> bool:
        return self.status == NOTIFIED

    def act(self, kind: str) -> RegulatoryAct | None:
        return next((a for a in self.acts if a.kind == kind), None)

    @property
    def suspension(self) -> date | None:
        """The first suspension (partial under 632, total under 765)."""
        return self.acts[0].day if self.acts else None

    @property
    def total_suspension(self) -> date | None:
        act = self.act(SUSPENSION)
        return act.day if act else None

    @property
    def termination(self) -> date | None:
        act = self.act(TERMINATION)
        return act.day if act else None

    @property
    def regime(self) -> str | None:
        """The rules of the first act (the one the analyst most needs)."""
        return self.acts[0].regime if self.acts else None

    @property
    def regimes(self) -> tuple[str, ...]:
        """Every regime the timeline uses, in order (two when it crosses 01/09/2025)."""
        return tuple(dict.fromkeys(a.regime for a in self.acts))

    @property
    def avoided_days(self) -> bool:
        return any(a.moved for a in self.acts)


def _cutoff_blocked(day: date, calendar: BusinessCalendar) -> bool:
    """Friday, weekend, a holiday or the eve of one (Lei 14.015/2020)."""
    return (day.weekday() >= 4 or calendar.is_holiday(day)
            or calendar.is_holiday(day + timedelta(days=1)))


def next_allowed_day(day: date, criteria: Criteria,
                     calendar: BusinessCalendar = NATIONAL) -> date:
    """``day`` itself, or the first later day the cut-off setting allows."""
    if not criteria["suspension.avoid_friday_weekend_holidays"]:
        return day
    while _cutoff_blocked(day, calendar):
        day += timedelta(days=1)
    return day


def fifteen_days_after(notice: date, count_from: str) -> date:
    """The first day a suspension may happen after a notice sent on ``notice``.

    ``day_after_notice``: the 15 days are the 15 days after the notice day (Código Civil
    art. 132), so the suspension may come on the 16th day after it. ``notice_day``: the
    notice day is the first of the 15, so the 15th day after it.
    """
    return notice + timedelta(days=16 if count_from == "day_after_notice" else 15)


def suspension_dates(notice_date: date | None, today: date, criteria: Criteria,
                     calendar: BusinessCalendar = NATIONAL, *,
                     debt_due: bool = True) -> SuspensionDates:
    """The earliest suspension and termination dates without an agreement.

    ``notice_date``: when the customer was notified of the overdue debt (None: never).
    ``debt_due``: whether a bill is due and unpaid on ``today``; without one no notice
    can be sent and no date runs (``NOTHING_DUE``). A due debt not yet notified gets the
    dates of a notice sent ``today``. Each act follows the rules in force on its day.
    """
    count_from = criteria["suspension.count_from"]
    avoid = bool(criteria["suspension.avoid_friday_weekend_holidays"])
    if notice_date is None and not debt_due:
        return SuspensionDates(NOTHING_DUE, None, None, count_from, avoid)
    status = NOTIFIED if notice_date is not None else NOT_NOTIFIED
    notice = notice_date if notice_date is not None else today

    def allowed(kind: str, day: date, regime: str) -> RegulatoryAct:
        moved = next_allowed_day(day, criteria, calendar)
        # An act moved onto or past 01/09/2025 falls when 632/2014 is revoked: 765 rules it.
        regime = NEW_RGC if moved >= NEW_RGC_START else regime
        return RegulatoryAct(kind, moved, regime, ARTICLES[(regime, kind)], moved != day)

    first_day = fifteen_days_after(notice, count_from)
    if next_allowed_day(first_day, criteria, calendar) >= NEW_RGC_START:
        # The first step falls under 765, which has no partial step: the total suspension
        # from the 15 days after the notice, binding only from 01/09/2025.
        total = allowed(SUSPENSION, max(first_day, NEW_RGC_START), NEW_RGC)
        acts = (total, RegulatoryAct(TERMINATION, total.day + timedelta(days=60), NEW_RGC,
                                     ARTICLES[(NEW_RGC, TERMINATION)]))
    else:
        partial = allowed(PARTIAL_SUSPENSION, first_day, OLD_RGC)
        old_total = partial.day + timedelta(days=30)
        if old_total < NEW_RGC_START:
            total = allowed(SUSPENSION, old_total, OLD_RGC)
            old_termination = total.day + timedelta(days=30)
            if total.regime == OLD_RGC and old_termination < NEW_RGC_START:
                termination = RegulatoryAct(TERMINATION, old_termination, OLD_RGC,
                                            ARTICLES[(OLD_RGC, TERMINATION)])
            else:
                termination = RegulatoryAct(TERMINATION, total.day + timedelta(days=60),
                                            NEW_RGC, ARTICLES[(NEW_RGC, TERMINATION)])
        else:
            # 765 allows the total suspension 15 days after the notice, which have run;
            # it binds only from 01/09/2025, never earlier than the old partial step.
            total = allowed(SUSPENSION, NEW_RGC_START, NEW_RGC)
            termination = RegulatoryAct(TERMINATION, total.day + timedelta(days=60), NEW_RGC,
                                        ARTICLES[(NEW_RGC, TERMINATION)])
        acts = (partial, total, termination)
    return SuspensionDates(status, notice, regime_on(notice), count_from, avoid, acts)
