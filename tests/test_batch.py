"""The batch: real papermill runs of the review notebook into a verifiable archive."""

import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from relief_kit.shell.archive import verify
from relief_kit.shell.batch import NOTEBOOK, run_batch

pytestmark = pytest.mark.kernel

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"
SOME = ["R0001", "R0002", "R0003"]


@pytest.fixture
def data(tmp_path):
    folder = tmp_path / "dados"
    shutil.copytree(SAMPLE, folder)
    return folder


def test_archive_layout_manifest_and_rerun(data, tmp_path):
    archive = tmp_path / "arquivo"
    result = run_batch(data, archive, workers=2, request_ids=SOME)
    assert [o.status for o in result.outcomes] == ["written"] * 3, result.outcomes
    case = archive / "R0001"
    names = {p.relative_to(case).as_posix() for p in case.rglob("*") if p.is_file()}
    assert {"record.html", "record.ipynb", "case.json", "SHA256SUMS"} <= names
    assert any(n.startswith("evidence/") for n in names)
    assert any(n.startswith("messages/") for n in names)
    checked = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=case, capture_output=True,
                             text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert verify(archive) == []
    facts = json.loads((case / "case.json").read_text(encoding="utf-8"))
    assert facts["request_id"] == "R0001" and facts["status_key"] == "pending"
    assert len(facts["criteria"]["sha256"]) == 64
    html = (case / "record.html").read_text(encoding="utf-8")
    assert "CONFIDENCIAL" in html and "Aguardando decisão" in html
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org", "")
    assert "https://" not in html
    assert "data_dir =" not in html and "open_case(" not in html  # code hidden
    # The executed notebook names the notebook it ran (papermill's metadata), not a copy.
    executed = nbformat.read(case / "record.ipynb", as_version=4)
    assert executed.metadata.papermill.input_path == str(NOTEBOOK.resolve())
    assert executed.metadata.papermill.parameters["request_id"] == "R0001"

    again = run_batch(data, archive, workers=2, request_ids=SOME)
    assert [o.status for o in again.outcomes] == ["skipped"] * 3

    # A decision recorded for one case rewrites that case only, now with its messages.
    from relief_kit.tools.demo import simulate_decisions

    assert simulate_decisions(data, every=1) > 0
    decided = run_batch(data, archive, workers=2, request_ids=["R0001", "R0002"])
    assert [o.status for o in decided.outcomes] == ["written", "skipped"]
    facts = json.loads((case / "case.json").read_text(encoding="utf-8"))
    assert facts["status_key"] == "decided" and facts["decision"]["analyst"]
    assert (case / "messages" / "LEIA-ME.txt").is_file()
    assert verify(archive) == []
    # The messages reach the customer's contact, which the kernel handed over and the
    # batch kept out of case.json and the executed notebook.
    from relief_kit.sources.tables import load_folder

    portfolio = load_folder(data)
    customer = portfolio.customer(portfolio.request("R0001").customer_id)
    digits = "".join(c for c in customer.phone if c.isdigit())
    assert len(digits) >= 10  # R0001 came by WhatsApp: its message links to the phone
    messages = "".join(p.read_text(encoding="utf-8", errors="replace")
                       for p in (case / "messages").iterdir())
    assert digits in messages
    for name in ("case.json", "record.ipynb"):
        text = (case / name).read_text(encoding="utf-8")
        assert customer.phone not in text and digits not in text and '"contact"' not in text
    # The record a lawyer opens holds what the customer was told (or why nothing was).
    html = (case / "record.html").read_text(encoding="utf-8")
    told = facts["messages"]
    assert "Mensagens ao cliente" in html
    if told["needs_new_terms"]:
        assert not (case / "messages" / "email.eml").exists()
        assert "Precisa de novos termos" in html
        assert decided.outcomes[0].message.startswith("precisa de novos termos")
    else:
        import html as html_module

        assert told["prepared"] and all(m["sent"] is None for m in told["prepared"])
        for message in told["prepared"]:
            assert html_module.escape(message["text"]).splitlines()[0] in html


def test_a_reused_kernel_starts_each_case_from_an_empty_namespace():
    from relief_kit.core.errors import ReliefKitError
    from relief_kit.shell.batch.kernels import KernelPool

    with KernelPool() as pool:
        first = pool.kernel()
        first.run_silently("leftover = 'dados do caso anterior'")
        second = pool.kernel()  # the next case: the same kernel, emptied
        assert second is first and second.served == 2
        second.run_silently("assert 'leftover' not in globals()")
        with pytest.raises(ReliefKitError, match="ValueError"):
            second.run_silently("raise ValueError('falhou')")


