"""The team meeting: how the criteria played out, without names.

Pure functions over the portfolio's frames, the recorded decisions and the
recommendations; each returns a small table (and ``charts.py``-style figures are drawn
by ``meeting_report``). Nothing here carries a name, a document, a phone, an e-mail,
an address or free text: customers and analysts appear as keyed pseudonyms
(``pseudonyms.py``), neighbourhoods only where at least ``MIN_GROUP`` requests share
them. The at-risk household is not shown at all, not even as counts (LGPD sensitive
data, used only to soften or delay enforcement); the consistency check still keeps
at-risk cases apart from the others, without saying which are which.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from relief_kit import resources
from relief_kit.core import schema
from relief_kit.core.as_of import as_of_date
from relief_kit.core.model import Action
from relief_kit.text import labels

MIN_GROUP = 5
ACTION_ORDER = [a.value for a in Action]
ACTION_LABEL = {a.value: labels.action(a) for a in Action}
CHANNEL_LABEL = {"whatsapp": "WhatsApp", "email": "e-mail", "phone": "telefone",
                 "in_person": "presencial"}
ASK_LABEL = {"discount": "desconto", "new_date": "nova data", "instalments": "parcelamento",
             "not_said": "não disse"}
BAND_LABEL = {"good": "boa", "fair": "regular", "poor": "fraca", "new": "cliente novo"}


def requests_over_time(requests: pd.DataFrame) -> pd.DataFrame:
    """Requests per month by channel and by what was asked, and the share documented."""
    month = requests["received_at"].dt.to_period("M").astype(str)
    by_channel = pd.crosstab(month, requests["channel"].map(CHANNEL_LABEL))
    by_ask = pd.crosstab(month, requests["asked"].map(ASK_LABEL))
    documented = requests["evidence_file"].ne("").groupby(month).mean()
    table = pd.concat([by_channel, by_ask], axis=1, keys=["canal", "pedido"])
    table[("documentado", "por escrito")] = documented
    table.index.name = "mês"
    return table


def decisions_by_item(cases: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Decided actions by each checklist item and by analyst (pseudonymous).

    ``cases`` has one row per decided request with columns action, small_business,
    band, analyst. The at-risk item is left out on purpose (see the module's note).
    """
    tables = {}
    if cases.empty:
        return tables
    action = cases["action"].map(ACTION_LABEL).rename("decisão")
    tables["pequeno negócio"] = pd.crosstab(
        cases["small_business"].map(_yes_no).rename("pequeno negócio"), action)
    tables["pontualidade"] = pd.crosstab(cases["band"].map(BAND_LABEL).rename("pontualidade"),
                                         action)
    tables["analista"] = pd.crosstab(cases["analyst"].rename("analista"), action)
    return tables


def _yes_no(value) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return "não respondido"
    return "sim" if bool(value) else "não"


AGREEMENT_COLUMNS = ["request_id", "customer_id", "action", "analyst", "segment", "deadline",
                     "judged", "kept"]


