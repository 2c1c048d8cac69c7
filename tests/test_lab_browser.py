"""A lab in JupyterLab, in a real browser (Debian chromium driven by playwright).

Starts JupyterLab from the project's venv on a free local port (``tests/lab_server.py``,
with the course's JupyterLab settings as ``make lab`` uses them), opens a scratch copy of lab 2's
source notebook (its reference solutions let "Run All Cells" reach the end), runs every cell from
the Run menu, checks that the Persian markdown is laid out right-to-left in Vazirmatn (computed
direction and font of jupyterlab-myst's ``.myst`` output; the font file loaded) while code stays
left-to-right, then flips the lab's ipywidgets controls
(activation, BN) and sees the kernel redraw the output. No request may leave the machine.
"""
import shutil
import time

import nbformat
import pytest

from lab_server import LOCAL_PREFIXES, ROOT, jupyterlab_server, open_notebook, run_all_cells

pytestmark = pytest.mark.slow
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is installed by requirements.txt")

LAB = "lab2_activations.ipynb"
MARKDOWN = ".jp-MarkdownCell .myst"  # jupyterlab-myst's rendering of a markdown cell
WIDGET_TEXT = "() => [...document.querySelectorAll('.jp-OutputArea-output')].map(e => e.innerText)" \
              ".find(t => /BN=(True|False): first\\/last/.test(t)) || null"


def test_lab_runs_in_jupyterlab_right_to_left_with_a_live_widget(tmp_path, browser):
    shutil.copy(ROOT / "labs" / "source" / LAB, tmp_path / LAB)
    with jupyterlab_server(tmp_path) as (base, token):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        outside = []
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(LOCAL_PREFIXES) else None)
        try:
            open_notebook(page, f"{base}/lab/tree/{LAB}?reset&token={token}")

            # right-to-left markdown (rendered by jupyterlab-myst) in Vazirmatn, left-to-right code
            page.wait_for_selector(f"{MARKDOWN} h1", timeout=30000)
            md = page.locator(MARKDOWN).first.evaluate(
                "e => ({dir: getComputedStyle(e).direction, align: getComputedStyle(e.querySelector('p')).textAlign,"
                " font: getComputedStyle(e.querySelector('p')).fontFamily, text: e.innerText.slice(0, 40)})")
            assert md["dir"] == "rtl", md
            assert md["align"] == "right", md
            assert md["font"].startswith("Vazirmatn"), md
            assert "آزمایشگاه" in md["text"]
            # the font file itself arrived (a rule naming it is not enough)
            page.wait_for_function("() => [...document.fonts].some(f => f.family === 'Vazirmatn' && f.status === 'loaded')",
                                   timeout=30000)
            assert page.evaluate("() => document.fonts.check('16px Vazirmatn', 'آزمایشگاه')")
            assert "Jupyter news" not in page.evaluate("() => document.body.innerText"), "the news popup is on"
            code_dir = page.locator(".jp-CodeCell .jp-InputArea-editor").first.evaluate(
                "e => getComputedStyle(e).direction")
            assert code_dir == "ltr"

            # run every cell from the Run menu; the last cell's output shows when Run All reaches it
            run_all_cells(page)
            page.wait_for_function("() => [...document.querySelectorAll('.jp-OutputArea-output')]"
                                   ".some(e => e.innerText.includes('BN=True: dead before'))", timeout=240000)
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60000)

            # every code cell ran without an error: save, then read the notebook back from disk
            page.keyboard.press("Control+s")
            deadline = time.time() + 30
            while True:
                saved = nbformat.read(tmp_path / LAB, as_version=4)
                code = [c for c in saved.cells if c.cell_type == "code"]
                if all(c.execution_count for c in code) or time.time() > deadline:
                    break
                time.sleep(0.5)
            assert all(c.execution_count for c in code), "not every code cell ran"
            errors = [o for c in code for o in c.outputs if o.output_type == "error"]
            assert errors == [], errors

            # JupyterLab renders only the cells near the viewport: scroll until the widget is there
            for i in range(101):
                if page.locator(".widget-dropdown select").count():
                    break
                page.evaluate("f => { const o = document.querySelector('.jp-WindowedPanel-outer');"
                              " o.scrollTop = f * o.scrollHeight; }", i / 100)
                page.wait_for_timeout(100)
            page.locator(".widget-dropdown select").first.scroll_into_view_if_needed(timeout=10000)
            page.wait_for_function(WIDGET_TEXT, timeout=30000)
            before = page.evaluate(WIDGET_TEXT)
            assert before.startswith("sigmoid, BN=False"), before

            # flip the widgets: the kernel redraws the output
            t0 = time.time()
            page.locator(".widget-dropdown select").first.select_option("relu")
            page.wait_for_function(f"() => ({WIDGET_TEXT})()?.startsWith('relu, BN=False')", timeout=30000)
            page.locator(".widget-checkbox input[type=checkbox]").first.check()
            page.wait_for_function(f"() => ({WIDGET_TEXT})()?.startsWith('relu, BN=True')", timeout=30000)
            after = page.evaluate(WIDGET_TEXT)
            assert after != before
            print(f"widget round trips: {time.time() - t0:.2f} s; {before!r} -> {after!r}")
            assert outside == [], f"requests to other hosts: {outside}"
        except Exception:
            (ROOT / "test-artifacts").mkdir(exist_ok=True)
            page.screenshot(path=str(ROOT / "test-artifacts" / "lab_browser_failure.png"))
            raise
        finally:
            context.close()
