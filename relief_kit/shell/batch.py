"""Batch case records: run the review notebook for every request into the archive.

For each request, papermill executes ``notebooks/review_case.ipynb`` non-interactively
with that case's parameters; nbconvert turns the executed notebook into the HTML
record (code hidden, our ``templates/record`` template); the messages that formalise a
decision are rendered from ``templates/messages``; everything lands atomically in
``ARCHIVE/<request id>/`` with a ``SHA256SUMS`` manifest.

Speed comes from what the obvious loop (one ``papermill`` command, then one
``jupyter nbconvert`` command per case) pays again and again:

- papermill runs in-process, so no Python start-up per case;
- each worker thread keeps one kernel and reuses it for up to ``cases_per_kernel``
  cases, so a case pays neither the kernel start nor the imports. Every case starts
  by wiping the kernel's namespace (``%reset -f``) so no value of one case is
  visible to the next; ``isolated=True`` gives every case a fresh kernel instead;
- one ``HTMLExporter`` per worker thread, built once;
- the calibration over the whole portfolio is computed once per run and cached; each
  case loads only its own customer's rows.

Threads, not processes (papermill issues #239, #511, #552). Any
``concurrent.futures`` executor can be passed in instead (e.g. a Dask cluster's
``client.get_executor()``): the job and its outcome are plain picklable values and
the worker keeps its kernel in thread-local state, wherever it runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future, ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

from relief_kit import __version__, resources
from relief_kit.core.errors import InputError, ReliefKitError
from relief_kit.shell.facts import CONTACT_KEY, FACTS_MIMETYPE

NOTEBOOK = resources.REVIEW_NOTEBOOK
TEMPLATES = resources.TEMPLATES
#: Tag of cells the batch adds and removes again (the namespace reset).
BATCH_TAG = "relief-kit-batch"
#: Tags whose cells are left out of the HTML record entirely.
HIDDEN_TAGS = ("parameters", "injected-parameters", BATCH_TAG, "hide-in-record")


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
    cases_per_kernel: int = 25


@dataclass(frozen=True)
class CaseOutcome:
    request_id: str
    status: str  # "written" | "skipped" | "failed"
    message: str = ""
    seconds: float = 0.0


@dataclass
class BatchResult:
    outcomes: list[CaseOutcome] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def failed(self) -> list[CaseOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    def summary(self) -> str:
        """One Portuguese line for the end of a run."""
        return (
            f"{len(self.outcomes)} pedidos: {self.count('written')} registros escritos, "
            f"{self.count('skipped')} já em dia, {self.count('failed')} com falha "
            f"({self.seconds:.1f} s)."
        )


# --------------------------------------------------------------------------- planning


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
) -> list[CaseJob]:
    """One job per request, each with the fingerprint of everything its record shows.

    The fingerprint covers the case's own rows (customer, invoices, request), its
    evidence file, its answers and decisions in the case store, the criteria, the
    settings, the calibration (it prices every case), the notebook, the templates, the
    kit's version and the as-of date: a rerun skips a case whose fingerprint matches
    the one in its ``case.json``.
    """
    from relief_kit.core.as_of import as_of_date
    from relief_kit.core.criteria import load_criteria
    from relief_kit.shell.case import calibration_for
    from relief_kit.sources.tables import load_folder
    from relief_kit.store.cases import open_store

    portfolio = load_folder(data_dir)
    criteria = load_criteria(criteria_path)
    # One as-of date for every case of the run: the option, else the folder's, else today.
    today = as_of_date(today or None, portfolio.as_of, date.today()).isoformat()
    calibration = calibration_for(data_dir, criteria, date.fromisoformat(today))
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
    from relief_kit.shell.case import data_fingerprint

    folder_digest = data_fingerprint(data_dir)

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


def is_up_to_date(job: CaseJob) -> bool:
    """The archived case.json records the same fingerprint as the job."""
    case_json = Path(job.archive) / job.request_id / "case.json"
    try:
        recorded = json.loads(case_json.read_text(encoding="utf-8")).get("fingerprint")
    except (OSError, ValueError):
        return False
    return recorded == job.fingerprint


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


# --------------------------------------------------------------------------- workers


class _Worker(threading.local):
    """Per-thread resources: a kernel (reused across cases) and an HTML exporter."""

    km = None
    served = 0
    exporter = None


_worker = _Worker()
_live_kernels: set = set()  # every kernel a worker started, so the runner can stop them
_live_lock = threading.Lock()


def _start_kernel():
    # nbclient runs its own event loop: a synchronous KernelManager's liveness check does
    # not work inside it (a kernel that dies mid-case hangs the run), an async one does.
    from jupyter_client import AsyncKernelManager
    from jupyter_core.utils import run_sync

    # IPC transport avoids the TCP port race between concurrent kernels. Its socket
    # files are named from a path prefix; each kernel gets its own prefix in a private
    # folder, or two threads starting kernels at once pick the same sockets. An
    # in-memory history database avoids SQLite locking errors between kernels.
    sockets = Path(tempfile.mkdtemp(prefix="relief-kit-kernel-"))
    km = AsyncKernelManager(kernel_name="python3", transport="ipc",
                            ip=str(sockets / "kernel"))
    run_sync(km.start_kernel)(extra_arguments=["--HistoryManager.hist_file=:memory:"])
    with _live_lock:
        _live_kernels.add(km)
    return km


def _alive(km) -> bool:
    from jupyter_core.utils import run_sync

    return bool(run_sync(km.is_alive)())


def _stop(km) -> None:
    from jupyter_core.utils import run_sync

    with _live_lock:
        _live_kernels.discard(km)
    try:
        run_sync(km.shutdown_kernel)(now=True)
    except Exception:  # a dead kernel cannot be shut down twice; nothing to keep
        pass
    if km.transport == "ipc":
        shutil.rmtree(Path(km.ip).parent, ignore_errors=True)


def _shutdown_kernel() -> None:
    if _worker.km is not None:
        _stop(_worker.km)
        _worker.km = None
        _worker.served = 0


def _kernel(job: CaseJob):
    """This thread's kernel: a fresh one when isolated, when dead, or when worn out."""
    if (job.isolated or _worker.km is None or _worker.served >= job.cases_per_kernel
            or _worker.km not in _live_kernels or not _alive(_worker.km)):
        _shutdown_kernel()
        _worker.km = _start_kernel()
    _worker.served += 1
    return _worker.km


