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
    # Tables people read: one header row, no pandas index artefacts, months as ago/2026.
    heads = re.findall(r"<thead>(.*?)</thead>", html, re.S)
    assert heads and all(head.count("<tr") == 1 for head in heads)
    assert all("<th></th>" not in head for head in heads)
    for artefact in (">index<", ">level_0<", "colspan=", "2026-0", "2026-1"):
        assert artefact not in html, artefact
    months = re.findall(r"<td>([a-z]{3}/\d{4})</td>", html)
    assert months and set(m[:3] for m in months) <= {
        "jan", "fev", "mar", "abr", "mai", "jun", "jul", "ago", "set", "out", "nov", "dez"}
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


def test_meeting_tables_read_in_natural_order_and_charts_share_the_tables_units():
    from relief_kit.shell import meeting

    by_band = pd.crosstab(pd.Series(["boa", "cliente novo", "fraca", "regular", "boa"],
                                    name="pontualidade"),
                          pd.Series(["Recusa", "Parcelamento", "Recusa", "Recusa",
                                     "Desconto para pagamento no mês"], name="decisão"))
    shown = meeting.presentable("Decisões por pontualidade", by_band)
    assert list(shown.columns) == ["pontualidade", "Desconto para pagamento no mês",
                                   "Parcelamento", "Recusa"]
    assert list(shown["pontualidade"]) == ["boa", "regular", "fraca", "cliente novo"]

    requests = pd.DataFrame({
        "received_at": pd.to_datetime(["2026-08-03", "2026-08-20", "2026-09-01"]),
        "channel": ["whatsapp", "email", "whatsapp"], "asked": ["discount"] * 3,
        "evidence_file": ["a.txt", "", "b.txt"]})
    shown = meeting.presentable("Pedidos ao longo do tempo",
                                meeting.requests_over_time(requests))
    assert list(shown["mês"]) == ["ago/2026", "set/2026"]
    assert "canal: WhatsApp" in shown.columns and shown.columns.name is None

    reliability = pd.DataFrame({"grupo": ["1º quinto", "2º quinto"], "faturas": [10, 10],
                                "previsto": [0.41, 0.6], "observado": [0.57, 0.62]})
    # The table prints 41 % and 57 %: the chart's bars are 41 and 57 on a 0–100 % axis.
    data, unit = meeting.chart_data("Confiabilidade fora do período", reliability)
    assert unit == "percent"
    assert data.round(6).to_dict("list") == {"previsto": [41.0, 60.0], "observado": [57.0, 62.0]}
    assert meeting._html_table(reliability).count("41%") == 1
    data, unit = meeting.chart_data("Pedidos ao longo do tempo", shown)
    assert unit == "count" and list(data.index) == ["ago/2026", "set/2026"]
    assert data.loc["ago/2026", "WhatsApp"] == 1 and data.loc["ago/2026", "e-mail"] == 1
