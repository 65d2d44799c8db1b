"""Tables for the terminal, drawn by ``rich``: columns wrapped to fit a width.

The command line prints its summaries through here, so that a table never runs past
the width the user's terminal (or the README's promise, 100 columns) allows.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Sequence

#: The widest a summary is drawn, whatever the terminal: what the README promises.
MAX_WIDTH = 100


def width() -> int:
    """The terminal's width in columns, at most :data:`MAX_WIDTH` (and ``MAX_WIDTH``
    when the output is not a terminal)."""
    return min(shutil.get_terminal_size((MAX_WIDTH, 24)).columns, MAX_WIDTH)


def table(header: Sequence[str], rows: Sequence[Sequence[object]], *,
          columns: int | None = None, no_wrap: Sequence[str] = ()) -> str:
    """``rows`` under ``header`` as plain text no wider than ``columns`` (default
    :func:`width`): long cells wrap inside their column; the columns named in
    ``no_wrap`` (short codes such as a request id) are never broken. No colours, no
    escape codes: the text is the same in a terminal, a pipe or a log file."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    columns = columns or width()
    grid = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=False)
    for name in header:
        grid.add_column(name, no_wrap=name in no_wrap, overflow="fold")
    for row in rows:
        grid.add_row(*("" if cell is None else str(cell) for cell in row))
    out = io.StringIO()
    console = Console(file=out, width=columns, color_system=None, force_terminal=False,
                      force_jupyter=False, highlight=False, emoji=False, markup=False)
    console.print(grid)
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines())


__all__ = ["MAX_WIDTH", "table", "width"]
