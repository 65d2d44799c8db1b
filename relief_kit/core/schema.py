"""The canonical data folder: the one place that knows its files, columns and types.

A data folder holds ``customers.csv``, ``invoices.csv``, ``requests.csv`` and an
``evidence/`` folder with the written requests. Importers write this form; every
other part of the kit reads it through :mod:`relief_kit.sources.tables`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


class Kind(StrEnum):
    """How a column's text is interpreted."""

    TEXT = "text"
    ID = "id"  # an identifier kept as text ("00123" stays "00123")
    MONEY = "money"  # Decimal-compatible amount: "1.149,90", "1149.90", "89,90"
    DATE = "date"  # dd/mm/aaaa or ISO yyyy-mm-dd
    DATETIME = "datetime"  # dd/mm/aaaa hh:mm[:ss] or ISO
    INT = "int"
    BOOL = "bool"  # sim/não, yes/no, s/n, true/false, 1/0; empty = unknown
    CHOICE = "choice"  # one of Column.choices


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool = True
    choices: tuple[str, ...] = ()
    doc: str = ""


PERSON_TYPES = ("PF", "PJ")
CHANNELS = ("whatsapp", "email", "phone", "in_person")
#: What the customer asked for.
ASKS = ("discount", "new_date", "instalments", "not_said")
#: Invoice status in canonical form.
INVOICE_STATUSES = ("open", "paid", "partial", "cancelled", "renegotiated")
#: Bills that are no longer owed (cancelled, or replaced by a renegotiation): they are
#: not debt, do not count for punctuality and do not show the price of the plan.
NOT_BILLED = ("cancelled", "renegotiated")
#: Bills still owed, in whole or in part (open, or partly paid).
OWED = ("open", "partial")
#: Relief arrangements a bill may come from (empty: an ordinary monthly bill).
ARRANGEMENTS = ("", "discount", "postponement", "instalment")
#: Coarse categories of an at-risk household (LGPD: never a diagnosis).
AT_RISK_CATEGORIES = ("idoso", "doenca_cronica", "deficiencia", "outro")
#: The checklist fields that are sensitive (LGPD art. 11: health of the household; the
#: hardship, which may be an illness) or free text, each with the blank it takes when
#: purged after retention or erased. The store's SQL and the archive's scrubbing are both
#: built from this one list.
SENSITIVE_CHECKLIST = MappingProxyType(
    {"at_risk_category": "", "at_risk_consent": False, "notes": "", "hardship": ""})
#: The intake columns of ``requests.csv`` about the household, with their blanks: the
#: decision's own checklist keeps the at-risk flag (it explains a softened term or a
#: second analyst) until an erasure.
SENSITIVE_REQUEST = MappingProxyType(
    {"at_risk": None, "at_risk_category": "", "at_risk_consent": None, "hardship": ""})
#: What happened to the customer, coarse (never a free-text diagnosis); "none": the
#: customer states no difficulty.
HARDSHIPS = ("job_loss", "income_drop", "illness", "business_down", "other", "none")
#: Small-business kinds the sample generator and the checklist know.
BUSINESS_KINDS = ("padaria", "salao", "oficina", "loja", "mercearia", "escritorio", "outro")
#: Contract/connection status, when the ERP tells it.
CONTRACT_STATUSES = (
    "", "active", "blocked_manual", "blocked_auto", "blocked_financial", "disabled",
)

CUSTOMERS = "customers.csv"
INVOICES = "invoices.csv"
REQUESTS = "requests.csv"
EVIDENCE_DIR = "evidence"
STORE = "cases.sqlite"
#: Optional ``export.toml`` in a data folder: ``as_of = 2026-11-20`` (the date the data
#: was exported: history features and regulatory dates are computed as of that day
#: unless a command is given ``--today``) and ``source = "sample" | "ixc" | ...``.
FOLDER_INFO = "export.toml"

