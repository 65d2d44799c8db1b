"""The recommendation: a pure function from the facts of a case to an explained proposal.

The practice's fixed rules (the seed article) come first; the team's weights (the
criteria file) decide the rest:

1. An undocumented request → ask for it in writing (practice item 1).
2. Required checklist items unanswered → ask for what is missing ("não tenha pressa").
3. A score of points from the criteria's weights; at or above
   ``weights.grant_threshold`` relief is recommended, else a refusal.
4. An at-risk household is never plainly refused: it gets the best relief option.
5. Among the allowed relief options the one with the highest present value wins,
   unless what the customer asked is within ``money.prefer_asked_within`` of it.

Each reason names the criterion behind it: a criteria-file key such as
``weights.good_record``, or ``pratica.*`` for the practice's fixed rules.
The analyst decides; the recommendation explains.
"""

from __future__ import annotations

from datetime import date

from relief_kit.core.calendar import NATIONAL, BusinessCalendar
from relief_kit.core.criteria import Criteria
from relief_kit.core.model import (
    Action,
    Checklist,
    Customer,
    HistoryFeatures,
    OptionValue,
    PaymentProbabilities,
    Reason,
    Recommendation,
    ReliefRequest,
    Terms,
)
from relief_kit.core.money import amount_concerned, options
from relief_kit.text import formatting as fmt

ASKED_ACTION = {"discount": Action.DISCOUNT, "new_date": Action.POSTPONEMENT,
                "instalments": Action.INSTALMENTS}
ITEM_LABELS = {
    "documented": "se o pedido foi explicado por escrito",
    "small_business": "se é um pequeno negócio que depende da conexão",
    "at_risk": "se há morador em situação de risco no domicílio",
    "asked": "o que o cliente pediu",
}
BAND_TEXT = {"good": "boa", "fair": "regular", "poor": "fraca"}


def relief_cap_reached(count: int, criteria: Criteria) -> bool:
    """``relief.max_per_12_months`` agreements of any kind already in the rolling last
    12 months (0 = no cap). The ERPs cap each kind separately; the team caps them
    together."""
    cap = int(criteria["relief.max_per_12_months"])
    return cap > 0 and count >= cap


def missing_items(checklist: Checklist, criteria: Criteria) -> tuple[str, ...]:
    """Required checklist items still unanswered, in the criteria's order."""
    missing = []
    for item in criteria.required_items:
        if item == "asked":
            if checklist.asked in ("", "not_said"):
                missing.append(item)
        elif getattr(checklist, item) is None:
            missing.append(item)
    return tuple(missing)


def is_small_business(customer: Customer, checklist: Checklist, criteria: Criteria) -> bool:
    if checklist.small_business is not None:
        return checklist.small_business
    return customer.person_type == "PJ" and customer.business_kind in criteria[
        "small_business.kinds"]


def _score(customer: Customer, features: HistoryFeatures, checklist: Checklist,
           criteria: Criteria) -> tuple[float, list[Reason]]:
    w = criteria.sections["weights"]
    score, reasons = 0.0, []

    def add(points: float, text: str, criterion: str) -> None:
        nonlocal score
        score += points
        reasons.append(Reason(f"{text} ({_points(points)}).", criterion))

    band = features.punctuality_band
    share = fmt.percent(features.on_time_share)
    if band == "new":
        add(w["new_customer"],
            f"Cliente com menos de {criteria['punctuality.min_bills']} faturas vencidas: "
            "histórico curto demais para julgar a pontualidade", "weights.new_customer")
    else:
        limit = {"good": f"a partir de {fmt.percent(criteria['punctuality.good_share'])}",
                 "poor": f"abaixo de {fmt.percent(criteria['punctuality.poor_share'])}",
                 "fair": "entre os limites"}[band]
        add(w[f"{band}_record"],
            f"Pagou {share} das faturas em dia: pontualidade {BAND_TEXT[band]} ({limit}, "
            f"tolerância de {criteria['punctuality.grace_days']} dias)", f"weights.{band}_record")
    earlier, recent = features.earlier_on_time_share, features.recent_on_time_share
    if (earlier is not None and recent is not None
            and earlier >= criteria["punctuality.good_share"]
            and earlier - recent >= criteria["punctuality.shock_drop"]):
        add(w["recent_shock"],
            f"Pontual antes ({fmt.percent(earlier)}) e atrasando só nos últimos "
            f"{criteria['punctuality.recent_months']} meses ({fmt.percent(recent)}): "
            "sinal de um aperto recente, não de hábito", "weights.recent_shock")
    if features.earlier_reliefs:
        if features.reliefs_broken:
            add(w["relief_broken"],
                f"Já teve acordo antes e não o cumpriu ({features.reliefs_broken} de "
                f"{features.earlier_reliefs} faturas do acordo fora do prazo)",
                "weights.relief_broken")
        else:
            add(w["relief_kept"], "Já teve acordo antes e o cumpriu", "weights.relief_kept")
    if is_small_business(customer, checklist, criteria):
        source = ("resposta do checklist" if checklist.small_business is not None
                  else "cadastro PJ de um tipo listado em small_business.kinds")
        add(w["small_business"],
            f"Pequeno negócio que depende da conexão ({source}): pesa para mantê-lo "
            "conectado", "weights.small_business")
    if checklist.at_risk and checklist.at_risk_consent:
        add(w["at_risk"], "Há morador em situação de risco, informado pelo cliente com "
            "consentimento para o uso", "weights.at_risk")
    elif checklist.at_risk:
        reasons.append(Reason(
            "Há morador em situação de risco, mas sem o consentimento do cliente para usar "
            "essa informação: não pontua, mas impede a recusa simples.", "pratica.risco"))
    high = float(criteria["debt.high_months"])
    if features.open_months > high:
        add(w["high_debt"],
            f"Dívida em aberto de {fmt.money(features.open_debt)}, mais de {high:g} "
            "mensalidades", "weights.high_debt")
    for item in criteria.extra_items:
        if checklist.extra.get(item.key):
            add(item.weight, item.label.rstrip("?") + ": sim", f"checklist.extra.{item.key}")
    return score, reasons


