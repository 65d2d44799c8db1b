"""Starting the review: a parameterised copy of the notebook and a local server for it.

``relief-kit review DIR`` writes the review notebook with the folder and the request
filled in (papermill's ``prepare_only``: parameters injected, nothing executed) into a
work folder inside the data folder, then starts the app — Voilà, which runs the notebook
as it opens and shows no code — or, with ``--lab``, JupyterLab on the same notebook.
Either server is bound to 127.0.0.1, protected by a random token passed in its
environment (``ps`` shows any local user a command line, not another user's
environment), calls no one outside the machine, and talks to its local kernel over IPC
sockets in the runtime folder rather than TCP ports any local user could connect to.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from relief_kit import resources
from relief_kit.core import schema
from relief_kit.core.errors import InputError

NOTEBOOK = resources.REVIEW_NOTEBOOK
QUEUE_NOTEBOOK = resources.QUEUE_NOTEBOOK
#: Where the analysts' copies of the notebook live, inside the data folder (they may
#: hold customer data once saved with outputs: the same protection as the folder).
WORK_DIR = Path(".relief-kit") / "review"
#: The app's pages (the queue and the case), alone in their folder: Voilà serves that
#: folder, so nothing else in it can be opened through the app.
APP_DIR = Path(".relief-kit") / "app"
LAB_PORT = 8888
APP_PORT = 8866
#: A page that goes away normally (reloaded, closed, left for another page) has its
#: kernel shut down at once: Voilà's page sends a ``navigator.sendBeacon`` to
#: ``/voila/api/shutdown/<kernel>`` on ``beforeunload`` (voila >= 0.5). A page that never
#: says goodbye (the browser killed or crashed, the machine asleep, a page fetched by a
#: script) leaves a kernel with no connection: Jupyter's culling stops it once it has been
#: idle this long (a page still open is connected, ``cull_connected=False``: never
#: culled). The beacon is the prompt path, the culler the safety net for the rest.
CULL_IDLE_SECONDS = 60
CULL_INTERVAL_SECONDS = 15
#: The shortest idle time allowed: Jupyter's culler also stops a kernel still starting
#: once it has been idle that long, and the Voilà page waiting for that kernel then never
#: finishes loading (seen with 4 s on a loaded machine, where a kernel took longer than
#: that to start).
MIN_CULL_IDLE_SECONDS = 10
#: The environment variable that changes the idle time (whole seconds >= 10), for a
#: machine short of memory, or a test that watches the culler work.
CULL_IDLE_ENV = "RELIEF_KIT_KERNEL_IDLE_SECONDS"
#: Each launch's Jupyter runtime files (kernel connection files), under the data
#: folder's work area, named by the launcher's pid: removed when that pid is gone.
RUNTIME_DIR = Path(".relief-kit") / "runtime"


@dataclass(frozen=True)
class Server:
    """A server ready to start: its command line, the environment to add to it (the
    token, the app template), the URL to open and its notebook."""

    command: list[str]
    url: str
    notebook: Path
    token: str
    port: int
    env: dict[str, str] = field(default_factory=dict)

    def environment(self) -> dict[str, str]:
        """The process environment to start the server with."""
        return {**os.environ, **self.env}


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


#: Cells only JupyterLab needs (how to run the notebook): dropped from the app's copy.
LAB_ONLY_TAG = "lab-only"


def prepare_notebook(data_dir: Path, request_id: str, *, analyst: str = "",
                     criteria_path: Path | None = None, today: str = "",
                     notebook: Path = NOTEBOOK, app: bool = False,
                     work_dir: Path = WORK_DIR, name: str = "") -> Path:
    """Write the review notebook for one request, parameters filled in, not executed.

    Paths are written relative to the notebook (a kernel starts in the notebook's
    folder), so no machine path or OS user name is shown in the notebook. ``app``: the
    copy for Voilà, without the cells that explain how to run it in JupyterLab.
    ``work_dir`` (inside ``data_dir``) and ``name``: where to write it (default
    ``.relief-kit/review/revisao_<id>.ipynb``).
    """
    work = data_dir / work_dir
    work.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = work / (name or notebook_name(request_id))
    return _prepare(notebook, target, app=app, parameters={
        "data_dir": _relative(data_dir, work),
        "request_id": request_id,
        "criteria_file": _relative(criteria_path, work) if criteria_path else "",
        "analyst": analyst,
        "interactive": True,
        "today": today,
    })


def prepare_app(data_dir: Path, *, analyst: str = "", criteria_path: Path | None = None,
                today: str = "") -> Path:
    """Write the review app's two pages into ``DIR/.relief-kit/app/`` and return that
    folder: the queue (``fila.ipynb``) and the case page (``caso.ipynb``, the review
    notebook without a request: the page's address names it, ``caso.ipynb?pedido=ID``).
    Parameters as in :func:`prepare_notebook`; raises ``OSError`` when the folder
    cannot be written."""
    from relief_kit.shell.queue_page import CASE_PAGE, QUEUE_PAGE

    prepare_notebook(data_dir, "", analyst=analyst, criteria_path=criteria_path,
                     today=today, app=True, work_dir=APP_DIR, name=CASE_PAGE)
    work = data_dir / APP_DIR
    _prepare(QUEUE_NOTEBOOK, work / QUEUE_PAGE, app=True, parameters={
        "data_dir": _relative(data_dir, work),
        "criteria_file": _relative(criteria_path, work) if criteria_path else "",
        "today": today,
    })
    return work


def _prepare(notebook: Path, target: Path, *, parameters: dict, app: bool) -> Path:
    import nbformat
    import papermill

    papermill.execute_notebook(
        str(notebook), str(target), prepare_only=True, progress_bar=False,
        kernel_name="python3", log_output=False, parameters=parameters)
    if app:
        prepared = nbformat.read(target, as_version=4)
        prepared.cells = [cell for cell in prepared.cells
                          if LAB_ONLY_TAG not in cell.metadata.get("tags", [])]
        nbformat.write(prepared, target)
    return target


def _relative(path: Path, start: Path) -> str:
    """``path`` as seen from ``start`` (``../..``), or absolute on another drive."""
    try:
        return Path(os.path.relpath(path.resolve(), start.resolve())).as_posix()
    except ValueError:
        return str(path.resolve())


# --------------------------------------------------------------------------- analyst


def analyst_file() -> Path:
    """Where the analyst's name is remembered, per OS user (beside the pseudonym key)."""
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "relief-kit" / "analyst.toml"


def remembered_analyst(path: Path | None = None) -> str:
    """The name this user gave the last time, or ``""``."""
    path = path or analyst_file()
    try:
        return str(tomllib.loads(path.read_text(encoding="utf-8")).get("name", "")).strip()
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return ""


def remember_analyst(name: str, path: Path | None = None) -> Path:
    """Keep ``name`` for this user's next reviews (readable by the user only)."""
    import tomli_w

    path = path or analyst_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(tomli_w.dumps({"name": name.strip()}))
    return path


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


#: Where the app's Voilà template lives: a Jupyter data folder (JUPYTER_PATH).
APP_TEMPLATE = "relief-kit"
JUPYTER_DATA = resources.template_dir("jupyter")


def _local_kernels() -> list[str]:
    # The kernel runs on this machine: IPC sockets, files beside the connection file in
    # the user's own runtime folder (mode 700), instead of TCP ports on 127.0.0.1 that
    # any local user can reach. That folder stays the short default: a Unix socket's
    # path is limited to about 100 characters, which a data folder's path can exceed.
    return ["--KernelManager.transport=ipc"]


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
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root}", f"--ServerApp.open_browser={open_browser}",
        # Nothing leaves the machine: no news feed, no update check.
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={workspaces}",
        *_local_kernels(), *_as_root(), str(notebook),
    ]
    url = f"http://127.0.0.1:{port}/lab/tree/{notebook.name}?token={token}"
    # jupyter-server's IdentityProvider reads JUPYTER_TOKEN when no token is configured.
    return Server(command, url, notebook, token, port, {"JUPYTER_TOKEN": token})


