"""Fast checks of the grader's pure logic (tools/grading): screening, the value codec, names,
feedback, the score tables, the bundle hash and private tests. No sandbox, no kernel."""
from __future__ import annotations

import base64
import csv
import io
import json
import os
import sys
import zipfile
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import homework  # noqa: E402
import report  # noqa: E402  (tools/grading, put on sys.path by homework)
import rpc  # noqa: E402
import screening  # noqa: E402
import tester  # noqa: E402

BN = {"q1": {"answers": ["bn_forward"], "forbid": ["helpers.norm", "torch.nn.functional.batch_norm"]},
      "q3": {"answers": ["bn_backward"], "forbid": ["torch.autograd"], "forbid_attrs": ["backward"]}}


# --------------------------------------------------------------------------- screening
@pytest.mark.parametrize("src", [
    "from helpers.norm import batchnorm_forward\ndef bn_forward(*a):\n    return batchnorm_forward(*a)",
    "import helpers.norm as hn\ndef bn_forward(*a):\n    return hn.batchnorm_forward(*a)",
    "from helpers import norm\ndef _w(*a):\n    return norm.batchnorm_forward(*a)\ndef bn_forward(*a):\n    return _w(*a)",
    "import torch.nn.functional as F\nbn = F.batch_norm\ndef bn_forward(x, *a):\n    return bn(x, *a)",
    "from torch.nn.functional import batch_norm as b\nbn_forward = lambda *a: b(*a)",
    "import torch\ndef bn_forward(*a):\n    return torch.nn.functional.batch_norm(*a)",
    "def bn_forward(*a):\n    from helpers.norm import batchnorm_forward\n    return batchnorm_forward(*a)",
    "import torch.nn.functional as F\ndef bn_forward(*a):\n    return getattr(F, 'batch_norm')(*a)",
])
def test_screen_finds_borrowed_answers(src):
    assert "q1" in screening.screen(["import torch", src], BN)


def test_screen_finds_dynamic_lookups_and_forbidden_methods():
    dyn = "import torch.nn.functional as F\ndef bn_forward(x, n):\n    return getattr(F, 'batch_' + n)(x)"
    assert "پویا" in screening.screen([dyn], BN)["q1"]
    assert "importlib" in screening.screen(["import importlib\ndef bn_forward(x):\n    return importlib.import_module('x')"], BN)["q1"]
    back = "def bn_backward(dout, cache):\n    cache[0].backward(dout)\n    return cache[0].grad"
    assert ".backward()" in screening.screen([back], BN)["q3"]


def test_screen_passes_honest_answers_and_ignores_shadowing():
    honest = ("import torch\nx = torch.nn.functional.batch_norm\n"   # a top-level x, not the answer's
              "def bn_forward(x, gamma, beta):\n    m = x.mean(0)\n    return gamma * (x - m) + beta\n"
              "def bn_backward(dout, cache):\n    return dout * cache\n")
    assert screening.screen([honest], BN) == {}


@pytest.mark.parametrize("source", sorted((ROOT / "labs" / "source").glob("lab*.ipynb")), ids=lambda p: p.stem)
def test_reference_solutions_pass_the_screen(source):
    rules = homework.load_screening()
    parts = homework._source_parts(source)
    assert parts["answers"] and all(parts["answers"].values())
    nb = json.loads(source.read_text(encoding="utf-8"))
    cells = []
    for c in nb["cells"]:  # the solved notebook without the test cells (students never have those)
        text = "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        if c["cell_type"] == "code" and "# BEGIN TEST CONFIG" not in text:
            cells.append(text)
    qs = {q: {"answers": a, **(rules[source.stem].get(q) or {})} for q, a in parts["answers"].items()}
    assert set(rules[source.stem]) == set(parts["answers"]), "every question has screening rules"
    assert screening.screen(cells, qs) == {}


# --------------------------------------------------------------------------- the value codec
class _Pipe:
    def __init__(self):
        self.r, self.w = os.pipe()

    def close(self):
        os.close(self.r)
        os.close(self.w)


