"""Each lab as a student meets it in JupyterLab, and one chapter, in a real browser.

One JupyterLab server for the module (``tests/lab_server.py``, the course settings ``make lab`` uses:
custom CSS, jupyterlab-myst, no news popup) serves a scratch folder, and one browser page loads
JupyterLab once. In it, for every lab the student notebook (``labs/student/``) is opened (File >
Open from Path…, as a student can) and, as a student would:

1. the cells above question 1's check run on a fresh kernel (none may raise: read from the saved
   notebook), and the check says in Persian that q1 is unanswered;
2. a wrong answer is typed into the answer cell: the check shows, right-to-left in Vazirmatn, a
   few Persian lines (the failing assertion's message, or the exception and the student's line),
   never otter's doctest dump and never the reference module's name;
3. the right answer (the source notebook's solution) is typed: the check passes;
4. the notebook is saved; for lab 1, downloaded twice as it were (``downloads/<lab> (1).ipynb``,
   another name in another folder), opened on a fresh kernel, and question 1 checks again: it passes.

Then chapter 1 is opened: its MyST renders (admonitions, glossary terms, exercises with folded
solutions), right to left in Vazirmatn, and each glued number shows a Persian placeholder.
Screenshots of a failing check, the submission cell and the chapter go to ``test-artifacts/``.
"""
from __future__ import annotations

import json
import re
import shutil
import time
import urllib.request

import nbformat
import pytest

from lab_server import LOCAL_PREFIXES, ROOT, close_all_tabs, jupyterlab_server, open_in_app

pytestmark = pytest.mark.slow
pytest.importorskip("playwright.sync_api", reason="playwright is installed by requirements.txt")

ARTIFACTS = ROOT / "test-artifacts"
LABS = sorted(p.stem for p in (ROOT / "labs" / "student").glob("lab*.ipynb"))
# question 1's answer made wrong: (old, new) applied to the source notebook's solution cell
WRONG = {
    "lab1_batchnorm": ("var = x.var(dim=dims, correction=0)", "var = x.var(dim=dims)"),
    "lab2_activations": ("return s * (1.0 - s)", "return s * (1.0 - s.squared())"),
    "lab3_schedules": ("gamma ** (step // step_size)", "gamma ** (step / step_size)"),
    "lab4_im2col": ("+ 2 * padding", "+ padding"),
    "lab5_rnn_gradients": ("torch.tanh(a) if", "torch.sigmoid(a) if"),
    "lab6_resnet": ("return F.relu(out + self.shortcut(x))", "return F.relu(out) + self.shortcut(x)"),
}
# Step 4 (the renamed download on a fresh kernel) runs for one lab: finding the renamed notebook is
# helpers.labcheck's, the same code for every lab (lab_grader(lab) names the lab; the file is found
# from the kernel's session name); each lab's fresh-kernel start is step 1 of its own flow.
RENAMED_LAB = "lab1_batchnorm"
# JavaScript: the answer cell has an execution number; the outputs JupyterLab shows for errors and stderr
ANSWER_RAN = "/\\[\\d+\\]/.test(document.querySelector('.dlfa-q1-answer .jp-InputPrompt')?.innerText || '')"
STDERR = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
CHECK_TEXT = "() => { const e = document.querySelector('.dlfa-q1-check .dlfa-check'); return e ? e.innerText : '' }"


def q1_answer(lab: str) -> str:
    """The source notebook's solution of question 1 (otter's markers are comments: valid Python)."""
    nb = nbformat.read(ROOT / "labs" / "source" / f"{lab}.ipynb", as_version=4)
    i = next(k for k, c in enumerate(nb.cells) if c.cell_type == "raw" and c.source.startswith("# BEGIN SOLUTION"))
    return nb.cells[i + 1].source


def test_every_lab_has_a_wrong_answer():
    assert set(WRONG) == set(LABS)
    for lab, (old, _) in WRONG.items():
        assert old in q1_answer(lab), f"{lab}: the mutation no longer applies"


class App:
    """One browser page with JupyterLab loaded once; notebooks are opened in it and closed again.

    Loading JupyterLab costs the page about 5 s of CPU and opening a notebook in a loaded app about
    2 s, so the module loads it once (``?reset``: a fresh workspace) and loads it again only after a
    failed test, so that one failure does not hand the next test a broken page."""

    def __init__(self, browser, base, token):
        self.base, self.token = base, token
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.page = self.context.new_page()
        self.page.outside = []
        self.page.on("request", lambda r: self.page.outside.append(r.url)
                     if not r.url.startswith(LOCAL_PREFIXES) else None)
        self.load()

    def load(self):
        self.page.goto(f"{self.base}/lab?reset&token={self.token}")
        self.page.wait_for_selector(".jp-DirListing-item", timeout=90000)

    def open(self, path: str):
        """The page, with the notebook at ``path`` (relative to the server's root) open on an idle kernel."""
        open_in_app(self.page, path)
        return self.page

    def close(self, failed: bool = False):
        """Close every tab and shut every kernel down; after a failure, load the app afresh."""
        if failed:
            self.load()
        else:
            close_all_tabs(self.page)
        _shutdown_kernels(self.base, self.token)


