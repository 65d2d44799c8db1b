"""Hostile and broken input, met the way a user meets it: one line, never a traceback.

``CORPUS`` is the list of bad inputs. Each entry says how the input is made (from a
private copy of the sample data folder, of data/criteria.toml, of the Hubsoft mapping
or of the importer fixtures; nothing is written in place), the command the user runs
and the exact line the user must read. ``{tmp}`` is the test's temporary folder and
``{data}`` the copy of the sample folder in it.

The second half feeds customer text built to be interpreted (HTML, JavaScript, Jinja,
Markdown, terminal escapes, a right-to-left override, a 20,000-character line) through
the review's views and the messages, and checks that it comes out as text.
"""

from __future__ import annotations

import csv
import email
import io
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from email import policy
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from click.testing import CliRunner

from relief_kit.cli import main
from relief_kit.shell import views
from relief_kit.shell.case import open_case
from relief_kit.shell.messages import render_case_messages
from relief_kit.sources.evidence import MAX_EVIDENCE_BYTES
from tests.case_folder import (
    EMAIL_REQUEST,
    WHATSAPP_REQUEST,
    customer_of,
    evidence_of,
    sample_copy,
)

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
CRITERIA = ROOT / "data" / "criteria.toml"
HUBSOFT_MAP = ROOT / "data" / "mappings" / "hubsoft.toml"

#: (temporary folder, sample copy) → None: makes the bad input.
Build = Callable[[Path, Path], None]


# --------------------------------------------------------------------------- builders


def chain(*builds: Build) -> Build:
    def build(tmp: Path, data: Path) -> None:
        for one in builds:
            one(tmp, data)
    return build


def nothing(tmp: Path, data: Path) -> None:
    """The input is bad by itself (an option, a path): nothing to make."""


def rewrite(table: str, change: Callable[[bytes], bytes]) -> Build:
    """Change the bytes of one file of the data folder."""
    def build(tmp: Path, data: Path) -> None:
        path = data / table
        path.write_bytes(change(path.read_bytes()))
    return build


