"""The kit as a provider installs it: a wheel built from this checkout, installed in a
fresh virtual environment, run from outside the repository."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def _run(command: list[str], **options) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, **options)
    assert result.returncode == 0, f"{command}: {result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built offline with the test environment's setuptools."""
    out = tmp_path_factory.mktemp("dist")
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                  "--no-index", "-w", str(out), str(REPO)])
    warnings = [line for line in (built.stdout + built.stderr).splitlines()
                if "warning" in line.lower() and "location '" not in line.lower()]
    assert warnings == []
    (path,) = out.glob("relief_kit-*.whl")
    return path


def test_the_wheel_carries_templates_notebooks_and_default_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for bundled in ("relief_kit/bundled/templates/record/index.html.j2",
                    "relief_kit/bundled/templates/messages/pt_BR/discount.email.txt.j2",
                    "relief_kit/bundled/notebooks/review_case.ipynb",
                    "relief_kit/bundled/notebooks/queue.ipynb",
                    "relief_kit/bundled/data/criteria.toml",
                    "relief_kit/bundled/data/settings.toml",
                    "relief_kit/bundled/data/sample/requests.csv"):
        assert bundled in names
    assert not any("cases.sqlite" in n or "/.relief-kit/" in n for n in names)
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "License-Expression: LicenseRef-Proprietary" in text


def test_an_installed_wheel_runs_the_demo_outside_the_repository(wheel, tmp_path):
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    # Offline and quick: the kit's dependencies come from the test environment through a
    # path entry (its .pth files, among them the editable install of this checkout, are
    # not processed), the kit itself from the wheel.
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                      "['purelib'])"]).stdout.strip())
    (site / "test_environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = _run([sys.executable, "-m", "pip", "--python", str(python), "install",
                      "--no-deps", "--no-index", str(wheel)], cwd=tmp_path)
    assert "warning" not in (installed.stdout + installed.stderr).lower().replace(
        "location '", "")

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    # The dependencies' data files (nbconvert's templates, the python3 kernel spec) are
    # where pip put them for the test environment: a real install has them in its own.
    env["JUPYTER_PATH"] = str(Path(sys.prefix) / "share" / "jupyter")
    where = _run([str(python), "-c", "import relief_kit.resources as r; print(r.ROOT)"],
                 cwd=outside, env=env).stdout.strip()
    assert Path(where).is_relative_to(venv) and not Path(where).is_relative_to(REPO)

    demo = subprocess.run([str(venv / "bin" / "relief-kit"), "demo", "saida"], cwd=outside,
                          env=env, capture_output=True, text=True, timeout=600)
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    records = list((outside / "saida" / "arquivo").glob("*/record.html"))
    assert len(records) == 40
    assert "CONFIDENCIAL" in records[0].read_text(encoding="utf-8")
    assert all(r.with_suffix(".pdf").is_file() for r in records)
    # The terminal summary: a table within 100 columns, the reasons left to the records,
    # and next commands that work (the review opens the app; no "JupyterLab").
    lines = demo.stdout.splitlines()
    assert max(len(line) for line in lines) <= 100, max(lines, key=len)
    assert any(line.split()[:1] == ["R0001"] for line in lines)  # a row of the table
    assert "•" not in demo.stdout and "weights." not in demo.stdout
    assert "JupyterLab" not in demo.stdout
    tail = "\n".join(lines[-8:])
    for command in ("relief-kit verify", "relief-kit queue", "relief-kit review"):
        assert command in tail
    # ... typed as printed (the venv is not on PATH here: the path is printed), they run.
    verify_line = next(line for line in lines if "relief-kit verify" in line).split()
    assert subprocess.run(verify_line, cwd=outside, env=env, capture_output=True,
                          timeout=300).returncode == 0
    assert (outside / "saida" / "reuniao.html").is_file()
    assert not (REPO / "saida").exists()