def _roundtrip(value, trusted_sender=False):
    p = _Pipe()
    try:
        sender = rpc.Endpoint(rpc.Channel(p.r, p.w), trusted=trusted_sender)
        receiver = rpc.Endpoint(rpc.Channel(p.r, p.w), trusted=not trusted_sender)
        return receiver.decode(json.loads(json.dumps(sender.encode(value))))
    finally:
        p.close()


def test_codec_round_trips_data():
    value = (torch.arange(6, dtype=torch.float64).reshape(2, 3), [1, 2.5, float("nan"), "x", None, True],
             {"a": torch.tensor([True, False])}, torch.Size([2, 3]), torch.float32, 2 ** 70)
    back = _roundtrip(value)
    assert torch.equal(back[0], value[0]) and back[0].dtype == torch.float64
    assert back[1][0] == 1 and back[1][1] == 2.5 and back[1][2] != back[1][2] and back[1][3:] == ["x", None, True]
    assert torch.equal(back[2]["a"], value[2]["a"]) and back[3] == torch.Size([2, 3])
    assert back[4] is torch.float32 and back[5] == 2 ** 70


def test_codec_keeps_objects_of_the_sandbox_as_proxies():
    class Mine:
        def __eq__(self, other):
            return True
    proxy = _roundtrip(Mine())
    assert isinstance(proxy, rpc.Remote)
    assert proxy != 1 and not (proxy == 1), "a proxy never decides a comparison"
    assert isinstance(_roundtrip(torch.nn.Identity()), torch.nn.Identity), "known torch classes pass isinstance"


def test_grader_never_unpickles_and_checks_tensor_bytes():
    p = _Pipe()
    try:
        grader = rpc.Endpoint(rpc.Channel(p.r, p.w), trusted=True)
        evil = {"$": "pickle", "b": base64.b64encode(b"cos\nsystem\n(S'true'\ntR.").decode()}
        with pytest.raises(rpc.ProtocolError, match="pickle"):
            grader.decode(evil)
        short = {"$": "T", "dtype": "float64", "shape": [4], "b": base64.b64encode(b"\0" * 8).decode()}
        with pytest.raises(rpc.ProtocolError, match="bytes"):
            grader.decode(short)
        with pytest.raises(rpc.ProtocolError, match="dtype"):
            grader.decode({"$": "T", "dtype": "object", "shape": [1], "b": ""})
    finally:
        p.close()


def test_channel_refuses_oversized_messages():
    p = _Pipe()
    try:
        ch = rpc.Channel(p.r, p.w, limit=100)
        ch.send({"x": "y" * 200})
        with pytest.raises(rpc.ProtocolError, match="limit"):
            ch.recv()
    finally:
        p.close()


# --------------------------------------------------------------------------- names, feedback, tables
LABS = ["lab1_batchnorm", "lab3_schedules"]


@pytest.mark.parametrize("rel,base,student", [
    ("subs/ali/lab1_batchnorm.ipynb", "subs", "ali"),
    ("subs/sara_lab1_batchnorm.ipynb", "subs", "sara"),
    ("subs/ali/lab1_batchnorm.ipynb", "subs/ali", "ali"),          # one student's folder graded alone
    ("subs/ali/lab1_batchnorm (1).ipynb", "subs/ali", "ali"),      # downloaded twice
    ("hub/collected/reza/lab1_batchnorm.ipynb", "hub/collected", "reza"),
    ("hub/collected/reza/lab1_batchnorm.ipynb", "hub/collected/reza", "reza"),
])
def test_identify_names_the_student_whatever_is_graded(tmp_path, rel, base, student):
    f = tmp_path / rel
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(json.dumps({"metadata": {"otter": {"assignment_name": "lab1_batchnorm"}}, "cells": []}))
    assert report.identify(f, tmp_path / base, LABS) == (student, "lab1_batchnorm")


def _row(**kw):
    row = {"student": "ali", "lab": "lab1_batchnorm", "status": "ok", "error": None, "seconds": 1.0, "file": "x",
           "cell_errors": [], "review": {}, "questions": {
               "q1": {"score": 2, "possible": 6, "cases": [
                   {"hidden": False, "points": 2, "passed": True, "message": None, "failure_message": ""},
                   {"hidden": False, "points": 1, "passed": False, "failure_message": "پیام فارسی",
                    "message": "NameError: name 'x' is not defined (cell 3, line 2) /work/main/secret/path.py"},
                   {"hidden": True, "points": 3, "passed": False, "message": None, "failure_message": ""}]}}}
    row.update(kw)
    return row


