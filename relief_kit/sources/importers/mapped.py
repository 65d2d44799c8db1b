"""Any other system (Hubsoft, SGP, Voalle, a spreadsheet) through a mapping file.

The mapping is a TOML file that says which source column holds each canonical column,
how the source writes numbers and dates, and what its codes mean. A worked example for
Hubsoft is ``data/mappings/hubsoft.toml``. Its parts::

    [mapping]
    system = "Hubsoft"               # shown in the summary

    [format]                         # how every source file is written (defaults shown)
    encoding = "auto"                # auto (UTF-8, else Windows-1252) | utf-8 | cp1252 | latin-1
    delimiter = "auto"               # auto | ";" | "," | "\\t"
    decimal = "auto"                 # comma (1.149,90) | dot (1149.90) | auto (1.149 refused)
    date = "auto"                    # dd/mm/yyyy | yyyy-mm-dd | auto (either) | a strptime pattern
    empty = ["", "NULL", "null"]     # values that mean "no value"

    [customers]                      # canonical table: customers or invoices
    files = ["*cliente*"]            # which SOURCES hold it (glob on the file name);
                                     # without it, a file is recognised by its columns
    records = "clientes"             # JSON only: the key of the list of records
    format = { date = "yyyy-mm-dd" } # this table's files differ from [format]

    [customers.columns]              # canonical column = source column(s)
    customer_id = "id_cliente"
    phone = ["telefone_primario", "telefone_secundario"]   # the first one with a value

    [customers.values.person_type]   # source code = canonical value
    pf = "PF"

Canonical columns are those of :mod:`relief_kit.core.schema`. Customers need
``customer_id``, ``name`` and ``document``; ``person_type`` defaults to the document's
kind, ``monthly_fee`` and ``customer_since`` to values derived from the bills. Invoices
need ``invoice_id``, ``customer_id`` (or ``customer_document``: the customer's CPF/CNPJ),
``due_date`` and ``amount``; without ``status`` a bill with a paid date is paid, one
with part paid is partial, the rest open. Codes not listed in ``values`` must already
be canonical (``open``, ``paid``...), or the row is reported.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache, partial
from pathlib import Path

from relief_kit.core import schema
from relief_kit.core.errors import InputError
from relief_kit.core.values import ValueProblem, shown
from relief_kit.sources.importers.canonical import (
    Cells,
    ImportResult,
    assemble,
    best_phone,
    bill_row,
    checked_person_type,
    customer_row,
    parse_money_once,
    read_date_once,
    read_document,
    read_rows,
    unique_rows,
)
from relief_kit.sources.importers.report import ImportReport
from relief_kit.sources.raw import (
    Row,
    SourceTable,
    combine,
    normalise_header,
    read_source,
    report_notes,
    require_columns,
)

TABLES = {"customers": schema.CUSTOMERS, "invoices": schema.INVOICES}
LABELS = {"customers": "clientes", "invoices": "faturas"}
#: Canonical columns each table cannot do without (others are optional or derived).
NEEDED = {
    "customers": ("customer_id", "name", "document"),
    "invoices": ("invoice_id", "due_date", "amount"),
}
EXTRA_COLUMNS = {"invoices": ("customer_document",)}
DECIMALS = ("auto", "comma", "dot")
DATE_STYLES = {"dd/mm/yyyy": "%d/%m/%Y", "yyyy-mm-dd": "%Y-%m-%d"}
FORMAT_KEYS = ("encoding", "delimiter", "decimal", "date", "empty")
DEFAULT_FORMAT = {"encoding": "auto", "delimiter": "auto", "decimal": "auto", "date": "auto",
                  "empty": ["", "NULL", "null"]}


# --------------------------------------------------------------------------- mapping


class Mapping:
    """A validated mapping file."""

    def __init__(self, path: Path, data: dict) -> None:
        self.path = path
        if not isinstance(data.get("mapping", {}), dict):
            self._fail("mapping", "esperada uma tabela TOML ([mapping] com system = ...)")
        self.system = str(data.get("mapping", {}).get("system", "")) or path.stem
        base = self._format(data.get("format", {}), "format")
        self.tables: dict[str, dict] = {}
        for name in data:
            if name not in ("mapping", "format", *TABLES):
                self._fail(name, f"seção desconhecida (use {', '.join(['format', *TABLES])})")
        for name in TABLES:
            if name not in data:
                self._fail(name, "seção obrigatória ausente")
            self.tables[name] = self._table(name, data[name], base)

    def _fail(self, key: str, message: str):
        raise InputError(f"{self.path}: {key}: {message}.")

    def _format(self, given: object, key: str, base: dict | None = None) -> dict:
        if not isinstance(given, dict):
            self._fail(key, "esperada uma tabela TOML")
        merged = dict(base or DEFAULT_FORMAT)
        for name, value in given.items():
            if name not in FORMAT_KEYS:
                self._fail(f"{key}.{name}", f"opção desconhecida (use {', '.join(FORMAT_KEYS)})")
            merged[name] = value
        if merged["decimal"] not in DECIMALS:
            self._fail(f"{key}.decimal", f"use {', '.join(DECIMALS)}")
        style = merged["date"]
        if not isinstance(style, str) or (
            style != "auto" and style not in DATE_STYLES and "%" not in style
        ):
            self._fail(f"{key}.date", "use dd/mm/yyyy, yyyy-mm-dd, auto ou um padrão strptime")
        if merged["delimiter"] not in ("auto", ";", ",", "\t", "|"):
            self._fail(f"{key}.delimiter", 'use auto, ";", ",", "\\t" ou "|"')
        if not isinstance(merged["empty"], list) or not all(
                isinstance(v, str) for v in merged["empty"]):
            self._fail(f"{key}.empty", "esperada uma lista de textos")
        encoding = merged["encoding"]
        if encoding != "auto":
            try:
                "".encode(encoding)
            except (LookupError, TypeError):
                self._fail(f"{key}.encoding", f"codificação desconhecida {encoding!r}")
        return merged

    def _table(self, name: str, given: object, base: dict) -> dict:
        if not isinstance(given, dict):
            self._fail(name, "esperada uma tabela TOML")
        known = ("files", "records", "format", "columns", "values")
        for key in given:
            if key not in known:
                self._fail(f"{name}.{key}", f"opção desconhecida (use {', '.join(known)})")
        canonical = set(schema.column_names(TABLES[name])) | set(EXTRA_COLUMNS.get(name, ()))
        for key in ("columns", "values"):
            if not isinstance(given.get(key, {}), dict):
                self._fail(f"{name}.{key}", f"esperada uma tabela TOML ([{name}.{key}])")
        columns: dict[str, list[str]] = {}
        for target, source in given.get("columns", {}).items():
            if target not in canonical:
                self._fail(f"{name}.columns.{target}",
                           f"não é uma coluna canônica (use {', '.join(sorted(canonical))})")
            names = [source] if isinstance(source, str) else source
            if not isinstance(names, list) or not names or not all(
                    isinstance(n, str) and n.strip() for n in names):
                self._fail(f"{name}.columns.{target}", "esperado um nome de coluna ou uma lista")
            columns[target] = [normalise_header(n) for n in names]
        needed = list(NEEDED[name])
        if name == "invoices":
            needed.append("customer_id" if "customer_document" not in columns
                          else "customer_document")
        for target in needed:
            if target not in columns:
                self._fail(f"{name}.columns.{target}", "obrigatório: diga de qual coluna vem")
        values: dict[str, dict[str, str]] = {}
        kinds = {c.name: c for c in schema.TABLES[TABLES[name]]}
        for target, codes in given.get("values", {}).items():
            column = kinds.get(target)
            if column is None or column.kind is not schema.Kind.CHOICE:
                self._fail(f"{name}.values.{target}", "só colunas de escolha têm códigos")
            if not isinstance(codes, dict):
                self._fail(f"{name}.values.{target}", "esperada uma tabela código = valor")
            for code, value in codes.items():
                if value not in column.choices:
                    self._fail(f"{name}.values.{target}.{code}",
                               f"{value!r} não é um valor canônico (use "
                               f"{', '.join(c for c in column.choices if c)})")
            values[target] = {str(k).strip().casefold(): v for k, v in codes.items()}
        files = given.get("files", [])
        files = [files] if isinstance(files, str) else files
        if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
            self._fail(f"{name}.files", "esperada uma lista de padrões de nome de arquivo")
        records = given.get("records")
        if records is not None and not isinstance(records, str):
            self._fail(f"{name}.records", "esperado o nome da chave da lista no JSON")
        return {
            "files": files, "records": records, "columns": columns, "values": values,
            "format": self._format(given.get("format", {}), f"{name}.format", base),
        }


def load_mapping(path: str | Path) -> Mapping:
    """Read and validate a mapping file; any problem is one line naming the key."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: não foi possível ler o mapeamento ({exc.strerror}).")
    except UnicodeDecodeError:
        raise InputError(f"{path}: o mapeamento deve estar em UTF-8.")
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: TOML inválido ({exc}).")
    return Mapping(path, data)