CUSTOMER_COLUMNS: tuple[Column, ...] = (
    Column("customer_id", Kind.ID, doc="Identifier in the provider's system"),
    Column("name", Kind.TEXT, doc="Name or company name (razão social)"),
    Column("document", Kind.TEXT, doc="CPF (PF) or CNPJ (PJ), formatted or bare"),
    Column("person_type", Kind.CHOICE, choices=PERSON_TYPES, doc="PF individual, PJ company"),
    Column("phone", Kind.TEXT, required=False, doc="Best phone, preferably the WhatsApp one"),
    Column("email", Kind.TEXT, required=False),
    Column("neighbourhood", Kind.TEXT, required=False, doc="Bairro"),
    Column("city", Kind.TEXT, required=False),
    Column("plan", Kind.TEXT, required=False, doc="Plan name"),
    Column("monthly_fee", Kind.MONEY, doc="Mensalidade"),
    Column("customer_since", Kind.DATE, doc="Contract start"),
    Column("business_kind", Kind.CHOICE, required=False, choices=("",) + BUSINESS_KINDS,
           doc="For a small business: what it is"),
    Column("contract_status", Kind.CHOICE, required=False, choices=CONTRACT_STATUSES,
           doc="Connection status in the ERP, when known"),
)

INVOICE_COLUMNS: tuple[Column, ...] = (
    Column("invoice_id", Kind.ID),
    Column("customer_id", Kind.ID),
    Column("issued_on", Kind.DATE, required=False, doc="Issue date"),
    Column("due_date", Kind.DATE),
    Column("amount", Kind.MONEY),
    Column("paid_on", Kind.DATE, required=False, doc="Empty while unpaid"),
    Column("amount_paid", Kind.MONEY, required=False),
    Column("status", Kind.CHOICE, choices=INVOICE_STATUSES),
    Column("notified_on", Kind.DATE, required=False,
           doc="Date the overdue-debt notice was sent (Anatel RGC art. 71)"),
    Column("arrangement", Kind.CHOICE, required=False, choices=ARRANGEMENTS,
           doc="Relief arrangement this bill comes from, if any"),
    Column("fine", Kind.MONEY, required=False,
           doc="Late fine (multa) charged on this bill, when the ERP tells it"),
)

REQUEST_COLUMNS: tuple[Column, ...] = (
    Column("request_id", Kind.ID),
    Column("customer_id", Kind.ID),
    Column("received_at", Kind.DATETIME),
    Column("channel", Kind.CHOICE, choices=CHANNELS),
    Column("asked", Kind.CHOICE, choices=ASKS),
    Column("evidence_file", Kind.TEXT, required=False,
           doc="Path of the written request under evidence/ (empty: not documented)"),
    Column("small_business", Kind.BOOL, required=False,
           doc="Intake answer: a small business that depends on the connection"),
    Column("at_risk", Kind.BOOL, required=False,
           doc="Intake answer: a resident at risk (volunteered by the customer)"),
    Column("at_risk_category", Kind.CHOICE, required=False, choices=("",) + AT_RISK_CATEGORIES),
    Column("at_risk_consent", Kind.BOOL, required=False,
           doc="The customer volunteered the at-risk fact and agreed to its use"),
    Column("proposed_date", Kind.DATE, required=False, doc="Customer's proposed payment date"),
    Column("proposed_amount", Kind.MONEY, required=False),
    Column("hardship", Kind.CHOICE, required=False, choices=("",) + HARDSHIPS,
           doc="Intake: what happened (coarse category; empty: not asked yet)"),
    Column("hardship_since", Kind.DATE, required=False, doc="Intake: since when"),
    Column("capacity_monthly", Kind.MONEY, required=False,
           doc="Intake: what the customer says they can pay per month"),
)

TABLES: dict[str, tuple[Column, ...]] = {
    CUSTOMERS: CUSTOMER_COLUMNS,
    INVOICES: INVOICE_COLUMNS,
    REQUESTS: REQUEST_COLUMNS,
}

ID_COLUMN = {CUSTOMERS: "customer_id", INVOICES: "invoice_id", REQUESTS: "request_id"}


def column_names(table: str) -> list[str]:
    """The canonical column order of a table."""
    return [c.name for c in TABLES[table]]


def required_columns(table: str) -> list[str]:
    return [c.name for c in TABLES[table] if c.required]
