"""relief-kit import mkauth: sis_cliente + sis_lanc exported from MySQL → canonical folder."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from relief_kit.cli import main
from relief_kit.core.errors import InputError
from relief_kit.shell.check import check_folder
from relief_kit.sources.importers.mkauth import import_mkauth

FIXTURES = Path(__file__).parent / "fixtures" / "mkauth"
CLIENTES = FIXTURES / "sis_cliente.csv"  # Windows-1252, ';', CRLF, NULL, quoted
LANC = FIXTURES / "sis_lanc.csv"  # ISO-8859-1, tab, CRLF, NULL


def table(folder: Path, name: str) -> pd.DataFrame:
    frame = pd.read_csv(folder / name, dtype=str, keep_default_na=False)
    return frame.set_index(frame.columns[0], drop=False)


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    out = tmp_path_factory.mktemp("mkauth") / "dados"
    result = CliRunner().invoke(main, [
        "import", "mkauth", "--clientes", str(CLIENTES), "--lancamentos", str(LANC),
        "--out", str(out), "--as-of", "2024-04-20"])
    return out, result


def test_windows_1252_names_keep_their_accents(imported):
    customers = table(imported[0], "customers.csv")
    assert customers.loc["1", "name"] == "Conceição Gonçalves"
    assert customers.loc["2", "name"] == "Sebastião Araújo"
    assert customers.loc["1", "city"] == "São João del-Rei"
    assert customers.loc["4", "neighbourhood"] == "Colônia"


def test_bills_join_customers_on_login(imported):
    bills = table(imported[0], "invoices.csv")
    assert bills.loc["10", "customer_id"] == "1"  # login conceicao.goncalves → id 1
    assert bills.loc["30", "customer_id"] == "3"


def test_deleted_bill_is_not_debt(imported):
    assert table(imported[0], "invoices.csv").loc["13", "status"] == "cancelled"


def test_mixed_decimal_styles_are_read_and_the_ambiguous_one_is_refused(imported):
    out, result = imported
    bills = table(out, "invoices.csv")
    assert bills.loc["10", "amount"] == "89.90"  # 89,90
    assert bills.loc["11", "amount"] == "89.90"  # 89.90
    assert bills.loc["20", "amount"] == "1149.90"  # 1.149,90
    assert bills.loc["30", "amount"] == "199.90"  # " 199,90 " with stray spaces
    assert "31" not in bills.index
    assert "sis_lanc.csv, linha 10, coluna valor: valor ambíguo '1.149'" in result.output
    assert result.exit_code == 1


def test_statuses_map_to_canonical_ones(imported):
    bills = table(imported[0], "invoices.csv")
    assert bills.loc["10", ["status", "paid_on", "amount_paid"]].tolist() == [
        "paid", "2024-01-08", "89.90"]
    assert bills.loc["12", ["status", "paid_on"]].tolist() == ["open", ""]  # vencido, NULL
    assert bills.loc["22", "status"] == "open"  # aberto
    assert bills.loc["30", "status"] == "open"  # ABERTO, dd/mm/aaaa due date
    assert bills.loc["30", "due_date"] == "2024-03-05"


def test_part_paid_overdue_bill_is_partial(imported):
    bill = table(imported[0], "invoices.csv").loc["21"]
    assert bill[["status", "amount_paid", "paid_on"]].tolist() == [
        "partial", "100.00", "2024-03-20"]


def test_documents_formatted_and_person_type_from_pessoa(imported):
    customers = table(imported[0], "customers.csv")
    assert customers.loc["2", "document"] == "993.518.190-19"  # bare in the export
    assert customers.loc["3", ["document", "person_type"]].tolist() == [
        "14.710.497/0001-46", "PJ"]
    assert customers.loc["2", "person_type"] == "PF"  # "física" with an accent


def test_mobile_phone_preferred_and_null_is_empty(imported):
    customers = table(imported[0], "customers.csv")
    assert customers.loc["1", "phone"] == "(32) 98811-2233"
    assert customers.loc["3", "phone"] == "3233714455"  # celular NULL → fone
    assert customers.loc["2", "email"] == ""  # NULL


def test_blocked_flag_without_a_reason_leaves_contract_status_unknown(imported):
    out, result = imported
    customers = table(out, "customers.csv")
    assert customers.loc["1", "contract_status"] == "active"
    assert customers.loc["2", "contract_status"] == ""
    assert "bloqueado = sim (motivo não informado)" in result.output


def test_missing_registration_date_falls_back_to_the_first_bill_and_says_so(imported):
    out, result = imported
    assert table(out, "customers.csv").loc["4", "customer_since"] == "2024-03-10"
    assert "cliente desde = data da primeira fatura" in result.output


def test_summary_counts_bills_of_unknown_logins(imported):
    out, result = imported
    assert "faturas: 11 lido(s), 9 importado(s), 2 ignorado(s)" in result.output
    assert "1 de cliente ausente do arquivo de clientes" in result.output


def test_utf8_comma_separated_export_reads_the_same(tmp_path):
    utf8 = tmp_path / "sis_cliente_utf8.csv"
    # Re-separate with commas (values with commas stay quoted, as phpMyAdmin writes).
    frame = pd.read_csv(CLIENTES, sep=";", encoding="cp1252", dtype=str, keep_default_na=False)
    frame.to_csv(utf8, index=False, encoding="utf-8")
    assert "Conceição".encode() in utf8.read_bytes()
    from_cp1252 = import_mkauth(CLIENTES, LANC)
    from_utf8 = import_mkauth(utf8, LANC)
    assert from_utf8.customers == from_cp1252.customers


def test_export_without_the_id_column_uses_the_login_as_customer_id(tmp_path):
    frame = pd.read_csv(CLIENTES, sep=";", encoding="cp1252", dtype=str, keep_default_na=False)
    path = tmp_path / "sis_cliente.csv"
    frame.drop(columns=["id"]).to_csv(path, sep="\t", index=False, encoding="cp1252")
    result = import_mkauth(path, LANC)
    assert {c["customer_id"] for c in result.customers} >= {"conceicao.goncalves", "sebastiao"}
    assert {b["customer_id"] for b in result.invoices if b["invoice_id"] == "10"} == {
        "conceicao.goncalves"}


def test_missing_login_column_is_one_clear_error(tmp_path):
    path = tmp_path / "sis_lanc.csv"
    path.write_text("id;datavenc;valor;status\r\n1;2024-03-10;89,90;aberto\r\n", encoding="cp1252")
    with pytest.raises(InputError, match=r"sis_lanc\.csv: coluna obrigatória ausente.*login"):
        import_mkauth(CLIENTES, path)


def test_unknown_status_is_listed_with_line_and_column(tmp_path):
    path = tmp_path / "sis_lanc.csv"
    path.write_text("id;login;datavenc;valor;status;deltitulo\r\n"
                    "1;sebastiao;2024-03-10;89,90;aberto;0\r\n"
                    "2;sebastiao;2024-04-10;89,90;estornado;0\r\n", encoding="cp1252")
    result = import_mkauth(CLIENTES, path)
    assert [str(e) for e in result.report.errors] == [
        "sis_lanc.csv, linha 3, coluna status: status desconhecido 'estornado' "
        "(esperado aberto, vencido ou pago)"]


def test_imported_folder_passes_relief_kit_check(imported):
    assert [str(p) for p in check_folder(imported[0], date(2024, 4, 20)) if p.is_error] == []


def test_values_parsed_once_per_distinct_text_match_the_per_cell_parsers():
    from relief_kit.core.values import ValueProblem, parse_date, parse_money
    from relief_kit.sources.importers import canonical, mapped

    tricky = ["89,90", "1.149,90", "89.90", "1.149", " 89,90 ", "", "NULL", "-0,01", "R$ 12,5",
              "1e3", "2024-01-10", "2024-01-10 00:00:00", "10/01/2024", " 10/01/2024 ",
              "0000-00-00", "31/02/2024", "2024-13-01", "0205-01-10", "abc", "1.149,90"]

    def outcome(parser, text):
        try:
            return "ok", parser(text)
        except ValueProblem as exc:
            return "erro", str(exc)

    pairs = [(canonical.parse_money_once, parse_money), (canonical.read_date_once, parse_date),
             (mapped.money_reader("auto"), parse_money),
             (mapped.date_reader("auto"), parse_date)]
    for cached, per_cell in pairs:
        for _ in range(2):  # a second pass answers from the cache, errors included
            assert [outcome(cached, t) for t in tricky] == [outcome(per_cell, t)
                                                            for t in tricky]
    comma, fresh_comma = mapped.money_reader("comma"), mapped.money_reader("comma").__wrapped__
    for _ in range(2):
        assert [outcome(comma, t) for t in tricky] == [outcome(fresh_comma, t) for t in tricky]
