"""The sentences of a recommendation, from the core's reason codes
(``templates/text/reasons.pt_BR.toml``).

The core says *what* — a :class:`~relief_kit.core.model.Reason` (a code, the criterion
behind it and the plain values it used), an :class:`~relief_kit.core.model.Event` of the
money comparison, a :class:`~relief_kit.core.model.Change` that would change the
recommendation; this module says it in Portuguese through the kit's one Jinja environment
(:func:`relief_kit.text.render.environment`), so the team rewords a reason without
touching the core. Each also accepts the same values read back from ``case.json``
(a mapping with ``code`` and ``params``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from datetime import date
from functools import lru_cache
from typing import Any

from jinja2 import Template

from relief_kit import resources
from relief_kit.text import formatting as fmt

CATALOGUE = resources.template_dir("text") / "reasons.pt_BR.toml"


def points(value: float) -> str:
    """Points of a scored reason: ``+2 pontos``, ``−1,5 ponto``... ``0 pontos``."""
    if value == 0:
        return "0 pontos"
    sign = "+" if value > 0 else "−"
    shown = fmt.number(abs(value), 0 if float(value).is_integer() else 1)
    return f"{sign}{shown} ponto{'s' if abs(value) != 1 else ''}"


@lru_cache(maxsize=1)
def _catalogue() -> dict[str, Mapping[str, Template]]:
    # The kit's environment, each entry compiled at its first use (text.render);
    # plain text: a string template is never autoescaped.
    from relief_kit.text.render import LazyTemplates

    raw = tomllib.loads(CATALOGUE.read_text(encoding="utf-8"))
    return {section: LazyTemplates(entries) for section, entries in raw.items()}


def _field(value: Any, name: str, default: Any = None) -> Any:
    if isinstance(value, Mapping):
        return value.get(name, default)
    return getattr(value, name, default)


def _render(section: str, code: str, params: Mapping[str, Any] | None = None) -> str:
    return _catalogue()[section][code].render(**dict(params or {}))


def catalogue_text(section: str, code: str, params: Mapping[str, Any] | None = None) -> str:
    """One entry of the catalogue, ``[section]`` ``code``, rendered with ``params``;
    KeyError for an unknown section or code."""
    return _render(section, code, params)


def reason_text(reason: Any) -> str:
    """A reason (or an option's note, the model note) as its Portuguese sentence; "" for
    none. A reason that scored points ends with them (``[format].scored``)."""
    if not reason:
        return ""
    params = _expanded(dict(_field(reason, "params") or {}))
    code = _field(reason, "code")
    if code not in _catalogue()["reason"]:
        return model_note_text(reason)
    sentence = _render("reason", code, params)
    if "points" in params:
        return _render("format", "scored", {"sentence": sentence, "points": params["points"]})
    return sentence


def _expanded(params: dict) -> dict:
    """Nested codes a sentence names: a fact of the payment model (``fact`` →
    ``fact_label``) and why the model is or is not used (``why`` → ``why_text``)."""
    if "fact" in params:
        params["fact_label"] = _render("fact", params["fact"])
    if "why" in params:
        params["why_text"] = _render("model_note", params["why"], params)
    if "cutoff" in params and isinstance(params["cutoff"], str):  # read back from JSON
        params["cutoff"] = date.fromisoformat(params["cutoff"])
    return params


def model_note_text(note: Any) -> str:
    """Why the payment model is or is not used (``PaymentModel.note``), in Portuguese."""
    if not note:
        return ""
    return _render("model_note", _field(note, "code"),
                   _expanded(dict(_field(note, "params") or {})))


def reason_lines(reasons: Any, indent: str = "    ") -> list[str]:
    """Reasons as plain-text lines for a terminal: each sentence with its criterion's
    Portuguese name and a footnote number; then one footnote line per criterion key.

    ``reasons``: Reason objects or their ``case.json`` mappings. A reason with no
    criterion (the source of the chances) has no footnote. Example::

        • Pagou 100% das faturas em dia: … (+2 pontos). — critério: peso da boa pontualidade [1]
        [1] weights.good_record
    """
    from relief_kit.text import labels

    lines, keys = [], []
    for reason in reasons:
        sentence = reason_text(reason)
        key = _field(reason, "criterion") or ""
        if key:
            if key not in keys:
                keys.append(key)
            sentence += f" — critério: {labels.criterion(key)} [{keys.index(key) + 1}]"
        lines.append(f"{indent}• {sentence}")
    lines += [f"{indent}  [{number}] {key}" for number, key in enumerate(keys, start=1)]
    return lines


def event_text(event: Any) -> str:
    """A branch of an option's event tree: ``não pago no prazo; pago em até 30 dias``."""
    params = dict(_field(event, "params") or {})
    after = params.get("after", "")
    params["after"] = _render("event_after", after, params) if after else ""
    return _render("event", _field(event, "code"), params)


def change_text(change: Any) -> str:
    """What would change the recommendation, as one sentence: ``Com o pedido explicado por
    escrito (e-mail ou WhatsApp), a recomendação seria recusa: sem acordo sobre …``."""
    joiner = _catalogue()["format"]["change_joiner"].render()
    what = joiner.join(_render("change", _field(w, "code"), _field(w, "params"))
                       for w in _field(change, "what"))
    action = _field(change, "action")
    terms = _field(change, "terms")
    return _render("format", "change", {"what": what, "action": action, "terms": terms})


def filters() -> dict:
    """The filters this module adds to the environment (see :mod:`relief_kit.text.render`)."""
    return {"points": points, "reason_text": reason_text, "event_text": event_text,
            "model_note_text": model_note_text,
            "change_text": change_text}
