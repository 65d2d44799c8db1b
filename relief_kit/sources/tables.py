"""Reading and writing the canonical tables of a data folder.

The value parsers live in :mod:`relief_kit.core.values`; this module applies them
column-wise to the folder's CSVs, writes tables back (formula-safe), reports every
problem by file, line and column, and gives the :class:`Portfolio` accessor. A file is
split into cells by pyarrow's multi-threaded CSV reader, or by pandas' parser when
pyarrow refuses it (a malformed row: pandas names its line); the values of each
distinct text are then parsed once, whichever split the file.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from difflib import get_close_matches
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np
import pandas as pd
import pyarrow as pa

from relief_kit.core import schema
from relief_kit.core.errors import InputError, cell_error
from relief_kit.core.model import Customer, ReliefRequest
from relief_kit.core.values import (
    ValueProblem,
    parse_bool,
    parse_date,
    parse_datetime,
    parse_money,
    shown,
)


def _canonical_text(value) -> str:
    if value is None or value is pd.NA or value is pd.NaT or (
            isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, bool | np.bool_):
        return "sim" if value else "não"
    if isinstance(value, datetime | pd.Timestamp):
        if isinstance(value, pd.Timestamp):
            value = value.to_pydatetime()
        if value.hour == value.minute == value.second == 0:
            return value.date().isoformat()
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


#: A cell starting with one of these is a formula to Excel, LibreOffice and Sheets
#: (OWASP "CSV injection"); tab and carriage return are stripped on reading anyway.
_FORMULA = re.compile(r"^'*[=+\-@\t\r]")
_GUARDED = re.compile(r"^'+[=+\-@\t\r]")


def guard_cell(text: str) -> str:
    """A text cell a spreadsheet shows as text: ``=SOMA(1)`` → ``'=SOMA(1)``.

    Reversible by :func:`unguard_cell`: a value that already starts with quotes before
    a formula character gets one more, so reading gives back exactly what was written.
    """
    return "'" + text if _FORMULA.match(text) else text


def unguard_cell(text: str) -> str:
    return text[1:] if _GUARDED.match(text) else text


def _canonical_column(values: pd.Series, kind: schema.Kind) -> pd.Series:
    """A column as canonical text; dates, money, answers and plain text without a
    per-cell loop (an importer's million bills arrive as Python dates, Decimals and
    strings: typed here in one go, then written as typed columns are)."""
    if values.dtype == object and len(values):
        found = pd.api.types.infer_dtype(values, skipna=True)
        if kind in (schema.Kind.DATE, schema.Kind.DATETIME) and found in ("date",
                                                                           "datetime"):
            try:
                return _canonical_column(pd.to_datetime(values), kind)
            except (pd.errors.OutOfBoundsDatetime, ValueError, TypeError):
                pass  # a year pandas cannot hold: written cell by cell below
        if kind is schema.Kind.MONEY and found in ("decimal", "floating"):
            return _canonical_column(values.astype("float64"), kind)
        if (kind in (schema.Kind.TEXT, schema.Kind.ID, schema.Kind.CHOICE)
                and pd.api.types.infer_dtype(values, skipna=False) == "string"):
            return _guarded_text(values, kind)
    if isinstance(values.dtype, pd.StringDtype) and kind in (
            schema.Kind.TEXT, schema.Kind.ID, schema.Kind.CHOICE):
        return _guarded_text(values.fillna("").astype(object), kind)
    if pd.api.types.is_datetime64_any_dtype(values):
        if kind is schema.Kind.DATE:
            return values.dt.strftime("%Y-%m-%d").fillna("")
        text = values.dt.strftime("%Y-%m-%d %H:%M:%S").fillna("")
        return text.str.replace(" 00:00:00", "", regex=False)
    if pd.api.types.is_float_dtype(values) and kind is schema.Kind.MONEY:
        return values.map("{:.2f}".format).where(values.notna(), "")
    if pd.api.types.is_bool_dtype(values) or isinstance(values.dtype, pd.BooleanDtype):
        return values.map({True: "sim", False: "não"}).astype(object).where(
            values.notna(), "")
    text = [_canonical_text(v) for v in values]
    if kind is schema.Kind.DATE:
        text = [t[:10] for t in text]
    elif kind in (schema.Kind.TEXT, schema.Kind.ID):
        text = [guard_cell(t) for t in text]
    return pd.Series(text, index=values.index, dtype=object)


def _guarded_text(values: pd.Series, kind: schema.Kind) -> pd.Series:
    """A column of strings as written: text and ids guarded against formulas."""
    if kind is schema.Kind.CHOICE:
        return values
    return values.where(~values.str.match(_FORMULA.pattern), "'" + values)


def write_table(frame: pd.DataFrame, folder: str | Path, table: str) -> Path:
    """Write a canonical table: UTF-8, comma-separated, ISO dates, dot decimals.

    Columns come in the schema's order; optional columns missing from ``frame`` are
    written empty; a missing required column is a programming error.
    """
    columns = schema.column_names(table)
    missing = [c for c in schema.required_columns(table) if c not in frame.columns]
    if missing:
        raise KeyError(f"{table}: missing required columns {missing}")
    out = pd.DataFrame(index=frame.index)
    kinds = {c.name: c.kind for c in schema.TABLES[table]}
    for column in columns:
        if column not in frame.columns:
            out[column] = ""
            continue
        out[column] = _canonical_column(frame[column], kinds[column])
    path = Path(folder) / table
    path.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")
    return path


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Problem:
    """One problem found in a data folder: an error (unusable) or a warning.

    ``row`` is the line as a spreadsheet shows it (the header is line 1, the first data
    row line 2); None when the problem concerns the whole file.
    """

    severity: str  # "erro" | "aviso"
    file: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        return f"{self.severity}: {cell_error(self.file, self.row, self.column, self.message)}"

    @property
    def is_error(self) -> bool:
        return self.severity == "erro"

    def located(self, folder: str | Path) -> str:
        """The problem's line with the file's path inside ``folder``."""
        return cell_error(str(Path(folder) / self.file), self.row, self.column, self.message)


#: The header is line 1 of a file, as a spreadsheet shows it: data row ``i`` (the
#: frame's index, blank lines counted) is line ``i + 2``.
FIRST_LINE = 2
_ZERO_DATES = ("0000-00-00", "00/00/0000", "0000-00-00 00:00:00", "00/00/0000 00:00:00")
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_BR_DAY = re.compile(r"^\d{2}/\d{2}/\d{4}$")
# Bounded: a run of thousands of digits is no amount, and would overflow the conversion.
_PLAIN_MONEY = re.compile(r"^-?\d{1,15}(\.\d{1,2})?$")
_COMMA_MONEY = re.compile(r"^-?\d{1,15},\d{1,2}$|^-?\d{1,3}(\.\d{3}){1,4},\d{1,2}$")  # 1.149,90
# A date outside this range is a typing slip (0205 for 2025), and pandas cannot hold it.
_YEARS = range(1900, 2200)


def line_numbers(frame: pd.DataFrame) -> pd.Series:
    """The spreadsheet line of each row of a frame read here (header = line 1)."""
    return pd.Series(frame.index + FIRST_LINE, index=frame.index)


class _Text:
    """A table file: its separator and header as written, its bytes (handed to the
    parsers as they are: faster), and its text and encoding (:func:`decode_text`).

    A file without a byte-order mark whose header line is ASCII is read whole only when
    its bytes are first asked for (``path`` given, ``data`` None until then) and decoded
    only when its text is (``encoding`` None until then): pyarrow's parser reads the file
    from its path and checks its UTF-8 itself, so a large table never becomes a Python
    bytes object or string as well (130 MB each at 100,000 customers × 24 months, and the
    memory a fresh process must first fault in)."""

    def __init__(self, sep: str, header: list[str], data: bytes | None = b"",
                 text: str | None = None, encoding: str | None = "utf-8",
                 path: Path | None = None) -> None:
        self.sep, self.header, self.path = sep, header, path
        self._data, self._text, self._encoding = data, text, encoding

    @property
    def unread(self) -> bool:
        """Whether the bytes are still in the file only (:attr:`path`)."""
        return self._data is None

    @property
    def data(self) -> bytes:
        """The file's bytes. Raises :class:`InputError` when a file read in part (its
        header) can no longer be read whole."""
        if self._data is None:
            try:
                self._data = self.path.read_bytes()
            except OSError as exc:
                raise InputError(f"{self.path.name}: não foi possível ler o arquivo "
                                 f"({exc.strerror or exc}); confira se ele ainda existe e "
                                 "as permissões") from None
        return self._data

    @property
    def decoded(self) -> bool:
        """Whether the encoding is known (the text decoded, or given)."""
        return self._encoding is not None

    @property
    def text(self) -> str:
        if self._text is None:
            from relief_kit.sources.raw import decode_text

            self._text, self._encoding = decode_text(self.data)
        return self._text

    @property
    def encoding(self) -> str:
        if self._encoding is None:
            self.text  # noqa: B018 -- decoding finds the encoding
        return self._encoding


#: How much of a table file is read to find its header before deciding how to read the
#: rest (a header line longer than this is read with the whole file).
_HEAD_BYTES = 1 << 16


def _read_text(path: Path) -> tuple[_Text | None, list[Problem]]:
    from relief_kit.sources.raw import decode_text, excel_separator, sniff_delimiter

    name = path.name
    try:
        with path.open("rb") as handle:
            data = handle.read(_HEAD_BYTES)
            whole = len(data) < _HEAD_BYTES
            cut = data.find(b"\n")
            if not data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")) and (
                    cut >= 0 or whole):
                # A header in ASCII reads the same whatever the encoding: the rest is
                # read and decoded when (if ever) its bytes and text are needed.
                line = data if cut < 0 else data[:cut]
                if line.isascii():
                    first = line.decode("ascii").rstrip("\r")
                    if first.strip() and excel_separator(first) is None:
                        sep = sniff_delimiter(first)
                        header = next(csv.reader([first], delimiter=sep))
                        return _Text(sep, header, data if whole else None, encoding=None,
                                     path=path), []
            if not whole:
                data += handle.read()
    except FileNotFoundError:
        return None, [Problem("erro", name, None, None,
                              "arquivo ausente; crie-o ou importe os dados do ERP "
                              "(relief-kit import)")]
    except IsADirectoryError:
        return None, [Problem("erro", name, None, None,
                              "é uma pasta, não um arquivo CSV; troque-a pelo arquivo")]
    except OSError as exc:
        return None, [Problem("erro", name, None, None,
                              f"não foi possível ler ({exc.strerror}); confira as permissões")]
    text, encoding = decode_text(data)
    end = text.find("\n")
    first = (text if end < 0 else text[:end]).rstrip("\r")
    named = excel_separator(first)
    if named is not None and end >= 0:
        # Excel's "sep=;" line names the separator; the header is the line after it (and
        # line 1 as Excel shows the file, which hides the hint).
        text = text[end + 1:]
        cut = data.find(b"\n")
        data = data[cut + 1:] if encoding in ("utf-8", "utf-8-sig", "cp1252") else b""
        encoding = "utf-8" if encoding == "utf-8-sig" else encoding
        end = text.find("\n")
        first = (text if end < 0 else text[:end]).rstrip("\r")
    if not first.strip():
        return None, [Problem("erro", name, 1, None,
                              "arquivo vazio: falta a linha de cabeçalho com os nomes das colunas")]
    sep = named or sniff_delimiter(first)
    header = next(csv.reader([first], delimiter=sep))
    return _Text(sep, header, data, text, encoding), []


def _frame_of(source: _Text, name: str, text: str | None = None,
              index: list[int] | None = None) -> tuple[pd.DataFrame | None, list[Problem]]:
    """CSV text → frame of unstripped strings, columns named as the schema names them."""
    from relief_kit.sources.raw import normalise_header

    if text is None and source.encoding in ("utf-8", "utf-8-sig", "cp1252"):
        buffer, encoding = io.BytesIO(source.data), source.encoding
    else:
        buffer, encoding = io.StringIO(source.text if text is None else text), None
    try:
        frame = pd.read_csv(
            buffer, encoding=encoding, sep=source.sep, dtype=object, keep_default_na=False,
            skip_blank_lines=False, index_col=False, engine="c",
        )
    except (pd.errors.ParserError, ValueError) as exc:
        message = str(exc).strip().splitlines()[-1]
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
        unclosed = re.search(r"EOF inside string starting at row (\d+)", message)
        if unclosed and index is None:
            return None, [Problem(
                "erro", name, int(unclosed.group(1)) + 1, None,
                "aspas abertas nesta linha não se fecham até o fim do arquivo; feche as aspas "
                "ou apague a que sobra")]
        if found and index is None:
            expected, line, seen = (int(g) for g in found.groups())
            return None, [Problem(
                "erro", name, line, None,
                f"a linha tem {seen} campos e o cabeçalho {expected}; confira separadores e "
                f"aspas (um '{source.sep}' dentro de um texto precisa estar entre aspas)")]
        return None, [Problem("erro", name, None, None,
                              f"CSV malformado ({message}); confira separadores e aspas")]
    frame.columns = [normalise_header(c) for c in frame.columns]
    if index is not None:
        frame.index = pd.Index(index, dtype="int64")
    return frame, []


def _arrow_table(source: _Text, table: str) -> pa.Table | None:
    """The whole file read by pyarrow's multi-threaded parser, every column as text (an
    empty cell is ""), named as the schema names them; None when pyarrow cannot read it
    as it stands (a row with another number of fields than the header, a blank line, a
    repeated column name, a quote left open...): pandas' parser then reads it and the
    problem is reported on its line as before.

    Both parsers read a well-formed file alike (RFC 4180 quoting, quoted line breaks,
    CRLF); pyarrow only refuses more, and what it refuses goes the old way. Faster by
    about ten times on a large file: no Python string per cell. Columns whose values
    repeat (dates, amounts, choices) arrive dictionary-encoded, text and ids as text."""
    import pyarrow.csv as pcsv

    from relief_kit.sources.raw import normalise_header

    names = [normalise_header(c) for c in source.header]
    if len(set(source.header)) < len(names) or len(set(names)) < len(names):
        return None
    kinds = {c.name: c.kind for c in schema.TABLES[table]}
    text = pa.large_string()
    repeated = pa.dictionary(pa.int32(), text)
    types = {raw: text if kinds.get(name, schema.Kind.TEXT) in (schema.Kind.TEXT,
                                                                 schema.Kind.ID) else repeated
             for raw, name in zip(source.header, names, strict=True)}

    def parse(data: bytes | str) -> pa.Table | None:
        """``data``: the bytes, or the file's path (pyarrow reads it in blocks)."""
        try:
            return pcsv.read_csv(
                data if isinstance(data, str) else pa.py_buffer(data),
                read_options=pcsv.ReadOptions(use_threads=True),
                parse_options=pcsv.ParseOptions(delimiter=source.sep, quote_char='"',
                                                double_quote=True, escape_char=False,
                                                newlines_in_values=True,
                                                ignore_empty_lines=False),
                convert_options=pcsv.ConvertOptions(
                    column_types=types, strings_can_be_null=False,
                    quoted_strings_can_be_null=False, null_values=[], check_utf8=True))
        except (pa.ArrowException, ValueError, OSError):
            return None  # read the old way (a file gone meanwhile: one line, InputError)

    # The bytes as they are when they are UTF-8 or not yet known to be (the parser checks
    # them); else, or when that fails on a file that turns out not to be UTF-8, the text
    # decoded (Windows-1252...) and encoded as UTF-8.
    unknown = not source.decoded
    as_written = str(source.path) if source.unread else source.data
    read = parse(as_written) if unknown or source.encoding == "utf-8" else None
    if read is None and source.encoding != "utf-8":
        read = parse(source.text.encode("utf-8"))
    if read is None:
        return None
    if read.column_names != source.header or read.schema.types != list(types.values()):
        return None
    return read.rename_columns(names)


