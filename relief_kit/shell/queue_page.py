"""The review app's queue page, and how its pages name each other.

``relief-kit review DIR`` serves a folder of two notebooks with Voilà: the queue
(:data:`QUEUE_PAGE`, ``notebooks/queue.ipynb``) and the case (:data:`CASE_PAGE`, the
review notebook). Each row of the queue links to ``caso.ipynb?pedido=<id>``; Voilà hands
a page's query string to the kernel it starts for that page (the ``QUERY_STRING``
environment variable, as CGI does — Voilà's documented way to reach the request), and
:func:`requested` reads the request id from it. The case page links back to the queue.
Both pages are served by the same server, behind the same token (a cookie once the first
page was opened with it), so the links carry no token.

States and clocks come from :func:`relief_kit.shell.aftercare.morning`, the function
``relief-kit queue`` prints: one computation for the terminal and the page.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, quote

from relief_kit.shell.views import Fragment, render

#: The app's pages, side by side in the app's work folder (see ``launch.prepare_app``).
QUEUE_PAGE = "fila.ipynb"
CASE_PAGE = "caso.ipynb"
#: The query key that names the request on the case page: ``caso.ipynb?pedido=R0012``.
REQUEST_KEY = "pedido"
#: Where Voilà serves the notebooks of a folder (``voila DIR``).
RENDER_PREFIX = "/voila/render/"


def _in_app_folder() -> bool:
    """This kernel runs a page Voilà serves from a folder of pages (not one notebook)."""
    return (os.environ.get("SERVER_SOFTWARE", "").startswith("voila/")
            and os.environ.get("SCRIPT_NAME", "").startswith(RENDER_PREFIX))


def requested(request_id: str) -> str:
    """The request the page's address names (``caso.ipynb?pedido=R0012``) when Voilà
    serves the app's case page, else ``request_id`` (the notebook's parameter: the batch,
    JupyterLab, a single-case app). An unknown id is refused by ``open_case`` in one line.

    Raises ``InputError`` (one line pointing back to the queue) for a case page of the app
    whose address names no request (a bookmark of ``caso.ipynb`` alone)."""
    if not _in_app_folder():
        return request_id
    asked = parse_qs(os.environ.get("QUERY_STRING", "")).get(REQUEST_KEY)
    chosen = asked[0].strip() if asked and asked[0].strip() else request_id
    if not chosen:
        from relief_kit.core.errors import InputError

        raise InputError("Esta página não indica um pedido: volte à fila de casos e "
                         "clique no pedido a revisar.")
    return chosen


def case_address(request_id: str) -> str:
    """The case page of ``request_id``, relative to the queue page (same folder)."""
    return f"{CASE_PAGE}?{REQUEST_KEY}={quote(request_id, safe='')}"


def queue_link() -> Fragment | None:
    """The way back to the queue, on a case page the app serves; ``None`` elsewhere (the
    batch's record, JupyterLab, a single-case app)."""
    if not _in_app_folder():
        return None
    return render("queue_link.html", address=QUEUE_PAGE)


def show_queue_link() -> None:
    """Display :func:`queue_link` in the notebook when there is one (no output at all
    otherwise, so the batch's executed notebook is unchanged)."""
    link = queue_link()
    if link is not None:
        from IPython.display import display

        display(link)


def queue_view(data_dir: str | Path, *, criteria_file: str | Path = "",
               today: str | date = "") -> Fragment:
    """The queue page: the open cases oldest-overdue first (state, age, deadline in
    business days, who holds it), each request a link to its case page.

    ``data_dir``: the data folder; ``criteria_file``: empty for the kit's criteria;
    ``today``: ``aaaa-mm-dd``/``dd/mm/aaaa``, empty for the export's date. Raises
    :class:`~relief_kit.core.errors.InputError` (one line) for a folder, criteria file
    or date that cannot be read.
    """
    from relief_kit.shell.aftercare import morning
    from relief_kit.text.lines import label

    care = morning(data_dir, criteria_path=criteria_file or None, today=today or None)
    queue = care.queue
    rows = [{"clock": c, "state": label("states", c.state), "address": case_address(c.request_id)}
            for c in queue]
    return render("queue.html", today=care.today, rows=rows)