@pytest.fixture(scope="module")
def lab(tmp_path_factory, browser):
    """(root, app): one JupyterLab server for the module, serving ``root``, and one page of it."""
    root = tmp_path_factory.mktemp("student")
    for name in LABS:
        shutil.copy(ROOT / "labs" / "student" / f"{name}.ipynb", root / f"{name}.ipynb")
    (root / "chapters").mkdir()
    shutil.copy(ROOT / "chapters" / "01_batchnorm.ipynb", root / "chapters" / "01_batchnorm.ipynb")
    with jupyterlab_server(root) as (base, token):
        app = App(browser, base, token)
        yield root, app
        app.context.close()


def _shutdown_kernels(base, token):
    for s in json.load(urllib.request.urlopen(f"{base}/api/sessions?token={token}", timeout=10)):
        req = urllib.request.Request(f"{base}/api/sessions/{s['id']}?token={token}", method="DELETE")
        urllib.request.urlopen(req, timeout=30)


def _mark_q1_cells(page):
    """Tag question 1's check cell and the answer cell above it, so that locators find them."""
    page.wait_for_function("""() => [...document.querySelectorAll('.jp-CodeCell')]
        .some(c => c.querySelector('.cm-content')?.innerText.trim() === 'grader.check("q1")')""", timeout=60000)
    page.evaluate("""() => {
        const cells = [...document.querySelectorAll('.jp-Notebook .jp-Cell')];
        const i = cells.findIndex(c => c.querySelector('.cm-content')?.innerText.trim() === 'grader.check("q1")');
        cells[i].classList.add('dlfa-q1-check');
        const answer = cells.slice(0, i).reverse().find(c => c.classList.contains('jp-CodeCell'));
        answer.classList.add('dlfa-q1-answer');
    }""")


def _prompt(page, selector):
    return page.locator(f"{selector} .jp-InputPrompt").first.inner_text().strip()


def _run_up_to_q1_check(page):
    """Run every cell above question 1's check (Run menu), then the check itself."""
    _mark_q1_cells(page)
    page.locator(".dlfa-q1-check .jp-InputPrompt").first.click()
    page.locator("div.lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Above Selected Cell").first.click()
    # done when the answer cell has run, or when the run stopped at an error above it (no cell queued)
    page.wait_for_function(f"""() => {ANSWER_RAN}
        || (![...document.querySelectorAll('.jp-InputPrompt')].some(p => p.innerText.includes('*'))
            && !!document.querySelector({json.dumps(STDERR)}))""", timeout=180000)
    stopped = page.evaluate(f"""() => {ANSWER_RAN} ? null
        : [...document.querySelectorAll({json.dumps(STDERR)})].map(e => e.innerText).join('\\n')""")
    assert stopped is None, f"a cell above the first exercise crashed:\n{stopped[:2000]}"
    return _run_check(page)


def _run_check(page, before: str = ""):
    page.locator(".dlfa-q1-check .jp-InputPrompt").first.click()
    page.keyboard.press("Shift+Enter")
    page.wait_for_function(f"() => {{ const t = ({CHECK_TEXT})(); return t && t !== {json.dumps(before)}; }}",
                           timeout=120000)
    return page.evaluate(CHECK_TEXT)


def _answer(page, code: str) -> str:
    """Replace the answer cell's code (as typed text, no auto-indent), run it, run the check."""
    before = page.evaluate(CHECK_TEXT)
    page.locator(".dlfa-q1-answer .cm-content").first.click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(code)
    page.keyboard.press("Shift+Enter")
    page.wait_for_function(f"() => {ANSWER_RAN}",
                           timeout=60000)
    return _run_check(page, before)


def _check_box_style(page) -> dict:
    return page.locator(".dlfa-q1-check .dlfa-check").first.evaluate(
        "e => ({dir: getComputedStyle(e).direction, font: getComputedStyle(e).fontFamily, cls: e.className})")


def _fail_artifact(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}_failure.png"))


