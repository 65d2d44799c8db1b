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
from relief_kit.core.decisions import (
    RELIEF_ACTIONS,
    CoveredBill,
    DecisionDraft,
    covered_from_list,
    covered_to_list,
    decision_problems,
    terms_from_dict,
    terms_to_dict,
)
from relief_kit.core.errors import InputError, ReliefKitError
from relief_kit.core.model import Action, Checklist, Terms
from relief_kit.text import formatting as fmt
from relief_kit.text import labels
from relief_kit.text.lines import problem_lines

SCHEMA_VERSION = 4
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
    # After the decision: the bills each decision is about, and the messages sent.
    2: """
    ALTER TABLE decisions ADD COLUMN covered TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE decisions ADD COLUMN customer_id TEXT NOT NULL DEFAULT '';
    CREATE TABLE messages_sent (
        sent_id INTEGER PRIMARY KEY AUTOINCREMENT,
        request_id TEXT NOT NULL, decision_id INTEGER,
        channel TEXT NOT NULL, analyst TEXT NOT NULL, sent_at TEXT NOT NULL
    );
    CREATE INDEX messages_by_request ON messages_sent (request_id, sent_id);
    """,
    # Decisions and the audit trail append-only in the store itself: UPDATE and DELETE
    # are refused unless a row in ``maintenance`` says a purge or an erasure is under
    # way (only inside their own transaction, which also writes their audit line).
    3: (
        "CREATE TABLE maintenance (reason TEXT NOT NULL)",
        *(f"""CREATE TRIGGER {table}_append_only_{verb.lower()} BEFORE {verb} ON {table}
        WHEN NOT EXISTS (SELECT 1 FROM maintenance)
        BEGIN SELECT RAISE(ABORT, '{table}: append-only ({verb} refused)'); END"""
          for table in ("decisions", "audit") for verb in ("UPDATE", "DELETE")),
    ),
    # What happened, since when and what the customer can pay (issue 12).
    4: """
    ALTER TABLE answers ADD COLUMN hardship TEXT NOT NULL DEFAULT '';
    ALTER TABLE answers ADD COLUMN hardship_since TEXT;
    ALTER TABLE answers ADD COLUMN capacity_monthly TEXT
    """,
}

#: Channels a message to the customer can be sent through (``relief-kit sent``).
SENT_CHANNELS = ("whatsapp", "email")


def _statements(migration) -> list[str]:
    if isinstance(migration, str):
        return [s for s in migration.split(";") if s.strip()]
    return list(migration)


class DecisionConflict(ReliefKitError):
    """Another analyst recorded a decision after this one opened the case."""


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
    covered: tuple[CoveredBill, ...] = ()
    customer_id: str = ""  # empty for decisions recorded before schema 2


@dataclass(frozen=True)
class MessageSent:
    """A message to the customer marked as sent: when, how, by whom."""

    request_id: str
    decision_id: int | None
    channel: str  # SENT_CHANNELS
    analyst: str
    sent_at: datetime


# --------------------------------------------------------------------------- encoding


def _terms_json(terms: Terms) -> str:
    return json.dumps(terms_to_dict(terms), sort_keys=True)


