"""The analyst's review app: the checklist in ipywidgets, a live recommendation, the
decision recorded in the case store.

The app is a thin shell: answers go into a :class:`~relief_kit.core.model.Checklist`, the
pure ``recommend`` function prices and explains, :mod:`relief_kit.shell.views` renders, and
the case store keeps answers and decisions. Widget state is never the record: the
store is (JupyterLab does not save widget state, and an exported widget would load
its code from a CDN).

ipywidgets is imported at the first widget built (:data:`w`), not with this module: a
record (``interactive=False``, the batch) shows plain HTML and never builds one, and the
import is about 40 ms of each batch kernel's start-up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from relief_kit.core import decisions
from relief_kit.core import terms as agreed
from relief_kit.core.calendar import NATIONAL, BusinessCalendar
from relief_kit.core.errors import ReliefKitError
from relief_kit.core.model import Action, Checklist, Instalment, Recommendation, Terms
from relief_kit.core.schema import ASKS, AT_RISK_CATEGORIES, CHANNELS, HARDSHIPS
from relief_kit.core.values import ValueProblem, parse_date, parse_money
from relief_kit.shell import views
from relief_kit.text import formatting as fmt
from relief_kit.text import labels


class _Widgets:
    """``ipywidgets``, imported when a name of it is first looked up (``w.HBox``)."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        import ipywidgets

        return getattr(ipywidgets, name)


#: ipywidgets, imported at its first use (see the module's docstring).
w = _Widgets()

_YES_NO = [("Sim", "sim"), ("Não", "nao")]
_BUTTONS = {"button_width": "4.5rem"}
_FROM_CHOICE = {"sim": True, "nao": False, None: None}
_TO_CHOICE = {True: "sim", False: "nao", None: None}
_LABEL_WIDTH = "19rem"


def _choice(value: bool | None) -> str | None:
    return _TO_CHOICE[None if value is None else bool(value)]


def _row(label: str, widget: w.Widget, hint: str = "") -> w.HBox:
    """A question on the left (escaped text), its answer on the right."""
    text = views.render("label.html", label=label, hint=hint)
    return w.HBox([w.HTML(str(text), layout=w.Layout(width=_LABEL_WIDTH, flex="0 0 auto")),
                   widget], layout=w.Layout(align_items="center", margin="2px 0"))


@cache
def _day_field() -> type:
    """:class:`DayField`, defined at its first use (it subclasses a widget)."""

    class DayField(w.Text):
        """A date typed and shown as dd/mm/aaaa, whatever the browser's language.

        A ``DatePicker`` is the browser's ``<input type="date">``, which shows mm/dd/yyyy in an
        English browser next to our dd/mm/aaaa text; a text box reads the same everywhere.
        ``value`` is the text; :attr:`day` the date (``ValueProblem`` when it is not one).
        """

        def __init__(self, **kwargs: Any) -> None:
            kwargs.setdefault("placeholder", "dd/mm/aaaa")
            kwargs.setdefault("layout", w.Layout(width="9rem"))
            super().__init__(**kwargs)

        @property
        def day(self) -> date | None:
            """The date typed, or None when the box is empty."""
            return parse_date(self.value)

        @day.setter
        def day(self, value: date | None) -> None:
            self.value = fmt.day(value) if value else ""

        def day_or_none(self, label: str, problems: list[str]) -> date | None:
            """The date typed; a date that cannot be read adds one line to ``problems``."""
            try:
                return self.day
            except ValueProblem as exc:
                problems.append(f"{label}: {exc}.")
                return None

    DayField.__qualname__ = "DayField"
    DayField.__module__ = __name__
    return DayField


def __getattr__(name: str) -> Any:
    if name == "DayField":  # built with ipywidgets, at its first use
        return _day_field()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _positive_money(text: str, label: str, problems: list[str]) -> Decimal | None:
    """An amount typed in a widget (R$), or None with the reason added to ``problems``
    when it cannot be read or is not above zero; None without a problem when empty."""
    try:
        amount = parse_money(text)
    except ValueProblem as exc:
        problems.append(f"{label}: {exc}.")
        return None
    if amount is not None and amount <= 0:
        problems.append(f"{label}: deve ser maior que zero.")
        return None
    return amount


