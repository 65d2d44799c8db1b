"""Executing the case notebook on a worker's kernel, through papermill.

papermill parameterises and runs the notebook; its standard engine, handed a kernel
manager, builds a new kernel client for every notebook and leaves it open (a zmq
context, four sockets and a heartbeat thread per case). The ``relief-kit`` engine
registered here is papermill's nbclient engine with one difference: it runs the
notebook through the worker's own client, which the pool keeps for the kernel's life.
"""

from __future__ import annotations

from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines
from papermill.log import logger
from papermill.utils import merge_kwargs, remove_args

from relief_kit.shell.batch.kernels import Abandoned, KernelPool
from relief_kit.shell.batch.plan import CaseJob

ENGINE = "relief-kit"
#: Tag of cells the batch adds and removes again (the namespace reset).
BATCH_TAG = "relief-kit-batch"


class PooledClientEngine(NBClientEngine):
    """papermill's nbclient engine, executing through a client it is given (``kc``)."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False,
                                 stdout_file=None, stderr_file=None, start_timeout=60,
                                 execution_timeout=None, kc=None, **kwargs):
        kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
        final = merge_kwargs(kwargs, timeout=execution_timeout, startup_timeout=start_timeout,
                             kernel_name=kernel_name, log=logger, log_output=log_output,
                             stdout_file=stdout_file, stderr_file=stderr_file)
        client = PapermillNotebookClient(nb_man, **final)
        client.kc = kc  # nbclient uses a client already set and leaves it open
        return client.execute()


papermill_engines.register(ENGINE, PooledClientEngine)


def execute_case(job: CaseJob, pool: KernelPool):
    """The executed notebook of one case (batch cells removed). Retries once on a
    kernel that died; raises :class:`Abandoned` when the run was told to stop."""
    import nbformat
    import papermill
    from nbclient.exceptions import DeadKernelError

    notebook = nbformat.read(job.notebook, as_version=4)
    # Every case starts from an empty namespace, so nothing of one case shows in the next.
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
        kernel = pool.kernel()
        try:
            executed = papermill.execute_notebook(
                notebook, None, parameters=parameters, engine_name=ENGINE,
                km=kernel.manager, kc=kernel.client, kernel_name="python3",
                progress_bar=False, request_save_on_cell_execute=False,
                autosave_cell_every=0, execution_timeout=job.execution_timeout,
                start_timeout=60, log_output=False,
            )
            break
        except DeadKernelError:
            pool.retire()
            if pool.abandoned:
                raise Abandoned("o lote foi interrompido") from None
            if attempt == 2:
                raise
    executed.cells = [c for c in executed.cells
                      if BATCH_TAG not in c.get("metadata", {}).get("tags", [])]
    return executed
