"""The case record as PDF/A: ``record.pdf`` beside ``record.html``, for a lawyer to file.

Why WeasyPrint, not Chromium's printer (both were tried on the sample's records):

- **PDF/A.** WeasyPrint writes PDF/A itself (``pdf_variant``): the XMP identification
  (``pdfaid:part``/``pdfaid:conformance``), an sRGB output intent, every font embedded
  (subset). Chromium's ``Page.printToPDF`` writes plain PDF 1.4 with no output intent
  and no PDF/A identification; making it PDF/A takes Ghostscript or a similar converter
  afterwards, a second program and a second pass per case.
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
  Chromium would be a 300 MB browser process started per batch, kept alive beside the
  kernels; WeasyPrint runs in the batch's own worker threads.
- **Nothing fetched.** The record embeds everything (images as ``data:`` URLs); the
  fetcher used here allows no other protocol, so neither a network request nor a local file
  can end up in the PDF.

Cost (measured on the sample, 2-core machine shared with other jobs, see the README):
rendering one record is the larger part of a case's cost in the batch (about 0.9 s of
layout and 0.3 s of writing per record on this machine under load; tables laid out
with ``table-layout: fixed``, as the print CSS asks, halve the layout compared with
automatic tables). It runs in the batch's worker thread after the notebook has run, so
the kernels keep executing the next cases meanwhile.
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
