#!/usr/bin/env python3
"""The labs as homework: generate student notebooks and autograders, grade submissions in sandboxes.

Built on otter-grader 7 (pinned in requirements.txt) for the assignment format. Each lab's
source notebook, ``labs/source/labN_<name>.ipynb``, is written in Otter Assign's format: it
holds the reference solutions, the public tests and the hidden tests (``hidden: true``).

Commands (run from the repository root with the project's virtual environment)::

    .venv/bin/python tools/homework.py generate                  # every lab -> dist/ and labs/student/
    .venv/bin/python tools/homework.py generate lab3_schedules
    .venv/bin/python tools/homework.py generate --private-tests ~/term-tests   # this term's hidden tests
    .venv/bin/python tools/homework.py grade SUBMISSIONS/ --out grades/ -j 2
    .venv/bin/python tools/homework.py list                      # the labs and their questions/points

``generate`` runs ``otter assign`` on every source notebook and writes, per lab::

    dist/<lab>/student/<lab>.ipynb         the notebook to hand out (no solutions, no hidden tests)
    dist/<lab>/autograder/<lab>.ipynb      the solved notebook with all tests (instructors only)
    dist/<lab>/<lab>-autograder.zip        the autograder bundle (tests, private overlay merged in,
                                           dlfa/grading.json, the helpers package, environment.yml
                                           with python 3.11, torch==2.13.0 and helpers)
    dist/handout/<lab>.ipynb               all student notebooks in one folder
    dist/manifest.json                     SHA-256 of every bundle (checked before grading) and
                                           of its source notebook (a changed source is regenerated)

and refreshes the book's copies ``labs/student/<lab>.ipynb``. ``dist/`` is not committed.

``grade`` grades every ``.ipynb`` under the given paths. Each submission runs in its own
bubblewrap sandbox (tools/grading/sandbox.py: no network, private /tmp, own PID namespace,
read-only course environment, unprivileged uid, memory/process/CPU/file limits) and the tests
run OUTSIDE it, in a trusted grader process that only receives the answers' outputs
(tools/grading/tester.py, rpc.py). Answers that use what their question forbids score 0 for
that question and are listed in the ``review`` column (tools/grading/screening.py,
labs/grading/screening.yml; overridable with ``--accept``). Outputs, all written from one list
of results after every sandbox is gone::

    <out>/scores.csv          student, lab, score, possible, percent, status, seconds, file, review
    <out>/scores_<lab>.csv    one column per question (+ score, possible, status, review)
    <out>/feedback/<student>__<lab>.md   short Persian feedback
    <out>/results.json        everything, including the notebook's errors and the screening

See labs/instructors.md for the threat model and every option.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import pprint
import re
import shutil
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
SCREENING = ROOT / "labs" / "grading" / "screening.yml"
GRADING_DIR = Path(__file__).resolve().parent / "grading"
sys.path.insert(0, str(GRADING_DIR))

import grader_child  # noqa: E402
import report  # noqa: E402
from report import feedback_markdown, identify  # noqa: E402,F401 - part of this module's interface
from sandbox import Limits  # noqa: E402

CELL_TIMEOUT = 120     # s, one cell of a submission
TEST_TIMEOUT = 60      # s, one test case (its calls into the sandbox included)
SUBMISSION_TIMEOUT = 900  # s, a whole submission (its cells, every test, restarts)

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
def _assign(sources: list[Path], dist: Path, run_tests: bool) -> None:
    """``otter assign`` every source notebook into ``dist/<lab>`` (emptied first), all in one process
    (tools/otter_assign.py: importing otter costs as much as assigning a lab)."""
    pairs = []
    for src in sources:
        out = dist / src.stem
        shutil.rmtree(out, ignore_errors=True)
        pairs += [str(src), str(out)]
    if not pairs:
        return
    cmd = [sys.executable, str(Path(__file__).resolve().parent / "otter_assign.py")] + (["--run-tests"] if run_tests else [])
    res = subprocess.run(cmd + pairs, capture_output=True, text=True, cwd=SOURCE_DIR)
    if res.returncode != 0:
        raise SystemExit(f"otter assign failed:\n{res.stdout}\n{res.stderr}")


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


def _sha(path_or_bytes) -> str:
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else Path(path_or_bytes).read_bytes()
    return hashlib.sha256(data).hexdigest()


def _source_parts(source: Path) -> dict:
    """Answer names per question and the trusted prelude (set-up cells) of a source notebook."""
    import ast

    import nbformat
    import yaml

    sys.path.insert(0, str(GRADING_DIR))
    from screening import _defined
    from tester import free_names

    nb = nbformat.read(source, as_version=4)
    answers: dict[str, list[str]] = {}
    current, kind = None, None
    setup = []
    tested: dict[str, list[str]] = {}
    for cell in nb.cells:
        src = cell.source.strip()
        if cell.cell_type == "raw":
            if src.startswith("# BEGIN QUESTION"):
                current = (yaml.safe_load(src.split("\n", 1)[1]) or {})["name"]
                answers.setdefault(current, [])
            elif src.startswith("# BEGIN SOLUTION"):
                kind = "solution"
            elif src.startswith("# BEGIN TESTS"):
                kind = "tests"
            elif src.startswith(("# END SOLUTION", "# END TESTS")):
                kind = None
            elif src.startswith("# END QUESTION"):
                current = None
            continue
        if cell.cell_type != "code":
            continue
        if kind == "solution" and current:
            for node in ast.parse(cell.source).body:
                answers[current] += [n for n in _defined(node) if n not in answers[current] and n != "_"]
        elif kind == "tests" and current:
            tested.setdefault(current, []).append(cell.source.split('""" # END TEST CONFIG', 1)[-1])
        elif kind is None and "otter_ignore" not in (cell.metadata.get("tags") or []):
            setup.append(cell.source)
    every_answer = {n for names in answers.values() for n in names}
    # a question is answered by what its tests exercise, too: q2's tests call q1's bn_forward
    for q, bodies in tested.items():
        for body in bodies:
            answers[q] += [n for n in free_names(body) if n in every_answer and n not in answers[q]]
    prelude = [s for s in setup
               if not re.search(r"\b(lab_grader|otter|grader)\b", s)
               and not (set(free_names(s)) & every_answer)]
    return {"answers": answers, "prelude": prelude}


