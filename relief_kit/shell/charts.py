"""The payment-history chart of the review and the case record, as inline SVG.

The chart is a handful of rectangles, lines and labels, so it is drawn from the data
with a Jinja2 template (``templates/views/chart_svg.html``, autoescaped) instead of a
plotting library:
the geometry is computed here, the markup lives with the other views. That costs about
a millisecond per case, where a matplotlib figure rendered to PNG cost over 400 ms in
a batch kernel, and it needs no plotting library in the kernel at all. The same SVG is
shown in the review, kept in the HTML record and printed to PDF (vector, sharp at any
zoom), and it can be read back: each bar carries its bill's due date, amount, days late
and state as ``data-`` attributes, which the tests compare with the bills.

A library that writes SVG (e.g. ``svgwrite``) would only replace string formatting we
already get, escaped, from Jinja2; matplotlib's own SVG backend keeps its ~400 ms of
layout and text measuring. Hence the template.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import pandas as pd

from relief_kit.text import formatting as fmt
from relief_kit.text import labels

#: Colours per bill state: green paid on time, amber late, red open; greys for bills
#: that do not count (colour-blind safe pairs chosen from the Okabe–Ito palette).
STATE_COLOURS = {
    "on_time": "#009E73",
    "late": "#E69F00",
    "open": "#D55E00",
    "waiting": "#B0B7BF",
    "cancelled": "#DDDDDD",
    "renegotiated": "#9AA5B1",
}
_MAX_TICKS = 18

# Layout in SVG user units (pixels at 100 %): the drawing scales with the page width.
WIDTH, HEIGHT = 760, 380
LEFT, RIGHT = 78, 12
AMOUNT_TOP, AMOUNT_HEIGHT = 58, 150
LATENESS_TOP, LATENESS_HEIGHT = 232, 74
BAR_FILL = 0.8  # share of each bill's slot the bar covers


def _tick_positions(count: int) -> list[int]:
    """Every bill's position, thinned so the dd/mm/aaaa labels never overlap."""
    step = max(1, -(-count // _MAX_TICKS))
    positions = list(range(count - 1, -1, -step))  # keep the latest bill labelled
    return sorted(positions)


def nice_ticks(top: float, wanted: int = 4) -> list[float]:
    """Round axis values from 0 up to at least ``top``: steps of 1, 2, 2.5 or 5 × 10ⁿ."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / wanted
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    count = math.ceil(top / step - 1e-9)
    return [round(i * step, 10) for i in range(count + 1)]


@dataclass(frozen=True)
class Bar:
    """One bill drawn: its values (for ``data-`` attributes and the tooltip) and its
    two rectangles, in SVG user units."""

    invoice_id: str
    due: date
    amount: float  # R$
    days_late: int  # days
    state: str
    colour: str
    tooltip: str
    x: float
    width: float
    amount_y: float
    amount_height: float
    lateness_y: float
    lateness_height: float


def chart_data(history: pd.DataFrame, *, grace_days: int | None = None,
               as_of: date | None = None) -> dict:
    """The chart's geometry and labels from :func:`relief_kit.core.history.monthly_history`.

    Amounts in R$ on the upper panel, days late on the lower one, one slot per bill in
    due-date order; axis ticks are round numbers; date labels are dd/mm/aaaa, thinned to
    at most ``_MAX_TICKS``.
    """
    title = "Histórico de pagamentos: cada fatura pelo vencimento"
    if as_of is not None:
        title += f" (dados até {fmt.day(as_of)})"
    base = {"width": WIDTH, "height": HEIGHT, "title": title, "left": LEFT,
            "right": WIDTH - RIGHT, "amount_top": AMOUNT_TOP,
            "amount_bottom": AMOUNT_TOP + AMOUNT_HEIGHT, "lateness_top": LATENESS_TOP,
            "lateness_bottom": LATENESS_TOP + LATENESS_HEIGHT}
    if history.empty:
        return {**base, "bars": [], "empty": True}

    state_labels = labels.group("bill_state")
    amounts = history["amount"].astype(float).fillna(0.0).tolist()
    days = history["days_late"].astype(int).tolist()
    dues = [d.date() for d in history["due_date"]]
    states = history["state"].tolist()
    ids = history["invoice_id"].astype(str).tolist()

    amount_ticks = nice_ticks(max(max(amounts), 1.0) * 1.05)
    amount_scale = AMOUNT_HEIGHT / amount_ticks[-1]
    lateness_ticks = nice_ticks(max(max(days), grace_days or 0, 5), wanted=3)
    lateness_scale = LATENESS_HEIGHT / lateness_ticks[-1]

    slot = (WIDTH - RIGHT - LEFT) / len(history)
    width = max(slot * BAR_FILL, 1.0)
    amount_bottom = AMOUNT_TOP + AMOUNT_HEIGHT
    lateness_bottom = LATENESS_TOP + LATENESS_HEIGHT
    bars = []
    for i, (invoice_id, due, amount, late, state) in enumerate(
            zip(ids, dues, amounts, days, states, strict=True)):
        x = LEFT + i * slot + (slot - width) / 2
        amount_height = max(amount, 0.0) * amount_scale
        late_height = late * lateness_scale
        tooltip = (f"{fmt.day(due)}: {fmt.money(amount)}, {state_labels.get(state, state)}"
                   + (f", {late} dias de atraso" if late else ""))
        bars.append(Bar(invoice_id, due, amount, late, state,
                        STATE_COLOURS.get(state, "#B0B7BF"), tooltip, round(x, 2),
                        round(width, 2), round(amount_bottom - amount_height, 2),
                        round(amount_height, 2), round(lateness_bottom - late_height, 2),
                        round(late_height, 2)))

    def centre(i: int) -> float:
        return round(LEFT + (i + 0.5) * slot, 2)

    shown = [s for s in state_labels if s in set(states)]
    return {
        **base, "empty": False, "bars": bars,
        "amount_ticks": [(round(amount_bottom - v * amount_scale, 2),
                          fmt.money(v).replace("R$ ", "")) for v in amount_ticks],
        "lateness_ticks": [(round(lateness_bottom - v * lateness_scale, 2), fmt.number(v, 0))
                           for v in lateness_ticks],
        "date_ticks": [(centre(i), fmt.day(dues[i])) for i in _tick_positions(len(bars))],
        "legend": [(STATE_COLOURS[s], state_labels[s]) for s in shown],
        "grace": (None if not grace_days else
                  (round(lateness_bottom - grace_days * lateness_scale, 2),
                   f"tolerância: {grace_days} dias")),
    }


def payment_chart_svg(history: pd.DataFrame, *, grace_days: int | None = None,
                      as_of: date | None = None) -> str:
    """Each bill of a customer: its amount coloured by paid on time / late / open, and
    below it the days late, as one ``<svg>`` element (escaped, no script, no link)."""
    from relief_kit.text.render import render

    return render("views/chart_svg.html",
                  chart=chart_data(history, grace_days=grace_days, as_of=as_of))
