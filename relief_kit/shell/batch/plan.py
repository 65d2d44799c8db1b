"""Planning a run: one job per request, with the fingerprint of everything its record shows.

A rerun skips a case whose fingerprint matches its archived ``case.json`` and whose
files still match its manifest and the archive's ledger (a damaged case is rewritten,
never called up to date).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from relief_kit import __version__, resources
from relief_kit.core.errors import InputError

NOTEBOOK = resources.REVIEW_NOTEBOOK
TEMPLATES = resources.TEMPLATES


@dataclass(frozen=True)
class CaseJob:
    """Everything one worker needs to write one case record: plain, picklable values."""

    request_id: str
    data_dir: str
    archive: str
    notebook: str
    criteria_path: str
    settings_path: str
    today: str  # ISO date or "" (the folder's as-of date, else the machine's)
    fingerprint: str
    isolated: bool = False
    data_fingerprint: str = ""  # the folder's, once per run: kernels load it once
    execution_timeout: int = 120


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tree_digest(folder: Path) -> str:
    """Digest of every file under a folder (names and contents), for fingerprints."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(_sha256(path.read_bytes()).encode())
    return digest.hexdigest()


def plan_jobs(
    data_dir: Path,
    archive: Path,
    *,
    criteria_path: Path,
    settings_path: Path,
    notebook: Path = NOTEBOOK,
    today: str = "",
    isolated: bool = False,
    request_ids: Iterable[str] | None = None,
    data_fingerprint: str = "",
    portfolio=None,
) -> list[CaseJob]:
    """One job per request, each with the fingerprint of everything its record shows.

    The fingerprint covers the case's own rows (customer, invoices, request), its
    evidence file, its answers and decisions in the case store, the criteria, the
    settings, the calibration (it prices every case), the notebook, the templates, the
    kit's version and the as-of date: a rerun skips a case whose fingerprint matches
    the one in its ``case.json``. ``data_fingerprint``: the folder's
    (:func:`relief_kit.shell.case.data_fingerprint`) when the caller has it already;
    ``portfolio``: the folder as ``load_folder`` reads it, when the caller has read it.
    """
    from relief_kit.core.as_of import as_of_date
    from relief_kit.core.criteria import load_criteria
    from relief_kit.shell.case import calibration_for
    from relief_kit.sources.tables import load_folder
    from relief_kit.store.cases import open_store

    portfolio = portfolio if portfolio is not None else load_folder(data_dir)
    criteria = load_criteria(criteria_path)
    # One as-of date for every case of the run: the option, else the folder's, else today.
    today = as_of_date(today or None, portfolio.as_of, date.today()).isoformat()
    calibration = calibration_for(data_dir, criteria, date.fromisoformat(today),
                                  portfolio=portfolio)  # a stale cache: not read again
    shared = hashlib.sha256()
    for part in (
        __version__.encode(),
        criteria_path.read_bytes(),
        settings_path.read_bytes(),
        notebook.read_bytes(),
        _tree_digest(TEMPLATES).encode(),
        json.dumps(calibration.to_dict(), sort_keys=True, default=str).encode(),
        today.encode(),
    ):
        shared.update(_sha256(part).encode())
    shared_digest = shared.hexdigest()
    from relief_kit.shell.case import data_fingerprint as folder_fingerprint

    folder_digest = data_fingerprint or folder_fingerprint(data_dir)

    wanted = set(request_ids) if request_ids is not None else None
    store = open_store(data_dir)
    jobs = []
    requests = portfolio.requests
    customers = portfolio.customers.set_index("customer_id", drop=False)
    for _, row in requests.iterrows():
        request_id = row["request_id"]
        if wanted is not None and request_id not in wanted:
            continue
        customer_id = row["customer_id"]
        digest = hashlib.sha256(shared_digest.encode())
        digest.update(row.to_json(date_format="iso").encode())
        digest.update(customers.loc[customer_id].to_json(date_format="iso").encode())
        bills = portfolio.invoices_of(customer_id)
        if len(bills):
            digest.update(bills.to_json(orient="records", date_format="iso").encode())
        evidence = portfolio.evidence_path(portfolio.request(request_id))
        if evidence is not None and evidence.is_file():
            digest.update(_sha256(evidence.read_bytes()).encode())
        digest.update(json.dumps(store.rows_for_requests([request_id]), sort_keys=True,
                                 default=str).encode())
        jobs.append(CaseJob(
            request_id=request_id,
            data_dir=str(Path(data_dir).resolve()),
            archive=str(Path(archive).resolve()),
            notebook=str(Path(notebook).resolve()),
            criteria_path=str(Path(criteria_path).resolve()),
            settings_path=str(Path(settings_path).resolve()),
            today=today,
            fingerprint=digest.hexdigest(),
            isolated=isolated,
            data_fingerprint=folder_digest,
        ))
    return jobs


def check_notebook(path: Path) -> None:
    """One line, before any case runs, when the case notebook cannot serve the batch:
    unreadable, not a notebook, or without its ``parameters`` cell (papermill would
    then ignore the case's id and every record would show the same case)."""
    import nbformat

    try:
        notebook = nbformat.read(str(path), as_version=4)
        nbformat.validate(notebook)
    except FileNotFoundError:
        raise InputError(f"{path}: notebook do caso não encontrado.")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: notebook ilegível ({exc}).")
    except Exception as exc:  # nbformat raises JSON, validation and reader errors alike
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: não é um notebook Jupyter válido ({first[:120]}); "
                         "restaure-o com git checkout notebooks/.")
    if not any("parameters" in cell.get("metadata", {}).get("tags", [])
               for cell in notebook.cells):
        raise InputError(f"{path}: nenhuma célula com a etiqueta 'parameters'; sem ela o "
                         "batch não sabe qual caso abrir (restaure-o com git checkout "
                         "notebooks/).")


def is_up_to_date(job: CaseJob, heads: dict[str, str] | None = None) -> bool:
    """The archived case.json records the same fingerprint as the job, and the case's
    files still match its manifest and the ledger (else it is written again)."""
    from relief_kit.shell.archive import case_is_intact

    case = Path(job.archive) / job.request_id
    case_json = case / "case.json"
    try:
        recorded = json.loads(case_json.read_text(encoding="utf-8")).get("fingerprint")
    except (OSError, ValueError):
        return False
    return recorded == job.fingerprint and case_is_intact(Path(job.archive), job.request_id,
                                                           heads)


def is_reduced(job: CaseJob, latest: dict[str, int]) -> bool:
    """A case purged after retention (or reduced at its subject's request) stays as it
    is, even with ``force``, unless a decision was recorded since: rewriting it would
    bring back what the purge removed."""
    case_json = Path(job.archive) / job.request_id / "case.json"
    try:
        facts = json.loads(case_json.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if "purge" not in facts and "erasure" not in facts:
        return False
    return (facts.get("decision") or {}).get("decision_id") == latest.get(job.request_id)
