"""Real-world inputs (issue 15): WhatsApp markers of both platforms, e-mail defects
Python's e-mail package raises on, Excel's export habits, and ``check`` reading the
evidence as the review will. The handed cases are under fixtures/real-world/; the
further kinds come from public bug reports (CPython's e-mail issues 151857, 125648 and
76359; WhatsApp parsers' reports of edited, deleted, year/day order and iOS documents).
"""

from __future__ import annotations

import io
import os
import shutil
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from test_tables import REQUESTS, TODAY, changed, lines, write_folder

from relief_kit.core.errors import InputError
from relief_kit.shell.check import check_folder
from relief_kit.shell.views import render
from relief_kit.sources.evidence import MAX_MIME_DEPTH, parse_eml, parse_whatsapp, read_evidence
from relief_kit.sources.importers.canonical import Cells
from relief_kit.sources.importers.report import ImportReport
from relief_kit.sources.raw import read_csv_text, read_xlsx
from relief_kit.sources.tables import read_table

REAL = Path(__file__).parent / "fixtures" / "real-world"
PROVIDER = ("NetVale Atendimento",)


def kinds(request) -> list[tuple[str, str]]:
    return [(m.author, m.kind) for m in request.messages]


# ------------------------------------------------------------------ WhatsApp, handed cases


def test_android_ptbr_placeholders_are_kinds_not_the_customers_words():
    request = read_evidence(REAL / "whatsapp-android-ptbr-placeholders"
                            / "Conversa do WhatsApp com Edna Lopes.txt", PROVIDER)
    assert len(request.messages) == 8
    assert kinds(request) == [
        ("", "system"), ("Edna Lopes", "deleted"), ("Edna Lopes", "text"),
        ("Edna Lopes", "view_once"), ("Edna Lopes", "media"), ("Edna Lopes", "media"),
        ("Edna Lopes", "missed_call"), ("NetVale Atendimento", "text")]
    edited = request.messages[2]
    assert edited.edited
    assert edited.text == ("Boa noite, meu marido está internado e não vou conseguir pagar a "
                           "fatura de junho")
    assert request.requested_at == datetime(2024, 6, 11, 20, 4)
    assert request.customer_text == edited.text
    document = request.messages[5]
    assert document.attachment == "Atestado internacao.pdf"
    assert document.caption == "Atestado internacao"


@pytest.mark.parametrize("name, attachment", [
    ("chat_com_midia.txt", "00000004-Termo_rescisao.pdf"),
    ("chat_com_midia_sem_marca.txt", "00000004-Termo_rescisao.pdf"),
    ("chat_sem_midia.txt", ""),
])
def test_ios_document_with_page_count_is_the_customers_media(name, attachment):
    request = read_evidence(REAL / "whatsapp-ios-document" / name, PROVIDER)
    document = next(m for m in request.messages if m.time == datetime(2024, 4, 2, 19, 41, 3))
    assert (document.author, document.kind, document.attachment) == \
        ("Rosangela Pires", "media", attachment)
    assert document.from_customer
    assert request.requested_at == datetime(2024, 4, 2, 19, 41, 3)
    assert "<anexado" not in request.customer_text


def test_us_english_ios_export_is_read_month_first_from_the_12_hour_clock():
    chat = parse_whatsapp(
        "[4/3/24, 9:15:02 PM] Ana Lima: \u200eMessages and calls are end-to-end encrypted.\n"
        "[4/3/24, 9:16:10 PM] Ana Lima: Hi, I lost my job. Can I pay on the 20th?\n"
        "[4/5/24, 10:02:00 AM] NetVale Atendimento: Yes, we can.", PROVIDER)
    assert not chat.day_first and not chat.date_order_presumed
    assert chat.requested_at == datetime(2024, 4, 3, 21, 16, 10)
    assert chat.messages[-1].time == datetime(2024, 4, 5, 10, 2)