def _load_ok(text: str) -> dict:
    env: dict = {}
    exec(text, env)  # noqa: S102 - an instructor's test file
    return env


def _as_doctest(code: str) -> str:
    """Plain Python -> OK-format doctest lines (``>>>`` for each statement, ``...`` for the rest)."""
    import ast

    if code.lstrip().startswith(">>>"):
        return code
    lines = code.rstrip("\n").splitlines()
    starts = {node.lineno - 1 for node in ast.parse(code).body}
    out = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        out.append((">>> " if i in starts else "... ") + line)
    return "\n".join(out) + "\n"


def merge_private_tests(test: dict, private: Path) -> dict:
    """A question's OK test with a private overlay file merged in (see labs/instructors.md).

    The overlay (``<private>/<lab>/<q>.py``) defines ``test = {"cases": [{"code": ..., "points":
    ..., "hidden": True}, ...]}`` and optionally ``replace = True``: replace drops the question's
    hidden cases (its public ones stay, students already have them), otherwise the cases are added.
    """
    env = _load_ok(private.read_text(encoding="utf-8"))
    extra = env.get("test")
    if not isinstance(extra, dict) or not isinstance(extra.get("cases"), list):
        raise SystemExit(f"{private}: must define test = {{'cases': [...]}}")
    replace = bool(env.get("replace", extra.get("replace", False)))
    suite = test["suites"][0]
    cases = [c for c in suite["cases"] if not (replace and c.get("hidden"))]
    for k, c in enumerate(extra["cases"]):
        if not isinstance(c, dict) or not isinstance(c.get("code"), str):
            raise SystemExit(f"{private}: case {k} needs a 'code' string")
        cases.append({"code": _as_doctest(c["code"]), "hidden": bool(c.get("hidden", True)),
                      "locked": False, "points": c.get("points", 1),
                      "failure_message": c.get("failure_message", "")})
    suite["cases"] = cases
    if all(isinstance(c.get("points"), (int, float)) for c in cases):
        test["points"] = sum(c["points"] for c in cases)
    return test


