"""The batch under load and interruption: flat resources over a long run under a low
descriptor limit; Ctrl-C and SIGTERM mid-run stop it cleanly and a rerun completes."""

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from relief_kit.shell.archive import verify
from tests.case_folder import sample_copy
from tests.resource_probe import lean_notebook

pytestmark = pytest.mark.kernel

CLI = str(Path(sys.executable).parent / "relief-kit")


@pytest.fixture(scope="module")
def portfolio(tmp_path_factory):
    """A tiny portfolio with 100 requests (three months of bills, one customer each)."""
    folder = tmp_path_factory.mktemp("carteira") / "dados"
    subprocess.run([CLI, "sample", str(folder), "--customers", "110", "--requests", "100",
                    "--months", "3", "--seed", "3"], check=True, capture_output=True)
    return folder


def _low_limit():
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))


def test_a_long_run_keeps_descriptors_threads_and_memory_flat(portfolio, tmp_path):
    notebook = tmp_path / "enxuto.ipynb"
    lean_notebook(str(notebook))
    done = subprocess.run(
        [sys.executable, "-m", "tests.resource_probe", str(portfolio), str(tmp_path / "arq"),
         str(notebook)], capture_output=True, text=True, preexec_fn=_low_limit,
        cwd=Path(__file__).resolve().parent.parent, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    print(figures)
    assert figures["limit"] == 256
    assert figures["written"] == 100 and figures["failed"] == []
    # Nothing grows (a thread the warm-up run's PDF pass left winding down may be gone);
    # OS threads included: pyarrow's pools, which start threads as concurrent reads
    # happen to overlap, are capped at one thread each and full before the warm-up
    # (resource_probe.fill_native_pools; the probe's set-up only: the kit leaves the
    # pools at pyarrow's defaults, bounded by their capacity).
    start, middle, end = figures["start"], figures["middle"], figures["end"]
    for key in ("fds", "threads", "os_threads"):
        assert middle[key] <= start[key] and end[key] <= middle[key], key
    assert figures["end"]["rss_mb"] - figures["start"]["rss_mb"] < 40


def _kernels_of(pid: int) -> list[int]:
    """Live kernel processes started by runner ``pid`` (their connection file names it)."""
    mark = f"relief-kit-kernel-{pid}-".encode()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    if mark in handle.read():
                        found.append(int(entry))
            except OSError:
                pass
    return found


@pytest.mark.parametrize("signals", [
    [signal.SIGINT], [signal.SIGTERM], [signal.SIGINT, signal.SIGINT]],
    ids=["ctrl-c", "sigterm", "ctrl-c-twice"])
def test_an_interrupted_batch_stops_cleanly_and_a_rerun_completes(tmp_path, signals):
    data = sample_copy(tmp_path)
    archive = tmp_path / "arquivo"
    runner = subprocess.Popen([CLI, "batch", str(data), "--archive", str(archive),
                               "--workers", "2"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not list(archive.glob("R*/SHA256SUMS")):
        time.sleep(0.1)
    assert _kernels_of(runner.pid), "no kernel running mid-run"
    for number in signals:
        runner.send_signal(number)  # the runner only, as a terminal's Ctrl-C reaches it
        time.sleep(0.3)
    out, err = runner.communicate(timeout=120)
    assert runner.returncode == 130, err[-2000:]
    assert "Traceback" not in out + err
    assert "registros escritos nesta execução" in err and "Rode o mesmo comando de novo" in err
    written = len(list(archive.glob("R*/SHA256SUMS")))
    assert written < 40, "the run did not stop taking cases"
    assert _kernels_of(runner.pid) == []
    assert not [p for p in archive.iterdir() if p.name.startswith(".tmp-")]
    for folder in archive.iterdir():
        if folder.is_dir() and not folder.name.startswith("."):
            assert (folder / "SHA256SUMS").is_file(), f"half-written case {folder.name}"
    assert verify(archive) == []
    again = subprocess.run([CLI, "batch", str(data), "--archive", str(archive), "--workers",
                            "2"], capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"{written} já em dia" in again.stdout
    assert verify(archive) == [] and len(list(archive.glob("R*/SHA256SUMS"))) == 40
