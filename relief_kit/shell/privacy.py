"""Retention and data-subject requests (LGPD arts. 15–16 and 18).

Two jobs, both run from the command line by the provider's data officer:

- The retention purge (:func:`purge`): a closed case (one with a recorded decision)
  decided more than N days ago keeps its decision trail (what was asked, what was
  decided, by whom, when, on which criteria, the terms and the messages that told the
  customer) and loses what was only needed to decide: the copy of the written request,
  the executed notebook and the full record, HTML and PDF (they show the request and
  the answers),
  the at-risk category and consent, and the analyst's notes. The case folder is
  rewritten atomically with a reduced record (HTML and PDF/A), a ``purge`` section in
  ``case.json`` and a new manifest, so ``relief-kit verify`` passes. With the data
  folder, the case store and the data folder's copy of the evidence are purged too.

- Data-subject requests (:func:`subject_export`, :func:`subject_erase`): everything
  held on one CPF/CNPJ across the data folder, the case store and the archive, and its
  erasure. Erasure keeps only the decision trail of decided cases, for the reason the
  law gives (:data:`KEPT_REASON`), and says so in the files it leaves.

A case whose files no longer match its manifest is never purged or reduced: rewriting
its manifest would hide the change. It is reported and left for a person to look at.
"""

from __future__ import annotations

import base64
import getpass
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from relief_kit.core import schema
from relief_kit.core.decisions import terms_from_dict
from relief_kit.core.errors import InputError
from relief_kit.shell.archive import (
    MANIFEST,
    check_request_id,
    remove_case,
    sha256_file,
    verify_case,
    write_case_folder,
)
from relief_kit.shell.record_pdf import record_pdf
from relief_kit.text import formatting as fmt
from relief_kit.text import labels

#: The checklist fields that are sensitive or free text: gone after retention.
SENSITIVE_CHECKLIST = schema.SENSITIVE_CHECKLIST
#: After a data subject's erasure not even the at-risk flag stays: the agreement's
#: proof does not need it.
ERASED_CHECKLIST = {**SENSITIVE_CHECKLIST, "at_risk": None}
#: The intake columns of ``requests.csv`` about the household: the decision's own
#: checklist keeps the at-risk flag (it explains a softened term or a second analyst).
SENSITIVE_REQUEST = schema.SENSITIVE_REQUEST
#: The files a purge rewrites rather than keeps: the full record, as HTML and as PDF,
#: shows the written request and every answer, so both give way to the reduced record
#: (a PDF of the reduced record, so the lawyer's copy of what is kept stays fileable).
REPLACED = ("case.json", "record.html", "record.pdf")

#: How many years an erased customer's decision trail is kept, and why.
KEPT_YEARS = 5
KEPT_REASON = (
    "Mantidos a decisão, os termos do acordo e o documento do titular: são a prova do "
    "que foi combinado e comunicado, guardada para o cumprimento de obrigação legal e o "
    "exercício regular de direitos em processo judicial, administrativo ou arbitral "
    "(LGPD art. 7º, VI, e art. 16, I) durante o prazo de prescrição da cobrança de "
    "dívidas constantes de instrumento (Código Civil art. 206, § 5º, I: cinco anos).")
PURGE_REASON = (
    "Fim do prazo de retenção (LGPD arts. 15 e 16): removidos o pedido escrito, o "
    "notebook executado, o registro completo, a categoria e o consentimento de "
    "situação de risco e as observações; mantida a trilha da decisão.")


def _who(who: str | None) -> str:
    if who and who.strip():
        return who.strip()
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "?"


# --------------------------------------------------------------------------- case folders