def agreements_kept(decisions: pd.DataFrame, invoices: pd.DataFrame, as_of: date,
                    grace_days: int) -> pd.DataFrame:
    """Was each agreement kept? From the customer's bills after the decision.

    An agreement is judged once its last date (pay-by, new due date, last instalment)
    plus the grace days has passed: kept when the bills open at the decision were
    paid by then, or — for instalments — when the arrangement bills created after the
    decision were each paid on time. Columns: request_id, customer_id, action,
    analyst, segment, deadline, judged, kept (None while not judged).

    One join of the judged agreements with their customers' bills and one group-by,
    not a scan of every bill per decision (``tools.oracles.reference_agreements_loop``
    is that scan, kept for the tests).
    """
    agreements = decisions[decisions["action"].isin(("discount", "postponement",
                                                     "instalments"))]
    frame = agreements[["request_id", "customer_id", "action", "analyst", "segment"]].copy()
    frame["deadline"] = pd.to_datetime(agreements["deadline"]).astype("datetime64[ns]")
    grace = pd.Timedelta(days=grace_days)
    frame["judged"] = (frame["deadline"] + grace < pd.Timestamp(as_of)).to_numpy(bool)
    frame = frame.reset_index(drop=True)
    kept = np.full(len(frame), None, dtype=object)
    judged = frame[frame["judged"]]
    if len(judged):
        key = pd.DataFrame({"agreement": judged.index, "customer_id": judged["customer_id"],
                            "action": judged["action"], "deadline": judged["deadline"],
                            "decided": pd.to_datetime(decisions.loc[agreements.index[
                                judged.index], "decided_at"].to_numpy()).normalize()})
        bills = invoices[["customer_id", "due_date", "paid_on", "status", "arrangement"]]
        pairs = key.merge(bills, on="customer_id", how="inner")
        paid = pairs["paid_on"].notna()
        plan = pairs["action"].eq("instalments")
        in_scope = np.where(
            plan,
            pairs["arrangement"].eq("instalment") & (pairs["due_date"] >= pairs["decided"]),
            (pairs["due_date"] <= pairs["decided"])
            & (~paid | (pairs["paid_on"] >= pairs["decided"]))
            & ~pairs["status"].isin(schema.NOT_BILLED))
        limit = np.where(plan, pairs["due_date"], pairs["deadline"]) + grace.to_timedelta64()
        on_time = paid.to_numpy() & (pairs["paid_on"].to_numpy() <= limit)
        scoped = pd.DataFrame({"agreement": pairs["agreement"].to_numpy()[in_scope],
                               "late": ~on_time[in_scope]})
        counts = scoped.groupby("agreement")["late"].agg(["size", "sum"])
        kept[judged.index.to_numpy()] = False
        kept[counts.index.to_numpy()] = [bool(n) and not late for n, late in zip(
            counts["size"], counts["sum"], strict=True)]
    frame["kept"] = pd.Series(kept, index=frame.index, dtype=object)
    return frame[AGREEMENT_COLUMNS]


def kept_summary(agreements: pd.DataFrame, by: str) -> pd.DataFrame:
    judged = agreements[agreements["judged"]]
    if judged.empty:
        return pd.DataFrame(columns=["acordos julgados", "cumpridos", "taxa"])
    key = judged[by].map(ACTION_LABEL) if by == "action" else judged[by]
    group = judged.groupby(key.rename({"action": "ação", "segment": "segmento",
                                       "analyst": "analista"}[by]))
    table = pd.DataFrame({"acordos julgados": group.size(),
                          "cumpridos": group["kept"].sum().astype(int)})
    table["taxa"] = table["cumpridos"] / table["acordos julgados"]
    return table


@dataclass(frozen=True)
class Replay:
    """The what-if: every case under the current and the proposed criteria."""

    changed: pd.DataFrame  # pseudonymous rows of the cases whose action changes
    transitions: pd.DataFrame  # from → to counts
    total: int
    money_current: float  # sum of the present value of the recommended options
    money_proposed: float


def what_if(current: list, proposed: list, pseudonym: Callable[[str, str], str]) -> Replay:
    """Compare two lists of ``replay.CaseRecommendation`` for the same requests."""
    rows = []
    money_now = money_then = 0.0
    for now, then in zip(current, proposed, strict=True):
        a, b = now.recommendation, then.recommendation
        pv_now, pv_then = _chosen_value(a), _chosen_value(b)
        money_now += pv_now
        money_then += pv_then
        if a.action != b.action or a.terms != b.terms:
            rows.append({"caso": pseudonym("request", now.request_id),
                         "cliente": pseudonym("customer", now.customer_id),
                         "de": labels.action(a.action), "para": labels.action(b.action),
                         "valor presente antes": pv_now, "valor presente depois": pv_then,
                         "diferença": pv_then - pv_now})
    changed = pd.DataFrame(rows, columns=["caso", "cliente", "de", "para",
                                          "valor presente antes", "valor presente depois",
                                          "diferença"])
    transitions = (changed.groupby(["de", "para"]).size().rename("casos").reset_index()
                   if len(changed) else pd.DataFrame(columns=["de", "para", "casos"]))
    return Replay(changed, transitions, len(current), round(money_now, 2),
                  round(money_then, 2))