# --------------------------------------------------------------------------- values


_COMMA = re.compile(r"^-?\d{1,3}(\.\d{3})*(,\d{1,2})?$|^-?\d+(,\d{1,2})?$")
_DOT = re.compile(r"^-?\d{1,3}(,\d{3})*(\.\d{1,2})?$|^-?\d+(\.\d{1,2})?$")


def money_reader(style: str) -> Callable[[str], Decimal | None]:
    """A money parser for one decimal style; ``auto`` is :func:`tables.parse_money`.

    Each distinct text is parsed once (see ``canonical.read_date_once``)."""
    if style == "auto":
        return parse_money_once
    pattern, example = (_COMMA, "1.149,90") if style == "comma" else (_DOT, "1,149.90")

    def read(text: str) -> Decimal | None:
        value = (text or "").strip().replace("R$", "").replace("\xa0", "").replace(" ", "")
        if not value:
            return None
        if len(value) > 30 or not pattern.match(value):
            raise ValueProblem(f"valor {shown(text.strip())} fora do formato do mapeamento "
                               f"(decimal = \"{style}\", como {example})")
        if style == "comma":
            value = value.replace(".", "").replace(",", ".")
        else:
            value = value.replace(",", "")
        return Decimal(value).quantize(Decimal("0.01"))

    return lru_cache(maxsize=1 << 16)(read)


