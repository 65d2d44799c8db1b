"""The review in a real browser: the app (Voilà) and JupyterLab on localhost, driven in
headless Chromium, with every request to anything but 127.0.0.1 counted (and refused)."""

import json
import os
import re
import secrets
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from relief_kit.shell import launch
from relief_kit.store.cases import open_store
from tests.case_folder import WHATSAPP_REQUEST, sample_copy

CHROMIUM = Path("/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists() and not IN_CI,
                       reason="sem /usr/bin/chromium (apt-get install -y chromium); "
                              "no CI (CI=true) este teste sempre roda"),
]


def _wait_for_server(url: str, process: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"o servidor saiu com código {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=10):
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.3)
    raise AssertionError(f"o servidor não respondeu em {seconds:.0f} s: {url}")


def _wait_for_port(port: int, process: subprocess.Popen, seconds: float = 90) -> None:
    """The port accepts connections (without a request that would start a kernel)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"o servidor saiu com código {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.3)
    raise AssertionError(f"nada escuta em 127.0.0.1:{port} depois de {seconds:.0f} s")


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def _serving(server, tmp_path: Path, log_name: str, ready: str | None = None,
             extra_env: dict[str, str] | None = None, watchdog_seconds: float | None = None):
    """``server`` (a launcher's Server) running with its output in ``tmp_path/log_name``,
    once ``ready`` (an address) answers, else once its port listens; stopped on exit.

    The runtime folder is the one the launcher picks: pytest's deep temporary paths would
    make the kernels' IPC socket paths longer than a socket can bind. With
    ``watchdog_seconds``, the server is killed after that long, so a page that never
    finishes loading fails the test instead of hanging the suite."""
    runtime, _ = launch.socket_runtime(tmp_path / "runtime")
    env = dict(server.environment(), JUPYTER_RUNTIME_DIR=str(runtime), **(extra_env or {}))
    with (tmp_path / log_name).open("wb") as log:
        process = subprocess.Popen(server.command, stdout=log, stderr=subprocess.STDOUT,
                                   env=env)
        watchdog = threading.Timer(watchdog_seconds, process.kill) if watchdog_seconds else None
        if watchdog:
            watchdog.start()
        try:
            if ready:
                _wait_for_server(ready, process)
            else:
                _wait_for_port(server.port, process)
            yield process
        finally:
            if watchdog:
                watchdog.cancel()
            _stop(process)


def _launch(playwright):
    # Names other than 127.0.0.1 resolve to nothing: a request to a third party fails at
    # once inside the browser (offline, as at a provider without internet) and is still
    # seen and counted by the page's request listener.
    offline = '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'
    return playwright.chromium.launch(executable_path=str(CHROMIUM),
                                      args=[*CHROMIUM_FLAGS, offline])


def _offline_page(browser, external: list[str]):
    """A page that records every request to anything but 127.0.0.1.

    It only listens (no request routing): routing every request through Python stalls
    JupyterLab's few hundred requests on a busy machine until its kernel times out.
    """
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="en-US")
    page.set_default_timeout(60_000)
    local = re.compile(r"^(https?|wss?)://127\.0\.0\.1[:/]|^(data|blob|about):")

    def seen(url: str) -> None:
        if not local.match(url):
            external.append(url)

    page.on("request", lambda request: seen(request.url))
    page.on("websocket", lambda socket: seen(socket.url))
    return page


@contextmanager
def _browsing(url: str, external: list[str]):
    """An offline Chromium page (see :func:`_launch`, :func:`_offline_page`) opened at
    ``url``, every request to anything but 127.0.0.1 appended to ``external``; the
    browser is closed after the block."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = _launch(playwright)
        try:
            page = _offline_page(browser, external)
            page.goto(url)
            yield page
        finally:
            browser.close()


def _token_off_the_command_line(server, process) -> None:
    """The server's token is nowhere on its command line (what another local user can
    read with ``ps``)."""
    cmdline = (Path("/proc") / str(process.pid) / "cmdline").read_bytes().decode()
    assert server.token not in cmdline


@pytest.fixture
def lab(tmp_path):
    """A data folder, its prepared review notebook and JupyterLab serving it."""
    folder = sample_copy(tmp_path)
    notebook = launch.prepare_notebook(folder, WHATSAPP_REQUEST, analyst="Ana Teste")
    server = launch.lab_server(notebook, port=launch.free_port(18900),
                               token=secrets.token_urlsafe(16), open_browser=False)
    with _serving(server, tmp_path, "lab.log",
                  ready=f"http://127.0.0.1:{server.port}/api/status?token={server.token}",
                  extra_env={"JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces")}
                  ) as process:
        yield folder, server, process


