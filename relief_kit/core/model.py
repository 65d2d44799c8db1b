"""Plain domain values shared by the functional core.

Everything here is immutable data: the recommendation, the money comparison and the
regulatory dates are pure functions over these values (see ``recommend.py``,
``money.py``, ``regulatory.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol


class Action(StrEnum):
    """What the recommendation (or the analyst) proposes."""

    DISCOUNT = "discount"  # discount for payment within the month
    POSTPONEMENT = "postponement"  # the bill moves to a new due date
    INSTALMENTS = "instalments"  # the open debt split into instalments
    REFUSAL = "refusal"  # no relief; said privately and respectfully
    ASK_INFO = "ask_info"  # ask for more information (in writing)


@dataclass(frozen=True)
class Customer:
    customer_id: str
    name: str
    document: str
    person_type: str  # "PF" | "PJ"
    monthly_fee: Decimal
    customer_since: date
    phone: str = ""
    email: str = ""
    neighbourhood: str = ""
    city: str = ""
    plan: str = ""
    business_kind: str = ""
    contract_status: str = ""


@dataclass(frozen=True)
class ReliefRequest:
    request_id: str
    customer_id: str
    received_at: datetime
    channel: str  # schema.CHANNELS
    asked: str  # schema.ASKS
    evidence_file: str = ""
    small_business: bool | None = None
    at_risk: bool | None = None
    at_risk_category: str = ""
    at_risk_consent: bool | None = None
    proposed_date: date | None = None
    proposed_amount: Decimal | None = None
    hardship: str = ""  # schema.HARDSHIPS; "" when the intake did not ask
    hardship_since: date | None = None
    capacity_monthly: Decimal | None = None  # what the customer says they can pay a month

    @property
    def documented(self) -> bool:
        return bool(self.evidence_file)


@dataclass(frozen=True)
class Checklist:
    """The analyst's answers to the practice's checklist.

    ``None`` means "not answered yet". ``extra`` holds the answers to the items the
    team added in the criteria file, keyed by the item's ``key``.
    """

    documented: bool | None = None  # the request was explained in writing
    channel: str = ""
    small_business: bool | None = None  # a small business that depends on the connection
    at_risk: bool | None = None  # a resident at risk (volunteered)
    at_risk_category: str = ""  # schema.AT_RISK_CATEGORIES; never a diagnosis
    at_risk_consent: bool = False  # volunteered and agreed to its use
    asked: str = "not_said"  # schema.ASKS
    proposed_date: date | None = None  # the date the customer proposes to pay by
    proposed_amount: Decimal | None = None
    notes: str = ""
    extra: Mapping[str, bool | None] = field(default_factory=dict)
    #: What happened (schema.HARDSHIPS: a coarse category, never a free-text diagnosis);
    #: "" not asked yet, "none" the customer states no difficulty.
    hardship: str = ""
    hardship_since: date | None = None
    #: What the customer says they can pay per month (None: not said).
    capacity_monthly: Decimal | None = None

    @classmethod
    def from_request(cls, request: ReliefRequest) -> Checklist:
        """The intake answers known when the request arrived."""
        return cls(
            documented=request.documented,
            channel=request.channel,
            small_business=request.small_business,
            at_risk=request.at_risk,
            at_risk_category=request.at_risk_category,
            at_risk_consent=bool(request.at_risk_consent),
            asked=request.asked,
            proposed_date=request.proposed_date,
            proposed_amount=request.proposed_amount,
            hardship=request.hardship,
            hardship_since=request.hardship_since,
            capacity_monthly=request.capacity_monthly,
        )

    @property
    def hardship_stated(self) -> bool:
        """The customer said what happened, and it is a difficulty."""
        return self.hardship not in ("", "none")


@dataclass(frozen=True)
class HistoryFeatures:
    """One customer's payment history, as computed by ``history.features``."""

    customer_id: str
    bills: int = 0  # bills due so far (cancelled and renegotiated excluded)
    on_time_share: float | None = None  # None when there is no bill due yet
    mean_days_late: float = 0.0
    worst_days_late: int = 0
    months_as_customer: int = 0
    open_debt: Decimal = Decimal("0.00")
    open_bills: int = 0
    open_months: float = 0.0  # open debt / monthly fee
    recent_on_time_share: float | None = None  # last N months (criteria)
    earlier_on_time_share: float | None = None
    trend: float | None = None  # recent minus earlier on-time share
    longest_on_time_run: int = 0
    earlier_reliefs: int = 0  # bills that came from a relief arrangement
    reliefs_broken: int = 0  # of those, not paid by their due date
    punctuality_band: str = "new"  # "good" | "fair" | "poor" | "new"
    bills_past_window: int = 0  # bills due more than calibration.window_days ago
    paid_within_window_share: float | None = None  # of those, paid within the window
    #: Of the bills past the window, those due in the last ``punctuality.recent_months``
    #: before it, and of them the ones paid within the window.
    recent_past_window: int = 0
    recent_paid_within_window: int = 0
    #: Of the bills past the window, those late (not paid by due + grace), and of them the
    #: ones paid within the window after all.
    late_past_window: int = 0
    late_paid_within_window: int = 0
    #: Days from due date to payment of the latest bill past the window (days since its
    #: due date while unpaid; of two due that day, the longer); None without such a bill.
    last_days_to_pay: int | None = None

    @property
    def earlier_relief_kept(self) -> bool | None:
        if self.earlier_reliefs == 0:
            return None
        return self.reliefs_broken == 0


