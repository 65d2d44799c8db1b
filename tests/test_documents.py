"""CPF, CNPJ and phone helpers: validation, canonical forms and LGPD masks."""

import pytest

from relief_kit.core.documents import (
    bare_document,
    document_kind,
    format_document,
    format_phone,
    is_valid_document,
    mask_document,
    mask_phone,
    normalize_phone,
)
from relief_kit.core.values import ValueProblem

# Check digits worked out by hand from the Receita Federal algorithm.
VALID_CPF = "529.982.247-25"
VALID_CNPJ = "11.222.333/0001-81"
ALPHANUMERIC_CNPJ = "12.ABC.345/01DE-35"  # the format issued from July 2026


@pytest.mark.parametrize("text", [VALID_CPF, "52998224725", " 529 982 247 25 ", "123.456.789-09"])
def test_valid_cpf_is_accepted_formatted_bare_or_spaced(text):
    assert is_valid_document(text)
    assert document_kind(text) == "CPF"


@pytest.mark.parametrize("text", [VALID_CNPJ, "11222333000181", ALPHANUMERIC_CNPJ,
                                  "12abc34501de35"])
def test_valid_cnpj_is_accepted_including_the_alphanumeric_form(text):
    assert is_valid_document(text)
    assert document_kind(text) == "CNPJ"


@pytest.mark.parametrize("text", ["529.982.247-24", "529.982.247-52", "11.222.333/0001-80",
                                  "11.222.333/0001-18", "12.ABC.345/01DE-53"])
def test_wrong_check_digits_are_refused_but_the_kind_is_still_known(text):
    assert not is_valid_document(text)
    assert document_kind(text) in {"CPF", "CNPJ"}


@pytest.mark.parametrize("text", ["111.111.111-11", "000.000.000-00", "00.000.000/0000-00"])
def test_placeholder_documents_are_refused(text):
    assert not is_valid_document(text)


@pytest.mark.parametrize("text", ["", "  ", "5299822472", "529.982.247-255", "abc",
                                  "529,982,247-25", "CPF 529.982.247-25"])
def test_text_that_is_neither_cpf_nor_cnpj_has_no_kind(text):
    assert document_kind(text) is None
    assert not is_valid_document(text)


def test_person_type_demands_the_matching_document():
    assert is_valid_document(VALID_CPF, "PF")
    assert is_valid_document(VALID_CNPJ, "PJ")
    assert is_valid_document(VALID_CNPJ, "pj")
    assert not is_valid_document(VALID_CPF, "PJ")
    assert not is_valid_document(VALID_CNPJ, "PF")
    assert not is_valid_document(VALID_CPF, "XX")


def test_documents_are_formatted_and_stripped_to_their_characters():
    assert format_document("52998224725") == VALID_CPF
    assert format_document(" 11222333000181 ") == VALID_CNPJ
    assert format_document("12abc34501de35") == ALPHANUMERIC_CNPJ
    assert bare_document(VALID_CPF) == "52998224725"
    assert bare_document(VALID_CNPJ) == "11222333000181"
    assert bare_document("12.abc.345/01de-35") == "12ABC34501DE35"
    with pytest.raises(ValueProblem, match="não é CPF"):
        format_document("1234")


def test_masks_keep_only_what_tells_records_apart():
    assert mask_document(VALID_CPF) == "***.982.247-**"
    assert mask_document("52998224725") == "***.982.247-**"
    assert mask_document(VALID_CNPJ) == "11.222.***/****-81"
    assert mask_document(ALPHANUMERIC_CNPJ) == "12.ABC.***/****-35"


@pytest.mark.parametrize("text", ["", "abc", "5299822", "529.982.247-25 e 11.222.333/0001-81"])
def test_a_mask_never_leaks_what_it_cannot_recognise(text):
    assert mask_document(text) == "***"


@pytest.mark.parametrize("text", ["(35) 99999-0000", "35999990000", "+55 35 99999-0000",
                                  "035 99999-0000", "0xx35 99999-0000", "0 21 35 99999-0000",
                                  "+55 (35) 9.9999-0000"])
def test_brazilian_mobiles_are_normalised_to_e164_whatever_the_writing(text):
    assert normalize_phone(text) == "+5535999990000"
    assert format_phone(text) == "(35) 99999-0000"
    assert mask_phone(text) == "(35) 9****-0000"


def test_landlines_keep_their_eight_digits():
    assert normalize_phone("(35) 3333-0000") == "+553533330000"
    assert format_phone("3533330000") == "(35) 3333-0000"
    assert mask_phone("(35) 3333-0000") == "(35) 3***-0000"


@pytest.mark.parametrize("text", ["", "99999-0000", "(35) 9999-0000", "(00) 99999-0000",
                                  "telefone", "123"])
def test_unusable_phones_raise_a_portuguese_value_problem(text):
    with pytest.raises(ValueProblem) as caught:
        normalize_phone(text)
    assert "telefone" in str(caught.value)
    assert mask_phone(text) == "***"


def test_a_foreign_phone_is_normalised_but_has_no_brazilian_format():
    assert normalize_phone("+351 912 345 678") == "+351912345678"
    with pytest.raises(ValueProblem, match="brasileiro"):
        format_phone("+351 912 345 678")
