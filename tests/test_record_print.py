"""A record printed on A4 by a browser keeps every column, its folded sections, and the
CONFIDENCIAL line, case id and page number on every page."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest

from relief_kit.shell.batch import run_batch
from tests.test_browser import CHROMIUM, CHROMIUM_FLAGS, IN_CI

pytestmark = [
    pytest.mark.browser, pytest.mark.kernel,
    pytest.mark.skipif(not CHROMIUM.exists() and not IN_CI,
                       reason="sem /usr/bin/chromium (apt-get install -y chromium)"),
]

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"


def test_a_printed_record_keeps_every_column_and_marks_every_page(tmp_path):
    from playwright.sync_api import sync_playwright
    from pypdf import PdfReader

    data = tmp_path / "dados"
    shutil.copytree(SAMPLE, data)
    result = run_batch(data, tmp_path / "arquivo", workers=1, request_ids=["R0001"])
    assert [o.status for o in result.outcomes] == ["written"], result.outcomes
    record = tmp_path / "arquivo" / "R0001" / "record.html"

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                             args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            page.goto(record.as_uri())
            pdf = page.pdf(format="A4", print_background=True)
        finally:
            browser.close()

    reader = PdfReader(io.BytesIO(pdf))
    pages = [re.sub(r"\s+", " ", p.extract_text()) for p in reader.pages]
    text = " ".join(pages)
    # The options table's last column is printed inside the page, not cut at its edge.
    positions = []
    for page in reader.pages:
        width = float(page.mediabox.width)

        def seen(fragment, cm, tm, font, size, width=width):
            if "Observação" in fragment:
                positions.append((cm[4] + tm[4] * cm[0], width))

        page.extract_text(visitor_text=seen)
    assert positions and all(0 < x < width - 20 for x, width in positions), positions
    # The folded calibration table prints open.
    assert "Taxas por faixa de pontualidade" in text
    assert len(pages) > 1
    for number, content in enumerate(pages, start=1):
        assert "CONFIDENCIAL — pedido R0001" in content
        assert f"página {number} de {len(pages)}" in content
