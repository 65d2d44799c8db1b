"""Errors a user can meet. Each is explained in one line; a traceback is a bug."""

from __future__ import annotations


class ReliefKitError(Exception):
    """Base class: the message is the one line the user sees."""


class InputError(ReliefKitError):
    """A file, option or value the kit cannot use as it is."""


def cell_error(file: str, row: int | None, column: str | None, message: str) -> str:
    """The one-line form of a problem in a table: ``file, linha N, coluna C: message``.

    ``row`` is the line number in the file as a spreadsheet shows it (the header is
    line 1), so the user can go straight to it.
    """
    where = [str(file)]
    if row is not None:
        where.append(f"linha {row}")
    if column:
        where.append(f"coluna {column}")
    return f"{', '.join(where)}: {message}"