def _chosen_value(recommendation) -> float:
    for option in recommendation.options:
        if option.action == recommendation.action:
            return float(option.present_value)
    return 0.0  # asking for information has no value yet


def consistency(cases: pd.DataFrame, pseudonym: Callable[[str, str], str]) -> pd.DataFrame:
    """Alike cases (same band and checklist answers) that got different decisions."""
    if cases.empty:
        return pd.DataFrame(columns=["pontualidade", "pequeno negócio", "documentado",
                                     "casos", "decisões diferentes"])
    keys = ["band", "small_business", "documented", "at_risk"]
    frame = cases.assign(**{k: cases[k].map(_yes_no) for k in keys[1:]})
    rows = []
    for values, group in frame.groupby(keys, dropna=False):
        actions = group["action"].map(ACTION_LABEL)
        if actions.nunique() > 1:
            rows.append({
                "pontualidade": BAND_LABEL.get(values[0], values[0]),
                "pequeno negócio": values[1], "documentado": values[2],
                "casos": len(group),
                "decisões diferentes": "; ".join(
                    f"{label}: {n}" for label, n in actions.value_counts().items()),
                "analistas": ", ".join(sorted(set(group["analyst"]))),
            })
    return pd.DataFrame(rows)


def bursts(requests: pd.DataFrame, customers: pd.DataFrame, factor: float = 3.0,
           minimum: int = 3) -> pd.DataFrame:
    """Neighbourhood-weeks with requests far above that neighbourhood's usual week.

    A burst is a week with at least ``minimum`` requests and ``factor`` times the
    median weekly count of the portfolio. Neighbourhoods with fewer than ``MIN_GROUP``
    requests in all are shown as "outros bairros".
    """
    if requests.empty:
        return pd.DataFrame(columns=["bairro", "semana", "pedidos", "semana típica"])
    place = requests.merge(customers[["customer_id", "neighbourhood"]], on="customer_id",
                           how="left")["neighbourhood"].fillna("")
    totals = place.value_counts()
    shown = place.where(place.map(totals) >= MIN_GROUP, "outros bairros")
    week = requests["received_at"].dt.to_period("W-SUN").dt.start_time.dt.date
    counts = pd.crosstab(shown.to_numpy(), week.to_numpy())
    weekly = pd.Series(counts.to_numpy().ravel())
    typical = max(float(np.median(weekly[weekly > 0])) if (weekly > 0).any() else 0.0, 1.0)
    rows = []
    for neighbourhood, row in counts.iterrows():
        for week_start, n in row.items():
            if n >= minimum and n >= factor * typical:
                rows.append({"bairro": neighbourhood, "semana": week_start, "pedidos": int(n),
                             "semana típica": typical})
    return pd.DataFrame(rows, columns=["bairro", "semana", "pedidos", "semana típica"])


def model_skill(model) -> pd.DataFrame:
    """The payment model against the base rate, out of time (fitted before a cut-off,
    scored after): Brier score and log loss, lower is better."""
    from relief_kit.text import formatting, labels

    skill = model.skill
    when = skill.cutoff.strftime("%d/%m/%Y") if skill.cutoff else "—"

    def name(row: dict) -> str:
        text = labels.label("estimator", row["estimator"])
        if row["estimator"] == "base_rate":
            text += f" ({formatting.percent(row['base_rate'])})"
        return text

    rows = [{"estimador": name(row), "Brier": row["brier"], "log loss": row["log_loss"],
             "faturas avaliadas": skill.test_bills, "corte": when,
             "usado": ("sim" if model.used else "não") if row["estimator"] == "model"
             else ("não" if model.used else "sim (faixas)")}
            for row in model.skill_rows()]
    return pd.DataFrame(rows, columns=["estimador", "Brier", "log loss", "faturas avaliadas",
                                       "corte", "usado"])


