"""The machine-readable facts of a case: what ``case.json`` holds in the archive.

The review notebook computes a case and hands these facts to the batch as a display
output of mimetype ``batch.FACTS_MIMETYPE`` (not rendered in the record), so the HTML
record, ``case.json`` and the messages all come from one computation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from relief_kit.core.model import (
    Action,
    Checklist,
    Customer,
    HistoryFeatures,
    Recommendation,
    ReliefRequest,
)
from relief_kit.text import formatting as fmt
from relief_kit.text import labels
from relief_kit.text.reasons import change_text, event_text, reason_text

FACTS_MIMETYPE = "application/vnd.relief-kit.case+json"
#: Key of the customer's e-mail and phone in the published facts: the batch takes it
#: out for the messages and keeps it out of ``case.json`` and the executed notebook.
CONTACT_KEY = "contact"

CHANNEL_LABELS = labels.group("channel")


def jsonable(value: Any) -> Any:
    """Plain JSON values: dataclasses → dicts, Decimal → "12.34", dates → ISO."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and value != value:  # NaN
        return None
    return value


def recommendation_facts(recommendation: Recommendation) -> dict:
    """The recommendation as plain JSON values; each reason, note, event and change keeps
    its code and parameters and gains its rendered Portuguese ``text``, so ``case.json``
    says what a lawyer reads and what the core decided on."""
    facts = jsonable(recommendation)
    for reason, out in zip(recommendation.reasons, facts["reasons"], strict=True):
        out["text"] = reason_text(reason)
    for change, out in zip(recommendation.what_would_change, facts["what_would_change"],
                           strict=True):
        out["text"] = change_text(change)
    if recommendation.model_note is not None:
        facts["model_note"]["text"] = reason_text(recommendation.model_note)
    for option, out in zip(recommendation.options, facts["options"], strict=True):
        if option.note is not None:
            out["note"]["text"] = reason_text(option.note)
        for event, event_out in zip(option.events, out["events"], strict=True):
            event_out["text"] = event_text(event)
    return facts


def case_facts(
    *,
    request: ReliefRequest,
    customer: Customer,
    features: HistoryFeatures,
    checklist: Checklist,
    recommendation: Recommendation,
    decision: Any | None,
    regulatory: Any | None,
    provider: Any,
    criteria_source: str,
    as_of: date,
    generated_at: datetime,
    masked_document: str,
    agreement: Mapping | None = None,
) -> dict:
    """Everything a case record states, as plain JSON values.

    The customer's full document is not repeated here (``masked_document``): the
    facts serve the record and the archive index, not collection.
    """
    decided = decision is not None
    action = Action(decision.action) if decided else recommendation.action
    facts = {
        "request_id": request.request_id,
        "request": {
            **jsonable(request),
            "documented": request.documented,
            "received_at_text": fmt.moment(request.received_at),
            "channel_label": CHANNEL_LABELS.get(request.channel, request.channel),
        },
        "customer": {
            "customer_id": customer.customer_id,
            "name": customer.name,
            "person_type": customer.person_type,
            "document_masked": masked_document,
            "plan": customer.plan,
            "monthly_fee": jsonable(customer.monthly_fee),
            "neighbourhood": customer.neighbourhood,
            "city": customer.city,
            "customer_since": jsonable(customer.customer_since),
            "contract_status": customer.contract_status,
        },
        "features": jsonable(features),
        "checklist": jsonable(checklist),
        "recommendation": {
            **recommendation_facts(recommendation),
            "action_label": labels.action(recommendation.action),
        },
        "decision": ({**jsonable(decision), "action_label": labels.action(decision.action)}
                     if decided else None),
        "outcome_action": action.value,
        "status_key": "decided" if decided else "pending",
        "status": (f"Decidido: {labels.action(action)}" if decided else
                   f"Aguardando decisão (recomendação: {labels.action(recommendation.action)})"),
        "regulatory": jsonable(regulatory) if regulatory is not None else None,
        "criteria": {"version": recommendation.criteria_version,
                     "sha256": recommendation.criteria_hash, "source": criteria_source},
        # Whether fine and interest apply to the agreed amounts (criteria [agreement]).
        "agreement": dict(agreement) if agreement is not None else None,
        "provider": {"name": provider.name, "cnpj": provider.cnpj},
        "as_of": as_of.isoformat(),
        "as_of_text": fmt.day(as_of),
        "generated_at": generated_at.isoformat(timespec="seconds"),
        "generated_at_text": fmt.moment(generated_at),
    }
    return facts


def facts_of(case, generated_at: datetime | None = None) -> dict:
    """The facts of a ``case.Case`` (what the notebook hands to the batch)."""
    from relief_kit.core.documents import mask_document

    return case_facts(
        request=case.request, customer=case.customer, features=case.features,
        checklist=case.checklist, recommendation=case.recommendation, decision=case.decision,
        regulatory=case.regulatory, provider=case.provider,
        criteria_source=case.criteria.source, as_of=case.today,
        generated_at=generated_at or datetime.now().replace(microsecond=0),
        masked_document=mask_document(case.customer.document),
        agreement=case.criteria.sections.get("agreement"),
    )


def publish_facts(case) -> None:
    """Display the facts as an output the batch reads and the record does not show.

    The customer's contact rides along under ``CONTACT_KEY`` so the batch renders the
    messages from what the kernel already read, instead of reading the folder again.
    """
    from IPython.display import display

    contact = {"email": case.customer.email, "phone": case.customer.phone}
    display({FACTS_MIMETYPE: {**facts_of(case), CONTACT_KEY: contact}}, raw=True)
