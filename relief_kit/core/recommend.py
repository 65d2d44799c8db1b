"""The recommendation: a pure function from the facts of a case to an explained proposal.

The practice's fixed rules (the seed article) come first; the team's weights (the
criteria file) decide the rest:

1. An undocumented request → ask for it in writing (practice item 1).
2. Required checklist items unanswered → ask for what is missing ("não tenha pressa");
   with ``hardship`` among them, a request that does not say what happened is asked
   about, never granted by default.
3. The customer states no difficulty → refusal: relief is for those in real trouble,
   never a discount for everyone (practice item 9).
4. A score of points from the criteria's weights; at or above
   ``weights.grant_threshold`` relief is recommended, else a refusal.
5. A refusal of an at-risk household needs a second analyst
   (``at_risk.refusal_needs_second_analyst``): the recommendation says so, and the case
   store will not record it without one. At-risk information without the customer's
   consent is used for nothing else.
6. Among the allowed relief options, those within what the customer said they can pay
   come first; the one with the highest value (``money.options``: event trees at the
   region's cost of money, net of the customer's lost margin) wins, unless what the
   customer asked is within ``money.prefer_asked_within`` of it.
7. For a refusal or a request for information, the smallest change in the answers that
   would change the recommendation (LGPD art. 20).

Each reason is a code with the values it used, and names the criterion behind it: a
criteria-file key such as ``weights.good_record``, or ``pratica.*`` for the practice's
fixed rules. The core writes no Portuguese: ``relief_kit.text.reasons`` renders the codes
from ``templates/text/reasons.pt_BR.toml``.
The analyst decides; the recommendation explains.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from relief_kit.core.bills import fallback_bills, total
from relief_kit.core.calendar import NATIONAL, BusinessCalendar
from relief_kit.core.criteria import Criteria
from relief_kit.core.model import (
    Action,
    Bill,
    Change,
    Checklist,
    Customer,
    HistoryFeatures,
    OptionValue,
    PaymentProbabilities,
    Reason,
    Recommendation,
    ReliefRequest,
    Terms,
)
from relief_kit.core.money import options
from relief_kit.core.terms import with_amount_to_pay

ASKED_ACTION = {"discount": Action.DISCOUNT, "new_date": Action.POSTPONEMENT,
                "instalments": Action.INSTALMENTS}


def relief_cap_reached(count: int, criteria: Criteria) -> bool:
    """``relief.max_per_12_months`` agreements of any kind already in the rolling last
    12 months (0 = no cap). The ERPs cap each kind separately; the team caps them
    together."""
    cap = int(criteria["relief.max_per_12_months"])
    return cap > 0 and count >= cap


def missing_items(checklist: Checklist, criteria: Criteria) -> tuple[str, ...]:
    """Required checklist items still unanswered, in the criteria's order."""
    missing = []
    for item in criteria.required_items:
        if item == "asked":
            if checklist.asked in ("", "not_said"):
                missing.append(item)
        elif item == "hardship":
            if not checklist.hardship:
                missing.append(item)
        elif getattr(checklist, item) is None:
            missing.append(item)
    return tuple(missing)


def is_small_business(customer: Customer, checklist: Checklist, criteria: Criteria) -> bool:
    if checklist.small_business is not None:
        return checklist.small_business
    return customer.person_type == "PJ" and customer.business_kind in criteria[
        "small_business.kinds"]


