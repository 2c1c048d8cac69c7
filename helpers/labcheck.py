"""The labs' checks as a student meets them: otter's ``grader.check``, told in Persian, right to left.

Each lab's first (locked) cell runs::

    from helpers.labcheck import lab_grader
    grader = lab_grader("lab1_batchnorm")

and every check cell below a question runs ``grader.check("q1")``. The tests themselves are
otter-grader's (public tests stored in the student notebook's metadata by ``otter assign``; at
grading time otter's own test files). This module only

* finds the notebook that holds the tests, whatever the file is called and wherever it lies
  (``lab1_batchnorm (1).ipynb`` downloaded twice, moved to another folder, a fresh kernel): the
  notebook named in the kernel's ``JPY_SESSION_NAME`` or VS Code's ``__vsc_ipynb_file__``, else
  any ``*.ipynb`` in the working folder whose ``otter.assignment_name`` is the lab, else the
  course repository's ``labs/student/<lab>.ipynb``;
* calls :meth:`otter.Notebook.check` (so otter's grading mode records results exactly as before)
  and renders the returned :class:`otter.test_files.TestFile` in a few Persian lines: which test
  failed and why (the failing assertion's message, or the exception's type and the student's own
  line), never otter's doctest dump and never the tests' code; a question whose answer still holds
  the ``...`` placeholder is reported as unanswered.

Nothing here changes otter; ``CheckResult.result`` is otter's own result object.
"""
from __future__ import annotations

import ast
import builtins
import doctest
import html
import inspect
import json
import os
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

__all__ = ["lab_grader", "LabGrader", "CheckResult", "CheckAllResult", "find_lab_notebook", "diagnose"]

FA_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
REPO_STUDENT_DIR = Path(__file__).resolve().parent.parent / "labs" / "student"
# a frame of code the student ran in a notebook cell (ipykernel's cell files; classic IPython)
CELL_FILE = re.compile(r"(ipykernel_\d+[/\\]\d+\.py|<ipython-input-[^>]*>)")
FRAME = re.compile(r'^  File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>.+)$')
STARS = "*" * 70
STYLE = ("direction:rtl;text-align:right;unicode-bidi:isolate;font-family:Vazirmatn,var(--jp-content-font-family),"
         "sans-serif;line-height:1.7;padding:0.4em 0.8em;border-radius:4px;border-inline-start:4px solid {color};"
         "background:{bg};margin:0.2em 0")
CODE_STYLE = "direction:ltr;unicode-bidi:isolate;font-family:var(--jp-code-font-family),monospace;font-size:0.9em"


def fa(x) -> str:
    """A number in Persian digits."""
    return str(x).translate(FA_DIGITS)


def _qlabel(name: str) -> str:
    m = re.fullmatch(r"q(\d+)", name)
    return f"پرسش {fa(m.group(1))} ({name})" if m else f"پرسش {name}"


def _qkey(name: str):
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


# --------------------------------------------------------------------------- finding the tests
def _assignment_name(path: Path) -> tuple[str | None, bool]:
    """(otter assignment name, whether the notebook holds tests in its metadata) of a notebook file."""
    try:
        meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {}).get("otter", {})
    except (OSError, ValueError, AttributeError):
        return None, False
    return meta.get("assignment_name"), bool(meta.get("tests"))


def find_lab_notebook(lab: str, cwd: Path | None = None, hints: tuple = ()) -> Path | None:
    """The notebook that holds ``lab``'s public tests, or None.

    Tried in order: the paths in ``hints`` (the kernel's own notebook), the ``*.ipynb`` files in
    ``cwd`` whose otter metadata names the lab (the newest first), the course repository's copy.
    """
    cwd = Path.cwd() if cwd is None else Path(cwd)
    for hint in hints:
        if hint and Path(hint).is_file() and _assignment_name(Path(hint)) == (lab, True):
            return Path(hint)
    mine = []
    for p in cwd.glob("*.ipynb"):
        if _assignment_name(p) == (lab, True):
            mine.append(p)
    if mine:
        return max(mine, key=lambda p: (p.stat().st_mtime, p.name == f"{lab}.ipynb"))
    repo_copy = REPO_STUDENT_DIR / f"{lab}.ipynb"
    if repo_copy.is_file() and _assignment_name(repo_copy) == (lab, True):
        return repo_copy
    return None


