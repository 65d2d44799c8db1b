"""The regulatory timeline, pinned on both sides of 01/09/2025 and around holidays.

Dates checked by hand against the rules: RGC 632/2014 (partial suspension 15 days after
the notice, total 30 days later, termination 30 days after that) for acts before
01/09/2025; RGC 765/2023 (total suspension 15 days after the notice, termination 60
days after it) from then on; the 15 days counted from the day after the notice by
default (Código Civil art. 132); the Lei 14.015 setting moves a cut-off off Fridays,
weekends, holidays and their eves.
"""

from dataclasses import replace
from datetime import date
from types import MappingProxyType

import pytest

from relief_kit.core.calendar import NATIONAL, BusinessCalendar, MunicipalHoliday
from relief_kit.core.criteria import load_criteria
from relief_kit.core.regulatory import (
    NEW_RGC,
    NOT_NOTIFIED,
    NOTHING_DUE,
    OLD_RGC,
    PARTIAL_SUSPENSION,
    SUSPENSION,
    TERMINATION,
    suspension_dates,
)
from relief_kit.shell import views

TODAY = date(2026, 11, 20)


@pytest.fixture(scope="module")
def criteria():
    return load_criteria()


def _with(criteria, **suspension):
    sections = dict(criteria.sections)
    sections["suspension"] = MappingProxyType({**criteria.sections["suspension"], **suspension})
    return replace(criteria, sections=MappingProxyType(sections))


def _acts(dates):
    return [(a.kind, a.day, a.regime) for a in dates.acts]


# --------------------------------------------------------------------------- 765/2023


def test_new_rgc_counts_15_days_from_the_day_after_the_notice_by_default(criteria):
    dates = suspension_dates(date(2026, 11, 2), TODAY, criteria)  # Mon; +16 = Wed 18/11
    assert dates.regime == NEW_RGC and dates.count_from == "day_after_notice"
    assert _acts(dates) == [(SUSPENSION, date(2026, 11, 18), NEW_RGC),
                            (TERMINATION, date(2027, 1, 17), NEW_RGC)]  # 60 days later
    assert dates.acts[0].article == "Resolução Anatel 765/2023, arts. 70–71"


def test_counting_from_the_notice_day_is_one_day_earlier(criteria):
    dates = suspension_dates(date(2026, 11, 2), TODAY, _with(criteria, count_from="notice_day"))
    assert dates.suspension == date(2026, 11, 17)


def test_friday_moves_to_monday(criteria):
    dates = suspension_dates(date(2026, 11, 11), TODAY, criteria)  # +16 = Fri 27/11
    assert dates.suspension == date(2026, 11, 30) and dates.avoided_days


def test_christmas_eve_and_christmas_are_skipped(criteria):
    dates = suspension_dates(date(2026, 12, 8), TODAY, criteria)  # +16 = Thu 24/12, an eve
    assert dates.suspension == date(2026, 12, 28)  # 25 holiday, 26–27 weekend


def test_eve_of_a_national_holiday_is_skipped(criteria):
    # +16 = Thu 19/11/2026, the eve of 20/11 (Consciência Negra, a Friday too).
    dates = suspension_dates(date(2026, 11, 3), TODAY, criteria)
    assert dates.suspension == date(2026, 11, 23)


def test_carnival_setting_moves_the_suspension_past_ash_wednesday_eve(criteria):
    # Notice Fri 30/01/2026; +16 = Sun 15/02. Carnival 2026 is Mon 16 and Tue 17/02.
    notice = date(2026, 1, 30)
    assert suspension_dates(notice, TODAY, criteria, NATIONAL).suspension == date(2026, 2, 16)
    carnival = BusinessCalendar(carnival=True)
    assert suspension_dates(notice, TODAY, criteria, carnival).suspension == date(2026, 2, 18)


def test_state_and_municipal_holidays_come_from_the_provider_calendar(criteria):
    # +16 = Thu 09/07/2026: a São Paulo state holiday (Revolução Constitucionalista).
    notice = date(2026, 6, 23)
    assert suspension_dates(notice, TODAY, criteria).suspension == date(2026, 7, 9)
    assert suspension_dates(notice, TODAY, criteria,
                            BusinessCalendar(state="SP")).suspension == date(2026, 7, 13)
    # +16 = Thu 13/08/2026; a municipal holiday on 13/08 → Fri 14 → Mon 17.
    town = BusinessCalendar(municipal=(MunicipalHoliday(8, 13),))
    assert suspension_dates(date(2026, 7, 28), TODAY, criteria, town).suspension == date(
        2026, 8, 17)


def test_setting_off_keeps_the_plain_date(criteria):
    dates = suspension_dates(date(2026, 12, 8), TODAY,
                             _with(criteria, avoid_friday_weekend_holidays=False))
    assert dates.suspension == date(2026, 12, 24) and not dates.avoided_days
    assert not dates.avoid_cutoff_days


# --------------------------------------------------------------------------- 01/09/2025


def test_old_rgc_for_a_timeline_wholly_before_september_2025(criteria):
    dates = suspension_dates(date(2025, 3, 3), TODAY, criteria)  # +16 = Wed 19/03/2025
    # Total 30 days after the partial: Fri 18/04/2025 is Good Friday; 21/04 Tiradentes.
    assert _acts(dates) == [(PARTIAL_SUSPENSION, date(2025, 3, 19), OLD_RGC),
                            (SUSPENSION, date(2025, 4, 22), OLD_RGC),
                            (TERMINATION, date(2025, 5, 22), OLD_RGC)]
    assert dates.regimes == (OLD_RGC,)


