"""How likely a customer is to pay, calibrated on the provider's own portfolio.

The money comparison needs, for each option, the chance that the customer pays as
agreed. It is not a constant someone made up: it is how often customers with a
similar history actually paid.

- *Without an agreement* (refusal, or while asking for information): a customer who
  asks for relief has a bill they say they cannot pay, so the comparable bills are
  the ordinary bills that were still unpaid when their grace period ended. For every
  such bill whose due date + ``calibration.window_days`` has passed: the customer's
  punctuality band as it stood *before* that bill (from the earlier bills only, so the
  outcome never leaks into its own prediction), and whether it was paid within
  ``window_days`` of its due date all the same. The rate per band is shrunk toward
  the portfolio-wide rate with ``calibration.prior_strength`` pseudo-bills, so a band
  with few bills leans on the whole portfolio.
- *With an agreement* (bills from an earlier discount, postponement or instalment
  agreement): whether each was paid within ``window_days`` of its agreed due date —
  the same measure, so the options compare like with like — per band and kind.
  Each kind's rate is shrunk toward the portfolio-wide rate without an agreement,
  and each (band, kind) cell toward its kind's rate.

``Calibration.table()`` shows all of it so the team can challenge it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from .criteria import Criteria
from .history import OPEN, band_of, judged_bills
from .model import Action

BANDS = ("good", "fair", "poor", "new")
BAND_LABELS = {"good": "boa pontualidade", "fair": "pontualidade regular",
               "poor": "pontualidade fraca", "new": "cliente novo"}
KINDS = ("discount", "postponement", "instalment")
KIND_LABELS = {"discount": "acordo de desconto", "postponement": "adiamento",
               "instalment": "parcela de acordo"}
_ACTION_KIND = {Action.DISCOUNT: "discount", Action.POSTPONEMENT: "postponement",
                Action.INSTALMENTS: "instalment"}


@dataclass(frozen=True)
class Rate:
    bills: int
    paid: int
    used: float  # the shrunk rate the money comparison uses

    @property
    def observed(self) -> float | None:
        return self.paid / self.bills if self.bills else None


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
        kind = _ACTION_KIND.get(Action(action))
        if kind is None:
            return self.ordinary[band].used
        return self.arrangements[(band, kind)].used

    def table(self) -> pd.DataFrame:
        """The calibration in Portuguese, one row per band and per arrangement."""
        rows = []

        def add(group: str, label: str, rate: Rate) -> None:
            note = ""
            if rate.bills < self.min_bills:
                note = f"poucas faturas (< {self.min_bills}): apoia-se na taxa geral"
            rows.append({"grupo": group, "faixa": label, "faturas": rate.bills,
                         "pagas": rate.paid,
                         "taxa observada": rate.observed, "taxa usada": rate.used,
                         "observação": note})

        for band in BANDS:
            add(f"sem acordo: fatura vencida e não paga na tolerância (paga em até "
                f"{self.window_days} dias)", BAND_LABELS[band], self.ordinary[band])
        for band in BANDS:
            for kind in KINDS:
                add(f"{KIND_LABELS[kind]} (paga em até {self.window_days} dias da data "
                    "combinada)", BAND_LABELS[band], self.arrangements[(band, kind)])
        return pd.DataFrame(rows)

    def to_dict(self) -> dict:
        """Plain values (for the per-case cache and the batch's fingerprints)."""
        def rate(r: Rate) -> list:
            return [r.bills, r.paid, r.used]

        return {
            "overall": rate(self.overall),
            "ordinary": {b: rate(r) for b, r in self.ordinary.items()},
            "kinds": {k: rate(r) for k, r in self.kinds.items()},
            "arrangements": {f"{b}/{k}": rate(r) for (b, k), r in self.arrangements.items()},
            "window_days": self.window_days,
            "min_bills": self.min_bills,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Calibration:
        def rate(values: list) -> Rate:
            return Rate(int(values[0]), int(values[1]), float(values[2]))

        return cls(
            overall=rate(data["overall"]),
            ordinary={b: rate(v) for b, v in data["ordinary"].items()},
            kinds={k: rate(v) for k, v in data["kinds"].items()},
            arrangements={tuple(key.split("/", 1)): rate(v)
                          for key, v in data["arrangements"].items()},
            window_days=int(data["window_days"]),
            min_bills=int(data["min_bills"]),
        )


def _shrunk(paid: int, bills: int, prior: float, toward: float) -> float:
    return (paid + prior * toward) / (bills + prior) if bills + prior > 0 else toward


def point_in_time_bands(bills: pd.DataFrame, criteria: Criteria) -> pd.Series:
    """Each bill's customer band from that customer's earlier judged bills only."""
    ordered = bills.sort_values(["customer_id", "due_date"], kind="stable")
    judged = ordered["judged"].astype(int)
    on_time = (ordered["on_time"] & ordered["judged"]).astype(int)
    group = ordered["customer_id"]
    prior_judged = judged.groupby(group).cumsum() - judged
    prior_on_time = on_time.groupby(group).cumsum() - on_time
    share = (prior_on_time / prior_judged.replace(0, np.nan))
    return band_of(share, prior_judged, criteria).reindex(bills.index)


def calibrate(invoices: pd.DataFrame, customers: pd.DataFrame, criteria: Criteria,
              as_of: date) -> Calibration:
    """Calibrate the payment probabilities on a portfolio (pure, deterministic)."""
    window = int(criteria["calibration.window_days"])
    prior = float(criteria["calibration.prior_strength"])
    bills = judged_bills(invoices, criteria, as_of)
    bills["band"] = point_in_time_bands(bills, criteria) if len(bills) else pd.Series(
        dtype=str)
    paid = bills["paid_on"].notna() & ~bills["status"].isin(OPEN)
    within = paid & (bills["paid_on"] <= bills["due_date"] + pd.Timedelta(days=window))
    settled = bills["due_date"] + pd.Timedelta(days=window) <= pd.Timestamp(as_of)

    ordinary = bills[~bills["relief"] & settled & ~bills["on_time"]]
    ordinary_paid = within.loc[ordinary.index]
    total, total_paid = len(ordinary), int(ordinary_paid.sum())
    # With no history at all, an even chance: said in the table (0 bills).
    overall_rate = total_paid / total if total else 0.5
    overall = Rate(total, total_paid, overall_rate)
    counts = ordinary_paid.groupby(ordinary["band"]).agg(["size", "sum"])
    ordinary_rates = {}
    for band in BANDS:
        n, k = (int(counts.loc[band, "size"]), int(counts.loc[band, "sum"])) \
            if band in counts.index else (0, 0)
        ordinary_rates[band] = Rate(n, k, _shrunk(k, n, prior, overall_rate))

    relief = bills[bills["relief"] & settled]
    kept = within.loc[relief.index]
    kind_rates, cells = {}, {}
    by_kind = kept.groupby(relief["arrangement"]).agg(["size", "sum"])
    by_cell = kept.groupby([relief["band"], relief["arrangement"]]).agg(["size", "sum"])
    for kind in KINDS:
        n, k = (int(by_kind.loc[kind, "size"]), int(by_kind.loc[kind, "sum"])) \
            if kind in by_kind.index else (0, 0)
        kind_rates[kind] = Rate(n, k, _shrunk(k, n, prior, overall_rate))
        for band in BANDS:
            key = (band, kind)
            n, k = (int(by_cell.loc[key, "size"]), int(by_cell.loc[key, "sum"])) \
                if key in by_cell.index else (0, 0)
            cells[key] = Rate(n, k, _shrunk(k, n, prior, kind_rates[kind].used))

    outcomes = pd.DataFrame({
        "customer_id": ordinary["customer_id"],
        "due_date": ordinary["due_date"],
        "band": ordinary["band"],
        "predicted": ordinary["band"].map({b: r.used for b, r in ordinary_rates.items()}),
        "paid_within_window": ordinary_paid,
    })
    return Calibration(overall, ordinary_rates, kind_rates, cells, window,
                       int(criteria["calibration.min_bills"]), outcomes)
