from datetime import date

import pytest

from relief_kit.core.calendar import NATIONAL, BusinessCalendar, MunicipalHoliday
from relief_kit.core.errors import InputError
from relief_kit.core.settings import load_calendar


def test_weekend_and_national_holiday_move_to_the_next_business_day():
    assert NATIONAL.next_business_day(date(2026, 11, 21)) == date(2026, 11, 23)  # Saturday
    assert NATIONAL.next_business_day(date(2026, 11, 20)) == date(2026, 11, 23)  # Consciência
    assert NATIONAL.next_business_day(date(2026, 12, 25)) == date(2026, 12, 28)
    assert NATIONAL.next_business_day(date(2026, 11, 24)) == date(2026, 11, 24)  # plain Tue


def test_carnival_is_a_business_day_unless_the_provider_says_otherwise():
    monday = date(2026, 2, 16)  # Carnival 2026: Easter is 05/04
    assert NATIONAL.is_business_day(monday)
    carnival = BusinessCalendar(carnival=True)
    assert carnival.next_business_day(monday) == date(2026, 2, 18)
    assert not carnival.is_business_day(date(2027, 2, 9))  # Carnival Tuesday 2027


def test_optional_days_include_every_federal_ponto_facultativo():
    assert NATIONAL.is_business_day(date(2026, 12, 24))
    assert not BusinessCalendar(optional_days=True).is_business_day(date(2026, 12, 24))


def test_state_and_municipal_holidays():
    assert BusinessCalendar(state="SP").is_holiday(date(2026, 7, 9))
    assert not NATIONAL.is_holiday(date(2026, 7, 9))
    town = BusinessCalendar(municipal=(MunicipalHoliday(8, 15), MunicipalHoliday(6, 13, 2026)))
    assert town.is_holiday(date(2027, 8, 15))
    assert town.is_holiday(date(2026, 6, 13)) and not town.is_holiday(date(2027, 6, 13))


def test_counting_business_days():
    # From Wed 23/12/2026: 24 (Thu), 28, 29, 30, 31; 01/01 is a holiday; Mon 04/01.
    assert NATIONAL.add_business_days(date(2026, 12, 23), 2) == date(2026, 12, 28)
    assert NATIONAL.business_days_between(date(2026, 12, 23), date(2027, 1, 4)) == 6
    assert NATIONAL.business_days_between(date(2026, 12, 23), date(2026, 12, 23)) == 0
    assert NATIONAL.add_business_days(date(2026, 11, 21), 0) == date(2026, 11, 23)
    with pytest.raises(ValueError):
        NATIONAL.add_business_days(date(2026, 11, 21), -1)


def test_the_bundled_settings_calendar():
    calendar = load_calendar(state="mg")
    assert calendar.state == "MG" and calendar.carnival and not calendar.optional_days
    with pytest.raises(InputError, match="suspension.state: UF desconhecida 'XX'"):
        load_calendar(state="XX")


@pytest.mark.parametrize("section, message", [
    ('state = "MG"', "calendar.state: chave desconhecida"),
    ('carnival = "sim"', "calendar.carnival: deve ser true ou false"),
    ('municipal_holidays = ["31-02"]', "calendar.municipal_holidays[1]: data '31-02'"),
    ('municipal_holidays = ["02-30"]', "calendar.municipal_holidays[1]: data '02-30' inexistente"),
    ('feriados = []', "calendar.feriados: chave desconhecida"),
])
def test_a_bad_calendar_setting_is_one_line_naming_file_and_key(tmp_path, section, message):
    path = tmp_path / "settings.toml"
    path.write_text(f"[calendar]\n{section}\n", encoding="utf-8")
    with pytest.raises(InputError) as error:
        load_calendar(path)
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value)
    assert "\n" not in str(error.value)


def test_brazil_alone_gives_the_packages_holidays_without_importing_every_country():
    """calendar.brazil() loads holidays.countries.brazil by itself (the whole package's
    countries cost 0.2 s per kernel); its holidays are country_holidays("BR")'s."""
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from relief_kit.core.calendar import NATIONAL, brazil\n"
        "from datetime import date\n"
        "NATIONAL.is_business_day(date(2026, 11, 20))\n"
        "print(sum(m.startswith('holidays.countries.') for m in sys.modules))\n")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True).stdout.split()[-1]
    assert loaded == "1"  # holidays.countries.brazil only

    import holidays

    from relief_kit.core.calendar import _official

    for state in ("", "MG", "SP", "BA", "RJ"):
        for year in (2019, 2024, 2026, 2031):
            for optional in (False, True):
                categories = ("public", "optional") if optional else ("public",)
                expected = holidays.country_holidays("BR", subdiv=state or None,
                                                     years=year, categories=categories)
                assert dict(_official(state, year, optional)) == dict(expected)