def test_acts_after_the_change_follow_765_though_the_notice_was_under_632(criteria):
    # The case: notice on 21/07/2025. Under 632 alone the total suspension would
    # be 04/09/2025 and the termination 04/10/2025, both after 632 was revoked.
    dates = suspension_dates(date(2025, 7, 21), TODAY, criteria)
    assert dates.notice_regime == OLD_RGC
    assert _acts(dates) == [(PARTIAL_SUSPENSION, date(2025, 8, 6), OLD_RGC),
                            (SUSPENSION, date(2025, 9, 1), NEW_RGC),
                            (TERMINATION, date(2025, 10, 31), NEW_RGC)]
    assert dates.regimes == (OLD_RGC, NEW_RGC)


def test_only_the_termination_crosses_the_change(criteria):
    # +16 = Thu 17/07/2025 partial; +30 = Sat 16/08 → Mon 18/08 total (632); the old
    # termination (17/09) falls after the change: 60 days after the total, under 765.
    dates = suspension_dates(date(2025, 7, 1), TODAY, criteria)
    assert _acts(dates) == [(PARTIAL_SUSPENSION, date(2025, 7, 17), OLD_RGC),
                            (SUSPENSION, date(2025, 8, 18), OLD_RGC),
                            (TERMINATION, date(2025, 10, 17), NEW_RGC)]


def test_a_notice_before_the_change_whose_suspension_falls_after_it_follows_765(criteria):
    # Notice 20/08/2025; +16 = Fri 05/09 → Mon 08/09 (07/09 is a Sunday holiday).
    dates = suspension_dates(date(2025, 8, 20), TODAY, criteria)
    assert _acts(dates) == [(SUSPENSION, date(2025, 9, 8), NEW_RGC),
                            (TERMINATION, date(2025, 11, 7), NEW_RGC)]


def test_an_old_step_moved_onto_the_change_day_follows_765(criteria):
    # Notice 14/07/2025: partial 30/07 (632); the old total, 29/08 (a Friday), moves to
    # Mon 01/09/2025, the day 632 is revoked: 765 rules it (and the termination).
    dates = suspension_dates(date(2025, 7, 14), TODAY, criteria)
    assert _acts(dates) == [(PARTIAL_SUSPENSION, date(2025, 7, 30), OLD_RGC),
                            (SUSPENSION, date(2025, 9, 1), NEW_RGC),
                            (TERMINATION, date(2025, 10, 31), NEW_RGC)]


def test_a_first_step_moved_onto_the_change_day_is_765s_total_suspension(criteria):
    # Notice 13/08/2025: +16 = Fri 29/08 → Mon 01/09/2025. 765 has no partial step: the
    # total suspension on 01/09, never a 632 partial step the same day.
    dates = suspension_dates(date(2025, 8, 13), TODAY, criteria)
    assert _acts(dates) == [(SUSPENSION, date(2025, 9, 1), NEW_RGC),
                            (TERMINATION, date(2025, 10, 31), NEW_RGC)]


# --------------------------------------------------------------------------- the notice


def test_a_due_debt_not_yet_notified_counts_from_today(criteria):
    dates = suspension_dates(None, TODAY, criteria, debt_due=True)
    assert dates.status == NOT_NOTIFIED and dates.notice_date == TODAY
    assert not dates.notice_sent and dates.suspension == date(2026, 12, 7)


def test_nothing_due_means_no_notice_and_no_dates(criteria):
    dates = suspension_dates(None, TODAY, criteria, debt_due=False)
    assert dates.status == NOTHING_DUE and dates.acts == ()
    assert dates.suspension is None and dates.termination is None


class _Case:
    def __init__(self, regulatory, today=TODAY):
        self.regulatory, self.today = regulatory, today


def test_the_view_says_each_act_with_its_article_and_the_day_count(criteria):
    html = str(views.regulatory_section(_Case(suspension_dates(date(2025, 7, 21), TODAY,
                                                                criteria)), expanded=True))
    assert "Sem acordo, a suspensão parcial só pode ocorrer a partir de 06/08/2025" in html
    assert "a partir de 01/09/2025 — Resolução Anatel 765/2023, arts. 70–71" in html
    assert "a partir de 31/10/2025, com aviso prévio ao cliente — Resolução Anatel " \
           "765/2023, arts. 73, 75 e 77" in html
    assert "atravessa 01/09/2025" in html
    assert "dia seguinte ao da notificação (Código Civil, art. 132" in html
    assert "não confirmada" in html  # the Lei 14.015 setting is never stated as law


def test_the_view_has_no_notice_sentence_when_nothing_is_due(criteria):
    html = str(views.regulatory_section(_Case(suspension_dates(None, TODAY, criteria,
                                                                debt_due=False))))
    assert "se enviada hoje" not in html and "a partir de" not in html
    assert "Não há fatura vencida em aberto" in html


def test_the_view_offers_the_notice_for_a_due_debt_not_yet_notified(criteria):
    html = str(views.regulatory_section(_Case(suspension_dates(None, TODAY, criteria))))
    assert ("A notificação do débito vencido ainda não foi enviada: se enviada hoje, a "
            "suspensão só poderia ocorrer a partir de 07/12/2026.") in html