#: What Python's ``str.strip()`` removes, the control characters of :data:`_CONTROL`,
#: a quote (a guarded formula), Excel's ``="`` and an empty value: a text or id value
#: with none of these is read exactly as written, with no Python string made for it.
_SPACES = "".join(f"\\x{{{c:x}}}" for c in range(0x3001) if chr(c).isspace())
_NEEDS_A_LOOK = (f"^$|^[{_SPACES}]|[{_SPACES}]$|'|=\"|"
                 r"[\x{0}-\x{8}\x{b}\x{c}\x{e}-\x{1f}\x{7f}-\x{9f}]")


def _as_written(values: pa.ChunkedArray) -> bool:
    """Whether a text column read by pyarrow is already what the reader would make of
    it (see :data:`_NEEDS_A_LOOK`): one scan in C++ instead of a Python string per cell
    (an id column of a million bills has a million distinct values)."""
    import pyarrow.compute as pc

    if pc.all(pc.ascii_is_alnum(values)).as_py():  # ids as systems write them: cheaper
        return True
    return not pc.any(pc.match_substring_regex(values, _NEEDS_A_LOOK)).as_py()


def _header_problems(source: _Text, table: str, name: str) -> list[Problem]:
    from relief_kit.sources.raw import normalise_header

    problems = []
    names = [normalise_header(c) for c in source.header]
    wanted = set(schema.column_names(table))
    if not wanted.intersection(names):
        # Not this table's CSV at all (binary, UTF-16 without BOM, another file): one
        # problem for the file, not one per missing column and row.
        nul = "\x00" in source.text[:4096]
        why = ("tem bytes nulos: é UTF-16 sem marca BOM ou um arquivo binário; salve-o "
               "como CSV UTF-8" if nul else
               f"confira se é o arquivo {table} em texto CSV (UTF-8 ou Windows-1252)")
        return [Problem("erro", name, None, None,
                        f"nenhuma coluna de {table} no cabeçalho (esperadas "
                        f"{', '.join(schema.required_columns(table))}); {why}")]
    for column in sorted({n for n in names if n in wanted and names.count(n) > 1}):
        problems.append(Problem("erro", name, 1, column,
                                "coluna repetida no cabeçalho; deixe só uma"))
    for column in schema.required_columns(table):
        if column not in names:
            problems.append(Problem("erro", name, 1, column,
                                    "coluna obrigatória ausente no cabeçalho; acrescente-a"))
    # Extra columns are allowed and ignored, but one close to a column of the table is a
    # typing slip: ``evidence_fle`` would make every request undocumented.
    absent = [c for c in schema.column_names(table) if c not in names]
    for column in names:
        if column and column not in wanted:
            close = get_close_matches(column, absent, n=1, cutoff=0.8)
            if close:
                problems.append(Problem("aviso", name, 1, column,
                                        f"coluna desconhecida, ignorada; é {close[0]}? "
                                        "renomeie-a no cabeçalho"))
    return problems