def lab_grader(lab: str) -> "LabGrader":
    """The ``grader`` of a lab notebook; never raises (a grader without tests explains itself)."""
    import otter

    if getattr(otter.Notebook, "_grading_mode", False):
        return LabGrader(lab, otter.Notebook(), None)  # otter's grader: tests come from its own folder
    hints = [os.environ.get("JPY_SESSION_NAME")]
    main = sys.modules.get("__main__")
    hints.append(getattr(main, "__vsc_ipynb_file__", None))
    path = find_lab_notebook(lab, hints=tuple(hints))
    if path is None:
        grader = LabGrader(lab, None, None)
        grader._show_missing()
        return grader
    # tests_dir="" : read the tests from the notebook's metadata even if a "tests" folder lies beside it
    return LabGrader(lab, otter.Notebook(str(path), tests_dir=""), path)


# --------------------------------------------------------------------------- what went wrong
@dataclass
class Diagnosis:
    kind: str            # "passed" | "unanswered" | "undefined" | "assertion" | "exception" | "mismatch" | "other"
    names: tuple = ()    # the answer names concerned (unanswered / undefined)
    exc_type: str = ""
    exc_message: str = ""
    func: str = ""       # the student's function where the exception was raised
    line_no: int = 0
    line: str = ""       # the student's line


def _test_names(body: str) -> tuple[list[str], set[str]]:
    """Names a doctest body reads (in order) and names it binds itself."""
    reads, binds = [], set()
    for ex in doctest.DocTestParser().get_examples(body):
        try:
            tree = ast.parse(ex.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                if isinstance(node.ctx, ast.Load):
                    if node.id not in reads:
                        reads.append(node.id)
                else:
                    binds.add(node.id)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                binds.update((a.asname or a.name).split(".")[0] for a in node.names)
            elif isinstance(node, (ast.FunctionDef, ast.Lambda)):
                args = node.args
                binds.update(a.arg for a in args.args + args.kwonlyargs + args.posonlyargs)
            elif isinstance(node, ast.comprehension):
                for t in ast.walk(node.target):
                    if isinstance(t, ast.Name):
                        binds.add(t.id)
    return reads, binds


def _source_has_placeholder(src: str) -> bool:
    try:
        tree = ast.parse(textwrap.dedent(src))
    except SyntaxError:
        return False
    for node in ast.walk(tree):
        value = None
        if isinstance(node, ast.Expr):
            value = node.value
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.Return)):
            value = node.value
        if isinstance(value, ast.Constant) and value.value is Ellipsis:
            return True
    return False


def is_placeholder(obj) -> bool:
    """Whether an answer still holds otter's ``...`` placeholder (a value, or a function/class body)."""
    if obj is Ellipsis:
        return True
    if isinstance(obj, (list, tuple)) and any(o is Ellipsis for o in obj):
        return True
    if inspect.isfunction(obj):
        funcs = [obj]
    elif inspect.isclass(obj) and obj.__module__ == "__main__":
        funcs = [v for v in vars(obj).values() if inspect.isfunction(v)]
    else:
        return False
    for f in funcs:
        if f.__module__ != "__main__":
            continue
        try:
            if _source_has_placeholder(inspect.getsource(f)):
                return True
        except (OSError, TypeError):
            continue
    return False


def _first_failure(message: str) -> dict:
    """The first failed example of otter's doctest report: source, traceback lines or expected/got."""
    blocks = message.split(STARS)[1:]
    for block in blocks:
        lines = block.strip("\n").splitlines()
        if not any(l.startswith("Failed example:") for l in lines):
            continue
        out, section = {"source": [], "exception": [], "expected": [], "got": []}, None
        for line in lines:
            head = line.rstrip(":")
            if line in ("Failed example:", "Exception raised:", "Expected:", "Got:") or line.startswith("Expected nothing"):
                section = {"Failed example": "source", "Exception raised": "exception",
                           "Expected": "expected", "Got": "got"}.get(head)
                continue
            if section and line.startswith("    "):
                out[section].append(line[4:])
            elif section and line.strip() == "":
                continue
            else:
                section = None
        return out
    return {}


