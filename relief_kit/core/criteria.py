"""The team's criteria file (TOML): loaded, validated, hashed.

Every key the recommendation uses must be present in the file: the code holds no
hidden threshold. A problem is reported in one line naming the file and the key.
"""

from __future__ import annotations

import hashlib
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any

from relief_kit import resources
from relief_kit.core.errors import InputError
from relief_kit.core.schema import BUSINESS_KINDS

DEFAULT_CRITERIA = resources.DEFAULT_CRITERIA

_CHECKLIST_ITEMS = ("documented", "small_business", "at_risk", "asked", "hardship")


@dataclass(frozen=True)
class _Spec:
    kind: type
    low: float | None = None
    high: float | None = None


def _num(low: float | None = None, high: float | None = None) -> _Spec:
    return _Spec(float, low, high)


def _int(low: int | None = None, high: int | None = None) -> _Spec:
    return _Spec(int, low, high)


# section -> key -> spec. Every key is required.
_SPECS: dict[str, dict[str, _Spec]] = {
    "punctuality": {
        "grace_days": _int(0, 60),
        "good_share": _num(0, 1),
        "poor_share": _num(0, 1),
        "min_bills": _int(1, 60),
        "recent_months": _int(1, 24),
        "shock_drop": _num(0, 1),
    },
    "weights": {
        "good_record": _num(-10, 10),
        "fair_record": _num(-10, 10),
        "poor_record": _num(-10, 10),
        "new_customer": _num(-10, 10),
        "recent_shock": _num(-10, 10),
        "relief_kept": _num(-10, 10),
        "relief_broken": _num(-10, 10),
        "small_business": _num(-10, 10),
        "at_risk": _num(-10, 10),
        "high_debt": _num(-10, 10),
        "hardship": _num(-10, 10),
        "grant_threshold": _num(-50, 50),
    },
    "debt": {"high_months": _num(0, 60)},
    "discount": {
        "min_percent": _num(0, 100),
        "max_percent": _num(0, 100),
        "pay_within_days": _int(1, 31),
    },
    "postponement": {"default_days": _int(1, 180), "max_days": _int(1, 180)},
    "instalments": {
        "first_due_days": _int(1, 60),
        "max_count": _int(1, 24),
        "min_amount": _num(0, 100_000),
        "min_debt_months": _num(0, 60),
    },
    "money": {
        "monthly_cost_of_money": _num(0, 1),
        "prefer_asked_within": _num(0, 1),
        "margin_share": _num(0, 1),
        "max_remaining_months": _num(1, 240),
        "monthly_churn_prior": _num(0.001, 1),
        "late_payment_prior": _num(0, 1),
        "recovered_after_termination": _num(0, 1),
        "termination_days": _int(1, 365),
        "refused_payment_factor": _num(0, 1),
    },
    "model": {
        "min_bills": _int(10, 10_000_000),
        "min_events": _int(1, 100_000),
        "validation_months": _int(1, 24),
        "regularisation": _Spec(tuple, 0.0001, 1000),
        "bins": _int(2, 20),
        "validation_folds": _int(2, 10),
        "max_rows": _int(1000, 10_000_000),
    },
    "calibration": {
        "window_days": _int(1, 365),
        "min_bills": _int(1, 100_000),
        "prior_strength": _num(0, 100_000),
    },
    "small_business": {"kinds": _Spec(list)},
    "at_risk": {"refusal_needs_second_analyst": _Spec(bool)},
    "decision": {"required_items": _Spec(list)},
    "suspension": {"avoid_friday_weekend_holidays": _Spec(bool), "state": _Spec(str),
                   "count_from": _Spec(str)},
    "deadlines": {"decide_business_days": _int(1, 60), "tell_business_days": _int(1, 30)},
    "follow_up": {"grace_days": _int(0, 60), "due_soon_business_days": _int(0, 30)},
    "relief": {"max_per_12_months": _int(0, 12)},
    # RGC 765/2023 art. 78 §3: late fine up to 2 %, interest up to 1 % a month.
    "agreement": {
        "late_fees": _Spec(str),
        "fine_percent": _num(0, 2),
        "interest_percent_month": _num(0, 1),
    },
}

