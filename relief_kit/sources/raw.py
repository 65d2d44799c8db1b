"""Reading what a provider hands over: bytes of unknown encoding, CSV with unknown
separators, XLSX sheets and saved JSON API responses, as rows of text keyed by column.

Every row remembers where it came from (file and line, or file and record number), so
a problem found later is reported where the user can go and fix it.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from relief_kit.core.errors import InputError, cell_error

#: Larger inputs are refused: an ERP table of a 200,000-subscriber provider is far smaller.
MAX_SOURCE_BYTES = 512 * 1024 * 1024

#: Written by MySQL exports (phpMyAdmin, ``mysql -e``) for a missing value.
_NULLS = {"NULL", "\\N"}


def decode_text(data: bytes) -> tuple[str, str]:
    """Bytes of a text file → (text, encoding name).

    UTF-8 (with or without BOM) and UTF-16 with a BOM are recognised; anything that is
    not valid UTF-8 is Windows-1252 (what Brazilian Excel and MySQL's ``latin1`` write:
    for ``ç``, ``ã`` and every other letter it agrees with ISO-8859-1), and the few bytes
    Windows-1252 leaves undefined fall back to ISO-8859-1, so no byte is ever lost.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def read_bytes(path: Path, limit: int = MAX_SOURCE_BYTES) -> bytes:
    """A file's bytes, or a one-line InputError naming it."""
    try:
        size = path.stat().st_size
        if size > limit:
            raise InputError(
                f"{path}: arquivo grande demais ({size / 1024 / 1024:.1f} MB; "
                f"limite {limit / 1024 / 1024:.0f} MB)."
            )
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: não foi possível ler o arquivo ({exc.strerror}).")


@lru_cache(maxsize=4096)
def normalise_header(name: object) -> str:
    """Column names compare without case, stray spaces or a BOM."""
    return " ".join(str(name or "").replace("\ufeff", "").split()).lower()


@dataclass(frozen=True)
class Row:
    """One source row: values as stripped text keyed by the normalised column name."""

    file: str
    number: int  # line in the file as a spreadsheet shows it (header = 1), or JSON record
    values: Mapping[str, str]
    json: bool = False
    #: XLSX columns whose number holds a fraction of a centavo (an amount there is an
    #: error, not a value to round silently).
    fractions: frozenset[str] = frozenset()

    def get(self, column: str) -> str:
        return self.values.get(column, "")

    def where(self, column: str | None = None) -> str:
        """``file, linha N, coluna C`` (or ``file, registro N, campo C`` for JSON)."""
        if not self.json:
            return cell_error(self.file, self.number, column, "").removesuffix(": ")
        where = f"{self.file}, registro {self.number}"
        return f"{where}, campo {column}" if column else where


@dataclass
class SourceTable:
    """The rows of one source file (or of all the pages of one table)."""

    label: str  # the file name(s) shown in messages
    columns: list[str]
    rows: list[Row] = field(default_factory=list)
    #: JSON pages: ``total`` announced by the API, when given (for a missing-page check).
    announced_total: int | None = None
    #: Warnings of the reading itself, as (where, message): one per file, not per cell.
    notes: list[tuple[str, str]] = field(default_factory=list)


def report_notes(table: SourceTable, report) -> None:
    """Hand the reading's warnings to an import report."""
    for where, message in table.notes:
        report.warn(where, message)


def _formula_note(label: str, count: int, first: Row, column: str) -> tuple[str, str]:
    return (label, f"{count} {'valor escrito' if count == 1 else 'valores escritos'} como "
                   f"fórmula do Excel (=\"…\"), o primeiro em {first.where(column)}; lidos "
                   "sem o sinal de igual e as aspas")


def require_columns(table: SourceTable, required: Iterable[str], what: str) -> None:
    """A missing required column is one clear error before any row is read."""
    if not table.rows and not table.columns:
        return  # an empty JSON page has no keys to check
    missing = [c for c in required if c not in table.columns]
    if missing:
        found = ", ".join(table.columns[:30]) or "nenhuma"
        raise InputError(
            f"{table.label}: coluna obrigatória ausente em {what}: {', '.join(missing)} "
            f"(colunas encontradas: {found})."
        )


def _cell_text(value: object) -> str:
    """An XLSX/JSON cell as the text a CSV export would have held."""
    if type(value) is str:  # the common case first: a whole ERP table goes through here
        text = value.strip()
        return "" if text in _NULLS else text
    if value is None:
        return ""
    if isinstance(value, bool):
        return "S" if value else "N"
    if isinstance(value, datetime):
        if value.time() == time(0, 0):
            return value.date().isoformat()
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        # Spreadsheets store 89.9 for 89,90, 89.91000000000001 for 89,91 and
        # 12345678909.0 for a bare CPF.
        if value.is_integer():
            return str(int(value))
        amount = centavos(value)
        return repr(value) if amount is None else str(amount).rstrip("0").rstrip(".")
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    text = str(value).strip()
    return "" if text in _NULLS else text


