"""The trusted side of grading one submission: runs the tests here, the submission in its sandbox.

The grader process (one per submission, forked warm by :mod:`grader_child`, never sandboxed and
never running submission code) does, in order:

1. reads the autograder bundle into memory and checks its SHA-256 against the hash ``generate``
   recorded; reads the tests (otter's OK-format files) and ``dlfa/grading.json`` from it;
2. runs the lab's *trusted prelude* - the source notebook's own set-up cells (imports, data
   loading), taken from the bundle - in its own namespace, so ``torch``, ``helpers``, ``data``
   in a test are the grader's, not the submission's;
3. starts the sandbox (:mod:`sandbox`) and runs the submission's code cells there one by one
   (cells tagged ``otter_ignore`` are skipped; the lab's check cells do nothing);
4. runs every test case *here*: names the case uses that the prelude does not define (the
   answers: ``bn_forward``, ``ScratchBatchNorm``) are fetched from the sandbox - data by value,
   anything else as a proxy whose calls run in the sandbox on the inputs the test chose. Every
   reference value and every ``assert`` is computed by this process's own torch and helpers;
5. kills the sandbox (its whole PID namespace) and writes a JSON summary for the parent.

A case that waits on the sandbox longer than the test limit fails; the sandbox is then
restarted (its cells run again) for the remaining cases, at most ``MAX_RESTARTS`` times.
"""
from __future__ import annotations

import ast
import builtins
import doctest
import hashlib
import io
import json
import re
import signal
import time
import zipfile
from pathlib import Path

import rpc
from rpc import Deadline, ProtocolError, RemoteError

MAX_RESTARTS = 3
GRADING_JSON = "dlfa/grading.json"


class BundleError(Exception):
    pass


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_bundle(zip_bytes: bytes, expected_sha: str | None) -> tuple[dict, dict]:
    """(grading spec, {question: [case dicts]}) from the bundle's bytes, after checking its hash."""
    if expected_sha is not None and sha256(zip_bytes) != expected_sha:
        raise BundleError("the autograder bundle does not match the hash recorded by `generate` "
                          "(it was changed); run `tools/homework.py generate` again")
    from otter.test_files.ok_test import OKTestFile

    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as z:
        spec = json.loads(z.read(GRADING_JSON).decode("utf-8"))
        tests = {}
        for name in sorted(z.namelist()):
            if name.startswith("tests/") and name.endswith(".py"):
                env: dict = {}
                exec(z.read(name).decode("utf-8"), env)  # noqa: S102 - the instructor's own, hash-checked file
                tf = OKTestFile.from_spec(env["test"], path=name)
                tests[tf.name] = {"possible": tf.possible, "cases": [
                    {"hidden": bool(tc.hidden), "points": tc.points, "failure_message": tc.failure_message,
                     "code": doctest_source(tc.body)} for tc in tf.test_cases]}
    return spec, tests


def doctest_source(body: str) -> str:
    """Plain Python from an OK-format case (``>>>`` / ``...`` lines); plain code is kept as is."""
    if ">>>" not in body:
        return body
    examples = doctest.DocTestParser().get_examples(body)
    return "".join(ex.source for ex in examples)


def free_names(code: str) -> list[str]:
    """Names a test reads but never binds (candidates to fetch from the submission)."""
    tree = ast.parse(code)
    loads, stores = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loads.append(node.id) if isinstance(node.ctx, ast.Load) else stores.add(node.id))
        elif isinstance(node, ast.arg):
            stores.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for a in node.names:
                stores.add((a.asname or a.name).split(".")[0])
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            stores.add(node.name)
    return [n for n in dict.fromkeys(loads) if n not in stores and not hasattr(builtins, n)]


def run_prelude(cells: list[str]) -> dict:
    """The lab's set-up cells from the bundle, run here (the grader's own torch, helpers, data)."""
    ns: dict = {"__name__": "__grader__"}
    for src in cells:
        exec(compile(src, "<prelude>", "exec"), ns)  # noqa: S102 - instructor code from the bundle
    import matplotlib
    matplotlib.use("Agg")
    return ns


