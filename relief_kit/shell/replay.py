"""Recommendations for many requests at once: the demo table and the what-if replay.

The history features and the calibration are computed once over the whole portfolio,
and every request, customer and feature row is turned into its domain value in one pass
(:class:`ReplayInputs`); each request then costs one call of the pure ``recommend``
function. A what-if under proposed criteria shares the features and the calibration
with the current replay when the criteria sections they read are unchanged.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from relief_kit.core.bills import bills_concerned_all
from relief_kit.core.criteria import Criteria
from relief_kit.core.history import features_values
from relief_kit.core.model import (
    Bill,
    Checklist,
    Customer,
    HistoryFeatures,
    Recommendation,
    ReliefRequest,
)
from relief_kit.core.money import PRICED_SECTIONS
from relief_kit.core.payment_model import PaymentModel
from relief_kit.core.recommend import recommend
from relief_kit.shell.fitting import history_and_model
from relief_kit.sources.tables import Portfolio, text_isin
from relief_kit.text import formatting as fmt
from relief_kit.text import labels
from relief_kit.text.reasons import reason_text


@contextmanager
def cycle_collection_paused(*, then_freeze: bool = False) -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a bulk computation, restored after.

    A replay builds millions of small objects (terms, events, reasons, Decimals) that
    live until the caller is done with them (the meeting: until its report is written),
    and each full pass of the collector walks every one of them: at 10,000 cases its
    passes cost about 3 s of CPU (measured with ``gc.callbacks``). None of them is in a
    reference cycle, so reference counting frees them as before; only cyclic garbage
    (from pandas, say) waits until the pause ends. Nested uses leave the collector as
    the outermost found it. Also a decorator (``@cycle_collection_paused()``).

    ``then_freeze``: for a command whose process ends after the pause, what exists then
    is left out of every later collection (``gc.freeze``) instead of being walked once
    more by the first one (0.7 s at 10,000 cases).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if then_freeze:
            gc.freeze()
        if enabled:
            gc.enable()


@dataclass(frozen=True)
class CaseRecommendation:
    request_id: str
    customer_id: str
    checklist: Checklist
    recommendation: Recommendation


#: The criteria sections ``history.features`` reads, and those the payment model reads
#: (``payment_model.fit_payment_model``): a proposal that leaves them alone shares the
#: current features or model.
FEATURE_SECTIONS = ("punctuality",)
CALIBRATION_SECTIONS = ("punctuality", "calibration", "model", "money")


@dataclass(frozen=True)
class ReplayInputs:
    """What every request's recommendation is computed from, derived once per criteria."""

    criteria: Criteria
    as_of: date
    requests: dict[str, ReliefRequest]
    customers: dict[str, Customer]  # the customers who asked, by id
    features: dict[str, HistoryFeatures]  # of the customers who asked, by id
    calibration: PaymentModel
    features_frame: Any  # pd.DataFrame of history.features, kept for sharing
    #: The bills each requesting customer's case is about (``bills.bills_concerned``),
    #: by customer id; they depend on the bills and the date only, not on the criteria.
    bills: dict[str, tuple[Bill, ...]]


def _same(criteria: Criteria, other: Criteria, sections: tuple[str, ...]) -> bool:
    return all(criteria.sections.get(s) == other.sections.get(s) for s in sections)