def _factorized(values: pd.Series | pa.ChunkedArray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(codes, stripped distinct values, which were Excel formulas): parse each distinct
    text once, not each cell.

    A portfolio repeats the same few fees, dates and statuses millions of times, so the
    parsers below run over the distinct values and the result is spread back by code.
    A value Excel users wrap as ``="1010"`` so that its digits survive is unwrapped.
    ``values``: a column of pandas' parser (object strings, NaN for a short row's missing
    cells) or of pyarrow's (text, never null).
    """
    from relief_kit.sources.raw import unwrap_excel_text

    missing = False
    if isinstance(values, pa.ChunkedArray):
        encoded = (values.unify_dictionaries() if pa.types.is_dictionary(values.type)
                   else values.dictionary_encode()).combine_chunks()
        codes = encoded.indices.to_numpy()
        uniques = encoded.dictionary.to_pylist()
    else:
        codes, found = pd.factorize(values.to_numpy(dtype=object), use_na_sentinel=True)
        uniques = found.tolist()
        missing = True
    stripped = [u.strip() for u in uniques]
    wrapped = np.zeros(len(stripped) + 1, dtype=bool)
    distinct = np.array(stripped + [""], dtype=object)
    # An id column has as many distinct values as rows: one scan of the column's text
    # finds whether any value can be wrapped at all (rarely), before looking at each.
    if '="' in "\n".join(stripped):
        for position, text in enumerate(stripped):
            inner = unwrap_excel_text(text)
            if inner is not None:
                wrapped[position] = True
                distinct[position] = inner
    if missing:  # a short row's missing cells (pandas' parser only)
        codes = np.where(codes < 0, len(distinct) - 1, codes)
    return codes, distinct, wrapped


def _parse_distinct(distinct: np.ndarray, kind: schema.Kind
                    ) -> tuple[np.ndarray, dict[int, str]]:
    """Values parsed from distinct texts, and the message of each one that failed."""
    texts = pd.Series(distinct, dtype=object)
    failed: dict[int, str] = {}
    if kind is schema.Kind.MONEY:
        parsed = pd.Series(np.nan, index=texts.index, dtype="float64")
        plain = texts.str.match(_PLAIN_MONEY.pattern).astype(bool)
        parsed[plain] = pd.to_numeric(texts[plain])
        comma = texts.str.match(_COMMA_MONEY.pattern).astype(bool)
        parsed[comma] = pd.to_numeric(texts[comma].str.replace(".", "", regex=False)
                                      .str.replace(",", ".", regex=False))
        for position in np.flatnonzero(~(plain | comma) & texts.ne("")):
            try:
                value = parse_money(distinct[position])
            except ValueProblem as exc:
                failed[position] = str(exc)
            else:
                parsed[position] = float(value) if value is not None else np.nan
        return parsed.to_numpy(), failed
    if kind in (schema.Kind.DATE, schema.Kind.DATETIME):
        parsed = pd.Series(pd.NaT, index=texts.index, dtype="datetime64[ns]")
        for pattern, fmt, year in ((_ISO_DAY, "%Y-%m-%d", slice(0, 4)),
                                   (_BR_DAY, "%d/%m/%Y", slice(6, 10))):
            shaped = texts.str.match(pattern.pattern).astype(bool)
            # An unlikely year is left to the scalar parser below, which explains it.
            shaped &= texts[shaped].str[year].astype(int).isin(_YEARS).reindex(
                texts.index, fill_value=False)
            parsed[shaped] = pd.to_datetime(texts[shaped], format=fmt, errors="coerce")
        parser = parse_datetime if kind is schema.Kind.DATETIME else parse_date
        for position in np.flatnonzero(parsed.isna().to_numpy() & texts.ne("").to_numpy()):
            text = distinct[position]
            try:
                value = parser(text)
            except ValueProblem as exc:
                failed[position] = str(exc)
                continue
            if value is None:
                continue
            if value.year not in _YEARS:
                failed[position] = f"data improvável {shown(text)}; confira o ano"
                continue
            parsed[position] = pd.Timestamp(value)
        if kind is schema.Kind.DATE:
            parsed = parsed.dt.normalize()
        return parsed.to_numpy(), failed
    if kind is schema.Kind.BOOL:
        parsed = np.full(len(distinct), None, dtype=object)
        for position, text in enumerate(distinct):
            try:
                parsed[position] = parse_bool(text)
            except ValueProblem as exc:
                failed[position] = str(exc)
        return parsed, failed
    if kind is schema.Kind.INT:
        parsed = np.full(len(distinct), None, dtype=object)
        for position, text in enumerate(distinct):
            if text and re.fullmatch(r"-?\d+", text):
                parsed[position] = int(text)
            elif text:
                failed[position] = f"número inteiro inválido {shown(text)} (use só algarismos)"
        return parsed, failed
    raise AssertionError(kind)


_DTYPES = {
    schema.Kind.MONEY: "float64", schema.Kind.DATE: "datetime64[ns]",
    schema.Kind.DATETIME: "datetime64[ns]", schema.Kind.BOOL: "boolean",
    schema.Kind.INT: "Int64",
}


#: Control characters (tab and line breaks aside) are never text a person typed: NUL
#: bytes of a wrong encoding, or escape sequences a terminal would run.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _control_message(text: str) -> str:
    char = _CONTROL.search(text).group()
    return (f"caractere de controle U+{ord(char):04X} no valor {shown(text)}; apague-o "
            "(não é texto, e um terminal o executaria)")


def _typed_column(codes: np.ndarray, distinct: np.ndarray, index: pd.Index,
                  column: schema.Column, file: str, problems: list[Problem]) -> pd.Series:
    """One column's text → its typed values; each cell that cannot be read is a problem."""
    kind = column.kind
    failed: dict[int, str] = {}
    if kind in (schema.Kind.TEXT, schema.Kind.ID):
        text = "\n".join(distinct)  # one scan; each value only when a quote is there
        parsed = (np.array([unguard_cell(t) for t in distinct], dtype=object)
                  if "'" in text else distinct.copy())
        if _CONTROL.search(text):  # one scan; locate only when found
            failed = {i: _control_message(t) for i, t in enumerate(distinct)
                      if _CONTROL.search(t)}
    elif kind is schema.Kind.CHOICE:
        # PF/PJ are written in capitals everywhere; every other choice is a lower-case word.
        parsed = np.array([t.upper() if column.name == "person_type" else t.lower()
                           for t in distinct], dtype=object)
        allowed = set(column.choices) | {""}
        choices = ", ".join(c for c in column.choices if c)
        failed = {i: f"valor desconhecido {shown(t)}; use um de: {choices}"
                  for i, t in enumerate(distinct) if parsed[i] not in allowed}
    else:
        parsed, failed = _parse_distinct(distinct, kind)
    if column.required:
        failed.update({i: "valor obrigatório vazio; preencha-o"
                       for i, t in enumerate(distinct) if not t})
    if failed:
        bad = np.isin(codes, np.fromiter(failed, dtype=codes.dtype, count=len(failed)))
        for position in np.flatnonzero(bad):
            problems.append(Problem("erro", file, int(index[position]) + FIRST_LINE,
                                    column.name, failed[int(codes[position])]))
    dtype = _DTYPES.get(kind, "str")
    if dtype == "str":  # taken in C++: no Python string per cell
        text = pa.array(parsed, type=pa.large_string()).take(pa.array(codes))
        return pd.Series(pd.array(text, dtype="str"), index=index, name=column.name)
    # copy=False: the values are fresh (pandas would copy them once more by default).
    return pd.Series(parsed[codes], index=index, name=column.name, copy=False).astype(dtype)


