"""One relief case, gathered for the review notebook and the case record.

:func:`open_case` reads only what one case needs — its request, its customer and that
customer's bills (``tables.load_case``) — plus the written request, the answers and
decisions already in the case store, and the portfolio-wide payment calibration.

The calibration is the one thing that needs the whole portfolio. It is computed once
and cached as JSON in the data folder (``.relief-kit/``), keyed by the SHA-256 of
``invoices.csv``, the criteria file's hash and the as-of date, so a kernel per case
(the batch, or an analyst opening case after case) reads a small file instead of
parsing every bill again.

Load once, serve every case: given the data's fingerprint (``data_fingerprint``,
computed once per batch run by the parent), :func:`open_case` takes the portfolio, its
history features, the calibration, the criteria, the settings and the case store from
a module-level cache that survives the batch's namespace reset between cases. The
first case of a worker kernel loads them; every later case costs only its own work
(its rows by position, its history, its written request, its recommendation).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from relief_kit.core import payment_model as calibration_method
from relief_kit.core import schema
from relief_kit.core.agreements import reliefs_within
from relief_kit.core.as_of import as_of_date
from relief_kit.core.bills import bills_concerned, open_due_by
from relief_kit.core.calendar import NATIONAL, BusinessCalendar
from relief_kit.core.criteria import Criteria, load_criteria
from relief_kit.core.errors import InputError, ReliefKitError
from relief_kit.core.history import features, features_of, monthly_history
from relief_kit.core.model import (
    Checklist,
    Customer,
    HistoryFeatures,
    Recommendation,
    ReliefRequest,
)
from relief_kit.core.payment_model import PaymentModel, fit_payment_model
from relief_kit.core.recommend import recommend
from relief_kit.core.regulatory import SuspensionDates, suspension_dates
from relief_kit.core.settings import Provider, load_calendar, load_provider
from relief_kit.core.values import ValueProblem
from relief_kit.sources.tables import Portfolio, load_case, load_folder, read_folder_info

#: Folder inside the data folder for derived, rebuildable files (the calibration cache).
CACHE_DIR = ".relief-kit"
_CACHE_FORMAT = "1"


@dataclass
class Case:
    """Everything the review and the record show about one request.

    ``checklist`` holds the answers saved in the case store, else the intake answers
    of ``requests.csv`` (``answers_restored`` tells which). ``decision`` is the latest
    recorded decision and ``decisions`` every one of them, oldest first.
    """

    data_dir: Path
    request: ReliefRequest
    customer: Customer
    invoices: pd.DataFrame
    features: HistoryFeatures
    history: pd.DataFrame  # history.monthly_history: one row per bill, oldest first
    checklist: Checklist
    answers_restored: bool
    criteria: Criteria
    calibration: PaymentModel  # the payment model (with its fallback band calibration)
    today: date
    recommendation: Recommendation
    regulatory: SuspensionDates
    written_request: Any | None  # evidence.WrittenRequest
    evidence_problem: str  # one line when the written request could not be read
    provider: Provider
    decision: Any | None = None
    decisions: tuple = ()
    store: Any | None = field(default=None, repr=False)
    #: Agreements already made with the customer in the last 12 months (relief cap).
    reliefs_in_12_months: int = 0
    calendar: BusinessCalendar = NATIONAL  # the provider's business days (settings)
    bills: tuple = ()  # the bills concerned (core.bills.bills_concerned)

    @property
    def request_id(self) -> str:
        return self.request.request_id

    @cached_property
    def calibration_table(self) -> tuple[list[tuple[str, str]], list[dict]]:
        """The band calibration's table in Portuguese (columns as (code, header), rows),
        computed once per case (:func:`relief_kit.text.calibration.calibration_table`)."""
        from relief_kit.text.calibration import calibration_table

        return calibration_table(self.calibration.table(), self.calibration.window_days)

    def recommend(self, checklist: Checklist) -> Recommendation:
        """The recommendation for other answers (the live panel): pure, no I/O."""
        return recommend(self.customer, self.features, self.request, checklist,
                         self.criteria, self.today, self.calibration,
                         self.reliefs_in_12_months, self.calendar, self.bills)

    def with_answers(self, checklist: Checklist) -> Case:
        """This case with other answers and the recommendation that goes with them."""
        return replace(self, checklist=checklist, recommendation=self.recommend(checklist))

    def with_decisions(self, decisions: tuple) -> Case:
        return replace(self, decisions=tuple(decisions),
                       decision=decisions[-1] if decisions else None)


# --------------------------------------------------------------------------- opening


def resolve_today(today: date | str | None, folder: str | Path) -> date:
    """The as-of date for ``folder`` (:func:`relief_kit.core.as_of.as_of_date`): ``today``
    as given, else the folder's ``export.toml``, else the machine's date.

    Raises :class:`InputError` naming ``today`` when it is not a date, or when the
    folder's ``export.toml`` cannot be read.
    """
    try:
        if isinstance(today, date) or (today and str(today).strip()):
            return as_of_date(today, None, date.today())
        return as_of_date(None, read_folder_info(folder)[0], date.today())
    except ValueProblem as exc:
        raise InputError(f"today: {exc}.")


def notice_date_of(invoices: pd.DataFrame, today: date) -> date | None:
    """When the customer was first notified of a debt still open (Anatel RGC art. 71).

    The earliest notice among the bills still open or partly paid and due by ``today``:
    that notice starts the suspension clock. None when no open bill was notified.
    """
    positions = open_due_by(invoices, today)
    if not positions:
        return None
    notified = invoices["notified_on"].tolist()
    notices = [notified[i] for i in positions if not pd.isna(notified[i])]
    return min(notices).date() if notices else None


def debt_due_on(invoices: pd.DataFrame, today: date) -> bool:
    """Whether a bill still open or partly paid was due by ``today``: only then can a
    debt notice be sent (Anatel RGC 765/2023 art. 70)."""
    return bool(open_due_by(invoices, today))


def open_case(
    data_dir: str | Path,
    request_id: str,
    *,
    criteria_path: str | Path | None = None,
    today: date | str | None = None,
    store: Any | None = None,
    calibration: PaymentModel | None = None,
    settings_path: str | Path | None = None,
    data_fingerprint: str = "",
) -> Case:
    """Gather one case. Empty strings count as "not given" (notebook parameters).

    ``store`` defaults to the data folder's case store; ``calibration`` to the cached
    one (:func:`calibration_for`). With ``data_fingerprint`` (:func:`data_fingerprint`
    of the folder, computed once by the caller) the whole portfolio, its features, the
    calibration, criteria, settings and store are loaded once and kept for every later
    case with the same fingerprint (:func:`loaded_portfolio`); without it only this
    case's rows are read. Any problem is one :class:`ReliefKitError` line.
    """
    if not str(data_dir or "").strip():
        raise InputError("data_dir: indique a pasta de dados (relief-kit review PASTA).")
    if not str(request_id or "").strip():
        raise InputError("request_id: indique o pedido a revisar (relief-kit review PASTA "
                         "--request ID).")
    folder = Path(data_dir).expanduser()
    request_id = str(request_id).strip()
    if data_fingerprint:
        loaded = loaded_portfolio(folder, data_fingerprint)
        criteria = loaded.criteria(criteria_path)
        as_of = resolve_today(today, folder) if today or loaded.portfolio.as_of is None \
            else loaded.portfolio.as_of
        portfolio = loaded.portfolio
        request = portfolio.request(request_id)
        customer = portfolio.customer(request.customer_id)
        invoices = portfolio.invoices_of(request.customer_id)
        history_features = features_of(loaded.features(criteria, as_of), customer.customer_id)
        if calibration is None:
            calibration = loaded.calibration(criteria, as_of)
        provider = loaded.provider(settings_path)
        if store is None:
            store = loaded.store()
    else:
        criteria = load_criteria(criteria_path or None)
        as_of = resolve_today(today, folder)
        portfolio = load_case(folder, request_id)
        request = portfolio.request(request_id)
        customer = portfolio.customer(request.customer_id)
        invoices = portfolio.invoices_of(request.customer_id)
        frame = features(invoices, portfolio.customers, criteria, as_of)
        history_features = features_of(frame, customer.customer_id)
        if calibration is None:
            calibration = calibration_for(folder, criteria, as_of)
        provider = load_provider(settings_path or None)
    history = monthly_history(invoices, customer.customer_id, criteria, as_of)
    calendar = load_calendar(settings_path or None, state=criteria["suspension.state"])

    written, problem = None, ""
    try:
        path = portfolio.evidence_path(request)
        if path is not None:
            from relief_kit.sources.evidence import read_evidence

            if not path.exists():
                raise InputError(f"{path}: arquivo do pedido por escrito não encontrado em "
                                 f"{schema.EVIDENCE_DIR}/; confira requests.csv.")
            written = read_evidence(path, provider_authors=[provider.whatsapp_author])
    except ReliefKitError as exc:
        # The analyst still sees the rest of the case; the problem is shown in its place.
        problem = str(exc)

    if store is None:
        from relief_kit.store.cases import open_store

        store = open_store(folder)
    saved = store.load_answers(request.request_id)
    checklist = saved if saved is not None else Checklist.from_request(request)
    decisions = tuple(store.history(request.request_id))
    reliefs = reliefs_within(store.relief_days(customer.customer_id,
                                               excluding=request.request_id), as_of)

    bills = bills_concerned(invoices, customer, as_of)
    recommendation = recommend(customer, history_features, request, checklist, criteria,
                               as_of, calibration, reliefs, calendar, bills)
    regulatory = suspension_dates(notice_date_of(invoices, as_of), as_of, criteria, calendar,
                                  debt_due=debt_due_on(invoices, as_of))
    return Case(
        data_dir=folder,
        request=request,
        customer=customer,
        invoices=invoices,
        features=history_features,
        history=history,
        checklist=checklist,
        answers_restored=saved is not None,
        criteria=criteria,
        calibration=calibration,
        today=as_of,
        recommendation=recommendation,
        regulatory=regulatory,
        written_request=written,
        evidence_problem=problem,
        provider=provider,
        decision=decisions[-1] if decisions else None,
        decisions=decisions,
        store=store,
        reliefs_in_12_months=reliefs,
        calendar=calendar,
        bills=bills,
    )


# --------------------------------------------------------------------------- load once


def data_fingerprint(data_dir: str | Path) -> str:
    """SHA-256 over what :func:`relief_kit.sources.tables.load_folder` reads: the three
    tables and ``export.toml`` (names and contents). Computed once per batch run."""
    folder = Path(data_dir)
    digest = hashlib.sha256()
    for name in (*schema.TABLES, schema.FOLDER_INFO):
        path = folder / name
        digest.update(name.encode())
        digest.update(_file_sha256(path).encode() if path.is_file() else b"-")
    return digest.hexdigest()


class LoadedPortfolio:
    """A data folder loaded once, with what every case of a run derives from it.

    Features and calibrations are kept per criteria hash and as-of date; criteria and
    settings per file path; the case store is opened once. Everything here is read-only
    for the cases (answers and decisions are read from the store each time).
    """

    def __init__(self, folder: Path, fingerprint: str, portfolio: Portfolio | None = None,
                 features: dict[tuple[str, date], pd.DataFrame] | None = None) -> None:
        self.folder = folder
        self.fingerprint = fingerprint
        self.portfolio = portfolio if portfolio is not None else load_folder(folder)
        self._features: dict[tuple[str, date], pd.DataFrame] = dict(features or {})
        self._calibrations: dict[tuple[str, date], PaymentModel] = {}
        self._criteria: dict[str, Criteria] = {}
        self._providers: dict[str, Provider] = {}
        self._store = None

    def criteria(self, path: str | Path | None) -> Criteria:
        key = str(path or "")
        if key not in self._criteria:
            self._criteria[key] = load_criteria(path or None)
        return self._criteria[key]

    def provider(self, path: str | Path | None) -> Provider:
        key = str(path or "")
        if key not in self._providers:
            self._providers[key] = load_provider(path or None)
        return self._providers[key]

    def features(self, criteria: Criteria, as_of: date) -> pd.DataFrame:
        """History features of every customer (``history.features``), once."""
        key = (criteria.sha256, as_of)
        if key not in self._features:
            self._features[key] = features(self.portfolio.invoices, self.portfolio.customers,
                                           criteria, as_of)
        return self._features[key]

    def calibration(self, criteria: Criteria, as_of: date) -> PaymentModel:
        key = (criteria.sha256, as_of)
        if key not in self._calibrations:
            self._calibrations[key] = calibration_for(self.folder, criteria, as_of,
                                                      portfolio=self.portfolio)
        return self._calibrations[key]

    def store(self):
        if self._store is None:
            from relief_kit.store.cases import open_store

            self._store = open_store(self.folder)
        return self._store


#: One loaded portfolio per data folder, kept at module level so that it survives the
#: batch's namespace reset (``%reset -f``) between the cases a kernel serves.
_LOADED: dict[str, LoadedPortfolio] = {}


def loaded_portfolio(data_dir: str | Path, fingerprint: str, *,
                     portfolio: Portfolio | None = None,
                     features: dict[tuple[str, date], pd.DataFrame] | None = None
                     ) -> LoadedPortfolio:
    """The folder loaded once for ``fingerprint``; a new fingerprint loads it again.

    The fingerprint is the caller's word for the data's version (the batch computes it
    once per run with :func:`data_fingerprint`): it is not recomputed here, so a case
    costs no hashing of the whole folder. ``portfolio``: the folder as
    ``load_folder(data_dir)`` reads it, read already for that fingerprint (the batch's
    runner reads it to plan and hands it to its kernels), used instead of reading the
    folder again; ``features``: history features of that portfolio already computed, by
    ``(criteria.sha256, as_of)`` as :meth:`LoadedPortfolio.features` keys them (the
    batch's runner computes them once for all its kernels).
    """
    key = str(Path(data_dir).expanduser().resolve())
    cached = _LOADED.get(key)
    if cached is None or cached.fingerprint != fingerprint:
        _LOADED.pop(key, None)  # let the old data go before loading the new
        cached = LoadedPortfolio(Path(data_dir).expanduser(), fingerprint, portfolio,
                                 features)
        _LOADED[key] = cached
    return cached


# --------------------------------------------------------------------------- calibration


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except FileNotFoundError:
        raise InputError(f"{path}: arquivo ausente; crie-o ou importe os dados do ERP "
                         "(relief-kit import).")
    return digest.hexdigest()


def calibration_key(data_dir: str | Path, criteria: Criteria, as_of: date) -> str:
    """What the cached calibration depends on: what :func:`fit_payment_model` reads (the
    bills and the customers: their cancellations give how long a customer stays), the
    criteria and the as-of date. A hex SHA-256.

    Raises :class:`InputError` when either table is missing."""
    folder = Path(data_dir)
    parts = (_CACHE_FORMAT, getattr(calibration_method, "METHOD", ""),
             _file_sha256(folder / schema.INVOICES), _file_sha256(folder / schema.CUSTOMERS),
             criteria.sha256, as_of.isoformat())
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def calibration_cache_path(data_dir: str | Path, criteria: Criteria, as_of: date) -> Path:
    key = calibration_key(data_dir, criteria, as_of)
    return Path(data_dir) / CACHE_DIR / f"calibration-{key[:32]}.json"


def calibration_for(data_dir: str | Path, criteria: Criteria,
                    as_of: date | str | None = None, *, portfolio=None) -> PaymentModel:
    """The portfolio's payment model (fitted, validated out of time, with its fallback
    calibration), computed once and cached in the data folder.

    ``as_of`` defaults as in :func:`open_case` (the folder's export date, else today).
    ``portfolio``: the folder already loaded (not read again when the cache is stale).
    A folder that cannot be written to still works: the calibration is then computed
    each time.
    """
    folder = Path(data_dir)
    day = resolve_today(as_of, folder)
    path = calibration_cache_path(folder, criteria, day)
    try:
        return PaymentModel.from_dict(
            json.loads(path.read_text(encoding="utf-8"))["calibration"])
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        pass  # absent or unreadable: recompute and rewrite
    portfolio = portfolio if portfolio is not None else load_folder(folder)
    result = fit_payment_model(portfolio.invoices, portfolio.customers, criteria, day)
    payload = {"as_of": day.isoformat(), "criteria_sha256": criteria.sha256,
               "calibration": result.to_dict()}
    _write_atomically(path, json.dumps(payload, indent=1, sort_keys=True))
    # The same values every other kernel will read from the cache.
    return PaymentModel.from_dict(payload["calibration"])


def _write_atomically(path: Path, text: str) -> None:
    """Write aside and rename, so a concurrent reader never sees half a file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".calibration-", dir=path.parent)
    except OSError:
        return  # a read-only data folder: no cache, same results
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except OSError:
        Path(temporary).unlink(missing_ok=True)
