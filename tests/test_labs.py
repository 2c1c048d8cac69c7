"""The labs as homework (tools/homework.py on otter-grader).

Fast (default): the source notebooks are well-formed Otter Assign notebooks. Slow: generating
writes a student notebook and an autograder bundle per lab; the student notebooks (the
generated ones and the book's copies in labs/student/) hold no solution line and no hidden
test; the book's copies are up to date.

Slow (``-m slow``): each student notebook runs top to bottom up to its first exercise without
error and its first check cell reports a failure; grading a folder of submissions gives the
reference solutions 100 %, makes every deliberately wrong submission in
tests/fixtures/labs/mutations.json lose points on the right question, and survives a
submission that raises, loops (in a cell or inside a tested function), deletes a variable the
tests need, or kills its sandboxed process. Cheating submissions are in test_grading_attacks.py;
the sandbox in test_grading_sandbox.py; the grader's logic in test_grading_logic.py.

The source notebooks themselves (solutions, public and hidden tests as plain asserts) are
run by nbval through the project's pytest configuration (testpaths include labs/).
"""
from __future__ import annotations

import ast
import csv
import json
import os
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import homework  # noqa: E402

SOURCES = sorted((ROOT / "labs" / "source").glob("lab*.ipynb"))
LABS = [p.stem for p in SOURCES]
MUTATIONS = json.loads((ROOT / "tests" / "fixtures" / "labs" / "mutations.json").read_text(encoding="utf-8"))
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN TESTS", "END TESTS", "BEGIN QUESTION",
           "ASSIGNMENT CONFIG", "BEGIN TEST CONFIG", "hidden: true")


# --------------------------------------------------------------------------- source notebooks
def _blocks(nb):
    """Yield (kind, question, cell) for the cells of an Otter Assign source notebook."""
    question, kind = None, None
    for cell in nb.cells:
        src = cell.source.strip()
        if cell.cell_type == "raw":
            if src.startswith("# BEGIN QUESTION"):
                question = re.search(r"name:\s*(\S+)", src).group(1)
            elif src.startswith("# BEGIN SOLUTION"):
                kind = "solution"
            elif src.startswith("# BEGIN TESTS"):
                kind = "tests"
            elif src.startswith(("# END SOLUTION", "# END TESTS")):
                kind = None
            continue
        yield kind, question, cell


def _solution_lines(nb):
    """Non-trivial lines between the # BEGIN SOLUTION / # END SOLUTION markers of solution cells."""
    lines = []
    for kind, _, cell in _blocks(nb):
        if kind != "solution":
            continue
        inside = False
        for line in cell.source.splitlines():
            if "# BEGIN SOLUTION" in line:
                inside = True
            elif "# END SOLUTION" in line:
                inside = False
            elif inside and len(line.strip()) > 12:
                lines.append(line.strip())
            elif line.rstrip().endswith("# SOLUTION"):
                lines.append(line.strip())
    return lines


def _hidden_lines(nb):
    """Lines that occur ONLY in hidden tests (boilerplate shared with a public test or a visible
    cell, such as an import, is not a secret)."""
    hidden, visible = set(), set()
    for kind, _, cell in _blocks(nb):
        is_hidden = kind == "tests" and re.search(r"^hidden:\s*true", cell.source, flags=re.M)
        body = cell.source.split('""" # END TEST CONFIG', 1)[-1]
        lines = {line.strip() for line in body.splitlines() if len(line.strip()) > 20}
        (hidden if is_hidden else visible).update(lines)
    return sorted(hidden - visible)


def test_there_are_labs():
    assert {"lab1_batchnorm", "lab3_schedules", "lab4_im2col"} <= set(LABS)