def _typed_frame(raw: pd.DataFrame | pa.Table, table: str, file: str,
                 problems: list[Problem]) -> pd.DataFrame:
    """Blank lines dropped, the schema's columns typed, other columns ignored.

    ``raw``: the text of every cell, from pandas' parser (index: row numbers) or from
    pyarrow's (:func:`_arrow_table`, rows in file order)."""
    columns = schema.TABLES[table]
    arrow = isinstance(raw, pa.Table)
    names = raw.column_names if arrow else raw.columns
    row_index = pd.RangeIndex(raw.num_rows) if arrow else raw.index
    factors = {}
    as_written = {}  # text columns pyarrow read that need no look (see _as_written)
    blank = np.ones(len(raw), dtype=bool)
    formulas: list[tuple[int, int, str]] = []  # (first line, rank, column) of wrapped ones
    count = 0
    for column in columns:
        if column.name in names:
            if arrow:
                values = raw.column(column.name)
                if column.kind in (schema.Kind.TEXT, schema.Kind.ID) and _as_written(values):
                    as_written[column.name] = values
                    blank[:] = False  # no empty value in this column
                    continue
            else:
                values = raw[column.name]
                if isinstance(values, pd.DataFrame):  # a repeated header (already reported)
                    values = values.iloc[:, 0]
            codes, distinct, wrapped = _factorized(values)
            if wrapped.any():
                cells = np.flatnonzero(wrapped[codes])
                count += len(cells)
                formulas.append((int(row_index[cells[0]]) + FIRST_LINE, len(formulas),
                                 column.name))
        else:
            # A column missing from the header is reported once, not once per row.
            codes, distinct = np.zeros(len(raw), dtype=np.intp), np.array([""], dtype=object)
            column = dataclasses.replace(column, required=False)
        factors[column.name] = column, codes, distinct
        blank &= (distinct == "")[codes]
    index = row_index[~blank]
    if formulas:
        line, _, name = min(formulas)
        problems.append(Problem(
            "aviso", file, None, None,
            f"{count} {'valor escrito' if count == 1 else 'valores escritos'} como fórmula "
            f"do Excel (=\"…\"), o primeiro na linha {line}, coluna {name}; lidos sem o "
            f"sinal de igual e as aspas. Salve a planilha com as colunas como texto para "
            f"não precisar disso"))
    kept = slice(None) if not blank.any() else ~blank
    typed = {}
    for column in columns:
        if column.name in as_written:
            typed[column.name] = pd.Series(pd.array(as_written[column.name].combine_chunks(),
                                                    dtype="str"),
                                           index=index, name=column.name)
        else:
            read_as, codes, distinct = factors[column.name]
            typed[column.name] = _typed_column(codes[kept], distinct, index, read_as, file,
                                               problems)
    return pd.DataFrame(typed, index=index, copy=False)  # fresh columns: none to copy


