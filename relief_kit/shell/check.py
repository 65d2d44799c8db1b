"""``relief-kit check DIR``: every problem of a data folder, one located line each.

The readers (:mod:`relief_kit.sources.tables`) report what cannot be read; the rules here
report what reads fine but cannot be true or cannot be used: a CPF whose check digits
do not agree, a bill of a customer nobody registered, a payment dated tomorrow. Each
message says what is wrong and what would fix it. Errors make the folder unusable
(exit 1); warnings are worth a look but do not stop the kit.

The rules work on whole columns at once and only build a message for the rows they
flag, so a portfolio of millions of bills is checked in seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pandas as pd

from relief_kit.core import schema
from relief_kit.core.documents import document_kind, is_valid_document, normalize_phone
from relief_kit.core.errors import InputError
from relief_kit.core.values import ValueProblem, shown
from relief_kit.sources.tables import (
    FIRST_LINE,
    EvidencePathError,
    Portfolio,
    Problem,
    evidence_path,
    read_folder_info,
    read_table,
    text_isin,
)
from relief_kit.text import formatting as fmt

ERROR, WARNING = "erro", "aviso"
#: Late charges the law allows on a bill (Anatel RGC, Res. 765/2023 art. 78 §3): a fine
#: of up to 2 % and interest of up to 1 % a month plus inflation correction, taken here
#: as up to 1 % a month more (monthly IPCA has stayed below that in most months).
#: Legal limits, not team criteria: they do not belong in the criteria file.
LATE_FINE = 0.02
LATE_MONTHLY_CHARGES = 0.01 + 0.01


def _flag(problems: list[Problem], frame: pd.DataFrame, mask: pd.Series, severity: str,
          file: str, column: str, message: Callable[[pd.Series], str]) -> None:
    """One problem per row where ``mask`` holds, its message built from that row."""
    mask = mask.fillna(False).astype(bool)
    for index, row in frame[mask.to_numpy()].iterrows():
        problems.append(Problem(severity, file, int(index) + FIRST_LINE, column, message(row)))


def _duplicates(problems: list[Problem], frame: pd.DataFrame, file: str, key: str,
                what: str) -> None:
    ids = frame[key]
    repeated = ids.duplicated(keep="first") & ids.ne("")
    if not repeated.any():
        return
    firsts = ~ids.duplicated(keep="first") & text_isin(ids, set(ids[repeated]))
    first_line = dict(zip(ids[firsts], frame.index[firsts.to_numpy()] + FIRST_LINE,
                          strict=True))
    _flag(problems, frame, repeated, ERROR, file, key, lambda row: (
        f"{key} {shown(row[key])} repetido (já aparece na linha {first_line[row[key]]}); "
        f"cada {what} deve aparecer uma vez: apague a repetição ou dê outro {key}"))


def _unknown_customer(problems: list[Problem], frame: pd.DataFrame, file: str,
                      customer_ids: pd.Series | None) -> None:
    if customer_ids is None:
        return
    unknown = ~text_isin(frame["customer_id"], customer_ids) & frame["customer_id"].ne("")
    _flag(problems, frame, unknown, ERROR, file, "customer_id", lambda row: (
        f"cliente {shown(row['customer_id'])} não existe em {schema.CUSTOMERS}; cadastre o "
        f"cliente ou corrija o customer_id"))


def _negative(problems: list[Problem], frame: pd.DataFrame, file: str, column: str) -> None:
    _flag(problems, frame, frame[column] < 0, ERROR, file, column, lambda row: (
        f"valor negativo {fmt.money(row[column])}; escreva o valor sem sinal (um "
        f"desconto ou estorno não entra aqui)"))


def _future(problems: list[Problem], frame: pd.DataFrame, file: str, column: str,
            today: date, what: str, severity: str = ERROR) -> None:
    after = frame[column] >= pd.Timestamp(today) + pd.Timedelta(days=1)
    _flag(problems, frame, after, severity, file, column, lambda row: (
        f"{what} {fmt.day(row[column])} está no futuro (hoje é {fmt.day(today)}); "
        f"corrija a data"))


def _customer_rules(problems: list[Problem], customers: pd.DataFrame, today: date) -> None:
    file = schema.CUSTOMERS
    _duplicates(problems, customers, file, "customer_id", "cliente")
    # Plain loops over the columns: stdnum checks one number at a time, and a frame's
    # iterrows would cost more than the checks themselves.
    for index, document, person_type in zip(customers.index, customers["document"],
                                            customers["person_type"], strict=True):
        if not document:
            continue  # the reader already reported the empty required value
        kind = document_kind(document)
        line = int(index) + FIRST_LINE
        expected = {"PF": "CPF", "PJ": "CNPJ"}.get(person_type)
        if kind is None:
            problems.append(Problem(ERROR, file, line, "document", (
                f"documento {shown(document)} não é CPF (11 dígitos) nem CNPJ (14 caracteres); "
                f"corrija-o no cadastro")))
        elif not is_valid_document(document):
            problems.append(Problem(ERROR, file, line, "document", (
                f"{kind} {shown(document)} inválido: os dígitos verificadores não conferem; "
                f"corrija o {kind} no cadastro")))
        elif expected and kind != expected:
            other = "PJ" if person_type == "PF" else "PF"
            problems.append(Problem(ERROR, file, line, "person_type", (
                f"person_type {person_type} pede {expected}, mas o documento é um {kind}; "
                f"troque person_type para {other} ou corrija o documento")))
    _negative(problems, customers, file, "monthly_fee")
    _future(problems, customers, file, "customer_since", today, "início do contrato", WARNING)
    phone_problem: dict[str, str | None] = {}  # the same phone is often repeated
    for index, phone in zip(customers.index, customers["phone"], strict=True):
        if phone and phone not in phone_problem:
            try:
                normalize_phone(phone)
                phone_problem[phone] = None
            except ValueProblem as exc:
                phone_problem[phone] = str(exc)
        if phone and phone_problem[phone]:
            problems.append(Problem(WARNING, file, int(index) + FIRST_LINE, "phone", (
                f"{phone_problem[phone]}; corrija-o para poder formalizar o acordo por "
                f"WhatsApp")))
    email = customers["email"]
    bad_email = email.ne("") & ~email.str.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+")
    _flag(problems, customers, bad_email, WARNING, file, "email", lambda row: (
        f"e-mail {shown(row['email'])} não parece um endereço (falta @ ou domínio); corrija-o "
        f"para poder formalizar o acordo por e-mail"))


def _invoice_rules(problems: list[Problem], invoices: pd.DataFrame, customer_ids: pd.Series | None,
                   today: date) -> None:
    file = schema.INVOICES
    _duplicates(problems, invoices, file, "invoice_id", "fatura")
    _unknown_customer(problems, invoices, file, customer_ids)
    _negative(problems, invoices, file, "amount")
    _negative(problems, invoices, file, "amount_paid")
    # A late payment legitimately carries the fine, interest and inflation correction
    # (RGC art. 78 §3), so only more than the law lets a bill grow is suspicious.
    months_late = ((invoices["paid_on"] - invoices["due_date"]).dt.days.clip(lower=0)
                   .fillna(0) / 30)
    ceiling = (invoices["amount"] * (1 + LATE_FINE + LATE_MONTHLY_CHARGES * months_late))
    overpaid = (invoices["amount"] >= 0) & (invoices["amount_paid"] > ceiling.round(2) + 0.005)
    invoices = invoices.assign(_ceiling=ceiling)
    _flag(problems, invoices, overpaid, WARNING, file, "amount_paid", lambda row: (
        f"valor pago {fmt.money(row['amount_paid'])} maior que a fatura de "
        f"{fmt.money(row['amount'])} com multa, juros e correção permitidos (até "
        f"{fmt.money(round(row['_ceiling'], 2))}); confira o valor pago e o valor da fatura"))
    early = invoices["due_date"] < invoices["issued_on"]
    _flag(problems, invoices, early, ERROR, file, "due_date", lambda row: (
        f"vencimento {fmt.day(row['due_date'])} antes da emissão "
        f"{fmt.day(row['issued_on'])}; corrija uma das duas datas"))
    before = invoices["paid_on"] < invoices["issued_on"]
    _flag(problems, invoices, before, ERROR, file, "paid_on", lambda row: (
        f"pagamento em {fmt.day(row['paid_on'])} antes da emissão "
        f"{fmt.day(row['issued_on'])}; corrija uma das duas datas"))
    _future(problems, invoices, file, "paid_on", today, "pagamento em")
    unpaid = invoices["status"].eq("paid") & invoices["paid_on"].isna()
    _flag(problems, invoices, unpaid, ERROR, file, "paid_on", lambda row: (
        "fatura com status paid sem data de pagamento; preencha paid_on ou corrija o status"))


def _evidence_problems(folder: Path, name: str) -> list[tuple[str, str]]:
    """(severity, message) of each problem of one evidence file, found by reading it
    exactly as the review will: what the review could not read is an error, a defect it
    reads around (a malformed header) a warning."""
    try:
        path = evidence_path(folder, name)
    except EvidencePathError as exc:
        return [(ERROR, exc.reason)]
    where = f"{schema.EVIDENCE_DIR}/{name}"
    if not path.exists():
        return [(ERROR, f"arquivo {shown(name)} não existe em {schema.EVIDENCE_DIR}/; copie "
                        f"para lá o pedido escrito ou deixe evidence_file vazio (pedido não "
                        f"documentado)")]
    from relief_kit.sources.evidence import MAX_EVIDENCE_BYTES, kind_of, read_evidence

    try:
        kind_of(path)
    except InputError:
        return [(ERROR, f"tipo de arquivo {path.suffix or '(sem extensão)'!r} não aceito como "
                        f"pedido escrito; use a conversa exportada do WhatsApp (.txt) ou o "
                        f"e-mail salvo (.eml)")]
    size = path.stat().st_size
    if path.is_file() and size > MAX_EVIDENCE_BYTES:
        return [(ERROR, f"arquivo {shown(name)} grande demais ({fmt.number(size / 2**20, 1)} "
                        f"MB; limite {fmt.number(MAX_EVIDENCE_BYTES / 2**20, 0)} MB); guarde só "
                        f"a conversa ou o e-mail do pedido, sem as mídias")]
    try:
        written = read_evidence(path)
    except InputError as exc:
        reason = str(exc).removeprefix(str(path)).lstrip(":, ").rstrip(".")
        return [(ERROR, f"{where}: a revisão não conseguirá ler o pedido escrito: {reason}")]
    # A presumed date order or a date in UTC is shown where the analyst reads the chat;
    # only what is wrong in the file itself is worth a warning here.
    return [(WARNING, f"{where}: {defect}") for defect in written.defects]


def _request_ids(problems: list[Problem], requests: pd.DataFrame, file: str) -> None:
    """The batch's rules for a case folder name, and ids that differ only in case (one
    folder on Windows and macOS disks)."""
    from relief_kit.shell.archive import request_id_problem

    ids = requests["request_id"]
    bad = ids.map(lambda value: bool(value) and bool(request_id_problem(value)))
    _flag(problems, requests, bad, ERROR, file, "request_id", lambda row: (
        f"pedido {shown(row['request_id'][:60])}: {request_id_problem(row['request_id'])}"))
    folded = ids.str.casefold()
    clash = folded.duplicated(keep="first") & ~ids.duplicated(keep="first") & ids.ne("")
    first = dict(zip(folded[~folded.duplicated(keep="first")],
                     ids[~folded.duplicated(keep="first")], strict=True))
    _flag(problems, requests, clash, ERROR, file, "request_id", lambda row: (
        f"pedido {shown(row['request_id'])} difere de {shown(first[row['request_id'].casefold()])} "
        "só em maiúsculas/minúsculas: seriam a mesma pasta no Windows e no macOS; dê outro "
        "request_id"))


def _request_rules(problems: list[Problem], folder: Path, requests: pd.DataFrame,
                   customer_ids: pd.Series | None, today: date) -> None:
    file = schema.REQUESTS
    _duplicates(problems, requests, file, "request_id", "pedido")
    _request_ids(problems, requests, file)
    _unknown_customer(problems, requests, file, customer_ids)
    _future(problems, requests, file, "received_at", today, "pedido recebido em")
    for index, name in zip(requests.index, requests["evidence_file"], strict=True):
        for severity, message in _evidence_problems(folder, name) if name else ():
            problems.append(Problem(severity, file, int(index) + FIRST_LINE, "evidence_file",
                                    message))
    at_risk = requests["at_risk"].fillna(False).astype(bool)
    stray = requests["at_risk_category"].ne("") & ~at_risk
    _flag(problems, requests, stray, WARNING, file, "at_risk_category", lambda row: (
        f"categoria {shown(row['at_risk_category'])} preenchida, mas at_risk não é sim; marque "
        f"at_risk como sim ou apague a categoria (não guarde dado sensível sem motivo)"))
    unconsented = at_risk & ~requests["at_risk_consent"].fillna(False).astype(bool)
    _flag(problems, requests, unconsented, WARNING, file, "at_risk_consent", lambda row: (
        "morador em situação de risco sem consentimento registrado; confirme com o "
        "cliente que ele aceita o uso dessa informação e marque at_risk_consent como sim"))
    _negative(problems, requests, file, "proposed_amount")
    if "capacity_monthly" in requests.columns:
        _negative(problems, requests, file, "capacity_monthly")


def _order(problem: Problem) -> tuple:
    """By file (in the schema's order), line, then column (in the file's order)."""
    tables = list(schema.TABLES)
    file_rank = tables.index(problem.file) if problem.file in tables else len(tables)
    columns = schema.column_names(problem.file) if problem.file in tables else []
    column_rank = columns.index(problem.column) if problem.column in columns else -1
    return (file_rank, problem.file, problem.row or 0, column_rank)


def check_portfolio(portfolio: Portfolio, today: date, *, customers_read: bool = True
                    ) -> list[Problem]:
    """The rules over typed tables (the readers' own problems are not included).

    ``customers_read=False`` (customers.csv missing or without customer_id) skips the
    unknown-customer rule, which would otherwise flag every bill and request.
    """
    problems: list[Problem] = []
    customer_ids = portfolio.customers["customer_id"]
    _customer_rules(problems, portfolio.customers, today)
    _invoice_rules(problems, portfolio.invoices, customer_ids if customers_read else None,
                   today)
    _request_rules(problems, portfolio.folder, portfolio.requests,
                   customer_ids if customers_read else None, today)
    return problems


def inspect_folder(folder: str | Path, today: date) -> tuple[Portfolio, list[Problem]]:
    """The folder read as far as it can be, and every problem found, sorted by file
    and line (the readers' problems first within a line).

    Raises InputError only when ``folder`` is not a folder; everything about its content
    (missing files, a broken ``export.toml``) is a :class:`Problem`.
    """
    folder = Path(folder)
    if not folder.exists():
        raise InputError(f"{folder}: pasta de dados não encontrada; confira o caminho.")
    if not folder.is_dir():
        raise InputError(f"{folder}: não é uma pasta; indique a pasta que contém "
                         f"{schema.CUSTOMERS}, {schema.INVOICES} e {schema.REQUESTS}.")
    problems: list[Problem] = []
    frames = {}
    for table in schema.TABLES:
        frames[table], found = read_table(folder / table, table)
        problems += found
    as_of, source = None, ""
    try:
        as_of, source = read_folder_info(folder)
    except InputError as exc:
        problems.append(Problem(ERROR, schema.FOLDER_INFO, None, None,
                                str(exc).removeprefix(f"{folder / schema.FOLDER_INFO}: ")))
    portfolio = Portfolio(folder, frames[schema.CUSTOMERS], frames[schema.INVOICES],
                          frames[schema.REQUESTS], as_of, source)
    # A problem without a column (no file, no header, a row that breaks the CSV) means
    # the readers kept no customer at all: every bill would look like a stranger's.
    customers_read = not any(p.file == schema.CUSTOMERS and p.is_error and
                             (p.column is None or p.column == "customer_id" and p.row == 1)
                             for p in problems)
    problems += check_portfolio(portfolio, today, customers_read=customers_read)
    return portfolio, sorted(problems, key=_order)


def check_folder(folder: str | Path, today: date) -> list[Problem]:
    """Every problem of a data folder, sorted by file and line (see inspect_folder)."""
    return inspect_folder(folder, today)[1]


def _count(n: int, word: str) -> str:
    return f"{fmt.number(n, 0)} {word}" + ("s" if n != 1 else "")


def summary(problems: list[Problem], portfolio: Portfolio) -> str:
    """``"3 erros, 1 aviso"``; with no error, what the folder holds:
    ``"Pasta pronta para uso: 300 clientes, 7.200 faturas, 40 pedidos."``."""
    errors = sum(p.is_error for p in problems)
    warnings = len(problems) - errors
    if errors:
        return ", ".join([_count(errors, "erro")] + ([_count(warnings, "aviso")] if warnings
                                                      else []))
    ready = (f"Pasta pronta para uso: {fmt.number(len(portfolio.customers), 0)} clientes, "
             f"{fmt.number(len(portfolio.invoices), 0)} faturas, "
             f"{fmt.number(len(portfolio.requests), 0)} pedidos.")
    return f"{_count(warnings, 'aviso')}. {ready}" if warnings else ready
