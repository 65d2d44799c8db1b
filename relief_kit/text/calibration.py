"""The band calibration's table in Portuguese (:meth:`relief_kit.core.calibration.
Calibration.table` gives codes and numbers): headers, groups and notes from
``templates/text/reasons.pt_BR.toml`` (``[calibration]``), bands from
``templates/text/labels.pt_BR.toml`` (``[band]``, ``[arrangement]``,
``[calibration_scope]``)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from relief_kit.text import labels
from relief_kit.text.reasons import catalogue_text

#: The table's rate columns (shares in [0, 1], shown as percentages).
RATE_COLUMNS = ("observed", "toward", "used")


def calibration_table(table: pd.DataFrame, window_days: int
                      ) -> tuple[list[tuple[str, str]], list[dict[str, Any]]]:
    """``(columns, rows)`` for a view: ``columns`` are (code, Portuguese header) in the
    table's order; each row maps a code to its value, with ``group``, ``scope`` and
    ``note`` in Portuguese ("" for no note) and the numbers as they are (a view formats
    the :data:`RATE_COLUMNS` as percentages; None or NaN is "no value")."""
    params = {"window": window_days}
    columns = [(code, catalogue_text("calibration", f"column_{code}", params))
               for code in table.columns]
    rows = []
    for record in table.to_dict("records"):
        row = dict(record)
        kind = record["group"]
        row["group"] = catalogue_text("calibration", "group_ordinary", params) \
            if kind == "ordinary" else catalogue_text("calibration", "group_agreement", {
                **params, "kind": labels.label("arrangement", kind)})
        scope = record["scope"]
        row["scope"] = labels.label("band", scope) if scope in labels.group("band") \
            else labels.label("calibration_scope", scope)
        note = record["note"]
        row["note"] = "" if note is None else catalogue_text(
            "calibration", note.code, {**note.params, **params})
        rows.append(row)
    return columns, rows
