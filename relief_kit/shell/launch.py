"""Starting the review: a parameterised copy of the notebook and a local server for it.

``relief-kit review DIR`` writes the review notebook with the folder and the request
filled in (papermill's ``prepare_only``: parameters injected, nothing executed) into a
work folder inside the data folder, then starts JupyterLab on it — or Voilà with
``--app``, code hidden — bound to 127.0.0.1 and protected by a random token.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from relief_kit import resources
from relief_kit.core import schema
from relief_kit.core.errors import InputError

NOTEBOOK = resources.REVIEW_NOTEBOOK
#: Where the analysts' copies of the notebook live, inside the data folder (they may
#: hold customer data once saved with outputs: the same protection as the folder).
WORK_DIR = Path(".relief-kit") / "review"
LAB_PORT = 8888
APP_PORT = 8866
#: Voilà kernels whose page went away are shut down after this long idle.
CULL_IDLE_SECONDS = 60
CULL_INTERVAL_SECONDS = 15
#: Each launch's Jupyter runtime files (kernel connection files), under the data
#: folder's work area, named by the launcher's pid: removed when that pid is gone.
RUNTIME_DIR = Path(".relief-kit") / "runtime"


@dataclass(frozen=True)
class Server:
    """A server ready to start: its command line, the URL to open and its folder."""

    command: list[str]
    url: str
    notebook: Path
    token: str
    port: int


def notebook_name(request_id: str) -> str:
    """A file name for a request's notebook whatever its id holds (``/``, spaces...)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", request_id).strip("._") or "pedido"
    return f"revisao_{safe}.ipynb"


def choose_request(data_dir: Path, request_id: str | None) -> str:
    """The request asked for, checked; else the first one without a recorded decision
    (else the first one)."""
    from relief_kit.sources.tables import load_case, load_folder

    if request_id:
        load_case(data_dir, request_id)  # one clear line when it does not exist
        return request_id
    portfolio = load_folder(data_dir)
    ids = list(portfolio.requests["request_id"])
    if not ids:
        raise InputError(f"{data_dir / schema.REQUESTS}: nenhum pedido para revisar.")
    from relief_kit.store.cases import open_store

    store = open_store(data_dir)
    for candidate in ids:
        if not store.history(candidate):
            return candidate
    return ids[0]


def prepare_notebook(data_dir: Path, request_id: str, *, analyst: str = "",
                     criteria_path: Path | None = None, today: str = "",
                     notebook: Path = NOTEBOOK) -> Path:
    """Write the review notebook for one request, parameters filled in, not executed."""
    import papermill

    work = data_dir / WORK_DIR
    work.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = work / notebook_name(request_id)
    papermill.execute_notebook(
        str(notebook), str(target), prepare_only=True, progress_bar=False,
        kernel_name="python3", log_output=False,
        parameters={
            "data_dir": str(data_dir.resolve()),
            "request_id": request_id,
            "criteria_file": str(criteria_path.resolve()) if criteria_path else "",
            "analyst": analyst,
            "interactive": True,
            "today": today,
        },
    )
    return target


def free_port(preferred: int) -> int:
    """``preferred`` when nothing listens on it at 127.0.0.1, else the next free one."""
    for port in range(preferred, preferred + 50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise InputError(f"--port: nenhuma porta livre entre {preferred} e {preferred + 49}.")


def _as_root() -> list[str]:
    # Jupyter refuses to start as root unless told; containers and CI often run as root.
    return ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []


_NO_NEWS = '{"fetchNews": "false", "checkForUpdates": false}\n'


def _lab_settings(root: Path) -> tuple[Path, Path]:
    """JupyterLab settings and workspaces for the review, beside its notebooks.

    The settings say "never fetch news or check for updates" so JupyterLab neither
    asks nor calls anyone; the analyst's other choices (theme...) are kept there too.
    """
    settings, workspaces = root.parent / "lab" / "settings", root.parent / "lab" / "workspaces"
    notification = settings / "@jupyterlab" / "apputils-extension" / \
        "notification.jupyterlab-settings"
    if not notification.is_file():
        notification.parent.mkdir(parents=True, exist_ok=True)
        notification.write_text(_NO_NEWS, encoding="utf-8")
    workspaces.mkdir(parents=True, exist_ok=True)
    return settings, workspaces


def lab_server(notebook: Path, *, port: int | None = None, token: str | None = None,
               open_browser: bool = True) -> Server:
    """JupyterLab on 127.0.0.1 with a token, opened on ``notebook``."""
    token = token or secrets.token_urlsafe(24)
    port = port or free_port(LAB_PORT)
    root = notebook.parent
    settings, workspaces = _lab_settings(root)
    command = [
        sys.executable, "-m", "jupyterlab",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}", f"--ServerApp.open_browser={open_browser}",
        # Nothing leaves the machine: no news feed, no update check.
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={workspaces}",
        *_as_root(), str(notebook),
    ]
    url = f"http://127.0.0.1:{port}/lab/tree/{notebook.name}?token={token}"
    return Server(command, url, notebook, token, port)


def app_server(notebook: Path, *, port: int | None = None, token: str | None = None,
               open_browser: bool = True) -> Server:
    """Voilà on 127.0.0.1 with a token: the same notebook, code hidden."""
    token = token or secrets.token_urlsafe(24)
    port = port or free_port(APP_PORT)
    command = [
        sys.executable, "-m", "voila", str(notebook),
        "--Voila.ip=127.0.0.1", f"--port={port}", f"--token={token}",
        "--strip_sources=True", f"--Voila.open_browser={open_browser}",
        f"--Voila.root_dir={notebook.parent}",
        # A page closed or reloaded leaves its kernel without a connection: cull it once
        # idle (a page still open is connected and never culled).
        f"--MappingKernelManager.cull_idle_timeout={CULL_IDLE_SECONDS}",
        f"--MappingKernelManager.cull_interval={CULL_INTERVAL_SECONDS}",
        "--MappingKernelManager.cull_connected=False",
    ]
    url = f"http://127.0.0.1:{port}/?token={token}"
    return Server(command, url, notebook, token, port)


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the launcher dies, however it dies
    (Linux ``prctl(PR_SET_PDEATHSIG)``; a no-op elsewhere)."""
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def runtime_dir(data_dir: Path) -> Path:
    """This launch's Jupyter runtime folder; those of launches no longer running (killed
    with -9, machine restarted) are removed first, with their stale connection files."""
    import shutil

    root = Path(data_dir) / RUNTIME_DIR
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    for old in root.iterdir():
        if old.name.isdigit() and not _running(int(old.name)):
            shutil.rmtree(old, ignore_errors=True)
    mine = root / str(os.getpid())
    mine.mkdir(exist_ok=True, mode=0o700)
    return mine


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run(server: Server, runtime: Path | None = None) -> int:
    """Run the server until Ctrl+C (or SIGTERM), then stop it and its kernels cleanly.

    The server dies with the launcher whatever signal ends it (even SIGKILL), and keeps
    its kernel connection files in ``runtime`` (cleaned at the next launch)."""
    import signal
    import subprocess

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    env = dict(os.environ)
    if runtime is not None:
        env["JUPYTER_RUNTIME_DIR"] = str(runtime)
    previous = signal.signal(signal.SIGTERM, interrupt)
    process = subprocess.Popen(server.command, env=env,
                               preexec_fn=_die_with_parent if sys.platform == "linux" else None)
    try:
        return process.wait()
    except KeyboardInterrupt:
        # Jupyter shuts its kernels down on SIGTERM; a kill is the last resort.
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        if runtime is not None:
            import shutil

            shutil.rmtree(runtime, ignore_errors=True)
