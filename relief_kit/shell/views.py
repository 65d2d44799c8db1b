"""The case as HTML: what the review notebook shows and the archived record keeps.

Every fragment is rendered from ``templates/views/`` by Jinja2 with autoescaping on,
so whatever a customer wrote (a name, a WhatsApp message, an e-mail) reaches the page
as text, never as markup. Nothing here loads a script, a font or an image from the
network: the record must open offline and call no one.

A fragment is a :class:`Fragment`: the notebook shows it as HTML, and ``str()`` gives
the markup (tests, widgets).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from relief_kit import resources
from relief_kit.core.calibration import BAND_LABELS
from relief_kit.core.model import Action, Checklist, Recommendation
from relief_kit.core.schema import HARDSHIP_LABELS
from relief_kit.shell.facts import CHANNEL_LABELS
from relief_kit.text import formatting as fmt

TEMPLATES = resources.template_dir("views")

AT_RISK_LABELS = {"idoso": "Idoso", "doenca_cronica": "Doença crônica",
                  "deficiencia": "Deficiência", "outro": "Outro"}
ASK_LABELS = {"discount": "Desconto", "new_date": "Nova data de pagamento",
              "instalments": "Parcelamento", "not_said": "Não disse"}
PERSON_TYPE_LABELS = {"PF": "Pessoa física", "PJ": "Pessoa jurídica"}
CONTRACT_STATUS_LABELS = {"": "não informada", "active": "ativa",
                          "blocked_manual": "bloqueada manualmente",
                          "blocked_auto": "bloqueada automaticamente",
                          "blocked_financial": "bloqueada por débito",
                          "disabled": "desativada"}
BUSINESS_KIND_LABELS = {"padaria": "padaria", "salao": "salão de beleza",
                        "oficina": "oficina", "loja": "loja", "mercearia": "mercearia",
                        "escritorio": "escritório", "outro": "outro"}
CUSTOMER_RULE_LABELS = {
    "provider_authors": "o cliente é quem não aparece com o nome do provedor",
    "first_author": "o cliente é quem escreveu a primeira mensagem",
    "none": "nenhuma mensagem de pessoa na conversa",
}


@dataclass(frozen=True, repr=False)
class Fragment:
    """A piece of HTML the notebook displays as HTML (and only as HTML)."""

    html: str
    title: str = ""

    def _repr_html_(self) -> str:
        return self.html

    def __str__(self) -> str:
        return self.html

    def __repr__(self) -> str:
        # The plain-text copy IPython keeps beside the HTML: a name, not the markup.
        return f"<relief-kit: {self.title or 'html'}>"

    def __add__(self, other: Fragment) -> Fragment:
        return Fragment(self.html + str(other), self.title or getattr(other, "title", ""))


# --------------------------------------------------------------------------- rendering


def _money(value) -> str:
    if value is None or value != value:  # None or NaN
        return "—"
    return fmt.money(Decimal(str(value)) if isinstance(value, float) else value)


def _day(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if value != value:  # NaT
        return "—"
    return fmt.day(value)


def _moment(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        from relief_kit.sources.evidence import _local_zone

        value = value.astimezone(_local_zone()).replace(tzinfo=None)
    if isinstance(value, date) and not isinstance(value, datetime):
        return fmt.day(value)
    return fmt.moment(value)


#: Characters a person never types but that change what a reader sees: C0/C1 controls
#: (a terminal escape, a bell) and the bidirectional overrides, embeddings and isolates
#: that can make "arquivo.exe" read as "exe.ovihcra". WhatsApp wraps phone numbers in
#: U+202A…U+202C, harmless once every customer text is isolated (see _style.html).
_INVISIBLE = {**{c: chr(0x2400 + c) for c in range(0x20) if chr(c) not in "\n\r\t"},
              0x7F: "\u2421",
              **{c: f"[U+{c:04X}]" for c in range(0x80, 0xA0)},
              **{c: f"[U+{c:04X}]" for c in (0x202B, 0x202D, 0x202E, 0x2066, 0x2067,
                                              0x2068, 0x2069)}}


def visible(value: Any) -> Any:
    """Customer text as it is, with every control shown as a symbol instead of obeyed.

    The Jinja ``finalize`` of the views: applied to every ``{{ }}`` before escaping,
    never to markup the kit built itself.
    """
    if isinstance(value, str) and not hasattr(value, "__html__"):
        return value.translate(_INVISIBLE)
    return value


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The Jinja2 environment of the views: autoescape on for every template."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=visible,
    )
    env.filters.update(
        money=_money, day=_day, moment=_moment, percent=fmt.percent, number=fmt.number,
        yes_no=fmt.yes_no, terms=lambda terms, action: fmt.terms_text(action, terms),
        action_label=lambda action: Action(action).label if action else "—",
    )
    env.globals.update(
        AT_RISK_LABELS=AT_RISK_LABELS, ASK_LABELS=ASK_LABELS, CHANNEL_LABELS=CHANNEL_LABELS,
        PERSON_TYPE_LABELS=PERSON_TYPE_LABELS, CONTRACT_STATUS_LABELS=CONTRACT_STATUS_LABELS,
        BUSINESS_KIND_LABELS=BUSINESS_KIND_LABELS, BAND_LABELS=BAND_LABELS,
        CUSTOMER_RULE_LABELS=CUSTOMER_RULE_LABELS, Action=Action,
        HARDSHIP_LABELS=HARDSHIP_LABELS,
    )
    return env


def render(template: str, **context: Any) -> Fragment:
    """Render ``templates/views/<template>`` (escaped) into a fragment."""
    html = environment().get_template(template).render(**context)
    return Fragment(html, template)


# --------------------------------------------------------------------------- sections


def case_header(case) -> Fragment:
    """Title, confidentiality notice and the request's place in the process."""
    return render("header.html", case=case, request=case.request)


