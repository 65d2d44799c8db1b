"""Every case folder the batch writes holds record.pdf: PDF/A, the whole options table,
CONFIDENCIAL and the case id on every page, covered by the manifest and the ledger."""

from __future__ import annotations

import hashlib
import html
import io
import re
import shutil
from pathlib import Path

import pytest

from relief_kit.shell.archive import LEDGER, MANIFEST, verify
from relief_kit.shell.batch import run_batch
from relief_kit.shell.record_pdf import record_pdf

pytestmark = pytest.mark.kernel

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    root = tmp_path_factory.mktemp("pdf")
    data = root / "dados"
    shutil.copytree(SAMPLE, data)
    result = run_batch(data, root / "arquivo", workers=1, request_ids=["R0001"])
    assert [o.status for o in result.outcomes] == ["written"], result.outcomes
    return root / "arquivo"


def page_texts(pdf) -> list[str]:
    """Each page's text, whitespace collapsed and WeasyPrint's line-end hyphens joined."""
    from pypdf import PdfReader

    return [re.sub(r"\s+", " ", re.sub(r"\u2010\s*", "", page.extract_text()))
            for page in PdfReader(pdf).pages]


def last_column(record_html: str) -> list[str]:
    """The text of the options table's last column, one entry per option."""
    start = record_html.index("Comparação das opções")
    table = record_html[start:record_html.index("</table>", start)]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)
    cells = [re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)[-1] for row in rows]
    return [re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", c))).strip()
            for c in cells]


def test_record_pdf_is_pdf_a_2u_with_every_font_embedded(archive):
    from pypdf import PdfReader

    reader = PdfReader(archive / "R0001" / "record.pdf")
    root = reader.trailer["/Root"]
    xmp = root["/Metadata"].get_object().get_data().decode("utf-8")
    assert 'pdfaid:part="2"' in xmp and 'pdfaid:conformance="U"' in xmp
    intent = root["/OutputIntents"][0].get_object()
    assert intent["/S"] == "/GTS_PDFA1" and "/DestOutputProfile" in intent
    fonts = []
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            for descendant in font.get("/DescendantFonts", [font]):
                descriptor = descendant.get_object()["/FontDescriptor"].get_object()
                fonts.append(any(k in descriptor for k in ("/FontFile", "/FontFile2",
                                                           "/FontFile3")))
    assert fonts and all(fonts)


def test_record_pdf_keeps_the_last_column_and_marks_every_page(archive):
    case = archive / "R0001"
    pages = page_texts(case / "record.pdf")
    text = " ".join(pages)
    column = last_column((case / "record.html").read_text(encoding="utf-8"))
    assert column[0] == "Observação" and len(column) > 2
    for cell in column:
        assert cell[:60] in text, cell
    assert len(pages) > 1
    for number, content in enumerate(pages, start=1):
        assert "CONFIDENCIAL — pedido R0001" in content
        assert f"página {number} de {len(pages)}" in content


def test_record_pdf_is_in_the_manifest_and_the_ledger_and_verify_sees_it(archive, tmp_path):
    copy = tmp_path / "arquivo"
    shutil.copytree(archive, copy)
    manifest = (copy / "R0001" / MANIFEST).read_text(encoding="utf-8")
    assert re.search(r"^[0-9a-f]{64}  record\.pdf$", manifest, re.M)
    # The ledger's latest line for the case names this manifest, so the PDF is chained.
    manifest_sha = hashlib.sha256(manifest.encode("utf-8")).hexdigest()
    ledger = (copy / LEDGER).read_text(encoding="utf-8").splitlines()
    assert [line for line in ledger if " R0001 " in line][-1].split()[4] == manifest_sha
    assert verify(copy) == []
    with (copy / "R0001" / "record.pdf").open("ab") as handle:
        handle.write(b"%")
    problems = [(p.case, p.file, p.kind) for p in verify(copy)]
    assert problems == [("R0001", "record.pdf", "alterado")], problems


def test_record_pdf_fetches_nothing_outside_the_page(tmp_path):
    secret = tmp_path / "segredo.txt"
    secret.write_text("texto que não pode entrar no PDF", encoding="utf-8")
    page = (f'<html lang="pt-BR"><body><p>registro</p><object data="{secret.as_uri()}">'
            f'</object><img src="{secret.as_uri()}"></body></html>')
    text = " ".join(page_texts(io.BytesIO(record_pdf(page))))
    assert "registro" in text and "segredo" not in text and "pode entrar" not in text


def test_a_folder_without_its_pdf_gets_one_and_a_changed_one_is_not_resigned(archive,
                                                                               tmp_path):
    from relief_kit.shell.archive import write_case_folder
    from relief_kit.shell.batch.pdfs import add_pdfs

    copy = tmp_path / "arquivo"
    shutil.copytree(archive, copy)
    case = copy / "R0001"
    # As an older kit (or a run interrupted between its two passes) left it.
    files = {p.relative_to(case).as_posix(): p.read_bytes() for p in case.rglob("*")
             if p.is_file() and p.name not in (MANIFEST, "record.pdf")}
    write_case_folder(copy, "R0001", files)
    assert not (case / "record.pdf").exists() and verify(copy) == []
    [outcome] = add_pdfs(copy, ["R0001"], workers=1)
    assert outcome.status == "written", outcome
    assert verify(copy) == [] and "CONFIDENCIAL — pedido R0001" in page_texts(
        case / "record.pdf")[0]
    assert add_pdfs(copy, ["R0001"]) == []  # nothing left to do

    write_case_folder(copy, "R0001", files)
    with (case / "record.html").open("a", encoding="utf-8") as handle:
        handle.write("<p>alterado depois</p>")
    [refused] = add_pdfs(copy, ["R0001"], workers=1)
    assert refused.status == "failed" and "record.html" in refused.message
    assert not (case / "record.pdf").exists()
    assert [(p.file, p.kind) for p in verify(copy)] == [("record.html", "alterado")]