def even_instalments(amount: Decimal, count: int, first_due: date,
                     calendar: BusinessCalendar = NATIONAL) -> tuple[Instalment, ...]:
    """``count`` monthly instalments from ``first_due``, cents exact (the last absorbs
    the rounding): :func:`relief_kit.core.terms.split`, the one computation of a plan."""
    return tuple(replace(i, due_date=calendar.next_business_day(i.due_date))
                 for i in agreed.split(amount, count, first_due))


class ReviewApp:
    """The checklist, the live recommendation and the decision area of one case.

    ``case`` comes from :func:`relief_kit.shell.case.open_case` (it carries the store);
    ``clock`` is injectable so tests can pin the decision time.
    """

    def __init__(self, case, *, analyst: str = "", store: Any | None = None,
                 clock: Callable[[], datetime] = datetime.now) -> None:
        self.case = case
        self.store = store if store is not None else case.store
        self.clock = clock
        self.criteria = case.criteria
        self.recommendation: Recommendation = case.recommendation
        self.update_times: list[float] = []  # seconds per live update (measured)
        self.problem = ""  # the answer that could not be read, if any
        self._syncing = False  # the app itself is setting decision widgets
        self._decision_touched = False  # the analyst changed the decision by hand
        self._expected_previous = _latest_id(case.decisions)
        self._decision_problems: list[str] = []  # shown after a refused save, until fixed
        self._saved = False  # the widgets hold exactly the latest recorded decision
        self._build()
        self.analyst.value = analyst
        self._load_answers(case.checklist)
        self._set_decision_from(self.recommendation, case.decision)
        self._refresh()
        self._show_history()
        self._warn_if_stale()
        if self.store is not None and analyst:
            self.store.log_open(case.request_id, analyst)
        if self._matches_latest():
            self._mark_saved(True)  # reopened as it was decided

    # ------------------------------------------------------------------ widgets

    def _build(self) -> None:
        DayField = _day_field()  # noqa: N806 (the widget class, built at first use)
        criteria = self.criteria
        self.documented = w.ToggleButtons(options=_YES_NO, value=None, style=_BUTTONS)
        self.channel = w.Dropdown(options=[(views.CHANNEL_LABELS[c], c) for c in CHANNELS])
        self.small_business = w.ToggleButtons(options=_YES_NO, value=None, style=_BUTTONS)
        self.at_risk = w.ToggleButtons(options=_YES_NO, value=None, style=_BUTTONS)
        self.at_risk_category = w.Dropdown(
            options=[("— escolha —", "")]
            + [(views.AT_RISK_LABELS[c], c) for c in AT_RISK_CATEGORIES])
        self.at_risk_consent = w.Checkbox(value=False, indent=False, description="Sim",
                                          layout=w.Layout(width="auto"))
        self.asked = w.Dropdown(options=[(views.ASK_LABELS[a], a) for a in ASKS])
        self.hardship = w.Dropdown(options=[("— ainda não perguntado —", "")]
                                   + [(labels.label("hardship", h).capitalize(), h)
                                      for h in HARDSHIPS])
        self.hardship_since = DayField()
        self.capacity_monthly = w.Text(placeholder="ex.: 60,00",
                                       layout=w.Layout(width="9rem"))
        self.proposed_date = DayField()
        self.proposed_amount = w.Text(placeholder="ex.: 89,90",
                                      layout=w.Layout(width="9rem"))
        self.notes = w.Textarea(placeholder="Contexto útil para a decisão. Não escreva "
                                            "diagnósticos nem dados de saúde (LGPD).",
                                layout=w.Layout(width="100%", height="5rem"))
        self.extra = {item.key: w.Checkbox(value=False, indent=False, description="Sim",
                                           layout=w.Layout(width="auto"))
                      for item in criteria.extra_items}
        #: One row per extra item of the criteria file: its question and its box.
        self.extra_rows = {item.key: _row(item.label, self.extra[item.key])
                           for item in criteria.extra_items}
        for name, widget in self._answer_widgets().items():
            widget.add_class(f"rk-{name.replace('_', '-')}")

        self.at_risk_box = w.VBox([
            _row("Categoria", self.at_risk_category,
                 hint="Só a categoria: nunca o diagnóstico (LGPD)."),
            _row("O cliente contou por vontade própria e concordou com o uso desta "
                 "informação?", self.at_risk_consent),
        ])
        checklist = w.VBox([
            w.HTML(str(views.render("section_title.html", title="Checklist",
                                    note="Responda sem pressa: a decisão precisa das "
                                         "respostas obrigatórias."))),
            _row("O cliente explicou o pedido por escrito?", self.documented),
            _row("Por qual canal?", self.channel),
            _row("Pequeno negócio que depende da conexão?", self.small_business),
            _row("Há morador em situação de risco (idoso, doença crônica, deficiência)?",
                 self.at_risk, hint="Só se o cliente contou por vontade própria."),
            self.at_risk_box,
            _row("O que aconteceu?", self.hardship,
                 hint="Só a categoria, nunca um diagnóstico. Sem dificuldade declarada, "
                      "pergunte antes de ajudar."),
            _row("Desde quando?", self.hardship_since),
            _row("Quanto o cliente diz poder pagar por mês (R$)", self.capacity_monthly),
            _row("O que o cliente pediu?", self.asked),
            _row("Data proposta pelo cliente", self.proposed_date),
            _row("Valor proposto pelo cliente (R$)", self.proposed_amount),
            *self.extra_rows.values(),
            _row("Notas do analista", self.notes),
        ], layout=w.Layout(flex="1 1 34rem", min_width="26rem", padding="0 1rem 0 0"))
        checklist.add_class("rk-checklist")

        self.panel = w.HTML()
        self.panel.add_class("rk-live-recommendation")
        self.options_panel = w.HTML()
        self.options_panel.add_class("rk-live-options")
        panel_box = w.VBox([self.panel], layout=w.Layout(flex="1 1 24rem", min_width="22rem"))

        # Decision area.
        self.action = w.Dropdown(options=[(labels.action(a), a) for a in Action])
        self.discount_percent = w.BoundedFloatText(min=0, max=100, step=1,
                                                   layout=w.Layout(width="7rem"))
        self.pay_by = DayField()
        self.new_due_date = DayField()
        self.instalment_count = w.BoundedIntText(min=2, max=24, value=2,
                                                 layout=w.Layout(width="7rem"))
        self.first_due = DayField()
        self.use_recommendation = w.Button(description="Usar a recomendação",
                                           icon="undo", layout=w.Layout(width="auto"))
        self.justification = w.Textarea(
            placeholder="Por que esta decisão? (fica no registro do caso)",
            layout=w.Layout(width="100%", height="5rem"))
        self.analyst = w.Text(placeholder="seu nome", layout=w.Layout(width="18rem"))
        self.second_analyst = w.Text(placeholder="nome de quem confirmou",
                                     layout=w.Layout(width="18rem"))
        self.record_button = w.Button(description="Registrar decisão", button_style="primary",
                                      icon="check", layout=w.Layout(width="auto"))
        self.record_button.add_class("rk-record")
        self.save_button = w.Button(description="Salvar respostas", icon="save",
                                    layout=w.Layout(width="auto"))
        self.save_button.add_class("rk-save")
        self.sent_channel = w.Dropdown(options=[("WhatsApp", "whatsapp"), ("E-mail", "email")],
                                       layout=w.Layout(width="9rem"))
        self.sent_button = w.Button(description="Mensagem enviada", icon="paper-plane",
                                    layout=w.Layout(width="auto"))
        self.sent_button.add_class("rk-sent")
        self.message = w.HTML()
        self.message.add_class("rk-message")
        self.decisions_view = w.HTML()
        for name in ("action", "discount_percent", "pay_by", "new_due_date",
                     "instalment_count", "first_due", "justification", "analyst",
                     "second_analyst"):
            getattr(self, name).add_class(f"rk-{name.replace('_', '-')}")

        self.discount_box = w.VBox([_row("Desconto (%)", self.discount_percent),
                                    _row("Pagar até", self.pay_by)])
        self.postponement_box = w.VBox([_row("Novo vencimento", self.new_due_date)])
        self.instalments_box = w.VBox([_row("Número de parcelas", self.instalment_count),
                                       _row("Primeira parcela em", self.first_due)])
        self.terms_text = w.HTML()
        self.second_box = w.VBox([_row(
            "Confirmação de um segundo analista", self.second_analyst,
            hint="Recusa a um domicílio com morador em situação de risco: exigida pelos "
                 "critérios (at_risk.refusal_needs_second_analyst).")])
        decision = w.VBox([
            w.HTML(str(views.render("section_title.html", title="Decisão",
                                    note="Aceite ou mude a ação e os termos; nada é "
                                         "decidido sem o analista."))),
            w.HBox([_row("Ação", self.action), self.use_recommendation]),
            self.discount_box, self.postponement_box, self.instalments_box,
            self.terms_text,
            _row("Justificativa", self.justification),
            _row("Analista", self.analyst),
            self.second_box,
            w.HBox([self.record_button, self.save_button]),
            w.HBox([self.sent_channel, self.sent_button]),
            self.message,
            self.decisions_view,
        ])
        decision.add_class("rk-decision")
        self.widget = w.VBox([
            w.HBox([checklist, panel_box], layout=w.Layout(flex_flow="row wrap")),
            self.options_panel,
            decision,
        ])
        self.widget.add_class("rk-review")

        for widget in self._answer_widgets().values():
            widget.observe(self._on_answer, names="value")
        for widget in (self.action, self.discount_percent, self.pay_by, self.new_due_date,
                       self.instalment_count, self.first_due):
            widget.observe(self._on_decision, names="value")
        for widget in (self.justification, self.analyst, self.second_analyst):
            widget.observe(self._on_edit, names="value")
        self.use_recommendation.on_click(lambda _: self._reset_decision())
        self.record_button.on_click(lambda _: self.record())
        self.save_button.on_click(lambda _: self.save_answers())
        self.sent_button.on_click(lambda _: self.mark_sent())

    def _answer_widgets(self) -> dict[str, w.Widget]:
        widgets = {
            "documented": self.documented, "channel": self.channel,
            "small_business": self.small_business, "at_risk": self.at_risk,
            "at_risk_category": self.at_risk_category, "at_risk_consent": self.at_risk_consent,
            "asked": self.asked, "proposed_date": self.proposed_date,
            "proposed_amount": self.proposed_amount, "notes": self.notes,
            "hardship": self.hardship, "hardship_since": self.hardship_since,
            "capacity_monthly": self.capacity_monthly,
        }
        widgets.update({f"extra_{key}": box for key, box in self.extra.items()})
        return widgets

    def _repr_mimebundle_(self, **kwargs) -> dict:
        bundle = self.widget._repr_mimebundle_(**kwargs)
        # A widget's plain-text repr lists every value typed, notes included: keep a name.
        bundle["text/plain"] = f"Revisão do pedido {self.case.request_id}"
        return bundle

    # ------------------------------------------------------------------ answers

    def _load_answers(self, checklist: Checklist) -> None:
        """Put saved (or intake) answers into the widgets without a refresh per widget."""
        self._syncing = True
        try:
            self.documented.value = _choice(checklist.documented)
            self.channel.value = checklist.channel if checklist.channel in CHANNELS \
                else self.case.request.channel
            self.small_business.value = _choice(checklist.small_business)
            self.at_risk.value = _choice(checklist.at_risk)
            self.at_risk_category.value = checklist.at_risk_category \
                if checklist.at_risk_category in AT_RISK_CATEGORIES else ""
            self.at_risk_consent.value = bool(checklist.at_risk_consent)
            self.asked.value = checklist.asked if checklist.asked in ASKS else "not_said"
            self.proposed_date.day = checklist.proposed_date
            self.proposed_amount.value = (fmt.number(float(checklist.proposed_amount), 2)
                                          if checklist.proposed_amount is not None else "")
            self.notes.value = checklist.notes
            self.hardship.value = checklist.hardship if checklist.hardship in HARDSHIPS else ""
            self.hardship_since.day = checklist.hardship_since
            self.capacity_monthly.value = (fmt.number(float(checklist.capacity_monthly), 2)
                                           if checklist.capacity_monthly is not None else "")
            for key, box in self.extra.items():
                box.value = bool(checklist.extra.get(key))
        finally:
            self._syncing = False

    def checklist(self) -> Checklist:
        """The answers as they stand in the widgets.

        An amount that cannot be read counts as not given; :attr:`problem` says why.
        """
        problems: list[str] = []
        amount = _positive_money(self.proposed_amount.value, "Valor proposto", problems)
        capacity = _positive_money(self.capacity_monthly.value, "Quanto pode pagar", problems)
        proposed_date = self.proposed_date.day_or_none("Data proposta", problems)
        hardship_since = self.hardship_since.day_or_none("Desde quando", problems)
        self.problem = " ".join(problems)
        at_risk = _FROM_CHOICE[self.at_risk.value]
        return Checklist(
            documented=_FROM_CHOICE[self.documented.value],
            channel=self.channel.value,
            small_business=_FROM_CHOICE[self.small_business.value],
            at_risk=at_risk,
            # LGPD necessity: no category or consent kept without an at-risk resident.
            at_risk_category=self.at_risk_category.value if at_risk else "",
            at_risk_consent=bool(self.at_risk_consent.value) if at_risk else False,
            asked=self.asked.value,
            proposed_date=proposed_date,
            proposed_amount=amount,
            notes=self.notes.value.strip(),
            extra={key: bool(box.value) for key, box in self.extra.items()},
            hardship=self.hardship.value,
            hardship_since=hardship_since if self.hardship.value else None,
            capacity_monthly=capacity,
        )

    def _on_answer(self, change: dict) -> None:
        if not self._syncing:
            self._refresh()
            self._changed()

    def _refresh(self) -> None:
        """Recompute the recommendation from the answers and redraw what depends on it."""
        started = time.perf_counter()
        checklist = self.checklist()
        self.recommendation = self.case.recommend(checklist)
        self.at_risk_box.layout.display = "" if checklist.at_risk else "none"
        if not self._decision_touched:
            self._set_decision_from(self.recommendation)
        self._show_terms()
        elapsed = time.perf_counter() - started
        self.panel.value = str(views.recommendation_panel(
            self.recommendation, self.case, checklist, elapsed_ms=elapsed * 1000,
            part="summary"))
        self.options_panel.value = str(views.recommendation_panel(
            self.recommendation, self.case, checklist, part="options"))
        self._show_problems()
        self.update_times.append(time.perf_counter() - started)

    # ------------------------------------------------------------------ decision

    def _set_decision_from(self, recommendation: Recommendation, decision: Any = None) -> None:
        """Fill the decision widgets from a recorded decision, else the recommendation."""
        action = Action(decision.action) if decision is not None else recommendation.action
        terms = decision.terms if decision is not None else recommendation.terms
        offered = {o.action: o.terms for o in recommendation.options}
        self._syncing = True
        try:
            self.action.value = action
            self._fill_terms(action, terms, offered)
            if decision is not None:
                self.justification.value = decision.justification or ""
                self._decision_touched = True
        finally:
            self._syncing = False
        self._show_terms()

    def _fill_terms(self, action: Action, terms: Terms, offered: dict[Action, Terms]) -> None:
        """Every terms widget gets a sensible value: the chosen terms for ``action``,
        the recommendation's priced option for the others."""
        discount = terms if action is Action.DISCOUNT else offered.get(Action.DISCOUNT)
        if discount is not None and discount.discount_percent is not None:
            self.discount_percent.value = float(discount.discount_percent)
            self.pay_by.day = discount.pay_by
        postponement = terms if action is Action.POSTPONEMENT else offered.get(
            Action.POSTPONEMENT)
        if postponement is not None and postponement.new_due_date is not None:
            self.new_due_date.day = postponement.new_due_date
        plan = terms if action is Action.INSTALMENTS else offered.get(Action.INSTALMENTS)
        if plan is not None and plan.instalments:
            self.instalment_count.value = len(plan.instalments)
            self.first_due.day = plan.instalments[0].due_date
        elif not self.first_due.value.strip():
            self.first_due.day = self.case.calendar.next_business_day(
                self.case.today + timedelta(days=int(self.criteria["instalments.first_due_days"])))

    def _warn_if_stale(self) -> None:
        """A recorded decision whose dates have passed needs new terms (no message is
        prepared with a past date)."""
        from relief_kit.core.terms import stale_dates

        decision = self.case.decision
        today = max(self.case.today, date.today())  # as messages.production_day
        past = stale_dates(decision.terms, today) if decision is not None else ()
        if past:
            self.message.value = str(views.message(
                "Precisa de novos termos: a decisão registrada tem data já passada ("
                + ", ".join(fmt.day(d) for d in past) + "). Ajuste as datas e registre "
                "de novo antes de enviar qualquer mensagem.", "error"))

    def _on_decision(self, change: dict) -> None:
        if self._syncing:
            return
        self._decision_touched = True
        self._show_terms()
        self._changed()

    def _on_edit(self, change: dict) -> None:
        """A justification or a name typed: nothing to recompute, but no longer saved."""
        self._changed()

    def _changed(self) -> None:
        """Something the analyst can change changed: the saved state and any error
        shown for the last attempt are brought up to date (an error fixed goes away)."""
        if self._decision_problems:
            self._decision_problems = self.decision_problems()
            self._show_problems()
        if self._saved and not self._matches_latest():
            self._mark_saved(False)

    def _show_problems(self) -> None:
        """The problems that still stand, or nothing once they are all fixed."""
        problems = [p for p in (self.problem, *self._decision_problems) if p]
        if problems:
            self.message.value = self._problem_shown = str(
                views.message(" ".join(problems), "error"))
        elif self.message.value and self.message.value == getattr(self, "_problem_shown", ""):
            self.message.value = ""  # only the notice it showed (not, say, a stale warning)

    def _mark_saved(self, saved: bool) -> None:
        """The button says the decision is saved until something changes."""
        self._saved = saved
        self.record_button.description = "Decisão registrada" if saved else "Registrar decisão"
        self.record_button.icon = "check-circle" if saved else "check"
        self.record_button.button_style = "success" if saved else "primary"

    def _reset_decision(self) -> None:
        self._decision_touched = False
        self._set_decision_from(self.recommendation)
        self.message.value = ""

    def _show_terms(self) -> None:
        action = self.action.value
        self.discount_box.layout.display = "" if action is Action.DISCOUNT else "none"
        self.postponement_box.layout.display = "" if action is Action.POSTPONEMENT else "none"
        self.instalments_box.layout.display = "" if action is Action.INSTALMENTS else "none"
        self.second_box.layout.display = "" if self.needs_second_analyst() else "none"
        terms = self.terms()
        self.terms_text.value = str(views.render(
            "terms.html", action=action, terms=terms,
            notes=beyond_criteria(action, terms, self.criteria, self.case.today)))

    def amount(self) -> Decimal:
        """The debt the decision concerns (the recommendation's amount)."""
        return self.recommendation.terms.amount

    def terms(self, problems: list[str] | None = None) -> Terms:
        """The terms in the decision widgets, for the chosen action; a date that cannot
        be read counts as not given and adds a line to ``problems``."""
        action, amount = self.action.value, self.amount()
        problems = [] if problems is None else problems
        bills = self.recommendation.terms.bills
        if action is Action.DISCOUNT:
            terms = Terms(amount=amount, discount_percent=_percent(self.discount_percent.value),
                          pay_by=self.pay_by.day_or_none("Pagar até", problems), bills=bills)
        elif action is Action.POSTPONEMENT:
            terms = Terms(amount=amount, bills=bills,
                          new_due_date=self.new_due_date.day_or_none("Novo vencimento",
                                                                     problems))
        elif action is Action.INSTALMENTS:
            first = self.first_due.day_or_none("Primeira parcela em", problems)
            plan = () if first is None else even_instalments(
                amount, int(self.instalment_count.value), first, self.case.calendar)
            terms = Terms(amount=amount, instalments=plan, bills=bills)
        else:
            terms = Terms(amount=amount, bills=bills)
        # The amount to pay, computed once (core.terms) for the record, messages and store.
        return agreed.with_amount_to_pay(terms) if (
            terms.discount_percent is not None or action is not Action.DISCOUNT) else terms

    def needs_second_analyst(self) -> bool:
        """Refusing a household with an at-risk resident, when the criteria ask for it
        (:func:`relief_kit.core.decisions.needs_second_analyst`)."""
        return decisions.needs_second_analyst(
            self.action.value, Checklist(at_risk=_FROM_CHOICE[self.at_risk.value]),
            self.criteria)

    def save_answers(self) -> bool:
        """Save the checklist answers (reopening the case restores them)."""
        checklist = self.checklist()
        if self.problem:
            self.message.value = str(views.message(self.problem, "error"))
            return False
        try:
            self.store.save_answers(self.case.request_id, checklist,
                                    analyst=self.analyst.value.strip(), now=self.clock())
        except ReliefKitError as exc:
            self.message.value = str(views.message(str(exc), "error"))
            return False
        self.case = self.case.with_answers(checklist)
        self.message.value = str(views.message("Respostas salvas.", "ok"))
        return True

    def record(self) -> Any | None:
        """Save the answers and record the decision; the outcome is shown in
        :attr:`message`.

        Returns the recorded decision, or None when it was not recorded (a problem to
        fix, or another analyst decided in between): the widgets keep everything typed
        and the answers are saved either way.
        """
        from relief_kit.shell.aftercare import record_decision
        from relief_kit.store.cases import DecisionConflict

        if self._matches_latest():
            # The same decision again (a second click, a save after no change): one
            # decision, already in the store.
            latest = self.case.decisions[-1]
            self._mark_saved(True)
            self.message.value = str(views.message(
                f"Esta decisão já está registrada ({labels.action(latest.action)}, por "
                f"{latest.analyst}, em {fmt.moment(latest.decided_at)}); mude algo para "
                "registrar outra.", "ok"))
            return latest
        if not self.save_answers():
            return None
        checklist = self.case.checklist
        draft = self.draft()
        self._decision_problems = self.decision_problems(draft)
        if self._decision_problems:
            self._show_problems()
            return None
        try:
            recorded = record_decision(
                self.case, draft, checklist=checklist,
                expected_previous=self._expected_previous, now=self.clock(),
                store=self.store)
        except DecisionConflict as exc:
            # Show what the other analyst decided; the next save is a deliberate one.
            self._show_history()
            self.message.value = str(views.message(str(exc), "error"))
            return None
        except ReliefKitError as exc:
            self.message.value = str(views.message(str(exc), "error"))
            return None
        self._show_history()
        self._mark_saved(True)
        self.message.value = str(views.message(
            f"Decisão registrada: {labels.action(recorded.action)}, por {recorded.analyst}, "
            f"em {fmt.moment(recorded.decided_at)}.", "ok"))
        return recorded

    def draft(self, problems: list[str] | None = None):
        """The decision as it stands in the widgets (not yet recorded)."""
        from relief_kit.store.cases import DecisionDraft

        return DecisionDraft(
            action=self.action.value, terms=self.terms(problems),
            justification=self.justification.value.strip(),
            analyst=self.analyst.value.strip(),
            second_analyst=self.second_analyst.value.strip()
            if self.needs_second_analyst() else "",
            recommended_action=self.recommendation.action,
            recommendation=self.recommendation,
        )

    def decision_problems(self, draft=None) -> list[str]:
        """What stops the decision in the widgets from being recorded; empty when none."""
        problems: list[str] = []
        if draft is None:
            draft = self.draft(problems)
        else:
            self.terms(problems)  # the dates that could not be read
        problems += self.store.validate_decision(draft, self.checklist(), self.criteria,
                                                 self.case.today)
        return problems

    def _matches_latest(self) -> bool:
        """The widgets hold the latest recorded decision, answers included."""
        if not self.case.decisions or self.problem:
            return False
        latest = self.case.decisions[-1]
        draft = self.draft([])
        return (Action(latest.action) is Action(draft.action)
                and _agreed(latest.terms) == _agreed(draft.terms)
                and (latest.justification or "") == draft.justification
                and latest.analyst == draft.analyst
                and (latest.second_analyst or "") == draft.second_analyst
                and latest.checklist == self.checklist())


    def mark_sent(self) -> Any | None:
        """Record that the latest decision's message went out (when: now; how: the
        channel chosen); the record shows it. None, with the reason shown, when not."""
        try:
            sent = self.store.record_message_sent(
                self.case.request_id, self.sent_channel.value,
                analyst=self.analyst.value.strip(), now=self.clock())
        except ReliefKitError as exc:
            self.message.value = str(views.message(str(exc), "error"))
            return None
        self._show_history()
        self.message.value = str(views.message(
            f"Mensagem marcada como enviada em {fmt.moment(sent.sent_at)}.", "ok"))
        return sent

    def _show_history(self) -> None:
        """Reread the decisions: the list shown and the one the next save builds on."""
        if self.store is None:
            return
        decisions = tuple(self.store.history(self.case.request_id))
        self.case = self.case.with_decisions(decisions)
        self._expected_previous = _latest_id(decisions)
        self.decisions_view.value = str(views.decision_history(self.case))


