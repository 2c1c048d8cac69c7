"""Adversarial submissions against tools/homework.py grade: cheating never pays.

Every attack class of the threat model (labs/instructors.md) has a fixture in tests/fixtures/grading/attacks.py (and a
few more). All are graded in ONE run of ``grade -j 3`` together with an honest victim (the lab 1
reference answers) and the untouched handouts (what an empty submission earns). The tests then
check that each attack scored at most what it deserved, the victim kept 21/21, the bundles in
dist/ and every submission file are byte-for-byte unchanged, the output folder holds only the
grader's files and they agree with each other, the (fake) instructor home is untouched, nothing
reached the network, and no process of the sandboxes survived.
"""
from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import os
import re
import socket
import sys
import threading
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import homework  # noqa: E402

_spec = importlib.util.spec_from_file_location("attacks", ROOT / "tests" / "fixtures" / "grading" / "attacks.py")
attacks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(attacks)
ATTACKS, MARKER = attacks.ATTACKS, attacks.MARKER
LABS = sorted({a["lab"] for a in ATTACKS.values()} | {"lab1_batchnorm"})


def build(dist: Path, lab: str, base: str, dst: Path, cells=(), replace=()) -> Path:
    """A submission: the lab's handout ("student") or solved notebook, text replaced, cells appended."""
    src = dist / lab / ("student" if base == "student" else "autograder") / f"{lab}.ipynb"
    nb = nbformat.read(src, as_version=4)
    for old, new in replace:
        assert any(old in c.source for c in nb.cells), f"{old!r} not in {src.name}"
        for c in nb.cells:
            c.source = c.source.replace(old, new)
    for code in cells:
        nb.cells.append(nbformat.v4.new_code_cell(code))
    dst.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dst)
    return dst


def tree_hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def survivors() -> list[str]:
    """Processes started by a submission still alive: the attack marker, or a sandbox uid."""
    found, base = [], homework.slot_base()
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            uid = p.stat().st_uid
        except OSError:
            continue
        if MARKER in cmd or 61000 + base <= uid < 61000 + base + 16:
            found.append(f"{p.name} uid={uid} {cmd[:120]}")
    return found


