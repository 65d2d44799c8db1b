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

The ledger (``ARCHIVE/LEDGER``) proves the archive as a whole: every case version
written appends one line chaining its manifest's SHA-256 to the previous line, so
``verify`` reports a case deleted, swapped with another, rolled back to an older
version or re-signed (its files changed and its manifest recomputed), which the
per-folder manifests alone cannot show. A line reads::

    <entry sha256>  <seq> <UTC time> <request id> <manifest sha256 or -> <previous entry sha256>

where the first field is the SHA-256 of the rest of the line (after the two spaces,
without the newline): ``printf '%s' "<rest>" | sha256sum`` checks any line, and
``sha256sum <id>/SHA256SUMS`` gives the manifest field of a case's latest line. A
manifest field ``-`` records a case removed on purpose (a data subject's erasure). The
ledger is append-only; it cannot protect against someone who rewrites all of it, which
is why its head (:func:`ledger_head`) is worth keeping elsewhere (the meeting report
prints it).

The ledger entry is appended after the new folder is complete and before it is
renamed into place; :func:`clean_stale` finishes a swap a crash interrupted when the
unfinished folder is the one the ledger names, so a crash never leaves the archive
disagreeing with its ledger.

Folders are created 0700 and files 0600: records are confidential.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import re
import secrets
import shutil
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from relief_kit.core.errors import InputError

MANIFEST = "SHA256SUMS"
LEDGER = "LEDGER"
MAX_ID_LENGTH = 128
_SAFE_ID = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9._-]{{0,{MAX_ID_LENGTH - 1}}}$")
#: Names Windows refuses as files or folders, with any extension (CON, CON.txt...).
_RESERVED = re.compile(r"^(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])(\..*)?$", re.IGNORECASE)
_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")
_ENTRY = re.compile(r"^([0-9a-f]{64})  ((\d+) (\S+) (\S+) ([0-9a-f]{64}|-) ([0-9a-f]{64}))$")
_GENESIS = "0" * 64
_ledger_lock = threading.Lock()


def request_id_problem(request_id: str) -> str:
    """Why a request id cannot name a case folder (the reason, in Portuguese), or ""."""
    if not request_id:
        return "identificador vazio"
    if len(request_id) > MAX_ID_LENGTH:
        return f"identificador longo demais ({len(request_id)} caracteres; máximo {MAX_ID_LENGTH})"
    if not _SAFE_ID.match(request_id) or ".." in request_id:
        return ("identificador inválido para uma pasta do arquivo (use letras, números, '.', "
                "'_' ou '-', sem começar por ponto nem conter '..')")
    if _RESERVED.match(request_id):
        return "nome reservado no Windows (CON, PRN, AUX, NUL, COM1…, LPT1…); use outro"
    return ""


def check_request_id(request_id: str) -> str:
    """A request id usable as a folder name, or a one-line error."""
    problem = request_id_problem(request_id)
    if problem:
        raise InputError(f"pedido {request_id!r}: {problem}.")
    return request_id


def prepare_archive(archive: Path) -> None:
    """Create the archive folder (private), or say in one line why it cannot be used."""
    archive = Path(archive)
    if archive.is_symlink() and not archive.exists():
        raise InputError(f"{archive}: é um link para {os.readlink(archive)}, que não existe; "
                         "crie a pasta de destino ou escolha outra com --archive.")
    if archive.exists() and not archive.is_dir():
        raise InputError(f"{archive}: existe e não é uma pasta; escolha outra com --archive.")
    try:
        archive.mkdir(parents=True, exist_ok=True, mode=0o700)
        probe = archive / f".tmp-probe-{secrets.token_hex(4)}"
        probe.mkdir(mode=0o700)
        probe.rmdir()
    except OSError as exc:
        raise InputError(f"{archive}: não é possível gravar no arquivo ({storage_reason(exc)}).")
    adopt_unledgered(archive)