def _case_json(folder: Path) -> dict:
    try:
        return json.loads((folder / "case.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{folder / 'case.json'}: ausente; rode o batch de novo.")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{folder / 'case.json'}: ilegível ({exc}).")


def _case_folders(archive: Path) -> list[Path]:
    archive = Path(archive)
    if not archive.is_dir():
        raise InputError(f"{archive}: pasta do arquivo não encontrada.")
    return sorted(p for p in archive.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and not p.is_symlink())


def _tampered(folder: Path) -> str:
    """Why the folder does not match its manifest (the first problem), or ""."""
    problems = verify_case(folder)
    return str(problems[0]).removeprefix(f"{folder.name}/") if problems else ""


def _scrub(data: dict | None, fields: dict) -> dict | None:
    return None if data is None else {**data, **{k: v for k, v in fields.items() if k in data}}


def reduced_record(facts: dict, *, title: str, note: dict) -> str:
    """The HTML that replaces a full record: the decision trail and what happened to it."""
    from relief_kit import __version__
    from relief_kit.text import render as text_render

    decision = facts.get("decision") or {}
    terms = ""
    if decision.get("terms"):
        try:
            terms = fmt.terms_text(decision["action"], terms_from_dict(decision["terms"]))
        except (KeyError, TypeError, ValueError, ArithmeticError):
            terms = "termos ilegíveis no case.json"
    request = facts.get("request") or {}
    received = request.get("received_at")
    return text_render.render(
        "reduced/record.html.j2",
        title=title, request_id=facts.get("request_id", ""),
        customer=facts.get("customer") or {}, request=request,
        received=fmt.moment(datetime.fromisoformat(received)) if received else "—",
        decision=decision, terms=terms,
        decided=(fmt.moment(datetime.fromisoformat(decision["decided_at"]))
                 if decision.get("decided_at") else "—"),
        action_label=labels.action(decision.get("action")),
        recommended_label=labels.action(decision.get("recommended_action")),
        criteria=facts.get("criteria") or {}, provider=facts.get("provider") or {},
        note=note, version=__version__,
    )


def _decided_on(facts: dict) -> date | None:
    decision = facts.get("decision")
    if not decision or not decision.get("decided_at"):
        return None
    return datetime.fromisoformat(decision["decided_at"]).date()


def _replace_files(folder: Path, keep: Iterable[str]) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in keep}


# --------------------------------------------------------------------------- the purge


@dataclass(frozen=True)
class PurgeCase:
    request_id: str
    decided_on: date
    age_days: int
    removed: tuple[str, ...]


@dataclass
class PurgeReport:
    older_than_days: int
    today: date
    dry_run: bool
    purged: list[PurgeCase] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # no decision: still open
    recent: list[str] = field(default_factory=list)  # decided within the retention
    already: list[str] = field(default_factory=list)  # purged or erased before
    refused: list[str] = field(default_factory=list)  # one line each, e.g. tampered
    data_notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        one = "caso seria expurgado" if self.dry_run else "caso expurgado"
        other = "casos seriam expurgados" if self.dry_run else "casos expurgados"
        return (f"{fmt.count(len(self.purged), one, other)} (decididos há mais de "
                f"{self.older_than_days} dias); mantidos: {len(self.recent)} dentro do prazo, "
                f"{len(self.pending)} sem decisão, {len(self.already)} já expurgados"
                + (f"; {len(self.refused)} recusados" if self.refused else "") + ".")


def _purged_files(folder: Path, facts: dict, *, who: str, now: datetime,
                  older_than_days: int, removed: list[str]) -> dict[str, bytes]:
    kept = [p.relative_to(folder).as_posix() for p in sorted(folder.rglob("*"))
            if p.is_file()]
    kept = [n for n in kept if n != MANIFEST and n not in removed
            and n not in REPLACED]
    note = {
        "at": now.isoformat(timespec="seconds"), "by": who,
        "older_than_days": older_than_days,
        "removed": removed + ["checklist.at_risk_category", "checklist.at_risk_consent",
                              "checklist.notes"],
        "reason": PURGE_REASON,
    }
    reduced = dict(facts)
    reduced["checklist"] = _scrub(facts.get("checklist"), SENSITIVE_CHECKLIST)
    reduced["request"] = _scrub(facts.get("request"), SENSITIVE_REQUEST)
    if facts.get("decision"):
        reduced["decision"] = {**facts["decision"],
                               "checklist": _scrub(facts["decision"].get("checklist"),
                                                   SENSITIVE_CHECKLIST)}
    reduced["purge"] = note
    files = _replace_files(folder, kept)
    files["case.json"] = json.dumps(reduced, ensure_ascii=False, indent=2,
                                    sort_keys=True).encode("utf-8")
    files["record.html"] = reduced_record(
        reduced, title="Registro reduzido após o prazo de retenção",
        note={"when": fmt.moment(now), "who": who, "reason": PURGE_REASON,
              "removed": removed, "kept": kept}).encode("utf-8")
    files["record.pdf"] = record_pdf(files["record.html"])
    return files


