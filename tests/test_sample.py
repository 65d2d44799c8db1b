"""The synthetic sample portfolio (`relief-kit sample`).

The committed data/sample/ folder was made with:

    relief-kit sample data/sample --customers 300 --months 24 --requests 40 --seed 7 \
        --today 2026-11-20
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from stdnum.br import cnpj, cpf

from relief_kit.cli import main
from relief_kit.core import schema
from relief_kit.core.errors import InputError
from relief_kit.core.settings import load_provider
from relief_kit.sources.evidence import parse_eml, parse_whatsapp
from relief_kit.sources.tables import read_table
from relief_kit.tools.sample.portfolio import BEHAVIOURS, generate, write_sample

AS_OF = date(2026, 11, 20)
PROVIDER = load_provider()


@pytest.fixture(scope="module")
def sample():
    """The default sample, as committed under data/sample/."""
    return generate(300, 24, 40, 7, as_of=AS_OF)


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _chats(sample) -> dict[str, object]:
    return {name: parse_whatsapp(data.decode("utf-8"), [PROVIDER.whatsapp_author])
            for name, data in sample.evidence.items() if name.endswith(".txt")}


def _text(sample, name: str) -> str:
    """The customer's own words in an evidence file."""
    data = sample.evidence[name]
    if name.endswith(".eml"):
        return parse_eml(data).text
    chat = parse_whatsapp(data.decode("utf-8"), [PROVIDER.whatsapp_author])
    return "\n".join(m.text for m in chat.messages if m.from_customer and not m.is_media)


def _bills_of(sample, behaviour: str) -> pd.DataFrame:
    ids = sample.behaviours.index[sample.behaviours == behaviour]
    return sample.invoices[sample.invoices["customer_id"].isin(ids)]


# --------------------------------------------------------------------------- determinism


