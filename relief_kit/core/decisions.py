"""One validation of a decision, whoever records it: the review, ``relief-kit decide``,
the demo's simulated analyst and the case store itself.

The rules (the seed article's "não tenha pressa" and the team's criteria):

- the terms must be complete and possible for the action: a discount strictly between
  0 % and 100 % with a pay-by date not in the past; a postponement to a day after
  today; instalments: at least 2, the first not in the past, adding up to the amount
  to the centavo;
- the checklist's required answers (``decision.required_items``) are given;
- an analyst name and a justification;
- refusing a household with an at-risk resident needs a second, different analyst
  when ``at_risk.refusal_needs_second_analyst`` is on.

Problems are codes with parameters (:class:`Problem`); the text layer
(:mod:`relief_kit.text.lines`) says them in Portuguese. ``Terms`` travel as JSON in the
case store and in ``case.json``: :func:`terms_to_dict` and :func:`terms_from_dict` are
the one encoding.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from relief_kit.core.criteria import Criteria
from relief_kit.core.model import Action, Checklist, Instalment, Recommendation, Terms
from relief_kit.core.recommend import missing_items

#: Actions that give the customer relief (an agreement to follow up).
RELIEF_ACTIONS = (Action.DISCOUNT, Action.POSTPONEMENT, Action.INSTALMENTS)


@dataclass(frozen=True)
class CoveredBill:
    """A bill a decision is about, as it stood when the decision was recorded."""

    invoice_id: str
    due_date: date
    open_amount: Decimal  # R$ still owed on it then


@dataclass(frozen=True)
class DecisionDraft:
    """What the analyst is about to record.

    ``covered`` lists the bills the decision is about (filled by the shell from the
    customer's open bills; the ERP actions and the follow-up use it).
    """

    action: Action
    terms: Terms
    justification: str
    analyst: str
    second_analyst: str = ""
    recommended_action: Action | None = None
    recommendation: Recommendation | None = None
    covered: tuple[CoveredBill, ...] = ()


@dataclass(frozen=True)
class Problem:
    """Why a decision cannot be recorded: a code and its parameters.

    Codes: ``discount_percent``, ``pay_by_missing``, ``pay_by_past``,
    ``new_due_date_missing``, ``new_due_date_not_after_today``, ``instalments_missing``,
    ``first_instalment_past``, ``instalments_total`` (``total``, ``amount``),
    ``required_items`` (``items``), ``analyst_missing``, ``justification_missing``,
    ``second_analyst_missing``, ``second_analyst_same``.
    """

    code: str
    params: Mapping[str, Any] = field(default_factory=dict)


def needs_second_analyst(action: Action | str, checklist: Checklist, criteria: Criteria) -> bool:
    """Refusing a household with an at-risk resident, when the criteria ask for a second
    analyst (``at_risk.refusal_needs_second_analyst``)."""
    return (Action(action) is Action.REFUSAL and checklist.at_risk is True
            and bool(criteria["at_risk.refusal_needs_second_analyst"]))


def terms_problems(action: Action | str, terms: Terms, today: date) -> list[Problem]:
    """What is missing or impossible in the terms of ``action`` on ``today``."""
    action = Action(action)
    problems: list[Problem] = []
    if action is Action.DISCOUNT:
        if terms.discount_percent is None or not 0 < terms.discount_percent < 100:
            problems.append(Problem("discount_percent", {"given": terms.discount_percent}))
        if terms.pay_by is None:
            problems.append(Problem("pay_by_missing"))
        elif terms.pay_by < today:
            problems.append(Problem("pay_by_past", {"on": terms.pay_by}))
    elif action is Action.POSTPONEMENT:
        if terms.new_due_date is None:
            problems.append(Problem("new_due_date_missing"))
        elif terms.new_due_date <= today:
            problems.append(Problem("new_due_date_not_after_today", {"on": terms.new_due_date}))
        elif terms.bills and terms.new_due_date <= max(b.due_date for b in terms.bills):
            # A "new" date on or before the bill's own due date moves nothing.
            problems.append(Problem("new_due_date_not_after_bill",
                                    {"on": max(b.due_date for b in terms.bills)}))
    elif action is Action.INSTALMENTS:
        if len(terms.instalments) < 2:
            problems.append(Problem("instalments_missing"))
        else:
            if terms.instalments[0].due_date < today:
                problems.append(Problem("first_instalment_past",
                                        {"on": terms.instalments[0].due_date}))
            total = sum((i.amount for i in terms.instalments), Decimal("0.00"))
            if total != terms.amount:
                problems.append(Problem("instalments_total",
                                        {"total": total, "amount": terms.amount}))
    return problems


def decision_problems(draft: DecisionDraft, checklist: Checklist, criteria: Criteria,
                      today: date) -> list[Problem]:
    """Everything that stops ``draft`` from being recorded on ``today``; empty when none.

    ``checklist`` is the answers the decision rests on.
    """
    problems = terms_problems(draft.action, draft.terms, today)
    # Asking the customer is how missing answers are got: it never waits for them.
    missing = () if draft.action is Action.ASK_INFO else missing_items(checklist, criteria)
    if missing:
        problems.append(Problem("required_items", {"items": missing}))
    analyst = draft.analyst.strip()
    if not analyst:
        problems.append(Problem("analyst_missing"))
    if not draft.justification.strip():
        problems.append(Problem("justification_missing"))
    if needs_second_analyst(draft.action, checklist, criteria):
        second = draft.second_analyst.strip()
        if not second:
            problems.append(Problem("second_analyst_missing"))
        elif second.casefold() == analyst.casefold():
            problems.append(Problem("second_analyst_same"))
    return problems


# --------------------------------------------------------------------------- encoding


def terms_to_dict(terms: Terms) -> dict:
    """Terms as plain JSON values (amounts as ``"12.34"`` text, dates ISO)."""
    return {
        "amount": str(terms.amount),
        "discount_percent": None if terms.discount_percent is None else str(
            terms.discount_percent),
        "pay_by": terms.pay_by.isoformat() if terms.pay_by else None,
        "new_due_date": terms.new_due_date.isoformat() if terms.new_due_date else None,
        "instalments": [[i.number, i.due_date.isoformat(), str(i.amount)]
                        for i in terms.instalments],
    }


def terms_from_dict(data: Mapping[str, Any]) -> Terms:
    """Terms back from :func:`terms_to_dict`, or from ``case.json`` (where instalments
    are objects ``{number, due_date, amount}``). Raises KeyError, TypeError or
    ValueError on a malformed value."""
    def day(text):
        return date.fromisoformat(text) if text else None

    def instalment(item) -> Instalment:
        if isinstance(item, Mapping):
            return Instalment(int(item["number"]), date.fromisoformat(item["due_date"]),
                              Decimal(item["amount"]))
        number, due, amount = item
        return Instalment(int(number), date.fromisoformat(due), Decimal(amount))

    percent = data.get("discount_percent")
    return Terms(
        amount=Decimal(data["amount"]),
        discount_percent=None if percent is None else Decimal(percent),
        pay_by=day(data.get("pay_by")), new_due_date=day(data.get("new_due_date")),
        instalments=tuple(instalment(i) for i in data.get("instalments") or ()),
    )


def covered_to_list(covered: tuple[CoveredBill, ...]) -> list:
    return [[b.invoice_id, b.due_date.isoformat(), str(b.open_amount)] for b in covered]


def covered_from_list(items) -> tuple[CoveredBill, ...]:
    return tuple(CoveredBill(str(i), date.fromisoformat(d), Decimal(a)) for i, d, a in items or ())


__all__ = ["RELIEF_ACTIONS", "CoveredBill", "DecisionDraft", "Problem", "covered_from_list",
           "covered_to_list", "decision_problems", "needs_second_analyst", "terms_from_dict",
           "terms_problems", "terms_to_dict"]
