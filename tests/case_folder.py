"""Copies of the sample data folder for the review tests (never written in place)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"
HOSTILE = "<script>alert(1)</script> {{ 7*7 }}"

#: Requests of the sample with a WhatsApp chat, an e-mail, and no written request.
WHATSAPP_REQUEST = "R0001"
EMAIL_REQUEST = "R0007"
UNWRITTEN_REQUEST = "R0002"


def sample_copy(destination: Path) -> Path:
    """The sample folder copied to ``destination`` (without any store or cache)."""
    folder = destination / "dados"
    shutil.copytree(SAMPLE, folder, ignore=shutil.ignore_patterns(
        "cases.sqlite*", ".relief-kit"))
    return folder


def customer_of(folder: Path, request_id: str) -> str:
    with (folder / "requests.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["request_id"] == request_id:
                return row["customer_id"]
    raise KeyError(request_id)


def evidence_of(folder: Path, request_id: str) -> Path:
    with (folder / "requests.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["request_id"] == request_id:
                return folder / "evidence" / row["evidence_file"]
    raise KeyError(request_id)


def set_cell(folder: Path, table: str, key: str, value: str, column: str, new: str) -> None:
    """Change one cell of a canonical table (the row whose first column is ``value``)."""
    path = folder / table
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    header = rows[0]
    for row in rows[1:]:
        if row[header.index(key)] == value:
            row[header.index(column)] = new
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def make_hostile(folder: Path, request_id: str = WHATSAPP_REQUEST) -> None:
    """Markup and template syntax in the customer's name and in a WhatsApp message."""
    set_cell(folder, "customers.csv", "customer_id", customer_of(folder, request_id),
             "name", f"Maria {HOSTILE}")
    chat = evidence_of(folder, request_id)
    text = chat.read_text(encoding="utf-8")
    first_line = text.splitlines()[2]  # a customer's message line: keep its header
    header = first_line[:first_line.index(": ") + 2]
    chat.write_text(text.rstrip("\n") + f"\n{header}{HOSTILE} <b>negrito</b>\n",
                    encoding="utf-8")
