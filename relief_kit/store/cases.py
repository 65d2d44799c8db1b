"""The case store: checklist answers, every decision ever recorded, and an audit trail.

One SQLite file in the data folder (``schema.STORE``), because a provider's analysts
share one folder. Plain SQL with a schema version, nothing that stops a later move
to PostgreSQL.

- Answers: one row per request, replaced on save (the latest answers are the case's).
  The at-risk household is kept only as a flag, a coarse category and the consent
  (LGPD necessity): there is no column for a diagnosis.
- Decisions: append-only. A new decision never overwrites an old one. Saving checks,
  inside one ``BEGIN IMMEDIATE`` transaction, that the latest decision is the one the
  analyst saw (``expected_previous``): when another analyst decided in between, the
  second is told who decided what and when, and nothing is written.
- Audit: who opened, saved, decided or purged what, and when (no sensitive detail).

The file is created readable by its owner only. Analyst notes are free text written
by the provider's staff: personal data, kept with the case and purged with it.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from relief_kit.core import schema
from relief_kit.core.criteria import Criteria
from relief_kit.core.errors import InputError, ReliefKitError
from relief_kit.core.model import Action, Bill, Checklist, Instalment, Recommendation, Terms
from relief_kit.text import formatting as fmt

SCHEMA_VERSION = 2
BUSY_TIMEOUT_SECONDS = 5.0

_MIGRATIONS = {
    1: """
    CREATE TABLE answers (
        request_id TEXT PRIMARY KEY,
        documented INTEGER, channel TEXT, small_business INTEGER,
        at_risk INTEGER, at_risk_category TEXT, at_risk_consent INTEGER NOT NULL,
        asked TEXT, proposed_date TEXT, proposed_amount TEXT,
        notes TEXT NOT NULL, extra TEXT NOT NULL,
        analyst TEXT NOT NULL, saved_at TEXT NOT NULL
    );
    CREATE TABLE decisions (
        decision_id INTEGER PRIMARY KEY AUTOINCREMENT,
        request_id TEXT NOT NULL,
        action TEXT NOT NULL, terms TEXT NOT NULL, justification TEXT NOT NULL,
        analyst TEXT NOT NULL, second_analyst TEXT NOT NULL,
        decided_at TEXT NOT NULL,
        criteria_version TEXT NOT NULL, criteria_hash TEXT NOT NULL,
        recommended_action TEXT NOT NULL, checklist TEXT NOT NULL
    );
    CREATE INDEX decisions_by_request ON decisions (request_id, decision_id);
    CREATE TABLE audit (
        audit_id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL, who TEXT NOT NULL, what TEXT NOT NULL,
        request_id TEXT NOT NULL, detail TEXT NOT NULL
    );
    """,
    # What happened, since when and what the customer can pay (issue 12).
    2: """
    ALTER TABLE answers ADD COLUMN hardship TEXT NOT NULL DEFAULT '';
    ALTER TABLE answers ADD COLUMN hardship_since TEXT;
    ALTER TABLE answers ADD COLUMN capacity_monthly TEXT
    """,
}


class DecisionConflict(ReliefKitError):
    """Another analyst recorded a decision after this one opened the case."""


@dataclass(frozen=True)
class DecisionDraft:
    """What the analyst is about to record."""

    action: Action
    terms: Terms
    justification: str
    analyst: str
    second_analyst: str = ""
    recommended_action: Action | None = None
    recommendation: Recommendation | None = None


@dataclass(frozen=True)
class Decision:
    decision_id: int
    request_id: str
    action: str
    terms: Terms
    justification: str
    analyst: str
    second_analyst: str
    decided_at: datetime
    criteria_version: str
    criteria_hash: str
    recommended_action: str
    checklist: Checklist = field(default_factory=Checklist)


# --------------------------------------------------------------------------- encoding


def _terms_json(terms: Terms) -> str:
    return json.dumps({
        "amount": str(terms.amount),
        "discount_percent": None if terms.discount_percent is None else str(
            terms.discount_percent),
        "pay_by": terms.pay_by.isoformat() if terms.pay_by else None,
        "new_due_date": terms.new_due_date.isoformat() if terms.new_due_date else None,
        "instalments": [[i.number, i.due_date.isoformat(), str(i.amount)]
                        for i in terms.instalments],
        "bills": [[b.invoice_id, b.due_date.isoformat(), str(b.amount), b.upcoming]
                  for b in terms.bills],
        "to_pay": None if terms.to_pay is None else str(terms.to_pay),
    }, sort_keys=True)


def _terms(text: str) -> Terms:
    data = json.loads(text)
    return Terms(
        amount=Decimal(data["amount"]),
        discount_percent=None if data["discount_percent"] is None else Decimal(
            data["discount_percent"]),
        pay_by=date.fromisoformat(data["pay_by"]) if data["pay_by"] else None,
        new_due_date=date.fromisoformat(data["new_due_date"]) if data["new_due_date"] else None,
        instalments=tuple(Instalment(n, date.fromisoformat(d), Decimal(a))
                          for n, d, a in data["instalments"]),
        bills=tuple(Bill(i, date.fromisoformat(d), Decimal(a), bool(u))
                    for i, d, a, u in data.get("bills", [])),
        to_pay=None if data.get("to_pay") is None else Decimal(data["to_pay"]),
    )


def _checklist_json(checklist: Checklist) -> str:
    return json.dumps({
        "documented": checklist.documented, "channel": checklist.channel,
        "small_business": checklist.small_business, "at_risk": checklist.at_risk,
        "at_risk_category": checklist.at_risk_category,
        "at_risk_consent": checklist.at_risk_consent, "asked": checklist.asked,
        "proposed_date": checklist.proposed_date.isoformat() if checklist.proposed_date
        else None,
        "proposed_amount": None if checklist.proposed_amount is None else str(
            checklist.proposed_amount),
        "notes": checklist.notes, "extra": dict(checklist.extra),
        "hardship": checklist.hardship,
        "hardship_since": checklist.hardship_since.isoformat() if checklist.hardship_since
        else None,
        "capacity_monthly": None if checklist.capacity_monthly is None else str(
            checklist.capacity_monthly),
    }, sort_keys=True, ensure_ascii=False)


def _checklist(text: str) -> Checklist:
    data = json.loads(text)
    return Checklist(
        documented=data["documented"], channel=data["channel"] or "",
        small_business=data["small_business"], at_risk=data["at_risk"],
        at_risk_category=data["at_risk_category"] or "",
        at_risk_consent=bool(data["at_risk_consent"]), asked=data["asked"] or "not_said",
        proposed_date=date.fromisoformat(data["proposed_date"]) if data["proposed_date"]
        else None,
        proposed_amount=None if data["proposed_amount"] is None else Decimal(
            data["proposed_amount"]),
        notes=data["notes"] or "", extra=data["extra"] or {},
        hardship=data.get("hardship") or "",
        hardship_since=date.fromisoformat(data["hardship_since"]) if data.get(
            "hardship_since") else None,
        capacity_monthly=None if data.get("capacity_monthly") is None else Decimal(
            data["capacity_monthly"]),
    )


def _bool(value: bool | None) -> int | None:
    return None if value is None else int(bool(value))


# --------------------------------------------------------------------------- the store


class CaseStore:
    """One connection per store object; safe to use from the thread that made it."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        new = not self.path.exists()
        if new:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Created by us, readable by the owner only, before SQLite writes anything.
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        try:
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS,
                                       isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise self._explain(exc)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> CaseStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _explain(self, exc: sqlite3.Error) -> InputError:
        text = str(exc)
        if "locked" in text or "busy" in text:
            return InputError(
                f"{self.path}: o banco de casos está bloqueado por outro processo há mais de "
                f"{BUSY_TIMEOUT_SECONDS:.0f} s (talvez um que travou). Feche os outros "
                "notebooks e comandos que usam esta pasta e tente de novo; nada foi perdido.")
        return InputError(f"{self.path}: banco de casos ilegível ({text}); restaure-o do backup.")

    def _write(self, statements):
        """Run ``statements(cursor)`` in one immediate transaction; errors in one line."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise self._explain(exc)
        try:
            result = statements(self._db)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        try:
            self._db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            self._db.execute("ROLLBACK")
            raise self._explain(exc)
        return result

    def _migrate(self) -> None:
        self._db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = self._db.execute("SELECT MAX(version) FROM schema_version").fetchone()
        current = row[0] or 0
        for version in sorted(v for v in _MIGRATIONS if v > current):
            def migrate(db, version=version):
                for statement in _MIGRATIONS[version].split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
            self._write(migrate)

    # -- audit

    def _audit(self, db, who: str, what: str, request_id: str, detail: str = "",
               now: datetime | None = None) -> None:
        db.execute("INSERT INTO audit (at, who, what, request_id, detail) VALUES (?,?,?,?,?)",
                   ((now or datetime.now()).isoformat(timespec="seconds"), who, what,
                    request_id, detail))

    def log_open(self, request_id: str, analyst: str, now: datetime | None = None) -> None:
        self._write(lambda db: self._audit(db, analyst or "?", "abriu", request_id, "", now))

    def audit(self, request_id: str | None = None) -> list[dict]:
        query = "SELECT at, who, what, request_id, detail FROM audit"
        args: tuple = ()
        if request_id is not None:
            query += " WHERE request_id = ?"
            args = (request_id,)
        rows = self._db.execute(query + " ORDER BY audit_id", args).fetchall()
        return [dict(zip(("at", "who", "what", "request_id", "detail"), r, strict=True))
                for r in rows]

    # -- answers

    def save_answers(self, request_id: str, checklist: Checklist, *, analyst: str,
                     now: datetime | None = None) -> None:
        """Replace the request's checklist answers (reopening restores them)."""
        category = checklist.at_risk_category or ""
        if checklist.hardship and checklist.hardship not in schema.HARDSHIPS:
            raise InputError(f"hardship: categoria desconhecida {checklist.hardship!r}; use "
                             f"uma de: {', '.join(schema.HARDSHIPS)} (nunca um diagnóstico).")
        if category and category not in schema.AT_RISK_CATEGORIES:
            raise InputError(f"at_risk_category: categoria desconhecida {category!r}; use uma "
                             f"de: {', '.join(schema.AT_RISK_CATEGORIES)} (nunca um "
                             "diagnóstico).")
        now = now or datetime.now()

        def save(db):
            db.execute("DELETE FROM answers WHERE request_id = ?", (request_id,))
            db.execute(
                "INSERT INTO answers (request_id, documented, channel, small_business, at_risk, "
                "at_risk_category, at_risk_consent, asked, proposed_date, proposed_amount, "
                "notes, extra, analyst, saved_at, hardship, hardship_since, capacity_monthly) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (request_id, _bool(checklist.documented), checklist.channel,
                 _bool(checklist.small_business), _bool(checklist.at_risk), category,
                 int(bool(checklist.at_risk_consent)), checklist.asked,
                 checklist.proposed_date.isoformat() if checklist.proposed_date else None,
                 None if checklist.proposed_amount is None else str(checklist.proposed_amount),
                 checklist.notes or "", json.dumps(dict(checklist.extra), sort_keys=True),
                 analyst or "?", now.isoformat(timespec="seconds"), checklist.hardship or "",
                 checklist.hardship_since.isoformat() if checklist.hardship_since else None,
                 None if checklist.capacity_monthly is None
                 else str(checklist.capacity_monthly)))
            self._audit(db, analyst or "?", "salvou respostas", request_id, "", now)
        self._write(save)

    def load_answers(self, request_id: str) -> Checklist | None:
        row = self._db.execute(
            "SELECT documented, channel, small_business, at_risk, at_risk_category, "
            "at_risk_consent, asked, proposed_date, proposed_amount, notes, extra, "
            "hardship, hardship_since, capacity_monthly "
            "FROM answers WHERE request_id = ?", (request_id,)).fetchone()
        if row is None:
            return None

        def flag(value):
            return None if value is None else bool(value)

        return Checklist(
            documented=flag(row[0]), channel=row[1] or "", small_business=flag(row[2]),
            at_risk=flag(row[3]), at_risk_category=row[4] or "",
            at_risk_consent=bool(row[5]), asked=row[6] or "not_said",
            proposed_date=date.fromisoformat(row[7]) if row[7] else None,
            proposed_amount=Decimal(row[8]) if row[8] is not None else None,
            notes=row[9] or "", extra=json.loads(row[10] or "{}"),
            hardship=row[11] or "",
            hardship_since=date.fromisoformat(row[12]) if row[12] else None,
            capacity_monthly=Decimal(row[13]) if row[13] is not None else None,
        )

    def all_answers(self) -> dict[str, Checklist]:
        ids = [r[0] for r in self._db.execute("SELECT request_id FROM answers")]
        return {request_id: self.load_answers(request_id) for request_id in ids}

    # -- decisions

    def validate_decision(self, draft: DecisionDraft, checklist: Checklist,
                          criteria: Criteria) -> list[str]:
        """What stops this decision ("não tenha pressa"), in Portuguese; empty when none."""
        from relief_kit.core.recommend import ITEM_LABELS, missing_items

        problems = []
        missing = missing_items(checklist, criteria)
        if missing:
            problems.append("Responda antes: " + "; ".join(ITEM_LABELS[m] for m in missing)
                            + ".")
        if not draft.analyst.strip():
            problems.append("Informe o nome do analista que decide.")
        if not draft.justification.strip():
            problems.append("Escreva a justificativa da decisão.")
        if (Action(draft.action) is Action.REFUSAL and checklist.at_risk
                and criteria["at_risk.refusal_needs_second_analyst"]):
            second = draft.second_analyst.strip()
            if not second:
                problems.append("Recusar um domicílio com morador em situação de risco exige a "
                                "confirmação de um segundo analista.")
            elif second.casefold() == draft.analyst.strip().casefold():
                problems.append("O segundo analista que confirma a recusa deve ser outra "
                                "pessoa.")
        return problems

    def record_decision(self, request_id: str, draft: DecisionDraft, criteria: Criteria, *,
                        checklist: Checklist, expected_previous: int | None,
                        now: datetime | None = None) -> Decision:
        """Append a decision, unless another analyst decided since ``expected_previous``."""
        problems = self.validate_decision(draft, checklist, criteria)
        if problems:
            raise InputError(" ".join(problems))
        now = (now or datetime.now()).replace(microsecond=0)
        recommended = draft.recommended_action or (
            draft.recommendation.action if draft.recommendation else Action(draft.action))

        def record(db):
            latest = db.execute(
                "SELECT decision_id, analyst, action, decided_at FROM decisions "
                "WHERE request_id = ? ORDER BY decision_id DESC LIMIT 1",
                (request_id,)).fetchone()
            if (latest[0] if latest else None) != expected_previous:
                raise DecisionConflict(
                    f"{latest[1]} registrou '{Action(latest[2]).label}' em "
                    f"{fmt.moment(datetime.fromisoformat(latest[3]))} depois que você abriu o "
                    "caso; reveja a decisão e salve de novo (nada do que você escreveu se "
                    "perdeu).")
            cursor = db.execute(
                "INSERT INTO decisions (request_id, action, terms, justification, analyst, "
                "second_analyst, decided_at, criteria_version, criteria_hash, "
                "recommended_action, checklist) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (request_id, Action(draft.action).value, _terms_json(draft.terms),
                 draft.justification.strip(), draft.analyst.strip(),
                 draft.second_analyst.strip(), now.isoformat(timespec="seconds"),
                 criteria.version, criteria.sha256, Action(recommended).value,
                 _checklist_json(checklist)))
            self._audit(db, draft.analyst.strip(), "decidiu", request_id,
                        Action(draft.action).value, now)
            return cursor.lastrowid
        decision_id = self._write(record)
        return self.history(request_id)[-1] if decision_id else None

    def history(self, request_id: str) -> list[Decision]:
        """Every decision of a request, oldest first."""
        rows = self._db.execute(
            "SELECT decision_id, request_id, action, terms, justification, analyst, "
            "second_analyst, decided_at, criteria_version, criteria_hash, recommended_action, "
            "checklist FROM decisions WHERE request_id = ? ORDER BY decision_id",
            (request_id,)).fetchall()
        return [self._decision(r) for r in rows]

    def latest_decision(self, request_id: str) -> Decision | None:
        decisions = self.history(request_id)
        return decisions[-1] if decisions else None

    def latest_decisions(self) -> list[Decision]:
        """The latest decision of every decided request."""
        rows = self._db.execute(
            "SELECT d.decision_id, d.request_id, d.action, d.terms, d.justification, "
            "d.analyst, d.second_analyst, d.decided_at, d.criteria_version, d.criteria_hash, "
            "d.recommended_action, d.checklist FROM decisions d JOIN (SELECT request_id, "
            "MAX(decision_id) AS last FROM decisions GROUP BY request_id) m "
            "ON d.decision_id = m.last ORDER BY d.request_id").fetchall()
        return [self._decision(r) for r in rows]

    @staticmethod
    def _decision(row) -> Decision:
        return Decision(
            decision_id=row[0], request_id=row[1], action=row[2], terms=_terms(row[3]),
            justification=row[4], analyst=row[5], second_analyst=row[6],
            decided_at=datetime.fromisoformat(row[7]), criteria_version=row[8],
            criteria_hash=row[9], recommended_action=row[10], checklist=_checklist(row[11]))

    # -- retention and data-subject requests

    @staticmethod
    def _scrub_decisions(db, request_id: str, *, flag_too: bool = False) -> None:
        """Blank the at-risk details and notes kept in each decision's checklist (and
        the at-risk flag itself with ``flag_too``)."""
        for decision_id, text in db.execute(
                "SELECT decision_id, checklist FROM decisions WHERE request_id = ?",
                (request_id,)).fetchall():
            data = json.loads(text)
            data.update(at_risk_category="", at_risk_consent=False, notes="")
            if flag_too:
                data["at_risk"] = None
            db.execute("UPDATE decisions SET checklist = ? WHERE decision_id = ?",
                       (json.dumps(data, sort_keys=True, ensure_ascii=False), decision_id))

    def purge_sensitive(self, request_id: str, *, who: str, now: datetime | None = None) -> None:
        """Drop the at-risk details and notes of a closed case; the decision trail stays."""
        def purge(db):
            db.execute("UPDATE answers SET at_risk_category = '', at_risk_consent = 0, "
                       "notes = '' WHERE request_id = ?", (request_id,))
            self._scrub_decisions(db, request_id)
            self._audit(db, who, "expurgou dados sensíveis", request_id, "", now)
        self._write(purge)

    def erase_request(self, request_id: str, *, who: str, now: datetime | None = None) -> None:
        """A data subject's erasure: the answers go; the decisions stay, scrubbed.

        The decisions are the proof of what was agreed (kept for the reason
        ``privacy.KEPT_REASON`` gives); the audit keeps who did what, without details.
        """
        def erase(db):
            db.execute("DELETE FROM answers WHERE request_id = ?", (request_id,))
            self._scrub_decisions(db, request_id, flag_too=True)
            self._audit(db, who, "apagou dados a pedido do titular", request_id, "", now)
        self._write(erase)

    def rows_for_requests(self, request_ids) -> dict:
        """Everything stored on these requests as plain data (LGPD art. 18 export)."""
        out = {}
        for request_id in request_ids:
            answers = self.load_answers(request_id)
            out[request_id] = {
                "answers": json.loads(_checklist_json(answers)) if answers else None,
                "decisions": [
                    {"decision_id": d.decision_id, "action": d.action,
                     "terms": json.loads(_terms_json(d.terms)),
                     "justification": d.justification, "analyst": d.analyst,
                     "second_analyst": d.second_analyst,
                     "decided_at": d.decided_at.isoformat(),
                     "criteria_version": d.criteria_version,
                     "criteria_hash": d.criteria_hash,
                     "recommended_action": d.recommended_action}
                    for d in self.history(request_id)],
            }
        return out


def open_store(folder: str | Path) -> CaseStore:
    """The case store of a data folder (created on first use)."""
    return CaseStore(Path(folder) / schema.STORE)


__all__ = ["CaseStore", "Decision", "DecisionConflict", "DecisionDraft", "open_store"]
