"""Keyed pseudonyms for team-level outputs (LGPD: the meeting sees no names).

A pseudonym is an HMAC-SHA256 of the identifier under a secret key, so the same
customer (or analyst) gets the same pseudonym across meetings, while nobody without
the key can go back from the pseudonym to the person — not even by hashing every CPF.
The key lives outside the archive and the data folder (by default
``~/.config/relief-kit/pseudonym.key``; ``RELIEF_KIT_KEY_FILE`` overrides it) and is
created, readable by its owner only, on first use.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from relief_kit.core.errors import InputError

KEY_ENV = "RELIEF_KIT_KEY_FILE"


def key_path() -> Path:
    configured = os.environ.get(KEY_ENV)
    if configured:
        return Path(configured)
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "relief-kit" / "pseudonym.key"


def load_or_create_key(path: Path | None = None) -> bytes:
    """The secret key, created (32 random bytes, mode 0600) when it does not exist."""
    path = path or key_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first: use theirs
            pass
        else:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_hex(32) + "\n")
    try:
        key = bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: chave de pseudônimos ilegível ({exc}); restaure-a do "
                         "backup (sem ela os pseudônimos mudam).")
    if len(key) < 16:
        raise InputError(f"{path}: chave de pseudônimos curta demais; restaure-a do backup.")
    return key


@dataclass(frozen=True)
class Pseudonymizer:
    key: bytes

    def __call__(self, kind: str, value: str, prefix: str = "") -> str:
        """``C-4F1A9B`` style: stable per (kind, value) and key."""
        digest = hmac.new(self.key, f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()
        return f"{prefix or kind[:1].upper()}-{digest[:8].upper()}"


def pseudonymizer(path: Path | None = None) -> Pseudonymizer:
    return Pseudonymizer(load_or_create_key(path))
