"""Reading and writing the canonical tables, and the value parsers they share.

Brazilian spreadsheets write ``1.149,90`` and ``dd/mm/aaaa``; systems write
``1149.90`` and ISO dates. The parsers here accept both and refuse anything they
would have to guess at, with a message the caller turns into a one-line error.
"""

from __future__ import annotations

import io
import re
import tomllib
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pandas as pd

from . import schema
from .errors import InputError, cell_error
from .model import Customer, ReliefRequest


class ValueProblem(ValueError):
    """A value that cannot be read; the message says what was expected (Portuguese)."""


_MONEY_BR = re.compile(r"^-?\d{1,3}(\.\d{3})*(,\d{1,2})?$|^-?\d+(,\d{1,2})?$")
_MONEY_DOT = re.compile(r"^-?\d{1,3}(,\d{3})*(\.\d{1,2})?$|^-?\d+(\.\d{1,2})?$")


def parse_money(text: str) -> Decimal | None:
    """``"1.149,90"``, ``"1149,90"``, ``"1149.90"``, ``"R$ 89,90"`` → Decimal; empty → None.

    A value with a single dot and three digits after it (``"1.149"``) is ambiguous
    (one thousand or one real?) and is refused rather than guessed.
    """
    value = (text or "").strip().replace("R$", "").replace("\xa0", "").replace(" ", "")
    if not value:
        return None
    if "," in value and "." in value:
        # The separator that comes last is the decimal one.
        if value.rfind(",") > value.rfind("."):
            ok = _MONEY_BR.match(value)
            normalised = value.replace(".", "").replace(",", ".")
        else:
            ok = _MONEY_DOT.match(value)
            normalised = value.replace(",", "")
    elif "," in value:
        ok = _MONEY_BR.match(value)
        normalised = value.replace(",", ".")
    elif "." in value:
        head, _, tail = value.rpartition(".")
        if len(tail) == 3 and head.lstrip("-").isdigit():
            raise ValueProblem(f"valor ambíguo {text.strip()!r}: escreva 1.149,00 ou 1149.00")
        ok = _MONEY_DOT.match(value) or _MONEY_BR.match(value)
        normalised = value.replace(",", "") if _MONEY_DOT.match(value) else value.replace(".", "")
    else:
        ok = _MONEY_BR.match(value)
        normalised = value
    if not ok:
        raise ValueProblem(f"valor não numérico {text.strip()!r} (esperado como 1.149,90)")
    try:
        return Decimal(normalised).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise ValueProblem(f"valor não numérico {text.strip()!r} (esperado como 1.149,90)")


_DATE_FORMATS = ("%d/%m/%Y", "%Y-%m-%d")
_DATETIME_FORMATS = (
    "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M",
)
_EMPTY_DATES = {"", "0000-00-00", "00/00/0000", "0000-00-00 00:00:00"}


def parse_date(text: str) -> date | None:
    """``dd/mm/aaaa`` or ``aaaa-mm-dd`` (a time part is ignored); empty or zero → None."""
    value = (text or "").strip()
    if value in _EMPTY_DATES:
        return None
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            pass
    moment = _try_datetime(value)
    if moment is not None:
        return moment.date()
    raise ValueProblem(f"data inválida {value!r} (esperado dd/mm/aaaa ou aaaa-mm-dd)")


def parse_datetime(text: str) -> datetime | None:
    """A date with or without time; a bare date means midnight. Empty → None."""
    value = (text or "").strip()
    if value in _EMPTY_DATES:
        return None
    moment = _try_datetime(value)
    if moment is not None:
        return moment
    try:
        day = parse_date(value)
    except ValueProblem:
        raise ValueProblem(
            f"data e hora inválidas {value!r} (esperado dd/mm/aaaa hh:mm ou aaaa-mm-dd hh:mm)"
        )
    return datetime(day.year, day.month, day.day) if day else None


def _try_datetime(value: str) -> datetime | None:
    for fmt in _DATETIME_FORMATS:
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            pass
    return None


_TRUE = {"sim", "s", "yes", "y", "true", "t", "1", "verdadeiro"}
_FALSE = {"não", "nao", "n", "no", "false", "f", "0", "falso"}


def parse_bool(text: str) -> bool | None:
    """sim/não, yes/no, s/n, true/false, 1/0 → bool; empty → None (not answered)."""
    value = (text or "").strip().lower()
    if not value:
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueProblem(f"resposta inválida {text.strip()!r} (esperado sim ou não)")


