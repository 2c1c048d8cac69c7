"""Grading a folder of submissions with tools/homework.py (otter-grader's format, our sandbox).

One run of ``grade -j 3`` over every lab's reference solution (must score 100 %) and every
deliberately wrong submission in tests/fixtures/labs/mutations.json (must lose points on the right
question and keep them on the others); a second run, with short time limits, over submissions that
raise, loop (in a cell or inside a tested function), delete a variable the tests need, or kill their
sandboxed process (graded without stopping the run). The labs are generated once per test run (the
``generated_labs`` fixture, tests/conftest.py).
"""
from __future__ import annotations

import csv
import sys
from pathlib import Path

import nbformat
import pytest

from test_labs import LABS, MUTATIONS, ROOT, _hidden_lines

sys.path.insert(0, str(ROOT / "tools"))
import homework  # noqa: E402


def _mutate(src: Path, dst: Path, replace):
    nb = nbformat.read(src, as_version=4)
    for old, new in replace:
        hits = sum(c.source.count(old) for c in nb.cells)
        assert hits >= 1, f"fixture out of date: {old!r} not in {src.name}"
        for c in nb.cells:
            c.source = c.source.replace(old, new)
    dst.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dst)


ROBUST_LAB = "lab3_schedules"
ROBUST = {
    # name: (replacements, what must hold)
    "raises": ([["def exponential(step, lr0, gamma):", 'raise RuntimeError("boom")\ndef exponential(step, lr0, gamma):']],
               {"loses": ["q2"], "keeps": ["q1", "q3", "q4", "q5", "q6"]}),
    "loops_in_tested_function": ([["    return lr0 * gamma ** (step // step_size)", "    while True:\n        pass"]],
                                 {"loses": ["q1"], "keeps": ["q2", "q3", "q4", "q5", "q6"]}),
    "loops_in_a_cell": ([['print("device:", device)', 'print("device:", device)\nwhile True:\n    pass']],
                        {"loses": [], "keeps": ["q1", "q2", "q3", "q4", "q5", "q6"]}),
    "deletes_a_variable": ([["    return lr0 / (1.0 + k * (step // steps_per_epoch))\n",
                             "    return lr0 / (1.0 + k * (step // steps_per_epoch))\ndel inverse_time\n"]],
                           {"loses": ["q3"], "keeps": ["q1", "q2", "q4", "q5", "q6"]}),
    "kills_its_kernel": ([['print("device:", device)', 'print("device:", device)\nimport os\nos._exit(3)']],
                         {"status": "error"}),
}


# The robustness cases loop until a limit stops them, so they are graded with short limits: a lab 3
# cell or test case takes at most 1.5 s (tools/grading/tester.py runs it in a warm sandbox), and a
# 30 s limit would only burn 30 s of CPU per loop. The references and mutations keep 30 s per case
# (a lab 6 case ran past 15 s under a three-worker load).
ROBUST_CELL_TIMEOUT = ROBUST_TEST_TIMEOUT = 8


@pytest.fixture(scope="module")
def graded(grading_sandbox, generated_labs, tmp_path_factory):
    """Grade every reference and every mutation in one run of ``grade``, the robustness cases in another."""
    dist = generated_labs / "dist"
    subs = tmp_path_factory.mktemp("submissions")
    for lab in LABS:
        solved = dist / lab / "autograder" / f"{lab}.ipynb"
        _mutate(solved, subs / "reference" / f"{lab}.ipynb", [])
        for m in MUTATIONS[lab]:
            _mutate(solved, subs / m["name"] / f"{lab}.ipynb", m["replace"])
    robust = tmp_path_factory.mktemp("robust-submissions")
    for name, (replace, _) in ROBUST.items():
        _mutate(dist / ROBUST_LAB / "autograder" / f"{ROBUST_LAB}.ipynb", robust / name / f"{ROBUST_LAB}.ipynb", replace)
    out = tmp_path_factory.mktemp("grades")
    rows = homework.grade([subs], out, dist=dist, jobs=3, timeout=400, cell_timeout=20, test_timeout=30)
    robust_rows = homework.grade([robust], tmp_path_factory.mktemp("robust-grades"), dist=dist, jobs=3, timeout=200,
                                 cell_timeout=ROBUST_CELL_TIMEOUT, test_timeout=ROBUST_TEST_TIMEOUT)
    graded_rows = {(r["student"], r["lab"]): r for r in rows + robust_rows}
    assert len(graded_rows) == len(rows) + len(robust_rows)
    return graded_rows, out