#: A request written over WhatsApp by a contact saved as a bare phone number.
PHONE_AUTHOR_REQUEST = "R0033"


@pytest.fixture
def app(tmp_path):
    """A data folder, the app's copy of the review notebook and Voilà serving it."""
    folder = sample_copy(tmp_path)
    notebook = launch.prepare_notebook(folder, PHONE_AUTHOR_REQUEST, analyst="Ana Teste",
                                       app=True)
    server = launch.app_server(notebook, port=launch.free_port(18950),
                               token=secrets.token_urlsafe(16), open_browser=False)
    with _serving(server, tmp_path, "voila.log") as process:
        yield folder, server, process


def test_app_opens_ready_offline_and_records_one_decision_and_an_audited_reveal(app, tmp_path):
    from playwright.sync_api import expect

    folder, server, process = app
    _token_off_the_command_line(server, process)
    assert server.token not in " ".join(server.command)

    external: list[str] = []
    with _browsing(server.url, external) as page:
        action = page.locator(".rk-live-recommendation .rk-action")
        expect(action).to_be_visible(timeout=120_000)  # already run: no menu, no click
        body = page.locator("body").inner_text()
        assert "data_dir" not in body and "import" not in body  # no code
        assert str(tmp_path) not in body and "Run All Cells" not in body
        assert body.count("CONFIDENCIAL") == 1
        # The chat author is a phone number: masked like the customer card.
        chat = page.locator(".rk-chat").first
        expect(chat).to_contain_text("9****-")

        page.locator(".rk-documented button", has_text="Sim").click()
        page.locator(".rk-small-business button", has_text="Não").click()
        page.locator(".rk-at-risk button", has_text="Não").click()
        page.locator(".rk-justification textarea").fill("Pedido por escrito; boa pagadora.")
        record = page.locator(".rk-record")
        record.click()
        expect(page.locator(".rk-message")).to_contain_text("Decisão registrada")
        expect(record).to_have_text(re.compile("Decisão registrada"))
        record.click()
        expect(page.locator(".rk-message")).to_contain_text("já está registrada")

        page.locator(".rk-reveal").click()
        expect(chat).not_to_contain_text("9****-")
        expect(page.locator(".rk-reveal")).to_contain_text("Mascarar")
        # The local kernel talks over IPC sockets, not TCP ports.
        assert {c["transport"] for c in _kernel_connections(process.pid)} == {"ipc"}

    assert external == []
    store = open_store(folder)
    assert len(store.history(PHONE_AUTHOR_REQUEST)) == 1
    assert store.history(PHONE_AUTHOR_REQUEST)[0].analyst == "Ana Teste"
    assert [e["what"] for e in store.audit(PHONE_AUTHOR_REQUEST)].count("revelou") == 1


