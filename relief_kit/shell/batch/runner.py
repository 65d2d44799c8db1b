"""The run: plan, skip what is up to date, execute the rest on a kernel pool, report.

While the runner plans, each worker's kernel starts and loads the portfolio (imports
included); a case executed is exported, assembled and written to the archive on a
writer thread while its worker's kernel already runs the next case.

Interruption (Ctrl-C or SIGTERM, when the run is in the main thread): the first stops
taking new cases and lets those in progress finish; the second abandons them at once
(their kernels are killed, nothing half-written: a case folder appears whole or not
at all). Either way every kernel is shut down and :class:`BatchInterrupted` carries
what was written; a rerun resumes, skipping the cases already written.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import (
    FIRST_COMPLETED,
    Executor,
    Future,
    ThreadPoolExecutor,
    wait,
)
from dataclasses import dataclass, field
from pathlib import Path

from relief_kit.core.errors import InputError, ReliefKitError
from relief_kit.shell.batch.assemble import CaseOutcome
from relief_kit.shell.batch.plan import NOTEBOOK
from relief_kit.text import formatting as fmt


@dataclass
class BatchResult:
    outcomes: list[CaseOutcome] = field(default_factory=list)
    seconds: float = 0.0
    planned: int = 0  # requests the run planned (written, skipped, failed or left)
    #: The requests the run planned, in order (the PDF pass goes through them).
    requests: list[str] = field(default_factory=list)
    #: The second pass: one outcome per record.pdf added (or not) (shell.batch.pdfs).
    pdfs: list[CaseOutcome] = field(default_factory=list)
    pdf_seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def failed(self) -> list[CaseOutcome]:
        """Cases without their record, or without its PDF."""
        return [o for o in self.outcomes + self.pdfs if o.status == "failed"]

    def summary(self) -> str:
        """The end of a run in Portuguese: the records, then (if any) their PDFs."""
        text = (
            f"{fmt.count(len(self.outcomes), 'pedido', 'pedidos')}: "
            f"{fmt.count(self.count('written'), 'registro escrito', 'registros escritos')}, "
            f"{self.count('skipped')} já em dia, {self.count('failed')} com falha "
            f"({fmt.seconds(self.seconds)})."
        )
        if self.pdfs:
            made = sum(o.status == "written" for o in self.pdfs)
            text += (f"\nPDF/A: {fmt.count(made, 'registro', 'registros')} em PDF, "
                     f"{len(self.pdfs) - made} com falha ({fmt.seconds(self.pdf_seconds)}).")
        return text


class BatchInterrupted(ReliefKitError):
    """The run was stopped by a signal; ``result`` holds what was done before."""

    def __init__(self, result: BatchResult, planned: int, signals: int) -> None:
        self.result = result
        self.planned = planned
        self.signals = signals
        written = result.count("written")
        left = max(planned - written - result.count("skipped"), 0)
        super().__init__(
            f"Interrompido: {written} registros escritos nesta execução, "
            f"{result.count('skipped')} já estavam em dia, {left} ficaram para depois "
            "(nenhum pela metade). Rode o mesmo comando de novo para continuar de onde "
            "parou.")


class _Signals:
    """SIGINT and SIGTERM counted instead of raised, while the run lasts."""

    def __init__(self) -> None:
        self.count = 0
        self._previous: dict[int, object] = {}

    def __enter__(self) -> _Signals:
        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGINT, signal.SIGTERM):
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.count += 1

    def __exit__(self, *_: object) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)


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
    interrupted: Callable[[int], None] | None = None,
    pdfs: bool = True,
    pdf_progress: Callable[[CaseOutcome], None] | None = None,
) -> BatchResult:
    """Write (or bring up to date) one case record per request.

    Cases whose inputs are unchanged and whose files are intact are skipped (unless
    ``force``); a failing case is reported and every other case still completes.
    ``executor`` may be any ``concurrent.futures.Executor``; by default a thread pool of
    ``workers`` threads (the number of cores). ``interrupted(n)`` is told of the n-th
    Ctrl-C/SIGTERM; after one, :class:`BatchInterrupted` is raised once every kernel
    is down.

    Then, with ``pdfs`` (the default), a second pass adds ``record.pdf`` to every case
    folder of the run that lacks one (:mod:`relief_kit.shell.batch.pdfs`), told to
    ``pdf_progress``; ``pdfs=False`` times the records alone (the benchmark's path).
    That pass starts worker processes ("spawn"): a script that calls this must keep its
    top level under ``if __name__ == "__main__":``, as any script using
    ``multiprocessing`` (the ``relief-kit`` command, notebooks and tests already do).
    """
    from relief_kit.shell.batch.lazy import defer_rfc3987_syntax

    defer_rfc3987_syntax()  # about 1 s of imports the run never uses (see .lazy)
    with _Signals() as signals:
        return _run(Path(data_dir), Path(archive), signals, criteria_path=criteria_path,
                    settings_path=settings_path, workers=workers, executor=executor,
                    notebook=Path(notebook), today=today, isolated=isolated, force=force,
                    request_ids=request_ids, progress=progress, planned=planned,
                    interrupted=interrupted, pdfs=pdfs, pdf_progress=pdf_progress)


#: What a kernel imports before its first case: what the case notebook imports.
_KERNEL_IMPORTS = ("import relief_kit.shell.case, relief_kit.shell.facts, "
                   "relief_kit.shell.queue_page, relief_kit.shell.review, "
                   "relief_kit.shell.views\ndel relief_kit")


class _PortfolioHandoff:
    """The portfolio the runner reads to plan the run, handed to its kernels.

    The runner reads the data folder anyway (:func:`plan_jobs`); each kernel then read
    and parsed the same CSVs again (0.3 s of CPU per kernel at 2,000 customers, seconds
    at 100,000), and compiled the kit's templates (about 0.2 s each). :meth:`publish`
    pickles what ``load_folder`` returned into a private folder of the run (named like
    a kernel's folder, so a run killed with -9 leaves it to
    :func:`~relief_kit.shell.batch.kernels.clean_stale_kernels`), and names the templates
    compiled once (kept between runs in the user's cache,
    :mod:`~relief_kit.shell.batch.template_cache`); a kernel loads both in a few
    milliseconds. Without them (the folder could not be read, or pickled), each kernel
    reads the folder and compiles the templates itself.
    """

    def __init__(self) -> None:
        self.ready = threading.Event()
        #: The data's fingerprint (``case.data_fingerprint``), set before ``ready``.
        self.fingerprint: str | None = None
        self.path: Path | None = None
        self.templates: Path | None = None
        self._folder: Path | None = None

    def publish(self, portfolio, data_dir: Path, features: dict | None = None) -> None:
        """Pickle ``portfolio`` (``load_folder(data_dir)``) for the kernels, with the
        history ``features`` of the run (``LoadedPortfolio`` keys: ``(criteria.sha256,
        as_of)``; each kernel computed them in its first case, the same frame); never
        raises (a kernel then reads the folder itself)."""
        import dataclasses
        import pickle
        import tempfile

        from relief_kit.shell.batch.kernels import KERNEL_DIR_PREFIX

        try:
            self._folder = Path(tempfile.mkdtemp(prefix=f"{KERNEL_DIR_PREFIX}{os.getpid()}-"))
            path = self._folder / "portfolio.pickle"
            # As the kernel's own load_folder would give it: its folder's resolved path
            # (the one its cases name), no look-up built yet.
            fresh = dataclasses.replace(portfolio, folder=Path(str(data_dir.resolve())))
            with path.open("wb") as handle:
                pickle.dump((fresh, features or {}), handle,
                            protocol=pickle.HIGHEST_PROTOCOL)
            self.path = path
            self.templates = self._compile_templates()
        except Exception:
            self.path = None
        finally:
            self.ready.set()

    def _compile_templates(self) -> Path | None:
        """The kit's templates the kernels render, compiled: the user's cached copy when
        this kit has one, else compiled now (``shell.batch.template_cache``); each
        kernel compiled them in its first case."""
        from relief_kit.shell.batch.template_cache import compiled_templates_file

        return compiled_templates_file(self._folder)

    def give_up(self) -> None:
        """No portfolio to hand over: the kernels read the folder themselves."""
        self.ready.set()

    def close(self) -> None:
        self.ready.set()
        if self._folder is not None:
            import shutil

            shutil.rmtree(self._folder, ignore_errors=True)


def _preloader(data_dir: Path, handoff: _PortfolioHandoff) -> Callable:
    """``on_start`` of the run's kernels: import what the case notebook imports and load
    the portfolio once (``case.loaded_portfolio``, the cache every case of the run is
    served from; the runner's own reading, handed over by ``handoff`` with the kit's
    templates compiled, else the folder read again), then move all of it out of the
    garbage collector's reach (``gc.freeze``, as the reset between cases does: the
    collections of the first case and of the first reset then walk only what the case
    made), silently, leaving the namespace empty. While the kernel imports, the worker
    thread loads its own part of a case (:func:`_warm_worker`). The data's fingerprint
    comes with the handoff (``handoff.fingerprint``): the kernels start before the
    runner has computed it. Best effort: a folder that cannot be loaded is reported by
    the first case's own notebook, in its words."""
    folder = str(data_dir.resolve())

    def load_code(fingerprint: str, path: Path | None, templates: Path | None) -> str:
        code = "import pickle as _pickle, relief_kit.shell.case, relief_kit.text.render\n"
        if templates is not None:  # unreadable: the kernel compiles what it renders
            code += ("try:\n"
                     f"    with open({str(templates)!r}, 'rb') as _file:\n"
                     "        relief_kit.text.render.use_compiled(_pickle.load(_file))\n"
                     "except Exception:\n"
                     "    pass\n")
        if path is None:
            code += f"relief_kit.shell.case.loaded_portfolio({folder!r}, {fingerprint!r})\n"
        else:
            code += (f"with open({str(path)!r}, 'rb') as _file:\n"
                     "    _portfolio, _features = _pickle.load(_file)\n"
                     f"relief_kit.shell.case.loaded_portfolio({folder!r}, {fingerprint!r}, "
                     "portfolio=_portfolio, features=_features)\n"
                     "del _portfolio, _features\n")
        return code + ("del _pickle, relief_kit\nglobals().pop('_file', None)\n"
                       "import gc as _gc; _gc.freeze(); del _gc")

    def preload(kernel) -> None:
        try:
            imports = kernel.send_silently(_KERNEL_IMPORTS)
        except Exception:  # the case itself will say what is wrong
            return
        _warm_worker()
        handoff.ready.wait(timeout=600)
        try:
            if handoff.fingerprint is None:  # the run stopped before computing it
                kernel.finish_silently(imports, timeout=600)
                return
            load = kernel.send_silently(load_code(handoff.fingerprint, handoff.path,
                                                  handoff.templates))
            kernel.finish_silently(imports, timeout=600)
            kernel.finish_silently(load, timeout=600)
        except Exception:  # the case itself will say what is wrong with the folder
            pass

    return preload