def _score(customer: Customer, features: HistoryFeatures, checklist: Checklist,
           criteria: Criteria) -> tuple[float, list[Reason]]:
    w = criteria.sections["weights"]
    score, reasons = 0.0, []

    def add(points: float, code: str, criterion: str, **params) -> None:
        nonlocal score
        score += points
        reasons.append(Reason(code, criterion, {**params, "points": float(points)}))

    band = features.punctuality_band
    if band == "new":
        add(w["new_customer"], "new_customer", "weights.new_customer",
            min_bills=int(criteria["punctuality.min_bills"]))
    else:
        add(w[f"{band}_record"], "punctuality_band", f"weights.{band}_record", band=band,
            share=features.on_time_share, good_share=criteria["punctuality.good_share"],
            poor_share=criteria["punctuality.poor_share"],
            grace_days=criteria["punctuality.grace_days"])
    earlier, recent = features.earlier_on_time_share, features.recent_on_time_share
    if (earlier is not None and recent is not None
            and earlier >= criteria["punctuality.good_share"]
            and earlier - recent >= criteria["punctuality.shock_drop"]):
        add(w["recent_shock"], "recent_shock", "weights.recent_shock", earlier=earlier,
            recent=recent, recent_months=criteria["punctuality.recent_months"])
    if features.earlier_reliefs:
        if features.reliefs_broken:
            add(w["relief_broken"], "relief_broken", "weights.relief_broken",
                broken=features.reliefs_broken, reliefs=features.earlier_reliefs)
        else:
            add(w["relief_kept"], "relief_kept", "weights.relief_kept")
    if is_small_business(customer, checklist, criteria):
        add(w["small_business"], "small_business", "weights.small_business",
            answered=checklist.small_business is not None)
    if checklist.at_risk and checklist.at_risk_consent:
        add(w["at_risk"], "at_risk", "weights.at_risk")
    elif checklist.at_risk:
        reasons.append(Reason("at_risk_without_consent", "pratica.risco", {
            "second_analyst": bool(criteria["at_risk.refusal_needs_second_analyst"])}))
    high = float(criteria["debt.high_months"])
    if features.open_months > high:
        add(w["high_debt"], "high_debt", "weights.high_debt", open_debt=features.open_debt,
            high_months=high)
    if checklist.hardship_stated:
        add(w["hardship"], "hardship", "weights.hardship", hardship=checklist.hardship,
            since=checklist.hardship_since)
    for item in criteria.extra_items:
        if checklist.extra.get(item.key):
            add(item.weight, "extra_item", f"checklist.extra.{item.key}", label=item.label)
    return score, reasons


def _best_relief(rows: tuple[OptionValue, ...], checklist: Checklist,
                 criteria: Criteria) -> tuple[OptionValue | None, list[Reason]]:
    relief = [r for r in rows if r.allowed and r.action in ASKED_ACTION.values()]
    if not relief:
        return None, []
    reasons = []
    within = [r for r in relief if not r.exceeds_capacity]
    if checklist.capacity_monthly is not None:
        if within and len(within) < len(relief):
            reasons.append(Reason("capacity_leaves_out", "pratica.capacidade",
                                  {"capacity": checklist.capacity_monthly}))
        elif not within:
            reasons.append(Reason("capacity_exceeded", "pratica.capacidade",
                                  {"capacity": checklist.capacity_monthly}))
    pool = within or relief
    best = max(pool, key=lambda r: r.present_value)
    asked = ASKED_ACTION.get(checklist.asked)
    tolerance = float(criteria["money.prefer_asked_within"])
    for row in pool:
        if (row.action is asked and row is not best
                and float(row.present_value) >= float(best.present_value)
                - abs(float(best.present_value)) * tolerance):
            return row, reasons + [Reason("asked_within", "money.prefer_asked_within", {
                "asked": row.action.value, "asked_value": row.present_value,
                "tolerance": tolerance, "best": best.action.value,
                "best_value": best.present_value})]
    return best, reasons + [Reason("highest_value", "money.monthly_cost_of_money", {
        "action": best.action.value, "value": best.present_value,
        "probability": best.probability,
        "cost_of_money": criteria["money.monthly_cost_of_money"]})]


def _model_note(probabilities: PaymentProbabilities) -> Reason:
    used = getattr(probabilities, "used", None)
    note = getattr(probabilities, "note", None)
    if used is None or note is None:
        return Reason("chances_calibration")
    return Reason("chances_model" if used else "chances_priors", "",
                  {"why": note.code, **note.params})


