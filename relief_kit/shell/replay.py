"""Recommendations for many requests at once: the demo table and the what-if replay.

The history features and the calibration are computed once over the whole portfolio;
each request then costs one call of the pure ``recommend`` function.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import pandas as pd

from relief_kit.core.bills import bills_concerned
from relief_kit.core.criteria import Criteria
from relief_kit.core.history import features, features_of
from relief_kit.core.model import Checklist, Recommendation
from relief_kit.core.payment_model import PaymentModel, fit_payment_model
from relief_kit.core.recommend import recommend
from relief_kit.sources.tables import Portfolio
from relief_kit.text import formatting as fmt


@dataclass(frozen=True)
class CaseRecommendation:
    request_id: str
    customer_id: str
    checklist: Checklist
    recommendation: Recommendation


def recommend_all(
    portfolio: Portfolio,
    criteria: Criteria,
    *,
    as_of: date,
    answers: Mapping[str, Checklist] | None = None,
    calibration: PaymentModel | None = None,
) -> list[CaseRecommendation]:
    """The recommendation for every request of the portfolio, in request order.

    ``answers`` holds the analysts' checklist answers by request id (from the case
    store); a request without answers uses its intake answers.
    """
    answers = answers or {}
    frame = features(portfolio.invoices, portfolio.customers, criteria, as_of)
    calibration = calibration or fit_payment_model(portfolio.invoices, portfolio.customers,
                                                   criteria, as_of)
    asking = set(portfolio.requests["customer_id"])
    invoices = portfolio.invoices[portfolio.invoices["customer_id"].isin(asking)]
    by_customer = dict(tuple(invoices.groupby("customer_id", sort=False)))
    empty = portfolio.invoices.iloc[:0]
    results = []
    for request_id in portfolio.requests["request_id"]:
        request = portfolio.request(request_id)
        customer = portfolio.customer(request.customer_id)
        checklist = answers.get(request_id) or Checklist.from_request(request)
        bills = bills_concerned(by_customer.get(request.customer_id, empty), customer, as_of)
        recommendation = recommend(
            customer, features_of(frame, request.customer_id), request, checklist, criteria,
            as_of, calibration, bills,
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
            "recomendação": rec.action.label,
            "termos": fmt.terms_text(rec.action, rec.terms),
            "razões": " ".join(r.text for r in rec.reasons),
        })
    return pd.DataFrame(rows, columns=["pedido", "cliente", "recomendação", "termos", "razões"])