def model_reliability(model) -> pd.DataFrame:
    """Out of time: bills grouped by predicted chance, predicted against observed."""
    rows = [{"grupo": f"{i + 1}º quinto", "faturas": row["bills"], "previsto": row["predicted"],
             "observado": row["observed"]} for i, row in enumerate(model.reliability_rows())]
    return pd.DataFrame(rows, columns=["grupo", "faturas", "previsto", "observado"])


# --------------------------------------------------------------------------- the report


@dataclass(frozen=True)
class MeetingInputs:
    """Everything the report is computed from (no file access below this point)."""

    portfolio: object  # tables.Portfolio
    criteria: object  # criteria.Criteria (current)
    proposed: object | None  # criteria.Criteria to compare, or None
    decisions: pd.DataFrame  # latest decision per request (see decisions_frame)
    as_of: date
    #: The current criteria's replay (replay.replay_inputs) and every request's
    #: recommendation under them, computed once by build_inputs; None: computed here.
    replay: object | None = None
    current: list | None = None
    #: The store's latest decision of every request (``CaseStore.latest_decisions``), as
    #: build_inputs read them; None: read again where needed.
    latest: list | None = None


def money_summary(decisions: pd.DataFrame) -> pd.DataFrame:
    """Per decided action: cases, amount concerned, discounts given, present values."""
    if decisions.empty:
        return pd.DataFrame(columns=["ação", "casos", "valor em jogo", "descontos concedidos",
                                     "valor presente da decisão",
                                     "valor presente da alternativa recomendada"])
    table = decisions.groupby(decisions["action"].map(ACTION_LABEL)).agg(
        casos=("request_id", "size"), **{
            "valor em jogo": ("amount", "sum"),
            "descontos concedidos": ("discount_given", "sum"),
            "valor presente da decisão": ("decided_value", "sum"),
            "valor presente da alternativa recomendada": ("recommended_value", "sum"),
        })
    table.index.name = "ação"
    return table.reset_index()


def agreements_by_kind(portfolio, criteria, as_of: date, *,
                       latest: list | None = None) -> pd.DataFrame:
    """Every agreement's follow-up on ``as_of`` (``relief-kit follow-up``), counted by
    kind: kept, on track, due soon, broken. ``latest``: the store's latest decisions,
    when already read (else read here)."""
    from relief_kit.shell.aftercare import follow_up_counts, follow_ups_on
    from relief_kit.text.lines import line

    counts = follow_up_counts(follow_ups_on(portfolio.folder, as_of, criteria, portfolio,
                                            decisions=latest))
    return pd.DataFrame({"situação": [line("follow_up_kinds", k) for k in counts],
                         "acordos": list(counts.values())})


def proposed_replay(portfolio, proposed, as_of: date, shared, current: list,
                    pseudonym: Callable[[str, str], str]) -> Replay:
    """The what-if of ``proposed`` criteria (a ``Criteria``): every request of
    ``portfolio`` recommended again with the answers of ``current`` (the current
    criteria's ``replay.recommend_all``, from the ``replay.replay_inputs`` ``shared``)
    and compared with it (:func:`what_if`). Features, calibration and priced options are
    shared with the current replay unless the proposal changes the sections they read.
    """
    from relief_kit.shell.replay import recommend_all, replay_inputs

    proposed_inputs = replay_inputs(portfolio, proposed, as_of=as_of, like=shared)
    return what_if(current, recommend_all(
        portfolio, proposed, as_of=as_of, inputs=proposed_inputs,
        answers={c.request_id: c.checklist for c in current}, explain=False,
        like=current, like_inputs=shared, price_asking=False), pseudonym)