def test_the_order_of_the_messages_decides_day_and_month():
    # Read month first, the reply would come before the question (Dec 4 → Jan 5).
    chat = parse_whatsapp("12/04/2024 10:00 - Ana: oi\n01/05/2024 09:00 - NetVale: olá")
    assert chat.day_first and not chat.date_order_presumed
    assert chat.messages[1].time == datetime(2024, 5, 1, 9, 0)


def test_an_ambiguous_day_and_month_is_said_where_the_analyst_sees_it(tmp_path):
    path = tmp_path / "conversa.txt"
    path.write_text("03/04/2024 10:00 - Ana: posso pagar dia 10?\n"
                    "03/04/2024 10:05 - NetVale Atendimento: pode", encoding="utf-8")
    request = read_evidence(path, PROVIDER)
    assert request.requested_at == datetime(2024, 4, 3, 10, 0)
    assert any("ordem de dia e mês presumida" in note for note in request.notes)
    html = render("written_request.html", request=None, written=request, problem="").html
    assert "ordem de dia e mês presumida" in html


# ------------------------------------------------------------------ WhatsApp, further kinds


ANDROID_EN = """\
14/04/2024, 9:00 am - Messages and calls are end-to-end encrypted.
14/04/2024, 9:01 am - Ana Lima: This message was deleted
14/04/2024, 9:02 am - Ana Lima: <Media omitted>
14/04/2024, 9:03 am - Ana Lima: null
14/04/2024, 9:04 am - Ana Lima: Missed voice call
14/04/2024, 9:05 am - Ana Lima: Missed video call
14/04/2024, 9:06 am - Ana Lima: location: https://maps.google.com/?q=-22.23,-45.93
14/04/2024, 9:07 am - Ana Lima: POLL:
Which day can I pay?
OPTION: 10 (1 vote)
OPTION: 20 (0 votes)
14/04/2024, 9:08 am - Ana Lima: Ana Lima.vcf (file attached)
14/04/2024, 9:09 am - Ana Lima: Waiting for this message. This may take a while.
14/04/2024, 9:10 am - Ana Lima: I lost my job, can I pay later? <This message was edited>
14/04/2024, 9:11 am - NetVale Atendimento: You deleted this message
"""


def test_english_android_markers_are_kinds_of_message():
    chat = parse_whatsapp(ANDROID_EN, PROVIDER)
    assert [m.kind for m in chat.messages] == [
        "system", "deleted", "media", "view_once", "missed_call", "missed_call", "location",
        "poll", "contact", "unavailable", "text", "deleted"]
    assert chat.messages[8].attachment == "Ana Lima.vcf"
    assert chat.messages[7].text.splitlines()[1] == "Which day can I pay?"
    assert chat.messages[10].text == "I lost my job, can I pay later?"
    assert chat.messages[10].edited
    # The first thing the customer sent is the omitted media at 9:02, not the deletion.
    assert chat.requested_at == datetime(2024, 4, 14, 9, 2)
    assert all(m.author == "Ana Lima" for m in chat.messages[1:11])


IOS_PT = (
    "[15/04/2024, 10:00:00] Ana Lima: \u200eEssa mensagem foi apagada.\n"
    "[15/04/2024, 10:00:05] Ana Lima: \u200eChamada de voz perdida\n"
    "[15/04/2024, 10:00:10] Ana Lima: \u200eLocalização: https://maps.google.com/?q=-22.2,-45.9\n"
    "[15/04/2024, 10:00:15] Ana Lima: \u200ecartão de contato omitido\n"
    "[15/04/2024, 10:00:20] Ana Lima: \u200eENQUETE:\n\u200eQual dia?\n\u200eOPÇÃO: 10 (1 voto)\n"
    "[15/04/2024, 10:00:25] Ana Lima: Preciso de prazo \u200e<Esta mensagem foi editada>\n"
    "[15/04/2024, 10:00:30] Ana Lima: \u200eContrato.docx \u200e<anexado: 00000009-Contrato.docx>\n"
    "[15/04/2024, 10:00:35] Ana Lima: \u200eRecibo • \u200e1 página \u200edocumento omitido\n"
    "[15/04/2024, 10:00:40] Ana Lima: \u200eAna adicionou Bia\n"
)


