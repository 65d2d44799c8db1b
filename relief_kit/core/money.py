"""The money comparison of the options: each option priced as the events that can follow it.

For each option — discount, postponement, instalments, refusal — the terms the criteria
allow on the bills concerned (:mod:`relief_kit.core.bills`), and an event tree:

- **paid as agreed** by the agreed date (the payment model's chance ``p``): the agreed
  amount on that date; the customer stays;
- **not paid as agreed** (``1 − p``): the whole debt (a discount is lost) goes the
  ordinary way from the agreed date:

  - **paid within the window** (``calibration.window_days``) after all;
  - **paid late**, before termination (share and delay estimated from the portfolio's
    unpaid bills, else ``money.late_payment_prior``): the debt, that many days later;
  - **not paid**: the RGC timeline runs (notice, suspension, termination after
    ``money.termination_days``); ``money.recovered_after_termination`` of the debt is
    recovered later, and the customer leaves: their future margin is lost — monthly fee ×
    ``money.margin_share`` × the expected months a customer stays (from the portfolio's
    own cancellations, capped by ``money.max_remaining_months``).

- **Instalments**: each instalment has its own conditional chance of being paid given the
  earlier ones were — the first from the payment model, the later ones from the
  portfolio's own plans (``payment_model.continuation``), never p ** k; at the first one
  missed, what is left of the debt goes the ordinary way from that instalment's date.
- **The ordinary way** of an unpaid debt: paid within ``calibration.window_days`` (the
  model's chance for a late bill without an agreement — after a missed agreement, for a
  customer who has now broken one), else paid late before termination, else not paid.
- **Refusal**: no agreement; the debt goes the ordinary way from its due date. An ERP
  export does not tell which customers asked for help and were refused, so their chance
  is that of late bills scaled by ``money.refused_payment_factor`` — a prior, and the
  tables say so.

Present values use the real dates at the region's monthly cost of money,
``PV = cash / (1 + r) ** (days / 30)``. An option's value is its expected present value
minus the expected lost margin. An option that asks more in a month than the customer
said they can pay is marked, and its chance is scaled by capacity / amount asked (an
assumption the tables state).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache

from relief_kit.core import terms as agreed
from relief_kit.core.bills import fallback_bills, total
from relief_kit.core.calendar import NATIONAL, BusinessCalendar
from relief_kit.core.criteria import Criteria
from relief_kit.core.model import (
    Action,
    Bill,
    Checklist,
    Customer,
    Event,
    HistoryFeatures,
    Instalment,
    OptionValue,
    PaymentProbabilities,
    Reason,
    Terms,
)

cents = agreed.cents
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Ordinary:
    """What follows an unpaid debt, from the provider's own history or the criteria."""

    late_share: float
    late_days: float
    remaining_months: float
    recovered: float
    termination_days: int
    margin_share: float
    window_days: int = 30
    refused_factor: float = 1.0
    late_source: Reason | None = None  # where late_share and late_days came from (a code)
    remaining_source: Reason | None = None  # where remaining_months came from


def ordinary_path(probabilities: PaymentProbabilities, criteria: Criteria) -> Ordinary:
    """The default path's parameters: the payment model's estimates when it has them,
    else the criteria's priors."""
    recovery = getattr(probabilities, "recovery", None)
    cap = float(criteria["money.max_remaining_months"])
    if recovery is None:
        late_share = float(criteria["money.late_payment_prior"])
        late_days = (int(criteria["calibration.window_days"])
                     + int(criteria["money.termination_days"])) / 2
        remaining = min(1 / float(criteria["money.monthly_churn_prior"]), cap)
        sources = (Reason("late_prior_criteria", "money.late_payment_prior"),
                   Reason("remaining_prior_criteria", "money.monthly_churn_prior"))
    else:
        late_share, late_days = recovery.late_share, recovery.late_days
        remaining = min(recovery.remaining_months, cap)
        sources = (recovery.late_source, recovery.remaining_source)
    return Ordinary(late_share, late_days, remaining,
                    float(criteria["money.recovered_after_termination"]),
                    int(criteria["money.termination_days"]),
                    float(criteria["money.margin_share"]),
                    int(criteria["calibration.window_days"]),
                    float(criteria["money.refused_payment_factor"]), *sources)


