"""Retention purge and data-subject requests, on a real archive written by the batch."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import shutil
import stat
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from relief_kit.cli import main
from relief_kit.core.criteria import load_criteria
from relief_kit.shell.archive import verify
from relief_kit.shell.batch import run_batch
from relief_kit.shell.replay import recommend_all
from relief_kit.sources.tables import load_folder
from relief_kit.store.cases import DecisionDraft, open_store
from tests.case_folder import customer_of, evidence_of, sample_copy

pytestmark = pytest.mark.kernel

OLD = "R0001"  # decided long ago, with an at-risk household and notes (WhatsApp chat)
RECENT = "R0007"  # decided a week ago (e-mail)
PENDING = "R0002"  # never decided
CASES = [OLD, RECENT, PENDING]
NOTE = "Cliente contou que a mãe está internada; prometeu pagar quando receber."
DECIDED = {OLD: datetime(2026, 1, 10, 9, 0), RECENT: datetime(2026, 11, 18, 9, 0)}
TODAY = "2026-11-25"


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """A data folder with two decisions and the batch's archive of three cases."""
    root = tmp_path_factory.mktemp("privacy")
    data = sample_copy(root)
    portfolio, criteria = load_folder(data), load_criteria()
    cases = {c.request_id: c for c in recommend_all(portfolio, criteria,
                                                   as_of=portfolio.as_of)
             if c.request_id in DECIDED}
    with open_store(data) as store:
        for request_id, moment in DECIDED.items():
            rec = cases[request_id].recommendation
            checklist = dataclasses.replace(
                cases[request_id].checklist, at_risk=True, at_risk_category="idoso",
                at_risk_consent=True, notes=NOTE)
            store.save_answers(request_id, checklist, analyst="Joana", now=moment)
            store.record_decision(
                request_id, DecisionDraft(rec.action, rec.terms, "Boa pagadora.", "Joana",
                                          "Carlos", rec.action, rec),
                criteria, checklist=checklist, expected_previous=None, now=moment)
    archive = root / "arquivo"
    result = run_batch(data, archive, workers=2, request_ids=CASES)
    assert [o.status for o in result.outcomes] == ["written"] * 3, result.outcomes
    return data, archive


@pytest.fixture
def copy(written, tmp_path):
    data, archive = written
    shutil.copytree(data, tmp_path / "dados")
    shutil.copytree(archive, tmp_path / "arquivo")
    return tmp_path / "dados", tmp_path / "arquivo"


def run(*args: str, input: str | None = None):
    result = CliRunner().invoke(main, [str(a) for a in args], input=input)
    assert "Traceback" not in result.output, result.output
    return result


def files_of(case: Path) -> set[str]:
    return {p.relative_to(case).as_posix() for p in case.rglob("*") if p.is_file()}


def pdf_text(path: Path) -> str:
    """The text of a PDF, whitespace collapsed (what a reader searching it would find)."""
    import re

    from pypdf import PdfReader

    return re.sub(r"\s+", " ", " ".join(p.extract_text() for p in PdfReader(path).pages))


def document_of(data: Path, request_id: str) -> str:
    customer = customer_of(data, request_id)
    with (data / "customers.csv").open(encoding="utf-8", newline="") as handle:
        return next(r["document"] for r in csv.DictReader(handle)
                    if r["customer_id"] == customer)


# --------------------------------------------------------------------------- purge