class Submission:
    """The sandboxed notebook, restartable: its cells are re-run after a restart."""

    def __init__(self, notebook: Path, cells: list[str], limits, log: Path, slot: int,
                 cell_timeout: int, start_timeout: int = 120, warm: tuple = ()):
        self.notebook, self.cells, self.limits, self.log, self.slot = notebook, cells, limits, log, slot
        self.cell_timeout, self.start_timeout = cell_timeout, start_timeout
        self.sandbox = None
        self.ep = None
        self.cell_errors: dict[int, dict] = {}
        self.skip: set[int] = set()
        self.restarts = 0
        self.warm = list(warm)

    def spawn(self) -> None:
        from sandbox import Sandbox

        self.sandbox = Sandbox(self.notebook, self.limits, self.log, self.slot)

    def start(self) -> None:
        if self.sandbox is None:
            self.spawn()
        self.sandbox.wait_ready(self.start_timeout)
        self.ep = rpc.Endpoint(self.sandbox.channel, trusted=True)
        self.ep.handlers.update({"call": self._callback, "backward": lambda m: rpc.serve_backward(self.ep, m)})
        if self.warm:  # lazy torch imports the tests will trigger, paid before the tests' clocks start
            self.sandbox.channel.deadline = time.monotonic() + self.start_timeout
            self.ep.request("warm", modules=self.warm)
        for i, src in self.cells:
            if i in self.skip:
                continue
            self.sandbox.channel.deadline = time.monotonic() + self.cell_timeout + 15
            try:
                reply = self.ep.request("run_cell", source=src, timeout=self.cell_timeout, index=i)
            except Deadline:
                # a cell that ignored the sandbox's own alarm: restart without it
                self.cell_errors.setdefault(i, {"type": "TimeoutError", "msg": f"cell ran longer than "
                                                f"{self.cell_timeout} s", "line": None})
                self.skip.add(i)
                self.restart()
                return
            if isinstance(reply, dict) and not reply.get("ok") and isinstance(reply.get("error"), dict):
                self.cell_errors.setdefault(i, reply["error"])
        self.sandbox.channel.deadline = None

    def _callback(self, msg):
        """The sandbox calls a grader function it was given (a test's lambda): only calls are served."""
        oid = int(msg["target"])
        fn = self.ep.objects.get(oid)
        if fn is None:
            raise ProtocolError("unknown function")
        self.ep._leaves = []
        args = [self.ep.decode(a) for a in msg.get("args", [])]
        kwargs = {str(k): self.ep.decode(v) for k, v in (msg.get("kwargs") or {}).items()}
        leaves, self.ep._leaves = self.ep._leaves, None
        result = fn(*args, **kwargs)
        return {"result": self.ep.encode(result, grad_inputs=leaves), "writeback": {}}

    def restart(self) -> None:
        self.close()
        self.restarts += 1
        if self.restarts > MAX_RESTARTS:
            raise ProtocolError("the sandbox had to be restarted too often")
        self.start()

    def fetch(self, name: str):
        reply = self.ep.request("get", name=name)
        if not isinstance(reply, dict):
            raise ProtocolError("bad get reply")
        if reply.get("missing"):
            raise KeyError(name)
        return self.ep.decode(reply.get("value"))

    def close(self) -> None:
        if self.sandbox is not None:
            self.sandbox.close()
            self.sandbox = None


class _TestTimeout(BaseException):
    pass