def _score(row, q=None):
    qs = row["questions"] if q is None else {q: row["questions"][q]}
    return sum(v["score"] for v in qs.values()), sum(v["possible"] for v in qs.values())


@pytest.mark.slow
@pytest.mark.parametrize("lab", LABS)
def test_reference_solution_scores_100_percent(graded, lab):
    rows, _ = graded
    row = rows[("reference", lab)]
    assert row["status"] == "ok", row["error"]
    score, possible = _score(row)
    assert possible > 0 and score == possible, row["questions"]


@pytest.mark.slow
@pytest.mark.parametrize("lab,mutation", [(lab, m["name"]) for lab in LABS for m in MUTATIONS[lab]])
def test_wrong_submission_loses_points_on_the_right_question(graded, lab, mutation):
    rows, _ = graded
    m = next(m for m in MUTATIONS[lab] if m["name"] == mutation)
    row = rows[(mutation, lab)]
    assert row["status"] == "ok", row["error"]
    score, possible = _score(row)
    assert score < possible
    for q in m["loses"]:
        s, p = _score(row, q)
        assert s < p, f"{mutation} ({m['why']}) should lose points on {q}: {row['questions'][q]}"
    for q in m["keeps"]:
        s, p = _score(row, q)
        assert s == p, f"{mutation} should keep full marks on {q}: {row['questions'][q]}"


@pytest.mark.slow
@pytest.mark.parametrize("name", list(ROBUST))
def test_bad_submission_is_graded_without_stopping_the_run(graded, name):
    rows, _ = graded
    row = rows[(name, ROBUST_LAB)]
    expect = ROBUST[name][1]
    if "status" in expect:
        assert row["status"] == expect["status"]
        assert _score(row)[0] == 0 and _score(row)[1] > 0
        return
    assert row["status"] == "ok", row["error"]
    for q in expect["loses"]:
        s, p = _score(row, q)
        assert s < p, f"{name}: {q} should lose points"
    for q in expect["keeps"]:
        s, p = _score(row, q)
        assert s == p, f"{name}: {q} should keep full marks: {row['questions'][q]}"


@pytest.mark.slow
def test_score_table_and_feedback(graded):
    rows, out = graded
    with open(out / "scores.csv", encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    assert len(table) == len(rows) - len(ROBUST)  # the first run's table: every row but the robustness cases
    ref = [r for r in table if r["student"] == "reference"]
    assert len(ref) == len(LABS) and all(float(r["percent"]) == 100.0 for r in ref)
    for lab in LABS:
        with open(out / f"scores_{lab}.csv", encoding="utf-8") as f:
            header = next(csv.reader(f))
        assert header[1:-4] == [q["name"] for q in homework.questions(ROOT / "labs" / "source" / f"{lab}.ipynb")]
        assert header[-4:] == ["score", "possible", "status", "review"]
    fb = (out / "feedback" / "biased_unbiased_swapped__lab1_batchnorm.md").read_text(encoding="utf-8")
    assert fb.startswith('<div dir="rtl">') and "آزمون پنهان" in fb and "رد" in fb
    src_nb = nbformat.read(ROOT / "labs" / "source" / "lab1_batchnorm.ipynb", as_version=4)
    hidden = _hidden_lines(src_nb)
    assert hidden
    for line in hidden:
        assert line not in fb, "feedback must not reveal hidden test code"
