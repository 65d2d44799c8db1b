"""The case after the decision: recording it (with its ERP actions), telling the
customer, and each morning's queue, agreement follow-up and guard.

Thin: it reads the data folder and the case store and hands plain values to the core
(:mod:`~relief_kit.core.lifecycle`, :mod:`~relief_kit.core.agreements`,
:mod:`~relief_kit.core.guard`, :mod:`~relief_kit.core.erp_actions`).
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from relief_kit.core import erp_actions, schema
from relief_kit.core.agreements import (
    Agreement,
    FollowUp,
    agreement_bills,
    covered_bills,
    follow_up,
    payments_all,
)
from relief_kit.core.as_of import as_of_date
from relief_kit.core.calendar import BusinessCalendar
from relief_kit.core.criteria import Criteria, load_criteria
from relief_kit.core.decisions import RELIEF_ACTIONS, DecisionDraft
from relief_kit.core.errors import InputError
from relief_kit.core.guard import Finding, Protection, guard
from relief_kit.core.history import OPEN
from relief_kit.core.lifecycle import CaseClock, CaseFacts, case_clock, queue_order
from relief_kit.core.model import Checklist
from relief_kit.core.recommend import missing_items
from relief_kit.core.settings import load_calendar
from relief_kit.core.values import ValueProblem
from relief_kit.sources.tables import guard_cell, load_folder, read_folder_info, read_table
from relief_kit.store.cases import CaseStore, open_store

_RELIEF = {a.value for a in RELIEF_ACTIONS}


# --------------------------------------------------------------------------- deciding


def record_decision(case, draft: DecisionDraft, *, checklist: Checklist,
                    expected_previous: int | None, now: datetime | None = None,
                    store: CaseStore | None = None, today: date | None = None):
    """Record a decision on ``case`` (``shell.case.Case``) with the bills it covers, and
    bring that day's ERP actions file up to date. The one way the review, ``decide``
    and the demo record a decision; raises what ``CaseStore.record_decision`` raises.
    ``today``: the day the terms are validated on (default: the case's as-of date)."""
    store = store if store is not None else case.store
    draft = replace(draft, covered=covered_bills(case.invoices, case.today))
    decision = store.record_decision(
        case.request_id, draft, case.criteria, checklist=checklist,
        expected_previous=expected_previous, now=now, today=today or case.today,
        customer_id=case.customer.customer_id)
    write_erp_actions(case.data_dir, decision.decided_at.date(), store)
    return decision


def decided_cases(folder: str | Path, day: date, store: CaseStore) -> list:
    """The decisions recorded on ``day`` (the latest per request) as
    :class:`~relief_kit.core.erp_actions.DecidedCase` values."""
    customers, _ = read_table(Path(folder) / schema.CUSTOMERS, schema.CUSTOMERS)
    status = dict(zip(customers["customer_id"], customers["contract_status"], strict=True))
    latest = {}
    for decision in store.decisions_on(day):
        latest[decision.request_id] = decision
    cases = []
    for decision in latest.values():
        customer_id = decision.customer_id
        cases.append(erp_actions.DecidedCase(
            request_id=decision.request_id, decision_id=decision.decision_id,
            customer_id=customer_id, action=decision.action, terms=decision.terms,
            covered=decision.covered, decided_on=day, analyst=decision.analyst,
            restricted=erp_actions.is_restricted(status.get(customer_id, ""))))
    return sorted(cases, key=lambda c: c.decision_id)


def erp_action_rows(folder: str | Path, day: date, store: CaseStore) -> list[dict[str, str]]:
    return [row for case in decided_cases(folder, day, store)
            for row in erp_actions.actions(case)]


def write_erp_actions(folder: str | Path, day: date, store: CaseStore | None = None) -> Path:
    """Rewrite ``acoes-erp-AAAA-MM-DD.csv`` in the data folder from the decisions of
    ``day`` (atomically; text cells guarded against formulas). Returns its path."""
    own = store is None
    store = store or open_store(folder)
    try:
        rows = erp_action_rows(folder, day, store)
    finally:
        if own:
            store.close()
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=erp_actions.COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: guard_cell(v) for k, v in row.items()})
    path = Path(folder) / erp_actions.file_name(day)
    handle, temporary = tempfile.mkstemp(prefix=".acoes-erp-", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(buffer.getvalue())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def actions_of(folder: str | Path, decision) -> list[dict[str, str]]:
    """The ERP rows of one recorded decision (what the record shows)."""
    if decision is None or not getattr(decision, "customer_id", None):
        return []
    customers, _ = read_table(Path(folder) / schema.CUSTOMERS, schema.CUSTOMERS)
    status = dict(zip(customers["customer_id"], customers["contract_status"], strict=True))
    return erp_actions.actions(erp_actions.DecidedCase(
        request_id=decision.request_id, decision_id=decision.decision_id,
        customer_id=decision.customer_id, action=decision.action, terms=decision.terms,
        covered=decision.covered, decided_on=decision.decided_at.date(),
        analyst=decision.analyst,
        restricted=erp_actions.is_restricted(status.get(decision.customer_id, ""))))


# --------------------------------------------------------------------------- the morning


@dataclass(frozen=True)
class Aftercare:
    """The data folder's cases on ``today``: every request's clock, the follow-up of
    every agreement and the guard's findings."""

    today: date
    clocks: list[CaseClock]
    follow_ups: list[FollowUp]
    findings: list[Finding]
    told: dict[str, Any]

    @property
    def queue(self) -> list[CaseClock]:
        return queue_order(self.clocks)


def morning(folder: str | Path, *, criteria_path: str | Path | None = None,
            today: date | str | None = None, clock_today: date | None = None) -> Aftercare:
    """The morning's lists as ``relief-kit queue``, ``follow-up`` and ``guard`` and the
    review app's queue page all read them: the criteria file (``None``: the kit's), the
    as-of date (``today``, else the export's ``export.toml``, else ``clock_today`` or the
    clock), then :func:`gather`. Raises ``InputError`` (one line) for a criteria file,
    ``export.toml`` or date that cannot be read."""
    criteria = load_criteria(criteria_path)
    try:
        day = as_of_date(today, read_folder_info(folder)[0], clock_today or date.today())
    except ValueProblem as exc:
        raise InputError(f"today: {exc}") from None
    return gather(folder, day, criteria)


def gather(folder: str | Path, today: date, criteria: Criteria,
           calendar: BusinessCalendar | None = None, portfolio=None) -> Aftercare:
    """Read the data folder (a fresh export; or ``portfolio`` already read from it) and
    the case store and work out the states, clocks, follow-ups and guard findings on
    ``today``."""
    folder = Path(folder)
    calendar = calendar or load_calendar(state=str(criteria["suspension.state"]))
    portfolio = portfolio if portfolio is not None else load_folder(folder)
    with open_store(folder) as store:
        latest = {d.request_id: d for d in store.latest_decisions()}
        saved = store.answers_saved()
        answers = store.all_answers()
        holders = store.last_touched_by()
        sent: dict[str, Any] = {}
        for message in store.messages_sent():
            decision = latest.get(message.request_id)
            if decision is not None and message.decision_id == decision.decision_id:
                sent.setdefault(message.request_id, message)

    paid = agreement_payments(portfolio, latest)
    clocks, follow_ups, protections = [], [], []
    for request_id in portfolio.requests["request_id"]:
        request = portfolio.request(request_id)
        intake = Checklist.from_request(request)
        checklist = answers.get(request_id) or intake
        received = request.received_at.date()
        complete_on = None
        if checklist.documented and not missing_items(checklist, criteria):
            intake_complete = intake.documented and not missing_items(intake, criteria)
            complete_on = received if intake_complete or request_id not in saved else max(
                saved[request_id][0].date(), received)
        decision = latest.get(request_id)
        invoices = portfolio.invoices_of(request.customer_id)
        check = None
        if decision is not None and decision.action in _RELIEF:
            check = follow_up(
                request_id=request_id, customer_id=request.customer_id,
                decision_id=decision.decision_id, action=decision.action,
                terms=decision.terms, covered=decision.covered,
                decided_at=decision.decided_at, invoices=invoices, as_of=today,
                criteria=criteria, calendar=calendar, paid=paid.get(request_id))
            if check is not None:
                follow_ups.append(check)
        message = sent.get(request_id)
        clock = case_clock(CaseFacts(
            request_id=request_id, received_on=received,
            worked_on=request_id in saved or request_id in holders, complete_on=complete_on,
            decision_action=decision.action if decision else "",
            decided_on=decision.decided_at.date() if decision else None,
            told_on=message.sent_at.date() if message else None,
            follow_up=check.kind if check else "",
            holder=holders.get(request_id, decision.analyst if decision else "")),
            today, criteria, calendar)
        clocks.append(clock)
        if check is not None and check.kind in ("active", "due_soon", "kept"):
            bills = agreement_bills(invoices, decision.covered, decision.decided_at.date())
            protections.append(Protection(request_id, request.customer_id, "agreement",
                                          frozenset(bills["invoice_id"]),
                                          decision.decided_at.date()))
        elif decision is None or decision.action == "ask_info":
            owed = invoices[invoices["status"].isin(OPEN)
                            & (invoices["due_date"] <= _timestamp(today))]
            protections.append(Protection(request_id, request.customer_id, "open_case",
                                          frozenset(owed["invoice_id"]), received))
    findings = guard(protections, portfolio.customers, portfolio.invoices, today, criteria)
    order = {"broken": 0, "due_soon": 1, "active": 2, "kept": 3}
    follow_ups.sort(key=lambda f: (order[f.kind], f.request_id))
    return Aftercare(today, clocks, follow_ups, findings, sent)


def agreement_payments(portfolio, latest: dict) -> dict[str, list]:
    """The payments toward every agreement (latest relief decision of a request of the
    portfolio), by request id, read from the bills in one pass
    (:func:`~relief_kit.core.agreements.payments_all`)."""
    owners: dict[str, str] = {}
    for request_id, customer_id in zip(portfolio.requests["request_id"],
                                       portfolio.requests["customer_id"], strict=True):
        owners.setdefault(request_id, customer_id)  # the first row, as portfolio.request
    agreements = [Agreement(request_id, owners[request_id], decision.covered,
                            decision.decided_at.date())
                  for request_id, decision in latest.items()
                  if request_id in owners and decision.action in _RELIEF]
    return payments_all(portfolio.invoices, agreements)


def follow_ups_on(folder: str | Path, today: date, criteria: Criteria, portfolio,
                  calendar: BusinessCalendar | None = None, *,
                  decisions: list | None = None) -> list[FollowUp]:
    """Only the follow-up of every agreement on ``today`` (what :func:`gather` finds
    for them, in the portfolio's request order), without the clocks and the guard:
    the meeting counts them. ``decisions``: the store's latest decisions
    (``CaseStore.latest_decisions``) when the caller has already read them."""
    calendar = calendar or load_calendar(state=str(criteria["suspension.state"]))
    if decisions is None:
        with open_store(folder) as store:
            decisions = store.latest_decisions()
    latest = {d.request_id: d for d in decisions}
    paid = agreement_payments(portfolio, latest)
    owners: dict[str, str] = {}
    for request_id, customer_id in zip(portfolio.requests["request_id"],
                                       portfolio.requests["customer_id"], strict=True):
        owners.setdefault(request_id, customer_id)  # the first row, as portfolio.request
    checks = []
    empty = portfolio.invoices.iloc[:0]
    for request_id in portfolio.requests["request_id"]:
        decision = latest.get(request_id)
        if decision is None or decision.action not in _RELIEF:
            continue
        check = follow_up(
            request_id=request_id, customer_id=owners[request_id],
            decision_id=decision.decision_id, action=decision.action, terms=decision.terms,
            covered=decision.covered, decided_at=decision.decided_at, invoices=empty,
            as_of=today, criteria=criteria, calendar=calendar, paid=paid[request_id])
        if check is not None:
            checks.append(check)
    return checks


def follow_up_counts(care: Aftercare | list[FollowUp]) -> dict[str, int]:
    """How many agreements are in each follow-up kind (every kind, zeros included)."""
    counts = {kind: 0 for kind in ("kept", "active", "due_soon", "broken")}
    for check in care.follow_ups if isinstance(care, Aftercare) else care:
        counts[check.kind] += 1
    return counts


def _timestamp(day: date):
    import pandas as pd

    return pd.Timestamp(day)


def mark_sent(folder: str | Path, request_id: str, channel: str, *, analyst: str,
              now: datetime | None = None):
    """Record that the decision's message went to the customer (when and how)."""
    portfolio = load_folder(folder, request_ids=[request_id])  # the request must exist
    portfolio.request(request_id)
    with open_store(folder) as store:
        return store.record_message_sent(request_id, channel, analyst=analyst, now=now)


__all__ = ["Aftercare", "actions_of", "decided_cases", "erp_action_rows", "follow_up_counts",
           "gather", "mark_sent",
           "record_decision", "write_erp_actions"]
