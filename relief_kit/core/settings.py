"""The provider's own settings (identification for messages, CDC art. 42-A)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from relief_kit import resources
from relief_kit.core.errors import InputError

DEFAULT_SETTINGS = resources.DEFAULT_SETTINGS
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


def load_provider(path: str | Path | None = None) -> Provider:
    """Read ``[provider]`` from a settings file (the bundled one when ``path`` is None)."""
    path = Path(path) if path is not None else DEFAULT_SETTINGS
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: não foi possível ler as configurações ({exc.strerror}).")
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{path}: TOML inválido ({exc}).")
    table = data.get("provider")
    if not isinstance(table, dict):
        raise InputError(f"{path}: [provider]: seção obrigatória ausente.")
    for key in _REQUIRED:
        if not isinstance(table.get(key), str) or not table[key].strip():
            raise InputError(f"{path}: provider.{key}: obrigatório, um texto não vazio.")
    return Provider(**{key: table[key].strip() for key in _REQUIRED})