def purge(archive: str | Path, older_than_days: int, *, data_dir: str | Path | None = None,
          dry_run: bool = False, who: str | None = None,
          now: datetime | None = None) -> PurgeReport:
    """Purge every closed case decided more than ``older_than_days`` days ago."""
    if older_than_days < 0:
        raise InputError(f"--older-than: {older_than_days} dias; use um número de dias ≥ 0.")
    now = (now or datetime.now()).replace(microsecond=0)
    who = _who(who)
    archive = Path(archive)
    report = PurgeReport(older_than_days, now.date(), dry_run)
    due: list[tuple[Path, dict, PurgeCase]] = []
    for folder in _case_folders(archive):
        try:
            facts = _case_json(folder)
        except InputError as exc:
            report.refused.append(f"{folder.name}: {exc}")
            continue
        if "purge" in facts or "erasure" in facts:
            report.already.append(folder.name)
            continue
        decided_on = _decided_on(facts)
        if decided_on is None:
            report.pending.append(folder.name)
            continue
        age = (now.date() - decided_on).days
        if age <= older_than_days:
            report.recent.append(folder.name)
            continue
        problem = _tampered(folder)
        if problem:
            report.refused.append(f"{folder.name}: {problem}; não expurgado (confira com "
                                  "relief-kit verify antes)")
            continue
        removed = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                         if p.is_file() and (p.relative_to(folder).parts[0] == "evidence"
                                             or p.name == "record.ipynb"))
        due.append((folder, facts, PurgeCase(folder.name, decided_on, age, tuple(removed))))
    report.purged = [case for _, _, case in due]
    if dry_run or not due:
        return report
    if data_dir is not None:
        # The data folder and the store first: a purge killed before the archive is
        # rewritten finds these cases due again and finishes them (every step repeats
        # harmlessly); the other way round, a purged archive would hide them.
        from relief_kit.store.cases import open_store

        requests = _read_clean(Path(data_dir), schema.REQUESTS)  # broken: stop before anything
        with open_store(data_dir) as store:
            for _, _, case in due:
                store.purge_sensitive(case.request_id, who=who, now=now)
        report.data_notes = _purge_data_folder(Path(data_dir), requests,
                                               [c.request_id for c in report.purged])
    for folder, facts, case in due:
        files = _purged_files(folder, facts, who=who, now=now,
                              older_than_days=older_than_days, removed=list(case.removed))
        write_case_folder(archive, case.request_id, files)
    return report


# --------------------------------------------------------------------------- the data folder


def _read_clean(folder: Path, table: str):
    from relief_kit.sources.tables import read_table

    frame, problems = read_table(folder / table, table)
    errors = [p for p in problems if p.is_error]
    if errors:
        raise InputError(f"{errors[0].located(folder)} (corrija com relief-kit check "
                         f"{folder} antes; nada foi alterado na pasta de dados)")
    return frame


def _rewrite_table(folder: Path, table: str, frame) -> None:
    """Write a canonical table beside the old one and swap it in (never half-written)."""
    from relief_kit.sources.tables import write_table

    staging = Path(tempfile.mkdtemp(prefix=".relief-kit-", dir=folder))
    try:
        written = write_table(frame, staging, table)
        os.replace(written, folder / table)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _evidence_files(folder: Path, names: Iterable[str]) -> list[Path]:
    from relief_kit.sources.tables import evidence_path

    paths = []
    for name in names:
        if name:
            path = evidence_path(folder, name)
            if path.is_file():
                paths.append(path)
    return paths


def _purge_data_folder(folder: Path, requests, request_ids: list[str]) -> list[str]:
    """Delete the evidence of these requests and clear their sensitive intake columns
    (``requests`` is the folder's table as read)."""
    mine = requests["request_id"].isin(request_ids)
    if not mine.any():
        return []
    removed = _evidence_files(folder, requests.loc[mine, "evidence_file"])
    for path in removed:  # before the rows stop naming them, so a rerun finds them
        path.unlink()
    requests = requests.copy()
    requests.loc[mine, "evidence_file"] = ""
    for column, blank in SENSITIVE_REQUEST.items():
        requests.loc[mine, column] = blank
    _rewrite_table(folder, schema.REQUESTS, requests)
    return [f"{folder / schema.REQUESTS}: {int(mine.sum())} pedidos sem pedido escrito nem "
            f"dados de situação de risco; {len(removed)} arquivos de evidence/ apagados"]