def _run_features(portfolio, criteria_path: Path, today: str) -> dict:
    """The history features every case of the run reads (``history.features`` of the
    whole portfolio, for the run's criteria and as-of date, as ``plan_jobs`` resolves
    it), keyed as ``LoadedPortfolio`` keeps them: computed once here instead of once
    per kernel, in its first case (about 30 ms at 2,000 customers). Best effort: empty
    when they cannot be computed (each kernel then computes its own, and reports)."""
    from datetime import date

    from relief_kit.core.as_of import as_of_date
    from relief_kit.core.criteria import load_criteria
    from relief_kit.core.history import features

    try:
        criteria = load_criteria(criteria_path)
        as_of = as_of_date(today or None, portfolio.as_of, date.today())
        return {(criteria.sha256, as_of): features(portfolio.invoices, portfolio.customers,
                                                   criteria, as_of)}
    except Exception:
        return {}


def _warm_worker() -> None:
    """What the runner's first cases would load, loaded while the kernels load the
    portfolio (the worker threads would only wait): papermill and nbclient (execution),
    nbconvert (the export; each writer thread builds its own exporter, about 10 ms),
    nbformat's schema validator (every export and record.ipynb is validated), the
    messages and evidence modules. Best effort: a failure here is met again, and
    reported, by the case."""
    try:
        import nbformat

        import relief_kit.shell.batch.execute  # noqa: F401
        import relief_kit.shell.batch.export  # noqa: F401
        import relief_kit.shell.messages  # noqa: F401
        import relief_kit.sources.evidence  # noqa: F401

        nbformat.validate(nbformat.v4.new_notebook())
    except Exception:
        pass


