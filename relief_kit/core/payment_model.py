"""The chance that a customer pays as agreed, for a customer and an option — with its
skill proven out of time.

Choice of method
----------------
A scorecard: each point-in-time fact cut into at most ``model.bins`` bins of equal
count (quantiles of the fitting bills; a yes/no fact is its own two bins), and an L2
logistic regression from scikit-learn on the bins. Not a plain logistic regression, not
a boosted model:

- the facts do not act in straight lines (a customer with no late bill and one with
  many are both more predictable than one with a few), and bins let each part of a fact
  carry its own points, at one coefficient per bin — a few dozen in all, what a regional
  provider's few thousand comparable bills support;
- the penalty is not a constant someone picked: the strengths of
  ``model.regularisation`` are tried in a time-ordered validation *inside* the
  fitting bills (``TimeSeriesSplit``, ``model.validation_folds`` folds: each fitted on
  earlier bills and scored by Brier score on the next ones; what
  ``LogisticRegressionCV`` does), so the model is only as detailed as holds up over
  time; on a noisy portfolio it leans toward the base rate. The C is chosen once, on
  the bills before the out-of-time cut-off, and the model used is that validated one
  refitted on every known bill with the same C. Newton steps on one BLAS thread, each
  fit on the distinct rows of bins and outcome weighted by their counts, keep the 34
  fits near half a second at 100,000 customers;
- its output is a probability fitted by log loss, so it is calibrated on the data it
  was fitted on; a second calibration step (Platt or isotonic) would spend the few bills
  a small provider has on a correction a logistic model rarely needs. Its calibration is
  *checked* where it matters, out of time, by a reliability table beside the base rate's;
- each bin's points read as "this fact, at this value, moves the chance up or down
  against the average bill", which gives the reason codes without another method.

What the facts can and cannot see (measured on the synthetic seeds, ``python -m
relief_kit.tools.bench --only model``): a late bill's outcome depends mostly on whether
the customer has just been hit by a shock; the first late bill of a shock looks like
any punctual customer's occasional late bill, and on seed 11 about 7 % of the scored
bills are exactly that (a wave of shocks in the last three months, paid within the
month 25 % of the time against 78 % for their look-alikes in the fitting period). No
point-in-time fact of the customer can see it coming; the facts of the recent bills
(paid within the month or not, how long the last one took, how the customer's late
bills ended) see it from the second bill on. That is why seed 11 is where the model's
lead over the base rate is thinnest (0.0005 of Brier score, against 0.004–0.005 on the
other six seeds the bench prints).

What is predicted
-----------------
The comparable bills, each with the facts known on its due date (nothing later leaks
in: the earlier bills whose verdict was known by then, due + grace days before it):

- *agreement bills* (discount, postponement, instalment): kept = paid by their agreed
  due date plus ``punctuality.grace_days``;
- *ordinary bills unpaid at the end of their grace period* (a customer in trouble
  without an agreement — what a refusal leaves): paid within
  ``calibration.window_days`` of the due date.

Facts: the share of earlier bills paid within the window (shrunk, with the history's
length), the recent on-time share (``punctuality.recent_months``), bills already open at
its due date, earlier agreements kept or broken, the kind of bill (ordinary, discount,
postponement of a debt, due-date change of a bill not yet due, instalment), the
instalment's number in its plan, the depth of the debt in monthly fees; and, among the
earlier bills whose window had ended by its due date: the recent ones paid within it
and not, whether the latest was and how long it took (as far as known on that due date),
and the share of the customer's late bills paid within the window after all. (The plain
on-time share is left out: beside the share paid within the window it only made the
coefficients, and so the reason codes, contradict each other.)

Validation
----------
Out of time: the scorecard (bins, penalty and points) fitted on the bills whose outcome
was known before a cut-off
(``model.validation_months`` before the as-of date), scored on the bills due after it.
Brier score, log loss and a reliability table, each beside the base rate (the training
bills' paid share, a constant). The model is used only when it has enough history
(``model.min_bills`` comparable bills, ``model.min_events`` of each outcome) *and*
beats the base rate out of time on both scores; otherwise the band calibration of
:mod:`relief_kit.core.calibration` (shrunk priors) is used, and every table says so.

The same fit also estimates, from the portfolio, what follows a broken agreement
(the share of unpaid bills paid late, before termination, and how late) and how long
a customer stays (from the portfolio's own cancellations): the money comparison's
event trees use them. Each comes with its source (estimated, or the criteria's prior).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import date
from functools import cached_property

import numpy as np
import pandas as pd

from relief_kit.core.calibration import Calibration, calibrate_bills
from relief_kit.core.criteria import Criteria
from relief_kit.core.history import (
    CustomerOrder,
    customer_order,
    judged_bills,
    judged_in_order,
)
from relief_kit.core.model import Action, HistoryFeatures, Reason

#: Bump when the method changes: cached models of another method are computed again.
METHOD = "model-4"
KINDS = ("ordinary", "discount", "postponement", "instalment")
_ACTION_KIND = {Action.DISCOUNT: "discount", Action.POSTPONEMENT: "postponement",
                Action.INSTALMENTS: "instalment", Action.REFUSAL: "ordinary",
                Action.ASK_INFO: "ordinary"}
#: The facts, in the model's column order (their names for people: the catalogue's
#: ``[factor]`` section, :mod:`relief_kit.text.reasons`).
FACTS = ("month_share", "history_length", "recent_share", "open_before",
         "kept_before",
         "broken_before", "is_discount", "is_postponement", "is_date_change", "is_instalment",
         "instalment_number", "depth", "recent_month_share", "unpaid_recent",
         "last_in_window", "last_delay", "late_paid_share", "late_count")
#: Facts about the customer (the reason codes name these; the kind of option is not a
#: reason about the customer).
_CUSTOMER_FACTS = ("month_share", "history_length", "recent_share", "open_before",
                   "kept_before", "broken_before", "depth", "recent_month_share",
                   "unpaid_recent", "last_in_window", "last_delay", "late_paid_share",
                   "late_count")
_CUSTOMER_INDEX = tuple(i for i, name in enumerate(FACTS) if name in _CUSTOMER_FACTS)
_BINARY = ("kept_before", "broken_before", "is_discount", "is_postponement",
           "is_date_change", "is_instalment")
#: The longest delay a fact counts (days): beyond it a bill is simply "very late".
_DELAY_CAP = 120


# --------------------------------------------------------------------------- facts


def _day_numbers(values: pd.Series) -> np.ndarray:
    return values.to_numpy().astype("datetime64[D]").astype("int64")


def bill_facts(invoices: pd.DataFrame, customers: pd.DataFrame, criteria: Criteria,
               as_of: date, *, comparable_only: bool = False) -> pd.DataFrame:
    """Every counted bill with its point-in-time facts, kind, outcome and whether its
    outcome was known by ``as_of``; with ``comparable_only``, only the comparable bills
    (the rows of the full result whose ``comparable`` is true, with the same index: the
    model uses no other). Vectorised (sorting and cumulative sums)."""
    return _bill_facts(judged_bills(invoices, criteria, as_of), invoices, customers,
                       criteria, comparable_only)


def _bill_facts(bills: pd.DataFrame, invoices: pd.DataFrame, customers: pd.DataFrame,
                criteria: Criteria, comparable_only: bool,
                ordered: CustomerOrder | None = None) -> pd.DataFrame:
    """:func:`bill_facts` of :func:`~relief_kit.core.history.judged_bills` ``bills``
    (``ordered``: their :func:`~relief_kit.core.history.customer_order`, if computed).

    Every bill enters the customer's history (sorted by customer and due day, cumulative
    sums over it); the facts are computed only at the rows returned (``at``: their
    positions in that order), each a few binary searches and differences of sums."""
    grace = int(criteria["punctuality.grace_days"])
    window = int(criteria["calibration.window_days"])
    recent_days = int(criteria["punctuality.recent_months"]) * 30
    if bills.empty:
        return pd.DataFrame(columns=[*FACTS, "kind", "outcome", "comparable", "due_day",
                                     "known_day"])
    ordered = ordered or customer_order(bills)
    code, order, skey = ordered.code, ordered.order, ordered.key
    due = _day_numbers(bills["due_date"])
    base = due.min()
    judged_all = bills["judged"].to_numpy(bool)
    on_time_all = bills["on_time"].to_numpy(bool) & judged_all
    judged = judged_all[order]
    on_time = on_time_all[order]
    relief = bills["relief"].to_numpy(bool)[order]
    paid_flag = bills["paid"].to_numpy(bool)
    paid_on = bills["paid_on"].to_numpy("datetime64[ns]")
    paid_on_day = np.where(np.isnat(paid_on), due,  # unpaid: its due day
                           paid_on.astype("datetime64[D]").astype("int64"))
    del paid_on  # not read again: its memory serves the next array
    paid_days_unsorted = np.where(paid_flag, paid_on_day - due, 10**6)
    agreement_all = bills["relief"].to_numpy(bool)  # from an arrangement (judged_bills)
    ordinary_late_all = ~agreement_all & ~bills["on_time"].to_numpy(bool)
    comparable_all = agreement_all | ordinary_late_all
    rows = np.flatnonzero(comparable_all) if comparable_only else np.arange(len(bills))
    at = ordered.position[rows]  # each returned bill's place in (customer, due day) order
    own_key = skey[at]
    own_code = code[rows]
    ascending = np.argsort(at, kind="stable")  # distinct values; runs of file order
    back = np.empty_like(ascending)
    back[ascending] = np.arange(len(ascending))

    def search(sorted_keys: np.ndarray, keys: np.ndarray, side: str = "left") -> np.ndarray:
        """``np.searchsorted`` of the returned bills' ``keys`` (in their order), run in key
        order, where each search starts near the previous one (7 times faster at 100,000
        customers than in file order)."""
        return np.searchsorted(sorted_keys, keys[ascending], side=side)[back]

    # Where each customer's bills start in that order (number -1, a bill without a
    # customer, sorts first); a bill's first earlier bill is its customer's start.
    starts = np.searchsorted(skey, np.arange(-1, len(ordered.owners)) << 32)
    first = starts[own_code + 1]

    def since(days: int, floor: np.ndarray) -> np.ndarray:
        """First position of the customer's bills due at most ``days`` before."""
        return np.maximum(search(skey, own_key - days), floor)

    known = since(grace, first)
    recent_from = np.minimum(since(grace + recent_days, first), known)

    def prefix(flags: np.ndarray) -> np.ndarray:
        """Flags counted before each position (``cum[i]``: among the first i bills; 32-bit:
        half the memory to fault in, and no portfolio has 2**31 bills)."""
        cum = np.zeros(len(flags) + 1, dtype="int32")
        np.cumsum(flags, out=cum[1:])
        return cum

    def counts(cum: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        return cum[end] - cum[start]

    judged_sum, on_time_sum = prefix(judged), prefix(on_time)
    n_judged = counts(judged_sum, first, known)
    n_on_time = counts(on_time_sum, first, known)
    n_recent = counts(judged_sum, recent_from, known)
    n_recent_on = counts(on_time_sum, recent_from, known)
    # Paid within the window, among the earlier bills whose window had ended.
    in_window = (paid_days_unsorted <= window)[order]
    in_window_sum = prefix(in_window)
    known_month = since(window, first)
    n_month_known = known_month - first
    n_month_paid = counts(in_window_sum, first, known_month)
    # The bills whose window had ended by this due date: of the recent ones, how many
    # were paid within it; of the late ones, how many were paid within it after all; how
    # long the latest took (as seen on this due date: a later payment is not yet known).
    recent_month_from = np.minimum(since(window + recent_days, first), known_month)
    n_recent_month = known_month - recent_month_from
    k_recent_month = counts(in_window_sum, recent_month_from, known_month)
    late_flags = judged & ~on_time
    n_late = counts(prefix(late_flags), first, known_month)
    k_late = counts(prefix(late_flags & in_window), first, known_month)
    has_last = known_month > first
    last = np.maximum(known_month - 1, 0)
    last_bill = order[last]  # its row
    last_delay = np.minimum(np.maximum(paid_days_unsorted[last_bill], 0),
                            due[rows] - due[last_bill])
    kept_before = counts(prefix(judged & relief & on_time), first, known)
    broken_before = counts(prefix(judged & relief & ~on_time), first, known)
    # Bills of the same customer due before this one and not paid by its due date.
    # A payment before the portfolio's earliest due date counts from that day (every
    # due date is on or after it, so "paid by this due date" is unchanged); a negative
    # day would fall into the previous customer's keys and be missed.
    # Computed in place, in the array of ``paid_on_day`` (not read again): each step
    # over every bill would otherwise be another array.
    paid_key = paid_on_day
    paid_key -= base
    np.maximum(paid_key, 0, out=paid_key)
    paid_key[~paid_flag] = np.iinfo("int64").max >> 33
    np.minimum(paid_key, (1 << 31) - 1, out=paid_key)
    paid_key += code << 32
    # In customer order the payment keys are nearly sorted already: a stable sort (runs
    # merged) takes a few ms where the default takes a tenth of a second.
    paid_sorted = paid_key[order]
    paid_sorted.sort(kind="stable")
    earlier = search(skey, own_key) - first
    # Each customer has as many payment keys as due keys, so its block starts at
    # ``first`` in both orders.
    paid_by_due = search(paid_sorted, own_key, side="right") - first
    own_paid = (paid_key[rows] <= own_key).astype("int64")
    open_before = np.clip(earlier - (paid_by_due - own_paid), 0, None)

    facts = pd.DataFrame(index=rows if comparable_only else np.arange(len(bills)))
    facts["on_time_share"] = (n_on_time + 1.0) / (n_judged + 2.0)
    facts["month_share"] = (n_month_paid + 1.0) / (n_month_known + 2.0)
    facts["history_length"] = np.log1p(n_judged.astype(float))
    with np.errstate(invalid="ignore", divide="ignore"):
        recent = np.where(n_recent > 0, n_recent_on / np.maximum(n_recent, 1),
                          (n_on_time + 1.0) / (n_judged + 2.0))
    facts["recent_share"] = recent
    facts["open_before"] = np.minimum(open_before, 6).astype(float)
    facts["kept_before"] = (kept_before > 0).astype(float)
    facts["recent_month_share"] = (k_recent_month + 1.0) / (n_recent_month + 2.0)
    facts["unpaid_recent"] = (n_recent_month - k_recent_month).astype(float)
    facts["last_in_window"] = np.where(has_last, (paid_days_unsorted[last_bill] <= window)
                                       .astype(float), 0.5)
    facts["last_delay"] = np.where(has_last, np.minimum(last_delay, _DELAY_CAP), 0) / 30
    facts["late_paid_share"] = (k_late + 1.0) / (n_late + 2.0)
    facts["late_count"] = np.log1p(n_late.astype(float))
    facts["broken_before"] = (broken_before > 0).astype(float)

    # The kind of each returned bill: its arrangement, else "ordinary" (the arrangement
    # text taken and compared for the agreement rows only: a few percent of the bills).
    agreement = agreement_all[rows]
    agreed = np.flatnonzero(agreement)  # positions among the returned bills
    agreed_kind = bills["arrangement"].array.take(rows[agreement]).to_numpy(object)

    is_kind = {}
    for name in ("discount", "postponement", "instalment"):
        is_kind[name] = np.zeros(len(rows), dtype=bool)
        is_kind[name][agreed[agreed_kind == name]] = True
        facts[f"is_{name}"] = is_kind[name].astype(float)
    # A postponement of a bill not yet overdue (a due-date change: the ERP moved the bill)
    # is another product than postponing a debt: no earlier bill of the customer was
    # renegotiated into it (none due in the 120 days before it).
    facts["is_date_change"] = 0.0
    moved = agreed[agreed_kind == "postponement"]
    if len(moved):
        renegotiated = invoices[invoices["status"] == "renegotiated"][["customer_id",
                                                                       "due_date"]]
        pairs = pd.DataFrame({"at": moved,
                              "c": bills["customer_id"].array.take(rows[moved]),
                              "d": bills["due_date"].to_numpy()[rows[moved]]}).merge(
            renegotiated.rename(columns={"customer_id": "c", "due_date": "r"}), on="c",
            how="left")
        replaced = pairs["r"].notna() & (pairs["r"] < pairs["d"]) & (
            pairs["r"] >= pairs["d"] - pd.Timedelta(days=120))
        debt = replaced.groupby(pairs["at"]).any()
        change = debt.index.to_numpy()[~debt.to_numpy()]
        facts.iloc[change, facts.columns.get_loc("is_date_change")] = 1.0
        facts.iloc[change, facts.columns.get_loc("is_postponement")] = 0.0
    # Position in the plan and size of the agreement: bills of one agreement share the
    # customer, the kind and the issue date.
    position = ordered.rows_in(customers)[code[rows]]
    fees = np.r_[customers["monthly_fee"].to_numpy(float), np.nan]  # -1: not a customer
    fee = fees[position]
    fee = np.where(np.isfinite(fee) & (fee > 0), fee, np.nan)
    number = np.ones(len(rows))
    total = bills["amount"].to_numpy(float)[rows]
    if agreement.any():
        chosen = rows[agreement]
        issued = (bills["issued_on"] if "issued_on" in bills.columns else pd.Series(
            pd.NaT, index=bills.index)).iloc[chosen]
        group = pd.DataFrame({"c": bills["customer_id"].array.take(chosen),
                              "k": agreed_kind,
                              "i": issued.fillna(bills["due_date"].iloc[chosen]).to_numpy(),
                              "d": bills["due_date"].to_numpy()[chosen],
                              "a": total[agreement],
                              "at": np.flatnonzero(agreement)})
        sub = group.sort_values(["c", "k", "i", "d"], kind="stable")
        grouped = sub.groupby(["c", "k", "i"], sort=False)
        number[sub["at"].to_numpy()] = grouped.cumcount().to_numpy() + 1
        total[sub["at"].to_numpy()] = grouped["a"].transform("sum").to_numpy(float)
    facts["instalment_number"] = np.where(is_kind["instalment"], number - 1, 0.0)
    depth = np.where(agreement, total / fee, facts["open_before"].to_numpy() + 1.0)
    facts["depth"] = np.log(np.clip(np.nan_to_num(depth, nan=1.0), 0.2, 24.0))
    facts["kind"] = _kind_column(agreement, agreed_kind)

    paid = paid_flag[rows]
    paid_days = paid_days_unsorted[rows]
    horizon = np.where(agreement, grace, window)
    facts["outcome"] = (paid & (paid_days <= horizon)).astype(int)
    facts["comparable"] = comparable_all[rows]
    facts["due_day"] = due[rows]
    facts["known_day"] = due[rows] + horizon
    facts["paid_days"] = paid_days
    facts["customer_id"] = bills["customer_id"].array.take(rows)
    return facts


def _kind_column(agreement: np.ndarray, agreed_kind: np.ndarray
                 ) -> pd.api.extensions.ExtensionArray:
    """The ``kind`` text column: ``agreed_kind`` where ``agreement``,
    "ordinary" elsewhere. Built as Arrow indices into the few distinct kinds, not as
    one Python string per bill (a fifth of the time at 100,000 customers)."""
    import pyarrow as pa

    names, number = np.unique(agreed_kind.astype(str), return_inverse=True)
    indices = np.zeros(len(agreement), dtype=np.int32)
    indices[agreement] = number.reshape(-1) + 1
    encoded = pa.DictionaryArray.from_arrays(
        indices, pa.array(["ordinary", *names.tolist()], pa.large_string()))
    values = encoded.cast(pa.large_string())
    text = pd.Series(["ordinary"]).dtype  # what pandas gives text: str from pandas 3
    if text == np.dtype(object):  # pandas 2: Python strings
        return pd.array(values.to_numpy(zero_copy_only=False), dtype=object)
    return pd.array(values, dtype=text)


#: The facts that say which option is priced (the rest are about the customer and the
#: debt): the only ones that differ between one case's estimates.
_OPTION_FACTS = ("is_discount", "is_postponement", "is_date_change", "is_instalment",
                 "instalment_number")
_OPTION_INDEX = tuple(FACTS.index(name) for name in _OPTION_FACTS)


def option_facts(action: Action, number: int = 1, upcoming: bool = False
                 ) -> tuple[float, ...]:
    """The option's part of :func:`case_facts`: the values of :data:`_OPTION_FACTS` (in
    that order) for ``action`` (``number``: the instalment's position in its plan;
    ``upcoming``: a postponement of bills not due yet is a due-date change)."""
    kind = _ACTION_KIND[Action(action)]
    return (float(kind == "discount"), float(kind == "postponement" and not upcoming),
            float(kind == "postponement" and upcoming), float(kind == "instalment"),
            float(number - 1) if kind == "instalment" else 0.0)


def customer_facts(features: HistoryFeatures, depth: float = 1.0, window_days: int = 30
                   ) -> dict[str, float]:
    """The customer's part of :func:`case_facts` (every fact but :data:`_OPTION_FACTS`),
    by name: the same for every option priced for one debt (``depth``: in monthly
    fees; ``window_days``: ``calibration.window_days``)."""
    judged = max(features.bills, 0)
    share = features.on_time_share
    on_time = (share or 0.0) * judged
    shrunk = (on_time + 1.0) / (judged + 2.0)
    recent = features.recent_on_time_share
    kept = features.earlier_reliefs > 0 and features.reliefs_broken == 0
    month = features.paid_within_window_share
    known_month = features.bills_past_window
    month_paid = (month or 0.0) * known_month
    return {
        "month_share": (month_paid + 1.0) / (known_month + 2.0),
        "history_length": math.log1p(judged),
        "recent_share": shrunk if recent is None else recent,
        "open_before": float(min(features.open_bills, 6)),
        "kept_before": float(kept),
        "broken_before": float(features.reliefs_broken > 0),
        "depth": math.log(min(max(depth, 0.2), 24.0)),
        "recent_month_share": (features.recent_paid_within_window + 1.0)
        / (features.recent_past_window + 2.0),
        "unpaid_recent": float(features.recent_past_window
                               - features.recent_paid_within_window),
        "last_in_window": 0.5 if features.last_days_to_pay is None else float(
            features.last_days_to_pay <= window_days),
        "last_delay": 0.0 if features.last_days_to_pay is None else min(
            features.last_days_to_pay, _DELAY_CAP) / 30,
        "late_paid_share": (features.late_paid_within_window + 1.0)
        / (features.late_past_window + 2.0),
        "late_count": math.log1p(features.late_past_window),
    }


def case_facts(features: HistoryFeatures, action: Action, number: int = 1,
               depth: float = 1.0, upcoming: bool = False, window_days: int = 30
               ) -> np.ndarray:
    """The model's facts (shape ``(len(FACTS),)``, in :data:`FACTS` order) for a customer
    today and an option (``number``: the instalment's position in its plan; ``depth``:
    the debt in monthly fees; ``upcoming``: the bills concerned are not due yet, so a
    postponement is a due-date change; ``window_days``: ``calibration.window_days``):
    :func:`customer_facts` and :func:`option_facts` together."""
    values = {**customer_facts(features, depth, window_days),
              **dict(zip(_OPTION_FACTS, option_facts(action, number, upcoming),
                         strict=True))}
    return np.array([values[name] for name in FACTS], dtype=float)


# --------------------------------------------------------------------------- scores


def brier(p: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((p - y) ** 2)) if len(y) else float("nan")


def log_loss(p: np.ndarray, y: np.ndarray) -> float:
    if not len(y):
        return float("nan")
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def reliability(p: np.ndarray, y: np.ndarray, bins: int = 5) -> list[dict]:
    """Predicted against observed in ``bins`` groups of equal count (by predicted)."""
    if not len(y):
        return []
    order = np.argsort(p, kind="stable")
    rows = []
    for part in np.array_split(order, min(bins, len(order))):
        if len(part):
            rows.append({"bills": int(len(part)), "predicted": float(p[part].mean()),
                         "observed": float(y[part].mean())})
    return rows


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class Skill:
    """Out-of-time scores of the model and of the base rate."""

    cutoff: date | None
    train_bills: int
    test_bills: int
    base_rate: float
    brier_model: float
    brier_base: float
    log_loss_model: float
    log_loss_base: float
    reliability: tuple = ()  # dicts: bills, predicted, observed

    @property
    def beats_base(self) -> bool:
        return (self.test_bills > 0 and self.brier_model < self.brier_base
                and self.log_loss_model < self.log_loss_base)


@dataclass(frozen=True)
class Recovery:
    """What follows a broken agreement, and how long a customer stays: each value with
    where it came from, as a code the text layer renders (``[source]`` of the reasons
    catalogue: estimated from N bills or cancellations, or the criteria's prior)."""

    late_share: float  # of bills unpaid past the window, the share paid before termination
    late_days: float  # how many days after the due date those are paid (median)
    remaining_months: float  # expected months a paying customer stays
    late_source: Reason | None = None
    remaining_source: Reason | None = None


@dataclass(frozen=True)
class ScorecardFit:
    """What :func:`fit_payment_model` decides besides the band calibration: the fields
    of :class:`PaymentModel` but ``calibration``, which :meth:`with_calibration` adds
    (the two are computed from the same bills independently, so a caller may compute
    them side by side).

    The scorecard: for each fact of :data:`FACTS`, the inner bin ``edges`` and the
    ``points`` (log-odds) of each bin; ``reference`` is the mean points of the fact over
    the bills it was fitted on (a reason code is a fact whose points stand far from it);
    ``regularisation`` is the C chosen by the time-ordered validation."""

    used: bool  # the scorecard is used (else the band calibration)
    note: Reason  # why (code and values; ``[model_note]`` of the catalogue)
    edges: tuple[tuple[float, ...], ...]
    points: tuple[tuple[float, ...], ...]
    reference: tuple[float, ...]
    intercept: float
    regularisation: float
    skill: Skill
    recovery: Recovery
    #: Instalment k >= 2 paid by its date given the earlier ones were:
    #: (k, plans that reached it, of those kept, rate used).
    continuation: tuple

    def with_calibration(self, calibration: Calibration) -> PaymentModel:
        """The payment model, falling back on ``calibration``."""
        return PaymentModel(**{f.name: getattr(self, f.name) for f in fields(ScorecardFit)},
                            calibration=calibration)


@dataclass(frozen=True)
class PaymentModel(ScorecardFit):
    """Implements ``model.PaymentProbabilities`` (``probability`` by band, from the
    fallback calibration) and ``estimate`` (per customer and option): the
    :class:`ScorecardFit` with the band ``calibration`` it falls back on."""

    calibration: Calibration = field(compare=False)

    def continuation_rate(self, number: int) -> tuple[float, Reason]:
        """The chance of paying instalment ``number`` (>= 2) given the earlier ones were,
        from the portfolio's plans, and where it came from."""
        rows = [row for row in self.continuation if row[0] <= number]
        if not rows:
            return self.calibration.probability("fair", Action.INSTALMENTS), Reason(
                "continuation_none")
        k, bills, kept, rate = rows[-1]
        return rate, Reason("continuation", "calibration.prior_strength", {
            "number": number, "kept": kept, "bills": bills, "k": k})

    # -- PaymentProbabilities
    def probability(self, band: str, action: Action) -> float:
        return self.calibration.probability(band, action)

    # -- the fallback calibration's views, for the tables that show it
    @property
    def ordinary(self):
        return self.calibration.ordinary

    @property
    def window_days(self) -> int:
        return self.calibration.window_days

    @property
    def min_bills(self) -> int:
        return self.calibration.min_bills

    def table(self) -> pd.DataFrame:
        """The fallback calibration's table (:meth:`Calibration.table`)."""
        return self.calibration.table()

    def reliability_rows(self) -> list[dict]:
        """Out of time, bills in groups of equal count by predicted chance: ``bills``,
        ``predicted``, ``observed``."""
        return [dict(row) for row in self.skill.reliability]

    def _contribution(self, i: int, value: float) -> float:
        """Fact ``i``'s points at ``value`` minus its reference (log-odds)."""
        # bisect_right over a fact's edges is np.searchsorted(side="right") without
        # turning the tuple into an array for each fact of every estimate
        # (the meeting asks about 50,000 of them).
        return self.points[i][bisect_right(self.edges[i], value)] - self.reference[i]

    @cached_property
    def _option_points_by_kind(self) -> dict:
        # Filled as options are priced: a handful of keys for a whole portfolio. (A
        # cached_property writes the instance's __dict__, which a frozen dataclass allows;
        # it is no field: equality, hashing and to_dict are unchanged.)
        return {}

    def _option_points(self, action: Action, number: int, upcoming: bool
                       ) -> tuple[float, ...]:
        """:meth:`_contribution` of each of :data:`_OPTION_FACTS` for an option: the same
        for every customer, so computed once per option kind."""
        key = (Action(action), number, upcoming)
        found = self._option_points_by_kind.get(key)
        if found is None:
            found = tuple(self._contribution(i, value) for i, value in zip(
                _OPTION_INDEX, option_facts(action, number, upcoming), strict=True))
            self._option_points_by_kind[key] = found
        return found

    def _log_odds(self, contributions: list[float]) -> tuple[float, np.ndarray]:
        array = np.array(contributions)
        return self.intercept + float(sum(self.reference)) + float(array.sum()), array

    def log_odds(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """The scorecard's log-odds for facts ``x`` (shape ``(len(FACTS),)``) and each
        fact's points minus its reference (the reason codes' contributions)."""
        return self._log_odds([self._contribution(i, value)
                               for i, value in enumerate(x.tolist())])

    def estimate(self, features: HistoryFeatures, action: Action, number: int = 1,
                 depth: float = 1.0, upcoming: bool = False) -> tuple[float, tuple[Reason, ...]]:
        """The chance the customer pays as agreed, and the facts that moved it most (at
        most three reason codes ``factor``: the fact and whether it raised or lowered the
        chance against the average bill the scorecard was fitted on).

        For instalment 2 onward: the chance given the earlier instalments were paid, from
        the portfolio's plans (a conditional rate; the tree multiplies them).
        :meth:`estimates` gives the same for several options of one debt."""
        return self.estimates(features, depth)(action, number, upcoming)

    def estimates(self, features: HistoryFeatures, depth: float = 1.0
                  ) -> Callable[..., tuple[float, tuple[Reason, ...]]]:
        """:meth:`estimate` for one customer and one debt (``depth``, in monthly fees),
        as a function of the option: ``(action, number=1, upcoming=False) -> (chance,
        factors)``. The customer's facts, their points and the factors (which name
        customer facts only) are computed once, at the first option that needs them;
        each option then adds only its own facts' points (the money comparison prices
        five options per case)."""
        shared: list = []

        def customer_part() -> tuple[list[float], tuple[Reason, ...]]:
            if not shared:
                values = customer_facts(features, depth, self.window_days)
                weights = [0.0] * len(FACTS)  # the option's facts: set per estimate
                for i in _CUSTOMER_INDEX:  # every fact but the option's
                    weights[i] = self._contribution(i, values[FACTS[i]])
                ranked = sorted((i for i in _CUSTOMER_INDEX if abs(weights[i]) >= 0.05),
                                key=lambda i: -abs(weights[i]))[:3]
                shared.append((weights, tuple(Reason("factor", "", {
                    "fact": FACTS[i], "direction": "up" if weights[i] > 0 else "down",
                    "weight": round(weights[i], 3)}) for i in ranked)))
            return shared[0]

        def estimate(action: Action, number: int = 1, upcoming: bool = False
                     ) -> tuple[float, tuple[Reason, ...]]:
            if Action(action) is Action.INSTALMENTS and number >= 2:
                rate, source = self.continuation_rate(number)
                return rate, (source,)
            if not self.used:
                p = self.calibration.probability(features.punctuality_band, action)
                return p, (Reason("band_rate", "", {"why": self.note.code,
                                                    **self.note.params}),)
            weights, factors = customer_part()
            weights = list(weights)
            for i, points in zip(_OPTION_INDEX, self._option_points(action, number, upcoming),
                                 strict=True):
                weights[i] = points
            z, _ = self._log_odds(weights)
            return 1.0 / (1.0 + math.exp(-z)), factors

        return estimate

    def skill_rows(self) -> list[dict]:
        """The out-of-time comparison, for the meeting and the review: one row for the
        model and one for the constant base rate (``estimator``, ``base_rate``, ``brier``,
        ``log_loss``); the text layer names them."""
        s = self.skill
        return [
            {"estimator": "model", "base_rate": s.base_rate, "brier": s.brier_model,
             "log_loss": s.log_loss_model},
            {"estimator": "base_rate", "base_rate": s.base_rate, "brier": s.brier_base,
             "log_loss": s.log_loss_base},
        ]

    def to_dict(self) -> dict:
        def reason(value: Reason | None) -> dict | None:
            return None if value is None else {"code": value.code,
                                               "criterion": value.criterion,
                                               "params": dict(value.params)}

        return {
            "method": METHOD, "used": self.used, "note": reason(self.note),
            "edges": [list(e) for e in self.edges], "points": [list(p) for p in self.points],
            "reference": list(self.reference), "intercept": self.intercept,
            "regularisation": self.regularisation,
            "skill": {**{k: getattr(self.skill, k) for k in (
                "train_bills", "test_bills", "base_rate", "brier_model", "brier_base",
                "log_loss_model", "log_loss_base")},
                "cutoff": self.skill.cutoff.isoformat() if self.skill.cutoff else None,
                "reliability": list(self.skill.reliability)},
            "recovery": {"late_share": self.recovery.late_share,
                         "late_days": self.recovery.late_days,
                         "remaining_months": self.recovery.remaining_months,
                         "late_source": reason(self.recovery.late_source),
                         "remaining_source": reason(self.recovery.remaining_source)},
            "calibration": self.calibration.to_dict(),
            "continuation": [list(row) for row in self.continuation],
        }

    @classmethod
    def from_dict(cls, data: dict) -> PaymentModel:
        """Inverse of :meth:`to_dict`; ValueError for a model of another method."""
        if data.get("method") != METHOD:
            raise ValueError(f"payment model method {data.get('method')!r}")

        def reason(value: dict | None) -> Reason | None:
            return None if value is None else Reason(value["code"], value["criterion"],
                                                     dict(value["params"]))

        s = dict(data["skill"])
        cutoff = s.pop("cutoff")
        reliability_rows = tuple(s.pop("reliability"))
        recovery = dict(data["recovery"])
        return cls(
            used=bool(data["used"]), note=reason(data["note"]),
            edges=tuple(tuple(e) for e in data["edges"]),
            points=tuple(tuple(p) for p in data["points"]),
            reference=tuple(data["reference"]), intercept=float(data["intercept"]),
            regularisation=float(data["regularisation"]),
            skill=Skill(date.fromisoformat(cutoff) if cutoff else None,
                        reliability=reliability_rows, **s),
            recovery=Recovery(recovery["late_share"], recovery["late_days"],
                              recovery["remaining_months"], reason(recovery["late_source"]),
                              reason(recovery["remaining_source"])),
            calibration=Calibration.from_dict(data["calibration"]),
            continuation=tuple(tuple(row) for row in data.get("continuation", [])),
        )


@dataclass(frozen=True)
class _Scorecard:
    edges: tuple[tuple[float, ...], ...]
    points: tuple[tuple[float, ...], ...]
    reference: tuple[float, ...]
    intercept: float
    regularisation: float

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Chances for facts ``x`` (shape ``(n, len(FACTS))``)."""
        z = np.full(len(x), self.intercept)
        for i, (edges, points) in enumerate(zip(self.edges, self.points, strict=True)):
            z += np.asarray(points)[np.searchsorted(np.asarray(edges), x[:, i], side="right")]
        return 1.0 / (1.0 + np.exp(-z))


def _bin_edges(column: np.ndarray, name: str, bins: int) -> tuple[float, ...]:
    """Inner edges of a fact's bins: quantiles of the training bills (equal counts,
    repeated values merged); a yes/no fact has one edge at 0.5."""
    if name in _BINARY:
        return (0.5,)
    inner = np.quantile(column, np.linspace(0, 1, bins + 1)[1:-1]) if len(column) else []
    return tuple(float(v) for v in np.unique(inner))


def _bins(x: np.ndarray, edges: tuple[tuple[float, ...], ...]) -> np.ndarray:
    """Each bill's bin of each fact (shape ``(n, len(FACTS))``, integers)."""
    return np.column_stack([np.searchsorted(np.asarray(inner), x[:, i], side="right")
                            for i, inner in enumerate(edges)])


def _encode(which: np.ndarray, edges: tuple[tuple[float, ...], ...]) -> np.ndarray:
    """One column per (fact, bin): 1 where the bill's fact falls in that bin (shape
    ``(n, sum of bins)``, the facts' blocks side by side in :data:`FACTS` order)."""
    sizes = np.array([len(inner) + 1 for inner in edges])
    offsets = np.r_[0, np.cumsum(sizes)[:-1]]
    z = np.zeros((len(which), int(sizes.sum())))
    z[np.arange(len(which))[:, None], offsets + which] = 1.0
    return z


def _patterns(which: np.ndarray, y: np.ndarray, edges: tuple[tuple[float, ...], ...]
              ) -> np.ndarray | None:
    """One integer per bill naming its bins and its outcome (shape ``(n,)``): equal for
    bills the regression cannot tell apart. None when the combinations overflow int64."""
    sizes = [len(inner) + 1 for inner in edges]
    if sum(math.log2(size) for size in sizes) > 61:
        return None
    code, scale = y.astype(np.int64), 2
    for i, size in enumerate(sizes):
        code += which[:, i].astype(np.int64) * scale
        scale *= size
    return code


def _distinct(rows: np.ndarray, patterns: np.ndarray | None
              ) -> tuple[np.ndarray, np.ndarray | None]:
    """(rows to fit on, their weights): one bill of each distinct pattern among ``rows``
    with the count of its equals, or every row unweighted when there are no patterns.
    The same loss (a sum over bills) on about a tenth of the rows (60,000 bills are
    6,000–8,000 patterns)."""
    if patterns is None:
        return rows, None
    _, first, counts = np.unique(patterns[rows], return_index=True, return_counts=True)
    return rows[first], counts


def _logistic(z: np.ndarray, y: np.ndarray, pick: np.ndarray, counts: np.ndarray | None,
              regularisation: float):
    """scikit-learn's L2 logistic regression of ``y`` on ``z`` over the rows ``pick``,
    weighted by ``counts`` (:func:`_distinct`)."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=regularisation, solver="newton-cholesky", max_iter=100)
    return model.fit(z[pick], y[pick], sample_weight=counts)


def _validated_c(z: np.ndarray, y: np.ndarray, patterns: np.ndarray | None,
                 criteria: Criteria) -> float:
    """The C of ``model.regularisation`` with the best Brier score summed over a
    time-ordered validation (``TimeSeriesSplit``, ``model.validation_folds`` folds: each
    fitted on the earlier bills, scored on the next ones); the first of equals. What
    ``LogisticRegressionCV(scoring="neg_brier_score")`` chooses, fitted on patterns."""
    from sklearn.model_selection import TimeSeriesSplit

    strengths = [float(c) for c in criteria["model.regularisation"]]
    scores = np.zeros(len(strengths))
    for train, test in TimeSeriesSplit(int(criteria["model.validation_folds"])).split(z):
        pick, counts = _distinct(train, patterns)  # once per fold, for every strength
        for k, strength in enumerate(strengths):
            p = _logistic(z, y, pick, counts, strength).predict_proba(z[test])[:, 1]
            scores[k] -= np.mean((p - y[test]) ** 2)
    return strengths[int(np.argmax(scores))]


def _fit(x: np.ndarray, y: np.ndarray, criteria: Criteria,
         regularisation: float | None = None) -> _Scorecard:
    """Fit the scorecard on bills in due-date order (``x``: shape ``(n, len(FACTS))``,
    ``y``: 1 = paid as agreed, shape ``(n,)``): bins from the quantiles, then an L2
    logistic regression on the bins. Its C is ``regularisation`` when given (the one
    already validated), else chosen among ``model.regularisation`` by a time-ordered
    validation inside these bills (:func:`_validated_c`).

    Newton steps (``newton-cholesky``) on a few dozen bin columns converge in a handful
    of iterations where L-BFGS takes dozens; the fits run on one BLAS thread (the
    matrices are small, and on a shared machine a multi-threaded BLAS spends most of its
    time waiting); and each fit sees every distinct row once with its count (measured at
    100,000 customers: 17 s of CPU for the selection with L-BFGS and the default
    threads, 1 s with Newton on one thread, 0.2 s on the patterns; the same C)."""
    from threadpoolctl import threadpool_limits

    bins = int(criteria["model.bins"])
    edges = tuple(_bin_edges(x[:, i], name, bins) for i, name in enumerate(FACTS))
    which = _bins(x, edges)
    z = _encode(which, edges)
    patterns = _patterns(which, y, edges)
    with threadpool_limits(limits=1, user_api="blas"):
        chosen = (_validated_c(z, y, patterns, criteria) if regularisation is None
                  else regularisation)
        model = _logistic(z, y, *_distinct(np.arange(len(y)), patterns), chosen)
    coef = model.coef_[0]
    points, reference, at = [], [], 0
    for inner in edges:
        own = coef[at:at + len(inner) + 1]
        at += len(inner) + 1
        points.append(tuple(float(v) for v in own))
        reference.append(float((z[:, at - len(own):at] @ own).mean()))
    return _Scorecard(edges, tuple(points), tuple(reference), float(model.intercept_[0]),
                      chosen)


def _sample(rows: np.ndarray, limit: int) -> np.ndarray:
    """At most ``limit`` rows, evenly spaced (deterministic), for large portfolios."""
    if len(rows) <= limit:
        return rows
    return rows[np.linspace(0, len(rows) - 1, limit).astype(int)]


def due_span(invoices: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Each customer's first and last due date over the canonical ``invoices`` not
    cancelled (two datetime Series, ``min`` and ``max``, indexed by customer id in id
    order; customers with none left out), from which :func:`fit_scorecard` estimates
    how long customers stay: what
    ``groupby("customer_id")["due_date"].agg(["min", "max"])`` gives, from one
    factorisation of the ids and two NumPy reductions (a third of the time at 100,000
    customers)."""
    owner, owners = pd.factorize(invoices["customer_id"], sort=True)
    due = invoices["due_date"].to_numpy("datetime64[ns]").view("int64")
    rows = (owner >= 0) & (due != np.iinfo("int64").min) & ~invoices["status"].isin(
        ("cancelled",)).to_numpy(bool)
    code, day = owner[rows], due[rows]
    first = np.full(len(owners), np.iinfo("int64").max)
    last = np.full(len(owners), np.iinfo("int64").min)
    np.minimum.at(first, code, day)
    np.maximum.at(last, code, day)
    present = np.bincount(code, minlength=len(owners)) > 0
    index = pd.Index(owners[present], name="customer_id")
    return (pd.Series(first[present].view("datetime64[ns]"), index=index, name="min"),
            pd.Series(last[present].view("datetime64[ns]"), index=index, name="max"))


def _recovery(facts: pd.DataFrame, customers: pd.DataFrame, invoices: pd.DataFrame,
              criteria: Criteria, as_of: date,
              spans: Callable[[], tuple[pd.Series, pd.Series]] | None = None) -> Recovery:
    window = int(criteria["calibration.window_days"])
    termination = int(criteria["money.termination_days"])
    as_of_day = int(np.datetime64(as_of, "D").astype("int64"))
    late = facts[(facts["kind"] == "ordinary") & facts["comparable"].astype(bool)
                 & (facts["paid_days"] > window)
                 & (facts["due_day"] + termination <= as_of_day)]
    minimum = int(criteria["model.min_events"])
    paid_late = late["paid_days"] <= termination
    if len(late) >= minimum:
        late_share = float(paid_late.mean())
        late_days = float(late.loc[paid_late, "paid_days"].median()) if paid_late.any() \
            else float(termination)
        late_source = Reason("late_estimated", "money.termination_days", {
            "bills": len(late), "window": window, "paid": int(paid_late.sum()),
            "termination": termination})
    else:
        late_share = float(criteria["money.late_payment_prior"])
        late_days = (window + termination) / 2
        late_source = Reason("late_prior", "money.late_payment_prior", {"bills": len(late)})
    # Cancellations: customers whose bills stopped (no bill due in the last 60 days) or
    # whose contract is disabled, over the customer-months of the last year.
    first_due, last_due = spans() if spans is not None else due_span(invoices)
    as_of_ts = pd.Timestamp(as_of)
    year_ago = as_of_ts - pd.DateOffset(months=12)
    left = (last_due < as_of_ts - pd.Timedelta(days=60)) & (last_due >= year_ago)
    if "contract_status" in customers.columns:
        disabled = customers.loc[customers["contract_status"].eq("disabled"), "customer_id"]
        left = left | last_due.index.isin(disabled)
    start = first_due.clip(lower=year_ago)
    end = last_due.where(left, as_of_ts)
    months = float(((end - start).dt.days.clip(lower=0) / 30.4).sum())
    leavers = int(left.sum())
    cap = float(criteria["money.max_remaining_months"])
    if leavers >= minimum and months > 0:
        remaining = min(months / leavers, cap)
        remaining_source = Reason("remaining_estimated", "money.max_remaining_months", {
            "leavers": leavers, "months": round(months)})
    else:
        remaining = min(1.0 / float(criteria["money.monthly_churn_prior"]), cap)
        remaining_source = Reason("remaining_prior", "money.monthly_churn_prior",
                                  {"leavers": leavers})
    return Recovery(late_share, late_days, remaining, late_source, remaining_source)


def continuation(facts: pd.DataFrame, criteria: Criteria, as_of: date) -> tuple:
    """Per instalment number k >= 2: among the plans whose instalment k-1 was paid by its
    date, how many paid instalment k by its date; shrunk toward the first instalment's
    rate with ``calibration.prior_strength`` pseudo-plans."""
    as_of_day = int(np.datetime64(as_of, "D").astype("int64"))
    plans = facts[(facts["kind"] == "instalment") & (facts["known_day"] <= as_of_day)]
    if plans.empty:
        return ()
    plans = plans.assign(k=plans["instalment_number"].astype(int) + 1).sort_values(
        ["customer_id", "due_day"], kind="stable")
    plans["previous"] = plans.groupby("customer_id")["outcome"].shift(1)
    first = plans[plans["k"] == 1]["outcome"]
    toward = float(first.mean()) if len(first) else 0.5
    prior = float(criteria["calibration.prior_strength"])
    rows = []
    for k, group in plans[(plans["k"] >= 2) & (plans["previous"] == 1)].groupby("k"):
        n, kept = len(group), int(group["outcome"].sum())
        rows.append((int(k), n, kept, (kept + prior * toward) / (n + prior)))
    return tuple(rows)


def fit_payment_model(invoices: pd.DataFrame, customers: pd.DataFrame, criteria: Criteria,
                      as_of: date, calibration: Calibration | None = None, *,
                      judged: pd.DataFrame | None = None,
                      ordered: CustomerOrder | None = None) -> PaymentModel:
    """Fit, validate out of time and decide whether to use the model (pure: same data,
    same result): :func:`fit_scorecard` with the band calibration it falls back on
    (``calibration``, else :func:`~relief_kit.core.calibration.calibrate_bills` of the
    same bills).

    ``invoices`` and ``customers`` are the canonical tables; the result's ``note`` says
    (as a code) why the scorecard is or is not used. Never raises for a small or empty
    portfolio: it falls back to the band calibration and says so. ``judged``:
    :func:`~relief_kit.core.history.judged_bills` of these invoices, criteria and date,
    when the caller has it (the replay, for the history features too); ``ordered``:
    their :func:`~relief_kit.core.history.customer_order`, likewise."""
    # One judgement and one sort of the bills for the bands and the facts.
    bills, ordered = judged_in_order(invoices, criteria, as_of, judged=judged,
                                     ordered=ordered)
    calibration = calibration or calibrate_bills(bills, criteria, as_of, ordered)
    return fit_scorecard(invoices, customers, criteria, as_of, judged=bills,
                         ordered=ordered).with_calibration(calibration)


def fit_scorecard(invoices: pd.DataFrame, customers: pd.DataFrame, criteria: Criteria,
                  as_of: date, *, judged: pd.DataFrame | None = None,
                  ordered: CustomerOrder | None = None,
                  spans: Callable[[], tuple[pd.Series, pd.Series]] | None = None
                  ) -> ScorecardFit:
    """The scorecard's fit, its validation out of time and the decision to use it, with
    what follows a broken agreement and how long customers stay
    (:func:`fit_payment_model` without the band calibration; the same arguments).

    ``spans``: a function returning :func:`due_span` of these invoices, when a caller
    computes it elsewhere (``shell.fitting``: beside the fits); it is called once, when
    the rest of the fit is done."""
    bills, ordered = judged_in_order(invoices, criteria, as_of, judged=judged,
                                     ordered=ordered)
    facts = _bill_facts(bills, invoices, customers, criteria, True, ordered)
    as_of_day = int(np.datetime64(as_of, "D").astype("int64"))
    empty = Skill(None, 0, 0, float("nan"), float("nan"), float("nan"), float("nan"),
                  float("nan"))
    n = len(FACTS)

    plans = continuation(facts, criteria, as_of) if len(facts) else ()

    def recovery() -> Recovery:
        if len(facts):
            return _recovery(facts, customers, invoices, criteria, as_of, spans)
        return Recovery(float(criteria["money.late_payment_prior"]), 45.0,
                        min(1 / float(criteria["money.monthly_churn_prior"]),
                            float(criteria["money.max_remaining_months"])),
                        Reason("late_prior", "money.late_payment_prior", {"bills": 0}),
                        Reason("remaining_prior", "money.monthly_churn_prior",
                               {"leavers": 0}))

    def fallback(note: Reason, skill: Skill = empty) -> ScorecardFit:
        return ScorecardFit(False, note, ((),) * n, ((0.0,),) * n, (0.0,) * n, 0.0, 0.0,
                            skill, recovery(), plans)

    if facts.empty:
        return fallback(Reason("no_bills"))
    # Only the numbers the fit reads (the text columns would be carried through every
    # filter and sort for nothing).
    usable = facts[[*FACTS, "outcome", "due_day", "known_day"]][
        facts["comparable"].to_numpy(bool) & (facts["known_day"].to_numpy() <= as_of_day)]
    usable = usable.sort_values("due_day", kind="stable")  # time order, for the validation
    minimum_bills, minimum_events = int(criteria["model.min_bills"]), int(
        criteria["model.min_events"])
    events = int(usable["outcome"].sum())
    if len(usable) < minimum_bills or min(events, len(usable) - events) < minimum_events:
        return fallback(Reason("short_history", "model.min_bills", {
            "bills": len(usable), "paid": events, "min_bills": minimum_bills,
            "min_events": minimum_events}))
    limit = int(criteria["model.max_rows"])
    cutoff_ts = pd.Timestamp(as_of) - pd.DateOffset(
        months=int(criteria["model.validation_months"]))
    cutoff_day = int(np.datetime64(cutoff_ts.date(), "D").astype("int64"))
    train = usable[usable["known_day"] <= cutoff_day]
    test = usable[usable["due_day"] >= cutoff_day]
    columns = list(FACTS)
    y_train = train["outcome"].to_numpy(float)
    both_outcomes = len(y_train) and y_train.min() < y_train.max()
    if len(train) < minimum_bills or len(test) < minimum_events or not both_outcomes:
        return fallback(Reason("short_validation", "model.validation_months", {
            "train": len(train), "test": len(test), "cutoff": cutoff_ts.date().isoformat()}))
    rows = _sample(np.arange(len(train)), limit)
    card = _fit(train[columns].to_numpy(float)[rows], y_train[rows], criteria)
    y_test = test["outcome"].to_numpy(float)
    p_test = card.predict(test[columns].to_numpy(float))
    base = float(y_train.mean())
    base_test = np.full(len(y_test), base)
    skill = Skill(cutoff_ts.date(), len(train), len(test), base,
                  brier(p_test, y_test), brier(base_test, y_test),
                  log_loss(p_test, y_test), log_loss(base_test, y_test),
                  tuple(reliability(p_test, y_test)))
    if not skill.beats_base:
        return fallback(Reason("lost_to_base", "", {
            "cutoff": skill.cutoff.isoformat(), "brier_model": skill.brier_model,
            "brier_base": skill.brier_base}), skill)
    # The scorecard used is the one validated, refitted on every known bill: the same
    # bins rule and the same C (choosing it again would cost a second validation).
    rows = _sample(np.arange(len(usable)), limit)
    card = _fit(usable[columns].to_numpy(float)[rows],
                usable["outcome"].to_numpy(float)[rows], criteria, card.regularisation)
    note = Reason("model_used", "", {
        "bills": len(usable), "cutoff": skill.cutoff.isoformat(), "brier_model": skill.brier_model,
        "brier_base": skill.brier_base, "regularisation": card.regularisation})
    return ScorecardFit(True, note, card.edges, card.points, card.reference, card.intercept,
                        card.regularisation, skill, recovery(), plans)
