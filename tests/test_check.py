"""``relief-kit check``: each rule's one line, the order, the summary and the exit code."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_tables import CUSTOMERS, INVOICES, REQUESTS, TODAY, changed, lines, write_folder

from relief_kit.cli import main
from relief_kit.core import schema
from relief_kit.core.errors import InputError
from relief_kit.shell.check import check_folder

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"


def problems_of(folder: Path, today: date = TODAY) -> list[str]:
    return lines(check_folder(folder, today))


def test_a_clean_folder_has_no_problem(tmp_path):
    assert problems_of(write_folder(tmp_path)) == []


# --------------------------------------------------------------------------- customers


@pytest.mark.parametrize("document, kind", [("529.982.247-24", "CPF"),
                                            ("11.222.333/0001-80", "CNPJ")])
def test_wrong_check_digits(tmp_path, document, kind):
    person_type = "PF" if kind == "CPF" else "PJ"
    write_folder(tmp_path, customers=changed(CUSTOMERS, 1, document=document,
                                             person_type=person_type))
    assert problems_of(tmp_path) == [
        f"erro: customers.csv, linha 3, coluna document: {kind} '{document}' inválido: os "
        f"dígitos verificadores não conferem; corrija o {kind} no cadastro"]


def test_something_that_is_no_document(tmp_path):
    write_folder(tmp_path, customers=changed(CUSTOMERS, 0, document="12345"))
    assert problems_of(tmp_path) == [
        "erro: customers.csv, linha 2, coluna document: documento '12345' não é CPF (11 "
        "dígitos) nem CNPJ (14 caracteres); corrija-o no cadastro"]


def test_a_company_with_a_cpf(tmp_path):
    write_folder(tmp_path, customers=changed(CUSTOMERS, 1, document="123.456.789-09"))
    assert problems_of(tmp_path) == [
        "erro: customers.csv, linha 3, coluna person_type: person_type PJ pede CNPJ, mas o "
        "documento é um CPF; troque person_type para PF ou corrija o documento"]


def test_duplicate_customer_ids(tmp_path):
    customers = CUSTOMERS + [changed(CUSTOMERS, 1, customer_id="C1")[1]]
    write_folder(tmp_path, customers=customers)
    assert problems_of(tmp_path) == [
        "erro: customers.csv, linha 4, coluna customer_id: customer_id 'C1' repetido (já "
        "aparece na linha 2); cada cliente deve aparecer uma vez: apague a repetição ou dê "
        "outro customer_id"]


def test_a_negative_fee(tmp_path):
    write_folder(tmp_path, customers=changed(CUSTOMERS, 0, monthly_fee="-89,90"))
    assert problems_of(tmp_path) == [
        "erro: customers.csv, linha 2, coluna monthly_fee: valor negativo -R$ 89,90; escreva "
        "o valor sem sinal (um desconto ou estorno não entra aqui)"]


def test_an_unusable_phone_and_e_mail_are_warnings(tmp_path):
    write_folder(tmp_path, customers=changed(CUSTOMERS, 0, phone="(35) 9999-000",
                                             email="maria.example.com"))
    assert problems_of(tmp_path) == [
        "aviso: customers.csv, linha 2, coluna phone: telefone inválido '(35) 9999-000': "
        "confira o DDD e o número (celular com 9 dígitos, como (35) 99999-0000); corrija-o "
        "para poder formalizar o acordo por WhatsApp",
        "aviso: customers.csv, linha 2, coluna email: e-mail 'maria.example.com' não parece um "
        "endereço (falta @ ou domínio); corrija-o para poder formalizar o acordo por e-mail",
    ]


def test_a_contract_starting_after_today_is_a_warning(tmp_path):
    write_folder(tmp_path, customers=changed(CUSTOMERS, 0, customer_since="2026-11-21"))
    assert problems_of(tmp_path) == [
        "aviso: customers.csv, linha 2, coluna customer_since: início do contrato 21/11/2026 "
        "está no futuro (hoje é 20/11/2026); corrija a data"]


# --------------------------------------------------------------------------- invoices


def test_a_bill_of_an_unknown_customer(tmp_path):
    write_folder(tmp_path, invoices=changed(INVOICES, 2, customer_id="C9"))
    assert problems_of(tmp_path) == [
        "erro: invoices.csv, linha 4, coluna customer_id: cliente 'C9' não existe em "
        "customers.csv; cadastre o cliente ou corrija o customer_id"]


def test_duplicate_invoice_ids(tmp_path):
    write_folder(tmp_path, invoices=changed(INVOICES, 2, invoice_id="F1"))
    assert problems_of(tmp_path) == [
        "erro: invoices.csv, linha 4, coluna invoice_id: invoice_id 'F1' repetido (já aparece "
        "na linha 2); cada fatura deve aparecer uma vez: apague a repetição ou dê outro "
        "invoice_id"]


def test_negative_and_non_numeric_amounts(tmp_path):
    write_folder(tmp_path, invoices=changed(changed(INVOICES, 0, amount="-89.90",
                                                    amount_paid="0"), 1, amount="R$ abc"))
    assert problems_of(tmp_path) == [
        "erro: invoices.csv, linha 2, coluna amount: valor negativo -R$ 89,90; escreva o valor "
        "sem sinal (um desconto ou estorno não entra aqui)",
        "erro: invoices.csv, linha 3, coluna amount: valor não numérico 'R$ abc' (esperado "
        "como 1.149,90)",
    ]


def test_paying_more_than_the_bill_and_its_lawful_charges_is_a_warning(tmp_path):
    write_folder(tmp_path, invoices=changed(INVOICES, 0, amount_paid="95,30"))
    assert problems_of(tmp_path) == [
        "aviso: invoices.csv, linha 2, coluna amount_paid: valor pago R$ 95,30 maior que a "
        "fatura de R$ 89,90 com multa, juros e correção permitidos (até R$ 91,70); confira o "
        "valor pago e o valor da fatura"]


def test_a_late_payment_with_fine_and_interest_is_fine(tmp_path):
    # Ten days late: 2 % fine and 1 % a month of interest on R$ 149,90 is R$ 153,40.
    write_folder(tmp_path, invoices=changed(INVOICES, 2, amount_paid="153.40"))
    assert problems_of(tmp_path) == []


def test_paid_before_the_bill_was_issued(tmp_path):
    write_folder(tmp_path, invoices=changed(INVOICES, 0, paid_on="31/08/2026"))
    assert problems_of(tmp_path) == [
        "erro: invoices.csv, linha 2, coluna paid_on: pagamento em 31/08/2026 antes da emissão "
        "01/09/2026; corrija uma das duas datas"]


def test_paid_in_the_future(tmp_path):
    write_folder(tmp_path, invoices=changed(INVOICES, 2, paid_on="2026-11-21"))
    assert problems_of(tmp_path) == [
        "erro: invoices.csv, linha 4, coluna paid_on: pagamento em 21/11/2026 está no futuro "
        "(hoje é 20/11/2026); corrija a data"]
    assert problems_of(tmp_path, today=date(2026, 11, 21)) == []


def test_due_before_issued(tmp_path):
    write_folder(tmp_path, invoices=changed(INVOICES, 1, due_date="2026-09-30"))
    assert problems_of(tmp_path) == [
        "erro: invoices.csv, linha 3, coluna due_date: vencimento 30/09/2026 antes da emissão "
        "01/10/2026; corrija uma das duas datas"]


def test_paid_without_a_payment_date(tmp_path):
    write_folder(tmp_path, invoices=changed(INVOICES, 0, paid_on=""))
    assert problems_of(tmp_path) == [
        "erro: invoices.csv, linha 2, coluna paid_on: fatura com status paid sem data de "
        "pagamento; preencha paid_on ou corrija o status"]


def test_an_unknown_status(tmp_path):
    write_folder(tmp_path, invoices=changed(INVOICES, 1, status="vencida"))
    assert problems_of(tmp_path) == [
        "erro: invoices.csv, linha 3, coluna status: valor desconhecido 'vencida'; use um de: "
        "open, paid, partial, cancelled, renegotiated"]


# --------------------------------------------------------------------------- requests


def test_an_unknown_channel_and_ask(tmp_path):
    write_folder(tmp_path, requests=changed(REQUESTS, 1, channel="telegram", asked="perdão"))
    assert problems_of(tmp_path) == [
        "erro: requests.csv, linha 3, coluna channel: valor desconhecido 'telegram'; use um de: "
        "whatsapp, email, phone, in_person",
        "erro: requests.csv, linha 3, coluna asked: valor desconhecido 'perdão'; use um de: "
        "discount, new_date, instalments, not_said",
    ]


def test_a_request_of_an_unknown_customer_and_a_repeated_id(tmp_path):
    write_folder(tmp_path, requests=changed(REQUESTS, 1, request_id="R1", customer_id="C7"))
    assert problems_of(tmp_path) == [
        "erro: requests.csv, linha 3, coluna request_id: request_id 'R1' repetido (já aparece "
        "na linha 2); cada pedido deve aparecer uma vez: apague a repetição ou dê outro "
        "request_id",
        "erro: requests.csv, linha 3, coluna customer_id: cliente 'C7' não existe em "
        "customers.csv; cadastre o cliente ou corrija o customer_id",
    ]


def test_a_request_received_in_the_future(tmp_path):
    write_folder(tmp_path, requests=changed(REQUESTS, 0, received_at="21/11/2026 08:00"))
    assert problems_of(tmp_path) == [
        "erro: requests.csv, linha 2, coluna received_at: pedido recebido em 21/11/2026 está no "
        "futuro (hoje é 20/11/2026); corrija a data"]


def test_a_missing_evidence_file(tmp_path):
    write_folder(tmp_path, evidence={})
    assert problems_of(tmp_path) == [
        "erro: requests.csv, linha 2, coluna evidence_file: arquivo 'conversa-maria.txt' não "
        "existe em evidence/; copie para lá o pedido escrito ou deixe evidence_file vazio "
        "(pedido não documentado)"]


def test_an_evidence_file_outside_the_folder(tmp_path):
    write_folder(tmp_path, requests=changed(REQUESTS, 0, evidence_file="../customers.csv"))
    assert problems_of(tmp_path) == [
        "erro: requests.csv, linha 2, coluna evidence_file: o arquivo deve estar dentro de "
        "evidence/ (sem '..' nem caminho absoluto); escreva o caminho a partir de evidence/"]


def test_an_at_risk_category_without_at_risk_is_a_warning(tmp_path):
    write_folder(tmp_path, requests=changed(REQUESTS, 1, at_risk_category="idoso"))
    assert problems_of(tmp_path) == [
        "aviso: requests.csv, linha 3, coluna at_risk_category: categoria 'idoso' preenchida, "
        "mas at_risk não é sim; marque at_risk como sim ou apague a categoria (não guarde dado "
        "sensível sem motivo)"]


def test_at_risk_without_consent_is_a_warning(tmp_path):
    write_folder(tmp_path, requests=changed(REQUESTS, 0, at_risk_consent=""))
    assert problems_of(tmp_path) == [
        "aviso: requests.csv, linha 2, coluna at_risk_consent: morador em situação de risco sem "
        "consentimento registrado; confirme com o cliente que ele aceita o uso dessa "
        "informação e marque at_risk_consent como sim"]


def test_an_answer_that_is_not_yes_or_no(tmp_path):
    write_folder(tmp_path, requests=changed(REQUESTS, 1, small_business="talvez"))
    assert problems_of(tmp_path) == [
        "erro: requests.csv, linha 3, coluna small_business: resposta inválida 'talvez' "
        "(esperado sim ou não)"]


# --------------------------------------------------------------------------- the whole folder


def test_problems_come_sorted_by_file_line_and_column(tmp_path):
    write_folder(
        tmp_path,
        customers=changed(CUSTOMERS, 1, phone="123", document="11.222.333/0001-80"),
        invoices=changed(changed(INVOICES, 2, customer_id="C9"), 0, amount="x"),
        requests=changed(REQUESTS, 0, channel="sms"),
    )
    found = check_folder(tmp_path, TODAY)
    assert [(p.file, p.row, p.column) for p in found] == [
        ("customers.csv", 3, "document"), ("customers.csv", 3, "phone"),
        ("invoices.csv", 2, "amount"), ("invoices.csv", 4, "customer_id"),
        ("requests.csv", 2, "channel"),
    ]


def test_missing_files_are_problems_and_do_not_flood_the_others(tmp_path):
    write_folder(tmp_path)
    (tmp_path / schema.CUSTOMERS).unlink()
    assert problems_of(tmp_path) == [
        "erro: customers.csv: arquivo ausente; crie-o ou importe os dados do ERP "
        "(relief-kit import)"]


def test_a_broken_export_toml_is_one_problem(tmp_path):
    write_folder(tmp_path, as_of='"ontem"')
    assert problems_of(tmp_path) == [
        "erro: export.toml: as_of: deve ser uma data sem aspas, como as_of = 2026-11-20."]


def test_a_missing_folder_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="pasta de dados não encontrada"):
        check_folder(tmp_path / "nada", TODAY)


# --------------------------------------------------------------------------- the command


def run(*args: str):
    return CliRunner().invoke(main, ["check", *map(str, args)])


def test_command_on_a_clean_folder_exits_0_with_the_counts(tmp_path):
    result = run(write_folder(tmp_path), "--today", "2026-11-20")
    assert result.exit_code == 0, result.output
    assert result.output == "Pasta pronta para uso: 2 clientes, 3 faturas, 2 pedidos.\n"


def test_command_uses_the_export_date_when_today_is_not_given(tmp_path):
    write_folder(tmp_path, invoices=changed(INVOICES, 2, paid_on="2026-11-21"))
    result = run(tmp_path)
    assert result.exit_code == 1
    assert "(hoje é 20/11/2026)" in result.output


def test_command_warnings_do_not_fail(tmp_path):
    write_folder(tmp_path, customers=changed(CUSTOMERS, 0, phone="123"))
    result = run(tmp_path, "--today", "20/11/2026")
    assert result.exit_code == 0
    output = result.output.splitlines()
    assert len(output) == 2 and output[0].startswith("aviso: customers.csv, linha 2, coluna "
                                                     "phone: telefone inválido '123'")
    assert output[1] == "1 aviso. Pasta pronta para uso: 2 clientes, 3 faturas, 2 pedidos."


def test_command_errors_fail_with_one_line_each_and_a_count(tmp_path):
    write_folder(tmp_path, customers=changed(CUSTOMERS, 0, phone="123"),
                 invoices=changed(changed(INVOICES, 0, amount="x"), 1, amount="y"),
                 requests=changed(REQUESTS, 1, channel="sms"))
    result = run(tmp_path, "--today", "2026-11-20")
    assert result.exit_code == 1
    output = result.output.splitlines()
    assert len(output) == 5
    assert output[-1] == "3 erros, 1 aviso"


@pytest.mark.parametrize("args, message", [
    (["nada"], "pasta de dados não encontrada"),
    (["customers.csv"], "não é uma pasta"),
])
def test_command_on_a_wrong_path_is_one_clean_line(tmp_path, args, message):
    write_folder(tmp_path)
    result = CliRunner().invoke(main, ["check", str(tmp_path / args[0])])
    assert result.exit_code == 1
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_command_refuses_a_bad_today(tmp_path):
    result = run(write_folder(tmp_path), "--today", "ontem")
    assert result.exit_code == 1
    assert result.output.startswith("erro: --today: data inválida 'ontem'")


@pytest.mark.skipif(not (SAMPLE / schema.CUSTOMERS).is_file(),
                    reason="data/sample/ not generated yet")
def test_the_bundled_sample_passes_the_check():
    result = run(SAMPLE)
    assert result.exit_code == 0, result.output
    assert "Pasta pronta para uso:" in result.output.splitlines()[-1]


def test_a_misspelt_optional_column_is_named_with_the_one_it_resembles(tmp_path):
    folder = write_folder(tmp_path)
    path = folder / schema.REQUESTS
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("evidence_file", "evidence_fle", 1), encoding="utf-8")
    assert problems_of(folder)[0] == (
        "aviso: requests.csv, linha 1, coluna evidence_fle: coluna desconhecida, ignorada; "
        "é evidence_file? renomeie-a no cabeçalho")
    unrelated = folder / schema.CUSTOMERS
    text = unrelated.read_text(encoding="utf-8")
    lines_ = text.splitlines()
    unrelated.write_text("\n".join([lines_[0] + ",vendedor"] + [r + ",Ana" for r in lines_[1:]])
                         + "\n", encoding="utf-8")
    assert not [p for p in problems_of(folder) if "vendedor" in p]  # extra columns are fine