def _answer_dialog(page) -> None:
    """Answer a JupyterLab start-up dialog if one is open: choose python3 when it asks for
    a kernel, else acknowledge it (a connection notice), and wait for the kernel."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    dialog = page.locator(".jp-Dialog")
    if not dialog.count():
        return
    text = " ".join(dialog.first.inner_text().split())[:200]
    select = page.get_by_role("button", name="Select Kernel")
    if select.count():
        select.click()
    else:
        page.locator(".jp-Dialog .jp-mod-accept").last.click()
    try:
        dialog.first.wait_for(state="detached", timeout=20_000)
    except PlaywrightTimeout:
        page.keyboard.press("Escape")  # a dialog that will not close: dismiss it
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']",
                           timeout=120_000)
    print(f"diálogo do JupyterLab respondido: {text}")


def _wait_for_kernel(page, seconds: float = 240) -> None:
    """Wait until the notebook's kernel is idle, answering JupyterLab's start-up dialog
    when it asks which kernel to start (it does when the kernel list comes late)."""
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if page.locator(".jp-Dialog").count():
            _answer_dialog(page)
        if page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").count():
            return
        page.wait_for_timeout(500)
    raise AssertionError("o kernel do JupyterLab não ficou pronto")


def _run_all_cells(page) -> None:
    """Run ▸ Run All Cells. On a busy machine JupyterLab may find no kernel preference in
    time and ask which kernel to start, before or after the click: answer and run again
    (the test is about the notebook, not JupyterLab's start-up)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(4):
        _answer_dialog(page)
        try:
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click(timeout=10_000)
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click(
                timeout=10_000)
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
            continue  # a dialog opened in between
        try:
            page.locator(".jp-Dialog").first.wait_for(timeout=5_000)
        except PlaywrightTimeout:
            return
    raise AssertionError("o JupyterLab não rodou as células em quatro tentativas")


def _kernel_connections(server_pid: int) -> list[dict]:
    """The connection files of the kernels a server started (its child processes)."""
    children = Path(f"/proc/{server_pid}/task/{server_pid}/children").read_text().split()
    connections = []
    for child in children:
        argv = Path(f"/proc/{child}/cmdline").read_bytes().decode().split("\0")
        if "-f" in argv:
            connections.append(json.loads(Path(argv[argv.index("-f") + 1]).read_text()))
    assert connections, "nenhum kernel iniciado pelo servidor"
    return connections


def test_analyst_runs_the_notebook_changes_an_answer_and_records_a_decision(lab):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect

    folder, server, process = lab
    _token_off_the_command_line(server, process)
    external: list[str] = []
    with _browsing(server.url, external) as page:
        page.wait_for_selector(".jp-Notebook")
        _wait_for_kernel(page)
        _run_all_cells(page)

        action = page.locator(".rk-live-recommendation .rk-action")
        try:
            action.wait_for(timeout=90_000)
        except PlaywrightTimeout:
            # A busy machine can lose the first run to a kernel that was still
            # starting (seen with TCP and IPC alike): run the cells once more.
            _run_all_cells(page)
        expect(action).to_be_visible(timeout=90_000)
        before = action.inner_text()
        assert before != "Pedir mais informações"

        page.locator(".rk-documented button", has_text="Não").click()
        expect(action).to_have_text("Pedir mais informações")
        expect(page.locator(".rk-live-recommendation")).to_contain_text(
            "pratica.documentacao")

        page.locator(".rk-justification textarea").fill(
            "Pedido sem registro por escrito: pedir a explicação por WhatsApp.")
        page.locator(".rk-record").click()
        expect(page.locator(".rk-message")).to_contain_text("Decisão registrada")
        assert {c["transport"] for c in _kernel_connections(process.pid)} == {"ipc"}

    assert external == []
    decisions = open_store(folder).history(WHATSAPP_REQUEST)
    assert len(decisions) == 1
    assert decisions[0].action == "ask_info"
    assert decisions[0].analyst == "Ana Teste"
    assert decisions[0].checklist.documented is False
    assert "WhatsApp" in decisions[0].justification


# --------------------------------------------------------------------------- the queue


def _kernels(server_pid: int) -> list[int]:
    """The kernel processes a server started (its children running ipykernel)."""
    import psutil

    kernels = []
    for child in psutil.Process(server_pid).children():
        try:
            if "ipykernel_launcher" in " ".join(child.cmdline()):
                kernels.append(child.pid)
        except psutil.NoSuchProcess:
            pass
    return kernels


def _wait_for_kernels(server_pid: int, count: int, seconds: float) -> float:
    """Seconds until the server has exactly ``count`` kernels (fails after ``seconds``)."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if len(_kernels(server_pid)) == count:
            return time.monotonic() - start
        time.sleep(0.2)
    raise AssertionError(f"{len(_kernels(server_pid))} kernel(s) vivo(s) depois de "
                         f"{seconds:.0f} s; esperado: {count}")


#: The queue fixture's request asked for information (its clock stops: after the new ones).
ASKED_REQUEST = "R0001"


@pytest.fixture(scope="module")
def queue_app(tmp_path_factory):
    """The app as `relief-kit review DIR` starts it: the queue page and the case page
    side by side, one Voilà server. One decision recorded, so the queue mixes states."""
    from relief_kit.shell.aftercare import morning

    tmp_path = tmp_path_factory.mktemp("fila")
    folder = sample_copy(tmp_path)
    decide = ["decide", str(folder), "--request", ASKED_REQUEST, "--action", "ask_info",
              "--analyst", "Bia Teste", "--justification", "Pedir o pedido por escrito."]
    from click.testing import CliRunner

    from relief_kit.cli import main
    assert CliRunner().invoke(main, decide).exit_code == 0
    pages = launch.prepare_app(folder, analyst="Ana Teste")
    server = launch.app_server(pages, port=launch.free_port(19000),
                               token=secrets.token_urlsafe(16), open_browser=False)
    with _serving(server, tmp_path, "voila.log") as process:
        yield folder, server, process, [c.request_id for c in morning(folder).queue]


def test_the_queue_opens_first_and_each_case_opens_with_one_click(queue_app):
    from click.testing import CliRunner
    from playwright.sync_api import expect

    from relief_kit.cli import main

    folder, server, process, expected = queue_app
    _token_off_the_command_line(server, process)
    # The page's order is the terminal's: the first word of each line of `relief-kit queue`.
    printed = CliRunner().invoke(main, ["queue", str(folder)]).output.splitlines()[1:]
    assert [line.split()[0] for line in printed] == expected and len(expected) > 3
    chosen = expected[2]

    external: list[str] = []
    with _browsing(server.url, external) as page:
        rows = page.locator(".rk-queue-row")
        expect(rows.first).to_be_visible(timeout=120_000)
        assert rows.evaluate_all("rs => rs.map(r => r.dataset.request)") == expected
        body = page.locator("body").inner_text()
        assert "Fila de casos" in body and "ATRASADO" in body
        assert "data_dir" not in body and str(folder) not in body
        assert str(Path.home()) not in body
        asked = page.locator(f".rk-queue-row[data-request='{ASKED_REQUEST}']")
        expect(asked).to_contain_text("aguardando informações")
        expect(asked).to_contain_text("Bia Teste")
        assert expected.index(ASKED_REQUEST) > 5  # no clock running: after the late ones

        page.locator(f".rk-queue-row[data-request='{chosen}'] a.rk-open-case").click()
        action = page.locator(".rk-live-recommendation .rk-action")
        expect(action).to_be_visible(timeout=120_000)
        expect(page.locator("h2", has_text=f"Pedido {chosen}")).to_be_visible()
        assert f"pedido={chosen}" in page.url and server.token not in page.url
        case_body = page.locator("body").inner_text()
        assert str(folder) not in case_body and "data_dir" not in case_body

        page.locator("a.rk-back-to-queue").click()
        expect(rows.first).to_be_visible(timeout=120_000)
        assert rows.count() == len(expected)
        page.goto("about:blank")  # leaving the app stops the page's kernel
        _wait_for_kernels(process.pid, 0, 30)
    assert external == []


# --------------------------------------------------------------------------- kernels


#: Page loads in the kernel tests (reloads, or pages that never say goodbye).
LOADS = 5


def test_reloaded_and_left_pages_leave_no_kernel(queue_app):
    """Each page that goes away (reloaded, left for the case, left for another site) has
    its kernel shut down by its own beacon at once: one kernel per open page, never a pile."""
    from playwright.sync_api import expect

    folder, server, process, expected = queue_app
    _wait_for_kernels(process.pid, 0, 30)  # the other test's pages are gone
    started: set[int] = set()
    waits: list[float] = []
    with _browsing(server.url, []) as page:
        rows = page.locator(".rk-queue-row")
        for _ in range(LOADS):
            expect(rows.first).to_be_visible(timeout=120_000)
            started.update(_kernels(process.pid))
            page.reload()
        expect(rows.first).to_be_visible(timeout=120_000)
        waits.append(_wait_for_kernels(process.pid, 1, 30))
        page.locator(f".rk-queue-row[data-request='{expected[0]}'] a.rk-open-case").click()
        expect(page.locator(".rk-live-recommendation .rk-action")).to_be_visible(
            timeout=120_000)
        started.update(_kernels(process.pid))
        waits.append(_wait_for_kernels(process.pid, 1, 30))  # the queue's kernel stopped
        page.goto("about:blank")  # the analyst leaves the app
        waits.append(_wait_for_kernels(process.pid, 0, 30))
    assert len(started) >= LOADS + 1  # every load had its own kernel, all stopped
    print(f"{LOADS} recargas + 1 caso + saída: {len(started)} kernels iniciados, "
          f"0 vivos; esperas {', '.join(f'{w:.1f} s' for w in waits)}")


def test_kernels_of_pages_that_never_say_goodbye_are_culled(tmp_path, monkeypatch):
    """A page fetched without running its script (a killed browser, a crashed tab, a
    script) never sends the beacon: the culler stops its kernel once idle. The idle time
    is shortened through the launcher's documented setting; the culling is Jupyter's own."""
    idle = launch.MIN_CULL_IDLE_SECONDS
    monkeypatch.setenv(launch.CULL_IDLE_ENV, str(idle))
    folder = sample_copy(tmp_path)
    pages = launch.prepare_app(folder, analyst="Ana Teste")
    server = launch.app_server(pages, port=launch.free_port(19050),
                               token=secrets.token_urlsafe(16), open_browser=False)
    assert f"--MappingKernelManager.cull_idle_timeout={idle}" in server.command
    with _serving(server, tmp_path, "voila.log", watchdog_seconds=LOADS * 120) as process:
        started: set[int] = set()
        for _ in range(LOADS):
            with urllib.request.urlopen(server.url, timeout=180) as response:
                assert "Fila de casos" in response.read().decode()
            started.update(_kernels(process.pid))
        assert len(started) == LOADS
        gone = _wait_for_kernels(process.pid, 0, idle + 60)
    print(f"{LOADS} páginas sem despedida: {LOADS} kernels, 0 vivos {gone:.1f} s depois da "
          f"última carga (ociosidade {idle} s)")