def _agreed(terms: Terms) -> tuple:
    """What an analyst agrees in a decision's terms (the bills and the amount to pay are
    derived from them and not stored with the decision)."""
    return (terms.amount, terms.discount_percent, terms.pay_by, terms.new_due_date,
            tuple((i.due_date, i.amount) for i in terms.instalments))


def _percent(value: float | None) -> Decimal | None:
    """A typed percentage as a Decimal: whole numbers stay whole (``20``, not ``20.00``)."""
    if value is None:
        return None
    exact = Decimal(str(value)).quantize(Decimal("0.01"))
    return exact.quantize(Decimal("1")) if exact == exact.to_integral_value() else exact


def beyond_criteria(action: Action, terms: Terms, criteria, today: date) -> list[str]:
    """Where the analyst's terms go past the team's criteria: allowed (the analyst
    decides), said plainly so the justification can explain it."""
    notes = []
    if action is Action.DISCOUNT and terms.discount_percent is not None:
        low, high = criteria["discount.min_percent"], criteria["discount.max_percent"]
        if not low <= terms.discount_percent <= high:
            notes.append(f"Desconto fora da faixa dos critérios ({fmt.number(low, 0)}% a "
                         f"{fmt.number(high, 0)}%, discount.min_percent/max_percent).")
    if action is Action.POSTPONEMENT and terms.new_due_date is not None:
        longest = int(criteria["postponement.max_days"])
        own = min((b.due_date for b in terms.bills), default=today)
        if (terms.new_due_date - own).days > longest:
            notes.append(f"Adiamento além de {longest} dias após o vencimento da fatura "
                         "(postponement.max_days).")
    if action is Action.INSTALMENTS and len(terms.instalments) > int(
            criteria["instalments.max_count"]):
        notes.append(f"Mais parcelas que o máximo de {criteria['instalments.max_count']} "
                     "(instalments.max_count).")
    return notes