def present_value(expected: Decimal, months: float, monthly_rate: float) -> Decimal:
    return cents(float(expected) / (1.0 + monthly_rate) ** months)


def _pv(cash: Decimal, when: date | None, today: date, rate: float) -> Decimal:
    if when is None or cash == 0:
        return ZERO
    return _discounted(cash, max((when - today).days, 0), rate)


@lru_cache(maxsize=65536, typed=True)
def _discounted(cash: Decimal, days: int, rate: float) -> Decimal:
    """:func:`present_value` of ``cash`` received in ``days`` days, remembered: a
    portfolio's cases repeat the same fees, debts and dates (the meeting prices
    thousands)."""
    return present_value(cash, days / 30, rate)


def discount_percent(features: HistoryFeatures, checklist: Checklist, amount: Decimal,
                     criteria: Criteria) -> Decimal:
    """The discount offered, within the criteria's range.

    The customer's own proposal sets it when they proposed an amount (clipped to the
    range). Otherwise it rises from the minimum toward the maximum with the customer's
    punctuality: the minimum at or below ``poor_share``, the maximum at or above
    ``good_share``; a new customer gets the minimum.
    """
    from decimal import ROUND_HALF_UP

    low = Decimal(str(criteria["discount.min_percent"]))
    high = Decimal(str(criteria["discount.max_percent"]))
    if checklist.proposed_amount is not None and 0 < checklist.proposed_amount < amount:
        implied = (1 - checklist.proposed_amount / amount) * 100
        return min(max(implied, low), high).quantize(Decimal("1"), rounding=ROUND_HALF_UP)
    share = features.on_time_share
    if features.punctuality_band == "new" or share is None:
        return low.quantize(Decimal("1"))
    poor, good = criteria["punctuality.poor_share"], criteria["punctuality.good_share"]
    weight = 1.0 if good <= poor else min(max((share - poor) / (good - poor), 0.0), 1.0)
    return (low + (high - low) * Decimal(str(weight))).quantize(Decimal("1"),
                                                                 rounding=ROUND_HALF_UP)


def proposal_beyond_discount(checklist: Checklist, amount: Decimal,
                             criteria: Criteria) -> Reason | None:
    """When the amount the customer proposed implies a discount outside the criteria's
    range: the discount asked and the limit it hits (the offer is clipped to it)."""
    proposed = checklist.proposed_amount
    if proposed is None or not 0 < proposed < amount:
        return None
    implied = ((1 - proposed / amount) * 100).quantize(Decimal("0.1"))
    low = Decimal(str(criteria["discount.min_percent"]))
    high = Decimal(str(criteria["discount.max_percent"]))
    if implied > high:
        return Reason("proposed_discount_past_limit", "discount.max_percent",
                      {"asked": implied, "limit": high})
    if implied < low:
        return Reason("proposed_discount_below_minimum", "discount.min_percent",
                      {"asked": implied, "limit": low})
    return None


def instalment_plan(amount: Decimal, features: HistoryFeatures, criteria: Criteria,
                    today: date, capacity: Decimal | None = None,
                    calendar: BusinessCalendar = NATIONAL) -> tuple[Instalment, ...]:
    """Monthly instalments of ``amount``, centavo-exact (:func:`terms.split`), each due
    on a business day of ``calendar`` (a holiday or weekend moves to the next one).

    The count starts from the monthly fees the debt covers (rounded up, at least 2) and
    rises until an instalment fits the customer's stated monthly ``capacity``; never
    above ``instalments.max_count`` nor so many that one falls below
    ``instalments.min_amount``. Fewer than 2 possible: no plan.
    """
    count = agreed.instalment_count(
        amount, wanted=math.ceil(features.open_months - 1e-9),
        max_count=int(criteria["instalments.max_count"]),
        min_amount=Decimal(str(criteria["instalments.min_amount"])), capacity=capacity)
    if count < 2:
        return ()
    first = today + timedelta(days=int(criteria["instalments.first_due_days"]))
    return tuple(Instalment(i.number, calendar.next_business_day(i.due_date), i.amount)
                 for i in agreed.split(amount, count, first))