def _terms(text: str) -> Terms:
    return terms_from_dict(json.loads(text))


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
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Created by us, readable by the owner only, before SQLite writes anything
            # (O_CREAT without O_EXCL: two processes creating it at once both succeed).
            if not self.path.exists():
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        except OSError as exc:
            raise InputError(f"{self.path}: não foi possível criar o banco de casos "
                             f"({_os_reason(exc)}); nada foi perdido.")
        try:
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS,
                                       isolation_level=None, check_same_thread=False)
            self._pragma("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.Error as exc:
            raise self._explain(exc)

    def _pragma(self, statement: str) -> None:
        # Switching to WAL takes a lock the busy timeout does not wait for: two processes
        # opening a new store at once retry instead of failing.
        import time

        deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
        while True:
            try:
                self._db.execute(statement)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> CaseStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _explain(self, exc: sqlite3.Error) -> InputError:
        """A storage error as one line that says what happened and what to do.

        "Restore from backup" only when SQLite itself finds the file corrupt
        (``PRAGMA integrity_check``): the advice would lose recent decisions otherwise."""
        name = getattr(exc, "sqlite_errorname", "") or ""
        text = str(exc)
        if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
            return InputError(
                f"{self.path}: o banco de casos está bloqueado por outro processo há mais de "
                f"{BUSY_TIMEOUT_SECONDS:.0f} s (talvez um que travou). Feche os outros "
                "notebooks e comandos que usam esta pasta e tente de novo; nada foi perdido.")
        if name == "SQLITE_FULL" or "disk is full" in text:
            return InputError(f"{self.path}: disco cheio; libere espaço e tente de novo (o "
                              "banco de casos está intacto, só esta gravação não foi feita).")
        if name.startswith("SQLITE_READONLY") or "readonly" in text:
            return InputError(f"{self.path}: o banco de casos ou a pasta está somente leitura; "
                              "use uma pasta em que este usuário possa gravar (nada foi "
                              "perdido).")
        if name.startswith("SQLITE_CANTOPEN") or "unable to open" in text:
            return InputError(f"{self.path}: não foi possível abrir o banco de casos (pasta "
                              "somente leitura ou sem permissão); confira as permissões.")
        if "append-only" in text:
            return InputError(f"{self.path}: decisões e auditoria não podem ser alteradas nem "
                              f"apagadas ({text}).")
        if self._corrupt():
            return InputError(f"{self.path}: banco de casos corrompido ({text}; o teste de "
                              "integridade do SQLite falhou); restaure-o do backup.")
        return InputError(f"{self.path}: erro ao gravar no banco de casos ({text}); o banco "
                          "está íntegro, tente de novo.")

    def _corrupt(self) -> bool:
        """``PRAGMA integrity_check`` on a separate read-only connection."""
        try:
            check = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=1)
            try:
                rows = check.execute("PRAGMA integrity_check").fetchall()
            finally:
                check.close()
        except sqlite3.DatabaseError as exc:
            return getattr(exc, "sqlite_errorname", "") in ("SQLITE_CORRUPT", "SQLITE_NOTADB") \
                or "not a database" in str(exc) or "malformed" in str(exc)
        return rows != [("ok",)]

    def _write(self, statements):
        """Run ``statements(cursor)`` in one immediate transaction; errors in one line."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise self._explain(exc)
        try:
            result = statements(self._db)
        except sqlite3.Error as exc:
            self._rollback()
            raise self._explain(exc)
        except BaseException:
            self._rollback()
            raise
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise self._explain(exc)
        return result

    def _rollback(self) -> None:
        try:
            self._db.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # SQLite already rolled back (disk full, I/O error)

    def _migrate(self) -> None:
        def version(db) -> int:
            exists = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'schema_version'"
                                ).fetchone()
            if not exists:
                return 0
            return db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0

        if version(self._db) >= max(_MIGRATIONS):
            return  # nothing to write: a read-only store still opens for reading

        def migrate(db):
            # Read again inside the transaction: another process may have just done it.
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            for number in sorted(v for v in _MIGRATIONS if v > version(db)):
                for statement in _statements(_MIGRATIONS[number]):
                    db.execute(statement)
                db.execute("INSERT INTO schema_version (version) VALUES (?)", (number,))
        self._write(migrate)

    # -- audit

    def _audit(self, db, who: str, what: str, request_id: str, detail: str = "",
               now: datetime | None = None) -> None:
        db.execute("INSERT INTO audit (at, who, what, request_id, detail) VALUES (?,?,?,?,?)",
                   ((now or datetime.now()).isoformat(timespec="seconds"), who, what,
                    request_id, detail))

    def log_open(self, request_id: str, analyst: str, now: datetime | None = None) -> None:
        self._write(lambda db: self._audit(db, analyst or "?", "abriu", request_id, "", now))

    def log_reveal(self, request_id: str, analyst: str, what: str,
                   now: datetime | None = None) -> None:
        """An analyst showed a masked document or phone in full (LGPD: who saw what)."""
        self._write(lambda db: self._audit(db, analyst or "?", "revelou", request_id, what,
                                           now))

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
                          criteria: Criteria, today: date | None = None) -> list[str]:
        """What stops this decision on ``today`` (default: the machine's date), one
        Portuguese sentence each (:func:`relief_kit.core.decisions.decision_problems`);
        empty when none."""
        return problem_lines(decision_problems(draft, checklist, criteria,
                                               today or date.today()))

    def record_decision(self, request_id: str, draft: DecisionDraft, criteria: Criteria, *,
                        checklist: Checklist, expected_previous: int | None,
                        now: datetime | None = None, today: date | None = None,
                        customer_id: str = "") -> Decision:
        """Append a decision, unless another analyst decided since ``expected_previous``.

        The store refuses what the review refuses (the same validation, on ``today``:
        the data's as-of date, default ``now``'s date): InputError in one line.
        ``customer_id`` lets the 12-month relief cap count the customer's agreements.
        """
        now = (now or datetime.now()).replace(microsecond=0)
        problems = self.validate_decision(draft, checklist, criteria, today or now.date())
        if problems:
            raise InputError(" ".join(problems))
        recommended = draft.recommended_action or (
            draft.recommendation.action if draft.recommendation else Action(draft.action))

        def record(db):
            latest = db.execute(
                "SELECT decision_id, analyst, action, decided_at FROM decisions "
                "WHERE request_id = ? ORDER BY decision_id DESC LIMIT 1",
                (request_id,)).fetchone()
            if (latest[0] if latest else None) != expected_previous:
                raise DecisionConflict(
                    f"{latest[1]} registrou '{labels.action(latest[2])}' em "
                    f"{fmt.moment(datetime.fromisoformat(latest[3]))} depois que você abriu o "
                    "caso; reveja a decisão e salve de novo (nada do que você escreveu se "
                    "perdeu).")
            cursor = db.execute(
                "INSERT INTO decisions (request_id, action, terms, justification, analyst, "
                "second_analyst, decided_at, criteria_version, criteria_hash, "
                "recommended_action, checklist, covered, customer_id) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (request_id, Action(draft.action).value, _terms_json(draft.terms),
                 draft.justification.strip(), draft.analyst.strip(),
                 draft.second_analyst.strip(), now.isoformat(timespec="seconds"),
                 criteria.version, criteria.sha256, Action(recommended).value,
                 _checklist_json(checklist), json.dumps(covered_to_list(draft.covered)),
                 customer_id))
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
            "checklist, covered, customer_id FROM decisions WHERE request_id = ? "
            "ORDER BY decision_id",
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
            "d.recommended_action, d.checklist, d.covered, d.customer_id FROM decisions d "
            "JOIN (SELECT request_id, MAX(decision_id) AS last FROM decisions "
            "GROUP BY request_id) m ON d.decision_id = m.last ORDER BY d.request_id").fetchall()
        return [self._decision(r) for r in rows]

    @staticmethod
    def _decision(row) -> Decision:
        return Decision(
            decision_id=row[0], request_id=row[1], action=row[2], terms=_terms(row[3]),
            justification=row[4], analyst=row[5], second_analyst=row[6],
            decided_at=datetime.fromisoformat(row[7]), criteria_version=row[8],
            criteria_hash=row[9], recommended_action=row[10], checklist=_checklist(row[11]),
            covered=covered_from_list(json.loads(row[12] or "[]")), customer_id=row[13])

    def decisions_on(self, day: date) -> list[Decision]:
        """Every decision recorded on ``day``, oldest first."""
        rows = self._db.execute(
            "SELECT decision_id, request_id, action, terms, justification, analyst, "
            "second_analyst, decided_at, criteria_version, criteria_hash, recommended_action, "
            "checklist, covered, customer_id FROM decisions WHERE substr(decided_at, 1, 10) = ? "
            "ORDER BY decision_id", (day.isoformat(),)).fetchall()
        return [self._decision(r) for r in rows]

    def relief_days(self, customer_id: str, *, excluding: str = "") -> list[date]:
        """The days relief was agreed with a customer: the latest decision of each of
        their requests (but ``excluding``) when it grants relief."""
        rows = self._db.execute(
            "SELECT d.request_id, d.action, d.decided_at FROM decisions d JOIN (SELECT "
            "request_id, MAX(decision_id) AS last FROM decisions WHERE customer_id = ? "
            "GROUP BY request_id) m ON d.decision_id = m.last", (customer_id,)).fetchall()
        relief = {a.value for a in RELIEF_ACTIONS}
        return sorted(datetime.fromisoformat(at).date() for request_id, action, at in rows
                      if action in relief and request_id != excluding)

    def decisions_by_request(self) -> dict[str, list[Decision]]:
        """Every decision of every request, oldest first (the 12-month relief cap)."""
        rows = self._db.execute(
            "SELECT decision_id, request_id, action, terms, justification, analyst, "
            "second_analyst, decided_at, criteria_version, criteria_hash, recommended_action, "
            "checklist, covered, customer_id FROM decisions ORDER BY decision_id").fetchall()
        out: dict[str, list[Decision]] = {}
        for row in rows:
            out.setdefault(row[1], []).append(self._decision(row))
        return out

    # -- after the decision

    def record_message_sent(self, request_id: str, channel: str, *, analyst: str,
                            now: datetime | None = None) -> MessageSent:
        """Record that the message formalising the latest decision was sent.

        Raises InputError for an unknown channel or a request without a decision.
        """
        if channel not in SENT_CHANNELS:
            raise InputError(f"--channel: canal desconhecido {channel!r}; use um de: "
                             f"{', '.join(SENT_CHANNELS)}.")
        now = (now or datetime.now()).replace(microsecond=0)

        def record(db):
            latest = db.execute("SELECT MAX(decision_id) FROM decisions WHERE request_id = ?",
                                (request_id,)).fetchone()[0]
            if latest is None:
                raise InputError(f"pedido {request_id!r}: nenhuma decisão registrada; decida "
                                 "antes de avisar o cliente.")
            db.execute("INSERT INTO messages_sent (request_id, decision_id, channel, analyst, "
                       "sent_at) VALUES (?,?,?,?,?)",
                       (request_id, latest, channel, analyst.strip() or "?",
                        now.isoformat(timespec="seconds")))
            self._audit(db, analyst.strip() or "?", "enviou mensagem", request_id, channel, now)
            return latest
        decision_id = self._write(record)
        return MessageSent(request_id, decision_id, channel, analyst.strip() or "?", now)

    def messages_sent(self, request_id: str | None = None) -> list[MessageSent]:
        """Messages marked as sent (of one request, or all), oldest first."""
        query = ("SELECT request_id, decision_id, channel, analyst, sent_at FROM messages_sent")
        args: tuple = ()
        if request_id is not None:
            query += " WHERE request_id = ?"
            args = (request_id,)
        return [MessageSent(r[0], r[1], r[2], r[3], datetime.fromisoformat(r[4]))
                for r in self._db.execute(query + " ORDER BY sent_id", args).fetchall()]

    def answers_saved(self) -> dict[str, tuple[datetime, str]]:
        """When and by whom each request's answers were last saved."""
        return {r[0]: (datetime.fromisoformat(r[1]), r[2]) for r in self._db.execute(
            "SELECT request_id, saved_at, analyst FROM answers").fetchall()}

    def last_touched_by(self) -> dict[str, str]:
        """Who last opened, saved or decided each request (who holds it)."""
        rows = self._db.execute(
            "SELECT a.request_id, a.who FROM audit a JOIN (SELECT request_id, MAX(audit_id) "
            "AS last FROM audit WHERE what IN ('abriu', 'salvou respostas', 'decidiu') "
            "GROUP BY request_id) m ON a.audit_id = m.last").fetchall()
        return {r[0]: r[1] for r in rows if r[1] != "?"}

    # -- retention and data-subject requests

    @staticmethod
    def _scrub_decisions(db, request_id: str, *, flag_too: bool = False) -> None:
        """Blank the at-risk details and notes kept in each decision's checklist (and
        the at-risk flag itself with ``flag_too``)."""
        for decision_id, text in db.execute(
                "SELECT decision_id, checklist FROM decisions WHERE request_id = ?",
                (request_id,)).fetchall():
            data = json.loads(text)
            data.update(schema.SENSITIVE_CHECKLIST)
            if flag_too:
                data["at_risk"] = None
            db.execute("UPDATE decisions SET checklist = ? WHERE decision_id = ?",
                       (json.dumps(data, sort_keys=True, ensure_ascii=False), decision_id))

    def purge_sensitive(self, request_id: str, *, who: str, now: datetime | None = None) -> None:
        """Drop the at-risk details and notes of a closed case; the decision trail stays."""
        def purge(db):
            db.execute("INSERT INTO maintenance (reason) VALUES ('purge')")
            columns = ", ".join(f"{name} = ?" for name in schema.SENSITIVE_CHECKLIST)
            db.execute(f"UPDATE answers SET {columns} WHERE request_id = ?",
                       (*schema.SENSITIVE_CHECKLIST.values(), request_id))
            self._scrub_decisions(db, request_id)
            db.execute("DELETE FROM maintenance")
            self._audit(db, who, "expurgou dados sensíveis", request_id, "", now)
        self._write(purge)

    def erase_request(self, request_id: str, *, who: str, now: datetime | None = None) -> None:
        """A data subject's erasure: the answers go; the decisions stay, scrubbed.

        The decisions are the proof of what was agreed (kept for the reason
        ``privacy.KEPT_REASON`` gives); the audit keeps who did what, without details.
        """
        def erase(db):
            db.execute("INSERT INTO maintenance (reason) VALUES ('erasure')")
            db.execute("DELETE FROM answers WHERE request_id = ?", (request_id,))
            self._scrub_decisions(db, request_id, flag_too=True)
            db.execute("DELETE FROM maintenance")
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


def _os_reason(exc: OSError) -> str:
    import errno

    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "disco cheio; libere espaço"
    if exc.errno == errno.EROFS:
        return "sistema de arquivos somente leitura"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "pasta somente leitura ou sem permissão de escrita"
    return exc.strerror or str(exc)


def open_store(folder: str | Path) -> CaseStore:
    """The case store of a data folder (created on first use)."""
    return CaseStore(Path(folder) / schema.STORE)


__all__ = ["SENT_CHANNELS", "CaseStore", "Decision", "DecisionConflict", "DecisionDraft",
           "MessageSent", "open_store"]