def _latest_id(decisions) -> Any | None:
    return decisions[-1].decision_id if decisions else None


# --------------------------------------------------------------------------- notebook


class Shown:
    """A widget for the notebook, with a short name as its plain-text form (a widget's
    own repr would copy every value it holds into the saved notebook)."""

    def __init__(self, widget: w.Widget, title: str) -> None:
        self.widget, self.title = widget, title

    def _repr_mimebundle_(self, **kwargs) -> dict:
        bundle = self.widget._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = self.title
        return bundle


#: What a reveal shows in full, as the audit log records it.
REVEALED = "CPF/CNPJ e telefone"


class Reveal:
    """The one switch that shows CPF/CNPJ and phones in full in every view of a case
    (the customer card and the written request alike), each reveal in the audit log."""

    def __init__(self, case, analyst: str = "") -> None:
        self.case, self.analyst = case, analyst
        self.views: list[tuple[w.HTML, Callable[[bool], Any]]] = []
        self.button = w.ToggleButton(value=False, description="Mostrar CPF/CNPJ e telefone",
                                     icon="eye", layout=w.Layout(width="auto"))
        self.button.add_class("rk-reveal")
        self.button.observe(self._toggle, names="value")

    def add(self, render: Callable[[bool], Any]) -> w.HTML:
        """A view drawn by ``render(reveal)``, redrawn whenever the switch changes."""
        view = w.HTML(str(render(self.button.value)))
        self.views.append((view, render))
        return view

    def _toggle(self, change: dict) -> None:
        shown = bool(change["new"])
        if shown and self.case.store is not None:
            self.case.store.log_reveal(self.case.request_id, self.analyst, REVEALED)
        for view, render in self.views:
            view.value = str(render(shown))
        self.button.description = ("Mascarar CPF/CNPJ e telefone" if shown
                                   else "Mostrar CPF/CNPJ e telefone")