_EXCEL_SEP = re.compile(r'^\ufeff?"?sep=(.)"?[;,\t]*\s*$', re.I)
_EXCEL_TEXT = re.compile(r'^="((?:[^"]|"")*)"$')


def excel_separator(first_line: str) -> str | None:
    """The separator Excel's first line ``sep=;`` names, or None when there is none."""
    match = _EXCEL_SEP.match(first_line.rstrip("\r"))
    return match.group(1) if match else None


def unwrap_excel_text(text: str) -> str | None:
    """``="0101"`` (how Excel users keep the digits of a code) → ``0101``; None when the
    value is not so wrapped. Doubled quotes inside are one quote, as in a formula."""
    match = _EXCEL_TEXT.match(text)
    return match.group(1).replace('""', '"') if match else None


#: An XLSX number this close to a whole centavo is that amount stored as a binary
#: float (89.91 is kept as 89.91000000000001); farther away, a fraction of a centavo.
_FLOAT_NOISE = 1e-6


def centavos(value: float) -> Decimal | None:
    """A spreadsheet number as an amount in reais: rounded to centavos when it is only
    binary noise away from them; None when it holds a real fraction of a centavo."""
    rounded = round(value, 2)
    if abs(value - rounded) > _FLOAT_NOISE * max(1.0, abs(value) / 1e6):
        return None
    return Decimal(repr(rounded)).quantize(Decimal("0.01"))