def _canonical_text(value) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT:
        return ""
    if isinstance(value, bool):
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
        values = frame[column]
        if kinds[column] is schema.Kind.DATE:
            out[column] = [_canonical_text(v)[:10] for v in values]
        else:
            out[column] = [_canonical_text(v) for v in values]
    path = Path(folder) / table
    path.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")
    return path


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Problem:
    """One problem found in a data folder: an error (unusable) or a warning."""

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


_FIRST_LINE = 2  # the header is line 1 of the file, as a spreadsheet shows it


def _read_text_table(path: Path) -> tuple[pd.DataFrame | None, list[Problem]]:
    """A CSV of unknown encoding and separator as a frame of stripped strings."""
    from .importers.sources import decode_text, normalise_header, sniff_delimiter

    name = path.name
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None, [Problem("erro", name, None, None,
                              "arquivo ausente; crie-o ou importe os dados do ERP")]
    except OSError as exc:
        return None, [Problem("erro", name, None, None, f"não foi possível ler ({exc.strerror})")]
    text, _ = decode_text(data)
    first = text.split("\n", 1)[0].rstrip("\r")
    if not first.strip():
        return None, [Problem("erro", name, 1, None,
                              "arquivo vazio: falta a linha de cabeçalho com os nomes das colunas")]
    try:
        frame = pd.read_csv(
            io.StringIO(text), sep=sniff_delimiter(first), dtype=str, keep_default_na=False,
            skipinitialspace=False, engine="c",
        )
    except (pd.errors.ParserError, ValueError) as exc:
        message = str(exc).strip().splitlines()[0]
        return None, [Problem("erro", name, None, None,
                              f"CSV malformado ({message}); confira separadores e aspas")]
    frame.columns = [normalise_header(c) for c in frame.columns]
    for column in frame.columns:
        frame[column] = frame[column].str.strip()
    return frame, []


def _vector_dates(values: pd.Series) -> pd.Series:
    """ISO and dd/mm/aaaa dates (a time part allowed); what fails stays NaT."""
    text = values.str.slice(0, 19)
    iso = pd.to_datetime(text, format="ISO8601", errors="coerce")
    missing = iso.isna() & values.ne("")
    if missing.any():
        br = pd.to_datetime(values[missing].str.slice(0, 19), format="%d/%m/%Y %H:%M:%S",
                            errors="coerce")
        still = br.isna()
        if still.any():
            br[still] = pd.to_datetime(values[missing][still].str.slice(0, 16),
                                       format="%d/%m/%Y %H:%M", errors="coerce")
        still = br.isna()
        if still.any():
            br[still] = pd.to_datetime(values[missing][still].str.slice(0, 10),
                                       format="%d/%m/%Y", errors="coerce")
        iso[missing] = br
    return iso


def _typed_column(frame: pd.DataFrame, column: schema.Column, file: str,
                  problems: list[Problem]) -> pd.Series:
    values = frame[column.name]
    empty = values.eq("")
    line = frame.index.to_series() + _FIRST_LINE

    def report(bad: pd.Series, parse) -> None:
        for index in bad[bad].index:
            try:
                parse(values[index])
            except ValueProblem as exc:
                problems.append(Problem("erro", file, int(line[index]), column.name, str(exc)))

    if column.required:
        for index in empty[empty].index:
            problems.append(Problem("erro", file, int(line[index]), column.name,
                                    "valor obrigatório vazio; preencha-o"))
    kind = column.kind
    if kind is schema.Kind.MONEY:
        plain = pd.to_numeric(values.where(~empty), errors="coerce")
        # Only text with a comma, thousands dots, "R$" or spaces needs the full parser.
        slow = plain.isna() & ~empty | values.str.contains(r"^\d{1,3}\.\d{3}$", regex=True)
        for index in slow[slow].index:
            try:
                parsed = parse_money(values[index])
            except ValueProblem as exc:
                problems.append(Problem("erro", file, int(line[index]), column.name, str(exc)))
                parsed = None
            plain[index] = float(parsed) if parsed is not None else float("nan")
        return plain.astype("float64")
    if kind in (schema.Kind.DATE, schema.Kind.DATETIME):
        zero = values.isin(["0000-00-00", "00/00/0000", "0000-00-00 00:00:00"])
        parsed = _vector_dates(values.where(~zero, ""))
        bad = parsed.isna() & ~empty & ~zero
        report(bad, parse_datetime if kind is schema.Kind.DATETIME else parse_date)
        if kind is schema.Kind.DATE:
            parsed = parsed.dt.normalize()
        return parsed.astype("datetime64[ns]")
    if kind is schema.Kind.BOOL:
        lowered = values.str.lower()
        result = pd.Series(pd.NA, index=values.index, dtype="boolean")
        result[lowered.isin(_TRUE)] = True
        result[lowered.isin(_FALSE)] = False
        report(result.isna() & ~empty, parse_bool)
        return result
    if kind is schema.Kind.INT:
        parsed = pd.to_numeric(values.where(~empty), errors="coerce")
        for index in (parsed.isna() & ~empty).pipe(lambda s: s[s].index):
            problems.append(Problem("erro", file, int(line[index]), column.name,
                                    f"número inteiro inválido {values[index]!r}"))
        return parsed.round().astype("Int64")
    if kind is schema.Kind.CHOICE:
        lowered = values.str.lower()
        if column.name == "person_type":
            lowered = values.str.upper()
        allowed = set(column.choices) | ({""} if not column.required else set())
        for index in (~lowered.isin(allowed) & ~empty).pipe(lambda s: s[s].index):
            shown = ", ".join(c for c in column.choices if c)
            problems.append(Problem("erro", file, int(line[index]), column.name,
                                    f"valor desconhecido {values[index]!r}; use um de: {shown}"))
        return lowered
    return values


