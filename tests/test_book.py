"""The book builds with warnings as errors, and every page is marked right-to-left."""
import re

import pytest

pytestmark = pytest.mark.slow

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