def _warm(runner: ThreadPoolExecutor, pool, workers: int) -> list[Future]:
    """One kernel started and loaded on each of the runner's ``workers`` threads while
    the runner plans (a barrier keeps the warm-ups on distinct threads)."""
    barrier = threading.Barrier(workers, timeout=60)

    def warm() -> None:
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            pass  # fewer threads than expected: warm whatever thread this is
        pool.warm()

    return [runner.submit(warm) for _ in range(workers)]


def _run(data_dir: Path, archive: Path, signals: _Signals, *, criteria_path, settings_path,
         workers, executor, notebook, today, isolated, force, request_ids, progress,
         planned, interrupted, pdfs, pdf_progress) -> BatchResult:
    from relief_kit.shell.batch.kernels import KernelPool

    started = time.perf_counter()
    if not data_dir.is_dir():
        raise InputError(f"{data_dir}: pasta de dados não encontrada.")
    workers = max(1, workers or os.cpu_count() or 1)
    own = executor is None
    runner = executor or ThreadPoolExecutor(max_workers=workers, thread_name_prefix="case")
    # Workers in this process share the run's kernel pool; elsewhere (a cluster), each
    # case brings its own and closes it.
    local = own or isinstance(runner, ThreadPoolExecutor)
    handoff = _PortfolioHandoff()
    with KernelPool(isolated=isolated, on_start=_preloader(data_dir, handoff)) as pool:
        try:
            # The kernels first: their start-up (a process, ipykernel's and the kit's
            # imports) overlaps the runner's own imports, fingerprint and planning. Their
            # processes are launched before this thread starts that work: launching is
            # Python in this process (about 0.3 s), which this thread's imports slowed
            # down (one lock for both), while the second core waited for a kernel.
            if own and not isolated:  # our threads: one warm-up lands on each
                warming = _warm(runner, pool, workers)
                deadline = time.monotonic() + pool.start_timeout
                while not pool.wait_launched(workers, timeout=0.1):
                    # Not for ever: a warm-up that failed before its kernel's process
                    # was launched is never counted (the case will say why), and a
                    # Ctrl-C is handled once the run is planned.
                    if signals.count or time.monotonic() > deadline or any(
                            w.done() and not w.cancelled() and w.exception() is not None
                            for w in warming):
                        break
            from relief_kit.shell.case import data_fingerprint

            # The data's version, once per run: every kernel loads the folder once for it.
            fingerprint = handoff.fingerprint = data_fingerprint(data_dir)
            result = _plan_and_execute(
                data_dir, archive, signals, pool, runner, local, fingerprint, workers,
                handoff,
                criteria_path=criteria_path, settings_path=settings_path,
                notebook=notebook, today=today, isolated=isolated, force=force,
                request_ids=request_ids, progress=progress, planned=planned,
                interrupted=interrupted)
        except BaseException:
            pool.abandon()  # kernels still starting are not waited for
            raise
        finally:
            # Workers done before the pool closes (its kernels live on their loops).
            handoff.give_up()  # no worker left waiting for it
            if own:
                runner.shutdown(wait=True, cancel_futures=True)
            handoff.close()
    # The pool is closed here: every kernel down, every client, loop and context closed.
    result.seconds = time.perf_counter() - started
    if pdfs and not signals.count:
        from relief_kit.shell.batch.pdfs import add_pdfs

        started = time.perf_counter()
        result.pdfs = add_pdfs(archive, result.requests, workers=workers,
                               stop=lambda: signals.count > 0, progress=pdf_progress)
        result.pdf_seconds = time.perf_counter() - started
    if signals.count:
        raise BatchInterrupted(result, result.planned, signals.count)
    return result


