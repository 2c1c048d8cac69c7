"""Sphinx extension: search that works opened as files and over HTTP, with readable snippets.

Sphinx 7.4's search page fetches every result page to cut a snippet from it. Opened as files
(as the README says to read the book) that fetch fails, so results had no snippet and each logged
"Failed to fetch"; over HTTP the snippet showed raw TeX (``\\(\\gamma^{\\lfloor t/s \\rfloor}\\)``).

After the build this writes ``_static/search-pages.js``: for every page, its article as
simplified HTML (ids kept, so a section hit still gets that section's text), with math as plain
Unicode text, and scripts, styles, cell outputs and images removed. ``static/site-search.js``
(search page only) serves snippets from it instead of fetching and lists each page once.
beautifulsoup4 comes with pydata-sphinx-theme.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

PAGES_JS = "search-pages.js"
SEARCH_JS = "site-search.js"
_TEX = {
    r"\alpha": "α", r"\beta": "β", r"\gamma": "γ", r"\delta": "δ", r"\Delta": "Δ", r"\epsilon": "ε",
    r"\varepsilon": "ε", r"\eta": "η", r"\theta": "θ", r"\lambda": "λ", r"\mu": "μ", r"\nu": "ν",
    r"\pi": "π", r"\rho": "ρ", r"\sigma": "σ", r"\tau": "τ", r"\phi": "φ", r"\varphi": "φ",
    r"\omega": "ω", r"\Omega": "Ω", r"\nabla": "∇", r"\partial": "∂", r"\sum": "Σ", r"\prod": "Π",
    r"\times": "×", r"\cdot": "·", r"\approx": "≈", r"\sim": "~", r"\leq": "≤", r"\le": "≤",
    r"\geq": "≥", r"\ge": "≥", r"\neq": "≠", r"\infty": "∞", r"\to": "→", r"\rightarrow": "→",
    r"\lfloor": "⌊", r"\rfloor": "⌋", r"\lceil": "⌈", r"\rceil": "⌉", r"\odot": "⊙", r"\in": "∈",
    r"\ell": "ℓ", r"\pm": "±", r"\sqrt": "√", r"\|": "‖", r"\{": "{", r"\}": "}",
}
_TEX_COMMAND = re.compile(r"\\[A-Za-z]+|\\.")


def tex_to_text(tex: str) -> str:
    """A TeX formula as plain text for a search snippet: symbols as Unicode, markup dropped."""
    tex = tex.strip()
    for opening, closing in ((r"\(", r"\)"), (r"\[", r"\]"), ("$$", "$$"), ("$", "$")):
        if tex.startswith(opening) and tex.endswith(closing) and len(tex) >= len(opening) + len(closing):
            tex = tex[len(opening):len(tex) - len(closing)]
            break
    tex = re.sub(r"\\(?:begin|end)\{[^}]*\}", " ", tex)
    tex = _TEX_COMMAND.sub(lambda m: _TEX.get(m.group(0), " " if m.group(0) in (r"\,", r"\;", r"\ ", r"\quad") else ""), tex)
    tex = re.sub(r"[{}^_&]", "", tex).replace("\\", "")
    return " ".join(tex.split())


def page_summary_html(html: str) -> str:
    """The article of a built page, reduced to what a search snippet may quote."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    article = soup.find("article") or soup.find(attrs={"role": "main"})
    if article is None:
        return ""
    for node in article.select("script, style, .headerlink, div.cell_output, img, svg, button, mjx-container"):
        node.decompose()
    for node in article.select("span.math, div.math"):
        node.replace_with(f" {tex_to_text(node.get_text())} ")
    return f'<div role="main">{article.decode_contents()}</div>'


def _add_search_scripts(app, pagename, templatename, context, doctree):
    if pagename == "search":
        app.add_js_file(PAGES_JS, priority=450)
        app.add_js_file(SEARCH_JS, priority=460)


def _write_pages(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    out = Path(app.outdir)
    pages = {}
    for docname in sorted(app.env.found_docs):
        target = out / app.builder.get_target_uri(docname)
        if target.is_file():
            pages[app.builder.get_target_uri(docname)] = page_summary_html(target.read_text(encoding="utf-8"))
    data = json.dumps(pages, ensure_ascii=False).replace("</", "<\\/")
    (out / "_static" / PAGES_JS).write_text(f"window.DLFA_SEARCH_PAGES = {data};\n", encoding="utf-8")


def _static_path(app, config):
    config.html_static_path.append(str(Path(__file__).resolve().parent / "static"))


def setup(app):
    app.connect("config-inited", _static_path)
    # Before dedupe_scripts (500), which replaces the page's script list: added later, they would be lost.
    app.connect("html-page-context", _add_search_scripts, priority=400)
    app.connect("build-finished", _write_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