# --------------------------------------------------------------------------- data subjects


def _subject_document(document: str) -> str:
    from relief_kit.core.documents import bare_document, document_kind, is_valid_document

    if not is_valid_document(document):
        kind = document_kind(document)
        what = f"{kind} com dígitos verificadores errados" if kind else "nem CPF nem CNPJ"
        raise InputError(f"documento {document.strip()!r}: {what}; confira o número do "
                         "titular.")
    return bare_document(document)


@dataclass
class SubjectData:
    """Where one CPF/CNPJ appears: customers, their requests and their archived cases,
    with the data folder's tables as read (once) to find them."""

    document: str
    customer_ids: list[str]
    request_ids: list[str]
    case_folders: list[Path]
    customers: pd.DataFrame
    invoices: pd.DataFrame
    requests: pd.DataFrame


def find_subject(document: str, *, data_dir: str | Path,
                 archive: str | Path | None = None) -> SubjectData:
    from relief_kit.core.documents import bare_document, mask_document

    bare = _subject_document(document)
    folder = Path(data_dir)
    if not folder.is_dir():
        raise InputError(f"{folder}: pasta de dados não encontrada.")
    customers = _read_clean(folder, schema.CUSTOMERS)
    invoices = _read_clean(folder, schema.INVOICES)
    requests = _read_clean(folder, schema.REQUESTS)
    matches = customers["document"].map(bare_document) == bare
    customer_ids = customers.loc[matches, "customer_id"].tolist()
    request_ids = requests.loc[requests["customer_id"].isin(customer_ids),
                               "request_id"].tolist()
    cases = []
    if archive is not None and Path(archive).exists():
        masked = mask_document(bare)
        for case in _case_folders(Path(archive)):
            try:
                facts = _case_json(case)
            except InputError:
                continue
            customer = facts.get("customer") or {}
            if (case.name in request_ids
                    or bare_document(customer.get("document", "")) == bare
                    or (customer.get("customer_id") in customer_ids
                        and customer.get("document_masked") == masked)):
                cases.append(case)
                if case.name not in request_ids:
                    request_ids.append(case.name)
    return SubjectData(bare, customer_ids, request_ids, cases, customers, invoices, requests)


def _records(frame) -> list[dict]:
    from relief_kit.shell.facts import jsonable

    return [{k: jsonable(v) if not _missing(v) else None for k, v in row.items()}
            for row in frame.to_dict(orient="records")]


def _missing(value) -> bool:
    try:
        return bool(pd.isna(value))  # None, NaN, NaT, pd.NA
    except (TypeError, ValueError):
        return False


def _file_entry(path: Path, name: str) -> dict:
    data = path.read_bytes()
    entry = {"arquivo": name, "sha256": sha256_file(path), "bytes": len(data)}
    try:
        entry["conteudo"] = data.decode("utf-8")
    except UnicodeDecodeError:
        entry["conteudo_base64"] = base64.b64encode(data).decode("ascii")
    return entry