ENVIRONMENT_YML = """name: otter-env
channels:
  - conda-forge
dependencies:
  - python=3.11
  - pip
  - jupyter_server
  - pip:
      - --extra-index-url https://download.pytorch.org/whl/cpu
      - otter-grader[grading,plugins]==7.0.0
      - torch==2.13.0
      - /autograder/source/dl_fa_helpers
"""
REQUIREMENTS_TXT = """--extra-index-url https://download.pytorch.org/whl/cpu
otter-grader[grading,plugins]==7.0.0
torch==2.13.0
./dl_fa_helpers
"""


def finish_bundle(zip_path: Path, source: Path, private: Path | None, screening: dict) -> None:
    """Rewrite otter's bundle: private tests merged, grading.json, helpers and a working environment."""
    lab = source.stem
    parts = _source_parts(source)
    with zipfile.ZipFile(zip_path) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    overlay = (private / lab) if private else None
    if overlay is not None and overlay.is_dir():
        for f in sorted(overlay.glob("*.py")):
            key = f"tests/{f.stem}.py"
            if key not in entries:
                raise SystemExit(f"{f}: {lab} has no question {f.stem}")
            test = merge_private_tests(_load_ok(entries[key].decode("utf-8"))["test"], f)
            entries[key] = ("OK_FORMAT = True\n\ntest = " + pprint.pformat(test, width=110) + "\n").encode("utf-8")
    lab_rules = screening.get(lab, {}) or {}
    questions = {q: {"answers": names, **(lab_rules.get(q) or {})} for q, names in parts["answers"].items()}
    entries["dlfa/grading.json"] = json.dumps({"lab": lab, "prelude": parts["prelude"], "questions": questions},
                                              ensure_ascii=False, indent=1).encode("utf-8")
    entries["environment.yml"] = ENVIRONMENT_YML.encode("utf-8")
    entries["requirements.txt"] = REQUIREMENTS_TXT.encode("utf-8")
    entries["dl_fa_helpers/pyproject.toml"] = (ROOT / "pyproject.toml").read_bytes()
    entries["dl_fa_helpers/README.md"] = (ROOT / "README.md").read_bytes()
    for f in sorted((ROOT / "helpers").rglob("*.py")):
        if "__pycache__" not in f.parts:
            entries[f"dl_fa_helpers/{f.relative_to(ROOT).as_posix()}"] = f.read_bytes()
    tmp = zip_path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if name == "run_autograder" else 0o644) << 16
            z.writestr(info, entries[name], zipfile.ZIP_DEFLATED)
    os.replace(tmp, zip_path)


def load_screening(path: Path = SCREENING) -> dict:
    import yaml

    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise SystemExit(f"{path}: expected lab -> question -> rules")
    return data