def test_a_wait_on_a_kernel_that_was_killed_ends_at_once_not_at_its_timeout():
    from relief_kit.core.errors import ReliefKitError
    from relief_kit.shell.batch.kernels import KernelPool

    with KernelPool() as pool:
        kernel = pool.kernel()
        asked = kernel.send_silently("import time; time.sleep(120)")
        kernel.kill()
        started = time.monotonic()
        with pytest.raises(ReliefKitError, match="kernel parou"):
            kernel.finish_silently(asked, timeout=600)
        assert time.monotonic() - started < 10


def test_a_pool_abandoned_while_its_kernels_load_lets_their_loading_threads_go():
    """A run that finds nothing to write abandons its pool while the kernels may still be
    loading the portfolio (on_start waits for the kernel's answer): the threads loading
    them must end then, not when that wait times out (the runner waits for them; a
    re-run of the demo with every case up to date took ten minutes)."""
    import threading
    from contextlib import suppress

    from relief_kit.shell.batch.kernels import KernelPool

    loading = threading.Event()

    def load(kernel) -> None:  # as the runner's preloader: send, then wait for it
        asked = kernel.send_silently("import time; time.sleep(120)")
        loading.set()
        try:
            kernel.finish_silently(asked, timeout=600)
        except Exception:
            pass

    with KernelPool(on_start=load) as pool:
        def warm() -> None:
            with suppress(Exception):  # the abandoned pool's Abandoned
                pool.warm()

        warming = threading.Thread(target=warm)
        warming.start()
        assert loading.wait(60)
        started = time.monotonic()
        pool.abandon()
        warming.join(timeout=30)
        assert not warming.is_alive() and time.monotonic() - started < 10


def test_a_kernel_is_ready_once_its_idle_status_arrives_on_iopub_without_a_drain(
        monkeypatch):
    from jupyter_client.asynchronous.client import AsyncKernelClient

    from relief_kit.shell.batch.kernels import KernelPool

    def drained(*args, **kwargs):  # jupyter_client's wait, with its 0.2 s drain
        raise AssertionError("wait_for_ready should not be used")

    monkeypatch.setattr(AsyncKernelClient, "wait_for_ready", drained)
    with KernelPool() as pool:
        kernel = pool.kernel()  # started through _ready: kernel_info on shell and iopub
        kernel.run_silently("x = 1")  # and the channels serve a case's requests
        loop, client = kernel.loop, kernel.client
        asked = client.kernel_info()
        reply = loop.run_until_complete(client._async_recv_reply(asked, timeout=10))
        assert reply["content"]["status"] == "ok"
        assert loop.run_until_complete(kernel._idle_after(asked, 10))  # its own idle
        # A request that was never sent has no idle status: told within the timeout.
        assert not loop.run_until_complete(kernel._idle_after("nunca-enviado", 0.3))


def test_a_notebook_gets_its_language_info_from_the_kernels_start_not_a_new_request(
        tmp_path):
    from relief_kit.shell.batch.execute import execute_parameterised
    from relief_kit.shell.batch.kernels import KernelPool
    from relief_kit.tools.bench import _trivial_notebook

    path = tmp_path / "trivial.ipynb"
    nbformat.write(_trivial_notebook(), path)  # prints its parameter request_id
    with KernelPool() as pool:
        kernel = pool.kernel()
        asked = []
        kernel.client.kernel_info = (lambda ask: lambda: asked.append(1) or ask())(
            kernel.client.kernel_info)
        executed = execute_parameterised(str(path), {"request_id": "R41"}, pool)
        assert executed.cells[-1].outputs[0]["text"] == "R41\n"
        info = executed.metadata["language_info"]
        assert info == kernel.language_info and info["name"] == "python"
        assert info["version"] == ".".join(map(str, sys.version_info[:3]))
        assert asked == []  # no kernel_info round trip per notebook
        kernel.language_info = None  # not known: asked after the cells, as papermill does
        again = execute_parameterised(str(path), {"request_id": "R1"}, pool)
        assert asked == [1] and again.metadata["language_info"] == info


def test_the_engines_execute_is_papermills_own_but_for_the_kernel_info_request():
    """PooledNotebookClient.execute restates papermill's PapermillNotebookClient.execute
    (papermill 2.7): a papermill whose method does anything else fails here, so the
    engine is looked at again rather than silently left behind."""
    import ast
    import inspect
    import textwrap

    from papermill.clientwrap import PapermillNotebookClient

    function = ast.parse(textwrap.dedent(
        inspect.getsource(PapermillNotebookClient.execute))).body[0]
    statements = [ast.unparse(node) for node in function.body
                  if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))]
    assert statements == [
        "self.reset_execution_trackers()",
        # Windows only (the kit's batch runs on POSIX systems):
        "if sys.version_info[0] == 3 and sys.version_info[1] >= 8 and "
        "sys.platform.startswith('win'):\n"
        "    asyncio.set_event_loop_policy(asyncio.WindowsSelectorEventLoopPolicy())",
        "with self.setup_kernel(**kwargs):\n"
        "    self.log.info(f'Executing notebook with kernel: {self.kernel_name}')\n"
        "    self.papermill_execute_cells()\n"
        "    info_msg = self.wait_for_reply(self.kc.kernel_info())\n"
        "    self.nb.metadata['language_info'] = info_msg['content']['language_info']\n"
        "    self.set_widgets_metadata()",
        "return self.nb",
    ]