def test_feedback_first_error_first_syntax_error_named_no_paths():
    err = {"type": "SyntaxError", "msg": "invalid syntax (/tmp/x/cell.py)", "line": 4, "cell": 2}
    fb = report.feedback_markdown("ali", "lab1_batchnorm", _row(cell_errors=[err]))
    lines = [ln for ln in fb.splitlines() if ln.startswith("- ")]
    assert lines[2].startswith("- **نخستین خطا:** خطای نحوی (SyntaxError)") and "خط ۴" in lines[2]
    assert "/work/" not in fb and "/tmp/" not in fb and "پیام فارسی" in fb
    assert "آزمون پنهان ۱: رد" in fb


def test_score_tables_come_from_one_source(tmp_path):
    rows = [_row(), _row(student="sara", review={"q1": "helpers.norm.batchnorm_forward"})]
    for q in rows[1]["questions"].values():
        q["score"] = 0
    (tmp_path / "scores_lab9_old.csv").write_text("an earlier run\n")
    report.write_outputs(rows, tmp_path, homework._qkey)
    with open(tmp_path / "scores.csv", encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    assert list(table[0]) == ["student", "lab", "score", "possible", "percent", "status", "seconds", "file", "review"]
    assert [(r["student"], r["score"], r["review"]) for r in table] == [
        ("ali", "2", ""), ("sara", "0", "q1: helpers.norm.batchnorm_forward")]
    with open(tmp_path / "scores_lab1_batchnorm.csv", encoding="utf-8") as f:
        assert next(csv.reader(f)) == ["student", "q1", "score", "possible", "status", "review"]
    assert json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))[1]["review"]
    assert not (tmp_path / "scores_lab9_old.csv").exists()
    assert sorted(p.name for p in (tmp_path / "feedback").iterdir()) == ["ali__lab1_batchnorm.md",
                                                                        "sara__lab1_batchnorm.md"]


def test_screened_question_scores_zero_unless_accepted():
    row = _row(screening={"q1": "helpers.norm"})
    assert homework.apply_screening(dict(row), set())["questions"]["q1"]["score"] == 0
    row = _row(screening={"q1": "helpers.norm"})
    kept = homework.apply_screening(row, {("ali", "lab1_batchnorm", "q1")})
    assert kept["questions"]["q1"]["score"] == 2 and kept["review"] == {}


