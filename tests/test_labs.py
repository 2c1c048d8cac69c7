"""The labs as homework (tools/homework.py on otter-grader).

Fast (default): the source notebooks are well-formed Otter Assign notebooks. Slow: generating
writes a student notebook and an autograder bundle per lab; the student notebooks (the
generated ones and the book's copies in labs/student/) hold no solution line and no hidden
test; the book's copies are up to date.

Each student notebook running from the top up to its first exercise without error, its first
check reporting q1 unanswered, is the first step of tests/test_lab_student_flow.py (in
JupyterLab, on a fresh kernel). Grading a folder of submissions is in
test_lab_grading.py; cheating submissions in test_grading_attacks.py; the sandbox in
test_grading_sandbox.py; the grader's logic in test_grading_logic.py.

The source notebooks themselves (solutions, public and hidden tests as plain asserts) are
run by nbval through the project's pytest configuration (testpaths include labs/).
"""
from __future__ import annotations

import ast
import json
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
def generated(generated_labs):
    """Every lab generated once per test run into a temporary dist/ and pages folder (tests/conftest.py)."""
    return generated_labs


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


@pytest.mark.slow  # otter assign for every lab (about 10 s: generated_labs, once per test run)
@pytest.mark.parametrize("source", SOURCES, ids=LABS)
def test_generated_student_notebook_has_no_solution_or_hidden_test(generated, source):
    lab = source.stem
    _scan_student(generated / "dist" / lab / "student" / f"{lab}.ipynb", source)
    _scan_student(generated / "dist" / "handout" / f"{lab}.ipynb", source)
    assert (generated / "dist" / lab / f"{lab}-autograder.zip").exists()
    points = homework.autograder_points(generated / "dist" / lab / f"{lab}-autograder.zip")
    assert points == {q["name"]: q["points"] for q in homework.questions(source)}


@pytest.mark.slow  # otter assign for every lab (about 10 s: generated_labs, once per test run)
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


@pytest.mark.slow  # imports otter (about 5 s)
def test_otter_assign_failure_names_the_notebook(tmp_path):
    """tools/otter_assign.py (generate's one otter process): a notebook otter rejects stops the run,
    named, with exit status 1; the notebooks before it are assigned."""
    import subprocess

    good = SOURCES[0]
    bad = tmp_path / "broken_lab.ipynb"
    nb = nbformat.read(good, as_version=4)
    nb.cells[0].source = nb.cells[0].source.replace("init_cell: false", "init_cell: false\nno_such_key: 1")
    nbformat.write(nb, bad)
    tool = [sys.executable, str(ROOT / "tools" / "otter_assign.py")]
    res = subprocess.run(tool + [str(good), str(tmp_path / "good"), str(bad), str(tmp_path / "bad")],
                         capture_output=True, text=True, cwd=good.parent)
    assert res.returncode == 1, res
    assert f"otter assign failed for {bad}" in res.stderr and "no_such_key" in res.stderr, res.stderr
    assert (tmp_path / "good" / "student" / f"{good.stem}.ipynb").exists()
    res = subprocess.run(tool + [str(good)], capture_output=True, text=True)
    assert res.returncode == 2 and "usage" in res.stderr
