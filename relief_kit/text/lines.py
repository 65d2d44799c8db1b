"""One-line Portuguese sentences from the core's codes (``templates/text/lines.toml``).

The core says *what* (a code and numbers: :class:`relief_kit.core.decisions.Problem`,
a follow-up status, a guard finding); this module says it to the analyst, with money as
``R$ 1.234,56`` and dates as ``dd/mm/aaaa``. The sentences live in the catalogue so the
team can reword them without touching code.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from relief_kit import resources
from relief_kit.text import formatting as fmt
from relief_kit.text import labels
from relief_kit.text.render import LazyTemplates

CATALOGUE = resources.template_dir("text") / "lines.toml"


def _number(value) -> str:
    return fmt.number(float(value), 0 if float(value).is_integer() else 2)


@lru_cache(maxsize=1)
def _catalogue() -> dict[str, Mapping[str, Any]]:
    # The kit's one Jinja environment (text.render), each entry compiled at its first
    # use; plain text, never HTML.
    helpers = {"day": fmt.day, "money": fmt.money, "number": _number}
    raw = tomllib.loads(CATALOGUE.read_text(encoding="utf-8"))
    return {section: LazyTemplates(entries, globals=helpers)
            for section, entries in raw.items()}


def line(section: str, code: str, params: Mapping[str, Any] | None = None) -> str:
    """The catalogue's sentence ``section.code`` with ``params`` filled in."""
    return _catalogue()[section][code].render(**dict(params or {}))


def label(section: str, code: str) -> str:
    """A catalogue entry without parameters (a state's name); ``channel`` and
    ``contract_status`` come from the labels catalogue (:mod:`relief_kit.text.labels`)."""
    if section in ("channel", "contract_status"):
        return labels.label(section, code)
    return line(section, code)


def problem_line(problem) -> str:
    """A :class:`~relief_kit.core.decisions.Problem` as one Portuguese sentence."""
    params = dict(problem.params)
    if problem.code == "required_items":
        params["items"] = [labels.label("checklist_item", i) for i in params["items"]]
    return line("decision_problems", problem.code, params)


def problem_lines(problems) -> list[str]:
    return [problem_line(p) for p in problems]