def recommend(
    customer: Customer,
    features: HistoryFeatures,
    request: ReliefRequest,
    checklist: Checklist,
    criteria: Criteria,
    today: date,
    probabilities: PaymentProbabilities,
    reliefs_in_12_months: int = 0,
    calendar: BusinessCalendar = NATIONAL,
    bills: tuple[Bill, ...] | None = None,
    *,
    explain: bool = True,
    priced: tuple[OptionValue, ...] | None = None,
    price_asking: bool = True,
) -> Recommendation:
    """The recommended action, its terms, the reasons and the money comparison.

    ``reliefs_in_12_months``: agreements of any kind already made with the customer in
    the rolling last 12 months; at ``relief.max_per_12_months`` no relief is recommended
    (a refusal, which for an at-risk household needs a second analyst).
    ``calendar``: every date offered is one of its business days (the provider's, from
    settings). ``bills`` are the bills concerned
    (:func:`relief_kit.core.bills.bills_concerned`); without them the open debt is taken
    as one bill due today. ``explain`` adds what would change a refusal or a request for
    information. ``priced``: the money comparison (:func:`money.options`) of these same
    customer, features, answers, bills, date, calendar and probabilities under criteria
    whose priced sections (``money.PRICED_SECTIONS``) equal these; the what-if passes
    the current criteria's rows instead of pricing every option again.
    ``price_asking``: False leaves the money comparison out (``options`` empty) when the
    recommendation is to ask for information, which values no option; the meeting, which
    shows the value of recommended and decided options only, skips pricing them.
    """
    bills = tuple(bills) if bills else fallback_bills(customer, features, today)
    missing = missing_items(checklist, criteria)
    if priced is not None:
        rows = priced
    elif not price_asking and (checklist.documented is False or missing):
        rows = ()
    else:
        rows = options(customer, features, checklist, criteria, today, probabilities, bills,
                       calendar)
    note = _model_note(probabilities)

    def result(action: Action, terms: Terms, reasons: list[Reason], score: float = 0.0,
               missing: tuple[str, ...] = (), second: bool = False) -> Recommendation:
        recommendation = Recommendation(
            action, with_amount_to_pay(terms), tuple(reasons), rows, criteria.version,
            criteria.sha256, score, missing, second, (), note)
        if explain and action in (Action.REFUSAL, Action.ASK_INFO):
            changes = what_would_change(customer, features, request, checklist, criteria,
                                        today, probabilities, bills, action,
                                        reliefs_in_12_months, calendar)
            recommendation = replace(recommendation, what_would_change=changes)
        return recommendation

    def refuse(reasons: list[Reason], score: float) -> Recommendation:
        second = bool(checklist.at_risk) and bool(
            criteria["at_risk.refusal_needs_second_analyst"])
        if second:
            reasons.append(Reason("second_analyst", "at_risk.refusal_needs_second_analyst"))
        reasons.append(Reason("private_refusal", "pratica.recusa_privada"))
        refusal = next(r for r in rows if r.action is Action.REFUSAL)
        return result(Action.REFUSAL, refusal.terms, reasons, score, second=second)

    # The refusal row's amount: the bills' total (money.options).
    if checklist.documented is False:
        return result(Action.ASK_INFO, Terms(amount=total(bills), bills=bills), [Reason(
            "undocumented", "pratica.documentacao")], missing=missing)
    if missing:
        why = [Reason("missing_items", "decision.required_items", {"items": list(missing)})]
        if "hardship" in missing:
            why.append(Reason("hardship_not_said", "pratica.necessidade"))
        return result(Action.ASK_INFO, Terms(amount=total(bills), bills=bills), why,
                      missing=missing)

    score, reasons = _score(customer, features, checklist, criteria)
    if checklist.hardship == "none":
        reasons.append(Reason("no_hardship", "pratica.necessidade"))
        return refuse(reasons, score)
    threshold = float(criteria["weights.grant_threshold"])
    capped = relief_cap_reached(reliefs_in_12_months, criteria)
    if capped:
        reasons.append(Reason("relief_cap", "relief.max_per_12_months", {
            "count": reliefs_in_12_months, "cap": criteria["relief.max_per_12_months"]}))
    if score >= threshold and not capped:
        reasons.append(Reason("score_reaches_threshold", "weights.grant_threshold",
                              {"score": score, "threshold": threshold}))
        chosen, why = _best_relief(rows, checklist, criteria)
        if chosen is not None:
            return result(chosen.action, chosen.terms, reasons + why, score)
        reasons.append(Reason("no_relief_option", "pratica.sem_opcao"))
    elif score < threshold:
        reasons.append(Reason("score_below_threshold", "weights.grant_threshold",
                              {"score": score, "threshold": threshold}))
    return refuse(reasons, score)


