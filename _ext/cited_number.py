"""The ``{cited}`` role: a number quoted from a paper, marked as such in the source.

The book's prose may contain a number only if it is glued from an executed cell, is structural
(a chapter number, a year) or is quoted from a cited paper. ``{cited}`27.94%``` marks the last
kind, so the number lint (``tools/persian_lint.py``, rule D5) can tell it from a number typed by
hand; the paragraph must also cite the paper (``{cite:p}``), which the lint checks too. It renders
as the plain number, left-to-right, in a ``<span class="cited-number">``.
"""
from docutils import nodes


def cited_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    node = nodes.inline(rawtext, text, classes=["cited-number"])
    node["dir"] = "ltr"
    return [node], []


def setup(app):
    app.add_role("cited", cited_role)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
