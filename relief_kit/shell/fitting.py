"""The portfolio's history features and payment model, computed together.

The features, the band calibration and the scorecard start from the same judged bills
in the same (customer, due date) order, so those are made once; then the scorecard
(point-in-time facts, scikit-learn fits) runs on the calling thread while the features,
the band calibration (NumPy sums and searches over every bill) and each customer's span
of due dates (how long customers stay, which the scorecard's fit reads last) run beside
it on a second one. NumPy and pandas release the GIL in their loops over arrays, where
nearly all of their time goes, so the parts use both cores of a small machine (measured
at 100,000 customers × 24 months: ``python -m relief_kit.tools.bench --only
features``). scikit-learn's import (about 0.7 s, SciPy's statistics mostly) starts
first, on a third thread, when the process has not imported it yet; the scorecard's
fits wait for it if they get there first. (Started earlier, while the files are read,
it cost more than it saved: an import holds the GIL nearly throughout, and the reader's
conversions waited for it.)

The results are those of :func:`relief_kit.core.history.features` and
:func:`relief_kit.core.payment_model.fit_payment_model` called one after the other
(tests hold them equal): the same pure functions, on the same inputs.
"""

from __future__ import annotations

import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pandas as pd

from relief_kit.core.calibration import calibrate_bills
from relief_kit.core.criteria import Criteria
from relief_kit.core.history import customer_ids, features, judged_in_order
from relief_kit.core.payment_model import PaymentModel, due_span, fit_scorecard

#: What the model's fit imports on first use (see ``payment_model._fit``).
_FITTING_MODULES = ("sklearn.linear_model", "sklearn.model_selection", "threadpoolctl")


def import_fitting_modules_aside() -> threading.Thread | None:
    """Start importing scikit-learn (what the payment model's fit needs) on a daemon
    thread, and return it; None when the process already has it. A later ``import``
    of the same modules on another thread waits for this one (Python's per-module
    import locks), so nothing is imported twice or half."""
    if all(name in sys.modules for name in _FITTING_MODULES):
        return None

    def load() -> None:
        import importlib

        for name in _FITTING_MODULES:
            try:
                importlib.import_module(name)
            except ImportError:  # the fit raises it where it is needed, with context
                return

    thread = threading.Thread(target=load, name="relief-kit-import-sklearn", daemon=True)
    thread.start()
    return thread


def history_and_model(invoices: pd.DataFrame, customers: pd.DataFrame, criteria: Criteria,
                      as_of: date, *, with_features: bool = True, with_model: bool = True
                      ) -> tuple[pd.DataFrame | None, PaymentModel | None]:
    """(history features of every customer, payment model) of a portfolio's canonical
    tables at ``as_of``; None in place of one not asked for (``with_features``,
    ``with_model``).

    The features frame is :func:`~relief_kit.core.history.features`' (one row per
    customer, indexed by id); the model :func:`~relief_kit.core.payment_model.
    fit_payment_model`'s, with its band calibration. Raises what those raise
    (:class:`~relief_kit.core.errors.InputError` for a repeated customer id)."""
    if not (with_features or with_model):
        return None, None
    if with_features:
        customer_ids(customers)  # a repeated id fails here, before any thread starts
    if with_model:
        import_fitting_modules_aside()
    judged, ordered = judged_in_order(invoices, criteria, as_of, customers=customers)
    if not with_model:
        return features(invoices, customers, criteria, as_of, judged=judged,
                        ordered=ordered), None
    with ThreadPoolExecutor(1, thread_name_prefix="relief-kit-fitting") as aside:
        frame = aside.submit(features, invoices, customers, criteria, as_of, judged=judged,
                             ordered=ordered) if with_features else None
        calibration = aside.submit(calibrate_bills, judged, criteria, as_of, ordered)
        spans = aside.submit(due_span, invoices)  # for how long customers stay
        scorecard = fit_scorecard(invoices, customers, criteria, as_of, judged=judged,
                                  ordered=ordered, spans=spans.result)
        model = scorecard.with_calibration(calibration.result())
        return (frame.result() if frame is not None else None), model