def customer_card(case, reveal: bool = False) -> Fragment:
    """The customer and the contract; CPF/CNPJ and phone masked unless ``reveal``."""
    from relief_kit.core.documents import format_phone, mask_document, mask_phone
    from relief_kit.core.values import ValueProblem

    customer = case.customer
    if reveal:
        from relief_kit.core.documents import format_document

        try:
            document = format_document(customer.document)
        except ValueProblem:
            document = customer.document
        try:
            phone = format_phone(customer.phone) if customer.phone else ""
        except ValueProblem:
            phone = customer.phone
    else:
        document = mask_document(customer.document)
        phone = mask_phone(customer.phone) if customer.phone else ""
    return render("customer.html", customer=customer, features=case.features,
                  document=document, phone=phone, reveal=reveal,
                  document_kind="CNPJ" if customer.person_type == "PJ" else "CPF")


def payment_chart(case):
    """The payment-history chart as a PNG image output (inline in the record)."""
    from IPython.display import Image

    from relief_kit.shell.charts import payment_chart as chart
    from relief_kit.shell.charts import png_bytes

    figure = chart(case.history, grace_days=int(case.criteria["punctuality.grace_days"]),
                   as_of=case.today)
    return Image(data=png_bytes(figure), format="png")


def chart_html(case) -> Fragment:
    """The chart as an ``<img>`` with a data: URI (for pages outside a notebook)."""
    from relief_kit.shell.charts import payment_chart as chart
    from relief_kit.shell.charts import png_bytes

    figure = chart(case.history, grace_days=int(case.criteria["punctuality.grace_days"]),
                   as_of=case.today)
    encoded = base64.b64encode(png_bytes(figure)).decode("ascii")
    return render("chart.html", encoded=encoded)


def history_section(case, expanded: bool = False) -> Fragment:
    """The history features and the list of bills (folded unless ``expanded``: a
    record shows everything, a reviewer unfolds it)."""
    return render("history.html", features=case.features, history=case.history,
                  criteria=case.criteria, today=case.today, expanded=expanded)


def written_request(case) -> Fragment:
    """The written request as the customer wrote it (escaped): WhatsApp or e-mail."""
    return render("written_request.html", request=case.request,
                  written=case.written_request, problem=case.evidence_problem)


def regulatory_section(case, expanded: bool = False) -> Fragment:
    """The earliest suspension and termination dates without an agreement, and their
    legal grounds (folded unless ``expanded``)."""
    return render("regulatory.html", dates=case.regulatory, expanded=expanded)


def recommendation_panel(recommendation: Recommendation, case,
                         checklist: Checklist | None = None, *,
                         elapsed_ms: float | None = None, part: str = "all") -> Fragment:
    """Action, terms, reasons with their criterion keys, the money comparison of the
    options and how the payment chances were calibrated.

    ``part``: ``"summary"`` (action, terms, reasons), ``"options"`` (the comparison and
    the calibration note) or ``"all"``.
    """
    band = case.features.punctuality_band
    ordinary = case.calibration.ordinary.get(band)
    return render(
        "recommendation.html", rec=recommendation, case=case,
        checklist=checklist or case.checklist, band=band, ordinary=ordinary,
        calibration=case.calibration, item_labels=_item_labels(),
        elapsed_ms=elapsed_ms, part=part,
    )


def answers_and_decision(case) -> Fragment:
    """The checklist answers and every recorded decision, as plain HTML (the record)."""
    return render("answers.html", case=case, checklist=case.checklist,
                  extra_items=case.criteria.extra_items, decision=case.decision,
                  earlier=list(case.decisions[:-1]) if case.decisions else [],
                  answers_restored=case.answers_restored)


def record_sections(case) -> Fragment:
    """What the non-interactive record shows in place of the widgets."""
    return recommendation_panel(case.recommendation, case) + answers_and_decision(case)


def message(text: str, kind: str = "info") -> Fragment:
    """A one-line notice (``info``, ``ok``, ``error``) for the decision area."""
    return render("message.html", text=text, kind=kind)


def _item_labels() -> Mapping[str, str]:
    from relief_kit.core.recommend import ITEM_LABELS

    return ITEM_LABELS


def install_error_display() -> None:
    """In a notebook, show a kit error as its one Portuguese line, not a traceback."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    from relief_kit.core.errors import ReliefKitError

    def one_line(shell, etype, value, tb, tb_offset=None):
        # Shown as the whole "traceback": the error output keeps the exception's name
        # and message (papermill still fails the cell) and the analyst reads one line.
        lines = [f"\x1b[31merro: {value}\x1b[0m"]
        shell._showtraceback(etype, value, lines)
        return lines

    shell.set_custom_exc((ReliefKitError,), one_line)


def decision_history(case) -> Fragment:
    """Every decision recorded for the case, newest first (the review's decision area)."""
    return render("decision_history.html", decisions=list(case.decisions))