class Listener:
    """A TCP server on the grader's loopback: a submission that reaches it had network access."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.hits = 0
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
                self.hits += 1
                conn.close()
            except OSError:
                pass

    def close(self):
        self.stop = True
        self.thread.join(2)
        self.sock.close()


@pytest.fixture(scope="module")
def attacked(grading_sandbox, generated_labs, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("attacks")
    dist = generated_labs / "dist"  # generated once per test run; the test checks no submission changed it
    subs = tmp / "submissions"
    listener = Listener()
    for name, a in ATTACKS.items():
        cells = [c.replace("PORT", str(listener.port)) for c in a.get("cells", [])]
        build(dist, a["lab"], a["base"], subs / name / f"{a['lab']}.ipynb", cells, a.get("replace", ()))
    build(dist, "lab1_batchnorm", "solved", subs / "victim" / "lab1_batchnorm.ipynb")
    for lab in LABS:
        build(dist, lab, "student", subs / "empty" / f"{lab}.ipynb")
    home = tmp / "home"
    home.mkdir()
    (home / "private.txt").write_text("the instructor's file\n")
    before = {"dist": tree_hashes(dist), "subs": tree_hashes(subs), "home": tree_hashes(home)}
    out = tmp / "grades"
    old_home = os.environ.get("HOME")
    os.environ["HOME"] = str(home)
    try:
        # Short limits: an honest cell or test case of labs 1-6 takes at most 1.6 s in the sandbox; the
        # resource attack's endless loop is stopped by the cell limit, and a longer one only burns CPU.
        rows = homework.grade([subs], out, dist=dist, jobs=3, timeout=400, cell_timeout=8, test_timeout=12)
    finally:
        if old_home is not None:
            os.environ["HOME"] = old_home
        listener.close()
    after = {"dist": tree_hashes(dist), "subs": tree_hashes(subs), "home": tree_hashes(home)}
    return {"rows": {(r["student"], r["lab"]): r for r in rows}, "out": out, "before": before, "after": after,
            "listener": listener, "survivors": survivors(), "dist": dist}


def _score(row):
    return sum(q["score"] for q in row["questions"].values()), sum(q["possible"] for q in row["questions"].values())


@pytest.mark.parametrize("name", list(ATTACKS))
def test_attack_scores_no_more_than_it_deserves(attacked, name):
    a = ATTACKS[name]
    row = attacked["rows"][(name, a["lab"])]
    got, possible = _score(row)
    deserved = {"empty": _score(attacked["rows"][("empty", a["lab"])])[0], "full": possible}.get(
        a["deserved"], a["deserved"])
    assert got <= deserved, f"{name}: got {got}, deserved at most {deserved}: {row['questions']} {row.get('review')}"
    if a["deserved"] == "full":
        assert got == possible, f"{name}: honest answers must keep full marks: {row['status']} {row['error']}"


def test_victim_keeps_full_marks(attacked):
    row = attacked["rows"][("victim", "lab1_batchnorm")]
    assert row["status"] == "ok", row["error"]
    assert _score(row) == (21, 21)


def test_empty_handouts_score_zero(attacked):
    for lab in LABS:
        assert _score(attacked["rows"][("empty", lab)])[0] == 0


def test_borrowed_answers_are_listed_for_review(attacked):
    review = attacked["rows"][("wrap_reference", "lab1_batchnorm")]["review"]
    assert {"q1", "q3"} <= set(review) and "helpers.norm" in review["q1"]
    review = attacked["rows"][("wrap_reference_thin_wrapper", "lab4_im2col")]["review"]
    assert {"q2", "q3", "q4"} <= set(review) and "q1" not in review
    assert "torch.nn.functional.unfold" in review["q2"]
    with open(attacked["out"] / "scores.csv", encoding="utf-8") as f:
        table = {(r["student"], r["lab"]): r for r in csv.DictReader(f)}
    assert "helpers.norm" in table[("wrap_reference", "lab1_batchnorm")]["review"]
    assert table[("victim", "lab1_batchnorm")]["review"] == ""


def test_bundles_submissions_and_home_untouched(attacked):
    for key in ("dist", "subs"):
        assert attacked["before"][key] == attacked["after"][key], f"{key} changed"
    home_before, home_after = attacked["before"]["home"], attacked["after"]["home"]
    assert {k: home_after.get(k) for k in home_before} == home_before, "the instructor's files changed"
    new = [k for k in home_after if k not in home_before]
    # the grader itself (not a submission) may cache matplotlib's font list there
    assert all(k.startswith(".cache/matplotlib/") for k in new), new
    homework.ensure_bundles(LABS, attacked["dist"])  # the hashes still verify: later runs are unaffected


def test_outputs_are_the_graders_only_and_agree(attacked):
    out = attacked["out"]
    names = {p.name for p in out.iterdir()}
    assert names == {"scores.csv", "results.json", "feedback"} | {f"scores_{lab}.csv" for lab in LABS}, names
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    with open(out / "scores.csv", encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    assert len(table) == len(results) == len(attacked["rows"])
    for r, t in zip(results, table):
        assert (t["student"], t["lab"]) == (r["student"], r["lab"])
        assert float(t["score"]) == pytest.approx(sum(q["score"] for q in r["questions"].values()))
        assert t["status"] == r["status"]
    assert not list(out.rglob("pwned*"))


def test_no_network(attacked):
    assert attacked["listener"].hits == 0


def test_no_process_survives(attacked):
    assert attacked["survivors"] == []


def test_resources_are_bounded_and_recorded(attacked):
    row = attacked["rows"][("resources", "lab1_batchnorm")]
    assert row["status"] == "ok"
    assert any(e["type"] == "TimeoutError" for e in row["cell_errors"]), row["cell_errors"]


def test_feedback_leaks_no_test_and_no_path(attacked):
    fb = (attacked["out"] / "feedback" / "reader__lab1_batchnorm.md").read_text(encoding="utf-8")
    src = (ROOT / "labs" / "source" / "lab1_batchnorm.ipynb").read_text(encoding="utf-8")
    nb = json.loads(src)
    hidden = []
    for c in nb["cells"]:
        text = "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        if c["cell_type"] == "code" and re.search(r"^hidden:\s*true", text, flags=re.M):
            hidden += [ln.strip() for ln in text.split("# END TEST CONFIG", 1)[-1].splitlines() if len(ln.strip()) > 25]
    assert hidden
    for line in hidden:
        assert line not in fb
    assert not re.search(r"/(work|tmp|root|home|usr)/", fb), fb
    assert "hidden test inputs" not in fb
