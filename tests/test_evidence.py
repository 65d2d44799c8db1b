"""The customer's written request: WhatsApp exports and saved e-mails."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relief_kit.core.errors import InputError
from relief_kit.sources.evidence import (
    ChatProblem,
    html_to_text,
    parse_eml,
    parse_whatsapp,
    read_evidence,
)

FIXTURES = Path(__file__).parent / "fixtures" / "evidence"
PROVIDER = ("NetVale Atendimento",)


def chat(name: str, provider=PROVIDER):
    return read_evidence(FIXTURES / name, provider)


# ---------------------------------------------------------------- WhatsApp layouts


def test_android_portuguese_chat_reads_authors_times_and_multi_line_messages():
    request = chat("android_pt.txt")
    first = next(m for m in request.messages if m.from_customer)
    assert request.kind == "whatsapp"
    assert first.author == "Maria Aparecida Souza"
    assert first.time == datetime(2024, 3, 25, 21, 15)
    assert first.text.splitlines() == [
        "Boa noite! Aqui é a Maria, do contrato da Rua das Flores.",
        "Perdi o emprego mês passado e não consigo pagar a fatura de março: R$ 99,90.",
        "Consigo pagar dia 10/04, pode ser?",
    ]


def test_request_is_dated_by_the_customers_first_message_not_the_system_line():
    request = chat("android_pt.txt")
    assert request.messages[0].is_system and request.messages[0].author == ""
    assert request.requested_at == datetime(2024, 3, 25, 21, 15)


def test_android_media_lines_are_media_and_keep_the_caption():
    messages = chat("android_pt.txt").messages
    hidden = next(m for m in messages if m.text == "<Mídia oculta>")
    attached = next(m for m in messages if m.attachment)
    assert hidden.is_media and hidden.from_customer
    assert attached.is_media
    assert attached.attachment == "IMG-20240325-WA0007.jpg"
    assert attached.text.endswith("\nfoto da carteira de trabalho")


def test_provider_messages_are_not_the_customers():
    messages = chat("android_pt.txt").messages
    provider = [m for m in messages if m.author == "NetVale Atendimento"]
    assert len(provider) == 2
    assert not any(m.from_customer for m in provider)


def test_customer_text_with_markup_is_kept_as_plain_text_for_the_renderer_to_escape():
    last = chat("android_pt.txt").messages[-1]
    assert last.text == "Obrigada <script>alert(1)</script> {{ nome }}"
    assert last.from_customer


def test_ios_chat_with_invisible_marks_in_names_and_phones():
    request = chat("_chat.txt")
    customer = [m for m in request.messages if m.from_customer]
    assert request.customer_authors == ("+55 35 99876-5432",)
    assert customer[0].time == datetime(2024, 3, 25, 21, 16, 40)
    assert request.requested_at == customer[0].time
    # The provider's name has a non-breaking space in the file; it still matches.
    assert [m.author for m in request.messages if m.author and not m.from_customer] == [
        "NetVale Atendimento"
    ]


def test_ios_encryption_notice_is_a_system_line_although_it_has_an_author():
    first = chat("_chat.txt").messages[0]
    assert first.is_system and not first.from_customer and first.author == ""


def test_ios_attachments_and_omitted_media_are_media():
    media = [m for m in chat("_chat.txt").messages if m.is_media]
    assert [m.text for m in media] == [
        "<anexado: 00000012-PHOTO-2024-03-25-21-17-05.jpg>",
        "áudio ocultado",
    ]
    assert media[0].attachment == "00000012-PHOTO-2024-03-25-21-17-05.jpg"


def test_invisible_marks_inside_the_customers_words_are_kept_as_written():
    text = next(m for m in chat("_chat.txt").messages if m.from_customer).text
    assert "o \u200edinheiro acabou" in text
    assert "\r" not in text
    assert text.endswith("Dá pra parcelar em 3x?")


def test_english_android_with_12_hour_clock_and_narrow_spaces():
    request = chat("android_en_12h.txt")
    def time_of(start: str) -> datetime:
        return next(m.time for m in request.messages if m.text.startswith(start))

    assert request.requested_at == datetime(2024, 4, 13, 23, 48)
    assert time_of("DOC-20240414-WA0001") == datetime(2024, 4, 14, 0, 2)  # 12:02 am
    assert time_of("Thank you, Ana.") == datetime(2024, 4, 14, 12, 30)  # 12:30 pm
    assert [m.is_media for m in request.messages if m.author == "Ana Lima"] == [
        False, True, True,
    ]


def test_provider_writing_first_does_not_make_it_the_customer():
    request = chat("android_en_12h.txt")
    assert request.messages[1].author == "NetVale Atendimento"
    assert request.customer_authors == ("Ana Lima",)


def test_without_provider_names_the_first_author_is_the_customer():
    text = (FIXTURES / "android_en_12h.txt").read_text(encoding="utf-8")
    parsed = parse_whatsapp(text)
    assert parsed.customer_rule == "first_author"
    assert parsed.customer_authors == ("NetVale Atendimento",)
    assert chat("android_en_12h.txt").customer_rule == "provider_authors"


def test_us_month_first_dates_are_recognised_from_the_file_itself():
    text = (FIXTURES / "ios_en_us.txt").read_text(encoding="utf-8")
    parsed = parse_whatsapp(text, PROVIDER)
    assert not parsed.day_first
    assert parsed.requested_at == datetime(2024, 3, 25, 21, 16, 10)
    assert [m.is_media for m in parsed.messages if m.from_customer] == [False, True]


def test_ambiguous_dates_are_read_day_first_as_brazilian_phones_write_them():
    parsed = parse_whatsapp("02/05/2024 14:05 - José: oi\n03/05/2024 09:00 - José: ?", ())
    assert parsed.day_first
    assert parsed.requested_at == datetime(2024, 5, 2, 14, 5)
    forced = parse_whatsapp("02/05/2024 14:05 - José: oi", (), day_first=False)
    assert forced.requested_at == datetime(2024, 2, 5, 14, 5)


def test_a_file_mixing_day_first_and_month_first_dates_is_refused_naming_the_line():
    with pytest.raises(ChatProblem) as caught:
        parse_whatsapp("25/03/2024 10:00 - Ana: oi\n03/26/2024 10:00 - Ana: oi")
    assert caught.value.line == 2


def test_windows_1252_export_with_crlf_and_two_digit_years():
    request = chat("android_cp1252.txt")
    assert request.customer_authors == ("José Conceição",)
    assert request.requested_at == datetime(2024, 5, 2, 14, 5)
    assert "Não consigo pagar" in request.customer_text
    assert request.messages[0].is_system


def test_customer_text_joins_only_the_customers_written_messages():
    text = chat("android_pt.txt").customer_text
    assert "Perdi o emprego" in text
    assert "<Mídia oculta>" not in text
    assert "Recebemos sua mensagem" not in text


def test_provider_phone_author_matches_however_it_is_punctuated():
    text = "[25/03/2024, 21:16:40] \u202a+55\u00a035\u00a099999\u20110000\u202c: Olá\n" \
           "[25/03/2024, 21:17:00] Zé: preciso de prazo"
    parsed = parse_whatsapp(text, ["+55 (35) 99999-0000"])
    assert parsed.customer_authors == ("Zé",)


def test_text_that_is_not_a_chat_is_refused():
    with pytest.raises(ChatProblem):
        parse_whatsapp("Olá, isto é só um bilhete.\nSem datas.")


def test_impossible_date_in_a_header_names_the_line():
    with pytest.raises(ChatProblem) as caught:
        parse_whatsapp("25/03/2024 10:00 - Ana: oi\n31/02/2024 10:00 - Ana: oi")
    assert caught.value.line == 2


_texts = st.lists(
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")),
            min_size=1, max_size=40).filter(lambda s: s.strip() and s[:1] not in "\u200e"),
    min_size=1, max_size=3,
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["Cliente", "NetVale Atendimento"]), _texts),
                min_size=1, max_size=6),
       st.sampled_from(["android", "ios"]))
def test_any_chat_written_in_an_export_layout_reads_back_message_for_message(items, layout):
    start = datetime(2024, 3, 1, 8, 0)
    lines = []
    for index, (author, text_lines) in enumerate(items):
        moment = start + timedelta(minutes=7 * index)
        if layout == "android":
            head = f"{moment:%d/%m/%Y %H:%M} - {author}: "
        else:
            head = f"[{moment:%d/%m/%Y, %H:%M:%S}] {author}: "
        lines.append(head + "\n".join(text_lines))
    parsed = parse_whatsapp("\n".join(lines), PROVIDER)
    assert [(m.author, m.text) for m in parsed.messages] == [
        (author, "\n".join(text_lines)) for author, text_lines in items
    ]
    assert [m.from_customer for m in parsed.messages] == [a == "Cliente" for a, _ in items]
    assert parsed.requested_at == next(
        (start + timedelta(minutes=7 * i) for i, (a, _) in enumerate(items) if a == "Cliente"),
        None,
    )


# ---------------------------------------------------------------- e-mail


def test_utf8_quoted_printable_email():
    request = read_evidence(FIXTURES / "utf8_qp.eml")
    assert request.kind == "email"
    assert request.sender == "Conceição Araújo <conceicao.araujo@example.com>"
    assert request.subject == "Pedido de adiamento – fatura de março"
    assert "Meu salão ficou fechado em março" in request.text
    assert request.requested_at == datetime(2024, 3, 26, 10, 42, 17)


def test_iso_8859_1_email_with_8bit_body_keeps_accents():
    request = read_evidence(FIXTURES / "latin1_8bit.eml")
    assert request.sender.startswith("Sebastião Gonçalves")
    assert request.subject == "Solicitação de desconto"
    assert "A situação está difícil" in request.text


def test_email_date_in_utc_is_shown_in_brasilia_time():
    assert read_evidence(FIXTURES / "latin1_8bit.eml").requested_at == datetime(2024, 4, 3, 15, 5)
    other_zone = timezone(timedelta(hours=-4))
    assert read_evidence(FIXTURES / "latin1_8bit.eml", zone=other_zone).requested_at == \
        datetime(2024, 4, 3, 14, 5)


def test_base64_email_body_is_decoded():
    request = read_evidence(FIXTURES / "base64.eml")
    assert request.text.splitlines() == [
        "Olá,",
        "não consigo pagar a mensalidade de abril (R$ 99,90).",
        "Posso parcelar em duas vezes?",
        "João Gonçalves",
    ]


def test_html_only_email_becomes_plain_text_without_scripts_or_styles():
    request = read_evidence(FIXTURES / "html_only.eml")
    assert request.sender == "Antônia Melo <antonia@example.com>"
    assert "Meu pai é idoso" in request.text
    assert "peço um prazo" in request.text
    assert "- Valor: R$ 89,90" in request.text.splitlines()
    assert "document.cookie" not in request.text
    assert "color: red" not in request.text
    assert "Mensagem" not in request.text  # the <title>
    # Markup the customer typed as text (&lt;b&gt;) stays text, unescaped for the renderer.
    assert "Texto com <b>tags</b> escritas pelo cliente." in request.text


def test_email_with_attachments_lists_them_and_prefers_the_plain_body():
    email = parse_eml((FIXTURES / "with_attachment.eml").read_bytes())
    assert email.text == "Segue o comprovante de que fui demitido. Preciso de mais prazo.\nRoberto"
    assert not email.from_html
    assert [(a.filename, a.content_type) for a in email.attachments] == [
        ("rescisão contrato.pdf", "application/pdf"),
        ("foto.jpg", "image/jpeg"),
    ]
    assert email.attachments[1].size == 1024
    assert email.to == "atendimento@netvale.example, financeiro@netvale.example"


def test_email_with_unknown_charset_label_is_still_read():
    data = (
        b"From: a@example.com\r\nSubject: x\r\nDate: Mon, 08 Apr 2024 09:15:00 -0300\r\n"
        b"Content-Type: text/plain; charset=x-desconhecido\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n"
    ) + "Não consigo pagar.".encode("cp1252")
    assert parse_eml(data).text == "Não consigo pagar."


def test_html_to_text_keeps_paragraphs_and_drops_head():
    html = "<html><head><title>t</title></head><body><p>um</p><p>dois<br>três</p></body></html>"
    assert html_to_text(html) == "um\n\ndois\ntrês"


# ---------------------------------------------------------------- files


def test_oversized_evidence_is_refused_in_one_line(tmp_path):
    big = tmp_path / "grande.txt"
    big.write_bytes(b"25/03/2024 10:00 - Ana: " + b"a" * 2048)
    with pytest.raises(InputError) as caught:
        read_evidence(big, max_bytes=1024)
    assert "grande.txt" in str(caught.value) and "\n" not in str(caught.value)


def test_missing_or_unknown_evidence_files_are_one_line_errors(tmp_path):
    with pytest.raises(InputError, match="falta.txt"):
        read_evidence(tmp_path / "falta.txt")
    (tmp_path / "foto.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(InputError, match="tipo de evidência desconhecido"):
        read_evidence(tmp_path / "foto.jpg")
    (tmp_path / "vazio.eml").write_bytes(b"")
    with pytest.raises(InputError, match="vazio"):
        read_evidence(tmp_path / "vazio.eml")


def test_a_text_file_that_is_not_a_chat_names_the_file(tmp_path):
    note = tmp_path / "bilhete.txt"
    note.write_text("Olá, quero desconto.", encoding="utf-8")
    with pytest.raises(InputError, match=r"bilhete\.txt: não parece uma conversa"):
        read_evidence(note)


def test_an_eml_that_is_not_an_email_is_refused(tmp_path):
    fake = tmp_path / "falso.eml"
    fake.write_bytes(b"apenas texto sem cabecalhos\n")
    with pytest.raises(InputError, match=r"falso\.eml: não parece um e-mail"):
        read_evidence(fake)


def test_utf8_chat_with_bom_is_read(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeff25/03/2024 10:00 - Ana: não".encode())
    request = read_evidence(path)
    assert request.messages[0].author == "Ana"
    assert request.messages[0].text == "não"