@cycle_collection_paused()
def replay_inputs(portfolio: Portfolio, criteria: Criteria, *, as_of: date,
                  calibration: PaymentModel | None = None,
                  like: ReplayInputs | None = None) -> ReplayInputs:
    """Features, calibration and domain values of every request, computed once.

    ``like``: the inputs under other criteria (the current ones, for a what-if), whose
    features and calibration are reused when the sections they depend on are equal.
    """
    same_day = like is not None and like.as_of == as_of
    reuse_features = same_day and _same(criteria, like.criteria, FEATURE_SECTIONS)
    reuse_calibration = calibration is None and same_day and _same(
        criteria, like.criteria, CALIBRATION_SECTIONS)
    # What is not reused is computed together: one judgement and sort of the bills, the
    # features beside the model's fit (shell.fitting), on a thread of its own while this
    # one turns the requests, customers and bills into domain values (NumPy and pandas
    # release the GIL in their loops; the values are Python objects, built under it).
    # The frame has every customer; value objects only for those who asked.
    asking_ids = list(set(portfolio.requests["customer_id"].tolist()))

    def fit() -> tuple[pd.DataFrame | None, PaymentModel | None, dict | None]:
        frame, fitted = history_and_model(
            portfolio.invoices, portfolio.customers, criteria, as_of,
            with_features=not reuse_features,
            with_model=calibration is None and not reuse_calibration)
        values = (None if reuse_features
                  else features_values(frame[text_isin(frame.index, asking_ids)]))
        return frame, fitted, values

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="relief-kit-replay") as fitting:
        fitted_future = fitting.submit(fit)
        if same_day:
            requests, customers, bills = like.requests, like.customers, like.bills
        else:
            requests = portfolio.requests_by_id()
            # Only the customers who asked: a large portfolio's others are never looked up.
            customers = portfolio.customers_by_id(r.customer_id for r in requests.values())
            asking = {r.customer_id: customers[r.customer_id] for r in requests.values()
                      if r.customer_id in customers}
            bills = bills_concerned_all(portfolio.invoices, asking, as_of)
        frame, fitted, values = fitted_future.result()
    if reuse_features:
        frame, values = like.features_frame, like.features
    if calibration is None:
        calibration = like.calibration if reuse_calibration else fitted
    return ReplayInputs(criteria, as_of, requests, customers, values, calibration, frame,
                        bills)


@cycle_collection_paused()
def recommend_all(
    portfolio: Portfolio,
    criteria: Criteria,
    *,
    as_of: date,
    answers: Mapping[str, Checklist] | None = None,
    calibration: PaymentModel | None = None,
    inputs: ReplayInputs | None = None,
    explain: bool = True,
    like: list[CaseRecommendation] | None = None,
    like_inputs: ReplayInputs | None = None,
    price_asking: bool = True,
) -> list[CaseRecommendation]:
    """The recommendation for every request of the portfolio, in request order.

    ``answers`` holds the analysts' checklist answers by request id (from the case
    store); a request without answers uses its intake answers. ``inputs``: the
    :func:`replay_inputs` of these criteria, when the caller already has them.
    ``explain``: as :func:`recommend`'s (False leaves out what would change a refusal;
    the meeting does not show it). ``like``/``like_inputs``: the same requests'
    recommendations under other criteria and the inputs they came from (the current
    ones, for a what-if): when both criteria price options alike (same
    ``PRICED_SECTIONS``, same probabilities and date), a case with the same answers
    reuses their money comparison instead of pricing every option again.
    ``price_asking``: as :func:`recommend`'s (False: a request for information comes
    without its money comparison; the meeting values none of them).
    """
    answers = answers or {}
    if inputs is None:
        inputs = replay_inputs(portfolio, criteria, as_of=as_of, calibration=calibration)
    priced_alike = (like is not None and like_inputs is not None
                    and like_inputs.as_of == as_of
                    and like_inputs.calibration is inputs.calibration
                    and _same(criteria, like_inputs.criteria, PRICED_SECTIONS))
    earlier = {c.request_id: c for c in like} if priced_alike else {}
    results = []
    for request_id in portfolio.requests["request_id"]:
        request = inputs.requests[request_id]
        # A request naming no known customer: the portfolio's one-line error.
        customer = (inputs.customers.get(request.customer_id)
                    or portfolio.customer(request.customer_id))
        checklist = answers.get(request_id) or Checklist.from_request(request)
        before = earlier.get(request_id)
        recommendation = recommend(
            customer, inputs.features[request.customer_id], request, checklist, criteria,
            as_of, inputs.calibration, bills=inputs.bills[request.customer_id],
            explain=explain, price_asking=price_asking,
            # An earlier request for information left unpriced has no rows to share.
            priced=(before.recommendation.options if before is not None
                    and before.checklist == checklist and before.recommendation.options
                    else None),
        )
        results.append(CaseRecommendation(request_id, request.customer_id, checklist,
                                          recommendation))
    return results


def recommendations_table(cases: list[CaseRecommendation]) -> pd.DataFrame:
    """One row per request for a terminal or a notebook: action, terms, reasons."""
    rows = []
    for case in cases:
        rec = case.recommendation
        rows.append({
            "pedido": case.request_id,
            "cliente": case.customer_id,
            "recomendação": labels.action(rec.action),
            "termos": fmt.terms_text(rec.action, rec.terms),
            "razões": " ".join(reason_text(r) for r in rec.reasons),
        })
    return pd.DataFrame(rows, columns=["pedido", "cliente", "recomendação", "termos", "razões"])
