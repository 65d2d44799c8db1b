"""The demo's simulated analyst: decisions that accept the recommendation.

Only for the synthetic sample, so that the demo's records show decided cases and the
messages that formalise them, and the meeting report has decisions to count. Every
simulated decision says so in its analyst name and justification.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path

from relief_kit.core.agreements import covered_bills
from relief_kit.core.criteria import load_criteria
from relief_kit.core.decisions import needs_second_analyst
from relief_kit.core.model import Action
from relief_kit.shell.aftercare import write_erp_actions
from relief_kit.shell.replay import recommend_all
from relief_kit.sources.tables import load_folder
from relief_kit.store.cases import DecisionDraft, open_store

ANALYST = "Analista de demonstração"
CONFIRMING = "Segunda analista de demonstração"
JUSTIFICATION = "Decisão simulada pela demonstração: aceita a recomendação do relief-kit."


def simulate_decisions(folder: str | Path, every: int = 2) -> int:
    """Record a decision for every ``every``-th request whose recommendation decides
    something (not "ask for more information"), unless the store already has some.
    Returns how many were recorded."""
    portfolio, criteria = load_folder(folder), load_criteria()
    with open_store(folder) as store:
        if store.latest_decisions():
            return 0
        as_of = portfolio.as_of or datetime.now().date()
        moment = datetime.combine(as_of, time(9, 0))
        recorded = 0
        for i, case in enumerate(recommend_all(portfolio, criteria, as_of=as_of)):
            rec = case.recommendation
            if rec.action is Action.ASK_INFO or i % every:
                continue
            second = (CONFIRMING if needs_second_analyst(rec.action, case.checklist, criteria)
                      else "")
            store.save_answers(case.request_id, case.checklist, analyst=ANALYST, now=moment)
            covered = covered_bills(portfolio.invoices_of(case.customer_id), as_of)
            store.record_decision(
                case.request_id,
                DecisionDraft(rec.action, rec.terms, JUSTIFICATION, ANALYST, second, rec.action,
                              rec, covered),
                criteria, checklist=case.checklist, expected_previous=None,
                now=moment + timedelta(minutes=i), today=as_of, customer_id=case.customer_id)
            recorded += 1
        if recorded:
            write_erp_actions(folder, moment.date(), store)
    return recorded