def sniff_delimiter(header_line: str) -> str:
    """``;``, ``,`` or tab: whichever the header line uses most (quotes ignored)."""
    outside, quoted = [], False
    for char in header_line:
        if char == '"':
            quoted = not quoted
        elif not quoted:
            outside.append(char)
    counts = {d: outside.count(d) for d in (";", "\t", ",")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_csv_text(text: str, label: str, delimiter: str | None = None,
                  keep: Collection[str] | None = None) -> SourceTable:
    """CSV text → rows keyed by normalised header; line numbers as a spreadsheet shows them.

    The physical line of each record is kept, so a quoted value spanning lines does
    not shift the numbers reported for later rows.
    """
    text = text.lstrip("\ufeff")
    first = text.split("\n", 1)[0].rstrip("\r")
    named = excel_separator(first)
    if named is not None:
        # Excel's "sep=;" line: the separator it names; the header is the next line.
        delimiter = delimiter or named
        text = text.split("\n", 1)[1] if "\n" in text else ""
        first = text.split("\n", 1)[0].rstrip("\r")
    if not first.strip():
        raise InputError(f"{label}: arquivo vazio ou sem linha de cabeçalho.")
    if "\x00" in first:
        raise InputError(f"{label}: o cabeçalho tem bytes nulos: é UTF-16 sem marca BOM ou um "
                         "arquivo binário; exporte de novo como CSV UTF-8.")
    delimiter = delimiter or sniff_delimiter(first)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise InputError(f"{label}: arquivo vazio ou sem linha de cabeçalho.")
    columns = [normalise_header(h) for h in header]
    table = SourceTable(label=label, columns=[c for c in columns if c])
    wrapped, first_wrapped = 0, None
    try:
        start = reader.line_num + 1
        for record in reader:
            number, start = start, reader.line_num + 1
            if not any(v.strip() for v in record):
                continue
            values = {c: _cell_text(v) for c, v in zip(columns, record, strict=False)
                      if c and (keep is None or c in keep)}
            for column, value in values.items():
                if value.startswith('="') and (inner := unwrap_excel_text(value)) is not None:
                    values[column] = inner
                    wrapped += 1
                    first_wrapped = first_wrapped or (number, column)
            table.rows.append(Row(label, number, values))
    except csv.Error as exc:
        if "field limit" in str(exc):
            limit = f"{csv.field_size_limit():,}".replace(",", ".")
            raise InputError(f"{label}, linha {reader.line_num}: um campo passa de {limit} "
                             "caracteres (aspas sem fechamento?); confira as aspas dessa linha.")
        raise InputError(f"{label}, linha {reader.line_num}: CSV malformado ({exc}).")
    if first_wrapped is not None:
        table.notes.append(_formula_note(label, wrapped, Row(label, first_wrapped[0], {}),
                                         first_wrapped[1]))
    return table


def read_xlsx(data: bytes, label: str, keep: Collection[str] | None = None) -> SourceTable:
    """The first sheet of a workbook; the first non-empty row is the header."""
    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken workbook
        raise InputError(f"{label}: planilha XLSX ilegível ({type(exc).__name__}).")
    try:
        sheet = book.worksheets[0]
        columns: list[str] | None = None
        table = SourceTable(label=label, columns=[])
        for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
            texts = [_cell_text(v) for v in cells]
            if not any(texts):
                continue
            if columns is None:
                columns = [normalise_header(v) for v in cells]
                table.columns = [c for c in columns if c]
                continue
            values = {c: v for c, v in zip(columns, texts, strict=False)
                      if c and (keep is None or c in keep)}
            fractions = frozenset(
                c for c, v in zip(columns, cells, strict=False)
                if c in values and type(v) is float and not v.is_integer()
                and centavos(v) is None)
            table.rows.append(Row(label, number, values, fractions=fractions))
    finally:
        book.close()
    if columns is None:
        raise InputError(f"{label}: planilha vazia (sem linha de cabeçalho).")
    return table


def _flatten(record: Mapping, prefix: str = "") -> Iterator[tuple[str, object]]:
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _flatten(value, name + ".")
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            for index, item in enumerate(value):  # Hubsoft: "servicos.0.nome"
                yield from _flatten(item, f"{name}.{index}.")
        else:
            yield name, value


def read_json(data: bytes, label: str, records_key: str | None = None,
              keep: Collection[str] | None = None) -> SourceTable:
    """A saved API response: ``{"page", "total", "registros": [...]}`` (IXC), a list,
    or the list under ``records_key`` (``"clientes"`` for Hubsoft). Nested objects become
    dotted columns (``cliente.cpf_cnpj``), lists of objects numbered ones
    (``servicos.0.nome``)."""
    text, _ = decode_text(data)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{label}, linha {exc.lineno}: JSON inválido ({exc.msg}).")
    total = None
    if isinstance(document, dict):
        if document.get("type") == "error":
            message = " ".join(str(document.get("message", "")).split())
            raise InputError(f"{label}: a API respondeu com erro, não com dados: {message!r}.")
        keys = [records_key] if records_key else ["registros", "records", "data", "rows"]
        try:
            total = int(str(document["total"]).strip()) if "total" in document else None
        except ValueError:
            total = None
        found = next((k for k in keys if isinstance(document.get(k), list)), None)
        if found is not None:
            records = document[found]
        elif total == 0:  # IXC leaves "registros" out of an empty answer
            records = []
        else:
            wanted = records_key or "registros"
            raise InputError(
                f"{label}: JSON sem a lista de registros (esperado \"{wanted}\": [...])."
            )
    elif isinstance(document, list):
        records = document
    else:
        raise InputError(f"{label}: JSON sem uma lista de registros.")
    table = SourceTable(label=label, columns=[], announced_total=total)
    seen: dict[str, None] = {}
    for number, record in enumerate(records, start=1):
        if not isinstance(record, Mapping):
            raise InputError(f"{label}, registro {number}: esperado um objeto JSON.")
        values = {normalise_header(k): v for k, v in _flatten(record)}
        seen.update(dict.fromkeys(values))
        values = {k: _cell_text(v) for k, v in values.items() if keep is None or k in keep}
        table.rows.append(Row(label, number, values, json=True))
    table.columns = list(seen)
    return table


def read_source(path: Path, records_key: str | None = None, delimiter: str | None = None,
                encoding: str | None = None, keep: Collection[str] | None = None) -> SourceTable:
    """Any supported source file by its extension: .json, .xlsx/.xlsm, else CSV text.

    ``keep``: the only columns whose values are kept (an ERP table has dozens the kit
    never reads); every column name is still listed, for the required-column check.
    """
    data = read_bytes(path)
    label = path.name
    suffix = path.suffix.lower()
    if suffix == ".json":
        return read_json(data, label, records_key, keep)
    if suffix in (".xlsx", ".xlsm"):
        return read_xlsx(data, label, keep)
    if suffix == ".xls":
        raise InputError(f"{label}: formato .xls antigo; salve a planilha como .xlsx ou .csv.")
    if encoding:
        try:
            text = data.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise InputError(f"{label}: não está na codificação {encoding} ({exc}).")
    else:
        text, _ = decode_text(data)
    return read_csv_text(text, label, delimiter, keep)


def combine(tables: list[SourceTable], label: str) -> SourceTable:
    """Several files of one table (pages) as one, each row remembering its file."""
    if len(tables) == 1:
        return tables[0]
    columns: dict[str, None] = {}
    combined = SourceTable(label=label, columns=[])
    # Pages of one query all announce the same total; files of different queries do not.
    totals = {t.announced_total for t in tables}
    combined.announced_total = totals.pop() if len(totals) == 1 else None
    for table in tables:
        columns.update(dict.fromkeys(table.columns))
        combined.rows.extend(table.rows)
        combined.notes.extend(table.notes)
    combined.columns = list(columns)
    return combined