def storage_reason(exc: OSError) -> str:
    """What an OS error on a write means for the user, in Portuguese."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "disco cheio; libere espaço e rode de novo"
    if exc.errno == errno.EFBIG:
        return "arquivo maior que o limite do sistema"
    if exc.errno == errno.EROFS:
        return "sistema de arquivos somente leitura"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "sem permissão de escrita; confira o dono e as permissões da pasta"
    return exc.strerror or str(exc)


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


# --------------------------------------------------------------------------- the ledger


@dataclass(frozen=True)
class LedgerEntry:
    seq: int
    at: str
    request_id: str
    manifest: str  # sha256 of the case's SHA256SUMS, or "-" for a removed case
    previous: str
    entry: str


def _entry_line(seq: int, at: str, request_id: str, manifest: str, previous: str) -> str:
    rest = f"{seq} {at} {request_id} {manifest} {previous}"
    return f"{hashlib.sha256(rest.encode()).hexdigest()}  {rest}\n"


def _last_line(handle) -> bytes:
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    handle.seek(max(0, size - 1024))
    tail = handle.read()
    lines = tail.rstrip(b"\n").split(b"\n")
    return lines[-1] if lines and lines[-1] else b""


def append_ledger(archive: Path, request_id: str, manifest: str) -> LedgerEntry:
    """Append one entry (locked against other threads and processes, fsynced)."""
    path = Path(archive) / LEDGER
    with _ledger_lock:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(descriptor, "r+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            last = _last_line(handle).decode("ascii", "replace")
            match = _ENTRY.match(last)
            if last and not match:
                raise InputError(f"{path}: última linha ilegível; o livro-razão foi alterado. "
                                 f"Rode relief-kit verify {archive}.")
            seq = int(match.group(3)) + 1 if match else 1
            previous = match.group(1) if match else _GENESIS
            at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            line = _entry_line(seq, at, request_id, manifest, previous)
            handle.seek(0, os.SEEK_END)
            handle.write(line.encode("ascii"))
            handle.flush()
            os.fsync(handle.fileno())
    return LedgerEntry(seq, at, request_id, manifest, previous, line[:64])


def read_ledger(archive: Path) -> tuple[list[LedgerEntry], list[str]]:
    """The ledger's entries and, in Portuguese, every break in its chain."""
    path = Path(archive) / LEDGER
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        return [], []
    except (OSError, UnicodeDecodeError) as exc:
        return [], [f"ilegível ({exc})"]
    entries, problems = [], []
    previous = _GENESIS
    for number, line in enumerate(text.splitlines(), start=1):
        match = _ENTRY.match(line)
        if not match:
            problems.append(f"linha {number}: não é uma entrada do livro-razão")
            continue
        entry = LedgerEntry(int(match.group(3)), match.group(4), match.group(5),
                            match.group(6), match.group(7), match.group(1))
        if hashlib.sha256(match.group(2).encode()).hexdigest() != entry.entry:
            problems.append(f"linha {number}: alterada (o SHA-256 da entrada não confere)")
        if entry.previous != previous or entry.seq != number:
            problems.append(f"linha {number}: a corrente foi quebrada (entrada removida, "
                            "inserida ou fora de ordem)")
        previous = entry.entry
        entries.append(entry)
    return entries, problems


def ledger_heads(archive: Path) -> dict[str, str]:
    """request id → the manifest hash of its latest ledger entry ("-" when removed)."""
    return {e.request_id: e.manifest for e in read_ledger(archive)[0]}


def ledger_head(archive: Path) -> str:
    """The hash of the ledger's last entry ("" when there is none): keep it elsewhere
    (the meeting report prints it) to detect a ledger rewritten as a whole."""
    entries, _ = read_ledger(archive)
    return entries[-1].entry if entries else ""


def manifest_digest(case: Path) -> str:
    try:
        return sha256_file(Path(case) / MANIFEST)
    except OSError:
        return ""


def adopt_unledgered(archive: Path) -> list[str]:
    """An archive written before the ledger: record its intact cases (once)."""
    archive = Path(archive)
    if (archive / LEDGER).exists():
        return []
    adopted = []
    for case in sorted(archive.iterdir()):
        if (case.is_dir() and not case.is_symlink() and not case.name.startswith(".")
                and not verify_case(case)):
            append_ledger(archive, case.name, manifest_digest(case))
            adopted.append(case.name)
    if not adopted:
        # An empty ledger marks the archive as kept with one from now on.
        os.close(os.open(archive / LEDGER, os.O_WRONLY | os.O_CREAT, 0o600))
    return adopted


def case_is_intact(archive: Path, request_id: str, heads: Mapping[str, str] | None = None
                   ) -> bool:
    """The case's files match its manifest and its manifest is the ledger's latest."""
    case = Path(archive) / request_id
    if case.is_symlink() or not case.is_dir() or verify_case(case):
        return False
    heads = ledger_heads(archive) if heads is None else heads
    return heads.get(request_id) == manifest_digest(case)


def remove_case(archive: Path, request_id: str) -> None:
    """Delete a case folder on purpose (an erasure), recording it in the ledger."""
    check_request_id(request_id)
    archive = Path(archive)
    case = archive / request_id
    aside = archive / f".old-{request_id}-{secrets.token_hex(4)}"
    append_ledger(archive, request_id, "-")
    os.rename(case, aside)
    _remove(aside)
    _fsync_dir(archive)


def _remove(path: Path) -> None:
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)


# --------------------------------------------------------------------------- writing


def write_case_folder(archive: Path, request_id: str, files: Mapping[str, bytes]) -> Path:
    """Write ``files`` (relative path → bytes) and the manifest as ``ARCHIVE/<id>/``,
    and record the new version in the ledger."""
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
        append_ledger(archive, request_id, manifest_digest(temporary))
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    # From here the ledger names the new folder: a crash is finished by clean_stale.
    return _swap_in(archive, request_id, temporary)


def _swap_in(archive: Path, request_id: str, temporary: Path) -> Path:
    final = archive / request_id
    if final.exists() or final.is_symlink():
        aside = archive / f".old-{request_id}-{secrets.token_hex(4)}"
        os.rename(final, aside)
        os.rename(temporary, final)
        _remove(aside)  # a symlinked case folder: the link goes, not what it points to
    else:
        os.rename(temporary, final)
    _fsync_dir(archive)
    return final