def _empty_frame(table: str) -> pd.DataFrame:
    columns = schema.TABLES[table]
    return pd.DataFrame({c.name: pd.Series(dtype=_DTYPES.get(c.kind, "str")) for c in columns})


def read_table(path: str | Path, table: str) -> tuple[pd.DataFrame, list[Problem]]:
    """Read one canonical table with typed columns and every problem found.

    Accepts what Brazilian spreadsheets write: UTF-8 with or without BOM or
    Windows-1252, ``;`` ``,`` or tab separators, CRLF, decimal commas, dd/mm/aaaa or ISO
    dates. Money is float64 (NaN when empty), dates datetime64 (NaT), answers the
    nullable "boolean" dtype, identifiers, text and choices stripped strings ("" when
    empty). A missing required column is one problem; unknown extra columns are
    ignored. The frame's index ``i`` is line ``i + 2`` of the file (blank lines, which
    are dropped, keep their numbers).
    """
    path = Path(path)
    file = path.name
    source, problems = _read_text(path)
    if source is None:
        return _empty_frame(table), problems
    header = _header_problems(source, table, file)
    problems += header
    if header and header[0].row is None:  # not this table's CSV: nothing to read
        return _empty_frame(table), problems
    raw = _arrow_table(source, table)
    if raw is None:
        raw, found = _frame_of(source, file)
        problems += found
        if raw is None:
            return _empty_frame(table), problems
    typed = _typed_frame(raw, table, file, problems)
    if typed.empty:
        problems.append(Problem("aviso", file, None, None,
                                "arquivo só com o cabeçalho, sem nenhuma linha de dados"))
    return typed, sorted(problems, key=_problem_order(table))