def _parse_exception(tb: list[str]) -> Diagnosis:
    frames, exc_lines, i = [], [], 0
    while i < len(tb):
        m = FRAME.match(tb[i])
        if m:
            code = tb[i + 1].strip() if i + 1 < len(tb) and tb[i + 1].startswith("    ") else ""
            frames.append((m.group("file"), int(m.group("line")), m.group("func"), code))
        elif tb[i] and not tb[i].startswith(" ") and not tb[i].startswith("Traceback ("):
            exc_lines = tb[i:]
            # a chained exception ("During handling...") starts another traceback: keep the last one
            if any(l.startswith("Traceback (") for l in exc_lines[1:]):
                return _parse_exception(exc_lines[next(k for k, l in enumerate(exc_lines) if l.startswith("Traceback (")):])
            break
        i += 1
    first = exc_lines[0] if exc_lines else ""
    exc_type, _, msg = first.partition(":")
    msg = "\n".join([msg.strip()] + exc_lines[1:]).strip()
    d = Diagnosis("exception", exc_type=exc_type.strip().rsplit(".", 1)[-1], exc_message=msg)
    mine = [f for f in frames if CELL_FILE.search(f[0])]
    if mine:
        _, d.line_no, d.func, d.line = mine[-1]
    elif frames and frames[-1][0].startswith("<doctest ") and d.exc_type == "AssertionError":
        d.kind = "assertion"
    return d


def diagnose(case_result, global_env: dict) -> Diagnosis:
    """Why one otter test case (a ``TestCaseResult``) failed, in terms a student can act on."""
    if case_result.passed:
        return Diagnosis("passed")
    reads, binds = _test_names(case_result.test_case.body)
    candidates = [n for n in reads if n not in binds and not hasattr(builtins, n)]
    undefined = tuple(n for n in candidates if n not in global_env)
    unanswered = tuple(n for n in candidates if n in global_env and is_placeholder(global_env[n]))
    if unanswered:
        return Diagnosis("unanswered", names=unanswered)
    failure = _first_failure(case_result.message or "")
    if failure.get("exception"):
        d = _parse_exception(failure["exception"])
        if d.exc_type == "NameError" and undefined and not d.line:
            return Diagnosis("undefined", names=undefined)
        return d
    if failure.get("expected") or failure.get("got"):
        return Diagnosis("mismatch", exc_message="\n".join(failure.get("got", [])))
    if undefined:
        return Diagnosis("undefined", names=undefined)
    return Diagnosis("other")


# --------------------------------------------------------------------------- rendering
def _code(text: str) -> str:
    return f'<code dir="ltr" style="{CODE_STYLE}">{html.escape(text)}</code>'


def _redact(text: str) -> str:
    """Never name the course's reference modules to a student."""
    return re.sub(r"\bhelpers(\.\w+)+", "(کد مرجع)", text)


def _short(text: str, limit: int = 300) -> str:
    text = _redact(text.strip())
    return text if len(text) <= limit else text[:limit] + " …"


def _case_lines(index: int, total: int, case_result, d: Diagnosis) -> list[tuple[str, str]]:
    """(plain, html) lines about one failed public test."""
    which = f"آزمون {fa(index)} از {fa(total)}"
    hint = _redact((case_result.test_case.failure_message or "").strip())
    if d.kind == "assertion":
        why = d.exc_message or hint or "نتیجه با مقدار درست نمی‌خواند."
        out = [(f"{which} رد شد: {_redact(why)}", f"{which} رد شد: {html.escape(_redact(why))}")]
        if hint and d.exc_message and hint != d.exc_message:
            out.append((f"راهنما: {hint}", f"راهنما: {html.escape(hint)}"))
        return out
    if d.kind == "exception":
        if d.line:
            plain, rich = [f"{which} رد شد: کد شما خطای {d.exc_type} داد."], \
                [f"{which} رد شد: کد شما خطای {_code(d.exc_type)} داد."]
        else:
            plain, rich = [f"{which} رد شد: هنگام آزمودن پاسخ شما خطای {d.exc_type} رخ داد."], \
                [f"{which} رد شد: هنگام آزمودن پاسخ شما خطای {_code(d.exc_type)} رخ داد."]
        if d.line:
            where = f"در تابع {d.func}، سطر {fa(d.line_no)} خانهٔ پاسخ" if d.func != "<module>" else \
                f"سطر {fa(d.line_no)} خانهٔ پاسخ"
            where_html = (f"در تابع {_code(d.func)}، سطر {fa(d.line_no)} خانهٔ پاسخ" if d.func != "<module>"
                          else f"سطر {fa(d.line_no)} خانهٔ پاسخ")
            plain.append(f"{where}: {d.line}")
            rich.append(f"{where_html}: {_code(d.line)}")
        if d.exc_message:
            plain.append(f"پیام خطا: {_short(d.exc_message)}")
            rich.append(f"پیام خطا: {_code(_short(d.exc_message))}")
        return list(zip(plain, rich))
    if d.kind == "mismatch":
        why = hint or "خروجی با مقدار درست نمی‌خواند."
        return [(f"{which} رد شد: {why}", f"{which} رد شد: {html.escape(why)}")]
    why = hint or "نتیجه با مقدار درست نمی‌خواند."
    return [(f"{which} رد شد: {why}", f"{which} رد شد: {html.escape(why)}")]


