"""Executing the case notebook on a worker's kernel, with papermill's own steps.

papermill's ``execute_notebook``, called once per case, reads the notebook again,
serialises the notebook it is handed only to parse it back, and serialises the executed
notebook once more for an output it then discards. Here the notebook is read once per
run (:func:`prepared_notebook`) and each case runs papermill's steps on a copy of it:
parameterise (``papermill.parameterize.parameterize_notebook``), record the run's
metadata (``prepare_notebook_metadata``, with the notebook's path as ``input_path``),
execute with the ``relief-kit`` engine and raise for a failed cell
(``raise_for_execution_errors``). The executed notebook carries papermill's metadata as
the stock verb writes it.

papermill's standard engine, handed a kernel manager, builds a new kernel client for
every notebook and leaves it open (a zmq context, four sockets and a heartbeat thread
per case). The ``relief-kit`` engine registered here is papermill's nbclient engine
with two differences: it runs the notebook through the worker's own client, which the
pool keeps for the kernel's life, and it fills the notebook's ``language_info`` from
what the kernel said when it started instead of asking again after every notebook
(:class:`PooledNotebookClient`). The namespace is emptied between cases by the pool
(:meth:`relief_kit.shell.batch.kernels.WorkerKernel.reset`), not by a notebook cell; the
reset is sent as soon as a case's last cell has run (``KernelPool.case_done``), so the
kernel empties itself while the worker exports the case.
"""

from __future__ import annotations

import copy
import os
import threading

from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines
from papermill.log import logger
from papermill.utils import merge_kwargs, remove_args

from relief_kit.shell.batch.kernels import Abandoned, KernelPool
from relief_kit.shell.batch.plan import CaseJob

ENGINE = "relief-kit"
KERNEL_NAME = "python3"


class PooledNotebookClient(PapermillNotebookClient):
    """papermill's notebook client on a worker's kernel, whose ``language_info`` is
    known from the kernel's start (``WorkerKernel.language_info``).

    papermill's ``execute`` (papermill 2.x) ends every notebook with a ``kernel_info``
    request only to copy the kernel's ``language_info`` into the notebook's metadata: a
    round trip (reply, busy, idle) per case through the runner's one interpreter, for
    what the same kernel process already said when it started. :meth:`execute` is
    papermill's with that value given instead of asked again (asked as papermill does
    when it is not known), without papermill's Windows event-loop line (the batch runs
    on POSIX systems); a test fails when papermill's method changes."""

    def __init__(self, nb_man, language_info=None, **kwargs):
        super().__init__(nb_man, **kwargs)
        self.known_language_info = language_info

    def execute(self, **kwargs):
        self.reset_execution_trackers()
        with self.setup_kernel(**kwargs):
            self.log.info(f"Executing notebook with kernel: {self.kernel_name}")
            self.papermill_execute_cells()
            language_info = self.known_language_info
            if language_info is None:
                reply = self.wait_for_reply(self.kc.kernel_info())
                language_info = reply["content"]["language_info"]
            self.nb.metadata["language_info"] = copy.deepcopy(language_info)
            self.set_widgets_metadata()
        return self.nb


class PooledClientEngine(NBClientEngine):
    """papermill's nbclient engine, executing through a client it is given (``kc``),
    with the kernel's ``language_info`` when known (see :class:`PooledNotebookClient`)."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False,
                                 stdout_file=None, stderr_file=None, start_timeout=60,
                                 execution_timeout=None, kc=None, language_info=None,
                                 **kwargs):
        kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
        final = merge_kwargs(kwargs, timeout=execution_timeout, startup_timeout=start_timeout,
                             kernel_name=kernel_name, log=logger, log_output=log_output,
                             stdout_file=stdout_file, stderr_file=stderr_file)
        client = PooledNotebookClient(nb_man, language_info=language_info, **final)
        client.kc = kc  # nbclient uses a client already set and leaves it open
        return client.execute()


papermill_engines.register(ENGINE, PooledClientEngine)

_prepared: dict[str, tuple[tuple[int, int], object]] = {}
_prepared_lock = threading.Lock()


def prepared_notebook(path: str):
    """The notebook at ``path`` as papermill loads it (``load_notebook_node``: upgraded
    to the latest v4, papermill's metadata in place), read once while the file is
    unchanged (same size and modification time). Shared: copy it before changing it.

    Raises ``OSError`` when the file cannot be read, nbformat's errors when it is not a
    notebook (the runner's ``check_notebook`` reports both before any case runs)."""
    from papermill.iorw import load_notebook_node

    stat = os.stat(path)
    version = (stat.st_mtime_ns, stat.st_size)
    with _prepared_lock:
        cached = _prepared.get(path)
        if cached is None or cached[0] != version:
            cached = _prepared[path] = (version, load_notebook_node(path))
        return cached[1]


def execute_case(job: CaseJob, pool: KernelPool):
    """The executed notebook (an ``nbformat.NotebookNode``) of one case, run on this
    worker's kernel with the case's parameters (see :func:`execute_parameterised`)."""
    parameters = {
        "data_dir": job.data_dir,
        "request_id": job.request_id,
        "criteria_file": job.criteria_path,
        "analyst": "",
        "interactive": False,
        "today": job.today,
        "data_fingerprint": job.data_fingerprint,
    }
    return execute_parameterised(job.notebook, parameters, pool,
                                 execution_timeout=job.execution_timeout)


def execute_parameterised(path: str, parameters: dict, pool: KernelPool, *,
                          execution_timeout: int = 120):
    """The notebook at ``path`` (read once, :func:`prepared_notebook`) executed with
    ``parameters`` on this worker's kernel: papermill's parameterise, metadata and
    error steps around the ``relief-kit`` engine. ``execution_timeout``: seconds per
    cell.

    Retries once on a kernel that died (``nbclient.exceptions.DeadKernelError`` on the
    second death); raises ``papermill.exceptions.PapermillExecutionError`` for a cell
    that failed and :class:`Abandoned` when the run was told to stop."""
    from nbclient.exceptions import DeadKernelError
    from papermill.execute import (
        prepare_notebook_metadata,
        raise_for_execution_errors,
        remove_error_markers,
    )
    from papermill.parameterize import parameterize_notebook

    template = prepared_notebook(path)
    for attempt in (1, 2):
        notebook = parameterize_notebook(copy.deepcopy(template), parameters,
                                         kernel_name=KERNEL_NAME, engine_name=ENGINE)
        notebook = remove_error_markers(prepare_notebook_metadata(notebook, path, None))
        kernel = pool.kernel()  # a namespace of the case's own (see KernelPool.kernel)
        try:
            executed = papermill_engines.execute_notebook_with_engine(
                ENGINE, notebook, kernel_name=KERNEL_NAME, input_path=path,
                output_path=None, progress_bar=False, log_output=False, start_timeout=60,
                stdout_file=None, stderr_file=None, km=kernel.manager, kc=kernel.client,
                language_info=kernel.language_info, execution_timeout=execution_timeout,
                autosave_cell_every=0)
            pool.case_done()  # the kernel empties itself while this case is exported
            break
        except DeadKernelError:
            pool.retire()
            if pool.abandoned:
                raise Abandoned("o lote foi interrompido") from None
            if attempt == 2:
                raise
    raise_for_execution_errors(executed, None)
    return executed
