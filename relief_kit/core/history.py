"""Payment-history features, computed for the whole portfolio at once.

Definitions (every threshold from the criteria file, ``punctuality.*``):

- A bill *counts* when it is due on or before the as-of date and is neither cancelled
  nor renegotiated (a renegotiated bill was replaced by others).
- A bill is *paid* when it has a payment date and its status is not open or partial:
  a partly paid bill is still owed.
- A counted bill is *judged* once it is paid, or once its grace period
  (``grace_days``) has passed unpaid: an unpaid bill still inside its grace period
  tells nothing yet.
- *On time*: paid no later than due date + ``grace_days``. ``on_time_share`` is
  on-time / judged bills (NaN with no judged bill).
- *Days late* of a bill: (payment date, or the as-of date while unpaid) − due date,
  at least 0; ``mean_days_late`` and ``worst_days_late`` over the judged bills.
- *Months as a customer*: whole months from ``customer_since`` to the as-of date.
- *Open debt*: amount − amount paid over the open and partly paid bills due by the
  as-of date; ``open_bills`` their count; *open months*: open debt / monthly fee.
- *Recent*: judged bills due in the last ``recent_months`` months before the as-of
  date; ``trend`` is the recent on-time share minus the earlier one.
- *Longest on-time run*: the longest streak of consecutive on-time judged bills, in
  due-date order.
- *Earlier reliefs*: judged bills that came from a relief arrangement; *broken*: those
  not paid on time.
- *Paid within the window*: of the counted bills due more than
  ``calibration.window_days`` before the as-of date (``bills_past_window``), the share
  paid within that many days of their due date (the payment model's history); of
  them, those due in the ``recent_months`` before the window
  (``recent_past_window``, ``recent_paid_within_window``), the late ones
  (``late_past_window``, ``late_paid_within_window``: how this customer's late bills
  ended), and how many days the latest took to be paid (``last_days_to_pay``; while
  unpaid, the days since its due date).
- *Band*: "new" with fewer than ``min_bills`` judged bills, else "good" (share ≥
  ``good_share``), "poor" (share < ``poor_share``) or "fair".

No Python loop runs per customer: each bill gets its customer's position in the
customers table once, and every feature is a NumPy sum, count or maximum over those
positions (``np.bincount`` / ``np.maximum.at``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
from pandas.errors import OutOfBoundsDatetime

from relief_kit.core import schema
from relief_kit.core.criteria import Criteria
from relief_kit.core.errors import InputError
from relief_kit.core.model import HistoryFeatures

#: Bills that do not count (the one definition is :data:`schema.NOT_BILLED`).
NOT_COUNTED = schema.NOT_BILLED
OPEN = schema.OWED
#: The punctuality bands, in the order of :func:`band_codes`' numbers.
BANDS = ("good", "fair", "poor", "new")
_BAND_NAMES = np.array(BANDS, dtype=object)
FEATURE_COLUMNS = [f.name for f in fields(HistoryFeatures) if f.name != "customer_id"]
_DAY_NS = 86_400 * 10**9
_BILL_COLUMNS = ["invoice_id", "customer_id", "due_date", "paid_on", "amount", "amount_paid",
                 "status", "arrangement"]


def judged_bills(invoices: pd.DataFrame, criteria: Criteria, as_of: date) -> pd.DataFrame:
    """The counted bills (see the module's definitions) with per-bill judgement columns.

    Adds ``paid``, ``judged``, ``on_time``, ``days_late``, ``open_amount``, ``recent``
    and ``relief`` (bill from an arrangement). The index is a fresh 0..n-1.
    """
    as_of_ts = pd.Timestamp(as_of)
    grace = pd.Timedelta(days=int(criteria["punctuality.grace_days"]))
    counted = (invoices["due_date"] <= as_of_ts) & ~invoices["status"].isin(NOT_COUNTED)
    columns = _BILL_COLUMNS + (["issued_on"] if "issued_on" in invoices.columns else [])
    bills = invoices.loc[counted, columns].reset_index(drop=True)
    still_owed = bills["status"].isin(OPEN)
    paid = bills["paid_on"].notna() & ~still_owed
    bills["paid"] = paid
    bills["on_time"] = paid & (bills["paid_on"] <= bills["due_date"] + grace)
    bills["judged"] = paid | (bills["due_date"] + grace < as_of_ts)
    # Whole days (floored, as ``Timedelta.days``) in NumPy: pandas' ``.dt.days`` makes a
    # Timedelta per bill.
    settled = np.where(paid.to_numpy(bool), bills["paid_on"].to_numpy("datetime64[ns]"),
                       np.datetime64(as_of_ts.to_datetime64(), "ns"))
    elapsed = (settled - bills["due_date"].to_numpy("datetime64[ns]")).astype("int64")
    bills["days_late"] = np.maximum(elapsed // _DAY_NS, 0)
    owed = (bills["amount"] - bills["amount_paid"].fillna(0.0)).clip(lower=0)
    bills["open_amount"] = owed.where(still_owed, 0.0)
    recent_start = as_of_ts - pd.DateOffset(months=int(criteria["punctuality.recent_months"]))
    bills["recent"] = bills["due_date"] > recent_start
    bills["relief"] = bills["arrangement"].fillna("").ne("")
    return bills


@dataclass(frozen=True)
class CustomerOrder:
    """Judged bills in (customer, due day) order: the one sort the point-in-time bands
    (:func:`relief_kit.core.calibration.point_in_time_bands`) and the payment model's
    facts search, computed once when both are (:func:`customer_order`)."""

    code: np.ndarray  # each bill's customer number, in file order (int64)
    owners: pd.Index  # the customer id of each number
    order: np.ndarray  # the bills' positions in (customer, due day) order (stable)
    key: np.ndarray  # (customer << 32) + days since the earliest due date, in that order
    position: np.ndarray  # each bill's place in that order (the inverse of ``order``)
    #: Each number's row in the customers table given to :func:`customer_order` (-1: not
    #: a customer), or None when none was given.
    rows: np.ndarray | None = None
    #: The customers table ``rows`` was computed for (the same object, not a copy).
    rows_of: pd.DataFrame | None = field(default=None, compare=False, repr=False)

    def rows_in(self, customers: pd.DataFrame) -> np.ndarray:
        """Each customer number's row in ``customers`` (-1: not there): :attr:`rows` when
        computed for this table, else looked up now."""
        if self.rows is not None and self.rows_of is customers:
            return self.rows
        return pd.Index(customers["customer_id"]).get_indexer(self.owners)


def customer_order(bills: pd.DataFrame, customers: pd.DataFrame | None = None
                   ) -> CustomerOrder:
    """:class:`CustomerOrder` of non-empty :func:`judged_bills` ``bills``; with
    ``customers``, each customer's row in that table too (the features and the payment
    model's facts both look them up: once)."""
    code, owners = pd.factorize(bills["customer_id"])
    code = code.astype("int64")
    day = bills["due_date"].to_numpy().astype("datetime64[D]").astype("int64")
    key = (code << 32) + (day - day.min())  # non-negative days, far below 2**32
    order = np.argsort(key, kind="stable")
    position = np.empty_like(order)
    position[order] = np.arange(len(order))
    owners = pd.Index(owners)
    rows = (None if customers is None else
            pd.Index(customers["customer_id"]).get_indexer(owners))
    return CustomerOrder(code, owners, order, key[order], position, rows, customers)


def judged_in_order(invoices: pd.DataFrame, criteria: Criteria, as_of: date, *,
                    judged: pd.DataFrame | None = None, ordered: CustomerOrder | None = None,
                    customers: pd.DataFrame | None = None
                    ) -> tuple[pd.DataFrame, CustomerOrder | None]:
    """(:func:`judged_bills`, their :func:`customer_order`; None when there is no bill),
    each computed unless given (``customers``: as :func:`customer_order` takes it)."""
    bills = judged if judged is not None else judged_bills(invoices, criteria, as_of)
    if ordered is None and len(bills):
        ordered = customer_order(bills, customers)
    return bills, ordered


def band_codes(share: np.ndarray, judged: np.ndarray, criteria: Criteria) -> np.ndarray:
    """Punctuality band per row from on-time share and judged-bill count, as positions
    in :data:`BANDS` (int8; shape of ``share``): "new" under ``punctuality.min_bills``
    judged bills, else "good" from ``good_share``, "poor" under ``poor_share``, "fair"
    between (and for a NaN share)."""
    return np.select(
        [np.asarray(judged) < int(criteria["punctuality.min_bills"]),
         np.asarray(share) >= float(criteria["punctuality.good_share"]),
         np.asarray(share) < float(criteria["punctuality.poor_share"])],
        [np.int8(BANDS.index("new")), np.int8(BANDS.index("good")),
         np.int8(BANDS.index("poor"))], default=np.int8(BANDS.index("fair")),
    ).astype(np.int8, copy=False)


def band_of(share: pd.Series, judged: pd.Series, criteria: Criteria) -> pd.Series:
    """Punctuality band per row from on-time share and judged-bill count (the names of
    :func:`band_codes`, indexed like ``share``)."""
    return pd.Series(band_names(band_codes(share, judged, criteria)), index=share.index,
                     dtype=object)


def band_names(codes: np.ndarray) -> np.ndarray:
    """The names of :func:`band_codes`' numbers (an object array of the same shape)."""
    return _BAND_NAMES[codes]


def _longest_run(code: np.ndarray, on_time: np.ndarray, customers: int,
                 order: np.ndarray) -> np.ndarray:
    """Longest streak of consecutive on-time bills per customer position.

    ``order``: the positions of the bills to follow, in (customer, due date) order (ties
    in file order: :class:`CustomerOrder`). Run-length by cumulative sums: a new streak
    starts wherever the customer changes or a bill is not on time; each streak's length
    is the number of on-time bills in it.
    """
    best = np.zeros(customers, dtype="int64")
    if len(order) == 0:
        return best
    owner, on = code[order], on_time[order]
    breaks = ~on | np.r_[True, owner[1:] != owner[:-1]]
    streak = np.cumsum(breaks) - 1
    lengths = np.bincount(streak, weights=on).astype("int64")
    np.maximum.at(best, owner[breaks], lengths)
    return best


def _whole_months(since: pd.Series, as_of: date) -> np.ndarray:
    months = ((as_of.year - since.dt.year) * 12 + (as_of.month - since.dt.month)
              - (as_of.day < since.dt.day).astype("int64"))
    return months.fillna(0).clip(lower=0).to_numpy("int64")


def customer_ids(customers: pd.DataFrame) -> pd.Index:
    """The customers table's ids as an index named ``customer_id`` (the features' index).

    Raises :class:`InputError` naming the first id that appears twice."""
    ids = pd.Index(customers["customer_id"], name="customer_id")
    if not ids.is_unique:
        repeated = ids[ids.duplicated()][0]
        raise InputError(f"customers.csv, coluna customer_id: o cliente {repeated} aparece "
                         "mais de uma vez; deixe uma linha por cliente (relief-kit check).")
    return ids


def features(invoices: pd.DataFrame, customers: pd.DataFrame, criteria: Criteria,
             as_of: date, *, judged: pd.DataFrame | None = None,
             ordered: CustomerOrder | None = None) -> pd.DataFrame:
    """One row per customer (every customer, with or without bills), indexed by id.

    Columns are the fields of :class:`~relief_kit.core.model.HistoryFeatures`, defined in
    this module's docstring. Bills of a customer missing from ``customers`` are left
    out (``relief-kit check`` reports them). ``judged``: :func:`judged_bills` of these
    invoices, criteria and date, when the caller has it (read, never changed);
    ``ordered``: its :func:`customer_order`, likewise (the payment model's fit sorts the
    same bills the same way).
    """
    ids = customer_ids(customers)
    n = len(ids)
    bills, ordered = judged_in_order(invoices, criteria, as_of, judged=judged,
                                     ordered=ordered)
    if ordered is not None:
        # Each distinct id looked up once (a customer has dozens of bills).
        code = np.where(ordered.code >= 0, ordered.rows_in(customers)[ordered.code], -1)
        in_order = ordered.order
    else:
        code = in_order = np.zeros(0, dtype="int64")
    known = code >= 0
    if not known.all():
        kept_at = np.cumsum(known) - 1  # a kept bill's new position
        in_order = kept_at[in_order[known[in_order]]]
        bills, code = bills[known].reset_index(drop=True), code[known]

    judged = bills["judged"].to_numpy(bool)
    on_time = bills["on_time"].to_numpy(bool)  # on time implies paid, hence judged
    recent = bills["recent"].to_numpy(bool)
    relief = bills["relief"].to_numpy(bool)
    days = bills["days_late"].to_numpy("int64")
    owed = bills["open_amount"].to_numpy(float)

    def count(rows: np.ndarray) -> np.ndarray:
        return np.bincount(code[rows], minlength=n)

    def total(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return np.bincount(code[rows], weights=values[rows], minlength=n)

    def share(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return part / whole  # NaN where a customer has no such bill

    judged_count = count(judged)
    window = pd.Timedelta(days=int(criteria["calibration.window_days"]))
    as_of_ts = pd.Timestamp(as_of)
    past = (bills["due_date"] < as_of_ts - window).to_numpy(bool)
    in_window = (bills["paid"] & (bills["paid_on"] <= bills["due_date"] + window)).to_numpy(bool)
    past_count = count(past)
    worst = np.zeros(n, dtype="int64")
    np.maximum.at(worst, code[judged], days[judged])
    has_debt = owed > 0
    open_debt = total(owed, has_debt).round(2)
    fee = customers["monthly_fee"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        open_months = open_debt / fee
    recent_past = past & (bills["due_date"] >= as_of_ts - window - pd.Timedelta(
        days=30 * int(criteria["punctuality.recent_months"]))).to_numpy(bool)
    late_past = past & judged & ~on_time
    # The latest bill past the window: how long it took to pay (or has been unpaid).
    due_day = bills["due_date"].to_numpy().astype("datetime64[D]").astype("int64")
    as_of_day = int(np.datetime64(as_of, "D").astype("int64"))
    paid_day = bills["paid_on"].to_numpy().astype("datetime64[D]").astype("int64")
    taken = np.where(bills["paid"].to_numpy(bool), paid_day - due_day, as_of_day - due_day)
    last_due = np.full(n, np.iinfo("int64").min)
    np.maximum.at(last_due, code[past], due_day[past])
    last_days = np.full(n, -1, dtype="int64")
    latest = past & (due_day == last_due[code])
    np.maximum.at(last_days, code[latest], np.maximum(taken[latest], 0))
    recent_share = share(count(on_time & recent), count(judged & recent))
    earlier_share = share(count(on_time & ~recent), count(judged & ~recent))
    on_time_share = pd.Series(share(count(on_time), judged_count), index=ids)

    out = pd.DataFrame({
        "bills": count(np.ones(len(code), dtype=bool)),
        "on_time_share": on_time_share,
        "mean_days_late": np.nan_to_num(share(total(days.astype(float), judged),
                                              judged_count)),
        "worst_days_late": worst,
        "months_as_customer": _whole_months(customers["customer_since"], as_of),
        "open_debt": open_debt,
        "open_bills": count(has_debt),
        "open_months": np.where(np.isfinite(open_months), open_months, 0.0),
        "recent_on_time_share": recent_share,
        "earlier_on_time_share": earlier_share,
        "trend": recent_share - earlier_share,
        "longest_on_time_run": _longest_run(code, on_time, n, in_order[judged[in_order]]),
        "earlier_reliefs": count(judged & relief),
        "reliefs_broken": count(judged & relief & ~on_time),
        "punctuality_band": band_of(on_time_share, judged_count, criteria),
        "bills_past_window": past_count,
        "paid_within_window_share": share(count(past & in_window), past_count),
        "recent_past_window": count(recent_past),
        "recent_paid_within_window": count(recent_past & in_window),
        "late_past_window": count(late_past),
        "late_paid_within_window": count(late_past & in_window),
        "last_days_to_pay": last_days,
    }, index=ids)
    for column in ("bills", "open_bills", "earlier_reliefs", "reliefs_broken",
                   "bills_past_window", "recent_past_window", "recent_paid_within_window",
                   "late_past_window", "late_paid_within_window", "last_days_to_pay"):
        out[column] = out[column].astype("int64")
    return out[FEATURE_COLUMNS]


def features_of(frame: pd.DataFrame, customer_id: str) -> HistoryFeatures:
    """One customer's row of :func:`features` as a value object."""
    return _features_value(customer_id, frame.loc[customer_id])


def features_values(frame: pd.DataFrame) -> dict[str, HistoryFeatures]:
    """Every row of :func:`features` as a value object, by customer id: the same values
    as :func:`features_of` one by one, without a pandas row look-up per customer."""
    # Each column as Python scalars in one step (what ``to_dict("index")`` gives, without
    # its pandas row iteration: a third of the time at 10,000 customers).
    names = list(frame.columns)
    columns = [frame[name].to_numpy(dtype=object).tolist() for name in names]
    return {customer_id: _features_value(customer_id, dict(zip(names, row, strict=True)))
            for customer_id, *row in zip(frame.index.tolist(), *columns, strict=True)}


def _features_value(customer_id: str, row) -> HistoryFeatures:
    def share(value) -> float | None:
        # NaN is the only value unequal to itself (pd.isna, without its dispatch).
        return None if value is None or value != value else float(value)

    return HistoryFeatures(
        customer_id=customer_id,
        bills=int(row["bills"]),
        on_time_share=share(row["on_time_share"]),
        mean_days_late=float(row["mean_days_late"]),
        worst_days_late=int(row["worst_days_late"]),
        months_as_customer=int(row["months_as_customer"]),
        open_debt=Decimal(f"{float(row['open_debt']):.2f}"),
        open_bills=int(row["open_bills"]),
        open_months=float(row["open_months"]),
        recent_on_time_share=share(row["recent_on_time_share"]),
        earlier_on_time_share=share(row["earlier_on_time_share"]),
        trend=share(row["trend"]),
        longest_on_time_run=int(row["longest_on_time_run"]),
        earlier_reliefs=int(row["earlier_reliefs"]),
        reliefs_broken=int(row["reliefs_broken"]),
        punctuality_band=str(row["punctuality_band"]),
        bills_past_window=int(row["bills_past_window"]),
        paid_within_window_share=share(row["paid_within_window_share"]),
        recent_past_window=int(row["recent_past_window"]),
        recent_paid_within_window=int(row["recent_paid_within_window"]),
        late_past_window=int(row["late_past_window"]),
        late_paid_within_window=int(row["late_paid_within_window"]),
        last_days_to_pay=None if int(row["last_days_to_pay"]) < 0 else int(
            row["last_days_to_pay"]),
    )


#: A bill's state in the history (labels: the catalogue's ``bill_state`` group).
STATES = ("on_time", "late", "open", "waiting", "cancelled", "renegotiated")


def monthly_history(invoices: pd.DataFrame, customer_id: str, criteria: Criteria,
                    as_of: date) -> pd.DataFrame:
    """One row per bill of a customer, oldest first, for the review's chart and table.

    Columns: invoice_id, month (first day of the due month), due_date, amount, paid_on,
    amount_paid, days_late (as in :func:`features`; 0 for a bill not yet due, cancelled
    or renegotiated), state (one of :data:`STATES`), arrangement.

    A case's two dozen bills: computed on their arrays, not column by column in pandas
    (a pandas operation costs about the same on 20 rows as on 20,000; this is part of
    every case the batch opens).
    """
    mine = invoices[invoices["customer_id"] == customer_id]
    bills = mine.take(np.argsort(mine["due_date"].to_numpy(), kind="stable"))
    due = bills["due_date"].to_numpy()
    paid_on = bills["paid_on"].to_numpy()
    status = bills["status"].to_numpy(dtype=object, na_value=None)
    try:
        as_of_day = pd.Timestamp(as_of).as_unit(np.datetime_data(due.dtype)[0]).to_datetime64()
    except (OutOfBoundsDatetime, OverflowError):
        # A date the bills' unit cannot hold (nanoseconds: before 1677, after 2262):
        # compared in microseconds instead, never wrapped around.
        due, paid_on = due.astype("datetime64[us]"), paid_on.astype("datetime64[us]")
        as_of_day = np.datetime64(as_of, "us")
    grace = np.timedelta64(int(criteria["punctuality.grace_days"]), "D")
    still_open = np.array([value in OPEN for value in status], dtype=bool)
    not_counted = np.array([value in NOT_COUNTED for value in status], dtype=bool)
    paid = ~np.isnat(paid_on) & ~still_open
    on_time = paid & (paid_on <= due + grace)
    settled = np.where(paid, paid_on, as_of_day)
    days = np.maximum((settled - due) // np.timedelta64(1, "D"), 0)
    judged_at_all = (due <= as_of_day) & ~not_counted
    state = np.select([status == "cancelled", status == "renegotiated", on_time, paid,
                       due > as_of_day],
                      ["cancelled", "renegotiated", "on_time", "late", "waiting"],
                      default="open")
    history = bills[["invoice_id", "due_date", "amount", "paid_on", "amount_paid",
                     "arrangement"]].reset_index(drop=True)
    history.insert(1, "month", bills["due_date"].dt.to_period("M").dt.to_timestamp()
                   .to_numpy())
    history.insert(6, "days_late", np.where(judged_at_all, days, 0).astype("int64"))
    history.insert(7, "state", state)
    return history