def _chances(probabilities: PaymentProbabilities, features: HistoryFeatures,
             depth: float = 1.0) -> Callable[..., tuple[float, tuple]]:
    """The chance of paying as agreed for each option of one debt (``depth``: the debt
    in monthly fees), as a function ``(action, number=1, upcoming=False) -> (chance,
    factors)``: the payment model's ``estimates`` when it has them (the customer's part
    computed once for every option), else its ``estimate`` option by option, else the
    band's probability (no factors)."""
    estimates = getattr(probabilities, "estimates", None)
    if estimates is not None:
        per_option = estimates(features, depth)
    else:
        estimate = getattr(probabilities, "estimate", None)
        if estimate is None:
            def per_option(action: Action, number: int = 1, upcoming: bool = False):
                return probabilities.probability(features.punctuality_band, action), ()
        else:
            def per_option(action: Action, number: int = 1, upcoming: bool = False):
                return estimate(features, action, number, depth, upcoming)

    def chance(action: Action, number: int = 1, upcoming: bool = False
               ) -> tuple[float, tuple]:
        p, factors = per_option(action, number, upcoming)
        return float(p), tuple(factors)

    return chance


def _capacity_factor(asked: Decimal, capacity: Decimal | None) -> float:
    if capacity is None or capacity <= 0 or asked <= capacity:
        return 1.0
    return float(capacity / asked)


@lru_cache(maxsize=256, typed=True)
def _decimal(value: float) -> Decimal:
    """``Decimal(str(value))`` of a criteria or portfolio parameter, made once."""
    return Decimal(str(value))


@lru_cache(maxsize=4096, typed=True)
def _lost_margin(monthly_fee: Decimal, margin_share: float, remaining_months: float
                 ) -> Decimal:
    """The customer's future margin lost when they leave (R$): fee × share × months."""
    return cents(monthly_fee * _decimal(margin_share)
                 * Decimal(str(round(remaining_months, 2))))