def meeting_tables(inputs: MeetingInputs, pseudonym: Callable[[str, str], str]) -> dict:
    """Every section's table, keyed by section title (pseudonymous throughout)."""
    from relief_kit.shell.replay import recommend_all, replay_inputs

    portfolio, criteria = inputs.portfolio, inputs.criteria
    decisions = inputs.decisions.assign(
        analyst=inputs.decisions["analyst"].map(lambda a: pseudonym("analyst", a)))
    shared = inputs.replay or replay_inputs(portfolio, criteria, as_of=inputs.as_of)
    current = inputs.current or recommend_all(
        portfolio, criteria, as_of=inputs.as_of, inputs=shared, explain=False,
        price_asking=False,
        answers=dict(zip(decisions["request_id"], decisions["checklist"], strict=True)))
    calibration = shared.calibration
    tables: dict = {"Pedidos ao longo do tempo": requests_over_time(portfolio.requests)}
    for title, table in decisions_by_item(decisions).items():
        tables[f"Decisões por {title}"] = table
    agreements = agreements_kept(decisions, portfolio.invoices, inputs.as_of,
                                 int(criteria["punctuality.grace_days"]))
    tables["Acordos cumpridos, por ação"] = kept_summary(agreements, "action")
    tables["Acordos cumpridos, por segmento"] = kept_summary(agreements, "segment")
    tables["Acordos cumpridos, por analista"] = kept_summary(agreements, "analyst")
    tables["Acordos hoje, por situação"] = agreements_by_kind(portfolio, criteria, inputs.as_of,
                                                              latest=inputs.latest)
    tables["Dinheiro"] = money_summary(decisions)
    if inputs.proposed is not None:
        replay = proposed_replay(portfolio, inputs.proposed, inputs.as_of, shared, current,
                                 pseudonym)
        tables["E se: transições"] = replay.transitions
        tables["E se: casos que mudam"] = replay.changed
        tables["E se: resumo"] = pd.DataFrame([{
            "casos": replay.total, "mudam": len(replay.changed),
            "valor presente atual": replay.money_current,
            "valor presente proposto": replay.money_proposed,
            "efeito": round(replay.money_proposed - replay.money_current, 2)}])
    tables["Casos parecidos com decisões diferentes"] = consistency(decisions, pseudonym)
    tables["Picos de pedidos"] = bursts(portfolio.requests, portfolio.customers)
    tables["Modelo de pagamento: fora do período"] = model_skill(calibration)
    tables["Confiabilidade fora do período"] = model_reliability(calibration)
    return tables


NOTES = {
    "Picos de pedidos": (
        "Semanas de um bairro muito acima da semana típica: sinal de que correu a notícia "
        f"de um 'desconto para todos'. Bairros com menos de {MIN_GROUP} pedidos aparecem "
        "juntos como 'outros bairros'."),
    "Acordos cumpridos, por ação": (
        "Um acordo é julgado quando o seu último prazo, com a tolerância, já passou."),
    "Modelo de pagamento: fora do período": (
        "A chance de pagar como combinado que a comparação de valores usa, ajustada nas "
        "faturas anteriores a um corte e avaliada nas posteriores, ao lado de uma taxa "
        "constante (a taxa-base). Menor é melhor. Sem vencer a taxa-base, ou com pouco "
        "histórico, o kit usa as taxas por faixa de pontualidade e diz isso."),
    "Confiabilidade fora do período": (
        "Faturas posteriores ao corte, em cinco grupos pela chance prevista: previsto "
        "contra o que aconteceu."),
}


