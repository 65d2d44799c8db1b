"""The HTML case record: the executed notebook through nbconvert, code hidden.

One ``HTMLExporter`` per worker thread, built once (building one costs ten times
exporting with it).
"""

from __future__ import annotations

import threading

from relief_kit import resources
from relief_kit.shell.batch.execute import BATCH_TAG

#: Tags whose cells are left out of the HTML record entirely.
HIDDEN_TAGS = ("parameters", "injected-parameters", BATCH_TAG, "hide-in-record")

_exporters = threading.local()


def record_exporter():
    """This thread's exporter: our ``templates/record`` page, no input, no prompts."""
    exporter = getattr(_exporters, "html", None)
    if exporter is None:
        from nbconvert import HTMLExporter
        from traitlets.config import Config

        config = Config()
        config.TagRemovePreprocessor.enabled = True
        config.TagRemovePreprocessor.remove_cell_tags = set(HIDDEN_TAGS)
        config.HTMLExporter.exclude_input = True
        config.HTMLExporter.exclude_input_prompt = True
        config.HTMLExporter.exclude_output_prompt = True
        # Our page (templates/record): no CDN script, a CONFIDENCIAL banner, print CSS.
        config.HTMLExporter.extra_template_basedirs = [str(resources.TEMPLATES)]
        config.HTMLExporter.template_name = "record"
        exporter = _exporters.html = HTMLExporter(config=config)
    return exporter


def export_record(executed, facts: dict) -> bytes:
    """The HTML record of an executed case notebook."""
    html, _ = record_exporter().from_notebook_node(executed, resources={"relief_kit": facts})
    return html.encode("utf-8")