def test_a_kernel_tells_its_process_is_launched_before_its_client_waits_for_it():
    import zmq.asyncio
    from jupyter_core.utils import ensure_event_loop

    from relief_kit.shell.batch.kernels import WorkerKernel

    context = zmq.asyncio.Context()
    kernel = WorkerKernel(context, ensure_event_loop())
    told = []
    try:
        kernel.start(launched=lambda: told.append((kernel.pid, kernel.client)))
        (pid, client), = told
        assert pid is not None and client is None  # its process up, no client yet
        kernel.run_silently("x = 1")
    finally:
        kernel.close()
        context.term()


def test_the_runner_can_wait_for_a_kernel_process_to_be_launched():
    import threading

    from relief_kit.shell.batch.kernels import KernelPool

    with KernelPool() as pool:
        assert not pool.wait_launched(1, timeout=0.1)  # nothing started yet
        warming = threading.Thread(target=pool.warm)
        warming.start()
        assert pool.wait_launched(1, timeout=30)
        assert len(pool.live_pids()) == 1
        assert not pool.wait_launched(2, timeout=0.1)  # one kernel asked for, one started
        warming.join()
        waiting = threading.Thread(target=pool.wait_launched, args=(2, 60))
        waiting.start()
        pool.abandon()  # a waiter is told at once
        waiting.join(timeout=5)
        assert not waiting.is_alive()


def test_a_failing_case_and_a_dying_kernel_do_not_stop_the_others(data, tmp_path):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    position = next(i for i, c in enumerate(notebook.cells)
                    if "parameters" in c.metadata.get("tags", [])) + 1
    sabotage = nbformat.v4.new_code_cell(
        "if request_id == 'R0002':\n    raise RuntimeError('dados ruins neste caso')\n"
        "if request_id == 'R0003':\n    import os; os._exit(1)")
    notebook.cells.insert(position, sabotage)
    broken = tmp_path / "broken.ipynb"
    nbformat.write(notebook, broken)
    archive = tmp_path / "arquivo"
    result = run_batch(data, archive, workers=2, notebook=broken, request_ids=SOME)
    status = {o.request_id: o for o in result.outcomes}
    assert status["R0001"].status == "written"
    # Where in the cell (a cell of the review notebook runs several steps of the case).
    assert status["R0002"].status == "failed" and status["R0002"].message.endswith(
        ", linha 2: RuntimeError: dados ruins neste caso")
    assert status["R0003"].status == "failed"
    assert not (archive / "R0002").exists() and not (archive / "R0003").exists()
    assert "1 registro escrito," in result.summary() and "2 com falha" in result.summary()


def test_killed_batch_leaves_no_half_case_and_resumes(data, tmp_path):
    archive = tmp_path / "arquivo"
    command = [str(Path(sys.executable).parent / "relief-kit"), "batch", str(data), "--archive",
               str(archive), "--workers", "1"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(archive.glob("R*/SHA256SUMS")):
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)  # the runner and its kernels, mid-run
    process.wait()
    written = [p.parent for p in archive.glob("R*/SHA256SUMS")]
    assert written, "no case was written before the kill"
    for folder in archive.iterdir():
        if folder.is_dir() and not folder.name.startswith("."):
            assert (folder / "SHA256SUMS").is_file(), f"half-written case {folder.name}"
    result = run_batch(data, archive, workers=2)
    assert not result.failed
    assert result.count("skipped") >= len(written)
    assert verify(archive) == []
    assert not [p for p in archive.iterdir() if p.name.startswith(".")]


def test_an_oversized_written_request_fails_its_case_with_one_line(data, tmp_path):
    from relief_kit.sources.evidence import MAX_EVIDENCE_BYTES
    from tests.case_folder import evidence_of

    chat = evidence_of(data, "R0001")
    with chat.open("ab") as handle:
        handle.write(b"x" * (MAX_EVIDENCE_BYTES + 1))
    archive = tmp_path / "arquivo"
    result = run_batch(data, archive, workers=1, request_ids=["R0001", "R0002"])
    status = {o.request_id: o for o in result.outcomes}
    assert status["R0002"].status == "written"
    assert status["R0001"].status == "failed"
    assert status["R0001"].message == (
        f"{chat.resolve()}: arquivo de evidência grande demais para o arquivo "
        "(limite 5 MB).")
    assert not (archive / "R0001").exists() and verify(archive) == []


