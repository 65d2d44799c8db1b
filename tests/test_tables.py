"""Reading the canonical folder: Brazilian spreadsheet formats, located problems,
the Portfolio accessors, per-case loading and evidence paths that cannot escape."""

from __future__ import annotations

import csv
import os
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from relief_kit.core import schema
from relief_kit.core.errors import InputError
from relief_kit.core.model import Customer
from relief_kit.sources.tables import (
    EvidencePathError,
    Problem,
    evidence_path,
    load_case,
    load_folder,
    read_table,
    write_table,
)

# --------------------------------------------------------------------------- a clean folder

CUSTOMERS = [
    dict(customer_id="C1", name="Maria da Conceição", document="529.982.247-25",
         person_type="PF", phone="(35) 99999-0000", email="maria@example.com",
         neighbourhood="Centro", city="Poços de Caldas", plan="100 Mega", monthly_fee="89.90",
         customer_since="2023-01-10"),
    dict(customer_id="C2", name="Padaria Pão Quente Ltda", document="11.222.333/0001-81",
         person_type="PJ", phone="(35) 3333-0000", email="", neighbourhood="São Benedito",
         city="Poços de Caldas", plan="300 Mega", monthly_fee="149.90",
         customer_since="2022-05-01", business_kind="padaria"),
]
INVOICES = [
    dict(invoice_id="F1", customer_id="C1", issued_on="2026-09-01", due_date="2026-09-10",
         amount="89.90", paid_on="2026-09-09", amount_paid="89.90", status="paid"),
    dict(invoice_id="F2", customer_id="C1", issued_on="2026-10-01", due_date="2026-10-10",
         amount="89.90", status="open"),
    dict(invoice_id="F3", customer_id="C2", issued_on="2026-10-01", due_date="2026-10-10",
         amount="149.90", paid_on="2026-10-20", amount_paid="149.90", status="paid"),
]
REQUESTS = [
    dict(request_id="R1", customer_id="C1", received_at="2026-11-02 09:15:00",
         channel="whatsapp", asked="discount", evidence_file="conversa-maria.txt",
         small_business="não", at_risk="sim", at_risk_category="idoso", at_risk_consent="sim"),
    dict(request_id="R2", customer_id="C2", received_at="2026-11-03 14:00:00", channel="phone",
         asked="new_date", small_business="sim", proposed_date="2026-12-05",
         proposed_amount="149.90"),
]
TODAY = date(2026, 11, 20)


def write_rows(path: Path, table: str, rows: list[dict], *, sep: str = ",",
               encoding: str = "utf-8") -> Path:
    """A canonical table as a spreadsheet user would save it (every column, in order)."""
    with path.open("w", encoding=encoding, newline="") as out:
        writer = csv.DictWriter(out, schema.column_names(table), delimiter=sep, restval="")
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_folder(folder: Path, *, customers=None, invoices=None, requests=None,
                 evidence: dict[str, str] | None = None, as_of: str | None = "2026-11-20"
                 ) -> Path:
    """The clean folder above, with any table replaced by the given rows."""
    folder.mkdir(parents=True, exist_ok=True)
    write_rows(folder / schema.CUSTOMERS, schema.CUSTOMERS,
               CUSTOMERS if customers is None else customers)
    write_rows(folder / schema.INVOICES, schema.INVOICES,
               INVOICES if invoices is None else invoices)
    write_rows(folder / schema.REQUESTS, schema.REQUESTS,
               REQUESTS if requests is None else requests)
    (folder / schema.EVIDENCE_DIR).mkdir(exist_ok=True)
    texts = {"conversa-maria.txt": "02/11/2026 09:15 - Maria: Não consigo pagar este mês.\n"}
    for name, text in (texts if evidence is None else evidence).items():
        (folder / schema.EVIDENCE_DIR / name).write_text(text, encoding="utf-8")
    if as_of:
        (folder / schema.FOLDER_INFO).write_text(f'as_of = {as_of}\nsource = "teste"\n',
                                                 encoding="utf-8")
    return folder


def changed(rows: list[dict], index: int, **values) -> list[dict]:
    """A copy of ``rows`` with row ``index`` changed."""
    copy = [dict(row) for row in rows]
    copy[index].update(values)
    return copy


def lines(problems: list[Problem]) -> list[str]:
    return [str(p) for p in problems]


# --------------------------------------------------------------------------- encodings