def _problem_order(table: str):
    """Problems by line, then by column in the table's order (as a person reads them)."""
    rank = {name: i for i, name in enumerate(schema.column_names(table))}
    return lambda p: (p.row or 0, rank.get(p.column or "", -1))


def _rows_with(source: _Text, table: str, file: str, key: str, wanted: set[str],
               problems: list[Problem]) -> pd.DataFrame:
    """Only the rows whose ``key`` is in ``wanted``, found in the text before any parsing.

    The lines holding one of the wanted values are cut out of the text (a fast
    substring search) and only those are parsed; the exact key comparison follows, so
    a value inside another (``C1`` in ``C12``) does no harm. A quoted value spanning
    lines, or a value too common to search for, falls back to reading everything.
    """
    text = source.text
    starts: set[int] = set()
    searchable = bool(wanted) and all(wanted) and \
        sum(text.count(value) for value in wanted) <= 50_000
    for value in wanted if searchable else ():
        at = text.find(value)
        while at >= 0:
            starts.add(text.rfind("\n", 0, at) + 1)
            at = text.find(value, at + len(value))
    header_end = text.find("\n")
    header_end = len(text) if header_end < 0 else header_end
    starts.discard(0)  # the header
    lines, numbers, counted, line = [], [], 0, 1
    for start in sorted(starts):
        line += text.count("\n", counted, start)
        counted = start
        end = text.find("\n", start)
        piece = text[start:len(text) if end < 0 else end].rstrip("\r")
        if piece.count('"') % 2:
            searchable = False
            break
        lines.append(piece)
        numbers.append(line - FIRST_LINE)
    if searchable:
        part = text[:header_end].rstrip("\r") + "\n" + "".join(f"{p}\n" for p in lines)
        raw, found = _frame_of(source, file, part, numbers)
    else:
        raw, found = _frame_of(source, file)
    problems += found
    if raw is None:
        return _empty_frame(table)
    if key not in raw.columns:
        return _empty_frame(table)
    keys = raw[key].str.strip()
    return _typed_frame(raw[keys.isin(wanted)], table, file, problems)


@dataclass
class Portfolio:
    """A data folder read into typed frames, with accessors for one case's values.

    The frames keep the index of :func:`read_table` (index ``i`` is line ``i + 2`` of
    its file). Look-ups by id are indexed once per frame, so a loop over every request
    of a large portfolio does not scan the tables each time; treat the frames as
    read-only (assign a new frame rather than changing one in place).
    """

    folder: Path
    customers: pd.DataFrame
    invoices: pd.DataFrame
    requests: pd.DataFrame
    as_of: date | None = None
    source: str = ""

    def __post_init__(self) -> None:
        self._lookups: dict[str, tuple[pd.DataFrame, dict]] = {}

    def _positions(self, name: str, frame: pd.DataFrame, key: str, grouped: bool) -> dict:
        cached = self._lookups.get(name)
        if cached is None or cached[0] is not frame:
            if grouped:
                positions = frame.groupby(key, sort=False).indices if len(frame) else {}
            else:
                positions = {}
                for position, value in enumerate(frame[key].tolist()):
                    positions.setdefault(value, position)  # the first of a repeated id
            cached = (frame, positions)
            self._lookups[name] = cached
        return cached[1]

    def _row(self, name: str, frame: pd.DataFrame, key: str, value: str, what: str
             ) -> pd.Series:
        position = self._positions(name, frame, key, grouped=False).get(value)
        if position is None:
            raise InputError(f"{self.folder}: {what} {value!r} não encontrado; confira o "
                             f"{key} ou rode relief-kit check {self.folder}")
        return frame.iloc[position]

    def customer(self, customer_id: str) -> Customer:
        """The customer as a domain value (Decimal fee, date of the contract start)."""
        return _customer_value(
            self._row("customers", self.customers, "customer_id", customer_id, "cliente"))

    def request(self, request_id: str) -> ReliefRequest:
        """The request as a domain value (datetime received, bool|None answers)."""
        return _request_value(
            self._row("requests", self.requests, "request_id", request_id, "pedido"))

    def customers_by_id(self, only: Iterable[str] | None = None) -> dict[str, Customer]:
        """Every customer (or ``only`` those ids) as :meth:`customer` gives it, by id,
        converted in one pass (the first row of a repeated id, as :meth:`customer`)."""
        frame = self.customers
        if only is not None:
            frame = frame[text_isin(frame["customer_id"], set(only))]
        return _values_by_id(frame, "customer_id", _customer_value)

    def requests_by_id(self) -> dict[str, ReliefRequest]:
        """Every request as :meth:`request` gives it, by id, converted in one pass."""
        return _values_by_id(self.requests, "request_id", _request_value)

    def invoices_of(self, customer_id: str) -> pd.DataFrame:
        """That customer's bills, in file order (empty when there are none)."""
        positions = self._positions("invoices", self.invoices, "customer_id", grouped=True)
        found = positions.get(customer_id)
        return self.invoices.iloc[found if found is not None else []]

    def evidence_path(self, request: ReliefRequest) -> Path | None:
        """The written request's file, refusing names that climb out of ``evidence/``."""
        if not request.evidence_file:
            return None
        return evidence_path(self.folder, request.evidence_file)


