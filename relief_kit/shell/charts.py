"""The payment-history chart of the review and the case record.

Built on ``matplotlib.figure.Figure`` directly, never ``pyplot``: no global figure
state, nothing to close between cases in a reused batch kernel, and it works on the
Agg backend of a server without a display.
"""

from __future__ import annotations

import io
from datetime import date

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

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


def _tick_positions(count: int) -> list[int]:
    """Every bill's position, thinned so the dd/mm/aaaa labels never overlap."""
    step = max(1, -(-count // _MAX_TICKS))
    positions = list(range(count - 1, -1, -step))  # keep the latest bill labelled
    return sorted(positions)


def payment_chart(history: pd.DataFrame, *, grace_days: int | None = None,
                  as_of: date | None = None) -> Figure:
    """Each bill of a customer: its amount coloured by paid on time / late / open, and
    below it the days late. ``history`` is :func:`relief_kit.core.history.monthly_history`.
    """
    figure = Figure(figsize=(9.5, 4.6), dpi=96, layout="constrained")
    amounts, lateness = figure.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    if history.empty:
        amounts.text(0.5, 0.5, "Nenhuma fatura registrada para este cliente.",
                     ha="center", va="center", transform=amounts.transAxes)
        amounts.set_axis_off()
        lateness.set_axis_off()
        return figure

    positions = list(range(len(history)))
    states = history["state"].tolist()
    colours = [STATE_COLOURS.get(s, "#B0B7BF") for s in states]
    amounts.bar(positions, history["amount"].astype(float), color=colours,
                edgecolor="#4A5560", linewidth=0.4)
    amounts.set_ylabel("Valor da fatura (R$)")
    amounts.yaxis.set_major_formatter(lambda value, _: fmt.money(value).replace("R$ ", ""))
    title = "Histórico de pagamentos: cada fatura pelo vencimento"
    if as_of is not None:
        title += f" (dados até {fmt.day(as_of)})"
    amounts.set_title(title, fontsize=11, loc="left")
    state_labels = labels.group("bill_state")
    shown = [s for s in state_labels if s in set(states)]
    amounts.legend(handles=[Patch(facecolor=STATE_COLOURS[s], edgecolor="#4A5560",
                                  label=state_labels[s]) for s in shown],
                   loc="upper left", fontsize=8, ncols=min(len(shown), 4), frameon=False,
                   bbox_to_anchor=(0, 1.0))
    top = float(history["amount"].max() or 1.0)
    amounts.set_ylim(0, top * 1.3)  # room for the legend above the bars

    days = history["days_late"].astype(int)
    lateness.bar(positions, days, color=colours, edgecolor="#4A5560", linewidth=0.4)
    lateness.set_ylabel("Dias de atraso")
    if grace_days:
        lateness.axhline(grace_days, color="#5B6670", linewidth=0.8, linestyle="--")
        lateness.annotate(f"tolerância: {grace_days} dias", xy=(0, grace_days),
                          xytext=(2, 2), textcoords="offset points", fontsize=8,
                          color="#5B6670")
    lateness.set_ylim(0, max(int(days.max()), grace_days or 0, 5) * 1.15)
    ticks = _tick_positions(len(history))
    lateness.set_xticks(ticks)
    lateness.set_xticklabels([fmt.day(history["due_date"].iloc[i]) for i in ticks],
                             rotation=60, ha="right", fontsize=8)
    lateness.set_xlabel("Vencimento")
    for axis in (amounts, lateness):
        axis.spines[["top", "right"]].set_visible(False)
        axis.grid(axis="y", color="#E3E7EA", linewidth=0.6)
        axis.set_axisbelow(True)
    return figure


def png_bytes(figure: Figure) -> bytes:
    """The figure as PNG bytes (for a notebook output or an inline ``<img>``)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=figure.dpi)
    return buffer.getvalue()