def _exporter():
    if _worker.exporter is None:
        from nbconvert import HTMLExporter
        from traitlets.config import Config

        config = Config()
        config.TagRemovePreprocessor.enabled = True
        config.TagRemovePreprocessor.remove_cell_tags = set(HIDDEN_TAGS)
        config.HTMLExporter.exclude_input = True
        config.HTMLExporter.exclude_input_prompt = True
        config.HTMLExporter.exclude_output_prompt = True
        # Our page (templates/record): no CDN script, a CONFIDENCIAL banner, print CSS.
        config.HTMLExporter.extra_template_basedirs = [str(TEMPLATES)]
        config.HTMLExporter.template_name = "record"
        _worker.exporter = HTMLExporter(config=config)
    return _worker.exporter


def shutdown_kernels() -> None:
    """Stop every kernel the workers of this process started (end of a run)."""
    with _live_lock:
        kernels = list(_live_kernels)
    for km in kernels:
        _stop(km)


def _execute(job: CaseJob):
    import nbformat
    import papermill
    from nbclient.exceptions import DeadKernelError

    notebook = nbformat.read(job.notebook, as_version=4)
    # The reset's garbage collection only walks what the last case left: everything
    # alive after it (modules, the loaded portfolio) is frozen out of the collector.
    reset = nbformat.v4.new_code_cell(
        "get_ipython().run_line_magic('reset', '-f')\n"
        "import gc as _gc; _gc.freeze(); del _gc"
    )
    reset.metadata["tags"] = [BATCH_TAG]
    notebook.cells.insert(0, reset)
    parameters = {
        "data_dir": job.data_dir,
        "request_id": job.request_id,
        "criteria_file": job.criteria_path,
        "analyst": "",
        "interactive": False,
        "today": job.today,
        "data_fingerprint": job.data_fingerprint,
    }
    for attempt in (1, 2):
        km = _kernel(job)
        try:
            executed = papermill.execute_notebook(
                notebook, None, parameters=parameters, km=km, kernel_name="python3",
                progress_bar=False, request_save_on_cell_execute=False,
                autosave_cell_every=0, execution_timeout=job.execution_timeout,
                start_timeout=60, log_output=False,
            )
            break
        except DeadKernelError:
            _shutdown_kernel()
            if attempt == 2:
                raise
    executed.cells = [c for c in executed.cells
                      if BATCH_TAG not in c.get("metadata", {}).get("tags", [])]
    return executed