def text_isin(values: pd.Series | pd.Index, wanted: Iterable[str]) -> np.ndarray:
    """Whether each of ``values`` (text: ids) is one of ``wanted`` (a collection of
    strings, not a string), as a boolean NumPy array of the same length: the same
    answer as pandas' ``isin``.

    For the Arrow-backed strings the reader makes, one pyarrow kernel (``pyarrow.
    compute.is_in``; a missing value is never in a set of strings): pandas' ``isin`` on
    those turns every wanted value into a pyarrow scalar in Python first (about 40 ms
    for 10,000 ids against 20,000 customers, against about 2 ms). Other columns, or
    wanted values that are not all strings, go through pandas' ``isin``.

    Raises ``TypeError`` for a single string as ``wanted`` (as pandas does)."""
    import pyarrow.compute as pc

    if isinstance(wanted, str):
        raise TypeError("text_isin: wanted must be a collection of strings, not a string")
    wanted = list(wanted)
    array = values.array
    if isinstance(array, pd.arrays.ArrowStringArray) and all(
            isinstance(value, str) for value in wanted):
        column = pa.array(array)  # the column's own Arrow data (a chunked array)
        found = pc.is_in(column, value_set=pa.array(wanted, type=column.type),
                         skip_nulls=True)
        return found.to_numpy(zero_copy_only=False).astype(bool, copy=False)
    return np.asarray(values.isin(wanted), dtype=bool)


def _values_by_id(frame: pd.DataFrame, key: str, convert) -> dict:
    """``convert`` of each row (a dict by column with the values ``to_dict("records")``
    gives), by the row's ``key``; the first row of a repeated key.

    The string columns are converted in one vectorised step each (iterating
    Arrow-backed strings one by one, as ``to_dict`` does, costs about 1 µs a value:
    most of the time of turning 10,000 requests into values); the other columns go
    through ``to_dict`` itself."""
    text = [name for name in frame.columns if isinstance(frame[name].dtype, pd.StringDtype)]
    other = frame.drop(columns=text)
    rows = other.to_dict("records") if len(other.columns) else [{} for _ in range(len(frame))]
    for name in text:
        column = frame[name]
        # to_dict gives None for pd.NA (``maybe_box_native``), NaN as NaN.
        missing = None if column.dtype.na_value is pd.NA else column.dtype.na_value
        for row, value in zip(rows, column.to_numpy(dtype=object, na_value=missing).tolist(),
                              strict=True):
            row[name] = value
    values: dict = {}
    for row in rows:
        if row[key] not in values:
            values[row[key]] = convert(row)
    return values


def _customer_value(row) -> Customer:
    return Customer(
        customer_id=row["customer_id"], name=row["name"], document=row["document"],
        person_type=row["person_type"], monthly_fee=_decimal(row["monthly_fee"]),
        customer_since=_day(row["customer_since"]), phone=row["phone"], email=row["email"],
        neighbourhood=row["neighbourhood"], city=row["city"], plan=row["plan"],
        business_kind=row["business_kind"], contract_status=row["contract_status"],
    )


def _request_value(row) -> ReliefRequest:
    return ReliefRequest(
        request_id=row["request_id"], customer_id=row["customer_id"],
        received_at=row["received_at"].to_pydatetime(), channel=row["channel"],
        asked=row["asked"], evidence_file=row["evidence_file"],
        small_business=_answer(row["small_business"]), at_risk=_answer(row["at_risk"]),
        at_risk_category=row["at_risk_category"],
        at_risk_consent=_answer(row["at_risk_consent"]),
        proposed_date=_day(row["proposed_date"]),
        proposed_amount=_decimal(row["proposed_amount"]),
        hardship=row["hardship"] if isinstance(row["hardship"], str) else "",
        hardship_since=_day(row["hardship_since"]),
        capacity_monthly=_decimal(row["capacity_monthly"]),
    )