def _names_plain(names) -> str:
    return "، ".join(names)


def _names_html(names) -> str:
    return "، ".join(_code(n) for n in names)


@dataclass
class Summary:
    status: str          # "passed" | "failed" | "unanswered" | "undefined" | "missing"
    lines: list          # [(plain, html)]


def summarize(question: str, result, global_env: dict) -> Summary:
    """A few Persian lines about otter's result for one question (public tests only)."""
    label = _qlabel(question)
    results = [r for r in result.test_case_results if not r.test_case.hidden]
    if not results:
        results = list(result.test_case_results)
    total = len(results)
    if all(r.passed for r in results):
        line = (f"{label}: هر {fa(total)} آزمون عمومی قبول شد. "
                "هنگام نمره‌دهی آزمون‌های پنهان دیگری هم اجرا می‌شوند.")
        return Summary("passed", [(line, html.escape(line))])
    diags = [(i + 1, r, diagnose(r, global_env)) for i, r in enumerate(results)]
    failed = [(i, r, d) for i, r, d in diags if not r.passed]
    unanswered = [n for _, _, d in failed if d.kind == "unanswered" for n in d.names]
    if unanswered:
        names = list(dict.fromkeys(unanswered))
        plain = (f"{label} هنوز پاسخ داده نشده است: در {_names_plain(names)} هنوز «...» مانده است. "
                 "به جای «...» کد خودتان را بنویسید، آن خانه را اجرا کنید و سپس این خانه را دوباره اجرا کنید.")
        rich = (f"{label} هنوز پاسخ داده نشده است: در {_names_html(names)} هنوز {_code('...')} مانده است. "
                f"به جای {_code('...')} کد خودتان را بنویسید، آن خانه را اجرا کنید و سپس این خانه را دوباره اجرا کنید.")
        return Summary("unanswered", [(plain, rich)])
    undefined = [n for _, _, d in failed if d.kind == "undefined" for n in d.names]
    if undefined and all(d.kind == "undefined" for _, _, d in failed):
        names = list(dict.fromkeys(undefined))
        verb = "تعریف نشده است" if len(names) == 1 else "تعریف نشده‌اند"
        todo = "خانهٔ پاسخ این پرسش و خانه‌های پیش از آن را اجرا کنید و سپس این خانه را دوباره اجرا کنید."
        plain = f"{label}: {_names_plain(names)} هنوز {verb}. {todo}"
        rich = f"{label}: {_names_html(names)} هنوز {verb}. {todo}"
        return Summary("undefined", [(plain, rich)])
    head = f"{label}: {fa(len(failed))} آزمون از {fa(total)} آزمون عمومی رد شد."
    lines = [(head, html.escape(head))]
    i, r, d = failed[0]  # the first failure explains the others more often than not
    lines += _case_lines(i, total, r, d)
    if len(failed) > 1:
        rest = [fa(j) for j, _, _ in failed[1:]]
        more = (f"آزمون {rest[0]} هم رد شد" if len(rest) == 1 else
                f"آزمون‌های {'، '.join(rest[:-1])} و {rest[-1]} هم رد شدند") + "؛ اول همین یکی را درست کنید."
        lines.append((more, html.escape(more)))
    return Summary("failed", lines)


def _box(lines, status: str) -> str:
    color, bg = {"passed": ("#2e7d32", "rgba(46,125,50,0.08)")}.get(status, ("#c62828", "rgba(198,40,40,0.07)"))
    if status in ("unanswered", "undefined", "missing"):
        color, bg = "#b26a00", "rgba(178,106,0,0.08)"
    body = "".join(f'<div style="margin:0.1em 0">{rich}</div>' for _, rich in lines)
    classes = f"dlfa-check dlfa-check-{status}" + ("" if status == "passed" else " dlfa-check-failed")
    return (f'<div dir="rtl" lang="fa" class="{classes}" '
            f'style="{STYLE.format(color=color, bg=bg)}">{body}</div>')