def presentable(title: str, table: pd.DataFrame) -> pd.DataFrame:
    """A section's table as people read it: flat, Portuguese, in natural order.

    Presentation only (the computed tables stay as they are): the index becomes an
    ordinary first column and the columns' own name goes (so ``to_html`` draws one
    header row, no "index", no empty index row); two-level columns read "canal:
    WhatsApp"; months as ``ago/2026`` (Babel) and weeks as dd/mm/aaaa; punctuality bands
    in their order in the labels catalogue (good, fair, poor, new), decisions in the
    order of :class:`~relief_kit.core.model.Action`.
    """
    from relief_kit.text import formatting as fmt

    shown = table.copy()
    if not isinstance(shown.index, pd.RangeIndex):
        shown.index.names = [name or "" for name in shown.index.names]
        shown = shown.reset_index()
    if isinstance(shown.columns, pd.MultiIndex):
        shown.columns = [": ".join(str(p) for p in parts if str(p)) for parts in shown.columns]
    shown.columns.name = None
    shown = shown.reset_index(drop=True)
    actions = [ACTION_LABEL[a] for a in ACTION_ORDER if ACTION_LABEL[a] in shown.columns]
    if actions:
        shown = shown[[c for c in shown.columns if c not in actions] + actions]
    if title.startswith("Decisões por pontualidade") and "pontualidade" in shown.columns:
        order = {BAND_LABEL[band]: i for i, band in enumerate(labels.group("band"))}
        shown = shown.sort_values("pontualidade", key=lambda c: c.map(order).fillna(len(order)),
                                  kind="stable").reset_index(drop=True)
    if "ação" in shown.columns:
        rank = {ACTION_LABEL[a]: i for i, a in enumerate(ACTION_ORDER)}
        shown = shown.sort_values("ação", key=lambda c: c.map(rank).fillna(len(rank)),
                                  kind="stable").reset_index(drop=True)
    if "mês" in shown.columns:
        shown["mês"] = [fmt.month(str(v)) for v in shown["mês"]]
    if "semana" in shown.columns:
        shown["semana"] = [fmt.day(v) for v in shown["semana"]]
    return shown


def _html_table(table: pd.DataFrame) -> str:
    """A table as escaped HTML, numbers in pt-BR (money-looking columns as R$)."""
    from relief_kit.text import formatting as fmt

    def cell(column: str, value):
        if not isinstance(value, float | np.floating):
            return value
        if np.isnan(value):
            return "—"
        name = column.lower()
        if name in ("brier", "log loss"):
            return fmt.number(float(value), 4)
        if any(word in name for word in ("taxa", "previsto", "observado", "por escrito")):
            return fmt.percent(float(value))
        if any(word in name for word in ("valor", "desconto", "diferença", "efeito")):
            return fmt.money(float(value))
        return fmt.number(float(value))

    shown = table.copy()
    for column in shown.columns:
        shown[column] = [cell(str(column), v) for v in shown[column]]
    return shown.to_html(escape=True, index=not isinstance(table.index, pd.RangeIndex),
                         border=0, na_rep="—")


def chart_data(title: str, table: pd.DataFrame) -> tuple[pd.DataFrame, str] | None:
    """What a section's chart draws, from the table shown beside it (:func:`presentable`)
    and in its units: ``(bars by category, "count" | "percent")``, or None for a section
    without a chart. A share the table prints as 41 % is drawn as 41 on a 0–100 % axis.
    """
    if table.empty:
        return None
    unit = "count"
    if title == "Pedidos ao longo do tempo":
        channels = [c for c in table.columns if str(c).startswith("canal: ")]
        data = table.set_index("mês")[channels].rename(
            columns=lambda c: c.removeprefix("canal: ")) if channels else None
    elif title.startswith("Decisões por pontualidade"):
        data = table.set_index("pontualidade")
    elif title.startswith("Confiabilidade"):
        # The table shows percentages: so does the chart (0–100 %, not 0–1).
        data = table.set_index("grupo")[["previsto", "observado"]] * 100
        unit = "percent"
    else:
        return None
    if data is None or data.empty:
        return None
    return data, unit