def test_ios_portuguese_markers_keep_their_author_and_kind():
    chat = parse_whatsapp(IOS_PT, PROVIDER)
    assert [(m.author, m.kind) for m in chat.messages] == [
        ("Ana Lima", "deleted"), ("Ana Lima", "missed_call"), ("Ana Lima", "location"),
        ("Ana Lima", "contact"), ("Ana Lima", "poll"), ("Ana Lima", "text"),
        ("Ana Lima", "media"), ("Ana Lima", "media"), ("", "system")]
    assert chat.messages[5].text == "Preciso de prazo" and chat.messages[5].edited
    assert chat.messages[6].attachment == "00000009-Contrato.docx"
    assert chat.requested_at == datetime(2024, 4, 15, 10, 0, 10)


def test_the_review_shows_markers_as_such_and_escapes_the_customers_text(tmp_path):
    path = tmp_path / "conversa.txt"
    path.write_text(ANDROID_EN.replace("I lost my job", "<b>I lost my job</b>"),
                    encoding="utf-8")
    html = render("written_request.html", request=None,
                  written=read_evidence(path, PROVIDER), problem="").html
    assert "[mensagem apagada]" in html
    assert "[ligação perdida: Missed voice call]" in html
    assert "mídia de visualização única" in html
    assert '<div class="rk-text">null</div>' not in html
    assert "&lt;b&gt;I lost my job&lt;/b&gt;" in html and "<b>I lost" not in html
    assert "(mensagem editada pelo autor)" in html


# ------------------------------------------------------------------ e-mail


@pytest.mark.parametrize("name, text", [
    ("pedido.eml", "Olá, peço desconto na fatura, segue comprovante."),
    ("pedido_corpo.eml", "Olá, peço desconto na fatura."),
])
def test_parameter_without_a_value_is_a_warning_and_the_text_is_read(name, text):
    request = read_evidence(REAL / "email-mime-parameter-star" / name)
    assert request.text == text
    assert request.sender == "Ana Lima <ana@example.com>"
    assert request.requested_at == datetime(2024, 3, 27, 9, 0)
    assert request.defects and all("Content-Type" in d for d in request.defects)


def test_the_attachment_beside_a_malformed_parameter_is_still_listed():
    request = read_evidence(REAL / "email-mime-parameter-star" / "pedido.eml")
    assert [(a.content_type, a.size) for a in request.attachments] == [("application/pdf", 9)]


@pytest.mark.parametrize("name, subject", [
    ("pedido_cp1252.eml", "Solicitação – adiamento da fatura"),
    ("pedido_utf8.eml", "Solicitação de adiamento"),
])
def test_raw_8bit_headers_get_the_same_fallback_as_bodies(name, subject):
    request = read_evidence(REAL / "email-raw-8bit-headers" / name)
    assert request.sender == "Conceição Gonçalves <conceicao@example.com>"
    assert request.subject == subject
    assert "\ufffd" not in request.text and request.text.startswith("Bom dia. Peço adiar")


def mail(headers: str, body: str = "Olá, peço prazo.") -> bytes:
    return (f"From: Ana <ana@example.com>\r\nDate: Wed, 27 Mar 2024 09:00:00 -0300\r\n"
            f"Subject: Pedido\r\n{headers}\r\n\r\n{body}\r\n").encode()


