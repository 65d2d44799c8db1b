"""Property-based tests: parsers never guess, never crash, and round-trip."""

import re
from datetime import date, datetime
from decimal import Decimal

from babel.numbers import format_decimal
from hypothesis import given, settings
from hypothesis import strategies as st

from relief_kit.core.documents import (
    bare_document,
    document_kind,
    format_document,
    is_valid_document,
    mask_document,
    mask_phone,
    normalize_phone,
)
from relief_kit.core.values import ValueProblem, parse_date, parse_money
from relief_kit.sources.evidence import parse_whatsapp

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


# --------------------------------------------------------------------------- CPF and CNPJ
# Check digits computed here, independently of python-stdnum: the Receita Federal's
# mod-11 rule (remainder below 2 gives 0, else 11 minus the remainder).


def _check_digit(values: list[int], weights: list[int]) -> int:
    remainder = sum(v * w for v, w in zip(values, weights, strict=True)) % 11
    return 0 if remainder < 2 else 11 - remainder


def with_cpf_digits(base: str) -> str:
    """Nine digits → the eleven-digit CPF (weights 10..2, then 11..2)."""
    values = [int(c) for c in base]
    values.append(_check_digit(values, list(range(10, 1, -1))))
    values.append(_check_digit(values, list(range(11, 1, -1))))
    return "".join(map(str, values))


def with_cnpj_digits(base: str) -> str:
    """Twelve characters → the CNPJ (weights 5..2,9..2 then 6..2,9..2; a letter counts
    as its ASCII code minus 48, the rule of the alphanumeric CNPJ)."""
    values = [ord(c) - 48 for c in base]
    for length in (12, 13):
        weights = [i % 8 + 2 for i in range(length)][::-1]
        values.append(_check_digit(values, weights))
    return base + "".join(str(v) for v in values[12:])


def cpf_layout(cpf: str) -> str:
    return f"{cpf[:3]}.{cpf[3:6]}.{cpf[6:9]}-{cpf[9:]}"


def cnpj_layout(cnpj: str) -> str:
    return f"{cnpj[:2]}.{cnpj[2:5]}.{cnpj[5:8]}/{cnpj[8:12]}-{cnpj[12:]}"


digits = "0123456789"
# Eleven equal digits pass the arithmetic but are placeholders the kit refuses.
cpfs = st.text(digits, min_size=9, max_size=9).filter(lambda s: len(set(s)) > 1) \
    .map(with_cpf_digits)
# A base of twelve zeros is never issued either (python-stdnum refuses it).
cnpjs = st.text(digits, min_size=12, max_size=12).filter(lambda s: s != "0" * 12) \
    .map(with_cnpj_digits)
lettered_cnpjs = st.text(digits + "ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=12, max_size=12) \
    .filter(lambda s: s != "0" * 12).map(with_cnpj_digits)


@settings(max_examples=150)
@given(cpfs)
def test_every_valid_cpf_validates_bare_and_formatted(cpf):
    for text in (cpf, cpf_layout(cpf), f"  {cpf_layout(cpf)} "):
        assert document_kind(text) == "CPF"
        assert is_valid_document(text) and is_valid_document(text, "PF")
        assert not is_valid_document(text, "PJ")
        assert format_document(text) == cpf_layout(cpf)


@settings(max_examples=150)
@given(st.one_of(cnpjs, lettered_cnpjs))
def test_every_valid_cnpj_validates_bare_and_formatted(cnpj):
    for text in (cnpj, cnpj_layout(cnpj)):
        assert document_kind(text) == "CNPJ"
        assert is_valid_document(text) and is_valid_document(text, "PJ")
        assert not is_valid_document(text, "PF")
        assert format_document(text) == cnpj_layout(cnpj)


@settings(max_examples=100)
@given(cpfs, st.integers(0, 10), st.integers(1, 9))
def test_one_changed_cpf_digit_is_valid_only_when_the_check_digits_still_agree(cpf, at, step):
    changed = cpf[:at] + str((int(cpf[at]) + step) % 10) + cpf[at + 1:]
    agrees = changed == with_cpf_digits(changed[:9]) and len(set(changed)) > 1
    assert is_valid_document(changed) == agrees
    assert is_valid_document(cpf_layout(changed)) == agrees
    if at >= 9:  # a check digit typed wrong is always caught
        assert not agrees


@settings(max_examples=100)
@given(cnpjs, st.integers(0, 13), st.integers(1, 9))
def test_one_changed_cnpj_digit_is_valid_only_when_the_check_digits_still_agree(cnpj, at, step):
    changed = cnpj[:at] + str((int(cnpj[at]) + step) % 10) + cnpj[at + 1:]
    agrees = changed == with_cnpj_digits(changed[:12]) and changed[:12] != "0" * 12
    assert is_valid_document(changed) == agrees
    assert is_valid_document(cnpj_layout(changed)) == agrees
    if at >= 12:
        assert not agrees


documentish = st.one_of(
    st.text(max_size=25),
    st.text("0123456789.-/ ABCxyz\u2013", max_size=22),
    cpfs.map(cpf_layout).map(lambda s: s + "9"),
)


@settings(max_examples=200)
@given(documentish)
def test_any_text_is_a_document_or_one_line_that_says_why(text):
    valid = is_valid_document(text)  # a yes or no, never an exception
    try:
        formatted = format_document(text)
    except ValueProblem as exc:
        assert not valid
        assert document_kind(text) is None
        message = str(exc)
        assert message.startswith("documento ") and "\n" not in message
    else:
        assert document_kind(text) in ("CPF", "CNPJ")
        assert bare_document(formatted) == bare_document(text)


def _revealed(mask: str) -> str:
    return re.sub(r"[^0-9A-Za-z]", "", mask)


@settings(max_examples=150)
@given(cpfs)
def test_a_cpf_mask_shows_only_its_six_middle_digits(cpf):
    for text in (cpf, cpf_layout(cpf)):
        mask = mask_document(text)
        assert re.fullmatch(r"\*\*\*\.\d{3}\.\d{3}-\*\*", mask)
        assert _revealed(mask) == cpf[3:9]


@settings(max_examples=150)
@given(st.one_of(cnpjs, lettered_cnpjs))
def test_a_cnpj_mask_shows_only_the_company_prefix_and_check_digits(cnpj):
    mask = mask_document(cnpj_layout(cnpj))
    assert re.fullmatch(r"[0-9A-Z]{2}\.[0-9A-Z]{3}\.\*\*\*/\*\*\*\*-\d{2}", mask)
    assert _revealed(mask) == cnpj[:5] + cnpj[12:]


@settings(max_examples=200)
@given(st.one_of(documentish, st.text(digits + " ()-+", max_size=20)))
def test_a_mask_never_shows_more_than_seven_characters_of_what_it_masks(text):
    document, phone = mask_document(text), mask_phone(text)
    # What a mask shows is taken from the number, in order, never made up: the
    # document's own characters; the phone's digits as dialled (letters of a vanity
    # number are keypad digits).
    for mask, source in ((document, bare_document(text)),
                         (phone, normalize_phone(text) if phone != "***" else "")):
        shown = _revealed(mask)
        assert len(shown) <= 7
        remaining = iter(source)
        assert all(char in remaining for char in shown)
