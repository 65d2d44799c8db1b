"""The batch's second pass: ``record.pdf`` (PDF/A) added to each case folder.

Why a pass of its own: rendering a record as PDF/A costs several times what the rest of
the case costs (layout of some ten A4 pages; see :mod:`relief_kit.shell.record_pdf`
and the README for the figures), so the records come first — every case's
``record.html``, notebook, ``case.json`` and messages are in the archive, as fast as
without PDFs — and their PDFs follow. The pass renders in worker *processes* (WeasyPrint
is not safe to run in several threads at once, and processes use every core), then
rewrites each folder atomically with the PDF added: a new manifest and a new ledger
line, exactly as any other version of the case.

A folder gets a PDF when it has a ``record.html`` and no ``record.pdf``: the records
the first pass just wrote (a rewritten folder starts without one), and those an
interrupted run or an older kit left without one. A folder whose files no longer match
its manifest is left alone and reported: re-signing it would hide the change.
"""

from __future__ import annotations

import multiprocessing
import signal
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path

from relief_kit.shell.batch.assemble import CaseOutcome

RECORD, PDF = "record.html", "record.pdf"


def needs_pdf(folder: Path) -> bool:
    """The case folder has its HTML record and no PDF yet."""
    return (folder / RECORD).is_file() and not (folder / PDF).exists()


def _quiet_worker() -> None:
    # Ctrl-C reaches the whole process group: the run decides what stops, not the worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _render(html: bytes) -> tuple[bytes, float]:
    """The PDF and the seconds its rendering took in the worker (not counting the wait)."""
    from relief_kit.shell.record_pdf import record_pdf

    started = time.perf_counter()
    pdf = record_pdf(html)
    return pdf, time.perf_counter() - started


def add_pdfs(archive: str | Path, request_ids: Iterable[str], *, workers: int = 1,
             stop: Callable[[], bool] = lambda: False,
             progress: Callable[[CaseOutcome], None] | None = None) -> list[CaseOutcome]:
    """Add ``record.pdf`` to each listed case folder that :func:`needs_pdf`.

    ``workers``: rendering processes. ``stop()`` is asked between cases: once true, no
    new PDF starts (the folders left keep their records and get their PDFs on the next
    run). Returns one outcome per folder handled: ``written`` or ``failed`` (one line:
    why), with the seconds the rendering took in its worker. Never raises for one case.
    """
    from relief_kit.shell.archive import (
        MANIFEST,
        case_is_intact,
        verify_case,
        write_case_folder,
    )
    from relief_kit.shell.batch.assemble import one_line

    archive = Path(archive)
    due = [rid for rid in request_ids if needs_pdf(archive / rid)]
    outcomes: list[CaseOutcome] = []

    def report(outcome: CaseOutcome) -> None:
        outcomes.append(outcome)
        if progress:
            progress(outcome)

    if not due:
        return outcomes
    context = multiprocessing.get_context("spawn")  # the parent runs threads: no fork
    with ProcessPoolExecutor(max_workers=max(1, min(workers, len(due))), mp_context=context,
                             initializer=_quiet_worker) as pool:
        futures: dict[Future, str] = {}
        queue = list(due)

        def submit_next() -> None:
            while queue and not stop():
                request_id = queue.pop(0)
                folder = archive / request_id
                if not case_is_intact(archive, request_id):
                    problems = verify_case(folder)
                    why = (str(problems[0]) if problems else
                           "a pasta não é a última versão registrada no livro-razão")
                    report(CaseOutcome(request_id, "failed", f"sem PDF: {why}; confira com "
                                       "relief-kit verify"))
                    continue
                html = (folder / RECORD).read_bytes()
                try:
                    futures[pool.submit(_render, html)] = request_id
                except Exception as exc:  # a worker died (BrokenProcessPool): none left
                    for left in [request_id, *queue]:
                        report(CaseOutcome(left, "failed", f"sem PDF: {one_line(exc)}"))
                    queue.clear()
                return

        for _ in range(max(1, workers) * 2):  # keep every worker busy, one in hand
            submit_next()
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                request_id = futures.pop(future)
                folder = archive / request_id
                seconds = 0.0
                try:
                    pdf, seconds = future.result()
                    files = {p.relative_to(folder).as_posix(): p.read_bytes()
                             for p in sorted(folder.rglob("*"))
                             if p.is_file() and p.name != MANIFEST}
                    files[PDF] = pdf
                    write_case_folder(archive, request_id, files)
                except Exception as exc:  # one case's PDF must not stop the others
                    report(CaseOutcome(request_id, "failed", f"sem PDF: {one_line(exc)}",
                                       seconds))
                else:
                    report(CaseOutcome(request_id, "written", "", seconds))
                submit_next()
            pending = set(futures)
    return outcomes


__all__ = ["add_pdfs", "needs_pdf"]