def date_reader(style: str) -> Callable[[str], date | None]:
    """A date parser for one style; ``auto`` is :func:`tables.parse_date`.

    Each distinct text is parsed once."""
    if style == "auto":
        return read_date_once
    pattern = DATE_STYLES.get(style, style)

    def read(text: str) -> date | None:
        value = (text or "").strip()
        if value in ("", "0000-00-00", "00/00/0000"):
            return None
        head = value if "%H" in pattern else value.split(" ")[0].split("T")[0]
        try:
            return datetime.strptime(head, pattern).date()
        except ValueError:
            raise ValueProblem(f"data {value!r} fora do formato do mapeamento "
                               f"(date = \"{style}\")")

    return lru_cache(maxsize=1 << 16)(read)


# --------------------------------------------------------------------------- import


def import_mapped(mapping_path: str | Path, sources: Sequence[str | Path]) -> ImportResult:
    """Read SOURCES as the mapping says and map them to canonical rows."""
    mapping = load_mapping(mapping_path)
    tables: dict[str, list[SourceTable]] = {name: [] for name in TABLES}
    read_cache: dict[tuple, SourceTable] = {}
    for source in map(Path, sources):
        name, table = _table_of(mapping, source, read_cache)
        tables[name].append(table)
    for name, found in tables.items():
        if not found:
            raise InputError(
                f"nenhum dos arquivos dados é de {LABELS[name]} segundo {mapping.path.name} "
                f"(colunas esperadas: {', '.join(o[0] for o in _key_columns(mapping, name))})."
            )
    customers, invoices = combine(tables["customers"], "clientes"), \
        combine(tables["invoices"], "faturas")
    result = map_tables(mapping, customers, invoices)
    for table in (customers, invoices):
        report_notes(table, result.report)
    result.files = [Path(s).name for s in sources]
    result.report.files = result.files
    return result


def _read(mapping: Mapping, name: str, source: Path, cache: dict) -> SourceTable:
    fmt, records = mapping.tables[name]["format"], mapping.tables[name]["records"]
    options = (
        records,
        None if fmt["delimiter"] == "auto" else fmt["delimiter"],
        None if fmt["encoding"] == "auto" else fmt["encoding"],
    )
    key = (source, name)
    if key not in cache:
        keep = {c for names in mapping.tables[name]["columns"].values() for c in names}
        cache[key] = read_source(source, *options, keep=keep)
    return cache[key]


def _key_columns(mapping: Mapping, name: str) -> list[list[str]]:
    """The source columns (each with its alternatives) a file of this table must have."""
    columns = mapping.tables[name]["columns"]
    wanted = [*NEEDED[name], "customer_id", "customer_document"] if name == "invoices" \
        else NEEDED[name]
    return [columns[target] for target in wanted if target in columns]