def clean_stale(archive: Path) -> list[str]:
    """Finish a swap the ledger already recorded; remove other unfinished ``.tmp-*``
    folders; put back an ``.old-*`` that lost its case."""
    archive = Path(archive)
    actions = []
    if not archive.is_dir():
        return actions
    heads = ledger_heads(archive)
    for path in sorted(archive.iterdir()):
        if path.name.startswith(".tmp-"):
            request_id = path.name[len(".tmp-"):].rsplit("-", 1)[0]
            if (heads.get(request_id) and heads[request_id] == manifest_digest(path)
                    and not verify_case(path)):
                _swap_in(archive, request_id, path)
                actions.append(f"concluída a gravação interrompida de {request_id}")
            else:
                shutil.rmtree(path, ignore_errors=True)
                actions.append(f"removido trabalho inacabado {path.name}")
    for path in sorted(archive.iterdir()):
        if path.name.startswith(".old-"):
            request_id = path.name[len(".old-"):].rsplit("-", 1)[0]
            live = archive / request_id
            if live.exists() or heads.get(request_id) == "-":
                _remove(path)
                actions.append(f"removida versão antiga de {request_id}")
            else:
                os.rename(path, live)
                actions.append(f"restaurado {request_id} interrompido durante a troca")
    return actions


@dataclass(frozen=True)
class VerifyProblem:
    case: str
    file: str
    # "alterado" | "ausente" | "inesperado" | "manifesto" | "inacabado" | "livro" |
    # "apagado" | "revertido" | "trocado" | "reassinado" | "fora do livro" | "link"
    kind: str
    detail: str = ""

    def __str__(self) -> str:
        messages = {
            "alterado": "alterado desde o registro (o SHA-256 não confere)",
            "ausente": "ausente (listado no SHA256SUMS)",
            "inesperado": "inesperado (não listado no SHA256SUMS)",
            "manifesto": "SHA256SUMS ausente ou ilegível",
            "inacabado": "trabalho inacabado de uma execução interrompida; rode o batch de "
                         "novo",
            "livro": f"livro-razão adulterado: {self.detail}",
            "apagado": "caso apagado (o livro-razão registra a pasta, que não existe mais)",
            "revertido": f"voltou a uma versão antiga ({self.detail} no livro-razão); "
                         "alguém repôs um registro anterior",
            "trocado": f"tem o conteúdo do caso {self.detail} (pastas trocadas)",
            "reassinado": "SHA256SUMS diferente do registrado no livro-razão: arquivos "
                          "alterados e manifesto recalculado",
            "fora do livro": "caso ausente do livro-razão (pasta acrescentada por fora do "
                             "relief-kit)",
            "link": "a pasta do caso é um link, não uma pasta do arquivo",
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
    entries, breaks = read_ledger(archive)
    ledgered = (archive / LEDGER).exists()
    problems += [VerifyProblem(LEDGER, "", "livro", b) for b in breaks]
    history: dict[str, list[str]] = {}
    for entry in entries:
        history.setdefault(entry.request_id, []).append(entry.manifest)
    latest = {request_id: versions[-1] for request_id, versions in history.items()}
    owner = {manifest: request_id for request_id, manifest in latest.items()}
    present, sound = set(), 0
    unfinished = {p.name[5:].rsplit("-", 1)[0] for p in archive.iterdir()
                  if p.name.startswith((".tmp-", ".old-"))}
    for case in sorted(archive.iterdir()):
        if case.name.startswith("."):
            if case.name.startswith((".tmp-", ".old-")):
                problems.append(VerifyProblem(case.name, "", "inacabado"))
            continue
        if case.name == LEDGER:
            continue
        if case.is_symlink():
            problems.append(VerifyProblem(case.name, "", "link"))
            continue
        if not case.is_dir():
            problems.append(VerifyProblem(case.name, "", "inesperado"))
            continue
        present.add(case.name)
        own = verify_case(case)
        problems += own
        sound += not own
        if (not ledgered or case.name in unfinished
                or any(p.kind == "manifesto" for p in own)):
            continue
        digest = manifest_digest(case)
        if case.name not in latest or latest[case.name] == "-":
            problems.append(VerifyProblem(case.name, "", "fora do livro"))
        elif digest != latest[case.name]:
            if owner.get(digest) not in (None, case.name):
                problems.append(VerifyProblem(case.name, "", "trocado", owner[digest]))
            elif digest in history[case.name]:
                version = history[case.name].index(digest) + 1
                problems.append(VerifyProblem(case.name, "", "revertido",
                                              f"versão {version} de {len(history[case.name])}"))
            else:
                problems.append(VerifyProblem(case.name, "", "reassinado"))
    for request_id in sorted(set(latest) - present - unfinished):
        if latest[request_id] != "-":
            problems.append(VerifyProblem(request_id, "", "apagado"))
    if not ledgered and sound:
        problems.append(VerifyProblem(LEDGER, "", "livro",
                                      "ausente; rode relief-kit batch para criá-lo"))
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
        if case.is_dir() and not case.is_symlink() and not case.name.startswith("."):
            cases += 1
            files += len(read_manifest(case) or {})
    return cases, files
