"""relief-kit import csv --map: any system through a mapping file (Hubsoft worked example)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from relief_kit.cli import main
from relief_kit.core.errors import InputError
from relief_kit.shell.check import check_folder
from relief_kit.sources.importers.mapped import import_mapped, load_mapping

ROOT = Path(__file__).parent.parent
HUBSOFT = ROOT / "data" / "mappings" / "hubsoft.toml"
FIXTURES = Path(__file__).parent / "fixtures" / "hubsoft"
CLIENTES = FIXTURES / "clientes.json"
FATURAS = FIXTURES / "faturas.csv"

SPREADSHEET_MAPPING = """
[mapping]
system = "Planilha do provedor"

[format]
decimal = "auto"
date = "%d.%m.%Y"

[customers.columns]
customer_id = "Código"
name = "Nome"
document = "CPF/CNPJ"
monthly_fee = "Mensalidade"
customer_since = "Desde"
business_kind = "Ramo"

[customers.values.business_kind]
"padaria e confeitaria" = "padaria"

[invoices.columns]
invoice_id = "Fatura"
customer_id = "Código"
due_date = "Vencimento"
amount = "Valor"
paid_on = "Pago em"
status = "Situação"

[invoices.values.status]
"em aberto" = "open"
quitada = "paid"
"paga em parte" = "partial"
cancelada = "cancelled"
"""

CUSTOMERS_SHEET = (
    "Código;Nome;CPF/CNPJ;Mensalidade;Desde;Ramo;Coluna nova\n"
    "7;Padaria Trigo Bom;55.597.971/0001-52;R$ 149,90;01.02.2020;padaria e confeitaria;x\n"
    "8;Rita Alves;526.018.159-06;89.9;15.06.2021;;y\n"
)
BILLS_SHEET = (
    "Fatura;Código;Vencimento;Valor;Pago em;Situação\n"
    "F1;7;10.03.2024;149,90;12.03.2024;Quitada\n"
    "F2;7;10.04.2024;149,90;;em aberto\n"
    "F3;8;10.04.2024;89,90;;vencida\n"
)


def table(folder: Path, name: str) -> pd.DataFrame:
    frame = pd.read_csv(folder / name, dtype=str, keep_default_na=False)
    return frame.set_index(frame.columns[0], drop=False)


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding)
    return path


@pytest.fixture(scope="module")
def hubsoft(tmp_path_factory):
    out = tmp_path_factory.mktemp("hubsoft") / "dados"
    result = CliRunner().invoke(main, [
        "import", "csv", "--map", str(HUBSOFT), str(CLIENTES), str(FATURAS),
        "--out", str(out), "--as-of", "2024-04-20"])
    return out, result


@pytest.fixture()
def spreadsheet(tmp_path):
    mapping = write(tmp_path / "planilha.toml", SPREADSHEET_MAPPING)
    customers = write(tmp_path / "clientes.csv", CUSTOMERS_SHEET, "cp1252")
    bills = write(tmp_path / "faturas.csv", BILLS_SHEET, "cp1252")
    return mapping, customers, bills


# ---------------------------------------------------------------- the Hubsoft example


def test_hubsoft_customers_come_from_the_nested_api_answer(hubsoft):
    out, result = hubsoft
    customers = table(out, "customers.csv")
    first = customers.loc["11201"]
    assert first[["name", "document", "person_type", "plan", "monthly_fee"]].tolist() == [
        "GUILHERME SILVA", "252.760.189-87", "PF", "FIBRA 300M", "119.90"]
    assert first[["customer_since", "city", "neighbourhood", "contract_status"]].tolist() == [
        "2017-08-05", "Divinópolis", "Ipiranga", "active"]
    assert customers.loc["11202", ["person_type", "contract_status", "phone"]].tolist() == [
        "PJ", "blocked_financial", "3732221100"]
    info = (out / "export.toml").read_text(encoding="utf-8")
    assert 'source = "csv"' in info and "as_of = 2024-04-20" in info


def test_hubsoft_bills_link_by_document_formatted_or_bare(hubsoft):
    bills = table(hubsoft[0], "invoices.csv")
    assert bills.loc["36398", "customer_id"] == "11201"  # "252.760.189-87"
    assert bills.loc["36410", "customer_id"] == "11202"  # "46507529000105"


def test_hubsoft_bill_with_a_payment_date_is_paid_and_null_is_unpaid(hubsoft):
    bills = table(hubsoft[0], "invoices.csv")
    assert bills.loc["36398", ["status", "paid_on", "amount_paid"]].tolist() == [
        "paid", "2024-01-09", "119.90"]
    assert bills.loc["36400", ["status", "paid_on"]].tolist() == ["open", ""]  # "null"
    assert bills.loc["36411", "amount"] == "1249.90"


def test_a_number_outside_the_declared_decimal_style_is_refused(hubsoft):
    out, result = hubsoft
    assert result.exit_code == 1
    assert ("faturas.csv, linha 8, coluna valor: valor '89.90' fora do formato do mapeamento"
            in result.output)
    assert "36421" not in table(out, "invoices.csv").index


def test_an_unknown_optional_code_is_left_empty_with_a_warning(hubsoft):
    out, result = hubsoft
    assert table(out, "customers.csv").loc["11203", "contract_status"] == ""
    assert "código 'aguardando_migracao' sem tradução em values.contract_status" in result.output


def test_bills_of_customers_not_in_the_customer_file_are_counted(hubsoft):
    assert "1 de cliente ausente do arquivo de clientes" in hubsoft[1].output


# ---------------------------------------------------------------- any spreadsheet


def test_files_are_recognised_by_their_columns_without_patterns(spreadsheet):
    mapping, customers, bills = spreadsheet
    result = import_mapped(mapping, [bills, customers])  # order does not matter
    assert [c["customer_id"] for c in result.customers] == ["7", "8"]
    assert [b["invoice_id"] for b in result.invoices] == ["F1", "F2"]


def test_status_codes_translate_and_an_unknown_required_code_is_an_error(spreadsheet):
    result = import_mapped(spreadsheet[0], spreadsheet[1:])
    statuses = {b["invoice_id"]: b["status"] for b in result.invoices}
    assert statuses == {"F1": "paid", "F2": "open"}
    assert [str(e) for e in result.report.errors] == [
        "faturas.csv, linha 4, coluna situação: código 'vencida' sem tradução em "
        "values.status (conhecidos: em aberto, quitada, paga em parte, cancelada)"]


def test_strptime_date_pattern_money_styles_and_codes_of_choice_columns(spreadsheet):
    result = import_mapped(spreadsheet[0], spreadsheet[1:])
    padaria, rita = result.customers
    assert padaria["customer_since"].isoformat() == "2020-02-01"
    assert (str(padaria["monthly_fee"]), str(rita["monthly_fee"])) == ("149.90", "89.90")
    assert (padaria["business_kind"], rita["business_kind"]) == ("padaria", "")
    assert padaria["person_type"] == "PJ"  # from the CNPJ: not mapped


def test_xlsx_sources_are_read_like_csv(spreadsheet, tmp_path):
    mapping, customers, bills = spreadsheet
    book = openpyxl.Workbook()
    sheet = book.active
    for line in CUSTOMERS_SHEET.strip().split("\n"):
        sheet.append(line.split(";"))
    xlsx = tmp_path / "clientes.xlsx"
    book.save(xlsx)
    assert import_mapped(mapping, [xlsx, bills]).customers == \
        import_mapped(mapping, [customers, bills]).customers


def test_missing_mapped_source_column_is_one_clear_error(spreadsheet, tmp_path):
    mapping, customers, _ = spreadsheet
    bills = write(tmp_path / "faturas2.csv", "Fatura;Código;Vencimento\nF1;7;10.03.2024\n")
    with pytest.raises(InputError, match="faturas2.csv: não tem as colunas"):
        import_mapped(mapping, [customers, bills])


def test_file_named_by_pattern_but_missing_a_column_names_the_column(tmp_path):
    text = FATURAS.read_bytes().decode("cp1252").replace(";valor;", ";preco;", 1)
    bills = write(tmp_path / "faturas.csv", text, "cp1252")
    with pytest.raises(InputError) as caught:
        import_mapped(HUBSOFT, [CLIENTES, bills])
    assert str(caught.value).startswith(
        "faturas.csv: coluna obrigatória ausente em faturas: valor (colunas encontradas:")


def test_a_source_matching_no_file_pattern_is_refused(tmp_path):
    other = write(tmp_path / "contratos.csv", "a;b\n1;2\n")
    with pytest.raises(InputError, match="contratos.csv: o nome não combina com nenhum padrão"):
        import_mapped(HUBSOFT, [CLIENTES, FATURAS, other])


def test_a_table_without_any_source_is_refused():
    with pytest.raises(InputError, match="nenhum dos arquivos dados é de faturas"):
        import_mapped(HUBSOFT, [CLIENTES])


# ---------------------------------------------------------------- the mapping file


def test_the_worked_example_mapping_is_valid():
    mapping = load_mapping(HUBSOFT)
    assert mapping.system == "Hubsoft"
    assert mapping.tables["invoices"]["format"]["decimal"] == "comma"
    assert mapping.tables["customers"]["format"]["decimal"] == "dot"


@pytest.mark.parametrize("edit, expected", [
    (("customer_id = \"Código\"", "cliente = \"Código\""),
     "customers.columns.cliente: não é uma coluna canônica"),
    (("decimal = \"auto\"", "decimal = \"virgula\""), "format.decimal: use auto, comma, dot"),
    (("quitada = \"paid\"", "quitada = \"pago\""),
     "invoices.values.status.quitada: 'pago' não é um valor canônico"),
    (("[mapping]", "[mapeamento]"), "mapeamento: seção desconhecida"),
    (("name = \"Nome\"\n", ""), "customers.columns.name: obrigatório"),
    (("date = \"%d.%m.%Y\"", "date = \"dia/mes\""), "format.date: use dd/mm/yyyy"),
    (("[format]", "[format]\nseparador = \";\""), "format.separador: opção desconhecida"),
    (("system =", "system = = "), "TOML inválido"),
])
def test_mapping_mistakes_are_one_line_errors_naming_the_key(tmp_path, edit, expected):
    old, new = edit
    assert old in SPREADSHEET_MAPPING
    path = write(tmp_path / "m.toml", SPREADSHEET_MAPPING.replace(old, new, 1))
    with pytest.raises(InputError) as caught:
        load_mapping(path)
    message = str(caught.value)
    assert expected in message and "\n" not in message and message.startswith(str(path))


def test_imported_folder_passes_relief_kit_check(hubsoft, spreadsheet, tmp_path):
    assert [str(p) for p in check_folder(hubsoft[0], date(2024, 4, 20)) if p.is_error] == []
    result = CliRunner().invoke(main, [
        "import", "csv", "--map", str(spreadsheet[0]), str(spreadsheet[1]), str(spreadsheet[2]),
        "--out", str(tmp_path / "dados"), "--as-of", "2024-04-20"])
    assert "relief-kit check" not in result.output
    assert [str(p) for p in check_folder(tmp_path / "dados", date(2024, 4, 20))
            if p.is_error] == []
