"""The provider's own settings: identification for messages (CDC art. 42-A) and the
business-day calendar of its town (``[calendar]``, see :mod:`relief_kit.core.calendar`)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from relief_kit import resources
from relief_kit.core.calendar import BusinessCalendar, brazil, parse_municipal_holiday
from relief_kit.core.errors import InputError

DEFAULT_SETTINGS = resources.DEFAULT_SETTINGS
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
_REQUIRED = ("name", "trade_name", "cnpj", "address", "phone", "email", "whatsapp",
             "whatsapp_author", "region")


@dataclass(frozen=True)
class Provider:
    name: str
    trade_name: str
    cnpj: str
    address: str
    phone: str
    email: str
    whatsapp: str
    whatsapp_author: str
    region: str = "BR"
    #: The provider's IANA time zone: the dates its messages carry.
    time_zone: str = "America/Sao_Paulo"


def _read(path: str | Path | None) -> tuple[Path, dict]:
    path = Path(path) if path is not None else DEFAULT_SETTINGS
    try:
        return path, tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: não foi possível ler as configurações ({exc.strerror}).")
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{path}: TOML inválido ({exc}).")


def load_provider(path: str | Path | None = None) -> Provider:
    """Read ``[provider]`` from a settings file (the bundled one when ``path`` is None)."""
    path, data = _read(path)
    table = data.get("provider")
    if not isinstance(table, dict):
        raise InputError(f"{path}: [provider]: seção obrigatória ausente.")
    for key in _REQUIRED:
        if not isinstance(table.get(key), str) or not table[key].strip():
            raise InputError(f"{path}: provider.{key}: obrigatório, um texto não vazio.")
        if any(c in table[key] for c in "<>\r\n\x00"):
            raise InputError(f"{path}: provider.{key}: não pode conter <, > nem quebras de "
                             "linha (o texto vai para as mensagens ao cliente).")
    provider = Provider(**{key: table[key].strip() for key in _REQUIRED})
    _check_contacts(provider, path)
    zone = table.get("time_zone", provider.time_zone)
    if not isinstance(zone, str) or not _known_zone(zone.strip()):
        raise InputError(f"{path}: provider.time_zone: fuso horário desconhecido {zone!r} "
                         "(use um nome IANA, como America/Sao_Paulo ou America/Manaus).")
    return replace(provider, time_zone=zone.strip())


def _known_zone(name: str) -> bool:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _check_contacts(provider: Provider, path: Path) -> None:
    """The CNPJ's check digits, and a phone and an e-mail a customer can use."""
    from relief_kit.core.documents import document_kind, is_valid_document, normalize_phone
    from relief_kit.core.values import ValueProblem

    if document_kind(provider.cnpj) != "CNPJ" or not is_valid_document(provider.cnpj):
        raise InputError(f"{path}: provider.cnpj: CNPJ inválido {provider.cnpj!r} (14 dígitos "
                         "com os dígitos verificadores certos, ex.: 11.222.333/0001-81).")
    for key in ("phone", "whatsapp"):
        value = getattr(provider, key)
        try:
            normalize_phone(value, provider.region)
        except ValueProblem:
            raise InputError(f"{path}: provider.{key}: telefone inválido {value!r} (com DDD, "
                             "ex.: +55 35 3421-0000).")
    if not _EMAIL.fullmatch(provider.email):
        raise InputError(f"{path}: provider.email: e-mail inválido {provider.email!r} (ex.: "
                         "atendimento@provedor.com.br).")


_CALENDAR_KEYS = ("municipal_holidays", "carnival", "optional_days")


def load_calendar(path: str | Path | None = None, state: str = "") -> BusinessCalendar:
    """Read ``[calendar]`` from a settings file (the bundled one when ``path`` is None).

    ``state``: the UF whose holidays count (the criteria's ``suspension.state``; ``""``
    for national holidays only). Keys, all optional: ``municipal_holidays``
    (``"MM-DD"`` every year or ``"AAAA-MM-DD"`` once), ``carnival`` and
    ``optional_days`` (true/false). Without the section: weekends and national
    holidays. A bad value is one :class:`InputError` line naming file and key.
    """
    path, data = _read(path)
    table = data.get("calendar", {})
    if not isinstance(table, dict):
        raise InputError(f"{path}: [calendar]: deve ser uma seção.")
    unknown = sorted(set(table) - set(_CALENDAR_KEYS))
    if unknown:
        raise InputError(f"{path}: calendar.{unknown[0]}: chave desconhecida; use uma de: "
                         f"{', '.join(_CALENDAR_KEYS)}.")
    state = (state or "").strip().upper()
    if state and state not in brazil().subdivisions:
        raise InputError(f"suspension.state: UF desconhecida {state!r}.")
    flags = {}
    for key in ("carnival", "optional_days"):
        value = table.get(key, False)
        if not isinstance(value, bool):
            raise InputError(f"{path}: calendar.{key}: deve ser true ou false "
                             f"(encontrado {value!r}).")
        flags[key] = value
    listed = table.get("municipal_holidays", [])
    if not isinstance(listed, list):
        raise InputError(f"{path}: calendar.municipal_holidays: deve ser uma lista de "
                         "datas entre aspas, como [\"08-15\"].")
    municipal = []
    for i, text in enumerate(listed, start=1):
        try:
            municipal.append(parse_municipal_holiday(str(text)))
        except ValueError as exc:
            raise InputError(f"{path}: calendar.municipal_holidays[{i}]: {exc}.")
    return BusinessCalendar(state=state, municipal=tuple(municipal), **flags)
