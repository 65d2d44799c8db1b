"""A request's state after it arrives, and its clocks in business days.

States (codes; the text layer names them): ``new`` (nobody has worked on it yet),
``waiting_info`` (required answers or the written request missing, or the decision was
"ask for more information"), ``ready`` (answers complete, no decision), ``decided``
(decided, the customer not told yet),
``agreement_active`` (relief agreed and told, being followed), ``kept``, ``broken``
(the follow-up against the bills, :mod:`relief_kit.core.agreements`), ``closed`` (a
refusal told, or a kept agreement).

Clocks, as the telecom hardship standards ask (Australia's Financial Hardship Industry
Standard 2024): decide within ``deadlines.decide_business_days`` business days of
complete information (default 5), tell the customer within
``deadlines.tell_business_days`` of the decision (default 2). Business days are the
provider's calendar (:class:`relief_kit.core.calendar.BusinessCalendar`: national,
state and municipal holidays, optional Carnival).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from relief_kit.core.calendar import BusinessCalendar
from relief_kit.core.criteria import Criteria

OPEN_STATES = ("new", "waiting_info", "ready", "decided")
STATES = OPEN_STATES + ("agreement_active", "kept", "broken", "closed")


@dataclass(frozen=True)
class CaseFacts:
    """What the clocks need about one request (plain values, gathered by the shell).

    ``complete_on``: the day the information became complete (None while it is not);
    ``decision_action``/``decided_on``: the latest decision, if any; ``told_on``: when
    the customer was told of it; ``follow_up``: the agreement's follow-up status code
    (:mod:`relief_kit.core.agreements`) for a relief decision.
    """

    request_id: str
    received_on: date
    worked_on: bool  # an analyst saved answers or opened it
    complete_on: date | None
    decision_action: str = ""
    decided_on: date | None = None
    told_on: date | None = None
    follow_up: str = ""
    holder: str = ""


@dataclass(frozen=True)
class CaseClock:
    """A request's state and the clock that runs in it.

    ``clock`` is ``"decide"``, ``"tell"`` or ``""`` (none running); ``started`` the day
    it started, ``deadline`` its last business day, ``age`` business days since it
    started, ``overdue`` business days past the deadline (0 when not overdue).
    """

    request_id: str
    state: str
    clock: str
    started: date | None
    deadline: date | None
    age: int
    overdue: int
    holder: str

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


def case_clock(facts: CaseFacts, today: date, criteria: Criteria,
               calendar: BusinessCalendar) -> CaseClock:
    """The state and clock of one request on ``today``."""
    relief = facts.decision_action in ("discount", "postponement", "instalments")
    if not facts.decision_action or facts.decision_action == "ask_info":
        if facts.complete_on is None or facts.decision_action == "ask_info" and (
                facts.decided_on is not None and facts.complete_on <= facts.decided_on):
            state = "waiting_info"
        else:
            state = "ready" if facts.worked_on else "new"
    elif relief and facts.follow_up in ("kept", "broken"):
        state = facts.follow_up
    elif facts.told_on is None:
        state = "decided"
    elif relief:
        state = "agreement_active"
    else:
        state = "closed"

    clock, started, limit = "", None, 0
    if state in ("new", "ready"):
        clock, started = "decide", facts.complete_on
        limit = int(criteria["deadlines.decide_business_days"])
    elif state == "decided":
        clock, started = "tell", facts.decided_on
        limit = int(criteria["deadlines.tell_business_days"])
    if started is None:
        return CaseClock(facts.request_id, state, "", None, None, 0, 0, facts.holder)
    deadline = calendar.add_business_days(started, limit)
    age = calendar.business_days_between(started, today)
    overdue = calendar.business_days_between(deadline, today)
    return CaseClock(facts.request_id, state, clock, started, deadline, age, overdue,
                     facts.holder)


def queue_order(clocks: list[CaseClock]) -> list[CaseClock]:
    """Open cases, oldest-overdue first: most business days overdue, then the nearest
    deadline, then the oldest; cases without a running clock last."""
    open_cases = [c for c in clocks if c.is_open]
    return sorted(open_cases, key=lambda c: (
        c.deadline is None, -c.overdue, c.deadline or date.max, -c.age, c.request_id))


__all__ = ["OPEN_STATES", "STATES", "CaseClock", "CaseFacts",
           "case_clock", "queue_order"]