def test_purge_removes_evidence_and_sensitive_fields_of_old_closed_cases_only(copy):
    data, archive = copy
    evidence = evidence_of(data, OLD)
    assert NOTE in (archive / OLD / "record.html").read_text(encoding="utf-8")
    before = {case: files_of(archive / case) for case in CASES}

    dry = run("purge", archive, "--older-than", 30, "--dry-run", "--data", data,
              "--today", TODAY)
    assert dry.exit_code == 0, dry.output
    assert f"{OLD}: decidido em 10/01/2026" in dry.output and "seria expurgado" in dry.output
    assert "1 caso seria expurgado" in dry.output
    assert "1 dentro do prazo, 1 sem decisão" in dry.output
    assert {case: files_of(archive / case) for case in CASES} == before
    assert evidence.is_file()

    done = run("purge", archive, "--older-than", 30, "--data", data, "--today", TODAY,
               "--who", "Encarregada LGPD")
    assert done.exit_code == 0, done.output
    assert "1 caso expurgado" in done.output
    assert run("verify", archive).exit_code == 0

    old = archive / OLD
    kept = files_of(old)
    assert not any(name.startswith("evidence/") for name in kept)
    assert "record.ipynb" not in kept
    assert {"record.html", "record.pdf", "case.json", "SHA256SUMS"} <= kept
    assert any(name.startswith("messages/") for name in kept)  # what the customer was told
    facts = json.loads((old / "case.json").read_text(encoding="utf-8"))
    text = json.dumps(facts, ensure_ascii=False) + (old / "record.html").read_text("utf-8")
    assert NOTE not in text and "idoso" not in text
    # The PDF is the reduced record's too: the full one showed the notes and the answers.
    pdf = pdf_text(old / "record.pdf")
    assert "Registro reduzido após o prazo de retenção" in pdf and "Boa pagadora." in pdf
    assert NOTE not in pdf and "idoso" not in pdf.lower()
    assert facts["decision"]["analyst"] == "Joana"
    assert facts["decision"]["justification"] == "Boa pagadora."
    assert facts["decision"]["checklist"]["at_risk"] is True  # why a second analyst signed
    assert facts["purge"]["by"] == "Encarregada LGPD"
    assert "Boa pagadora." in (old / "record.html").read_text(encoding="utf-8")
    assert files_of(archive / RECENT) == before[RECENT]
    assert files_of(archive / PENDING) == before[PENDING]

    # The data folder and the case store lose the same details; the trail stays.
    assert not evidence.exists()
    assert run("check", data).exit_code == 0
    with open_store(data) as store:
        answers = store.load_answers(OLD)
        assert answers.notes == "" and answers.at_risk_category == ""
        assert store.load_answers(RECENT).notes == NOTE
        decision = store.latest_decision(OLD)
        assert decision.checklist.notes == "" and decision.analyst == "Joana"
        assert [a["what"] for a in store.audit(OLD)][-1] == "expurgou dados sensíveis"


def test_a_purged_case_stays_purged_when_the_batch_runs_again(copy):
    data, archive = copy
    assert run("purge", archive, "--older-than", 30, "--today", TODAY).exit_code == 0
    again = run_batch(data, archive, workers=1, request_ids=[OLD], force=True)
    assert [(o.status, o.message) for o in again.outcomes] == [
        ("skipped", "expurgado: mantido como está")]
    assert "record.ipynb" not in files_of(archive / OLD)
    second = run("purge", archive, "--older-than", 30, "--today", TODAY)
    assert "0 casos expurgados" in second.output and "1 já expurgados" in second.output


def test_a_purge_interrupted_before_the_archive_finishes_on_the_next_run(copy, monkeypatch):
    import relief_kit.shell.privacy as privacy

    data, archive = copy

    def crash(*_args, **_kwargs):
        raise KeyboardInterrupt  # the operator's Ctrl-C, or a power cut, at the worst time

    monkeypatch.setattr(privacy, "write_case_folder", crash)
    with pytest.raises(KeyboardInterrupt):
        privacy.purge(archive, 30, data_dir=data, now=datetime(2026, 11, 25))
    monkeypatch.undo()
    assert verify(archive) == [] and "record.ipynb" in files_of(archive / OLD)
    report = privacy.purge(archive, 30, data_dir=data, now=datetime(2026, 11, 25))
    assert [c.request_id for c in report.purged] == [OLD]
    assert "record.ipynb" not in files_of(archive / OLD) and verify(archive) == []
    assert run("check", data).exit_code == 0


def test_purge_refuses_a_case_changed_since_it_was_recorded(copy):
    data, archive = copy
    with (archive / OLD / "record.html").open("a", encoding="utf-8") as handle:
        handle.write("<!-- editado depois -->")
    result = run("purge", archive, "--older-than", 30, "--today", TODAY)
    assert result.exit_code == 1
    assert (f"recusado: {OLD}: record.html: alterado desde o registro (o SHA-256 não "
            "confere); não expurgado (confira com relief-kit verify antes)") in result.output
    assert "record.ipynb" in files_of(archive / OLD)


def test_purge_of_a_missing_archive_is_one_line(tmp_path):
    result = run("purge", tmp_path / "nada", "--older-than", 30)
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"erro: relief-kit purge: valor inválido para ARCHIVE: a pasta '{tmp_path / 'nada'}' "
        "não existe (veja relief-kit purge --help)")


# --------------------------------------------------------------------------- data subjects


