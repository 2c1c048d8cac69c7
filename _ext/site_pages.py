"""Sphinx extension: page-level fixes of the built site that no theme option covers.

1. Code cells above a notebook's title (the labs' locked grader cell) move under the title,
   so every page opens with its title. Nothing is dropped: the reader still sees the cell.
2. The ipywidgets manager (require.js + embed-amd.js + the saved widget state) is loaded only
   on pages that show a widget view. The book prefers each playground cell's kernel-free HTML
   over its widget view, so no page needs it today; loading it anyway fetched three icon fonts
   from a path that does not exist and logged a schema warning. Where a page does show a widget,
   require.js is told where the manager's files are, so its icon fonts load from _static/vendor/widgets/.
3. "Download source file" links download (``download`` attribute) instead of opening the raw
   notebook JSON in a new tab. Opened as files, Chromium ignores ``download`` on a file:// link,
   so each source under ``_sources/`` also gets ``<file>.js`` (its text as a JavaScript string),
   which _static/downloads.js loads and saves through a blob: link.
4. The colour mode defaults to "auto" (pydata-sphinx-theme reads ``default_mode`` from
   ``html_context``); without it a first visit logged "Got invalid theme mode: .".
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from docutils import nodes
from sphinx.transforms import SphinxTransform

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_MANAGER_MODULE = "@jupyter-widgets/html-manager/dist"
SOURCE_DOWNLOAD = re.compile(
    r'<a href="([^"]*_sources/[^"]*)" target="_blank"(\s+class="btn btn-sm btn-download-(?:source|notebook)-button)')


class CodeCellsBelowTitle(SphinxTransform):
    """Move notebook code cells that come before the page's first section under its title."""

    default_priority = 400

    def apply(self, **kwargs) -> None:
        doc = self.document
        section = next((child for child in doc.children if isinstance(child, nodes.section)), None)
        if section is None:
            return
        leading = [child for child in doc.children[:doc.index(section)]
                   if isinstance(child, nodes.container) and child.get("nb_element") == "cell_code"]
        if not leading or not isinstance(section.children[0], nodes.title):
            return
        for offset, cell in enumerate(leading, start=1):
            doc.remove(cell)
            section.insert(offset, cell)


def _script_name(script) -> str:
    return str(getattr(script, "filename", script) or "")


def _widget_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts or doctree is None:
        return
    widget_js = {Path(path).name for path in app.config.nb_ipywidgets_js}
    is_widget = [Path(_script_name(s).split("?")[0]).name in widget_js
                 or getattr(s, "attributes", {}).get("type") == WIDGET_STATE for s in scripts]
    if not any(is_widget):
        return
    if WIDGET_VIEW not in context.get("body", ""):
        scripts[:] = [s for s, widget in zip(scripts, is_widget) if not widget]
        return
    # The manager sets webpack's public path from require.js's URL for its own module; without a
    # path it is "<page folder>/@jupyter-widgets/html-manager/dist/", where nothing is served.
    from sphinx.builders.html._assets import _JavaScript

    require_at = next(i for i, s in enumerate(scripts) if _script_name(s).split("?")[0].endswith("require.js"))
    folder = Path(_script_name(scripts[require_at]).split("?")[0]).parent.as_posix()
    target = app.builder.get_target_uri(pagename)
    relative = "/".join([".."] * target.count("/") + ["_static", folder])
    body = f'require.config({{paths: {{"{WIDGET_MANAGER_MODULE}": "{relative}"}}}});'
    scripts.insert(require_at + 1, _JavaScript(None, body=body, priority=scripts[require_at].priority))


def source_script(text: str) -> str:
    """A source file's text as a script for _static/downloads.js (``</`` escaped for safety)."""
    return "dlfaSourceFile(" + json.dumps(text, ensure_ascii=False).replace("</", "<\\/") + ");\n"


def _downloads_download(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    out = Path(app.outdir)
    for page in out.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        fixed = SOURCE_DOWNLOAD.sub(r'<a href="\1" download\2', text)
        if fixed != text:
            page.write_text(fixed, encoding="utf-8")
    for source in (out / "_sources").rglob("*"):
        if source.is_file() and source.suffix != ".js":
            script = source.with_name(source.name + ".js")
            script.write_text(source_script(source.read_text(encoding="utf-8")), encoding="utf-8")


def _default_mode(app, config):
    config.html_context.setdefault("default_mode", "auto")


def setup(app):
    app.connect("config-inited", _default_mode)
    app.add_transform(CodeCellsBelowTitle)
    app.connect("html-page-context", _widget_scripts, priority=900)
    app.connect("build-finished", _downloads_download)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