@pytest.mark.parametrize("content, expected", [
    ('{"cells": [', "não é um notebook Jupyter válido"),
    ("", "não é um notebook Jupyter válido"),
    ('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
     "nenhuma célula com a etiqueta 'parameters'"),
])
def test_a_broken_case_notebook_stops_the_batch_in_one_line(data, tmp_path, content,
                                                            expected):
    from relief_kit.core.errors import InputError

    broken = tmp_path / "caso.ipynb"
    broken.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=expected) as error:
        run_batch(data, tmp_path / "arquivo", notebook=broken)
    assert "\n" not in str(error.value) and str(error.value).startswith(str(broken))
    assert not (tmp_path / "arquivo").exists()


def test_the_kernels_load_the_portfolio_the_runner_read_not_the_folder_again(data, tmp_path):
    import pandas as pd

    from relief_kit.core.criteria import DEFAULT_CRITERIA
    from relief_kit.shell.batch.kernels import KernelPool
    from relief_kit.shell.batch.runner import _PortfolioHandoff, _preloader, _run_features
    from relief_kit.shell.case import data_fingerprint
    from relief_kit.sources.tables import load_folder

    folder = tmp_path / "copia"
    shutil.copytree(data, folder)
    fingerprint = data_fingerprint(folder)
    read = load_folder(folder)
    handoff = _PortfolioHandoff()
    handoff.fingerprint = fingerprint
    computed = _run_features(read, DEFAULT_CRITERIA, "")
    handoff.publish(read, folder, computed)
    try:
        handed, features = pickle.loads(handoff.path.read_bytes())
        assert handed.folder == folder.resolve() and handed.as_of == read.as_of
        [(key, frame)] = features.items()
        pd.testing.assert_frame_equal(frame, computed[key], check_exact=True)
        for name in ("customers", "invoices", "requests"):
            pd.testing.assert_frame_equal(getattr(handed, name), getattr(read, name),
                                          check_exact=True)
        (folder / "invoices.csv").rename(tmp_path / "gone.csv")  # only the pickle has them
        with KernelPool(on_start=_preloader(folder, handoff)) as pool:
            kernel = pool.kernel()
            kernel.run_silently(
                "import relief_kit.shell.case as c\n"
                f"p = c._LOADED[{str(folder.resolve())!r}].portfolio\n"
                f"assert len(p.invoices) == {len(read.invoices)}, len(p.invoices)\n"
                f"assert repr(list(c._LOADED[{str(folder.resolve())!r}]._features)) == "
                f"{repr([key])!r}\n"  # the runner's features, not computed again
                "import gc; assert gc.get_freeze_count() > 0")
    finally:
        handoff.close()
    assert not handoff.path.parent.exists()


def test_a_reset_sent_ahead_empties_the_namespace_before_anything_else_runs():
    from relief_kit.shell.batch.kernels import KernelPool

    with KernelPool() as pool:
        first = pool.kernel()
        first.run_silently("leftover = 1")
        pool.case_done()  # the reset goes now; nobody waits for it yet
        assert first.pending_reset is not None
        first.run_silently("assert 'leftover' not in globals()")  # after the reset
        assert first.pending_reset is None
        first.run_silently("leftover = 2")
        pool.case_done()
        second = pool.kernel()  # waits for the reset sent ahead instead of sending one
        assert second is first and second.pending_reset is None
        second.run_silently("assert 'leftover' not in globals()")


def test_a_batch_kernel_skips_empty_flushes_and_still_delivers_what_a_cell_prints():
    from relief_kit.shell.batch.kernels import KernelPool

    with KernelPool() as pool:
        kernel = pool.kernel()
        kernel.run_silently(  # no hand-over to the IOPub thread when nothing was written
            "import sys\n"
            "pub = sys.stdout.pub_thread\n"
            "scheduled = []\n"
            "stock = pub.schedule\n"
            "pub.schedule = lambda f: (scheduled.append(f), stock(f))[1]\n"
            "sys.stdout.flush(); sys.stderr.flush()\n"
            "pub.schedule = stock\n"
            "assert scheduled == [], scheduled")
        client = kernel.client
        msg_id = client.execute("print('olá'); print('mundo', file=sys.stderr)")
        streams = []
        while True:
            message = kernel.loop.run_until_complete(client._async_get_iopub_msg(timeout=30))
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            if message["msg_type"] == "stream":
                streams.append((message["content"]["name"], message["content"]["text"]))
            if (message["msg_type"] == "status"
                    and message["content"]["execution_state"] == "idle"):
                break  # whatever was printed arrived before the idle status
        assert ("stdout", "olá\n") in streams and ("stderr", "mundo\n") in streams
