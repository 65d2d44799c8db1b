"""The review notebook: committed clean, parameterised, and executable by papermill."""

import json
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import papermill
import pytest
from papermill.exceptions import PapermillExecutionError

from relief_kit.shell import launch
from relief_kit.shell.facts import FACTS_MIMETYPE
from relief_kit.store.cases import open_store
from tests.case_folder import (
    EMAIL_REQUEST,
    HOSTILE,
    UNWRITTEN_REQUEST,
    WHATSAPP_REQUEST,
    make_hostile,
    sample_copy,
)

NOTEBOOK = launch.NOTEBOOK
WIDGET = "application/vnd.jupyter.widget-view+json"


@pytest.fixture
def folder(tmp_path):
    return sample_copy(tmp_path)


def test_notebook_is_committed_without_outputs_or_execution_counts():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_notebook_parameters_are_the_ones_the_batch_and_the_command_pass():
    parameters = papermill.inspect_notebook(str(NOTEBOOK))
    assert list(parameters) == ["data_dir", "request_id", "criteria_file", "analyst",
                                "interactive", "today", "data_fingerprint"]
    assert parameters["interactive"]["default"] == "True"


def test_notebook_stays_thin_no_rules_loops_or_sql():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert notebook.cells[0].metadata.get("tags") == ["hide-in-record", "lab-only"]
    for cell in code:
        source = cell.source
        # The parameters cell only declares, one parameter a line; the others only call
        # the kit (few cells: each is a round trip per case in the batch).
        if "parameters" not in cell.metadata.get("tags", []):
            assert len(source.splitlines()) <= 11
        for forbidden in ("for ", "while ", "SELECT", "sqlite", "def ", "lambda", "import pandas"):
            assert forbidden not in source


