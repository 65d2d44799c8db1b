"""Assembling a case folder: record, notebook, facts, messages and evidence copy.

:func:`run_case` is what a worker runs for one job: execute the notebook on the
worker's kernel (:func:`execute_job`, the kernel's part), then export, assemble and
write the folder atomically into the archive (:func:`write_case`, the runner's part;
see :mod:`relief_kit.shell.archive`). The runner runs the two parts on different
threads, so a worker's kernel starts its next case while the runner exports the last
one and the archive waits for the disk (each file is fsynced). Neither part raises: a
failure is an outcome, so one case cannot stop the others.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from relief_kit import __version__
from relief_kit.core.errors import InputError, ReliefKitError
from relief_kit.shell.batch.kernels import Abandoned, KernelPool
from relief_kit.shell.batch.plan import CaseJob
from relief_kit.shell.facts import CONTACT_KEY, FACTS_MIMETYPE


@dataclass(frozen=True)
class CaseOutcome:
    request_id: str
    status: str  # "written" | "skipped" | "failed" | "abandoned"
    message: str = ""
    seconds: float = 0.0  # from the start of its execution to its folder written
    #: Its own work: the execution, then the export, assembly and write, without the
    #: time it waited in between for a writer thread (the runner's pipeline).
    work_seconds: float = 0.0


def _facts(notebook) -> dict:
    """The case's facts; the contact is taken out of the notebook's output on the way."""
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if FACTS_MIMETYPE in data:
                facts = dict(data[FACTS_MIMETYPE])
                data[FACTS_MIMETYPE] = {k: v for k, v in facts.items() if k != CONTACT_KEY}
                return facts
    raise InputError("o notebook não entregou os dados do caso (saída de fatos ausente).")


def build_case_files(job: CaseJob, pool: KernelPool) -> dict[str, bytes]:
    """The files of one case folder (without the manifest), from a fresh execution."""
    from relief_kit.shell.batch.execute import execute_case

    return case_files(job, execute_case(job, pool))


def case_files(job: CaseJob, executed) -> dict[str, bytes]:
    """The files of one case folder (without the manifest) from its executed notebook
    (an ``nbformat.NotebookNode``, changed on the way: the contact leaves its facts)."""
    import nbformat

    from relief_kit.shell.batch.export import export_record
    from relief_kit.shell.messages import prepare_case_messages

    facts = _facts(executed)
    contact = facts.pop(CONTACT_KEY, None)
    if contact is None:
        raise InputError("o notebook não entregou o contato do cliente (saída de fatos).")
    facts["fingerprint"] = job.fingerprint
    facts["kit_version"] = __version__
    # The messages need the customer's contact, which case.json leaves out on purpose;
    # their text goes into the record and case.json (what the customer was told).
    messages = prepare_case_messages({**facts, "contact": contact},
                                     settings_path=job.settings_path)
    facts["messages"] = messages.record
    files: dict[str, bytes] = {
        # record.pdf follows in the batch's second pass (shell.batch.pdfs).
        "record.html": export_record(executed, facts),
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
        # An empty file is archived as it is: the record says it could not be read.
        files[f"evidence/{Path(evidence_file).name}"] = evidence_bytes(source,
                                                                     allow_empty=True)
    return files


@dataclass(frozen=True)
class ExecutedCase:
    """A case whose notebook has run: its job, the executed notebook (an
    ``nbformat.NotebookNode``), when its work started and how long the execution took."""

    job: CaseJob
    notebook: object
    started: float
    executing: float = 0.0


def _abandoned(job: CaseJob, started: float) -> CaseOutcome:
    return CaseOutcome(job.request_id, "abandoned", "interrompido antes de gravar",
                       time.perf_counter() - started)


def execute_job(job: CaseJob, pool: KernelPool) -> ExecutedCase | CaseOutcome:
    """Execute one case's notebook on this worker's kernel (the kernel's part of
    :func:`run_case`); a failure is an outcome. Never raises."""
    from relief_kit.shell.batch.execute import execute_case

    started = time.perf_counter()
    try:
        notebook = execute_case(job, pool)
        return ExecutedCase(job, notebook, started, time.perf_counter() - started)
    except Abandoned:
        return _abandoned(job, started)
    except Exception as exc:  # one failing case must not stop the others
        if pool.abandoned:
            return _abandoned(job, started)
        return CaseOutcome(job.request_id, "failed", one_line(exc),
                           time.perf_counter() - started)


def write_case(executed: ExecutedCase, pool: KernelPool) -> CaseOutcome:
    """Export and assemble an executed case and write its folder atomically into the
    archive (the runner's part of :func:`run_case`), unless the run was abandoned
    meanwhile. Never raises."""
    from relief_kit.shell.archive import write_case_folder

    job, started = executed.job, executed.started
    writing = time.perf_counter()
    try:
        if pool.abandoned:
            raise Abandoned("o lote foi interrompido")
        files = case_files(job, executed.notebook)
        if pool.abandoned:
            raise Abandoned("o lote foi interrompido")
        write_case_folder(Path(job.archive), job.request_id, files)
    except Abandoned:
        return _abandoned(job, started)
    except Exception as exc:  # a full disk, a notebook without its facts: this case only
        if pool.abandoned:
            return _abandoned(job, started)
        return CaseOutcome(job.request_id, "failed", one_line(exc),
                           time.perf_counter() - started)
    stale = json.loads(files["case.json"])["messages"]["needs_new_terms"]
    note = ("precisa de novos termos: " + ", ".join(
        date.fromisoformat(d).strftime("%d/%m/%Y") for d in stale)
        + " já passou; nenhuma mensagem preparada") if stale else ""
    now = time.perf_counter()
    return CaseOutcome(job.request_id, "written", note, now - started,
                       executed.executing + now - writing)


def run_case(job: CaseJob, pool: KernelPool) -> CaseOutcome:
    """Execute, export and archive one case. Never raises: a failure is an outcome."""
    executed = execute_job(job, pool)
    return write_case(executed, pool) if isinstance(executed, ExecutedCase) else executed


def run_case_alone(job: CaseJob) -> CaseOutcome:
    """:func:`run_case` with a kernel pool of its own, closed before returning: for
    executors whose workers do not share this process (a Dask cluster)."""
    with KernelPool(isolated=True) as pool:
        return run_case(job, pool)


def one_line(exc: BaseException) -> str:
    """A failure as the one line the summary shows."""
    from nbclient.exceptions import DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, DeadKernelError):
        return "o kernel morreu durante a execução do caso (tentado duas vezes)"
    if isinstance(exc, PapermillExecutionError):
        line = _failed_line(exc.traceback)
        where = f"erro na célula {exc.exec_count}" + (f", linha {line}" if line else "")
        return f"{where}: {exc.ename}: {exc.evalue}".splitlines()[0]
    text = str(exc).strip().splitlines()
    if isinstance(exc, ReliefKitError) and text:
        return text[0]  # already a sentence for the user
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip(": ")


#: IPython's frame of the cell itself in a traceback (``Cell In[4], line 2``), read with
#: the colours taken out (nbconvert's ``strip_ansi``).
_CELL_FRAME = re.compile(r"Cell In\[\d+\], line (\d+)")


def _failed_line(traceback: list[str] | None) -> int | None:
    """The line of the cell where a failed cell stopped (its first frame in IPython's
    traceback, the kernel's ``error`` output), or None when the traceback does not say:
    a cell of the review notebook runs several steps of the case."""
    from nbconvert.filters import strip_ansi

    for entry in traceback or ():
        found = _CELL_FRAME.search(strip_ansi(entry))
        if found:
            return int(found.group(1))
    return None