#: How the 15 days after the debt notice are counted (RGC 765/2023 art. 70).
#: ``day_after_notice`` (Código Civil art. 132: the first day is left out; the later
#: date, the safe side) or ``notice_day``.
COUNT_FROM = ("day_after_notice", "notice_day")
#: Whether the late fine and interest apply to the amounts of an agreement:
#: ``waived_while_kept`` (none while every date is kept) or ``charged``.
LATE_FEES = ("waived_while_kept", "charged")


@dataclass(frozen=True)
class ExtraItem:
    """A checklist item the team added in the criteria file."""

    key: str
    label: str
    weight: float


_ABSENT = object()  # a dotted key not read yet


@dataclass(frozen=True)
class Criteria:
    """A validated criteria file. Sections are read-only mappings of their keys."""

    version: str
    change_note: str
    sha256: str  # of the file's bytes: `sha256sum criteria.toml` gives the same
    sections: Mapping[str, Mapping[str, Any]]
    extra_items: tuple[ExtraItem, ...]
    source: str = ""

    @property
    def short_hash(self) -> str:
        return self.sha256[:12]

    @cached_property
    def _by_dotted_key(self) -> dict[str, Any]:
        # Filled as keys are read (the money comparison reads a few dozen per case). A
        # cached_property writes the instance's __dict__, which a frozen dataclass
        # allows; it is no field, so equality is unchanged. The sections are read-only.
        return {}

    def __getitem__(self, dotted: str) -> Any:
        """``criteria["discount.max_percent"]``; KeyError for an unknown section or key."""
        found = self._by_dotted_key.get(dotted, _ABSENT)
        if found is _ABSENT:
            section, _, key = dotted.partition(".")
            found = self._by_dotted_key[dotted] = self.sections[section][key]
        return found

    @property
    def required_items(self) -> tuple[str, ...]:
        return tuple(self["decision.required_items"])


def load_criteria(path: str | Path | None = None) -> Criteria:
    """Read and validate a criteria file (the bundled default when ``path`` is None)."""
    path = Path(path) if path is not None else DEFAULT_CRITERIA
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: não foi possível ler o arquivo de critérios ({exc.strerror}).")
    return parse_criteria(raw, source=str(path))