def subject_export(document: str, *, data_dir: str | Path, archive: str | Path | None = None,
                   now: datetime | None = None) -> dict:
    """Everything held on one CPF/CNPJ, as plain JSON values (LGPD art. 18, II)."""
    from relief_kit.core.documents import format_document
    from relief_kit.store.cases import open_store

    now = (now or datetime.now()).replace(microsecond=0)
    subject = find_subject(document, data_dir=data_dir, archive=archive)
    folder = Path(data_dir)
    customers, invoices, requests = subject.customers, subject.invoices, subject.requests
    mine = requests[requests["request_id"].isin(subject.request_ids)]
    evidence = []
    for name in mine["evidence_file"]:
        for path in _evidence_files(folder, [name]):
            evidence.append(_file_entry(path, f"evidence/{name}"))
    with open_store(folder) as store:
        stored = store.rows_for_requests(subject.request_ids)
        audit = [{"quando": row["at"], "o_que": row["what"], "pedido": row["request_id"]}
                 for request_id in subject.request_ids for row in store.audit(request_id)]
    archived = []
    for case in subject.case_folders:
        entries = []
        for path in sorted(p for p in case.rglob("*") if p.is_file()):
            name = path.relative_to(case).as_posix()
            if path.suffix in (".json", ".txt", ".eml"):
                entries.append(_file_entry(path, name))
            else:
                entries.append({"arquivo": name, "sha256": sha256_file(path),
                                "bytes": path.stat().st_size,
                                "nota": "registro completo; entregue uma cópia se o titular "
                                        "pedir (mesmo conteúdo do case.json, formatado)"})
        archived.append({"pedido": case.name, "arquivos": entries})
    return {
        "titular": format_document(subject.document),
        "gerado_em": now.isoformat(),
        "sobre": ("Todos os dados que o relief-kit guarda sobre este CPF/CNPJ (LGPD art. "
                  "18, II): o cadastro, as faturas e os pedidos da pasta de dados (cópias "
                  "do ERP), os pedidos escritos, as respostas e decisões do banco de casos, "
                  "o registro de acessos (sem os nomes dos analistas) e os arquivos dos "
                  "casos. As colunas seguem o formato canônico descrito no README."),
        "pasta_de_dados": str(folder),
        "cadastro": _records(customers[customers["customer_id"].isin(subject.customer_ids)]),
        "faturas": _records(invoices[invoices["customer_id"].isin(subject.customer_ids)]),
        "pedidos": _records(mine),
        "pedidos_escritos": evidence,
        "respostas_e_decisoes": stored,
        "acessos": audit,
        "arquivo_dos_casos": archived,
    }


@dataclass
class ErasureReport:
    document: str
    customers: int = 0
    invoices: int = 0
    requests: int = 0
    evidence_files: int = 0
    cases_removed: list[str] = field(default_factory=list)  # undecided: nothing to keep
    cases_reduced: list[str] = field(default_factory=list)  # decided: the trail stays
    kept_before: list[str] = field(default_factory=list)  # reduced by an earlier erasure
    refused: list[str] = field(default_factory=list)

    @property
    def nothing(self) -> bool:
        return not (self.customers or self.requests or self.cases_removed
                    or self.cases_reduced or self.refused)

    def lines(self) -> list[str]:
        from relief_kit.core.documents import mask_document

        if self.nothing:
            if self.kept_before:
                return [f"Nada mais a apagar sobre {mask_document(self.document)}: resta só "
                        f"a trilha das decisões mantida por lei "
                        f"({', '.join(self.kept_before)})."]
            return [f"Nada guardado sobre {mask_document(self.document)}."]
        out = [f"Titular {mask_document(self.document)}: {self.customers} cadastros, "
               f"{self.invoices} faturas, {self.requests} pedidos e {self.evidence_files} "
               "pedidos escritos apagados da pasta de dados; respostas apagadas do banco "
               "de casos."]
        if self.cases_removed:
            out.append(f"Casos sem decisão apagados do arquivo: {', '.join(self.cases_removed)}.")
        if self.cases_reduced:
            out.append(f"Casos decididos reduzidos à trilha da decisão: "
                       f"{', '.join(self.cases_reduced)}. {KEPT_REASON}")
        out.extend(f"recusado: {line}" for line in self.refused)
        return out


def erasure_plan(document: str, *, data_dir: str | Path,
                 archive: str | Path | None = None) -> tuple[SubjectData, ErasureReport]:
    """What :func:`subject_erase` would do, without doing it."""
    folder = Path(data_dir)
    subject = find_subject(document, data_dir=folder, archive=archive)
    requests = subject.requests
    mine = requests[requests["request_id"].isin(subject.request_ids)]
    report = ErasureReport(
        subject.document, customers=len(subject.customer_ids),
        invoices=int(subject.invoices["customer_id"].isin(subject.customer_ids).sum()),
        requests=len(mine),
        evidence_files=len(_evidence_files(folder, mine["evidence_file"])))
    for case in subject.case_folders:
        facts = _case_json(case)
        if "erasure" in facts:
            report.kept_before.append(case.name)
            continue
        problem = _tampered(case)
        if problem:
            report.refused.append(f"{case.name}: {problem}; confira com relief-kit verify")
        elif facts.get("decision"):
            report.cases_reduced.append(case.name)
        else:
            report.cases_removed.append(case.name)
    return subject, report


