"""The money comparison of the options: what the provider can expect to receive.

For each option — discount, postponement, instalments, refusal — the terms the
criteria allow, the calibrated chance that the customer pays as agreed, the expected
amount received, and its present value at the region's monthly cost of money:
``PV = expected / (1 + r) ** months``, months = days / 30.

The amount concerned is the open debt when there is one, else the monthly fee (the
bill the customer says they cannot pay).
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from relief_kit.core.calendar import NATIONAL, BusinessCalendar
from relief_kit.core.criteria import Criteria
from relief_kit.core.model import (
    Action,
    Checklist,
    Customer,
    HistoryFeatures,
    Instalment,
    OptionValue,
    PaymentProbabilities,
    Terms,
)
from relief_kit.text import formatting as fmt

CENT = Decimal("0.01")


def cents(value: Decimal | float) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def amount_concerned(customer: Customer, features: HistoryFeatures) -> Decimal:
    return features.open_debt if features.open_debt > 0 else customer.monthly_fee


def present_value(expected: Decimal, months: float, monthly_rate: float) -> Decimal:
    return cents(float(expected) / (1.0 + monthly_rate) ** months)


def discount_percent(features: HistoryFeatures, checklist: Checklist, amount: Decimal,
                     criteria: Criteria) -> Decimal:
    """The discount offered, within the criteria's range.

    The customer's own proposal sets it when they proposed an amount (clipped to the
    range). Otherwise it rises from the minimum toward the maximum with the customer's
    punctuality: the minimum at or below ``poor_share``, the maximum at or above
    ``good_share``; a new customer gets the minimum.
    """
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


def instalment_plan(amount: Decimal, features: HistoryFeatures, criteria: Criteria,
                    today: date, calendar: BusinessCalendar = NATIONAL
                    ) -> tuple[Instalment, ...]:
    """Equal monthly instalments, cents exact (the last absorbs the rounding), each due
    on a business day of ``calendar`` (a holiday or weekend moves to the next one).

    The count is the number of monthly fees the debt covers (rounded up), at least 2,
    at most ``instalments.max_count``, and never so many that an instalment falls
    below ``instalments.min_amount``. Fewer than 2 possible: no plan.
    """
    count = max(2, math.ceil(features.open_months - 1e-9))
    count = min(count, int(criteria["instalments.max_count"]))
    minimum = Decimal(str(criteria["instalments.min_amount"]))
    if minimum > 0:
        count = min(count, int(amount // minimum))
    if count < 2:
        return ()
    each = (amount / count).quantize(CENT, rounding=ROUND_HALF_UP)
    first = today + timedelta(days=int(criteria["instalments.first_due_days"]))
    plan = []
    for number in range(1, count + 1):
        value = each if number < count else amount - each * (count - 1)
        plan.append(Instalment(
            number, calendar.next_business_day(_add_months(first, number - 1)), value))
    return tuple(plan)


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def options(
    customer: Customer,
    features: HistoryFeatures,
    checklist: Checklist,
    criteria: Criteria,
    today: date,
    probabilities: PaymentProbabilities,
    calendar: BusinessCalendar = NATIONAL,
) -> tuple[OptionValue, ...]:
    """One priced row per option: discount, postponement, instalments, refusal.

    Every date offered (pay-by, new due date, instalments) is a business day of
    ``calendar``."""
    amount = amount_concerned(customer, features)
    band = features.punctuality_band
    rate = float(criteria["money.monthly_cost_of_money"])
    rows = []

    # Discount for payment within the month.
    percent = discount_percent(features, checklist, amount, criteria)
    days = int(criteria["discount.pay_within_days"])
    to_pay = cents(amount * (1 - percent / 100))
    p = probabilities.probability(band, Action.DISCOUNT)
    expected = cents(to_pay * Decimal(str(p)))
    rows.append(OptionValue(
        Action.DISCOUNT,
        Terms(amount=amount, discount_percent=percent,
              pay_by=calendar.next_business_day(today + timedelta(days=days))),
        p, expected, present_value(expected, days / 30, rate), days / 30,
    ))

    # Postponement to a new due date.
    longest = int(criteria["postponement.max_days"])
    proposed = checklist.proposed_date
    note = ""
    if proposed is not None and proposed > today:
        days = min((proposed - today).days, longest)
        if (proposed - today).days > longest:
            note = (f"A data proposta pelo cliente passa do limite de {longest} dias "
                    "(postponement.max_days); usada a data mais longa permitida.")
    else:
        days = int(criteria["postponement.default_days"])
    p = probabilities.probability(band, Action.POSTPONEMENT)
    expected = cents(amount * Decimal(str(p)))
    rows.append(OptionValue(
        Action.POSTPONEMENT,
        Terms(amount=amount,
              new_due_date=calendar.next_business_day(today + timedelta(days=days))),
        p, expected, present_value(expected, days / 30, rate), days / 30, True, note,
    ))

    # Instalments of the open debt.
    plan = instalment_plan(amount, features, criteria, today, calendar)
    p = probabilities.probability(band, Action.INSTALMENTS)
    least = float(criteria["instalments.min_debt_months"])
    if features.open_months < least:
        allowed, note = False, (f"A dívida em aberto cobre menos de {fmt.number(least)} "
                                "mensalidades "
                                "(instalments.min_debt_months).")
    elif not plan:
        allowed, note = False, ("O valor não comporta duas parcelas do mínimo "
                                "(instalments.min_amount).")
    else:
        allowed, note = True, ""
    expected_total, pv_total, months = Decimal("0.00"), Decimal("0.00"), 0.0
    for number, instalment in enumerate(plan, start=1):
        chance = Decimal(str(p ** number))  # each kept given the previous ones
        part = cents(instalment.amount * chance)
        months = (instalment.due_date - today).days / 30
        expected_total += part
        pv_total += present_value(part, months, rate)
    rows.append(OptionValue(
        Action.INSTALMENTS, Terms(amount=amount, instalments=plan), p, expected_total,
        pv_total, months, allowed, note,
    ))

    # Refusal: no agreement; the ordinary chance of being paid within the window.
    window = int(criteria["calibration.window_days"])
    p = probabilities.probability(band, Action.REFUSAL)
    expected = cents(amount * Decimal(str(p)))
    refusal_allowed = checklist.at_risk is not True
    rows.append(OptionValue(
        Action.REFUSAL, Terms(amount=amount), p, expected,
        present_value(expected, window / 30, rate), window / 30, refusal_allowed,
        "" if refusal_allowed else ("Domicílio com pessoa em situação de risco: a prática "
                                    "não admite recusa simples."),
    ))
    return tuple(rows)