class EvidencePathError(InputError):
    """An ``evidence_file`` that would read outside ``evidence/``; ``reason`` is the
    message without the file and column, for a located :class:`Problem`."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{schema.REQUESTS}, coluna evidence_file: {name!r}: {reason}")
        self.reason = reason


def evidence_path(folder: str | Path, name: str) -> Path:
    """``folder/evidence/name``, refusing what would read a file outside it.

    Refused with :class:`EvidencePathError`: '..' segments, absolute paths (POSIX or
    Windows, ``C:\\``), NUL bytes, and links (of the file, or of ``evidence/`` itself)
    that resolve outside the data folder's ``evidence/``: a data folder handed over by
    someone else must not be able to copy ``/etc/passwd`` into a case archive. The file
    need not exist.
    """
    inside = f"{schema.EVIDENCE_DIR}/"
    posix, windows = PurePosixPath(name), PureWindowsPath(name)
    if not name.strip() or "\x00" in name:
        raise EvidencePathError(name, f"nome de arquivo inválido; escreva o nome do arquivo "
                                      f"dentro de {inside}")
    if posix.is_absolute() or windows.anchor or ".." in posix.parts or ".." in windows.parts:
        raise EvidencePathError(name, f"o arquivo deve estar dentro de {inside} (sem '..' nem "
                                      f"caminho absoluto); escreva o caminho a partir de {inside}")
    base = Path(folder).resolve() / schema.EVIDENCE_DIR
    resolved = (base / posix).resolve()
    if not resolved.is_relative_to(base):
        raise EvidencePathError(name, f"um link aponta para fora de {inside}; copie o arquivo "
                                      f"para dentro de {inside}")
    return resolved


def _missing(value) -> bool:
    """``pd.isna`` of one cell, answered without it for the common types (a float, a
    Timestamp, a bool: called for every cell of 10,000 requests)."""
    kind = type(value)
    if value is None:
        return True
    if kind is float:
        return value != value  # NaN is the only float unequal to itself
    if kind is pd.Timestamp or kind is bool:
        return False
    return bool(pd.isna(value))


def _decimal(value) -> Decimal | None:
    if _missing(value):
        return None
    return Decimal(f"{float(value):.2f}")


def _day(value) -> date | None:
    if _missing(value):
        return None
    return value.date() if hasattr(value, "date") else value


def _answer(value) -> bool | None:
    return None if _missing(value) else bool(value)


def read_folder_info(folder: str | Path) -> tuple[date | None, str]:
    """``export.toml``: the as-of date and the source, when the folder has one."""
    path = Path(folder) / schema.FOLDER_INFO
    if not path.is_file():
        return None, ""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{path}: não foi possível ler ({exc}); corrija ou apague o arquivo.")
    as_of = data.get("as_of")
    if isinstance(as_of, datetime):
        as_of = as_of.date()
    if as_of is not None and not isinstance(as_of, date):
        raise InputError(f"{path}: as_of: deve ser uma data sem aspas, como as_of = 2026-11-20.")
    return as_of, str(data.get("source", ""))


def _check_folder_exists(folder: Path) -> None:
    if not folder.exists():
        raise InputError(f"{folder}: pasta de dados não encontrada; confira o caminho.")
    if not folder.is_dir():
        raise InputError(f"{folder}: não é uma pasta; indique a pasta que contém "
                         f"{schema.CUSTOMERS}, {schema.INVOICES} e {schema.REQUESTS}.")


def read_portfolio(folder: str | Path) -> tuple[Portfolio, list[Problem]]:
    """Every table of a folder and every problem the readers found (nothing raised
    for the content; only a missing folder or an unreadable export.toml raise)."""
    from concurrent.futures import ThreadPoolExecutor

    folder = Path(folder)
    _check_folder_exists(folder)
    # The tables read side by side (pyarrow parses without the GIL, NumPy converts
    # mostly without it): the customers and the requests while the bills are read.
    tables = sorted(schema.TABLES, key=lambda table: table != schema.INVOICES)
    with ThreadPoolExecutor(2, thread_name_prefix="relief-kit-read") as pool:
        read = dict(zip(tables, pool.map(lambda table: read_table(folder / table, table),
                                         tables), strict=True))
    frames, problems = {}, []
    for table in schema.TABLES:  # problems in the tables' usual order
        frames[table], found = read[table]
        problems.extend(found)
    as_of, source = read_folder_info(folder)
    portfolio = Portfolio(folder, frames[schema.CUSTOMERS], frames[schema.INVOICES],
                          frames[schema.REQUESTS], as_of, source)
    return portfolio, problems


def _raise_errors(folder: Path, problems: list[Problem]) -> None:
    errors = [p for p in problems if p.is_error]
    if errors:
        others = len(errors) - 1
        more = (f" ... e mais {others} problema{'s' if others > 1 else ''}: rode "
                f"relief-kit check {folder}" if others else "")
        raise InputError(errors[0].located(folder) + more)


def _read_subset(folder: Path, request_ids: set[str]) -> Portfolio:
    problems: list[Problem] = []
    frames = {}
    wanted = {schema.REQUESTS: ("request_id", request_ids)}
    customer_ids: set[str] = set()
    for table in (schema.REQUESTS, schema.CUSTOMERS, schema.INVOICES):
        source, found = _read_text(folder / table)
        problems += found
        if source is None:
            frames[table] = _empty_frame(table)
            continue
        problems += _header_problems(source, table, table)
        key, values = wanted.get(table, ("customer_id", customer_ids))
        frames[table] = _rows_with(source, table, table, key, values, problems)
        if table == schema.REQUESTS:
            customer_ids = set(frames[table]["customer_id"]) - {""}
    _raise_errors(folder, problems)
    missing = request_ids - set(frames[schema.REQUESTS]["request_id"])
    if missing:
        raise InputError(f"{folder / schema.REQUESTS}: pedido {sorted(missing)[0]!r} não "
                         f"encontrado; confira o request_id")
    unknown = customer_ids - set(frames[schema.CUSTOMERS]["customer_id"])
    if unknown:
        raise InputError(f"{folder / schema.CUSTOMERS}: cliente {sorted(unknown)[0]!r} de um "
                         f"pedido não encontrado; rode relief-kit check {folder}")
    as_of, source_name = read_folder_info(folder)
    return Portfolio(folder, frames[schema.CUSTOMERS], frames[schema.INVOICES],
                     frames[schema.REQUESTS], as_of, source_name)


def load_folder(folder: str | Path, *, request_ids: Iterable[str] | None = None) -> Portfolio:
    """Read a data folder; any error stops here with one line (``check`` lists all).

    With ``request_ids``, the portfolio holds only those requests, their customers and
    those customers' bills, and only those rows are parsed and validated.
    """
    folder = Path(folder)
    if request_ids is not None:
        _check_folder_exists(folder)
        return _read_subset(folder, {str(r) for r in request_ids})
    portfolio, problems = read_portfolio(folder)
    _raise_errors(folder, problems)
    return portfolio


def load_case(folder: str | Path, request_id: str) -> Portfolio:
    """Only what one case needs: its request, its customer and that customer's bills.

    Rows are picked out of the raw text before any value is parsed, so a case of a
    large portfolio does not pay for parsing everyone's bills (see ``_rows_with``).
    """
    return load_folder(folder, request_ids=[request_id])