def parse_criteria(raw: bytes, source: str = "criteria.toml") -> Criteria:
    """Validate the bytes of a criteria file."""
    def fail(key: str, message: str) -> InputError:
        return InputError(f"{source}: {key}: {message}")

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"{source}: o arquivo de critérios deve estar em UTF-8.")
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{source}: TOML inválido ({exc}).")

    for key in ("version", "change_note"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise fail(key, "obrigatório, um texto não vazio.")

    sections: dict[str, Mapping[str, Any]] = {}
    for section, specs in _SPECS.items():
        table = data.get(section)
        if not isinstance(table, dict):
            raise fail(f"[{section}]", "seção obrigatória ausente.")
        unknown = sorted(set(table) - set(specs))
        if unknown:
            raise fail(f"{section}.{unknown[0]}", "chave desconhecida (erro de digitação?).")
        values: dict[str, Any] = {}
        for key, spec in specs.items():
            name = f"{section}.{key}"
            if key not in table:
                raise fail(name, "chave obrigatória ausente.")
            values[key] = _checked(table[key], spec, lambda msg, n=name: fail(n, msg))
        sections[section] = MappingProxyType(values)

    _check_consistency(sections, fail)
    extra = _extra_items(data.get("checklist", {}), fail)
    return Criteria(
        version=data["version"].strip(),
        change_note=data["change_note"].strip(),
        sha256=hashlib.sha256(raw).hexdigest(),
        sections=MappingProxyType(sections),
        extra_items=extra,
        source=source,
    )


def _checked(value: Any, spec: _Spec, fail) -> Any:
    if spec.kind is bool:
        if not isinstance(value, bool):
            raise fail(f"deve ser true ou false (encontrado {value!r}).")
        return value
    if spec.kind is str:
        if not isinstance(value, str):
            raise fail(f"deve ser um texto entre aspas (encontrado {value!r}).")
        return value.strip()
    if spec.kind is list:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise fail(f"deve ser uma lista de textos (encontrado {value!r}).")
        return tuple(value)
    if spec.kind is tuple:  # a non-empty list of numbers within the bounds
        if not isinstance(value, list) or not value or not all(
                isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                and spec.low <= v <= spec.high for v in value):
            raise fail(f"deve ser uma lista de números entre {spec.low:g} e {spec.high:g} "
                       f"(encontrado {value!r}).")
        return tuple(float(v) for v in value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail(f"deve ser um número (encontrado {value!r}).")
    if spec.kind is int and not isinstance(value, int):
        raise fail(f"deve ser um número inteiro (encontrado {value!r}).")
    if not math.isfinite(value):  # nan and inf compare false with every bound
        raise fail(f"deve ser um número finito (encontrado {value!r}).")
    if spec.low is not None and value < spec.low or spec.high is not None and value > spec.high:
        raise fail(f"deve estar entre {spec.low:g} e {spec.high:g} (encontrado {value!r}).")
    return value


def _check_consistency(sections: Mapping[str, Mapping[str, Any]], fail) -> None:
    p = sections["punctuality"]
    if p["poor_share"] > p["good_share"]:
        raise fail("punctuality.poor_share", "não pode ser maior que punctuality.good_share.")
    d = sections["discount"]
    if d["min_percent"] > d["max_percent"]:
        raise fail("discount.min_percent", "não pode ser maior que discount.max_percent.")
    post = sections["postponement"]
    if post["default_days"] > post["max_days"]:
        raise fail("postponement.default_days", "não pode ser maior que postponement.max_days.")
    for kind in sections["small_business"]["kinds"]:
        if kind not in BUSINESS_KINDS:
            raise fail("small_business.kinds",
                       f"tipo desconhecido {kind!r}; use um de: {', '.join(BUSINESS_KINDS)}.")
    for item in sections["decision"]["required_items"]:
        if item not in _CHECKLIST_ITEMS:
            raise fail("decision.required_items",
                       f"item desconhecido {item!r}; use um de: {', '.join(_CHECKLIST_ITEMS)}.")
    state = sections["suspension"]["state"]
    if state and (len(state) != 2 or not state.isalpha()):
        raise fail("suspension.state",
                   f"deve ser a sigla da UF, como \"MG\" (encontrado {state!r}).")
    for name, allowed in (("suspension.count_from", COUNT_FROM),
                          ("agreement.late_fees", LATE_FEES)):
        section, _, key = name.partition(".")
        if sections[section][key] not in allowed:
            raise fail(name, f"use um de: {', '.join(allowed)} "
                             f"(encontrado {sections[section][key]!r}).")


def _extra_items(checklist: Any, fail) -> tuple[ExtraItem, ...]:
    if not isinstance(checklist, dict):
        raise fail("[checklist]", "deve ser uma seção.")
    items = checklist.get("extra", [])
    if not isinstance(items, list):
        raise fail("checklist.extra", "deve ser uma lista de itens [[checklist.extra]].")
    seen: set[str] = set()
    result = []
    for i, item in enumerate(items, start=1):
        where = f"checklist.extra[{i}]"
        if not isinstance(item, dict):
            raise fail(where, "deve ser uma tabela com key, label e weight.")
        key, label, weight = item.get("key"), item.get("label"), item.get("weight")
        if not isinstance(key, str) or not key.isidentifier():
            raise fail(f"{where}.key", "obrigatório, só letras, números e _ (ex.: lost_income).")
        if key in seen or key in _CHECKLIST_ITEMS:
            raise fail(f"{where}.key", f"{key!r} repetido ou reservado.")
        if not isinstance(label, str) or not label.strip():
            raise fail(f"{where}.label", "obrigatório, a pergunta que o analista vê.")
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise fail(f"{where}.weight", f"deve ser um número (encontrado {weight!r}).")
        if not math.isfinite(weight) or not -10 <= weight <= 10:
            raise fail(f"{where}.weight", f"deve ser um número entre -10 e 10 (encontrado "
                                          f"{weight!r}).")
        seen.add(key)
        result.append(ExtraItem(key=key, label=label.strip(), weight=float(weight)))
    return tuple(result)


__all__ = ["Criteria", "ExtraItem", "load_criteria", "parse_criteria"]