def _facts(notebook) -> dict:
    """The case's facts; the contact is taken out of the notebook's output on the way."""
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if FACTS_MIMETYPE in data:
                facts = dict(data[FACTS_MIMETYPE])
                data[FACTS_MIMETYPE] = {k: v for k, v in facts.items() if k != CONTACT_KEY}
                return facts
    raise InputError("o notebook não entregou os dados do caso (célula de fatos ausente).")


def run_case(job: CaseJob) -> CaseOutcome:
    """Execute, export and archive one case. Never raises: a failure is an outcome."""
    started = time.perf_counter()
    try:
        files = build_case_files(job)
        from relief_kit.shell.archive import write_case_folder

        write_case_folder(Path(job.archive), job.request_id, files)
    except Exception as exc:  # one failing case must not stop the others
        return CaseOutcome(job.request_id, "failed", _one_line(exc),
                           time.perf_counter() - started)
    stale = json.loads(files["case.json"])["messages"]["needs_new_terms"]
    note = ("precisa de novos termos: " + ", ".join(
        date.fromisoformat(d).strftime("%d/%m/%Y") for d in stale)
        + " já passou; nenhuma mensagem preparada") if stale else ""
    return CaseOutcome(job.request_id, "written", note, time.perf_counter() - started)


def build_case_files(job: CaseJob) -> dict[str, bytes]:
    """The files of one case folder (without the manifest), from a fresh execution."""
    import nbformat

    from relief_kit.shell.messages import prepare_case_messages

    executed = _execute(job)
    facts = _facts(executed)
    contact = facts.pop(CONTACT_KEY, None)
    if contact is None:
        raise InputError("o notebook não entregou o contato do cliente (célula de fatos).")
    facts["fingerprint"] = job.fingerprint
    facts["kit_version"] = __version__
    # The messages need the customer's contact, which case.json leaves out on purpose;
    # their text goes into the record and case.json (what the customer was told).
    messages = prepare_case_messages({**facts, "contact": contact},
                                     settings_path=job.settings_path)
    facts["messages"] = messages.record
    html, _ = _exporter().from_notebook_node(executed, resources={"relief_kit": facts})
    files: dict[str, bytes] = {
        "record.html": html.encode("utf-8"),
        "record.ipynb": nbformat.writes(executed).encode("utf-8"),
        "case.json": json.dumps(facts, ensure_ascii=False, indent=2, sort_keys=True,
                                default=str).encode("utf-8"),
    }
    for name, data in messages.files.items():
        files[f"messages/{name}"] = data
    evidence_file = facts.get("request", {}).get("evidence_file") or ""
    if evidence_file:
        from relief_kit.sources.evidence import MAX_EVIDENCE_BYTES, evidence_bytes
        from relief_kit.sources.tables import evidence_path

        # The same refusals as reading it: nothing outside evidence/, no links, no giants,
        # nothing but a regular file (a FIFO would block the batch).
        source = evidence_path(job.data_dir, evidence_file)
        if source.is_file() and source.stat().st_size > MAX_EVIDENCE_BYTES:
            raise InputError(f"{source}: arquivo de evidência grande demais para o arquivo "
                             f"(limite {MAX_EVIDENCE_BYTES // (1024 * 1024)} MB).")
        files[f"evidence/{Path(evidence_file).name}"] = evidence_bytes(source)
    return files