#: The reveal switch of the case each kernel reviews (one review notebook per kernel).
_REVEALS: dict[str, Reveal] = {}


def _reveal_for(case, analyst: str = "") -> Reveal:
    reveal = _REVEALS.get(case.request_id)
    if reveal is None or reveal.case is not case:
        reveal = _REVEALS[case.request_id] = Reveal(case, analyst)
    return reveal


def customer_view(case, interactive: bool = True, analyst: str = ""):
    """The customer card; interactive, with the switch that reveals CPF/CNPJ and phone
    (in this card and in the written request) and logs who revealed them."""
    if not interactive:
        return views.customer_card(case)
    reveal = _reveal_for(case, analyst)
    card = reveal.add(lambda shown: views.customer_card(case, reveal=shown))
    return Shown(w.VBox([card, reveal.button]), "Ficha do cliente")


def written_request_view(case, interactive: bool = True):
    """The written request, masked like the customer card and revealed with it."""
    if not interactive:
        return views.written_request(case)
    reveal = _reveal_for(case)
    return Shown(reveal.add(lambda shown: views.written_request(case, reveal=shown)),
                 "Pedido por escrito")


def show(case, *, analyst: str = "", interactive: bool = True):
    """The review app (interactive) or the plain-HTML answers and decision (record)."""
    if not interactive:
        return views.record_sections(case)
    return ReviewApp(case, analyst=analyst)