def test_prepared_notebook_has_the_folder_and_request_filled_in(folder):
    path = launch.prepare_notebook(folder, WHATSAPP_REQUEST, analyst="Ana")
    assert path.parent == folder / ".relief-kit" / "review"
    assert (path.parent.stat().st_mode & 0o777) == 0o700
    notebook = nbformat.read(path, as_version=4)
    injected = [c for c in notebook.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1
    # Relative to the notebook: no machine path (nor the OS user name in it) on screen.
    assert 'data_dir = "../.."' in injected[0].source
    assert str(folder) not in injected[0].source
    assert 'request_id = "R0001"' in injected[0].source
    assert 'analyst = "Ana"' in injected[0].source
    assert all(c.get("outputs", []) == [] for c in notebook.cells)
    assert launch.notebook_name("a/b c") == "revisao_a_b_c.ipynb"


def test_servers_listen_on_localhost_only_with_a_token(folder):
    path = launch.prepare_notebook(folder, WHATSAPP_REQUEST)
    lab = launch.lab_server(path, port=18888, token="t0k3n")
    assert "--ServerApp.ip=127.0.0.1" in lab.command
    # The token is in the server's environment, not on its command line (ps shows that).
    assert lab.env["JUPYTER_TOKEN"] == "t0k3n" and "t0k3n" not in " ".join(lab.command)
    assert lab.url == f"http://127.0.0.1:18888/lab/tree/{path.name}?token=t0k3n"
    app = launch.app_server(path, port=18866)
    assert "--Voila.ip=127.0.0.1" in app.command and "--strip_sources=True" in app.command
    assert len(app.token) >= 24 and app.env["JUPYTER_TOKEN"] == app.token
    assert app.token not in " ".join(app.command)
    assert "--KernelManager.transport=ipc" in app.command and "--template=relief-kit" in app.command


def test_without_request_the_command_picks_the_first_without_a_decision(folder):
    from datetime import date
    from decimal import Decimal

    from relief_kit.core.criteria import load_criteria
    from relief_kit.core.model import Action, Checklist, Terms
    from relief_kit.store.cases import DecisionDraft

    assert launch.choose_request(folder, None) == "R0001"
    open_store(folder).record_decision(
        "R0001", DecisionDraft(Action.POSTPONEMENT,
                               Terms(amount=Decimal("10.00"), new_due_date=date(2026, 12, 1)),
                               "ok", "Ana"),
        load_criteria(), checklist=Checklist(documented=True, small_business=False,
                                             at_risk=False, hardship="job_loss"),
        expected_previous=None)
    assert launch.choose_request(folder, None) == "R0002"
    with pytest.raises(Exception, match="R9999"):
        launch.choose_request(folder, "R9999")


# --------------------------------------------------------------------------- kernel


def execute(folder: Path, request_id: str, interactive: bool, tmp_path: Path):
    return papermill.execute_notebook(
        str(NOTEBOOK), str(tmp_path / f"{request_id}-{interactive}.ipynb"),
        parameters={"data_dir": str(folder), "request_id": request_id, "analyst": "Ana",
                    "interactive": interactive, "today": ""},
        kernel_name="python3", progress_bar=False, execution_timeout=120, start_timeout=60)


def outputs(notebook, mimetype: str) -> list:
    return [o["data"][mimetype] for c in notebook.cells for o in c.get("outputs", [])
            if mimetype in o.get("data", {})]


@pytest.mark.kernel
@pytest.mark.parametrize("request_id", [WHATSAPP_REQUEST, EMAIL_REQUEST, UNWRITTEN_REQUEST])
def test_record_run_shows_plain_html_and_hands_its_facts_to_the_batch(folder, tmp_path,
                                                                      request_id):
    executed = execute(folder, request_id, False, tmp_path)
    assert outputs(executed, WIDGET) == []
    html = "".join(outputs(executed, "text/html"))
    for heading in ("Cliente", "Contrato", "Histórico de pagamentos", "O pedido por escrito",
                    "Prazos regulatórios", "Recomendação", "Respostas do checklist",
                    "Decisão"):
        assert f"<h3>{heading}</h3>" in html
    assert outputs(executed, "image/png") == []
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" class="rk-chart"') == 1
    facts = outputs(executed, FACTS_MIMETYPE)
    assert len(facts) == 1 and facts[0]["request_id"] == request_id
    # The timeline when a debt is due; else no notice sentence at all.
    if facts[0]["regulatory"]["acts"]:
        assert "a suspensão" in html
    else:
        assert "nenhum prazo de suspensão corre" in html and "se enviada hoje" not in html
    assert json.dumps(facts[0])  # plain JSON for case.json


@pytest.mark.kernel
def test_interactive_run_shows_widgets_and_no_facts(folder, tmp_path):
    make_hostile(folder)
    executed = execute(folder, WHATSAPP_REQUEST, True, tmp_path)
    # The customer card, the written request (masked, revealed with the card) and the app.
    assert len(outputs(executed, WIDGET)) == 3
    assert outputs(executed, FACTS_MIMETYPE) == []
    html = "".join(outputs(executed, "text/html"))
    assert "<script>" not in html and "&lt;script&gt;" in html and "{{ 7*7 }}" in html
    plain = "".join(outputs(executed, "text/plain"))
    assert HOSTILE not in plain and "Revisão do pedido R0001" in plain
    assert [e["what"] for e in open_store(folder).audit(WHATSAPP_REQUEST)] == ["abriu"]


@pytest.mark.kernel
def test_unknown_request_fails_the_run_with_one_portuguese_line(folder, tmp_path):
    with pytest.raises(PapermillExecutionError) as failure:
        execute(folder, "R9999", False, tmp_path)
    assert failure.value.ename == "InputError"
    assert "pedido 'R9999' não encontrado" in failure.value.evalue
    assert len(failure.value.traceback) == 1


@pytest.mark.kernel
def test_app_mode_serves_the_review_with_code_hidden_behind_a_token(folder):
    path = launch.prepare_notebook(folder, WHATSAPP_REQUEST, analyst="Ana")
    server = launch.app_server(path, open_browser=False)
    process = subprocess.Popen(server.command, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env=server.environment())
    try:
        page = _fetch(server.url, deadline=time.monotonic() + 90)
        # Voilà streams outputs as JSON inside the page: non-ASCII letters are escaped.
        assert "Hist\\u00f3rico de pagamentos" in page and "Prazos regulat" in page
        assert "open_case(" not in page and "review.show(" not in page
        assert WIDGET in page  # the review app is there, as widgets
        anonymous = _fetch(f"http://127.0.0.1:{server.port}/", deadline=time.monotonic() + 30,
                           final_url=True)
        assert "/login" in anonymous
    finally:
        process.terminate()
        process.wait(timeout=30)


def _fetch(url: str, deadline: float, final_url: bool = False) -> str:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                return response.url if final_url else response.read().decode("utf-8")
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def test_the_analysts_name_is_asked_once_and_remembered_for_this_user(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from relief_kit.cli import _analyst_name

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert launch.remembered_analyst() == ""
    assert _analyst_name("Ana Souza") == "Ana Souza"
    path = launch.analyst_file()
    assert path.is_relative_to(tmp_path) and (path.stat().st_mode & 0o777) == 0o600
    assert _analyst_name(None) == "Ana Souza"  # not asked again
    # Without a terminal and without a remembered name: one line saying what to do.
    path.unlink()
    import click

    @click.command()
    def ask():
        _analyst_name(None)

    result = CliRunner().invoke(ask, [])
    assert "--analyst" in str(result.exception)