def _chart(title: str, table: pd.DataFrame) -> str | None:
    """A bar chart (PNG, base64) for the sections that read better as one."""
    import base64
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    drawn = chart_data(title, table)
    if drawn is None:
        return None
    data, unit = drawn
    figure, axes = plt.subplots(figsize=(7, 3.2), dpi=90)
    data.plot(kind="bar", ax=axes, rot=0)
    axes.set_title(title)
    axes.set_xlabel("")
    if unit == "percent":
        from matplotlib.ticker import PercentFormatter

        axes.set_ylim(0, 100)
        axes.yaxis.set_major_formatter(PercentFormatter(100, decimals=0))
    else:
        from matplotlib.ticker import MaxNLocator

        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_ylabel("pedidos" if title == "Pedidos ao longo do tempo" else "decisões")
    # Beside the plot, never over a bar.
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def report_sections(tables: dict) -> list[dict]:
    """Title, note, chart (base64 PNG) and escaped HTML table of each section."""
    shown = {title: presentable(title, table) for title, table in tables.items()}
    return [{"title": title, "note": NOTES.get(title, ""), "empty": table.empty,
             "table": "" if table.empty else _html_table(table),
             "chart": _chart(title, table)} for title, table in shown.items()]


def show(tables: dict):
    """The sections for the meeting notebook, as one HTML display object."""
    from IPython.display import HTML
    from markupsafe import escape

    parts = []
    for section in report_sections(tables):
        parts.append(f"<h3>{escape(section['title'])}</h3>")
        if section["note"]:
            parts.append(f"<p><em>{escape(section['note'])}</em></p>")
        if section["chart"]:
            parts.append(f'<img alt="" src="data:image/png;base64,{section["chart"]}">')
        parts.append("<p>Nada a mostrar ainda.</p>" if section["empty"] else section["table"])
    return HTML("\n".join(parts))


def meeting_report(inputs: MeetingInputs, pseudonym: Callable[[str, str], str],
                   generated: str, archived: int = 0) -> str:
    """The meeting report as one self-contained HTML page (no network, no names)."""
    from relief_kit import __version__
    from relief_kit.shell.replay import cycle_collection_paused
    from relief_kit.text import formatting as fmt
    from relief_kit.text import render as text_render

    with cycle_collection_paused():
        sections = report_sections(meeting_tables(inputs, pseudonym))
    return text_render.render(
        "meeting/report.html.j2",
        sections=sections, as_of=fmt.day(inputs.as_of), requests=len(inputs.portfolio.requests),
        decided=len(inputs.decisions), criteria=inputs.criteria, proposed=inputs.proposed,
        version=__version__, generated=generated, archived=archived)


# --------------------------------------------------------------------------- the shell


