"""The earliest lawful suspension and termination dates for an unpaid bill.

Anatel's consumer rules (RGC) for fixed broadband:

- Resolução 765/2023 (notices from 01/09/2025): total suspension 15 days after the
  customer is notified of the overdue debt (arts. 70–71); termination 60 days after
  suspension, with a warning first (arts. 73, 75, 77); credit-bureau registration only
  after termination.
- Resolução 632/2014 (older notices): partial suspension 15 days after the notice,
  total 30 days later, termination 30 days after that.

Lei 14.015/2020 forbids cut-offs on Fridays, weekends, holidays and their eves; whether
it binds broadband providers is unconfirmed, so it is the setting
``suspension.avoid_friday_weekend_holidays`` (on by default, the safe side) and never
stated as law.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import holidays

from relief_kit.core.criteria import Criteria
from relief_kit.text import formatting as fmt

NEW_RGC = "RGC 765/2023"
OLD_RGC = "RGC 632/2014"
NEW_RGC_START = date(2025, 9, 1)


@dataclass(frozen=True)
class LegalFact:
    text: str
    source: str


@dataclass(frozen=True)
class SuspensionDates:
    regime: str
    notice_date: date  # the notice sent, or today when none was sent yet
    notice_sent: bool
    suspension: date  # total suspension (765) / partial suspension (632)
    total_suspension: date
    termination: date
    avoided_days: bool  # the Lei 14.015 setting moved a date
    sentence: str
    termination_sentence: str
    facts: tuple[LegalFact, ...]


@lru_cache(maxsize=16)
def _holidays(state: str, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("BR", subdiv=state or None, years=(year, year + 1))


def _blocked(day: date, state: str) -> bool:
    """Friday, weekend, a holiday or the eve of one (Lei 14.015/2020)."""
    calendar = _holidays(state, day.year)
    return day.weekday() >= 4 or day in calendar or (day + timedelta(days=1)) in calendar


def next_allowed_day(day: date, criteria: Criteria) -> date:
    """``day`` itself, or the first later day the cut-off setting allows."""
    if not criteria["suspension.avoid_friday_weekend_holidays"]:
        return day
    state = criteria["suspension.state"]
    while _blocked(day, state):
        day += timedelta(days=1)
    return day


def suspension_dates(notice_date: date | None, today: date, criteria: Criteria,
                     regime: str | None = None) -> SuspensionDates:
    """The earliest dates without an agreement, and the sentence for the analyst."""
    sent = notice_date is not None
    notice = notice_date if sent else today
    regime = regime or (NEW_RGC if notice >= NEW_RGC_START else OLD_RGC)
    first = notice + timedelta(days=15)
    suspension = next_allowed_day(first, criteria)
    moved = suspension != first
    if regime == NEW_RGC:
        total = suspension
        termination = suspension + timedelta(days=60)
        facts = (
            LegalFact("A suspensão total pode ocorrer 15 dias após a notificação do débito.",
                      "Resolução Anatel 765/2023, arts. 70–71"),
            LegalFact("A notificação informa o motivo, as regras e prazos de suspensão e "
                      "rescisão, o valor e o mês do débito, a possibilidade de registro em "
                      "cadastro de crédito após a rescisão e o prazo de restabelecimento.",
                      "Resolução Anatel 765/2023, art. 71, I–V"),
            LegalFact("Após 60 dias de suspensão o contrato pode ser rescindido, com aviso "
                      "prévio ao cliente; a rescisão não extingue a dívida.",
                      "Resolução Anatel 765/2023, arts. 73, 75 e 77"),
            LegalFact("Pago o débito, o serviço volta em até 1 dia; num parcelamento, após "
                      "o pagamento da primeira parcela; multa até 2%, juros até 1% ao mês, "
                      "sem taxa de religação.", "Resolução Anatel 765/2023, art. 78 §§1–3"),
        )
    else:
        first_total = suspension + timedelta(days=30)
        total = next_allowed_day(first_total, criteria)
        moved = moved or total != first_total
        termination = total + timedelta(days=30)
        facts = (
            LegalFact("Suspensão parcial 15 dias após a notificação; total 30 dias depois; "
                      "rescisão 30 dias após a suspensão total; restabelecimento em 24 h.",
                      "Resolução Anatel 632/2014 (regime anterior a 01/09/2025)"),
        )
    facts += (LegalFact("Registro em cadastro de proteção ao crédito somente após a "
                        "rescisão.", f"{regime}"),)
    if criteria["suspension.avoid_friday_weekend_holidays"]:
        facts += (LegalFact(
            "Configuração do provedor: sem corte em sextas, fins de semana, feriados e "
            "vésperas de feriado (Lei 14.015/2020 — aplicação à banda larga não "
            "confirmada; adotado por precaução).", "suspension.avoid_friday_weekend_holidays"),)
    kind = "suspensão" if regime == NEW_RGC else "suspensão parcial"
    if sent:
        sentence = f"Sem acordo, a {kind} só pode ocorrer a partir de {fmt.day(suspension)}."
    else:
        sentence = ("A notificação do débito ainda não foi enviada: se enviada hoje, a "
                    f"{kind} só poderia ocorrer a partir de {fmt.day(suspension)}.")
    termination_sentence = (f"A rescisão do contrato só pode ocorrer a partir de "
                            f"{fmt.day(termination)}, com aviso prévio ao cliente.")
    return SuspensionDates(regime, notice, sent, suspension, total, termination, moved,
                           sentence, termination_sentence, facts)
