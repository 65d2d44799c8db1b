"""The catalogue of Portuguese labels: ``templates/text/labels.pt_BR.toml``.

The code knows values by their stored keys (``blocked_financial``, ``on_time``,
``discount``); what a person reads for each key lives in the catalogue, so the team
rewords a label without touching code, and every view, record, message and report says
the same thing.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType

from relief_kit import resources

CATALOGUE = resources.template_dir("text") / "labels.pt_BR.toml"


@lru_cache(maxsize=1)
def catalogue() -> Mapping[str, Mapping[str, str]]:
    """Every group of labels: ``catalogue()["channel"]["email"] == "e-mail"``."""
    data = tomllib.loads(CATALOGUE.read_text(encoding="utf-8"))
    return MappingProxyType({group: MappingProxyType(dict(items))
                             for group, items in data.items()})


def group(name: str) -> Mapping[str, str]:
    """One group of labels (``"band"``, ``"channel"``...); KeyError for an unknown group."""
    return catalogue()[name]


def label(group_name: str, key, default: str | None = None) -> str:
    """The label of ``key`` (a string or a StrEnum) in ``group_name``.

    An unknown key gives ``default``, or the key itself when no default is given: a
    value the catalogue does not know yet is shown as stored, never hidden.
    """
    key = "" if key is None else str(getattr(key, "value", key))
    found = group(group_name).get(key)
    if found is not None:
        return found
    return key if default is None else default


def action(value) -> str:
    """The label of an :class:`~relief_kit.core.model.Action` (or its value); "—" for none."""
    return label("action", value, "—") if value else "—"


def criterion(key: str) -> str:
    """The Portuguese name of a criterion key (``weights.good_record`` → "peso da boa
    pontualidade"); a team item ``checklist.extra.<item>`` is "item da equipe"; "" for
    none; an unknown key is shown as it is."""
    if not key:
        return ""
    if key.startswith("checklist.extra."):
        key = "checklist.extra"
    return label("criterion", key)