@dataclass(frozen=True)
class Bill:
    """A bill an option changes: an open bill (its open amount), or the next bill when
    nothing is open (``upcoming``), with its own due date."""

    invoice_id: str  # "" for a next bill not issued yet
    due_date: date
    amount: Decimal
    upcoming: bool = False


@dataclass(frozen=True)
class Instalment:
    number: int
    due_date: date
    amount: Decimal


@dataclass(frozen=True)
class Terms:
    """The terms of an option; which fields apply depends on the action."""

    amount: Decimal = Decimal("0.00")  # the debt the option concerns
    discount_percent: Decimal | None = None
    pay_by: date | None = None  # discount: pay by this date
    new_due_date: date | None = None  # postponement
    instalments: tuple[Instalment, ...] = ()
    bills: tuple[Bill, ...] = ()  # the bills the option changes
    #: Discount: what the customer pays, computed once by ``terms.amount_to_pay``.
    to_pay: Decimal | None = None


@dataclass(frozen=True)
class Reason:
    """A reason code, the criterion (criteria-file key) behind it and the plain values it
    used (credit scoring's "reason codes").

    The core says *what* and with which numbers; the text layer
    (:mod:`relief_kit.text.reasons`, ``templates/text/reasons.pt_BR.toml``) says it in
    Portuguese. ``params`` hold plain values only: Decimal, float, int, date, str, and
    lists of them.
    """

    code: str
    criterion: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Change:
    """An answer change that would change the recommendation (LGPD art. 20): what changes
    (one or two codes with their parameters), the action it would then be and its terms."""

    what: tuple[Reason, ...]
    action: Action
    terms: Terms


@dataclass(frozen=True)
class Event:
    """One branch of an option's event tree: what can follow, how likely, what it brings.

    ``cash`` is received on ``when`` (None: nothing received); ``lost_margin`` is the
    customer's future margin lost when the branch ends with the customer leaving.
    """

    code: str  # paid_as_agreed, paid_on_new_date, instalment_paid, paid_within_window...
    probability: float
    cash: Decimal
    when: date | None
    present_value: Decimal
    lost_margin: Decimal = Decimal("0.00")
    #: The code's values: ``number`` (an instalment), ``days`` (the window), ``after``
    #: (what was not paid before the ordinary way: discount, postponement, instalment).
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OptionValue:
    """One row of the money comparison."""

    action: Action
    terms: Terms
    probability: float  # probability the customer pays as agreed
    expected: Decimal  # expected cash received, all branches
    present_value: Decimal  # net: cash at the region's cost of money minus lost margin
    months_to_payment: float
    allowed: bool = True  # within the criteria and the practice's rules
    note: Reason | None = None  # why not allowed, or what was adjusted (a code)
    events: tuple[Event, ...] = ()
    exceeds_capacity: bool = False  # asks more a month than the customer said they can pay
    monthly_payment: Decimal | None = None  # the most asked in any one month
    factors: tuple[Reason, ...] = ()  # reason codes of the probability (the facts that moved it)


@dataclass(frozen=True)
class Recommendation:
    action: Action
    terms: Terms
    reasons: tuple[Reason, ...]
    options: tuple[OptionValue, ...]
    criteria_version: str
    criteria_hash: str
    score: float = 0.0
    missing: tuple[str, ...] = ()  # checklist items still unanswered
    needs_second_analyst: bool = False  # a refusal a second analyst must confirm
    #: For a refusal or a request for information: the smallest change in the answers
    #: that would change the recommendation (LGPD art. 20).
    what_would_change: tuple[Change, ...] = ()
    model_note: Reason | None = None  # how the chances were estimated (model or priors)


class PaymentProbabilities(Protocol):
    """Chance that a customer pays as agreed (``payment_model.PaymentModel``, or the
    band calibration of ``calibration.py``).

    A richer estimator may also offer ``estimate(features, action, number, depth, upcoming)``
    returning ``(probability, factors)``; ``money`` uses it when present.
    """

    def probability(self, band: str, action: Action) -> float:
        """For a punctuality band ("good", "fair", "poor", "new") and an option."""
        ...
