"""The meeting report on the sample: every section computed, and no identifier in it."""

import re
import shutil
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from relief_kit.cli import main
from relief_kit.core.criteria import load_criteria
from relief_kit.core.documents import bare_document
from relief_kit.core.model import Action
from relief_kit.shell.replay import recommend_all
from relief_kit.sources.tables import load_folder
from relief_kit.store.cases import DecisionDraft, open_store

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"
ANALYSTS = ("Ana Beatriz Souza", "Bruno Lima")


@pytest.fixture(scope="module")
def decided_sample(tmp_path_factory):
    folder = tmp_path_factory.mktemp("meeting") / "dados"
    shutil.copytree(SAMPLE, folder)
    portfolio, criteria = load_folder(folder), load_criteria()
    store = open_store(folder)
    for i, case in enumerate(recommend_all(portfolio, criteria, as_of=portfolio.as_of)):
        rec = case.recommendation
        if rec.action is Action.ASK_INFO:
            continue
        store.record_decision(
            case.request_id,
            DecisionDraft(rec.action, rec.terms, "Conforme a recomendação; cliente <b>ok</b>.",
                          ANALYSTS[i % 2], "Carla" if rec.action is Action.REFUSAL else "",
                          rec.action, rec),
            criteria, checklist=case.checklist, expected_previous=None,
            now=datetime(2026, 11, 20, 9, i % 60))
    return folder


def test_report_has_no_names_documents_phones_or_emails(decided_sample, tmp_path, monkeypatch):
    monkeypatch.setenv("RELIEF_KIT_KEY_FILE", str(tmp_path / "key"))
    proposed = tmp_path / "proposed.toml"
    proposed.write_text((SAMPLE.parent / "criteria.toml").read_text(encoding="utf-8").replace(
        "grant_threshold = 1", "grant_threshold = 3"), encoding="utf-8")
    out = tmp_path / "reuniao.html"
    result = CliRunner().invoke(main, ["meeting", str(decided_sample), "--archive",
                                       str(tmp_path / "none"), "--out", str(out),
                                       "--proposed", str(proposed)])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    text = re.sub(r"\s+", " ", html)
    customers = pd.read_csv(decided_sample / "customers.csv", dtype=str, keep_default_na=False)
    identifiers = set()
    for row in customers.itertuples():
        identifiers |= {row.name, row.document, bare_document(row.document), row.email}
        digits = re.sub(r"\D", "", row.phone)
        identifiers |= {row.phone, digits, digits[-8:]}
    identifiers |= set(ANALYSTS) | {"Carla"}
    identifiers = {i for i in identifiers if i and len(i) >= 5}
    leaked = sorted(i for i in identifiers if i in text)
    assert leaked == []
    assert "cliente <b>ok</b>" not in html and "Conforme a recomendação" not in html
    for section in ("Pedidos ao longo do tempo", "Decisões por pontualidade",
                    "E se: resumo", "Modelo de pagamento: fora do período",
                    "Confiabilidade fora do período", "Picos de pedidos"):
        assert section in html
    assert "default-src 'none'" in html and "<script" not in html
    assert "risco" not in text.lower()  # the at-risk household: not even as counts


def test_what_if_with_the_same_criteria_reproduces_every_recommendation(decided_sample):
    from relief_kit.shell.meeting import build_inputs, meeting_tables
    from relief_kit.shell.pseudonyms import Pseudonymizer

    same = SAMPLE.parent / "criteria.toml"
    inputs = build_inputs(decided_sample, proposed_path=same)
    tables = meeting_tables(inputs, Pseudonymizer(b"k" * 32))
    summary = tables["E se: resumo"].iloc[0]
    assert summary["mudam"] == 0 and summary["efeito"] == 0
    assert summary["casos"] == len(inputs.portfolio.requests)
