"""The grading sandbox itself (tools/grading/sandbox.py): what a submission's process can see and do.

One probe script runs inside exactly the sandbox ``grade`` builds (same bwrap command line and
limits, the worker replaced by the probe) and reports what it observed; the test checks it.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools" / "grading"))
import sandbox  # noqa: E402

@pytest.fixture(autouse=True)
def _sandbox_possible(grading_sandbox):
    """Every test here needs the sandbox (tests/conftest.py: fails, or skips with DLFA_ALLOW_NO_SANDBOX=1)."""


PROBE = r'''
import json, os, resource, socket, subprocess, sys, time
r = {"uid": os.getuid(), "pid": os.getpid(), "caps": open("/proc/self/status").read().split("CapEff:")[1].split()[0]}
r["root_listing"] = sorted(os.listdir("/"))
r["sees"] = {p: os.path.exists(p) for p in sys.argv[1:]}
def writable(p):
    try:
        with open(os.path.join(p, "probe-write"), "w") as f:
            f.write("x")
        return True
    except OSError:
        return False
r["writes"] = {p: writable(p) for p in ("/tmp", "/usr", "/grader", "/submission", sys.prefix, "/")}
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2)
    r["net"] = True
except OSError:
    r["net"] = False
r["procs"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
kids = []
try:
    for _ in range(200):
        kids.append(subprocess.Popen(["sleep", "600"]))
except OSError:
    pass
r["children"] = len(kids)
try:
    bytearray(8 * 2 ** 30)
    r["big_alloc"] = True
except MemoryError:
    r["big_alloc"] = False
try:
    with open("/tmp/big", "wb") as f:
        f.write(b"\0" * (80 * 2 ** 20))
    r["big_file"] = True
except OSError:
    r["big_file"] = False
r["limits"] = {k: resource.getrlimit(getattr(resource, k))[0] for k in ("RLIMIT_AS", "RLIMIT_NPROC", "RLIMIT_CPU", "RLIMIT_FSIZE")}
print(json.dumps(r))
'''


def test_sandbox_isolates_a_submission(tmp_path):
    nb = tmp_path / "nb" / "submission.ipynb"
    nb.parent.mkdir()
    nb.write_text("{}")
    limits = sandbox.Limits(memory_mb=2048, procs=32, file_mb=64)
    cmd = sandbox.command(nb, 0, 1, limits, slot=7)
    cmd = cmd[:cmd.index("-I") + 1] + ["-c", PROBE]
    secret_paths = [str(ROOT / "labs" / "source"), str(ROOT / "dist"), str(ROOT / "tests"), str(ROOT / "tools" / "homework.py"),
                    str(tmp_path), "/etc/passwd", "/work/main/.git", "/submission/submission.ipynb"]
    home = Path.home()  # the instructor's files (the interpreter may live under it, e.g. ~/.pyenv)
    secret_paths += [str(p) for p in sorted(home.iterdir())[:20] if not Path(sys.base_prefix).is_relative_to(p)]
    res = subprocess.run(cmd + secret_paths, capture_output=True, text=True, timeout=300,
                         preexec_fn=sandbox._preexec(limits, limits.procs if os.geteuid() == 0 else 10 ** 6))
    assert res.returncode == 0, res.stderr[-2000:]
    r = json.loads(res.stdout.strip().splitlines()[-1])
    assert r["uid"] != 0 and r["caps"] == "0000000000000000"
    assert r["pid"] < 10, "its own PID namespace"
    assert max(r["procs"]) < 20, "it sees only its own processes"
    sees = r["sees"]
    assert sees.pop("/submission/submission.ipynb") is True
    assert not any(sees.values()), sees
    assert r["writes"] == {"/tmp": True, "/usr": False, "/grader": False, "/submission": False,
                           sys.prefix: False, "/": False}
    assert r["net"] is False
    assert r["children"] < 32 and r["big_alloc"] is False and r["big_file"] is False
    assert r["limits"]["RLIMIT_AS"] == 2048 * 2 ** 20 and r["limits"]["RLIMIT_FSIZE"] == 64 * 2 ** 20
    out = subprocess.run(["ps", "-eo", "uid,args"], capture_output=True, text=True).stdout
    assert "sleep 600" not in out, "every process of the sandbox ended with it"


def test_course_environment_works_inside(tmp_path):
    nb = tmp_path / "submission.ipynb"
    nb.write_text("{}")
    limits = sandbox.Limits()
    cmd = sandbox.command(nb, 0, 1, limits)
    cmd = cmd[:cmd.index("-I") + 1] + ["-c", "import torch, helpers.norm, helpers.labcheck, IPython; "
                                             "print(torch.__version__)"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                         preexec_fn=sandbox._preexec(limits, limits.procs if os.geteuid() == 0 else 10 ** 6))
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip().startswith("2.13.0")


# --------------------------------------------------------------------------- the trusted child of one submission
def _lab3_submission(generated_labs, tmp_path, first_cell: str) -> Path:
    import nbformat

    nb = nbformat.read(generated_labs / "dist" / "lab3_schedules" / "autograder" / "lab3_schedules.ipynb", as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(first_cell))
    path = tmp_path / "lab3_schedules.ipynb"
    nbformat.write(nb, path)
    return path


def test_a_submission_past_its_time_limit_is_killed_with_its_sandbox(generated_labs, tmp_path):
    """The whole-submission limit: the forked grader child and its sandbox are killed, every question
    scores 0, and grading goes on (the next submission is graded by a fresh child)."""
    import time

    sys.path.insert(0, str(ROOT / "tools"))
    import homework

    slot = homework.slot_base() + 15
    bundle = generated_labs / "dist" / "lab3_schedules" / "lab3_schedules-autograder.zip"
    t0 = time.monotonic()
    res = homework.grade_submission(_lab3_submission(generated_labs, tmp_path, "while True:\n    pass"), bundle,
                                    timeout=12, cell_timeout=300, slot=slot)
    assert res["status"] == "timeout" and "12 s" in res["error"], res
    assert time.monotonic() - t0 < 60
    assert res["questions"] and all(q["score"] == 0 and q["possible"] > 0 for q in res["questions"].values())
    if os.geteuid() == 0:  # the sandbox ran as its slot's uid: nothing of it is left
        time.sleep(1)
        left = sandbox._count_procs(sandbox.sandbox_uid(slot))
        assert left == 0, f"{left} process(es) of the sandbox's uid left after the time limit"
    honest = homework.grade_submission(_lab3_submission(generated_labs, tmp_path, "pass"), bundle, slot=slot)
    assert honest["status"] == "ok", honest["error"]
    assert all(q["score"] == q["possible"] for q in honest["questions"].values()), honest["questions"]


def test_a_child_that_cannot_grade_reports_why(generated_labs, tmp_path):
    """A bundle whose hash does not match: the child exits with the reason, which the row carries."""
    sys.path.insert(0, str(ROOT / "tools"))
    import homework

    bundle = generated_labs / "dist" / "lab3_schedules" / "lab3_schedules-autograder.zip"
    res = homework.grade_submission(_lab3_submission(generated_labs, tmp_path, "pass"), bundle, expected_sha="0" * 64)
    assert res["status"] == "error" and "does not match the hash" in res["error"], res
    assert all(q["score"] == 0 for q in res["questions"].values())
