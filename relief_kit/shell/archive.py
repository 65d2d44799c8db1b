"""The archive: one folder per case, written whole or not at all, checkable for years.

``ARCHIVE/<request id>/`` holds the record and a ``SHA256SUMS`` manifest in the exact
format of ``sha256sum`` (``<hex>  <path>``), so ``sha256sum -c SHA256SUMS`` inside the
folder checks it with standard tools, and ``relief-kit verify`` checks every case.

Atomic writes: a case is built in ``ARCHIVE/.tmp-<id>-<random>/`` and renamed into
place. When an older version exists, it is first renamed to ``.old-<id>-<random>``,
the new folder renamed in, and the old one removed. Between those two renames (two
system calls) the case exists only as ``.old-*``: a crash there leaves no live folder,
and :func:`clean_stale` on the next run renames it back. At every other instant the
complete old folder or the complete new one is in place.

Folders are created 0700 and files 0600: records are confidential.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from relief_kit.core.errors import InputError

MANIFEST = "SHA256SUMS"
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")


def check_request_id(request_id: str) -> str:
    """A request id usable as a folder name, or a one-line error."""
    if not _SAFE_ID.match(request_id or "") or ".." in request_id:
        raise InputError(f"pedido {request_id!r}: identificador inválido para uma pasta do "
                         "arquivo (use letras, números, '.', '_' ou '-', sem começar por "
                         "ponto).")
    return request_id


def _check_relative(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if (path.is_absolute() or not path.parts or any(p in ("", ".", "..") for p in path.parts)
            or "\\" in name or any(ord(c) < 32 for c in name) or name == MANIFEST):
        raise InputError(f"arquivo do caso {name!r}: nome inválido dentro da pasta do caso.")
    return path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest_text(folder: Path) -> str:
    """``sha256sum``'s output for every file under ``folder`` except the manifest."""
    lines = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        if relative != MANIFEST:
            lines.append(f"{sha256_file(path)}  {relative}\n")
    return "".join(lines)


def _write_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_case_folder(archive: Path, request_id: str, files: Mapping[str, bytes]) -> Path:
    """Write ``files`` (relative path → bytes) and the manifest as ``ARCHIVE/<id>/``."""
    check_request_id(request_id)
    names = {name: _check_relative(name) for name in files}
    archive = Path(archive)
    archive.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = archive / f".tmp-{request_id}-{secrets.token_hex(4)}"
    temporary.mkdir(mode=0o700)
    try:
        for name, data in files.items():
            _write_file(temporary.joinpath(*names[name].parts), data)
        _write_file(temporary / MANIFEST, manifest_text(temporary).encode("utf-8"))
        _fsync_dir(temporary)
        final = archive / request_id
        if final.exists():
            aside = archive / f".old-{request_id}-{secrets.token_hex(4)}"
            os.rename(final, aside)
            os.rename(temporary, final)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            os.rename(temporary, final)
        _fsync_dir(archive)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return final


def clean_stale(archive: Path) -> list[str]:
    """Remove unfinished ``.tmp-*`` folders; put back an ``.old-*`` that lost its case."""
    archive = Path(archive)
    actions = []
    if not archive.is_dir():
        return actions
    for path in sorted(archive.iterdir()):
        if path.name.startswith(".tmp-"):
            shutil.rmtree(path, ignore_errors=True)
            actions.append(f"removido trabalho inacabado {path.name}")
        elif path.name.startswith(".old-"):
            request_id = path.name[len(".old-"):].rsplit("-", 1)[0]
            live = archive / request_id
            if live.exists():
                shutil.rmtree(path, ignore_errors=True)
                actions.append(f"removida versão antiga de {request_id}")
            else:
                os.rename(path, live)
                actions.append(f"restaurado {request_id} interrompido durante a troca")
    return actions


def rewrite_manifest(case_folder: Path) -> None:
    """Recompute a case's manifest after a deliberate change (e.g. the retention purge)."""
    case_folder = Path(case_folder)
    _write_file(case_folder / MANIFEST, manifest_text(case_folder).encode("utf-8"))


@dataclass(frozen=True)
class VerifyProblem:
    case: str
    file: str
    kind: str  # "alterado" | "ausente" | "inesperado" | "manifesto" | "inacabado"

    def __str__(self) -> str:
        messages = {
            "alterado": "alterado desde o registro (o SHA-256 não confere)",
            "ausente": "ausente (listado no SHA256SUMS)",
            "inesperado": "inesperado (não listado no SHA256SUMS)",
            "manifesto": "SHA256SUMS ausente ou ilegível",
            "inacabado": "trabalho inacabado de uma execução interrompida; rode o batch de "
                         "novo",
        }
        where = f"{self.case}/{self.file}" if self.file else self.case
        return f"{where}: {messages[self.kind]}"


def read_manifest(case_folder: Path) -> dict[str, str] | None:
    """path → hex digest, or None when the manifest is missing or malformed."""
    try:
        text = (Path(case_folder) / MANIFEST).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    entries = {}
    for line in text.splitlines():
        match = _LINE.match(line)
        if not match:
            return None
        entries[match.group(2)] = match.group(1)
    return entries


def verify(archive: Path) -> list[VerifyProblem]:
    """Every changed, missing or unexpected file of every case folder."""
    archive = Path(archive)
    if not archive.is_dir():
        raise InputError(f"{archive}: pasta do arquivo não encontrada.")
    problems = []
    for case in sorted(archive.iterdir()):
        if case.name.startswith("."):
            if case.name.startswith((".tmp-", ".old-")):
                problems.append(VerifyProblem(case.name, "", "inacabado"))
            continue
        if not case.is_dir():
            problems.append(VerifyProblem(case.name, "", "inesperado"))
            continue
        problems += verify_case(case)
    return problems


def verify_case(case: Path) -> list[VerifyProblem]:
    """Every changed, missing or unexpected file of one case folder."""
    entries = read_manifest(case)
    if entries is None:
        return [VerifyProblem(case.name, MANIFEST, "manifesto")]
    problems = []
    present = {p.relative_to(case).as_posix() for p in case.rglob("*") if p.is_file()}
    present.discard(MANIFEST)
    for name in sorted(entries):
        if name not in present:
            problems.append(VerifyProblem(case.name, name, "ausente"))
        elif sha256_file(case / name) != entries[name]:
            problems.append(VerifyProblem(case.name, name, "alterado"))
    for name in sorted(present - set(entries)):
        problems.append(VerifyProblem(case.name, name, "inesperado"))
    return problems


def count_cases(archive: Path) -> tuple[int, int]:
    """(case folders, files listed in their manifests)."""
    cases = files = 0
    for case in Path(archive).iterdir():
        if case.is_dir() and not case.name.startswith("."):
            cases += 1
            files += len(read_manifest(case) or {})
    return cases, files