def cull_idle_seconds(environ: dict[str, str] | None = None) -> int:
    """How long an app kernel without a page may sit idle before it is shut down:
    :data:`CULL_IDLE_ENV` when set (whole seconds >= :data:`MIN_CULL_IDLE_SECONDS`), else
    :data:`CULL_IDLE_SECONDS`.
    Raises ``InputError`` (one line) for any other value."""
    raw = (os.environ if environ is None else environ).get(CULL_IDLE_ENV, "").strip()
    if not raw:
        return CULL_IDLE_SECONDS
    if not raw.isdigit() or int(raw) < MIN_CULL_IDLE_SECONDS:
        raise InputError(f"{CULL_IDLE_ENV}={raw!r}: informe um número inteiro de segundos, "
                         f"{MIN_CULL_IDLE_SECONDS} ou mais (padrão: {CULL_IDLE_SECONDS}).")
    return int(raw)


def app_server(notebook: Path, *, port: int | None = None, token: str | None = None,
               open_browser: bool = True, request_id: str | None = None) -> Server:
    """Voilà on 127.0.0.1 with a token: the notebook run as it opens, code hidden,
    nothing loaded from the network (the kit's template).

    ``notebook``: one notebook (that page alone), or the app's folder from
    :func:`prepare_app` — then the URL opens the queue, or with ``request_id`` that
    request's case page, and the pages link to each other."""
    from urllib.parse import quote

    from relief_kit.shell.queue_page import QUEUE_PAGE, RENDER_PREFIX, case_address

    token = token or secrets.token_urlsafe(24)
    port = port or free_port(APP_PORT)
    folder = notebook.is_dir()
    idle = cull_idle_seconds()
    command = [
        # Voilà itself, with a hook that lets a page shut its kernel down (voila_app).
        sys.executable, "-m", "relief_kit.shell.voila_app", str(notebook),
        "--Voila.ip=127.0.0.1", f"--port={port}",
        # auto_token without a token: the IdentityProvider takes JUPYTER_TOKEN.
        "--Voila.auto_token=True",
        "--strip_sources=True", f"--Voila.open_browser={open_browser}",
        f"--Voila.root_dir={notebook if folder else notebook.parent}",
        f"--template={APP_TEMPLATE}",
        "--VoilaConfiguration.show_tracebacks=False", *_local_kernels(),
        # See CULL_IDLE_SECONDS: the page's beacon stops a kernel at once, this stops
        # the kernels of pages that went away without one.
        f"--MappingKernelManager.cull_idle_timeout={idle}",
        f"--MappingKernelManager.cull_interval={min(CULL_INTERVAL_SECONDS, max(1, idle // 4))}",
        "--MappingKernelManager.cull_connected=False",
    ]
    if folder:
        page = case_address(request_id) if request_id else QUEUE_PAGE
        joiner = "&" if "?" in page else "?"
        url = f"http://127.0.0.1:{port}{RENDER_PREFIX}{page}{joiner}token={quote(token)}"
    else:
        url = f"http://127.0.0.1:{port}/?token={token}"
    env = {"JUPYTER_TOKEN": token, "JUPYTER_PATH": _jupyter_path()}
    return Server(command, url, notebook, token, port, env)


