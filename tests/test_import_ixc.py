"""relief-kit import ixc: IXC Provedor API pages and screen exports → canonical folder."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from relief_kit.cli import main
from relief_kit.core.errors import InputError
from relief_kit.shell.check import check_folder
from relief_kit.sources.importers.ixc import import_ixc

FIXTURES = Path(__file__).parent / "fixtures" / "ixc"
P1, P2, P2_AGAIN = (FIXTURES / n for n in
                    ("cliente_p1.json", "cliente_p2.json", "cliente_p2_de_novo.json"))
BILLS = [FIXTURES / "fn_areceber_p1.json", FIXTURES / "fn_areceber_p2.json"]
CONTRACTS = FIXTURES / "cliente_contrato.json"
CITIES = FIXTURES / "cidade.json"


def run_as_of(day: str, *args: str | Path):
    return CliRunner().invoke(main, ["import", "ixc", *map(str, args), "--as-of", day])


def run(*args: str | Path):
    return run_as_of("2024-04-20", *args)


def table(folder: Path, name: str) -> pd.DataFrame:
    frame = pd.read_csv(folder / name, dtype=str, keep_default_na=False)
    key = frame.columns[0]
    return frame.set_index(key, drop=False)


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """All pages (page 2 saved twice), contracts and cities."""
    out = tmp_path_factory.mktemp("ixc") / "dados"
    result = run("--clientes", P1, "--clientes", P2, "--clientes", P2_AGAIN,
                 "--areceber", BILLS[0], "--areceber", BILLS[1],
                 "--contratos", CONTRACTS, "--cidades", CITIES, "--out", out)
    return out, result


def test_clean_pages_import_with_exit_0_and_write_the_canonical_folder(tmp_path):
    out = tmp_path / "dados"
    result = run("--clientes", P1, "--areceber", BILLS[0], "--out", out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "customers.csv", "evidence", "export.toml", "invoices.csv", "requests.csv"]
    info = (out / "export.toml").read_text(encoding="utf-8")
    assert "as_of = 2024-04-20" in info and 'source = "ixc"' in info
    requests = (out / "requests.csv").read_text(encoding="utf-8").splitlines()
    assert len(requests) == 1 and requests[0].startswith("request_id,customer_id")


def test_rows_with_unusable_required_values_are_listed_and_exit_1(full):
    out, result = full
    assert result.exit_code == 1
    assert ("cliente_p2.json, registro 2, campo cnpj_cpf: CPF inválido '123.456.789-00'"
            in result.output)
    assert "fn_areceber_p2.json, registro 6, campo status: status desconhecido 'X'" \
        in result.output
    # The usable rows were still written.
    assert set(table(out, "customers.csv").index) == {"101", "102", "103", "104"}


def test_repeated_page_is_counted_once_and_reported(full):
    out, result = full
    assert "clientes: 9 lido(s), 4 importado(s), 5 ignorado(s)" in result.output
    assert "3 registro(s) repetido(s)" in result.output
    assert table(out, "customers.csv").index.is_unique


def test_bill_renegotiated_in_ixc_is_not_debt(full):
    bills = table(full[0], "invoices.csv")
    assert bills.loc["2004", "status"] == "renegotiated"


def test_reversed_bill_is_cancelled_even_though_received(full):
    bills = table(full[0], "invoices.csv")
    assert bills.loc["2005", "status"] == "cancelled"
    assert bills.loc["2005", "amount_paid"] == ""


def test_partly_paid_bill_keeps_the_open_part_as_debt(full):
    bill = table(full[0], "invoices.csv").loc["2010"]
    assert (bill["status"], bill["amount"], bill["amount_paid"]) == ("partial", "149.90", "99.90")
    assert bill["paid_on"] == "2024-03-15"


def test_zero_or_empty_payment_date_means_unpaid(full):
    bills = table(full[0], "invoices.csv")
    assert bills.loc["2003", ["status", "paid_on"]].tolist() == ["open", ""]
    assert bills.loc["2011", ["status", "paid_on"]].tolist() == ["open", ""]
    assert bills.loc["2001", ["status", "paid_on", "amount_paid"]].tolist() == [
        "paid", "2024-01-09", "99.90"]


def test_received_bill_without_received_amount_is_paid_in_full(full):
    assert table(full[0], "invoices.csv").loc["2021", "amount_paid"] == "79.90"


def test_cancelled_status_is_cancelled(full):
    assert table(full[0], "invoices.csv").loc["2020", "status"] == "cancelled"


def test_documents_are_stored_formatted_whether_bare_or_formatted(full):
    customers = table(full[0], "customers.csv")
    assert customers.loc["102", "document"] == "55.597.971/0001-52"  # bare CNPJ
    assert customers.loc["103", "document"] == "083.016.613-05"  # bare CPF
    assert customers.loc["104", "document"] == "186.091.390-34"  # stray spaces
    assert customers.loc["102", "person_type"] == "PJ"
    assert customers.loc["101", "person_type"] == "PF"


def test_name_falls_back_to_nome_and_stray_spaces_are_removed(full):
    customers = table(full[0], "customers.csv")
    assert customers.loc["103", "name"] == "João Batista"
    assert customers.loc["104", "name"] == "José Conceição"


def test_best_phone_is_whatsapp_then_mobile_then_landline(full):
    customers = table(full[0], "customers.csv")
    assert customers.loc["101", "phone"] == "(35) 99876-5432"  # whatsapp over fone
    assert customers.loc["102", "phone"] == "35 98888-7777"  # celular over fone
    assert customers.loc["103", "phone"] == "(35) 3421-0000"  # "9999" is not a phone


def test_city_id_becomes_a_name_with_the_city_table_and_unknown_ids_are_kept(full):
    out, result = full
    customers = table(out, "customers.csv")
    assert customers.loc["101", "city"] == "Pouso Alegre"
    assert customers.loc["103", "city"] == "Borda da Mata"
    assert customers.loc["104", "city"] == "9999"
    assert "campo cidade: cidade '9999' não está na tabela de cidades" in result.output


def test_city_id_is_kept_without_the_city_table(tmp_path):
    result = import_ixc([P1], [BILLS[0]])
    assert {c["customer_id"]: c["city"] for c in result.customers}["101"] == "3106"


def test_contract_status_and_plan_come_from_the_active_contract(full):
    customers = table(full[0], "customers.csv")
    assert customers.loc["101", ["plan", "contract_status"]].tolist() == ["FIBRA 300MB", "active"]
    assert customers.loc["102", "contract_status"] == "blocked_financial"
    assert customers.loc["103", "contract_status"] == "blocked_manual"
    assert customers.loc["104", "contract_status"] == "blocked_auto"


def test_without_contracts_the_contract_status_is_unknown(tmp_path):
    result = import_ixc([P1], [BILLS[0]])
    assert {c["contract_status"] for c in result.customers} == {""}


def test_customer_since_is_the_first_contract_even_after_a_plan_change(full):
    customers = table(full[0], "customers.csv")
    assert customers.loc["101", "customer_since"] == "2019-03-15"  # older, inactive contract
    assert customers.loc["104", "customer_since"] == "2019-03-10"  # no activation: cadastro


def test_monthly_fee_is_the_most_frequent_recent_bill(full):
    customers = table(full[0], "customers.csv")
    assert customers.loc["101", "monthly_fee"] == "99.90"
    assert customers.loc["102", "monthly_fee"] == "149.90"


def test_customer_without_bills_is_skipped_and_said_why(full):
    out, result = full
    assert "106" not in table(out, "customers.csv").index
    assert "1 sem mensalidade no arquivo e sem faturas para calculá-la" in result.output


def test_bills_of_absent_or_failed_customers_are_skipped_and_counted(full):
    out, result = full
    bills = table(out, "invoices.csv")
    assert "2050" not in bills.index and "2040" not in bills.index
    assert "1 de cliente ausente do arquivo de clientes" in result.output
    assert "1 de cliente não importado por erro" in result.output


def test_missing_pages_are_warned_about(tmp_path):
    result = import_ixc([P1], BILLS)
    assert any("informou 6 registros, mas os arquivos têm 3" in str(w)
               for w in result.report.warnings)


def test_screen_export_csv_with_bom_stray_spaces_and_unknown_column(tmp_path):
    result = import_ixc([FIXTURES / "cliente.csv"], [BILLS[0]])
    customers = {c["customer_id"]: c for c in result.customers}
    assert customers["101"]["name"] == "Maria Aparecida Souza"
    assert customers["101"]["customer_since"].isoformat() == "2019-03-10"  # dd/mm/aaaa
    assert customers["102"]["document"] == "55.597.971/0001-52"
    assert not result.report.errors


def test_xlsx_export_of_bills_reads_numbers_and_date_cells(tmp_path):
    records = json.loads(BILLS[0].read_text(encoding="utf-8"))["registros"]
    book = openpyxl.Workbook()
    sheet = book.active
    columns = list(records[0])
    sheet.append([c.upper() for c in columns])  # header case does not matter
    for record in records:
        cells = []
        for column in columns:
            value = record[column]
            if column in ("valor", "valor_aberto", "valor_recebido"):
                value = float(value)
            elif column == "data_vencimento":
                value = datetime.fromisoformat(value)
            cells.append(value)
        sheet.append(cells)
    path = tmp_path / "fn_areceber.xlsx"
    book.save(path)
    from_xlsx = import_ixc([P1], [path])
    from_json = import_ixc([P1], [BILLS[0]])
    assert from_xlsx.invoices == from_json.invoices
    assert not from_xlsx.report.errors


def test_missing_required_column_is_one_clear_line_and_writes_nothing(tmp_path):
    out = tmp_path / "dados"
    result = run("--clientes", FIXTURES / "cliente_sem_documento.csv",
                 "--areceber", BILLS[0], "--out", out)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("erro: cliente_sem_documento.csv: coluna obrigatória ausente")
    assert "cnpj_cpf" in lines[0]
    assert not out.exists()


def test_repeat_with_different_content_is_an_error_not_a_guess(tmp_path):
    page = json.loads(P1.read_text(encoding="utf-8"))
    page["registros"][0]["razao"] = "Outro Nome"
    changed = tmp_path / "cliente_p1_alterado.json"
    changed.write_text(json.dumps(page), encoding="utf-8")
    result = import_ixc([P1, changed], [BILLS[0]])
    assert any("id '101' repetido com conteúdo diferente de cliente_p1.json, registro 1"
               in str(e) for e in result.report.errors)


def test_api_error_answer_is_a_one_line_error(tmp_path):
    answer = tmp_path / "cliente.json"
    answer.write_text('{"type": "error", "message": "Token inválido"}', encoding="utf-8")
    with pytest.raises(InputError, match="a API respondeu com erro.*Token inválido"):
        import_ixc([answer], [BILLS[0]])


def test_refuses_to_write_into_a_folder_that_is_not_an_import(tmp_path):
    out = tmp_path / "notas"
    out.mkdir()
    (out / "importante.txt").write_text("não apague", encoding="utf-8")
    result = run("--clientes", P1, "--areceber", BILLS[0], "--out", out)
    assert result.exit_code == 1
    assert "não está vazia e não é uma importação anterior" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["importante.txt"]


def test_reimport_updates_tables_and_keeps_the_intake_requests(tmp_path):
    out = tmp_path / "dados"
    assert run("--clientes", P1, "--areceber", BILLS[0], "--out", out).exit_code == 0
    intake = ("request_id,customer_id,received_at,channel,asked\n"
              "R1,101,2024-03-25 21:15,whatsapp,new_date\n")
    (out / "requests.csv").write_text(intake, encoding="utf-8")
    assert run("--clientes", P1, "--areceber", BILLS[0], "--out", out).exit_code == 0
    assert (out / "requests.csv").read_text(encoding="utf-8") == intake
    assert not [p for p in out.iterdir() if p.name.startswith(".import-")]


def test_document_that_lost_its_leading_zeros_in_a_spreadsheet_is_restored_if_valid(tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["id", "razao", "cnpj_cpf", "tipo_pessoa"])
    sheet.append(["101", "Antônia Melo", 170342301, "F"])  # 001.703.423-01 as a number
    sheet.append(["102", "Padaria Pão Quente Ltda", 55597971000152, "J"])
    sheet.append(["103", "Número Errado", 170342302, "F"])
    path = tmp_path / "cliente.xlsx"
    book.save(path)
    result = import_ixc([path], [BILLS[0]])
    assert {c["customer_id"]: c["document"] for c in result.customers} == {
        "101": "001.703.423-01", "102": "55.597.971/0001-52"}
    assert [str(e) for e in result.report.errors] == [
        "cliente.xlsx, linha 4, coluna cnpj_cpf: CPF inválido '170342302' "
        "(dígitos verificadores não conferem)"]


def test_imported_folder_passes_relief_kit_check(full):
    assert [str(p) for p in check_folder(full[0], date(2024, 4, 20)) if p.is_error] == []


def test_a_folder_check_rejects_exits_1_naming_file_line_and_column(tmp_path):
    out = tmp_path / "dados"
    result = run_as_of("2024-01-05", "--clientes", P1, "--areceber", BILLS[0], "--out", out)
    assert result.exit_code == 1
    assert "relief-kit check: 3 erros na pasta importada:" in result.output
    assert f"{out / 'invoices.csv'}, linha 2, coluna paid_on: pagamento em 09/01/2024 está " \
           "no futuro" in result.output
