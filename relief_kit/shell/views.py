"""The case as HTML: what the review notebook shows and the archived record keeps.

Every fragment is rendered from ``templates/views/`` by Jinja2 with autoescaping on,
so whatever a customer wrote (a name, a WhatsApp message, an e-mail) reaches the page
as text, never as markup. Nothing here loads a script, a font or an image from the
network: the record must open offline and call no one.

A fragment is a :class:`Fragment`: the notebook shows it as HTML, and ``str()`` gives
the markup (tests, widgets).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from relief_kit.core.model import Checklist, Recommendation
from relief_kit.text import labels
from relief_kit.text import render as text_render

#: Checklist items and customer facts shown by label (the catalogue's groups).
AT_RISK_LABELS = labels.group("at_risk")
ASK_LABELS = labels.group("ask")
CHANNEL_LABELS = labels.group("channel")


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


def render(template: str, **context: Any) -> Fragment:
    """Render ``templates/views/<template>`` (escaped) into a fragment."""
    html = text_render.render(f"views/{template}", **context)
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


def payment_chart(case) -> Fragment:
    """The payment-history chart as inline SVG (the same in the review, the record and
    its PDF; see ``charts.py``)."""
    from markupsafe import Markup

    from relief_kit.shell.charts import payment_chart_svg

    svg = payment_chart_svg(case.history, grace_days=int(case.criteria["punctuality.grace_days"]),
                            as_of=case.today)
    return render("chart.html", svg=Markup(svg))


def chart_html(case) -> Fragment:
    """The chart for pages outside a notebook: the same fragment as :func:`payment_chart`."""
    return payment_chart(case)


def history_section(case, expanded: bool = False) -> Fragment:
    """The history features and the list of bills (folded unless ``expanded``: a
    record shows everything, a reviewer unfolds it)."""
    return render("history.html", features=case.features, history=case.history,
                  criteria=case.criteria, today=case.today, expanded=expanded)


def written_request(case, reveal: bool = False) -> Fragment:
    """The written request as the customer wrote it (escaped): WhatsApp or e-mail.

    Phones and CPF/CNPJ in it (a chat author saved as a number, a number typed in a
    message) are masked like the customer card's unless ``reveal``.
    """
    return render("written_request.html", request=case.request,
                  written=case.written_request, problem=case.evidence_problem,
                  reveal=reveal)


def regulatory_section(case, expanded: bool = False) -> Fragment:
    """The earliest suspension and termination dates without an agreement, and their
    legal grounds (folded unless ``expanded``)."""
    from relief_kit.core.regulatory import regime_on

    return render("regulatory.html", dates=case.regulatory, today=case.today,
                  current_regime=regime_on(case.today), expanded=expanded)


def recommendation_panel(recommendation: Recommendation, case,
                         checklist: Checklist | None = None, *,
                         elapsed_ms: float | None = None, part: str = "all",
                         expanded: bool = False) -> Fragment:
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
        elapsed_ms=elapsed_ms, part=part, expanded=expanded,
    )


def answers_and_decision(case) -> Fragment:
    """The checklist answers and every recorded decision, as plain HTML (the record)."""
    from relief_kit.core.terms import stale_dates

    # Messages are produced no earlier than today's date (messages.production_day).
    today = max(case.today, date.today())
    stale = stale_dates(case.decision.terms, today) if case.decision else ()
    return render("answers.html", case=case, checklist=case.checklist,
                  extra_items=case.criteria.extra_items, decision=case.decision,
                  stale=stale, today=today,
                  earlier=list(case.decisions[:-1]) if case.decisions else [],
                  answers_restored=case.answers_restored)


def record_sections(case) -> Fragment:
    """What the non-interactive record shows in place of the widgets."""
    return (recommendation_panel(case.recommendation, case, expanded=True)
            + answers_and_decision(case) + after_decision(case))


def message(text: str, kind: str = "info") -> Fragment:
    """A one-line notice (``info``, ``ok``, ``error``) for the decision area."""
    return render("message.html", text=text, kind=kind)


def _item_labels() -> Mapping[str, str]:
    return labels.group("checklist_item")


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
    """Every decision recorded for the case, newest first (the review's decision area),
    then when and how the customer was told and the ERP actions of the latest one."""
    return render("decision_history.html", decisions=list(case.decisions)) + after_decision(
        case)


#: Columns of the ERP actions shown in the record (the file has them all).
_SHOWN_ACTION_COLUMNS = ("acao", "id_fatura", "ids_faturas_origem", "parcela", "vencimento",
                         "data_vencimento", "valor", "valor_desconto", "motivo_cnab",
                         "desbloqueio_confianca", "data_promessa")


def after_decision(case) -> Fragment:
    """When and how the customer was told, and the ERP actions of the latest decision."""
    from relief_kit.core import erp_actions
    from relief_kit.shell.aftercare import actions_of
    from relief_kit.text.lines import label

    decision = case.decision
    store = case.store
    sent = [m for m in store.messages_sent(case.request_id)] if store is not None else []
    rows = actions_of(case.data_dir, decision) if decision is not None else []
    columns = [c for c in _SHOWN_ACTION_COLUMNS if any(r[c] for r in rows)]
    return render("after_decision.html", sent=sent, decided=decision is not None, rows=rows,
                  columns=columns, channels={c: label("channel", c)
                                             for c in ("whatsapp", "email")},
                  file=erp_actions.file_name(decision.decided_at.date()) if decision else "")