def test_blank_plain_part_beside_a_real_html_part_uses_the_html():
    email = parse_eml(mail(
        'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="A"',
        "--A\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n \r\n"
        "--A\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        "<p>Fui demitida, <b>preciso</b> de prazo.</p>\r\n--A--"))
    assert email.text == "Fui demitida, preciso de prazo."
    assert email.from_html and email.attachments == ()


def test_text_split_around_an_inline_picture_is_read_whole():
    email = parse_eml(mail(
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="M"',
        "--M\r\nContent-Type: text/plain\r\n\r\nSegue a foto do atestado:\r\n"
        "--M\r\nContent-Type: image/jpeg; name=\"a.jpg\"\r\nContent-Disposition: inline; "
        "filename=\"a.jpg\"\r\nContent-Transfer-Encoding: base64\r\n\r\n/9j/\r\n"
        "--M\r\nContent-Type: text/plain\r\n\r\nPosso pagar dia 20?\r\n--M--"))
    assert email.text == "Segue a foto do atestado:\n\nPosso pagar dia 20?"
    assert [a.filename for a in email.attachments] == ["a.jpg"]


def test_minus_zero_zone_is_utc_with_the_senders_zone_unknown(tmp_path):
    path = tmp_path / "pedido.eml"
    path.write_bytes(mail("").replace(b"-0300", b"-0000"))
    email = parse_eml(path.read_bytes())
    assert email.date == datetime(2024, 3, 27, 9, 0, tzinfo=UTC)
    assert email.zone == "-0000"
    request = read_evidence(path)
    assert request.requested_at == datetime(2024, 3, 27, 6, 0)  # Brasília
    assert any("UTC" in note and "fuso do remetente" in note for note in request.notes)


def test_the_senders_zone_is_kept():
    email = parse_eml(mail("").replace(b"-0300", b"+0100"))
    assert email.date.utcoffset() == timedelta(hours=1) and email.zone == "+0100"


def test_a_date_without_zone_is_shown_as_written_and_said(tmp_path):
    path = tmp_path / "pedido.eml"
    path.write_bytes(mail("").replace(b" -0300", b""))
    request = read_evidence(path)
    assert request.requested_at == datetime(2024, 3, 27, 9, 0)
    assert any("não tem fuso" in note for note in request.notes)


def test_an_unreadable_date_is_a_warning_not_a_failure():
    email = parse_eml(mail("").replace(b"Wed, 27 Mar 2024 09:00:00 -0300", b"ontem de tarde"))
    assert email.date is None and email.text == "Olá, peço prazo."
    assert any("data do e-mail ilegível" in w for w in email.warnings)


@pytest.mark.parametrize("header", [
    "To: (c):",  # a display name that is only a comment (CPython #151857)
    "Cc: ana@example.com,",  # a trailing comma in an address list (CPython #76359)
    "Content-Type: text/plain; name*0*=x; name*=y",  # mixed continuations (CPython #125648)
    "Content-Type: text/plain; name*0=a; name*",
    "Content-Disposition: inline; filename*",
])
def test_headers_the_modern_parser_raises_on_cost_only_their_value(header):
    email = parse_eml(mail(header))
    assert email.text == "Olá, peço prazo."
    assert email.sender == "Ana <ana@example.com>"


def test_a_missing_content_type_is_plain_text():
    email = parse_eml(b"From: a@b.c\r\nSubject: x\r\n\r\nSem Content-Type.\r\n")
    assert email.text == "Sem Content-Type."


def test_encoded_attachment_names_are_decoded():
    email = parse_eml(mail(
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="M"',
        "--M\r\nContent-Type: text/plain\r\n\r\nSegue.\r\n"
        "--M\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; "
        "filename=\"=?utf-8?q?rescis=C3=A3o.pdf?=\"\r\n\r\nx\r\n"
        "--M\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; "
        "filename*=utf-8''atestado%20m%C3%A9dico.pdf\r\n\r\nx\r\n--M--"))
    assert [a.filename for a in email.attachments] == ["rescisão.pdf", "atestado médico.pdf"]


def nested(levels: int, kind: str) -> bytes:
    head = "From: a@b.c\r\nSubject: x\r\nDate: Wed, 27 Mar 2024 09:00:00 -0300\r\n"
    if kind == "multipart":
        opening = "".join(f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n'
                          for i in range(levels))
        closing = "".join(f"--b{i}--\r\n" for i in reversed(range(levels)))
        return (head + opening + "Content-Type: text/plain\r\n\r\nola\r\n" + closing).encode()
    return (head + "Content-Type: message/rfc822\r\n\r\n" * levels
            + "Content-Type: text/plain\r\n\r\nola\r\n").encode()


@pytest.mark.parametrize("kind", ["multipart", "message"])
def test_a_thousand_levels_of_nesting_is_one_located_line(tmp_path, kind):
    path = tmp_path / "bomba.eml"
    path.write_bytes(nested(1000, kind))
    with pytest.raises(InputError) as caught:
        read_evidence(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert f"mais de {MAX_MIME_DEPTH} níveis" in message


def test_nesting_within_the_limit_is_read():
    assert parse_eml(nested(5, "multipart")).text == "ola"


# ------------------------------------------------------------------ evidence files


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_refused_without_being_opened(tmp_path):
    fifo = tmp_path / "conversa.txt"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="não é um arquivo comum"):
        read_evidence(fifo)  # opening it would block forever


# ------------------------------------------------------------------ spreadsheets


def test_excel_sep_line_folder_is_read_and_checked_ready(tmp_path):
    folder = tmp_path / "dados"
    shutil.copytree(REAL / "csv-excel-sep-line" / "dados", folder)
    customers, problems = read_table(folder / "customers.csv", "customers.csv")
    assert problems == [] and len(customers) == 20
    assert customers.loc[0, "customer_id"] == "1001"
    invoices, problems = read_table(folder / "invoices.csv", "invoices.csv")
    assert problems == [] and invoices["amount"].iloc[0] == pytest.approx(69.90)
    found = check_folder(folder, date(2026, 11, 29))  # the folder's as_of
    assert not [p for p in found if p.is_error]
    # The malformed e-mail header is one warning naming the evidence file.
    assert lines(found) == [
        "aviso: requests.csv, linha 3, coluna evidence_file: evidence/R0002.eml: cabeçalho "
        "Content-Type malformado (application/pdf; name*); o resto da mensagem foi lido"]


def test_values_wrapped_as_excel_formulas_are_unwrapped_with_one_warning(tmp_path):
    folder = tmp_path / "dados"
    write_folder(folder, evidence={"conversa-maria.txt": "25/03/2024 21:15 - Maria: oi"})
    path = folder / "requests.csv"
    text = path.read_text(encoding="utf-8")
    for value in ("C1", "C2", "R1", "R2"):
        text = text.replace(f"{value},", f'"=""{value}""",', 1)
    path.write_text(text, encoding="utf-8")
    requests, problems = read_table(path, "requests.csv")
    assert list(requests["customer_id"]) == ["C1", "C2"]
    assert list(requests["request_id"]) == ["R1", "R2"]
    assert lines(problems) == [
        'aviso: requests.csv: 4 valores escritos como fórmula do Excel (="…"), o primeiro na '
        "linha 2, coluna request_id; lidos sem o sinal de igual e as aspas. Salve a planilha "
        "com as colunas como texto para não precisar disso"]
    assert not [p for p in check_folder(folder, TODAY) if p.is_error]


def test_importer_csv_with_sep_line_and_wrapped_values():
    table = read_csv_text('sep=;\r\nid;valor\r\n="0101";89,90\r\n="0102";10,00\r\n', "lanc.csv")
    assert [r.get("id") for r in table.rows] == ["0101", "0102"]
    assert [r.number for r in table.rows] == [2, 3]
    assert len(table.notes) == 1 and "2 valores escritos" in table.notes[0][1]
    assert "lanc.csv, linha 2, coluna id" in table.notes[0][1]


def test_xlsx_float_noise_is_rounded_and_a_real_fraction_is_a_located_error():
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["id", "valor"])
    sheet.append(["1", 89.91000000000001])
    sheet.append(["2", 89.9123])
    sheet.append(["3", 0.1 + 0.2])
    data = io.BytesIO()
    book.save(data)
    table = read_xlsx(data.getvalue(), "lanc.xlsx")
    report = ImportReport(source="mkauth")
    amounts = [Cells(row, report).money("valor", required=True) for row in table.rows]
    assert amounts == [Decimal("89.91"), None, Decimal("0.30")]
    assert [str(p) for p in report.errors] == [
        "lanc.xlsx, linha 3, coluna valor: valor 89.9123 com frações de centavo na planilha; "
        "arredonde a célula para 2 casas decimais (ou confira a fórmula)"]


# ------------------------------------------------------------------ check on every kind


def test_check_reads_every_evidence_file_and_locates_what_the_review_would_choke_on(
        tmp_path):
    folder = tmp_path / "dados"
    files = {
        "android.txt": REAL / "whatsapp-android-ptbr-placeholders"
        / "Conversa do WhatsApp com Edna Lopes.txt",
        "ios.txt": REAL / "whatsapp-ios-document" / "chat_com_midia.txt",
        "star.eml": REAL / "email-mime-parameter-star" / "pedido.eml",
        "cp1252.eml": REAL / "email-raw-8bit-headers" / "pedido_cp1252.eml",
    }
    write_folder(folder, evidence={"conversa-maria.txt": "25/03/2024 21:15 - Maria: oi"})
    for name, source in files.items():
        shutil.copy(source, folder / "evidence" / name)
    (folder / "evidence" / "bomba.eml").write_bytes(nested(1000, "multipart"))
    (folder / "evidence" / "bilhete.txt").write_text("sem datas", encoding="utf-8")
    outside = tmp_path / "segredo.txt"
    outside.write_text("25/03/2024 21:15 - X: segredo", encoding="utf-8")
    (folder / "evidence" / "link.txt").symlink_to(outside)
    names = [*files, "bomba.eml", "bilhete.txt", "link.txt"]
    if hasattr(os, "mkfifo"):
        os.mkfifo(folder / "evidence" / "fila.txt")
        names.append("fila.txt")
    requests = [changed(REQUESTS, 0, request_id=f"R{i}", evidence_file=name)[0]
                for i, name in enumerate(names, 10)]
    write_folder(folder, requests=requests, evidence=None)
    found = lines(check_folder(folder, TODAY))
    by_line = {int(p.split("linha ")[1].split(",")[0]): p for p in found}
    assert set(by_line) == {4, 6, 7, 8} | ({9} if "fila.txt" in names else set())
    assert by_line[4].startswith("aviso:") and "evidence/star.eml" in by_line[4]
    assert by_line[6].startswith("erro:") and "evidence/bomba.eml" in by_line[6]
    assert "aninhadas" in by_line[6]
    assert "evidence/bilhete.txt" in by_line[7] and "não parece uma conversa" in by_line[7]
    assert "um link aponta para fora de evidence/" in by_line[8]
    if "fila.txt" in names:
        assert "evidence/fila.txt" in by_line[9] and "não é um arquivo comum" in by_line[9]


def test_an_empty_written_request_is_refused_for_reading_but_archived_as_it_is(tmp_path):
    # The review and check say the file is empty; the batch still archives the (empty)
    # copy beside a record that says so, instead of failing the whole case.
    from relief_kit.core.errors import InputError
    from relief_kit.sources.evidence import evidence_bytes

    empty = tmp_path / "R0004_chat.txt"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="vazio"):
        evidence_bytes(empty)
    assert evidence_bytes(empty, allow_empty=True) == b""