@pytest.mark.parametrize("name", LABS)
def test_student_flow_in_jupyterlab(lab, name):
    root, app = lab
    right = q1_answer(name)
    old, new = WRONG[name]
    wrong = right.replace(old, new)
    page = app.page
    try:
        app.open(f"{name}.ipynb")
        # locked cells say so (the first cell builds `grader`)
        # (custom.css labels them once JupyterLab has marked the cell read-only: wait for it)
        label = page.wait_for_function("""() => {
            const e = document.querySelector('.jp-Notebook .jp-Cell');
            const c = e ? getComputedStyle(e, '::before').content : '';
            return c.includes('قفل') ? c : null; }""", timeout=30000).json_value()
        assert "قفل" in label, label

        text = _run_up_to_q1_check(page)
        assert "هنوز پاسخ داده نشده است" in text, text

        text = _answer(page, wrong)
        style = _check_box_style(page)
        assert "dlfa-check-failed" in style["cls"] and "unanswered" not in style["cls"], (style, text)
        assert "رد شد" in text, text
        assert style["dir"] == "rtl" and style["font"].startswith("Vazirmatn"), style
        for leak in ("Trying:", "Expecting", "Traceback", "helpers.", "_ref", "passed!", "doctest"):
            assert leak not in text, f"{leak!r} shown to the student:\n{text}"
        assert len(text.strip().splitlines()) <= 6, text
        if name == "lab1_batchnorm":
            ARTIFACTS.mkdir(exist_ok=True)
            page.locator(".dlfa-q1-check").first.screenshot(path=str(ARTIFACTS / "lab_check_failed.png"))

        text = _answer(page, right)
        assert "قبول شد" in text and "dlfa-check-passed" in _check_box_style(page)["cls"], text

        # save, then the file downloaded twice into another folder, on a fresh kernel
        page.keyboard.press("Control+s")
        saved = "# BEGIN SOLUTION"  # in the typed answer only: the student copy has no otter markers
        deadline = time.time() + 30
        while saved not in (root / f"{name}.ipynb").read_text(encoding="utf-8") and time.time() < deadline:
            time.sleep(0.5)
        assert saved in (root / f"{name}.ipynb").read_text(encoding="utf-8"), "the answer was not saved"
        _no_cell_crashed_above_q1(root / f"{name}.ipynb")
        if name == "lab1_batchnorm":  # the submission section: one check of the whole notebook
            _submission_cell(page)
        assert page.outside == [], f"requests to other hosts: {page.outside}"
    except Exception:
        _fail_artifact(page, name)
        app.close(failed=True)
        raise
    app.close()
    if name != RENAMED_LAB:
        return

    moved = root / "downloads" / f"{name} (1).ipynb"
    moved.parent.mkdir(exist_ok=True)
    shutil.copy(root / f"{name}.ipynb", moved)
    try:
        app.open(f"downloads/{moved.name}")
        text = _run_up_to_q1_check(page)
        assert "قبول شد" in text, f"the renamed notebook does not check: {text}"
    except Exception:
        _fail_artifact(page, f"{name}_renamed")
        app.close(failed=True)
        raise
    app.close()


def _no_cell_crashed_above_q1(saved):
    """Every code cell above question 1's check ran on this fresh kernel, none with an error (read
    from the notebook JupyterLab saved, outputs included)."""
    nb = nbformat.read(saved, as_version=4)
    check = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.strip() == 'grader.check("q1")')
    assert check == next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "grader.check(" in c.source), \
        "question 1's check is not the first check"
    for cell in nb.cells[:check]:
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        assert cell.execution_count, f"a cell above the first check did not run:\n{cell.source}"
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert not errors, f"cell crashed before the first exercise was answered:\n{cell.source}\n{errors}"


def _submission_cell(page):
    """Walk down to the last cell (the «تحویل» check), run it, and read its Persian summary."""
    page.keyboard.press("Escape")
    n = page.evaluate("() => document.querySelector('.jp-Notebook').querySelectorAll('.jp-Cell').length")
    for _ in range(200):
        page.keyboard.press("ArrowDown")
        if page.evaluate("""() => { const a = document.querySelector('.jp-Notebook .jp-Cell.jp-mod-active .cm-content');
                               return !!a && a.innerText.includes('grader.check_all()') }"""):
            break
    assert n, "no cells"
    page.keyboard.press("Shift+Enter")
    page.wait_for_function("() => [...document.querySelectorAll('.dlfa-check')].some(e => e.innerText.includes('بررسی کل دفترچه'))",
                           timeout=120000)
    text = page.evaluate("() => [...document.querySelectorAll('.dlfa-check')].find(e => e.innerText.includes('بررسی کل دفترچه')).innerText")
    assert "✓ پرسش ۱ (q1)" in text and "پرسش ۲ (q2)" in text, text
    heading = page.evaluate("() => [...document.querySelectorAll('.jp-MarkdownCell h2')].map(h => h.innerText)")
    assert any("تحویل" in h for h in heading), heading
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "lab_submission.png"))