def _points(points: float) -> str:
    if points == 0:
        return "0 ponto"
    sign = "+" if points > 0 else "−"
    value = fmt.number(abs(points), 0 if float(points).is_integer() else 1)
    return f"{sign}{value} ponto{'s' if abs(points) != 1 else ''}"


def _best_relief(rows: tuple[OptionValue, ...], checklist: Checklist,
                 criteria: Criteria) -> tuple[OptionValue | None, Reason | None]:
    relief = [r for r in rows if r.allowed and r.action in ASKED_ACTION.values()]
    if not relief:
        return None, None
    best = max(relief, key=lambda r: r.present_value)
    asked = ASKED_ACTION.get(checklist.asked)
    tolerance = float(criteria["money.prefer_asked_within"])
    for row in relief:
        if (row.action is asked and row is not best
                and float(row.present_value) >= float(best.present_value) * (1 - tolerance)):
            return row, Reason(
                f"O cliente pediu {row.action.label.lower()}, e o valor presente esperado "
                f"({fmt.money(row.present_value)}) fica a menos de {fmt.percent(tolerance)} "
                f"da melhor opção ({best.action.label.lower()}, "
                f"{fmt.money(best.present_value)}): atende-se o pedido.",
                "money.prefer_asked_within")
    return best, Reason(
        f"Entre as opções de ajuda, {best.action.label.lower()} tem o maior valor presente "
        f"esperado ({fmt.money(best.present_value)}, com {fmt.percent(best.probability)} de "
        f"chance de pagamento e custo do dinheiro de "
        f"{fmt.percent(criteria['money.monthly_cost_of_money'], 1)} ao mês).",
        "money.monthly_cost_of_money")


def recommend(
    customer: Customer,
    features: HistoryFeatures,
    request: ReliefRequest,
    checklist: Checklist,
    criteria: Criteria,
    today: date,
    probabilities: PaymentProbabilities,
    reliefs_in_12_months: int = 0,
    calendar: BusinessCalendar = NATIONAL,
) -> Recommendation:
    """The recommended action, its terms, the reasons and the money comparison.

    ``reliefs_in_12_months``: agreements of any kind already made with the customer in
    the rolling last 12 months; at ``relief.max_per_12_months`` no relief is
    recommended (an at-risk household still gets the best option, said so).
    ``calendar``: every date offered is one of its business days (the provider's, from
    settings).
    """
    rows = options(customer, features, checklist, criteria, today, probabilities,
                   calendar)
    amount = amount_concerned(customer, features)

    def result(action: Action, terms: Terms, reasons: list[Reason], score: float = 0.0,
               missing: tuple[str, ...] = ()) -> Recommendation:
        return Recommendation(action, terms, tuple(reasons), rows, criteria.version,
                              criteria.sha256, score, missing)

    if checklist.documented is False:
        return result(Action.ASK_INFO, Terms(amount=amount), [Reason(
            "O pedido não foi explicado por escrito: peça ao cliente que explique a situação "
            "por e-mail ou WhatsApp antes de decidir (o pedido precisa ficar documentado).",
            "pratica.documentacao")], missing=missing_items(checklist, criteria))
    missing = missing_items(checklist, criteria)
    if missing:
        listed = "; ".join(ITEM_LABELS[m] for m in missing)
        return result(Action.ASK_INFO, Terms(amount=amount), [Reason(
            f"Falta saber: {listed}. Sem pressa para dizer sim ou não: pergunte antes.",
            "decision.required_items")], missing=missing)

    score, reasons = _score(customer, features, checklist, criteria)
    threshold = float(criteria["weights.grant_threshold"])
    capped = relief_cap_reached(reliefs_in_12_months, criteria)
    if capped:
        reasons.append(Reason(
            f"Já teve {reliefs_in_12_months} acordo(s) nos últimos 12 meses, o limite de "
            f"{criteria['relief.max_per_12_months']} para qualquer tipo de ajuda.",
            "relief.max_per_12_months"))
    if score >= threshold and not capped:
        reasons.append(Reason(
            f"Pontuação {fmt.number(score, 1)}, no limite de {fmt.number(threshold, 1)} "
            "ou acima: recomenda-se ajudar.", "weights.grant_threshold"))
        chosen, why = _best_relief(rows, checklist, criteria)
        if chosen is not None:
            return result(chosen.action, chosen.terms, reasons + [why], score)
    else:
        if score < threshold:
            reasons.append(Reason(
                f"Pontuação {fmt.number(score, 1)}, abaixo do limite de "
                f"{fmt.number(threshold, 1)}.", "weights.grant_threshold"))
        if checklist.at_risk:
            chosen, why = _best_relief(rows, checklist, criteria)
            if chosen is not None:
                reasons.append(Reason(
                    "Há morador em situação de risco: a prática não admite recusa simples; "
                    "oferece-se a opção de ajuda de melhor valor.", "pratica.risco"))
                return result(chosen.action, chosen.terms, reasons + [why], score)
    reasons.append(Reason(
        "Recusa dita diretamente ao cliente, em particular e com respeito, deixando a "
        "porta aberta para uma nova conversa.", "pratica.recusa_privada"))
    refusal = next(r for r in rows if r.action is Action.REFUSAL)
    return result(Action.REFUSAL, refusal.terms, reasons, score)