class CheckResult:
    """What ``grader.check(q)`` returns: shown in Persian; otter's result stays in ``.result``."""

    def __init__(self, question: str, result, summary: Summary):
        self.question, self.result, self.summary = question, result, summary

    @property
    def passed(self) -> bool:
        return self.summary.status == "passed"

    @property
    def status(self) -> str:
        return self.summary.status

    def __repr__(self) -> str:
        return "\n".join(plain for plain, _ in self.summary.lines)

    def _repr_html_(self) -> str:
        return _box(self.summary.lines, self.summary.status)


class CheckAllResult:
    """What ``grader.check_all()`` returns: one Persian line per question and what to do next."""

    def __init__(self, checks: list[CheckResult], lab: str, notebook: Path | None):
        self.checks, self.lab, self.notebook = checks, lab, notebook

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    def _lines(self) -> list[tuple[str, str]]:
        ok = sum(c.passed for c in self.checks)
        n = len(self.checks)
        head = f"بررسی کل دفترچه: آزمون‌های عمومی {fa(ok)} پرسش از {fa(n)} پرسش قبول شد."
        lines = [(head, f"<strong>{html.escape(head)}</strong>")]
        for c in self.checks:
            mark = {"passed": "✓", "unanswered": "…"}.get(c.status, "✗")
            plain, rich = c.summary.lines[0]
            lines.append((f"{mark} {plain}", f"{mark} {rich}"))
        if self.passed:
            tail = "همه قبول شد. دفترچه را ذخیره کنید (Ctrl+S) و همین فایل را تحویل دهید."
        else:
            tail = ("جزئیات هر پرسش را خانهٔ بررسی زیر همان پرسش می‌گوید. دفترچه را با همین وضع هم می‌توان تحویل داد، "
                    "ولی آزمون‌های ردشده نمره نمی‌گیرند.")
        lines.append((tail, html.escape(tail)))
        return lines

    def __repr__(self) -> str:
        return "\n".join(plain for plain, _ in self._lines())

    def _repr_html_(self) -> str:
        return _box(self._lines(), "passed" if self.passed else "failed")


class LabGrader:
    """``grader`` in a lab notebook: ``check(q)`` and ``check_all()`` around otter's ``Notebook``."""

    def __init__(self, lab: str, notebook, path: Path | None):
        self.lab, self.notebook, self.path = lab, notebook, path

    def __repr__(self) -> str:
        where = self.path.name if self.path else "—"
        return f"<بررسی‌گر {self.lab}: آزمون‌ها از {where}>"

    @property
    def questions(self) -> list[str]:
        if self.notebook is None:
            return []
        try:
            from otter.check.utils import list_available_tests
            return sorted(list_available_tests(self.notebook._tests_dir, self.notebook._nbmeta_config), key=_qkey)
        except Exception:  # noqa: BLE001 - a grader must never break the notebook
            return []

    def _show_missing(self) -> None:
        try:
            from IPython.display import display
            display(self._missing_result(None))
        except ImportError:
            print(repr(self._missing_result(None)))

    def _missing_result(self, question) -> CheckResult:
        plain = (f"آزمون‌های {self.lab} پیدا نشد: این دفترچه باید همان نسخهٔ دانشجوی {self.lab} باشد "
                 "(فایلی که مدرس داده یا labs/student/ در مخزن). نام فایل مهم نیست، ولی آن را کنار خودش نگه دارید.")
        return CheckResult(question or "", None, Summary("missing", [(plain, html.escape(plain))]))

    def check(self, question: str, global_env: dict | None = None) -> CheckResult:
        """Run the public tests of ``question`` on the caller's variables; show the result in Persian."""
        env = sys._getframe(1).f_globals if global_env is None else global_env
        if self.notebook is None:
            return self._missing_result(question)
        known = self.questions
        if known and question not in known:
            plain = f"پرسشی با نام {question} در {self.lab} نیست؛ پرسش‌ها: {'، '.join(known)}."
            return CheckResult(question, None, Summary("missing", [(plain, html.escape(plain))]))
        result = self.notebook.check(question, env)
        if result is None:  # otter returns nothing in some modes
            return CheckResult(question, None, Summary("passed", []))
        return CheckResult(question, result, summarize(question, result, env))

    def check_all(self, global_env: dict | None = None):
        """Every question's public tests once (before submission); a no-op while otter grades."""
        env = sys._getframe(1).f_globals if global_env is None else global_env
        if self.notebook is None:
            return self._missing_result(None)
        import otter

        if getattr(otter.Notebook, "_grading_mode", False):
            return None
        return CheckAllResult([self.check(q, env) for q in self.questions], self.lab, self.path)
