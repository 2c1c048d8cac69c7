"""The built site in a real browser (Debian chromium driven by playwright), network off.

Every request that is not for a local file is recorded and aborted, so a page
that needs another host shows it here as a failure, not as a slow test.
"""
import pytest

pytestmark = pytest.mark.slow
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is installed by requirements.txt")

LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")


@pytest.fixture
def open_page(browser, built_book):
    """Open a page of the built site; returns (page, non-local requests, page errors)."""
    html_dir, _ = built_book
    contexts = []

    def _open(name, query="", **context_args):
        context = browser.new_context(**context_args)
        contexts.append(context)
        page = context.new_page()
        outside, errors = [], []
        page.on("pageerror", lambda error: errors.append(str(error)))

        def _route(route):
            url = route.request.url
            if url.startswith(LOCAL_SCHEMES):
                route.continue_()
            else:
                outside.append(url)
                route.abort()

        page.route("**/*", _route)
        page.goto((html_dir / name).as_uri() + query)
        page.wait_for_load_state("load")
        return page, outside, errors

    yield _open
    for context in contexts:
        context.close()


# Every page's direction, font, typeset math, left-to-right code, requests and errors, at two sizes
# and in dark mode too: tests/test_site_a11y.py::test_page_reads_right (one load per page and size for
# all checks).


def test_persian_search_finds_the_chapter(open_page):
    page, outside, errors = open_page("search.html", query="?q=نرمال‌سازی")
    page.wait_for_selector("#search-results li", timeout=20000)
    hrefs = page.eval_on_selector_all("#search-results li a", "els => els.map(e => e.getAttribute('href'))")
    assert any("01_batchnorm" in h for h in hrefs), hrefs
    assert outside == []


def test_mobile_drawer_opens_on_the_right(open_page):
    width = 390
    page, outside, errors = open_page("chapters/01_batchnorm.html", viewport={"width": width, "height": 844})
    page.locator("button.primary-toggle:visible").first.click()
    drawer = page.locator("dialog#pst-primary-sidebar-modal")
    drawer.wait_for(state="visible", timeout=5000)
    page.wait_for_timeout(600)  # the slide-in transition
    box = drawer.bounding_box()
    assert box is not None and box["width"] > 100
    assert abs(box["x"] + box["width"] - width) <= 2, f"drawer not flush with the right edge: {box}"
    assert box["x"] > 0, f"drawer covers the left edge: {box}"
    assert outside == []
