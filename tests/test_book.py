"""The book builds with warnings as errors, and every page is marked right-to-left."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
HTML_TAG = re.compile(r"<html[^>]*>")


def _pages(html_dir):
    return [p for p in html_dir.rglob("*.html") if "vendor" not in p.parts and "_static" not in p.parts]


def test_build_succeeds_without_warnings(built_book):
    html_dir, log = built_book
    assert (html_dir / "intro.html").is_file()
    sphinx_warnings = [line for line in log.splitlines() if "WARNING: " in line or "ERROR: " in line]
    assert not sphinx_warnings, "\n".join(sphinx_warnings)


def test_every_page_is_persian_and_rtl(built_book):
    html_dir, _ = built_book
    pages = _pages(html_dir)
    assert len(pages) >= 4, pages
    for page in pages:
        text = page.read_text(encoding="utf-8")
        if "http-equiv=\"Refresh\"" in text:  # index.html only redirects to intro.html
            continue
        tag = HTML_TAG.search(text).group(0)
        assert 'lang="fa"' in tag and 'dir="rtl"' in tag, f"{page.name}: {tag}"


def test_chapter_ran_its_experiments(built_book):
    html_dir, _ = built_book
    text = (html_dir / "chapters" / "01_batchnorm.html").read_text(encoding="utf-8")
    assert text.count('class="cell_output docutils container" dir="ltr"') >= 5
    assert "<img" in text, "the chapter's figures are missing"


def test_no_page_links_assets_from_other_hosts(built_book):
    html_dir, _ = built_book
    external = re.compile(r'<(?:script|link|img)[^>]+(?:src|href)="(?:https?:)?//[^"]+"')
    for page in _pages(html_dir):
        found = external.findall(page.read_text(encoding="utf-8"))
        assert not found, f"{page.name} loads from another host: {found[:3]}"


# ----------------------------------------------------------------------------- failures are loud
BUILD_BOOK = ROOT / "tools" / "build_book.py"
NOT_LINKED = {".git", ".venv", "_build", "chapters", "labs", "dist", "grades", "tests", "benchmarks",
              "_toc.yml", "intro.md", "playground.ipynb", ".pytest_cache", ".hypothesis"}
FAILING_SOURCE = 'raise ValueError("deliberate failure for the build test")'


def _mini_book(tmp_path, second_cell):
    """A copy of the book (same config, extensions, assets) whose table of contents holds one small notebook."""
    import nbformat

    book = tmp_path / "book"
    if not book.exists():
        book.mkdir()
        for entry in ROOT.iterdir():
            if entry.name not in NOT_LINKED:
                (book / entry.name).symlink_to(entry)
        (book / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: chapters/probe\n")
        (book / "intro.md").write_text("# آزمون ساختن کتاب\n\nیک صفحه برای آزمون.\n", encoding="utf-8")
        (book / "chapters").mkdir()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# دفترچهٔ آزمون\n\nمتن."),
                nbformat.v4.new_code_cell("x = 6 * 7\nprint(x)"),
                nbformat.v4.new_code_cell(second_cell),
                nbformat.v4.new_code_cell("print('the last cell')")]
    nbformat.write(nb, book / "chapters" / "probe.ipynb")
    return book


def _build(book):
    r = subprocess.run([sys.executable, str(BUILD_BOOK), str(book)], capture_output=True, text=True, timeout=600,
                       env={**os.environ, "DLFA_QUIET": "1"})
    return r.returncode, r.stdout + r.stderr


def test_a_failing_cell_fails_cold_and_warm_builds_and_is_named(tmp_path):
    book = _mini_book(tmp_path, FAILING_SOURCE)
    for build in ("cold", "warm (nothing changed)"):
        rc, out = _build(book)
        assert rc != 0, f"{build} build of a notebook with a failing cell exited 0:\n{out[-3000:]}"
        assert "chapters/probe.ipynb: code cell 2" in out and "deliberate failure for the build test" in out, (
            f"{build} build did not name the failing cell:\n{out[-3000:]}")
        assert "FAILED (cell 2)" in out, out[-2000:]
    book = _mini_book(tmp_path, "print('fixed')")
    rc, out = _build(book)
    assert rc == 0, f"after fixing the cell the build still fails (a stale failure stuck):\n{out[-3000:]}"
    assert "chapters/probe.ipynb" in out and "ok" in out


def test_no_published_page_shows_a_traceback(built_book):
    html_dir, _ = built_book
    shown = [str(p.relative_to(html_dir)) for p in html_dir.rglob("*.html")
             if "Traceback (most recent call last)" in p.read_text(encoding="utf-8", errors="replace")
             or 'class="output traceback' in p.read_text(encoding="utf-8", errors="replace")]
    assert not shown, f"pages with a Python traceback: {shown}"