def _rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def _write_rows(path: Path, rows: list[list[str]]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def cell(table: str, line: int, column: str, value: str) -> Build:
    """Set one cell, found by its spreadsheet line (header = line 1) and column."""
    def build(tmp: Path, data: Path) -> None:
        rows = _rows(data / table)
        rows[line - 1][rows[0].index(column)] = value
        _write_rows(data / table, rows)
    return build


def same_cell(table: str, line: int, column: str, like: int) -> Build:
    """Copy a cell from line ``like`` (a repeated id)."""
    def build(tmp: Path, data: Path) -> None:
        rows = _rows(data / table)
        at = rows[0].index(column)
        rows[line - 1][at] = rows[like - 1][at]
        _write_rows(data / table, rows)
    return build


def drop_column(table: str, column: str) -> Build:
    def build(tmp: Path, data: Path) -> None:
        rows = _rows(data / table)
        at = rows[0].index(column)
        _write_rows(data / table, [row[:at] + row[at + 1:] for row in rows])
    return build


def rename_column(table: str, column: str, new: str) -> Build:
    def build(tmp: Path, data: Path) -> None:
        rows = _rows(data / table)
        rows[0][rows[0].index(column)] = new
        _write_rows(data / table, rows)
    return build


def repeat_column(table: str, column: str) -> Build:
    """The column written twice, values and all (two exports pasted side by side)."""
    def build(tmp: Path, data: Path) -> None:
        rows = _rows(data / table)
        at = rows[0].index(column)
        _write_rows(data / table, [row + [row[at]] for row in rows])
    return build


def cut_mid_row(table: str, keep_rows: int, fields: int) -> Build:
    """The header and ``keep_rows`` rows, then the next one cut after ``fields`` fields
    (a copy cut short)."""
    def build(tmp: Path, data: Path) -> None:
        lines = (data / table).read_text(encoding="utf-8").split("\n")
        row = lines[keep_rows + 1].split(",")
        cut = ",".join(row[:fields]) + ","
        (data / table).write_text("\n".join(lines[: keep_rows + 1] + [cut]), encoding="utf-8")
    return build


def evidence(name: str, change: Callable[[bytes], bytes]) -> Build:
    def build(tmp: Path, data: Path) -> None:
        path = data / "evidence" / name
        path.write_bytes(change(path.read_bytes()))
    return build


def evidence_link_outside(name: str) -> Build:
    """The evidence file replaced by a link to a file outside the data folder."""
    def build(tmp: Path, data: Path) -> None:
        outside = tmp / "segredo.txt"
        outside.write_text("25/03/2024 21:15 - Alguém: segredo\n", encoding="utf-8")
        path = data / "evidence" / name
        path.unlink()
        os.symlink(outside, path)
    return build


def new_file(name: str, content: bytes) -> Build:
    def build(tmp: Path, data: Path) -> None:
        (tmp / name).write_bytes(content)
    return build


def in_data(name: str, content: bytes) -> Build:
    def build(tmp: Path, data: Path) -> None:
        (data / name).write_bytes(content)
    return build


def directory(path: str) -> Build:
    def build(tmp: Path, data: Path) -> None:
        target = Path(path.format(tmp=tmp, data=data))
        if target.is_file():
            target.unlink()
        target.mkdir(parents=True)
    return build


def criteria(change: Callable[[bytes], bytes]) -> Build:
    """``{tmp}/criterios.toml``: the team's criteria file, changed."""
    return new_file("criterios.toml", change(CRITERIA.read_bytes()))


def replace(old: bytes, new: bytes) -> Callable[[bytes], bytes]:
    def change(content: bytes) -> bytes:
        assert old in content, old  # the corpus must break what it says it breaks
        return content.replace(old, new, 1)
    return change


def fixture(source: str, name: str, change: Callable[[bytes], bytes] = lambda b: b) -> Build:
    return new_file(name, change((FIXTURES / source).read_bytes()))


def ixc(clientes: Build | None = None, areceber: Build | None = None) -> Build:
    """``{tmp}/cliente.json`` and ``{tmp}/areceber.json``, from the IXC fixtures."""
    return chain(clientes or fixture("ixc/cliente_p1.json", "cliente.json"),
                 areceber or fixture("ixc/fn_areceber_p1.json", "areceber.json"))


# The MK-Auth and Hubsoft fixtures carry one deliberate error each (importer tests count
# on it); the corpus starts from copies without it, so each entry shows only its own.
def _clean_lanc(content: bytes) -> bytes:
    return content.replace(b"\t1.149\t", b"\t1.149,00\t")


def mkauth(clientes: Callable[[bytes], bytes] = lambda b: b,
           lancamentos: Callable[[bytes], bytes] = lambda b: b) -> Build:
    return chain(fixture("mkauth/sis_cliente.csv", "sis_cliente.csv", clientes),
                 fixture("mkauth/sis_lanc.csv", "sis_lanc.csv",
                         lambda b: lancamentos(_clean_lanc(b))))


def hubsoft(mapping: Callable[[bytes], bytes]) -> Build:
    return chain(new_file("map.toml", mapping(HUBSOFT_MAP.read_bytes())),
                 fixture("hubsoft/clientes.json", "clientes.json"),
                 fixture("hubsoft/faturas.csv", "faturas.csv",
                         lambda b: b.replace(b";89.90;", b";89,90;")))


# --------------------------------------------------------------------------- corpus


@dataclass(frozen=True)
class Bad:
    id: str
    build: Build
    command: str  # split on spaces, then {tmp} and {data} filled in
    expected: str  # the one line the user reads
    exit_code: int = 1


CHECK = "check {data}"
RECOMMEND = "recommend {data}"
WITH_CRITERIA = "recommend {data} --criteria {tmp}/criterios.toml"
IXC = "import ixc --clientes {tmp}/cliente.json --areceber {tmp}/areceber.json --out {tmp}/saida"
MKAUTH = ("import mkauth --clientes {tmp}/sis_cliente.csv --lancamentos {tmp}/sis_lanc.csv "
          "--out {tmp}/saida")
MAPPED = "import csv --map {tmp}/map.toml {tmp}/clientes.json {tmp}/faturas.csv --out {tmp}/saida"
NO_HEADER_COLUMN = ("coluna obrigatória ausente no cabeçalho; acrescente-a")
EVIDENCE_INSIDE = ("o arquivo deve estar dentro de evidence/ (sem '..' nem caminho absoluto); "
                   "escreva o caminho a partir de evidence/")

CORPUS = [
    # ---- the data folder's tables: relief-kit check lists each problem on its line
    Bad("csv cut mid-row", cut_mid_row("invoices.csv", 9, fields=5), CHECK,
        "erro: invoices.csv, linha 11, coluna status: valor obrigatório vazio; preencha-o"),
    Bad("csv quote never closed", rewrite("customers.csv", lambda b: b + b'1301,"Maria da Silva'),
        CHECK, "erro: customers.csv, linha 302: aspas abertas nesta linha não se fecham até o "
               "fim do arquivo; feche as aspas ou apague a que sobra"),
    Bad("csv row with more fields than the header",
        rewrite("invoices.csv", replace(b"\n100003,", b"\nx,y,100003,")), CHECK,
        "erro: invoices.csv, linha 4: a linha tem 13 campos e o cabeçalho 11; confira "
        "separadores e aspas (um ',' dentro de um texto precisa estar entre aspas)"),
    Bad("utf-16 without BOM", rewrite("customers.csv", lambda b: b.decode().encode("utf-16-le")),
        CHECK, "erro: customers.csv: nenhuma coluna de customers.csv no cabeçalho (esperadas "
               "customer_id, name, document, person_type, monthly_fee, customer_since); tem "
               "bytes nulos: é UTF-16 sem marca BOM ou um arquivo binário; salve-o como CSV UTF-8"),
    Bad("binary garbage", rewrite("invoices.csv", lambda b: bytes(range(1, 256)) * 64), CHECK,
        "erro: invoices.csv: nenhuma coluna de invoices.csv no cabeçalho (esperadas "
        "invoice_id, customer_id, due_date, amount, status); confira se é o arquivo "
        "invoices.csv em texto CSV (UTF-8 ou Windows-1252)"),
    Bad("empty file", rewrite("requests.csv", lambda b: b""), CHECK,
        "erro: requests.csv, linha 1: arquivo vazio: falta a linha de cabeçalho com os nomes "
        "das colunas"),
    Bad("header only", rewrite("customers.csv", lambda b: b.split(b"\n")[0] + b"\n"), RECOMMEND,
        "erro: {data}: cliente '1169' não encontrado; confira o customer_id ou rode "
        "relief-kit check {data}"),
    Bad("missing required column", drop_column("invoices.csv", "status"), CHECK,
        f"erro: invoices.csv, linha 1, coluna status: {NO_HEADER_COLUMN}"),
    Bad("unknown column in place of a required one",
        rename_column("invoices.csv", "amount", "valor"), CHECK,
        f"erro: invoices.csv, linha 1, coluna amount: {NO_HEADER_COLUMN}"),
    Bad("column repeated", repeat_column("requests.csv", "channel"), CHECK,
        "erro: requests.csv, linha 1, coluna channel: coluna repetida no cabeçalho; deixe só uma"),
    Bad("a table that is a folder", directory("{data}/requests.csv"), CHECK,
        "erro: requests.csv: é uma pasta, não um arquivo CSV; troque-a pelo arquivo"),
    Bad("money 12,3,4", cell("invoices.csv", 5, "amount", "12,3,4"), CHECK,
        "erro: invoices.csv, linha 5, coluna amount: valor não numérico '12,3,4' (esperado "
        "como 1.149,90)"),
    Bad("money ambiguous 1.149", cell("customers.csv", 4, "monthly_fee", "1.149"), CHECK,
        "erro: customers.csv, linha 4, coluna monthly_fee: valor ambíguo '1.149': escreva "
        "1.149,00 ou 1149.00"),
    Bad("date 31/02/2024", cell("invoices.csv", 5, "due_date", "31/02/2024"), CHECK,
        "erro: invoices.csv, linha 5, coluna due_date: data inválida '31/02/2024' (esperado "
        "dd/mm/aaaa ou aaaa-mm-dd)"),
    Bad("date in year 0205", cell("invoices.csv", 6, "issued_on", "0205-03-10"), CHECK,
        "erro: invoices.csv, linha 6, coluna issued_on: data improvável '0205-03-10'; "
        "confira o ano"),
    Bad("answer that is not yes or no", cell("requests.csv", 3, "small_business", "talvez"),
        CHECK, "erro: requests.csv, linha 3, coluna small_business: resposta inválida 'talvez' "
               "(esperado sim ou não)"),
    Bad("CPF check digits", cell("customers.csv", 3, "document", "875.074.250-71"), CHECK,
        "erro: customers.csv, linha 3, coluna document: CPF '875.074.250-71' inválido: os "
        "dígitos verificadores não conferem; corrija o CPF no cadastro"),
    Bad("CNPJ check digits", cell("customers.csv", 5, "document", "44.630.688/0001-68"), CHECK,
        "erro: customers.csv, linha 5, coluna document: CNPJ '44.630.688/0001-68' inválido: os "
        "dígitos verificadores não conferem; corrija o CNPJ no cadastro"),
    Bad("document of no known shape", cell("customers.csv", 3, "document", "11.222.333/0001"),
        CHECK, "erro: customers.csv, linha 3, coluna document: documento '11.222.333/0001' não "
               "é CPF (11 dígitos) nem CNPJ (14 caracteres); corrija-o no cadastro"),
    Bad("duplicate invoice id", same_cell("invoices.csv", 3, "invoice_id", like=2), CHECK,
        "erro: invoices.csv, linha 3, coluna invoice_id: invoice_id '100001' repetido (já "
        "aparece na linha 2); cada fatura deve aparecer uma vez: apague a repetição ou dê "
        "outro invoice_id"),
    Bad("duplicate request id", same_cell("requests.csv", 4, "request_id", like=3), CHECK,
        "erro: requests.csv, linha 4, coluna request_id: request_id 'R0002' repetido (já "
        "aparece na linha 3); cada pedido deve aparecer uma vez: apague a repetição ou dê "
        "outro request_id"),
    Bad("request of an unknown customer", cell("requests.csv", 3, "customer_id", "9999"), CHECK,
        "erro: requests.csv, linha 3, coluna customer_id: cliente '9999' não existe em "
        "customers.csv; cadastre o cliente ou corrija o customer_id"),
    Bad("NUL byte in a cell", cell("customers.csv", 3, "name", "Marcelo\x00Dias"), CHECK,
        "erro: customers.csv, linha 3, coluna name: caractere de controle U+0000 no valor "
        "'Marcelo\\x00Dias'; apague-o (não é texto, e um terminal o executaria)"),
    Bad("terminal escape in a request id", cell("requests.csv", 3, "request_id", "R\x1b[31m2"),
        RECOMMEND, "erro: {data}/requests.csv, linha 3, coluna request_id: caractere de "
                   "controle U+001B no valor 'R\\x1b[31m2'; apague-o (não é texto, e um "
                   "terminal o executaria)"),
    Bad("1 MB single cell", cell("invoices.csv", 3, "amount", "9" * 1_000_000), CHECK,
        "erro: invoices.csv, linha 3, coluna amount: valor não numérico "
        f"'{'9' * 60}'… (1.000.000 caracteres) (esperado como 1.149,90)"),
    Bad("1 MB choice", cell("requests.csv", 3, "asked", "<b>" * 300_000), CHECK,
        "erro: requests.csv, linha 3, coluna asked: valor desconhecido "
        f"'{'<b>' * 20}'… (900.000 caracteres); use um de: discount, new_date, instalments, "
        "not_said"),
    # ---- the written requests under evidence/
    Bad("evidence name with ../", cell("requests.csv", 2, "evidence_file", "../../etc/passwd"),
        CHECK, f"erro: requests.csv, linha 2, coluna evidence_file: {EVIDENCE_INSIDE}"),
    Bad("evidence absolute path", cell("requests.csv", 2, "evidence_file", "/etc/passwd"),
        CHECK, f"erro: requests.csv, linha 2, coluna evidence_file: {EVIDENCE_INSIDE}"),
    Bad("evidence Windows path", cell("requests.csv", 2, "evidence_file", "C:\\Users\\a.txt"),
        CHECK, f"erro: requests.csv, linha 2, coluna evidence_file: {EVIDENCE_INSIDE}"),
    Bad("evidence symlink out", evidence_link_outside("R0001_chat.txt"), CHECK,
        "erro: requests.csv, linha 2, coluna evidence_file: um link aponta para fora de "
        "evidence/; copie o arquivo para dentro de evidence/"),
    Bad("evidence missing", cell("requests.csv", 2, "evidence_file", "R0001_outro.txt"), CHECK,
        "erro: requests.csv, linha 2, coluna evidence_file: arquivo 'R0001_outro.txt' não "
        "existe em evidence/; copie para lá o pedido escrito ou deixe evidence_file vazio "
        "(pedido não documentado)"),
    Bad("evidence oversized",
        evidence("R0001_chat.txt", lambda b: b + b"x" * (MAX_EVIDENCE_BYTES + 1 - len(b))),
        CHECK, "erro: requests.csv, linha 2, coluna evidence_file: arquivo 'R0001_chat.txt' "
               "grande demais (5,0 MB; limite 5 MB); guarde só a conversa ou o e-mail do "
               "pedido, sem as mídias"),
    Bad("evidence of an unknown type",
        chain(in_data("evidence/R0001.pdf", b"%PDF-1.4"),
              cell("requests.csv", 2, "evidence_file", "R0001.pdf")), CHECK,
        "erro: requests.csv, linha 2, coluna evidence_file: tipo de arquivo '.pdf' não aceito "
        "como pedido escrito; use a conversa exportada do WhatsApp (.txt) ou o e-mail salvo "
        "(.eml)"),
    # ---- the folder itself and its export.toml
    Bad("empty folder", directory("{tmp}/vazia"), "recommend {tmp}/vazia",
        "erro: {tmp}/vazia/customers.csv: arquivo ausente; crie-o ou importe os dados do ERP "
        "(relief-kit import) ... e mais 2 problemas: rode relief-kit check {tmp}/vazia"),
    Bad("folder that does not exist", nothing, "check {tmp}/nada",
        "erro: {tmp}/nada: pasta de dados não encontrada; confira o caminho."),
    Bad("a file given as the folder", nothing, "check {data}/customers.csv",
        "erro: {data}/customers.csv: não é uma pasta; indique a pasta que contém customers.csv, "
        "invoices.csv e requests.csv."),
    Bad("export.toml date in quotes",
        rewrite("export.toml", replace(b"as_of = 2026-11-20", b'as_of = "20/11/2026"')), CHECK,
        "erro: export.toml: as_of: deve ser uma data sem aspas, como as_of = 2026-11-20."),
    Bad("export.toml broken", rewrite("export.toml", lambda b: b + b"as_of = \n"), RECOMMEND,
        "erro: {data}/export.toml: não foi possível ler (Invalid value (at line 5, column 9)); "
        "corrija ou apague o arquivo."),
    Bad("--today 31/02/2024", nothing, "recommend {data} --today 31/02/2024",
        "erro: --today: data inválida '31/02/2024' (esperado dd/mm/aaaa ou aaaa-mm-dd)"),
    # ---- the criteria file
    Bad("criteria TOML syntax", criteria(replace(b"grace_days = 5", b"grace_days = = 5")),
        WITH_CRITERIA, "erro: {tmp}/criterios.toml: TOML inválido (Invalid value (at line 8, "
                       "column 14))."),
    Bad("criteria unknown key",
        criteria(replace(b"grace_days = 5", b"grace_days = 5\ngrace_dayz = 3")), WITH_CRITERIA,
        "erro: {tmp}/criterios.toml: punctuality.grace_dayz: chave desconhecida (erro de "
        "digitação?)."),
    Bad("criteria wrong type", criteria(replace(b"grace_days = 5", b'grace_days = "cinco"')),
        WITH_CRITERIA, "erro: {tmp}/criterios.toml: punctuality.grace_days: deve ser um número "
                       "(encontrado 'cinco')."),
    Bad("criteria fraction for a whole number",
        criteria(replace(b"grace_days = 5", b"grace_days = 5.5")), WITH_CRITERIA,
        "erro: {tmp}/criterios.toml: punctuality.grace_days: deve ser um número inteiro "
        "(encontrado 5.5)."),
    Bad("criteria out of range", criteria(replace(b"max_percent = 20", b"max_percent = 120")),
        WITH_CRITERIA, "erro: {tmp}/criterios.toml: discount.max_percent: deve estar entre 0 e "
                       "100 (encontrado 120)."),
    Bad("criteria missing section", criteria(replace(b"[debt]\nhigh_months = 3", b"")),
        WITH_CRITERIA, "erro: {tmp}/criterios.toml: [debt]: seção obrigatória ausente."),
    Bad("criteria contradicting itself",
        criteria(replace(b"min_percent = 5", b"min_percent = 25")), WITH_CRITERIA,
        "erro: {tmp}/criterios.toml: discount.min_percent: não pode ser maior que "
        "discount.max_percent."),
    Bad("criteria not UTF-8", criteria(lambda b: b.decode().encode("latin-1")), WITH_CRITERIA,
        "erro: {tmp}/criterios.toml: o arquivo de critérios deve estar em UTF-8."),
    Bad("criteria empty", criteria(lambda b: b""), WITH_CRITERIA,
        "erro: {tmp}/criterios.toml: version: obrigatório, um texto não vazio."),
    Bad("proposed criteria broken for the meeting",
        criteria(replace(b"[debt]\nhigh_months = 3", b"")),
        "meeting {data} --archive {tmp}/arquivo --out {tmp}/r.html "
        "--proposed {tmp}/criterios.toml",
        "erro: {tmp}/criterios.toml: [debt]: seção obrigatória ausente."),
    Bad("criteria file that does not exist", nothing, WITH_CRITERIA,
        "erro: relief-kit recommend: valor inválido para --criteria: o arquivo "
        "'{tmp}/criterios.toml' não existe (veja relief-kit recommend --help)",
        exit_code=2),
    Bad("missing required option", nothing, "batch {data}",
        "erro: relief-kit batch: falta a opção --archive (veja relief-kit batch --help)",
        exit_code=2),
    Bad("misspelt option", nothing, "batch {data} --archiv {tmp}/a",
        "erro: relief-kit batch: opção desconhecida --archiv (quis dizer --archive?) (veja "
        "relief-kit batch --help)", exit_code=2),
    Bad("days that are not a number", nothing, "purge {tmp} --older-than dois",
        "erro: relief-kit purge: valor inválido para --older-than: 'dois' não é um número "
        "inteiro (veja relief-kit purge --help)", exit_code=2),
    # ---- IXC
    Bad("IXC JSON that is CSV", ixc(clientes=new_file("cliente.json", b"id;razao\n1;x\n")), IXC,
        "erro: cliente.json, linha 1: JSON inválido (Expecting value)."),
    Bad("IXC JSON cut short", ixc(clientes=fixture("ixc/cliente_p1.json", "cliente.json",
                                                   lambda b: b[:300])), IXC,
        "erro: cliente.json, linha 15: JSON inválido (Expecting property name enclosed in "
        "double quotes)."),
    Bad("IXC JSON empty file", ixc(clientes=new_file("cliente.json", b"")), IXC,
        "erro: cliente.json, linha 1: JSON inválido (Expecting value)."),
    Bad("IXC JSON without registros",
        ixc(clientes=new_file("cliente.json", b'{"page": "1", "rows_x": []}')), IXC,
        'erro: cliente.json: JSON sem a lista de registros (esperado "registros": [...]).'),
    Bad("IXC JSON list of numbers", ixc(clientes=new_file("cliente.json", b"[1, 2]")), IXC,
        "erro: cliente.json, registro 1: esperado um objeto JSON."),
    Bad("IXC API error saved as data",
        ixc(clientes=new_file("cliente.json",
                              b'{"type": "error", "message": "Token\\n invalido"}')),
        IXC, "erro: cliente.json: a API respondeu com erro, não com dados: 'Token invalido'."),
    Bad("IXC missing column", ixc(clientes=fixture("ixc/cliente_p1.json", "cliente.json",
                                                   lambda b: b.replace(b'"cnpj_cpf"', b'"cpf"'))),
        IXC,
        "erro: cliente.json: coluna obrigatória ausente em clientes (cliente): cnpj_cpf "
        "(colunas encontradas: id, razao, fantasia, cpf, tipo_pessoa, fone, telefone_celular, "
        "telefone_comercial, whatsapp, email, bairro, cidade, uf, data_cadastro, ativo, "
        "hotsite_acesso, obs, nome)."),
    Bad("IXC XLSX that is not a workbook",
        ixc(clientes=new_file("cliente.xlsx", b"PK\x03\x04garbage")),
        IXC.replace("cliente.json", "cliente.xlsx"),
        "erro: cliente.xlsx: planilha XLSX ilegível (BadZipFile)."),
    Bad("IXC amount of 5,000 digits",
        ixc(areceber=fixture("ixc/fn_areceber_p1.json", "areceber.json",
                             replace(b'"valor": "99.90"', b'"valor": "' + b"9" * 5000 + b'"'))),
        IXC, "- areceber.json, registro 1, campo valor: valor não numérico "
             f"'{'9' * 60}'… (5.000 caracteres) (esperado como 1149.90)"),
    # ---- MK-Auth
    Bad("MK-Auth missing column", mkauth(clientes=replace(b"cpf_cnpj;", b"documento;")), MKAUTH,
        "erro: sis_cliente.csv: coluna obrigatória ausente em clientes (sis_cliente): cpf_cnpj "
        "(colunas encontradas: id, login, nome, documento, fone, celular, email, endereco, "
        "bairro, cidade, estado, plano, venc, bloqueado, pessoa, data_ins, senha)."),
    Bad("MK-Auth money 12,3,4",
        mkauth(lancamentos=replace(b"\t89,90\t89,90\tpago", b"\t12,3,4\t89,90\tpago")), MKAUTH,
        "- sis_lanc.csv, linha 2, coluna valor: valor não numérico '12,3,4' (esperado como "
        "1.149,90)"),
    Bad("MK-Auth date 31/02/2024",
        mkauth(lancamentos=replace(b"2024-01-10 00:00:00", b"31/02/2024")), MKAUTH,
        "- sis_lanc.csv, linha 2, coluna datavenc: data inválida '31/02/2024' (esperado "
        "dd/mm/aaaa ou aaaa-mm-dd)"),
    Bad("MK-Auth CPF check digits", mkauth(clientes=replace(b"628.194.821-12", b"628.194.821-13")),
        MKAUTH, "- sis_cliente.csv, linha 2, coluna cpf_cnpj: CPF inválido '628.194.821-13' "
                "(dígitos verificadores não conferem)"),
    Bad("MK-Auth login repeated",
        mkauth(clientes=replace(b'2;"sebastiao"', b'2;"conceicao.goncalves"')), MKAUTH,
        "- sis_cliente.csv, linha 3, coluna login: login 'conceicao.goncalves' repetido com "
        "conteúdo diferente de sis_cliente.csv, linha 2; mantenha só um deles"),
    Bad("MK-Auth UTF-16 without BOM",
        mkauth(clientes=lambda b: b.decode("cp1252").encode("utf-16-le")), MKAUTH,
        "erro: sis_cliente.csv: o cabeçalho tem bytes nulos: é UTF-16 sem marca BOM ou um "
        "arquivo binário; exporte de novo como CSV UTF-8."),
    Bad("MK-Auth quote opened and never closed",
        mkauth(clientes=replace(b'"x9!a"', b'"' + b"a" * 200_000)), MKAUTH,
        "erro: sis_cliente.csv, linha 2: um campo passa de 131.072 caracteres (aspas sem "
        "fechamento?); confira as aspas dessa linha."),
    Bad("MK-Auth empty file", mkauth(clientes=lambda b: b""), MKAUTH,
        "erro: sis_cliente.csv: arquivo vazio ou sem linha de cabeçalho."),
    Bad("import over a data folder that is not an import", mkauth(),
        MKAUTH.replace("{tmp}/saida", "{data}"),
        "erro: {data}: a pasta não está vazia e não é uma importação anterior (sem export.toml "
        "de importação); escolha uma pasta nova ou vazia com --out."),
    Bad("import --as-of 31/02/2024", mkauth(), MKAUTH + " --as-of 31/02/2024",
        "erro: --as-of: data inválida '31/02/2024' (esperado dd/mm/aaaa ou aaaa-mm-dd)"),
    # ---- a mapped CSV import (any other system)
    Bad("mapping TOML syntax", hubsoft(replace(b"[customers]", b"[customers")), MAPPED,
        "erro: {tmp}/map.toml: TOML inválido (Expected ']' at the end of a table declaration "
        "(at line 33, column 11))."),
    Bad("mapping unknown section", hubsoft(lambda b: b + b"\n[pagamentos]\nx = 1\n"), MAPPED,
        "erro: {tmp}/map.toml: pagamentos: seção desconhecida (use format, customers, "
        "invoices)."),
    Bad("mapping column that is not canonical",
        hubsoft(replace(b'email = "email_principal"', b'correio = "email_principal"')), MAPPED,
        "erro: {tmp}/map.toml: customers.columns.correio: não é uma coluna canônica (use "
        "business_kind, city, contract_status, customer_id, customer_since, document, email, "
        "monthly_fee, name, neighbourhood, person_type, phone, plan)."),
    Bad("mapping without a required column", hubsoft(replace(b'document = "cpf_cnpj"\n', b"")),
        MAPPED, "erro: {tmp}/map.toml: customers.columns.document: obrigatório: diga de qual "
                "coluna vem."),
    Bad("mapping value that is not canonical", hubsoft(replace(b'pf = "PF"', b'pf = "fisica"')),
        MAPPED, "erro: {tmp}/map.toml: customers.values.person_type.pf: 'fisica' não é um "
                "valor canônico (use PF, PJ)."),
    Bad("mapping unknown encoding",
        hubsoft(replace(b'encoding = "auto"', b'encoding = "klingon"')), MAPPED,
        "erro: {tmp}/map.toml: format.encoding: codificação desconhecida 'klingon'."),
    Bad("mapping values that are not a table",
        hubsoft(replace(b'[invoices]\nfiles = ["*fatura*", "*financeiro*"]',
                        b'[invoices]\nfiles = ["*fatura*", "*financeiro*"]\nvalues = 3')),
        MAPPED, "erro: {tmp}/map.toml: invoices.values: esperada uma tabela TOML "
                "([invoices.values])."),
    Bad("mapping [mapping] that is not a table",
        hubsoft(replace(b'[mapping]\nsystem = "Hubsoft"', b'mapping = "Hubsoft"')), MAPPED,
        "erro: {tmp}/map.toml: mapping: esperada uma tabela TOML ([mapping] com system = ...)."),
    # ---- the archive
    Bad("archive case without SHA256SUMS",
        chain(directory("{tmp}/arquivo/R0001"), new_file("arquivo/R0001/record.html", b"x")),
        "verify {tmp}/arquivo", "R0001/SHA256SUMS: SHA256SUMS ausente ou ilegível"),
    Bad("archive SHA256SUMS that is garbage",
        chain(directory("{tmp}/arquivo/R0001"),
              new_file("arquivo/R0001/SHA256SUMS", b"\xff\xfe\x00garbage")),
        "verify {tmp}/arquivo", "R0001/SHA256SUMS: SHA256SUMS ausente ou ilegível"),
    Bad("archive with a stray file", chain(directory("{tmp}/arquivo"),
                                           new_file("arquivo/notas.txt", b"x")),
        "verify {tmp}/arquivo", "notas.txt: inesperado (não listado no SHA256SUMS)"),
]

_SUMMARY = re.compile(r"^\d+ (erros?|problemas?) ")


def problem_lines(output: str) -> list[str]:
    """The lines that report a problem: ``erro: ...`` lines (click's usage errors too), the
    items of an import's ``Erros:`` list, or (verify) every line but the count."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    found = [line for line in lines if line.startswith("erro:")]
    listed, inside = [], False
    for line in lines:
        if line.startswith(("Erros:", "relief-kit check:")):
            inside = True
        elif inside and line.startswith("- "):
            listed.append(line)
        else:
            inside = False
    found += listed
    if found:
        return found
    return [line for line in lines if not _SUMMARY.match(line)]


def test_the_corpus_is_large_and_each_entry_distinct():
    assert len(CORPUS) >= 35
    assert len({bad.id for bad in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("bad", CORPUS, ids=[bad.id for bad in CORPUS])
def test_bad_input_is_one_line_never_a_traceback(bad: Bad, tmp_path):
    data = sample_copy(tmp_path)
    bad.build(tmp_path, data)
    args = [part.format(tmp=tmp_path, data=data) for part in bad.command.split(" ")]
    result = CliRunner().invoke(main, args)
    output = result.output
    assert "Traceback" not in output
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    assert result.exit_code == bad.exit_code, output[-2000:]
    expected = bad.expected.format(tmp=tmp_path, data=data)
    assert problem_lines(output) == [expected]


# --------------------------------------------------------------------------- in the review

#: Written requests that cannot be read: the review shows the case and, in place of the
#: request, this one line (the batch record shows the same).
UNREADABLE_EVIDENCE = [
    ("whatsapp binary garbage", "R0001_chat.txt", WHATSAPP_REQUEST,
     lambda b: bytes(range(256)) * 8,
     "{path}: não parece uma conversa exportada do WhatsApp (nenhuma linha começa com data e "
     "hora, como 25/03/2024 21:15 - Nome: texto)."),
    ("whatsapp plain text, not an export", "R0001_chat.txt", WHATSAPP_REQUEST,
     lambda b: b"ola, preciso de ajuda\nobrigado\n",
     "{path}: não parece uma conversa exportada do WhatsApp (nenhuma linha começa com data e "
     "hora, como 25/03/2024 21:15 - Nome: texto)."),
    ("whatsapp header with 31/02", "R0001_chat.txt", WHATSAPP_REQUEST,
     lambda b: b.rstrip() + b"\r\n[31/02/2026, 10:00:00] Maria: oi\r\n",
     "{path}, linha {last}: data ou hora inválida 31/02/2026 10:00."),
    ("whatsapp empty", "R0001_chat.txt", WHATSAPP_REQUEST, lambda b: b"",
     "{path}: arquivo de evidência vazio."),
    ("eml that is not an e-mail", "R0007.eml", EMAIL_REQUEST,
     lambda b: b"isto nao e um email\nnem de longe\n",
     "{path}: não parece um e-mail salvo (.eml): faltam os cabeçalhos From, Date e Subject."),
    ("eml of binary garbage", "R0007.eml", EMAIL_REQUEST, lambda b: bytes(range(256)),
     "{path}: não parece um e-mail salvo (.eml): faltam os cabeçalhos From, Date e Subject."),
]


@pytest.mark.parametrize("name, file, request_id, change, expected", UNREADABLE_EVIDENCE,
                         ids=[entry[0] for entry in UNREADABLE_EVIDENCE])
def test_unreadable_written_request_is_one_line_in_the_review(tmp_path, name, file, request_id,
                                                              change, expected):
    data = sample_copy(tmp_path)
    path = data / "evidence" / file
    changed = change(path.read_bytes())
    path.write_bytes(changed)
    case = open_case(data, request_id)
    line = expected.format(path=path.resolve(), last=changed.rstrip().count(b"\n") + 1)
    assert case.evidence_problem == line
    assert case.recommendation is not None  # the rest of the case is still there
    html = str(views.written_request(case))
    assert "Não foi possível ler o pedido por escrito" in html


def test_evidence_over_the_limit_is_refused_by_the_review_too(tmp_path):
    data = sample_copy(tmp_path)
    path = evidence_of(data, WHATSAPP_REQUEST)
    with path.open("ab") as handle:
        handle.truncate(MAX_EVIDENCE_BYTES + 1)
    case = open_case(data, WHATSAPP_REQUEST)
    assert case.evidence_problem == (f"{path.resolve()}: arquivo de evidência grande demais "
                                     f"(5.0 MB; limite 5 MB).")


def test_evidence_linked_out_of_the_folder_is_not_read_by_the_review(tmp_path):
    data = sample_copy(tmp_path)
    evidence_link_outside("R0001_chat.txt")(tmp_path, data)
    case = open_case(data, WHATSAPP_REQUEST)
    assert case.written_request is None
    assert case.evidence_problem == (
        "requests.csv, coluna evidence_file: 'R0001_chat.txt': um link aponta para fora de "
        "evidence/; copie o arquivo para dentro de evidence/")
    assert "segredo" not in str(views.written_request(case))


# --------------------------------------------------------------------------- customer text

LONG_LINE = "ab" * 10_000  # 20,000 characters, no space to break on
HOSTILE_PARTS = (
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "{{ 7*7 }}",
    "{% for x in range(3) %}x{% endfor %}",
    "[click](javascript:alert(1))",
    "# Title",
    "\x07\x1b[31m",
    "\u202eevil",
)
HOSTILE_TEXT = "\n".join(HOSTILE_PARTS + (LONG_LINE,))
#: A name cannot hold control characters (the readers refuse them); everything else goes.
HOSTILE_NAME = " ".join(p for p in HOSTILE_PARTS if not re.search(r"[\x00-\x1f]", p))


def _customer_line(folder: Path, request_id: str) -> int:
    customer = customer_of(folder, request_id)
    rows = _rows(folder / "customers.csv")
    return next(n for n, row in enumerate(rows, 1) if row[0] == customer)


@pytest.fixture
def hostile_folder(tmp_path) -> Path:
    """The WhatsApp and the e-mail requests, and their customers' names, full of text
    built to be interpreted."""
    data = sample_copy(tmp_path)
    for request_id in (WHATSAPP_REQUEST, EMAIL_REQUEST):
        cell("customers.csv", _customer_line(data, request_id), "name",
             HOSTILE_NAME)(tmp_path, data)
    chat = evidence_of(data, WHATSAPP_REQUEST)
    text = chat.read_text(encoding="utf-8")
    first = text.splitlines()[2]  # a customer's message: keep its date, time and author
    header = first[: first.index(": ") + 2]
    chat.write_text(text.rstrip("\n") + f"\n{header}{HOSTILE_TEXT}\n", encoding="utf-8")
    eml = evidence_of(data, EMAIL_REQUEST)
    raw = eml.read_bytes().replace(b"Subject: ", b"Subject: {{ 7*7 }} <script>x</script> ", 1)
    head, _, body = raw.partition(b"\n\n")
    eml.write_bytes(head + b"\n\n" + HOSTILE_TEXT.encode("utf-8") + b"\n" + body)
    return data


def _every_view(case) -> str:
    return "".join(str(fragment) for fragment in (
        views.case_header(case), views.customer_card(case), views.customer_card(case, True),
        views.history_section(case, expanded=True), views.written_request(case),
        views.regulatory_section(case, expanded=True), views.record_sections(case),
        views.decision_history(case), views.message(HOSTILE_TEXT, "error")))


def _assert_shown_as_text(html: str) -> None:
    assert "<script" not in html.lower() and "<img" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "{{ 7*7 }}" in html and "{% for x in range(3) %}x{% endfor %}" in html
    assert "[click](javascript:alert(1))" in html and "# Title" in html
    assert "javascript:" not in re.sub(r"\[click\]\(javascript:alert\(1\)\)", "", html)
    assert "<h1" not in html and "<a " not in html
    assert LONG_LINE in html  # whole: a long line is wrapped by the page, not cut


@pytest.mark.parametrize("request_id", [WHATSAPP_REQUEST, EMAIL_REQUEST])
def test_hostile_customer_text_is_shown_as_text_in_the_review(hostile_folder, request_id):
    case = open_case(hostile_folder, request_id)
    assert case.evidence_problem == ""
    assert HOSTILE_TEXT in case.written_request.customer_text  # kept as written
    html = _every_view(case)
    _assert_shown_as_text(html)
    # Shown, not obeyed: the bell and the escape as symbols, the right-to-left
    # override as its code, so the rest of the line reads in the order it was typed.
    assert "\u2407\u241b[31m" in html and "[U+202E]evil" in html
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202e]", html)
    written = str(views.written_request(case))
    assert written.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 1
    if request_id == EMAIL_REQUEST:
        assert "{{ 7*7 }} &lt;script&gt;x&lt;/script&gt;" in written  # the subject


def test_hostile_customer_name_stays_literal_in_the_messages():
    facts = {
        "request_id": "R0009",
        "customer": {"customer_id": "C1", "name": HOSTILE_TEXT, "person_type": "PJ",
                     "document_masked": "11.222.***/****-81"},
        "recommendation": {"terms": {"amount": "120.00", "instalments": []}},
        "decision": {"action": "postponement",
                     "terms": {"amount": "120.00", "new_due_date": "2026-12-05",
                               "instalments": []}},
        "contact": {"email": "maria@example.com.br", "phone": "(35) 99999-1234"},
    }
    files = render_case_messages(facts, today=date(2026, 11, 20))
    message = email.message_from_bytes(files["email.eml"], policy=policy.default)
    assert [part.get_content_type() for part in message.walk()] == ["text/plain"]
    body = message.get_content()
    whatsapp = files["whatsapp.txt"].decode("utf-8")
    for text in (body, whatsapp):
        for part in HOSTILE_PARTS:
            assert part in text  # plain text: shown as typed, never rendered
        assert LONG_LINE in text
        assert "49" not in text and "xxx" not in text  # no template ran
    assert "\n" not in message["Subject"] and "<script>" not in message["Subject"]
    text, link = whatsapp.rstrip("\n").rsplit("\n\n", 1)
    assert parse_qs(urlparse(link).query)["text"] == [text]  # the link carries it intact
    assert urlparse(link).netloc == "wa.me"
