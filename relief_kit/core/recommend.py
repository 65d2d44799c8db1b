"""The recommendation: a pure function from the facts of a case to an explained proposal.

The practice's fixed rules (the seed article) come first; the team's weights (the
criteria file) decide the rest:

1. An undocumented request → ask for it in writing (practice item 1).
2. Required checklist items unanswered → ask for what is missing ("não tenha pressa");
   with ``hardship`` among them, a request that does not say what happened is asked
   about, never granted by default.
3. The customer states no difficulty → refusal: relief is for those in real trouble,
   never a discount for everyone (practice item 9).
4. A score of points from the criteria's weights; at or above
   ``weights.grant_threshold`` relief is recommended, else a refusal.
5. A refusal of an at-risk household needs a second analyst
   (``at_risk.refusal_needs_second_analyst``): the recommendation says so, and the case
   store will not record it without one. At-risk information without the customer's
   consent is used for nothing else.
6. Among the allowed relief options, those within what the customer said they can pay
   come first; the one with the highest value (``money.options``: event trees at the
   region's cost of money, net of the customer's lost margin) wins, unless what the
   customer asked is within ``money.prefer_asked_within`` of it.
7. For a refusal or a request for information, the smallest change in the answers that
   would change the recommendation (LGPD art. 20).

Each reason names the criterion behind it: a criteria-file key such as
``weights.good_record``, or ``pratica.*`` for the practice's fixed rules.
The analyst decides; the recommendation explains.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from relief_kit.core.bills import fallback_bills
from relief_kit.core.calendar import NATIONAL, BusinessCalendar
from relief_kit.core.criteria import Criteria
from relief_kit.core.model import (
    Action,
    Bill,
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
from relief_kit.core.money import options
from relief_kit.core.schema import HARDSHIP_LABELS
from relief_kit.core.terms import with_amount_to_pay
from relief_kit.text import formatting as fmt

ASKED_ACTION = {"discount": Action.DISCOUNT, "new_date": Action.POSTPONEMENT,
                "instalments": Action.INSTALMENTS}
ITEM_LABELS = {
    "documented": "se o pedido foi explicado por escrito",
    "small_business": "se é um pequeno negócio que depende da conexão",
    "at_risk": "se há morador em situação de risco no domicílio",
    "asked": "o que o cliente pediu",
    "hardship": ("o que aconteceu (perda de emprego, queda de renda, doença na família, "
                 "negócio parado, outra) e desde quando"),
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
        elif item == "hardship":
            if not checklist.hardship:
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
            "essa informação: não pontua"
            + ("; só faz uma recusa depender de um segundo analista."
               if criteria["at_risk.refusal_needs_second_analyst"] else "."),
            "pratica.risco"))
    high = float(criteria["debt.high_months"])
    if features.open_months > high:
        add(w["high_debt"],
            f"Dívida em aberto de {fmt.money(features.open_debt)}, mais de {high:g} "
            "mensalidades", "weights.high_debt")
    if checklist.hardship_stated:
        since = (f" desde {fmt.day(checklist.hardship_since)}" if checklist.hardship_since
                 else "")
        add(w["hardship"], f"Dificuldade declarada: {HARDSHIP_LABELS[checklist.hardship]}"
            f"{since}", "weights.hardship")
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
                 criteria: Criteria) -> tuple[OptionValue | None, list[Reason]]:
    relief = [r for r in rows if r.allowed and r.action in ASKED_ACTION.values()]
    if not relief:
        return None, []
    reasons = []
    within = [r for r in relief if not r.exceeds_capacity]
    if checklist.capacity_monthly is not None:
        if within and len(within) < len(relief):
            reasons.append(Reason(
                "Ficam de fora as opções que pedem mais por mês do que o cliente disse "
                f"poder pagar ({fmt.money(checklist.capacity_monthly)}).", "pratica.capacidade"))
        elif not within:
            reasons.append(Reason(
                "Nenhuma opção cabe no que o cliente disse poder pagar por mês "
                f"({fmt.money(checklist.capacity_monthly)}): a escolhida excede essa "
                "capacidade — converse sobre o valor antes de propor.", "pratica.capacidade"))
    pool = within or relief
    best = max(pool, key=lambda r: r.present_value)
    asked = ASKED_ACTION.get(checklist.asked)
    tolerance = float(criteria["money.prefer_asked_within"])
    for row in pool:
        if (row.action is asked and row is not best
                and float(row.present_value) >= float(best.present_value)
                - abs(float(best.present_value)) * tolerance):
            return row, reasons + [Reason(
                f"O cliente pediu {row.action.label.lower()}, e o valor esperado "
                f"({fmt.money(row.present_value)}) fica a menos de {fmt.percent(tolerance)} "
                f"da melhor opção ({best.action.label.lower()}, "
                f"{fmt.money(best.present_value)}): atende-se o pedido.",
                "money.prefer_asked_within")]
    return best, reasons + [Reason(
        f"Entre as opções de ajuda, {best.action.label.lower()} tem o maior valor esperado "
        f"({fmt.money(best.present_value)}: {fmt.percent(best.probability)} de chance de "
        "pagamento como combinado, o que se recupera se não for, menos a margem perdida se "
        "o cliente sair; custo do dinheiro de "
        f"{fmt.percent(criteria['money.monthly_cost_of_money'], 1)} ao mês).",
        "money.monthly_cost_of_money")]


def _model_note(probabilities: PaymentProbabilities) -> str:
    used = getattr(probabilities, "used", None)
    note = getattr(probabilities, "note", "")
    if used is None:
        return "Chances de pagamento: taxas por faixa de pontualidade (calibração)."
    if used:
        return f"Chances de pagamento: modelo da carteira ({note})."
    return ("Chances de pagamento: taxas por faixa de pontualidade, puxadas para a média "
            f"da carteira (priors) — o modelo não foi usado: {note}.")


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
    bills: tuple[Bill, ...] | None = None,
    *,
    explain: bool = True,
) -> Recommendation:
    """The recommended action, its terms, the reasons and the money comparison.

    ``reliefs_in_12_months``: agreements of any kind already made with the customer in
    the rolling last 12 months; at ``relief.max_per_12_months`` no relief is recommended
    (a refusal, which for an at-risk household needs a second analyst).
    ``calendar``: every date offered is one of its business days (the provider's, from
    settings). ``bills`` are the bills concerned
    (:func:`relief_kit.core.bills.bills_concerned`); without them the open debt is taken
    as one bill due today. ``explain`` adds what would change a refusal or a request for
    information.
    """
    bills = tuple(bills) if bills else fallback_bills(customer, features, today)
    rows = options(customer, features, checklist, criteria, today, probabilities, bills,
                   calendar)
    refusal = next(r for r in rows if r.action is Action.REFUSAL)
    note = _model_note(probabilities)

    def result(action: Action, terms: Terms, reasons: list[Reason], score: float = 0.0,
               missing: tuple[str, ...] = (), second: bool = False) -> Recommendation:
        recommendation = Recommendation(
            action, with_amount_to_pay(terms), tuple(reasons), rows, criteria.version,
            criteria.sha256, score, missing, second, (), note)
        if explain and action in (Action.REFUSAL, Action.ASK_INFO):
            changes = what_would_change(customer, features, request, checklist, criteria,
                                        today, probabilities, bills, action,
                                        reliefs_in_12_months, calendar)
            recommendation = replace(recommendation, what_would_change=changes)
        return recommendation

    def refuse(reasons: list[Reason], score: float) -> Recommendation:
        second = bool(checklist.at_risk) and bool(
            criteria["at_risk.refusal_needs_second_analyst"])
        if second:
            reasons.append(Reason(
                "Há morador em situação de risco: a recusa só vale confirmada por um segundo "
                "analista.", "at_risk.refusal_needs_second_analyst"))
        reasons.append(Reason(
            "Recusa dita diretamente ao cliente, em particular e com respeito, deixando a "
            "porta aberta para uma nova conversa.", "pratica.recusa_privada"))
        return result(Action.REFUSAL, refusal.terms, reasons, score, second=second)

    if checklist.documented is False:
        return result(Action.ASK_INFO, Terms(amount=refusal.terms.amount, bills=bills), [Reason(
            "O pedido não foi explicado por escrito: peça ao cliente que explique a situação "
            "por e-mail ou WhatsApp antes de decidir (o pedido precisa ficar documentado).",
            "pratica.documentacao")], missing=missing_items(checklist, criteria))
    missing = missing_items(checklist, criteria)
    if missing:
        listed = "; ".join(ITEM_LABELS[m] for m in missing)
        why = [Reason(f"Falta saber: {listed}. Sem pressa para dizer sim ou não: pergunte "
                      "antes.", "decision.required_items")]
        if "hardship" in missing:
            why.append(Reason(
                "Sem uma dificuldade declarada não se recomenda ajuda: pergunte ao cliente o "
                "que aconteceu.", "pratica.necessidade"))
        return result(Action.ASK_INFO, Terms(amount=refusal.terms.amount, bills=bills), why,
                      missing=missing)

    score, reasons = _score(customer, features, checklist, criteria)
    if checklist.hardship == "none":
        reasons.append(Reason(
            "O cliente não declarou nenhuma dificuldade: a prática reserva a ajuda a quem "
            "realmente passa por dificuldades (nunca desconto para todos).",
            "pratica.necessidade"))
        return refuse(reasons, score)
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
            return result(chosen.action, chosen.terms, reasons + why, score)
        reasons.append(Reason("Nenhuma opção de ajuda cabe nos critérios para estas faturas.",
                              "pratica.sem_opcao"))
    elif score < threshold:
        reasons.append(Reason(
            f"Pontuação {fmt.number(score, 1)}, abaixo do limite de "
            f"{fmt.number(threshold, 1)}.", "weights.grant_threshold"))
    return refuse(reasons, score)


#: Changes tried, smallest first: (what changes, in Portuguese; how the answers change).
def _candidates(checklist: Checklist, criteria: Criteria):
    if checklist.documented is not True:
        yield ("com o pedido explicado por escrito (e-mail ou WhatsApp)",
               replace(checklist, documented=True))
    if checklist.small_business is None or checklist.at_risk is None:
        yield ("com as respostas que faltam no checklist",
               replace(checklist, small_business=bool(checklist.small_business),
                       at_risk=bool(checklist.at_risk), documented=True))
    if not checklist.hardship_stated:
        for key, text in (("job_loss", "com a perda de emprego informada e comprovada"),
                          ("income_drop", "com a queda de renda comprovada")):
            yield (text, replace(checklist, hardship=key, documented=True,
                                 small_business=bool(checklist.small_business),
                                 at_risk=bool(checklist.at_risk)))
    if checklist.at_risk and not checklist.at_risk_consent:
        yield ("com o consentimento do cliente para considerar o morador em situação de risco",
               replace(checklist, at_risk_consent=True))
    if not checklist.small_business:
        yield ("se for um pequeno negócio que depende da conexão",
               replace(checklist, small_business=True))
    for item in criteria.extra_items:
        if not checklist.extra.get(item.key) and item.weight > 0:
            yield (f"com \"{item.label.rstrip('?')}\": sim",
                   replace(checklist, extra={**checklist.extra, item.key: True}))


def _merged(base: Checklist, first: Checklist, second: Checklist) -> Checklist:
    """Both changes: every answer that differs from ``base`` in either."""
    values = {}
    for name in Checklist.__dataclass_fields__:
        a, b, old = getattr(first, name), getattr(second, name), getattr(base, name)
        if name == "extra":
            values[name] = {**old, **a, **b}
        else:
            values[name] = b if b != old else a
    return Checklist(**values)


def what_would_change(customer: Customer, features: HistoryFeatures, request: ReliefRequest,
                      checklist: Checklist, criteria: Criteria, today: date,
                      probabilities: PaymentProbabilities, bills: tuple[Bill, ...],
                      current: Action, reliefs_in_12_months: int = 0,
                      calendar: BusinessCalendar = NATIONAL) -> tuple[str, ...]:
    """The smallest change in the answers (one, else two together; those leading to relief
    first) that would change the recommendation away from ``current``, as one Portuguese
    sentence; empty when no such answer changes it (the history decides)."""
    relief = (Action.DISCOUNT, Action.POSTPONEMENT, Action.INSTALMENTS)
    singles = list(_candidates(checklist, criteria))
    pairs = [(f"{a} e {b}", _merged(checklist, x, y))
             for i, (a, x) in enumerate(singles) for b, y in singles[i + 1:]]
    for tried in (singles, pairs):  # one change first, then two together
        fallback = None
        for text, changed in tried:
            other = recommend(customer, features, request, changed, criteria, today,
                              probabilities, reliefs_in_12_months, calendar, bills,
                              explain=False)
            if other.action is current or other.action is Action.ASK_INFO:
                continue
            sentence = (f"{text[0].upper()}{text[1:]}, a recomendação seria "
                        f"{other.action.label.lower()}: "
                        f"{fmt.terms_text(other.action, other.terms)}.")
            if other.action in relief:
                return (sentence,)
            fallback = fallback or sentence
        if fallback:
            return (fallback,)
    return ()