def _plan_and_execute(data_dir: Path, archive: Path, signals: _Signals, pool, runner: Executor,
                      local: bool, fingerprint: str, workers: int,
                      handoff: _PortfolioHandoff, *, criteria_path,
                      settings_path, notebook, today, isolated, force, request_ids,
                      progress, planned, interrupted) -> BatchResult:
    from relief_kit.core.criteria import DEFAULT_CRITERIA
    from relief_kit.core.settings import DEFAULT_SETTINGS
    from relief_kit.shell.archive import clean_stale, ledger_heads, prepare_archive
    from relief_kit.shell.batch.assemble import (
        ExecutedCase,
        execute_job,
        run_case_alone,
        write_case,
    )
    from relief_kit.shell.batch.kernels import clean_stale_kernels
    from relief_kit.shell.batch.plan import check_notebook, is_reduced, is_up_to_date, plan_jobs
    from relief_kit.sources.tables import load_folder
    from relief_kit.store.cases import open_store

    check_notebook(notebook)
    prepare_archive(archive)
    clean_stale(archive)
    clean_stale_kernels()
    try:
        portfolio = load_folder(data_dir)
    except BaseException:
        handoff.give_up()  # a folder that cannot be read: nothing to hand over
        raise
    if local:  # the pool's kernels (elsewhere, each case reads its own rows)
        handoff.publish(portfolio, data_dir, _run_features(
            portfolio, Path(criteria_path or DEFAULT_CRITERIA), today))
    else:
        handoff.give_up()
    jobs = plan_jobs(
        data_dir, archive,
        criteria_path=Path(criteria_path or DEFAULT_CRITERIA),
        settings_path=Path(settings_path or DEFAULT_SETTINGS),
        notebook=notebook, today=today, isolated=isolated, request_ids=request_ids,
        data_fingerprint=fingerprint, portfolio=portfolio,
    )
    if planned:
        planned(len(jobs))
    with open_store(data_dir) as store:
        latest = {d.request_id: d.decision_id for d in store.latest_decisions()}
    result = BatchResult(planned=len(jobs), requests=[job.request_id for job in jobs])

    def report(outcome: CaseOutcome) -> None:
        result.outcomes.append(outcome)
        if progress:
            progress(outcome)

    heads = ledger_heads(archive)
    todo = []
    for job in jobs:
        if is_reduced(job, latest):
            report(CaseOutcome(job.request_id, "skipped", "expurgado: mantido como está"))
        elif not force and is_up_to_date(job, heads):
            report(CaseOutcome(job.request_id, "skipped"))
        else:
            todo.append(job)
    if not todo:
        pool.abandon()  # nothing to write: the kernels warming up are not needed

    seen = 0
    futures: dict[Future, object] = {}
    writes: set[Future] = set()  # cases executed, being written: always finished
    # Each executed case is exported, assembled and written (fsync after fsync) on a
    # thread of its own, so its worker's kernel starts the next case meanwhile instead
    # of idling through the export; in a cluster, each case writes its own.
    writer = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="archive") \
        if local else None
    try:
        for job in todo:
            if signals.count:
                break
            future = (runner.submit(execute_job, job, pool) if local
                      else runner.submit(run_case_alone, job))
            futures[future] = job
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            for future in done:
                if future.cancelled():
                    continue
                try:
                    outcome = future.result()
                except Exception as exc:  # the executor itself failed (a lost worker)
                    from relief_kit.shell.batch.assemble import one_line

                    outcome = CaseOutcome(futures[future].request_id, "failed",
                                          one_line(exc))
                if isinstance(outcome, ExecutedCase):
                    write = writer.submit(write_case, outcome, pool)
                    futures[write] = outcome.job
                    writes.add(write)
                    pending.add(write)
                elif outcome.status != "abandoned":
                    report(outcome)
            if signals.count > seen:
                seen = signals.count
                if interrupted:
                    interrupted(seen)
                pool.stop_taking()
                for future in pending - writes:
                    future.cancel()
                if seen >= 2:
                    pool.abandon()
    finally:
        if writer is not None:
            writer.shutdown(wait=True)
    order = {job.request_id: i for i, job in enumerate(jobs)}
    result.outcomes.sort(key=lambda o: order.get(o.request_id, 0))
    return result
