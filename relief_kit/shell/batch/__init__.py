"""Batch case records: run the review notebook for every request into the archive.

For each request, papermill executes ``notebooks/review_case.ipynb`` non-interactively
with that case's parameters; nbconvert turns the executed notebook into the HTML
record (code hidden, our ``templates/record`` template); the messages that formalise a
decision are rendered from ``templates/messages``; everything lands atomically in
``ARCHIVE/<request id>/`` with a ``SHA256SUMS`` manifest, and the archive's ledger
records the new version.

One public verb, :func:`run_batch`; a module per part:

- :mod:`.plan` — one job per request and the fingerprint that lets a rerun skip it;
- :mod:`.kernels` — the kernel pool: one kernel and one client per worker, reused for
  up to ``cases_per_kernel`` cases (``%reset -f`` between cases, sent by the pool), all
  closed with the run, so descriptors, threads and memory stay flat;
- :mod:`.execute` — papermill's steps on a worker's kernel and client, the notebook
  read once per run;
- :mod:`.export` — the HTML record (one exporter per worker);
- :mod:`.assemble` — the case folder's files, written atomically;
- :mod:`.runner` — the run: skipping, workers, interruption, the summary;
- :mod:`.lazy` — imports the run would pay for and never use, deferred.

Threads, not processes (papermill issues #239, #511, #552). Any
``concurrent.futures`` executor can be passed in instead (e.g. a Dask cluster's
``client.get_executor()``): the job and its outcome are plain picklable values.
"""

from relief_kit import resources
from relief_kit.shell.batch.runner import BatchInterrupted, BatchResult, run_batch

NOTEBOOK = resources.REVIEW_NOTEBOOK
TEMPLATES = resources.TEMPLATES

__all__ = ["NOTEBOOK", "TEMPLATES", "BatchInterrupted", "BatchResult", "run_batch"]