def read_table(path: str | Path, table: str) -> tuple[pd.DataFrame, list[Problem]]:
    """Read one canonical table with typed columns and every problem found.

    Money is float64 (NaN when empty), dates datetime64 (NaT), answers the nullable
    "boolean" dtype, identifiers, text and choices stripped strings ("" when empty).
    A missing required column is one problem; unknown extra columns are ignored.
    """
    path = Path(path)
    columns = schema.TABLES[table]
    frame, problems = _read_text_table(path)
    if frame is None:
        return pd.DataFrame(columns=[c.name for c in columns]), problems
    file = path.name
    for column in columns:
        if column.name not in frame.columns:
            if column.required:
                problems.append(Problem("erro", file, 1, column.name,
                                        "coluna obrigatória ausente no cabeçalho; acrescente-a"))
            frame[column.name] = ""
    typed = pd.DataFrame(index=frame.index)
    for column in columns:
        typed[column.name] = _typed_column(frame, column, file, problems)
    return typed, problems


@dataclass
class Portfolio:
    """A data folder read into typed frames, with accessors for one case's values."""

    folder: Path
    customers: pd.DataFrame
    invoices: pd.DataFrame
    requests: pd.DataFrame
    as_of: date | None = None
    source: str = ""

    def _row(self, frame: pd.DataFrame, key: str, value: str, what: str) -> pd.Series:
        rows = frame[frame[key] == value]
        if rows.empty:
            raise InputError(f"{self.folder}: {what} {value!r} não encontrado.")
        return rows.iloc[0]

    def customer(self, customer_id: str) -> Customer:
        row = self._row(self.customers, "customer_id", customer_id, "cliente")
        return Customer(
            customer_id=row["customer_id"], name=row["name"], document=row["document"],
            person_type=row["person_type"], monthly_fee=_decimal(row["monthly_fee"]),
            customer_since=_day(row["customer_since"]), phone=row["phone"], email=row["email"],
            neighbourhood=row["neighbourhood"], city=row["city"], plan=row["plan"],
            business_kind=row["business_kind"], contract_status=row["contract_status"],
        )

    def request(self, request_id: str) -> ReliefRequest:
        row = self._row(self.requests, "request_id", request_id, "pedido")
        return ReliefRequest(
            request_id=row["request_id"], customer_id=row["customer_id"],
            received_at=row["received_at"].to_pydatetime(), channel=row["channel"],
            asked=row["asked"], evidence_file=row["evidence_file"],
            small_business=_answer(row["small_business"]), at_risk=_answer(row["at_risk"]),
            at_risk_category=row["at_risk_category"],
            at_risk_consent=_answer(row["at_risk_consent"]),
            proposed_date=_day(row["proposed_date"]),
            proposed_amount=_decimal(row["proposed_amount"]),
        )

    def invoices_of(self, customer_id: str) -> pd.DataFrame:
        return self.invoices[self.invoices["customer_id"] == customer_id]

    def evidence_path(self, request: ReliefRequest) -> Path | None:
        """The written request's file, refusing names that climb out of ``evidence/``."""
        if not request.evidence_file:
            return None
        return evidence_path(self.folder, request.evidence_file)


