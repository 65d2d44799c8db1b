"""The case record as PDF/A: ``record.pdf`` beside ``record.html``, for a lawyer to file.

Why WeasyPrint, not Chromium's printer:

- **PDF/A.** WeasyPrint writes PDF/A itself (``pdf_variant``): the XMP identification
  (``pdfaid:part``/``pdfaid:conformance``), an sRGB output intent, every font embedded
  (subset). Chromium's ``Page.printToPDF`` has no PDF/A option (no output intent, no
  PDF/A identification); making its output PDF/A takes Ghostscript or a similar
  converter afterwards, a second program and a second pass per case.
- **Variant: PDF/A-2u.** Part 2 allows the transparency the record's CSS uses (part 1
  does not); level "u" adds a Unicode map for every glyph, so the text can be searched
  and copied in ten years (level "b" only promises the look). Part 3 would add
  arbitrary attachments, which a record does not carry.
- **Same page as the browser's print.** WeasyPrint follows the record's own print CSS
  (``templates/record/record.css``): A4, every column wrapped inside the page, folded
  sections open, ``CONFIDENCIAL — pedido <id>`` at the top and "página N de M" at the
  bottom of every page (CSS paged media margin boxes, which WeasyPrint implements).
- **What it needs.** A pip package (pure Python) plus Pango ≥ 1.44 from the system.
  On Debian ``apt-get install chromium`` (what ``.ci/run`` does for the browser tests)
  pulls ``libpango-1.0-0``, ``libpangoft2-1.0-0`` and fonts; on a bare machine
  ``apt-get install libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core`` is enough.
  Chromium would be a browser started per batch and driven over its DevTools
  protocol beside the kernels; WeasyPrint is a library the batch calls.
- **Nothing fetched.** The record embeds everything (images as ``data:`` URLs); the
  fetcher used here allows no other protocol, so neither a network request nor a local file
  can end up in the PDF.

Cost: laying out a record's pages is the larger part of a case's cost, several times
the rest (on the sample, 40 cases, 2 workers, a shared and loaded 2-core machine: the
PDFs took 7.1 and 7.4 times the records in two runs; see the README). So the batch
writes the records first and the PDFs in a pass of their own
(:mod:`relief_kit.shell.batch.pdfs`). A table inside a folded section stays a table in
print (``templates/views/_style.html``): as a block, its rows were laid out as an
anonymous automatic table, which took twice as long and overflowed the page.
"""

from __future__ import annotations

import threading

from relief_kit.core.errors import ReliefKitError

#: PDF/A part 2, level U (see the module's docstring).
PDF_VARIANT = "pdf/a-2u"

#: One rendering at a time in a process: Pango and fontconfig under WeasyPrint have
#: crashed when used from several threads at once (Kozea/WeasyPrint#1402, #167), and
#: the GIL would serialise the layout anyway.
_lock = threading.Lock()


def record_pdf(html: bytes | str) -> bytes:
    """The PDF/A-2u of a case record page (``record.html`` or a reduced record).

    ``html``: the page as UTF-8 bytes or text; A4 pages per its print CSS. Returns the
    PDF's bytes. Raises :class:`~relief_kit.core.errors.ReliefKitError` (one line, in
    Portuguese, saying what to install) when the system lacks Pango.
    """
    try:
        from weasyprint import HTML
        from weasyprint.urls import URLFetcher
    except OSError as exc:  # WeasyPrint loads Pango when imported
        raise ReliefKitError(
            "record.pdf precisa da biblioteca Pango do sistema (Debian/Ubuntu: apt-get "
            "install libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core): "
            f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None

    text = html.decode("utf-8") if isinstance(html, bytes) else html
    with _lock:
        document = HTML(string=text, media_type="print",
                        url_fetcher=URLFetcher(allowed_protocols={"data"}))
        return document.write_pdf(pdf_variant=PDF_VARIANT)


__all__ = ["PDF_VARIANT", "record_pdf"]