def test_subject_export_gathers_everything_held_on_one_document(copy, tmp_path):
    data, archive = copy
    document = document_of(data, OLD)
    out = tmp_path / "titular.json"
    result = run("subject", "export", document, "--data", data, "--archive", archive,
                 "--out", out)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    exported = json.loads(out.read_text(encoding="utf-8"))
    assert [c["customer_id"] for c in exported["cadastro"]] == [customer_of(data, OLD)]
    assert OLD in [p["request_id"] for p in exported["pedidos"]]
    assert len(exported["faturas"]) > 0
    chat = evidence_of(data, OLD).read_bytes().decode("utf-8")
    assert [e["conteudo"] for e in exported["pedidos_escritos"]] == [chat]
    assert exported["respostas_e_decisoes"][OLD]["answers"]["notes"] == NOTE
    assert [c["pedido"] for c in exported["arquivo_dos_casos"]] == [OLD]
    assert "Joana" not in json.dumps(exported["acessos"])  # staff names stay out
    other = document_of(data, RECENT)
    assert other not in out.read_text(encoding="utf-8")


def test_subject_erase_keeps_only_the_decision_trail_with_its_reason(copy):
    data, archive = copy
    document = document_of(data, OLD)
    customer = customer_of(data, OLD)
    evidence = evidence_of(data, OLD)

    refused = run("subject", "erase", document, "--data", data, "--archive", archive,
                  input="n\n")
    assert refused.exit_code == 1 and "Será feito:" in refused.output
    assert evidence.is_file()

    result = run("subject", "erase", document, "--data", data, "--archive", archive,
                 "--yes", "--who", "Encarregada LGPD")
    assert result.exit_code == 0, result.output
    assert "LGPD art. 7º, VI, e art. 16, I" in result.output
    assert run("verify", archive).exit_code == 0
    assert run("check", data).exit_code == 0
    assert not evidence.exists()
    for table in ("customers.csv", "invoices.csv", "requests.csv"):
        with (data / table).open(encoding="utf-8", newline="") as handle:
            assert all(row["customer_id"] != customer for row in csv.DictReader(handle))
    assert files_of(archive / OLD) == {"case.json", "record.html", "record.pdf", "SHA256SUMS"}
    facts = json.loads((archive / OLD / "case.json").read_text(encoding="utf-8"))
    assert facts["customer"]["document"] == document
    assert facts["erasure"]["kept_until"] == "2031-01-10"
    assert "name" not in facts["customer"]
    assert facts["decision"]["checklist"]["at_risk"] is None
    assert facts["decision"]["terms"] and facts["decision"]["analyst"] == "Joana"
    record = (archive / OLD / "record.html").read_text(encoding="utf-8")
    assert document not in record and document[4:11] in record  # masked: ***.236.264-**
    pdf = pdf_text(archive / OLD / "record.pdf")
    assert "Registro reduzido a pedido do titular" in pdf and document not in pdf
    with open_store(data) as store:
        assert store.load_answers(OLD) is None
        assert store.latest_decision(OLD).checklist.notes == ""
        assert store.latest_decision(OLD).checklist.at_risk is None  # not even the flag
        assert store.load_answers(RECENT).notes == NOTE  # other customers untouched

    exported = run("subject", "export", document, "--data", data, "--archive", archive,
                   "--out", data.parent / "depois.json")
    assert "0 cadastros, 0 faturas, 0 pedidos, 1 caso no arquivo" in exported.output
    again = run("subject", "erase", document, "--data", data, "--archive", archive, "--yes")
    assert again.output.strip().endswith(f"trilha das decisões mantida por lei ({OLD}).")


def test_an_undecided_case_is_erased_whole(copy):
    data, archive = copy
    result = run("subject", "erase", document_of(data, PENDING), "--data", data,
                 "--archive", archive, "--yes")
    assert result.exit_code == 0, result.output
    assert not (archive / PENDING).exists()
    assert f"Casos sem decisão apagados do arquivo: {PENDING}." in result.output
    assert verify(archive) == []


def test_a_document_with_wrong_check_digits_is_refused_in_one_line(copy):
    data, _ = copy
    result = run("subject", "export", "529.982.247-26", "--data", data, "--out", "x.json")
    assert result.exit_code == 1
    assert result.output.strip() == ("erro: documento '529.982.247-26': CPF com dígitos "
                                     "verificadores errados; confira o número do titular.")


# --------------------------------------------------------------------------- owner only


def test_archive_store_and_pseudonym_key_are_readable_by_their_owner_only(copy, tmp_path,
                                                                          monkeypatch):
    data, archive = copy
    assert stat.S_IMODE(os.stat(archive).st_mode) == 0o700
    for path in (archive / OLD).rglob("*"):
        expected = 0o700 if path.is_dir() else 0o600
        assert stat.S_IMODE(os.stat(path).st_mode) == expected, path
    assert stat.S_IMODE(os.stat(data / "cases.sqlite").st_mode) == 0o600
    key = tmp_path / "chave" / "pseudonimos.key"
    monkeypatch.setenv("RELIEF_KIT_KEY_FILE", str(key))
    from relief_kit.shell.pseudonyms import pseudonymizer

    pseudonymizer()
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