def _manifest(dist: Path) -> dict:
    try:
        return json.loads((dist / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def generate(names=None, dist: Path = DIST_DIR, pages: bool = True, run_tests: bool = False,
             pages_dir: Path = PAGES_DIR, private_tests: Path | None = None) -> list[dict]:
    """Run ``otter assign`` for each lab; see the module docstring for what is written where."""
    import nbformat

    if private_tests is not None:
        private_tests = Path(private_tests).resolve()
        if not private_tests.is_dir():
            raise SystemExit(f"--private-tests {private_tests}: not a folder")
    screening = load_screening()
    done = []
    dist.mkdir(parents=True, exist_ok=True)
    manifest = _manifest(dist)
    sources = lab_sources(names)
    t0 = time.perf_counter()
    _assign(sources, dist, run_tests)
    print(f"otter assign: {len(sources)} lab(s) in {time.perf_counter() - t0:.1f} s", flush=True)
    for src in sources:
        lab = src.stem
        t0 = time.perf_counter()
        out = dist / lab
        zips = sorted((out / "autograder").glob(f"{lab}-autograder_*.zip"))
        if not zips:
            raise SystemExit(f"otter assign wrote no autograder zip for {lab} in {out / 'autograder'}")
        bundle = out / f"{lab}-autograder.zip"
        shutil.copy(zips[-1], bundle)
        finish_bundle(bundle, src, private_tests, screening)
        shutil.copy(bundle, zips[-1])
        manifest[lab] = {"bundle_sha256": _sha(bundle), "source_sha256": _sha(src),
                         "screening_sha256": _sha(SCREENING) if SCREENING.exists() else None,
                         "private_tests": str(private_tests) if private_tests else None}
        (out / f"{lab}-autograder.zip.sha256").write_text(f"{manifest[lab]['bundle_sha256']}  {bundle.name}\n")
        handout = dist / "handout"
        handout.mkdir(parents=True, exist_ok=True)
        shutil.copy(out / "student" / f"{lab}.ipynb", handout / f"{lab}.ipynb")
        if pages:
            pages_dir.mkdir(parents=True, exist_ok=True)
            nb = nbformat.read(out / "student" / f"{lab}.ipynb", as_version=4)
            nbformat.write(book_page(nb, lab), pages_dir / f"{lab}.ipynb")
        (dist / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        done.append({"lab": lab, "seconds": round(time.perf_counter() - t0, 1)})
        print(f"{lab}: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out} "
              f"({done[-1]['seconds']} s)", flush=True)
    return done


def autograder_points(zip_path: Path) -> dict[str, float]:
    """Question -> points possible, read from the test files inside an autograder zip."""
    from otter.test_files.ok_test import OKTestFile

    points = {}
    with zipfile.ZipFile(zip_path) as z:
        for name in sorted(z.namelist()):
            if name.startswith("tests/") and name.endswith(".py"):
                tf = OKTestFile.from_spec(_load_ok(z.read(name).decode("utf-8"))["test"], path=name)
                points[tf.name] = tf.possible
    return points


def ensure_bundles(labs: list[str], dist: Path) -> dict[str, str]:
    """Lab -> verified bundle hash; (re)generates bundles that are missing or older than their source."""
    manifest = _manifest(dist)
    stale = []
    for lab in labs:
        m = manifest.get(lab) or {}
        bundle = dist / lab / f"{lab}-autograder.zip"
        screening_sha = _sha(SCREENING) if SCREENING.exists() else None
        if not bundle.exists() or not m or m.get("source_sha256") != _sha(SOURCE_DIR / f"{lab}.ipynb") \
                or m.get("screening_sha256") != screening_sha:
            stale.append(lab)
    for lab in stale:
        private = (manifest.get(lab) or {}).get("private_tests")
        generate([lab], dist=dist, pages=False, private_tests=Path(private) if private else None)
    manifest = _manifest(dist)
    hashes = {}
    for lab in labs:
        expected = (manifest.get(lab) or {}).get("bundle_sha256")
        if expected != _sha(dist / lab / f"{lab}-autograder.zip"):
            raise SystemExit(f"dist/{lab}/{lab}-autograder.zip does not match the hash recorded by generate "
                             f"(dist/manifest.json): the bundle was changed. Run: tools/homework.py generate {lab}")
        hashes[lab] = expected
    return hashes


# --------------------------------------------------------------------------- grading one submission
def grade_submission(submission: Path, autograder: Path, *, expected_sha: str | None = None,
                     timeout: int = SUBMISSION_TIMEOUT, cell_timeout: int = CELL_TIMEOUT,
                     test_timeout: int = TEST_TIMEOUT, limits: Limits | None = None, slot: int = 0) -> dict:
    """Grade one submission in a trusted child process (which sandboxes the notebook); never raises
    for a bad submission.

    Returns ``{"status": "ok"|"timeout"|"error", "error", "seconds", "questions": {name: {"score",
    "possible", "cases": [...]}}, "cell_errors": [...], "screening": {q: reason}, "log"}``;
    questions missing from the run (a crash, the time limit) are filled in with 0 points.
    """
    t0 = time.perf_counter()
    submission, autograder = Path(submission).resolve(), Path(autograder).resolve()
    limits = limits or Limits()
    with tempfile.TemporaryDirectory(prefix="dlfa-grade-") as tmp:
        tmp = Path(tmp)
        os.chmod(tmp, 0o700)
        # the sandbox gets a copy (readable by its uid), never the original file or its folder
        nbdir = tmp / "nb"
        nbdir.mkdir(mode=0o755)
        os.chmod(tmp, 0o711)
        copy = nbdir / "submission.ipynb"
        shutil.copyfile(submission, copy)
        os.chmod(copy, 0o644)
        out_json, log = tmp / "result.json", tmp / "sandbox.log"
        job = {"submission": str(copy), "autograder": str(autograder), "sha256": expected_sha, "json": str(out_json),
               "log": str(log), "out": str(tmp / "child.out"), "cwd": str(tmp), "slot": slot,
               "cell_timeout": cell_timeout, "test_timeout": test_timeout, "limits": dict(limits.__dict__)}
        finished, out = grader_child.grade_in_child(job, timeout)
        status, error = "ok", None
        if not finished:
            status, error = "timeout", f"the whole submission ran longer than {timeout} s"
        summary = {"error": None, "questions": {}, "cell_errors": [], "screening": {}}
        if out_json.exists() and status == "ok":
            summary = json.loads(out_json.read_text(encoding="utf-8"))
        elif status == "ok":
            status, error = "error", "grading produced no result:\n" + (out or "")[-3000:]
        sandbox_log = log.read_bytes()[-4000:].decode("utf-8", "replace") if log.exists() else ""
    if summary.get("error") and status == "ok":
        status, error = "error", summary["error"]
    qs = summary["questions"]
    for name, possible in autograder_points(autograder).items():
        if name not in qs:
            qs[name] = {"score": 0, "possible": possible, "cases": []}
        qs[name]["possible"] = possible
    return {"status": status, "error": error, "seconds": round(time.perf_counter() - t0, 1),
            "questions": dict(sorted(qs.items(), key=lambda kv: _qkey(kv[0]))),
            "cell_errors": summary.get("cell_errors", []), "screening": summary.get("screening", {}),
            "log": sandbox_log}


def _qkey(name: str):
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


# --------------------------------------------------------------------------- grading a folder
def load_accepted(path: Path | None) -> set[tuple[str, str, str]]:
    """(student, lab, question) the instructor accepted after review (CSV: student,lab,question)."""
    if path is None:
        return set()
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if rows and not {"student", "lab", "question"} <= set(rows[0]):
        raise SystemExit(f"{path}: needs the columns student,lab,question")
    return {(r["student"].strip(), r["lab"].strip(), r["question"].strip()) for r in rows}


def apply_screening(row: dict, accepted: set) -> dict:
    """Zero every question the screen flagged, unless the instructor accepted it; keep the reason."""
    review = {}
    for q, why in sorted((row.get("screening") or {}).items(), key=lambda kv: _qkey(kv[0])):
        if (row["student"], row["lab"], q) in accepted:
            continue
        review[q] = why
        if q in row["questions"]:
            row["questions"][q]["score_before_review"] = row["questions"][q]["score"]
            row["questions"][q]["score"] = 0
    row["review"] = review
    return row


def slot_base() -> int:
    """First sandbox slot of this grading process: concurrent ``grade`` runs get different uids."""
    return (os.getpid() % 500) * 16


def grade(paths: list[Path], out: Path, dist: Path = DIST_DIR, jobs: int = 1, accept: Path | None = None,
          limits: Limits | None = None, **kw) -> list[dict]:
    """Grade every notebook under ``paths``; write the CSV tables and the feedback; return the rows."""
    labs = [p.stem for p in lab_sources()]
    accepted = load_accepted(accept)
    files = []
    for p in paths:
        p = Path(p)
        found = [p] if p.is_file() else sorted(
            f for f in p.rglob("*.ipynb") if ".ipynb_checkpoints" not in f.parts)
        base = p.parent if p.is_file() else p
        files += [(f, base) for f in found]
    if not files:
        raise SystemExit(f"no .ipynb submissions under {', '.join(map(str, paths))}")
    out = Path(out).resolve()
    for f, _ in files:
        if f.resolve().is_relative_to(out):
            raise SystemExit(f"{f}: a submission inside the output folder {out}")
    from sandbox import self_test
    why = self_test(limits)
    if why is not None:
        raise SystemExit(f"grading runs every submission in a bubblewrap sandbox and none can be started: {why} "
                         "(see labs/instructors.md)")
    if not 1 <= jobs <= 16:
        raise SystemExit("-j must be between 1 and 16")
    idents = [(f, base, *identify(f, base, labs)) for f, base in files]
    hashes = ensure_bundles(sorted({lab for *_, lab in idents if lab}), dist)
    slots = [slot_base() + i for i in range(jobs)]  # one sandbox uid per parallel job (as root)
    import threading
    lock = threading.Lock()

    def work(item):
        path, base, student, lab = item
        with lock:
            slot = slots.pop()
        try:
            if lab is None:
                res = {"status": "error", "error": "could not tell which lab this notebook is", "seconds": 0.0,
                       "questions": {}, "cell_errors": [], "screening": {}}
            else:
                res = grade_submission(path, dist / lab / f"{lab}-autograder.zip", expected_sha=hashes[lab],
                                       limits=limits, slot=slot, **kw)
        finally:
            with lock:
                slots.append(slot)
        row = apply_screening({"student": student, "lab": lab, "file": str(path), **res}, accepted)
        score, possible = report.totals(row)
        print(f"{student:>20} {lab or '?':>20} {row['status']:>8} {score:g}/{possible:g} ({row['seconds']} s)"
              + (f"  review: {report.review_text(row)}" if row["review"] else ""), flush=True)
        return row

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        rows = list(pool.map(work, idents))
    report.write_outputs(rows, out, _qkey)
    return rows


# --------------------------------------------------------------------------- command line
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = Limits()

    g = sub.add_parser("generate", help="student notebooks + autograder bundles into dist/, book pages into labs/student/")
    g.add_argument("labs", nargs="*", help="lab names (default: all)")
    g.add_argument("--dist", type=Path, default=DIST_DIR)
    g.add_argument("--no-pages", action="store_true", help="do not refresh labs/student/")
    g.add_argument("--run-tests", action="store_true", help="let otter assign also grade the solved notebook")
    g.add_argument("--private-tests", type=Path, default=None,
                   help="folder <lab>/<question>.py of this term's hidden tests, merged into the bundles")

    r = sub.add_parser("grade", help="grade a folder of submitted notebooks into CSV + feedback")
    r.add_argument("paths", nargs="+", type=Path)
    r.add_argument("--out", type=Path, default=Path("grades"))
    r.add_argument("--dist", type=Path, default=DIST_DIR)
    r.add_argument("-j", "--jobs", type=int, default=1)
    r.add_argument("--timeout", type=int, default=SUBMISSION_TIMEOUT, help="seconds per submission")
    r.add_argument("--cell-timeout", type=int, default=CELL_TIMEOUT, help="seconds per notebook cell")
    r.add_argument("--test-timeout", type=int, default=TEST_TIMEOUT, help="seconds per test case")
    r.add_argument("--memory-mb", type=int, default=d.memory_mb, help="address space per sandboxed process (MiB)")
    r.add_argument("--max-procs", type=int, default=d.procs, help="processes/threads per sandbox")
    r.add_argument("--cpu-seconds", type=int, default=d.cpu_s, help="CPU seconds per sandboxed process")
    r.add_argument("--file-mb", type=int, default=d.file_mb, help="largest file a submission may write (MiB)")
    r.add_argument("--tmp-mb", type=int, default=d.tmp_mb, help="size of a submission's private /tmp (MiB)")
    r.add_argument("--accept", type=Path, default=None,
                   help="CSV student,lab,question of screened answers the instructor accepts after review")

    sub.add_parser("list", help="the labs with their questions and points")

    a = ap.parse_args(argv)
    if a.cmd == "generate":
        generate(a.labs or None, dist=a.dist.resolve(), pages=not a.no_pages, run_tests=a.run_tests,
                 private_tests=a.private_tests)
    elif a.cmd == "grade":
        limits = Limits(memory_mb=a.memory_mb, procs=a.max_procs, cpu_s=a.cpu_seconds, file_mb=a.file_mb,
                        tmp_mb=a.tmp_mb)
        rows = grade(a.paths, a.out, dist=a.dist.resolve(), jobs=a.jobs, accept=a.accept, limits=limits,
                     timeout=a.timeout, cell_timeout=a.cell_timeout, test_timeout=a.test_timeout)
        print(f"{len(rows)} submission(s) graded -> {a.out / 'scores.csv'}, {a.out / 'feedback'}/")
    elif a.cmd == "list":
        for src in lab_sources():
            qs = questions(src)
            print(src.stem + ": " + ", ".join(
                f"{q['name']} ({q['points']} pt, {q['public']} public + {q['hidden']} hidden tests)" for q in qs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