def test_same_seed_writes_the_same_bytes(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    write_sample(first, generate(120, 24, 16, seed=11, as_of=AS_OF))
    write_sample(second, generate(120, 24, 16, seed=11, as_of=AS_OF))
    assert _files(first) == _files(second)
    assert len(_files(first)) > 4  # tables, export.toml and evidence


def test_another_seed_gives_another_portfolio():
    one = generate(60, 12, 6, seed=1, as_of=AS_OF)
    other = generate(60, 12, 6, seed=2, as_of=AS_OF)
    assert set(one.customers["document"]).isdisjoint(other.customers["document"])
    assert one.evidence != other.evidence


def test_more_requests_do_not_change_customers_or_bills():
    few = generate(80, 12, 5, seed=4, as_of=AS_OF)
    many = generate(80, 12, 20, seed=4, as_of=AS_OF)
    pd.testing.assert_frame_equal(few.invoices, many.invoices)
    pd.testing.assert_frame_equal(few.customers.drop(columns="contract_status"),
                                  many.customers.drop(columns="contract_status"))


def test_reference_date_is_required():
    with pytest.raises(TypeError):
        generate(10)  # no hidden clock, no fixed default date


# --------------------------------------------------------------------------- customers


def test_documents_are_valid_and_match_the_person_type(sample):
    customers = sample.customers
    pf = customers[customers["person_type"] == "PF"]
    pj = customers[customers["person_type"] == "PJ"]
    assert len(pf) and len(pj)
    assert all(cpf.is_valid(d) for d in pf["document"])
    assert all(cnpj.is_valid(d) for d in pj["document"])
    assert all(re.fullmatch(r"\d{3}\.\d{3}\.\d{3}-\d{2}", d) for d in pf["document"])
    assert all(re.fullmatch(r"\d{2}\.\d{3}\.\d{3}/0001-\d{2}", d) for d in pj["document"])
    assert customers["document"].is_unique


def test_documents_stay_valid_and_distinct_at_scale():
    big = generate(5000, 3, 0, seed=9, as_of=AS_OF)
    documents = big.customers["document"]
    assert documents.is_unique
    assert documents.map(lambda d: cpf.is_valid(d) or cnpj.is_valid(d)).all()


def test_a_regional_provider_one_area_code_two_towns(sample):
    customers = sample.customers
    assert customers["phone"].str.fullmatch(r"\(35\) 9[6-9]\d{3}-\d{4}").all()
    assert customers["phone"].is_unique
    assert 1 <= customers["city"].nunique() <= 2
    assert 8 <= customers["neighbourhood"].nunique() <= 22
    with_email = customers["email"] != ""
    assert 0.6 < with_email.mean() < 1.0
    assert customers.loc[with_email, "email"].str.fullmatch(r"[a-z0-9._]+@[a-z0-9.\-]+").all()


def test_households_and_small_businesses_some_of_them_mei(sample):
    customers = sample.customers
    business = customers["business_kind"] != ""
    assert set(customers.loc[business, "business_kind"]) <= set(schema.BUSINESS_KINDS)
    assert {"padaria", "salao", "oficina", "loja"} <= set(customers["business_kind"])
    assert (customers["person_type"] == "PJ").le(business).all()  # every company is a business
    assert (business & (customers["person_type"] == "PF")).any()  # MEI-like, under a CPF


def test_fees_are_those_of_regional_plans(sample):
    customers = sample.customers
    assert customers["monthly_fee"].between(59.90, 299.90).all()
    assert (customers["plan"] == "Fibra 300 Mega").any()
    assert customers.loc[customers["plan"] == "Fibra 300 Mega", "monthly_fee"].eq(89.90).all()
    companies = customers["person_type"] == "PJ"
    assert customers.loc[companies, "monthly_fee"].mean() > \
        customers.loc[~companies, "monthly_fee"].mean()


def test_customers_joined_over_the_years_ids_in_contract_order(sample):
    since = sample.customers["customer_since"]
    assert since.is_monotonic_increasing
    assert since.min() < pd.Timestamp(AS_OF) - pd.DateOffset(years=8)
    assert (since > pd.Timestamp(AS_OF) - pd.DateOffset(months=6)).sum() >= 20
    assert since.max() < pd.Timestamp(AS_OF)


# --------------------------------------------------------------------------- bills


def test_one_bill_a_month_issued_ten_days_before_its_due_day(sample):
    bills = sample.invoices
    ordinary = bills[bills["arrangement"] == ""]
    month = ordinary["due_date"].dt.to_period("M")
    assert not pd.DataFrame({"c": ordinary["customer_id"], "m": month}).duplicated().any()
    assert (ordinary["due_date"] - ordinary["issued_on"]).eq(pd.Timedelta(days=10)).all()
    assert ordinary["due_date"].dt.day.isin([5, 10, 15, 20]).all()
    assert ordinary.groupby("customer_id")["due_date"].agg(lambda d: d.dt.day.nunique()).eq(1).all()
    per_customer = ordinary.groupby("customer_id").size()
    assert per_customer.max() == 24
    since = sample.customers.set_index("customer_id")["customer_since"]
    assert (ordinary["due_date"] > ordinary["customer_id"].map(since)).all()
    assert bills["invoice_id"].is_unique


def test_statuses_payments_and_notices_are_consistent(sample):
    bills = sample.invoices
    today = pd.Timestamp(AS_OF)
    assert set(bills["status"]) == set(schema.INVOICE_STATUSES)
    paid = bills["status"].isin(("paid", "partial"))
    assert bills.loc[paid, "paid_on"].notna().all()
    assert bills.loc[~paid, "paid_on"].isna().all()
    assert bills.loc[~paid, "amount_paid"].isna().all()
    assert (bills.loc[paid, "paid_on"] >= bills.loc[paid, "issued_on"]).all()
    assert (bills.loc[paid, "paid_on"] <= today).all()
    assert (bills["issued_on"] <= today).all()
    partial = bills["status"] == "partial"
    assert (bills.loc[partial, "amount_paid"] < bills.loc[partial, "amount"]).all()
    # A bill paid late carries the fine and interest; one paid on time is paid exactly.
    on_time = (bills["status"] == "paid") & (bills["paid_on"] <= bills["due_date"])
    assert (bills.loc[on_time, "amount_paid"] == bills.loc[on_time, "amount"]).all()
    late = (bills["status"] == "paid") & (bills["paid_on"] > bills["due_date"])
    assert (bills.loc[late, "amount_paid"] > bills.loc[late, "amount"]).all()
    # Overdue open bills got the dunning notice, a few days after the due date.
    overdue = bills["status"].isin(("open", "partial")) & (
        bills["due_date"] < today - pd.Timedelta(days=10))
    assert bills.loc[overdue, "notified_on"].notna().all()
    notified = bills["notified_on"].notna()
    gap = (bills.loc[notified, "notified_on"] - bills.loc[notified, "due_date"]).dt.days
    assert gap.between(5, 8).all()
    assert (bills.loc[notified, "notified_on"].dt.day_of_week < 5).all()
    assert bills.loc[bills["status"] == "cancelled", "notified_on"].isna().all()


def test_every_payment_behaviour_is_present_and_shows_in_the_bills(sample):
    assert set(sample.behaviours) == set(BEHAVIOURS)
    today = pd.Timestamp(AS_OF)

    def on_time_share(bills):
        due = bills[(bills["due_date"] < today - pd.Timedelta(days=10))
                    & ~bills["status"].isin(("cancelled", "renegotiated"))]
        return (due["paid_on"] <= due["due_date"] + pd.Timedelta(days=5)).mean()

    punctual = on_time_share(_bills_of(sample, "punctual"))
    assert punctual > 0.9
    assert on_time_share(_bills_of(sample, "chronically_late")) < 0.5
    assert punctual > on_time_share(_bills_of(sample, "sometimes_late")) > \
        on_time_share(_bills_of(sample, "chronically_late"))

    shock = _bills_of(sample, "recent_shock")
    before = shock[shock["due_date"] < today - pd.Timedelta(days=95)]
    recent = shock[shock["due_date"].between(today - pd.Timedelta(days=92), today)]
    assert on_time_share(before) > 0.9
    assert recent["status"].isin(("open", "partial")).mean() > 0.4

    newcomers = sample.customers.set_index("customer_id").loc[
        sample.behaviours.index[sample.behaviours == "new"], "customer_since"]
    assert (newcomers > today - pd.Timedelta(days=200)).all()


def test_earlier_reliefs_were_kept_or_broken(sample):
    for behaviour, kept in (("relief_kept", True), ("relief_broken", False)):
        bills = _bills_of(sample, behaviour)
        arranged = bills[bills["arrangement"] != ""]
        assert arranged["customer_id"].nunique() == (sample.behaviours == behaviour).sum()
        assert (bills["status"] == "renegotiated").any()
        paid_by_due = arranged["paid_on"] <= arranged["due_date"]
        if kept:
            assert paid_by_due.all()
        else:
            assert (~paid_by_due).groupby(arranged["customer_id"]).any().all()
    arrangements = sample.invoices["arrangement"]
    assert set(arrangements) == set(schema.ARRANGEMENTS)
    # A relief bill replaces the renegotiated ones: never more than they summed to.
    relieved = set(sample.behaviours[sample.behaviours.isin(("relief_kept",
                                                              "relief_broken"))].index)
    for customer, bills in sample.invoices.groupby("customer_id"):
        if customer not in relieved:
            continue
        relief = bills[bills["arrangement"] != ""]
        if len(relief):
            replaced = bills.loc[bills["status"] == "renegotiated", "amount"].sum()
            assert relief["amount"].sum() <= replaced + 0.01, customer


def test_due_date_changes_are_punctual_customers_moving_one_bill_mostly_kept(sample):
    behaviour = sample.invoices["customer_id"].map(sample.behaviours)
    moved = sample.invoices[(sample.invoices["arrangement"] == "postponement")
                            & behaviour.isin(("punctual", "sometimes_late"))]
    assert len(moved) and moved["customer_id"].is_unique
    assert (moved["status"] == "paid").all()
    kept = moved["paid_on"] <= moved["due_date"]
    assert kept.mean() > 0.75
    other = sample.invoices[sample.invoices["arrangement"] != ""]
    assert set(other["customer_id"].map(sample.behaviours)) <= {
        "punctual", "sometimes_late", "relief_kept", "relief_broken"}


def test_blocked_contracts_have_a_notified_debt(sample):
    customers = sample.customers
    assert set(customers["contract_status"]) <= {"active", "blocked_financial"}
    blocked = customers.loc[customers["contract_status"] == "blocked_financial", "customer_id"]
    assert len(blocked)
    bills = sample.invoices
    debt = bills[bills["status"].isin(("open", "partial")) & bills["notified_on"].notna()]
    assert set(blocked) <= set(debt["customer_id"])


# --------------------------------------------------------------------------- requests


def test_requests_spread_over_recent_months_over_every_channel(sample):
    requests = sample.requests
    assert len(requests) == 40
    assert requests["request_id"].is_unique
    assert set(requests["channel"]) == set(schema.CHANNELS)
    assert set(requests["asked"]) == set(schema.ASKS)
    received = requests["received_at"]
    assert received.is_monotonic_increasing
    assert (received < pd.Timestamp(AS_OF)).all()
    assert (received >= pd.Timestamp(AS_OF) - pd.Timedelta(days=93)).all()
    assert received.dt.month.nunique() >= 3
    assert set(requests["customer_id"]) <= set(sample.customers["customer_id"])
    assert requests["customer_id"].is_unique


def test_most_requests_come_from_customers_in_trouble_a_few_from_opportunists(sample):
    behaviour = sample.requests["customer_id"].map(sample.behaviours)
    troubled = behaviour.isin(("recent_shock", "chronically_late", "relief_broken"))
    assert troubled.mean() > 0.3
    assert (behaviour == "punctual").any()
    opportunists = sample.requests["request_id"].map(sample.situations) == "opportunist"
    assert 1 <= opportunists.sum() <= 10


def test_written_requests_have_their_files_spoken_ones_may_not(sample):
    requests = sample.requests
    documented = requests["evidence_file"] != ""
    assert set(requests.loc[documented, "evidence_file"]) == set(sample.evidence)
    written = requests["channel"].isin(("whatsapp", "email"))
    assert documented[written].all()
    assert (~documented & ~written).any()  # undocumented calls or visits
    assert (documented & ~written).any()  # a call followed by a written request
    suffix = requests.loc[documented, "evidence_file"].str.rsplit(".", n=1).str[-1]
    assert set(suffix) == {"txt", "eml"}
    assert (requests.loc[requests["channel"] == "email", "evidence_file"]
            .str.endswith(".eml").all())


def test_whatsapp_exports_in_android_and_ios_layouts(sample):
    chats = _chats(sample)
    layouts = {chat.layout for chat in chats.values()}
    assert layouts == {"android", "ios"}
    names = list(chats)
    assert any(n.endswith("/_chat.txt") for n in names)
    assert any(re.fullmatch(r"R\d{4}_chat\.txt", n) for n in names)
    assert any("/Conversa do WhatsApp com " in n for n in names)
    android = [sample.evidence[n].decode() for n in names if chats[n].layout == "android"]
    ios = [sample.evidence[n].decode() for n in names if chats[n].layout == "ios"]
    assert all(re.match(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2} - As mensagens e as chamadas", t)
               for t in android)
    assert any("<Mídia oculta>" in t for t in android)
    assert all(t.startswith("\u200e[") and "\r\n" in t for t in ios)
    assert any("\u200e<anexado: " in t for t in ios)
    # Multi-line messages: a line that starts with no date continues the message above.
    assert any(any("\n" in m.text for m in chat.messages) for chat in chats.values())


def test_chat_authors_are_the_provider_and_the_customer_by_name_or_number(sample):
    requests = sample.requests.set_index("evidence_file")
    customers = sample.customers.set_index("customer_id")
    by_number = by_name = 0
    for name, chat in _chats(sample).items():
        assert chat.customer_rule == "provider_authors"
        assert len(chat.customer_authors) == 1
        author = chat.customer_authors[0]
        request = requests.loc[name]
        customer = customers.loc[request["customer_id"]]
        if re.sub(r"\D", "", author) == "55" + re.sub(r"\D", "", customer["phone"]):
            by_number += 1
        elif customer["business_kind"] == "":
            # A household is saved in the provider's phone by first and last name (a
            # business may be saved by its trade name).
            assert set(author.split()) <= set(customer["name"].split()), (author, customer)
            by_name += 1
        if request["channel"] == "whatsapp":
            assert chat.requested_at == request["received_at"].to_pydatetime()
    assert by_number and by_name


def test_emails_in_utf8_latin1_and_html_only(sample):
    requests = sample.requests.set_index("evidence_file")
    customers = sample.customers.set_index("customer_id")
    charsets, html_only = set(), 0
    for name, data in sample.evidence.items():
        if not name.endswith(".eml"):
            continue
        email = parse_eml(data)
        request = requests.loc[name]
        customer = customers.loc[request["customer_id"]]
        assert customer["email"] in email.sender
        assert PROVIDER.email in email.to
        if request["channel"] == "email":
            assert email.date.replace(tzinfo=None) == request["received_at"].to_pydatetime()
            assert email.date.utcoffset() == timedelta(hours=-3)
        assert email.text.strip()
        html_only += email.from_html
        charsets.update(re.findall(rb'charset="?([\w-]+)', data))
    assert {b"utf-8", b"iso-8859-1"} <= charsets
    assert html_only >= 1


def test_texts_are_natural_varied_and_match_the_bills(sample):
    texts = [_text(sample, name) for name in sample.evidence]
    assert len(set(texts)) == len(texts)
    assert all(len(t) > 40 for t in texts)
    joined = "\n".join(texts)
    assert "{" not in joined and "}" not in joined  # every placeholder filled
    assert re.search(r"R\$ \d+,\d{2}", joined)
    assert "ã" in joined and "ç" in joined


def test_proposed_amounts_and_dates_are_said_in_the_text(sample):
    requests = sample.requests
    with_date = requests[requests["proposed_date"].notna()]
    assert len(with_date)
    assert (with_date["proposed_date"] > with_date["received_at"]).all()
    for _, request in with_date[with_date["evidence_file"] != ""].iterrows():
        said = request["proposed_date"].strftime("%d/%m")
        assert said in _text(sample, request["evidence_file"]), request["request_id"]
    with_amount = requests[requests["proposed_amount"].notna()]
    assert len(with_amount)
    assert (with_amount["asked"] == "discount").all()
    for _, request in with_amount[with_amount["evidence_file"] != ""].iterrows():
        said = f"{request['proposed_amount']:.2f}".replace(".", ",")
        assert said in _text(sample, request["evidence_file"]), request["request_id"]


def test_at_risk_answers_are_coarse_volunteered_and_never_for_companies(sample):
    requests = sample.requests
    at_risk = requests["at_risk"].fillna(False).astype(bool)
    assert at_risk.any()
    assert set(requests.loc[at_risk, "at_risk_category"]) <= set(schema.AT_RISK_CATEGORIES)
    assert (requests.loc[~at_risk, "at_risk_category"] == "").all()
    assert requests.loc[~at_risk, "at_risk_consent"].isna().all()
    assert requests.loc[at_risk, "at_risk_consent"].eq(True).any()
    person_type = requests["customer_id"].map(
        sample.customers.set_index("customer_id")["person_type"])
    assert not at_risk[person_type == "PJ"].any()
    business = requests["customer_id"].map(
        sample.customers.set_index("customer_id")["business_kind"]) != ""
    assert requests.loc[business, "small_business"].eq(True).any()


# --------------------------------------------------------------------------- the folder


def test_written_folder_reads_back_to_the_same_tables(tmp_path, sample):
    write_sample(tmp_path, sample)
    for table, frame in ((schema.CUSTOMERS, sample.customers),
                         (schema.INVOICES, sample.invoices),
                         (schema.REQUESTS, sample.requests)):
        read, problems = read_table(tmp_path / table, table)
        assert not problems, problems[:3]
        pd.testing.assert_frame_equal(read.reset_index(drop=True), frame, check_dtype=False)
    for name, data in sample.evidence.items():
        assert (tmp_path / schema.EVIDENCE_DIR / name).read_bytes() == data
    info = (tmp_path / schema.FOLDER_INFO).read_text(encoding="utf-8")
    assert "as_of = 2026-11-20" in info and 'source = "sample"' in info


def test_never_writes_over_a_folder_that_is_not_a_sample(tmp_path):
    (tmp_path / "customers.csv").write_text("customer_id\nreal\n", encoding="utf-8")
    with pytest.raises(InputError, match="não é uma amostra anterior"):
        write_sample(tmp_path, generate(20, 6, 2, as_of=AS_OF))
    assert (tmp_path / "customers.csv").read_text(encoding="utf-8") == "customer_id\nreal\n"


def test_a_previous_sample_is_replaced_whole_and_other_files_kept(tmp_path):
    write_sample(tmp_path, generate(60, 12, 12, seed=1, as_of=AS_OF))
    (tmp_path / "cases.sqlite").write_bytes(b"store")
    newer = generate(60, 12, 3, seed=2, as_of=AS_OF)
    write_sample(tmp_path, newer)
    evidence = {str(p.relative_to(tmp_path / "evidence"))
                for p in (tmp_path / "evidence").rglob("*") if p.is_file()}
    assert evidence == set(newer.evidence)
    assert (tmp_path / "cases.sqlite").read_bytes() == b"store"


def test_small_and_odd_sizes_work():
    tiny = generate(3, 2, 5, seed=0, as_of=AS_OF)
    assert len(tiny.requests) == 3
    assert len(generate(40, 24, 0, as_of=AS_OF).requests) == 0
    short = generate(200, 4, 10, as_of=AS_OF)
    ordinary = short.invoices[short.invoices["arrangement"] == ""]
    assert ordinary.groupby("customer_id").size().max() <= 5
    assert (short.invoices["amount"] > 0).all()


# --------------------------------------------------------------------------- command line


def test_sample_command_writes_and_reports(tmp_path):
    folder = tmp_path / "amostra"
    result = CliRunner().invoke(main, ["sample", str(folder), "--customers", "50",
                                       "--requests", "8", "--today", "2026-11-20"])
    assert result.exit_code == 0, result.output
    assert "50 clientes" in result.output and "8 pedidos" in result.output
    assert "20/11/2026" in result.output
    assert {p.name for p in folder.iterdir()} == {
        "customers.csv", "invoices.csv", "requests.csv", "evidence", "export.toml"}


def test_sample_command_refuses_real_data_in_one_line(tmp_path):
    (tmp_path / "clientes.csv").write_text("x", encoding="utf-8")
    result = CliRunner().invoke(main, ["sample", str(tmp_path), "--customers", "10",
                                       "--today", "2026-11-20"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("erro: ")
    assert "Traceback" not in result.output


def test_committed_sample_is_the_documented_default():
    folder = Path(__file__).resolve().parent.parent / "data" / "sample"
    info = (folder / schema.FOLDER_INFO).read_text(encoding="utf-8")
    assert "--customers 300 --months 24 --requests 40 --seed 7 --today 2026-11-20" in info
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert size < 2 * 1024 * 1024
    customers, problems = read_table(folder / schema.CUSTOMERS, schema.CUSTOMERS)
    assert not problems and len(customers) == 300
    requests, problems = read_table(folder / schema.REQUESTS, schema.REQUESTS)
    assert not problems and len(requests) == 40
    for name in requests["evidence_file"]:
        assert not name or (folder / schema.EVIDENCE_DIR / name).is_file()
    assert np.all(requests["received_at"] < pd.Timestamp(AS_OF))
