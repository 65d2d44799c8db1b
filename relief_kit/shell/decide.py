"""The draft of a decision taken outside the review (``relief-kit decide``).

Terms given on the command line win; an action without terms takes that action's
terms from the case's recommendation (the recommended action, or its priced option).
The amount is always the recommendation's (the debt the decision concerns).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from relief_kit.core.decisions import DecisionDraft
from relief_kit.core.model import Action, Terms


def recommended_terms(case, action: Action) -> Terms:
    """The recommendation's terms for ``action`` (its own, or the priced option's)."""
    recommendation = case.recommendation
    if recommendation.action is action:
        return recommendation.terms
    for option in recommendation.options:
        if option.action is action:
            return option.terms
    return Terms(amount=recommendation.terms.amount)


def draft_for(case, action: str | Action, *, analyst: str, justification: str,
              second_analyst: str = "", discount_percent: Decimal | None = None,
              pay_by: date | None = None, new_due_date: date | None = None,
              instalment_count: int | None = None, first_due: date | None = None
              ) -> DecisionDraft:
    """A :class:`DecisionDraft` for ``case`` (``shell.case.Case``); not validated here."""
    from relief_kit.shell.review import even_instalments

    action = Action(action)
    amount = case.recommendation.terms.amount
    given = any(v is not None for v in (discount_percent, pay_by, new_due_date,
                                        instalment_count, first_due))
    terms = recommended_terms(case, action)
    if given and action is Action.DISCOUNT:
        terms = Terms(amount=amount,
                      discount_percent=discount_percent if discount_percent is not None
                      else terms.discount_percent,
                      pay_by=pay_by or terms.pay_by)
    elif given and action is Action.POSTPONEMENT:
        terms = Terms(amount=amount, new_due_date=new_due_date or terms.new_due_date)
    elif given and action is Action.INSTALMENTS:
        count = instalment_count or len(terms.instalments) or 2
        start = first_due or (terms.instalments[0].due_date if terms.instalments else None)
        terms = Terms(amount=amount, instalments=() if start is None else even_instalments(
            amount, count, start))
    elif action in (Action.REFUSAL, Action.ASK_INFO):
        terms = Terms(amount=amount)
    return DecisionDraft(
        action=action, terms=terms, justification=justification, analyst=analyst,
        second_analyst=second_analyst, recommended_action=case.recommendation.action,
        recommendation=case.recommendation)