def _fits(mapping: Mapping, name: str, table: SourceTable) -> bool:
    return all(any(o in table.columns for o in options)
               for options in _key_columns(mapping, name))


def _table_of(mapping: Mapping, source: Path, cache: dict) -> tuple[str, SourceTable]:
    """Which canonical table a source file holds: by the mapping's file patterns, else
    by the columns it has."""
    by_pattern = [
        name for name, spec in mapping.tables.items()
        if any(fnmatch.fnmatch(source.name.casefold(), p.casefold()) for p in spec["files"])
    ]
    if len(by_pattern) > 1:
        raise InputError(f"{source.name}: o nome combina com clientes e com faturas em "
                         f"{mapping.path.name}; torne os padrões de files mais precisos.")
    if by_pattern:
        return by_pattern[0], _read(mapping, by_pattern[0], source, cache)
    if any(spec["files"] for spec in mapping.tables.values()):
        raise InputError(f"{source.name}: o nome não combina com nenhum padrão de files em "
                         f"{mapping.path.name}.")
    fits = [name for name in TABLES if _fits(mapping, name, _read(mapping, name, source, cache))]
    if len(fits) > 1:
        raise InputError(f"{source.name}: tem as colunas de clientes e as de faturas; diga "
                         f"qual é com files em {mapping.path.name}.")
    if not fits:
        raise InputError(f"{source.name}: não tem as colunas de clientes nem as de faturas "
                         f"de {mapping.path.name}.")
    return fits[0], _read(mapping, fits[0], source, cache)


def map_tables(mapping: Mapping, customers: SourceTable, invoices: SourceTable) -> ImportResult:
    """Source tables → canonical customers and invoices, as the mapping says."""
    report = ImportReport(source="csv")
    specs = mapping.tables
    for name, table in (("customers", customers), ("invoices", invoices)):
        for options in _key_columns(mapping, name):
            if not any(o in table.columns for o in options):
                require_columns(table, options[:1], LABELS[name])

    customer_reader = _Reader(specs["customers"], report)
    report.table("clientes").read = len(customers.rows)
    key = specs["customers"]["columns"]["customer_id"][0]
    canonical, unread = read_rows(unique_rows(customers.rows, key, report, "clientes"),
                                  customer_reader.customer, report, "clientes")
    failed = {customer_reader.cell(row, "customer_id") for row in unread}
    id_by_document = {re.sub(r"\D", "", c["document"]): c["customer_id"] for c in canonical}

    bill_reader = _Reader(specs["invoices"], report)
    report.table("faturas").read = len(invoices.rows)
    key = specs["invoices"]["columns"]["invoice_id"][0]
    bills, _ = read_rows(unique_rows(invoices.rows, key, report, "faturas"),
                         lambda row: bill_reader.invoice(row, id_by_document), report, "faturas")
    kept_customers, kept_invoices = assemble(canonical, bills, report, failed)
    return ImportResult(kept_customers, kept_invoices, report)


