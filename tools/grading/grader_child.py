"""Start the trusted grader child of each submission from a warm process (multiprocessing's forkserver).

Each submission is graded in its own trusted child process (:func:`run`, which calls
:func:`tester.grade`): a crash, a hang or a leak in one grading never reaches the next, and the
whole child (its sandbox included) can be killed when a submission runs past its time limit.
Started as a fresh interpreter, that child spent about 5 s of CPU importing otter's test-file
reader (nbconvert and its grammars), torch and ``helpers`` before it graded anything - most of its
work for a lab's reference answers. Here one forkserver process imports them once (the ``preload``
module of this folder, with the environment such a child had: one thread, no GPU, matplotlib's Agg
backend) and forks a fresh child per submission. The child is still a separate process with its own session; no
submission code runs in it or in the forkserver (that code runs only in the sandbox, see
:mod:`sandbox`).
"""
from __future__ import annotations

import json
import multiprocessing
import os
import signal
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The child's environment (what a separate grader process was started with): one thread per
# grading, no GPU, matplotlib's Agg backend, no progress output.
CHILD_ENV = {"DLFA_QUIET": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1", "CUDA_VISIBLE_DEVICES": "",
             "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
_CONTEXT = None
_LOCK = threading.Lock()


def _context():
    """The forkserver context, its server started on first use (it exits when this process does).

    The server gets CHILD_ENV, and this folder on PYTHONPATH so that it can import ``preload``
    (Python 3.11's forkserver imports its preload modules before it applies the parent's sys.path).
    Both are set in this process's environment only while the server starts.
    """
    global _CONTEXT
    with _LOCK:
        if _CONTEXT is None:
            from multiprocessing import forkserver

            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["preload"])
            saved = dict(os.environ)
            old = os.environ.get("PYTHONPATH")
            os.environ.update(CHILD_ENV, PYTHONPATH=str(HERE) + (os.pathsep + old if old else ""))
            try:
                forkserver.ensure_running()
            finally:
                os.environ.clear()
                os.environ.update(saved)
            _CONTEXT = ctx
    return _CONTEXT


def run(job: dict) -> None:
    """The child: its own session, output to ``job['out']``, grade, write ``job['json']``, exit."""
    os.setsid()
    fd = os.open(job["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    os.chdir(job["cwd"])
    import tester
    from sandbox import Limits

    try:
        summary = tester.grade(Path(job["submission"]), Path(job["autograder"]), job["sha256"],
                               Limits(**job["limits"]), Path(job["log"]), slot=job["slot"],
                               cell_timeout=job["cell_timeout"], test_timeout=job["test_timeout"])
    except tester.BundleError as e:
        os.write(2, f"{e}\n".encode())
        os._exit(3)
    Path(job["json"]).write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
    os._exit(0)


def grade_in_child(job: dict, timeout: float) -> tuple[bool, str]:
    """Run :func:`run` in a forked child; (finished in time, its output). Kills it (and its session,
    the sandbox included) when it runs longer than ``timeout`` seconds."""
    proc = _context().Process(target=run, args=(job,), daemon=False)
    proc.start()
    proc.join(timeout)
    finished = not proc.is_alive()
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the child's session: whatever it left running
    except (ProcessLookupError, PermissionError):
        pass
    proc.join()
    out = Path(job["out"])
    text = out.read_text(encoding="utf-8", errors="replace") if out.exists() else ""
    if finished and proc.exitcode not in (0, None):
        text += f"\n(the grader child exited with code {proc.exitcode})"
    return finished, text