def _one_line(exc: BaseException) -> str:
    from nbclient.exceptions import DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, DeadKernelError):
        return "o kernel morreu durante a execução do caso (tentado duas vezes)"
    if isinstance(exc, PapermillExecutionError):
        return f"erro na célula {exc.exec_count}: {exc.ename}: {exc.evalue}".splitlines()[0]
    text = str(exc).strip().splitlines()
    if isinstance(exc, ReliefKitError) and text:
        return text[0]  # already a sentence for the user
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip(": ")


# --------------------------------------------------------------------------- runner


def run_batch(
    data_dir: str | Path,
    archive: str | Path,
    *,
    criteria_path: str | Path | None = None,
    settings_path: str | Path | None = None,
    workers: int | None = None,
    executor: Executor | None = None,
    notebook: str | Path = NOTEBOOK,
    today: str = "",
    isolated: bool = False,
    force: bool = False,
    request_ids: Iterable[str] | None = None,
    progress: Callable[[CaseOutcome], None] | None = None,
    planned: Callable[[int], None] | None = None,
) -> BatchResult:
    """Write (or bring up to date) one case record per request.

    Cases whose inputs are unchanged are skipped (unless ``force``); a failing case is
    reported and every other case still completes. ``executor`` may be any
    ``concurrent.futures.Executor``; by default a thread pool of ``workers`` threads
    (the number of cores).
    """
    from relief_kit.core.criteria import DEFAULT_CRITERIA
    from relief_kit.core.settings import DEFAULT_SETTINGS
    from relief_kit.shell.archive import clean_stale

    started = time.perf_counter()
    data_dir, archive = Path(data_dir), Path(archive)
    if not data_dir.is_dir():
        raise InputError(f"{data_dir}: pasta de dados não encontrada.")
    check_notebook(Path(notebook))
    archive.mkdir(parents=True, exist_ok=True, mode=0o700)
    clean_stale(archive)
    jobs = plan_jobs(
        data_dir, archive,
        criteria_path=Path(criteria_path or DEFAULT_CRITERIA),
        settings_path=Path(settings_path or DEFAULT_SETTINGS),
        notebook=Path(notebook), today=today, isolated=isolated, request_ids=request_ids,
    )
    if planned:
        planned(len(jobs))
    from relief_kit.store.cases import open_store

    with open_store(data_dir) as store:
        latest = {d.request_id: d.decision_id for d in store.latest_decisions()}
    result = BatchResult()
    todo = []
    for job in jobs:
        if is_reduced(job, latest):
            outcome = CaseOutcome(job.request_id, "skipped", "expurgado: mantido como está")
            result.outcomes.append(outcome)
            if progress:
                progress(outcome)
        elif not force and is_up_to_date(job):
            outcome = CaseOutcome(job.request_id, "skipped")
            result.outcomes.append(outcome)
            if progress:
                progress(outcome)
        else:
            todo.append(job)

    workers = max(1, workers or os.cpu_count() or 1)
    own = executor is None
    pool = executor or ThreadPoolExecutor(max_workers=workers, thread_name_prefix="case")
    try:
        futures: dict[Future, CaseJob] = {pool.submit(run_case, job): job for job in todo}
        for future in as_completed(futures):
            try:
                outcome = future.result()
            except Exception as exc:  # the executor itself failed (e.g. a lost worker)
                outcome = CaseOutcome(futures[future].request_id, "failed", _one_line(exc))
            result.outcomes.append(outcome)
            if progress:
                progress(outcome)
    finally:
        if own:
            pool.shutdown(wait=True)
            shutdown_kernels()
    order = {job.request_id: i for i, job in enumerate(jobs)}
    result.outcomes.sort(key=lambda o: order.get(o.request_id, 0))
    result.seconds = time.perf_counter() - started
    return result


def outcome_dict(outcome: CaseOutcome) -> dict:
    return asdict(outcome)