# --------------------------------------------------------------------------- bundle, tests
def _zip(files: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for k, v in files.items():
            z.writestr(k, v)
    return buf.getvalue()


OK_TEST = ("OK_FORMAT = True\ntest = {'name': 'q1', 'points': 3, 'suites': [{'cases': ["
           "{'code': '>>> assert f(1) == 2\\n', 'hidden': False, 'locked': False, 'points': 1},"
           "{'code': '>>> for _i in range(3):\\n...     assert f(_i) == _i + 1\\n', 'hidden': True, 'locked': False,"
           " 'points': 2}], 'scored': True, 'setup': '', 'teardown': '', 'type': 'doctest'}]}\n")


def test_bundle_hash_is_checked_before_use():
    data = _zip({"tests/q1.py": OK_TEST, "dlfa/grading.json": json.dumps({"prelude": [], "questions": {}})})
    spec, tests = tester.load_bundle(data, tester.sha256(data))
    assert tests["q1"]["possible"] == 3 and [c["hidden"] for c in tests["q1"]["cases"]] == [False, True]
    assert "for _i in range(3):" in tests["q1"]["cases"][1]["code"]
    with pytest.raises(tester.BundleError, match="hash"):
        tester.load_bundle(data + b"x", tester.sha256(data))


def test_private_tests_extend_or_replace_hidden_cases(tmp_path):
    test = homework._load_ok(OK_TEST)["test"]
    extra = tmp_path / "q1.py"
    extra.write_text("test = {'cases': [{'code': 'assert f(10) == 11\\nfor _k in range(2):\\n    assert f(_k)\\n',"
                     " 'points': 4}]}\n")
    merged = homework.merge_private_tests(json.loads(json.dumps(test)), extra)
    assert [c["hidden"] for c in merged["suites"][0]["cases"]] == [False, True, True] and merged["points"] == 7
    assert merged["suites"][0]["cases"][2]["code"].startswith(">>> assert f(10) == 11\n>>> for _k")
    extra.write_text(extra.read_text() + "replace = True\n")
    merged = homework.merge_private_tests(json.loads(json.dumps(test)), extra)
    assert [c["points"] for c in merged["suites"][0]["cases"]] == [1, 4] and merged["points"] == 5
    assert tester.doctest_source(merged["suites"][0]["cases"][1]["code"]).startswith("assert f(10) == 11\nfor _k")


def test_free_names_are_what_a_test_reads_but_never_binds():
    code = ("from helpers.norm import batchnorm_forward as _ref\n_x = torch.ones(3)\n"
            "assert all(f(_t) == _ref(_x) for _t in range(3))\n_g = lambda _s: cosine(_s)\n")
    assert sorted(tester.free_names(code)) == ["cosine", "f", "torch"]


@pytest.mark.slow
def test_generate_merges_private_tests_and_writes_a_working_environment(tmp_path):
    private = tmp_path / "private" / "lab3_schedules"
    private.mkdir(parents=True)
    (private / "q1.py").write_text("test = {'cases': [{'code': 'assert step_decay(0, 0.5, 3) == 0.5', 'points': 2}]}\n"
                                   "replace = True\n")
    homework.generate(["lab3_schedules"], dist=tmp_path / "dist", pages=False, private_tests=tmp_path / "private")
    bundle = tmp_path / "dist" / "lab3_schedules" / "lab3_schedules-autograder.zip"
    manifest = json.loads((tmp_path / "dist" / "manifest.json").read_text())
    assert manifest["lab3_schedules"]["bundle_sha256"] == tester.sha256(bundle.read_bytes())
    assert manifest["lab3_schedules"]["private_tests"] == str((tmp_path / "private").resolve())
    spec, tests = tester.load_bundle(bundle.read_bytes(), manifest["lab3_schedules"]["bundle_sha256"])
    q1 = tests["q1"]["cases"]
    assert [c["hidden"] for c in q1] == [False, True] and q1[1]["code"].strip() == "assert step_decay(0, 0.5, 3) == 0.5"
    assert spec["questions"]["q1"]["answers"] == ["step_decay"] and "helpers.schedules" in spec["questions"]["q1"]["forbid"]
    assert any("import torch" in c for c in spec["prelude"]) and not any("grader" in c for c in spec["prelude"])
    with zipfile.ZipFile(bundle) as z:
        env = z.read("environment.yml").decode()
        names = set(z.namelist())
    assert "python=3.11" in env and "torch==2.13.0" in env and "/autograder/source/dl_fa_helpers" in env
    assert {"dl_fa_helpers/pyproject.toml", "dl_fa_helpers/helpers/__init__.py", "dl_fa_helpers/helpers/schedules.py",
            "run_autograder", "otter_config.json"} <= names
    bundle.write_bytes(bundle.read_bytes() + b"\0")
    with pytest.raises(SystemExit, match="hash"):
        homework.ensure_bundles(["lab3_schedules"], tmp_path / "dist")


def test_private_tmp_is_mounted_before_the_course_so_a_checkout_under_tmp_stays_visible(tmp_path):
    """A CI clone under /tmp: its .venv and helpers are bound after the sandbox's private /tmp, not hidden by it."""
    from grading import sandbox

    args = sandbox.command(tmp_path / "lab1_batchnorm.ipynb", 3, 4, sandbox.Limits())
    tmpfs = args.index("--tmpfs")
    binds = [i for i, a in enumerate(args) if a == "--ro-bind"]
    assert args[tmpfs + 1] == "/tmp" and binds
    late = [args[i + 1] for i in binds if i < tmpfs and args[i + 1] not in ("/usr", "/etc/ld.so.cache")
            and not args[i + 1].startswith(("/bin", "/sbin", "/lib"))]
    assert not late, f"bound before the private /tmp (hidden if they live under /tmp): {late}"