def _unpaid_events(debt: Decimal, start: date, weight: float, p_window: float, today: date,
                   rate: float, path: Ordinary, customer: Customer, after: str = "",
                   number: int = 0) -> list[Event]:
    """The ordinary way of an unpaid ``debt`` from ``start``: paid within the window
    (chance ``p_window``), else paid late before termination, else not paid (partly
    recovered after termination, the customer's margin lost). ``after``: what was not paid
    first ("discount", "postponement", "instalment" ``number``; "" for a refusal)."""
    if weight <= 0 or debt <= 0:
        return []
    soon = start + timedelta(days=path.window_days // 2)
    late_when = start + timedelta(days=int(round(path.late_days)))
    gone = start + timedelta(days=path.termination_days + 90)
    recovered = cents(debt * _decimal(path.recovered))
    lost = _lost_margin(customer.monthly_fee, path.margin_share, path.remaining_months)
    rest = weight * (1 - p_window)
    params = {"after": after, "number": number}
    return [
        Event("paid_within_window", weight * p_window, debt, soon,
              _pv(debt, soon, today, rate), params={**params, "days": path.window_days}),
        Event("paid_late", rest * path.late_share, debt, late_when,
              _pv(debt, late_when, today, rate), params=params),
        Event("not_paid", rest * (1 - path.late_share), recovered, gone,
              _pv(recovered, gone, today, rate), lost, params=params),
    ]


def _one_payment_tree(code: str, p: float, cash: Decimal, when: date, debt: Decimal,
                      p_after: float, today: date, rate: float, path: Ordinary,
                      customer: Customer, prefix: str
                      ) -> tuple[list[Event], Decimal, Decimal]:
    """An agreement of one payment: ``cash`` (R$) paid on ``when`` with chance ``p``, else
    the ``debt`` goes the ordinary way from ``when``; its events, expected cash and net
    present value (:func:`_value`)."""
    events = [Event(code, p, cash, when, _pv(cash, when, today, rate))]
    events += _unpaid_events(debt, when, 1 - p, p_after, today, rate, path, customer,
                             prefix)
    return (events, *_value(events))


def _value(events: list[Event]) -> tuple[Decimal, Decimal]:
    """Expected cash, and expected present value net of the expected lost margin."""
    cash = net = ZERO
    for event in events:  # the same sums, in the same order, in one pass
        p = Decimal(str(event.probability))
        cash += event.cash * p
        net += (event.present_value - event.lost_margin) * p
    return cents(cash), cents(net)


#: The criteria sections :func:`options` reads (with the probabilities it is given): two
#: criteria versions equal in these price every option alike.
PRICED_SECTIONS = ("money", "calibration", "discount", "punctuality", "instalments",
                   "postponement")


def options(
    customer: Customer,
    features: HistoryFeatures,
    checklist: Checklist,
    criteria: Criteria,
    today: date,
    probabilities: PaymentProbabilities,
    bills: tuple[Bill, ...] | None = None,
    calendar: BusinessCalendar = NATIONAL,
) -> tuple[OptionValue, ...]:
    """One priced row per option: discount, postponement, instalments, refusal.

    Every date offered (pay-by, new due date, instalments) is a business day of
    ``calendar``."""
    bills = tuple(bills) if bills else fallback_bills(customer, features, today)
    amount = total(bills)
    rate = float(criteria["money.monthly_cost_of_money"])
    path = ordinary_path(probabilities, criteria)
    capacity = checklist.capacity_monthly
    fee = float(customer.monthly_fee) or 1.0
    depth = float(amount) / fee
    upcoming = all(b.upcoming for b in bills)
    # After a missed agreement the debt goes the ordinary way, for a customer who has now
    # broken an agreement.
    broken = replace(features, earlier_reliefs=features.earlier_reliefs + 1,
                     reliefs_broken=features.reliefs_broken + 1)
    p_after, _ = _chances(probabilities, broken, depth)(Action.REFUSAL)
    chance = _chances(probabilities, features, depth)
    rows = []

    # Discount for payment within the month: pay by the bill's own due date when it is
    # still ahead, else within pay_within_days.
    percent = discount_percent(features, checklist, amount, criteria)
    to_pay = agreed.amount_to_pay(amount, percent)
    days = int(criteria["discount.pay_within_days"])
    latest_due = max(b.due_date for b in bills)
    pay_by = calendar.next_business_day(
        latest_due if upcoming and latest_due > today else today + timedelta(days=days))
    p, factors = chance(Action.DISCOUNT)
    p_used = p * _capacity_factor(to_pay, capacity)
    events, cash, net = _one_payment_tree("paid_as_agreed", p_used, to_pay, pay_by, amount,
                                          p_after, today, rate, path, customer, "discount")
    rows.append(OptionValue(
        Action.DISCOUNT,
        Terms(amount=amount, discount_percent=percent, pay_by=pay_by, bills=bills,
              to_pay=to_pay),
        p_used, cash, net, (pay_by - today).days / 30, True,
        proposal_beyond_discount(checklist, amount, criteria), tuple(events),
        capacity is not None and to_pay > capacity, to_pay, factors))

    # Postponement: the bills move to a later date than their own due date, at most
    # postponement.max_days after it, never to a date already past.
    longest = int(criteria["postponement.max_days"])
    earliest_due = min(b.due_date for b in bills)
    limit = earliest_due + timedelta(days=longest)
    proposed = checklist.proposed_date
    note = None
    if proposed is not None and proposed > max(today, latest_due):
        new_date = min(proposed, limit)
        if proposed > limit:
            note = Reason("proposed_date_past_limit", "postponement.max_days",
                          {"days": longest})
    else:
        new_date = min(max(today, latest_due) + timedelta(
            days=int(criteria["postponement.default_days"])), limit)
    new_date = calendar.business_day_within(new_date, limit)
    allowed = new_date > today and new_date > latest_due
    if not allowed:
        note = Reason("no_new_date", "postponement.max_days", {"days": longest})
        new_date = today  # priced as if due now, only to show it; no date is offered
    p, post_factors = chance(Action.POSTPONEMENT, upcoming=upcoming)
    p_used = p * _capacity_factor(amount, capacity)
    events, cash, net = _one_payment_tree("paid_on_new_date", p_used, amount, new_date, amount,
                                          p_after, today, rate, path, customer,
                                          "postponement")
    rows.append(OptionValue(
        Action.POSTPONEMENT, Terms(amount=amount, new_due_date=new_date if allowed else None,
                                   bills=bills, to_pay=amount),
        p_used, cash, net, max((new_date - today).days, 0) / 30, allowed, note,
        tuple(events), capacity is not None and amount > capacity, amount, post_factors))

    # Instalments replacing the open bills.
    plan = instalment_plan(amount, features, criteria, today, capacity, calendar)
    least = float(criteria["instalments.min_debt_months"])
    open_months = float(amount) / fee
    if upcoming or open_months < least:
        allowed, note = False, Reason("debt_below_instalment_months",
                                      "instalments.min_debt_months", {"months": least})
    elif not plan:
        allowed, note = False, Reason("below_two_instalments", "instalments.min_amount")
    else:
        allowed, note = True, None
    events, reach, months, first_p, inst_factors = [], 1.0, 0.0, 0.0, ()
    biggest = max((i.amount for i in plan), default=ZERO)
    factor = _capacity_factor(biggest, capacity)
    for instalment in plan:
        p, found = chance(Action.INSTALMENTS, instalment.number)
        p *= factor
        if instalment.number == 1:
            first_p, inst_factors = p, found
        left = sum((i.amount for i in plan if i.number >= instalment.number), ZERO)
        events += _unpaid_events(left, instalment.due_date, reach * (1 - p), p_after, today,
                                 rate, path, customer, "instalment", instalment.number)
        reach *= p
        events.append(Event("instalment_paid", reach, instalment.amount,
                            instalment.due_date,
                            _pv(instalment.amount, instalment.due_date, today, rate),
                            params={"number": instalment.number}))
        months = (instalment.due_date - today).days / 30
    cash, net = _value(events)
    rows.append(OptionValue(
        Action.INSTALMENTS, Terms(amount=amount, instalments=plan, bills=bills,
                                  to_pay=sum((i.amount for i in plan), ZERO) if plan else None),
        first_p, cash, net, months, allowed, note, tuple(events),
        capacity is not None and biggest > capacity, biggest if plan else None,
        inst_factors))

    # Refusal: no agreement; the debt goes the ordinary way from its due date (or today),
    # with the chance of a late bill paid within the window, scaled for a customer who
    # asked for help and was refused (money.refused_payment_factor, a labelled prior).
    p, ref_factors = chance(Action.REFUSAL)
    p_refused = p * path.refused_factor
    start = max(today, latest_due)
    events = _unpaid_events(amount, start, 1.0, p_refused, today, rate, path, customer)
    cash, net = _value(events)
    rows.append(OptionValue(
        Action.REFUSAL, Terms(amount=amount, bills=bills, to_pay=amount), p_refused, cash,
        net, path.window_days / 30, True, None, tuple(events), False, amount, ref_factors))
    return tuple(rows)
