from dataclasses import replace
from datetime import date
from types import MappingProxyType

import pytest

from relief_kit.core.criteria import load_criteria
from relief_kit.core.regulatory import NEW_RGC, OLD_RGC, suspension_dates

TODAY = date(2026, 11, 20)


@pytest.fixture(scope="module")
def criteria():
    return load_criteria()


def _without_setting(criteria):
    sections = dict(criteria.sections)
    sections["suspension"] = MappingProxyType({**criteria.sections["suspension"],
                                               "avoid_friday_weekend_holidays": False})
    return replace(criteria, sections=MappingProxyType(sections))


def test_new_rgc_suspension_15_days_after_notice_on_a_plain_weekday(criteria):
    dates = suspension_dates(date(2026, 11, 2), TODAY, criteria)  # +15 = Tue 17/11
    assert dates.regime == NEW_RGC
    assert dates.suspension == date(2026, 11, 17)
    assert dates.termination == date(2027, 1, 16)  # 60 days after suspension
    assert dates.sentence == "Sem acordo, a suspensão só pode ocorrer a partir de 17/11/2026."


def test_friday_moves_to_monday(criteria):
    dates = suspension_dates(date(2026, 11, 12), TODAY, criteria)  # +15 = Fri 27/11
    assert dates.suspension == date(2026, 11, 30) and dates.avoided_days


def test_christmas_and_its_eve_are_skipped(criteria):
    dates = suspension_dates(date(2026, 12, 9), TODAY, criteria)  # +15 = Thu 24/12, eve
    assert dates.suspension == date(2026, 12, 28)  # 25 holiday, 26–27 weekend


def test_eve_of_a_national_holiday_is_skipped(criteria):
    # +15 = Thu 19/11/2026, the eve of 20/11 (Consciência Negra); 20 is a Friday too.
    dates = suspension_dates(date(2026, 11, 4), TODAY, criteria)
    assert dates.suspension == date(2026, 11, 23)


def test_setting_off_keeps_the_plain_date(criteria):
    dates = suspension_dates(date(2026, 12, 9), TODAY, _without_setting(criteria))
    assert dates.suspension == date(2026, 12, 24) and not dates.avoided_days
    assert not any("14.015" in f.text for f in dates.facts)


def test_old_rgc_for_notices_before_september_2025(criteria):
    dates = suspension_dates(date(2025, 3, 3), TODAY, _without_setting(criteria))
    assert dates.regime == OLD_RGC
    assert dates.suspension == date(2025, 3, 18)  # partial
    assert dates.total_suspension == date(2025, 4, 17)
    assert dates.termination == date(2025, 5, 17)
    assert "suspensão parcial" in dates.sentence


def test_no_notice_yet_counts_from_today_and_says_so(criteria):
    dates = suspension_dates(None, TODAY, criteria)
    assert not dates.notice_sent and dates.notice_date == TODAY
    assert dates.sentence.startswith("A notificação do débito ainda não foi enviada")


def test_unconfirmed_rule_is_a_setting_not_law(criteria):
    dates = suspension_dates(date(2026, 11, 2), TODAY, criteria)
    fact = next(f for f in dates.facts if "14.015" in f.text)
    assert "não confirmada" in fact.text and fact.source.startswith("suspension.")
