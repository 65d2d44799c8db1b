"""The review app's queue page and its launcher, without a browser (tests/test_browser.py
drives them in Chromium): the pages, their addresses, the states and clocks."""

import re

import nbformat
import papermill
import pytest

from relief_kit.core.errors import InputError
from relief_kit.shell import launch, queue_page
from relief_kit.shell.aftercare import morning
from tests.case_folder import sample_copy


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return sample_copy(tmp_path_factory.mktemp("fila"))


def test_queue_notebook_is_committed_clean_thin_and_takes_the_apps_parameters():
    notebook = nbformat.read(launch.QUEUE_NOTEBOOK, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    for cell in code:
        for forbidden in ("for ", "while ", "SELECT", "sqlite", "def ", "lambda"):
            assert forbidden not in cell.source
    assert list(papermill.inspect_notebook(str(launch.QUEUE_NOTEBOOK))) == [
        "data_dir", "criteria_file", "today"]


def test_the_app_pages_are_written_side_by_side_without_machine_paths(folder):
    pages = launch.prepare_app(folder, analyst="Ana", today="2026-11-20")
    assert pages == folder / ".relief-kit" / "app"
    assert sorted(p.name for p in pages.iterdir()) == ["caso.ipynb", "fila.ipynb"]
    assert (pages.stat().st_mode & 0o777) == 0o700
    for name in ("caso.ipynb", "fila.ipynb"):
        notebook = nbformat.read(pages / name, as_version=4)
        assert not any("lab-only" in c.metadata.get("tags", []) for c in notebook.cells)
        injected = next(c.source for c in notebook.cells
                        if "injected-parameters" in c.metadata.get("tags", []))
        assert 'data_dir = "../.."' in injected and str(folder) not in injected
        assert 'today = "2026-11-20"' in injected
    case = nbformat.read(pages / "caso.ipynb", as_version=4)
    assert 'request_id = ""' in next(c.source for c in case.cells
                                     if "injected-parameters" in c.metadata.get("tags", []))


def test_the_app_opens_on_the_queue_or_on_one_case_token_off_the_command_line(folder):
    pages = launch.prepare_app(folder)
    queue = launch.app_server(pages, port=18866, token="t0k3n")
    assert queue.url == "http://127.0.0.1:18866/voila/render/fila.ipynb?token=t0k3n"
    assert "t0k3n" not in " ".join(queue.command) and queue.env["JUPYTER_TOKEN"] == "t0k3n"
    assert queue.command[1:4] == ["-m", "relief_kit.shell.voila_app", str(pages)]
    assert f"--Voila.root_dir={pages}" in queue.command
    assert "--MappingKernelManager.cull_idle_timeout=60" in queue.command
    assert "--MappingKernelManager.cull_connected=False" in queue.command
    case = launch.app_server(pages, port=18866, token="t0k3n", request_id="R 1&2")
    assert case.url == ("http://127.0.0.1:18866/voila/render/caso.ipynb?pedido=R%201%262"
                        "&token=t0k3n")


@pytest.mark.parametrize("value", ["abc", "0", "-5", "1.5", "9"])
def test_a_bad_kernel_idle_time_is_one_line_naming_the_setting(value):
    with pytest.raises(InputError, match=launch.CULL_IDLE_ENV):
        launch.cull_idle_seconds({launch.CULL_IDLE_ENV: value})
    assert launch.cull_idle_seconds({launch.CULL_IDLE_ENV: "10"}) == 10
    assert launch.cull_idle_seconds({}) == launch.CULL_IDLE_SECONDS


def test_the_case_page_takes_its_request_from_the_address_only_in_the_app(monkeypatch):
    monkeypatch.delenv("SERVER_SOFTWARE", raising=False)
    monkeypatch.setenv("QUERY_STRING", "pedido=R0005")
    assert queue_page.requested("R0001") == "R0001"  # the batch, JupyterLab
    assert queue_page.queue_link() is None
    monkeypatch.setenv("SERVER_SOFTWARE", "voila/0.5.13")
    monkeypatch.setenv("SCRIPT_NAME", "/")  # a single-case app: the parameter rules
    assert queue_page.requested("R0001") == "R0001" and queue_page.queue_link() is None
    monkeypatch.setenv("SCRIPT_NAME", "/voila/render/caso.ipynb")
    assert queue_page.requested("") == "R0005"
    monkeypatch.setenv("QUERY_STRING", "token=x&pedido=R%2000%2F7")
    assert queue_page.requested("") == "R 00/7"
    assert 'href="fila.ipynb"' in str(queue_page.queue_link())
    monkeypatch.setenv("QUERY_STRING", "")  # caso.ipynb alone (a bookmark): back to the queue
    with pytest.raises(InputError, match="volte à fila de casos"):
        queue_page.requested("")


def test_the_queue_page_lists_what_relief_kit_queue_lists_in_its_order(folder):
    expected = morning(folder).queue
    html = str(queue_page.queue_view(folder))
    rows = re.findall(r'data-request="([^"]+)"', html)
    assert rows == [c.request_id for c in expected] and len(rows) == 40
    assert f'href="caso.ipynb?pedido={rows[0]}" target="_self"' in html
    assert "ATRASADO" in html and str(folder) not in html
    late = expected[0]
    assert f"decidir até {late.deadline:%d/%m/%Y}" in html


def test_a_bad_date_on_the_queue_page_is_one_line(folder):
    with pytest.raises(InputError, match="today"):
        queue_page.queue_view(folder, today="31/02/2026")


def test_a_voila_py_in_the_working_folder_is_not_run(tmp_path, monkeypatch):
    """Voilà looks for voila.py in the working folder by default; the app's server must
    not execute one left wherever `relief-kit review` was started."""
    from voila.app import Voila

    from relief_kit.shell.voila_app import app_config

    marker = tmp_path / "ran"
    (tmp_path / "voila.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    notebook = tmp_path / "page.ipynb"
    notebook.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    monkeypatch.chdir(tmp_path)
    Voila(config=app_config()).initialize([str(notebook)])
    assert not marker.exists()
    # the same start without the app's configuration does run it (the threat is real)
    Voila().initialize([str(notebook)])
    assert marker.exists()