#: Changes tried, smallest first: (what changes, as a code; how the answers change).
def _candidates(checklist: Checklist, criteria: Criteria):
    if checklist.documented is not True:
        yield Reason("documented"), replace(checklist, documented=True)
    if checklist.small_business is None or checklist.at_risk is None:
        yield (Reason("missing_answers"),
               replace(checklist, small_business=bool(checklist.small_business),
                       at_risk=bool(checklist.at_risk), documented=True))
    if not checklist.hardship_stated:
        for key in ("job_loss", "income_drop"):
            yield (Reason(f"hardship_{key}"),
                   replace(checklist, hardship=key, documented=True,
                           small_business=bool(checklist.small_business),
                           at_risk=bool(checklist.at_risk)))
    if checklist.at_risk and not checklist.at_risk_consent:
        yield Reason("at_risk_consent"), replace(checklist, at_risk_consent=True)
    if not checklist.small_business:
        yield Reason("small_business"), replace(checklist, small_business=True)
    for item in criteria.extra_items:
        if not checklist.extra.get(item.key) and item.weight > 0:
            yield (Reason("extra_item", f"checklist.extra.{item.key}", {"label": item.label}),
                   replace(checklist, extra={**checklist.extra, item.key: True}))


def _merged(base: Checklist, first: Checklist, second: Checklist) -> Checklist:
    """Both changes: every answer that differs from ``base`` in either."""
    values = {}
    for name in Checklist.__dataclass_fields__:
        a, b, old = getattr(first, name), getattr(second, name), getattr(base, name)
        if name == "extra":
            values[name] = {**old, **a, **b}
        else:
            values[name] = b if b != old else a
    return Checklist(**values)


def what_would_change(customer: Customer, features: HistoryFeatures, request: ReliefRequest,
                      checklist: Checklist, criteria: Criteria, today: date,
                      probabilities: PaymentProbabilities, bills: tuple[Bill, ...],
                      current: Action, reliefs_in_12_months: int = 0,
                      calendar: BusinessCalendar = NATIONAL) -> tuple[Change, ...]:
    """The smallest change in the answers (one, else two together; those leading to relief
    first) that would change the recommendation away from ``current``: what changes, the
    other action and its terms (:func:`relief_kit.text.reasons.change_text` says it);
    empty when no such answer changes it (the history decides)."""
    relief = (Action.DISCOUNT, Action.POSTPONEMENT, Action.INSTALMENTS)
    singles = [((what,), changed) for what, changed in _candidates(checklist, criteria)]
    pairs = [(a + b, _merged(checklist, x, y))
             for i, (a, x) in enumerate(singles) for b, y in singles[i + 1:]]
    for tried in (singles, pairs):  # one change first, then two together
        fallback = None
        for what, changed in tried:
            other = recommend(customer, features, request, changed, criteria, today,
                              probabilities, reliefs_in_12_months, calendar, bills,
                              explain=False)
            if other.action is current or other.action is Action.ASK_INFO:
                continue
            change = Change(what, other.action, other.terms)
            if other.action in relief:
                return (change,)
            fallback = fallback or change
        if fallback:
            return (fallback,)
    return ()
