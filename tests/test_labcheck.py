"""helpers.labcheck: the Persian report of a lab check and the search for the lab's tests.

Fast: otter is not imported. A check's raw result is built exactly as otter's ``run_doctest``
builds it (the standard library's verbose doctest report of one test case), and the student's
functions are compiled under an ipykernel-like cell file name registered in ``linecache``, as
IPython does, so that ``inspect.getsource`` and the traceback see a notebook cell.
"""
import doctest
import io
import json
import linecache
from contextlib import redirect_stderr, redirect_stdout
from types import SimpleNamespace

import pytest

from helpers import labcheck

CELL = "/tmp/ipykernel_4242/{n}.py"


def student_cell(env: dict, source: str, n: int) -> None:
    """Run ``source`` as notebook cell ``n`` into ``env`` (tracebacks and getsource see the cell)."""
    name = CELL.format(n=n)
    env.setdefault("__name__", "__main__")  # a notebook's namespace
    linecache.cache[name] = (len(source), None, source.splitlines(True), name)
    exec(compile(source, name, "exec"), env)


def run_case(body: str, env: dict, failure_message: str = "راهنما", hidden: bool = False):
    """One otter test case run the way otter.test_files.ok_test.run_doctest runs it."""
    test = doctest.DocTest([e for e in doctest.DocTestParser().parse(body, "q1 0") if isinstance(e, doctest.Example)],
                           env, "q1 0", None, None, body)
    runner = doctest.DocTestRunner(verbose=True)
    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(out):
        runner.run(test, clear_globs=False)
    passed = runner.failures == 0
    message = "✅ Test case passed" if passed else "❌ Test case failed\n" + out.getvalue()
    case = SimpleNamespace(body=body, failure_message=failure_message, hidden=hidden, name="q1 - 1")
    return SimpleNamespace(test_case=case, message=message, passed=passed)


def result_of(*cases):
    return SimpleNamespace(test_case_results=list(cases))


TEST = """\
>>> from helpers.norm import batchnorm_forward as _ref
>>> _out = double(3)
>>> assert _out == 6, 'خروجی double(3) باید ۶ باشد'
"""


def report(env, body=TEST, **kw):
    res = result_of(run_case(body, env, **kw))
    summary = labcheck.summarize("q1", res, env)
    plain = "\n".join(p for p, _ in summary.lines)
    html = labcheck._box(summary.lines, summary.status)
    return summary.status, plain, html


def never_leaks(plain, html):
    for text in (plain, html):
        assert "helpers.norm" not in text and "batchnorm_forward" not in text, "the reference module is named"
        assert "Trying:" not in text and "Expecting" not in text and "Traceback" not in text, "doctest dump shown"
        assert "_ref" not in text


def test_passed_is_one_persian_line():
    env = {}
    student_cell(env, "def double(x):\n    return 2 * x\n", 1)
    status, plain, html = report(env)
    assert status == "passed"
    assert plain.count("\n") == 0 and "پرسش ۱ (q1)" in plain and "قبول شد" in plain
    assert 'dir="rtl"' in html and "dlfa-check-passed" in html and "dlfa-check-failed" not in html


def test_unanswered_question_says_so():
    env = {}
    student_cell(env, "def double(x):\n    # پاسخ شما\n    ...\n    return out\n", 2)
    status, plain, html = report(env)
    assert status == "unanswered"
    assert "هنوز پاسخ داده نشده است" in plain and "double" in plain
    assert "راهنما" not in plain, "a fixed hint is no answer to an empty cell"
    assert "dlfa-check-failed" in html
    never_leaks(plain, html)


def test_placeholder_value_and_class_method_count_as_unanswered():
    env = {}
    student_cell(env, "LAYOUT = ...\nclass Block:\n    def __init__(self):\n        ...\n", 3)
    body = ">>> assert LAYOUT == [3, 4, 6, 3]\n>>> _b = Block()\n"
    status, plain, _ = report(env, body)
    assert status == "unanswered" and "LAYOUT" in plain and "Block" in plain


def test_undefined_answer_asks_to_run_the_cell():
    status, plain, html = report({})
    assert status == "undefined"
    assert "double" in plain and "تعریف نشده است" in plain and "اجرا کنید" in plain
    never_leaks(plain, html)


def test_failed_assertion_shows_its_persian_message_and_the_hint():
    env = {}
    student_cell(env, "def double(x):\n    return x + 4\n", 4)
    status, plain, html = report(env, failure_message="ضرب در دو را بررسی کنید.")
    assert status == "failed"
    assert "آزمون ۱ از ۱ رد شد: خروجی double(3) باید ۶ باشد" in plain
    assert "راهنما: ضرب در دو را بررسی کنید." in plain
    assert len(plain.splitlines()) <= 4
    never_leaks(plain, html)