def decisions_frame(portfolio, decisions: list, criteria, as_of: date,
                    calibration=None, *, recommendations: dict | None = None,
                    inputs=None) -> pd.DataFrame:
    """One row per decided request (its latest decision) with what the report needs.

    The present values are those of the money comparison under ``criteria``: the
    decided option's and the recommended option's, for the same answers.
    ``recommendations`` (by request id, ``replay.CaseRecommendation``) and ``inputs``
    (``replay.replay_inputs``) are reused when given; else computed here.
    """
    from relief_kit.core.bills import bills_concerned
    from relief_kit.core.recommend import is_small_business, recommend
    from relief_kit.core.terms import payable
    from relief_kit.shell.replay import replay_inputs

    columns = ["request_id", "customer_id", "action", "analyst", "decided_at", "deadline",
               "segment", "small_business", "at_risk", "band", "documented", "checklist",
               "amount", "discount_given", "decided_value", "recommended_value"]
    known = set(portfolio.requests["request_id"])
    decisions = [d for d in decisions if d.request_id in known]
    if not decisions:
        return pd.DataFrame(columns=columns)
    if inputs is None:
        inputs = replay_inputs(portfolio, criteria, as_of=as_of, calibration=calibration)
    recommendations = recommendations or {}
    rows = []
    for decision in decisions:
        request = inputs.requests[decision.request_id]
        customer = (inputs.customers.get(request.customer_id)
                    or portfolio.customer(request.customer_id))
        feats = inputs.features[customer.customer_id]
        checklist = decision.checklist
        known_case = recommendations.get(decision.request_id)
        # A known recommendation without its money comparison (a request for
        # information replayed with price_asking=False) is priced here.
        rec = (known_case.recommendation if known_case is not None
               and known_case.checklist == checklist and known_case.recommendation.options
               else
               recommend(customer, feats, request, checklist, criteria, as_of,
                         inputs.calibration,
                         bills=inputs.bills.get(customer.customer_id) or bills_concerned(
                             portfolio.invoices_of(customer.customer_id), customer, as_of),
                         explain=False))
        values = {o.action.value: float(o.present_value) for o in rec.options}
        terms = decision.terms
        deadline = (terms.pay_by or terms.new_due_date
                    or (terms.instalments[-1].due_date if terms.instalments else None))
        discount = (float(terms.amount - payable(terms))
                    if terms.discount_percent is not None else 0.0)
        small = is_small_business(customer, checklist, criteria)
        rows.append({
            "request_id": decision.request_id, "customer_id": customer.customer_id,
            "action": decision.action, "analyst": decision.analyst,
            "decided_at": pd.Timestamp(decision.decided_at), "deadline": deadline,
            "segment": "pequeno negócio" if small else customer.person_type,
            "small_business": checklist.small_business, "at_risk": checklist.at_risk,
            "band": feats.punctuality_band, "documented": checklist.documented,
            "checklist": checklist, "amount": float(terms.amount),
            "discount_given": discount,
            "decided_value": values.get(decision.action, 0.0),
            "recommended_value": values.get(rec.action.value, 0.0),
        })
    return pd.DataFrame(rows, columns=columns)


def build_inputs(data_dir, *, criteria_path=None, proposed_path=None,
                 today: date | None = None) -> MeetingInputs:
    """Read a data folder, its case store and the criteria files for the meeting.

    The current criteria's features, calibration and recommendations are computed once
    here and shared by the decisions table, the replay and the what-if.
    """
    from relief_kit.core.criteria import load_criteria
    from relief_kit.shell.replay import cycle_collection_paused, recommend_all, replay_inputs
    from relief_kit.sources.tables import load_folder
    from relief_kit.store.cases import open_store

    with cycle_collection_paused():
        portfolio = load_folder(data_dir)
        criteria = load_criteria(criteria_path)
        proposed = load_criteria(proposed_path) if proposed_path else None
        as_of = as_of_date(today, portfolio.as_of, date.today())
        shared = replay_inputs(portfolio, criteria, as_of=as_of)
        with open_store(data_dir) as store:
            latest = store.latest_decisions()
        known = set(shared.requests)
        answers = {d.request_id: d.checklist for d in latest if d.request_id in known}
        # The meeting values only decided and recommended options: requests for
        # information are not priced (a decided one is, by decisions_frame).
        current = recommend_all(portfolio, criteria, as_of=as_of, inputs=shared,
                                answers=answers, explain=False, price_asking=False)
        decisions = decisions_frame(portfolio, latest, criteria, as_of,
                                    recommendations={c.request_id: c for c in current},
                                    inputs=shared)
    return MeetingInputs(portfolio, criteria, proposed, decisions, as_of, shared, current,
                         latest)


SAMPLE_DIR = str(resources.SAMPLE)


def parse_today(text: str) -> date | None:
    """A notebook parameter: "" → None (the folder's as-of date), else the date."""
    from relief_kit.core.errors import InputError
    from relief_kit.core.values import ValueProblem, parse_date

    if not (text or "").strip():
        return None
    try:
        return parse_date(text)
    except ValueProblem as exc:
        raise InputError(f"today: {exc}")
