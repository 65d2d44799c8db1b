"""What an import did: rows read, imported and skipped (and why), and every row it
could not interpret, named by file, row and column. Never lose data silently."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from relief_kit.text import labels


@dataclass(frozen=True)
class Problem:
    where: str  # "clientes.csv, linha 5, coluna cnpj_cpf"
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class TableCount:
    read: int = 0
    imported: int = 0
    skipped: Counter = field(default_factory=Counter)  # reason → rows

    def skip(self, reason: str, rows: int = 1) -> None:
        self.skipped[reason] += rows


@dataclass
class ImportReport:
    source: str  # "ixc" | "mkauth" | "csv"
    files: list[str] = field(default_factory=list)
    tables: dict[str, TableCount] = field(default_factory=dict)
    errors: list[Problem] = field(default_factory=list)  # unusable required values: exit 1
    warnings: list[Problem] = field(default_factory=list)  # imported, but worth a look
    notes: Counter = field(default_factory=Counter)  # derived values: note → customers

    def table(self, name: str) -> TableCount:
        return self.tables.setdefault(name, TableCount())

    def error(self, where: str, message: str) -> None:
        self.errors.append(Problem(where, message))

    def warn(self, where: str, message: str) -> None:
        self.warnings.append(Problem(where, message))

    @property
    def failed(self) -> bool:
        return bool(self.errors)

    def lines(self) -> list[str]:
        """The summary an analyst reads at the end of an import (Portuguese)."""
        out = [f"Importação {labels.label('source', self.source)}: "
               f"{len(self.files)} arquivo(s) lido(s)."]
        for name, count in self.tables.items():
            skipped = sum(count.skipped.values())
            out.append(f"{name}: {count.read} lido(s), {count.imported} importado(s), "
                       f"{skipped} ignorado(s)")
            for reason, rows in count.skipped.most_common():
                out.append(f"  - {rows} {reason}")
        if self.notes:
            out.append("Observações:")
            out.extend(f"  - {rows} cliente(s): {note}" for note, rows in self.notes.items())
        if self.warnings:
            out.append(f"Avisos ({len(self.warnings)}):")
            out.extend(f"  - {p}" for p in self.warnings)
        if self.errors:
            out.append(f"Erros: {len(self.errors)} valor(es) obrigatório(s) inutilizável(is) "
                       "(linhas não importadas):")
            out.extend(f"  - {p}" for p in self.errors)
            out.append("Corrija os arquivos nas linhas indicadas e importe de novo.")
        return out