CP1252_CUSTOMERS = (
    "customer_id;name;document;person_type;phone;city;monthly_fee;customer_since\r\n"
    "C1;João Conceição;529.982.247-25;PF;(35) 99999-0000;São Lourenço;1.149,90;05/01/2024\r\n"
    "C2;Açougue Irmãos Ltda;11.222.333/0001-81;PJ;;Pouso Alegre;89,9;2023-12-31\r\n"
)


def test_windows_1252_with_semicolons_and_decimal_commas_keeps_accents(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_bytes(CP1252_CUSTOMERS.encode("cp1252"))
    frame, problems = read_table(path, schema.CUSTOMERS)
    assert problems == []
    assert list(frame["name"]) == ["João Conceição", "Açougue Irmãos Ltda"]
    assert list(frame["city"]) == ["São Lourenço", "Pouso Alegre"]
    assert list(frame["monthly_fee"]) == [1149.90, 89.90]
    assert list(frame["customer_since"]) == [pd.Timestamp("2024-01-05"),
                                             pd.Timestamp("2023-12-31")]


def test_a_utf8_table_is_parsed_from_its_bytes_and_a_windows_1252_one_decoded(tmp_path):
    # A large UTF-8 table is never held as a Python string beside its bytes; a file that
    # turns out not to be UTF-8 (its header ASCII) is decoded as before.
    from relief_kit.sources.tables import _arrow_table, _read_text

    utf8, latin = tmp_path / "utf8" / "customers.csv", tmp_path / "cp1252" / "customers.csv"
    for path, encoding in ((utf8, "utf-8"), (latin, "cp1252")):
        path.parent.mkdir()
        path.write_bytes(CP1252_CUSTOMERS.encode(encoding))
        source, _ = _read_text(path)
        assert _arrow_table(source, schema.CUSTOMERS) is not None
        assert source.decoded == (encoding == "cp1252")
        frame, problems = read_table(path, schema.CUSTOMERS)
        assert problems == [] and list(frame["city"]) == ["São Lourenço", "Pouso Alegre"]


def test_a_large_table_is_parsed_from_its_path_whatever_its_encoding(tmp_path):
    # Past the first 64 KiB the file is read by pyarrow from its path; a Windows-1252
    # one, and one with a broken line far down, still read as before.
    from relief_kit.sources.tables import _read_text

    header, rows = CP1252_CUSTOMERS.splitlines(keepends=True)[0], []
    for i in range(1, 3001):
        rows.append(f"C{i};João {i};529.982.247-25;PF;;São Lourenço;89,9;05/01/2024\r\n")
    text = header + "".join(rows)
    assert len(text) > 2 * 65536
    for encoding in ("utf-8", "cp1252"):
        path = tmp_path / encoding / "customers.csv"
        path.parent.mkdir()
        path.write_bytes(text.encode(encoding))
        source, _ = _read_text(path)
        assert source.unread and not source.decoded
        frame, problems = read_table(path, schema.CUSTOMERS)
        assert problems == [] and len(frame) == 3000
        assert frame["name"].iloc[-1] == "João 3000"
        assert set(frame["city"]) == {"São Lourenço"}
        broken = path.parent / "broken" / "customers.csv"
        broken.parent.mkdir()
        broken.write_bytes(text.replace("C2900;", "C2900;;", 1).encode(encoding))
        frame, problems = read_table(broken, schema.CUSTOMERS)
        assert [(p.row, p.severity) for p in problems] == [(2900 + 1, "erro")]


def test_utf8_with_bom_reads_the_first_column_by_its_name(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_bytes(b"\xef\xbb\xbf" + CP1252_CUSTOMERS.replace(";", ",").replace(
        "1.149,90", '"1.149,90"').replace(",89,9,", ',"89,9",').encode("utf-8"))
    frame, problems = read_table(path, schema.CUSTOMERS)
    assert problems == []
    assert list(frame["customer_id"]) == ["C1", "C2"]
    assert list(frame["name"]) == ["João Conceição", "Açougue Irmãos Ltda"]
    assert list(frame["monthly_fee"]) == [1149.90, 89.90]


def test_tab_separated_with_messy_header_names_and_an_extra_column(tmp_path):
    path = tmp_path / "invoices.csv"
    path.write_text(
        " Invoice_ID \tCUSTOMER_ID\tdue_date\tAmount\tstatus\tobservação\n"
        "F1\t C1 \t10/09/2026\t 89,90 \tPAID \tqualquer coisa\n",
        encoding="utf-8")
    frame, problems = read_table(path, schema.INVOICES)
    assert problems == []
    assert "observação" not in frame.columns
    row = frame.iloc[0]
    assert (row["invoice_id"], row["customer_id"], row["status"]) == ("F1", "C1", "paid")
    assert row["due_date"] == pd.Timestamp("2026-09-10")
    assert row["amount"] == 89.90


def test_iso_and_brazilian_dates_read_the_same(tmp_path):
    path = tmp_path / "invoices.csv"
    write_rows(path, schema.INVOICES, [
        dict(invoice_id="F1", customer_id="C1", due_date="2026-02-03", amount="1",
             status="open", notified_on="2026-02-20"),
        dict(invoice_id="F2", customer_id="C1", due_date="03/02/2026", amount="1",
             status="open", notified_on="20/02/2026"),
        dict(invoice_id="F3", customer_id="C1", due_date="2026-02-03 00:00:00", amount="1",
             status="open", notified_on="0000-00-00"),
    ])
    frame, problems = read_table(path, schema.INVOICES)
    assert problems == []
    assert set(frame["due_date"]) == {pd.Timestamp("2026-02-03")}
    assert list(frame["notified_on"][:2]) == [pd.Timestamp("2026-02-20")] * 2
    assert pd.isna(frame["notified_on"].iloc[2])


def test_received_at_keeps_the_time_in_both_layouts(tmp_path):
    path = write_rows(tmp_path / "requests.csv", schema.REQUESTS, [
        changed(REQUESTS, 1, received_at="03/11/2026 14:05")[1],
        changed(REQUESTS, 1, request_id="R3", received_at="2026-11-03T14:05:00")[1],
    ])
    frame, problems = read_table(path, schema.REQUESTS)
    assert problems == []
    assert set(frame["received_at"]) == {pd.Timestamp("2026-11-03 14:05")}


# --------------------------------------------------------------------------- types


def test_typed_columns_and_their_empty_values(tmp_path):
    write_folder(tmp_path)
    invoices, problems = read_table(tmp_path / schema.INVOICES, schema.INVOICES)
    requests, more = read_table(tmp_path / schema.REQUESTS, schema.REQUESTS)
    assert problems == more == []
    assert invoices["amount"].dtype == "float64"
    assert invoices["due_date"].dtype == "datetime64[ns]"
    assert requests["at_risk"].dtype == "boolean"
    assert pd.isna(invoices.loc[1, "amount_paid"]) and pd.isna(invoices.loc[1, "paid_on"])
    assert invoices.loc[1, "arrangement"] == ""
    assert list(requests["at_risk"].astype(object)) == [True, pd.NA]
    assert list(requests["small_business"].astype(object)) == [False, True]
    assert requests.loc[1, "evidence_file"] == ""


def test_what_write_table_writes_read_table_reads_back(tmp_path):
    write_folder(tmp_path)
    first, _ = read_table(tmp_path / schema.REQUESTS, schema.REQUESTS)
    write_table(first, tmp_path / "again", schema.REQUESTS)
    second, problems = read_table(tmp_path / "again" / schema.REQUESTS, schema.REQUESTS)
    assert problems == []
    pd.testing.assert_frame_equal(first, second)


@pytest.mark.parametrize("value", [
    "=HYPERLINK(\"http://x\";\"clique\")", "+5535999990000", "-2+3", "@SOMA(A1)",
    "'=já protegido", "''=duas aspas", "'texto com aspas", "normal",
])
def test_a_formula_typed_by_a_customer_is_text_in_a_spreadsheet_and_read_back_exactly(
        tmp_path, value):
    frame = pd.DataFrame([dict(CUSTOMERS[0], name=value, plan=value)])
    path = write_table(frame, tmp_path, schema.CUSTOMERS)
    with open(path, encoding="utf-8", newline="") as handle:
        cells = list(csv.reader(handle))[1]
    assert not cells[1].startswith(("=", "+", "-", "@"))
    assert cells[1] == (("'" + value) if value.lstrip("'")[:1] in "=+-@" else value)
    back, problems = read_table(path, schema.CUSTOMERS)
    assert problems == []
    assert back.loc[0, "name"] == back.loc[0, "plan"] == value


# --------------------------------------------------------------------------- problems


def test_each_unreadable_cell_is_one_problem_on_its_spreadsheet_line(tmp_path):
    path = write_rows(tmp_path / "invoices.csv", schema.INVOICES, [
        INVOICES[0],
        changed(INVOICES, 1, amount="oitenta")[1],
        changed(INVOICES, 2, due_date="31/02/2026", status="pago")[2],
    ])
    frame, problems = read_table(path, schema.INVOICES)
    assert lines(problems) == [
        "erro: invoices.csv, linha 3, coluna amount: valor não numérico 'oitenta' "
        "(esperado como 1.149,90)",
        "erro: invoices.csv, linha 4, coluna due_date: data inválida '31/02/2026' "
        "(esperado dd/mm/aaaa ou aaaa-mm-dd)",
        "erro: invoices.csv, linha 4, coluna status: valor desconhecido 'pago'; use um de: "
        "open, paid, partial, cancelled, renegotiated",
    ]
    assert len(frame) == 3 and pd.isna(frame["amount"].iloc[1])


def test_ambiguous_thousands_and_empty_required_values_are_refused(tmp_path):
    path = write_rows(tmp_path / "customers.csv", schema.CUSTOMERS, [
        changed(CUSTOMERS, 0, monthly_fee="1.149", name="")[0]])
    _, problems = read_table(path, schema.CUSTOMERS)
    assert lines(problems) == [
        "erro: customers.csv, linha 2, coluna name: valor obrigatório vazio; preencha-o",
        "erro: customers.csv, linha 2, coluna monthly_fee: valor ambíguo '1.149': escreva "
        "1.149,00 ou 1149.00",
    ]


def test_blank_lines_are_skipped_without_shifting_line_numbers(tmp_path):
    path = tmp_path / "invoices.csv"
    path.write_text(
        "invoice_id,customer_id,due_date,amount,status\r\n"
        "F1,C1,2026-09-10,89.90,open\r\n"
        "\r\n"
        ",,,,\r\n"
        "F2,C1,2026-10-10,abc,open\r\n", encoding="utf-8")
    frame, problems = read_table(path, schema.INVOICES)
    assert list(frame["invoice_id"]) == ["F1", "F2"]
    assert lines(problems) == ["erro: invoices.csv, linha 5, coluna amount: valor não numérico "
                               "'abc' (esperado como 1.149,90)"]


def test_a_missing_required_column_is_one_problem_on_the_header(tmp_path):
    path = tmp_path / "invoices.csv"
    path.write_text("invoice_id,customer_id,due_date,status\nF1,C1,2026-09-10,open\n",
                    encoding="utf-8")
    frame, problems = read_table(path, schema.INVOICES)
    assert lines(problems) == ["erro: invoices.csv, linha 1, coluna amount: coluna obrigatória "
                               "ausente no cabeçalho; acrescente-a"]
    assert "amount" in frame.columns


def test_a_row_with_a_stray_separator_names_its_line(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text(
        "customer_id,name,document,person_type,monthly_fee,customer_since\n"
        "C1,Maria,529.982.247-25,PF,89.90,2023-01-10\n"
        "C2,Silva, José,123.456.789-09,PF,89.90,2023-01-10\n", encoding="utf-8")
    _, problems = read_table(path, schema.CUSTOMERS)
    assert lines(problems) == [
        "erro: customers.csv, linha 3: a linha tem 7 campos e o cabeçalho 6; confira "
        "separadores e aspas (um ',' dentro de um texto precisa estar entre aspas)"]


def test_empty_missing_and_header_only_files(tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "header.csv").write_text(",".join(schema.column_names(schema.REQUESTS)) + "\n")
    assert lines(read_table(tmp_path / "empty.csv", schema.REQUESTS)[1]) == [
        "erro: empty.csv, linha 1: arquivo vazio: falta a linha de cabeçalho com os nomes das "
        "colunas"]
    assert lines(read_table(tmp_path / "absent.csv", schema.REQUESTS)[1]) == [
        "erro: absent.csv: arquivo ausente; crie-o ou importe os dados do ERP "
        "(relief-kit import)"]
    frame, problems = read_table(tmp_path / "header.csv", schema.REQUESTS)
    assert frame.empty and frame["received_at"].dtype == "datetime64[ns]"
    assert lines(problems) == ["aviso: header.csv: arquivo só com o cabeçalho, sem nenhuma "
                               "linha de dados"]


# --------------------------------------------------------------------------- the folder


def test_load_folder_gives_domain_values(tmp_path):
    portfolio = load_folder(write_folder(tmp_path))
    assert portfolio.as_of == date(2026, 11, 20)
    assert portfolio.source == "teste"
    maria = portfolio.customer("C1")
    assert isinstance(maria, Customer)
    assert maria.monthly_fee == Decimal("89.90")
    assert maria.customer_since == date(2023, 1, 10)
    assert maria.name == "Maria da Conceição"
    request = portfolio.request("R2")
    assert request.received_at == datetime(2026, 11, 3, 14, 0)
    assert (request.small_business, request.at_risk) == (True, None)
    assert request.proposed_date == date(2026, 12, 5)
    assert request.proposed_amount == Decimal("149.90")
    assert list(portfolio.invoices_of("C1")["invoice_id"]) == ["F1", "F2"]
    assert portfolio.invoices_of("C9").empty
    assert portfolio.evidence_path(request) is None
    assert portfolio.evidence_path(portfolio.request("R1")) == \
        (tmp_path / "evidence" / "conversa-maria.txt").resolve()


def test_an_unknown_id_is_a_one_line_error(tmp_path):
    portfolio = load_folder(write_folder(tmp_path))
    with pytest.raises(InputError, match="cliente 'C9' não encontrado"):
        portfolio.customer("C9")
    with pytest.raises(InputError, match="pedido 'R9' não encontrado"):
        portfolio.request("R9")


def test_load_folder_stops_at_the_first_error_and_counts_the_others(tmp_path):
    write_folder(tmp_path, invoices=changed(changed(INVOICES, 0, amount="x"), 2, status="?"))
    with pytest.raises(InputError) as caught:
        load_folder(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path / 'invoices.csv'}, linha 2, coluna amount: valor não numérico 'x' "
        f"(esperado como 1.149,90) ... e mais 1 problema: rode relief-kit check {tmp_path}")


def test_a_missing_folder_is_one_line(tmp_path):
    with pytest.raises(InputError, match="pasta de dados não encontrada"):
        load_folder(tmp_path / "nada")


def test_load_case_holds_only_the_case_and_matches_load_folder(tmp_path):
    write_folder(tmp_path)
    whole = load_folder(tmp_path)
    case = load_case(tmp_path, "R1")
    assert list(case.requests["request_id"]) == ["R1"]
    assert list(case.customers["customer_id"]) == ["C1"]
    pd.testing.assert_frame_equal(case.invoices, whole.invoices_of("C1"))
    pd.testing.assert_frame_equal(case.customers, whole.customers.iloc[[0]])
    assert case.request("R1") == whole.request("R1")
    assert case.as_of == whole.as_of


def test_load_case_does_not_parse_other_customers_bills(tmp_path):
    # C12 contains C1's id as text; its broken bill must neither be picked up nor stop C1.
    customers = CUSTOMERS + [changed(CUSTOMERS, 0, customer_id="C12")[0]]
    invoices = INVOICES + [dict(INVOICES[0], invoice_id="F9", customer_id="C12",
                                amount="quebrado")]
    write_folder(tmp_path, customers=customers, invoices=invoices)
    case = load_case(tmp_path, "R1")
    assert list(case.invoices["invoice_id"]) == ["F1", "F2"]
    assert list(case.customers["customer_id"]) == ["C1"]
    with pytest.raises(InputError, match="linha 5, coluna amount"):
        load_folder(tmp_path)


def test_load_case_reports_the_case_own_problem_on_its_line(tmp_path):
    write_folder(tmp_path, invoices=changed(INVOICES, 1, due_date="2026-13-01"))
    with pytest.raises(InputError) as caught:
        load_case(tmp_path, "R1")
    assert str(caught.value).startswith(
        f"{tmp_path / 'invoices.csv'}, linha 3, coluna due_date: data inválida '2026-13-01'")
    assert load_case(tmp_path, "R2").customer("C2").name == "Padaria Pão Quente Ltda"


def test_load_case_of_an_unknown_request(tmp_path):
    write_folder(tmp_path)
    with pytest.raises(InputError, match="pedido 'R9' não encontrado"):
        load_case(tmp_path, "R9")


def test_load_folder_for_some_requests(tmp_path):
    write_folder(tmp_path)
    portfolio = load_folder(tmp_path, request_ids=["R2"])
    assert list(portfolio.requests["request_id"]) == ["R2"]
    assert list(portfolio.invoices["invoice_id"]) == ["F3"]


# --------------------------------------------------------------------------- evidence


@pytest.mark.parametrize("name", ["../customers.csv", "sub/../../x.txt", "/etc/passwd",
                                  "C:\\Users\\x.txt", "..\\x.txt", "a\x00b"])
def test_evidence_names_that_climb_out_are_refused(tmp_path, name):
    with pytest.raises(EvidencePathError) as caught:
        evidence_path(tmp_path, name)
    assert "evidence/" in caught.value.reason


def test_a_link_leaving_the_evidence_folder_is_refused(tmp_path):
    write_folder(tmp_path)
    outside = tmp_path.parent / "segredo.txt"
    outside.write_text("não é evidência", encoding="utf-8")
    os.symlink(outside, tmp_path / "evidence" / "link.txt")
    with pytest.raises(EvidencePathError, match="link aponta para fora"):
        evidence_path(tmp_path, "link.txt")


def test_an_evidence_folder_that_is_a_link_elsewhere_is_refused(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "a.txt").write_text("x", encoding="utf-8")
    folder = tmp_path / "dados"
    folder.mkdir()
    os.symlink(elsewhere, folder / "evidence")
    with pytest.raises(EvidencePathError):
        evidence_path(folder, "a.txt")


def test_evidence_in_a_subfolder_is_fine(tmp_path):
    write_folder(tmp_path)
    assert evidence_path(tmp_path, "2026/11/pedido.eml") == \
        (tmp_path / "evidence" / "2026" / "11" / "pedido.eml").resolve()


# --------------------------------------------------------------------------- one semantics

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from relief_kit.core.values import ValueProblem, parse_date, parse_money  # noqa: E402

_money_text = st.text(alphabet="0123456789.,-R$ ", max_size=12)
_date_text = st.one_of(
    st.dates().map(lambda d: d.strftime("%d/%m/%Y")), st.dates().map(date.isoformat),
    st.text(alphabet="0123456789/-: ", max_size=19))


def _cells(path: Path, column: str, texts: list[str]) -> tuple[pd.DataFrame, list[Problem]]:
    rows = [dict(INVOICES[1], invoice_id=f"F{i}", **{column: text})
            for i, text in enumerate(texts)]
    write_rows(path, schema.INVOICES, rows, sep=";")
    return read_table(path, schema.INVOICES)


@settings(max_examples=60, deadline=None)
@given(texts=st.lists(_money_text, min_size=1, max_size=8))
def test_the_column_reader_agrees_with_parse_money_on_any_text(tmp_path_factory, texts):
    path = tmp_path_factory.mktemp("money") / "invoices.csv"
    frame, problems = _cells(path, "amount_paid", texts)
    by_line = {p.row: p.message for p in problems if p.column == "amount_paid"}
    for line, text in zip(frame.index + 2, texts, strict=True):
        try:
            expected = parse_money(text)
        except ValueProblem as exc:
            assert by_line[line] == str(exc)
            continue
        assert line not in by_line
        value = frame.loc[line - 2, "amount_paid"]
        assert (pd.isna(value) if expected is None else value == float(expected))


@settings(max_examples=60, deadline=None)
@given(texts=st.lists(_date_text, min_size=1, max_size=8))
def test_the_column_reader_agrees_with_parse_date_on_any_text(tmp_path_factory, texts):
    path = tmp_path_factory.mktemp("dates") / "invoices.csv"
    frame, problems = _cells(path, "paid_on", texts)
    by_line = {p.row: p.message for p in problems if p.column == "paid_on"}
    for line, text in zip(frame.index + 2, texts, strict=True):
        try:
            expected = parse_date(text)
        except ValueProblem as exc:
            assert by_line[line] == str(exc)
            continue
        value = frame.loc[line - 2, "paid_on"]
        if expected is None:
            assert pd.isna(value) and line not in by_line
        elif expected.year < 1900 or expected.year >= 2200:
            assert by_line[line] == f"data improvável {text.strip()!r}; confira o ano"
        else:
            assert line not in by_line and value == pd.Timestamp(expected)


# --------------------------------------------------------------------------- two parsers

def _read_both(path: Path, table: str) -> tuple:
    """(pyarrow's reading, pandas' reading) of one file: frames and problems."""
    from relief_kit.sources import tables

    fast = read_table(path, table)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tables, "_arrow_table", lambda source, table: None)
        slow = read_table(path, table)
    return fast, slow


def _arrow_reads(path: Path, table: str) -> bool:
    from relief_kit.sources import tables

    source, _ = tables._read_text(path)
    return tables._arrow_table(source, table) is not None


_cell_text = st.lists(st.sampled_from(
    list("aZ9 ,;\"'=\t\r\n\x00\x1b\x85\xa0\u2003ãçé-.:/") + ["R$", "=\"01\"", "''=1"]),
    max_size=6).map("".join)


@settings(max_examples=80, deadline=None)
@given(cells=st.lists(st.tuples(_cell_text, _cell_text, _cell_text, _cell_text),
                      min_size=1, max_size=6),
       sep=st.sampled_from([",", ";", "\t"]), encoding=st.sampled_from(["utf-8", "cp1252"]))
def test_pyarrow_reads_any_text_as_pandas_parser_did(tmp_path_factory, cells, sep, encoding):
    path = tmp_path_factory.mktemp("both") / "customers.csv"
    rows = [dict(CUSTOMERS[0], customer_id=a, name=b, email=c, monthly_fee=d)
            for a, b, c, d in cells]
    try:
        write_rows(path, schema.CUSTOMERS, rows, sep=sep, encoding=encoding)
    except UnicodeEncodeError:
        return
    (fast, fast_problems), (slow, slow_problems) = _read_both(path, schema.CUSTOMERS)
    pd.testing.assert_frame_equal(fast, slow)
    assert [str(p) for p in fast_problems] == [str(p) for p in slow_problems]


def test_pyarrow_reads_a_well_formed_file_and_leaves_a_broken_row_to_pandas(tmp_path):
    path = write_rows(tmp_path / "invoices.csv", schema.INVOICES, [
        dict(INVOICES[0], invoice_id=' F1 ', arrangement="Discount"),
        dict(INVOICES[1], invoice_id='="0101"'),
        dict(INVOICES[1], invoice_id="F3", status="aberta", amount="1.234,5"),
    ], sep=";")
    assert _arrow_reads(path, schema.INVOICES)
    (fast, fast_problems), (slow, slow_problems) = _read_both(path, schema.INVOICES)
    pd.testing.assert_frame_equal(fast, slow)
    assert fast_problems == slow_problems and fast_problems
    # A row with one field too many: pyarrow refuses the file, pandas names the line.
    path.write_text(path.read_text(encoding="utf-8") + "F4;C1;x;y;z;;;;;;;;;;;\n",
                    encoding="utf-8")
    assert not _arrow_reads(path, schema.INVOICES)
    _, problems = read_table(path, schema.INVOICES)
    assert [(p.row, p.message.split(";")[0]) for p in problems if p.is_error][-1:] == [
        (5, "a linha tem 16 campos e o cabeçalho 11")]


def test_text_isin_answers_as_pandas_isin_for_the_readers_columns_and_others():
    from relief_kit.sources.tables import text_isin

    values = ["C1", "C2", None, "C3", "C1", ""]
    arrow = pd.Series(values, dtype=pd.StringDtype("pyarrow"))
    assert isinstance(arrow.array, pd.arrays.ArrowStringArray)  # pyarrow's kernel
    for ids in (arrow, pd.Series(values, dtype="str"), pd.Series(values, dtype=object)):
        for wanted in (["C1", "C3"], {"C2", "nenhum"}, [], [""], ("C1",) * 3,
                       ["C1", None], [1, "C2"]):
            expected = ids.isin(list(wanted)).to_numpy()
            found = text_isin(ids, wanted)
            assert found.dtype == bool and found.tolist() == expected.tolist(), wanted
            index = pd.Index(ids)
            assert text_isin(index, wanted).tolist() == index.isin(list(wanted)).tolist()
    # Several chunks (a concatenation), and columns that are not text.
    twice = pd.concat([arrow, arrow], ignore_index=True)
    assert text_isin(twice, ["C2"]).tolist() == twice.isin(["C2"]).tolist()
    assert text_isin(pd.Series([1, 2, 3]), [2]).tolist() == [False, True, False]
    with pytest.raises(TypeError):
        text_isin(arrow, "C1")  # not ['C', '1']