@pytest.mark.parametrize("source", SOURCES, ids=LABS)
def test_source_notebook_is_well_formed(source):
    nb = nbformat.read(source, as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "raw" and first.source.startswith("# ASSIGNMENT CONFIG")
    assert re.search(rf"^name:\s*{source.stem}\s*$", first.source, flags=re.M), "assignment name = file name"
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, "source notebooks are stored without outputs"
    qs = homework.questions(source)
    assert qs, "no questions"
    for q in qs:
        assert q["public"] >= 1 and q["hidden"] >= 1, f"{q['name']}: needs public and hidden tests"
    for kind, q, cell in _blocks(nb):
        if kind != "tests":
            continue
        body = cell.source.split('""" # END TEST CONFIG', 1)[-1]
        for node in ast.walk(ast.parse(body)):
            # OK-format tests compare printed output: a bare expression would print and fail
            assert not isinstance(node, ast.Expr), f"{q}: bare expression in a test: {ast.unparse(node)}"
    # markdown is right-to-left through JupyterLab/myst (no <div dir="rtl"> wrappers since f9679be,
    # so that myst renders the math); the Persian lint covers its typography


def test_mutations_cover_every_lab():
    for lab in LABS:
        muts = MUTATIONS.get(lab, [])
        assert len(muts) >= 3, f"{lab}: at least three deliberately wrong submissions"


# --------------------------------------------------------------------------- generated files
@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """Run ``generate`` for every lab into a temporary dist/ and pages folder."""
    tmp = tmp_path_factory.mktemp("hw")
    homework.generate(dist=tmp / "dist", pages=True, pages_dir=tmp / "pages")
    return tmp


def _scan_student(path: Path, source: Path):
    text = path.read_text(encoding="utf-8")
    nb = nbformat.read(path, as_version=4)
    src_nb = nbformat.read(source, as_version=4)
    for marker in MARKERS:
        assert marker not in text, f"{path.name}: contains {marker!r}"
    for line in _solution_lines(src_nb):
        assert line not in text, f"{path.name}: solution line leaked: {line!r}"
    for line in _hidden_lines(src_nb):
        assert line not in text, f"{path.name}: hidden test line leaked: {line!r}"
    tests = nb.metadata["otter"]["tests"]
    for name, spec in tests.items():
        for case in spec["suites"][0]["cases"]:
            assert case["hidden"] is False, f"{name}: a hidden case is in the student notebook"
    checks = [c.source for c in nb.cells if c.cell_type == "code" and "grader.check(" in c.source]
    assert [f'grader.check("{q["name"]}")' for q in homework.questions(source)] == checks
    return nb


@pytest.mark.slow  # runs otter assign for every lab (about a minute)
@pytest.mark.parametrize("source", SOURCES, ids=LABS)
def test_generated_student_notebook_has_no_solution_or_hidden_test(generated, source):
    lab = source.stem
    _scan_student(generated / "dist" / lab / "student" / f"{lab}.ipynb", source)
    _scan_student(generated / "dist" / "handout" / f"{lab}.ipynb", source)
    assert (generated / "dist" / lab / f"{lab}-autograder.zip").exists()
    points = homework.autograder_points(generated / "dist" / lab / f"{lab}-autograder.zip")
    assert points == {q["name"]: q["points"] for q in homework.questions(source)}


@pytest.mark.slow  # runs otter assign for every lab (about a minute)
@pytest.mark.parametrize("source", SOURCES, ids=LABS)
def test_book_copy_is_clean_and_up_to_date(generated, source):
    lab = source.stem
    committed = ROOT / "labs" / "student" / f"{lab}.ipynb"
    assert committed.exists(), f"run: .venv/bin/python tools/homework.py generate {lab}"
    nb = _scan_student(committed, source)
    assert nb.metadata["mystnb"]["execution_mode"] == "off", "the book must not execute the student copy"
    fresh = nbformat.read(generated / "pages" / f"{lab}.ipynb", as_version=4)
    assert [(c.cell_type, c.source) for c in nb.cells] == [(c.cell_type, c.source) for c in fresh.cells], \
        f"labs/student/{lab}.ipynb is stale: run .venv/bin/python tools/homework.py generate {lab}"


# --------------------------------------------------------------------------- student notebooks run
@pytest.mark.slow
@pytest.mark.parametrize("lab", LABS)
def test_student_notebook_runs_until_first_exercise(lab, tmp_path):
    from nbclient import NotebookClient

    page = ROOT / "labs" / "student" / f"{lab}.ipynb"
    work = tmp_path / page.name
    work.write_bytes(page.read_bytes())
    nb = nbformat.read(work, as_version=4)
    NotebookClient(nb, timeout=120, allow_errors=True, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    first_check = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "grader.check(" in c.source)
    for cell in nb.cells[:first_check + 1]:
        if cell.cell_type == "code":
            errors = [o for o in cell.outputs if o.output_type == "error"]
            assert not errors, f"cell crashed before the first exercise was answered:\n{cell.source}\n{errors}"
    shown = json.dumps([o.get("data", {}) for o in nb.cells[first_check].outputs], ensure_ascii=False)
    assert "q1" in shown and ("failed" in shown.lower() or "❌" in shown), \
        f"the first check cell should report a failed test, got: {shown[:500]}"


# --------------------------------------------------------------------------- grading
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


@pytest.fixture(scope="module")
def graded(generated, tmp_path_factory):
    """Grade every reference, every mutation and the robustness cases in ONE run of ``grade``."""
    import sandbox

    why = sandbox.self_test()
    if why is not None:
        if os.environ.get("DLFA_ALLOW_NO_SANDBOX") == "1":  # a developer machine that refuses namespaces
            pytest.skip(f"no grading sandbox on this machine: {why}")
        pytest.fail(f"no grading sandbox on this machine: {why} (set DLFA_ALLOW_NO_SANDBOX=1 to skip)")
    dist = generated / "dist"
    subs = tmp_path_factory.mktemp("submissions")
    for lab in LABS:
        solved = dist / lab / "autograder" / f"{lab}.ipynb"
        _mutate(solved, subs / "reference" / f"{lab}.ipynb", [])
        for m in MUTATIONS[lab]:
            _mutate(solved, subs / m["name"] / f"{lab}.ipynb", m["replace"])
    for name, (replace, _) in ROBUST.items():
        _mutate(dist / ROBUST_LAB / "autograder" / f"{ROBUST_LAB}.ipynb", subs / name / f"{ROBUST_LAB}.ipynb", replace)
    out = tmp_path_factory.mktemp("grades")
    rows = homework.grade([subs], out, dist=dist, jobs=2, timeout=400, cell_timeout=20, test_timeout=30)
    return {(r["student"], r["lab"]): r for r in rows}, out


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
        assert s == p, f"{mutation} should keep full marks on {q}"


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
    assert len(table) == len(rows)
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
