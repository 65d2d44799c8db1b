"""How likely a customer is to pay, calibrated on the provider's own portfolio.

The money comparison needs, for each option, the chance that the customer pays as
agreed. It is not a constant someone made up: it is how often customers with a
similar history actually paid. "Paid" means paid within ``calibration.window_days``
of the (agreed) due date, for every option alike, so the options compare like with
like.

- *Similar history*: the customer's punctuality band as it stood *before* the bill,
  from the earlier bills whose verdict was already known on its due date (due date +
  ``punctuality.grace_days`` before it). Later bills, and the bill's own outcome, never
  leak into its prediction.
- *Without an agreement* (refusal, or while asking for information): a customer who
  asks for relief has a bill they say they cannot pay, so the comparable bills are
  the ordinary bills (no arrangement) still unpaid when their grace period ended,
  once due date + ``window_days`` has passed. Counting every ordinary bill instead
  would price a refusal as if the customer were not in trouble (most bills of a
  "good" customer are paid on time) and make refusal look better than any agreement.
  The rate per band is shrunk toward the portfolio-wide rate with
  ``calibration.prior_strength`` pseudo-bills, so a band with few bills leans on the
  whole portfolio; bands under ``calibration.min_bills`` bills are flagged.
- *With an agreement* (bills from an earlier discount, postponement or instalment
  agreement): whether each was paid within ``window_days`` of its agreed due date,
  per band and kind. Each (band, kind) cell is shrunk toward its kind's rate across
  all bands, itself shrunk toward the band's rate without an agreement: with no
  agreement on record, an agreement is priced like no agreement for that band.

``Calibration.table()`` shows all of it, as codes and numbers the text layer says in
Portuguese, so the team can challenge it;
``Calibration.outcomes`` lists every comparable bill with its prediction and what
happened, for the meeting to plot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from relief_kit.core.criteria import Criteria
from relief_kit.core.history import (
    BANDS,
    CustomerOrder,
    band_codes,
    band_names,
    customer_order,
    judged_bills,
)
from relief_kit.core.model import Action, Reason

#: Bump when the way rates are computed changes: cached calibrations of another
#: method are refused by :meth:`Calibration.from_dict` and computed again.
METHOD = "2"
KINDS = ("discount", "postponement", "instalment")
_ACTION_KIND = {Action.DISCOUNT: "discount", Action.POSTPONEMENT: "postponement",
                Action.INSTALMENTS: "instalment"}
#: With no comparable bill in the whole portfolio: an even chance (the table says so).
NO_DATA_RATE = 0.5
#: The columns of :meth:`Calibration.table`, in order.
TABLE_COLUMNS = ("group", "scope", "bills", "paid", "observed", "toward", "used", "note")


@dataclass(frozen=True)
class Rate:
    """Comparable bills, how many were paid in the window, and the rate used."""

    bills: int
    paid: int
    used: float  # the shrunk rate the money comparison uses
    toward: float | None = None  # the rate it was shrunk toward (None: not shrunk)

    @property
    def observed(self) -> float | None:
        return self.paid / self.bills if self.bills else None


def _shrunk(paid: int, bills: int, prior: float, toward: float) -> float:
    """(paid + prior·toward) / (bills + prior): ``prior`` pseudo-bills at ``toward``."""
    return (paid + prior * toward) / (bills + prior) if bills + prior > 0 else toward


@dataclass(frozen=True)
class Calibration:
    """Calibrated payment probabilities; implements ``model.PaymentProbabilities``."""

    overall: Rate
    ordinary: dict[str, Rate]
    kinds: dict[str, Rate]
    arrangements: dict[tuple[str, str], Rate]
    window_days: int
    min_bills: int
    outcomes: pd.DataFrame = field(default_factory=pd.DataFrame, compare=False, repr=False)

    def probability(self, band: str, action: Action) -> float:
        """REFUSAL and ASK_INFO: the band's rate without an agreement; DISCOUNT,
        POSTPONEMENT, INSTALMENTS (per instalment): the band's rate for that kind."""
        kind = _ACTION_KIND.get(Action(action))
        if kind is None:
            return self.ordinary[band].used
        return self.arrangements[(band, kind)].used

    def table(self) -> pd.DataFrame:
        """The calibration as codes and numbers, for the team to challenge: one row for the
        whole portfolio, one per band, one per kind of agreement and one per (kind, band).

        Columns: ``group`` (``"ordinary"`` — ordinary bills still unpaid when their grace
        period ended — or a kind of :data:`KINDS`), ``scope`` (``"portfolio"``, ``"all"``
        bands of a kind, or a band of :data:`BANDS`), ``bills``, ``paid`` (within
        ``window_days``), ``observed``, ``toward`` (the rate it was shrunk toward; None
        when not shrunk), ``used`` (rates in [0, 1]; ``observed`` is None without bills)
        and ``note``: a :class:`~relief_kit.core.model.Reason` when the data is thin
        (``calibration_no_history``, ``calibration_no_bills``, ``calibration_few_bills``,
        with the rate it fell back on as ``toward``: ``portfolio`` or ``kind``), else
        None. :func:`relief_kit.text.calibration.calibration_table` says it in
        Portuguese."""
        rows = []

        def add(group: str, scope: str, rate: Rate, toward: str) -> None:
            if rate.bills == 0:
                note = Reason("calibration_no_bills", "calibration.prior_strength",
                              {"toward": toward})
            elif rate.bills < self.min_bills:
                note = Reason("calibration_few_bills", "calibration.min_bills",
                              {"toward": toward, "min_bills": self.min_bills})
            else:
                note = None
            rows.append({"group": group, "scope": scope, "bills": rate.bills,
                         "paid": rate.paid, "observed": rate.observed,
                         "toward": rate.toward, "used": rate.used, "note": note})

        rows.append({"group": "ordinary", "scope": "portfolio", "bills": self.overall.bills,
                     "paid": self.overall.paid, "observed": self.overall.observed,
                     "toward": None, "used": self.overall.used,
                     "note": None if self.overall.bills else Reason(
                         "calibration_no_history", "", {"rate": NO_DATA_RATE})})
        for band in BANDS:
            add("ordinary", band, self.ordinary[band], "portfolio")
        for kind in KINDS:
            add(kind, "all", self.kinds[kind], "portfolio")
            for band in BANDS:
                add(kind, band, self.arrangements[(band, kind)], "kind")
        return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))

    def to_dict(self) -> dict:
        """Plain values (for the per-case cache and the batch's fingerprints)."""
        def rate(r: Rate) -> list:
            return [r.bills, r.paid, r.used, r.toward]

        return {
            "method": METHOD,
            "overall": rate(self.overall),
            "ordinary": {b: rate(r) for b, r in self.ordinary.items()},
            "kinds": {k: rate(r) for k, r in self.kinds.items()},
            "arrangements": {f"{b}/{k}": rate(r) for (b, k), r in self.arrangements.items()},
            "window_days": self.window_days,
            "min_bills": self.min_bills,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Calibration:
        """Inverse of :meth:`to_dict`; ValueError for a calibration of another method."""
        if data.get("method") != METHOD:
            raise ValueError(f"calibration method {data.get('method')!r}, expected {METHOD!r}")

        def rate(values: list) -> Rate:
            toward = values[3] if len(values) > 3 else None
            return Rate(int(values[0]), int(values[1]), float(values[2]),
                        None if toward is None else float(toward))

        return cls(
            overall=rate(data["overall"]),
            ordinary={b: rate(v) for b, v in data["ordinary"].items()},
            kinds={k: rate(v) for k, v in data["kinds"].items()},
            arrangements={tuple(key.split("/", 1)): rate(v)
                          for key, v in data["arrangements"].items()},
            window_days=int(data["window_days"]),
            min_bills=int(data["min_bills"]),
        )


def point_in_time_bands(bills: pd.DataFrame, criteria: Criteria,
                        rows: np.ndarray | None = None,
                        ordered: CustomerOrder | None = None) -> pd.Series:
    """Each bill's customer band from the customer's earlier bills whose verdict was
    known on the bill's due date (their due date + grace days before it).

    ``bills`` is :func:`relief_kit.core.history.judged_bills`; ``rows``: the positions of
    the bills wanted (default: every bill), the result indexed by their labels;
    ``ordered``: their :func:`~relief_kit.core.history.customer_order`, when already
    computed. Vectorised: for each wanted bill a binary search finds the last earlier
    bill already judged, and cumulative sums give the counts before it.
    """
    if rows is None:
        rows = np.arange(len(bills))
    if bills.empty or not len(rows):
        return pd.Series(index=bills.index[rows], dtype=object)
    codes = _point_in_time_codes(bills, criteria, rows, ordered)
    return pd.Series(band_names(codes), index=bills.index[rows], dtype=object)


def _point_in_time_codes(bills: pd.DataFrame, criteria: Criteria, rows: np.ndarray,
                         ordered: CustomerOrder | None) -> np.ndarray:
    """:func:`point_in_time_bands` of a non-empty ``bills`` and ``rows`` as positions in
    :data:`BANDS` (:func:`~relief_kit.core.history.band_codes`), in the order of
    ``rows``."""
    grace = int(criteria["punctuality.grace_days"])
    ordered = ordered or customer_order(bills)
    code, order, key = ordered.code, ordered.order, ordered.key
    judged = bills["judged"].to_numpy(bool)[order]
    on_time = (bills["on_time"].to_numpy(bool) & bills["judged"].to_numpy(bool))[order]
    at = ordered.position[rows]
    # The binary searches run in key order (each starts near the previous one), then
    # are put back in the order of ``rows``.
    ascending = np.argsort(at, kind="stable")  # distinct values; runs of file order
    own_key = key[at[ascending]]
    first = np.searchsorted(key, code[rows][ascending] << 32, side="left")
    # Earlier bills of the same customer with due + grace < this due date.
    known = np.maximum(np.searchsorted(key, own_key - grace, side="left"), first)
    back = np.empty_like(ascending)
    back[ascending] = np.arange(len(ascending))
    first, known = first[back], known[back]
    judged_before = np.r_[0, np.cumsum(judged)]
    on_time_before = np.r_[0, np.cumsum(on_time)]
    prior_judged = judged_before[known] - judged_before[first]
    prior_on_time = on_time_before[known] - on_time_before[first]
    with np.errstate(invalid="ignore", divide="ignore"):
        share = prior_on_time / prior_judged
    return band_codes(share, prior_judged, criteria)


def _rates_known_then(due: np.ndarray, band: np.ndarray, paid: np.ndarray, window: int,
                      prior: float) -> np.ndarray:
    """For each bill, its band's shrunk rate from the bills whose outcome was already
    known on its due date (due + window on or before it): the prediction one would
    have made then, to hold against what happened. ``band``: positions in
    :data:`BANDS`."""
    def counts_then(known_at: np.ndarray, outcome: np.ndarray, when: np.ndarray):
        order = np.argsort(known_at, kind="stable")
        seen = np.searchsorted(known_at[order], when, side="right")
        return seen, np.r_[0, np.cumsum(outcome[order])][seen]

    known_at = due + window
    n_all, k_all = counts_then(known_at, paid, due)
    with np.errstate(invalid="ignore", divide="ignore"):
        overall = np.where(n_all > 0, k_all / n_all, NO_DATA_RATE)
    rates = np.empty(len(due))
    for number in range(len(BANDS)):  # four bands, not one loop per bill
        rows = band == number
        n, k = counts_then(known_at[rows], paid[rows], due[rows])
        with np.errstate(invalid="ignore", divide="ignore"):
            shrunk = (k + prior * overall[rows]) / (n + prior)
        rates[rows] = np.where(n + prior > 0, shrunk, overall[rows])
    return rates


def _counts(outcome: pd.Series, by: list[pd.Series], index: pd.Index) -> pd.DataFrame:
    """Comparable bills ("n") and paid ones ("k") per group, zero for empty groups."""
    table = outcome.astype("int64").groupby(by).agg(["size", "sum"])
    table.columns = ["n", "k"]
    return table.reindex(index, fill_value=0)


def calibrate(invoices: pd.DataFrame, customers: pd.DataFrame, criteria: Criteria,
              as_of: date) -> Calibration:
    """Calibrate the payment probabilities on a portfolio (pure, deterministic).

    ``customers`` is accepted for symmetry with :func:`relief_kit.core.history.features`;
    the bands come from the bills alone.
    """
    return calibrate_bills(judged_bills(invoices, criteria, as_of), criteria, as_of)


def calibrate_bills(bills: pd.DataFrame, criteria: Criteria, as_of: date,
                    ordered: CustomerOrder | None = None) -> Calibration:
    """:func:`calibrate` of the bills :func:`relief_kit.core.history.judged_bills`
    gives, and their :func:`~relief_kit.core.history.customer_order` when already
    computed (the payment model computes both once for its facts and this)."""
    window = int(criteria["calibration.window_days"])
    prior = float(criteria["calibration.prior_strength"])
    # On the columns' arrays: the bills counted below are a fifth of the portfolio's,
    # and a frame filtered, indexed and mapped by label cost as much as the bands.
    due = bills["due_date"].to_numpy("datetime64[ns]")
    window_end = due + np.timedelta64(window, "D")
    within = bills["paid"].to_numpy(bool) & (
        bills["paid_on"].to_numpy("datetime64[ns]") <= window_end)  # NaT: not paid
    settled = window_end <= np.datetime64(pd.Timestamp(as_of).to_datetime64(), "ns")
    relief, on_time = bills["relief"].to_numpy(bool), bills["on_time"].to_numpy(bool)
    # Only the bills counted below need a band: the late ordinary ones and the agreements.
    rows = np.flatnonzero(settled & (relief | ~on_time))
    band = (_point_in_time_codes(bills, criteria, rows, ordered) if len(rows)
            else np.zeros(0, dtype=np.int8))
    is_relief = relief[rows]

    ordinary_rows, ordinary_band = rows[~is_relief], band[~is_relief]  # all late here
    ordinary_paid = within[ordinary_rows]
    total, total_paid = len(ordinary_rows), int(ordinary_paid.sum())
    overall_rate = total_paid / total if total else NO_DATA_RATE
    overall = Rate(total, total_paid, overall_rate)
    per_band_n = np.bincount(ordinary_band, minlength=len(BANDS))
    per_band_k = np.bincount(ordinary_band[ordinary_paid], minlength=len(BANDS))
    ordinary_rates = {
        name: Rate(int(n), int(k), _shrunk(int(k), int(n), prior, overall_rate), overall_rate)
        for name, n, k in zip(BANDS, per_band_n, per_band_k, strict=True)
    }

    relief_rows = rows[is_relief]
    relief_band = pd.Series(band_names(band[is_relief]))
    arrangement = pd.Series(bills["arrangement"].array.take(relief_rows))
    kept = pd.Series(within[relief_rows])
    per_kind = _counts(kept, [arrangement], pd.Index(KINDS))
    per_cell = _counts(kept, [relief_band, arrangement],
                       pd.MultiIndex.from_product([BANDS, KINDS]))
    kind_rates, cells = {}, {}
    for kind in KINDS:
        n, k = int(per_kind.loc[kind, "n"]), int(per_kind.loc[kind, "k"])
        kind_rates[kind] = Rate(n, k, _shrunk(k, n, prior, overall_rate), overall_rate)
        for name in BANDS:
            # The kind's rate as this band would see it: leaning on the band's own
            # rate without an agreement, not on the whole portfolio's.
            toward = _shrunk(k, n, prior, ordinary_rates[name].used)
            cell_n, cell_k = (int(v) for v in per_cell.loc[(name, kind)])
            cells[(name, kind)] = Rate(cell_n, cell_k, _shrunk(cell_k, cell_n, prior, toward),
                                       toward)

    used = np.array([ordinary_rates[name].used for name in BANDS])
    ordinary_due = due[ordinary_rows]
    outcomes = pd.DataFrame({
        "invoice_id": bills["invoice_id"].array.take(ordinary_rows),
        "customer_id": bills["customer_id"].array.take(ordinary_rows),
        "due_date": ordinary_due,
        "band": pd.Series(band_names(ordinary_band), dtype=object),
        "predicted": used[ordinary_band],
        "predicted_then": _rates_known_then(ordinary_due.astype("datetime64[D]").astype(
            "int64"), ordinary_band, ordinary_paid, window, prior),
        "paid_within_window": ordinary_paid,
    })
    return Calibration(overall, ordinary_rates, kind_rates, cells, window,
                       int(criteria["calibration.min_bills"]), outcomes)
