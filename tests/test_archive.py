"""The archive: whole-or-nothing case folders, sha256sum manifests, verify."""

import subprocess

import pytest
from click.testing import CliRunner

import relief_kit.shell.archive as archive_module
from relief_kit.cli import main
from relief_kit.core.errors import InputError
from relief_kit.shell.archive import clean_stale, verify, write_case_folder

FILES = {"record.html": b"<p>ok</p>", "case.json": b"{}", "messages/whatsapp.txt": "Olá".encode(),
         "evidence/R1_chat.txt": b"chat"}


def test_manifest_is_accepted_by_sha256sum(tmp_path):
    case = write_case_folder(tmp_path, "R1", FILES)
    done = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=case, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (case / "SHA256SUMS").read_text().count("\n") == len(FILES)


def test_folders_and_files_are_private(tmp_path):
    case = write_case_folder(tmp_path / "arquivo", "R1", FILES)
    assert (case.stat().st_mode & 0o777) == 0o700
    assert ((case / "record.html").stat().st_mode & 0o777) == 0o600


@pytest.mark.parametrize("change,kind", [
    (lambda c: (c / "record.html").write_bytes(b"<p>0k</p>"), "alterado"),
    (lambda c: (c / "case.json").unlink(), "ausente"),
    (lambda c: (c / "extra.txt").write_text("x"), "inesperado"),
    (lambda c: (c / "SHA256SUMS").write_text("não é um manifesto\n"), "manifesto"),
])
def test_verify_names_each_changed_missing_or_unexpected_file(tmp_path, change, kind):
    case = write_case_folder(tmp_path, "R1", FILES)
    write_case_folder(tmp_path, "R2", FILES)
    assert verify(tmp_path) == []
    change(case)
    problems = verify(tmp_path)
    assert [p.kind for p in problems] == [kind] and problems[0].case == "R1"
    result = CliRunner().invoke(main, ["verify", str(tmp_path)])
    assert result.exit_code == 1 and "R1/" in result.output and "Traceback" not in result.output


def test_verify_command_summarises_a_sound_archive(tmp_path):
    write_case_folder(tmp_path, "R1", FILES)
    result = CliRunner().invoke(main, ["verify", str(tmp_path)])
    assert result.exit_code == 0 and "Arquivo íntegro: 1 caso," in result.output


def test_crash_while_writing_leaves_the_old_case_whole(tmp_path, monkeypatch):
    write_case_folder(tmp_path, "R1", FILES)
    real = archive_module._write_file
    calls = []

    def crashing(path, data):
        calls.append(path)
        if len(calls) == 2:
            raise OSError("disco cheio")
        real(path, data)

    monkeypatch.setattr(archive_module, "_write_file", crashing)
    with pytest.raises(OSError):
        write_case_folder(tmp_path, "R1", {**FILES, "record.html": b"<p>novo</p>"})
    assert (tmp_path / "R1" / "record.html").read_bytes() == b"<p>ok</p>"
    assert verify(tmp_path) == []


def test_stale_work_is_cleaned_and_a_lost_case_restored(tmp_path):
    case = write_case_folder(tmp_path, "R1", FILES)
    (tmp_path / ".tmp-R2-abcd").mkdir()
    case.rename(tmp_path / ".old-R1-1234")  # a crash between the two renames
    assert {p.kind for p in verify(tmp_path)} == {"inacabado"}
    clean_stale(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["LEDGER", "R1"]
    assert verify(tmp_path) == []


@pytest.mark.parametrize("bad", ["../R1", "/etc", ".hidden", "a/b", "R\x001", ""])
def test_unsafe_request_ids_and_paths_are_refused(tmp_path, bad):
    with pytest.raises(InputError):
        write_case_folder(tmp_path, bad, FILES)
    with pytest.raises(InputError):
        write_case_folder(tmp_path, "R1", {f"../{bad or 'x'}": b""})