def evidence_path(folder: str | Path, name: str) -> Path:
    """``folder/evidence/name``, refusing '..', absolute paths and links that leave it."""
    base = (Path(folder) / schema.EVIDENCE_DIR).resolve()
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts:
        raise InputError(f"{schema.REQUESTS}: evidence_file {name!r}: o arquivo deve estar "
                         f"dentro de {schema.EVIDENCE_DIR}/ (sem '..' nem caminho absoluto).")
    resolved = (base / relative).resolve()
    if not resolved.is_relative_to(base):
        raise InputError(f"{schema.REQUESTS}: evidence_file {name!r}: o link aponta para fora "
                         f"de {schema.EVIDENCE_DIR}/; copie o arquivo para dentro da pasta.")
    return resolved


def _decimal(value) -> Decimal | None:
    if value is None or pd.isna(value):
        return None
    return Decimal(f"{float(value):.2f}")


def _day(value) -> date | None:
    if value is None or pd.isna(value):
        return None
    return value.date() if hasattr(value, "date") else value


def _answer(value) -> bool | None:
    return None if value is None or pd.isna(value) else bool(value)


def read_folder_info(folder: str | Path) -> tuple[date | None, str]:
    """``export.toml``: the as-of date and the source, when the folder has one."""
    path = Path(folder) / schema.FOLDER_INFO
    if not path.is_file():
        return None, ""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{path}: não foi possível ler ({exc}).")
    as_of = data.get("as_of")
    if isinstance(as_of, datetime):
        as_of = as_of.date()
    if as_of is not None and not isinstance(as_of, date):
        raise InputError(f"{path}: as_of: deve ser uma data como 2026-11-20.")
    return as_of, str(data.get("source", ""))


def read_portfolio(folder: str | Path) -> tuple[Portfolio, list[Problem]]:
    """Every table of a folder and every problem the readers found."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: pasta de dados não encontrada.")
    frames, problems = {}, []
    for table in schema.TABLES:
        frames[table], found = read_table(folder / table, table)
        problems.extend(found)
    as_of, source = read_folder_info(folder)
    portfolio = Portfolio(folder, frames[schema.CUSTOMERS], frames[schema.INVOICES],
                          frames[schema.REQUESTS], as_of, source)
    return portfolio, problems


def load_folder(folder: str | Path) -> Portfolio:
    """Read a data folder; any error stops here with one line (``check`` lists all)."""
    portfolio, problems = read_portfolio(folder)
    errors = [p for p in problems if p.is_error]
    if errors:
        more = f" (e mais {len(errors) - 1} problemas: rode relief-kit check {folder})" \
            if len(errors) > 1 else ""
        raise InputError(errors[0].located(folder) + more)
    return portfolio


def _typed_rows(folder: Path, table: str, key: str, value: str,
                problems: list[Problem]) -> pd.DataFrame:
    raw, found = _read_text_table(folder / table)
    problems += found
    if raw is None:
        return pd.DataFrame(columns=schema.column_names(table))
    raw = raw[raw[key] == value] if key in raw.columns else raw.iloc[0:0]
    for column in schema.TABLES[table]:
        if column.name not in raw.columns:
            raw = raw.assign(**{column.name: ""})
    return pd.DataFrame(
        {c.name: _typed_column(raw, c, table, problems) for c in schema.TABLES[table]},
        index=raw.index,
    )


def load_case(folder: str | Path, request_id: str) -> Portfolio:
    """Only what one case needs: its request, its customer and that customer's bills.

    Rows are filtered on the raw text before any value is parsed, so a case of a large
    portfolio does not pay for parsing everyone's bills.
    """
    folder = Path(folder)
    problems: list[Problem] = []
    requests = _typed_rows(folder, schema.REQUESTS, "request_id", request_id, problems)
    if requests.empty and not problems:
        raise InputError(f"{folder / schema.REQUESTS}: pedido {request_id!r} não encontrado.")
    customer_id = requests.iloc[0]["customer_id"] if not requests.empty else ""
    customers = _typed_rows(folder, schema.CUSTOMERS, "customer_id", customer_id, problems)
    invoices = _typed_rows(folder, schema.INVOICES, "customer_id", customer_id, problems)
    errors = [p for p in problems if p.is_error]
    if errors:
        raise InputError(errors[0].located(folder))
    if customers.empty:
        raise InputError(f"{folder / schema.CUSTOMERS}: cliente {customer_id!r} do pedido "
                         f"{request_id} não encontrado.")
    as_of, source = read_folder_info(folder)
    return Portfolio(folder, customers, invoices, requests, as_of, source)