class _Reader:
    """Reads one table's rows as one mapping section says."""

    def __init__(self, spec: dict, report: ImportReport) -> None:
        self.spec = spec
        self.report = report
        self.columns: dict[str, list[str]] = spec["columns"]
        self.values: dict[str, dict[str, str]] = spec["values"]
        fmt = spec["format"]
        self.empty = set(fmt["empty"])
        self.money = money_reader(fmt["decimal"])
        self.day = date_reader(fmt["date"])

    def source_column(self, row: Row, target: str) -> str | None:
        """The first mapped source column with a value in this row (else the first)."""
        options = self.columns.get(target)
        if not options:
            return None
        return next((o for o in options if self.cell_of(row, o)), options[0])

    def cell_of(self, row: Row, column: str) -> str:
        value = row.get(column)
        return "" if value in self.empty else value

    def cell(self, row: Row, target: str) -> str:
        column = self.source_column(row, target)
        return self.cell_of(row, column) if column else ""

    def cells(self, row: Row) -> Cells:
        clean = Row(row.file, row.number,
                    {k: ("" if v in self.empty else v) for k, v in row.values.items()},
                    row.json, row.fractions)
        return Cells(clean, self.report, money=self.money, day=self.day)

    def choice(self, cells: Cells, row: Row, target: str, choices: tuple[str, ...],
               required: bool = False) -> str | None:
        """A coded value: mapped, or already canonical. An unknown code fails the row for
        a required column (None) and is left empty, with a warning, for an optional one."""
        raw = self.cell(row, target)
        if not raw:
            return ""
        mapped = self.values.get(target, {}).get(raw.strip().casefold())
        if mapped is not None:
            return mapped
        if raw.strip() in choices:
            return raw.strip()
        known = ", ".join(self.values.get(target, {})) or "nenhum"
        message = f"código {raw!r} sem tradução em values.{target} (conhecidos: {known})"
        if required:
            cells.fail(self.source_column(row, target), message)
            return None
        cells.warn(self.source_column(row, target), message + "; deixado vazio")
        return ""

    def customer(self, row: Row) -> dict | None:
        cells = self.cells(row)
        col = partial(self.source_column, row)
        customer_id = cells.required(col("customer_id"), "id do cliente")
        name = cells.required(col("name"), "nome")
        document, person = "", ""
        try:
            document, by_document = read_document(self.cell(row, "document"))
            if "person_type" in self.columns:
                codes = {"pf": "PF", "pj": "PJ", **self.values.get("person_type", {})}
                person = checked_person_type(cells, col("person_type"), codes, by_document)
            else:
                person = by_document
        except ValueProblem as exc:
            cells.fail(col("document"), str(exc))
        fee = cells.money(col("monthly_fee"), what="mensalidade") \
            if "monthly_fee" in self.columns else None
        since = cells.day(col("customer_since")) if "customer_since" in self.columns else None
        business = self.choice(cells, row, "business_kind",
                               ("",) + schema.BUSINESS_KINDS) if "business_kind" in self.columns \
            else ""
        status = self.choice(cells, row, "contract_status", schema.CONTRACT_STATUSES) \
            if "contract_status" in self.columns else ""
        phones = [self.cell_of(row, c) for c in self.columns.get("phone", [])]
        if not cells.ok:
            return None
        return customer_row(
            customer_id=customer_id, name=name, document=document, person_type=person,
            phone=best_phone(phones), email=self.cell(row, "email"),
            neighbourhood=self.cell(row, "neighbourhood"), city=self.cell(row, "city"),
            plan=self.cell(row, "plan"), monthly_fee=fee, customer_since=since,
            business_kind=business, contract_status=status)

    def invoice(self, row: Row, id_by_document: dict[str, str]) -> dict | None:
        cells = self.cells(row)
        col = partial(self.source_column, row)
        invoice_id = cells.required(col("invoice_id"), "id da fatura")
        if "customer_id" in self.columns:
            customer_id = cells.required(col("customer_id"), "id do cliente")
        else:
            raw = cells.required(col("customer_document"), "CPF/CNPJ do cliente")
            customer_id = id_by_document.get(re.sub(r"\D", "", raw), "")
            if raw and not customer_id:
                customer_id = f"CPF/CNPJ {raw}"  # reported as a bill of an absent customer
        due = cells.day(col("due_date"), required=True, what="vencimento")
        amount = cells.money(col("amount"), required=True, what="valor")
        paid_on = cells.day(col("paid_on"), what="data de pagamento") \
            if "paid_on" in self.columns else None
        paid = cells.money(col("amount_paid"), what="valor pago") \
            if "amount_paid" in self.columns else None
        issued = cells.day(col("issued_on"), what="emissão") if "issued_on" in self.columns \
            else None
        notified = cells.day(col("notified_on"), what="data da notificação") \
            if "notified_on" in self.columns else None
        if "status" in self.columns:
            status = self.choice(cells, row, "status", schema.INVOICE_STATUSES, required=True)
            if status == "":
                cells.fail(col("status"), "status vazio (obrigatório)")
        elif paid is not None and amount is not None and 0 < paid < amount:
            status = "partial"
        else:
            status = "paid" if paid_on is not None else "open"
        arrangement = self.choice(cells, row, "arrangement", schema.ARRANGEMENTS) \
            if "arrangement" in self.columns else ""
        if status == "paid" and paid is None:
            paid = amount
        if not cells.ok:
            return None
        return bill_row(invoice_id=invoice_id, customer_id=customer_id, due_date=due,
                        amount=amount, status=status, paid_on=paid_on, amount_paid=paid,
                        where=row.where(col("invoice_id")), issued_on=issued,
                        notified_on=notified, arrangement=arrangement)