def test_exception_shows_its_type_and_the_students_line():
    env = {}
    student_cell(env, "def double(x):\n    y = x * 2\n    return y.shape\n", 5)
    status, plain, html = report(env)
    assert status == "failed"
    assert "AttributeError" in plain
    assert "در تابع double، سطر ۳ خانهٔ پاسخ: return y.shape" in plain
    assert "'int' object has no attribute 'shape'" in plain
    assert "<code" in html and "return y.shape" in html
    never_leaks(plain, html)


def test_exception_inside_reference_code_never_names_it():
    env = {}
    student_cell(env, "def double(x):\n    return [x, x]\n", 6)
    body = ">>> import json as _ref\n>>> _ = _ref.loads(double(3))\n"
    status, plain, html = report(env, body)
    assert status == "failed" and "TypeError" in plain
    assert "json" not in plain.split("پیام خطا")[0], "only the type, the student's line and the message"


def test_several_failed_cases_report_the_first_and_count_the_rest():
    env = {}
    student_cell(env, "def double(x):\n    return x\n", 7)
    cases = [run_case(TEST, env), run_case(">>> assert double(0) == 0\n", env), run_case(TEST, env), run_case(TEST, env)]
    summary = labcheck.summarize("q1", result_of(*cases), env)
    plain = "\n".join(p for p, _ in summary.lines)
    assert "۳ آزمون از ۴ آزمون عمومی رد شد" in plain
    assert "آزمون ۱ از ۴ رد شد" in plain and "آزمون‌های ۳ و ۴ هم رد شدند" in plain


def test_redact_hides_reference_modules():
    assert "helpers" not in labcheck._redact("No module named helpers.norm.batchnorm_forward")


# --------------------------------------------------------------------------- finding the tests
def fake_lab(path, lab="lab9_demo", tests=True):
    meta = {"otter": {"assignment_name": lab, **({"tests": {"q1": {}}} if tests else {})}}
    path.write_text(json.dumps({"cells": [], "metadata": meta, "nbformat": 4, "nbformat_minor": 5}), encoding="utf-8")
    return path


def test_renamed_or_moved_notebook_is_found(tmp_path):
    nb = fake_lab(tmp_path / "lab9_demo (1).ipynb")
    fake_lab(tmp_path / "other.ipynb", lab="lab8_other")
    assert labcheck.find_lab_notebook("lab9_demo", cwd=tmp_path) == nb


def test_the_kernels_own_notebook_wins_over_a_newer_copy(tmp_path):
    mine = fake_lab(tmp_path / "mine.ipynb")
    newer = fake_lab(tmp_path / "lab9_demo.ipynb")
    assert labcheck.find_lab_notebook("lab9_demo", cwd=tmp_path) in (mine, newer)
    assert labcheck.find_lab_notebook("lab9_demo", cwd=tmp_path, hints=(str(mine),)) == mine


def test_notebook_without_tests_is_not_taken_and_unknown_lab_gives_none(tmp_path):
    fake_lab(tmp_path / "lab9_demo.ipynb", tests=False)
    (tmp_path / "broken.ipynb").write_text("{not json", encoding="utf-8")
    assert labcheck.find_lab_notebook("lab9_demo", cwd=tmp_path) is None


def test_repository_copy_is_the_last_resort(tmp_path):
    found = labcheck.find_lab_notebook("lab1_batchnorm", cwd=tmp_path)
    assert found == labcheck.REPO_STUDENT_DIR / "lab1_batchnorm.ipynb"


def test_grader_without_tests_explains_itself_in_persian():
    grader = labcheck.LabGrader("lab9_demo", None, None)
    res = grader.check("q1")
    assert res.status == "missing" and "پیدا نشد" in repr(res)
    assert grader.check_all().status == "missing"


@pytest.mark.parametrize("name, label", [("q1", "پرسش ۱ (q1)"), ("q12", "پرسش ۱۲ (q12)"), ("extra", "پرسش extra")])
def test_question_labels(name, label):
    assert labcheck._qlabel(name) == label


def test_a_hint_naming_the_reference_is_redacted():
    env = {}
    student_cell(env, "def double(x):\n    return x + 4\n", 8)
    status, plain, html = report(env, failure_message="با helpers.norm.batchnorm_forward نمی‌خواند")
    assert status == "failed" and "راهنما" in plain
    never_leaks(plain, html)
