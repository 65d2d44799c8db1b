"""Property-based tests: parsers never guess, never crash, and round-trip."""

from datetime import date, datetime
from decimal import Decimal

from babel.numbers import format_decimal
from hypothesis import given, settings
from hypothesis import strategies as st

from relief_kit.evidence import parse_whatsapp
from relief_kit.tables import ValueProblem, parse_date, parse_money

amounts = st.decimals(min_value=Decimal("0.00"), max_value=Decimal("999999.99"), places=2)


@given(amounts)
def test_brazilian_money_round_trips(value):
    text = format_decimal(value, "#,##0.00", locale="pt_BR")  # 1.149,90
    assert parse_money(text) == value
    assert parse_money(f"R$ {text}") == value


@given(amounts)
def test_machine_money_round_trips(value):
    assert parse_money(f"{value:.2f}") == value


@given(st.text(max_size=20))
def test_money_parser_either_parses_or_explains(text):
    try:
        parsed = parse_money(text)
    except ValueProblem as exc:
        assert str(exc)  # a message, never a crash
    else:
        assert parsed is None or isinstance(parsed, Decimal)


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31)))
def test_both_date_styles_round_trip(day):
    assert parse_date(day.strftime("%d/%m/%Y")) == day
    assert parse_date(day.isoformat()) == day


@given(st.text(max_size=30))
def test_date_parser_either_parses_or_explains(text):
    try:
        parse_date(text)
    except ValueProblem as exc:
        assert str(exc)


names = st.text(alphabet=st.characters(whitelist_categories=("L",)), min_size=1, max_size=15)
bodies = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")),
                 min_size=1, max_size=60).map(str.strip).filter(bool)


@settings(max_examples=60)
@given(st.lists(st.tuples(st.booleans(), bodies), min_size=1, max_size=6), names)
def test_android_export_keeps_every_message_and_author(messages, customer):
    provider = "NetVale Atendimento"
    start = datetime(2026, 11, 3, 9, 0)
    lines = []
    for i, (from_customer, body) in enumerate(messages):
        moment = start.replace(minute=i)
        author = customer if from_customer else provider
        lines.append(f"{moment:%d/%m/%Y %H:%M} - {author}: {body}")
    chat = parse_whatsapp("\n".join(lines), provider_authors=[provider])
    texts = [m.text for m in chat.messages if not m.is_system]
    assert texts == [body for _, body in messages]
    assert [m.from_customer for m in chat.messages] == [c for c, _ in messages]