RAW_MYST = re.compile(r"\{(glue|cite|term|doc|ref)(:\w+)?\}`|:::\{|```\{")
GLUE = ".jp-MarkdownCell .myst span:not([class], [style], [data-state], .katex span):not(:has(*)):not(:empty)"
# What the chapter shows, read in the page once every cell is rendered: JupyterLab's default windowing
# ("contentVisibility") attaches every cell, those out of view in idle time, and jupyterlab-myst
# renders each markdown cell when it is attached.
CHAPTER_SEEN = f"""() => {{
    const myst = [...document.querySelectorAll('.jp-MarkdownCell .myst')];
    const glue = [...document.querySelectorAll({json.dumps(GLUE)})];
    return {{
      cells: document.querySelectorAll('.jp-Notebook .jp-Cell').length,
      markdown: myst.length,
      admonition: document.querySelectorAll('.jp-MarkdownCell .myst .myst-admonition').length,
      exercise: document.querySelectorAll('.jp-MarkdownCell .myst aside.myst-exercise').length,
      solution: document.querySelectorAll('.jp-MarkdownCell .myst details.myst-exercise').length,
      open_solution: document.querySelectorAll('.jp-MarkdownCell .myst details.myst-exercise[open]').length,
      term: document.querySelectorAll('.jp-MarkdownCell .myst [data-state] a').length,
      titled: [...document.querySelectorAll('.jp-MarkdownCell .myst .myst-exercise-title')].filter(t => {{
          const b = getComputedStyle(t, '::before');
          return /تمرین/.test(b.content) && parseFloat(b.fontSize) >= 10; }}).length,
      glue: glue.filter(e => getComputedStyle(e, '::before').content.includes('عدد')
                             && getComputedStyle(e).fontSize === '0px').length,
      text: myst.map(m => m.innerText).join('\\n'),
    }}; }}"""


def _screenshot_at(page, find_js, name):
    """Scroll the element ``find_js`` (a JavaScript expression) returns to the middle of the view, then
    take a screenshot of the page. (Three times: cells above it are sized only once they come into view,
    which moves it.)"""
    for _ in range(3):
        page.evaluate(f"() => ({find_js}).scrollIntoView({{block: 'center'}})")
        page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / name))


def test_chapter_renders_in_jupyterlab(lab):
    root, app = lab
    page = app.page
    try:
        app.open("chapters/01_batchnorm.ipynb")
        page.wait_for_selector(".jp-MarkdownCell .myst p", timeout=60000)
        page.wait_for_function("() => [...document.fonts].some(f => f.family === 'Vazirmatn' && f.status === 'loaded')",
                               timeout=30000)
        # read the style of a paragraph that is on the page (JupyterLab may re-render a cell just after it first
        # appears; a detached element has no computed style)
        p = page.wait_for_function("""() => {
            const e = [...document.querySelectorAll('.jp-MarkdownCell .myst p')].find(x => x.isConnected);
            if (!e) return null;
            const s = getComputedStyle(e);
            return s.direction ? {dir: s.direction, align: s.textAlign, font: s.fontFamily} : null;
        }""", timeout=30000).json_value()
        assert p["dir"] == "rtl" and p["align"] == "right" and p["font"].startswith("Vazirmatn"), p
        assert page.evaluate("() => document.fonts.check('16px Vazirmatn', 'نرمال‌سازی')")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "chapter_top.png"))

        chapter = nbformat.read(root / "chapters" / "01_batchnorm.ipynb", as_version=4)
        cells = len(chapter.cells)
        markdown = sum(c.cell_type == "markdown" for c in chapter.cells)
        page.wait_for_function(f"() => document.querySelectorAll('.jp-Notebook .jp-Cell').length === {cells}"
                               f" && document.querySelectorAll('.jp-MarkdownCell .myst').length === {markdown}",
                               timeout=60000)
        page.wait_for_timeout(500)  # the last cell's rendering settles
        seen = page.evaluate(CHAPTER_SEEN)
        raw = RAW_MYST.findall(seen["text"])
        _screenshot_at(page, f"[...document.querySelectorAll({json.dumps(GLUE)})].find(e => getComputedStyle(e,"
                             " '::before').content.includes('عدد'))", "chapter_glue.png")
        _screenshot_at(page, "document.querySelector('.jp-MarkdownCell .myst aside.myst-exercise')", "chapter_exercise.png")
        seen.pop("text")
        assert seen["cells"] == cells and seen["markdown"] == markdown, seen
        assert raw == [], f"raw MyST shown: {raw[:5]}"
        assert seen["admonition"] and seen["term"] and seen["glue"], seen
        assert seen["exercise"] and seen["solution"], seen
        assert seen["titled"] >= seen["exercise"] + seen["solution"], f"exercise titles are not shown in Persian: {seen}"
        assert seen["open_solution"] == 0, "a solution is unfolded"
        assert page.outside == [], f"requests to other hosts: {page.outside}"
        # the news popup is off
        assert "Jupyter news" not in page.evaluate("() => document.body.innerText")
    except Exception:
        _fail_artifact(page, "chapter")
        app.close(failed=True)
        raise
    app.close()
