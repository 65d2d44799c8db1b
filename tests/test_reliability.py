"""Faults an operator meets: tampering with the archive, storage errors, odd files,
bad criteria and settings, a launcher killed. Fast: no kernel (see
test_batch_reliability for the batch under load and interruption)."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from relief_kit.cli import main
from relief_kit.core.criteria import DEFAULT_CRITERIA, parse_criteria
from relief_kit.core.errors import InputError
from relief_kit.shell.archive import (
    LEDGER,
    clean_stale,
    read_ledger,
    verify,
    write_case_folder,
)
from relief_kit.store.cases import open_store
from tests.case_folder import EMAIL_REQUEST, WHATSAPP_REQUEST, evidence_of, sample_copy, set_cell


def case_files(request_id: str, decision: str = "postponement") -> dict[str, bytes]:
    facts = {"request_id": request_id, "decision": {"action": decision}}
    return {"record.html": f"<p>{request_id} {decision}</p>".encode(),
            "case.json": json.dumps(facts).encode(),
            f"evidence/{request_id}_chat.txt": request_id.encode()}


def resign(case) -> None:
    """What a forger does after editing: recompute the manifest with sha256sum."""
    names = sorted(p.relative_to(case).as_posix() for p in case.rglob("*")
                   if p.is_file() and p.name != "SHA256SUMS")
    done = subprocess.run(["sha256sum", *names], cwd=case, capture_output=True, check=True)
    (case / "SHA256SUMS").write_bytes(done.stdout)


@pytest.fixture
def archive(tmp_path):
    folder = tmp_path / "arquivo"
    write_case_folder(folder, "R1", case_files("R1", "refusal"))
    write_case_folder(folder, "R1", case_files("R1", "discount"))  # a second version
    write_case_folder(folder, "R2", case_files("R2"))
    assert verify(folder) == []
    return folder


def kinds(folder) -> list[tuple[str, str]]:
    return [(p.case, p.kind) for p in verify(folder)]


# --------------------------------------------------------------------------- the ledger


def test_a_record_edited_and_re_signed_is_caught(archive):
    (archive / "R1" / "record.html").write_text("<p>R1 approved</p>")
    resign(archive / "R1")
    assert kinds(archive) == [("R1", "reassinado")]


def test_a_decision_edited_in_case_json_and_re_signed_is_caught(archive):
    (archive / "R2" / "case.json").write_text('{"request_id": "R2", "decision": "grant"}')
    resign(archive / "R2")
    assert kinds(archive) == [("R2", "reassinado")]


def test_a_deleted_case_is_caught(archive):
    import shutil

    shutil.rmtree(archive / "R2")
    assert kinds(archive) == [("R2", "apagado")]
    result = CliRunner().invoke(main, ["verify", str(archive)])
    assert result.exit_code == 1 and "R2: caso apagado" in result.output


def test_swapped_case_folders_are_caught(archive):
    (archive / "R1").rename(archive / "tmp")
    (archive / "R2").rename(archive / "R1")
    (archive / "tmp").rename(archive / "R2")
    problems = verify(archive)
    assert [(p.case, p.kind, p.detail) for p in problems] == [
        ("R1", "trocado", "R2"), ("R2", "trocado", "R1")]


def test_a_case_rolled_back_to_an_older_version_is_caught(tmp_path, archive):
    import shutil

    old = tmp_path / "copia-antiga"
    write_case_folder(old, "R1", case_files("R1", "refusal"))  # same bytes as version 1
    shutil.rmtree(archive / "R1")
    shutil.copytree(old / "R1", archive / "R1")
    problems = verify(archive)
    assert [(p.case, p.kind) for p in problems] == [("R1", "revertido")]
    assert "versão 1 de 2" in str(problems[0])


def test_a_ledger_line_edited_or_removed_breaks_the_chain(archive):
    lines = (archive / LEDGER).read_text().splitlines(keepends=True)
    (archive / LEDGER).write_text(lines[0] + lines[2])
    assert ("LEDGER", "livro") in kinds(archive)
    (archive / LEDGER).write_text("".join(lines).replace(" R2 ", " R9 "))
    assert any("alterada" in str(p) for p in verify(archive))


def test_every_ledger_line_checks_with_sha256sum(archive):
    for line in (archive / LEDGER).read_text().splitlines():
        entry, rest = line.split("  ", 1)
        done = subprocess.run(["sha256sum"], input=rest.encode(), capture_output=True)
        assert done.stdout.decode().split()[0] == entry
    entries, breaks = read_ledger(archive)
    assert breaks == [] and [e.seq for e in entries] == [1, 2, 3]
    latest = subprocess.run(["sha256sum", "R1/SHA256SUMS"], cwd=archive, capture_output=True)
    assert latest.stdout.decode().split()[0] == entries[1].manifest


def test_a_crash_after_the_ledger_entry_is_finished_not_flagged(archive, monkeypatch):
    import relief_kit.shell.archive as module

    def crash(*_):
        raise KeyboardInterrupt  # killed between the ledger entry and the rename

    monkeypatch.setattr(module, "_swap_in", crash)
    with pytest.raises(KeyboardInterrupt):
        write_case_folder(archive, "R2", case_files("R2", "discount"))
    monkeypatch.undo()
    assert {k for _, k in kinds(archive)} == {"inacabado"}
    clean_stale(archive)
    assert verify(archive) == []
    assert b"discount" in (archive / "R2" / "case.json").read_bytes()


def test_a_symlinked_case_folder_is_replaced_without_an_old_entry(tmp_path, archive):
    import shutil

    elsewhere = tmp_path / "fora"
    shutil.move(archive / "R2", elsewhere)
    (archive / "R2").symlink_to(elsewhere)
    assert ("R2", "link") in kinds(archive)
    write_case_folder(archive, "R2", case_files("R2", "refusal"))
    assert not [p for p in archive.iterdir() if p.name.startswith(".")]
    assert not (archive / "R2").is_symlink() and elsewhere.is_dir()
    assert verify(archive) == []


def test_batch_on_a_broken_archive_symlink_is_one_line(tmp_path):
    data = sample_copy(tmp_path)
    (tmp_path / "link").symlink_to(tmp_path / "nao-existe")
    result = CliRunner().invoke(main, ["batch", str(data), "--archive", str(tmp_path / "link")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("erro:")]
    assert len(errors) == 1 and "é um link para" in errors[0] and "não existe" in errors[0]


# --------------------------------------------------------------------------- the store


def _decided_store(tmp_path):
    from relief_kit.core.criteria import load_criteria
    from tests.test_store import ANSWERS, draft

    store = open_store(tmp_path)
    store.record_decision("r1", draft(), load_criteria(), checklist=ANSWERS,
                          expected_previous=None, now=datetime(2026, 11, 20, 14, 3))
    return store


@pytest.mark.parametrize("statement", [
    "UPDATE decisions SET action = 'refusal'",
    "DELETE FROM decisions",
    "UPDATE audit SET who = 'ninguém'",
    "DELETE FROM audit",
])
def test_a_forged_update_or_delete_of_decisions_is_refused(tmp_path, statement):
    _decided_store(tmp_path).close()
    raw = sqlite3.connect(tmp_path / "cases.sqlite")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        raw.execute(statement)
    raw.close()
    store = open_store(tmp_path)
    assert store.history("r1")[0].action == "instalments"


def test_purge_and_erasure_still_scrub_and_log_themselves(tmp_path):
    store = _decided_store(tmp_path)
    store.purge_sensitive("r1", who="Bia")
    store.erase_request("r1", who="Bia")
    assert store.history("r1")[0].checklist.at_risk is None
    assert [a["what"] for a in store.audit("r1")][-2:] == [
        "expurgou dados sensíveis", "apagou dados a pedido do titular"]
    raw = sqlite3.connect(tmp_path / "cases.sqlite")
    assert raw.execute("SELECT COUNT(*) FROM maintenance").fetchone() == (0,)
    with pytest.raises(sqlite3.IntegrityError):
        raw.execute("UPDATE decisions SET action = 'refusal'")


class _FailingConnection:
    """The real connection, whose writes fail as SQLite fails them on a full disk."""

    def __init__(self, db, message, name):
        self._db, self._message, self._name = db, message, name

    def execute(self, sql, *args):
        if sql.lstrip().upper().startswith("INSERT"):
            error = sqlite3.OperationalError(self._message)
            error.sqlite_errorname = self._name
            raise error
        return self._db.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._db, name)


def test_a_full_disk_is_reported_as_such_not_as_corruption(tmp_path):
    from tests.test_store import ANSWERS

    store = open_store(tmp_path)
    store._db = _FailingConnection(store._db, "database or disk is full", "SQLITE_FULL")
    with pytest.raises(InputError) as error:
        store.save_answers("r1", ANSWERS, analyst="Ana")
    message = str(error.value)
    assert "disco cheio" in message and "backup" not in message and "\n" not in message


def test_a_read_only_store_is_reported_as_such(tmp_path):
    from tests.test_store import ANSWERS

    store = open_store(tmp_path)
    store._db.execute("PRAGMA query_only = ON")  # SQLite's own read-only refusal
    with pytest.raises(InputError) as error:
        store.save_answers("r1", ANSWERS, analyst="Ana")
    assert "somente leitura" in str(error.value) and "backup" not in str(error.value)


def test_a_store_that_cannot_be_created_is_not_called_corrupt(tmp_path):
    (tmp_path / "cases.sqlite").mkdir()  # what SQLite cannot open
    with pytest.raises(InputError) as error:
        open_store(tmp_path)
    assert "backup" not in str(error.value)


def test_only_a_corrupt_store_is_sent_to_the_backup(tmp_path):
    (tmp_path / "cases.sqlite").write_bytes(b"isto nao e um banco SQLite" * 200)
    with pytest.raises(InputError, match="corrompido.*restaure-o do backup"):
        open_store(tmp_path)


def test_two_processes_creating_the_store_at_once_both_succeed(tmp_path):
    code = ("import sys, time; from relief_kit.store.cases import open_store\n"
            "time.sleep(max(0, float(sys.argv[2]) - time.time()))\n"
            "open_store(sys.argv[1]).close()")
    for trial in range(8):
        folder = tmp_path / f"t{trial}"
        folder.mkdir()
        start = str(time.time() + 1.5)
        runs = [subprocess.Popen([sys.executable, "-c", code, str(folder), start],
                                 stderr=subprocess.PIPE) for _ in range(2)]
        for run in runs:
            _, err = run.communicate(timeout=60)
            assert run.returncode == 0, err.decode()
        assert open_store(folder).history("x") == []


# --------------------------------------------------------------------------- criteria


@pytest.mark.parametrize("old, new, key", [
    ("good_record = 2", "good_record = nan", "weights.good_record"),
    ("good_share = 0.80", "good_share = nan", "punctuality.good_share"),
    ("monthly_cost_of_money = 0.015", "monthly_cost_of_money = nan",
     "money.monthly_cost_of_money"),
    ("max_percent = 20", "max_percent = nan", "discount.max_percent"),
    ("min_amount = 30.00", "min_amount = nan", "instalments.min_amount"),
    ("min_amount = 30.00", "min_amount = -inf", "instalments.min_amount"),
    ("monthly_cost_of_money = 0.015", "monthly_cost_of_money = -0.01",
     "money.monthly_cost_of_money"),
    ("max_percent = 20", "max_percent = 120", "discount.max_percent"),
    ("good_share = 0.80", "good_share = 1.5", "punctuality.good_share"),
    ("max_count = 6", "max_count = 0", "instalments.max_count"),
    ("min_bills = 30", "min_bills = 0", "calibration.min_bills"),
    ("weight = 1", "weight = nan", "checklist.extra[1].weight"),
])
def test_nan_negative_and_out_of_range_criteria_are_refused_naming_the_key(old, new, key):
    # One extra checklist item of the team's own, as a provider's file would have.
    raw = DEFAULT_CRITERIA.read_text(encoding="utf-8") + (
        '\n[[checklist.extra]]\nkey = "lost_income"\n'
        'label = "Perdeu renda recentemente?"\nweight = 1\n')
    assert old in raw
    with pytest.raises(InputError) as error:
        parse_criteria(raw.replace(old, new, 1).encode(), source="criteria.toml")
    assert str(error.value).startswith(f"criteria.toml: {key}: ")
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("old, new, key", [
    ('cnpj = "11.222.333/0001-81"', 'cnpj = "11.222.333/0001-80"', "provider.cnpj"),
    ('cnpj = "11.222.333/0001-81"', 'cnpj = "<b>11.222.333/0001-81</b>"', "provider.cnpj"),
    ('phone = "+55 35 3421-0000"', 'phone = "ligue já"', "provider.phone"),
    ('email = "atendimento@netvale.example"', 'email = "atendimento"', "provider.email"),
])
def test_the_providers_cnpj_phone_and_email_are_validated(tmp_path, old, new, key):
    from relief_kit.core.settings import DEFAULT_SETTINGS, load_provider

    text = DEFAULT_SETTINGS.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "settings.toml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(InputError, match=f"^{path}: {key}: "):
        load_provider(path)


# --------------------------------------------------------------------------- odd files


def test_check_refuses_a_fifo_without_opening_it(tmp_path):
    data = sample_copy(tmp_path)
    chat = evidence_of(data, WHATSAPP_REQUEST)
    chat.unlink()
    os.mkfifo(chat)
    started = time.monotonic()
    result = CliRunner().invoke(main, ["check", str(data)])
    assert time.monotonic() - started < 60
    assert result.exit_code == 1 and "não é um arquivo comum" in result.output
    from relief_kit.sources.evidence import read_evidence

    with pytest.raises(InputError, match="não é um arquivo comum"):
        read_evidence(chat)


def test_check_refuses_an_e_mail_nested_too_deep(tmp_path):
    data = sample_copy(tmp_path)
    eml = evidence_of(data, EMAIL_REQUEST)
    head = ("From: a@b.example\nTo: c@d.example\nSubject: ajuda\n"
            "Date: Mon, 2 Nov 2026 10:00:00 -0300\nMIME-Version: 1.0\n")
    nested = "".join(f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n'
                     for i in range(1000))
    closing = "".join(f"\n--b{i}--\n" for i in reversed(range(1000)))
    eml.write_text(head + nested + "Content-Type: text/plain\n\nsocorro\n" + closing)
    result = CliRunner().invoke(main, ["check", str(data)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "partes aninhadas em mais de" in result.output


@pytest.mark.parametrize("bad, expected", [
    ("../..", "identificador inválido"),
    ("a/b", "identificador inválido"),
    ("R" * 300, "longo demais"),
    ("CON", "nome reservado"),
    ("nul.txt", "nome reservado"),
    ("r0002", "só em maiúsculas/minúsculas"),
])
def test_check_applies_the_batchs_request_id_rules(tmp_path, bad, expected):
    data = sample_copy(tmp_path)
    set_cell(data, "requests.csv", "request_id", "R0001", "request_id", bad)
    result = CliRunner().invoke(main, ["check", str(data)])
    assert result.exit_code == 1 and expected in result.output, result.output


# --------------------------------------------------------------------------- processes


def test_the_review_server_dies_with_its_launcher_even_on_sigkill(tmp_path):
    code = ("import sys; from pathlib import Path\n"
            "from relief_kit.shell.launch import Server, run\n"
            "run(Server([sys.executable, '-c', 'import time; time.sleep(120)'], '', "
            "Path('x'), '', 0))")
    launcher = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 30
    children = []
    while time.monotonic() < deadline and not children:
        time.sleep(0.2)
        children = _children(launcher.pid)
    assert children, "the server did not start"
    os.kill(launcher.pid, signal.SIGKILL)
    launcher.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(pid) for pid in children):
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in children)


def test_stale_runtime_folders_of_dead_launches_are_removed(tmp_path):
    from relief_kit.shell.launch import RUNTIME_DIR, runtime_dir

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / RUNTIME_DIR / str(dead.pid)
    stale.mkdir(parents=True)
    (stale / "kernel-1234.json").write_text("{}")
    mine = runtime_dir(tmp_path)
    assert not stale.exists() and mine.name == str(os.getpid())


def test_review_on_a_folder_it_cannot_write_is_one_line(tmp_path, monkeypatch):
    import relief_kit.shell.launch as launch

    data = sample_copy(tmp_path)

    def read_only(*_, **__):
        raise OSError(30, "Read-only file system")  # EROFS at the real mkdir

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # the name, remembered
    monkeypatch.setattr(launch.Path, "mkdir", read_only)
    result = CliRunner().invoke(main, ["review", str(data), "--no-browser",
                                       "--analyst", "Ana"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "somente leitura" in result.output


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return [int(p) for p in handle.read().split()]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def test_kernel_sockets_of_a_deep_data_folder_go_to_a_short_private_folder(tmp_path):
    # A Unix socket's path holds 107 bytes: a data folder deep enough would stop every
    # kernel from starting (zmq: "ipc path ... is longer than 107 characters").
    import stat

    from relief_kit.shell import launch

    short, temporary = launch.socket_runtime(Path("/tmp/r"))
    assert (short, temporary) == (Path("/tmp/r"), False)
    deep = tmp_path / ("pasta-muito-longa-" * 6) / ".relief-kit" / "runtime" / "12345"
    chosen, temporary = launch.socket_runtime(deep)
    try:
        assert temporary and chosen != deep
        assert len(str(chosen)) + len(launch._SOCKET_NAME) <= launch.SOCKET_PATH_LIMIT
        assert stat.S_IMODE(chosen.stat().st_mode) == 0o700
    finally:
        chosen.rmdir()
