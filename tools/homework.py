#!/usr/bin/env python3
"""The labs as homework: generate student notebooks and autograders, grade submissions locally.

Built on otter-grader 7 (pinned in requirements.txt). Each lab's source notebook,
``labs/source/labN_<name>.ipynb``, is written in Otter Assign's format: it holds the
reference solutions (``# BEGIN SOLUTION`` / ``# END SOLUTION``), the public tests and the
hidden tests (``hidden: true``). This script drives Otter and adds what a course without
Gradescope or Docker needs.

Commands (run from the repository root with the project's virtual environment)::

    .venv/bin/python tools/homework.py generate            # every lab -> dist/ and labs/student/
    .venv/bin/python tools/homework.py generate lab3_schedules
    .venv/bin/python tools/homework.py grade SUBMISSIONS/ --out grades/
    .venv/bin/python tools/homework.py list                # the labs and their questions/points

``generate`` runs ``otter assign`` on every source notebook and writes, per lab::

    dist/<lab>/student/<lab>.ipynb         the notebook to hand out (no solutions, no hidden tests)
    dist/<lab>/autograder/<lab>.ipynb      the solved notebook with all tests (instructors only)
    dist/<lab>/<lab>-autograder.zip        the autograder bundle ``grade`` uses
    dist/handout/<lab>.ipynb               all student notebooks in one folder

and refreshes the book's copies ``labs/student/<lab>.ipynb`` (the same student notebook,
marked not to be executed by the book build). ``dist/`` is not committed.

``grade`` grades every ``.ipynb`` under the given paths with Otter's non-containerised
runner (``otter run``, one fresh kernel per submission, no Docker), each in its own process
group with three time limits: a cell of the submission (``--cell-timeout``; the kernel is
interrupted and execution goes on), one test case (``--test-timeout``; the case fails) and the
whole submission (``--timeout``; the submission gets 0 and the run goes on). A submission
that raises, loops or deletes a variable the tests need costs only the questions it breaks.
It writes ``<out>/scores.csv`` (one row per submission), ``<out>/scores_<lab>.csv`` (one
column per question) and ``<out>/feedback/<student>__<lab>.md`` (Persian feedback: points per
question, the messages of failed public tests, hidden tests reported only as passed/failed).

A submission's lab is read from the notebook's metadata (``otter.assignment_name``, written
by ``generate``), else from its file name; the student is the file's path relative to the
submissions folder without the lab name (``ali/lab1_batchnorm.ipynb`` and
``ali_lab1_batchnorm.ipynb`` both give ``ali``).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIR = ROOT / "labs" / "source"
PAGES_DIR = ROOT / "labs" / "student"
DIST_DIR = ROOT / "dist"

CELL_TIMEOUT = 120     # s, one cell of a submission
TEST_TIMEOUT = 30      # s, one test case
SUBMISSION_TIMEOUT = 600  # s, a whole submission

FA_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


# --------------------------------------------------------------------------- labs
def lab_sources(names=None) -> list[Path]:
    """The source notebooks, ``labs/source/lab*.ipynb``, optionally only those named."""
    paths = sorted(SOURCE_DIR.glob("lab*.ipynb"))
    if names:
        wanted = {n.removesuffix(".ipynb") for n in names}
        unknown = wanted - {p.stem for p in paths}
        if unknown:
            raise SystemExit(f"unknown lab(s): {', '.join(sorted(unknown))}; known: {', '.join(p.stem for p in paths)}")
        paths = [p for p in paths if p.stem in wanted]
    return paths


def questions(source: Path) -> list[dict]:
    """The questions of a source notebook: name, points, number of public and hidden tests."""
    import nbformat
    import yaml

    nb = nbformat.read(source, as_version=4)
    out, current, in_tests = [], None, False
    for cell in nb.cells:
        src = cell.source.strip()
        if cell.cell_type == "raw" and src.startswith("# BEGIN QUESTION"):
            cfg = yaml.safe_load(src.split("\n", 1)[1]) or {}
            current = {"name": cfg["name"], "points": cfg.get("points"), "public": 0, "hidden": 0}
            out.append(current)
        elif cell.cell_type == "raw" and src.startswith("# BEGIN TESTS"):
            in_tests = True
        elif cell.cell_type == "raw" and src.startswith("# END TESTS"):
            in_tests = False
        elif in_tests and cell.cell_type == "code" and current is not None:
            hidden = bool(re.search(r"^hidden:\s*true", src, flags=re.M | re.I))
            current["hidden" if hidden else "public"] += 1
    return out


# --------------------------------------------------------------------------- generate
def _otter(*args: str, **kw) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "otter"
    cmd = [str(exe) if exe.exists() else "otter", *args]
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def book_page(student_nb, lab: str):
    """The student notebook as a book page: stable cell ids, not executed by the book build."""
    import copy

    nb = copy.deepcopy(student_nb)
    nb.metadata.setdefault("mystnb", {})["execution_mode"] = "off"
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{lab.replace('_', '-')}-{i}"
        if cell.cell_type == "code":
            cell["outputs"], cell["execution_count"] = [], None
    return nb


def generate(names=None, dist: Path = DIST_DIR, pages: bool = True, run_tests: bool = False,
             pages_dir: Path = PAGES_DIR) -> list[dict]:
    """Run ``otter assign`` for each lab; see the module docstring for what is written where."""
    import nbformat

    done = []
    for src in lab_sources(names):
        lab = src.stem
        t0 = time.perf_counter()
        out = dist / lab
        shutil.rmtree(out, ignore_errors=True)
        args = ["assign", "--no-pdfs"] + ([] if run_tests else ["--no-run-tests"]) + [str(src), str(out)]
        res = _otter(*args, cwd=src.parent)
        if res.returncode != 0:
            raise SystemExit(f"otter assign failed for {lab}:\n{res.stdout}\n{res.stderr}")
        zips = sorted((out / "autograder").glob(f"{lab}-autograder_*.zip"))
        if not zips:
            raise SystemExit(f"otter assign wrote no autograder zip for {lab} in {out / 'autograder'}")
        shutil.copy(zips[-1], out / f"{lab}-autograder.zip")
        handout = dist / "handout"
        handout.mkdir(parents=True, exist_ok=True)
        shutil.copy(out / "student" / f"{lab}.ipynb", handout / f"{lab}.ipynb")
        if pages:
            pages_dir.mkdir(parents=True, exist_ok=True)
            nb = nbformat.read(out / "student" / f"{lab}.ipynb", as_version=4)
            nbformat.write(book_page(nb, lab), pages_dir / f"{lab}.ipynb")
        done.append({"lab": lab, "seconds": round(time.perf_counter() - t0, 1)})
        print(f"{lab}: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out} "
              f"({done[-1]['seconds']} s)", flush=True)
    return done


# --------------------------------------------------------------------------- grading one submission
# Code put at the top of the grading kernel's first cell: every test case runs under an alarm,
# so a test that calls a looping function fails after TEST_TIMEOUT s instead of hanging.
KERNEL_GUARD = r'''
import signal as _hw_signal
import otter.test_files.ok_test as _hw_ok

class _HomeworkTestTimeout(KeyboardInterrupt):
    """Raised by the alarm; a KeyboardInterrupt so that doctest does not swallow it."""

def _hw_limited(_run, _limit):
    def run_doctest(name, doctest_string, global_environment):
        def _alarm(signum, frame):
            raise _HomeworkTestTimeout()
        _old = _hw_signal.signal(_hw_signal.SIGALRM, _alarm)
        _hw_signal.alarm(_limit)
        try:
            return _run(name, doctest_string, global_environment)
        except _HomeworkTestTimeout:
            return False, f"TIMEOUT: test case ran longer than {_limit} s (an endless loop?)"
        finally:
            _hw_signal.alarm(0)
            _hw_signal.signal(_hw_signal.SIGALRM, _old)
    return run_doctest

_hw_ok.run_doctest = _hw_limited(_hw_ok.run_doctest, {test_timeout})
'''


def _grade_one(submission: str, autograder: str, out_json: str, cell_timeout: int, test_timeout: int) -> None:
    """Grade one notebook with ``otter run`` (no container) and write a JSON summary."""
    import otter.execute
    import otter.execute.preprocessor as pre
    from otter.run import main as otter_run
    from traitlets.config import Config

    def cell_limit(cell):
        # Cells that run tests are bounded by the per-test alarm instead (n cases x test_timeout):
        # interrupting them would lose every result of the submission.
        src = cell.get("source", "")
        return None if (".check(" in src or "check_if_not_already_checked" in src) else cell_timeout

    def config():
        c = Config()
        c.ExecutePreprocessor.timeout_func = cell_limit
        c.ExecutePreprocessor.interrupt_on_timeout = True
        return c

    otter.execute.Config = config  # grade_notebook builds its nbclient config from this
    guard = KERNEL_GUARD.replace("{test_timeout}", str(int(test_timeout)))
    pre.INIT_CELL_SOURCE = guard.replace("{", "{{").replace("}", "}}") + pre.INIT_CELL_SOURCE

    with tempfile.TemporaryDirectory() as tmp:
        results = otter_run(submission, autograder=autograder, output_dir=tmp, no_logo=True)
    summary = {"error": None, "questions": {}}
    if results.catastrophic_error is not None:
        summary["error"] = f"{type(results.catastrophic_error).__name__}: {results.catastrophic_error}"
    for name, tf in results.results.items():
        cases = []
        for tcr in tf.test_case_results:
            tc = tcr.test_case
            cases.append({"hidden": bool(tc.hidden), "points": tc.points, "passed": bool(tcr.passed),
                          "message": tcr.message, "failure_message": tc.failure_message})
        summary["questions"][name] = {"score": tf.score, "possible": tf.possible, "cases": cases}
    Path(out_json).write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
    sys.stdout.flush()
    os._exit(0)  # do not wait for threads or kernels left behind; the parent ends the process group


def autograder_points(zip_path: Path) -> dict[str, float]:
    """Question -> points possible, read from the test files inside an autograder zip."""
    points = {}
    with zipfile.ZipFile(zip_path) as z:
        for name in sorted(z.namelist()):
            if name.startswith("tests/") and name.endswith(".py"):
                env: dict = {}
                exec(z.read(name).decode("utf-8"), env)
                from otter.test_files.ok_test import OKTestFile

                tf = OKTestFile.from_spec(env["test"], path=name)
                points[tf.name] = tf.possible
    return points


def grade_submission(submission: Path, autograder: Path, *, timeout: int = SUBMISSION_TIMEOUT,
                     cell_timeout: int = CELL_TIMEOUT, test_timeout: int = TEST_TIMEOUT) -> dict:
    """Grade one submission in its own process group; never raises for a bad submission.

    Returns ``{"status": "ok"|"timeout"|"error", "error": str|None, "seconds": float,
    "questions": {name: {"score", "possible", "cases": [...]}}}``; questions missing from the
    run (a crash, the time limit) are filled in with 0 points.
    """
    t0 = time.perf_counter()
    submission, autograder = Path(submission).resolve(), Path(autograder).resolve()
    for attempt in range(3):  # a kernel that dies while starting (port race, load) is retried
        res = _grade_attempt(submission, autograder, timeout, cell_timeout, test_timeout)
        if not (res[0] == "error" and "before replying to kernel_info" in (res[1] or "")):
            break
    status, error, summary = res
    if summary.get("error") and status == "ok":
        status, error = "error", summary["error"]
    qs = summary["questions"]
    for name, possible in autograder_points(autograder).items():
        if name not in qs:
            qs[name] = {"score": 0, "possible": possible, "cases": []}
        qs[name]["possible"] = possible
    return {"status": status, "error": error, "seconds": round(time.perf_counter() - t0, 1),
            "questions": dict(sorted(qs.items(), key=lambda kv: _qkey(kv[0])))}


def _grade_attempt(submission: Path, autograder: Path, timeout, cell_timeout, test_timeout):
    """One run of ``_grade-one`` in a child process group: (status, error, summary)."""
    with tempfile.TemporaryDirectory() as tmp:
        out_json = Path(tmp) / "result.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), "_grade-one", str(submission),
               "--autograder", str(autograder), "--json", str(out_json),
               "--cell-timeout", str(cell_timeout), "--test-timeout", str(test_timeout)]
        env = {**os.environ, "DLFA_QUIET": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
        proc = subprocess.Popen(cmd, cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)
        status, error = "ok", None
        try:
            log, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the runner and the kernel it started
            log, _ = proc.communicate()
            status, error = "timeout", f"the whole submission ran longer than {timeout} s"
        else:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # a kernel left behind by a crash
            except ProcessLookupError:
                pass
        summary = {"error": None, "questions": {}}
        if out_json.exists():
            summary = json.loads(out_json.read_text(encoding="utf-8"))
            if status == "timeout" and summary["questions"]:
                status, error = "ok", None  # the results were written; only the clean-up hung
        elif status == "ok":
            status, error = "error", "grading produced no result:\n" + (log or "")[-3000:]
    return status, error, summary


def _qkey(name: str):
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


# --------------------------------------------------------------------------- grading a folder
def identify(path: Path, base: Path, labs: list[str]) -> tuple[str, str | None]:
    """(student, lab) of a submitted notebook; lab None when it cannot be told."""
    lab = None
    try:
        meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
        lab = meta.get("otter", {}).get("assignment_name")
    except (OSError, ValueError):
        pass
    rel = path.relative_to(base) if path.is_relative_to(base) else Path(path.name)
    if lab not in labs:
        lab = next((name for name in labs if name in str(rel)), None)
    parts = list(rel.with_suffix("").parts)
    if lab:
        parts = [p.replace(lab, "") for p in parts]
    student = "_".join(p.strip("_-. ") for p in parts if p.strip("_-. ")) or rel.stem
    return student, lab


def _fa(x) -> str:
    s = f"{x:g}" if isinstance(x, float) else str(x)
    return s.translate(FA_DIGITS).replace(".", "٫")


def feedback_markdown(student: str, lab: str, result: dict) -> str:
    """Persian feedback for one submission; hidden tests appear only as passed or failed."""
    total = sum(q["score"] for q in result["questions"].values())
    possible = sum(q["possible"] for q in result["questions"].values())
    lines = ['<div dir="rtl">', "", f"# بازخورد {lab}", "",
             f"- دانشجو: `{student}`",
             f"- نمره: {_fa(round(total, 2))} از {_fa(possible)}"]
    if result["status"] == "timeout":
        lines.append("- اجرای کل دفترچه از محدودیت زمان گذشت و متوقف شد؛ پرسش‌هایی که آزموده نشدند صفر گرفتند.")
    elif result["status"] == "error":
        lines.append("- اجرای دفترچه کامل نشد؛ پرسش‌هایی که آزموده نشدند صفر گرفتند.")
    lines.append("")
    for name, q in result["questions"].items():
        lines += [f"## {name}: {_fa(round(q['score'], 2))} از {_fa(q['possible'])}", ""]
        if not q["cases"]:
            lines += ["این پرسش آزموده نشد.", ""]
            continue
        pub = hid = 0
        for case in q["cases"]:
            if case["hidden"]:
                hid += 1
                mark = "قبول" if case["passed"] else "رد"
                lines.append(f"- آزمون پنهان {_fa(hid)}: {mark}")
            else:
                pub += 1
                mark = "قبول" if case["passed"] else "رد"
                lines.append(f"- آزمون عمومی {_fa(pub)}: {mark}")
                if not case["passed"]:
                    if case.get("failure_message"):
                        lines.append(f"  - {case['failure_message']}")
                    msg = (case.get("message") or "").strip()
                    if msg:
                        lines += ["", "</div>", "", "```text", msg[-2000:], "```", "", '<div dir="rtl">', ""]
        lines.append("")
    if result.get("error"):
        lines += ["</div>", "", "```text", str(result["error"])[-2000:], "```", ""]
    else:
        lines += ["</div>", ""]
    return "\n".join(lines)


def grade(paths: list[Path], out: Path, dist: Path = DIST_DIR, jobs: int = 1, **limits) -> list[dict]:
    """Grade every notebook under ``paths``; write the CSV tables and the feedback; return the rows."""
    labs = [p.stem for p in lab_sources()]
    files = []
    for p in paths:
        p = Path(p)
        found = [p] if p.is_file() else sorted(
            f for f in p.rglob("*.ipynb") if ".ipynb_checkpoints" not in f.parts)
        base = p.parent if p.is_file() else p
        files += [(f, base) for f in found]
    if not files:
        raise SystemExit(f"no .ipynb submissions under {', '.join(map(str, paths))}")
    missing = sorted({lab for lab in labs if not (dist / lab / f"{lab}-autograder.zip").exists()})
    if missing:
        generate(missing, dist=dist, pages=False)

    def work(item):
        path, base = item
        student, lab = identify(path, base, labs)
        if lab is None:
            res = {"status": "error", "error": "could not tell which lab this notebook is", "seconds": 0.0,
                   "questions": {}}
        else:
            res = grade_submission(path, dist / lab / f"{lab}-autograder.zip", **limits)
        print(f"{student:>20} {lab or '?':>20} {res['status']:>8} "
              f"{sum(q['score'] for q in res['questions'].values()):g}/"
              f"{sum(q['possible'] for q in res['questions'].values()):g} ({res['seconds']} s)", flush=True)
        return {"student": student, "lab": lab, "file": str(path), **res}

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        rows = list(pool.map(work, files))

    out.mkdir(parents=True, exist_ok=True)
    (out / "feedback").mkdir(exist_ok=True)
    with open(out / "scores.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["student", "lab", "score", "possible", "percent", "status", "seconds", "file"])
        for r in rows:
            score = sum(q["score"] for q in r["questions"].values())
            possible = sum(q["possible"] for q in r["questions"].values())
            w.writerow([r["student"], r["lab"] or "", round(score, 4), possible,
                        round(100 * score / possible, 2) if possible else 0, r["status"], r["seconds"], r["file"]])
    for lab in sorted({r["lab"] for r in rows if r["lab"]}):
        lab_rows = [r for r in rows if r["lab"] == lab]
        qnames = sorted({q for r in lab_rows for q in r["questions"]}, key=_qkey)
        with open(out / f"scores_{lab}.csv", "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["student", *qnames, "score", "possible", "status"])
            for r in lab_rows:
                qs = r["questions"]
                w.writerow([r["student"], *(round(qs[q]["score"], 4) if q in qs else 0 for q in qnames),
                            round(sum(q["score"] for q in qs.values()), 4),
                            sum(q["possible"] for q in qs.values()), r["status"]])
    for r in rows:
        name = f"{r['student']}__{r['lab'] or 'unknown'}.md"
        (out / "feedback" / name).write_text(feedback_markdown(r["student"], r["lab"] or "?", r), encoding="utf-8")
    (out / "results.json").write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    return rows


# --------------------------------------------------------------------------- command line
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    g = sub.add_parser("generate", help="student notebooks + autograder bundles into dist/, book pages into labs/student/")
    g.add_argument("labs", nargs="*", help="lab names (default: all)")
    g.add_argument("--dist", type=Path, default=DIST_DIR)
    g.add_argument("--no-pages", action="store_true", help="do not refresh labs/student/")
    g.add_argument("--run-tests", action="store_true", help="let otter assign also grade the solved notebook")

    r = sub.add_parser("grade", help="grade a folder of submitted notebooks into CSV + feedback")
    r.add_argument("paths", nargs="+", type=Path)
    r.add_argument("--out", type=Path, default=Path("grades"))
    r.add_argument("--dist", type=Path, default=DIST_DIR)
    r.add_argument("-j", "--jobs", type=int, default=1)
    r.add_argument("--timeout", type=int, default=SUBMISSION_TIMEOUT, help="seconds per submission")
    r.add_argument("--cell-timeout", type=int, default=CELL_TIMEOUT, help="seconds per notebook cell")
    r.add_argument("--test-timeout", type=int, default=TEST_TIMEOUT, help="seconds per test case")

    sub.add_parser("list", help="the labs with their questions and points")

    one = sub.add_parser("_grade-one")  # internal: runs in a child process
    one.add_argument("submission")
    one.add_argument("--autograder", required=True)
    one.add_argument("--json", required=True)
    one.add_argument("--cell-timeout", type=int, default=CELL_TIMEOUT)
    one.add_argument("--test-timeout", type=int, default=TEST_TIMEOUT)

    a = ap.parse_args(argv)
    if a.cmd == "generate":
        generate(a.labs or None, dist=a.dist.resolve(), pages=not a.no_pages, run_tests=a.run_tests)
    elif a.cmd == "grade":
        rows = grade(a.paths, a.out, dist=a.dist.resolve(), jobs=a.jobs, timeout=a.timeout,
                     cell_timeout=a.cell_timeout, test_timeout=a.test_timeout)
        print(f"{len(rows)} submission(s) graded -> {a.out / 'scores.csv'}, {a.out / 'feedback'}/")
    elif a.cmd == "list":
        for src in lab_sources():
            qs = questions(src)
            print(src.stem + ": " + ", ".join(
                f"{q['name']} ({q['points']} pt, {q['public']} public + {q['hidden']} hidden tests)" for q in qs))
    elif a.cmd == "_grade-one":
        _grade_one(a.submission, a.autograder, a.json, a.cell_timeout, a.test_timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
