"""The review in a real browser: JupyterLab on localhost, driven in headless Chromium."""

import os
import secrets
import subprocess
import time
import urllib.error
import urllib.request
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
            raise AssertionError(f"JupyterLab saiu com código {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=10):
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.3)
    raise AssertionError(f"JupyterLab não respondeu em {seconds:.0f} s: {url}")


@pytest.fixture
def lab(tmp_path):
    """A data folder, its prepared review notebook and JupyterLab serving it."""
    folder = sample_copy(tmp_path)
    notebook = launch.prepare_notebook(folder, WHATSAPP_REQUEST, analyst="Ana Teste")
    server = launch.lab_server(notebook, port=launch.free_port(18900),
                               token=secrets.token_urlsafe(16), open_browser=False)
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"))
    log = (tmp_path / "lab.log").open("wb")
    process = subprocess.Popen(server.command, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        _wait_for_server(f"http://127.0.0.1:{server.port}/api/status?token={server.token}",
                         process)
        yield folder, server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def test_analyst_runs_the_notebook_changes_an_answer_and_records_a_decision(lab):
    from playwright.sync_api import expect, sync_playwright

    folder, server = lab
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            page.goto(server.url)
            page.wait_for_selector(".jp-Notebook")
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']")
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()

            action = page.locator(".rk-live-recommendation .rk-action")
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
        finally:
            browser.close()

    decisions = open_store(folder).history(WHATSAPP_REQUEST)
    assert len(decisions) == 1
    assert decisions[0].action == "ask_info"
    assert decisions[0].analyst == "Ana Teste"
    assert decisions[0].checklist.documented is False
    assert "WhatsApp" in decisions[0].justification