def run_case(sub: Submission, prelude: dict, code: str, timeout: int) -> tuple[bool, str | None]:
    """(passed, message) of one test case run here against the sandboxed answers."""
    ns = dict(prelude)
    ns["__name__"] = "__test__"
    deadline = time.monotonic() + timeout
    sub.sandbox.channel.deadline = deadline

    def alarm(signum, frame):
        raise _TestTimeout()

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(timeout + 5)
    restart = False
    try:
        for name in free_names(code):
            if name in ns:
                continue
            try:
                ns[name] = sub.fetch(name)
            except KeyError:
                pass
        exec(compile(code, "<test>", "exec"), ns)  # noqa: S102 - the instructor's test, run in the grader
        return True, None
    except AssertionError as e:
        return False, str(e) or None
    except RemoteError as e:
        where = ""
        if getattr(e, "cell", None) is not None and e.line:
            where = f" (cell {e.cell + 1}, line {e.line})"
        return False, (f"{e.etype}: {e.emsg}" if e.emsg else e.etype) + where
    except (Deadline, _TestTimeout):
        restart = True
        return False, f"TimeoutError: test ran longer than {timeout} s"
    except ProtocolError as e:
        restart = True
        return False, f"the submission broke its sandbox's channel ({e})"
    except Exception as e:  # noqa: BLE001 - a wrong answer may make a test raise anything
        return False, f"{type(e).__name__}: {e}"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
        if sub.sandbox is not None:
            sub.sandbox.channel.deadline = None
        if restart:  # outside the test's alarm: the sandbox is rebuilt for the remaining cases
            sub.restart()


def student_cells(nb: dict) -> list[tuple[int, str]]:
    """(index in the notebook, source) of the code cells to run: all but those tagged ``otter_ignore``."""
    out = []
    for _index, cell in enumerate(nb.get("cells", [])):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        tags = (cell.get("metadata") or {}).get("tags") or []
        if "otter_ignore" in tags:
            continue
        src = cell.get("source", "")
        out.append((_index, "".join(src) if isinstance(src, list) else str(src)))
    return out


def grade(notebook: Path, bundle: Path, expected_sha: str | None, limits, log: Path, *, slot: int = 0,
          cell_timeout: int = 120, test_timeout: int = 30) -> dict:
    """Grade one notebook; the summary that ``homework.py`` turns into CSV rows and feedback."""
    from screening import screen

    spec, tests = load_bundle(bundle.read_bytes(), expected_sha)
    summary = {"error": None, "cell_errors": [], "questions": {}, "screening": {}}
    try:
        nb = json.loads(notebook.read_text(encoding="utf-8"))
        if not isinstance(nb, dict):
            raise ValueError("not a notebook")
    except (OSError, ValueError) as e:
        summary["error"] = f"the file is not a readable notebook ({type(e).__name__})"
        for q, t in tests.items():
            summary["questions"][q] = {"score": 0, "possible": t["possible"], "cases": []}
        return summary
    cells = student_cells(nb)
    summary["screening"] = screen([src for _, src in cells], spec.get("questions", {}))
    warm = ("torch._dynamo",) if any('"meta"' in c["code"] for t in tests.values() for c in t["cases"]) else ()
    sub = Submission(notebook, cells, limits, log, slot, cell_timeout, warm=warm)
    try:
        sub.spawn()  # the sandbox imports torch while the grader runs the prelude
        prelude = run_prelude(spec.get("prelude", []))
        for mod in warm:
            __import__(mod)
        try:
            sub.start()
        except (ProtocolError, Deadline) as e:
            summary["error"] = f"the notebook could not be run ({type(e).__name__})"
        for q, t in sorted(tests.items(), key=lambda kv: _qkey(kv[0])):
            cases, score = [], 0.0
            for case in t["cases"]:
                if sub.sandbox is None:
                    passed, message = False, "the notebook could not be run"
                else:
                    try:
                        passed, message = run_case(sub, prelude, case["code"], test_timeout)
                    except (ProtocolError, Deadline) as e:
                        sub.close()
                        summary["error"] = f"grading stopped: {e}"
                        passed, message = False, "the notebook could not be run"
                score += case["points"] if passed else 0
                cases.append({"hidden": case["hidden"], "points": case["points"], "passed": passed,
                              "message": None if case["hidden"] else message,
                              "failure_message": case["failure_message"]})
            summary["questions"][q] = {"score": round(score, 6), "possible": t["possible"], "cases": cases}
    finally:
        sub.close()
    summary["cell_errors"] = [{"cell": i, **e} for i, e in sorted(sub.cell_errors.items())]
    summary["restarts"] = sub.restarts
    return summary


def _qkey(name: str):
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]
