"""Sphinx extension: give every HTML page of a right-to-left book ``dir="rtl"``.

Sphinx 7 and pydata-sphinx-theme write only ``<html lang="fa">``; Sphinx has no
setting for the document direction (sphinx-doc/sphinx#10385). After the HTML
build this adds ``dir="rtl"`` to ``<html>`` and ``dir="ltr"`` to notebook cell
outputs (plots, tables, widgets read left-to-right; ipywidgets' slider reads the
DOM attribute, so CSS ``direction`` alone is not enough). Bibliography entries get
``dir="auto"``: an English entry reads left-to-right (label on the left, the final
period at its end), a Persian one right-to-left.
"""
import re
from pathlib import Path

RTL_LANGUAGES = {"fa", "ar", "he", "ur"}
HTML_TAG = re.compile(r"<html(?![^>]*\sdir=)([^>]*)>")
CELL_OUTPUT = '<div class="cell_output docutils container">'
CITATION = re.compile(r'<div class="citation"(?![^>]*\sdir=)')


def mark_direction(html: str) -> str:
    """Return ``html`` with ``dir="rtl"`` on ``<html>``, ``dir="ltr"`` on cell outputs, ``dir="auto"`` on citations."""
    html = HTML_TAG.sub(r'<html\1 dir="rtl">', html, count=1)
    html = CITATION.sub('<div class="citation" dir="auto"', html)
    return html.replace(CELL_OUTPUT, CELL_OUTPUT[:-1] + ' dir="ltr">')


def _on_build_finished(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    if (app.config.language or "").split("_")[0] not in RTL_LANGUAGES:
        return
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        marked = mark_direction(text)
        if marked != text:
            page.write_text(marked, encoding="utf-8")


def setup(app):
    app.connect("build-finished", _on_build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