def _erased_case(folder: Path, facts: dict, document: str, *, who: str,
                 now: datetime) -> dict[str, bytes]:
    from relief_kit.core.documents import mask_document

    decision = dict(facts["decision"])
    decision["checklist"] = _scrub(decision.get("checklist"), ERASED_CHECKLIST)
    decided_on = _decided_on(facts) or now.date()
    try:
        until = decided_on.replace(year=decided_on.year + KEPT_YEARS)
    except ValueError:  # 29 February
        until = decided_on.replace(year=decided_on.year + KEPT_YEARS, day=28)
    removed = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                     if p.is_file() and p.name not in (MANIFEST, "case.json"))
    request = facts.get("request") or {}
    kept = {
        "request_id": facts.get("request_id", folder.name),
        "customer": {"customer_id": (facts.get("customer") or {}).get("customer_id", ""),
                     "document": document},
        "request": {k: request.get(k) for k in ("request_id", "received_at", "channel",
                                                "asked")},
        "decision": decision,
        "outcome_action": facts.get("outcome_action"),
        "criteria": facts.get("criteria"),
        "provider": facts.get("provider"),
        "kit_version": facts.get("kit_version"),
        "fingerprint": facts.get("fingerprint"),
        "erasure": {"at": now.isoformat(timespec="seconds"), "by": who,
                    "removed": removed, "kept_until": until.isoformat(),
                    "reason": KEPT_REASON},
    }
    files = {
        "case.json": json.dumps(kept, ensure_ascii=False, indent=2,
                                sort_keys=True).encode("utf-8"),
        # The record shows the document masked, as every record does; case.json keeps
        # it whole because it is what ties the kept agreement to its party.
        "record.html": reduced_record(
            {**kept, "customer": {"document_masked": mask_document(document)}},
            title="Registro reduzido a pedido do titular (LGPD art. 18, VI)",
            note={"when": fmt.moment(now), "who": who,
                  "reason": f"{KEPT_REASON} Guardar até {fmt.day(until)}.",
                  "removed": removed, "kept": []}).encode("utf-8"),
    }
    files["record.pdf"] = record_pdf(files["record.html"])
    return files


def subject_erase(document: str, *, data_dir: str | Path, archive: str | Path | None = None,
                  who: str | None = None, now: datetime | None = None,
                  plan: tuple[SubjectData, ErasureReport] | None = None) -> ErasureReport:
    """Erase what the kit holds on one CPF/CNPJ, keeping only what the law requires.

    ``plan`` is :func:`erasure_plan`'s answer when the caller already asked for it (to
    show it and confirm), so the folder is not read again.
    """
    from relief_kit.core.documents import format_document
    from relief_kit.store.cases import open_store

    now = (now or datetime.now()).replace(microsecond=0)
    who = _who(who)
    folder = Path(data_dir)
    subject, report = plan or erasure_plan(document, data_dir=folder, archive=archive)
    if report.refused:
        return report  # nothing changed: a tampered case needs a person first
    for case in subject.case_folders:
        facts = _case_json(case)
        if "erasure" in facts:
            continue
        if case.name in report.cases_reduced:
            write_case_folder(case.parent, check_request_id(case.name),
                              _erased_case(case, facts, format_document(subject.document),
                                           who=who, now=now))
        else:
            remove_case(case.parent, case.name)
    with open_store(folder) as store:
        for request_id in subject.request_ids:
            store.erase_request(request_id, who=who, now=now)
    customers, invoices, requests = subject.customers, subject.invoices, subject.requests
    mine = requests["request_id"].isin(subject.request_ids)
    # Files before the rows that name them, rows before the customer they point to: a run
    # killed half-way leaves what the next run (or relief-kit check) still finds.
    for path in _evidence_files(folder, requests.loc[mine, "evidence_file"]):
        path.unlink()
    _rewrite_table(folder, schema.REQUESTS, requests[~mine])
    _rewrite_table(folder, schema.INVOICES,
                   invoices[~invoices["customer_id"].isin(subject.customer_ids)])
    _rewrite_table(folder, schema.CUSTOMERS,
                   customers[~customers["customer_id"].isin(subject.customer_ids)])
    return report


__all__ = ["ErasureReport", "PurgeReport", "erasure_plan", "find_subject", "purge",
           "reduced_record", "subject_erase", "subject_export"]