def _jupyter_path() -> str:
    """JUPYTER_PATH with the kit's Jupyter data folder first (the app template)."""
    current = os.environ.get("JUPYTER_PATH", "")
    return os.pathsep.join(p for p in (str(JUPYTER_DATA), current) if p)


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
        if old.name.isdigit() and not psutil.pid_exists(int(old.name)):
            shutil.rmtree(old, ignore_errors=True)
    mine = root / str(os.getpid())
    mine.mkdir(exist_ok=True, mode=0o700)
    return mine


#: A Unix socket's path holds at most 107 bytes (``sockaddr_un.sun_path``); a kernel's IPC
#: socket is its runtime folder plus ``/kernel-<uuid>-ipc-N``.
SOCKET_PATH_LIMIT = 107
_SOCKET_NAME = "/kernel-00000000-0000-0000-0000-000000000000-ipc-4"


def socket_runtime(runtime: Path) -> tuple[Path, bool]:
    """The folder the kernels' IPC sockets can live in: ``runtime`` when its sockets' paths
    fit the limit, else a new short private folder under the system's temp folder
    (mode 700). Returns the folder and whether it is a new temporary one."""
    import tempfile

    if len(str(runtime).encode()) + len(_SOCKET_NAME) <= SOCKET_PATH_LIMIT:
        return runtime, False
    return Path(tempfile.mkdtemp(prefix="relief-kit-")), True


def run(server: Server, runtime: Path | None = None) -> int:
    """Run the server until Ctrl+C (or SIGTERM), then stop it and its kernels cleanly.

    The server dies with the launcher whatever signal ends it (even SIGKILL), and keeps
    its kernel connection files in ``runtime`` (cleaned at the next launch)."""
    import signal
    import subprocess

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    env = server.environment()  # the token, the app template
    short = None
    if runtime is not None:
        # A deep data folder would make the kernels' socket paths too long to bind.
        runtime, temporary = socket_runtime(runtime)
        short = runtime if temporary else None
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
            if short is not None:
                shutil.rmtree(short, ignore_errors=True)
