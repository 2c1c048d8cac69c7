"""The training playground in a real browser (Debian chromium driven by playwright).

* Static site, network off: on «زمین بازی آموزش» click every option of every control and check
  that the panel shows the precomputed view of exactly that combination; no request leaves.
  The site is the lead's ``built_book`` fixture, or the folder in ``DLFA_BUILT_SITE`` (a private
  build of the book, e.g. /tmp/bookN/_build/html).
* JupyterLab: start a server on a free local port in a scratch copy of playground.ipynb, run all
  cells, flip batch norm and the activation, and see the kernel redraw the live view.
"""
import json
import os
import shutil
import time
from pathlib import Path

import pytest
from lab_server import jupyterlab_server, open_notebook, run_all_cells

pytestmark = pytest.mark.slow
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is installed by requirements.txt")

ROOT = Path(__file__).resolve().parent.parent
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")



@pytest.fixture(scope="module")
def site(request):
    env = os.environ.get("DLFA_BUILT_SITE")
    if env:
        return Path(env)
    html_dir, _ = request.getfixturevalue("built_book")
    return html_dir


def _open_offline(browser, url):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    outside, errors = [], []

    def _route(route):
        if route.request.url.startswith(LOCAL_SCHEMES):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", _route)
    # only the playground's own script is ours to check (the theme's sphinx-thebe logs a
    # "THEBE_JS_URL has already been declared" error on pages that load it twice)
    page.on("pageerror", lambda e: errors.append(f"{e}\n{e.stack}") if "playground" in (e.stack or "") else None)
    page.goto(url)
    page.wait_for_load_state("load")
    return context, page, outside, errors


SHOWN = """pg => ({key: pg.querySelector('.dlfa-pg-view').dataset.key,
           summary: pg.querySelector('.dlfa-pg-summary').innerHTML,
           data: pg.querySelector('g.dlfa-pg-data').innerHTML})"""
# What the browser makes of a precomputed view once parsed (attribute quoting etc. normalised).
EXPECTED = """([pg, key]) => {
  const v = JSON.parse(pg.querySelector('script.dlfa-pg-data').textContent).views[key];
  if (!v) return null;
  const div = document.createElement('div'); div.innerHTML = v[0];
  const g = document.createElementNS('http://www.w3.org/2000/svg', 'g'); g.innerHTML = v[1];
  return {key, summary: div.innerHTML, data: g.innerHTML};
}"""


def _checked_key(panel):
    return "/".join(panel.locator("fieldset").evaluate_all(
        "fs => fs.map(f => f.querySelector('input:checked').value)"))


def test_static_playground_switches_to_the_precomputed_views(browser, site):
    page_file = site / "playground.html"
    assert page_file.is_file(), f"{page_file} missing: is playground in _toc.yml?"
    context, page, outside, errors = _open_offline(browser, page_file.as_uri())
    try:
        panels = page.locator(".dlfa-pg")
        assert panels.count() == 2
        assert page.locator("div.cell_output .jupyter-widgets").count() == 0, "the widget view was rendered"
        for i in range(panels.count()):
            pg = panels.nth(i).element_handle()
            start = pg.evaluate(SHOWN)
            assert start == page.evaluate(EXPECTED, [pg, start["key"]])
            seen = {start["key"]}
            fieldsets = panels.nth(i).locator("fieldset")
            for f in range(fieldsets.count()):
                radios = fieldsets.nth(f).locator("input[type=radio]")
                for r in range(radios.count()):
                    radios.nth(r).click()
                    key = _checked_key(panels.nth(i))
                    page.wait_for_function("([pg, key]) => pg.querySelector('.dlfa-pg-view').dataset.key === key",
                                           arg=[pg, key], timeout=5000)
                    shown = pg.evaluate(SHOWN)
                    assert shown == page.evaluate(EXPECTED, [pg, key]), key
                    seen.add(key)
            assert len(seen) >= 1 + sum(fieldsets.nth(f).locator("input").count() - 1
                                        for f in range(fieldsets.count()))
        # the diverging combination of the learning-rate panel
        rates = panels.nth(1)
        rates.locator("input[value=none]").click()
        rates.locator("input[value='30']").click()
        page.wait_for_timeout(100)
        assert "واگرا شد" in rates.locator(".dlfa-pg-summary").inner_text()
        assert errors == [], errors
        assert outside == [], f"requests to other hosts: {outside}"
    finally:
        context.close()


def test_static_playground_in_chapter_one(browser, site):
    context, page, outside, errors = _open_offline(browser, (site / "chapters" / "01_batchnorm.html").as_uri())
    try:
        pg = page.locator(".dlfa-pg")
        assert pg.count() == 1
        before = pg.locator(".dlfa-pg-summary").inner_text()
        pg.locator("input[value=before]").click()
        page.wait_for_function("() => document.querySelector('.dlfa-pg-view').dataset.key.startsWith('before/')",
                               timeout=5000)
        assert pg.locator(".dlfa-pg-summary").inner_text() != before
        assert errors == [] and outside == [], (errors, outside)
    finally:
        context.close()


# ----------------------------------------------------------------------------- JupyterLab
@pytest.fixture
def lab(tmp_path):
    """A JupyterLab server on a free port serving a scratch copy of playground.ipynb."""
    shutil.copy(ROOT / "playground.ipynb", tmp_path / "playground.ipynb")
    with jupyterlab_server(tmp_path) as (base, token):
        yield f"{base}/lab/tree/playground.ipynb?reset&token={token}"


LIVE_KEY = "document.querySelector('.dlfa-pg-live-view .dlfa-pg')?.dataset.key"


def test_jupyterlab_live_playground(browser, lab):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(
        ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:", "about:")) else None)
    try:
        open_notebook(page, lab)
        run_all_cells(page)
        # the whole grid trains once (tens of seconds on a 2-core CPU), then the live view appears
        page.wait_for_function(f"() => !!({LIVE_KEY})", timeout=300000)
        assert page.evaluate(LIVE_KEY) == "spirals/none/relu/constant/6"
        # let "Run All" finish (the second panel trains after the first is shown) before timing a click
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=300000)
        svg0 = page.locator(".dlfa-pg-live-view svg").first.inner_html()
        panel = page.locator(".dlfa-pg-live").first
        t0 = time.time()
        panel.locator(".dlfa-pg-norm button", has_text="پیش از فعال‌سازی").click()
        page.wait_for_function(f"() => ({LIVE_KEY}) === 'spirals/before/relu/constant/6'", timeout=30000)
        latency_bn = time.time() - t0
        t0 = time.time()
        panel.locator(".dlfa-pg-activation button", has_text="tanh").click()
        page.wait_for_function(f"() => ({LIVE_KEY}) === 'spirals/before/tanh/constant/6'", timeout=30000)
        latency_act = time.time() - t0
        svg1 = page.locator(".dlfa-pg-live-view svg").first.inner_html()
        assert svg1 != svg0
        print(f"live update latency: BN {latency_bn:.2f} s, activation {latency_act:.2f} s")
        assert latency_bn < 5 and latency_act < 5
        assert outside == [], outside
    except Exception:
        (ROOT / "test-artifacts").mkdir(exist_ok=True)
        page.screenshot(path=str(ROOT / "test-artifacts" / "playground_lab_failure.png"))
        raise
    finally:
        context.close()
