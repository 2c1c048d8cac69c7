"""Sphinx extension: every plot a notebook cell shows becomes a numbered figure with a caption.

helpers.plotting (``use_persian_style()``, which every chapter calls) makes each matplotlib
figure's PNG carry a Persian caption ("Title") and alt text ("Description") built from the
figure's own suptitle, axes titles, axis labels and legend. While a page is read, this transform
wraps each cell output that holds such a PNG in a ``figure`` node: the image gets the alt text,
the figure gets the caption, a number ("شکل 2.3") and a stable label,

    fig-<page>-<n>      e.g. fig-01-batchnorm-2, the page's second plot

so the prose can refer to it with {numref}`fig-01-batchnorm-2`. A figure whose PNG has no
description (output made without use_persian_style(), or an old execution cache) gets a
warning: with ``-W`` the build fails instead of publishing an image whose alt text is a file name.
"""
from __future__ import annotations

import re
from pathlib import Path

from docutils import nodes
from sphinx.transforms import SphinxTransform
from sphinx.util import logging

logger = logging.getLogger(__name__)

CAPTION_KEY, ALT_KEY = "Title", "Description"  # helpers.plotting.PNG_CAPTION_KEY / PNG_ALT_KEY


def figure_label(docname: str, number: int) -> str:
    """The label of a page's ``number``-th plot: ``fig-<last part of the page name>-<number>``."""
    stem = re.sub(r"[^0-9a-z]+", "-", docname.rsplit("/", 1)[-1].lower()).strip("-")
    return f"fig-{stem}-{number}"


def png_description(path: Path) -> tuple[str, str]:
    """``(caption, alt)`` written into a PNG by helpers.plotting; ``("", "")`` when it has none."""
    from PIL import Image

    with Image.open(path) as image:
        text = getattr(image, "text", {}) or {}
    return text.get(CAPTION_KEY, "").strip(), text.get(ALT_KEY, "").strip()


def _is_bundle(node) -> bool:
    return isinstance(node, nodes.container) and node.get("nb_element") == "mime_bundle"


class CellOutputFigures(SphinxTransform):
    """Wrap each notebook plot (a myst-nb mime bundle with an image/png) in a captioned figure.

    Runs while reading (before the ``doctree-read`` event at priority 880), so the standard
    domain registers the labels and Sphinx numbers the figures like any ``{figure}``.
    """

    default_priority = 500

    def apply(self, **kwargs) -> None:
        docname = self.env.docname
        number = 0
        for bundle in list(self.document.findall(_is_bundle)):
            if isinstance(bundle.parent, nodes.figure):  # the cell's own mystnb figure options
                continue
            png = next((c for c in bundle.children if c.get("mime_type") == "image/png"), None)
            image = next(iter(png.findall(nodes.image)), None) if png is not None else None
            if image is None:
                continue
            number += 1
            label = figure_label(docname, number)
            path = Path(self.env.relfn2path(image["uri"], docname)[1])
            caption, alt = png_description(path) if path.is_file() else ("", "")
            if not alt:
                logger.warning(
                    f"plot {label} has no description: show figures after helpers.plotting."
                    "use_persian_style() and re-execute the notebook (clear _build/.jupyter_cache)",
                    location=bundle, type="dlfa", subtype="figure")
                alt = "نمودار خروجی کد"
            image["alt"] = alt
            figure = nodes.figure(classes=["cell-figure"])
            figure.source, figure.line = bundle.source, bundle.line
            bundle.replace_self(figure)
            figure += bundle
            figure += nodes.caption(caption, caption or alt.split(".")[0])
            figure["names"].append(label)
            self.document.note_explicit_target(figure, figure)


def setup(app):
    app.add_transform(CellOutputFigures)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
