"""pytest plugin: two more checks per notebook, from the nbval run that already happens.

nbval executes every notebook on a fresh kernel (one pytest item per code cell). After a
notebook's last cell, still in the same kernel, this plugin appends:

- ``[cpu budget]``: the kernel's CPU time (user + system, its children included) is at most
  ``NOTEBOOK_CPU_BUDGET`` seconds on the reference machine (the 2-core AMD EPYC the book is
  developed on). CPU time, not wall time, so a busy machine does not fail it. On a slower CPU the
  budget scales with a calibration: a fixed tiny-MLP training loop (the notebooks' kind of work,
  one thread) is timed in this process and compared with its time on the reference machine; the
  factor is never below 1. The check still catches a notebook that grew; how fast the book is on
  another CPU is the benchmark report's business. Every notebook's figures are also written to
  ``_build/notebook-times.json`` for the report.
- ``[same numbers as the book]`` (notebooks the book executes): every number it glued equals
  the number the book build glued (``_build/jupyter_execute/*.glue.json``), timing keys (``_time_``)
  excepted. Two executions on fresh kernels that already happen - the book's and nbval's -
  give the determinism check; no third run is needed. The book is built (or checked, if
  already built) first through ``tests/book_build.py``, the same path the site tests use.

Loaded with ``-p tests.nbval_record`` (pyproject's addopts); inert when no notebook is collected.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_CPU_BUDGET = 60.0  # s of kernel CPU time per notebook on the reference machine
REFERENCE_CALIBRATION_S = 0.30  # _calibration_seconds() on the reference machine (AMD EPYC, family 25, model 17)
TIMES_FILE = ROOT / "_build" / "notebook-times.json"
NOT_RUN_BY_NBVAL = ("labs/student/",)  # collected only if someone points pytest at them
NOT_EXECUTED_BY_THE_BOOK = ("labs/",)  # labs/source is run by nbval only; the book shows labs/student unexecuted


def _is_nbval_file(node) -> bool:
    return type(node).__name__ == "IPyNbFile"


def glued_from_outputs(outputs) -> dict:
    """{glue key: text/plain} of a list of cell outputs (myst_nb's scrapbook records)."""
    glued = {}
    for output in outputs or []:
        record = (output.get("metadata") or {}).get("scrapbook", {})
        if record.get("name"):
            data = output.get("data") or {}  # glue(..., display=False) prefixes the mime types
            glued[record["name"]] = data.get(record.get("mime_prefix", "") + "text/plain", data.get("text/plain"))
    return glued


def _kernel_cpu_seconds(nb_file) -> float | None:
    import psutil

    kernel = getattr(nb_file, "kernel", None)
    km = getattr(kernel, "km", None)
    process = getattr(getattr(km, "provisioner", None), "process", None)
    if process is None:
        return None
    t = psutil.Process(process.pid).cpu_times()
    return t.user + t.system + t.children_user + t.children_system


class NotebookCheck(pytest.Item):
    """An item appended after a notebook's cells (same parent, so it runs before the kernel stops)."""

    def __init__(self, *, check, **kw):
        super().__init__(**kw)
        self.check = check

    def runtest(self):
        self.check(self.parent)

    def reportinfo(self):
        return self.path, 0, f"{self.path.relative_to(ROOT)}::{self.name}"

    def repr_failure(self, excinfo, style=None):
        return str(excinfo.value)


def _calibration_seconds(steps: int = 150) -> float:
    """CPU seconds of a fixed workload like the notebooks' (a ten-layer BN/ReLU MLP, batch 60, SGD), one thread."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        g = torch.Generator().manual_seed(0)
        layers = []
        for _ in range(10):
            layers += [torch.nn.Linear(64, 64), torch.nn.BatchNorm1d(64), torch.nn.ReLU()]
        model = torch.nn.Sequential(*layers, torch.nn.Linear(64, 10))
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        x, y = torch.randn(60, 64, generator=g), torch.randint(0, 10, (60,), generator=g)
        start = time.process_time()
        for _ in range(steps):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        return time.process_time() - start
    finally:
        torch.set_num_threads(before)


_FACTOR: list[float] = []


def machine_factor() -> float:
    """How much slower this CPU is than the reference machine on the calibration (>= 1; best of three)."""
    if not _FACTOR:
        _FACTOR.append(max(1.0, min(_calibration_seconds() for _ in range(3)) / REFERENCE_CALIBRATION_S))
    return _FACTOR[0]


def _check_cpu(nb_file):
    cpu = _kernel_cpu_seconds(nb_file)
    wall = time.perf_counter() - nb_file._dlfa_started if hasattr(nb_file, "_dlfa_started") else None
    from filelock import FileLock

    rel = str(Path(nb_file.path).relative_to(ROOT))
    TIMES_FILE.parent.mkdir(exist_ok=True)
    with FileLock(str(TIMES_FILE) + ".lock"):  # xdist workers write the same file
        times = json.loads(TIMES_FILE.read_text()) if TIMES_FILE.is_file() else {}
        times[rel] = {"cpu": cpu, "wall": wall}
        TIMES_FILE.write_text(json.dumps(times, indent=1, sort_keys=True))
    if cpu is None:
        raise AssertionError(f"{rel}: could not read the kernel's CPU time")
    factor = machine_factor()
    budget = NOTEBOOK_CPU_BUDGET * factor
    if cpu > budget:
        over = sorted((k, v["cpu"]) for k, v in times.items() if v.get("cpu") and v["cpu"] > budget)
        raise AssertionError(f"{rel}: {cpu:.1f} s of kernel CPU time > the budget of {budget:.0f} s "
                             f"({NOTEBOOK_CPU_BUDGET:.0f} s on the reference machine x {factor:.2f}, this CPU's "
                             f"calibration factor). Notebooks over budget so far: "
                             + ", ".join(f"{k} {v:.1f} s" for k, v in over))


def _check_same_as_book(nb_file):
    from tests.book_build import build_book_once  # this plugin is loaded as tests.nbval_record

    html_dir, _ = build_book_once()
    rel = Path(nb_file.path).relative_to(ROOT)
    glue_file = (html_dir.parent / "jupyter_execute" / rel).with_suffix(".glue.json")  # myst-nb's glue records
    assert glue_file.is_file(), f"{rel}: the book build wrote no glue records at {glue_file}"
    book = glued_from_outputs(json.loads(glue_file.read_text(encoding="utf-8")).values())
    fresh = getattr(nb_file, "_dlfa_glued", {})
    book = {k: v for k, v in book.items() if "_time_" not in k}
    fresh = {k: v for k, v in fresh.items() if "_time_" not in k}
    differ = {k: (book.get(k), fresh.get(k)) for k in book.keys() | fresh.keys() if book.get(k) != fresh.get(k)}
    assert not differ, (f"{rel}: {len(differ)} glued number(s) differ between the book build and a fresh kernel "
                        f"(book, fresh): {dict(sorted(differ.items())[:10])}. Either an experiment is not "
                        f"deterministic, or the book's execution cache predates a change (tools/build_book.py "
                        f"clears it when helpers/ changes).")


def pytest_collection_modifyitems(session, config, items):
    last_index = {}
    for i, item in enumerate(items):
        if _is_nbval_file(item.parent):
            last_index[item.parent] = i
    for nb_file, i in sorted(last_index.items(), key=lambda kv: -kv[1]):
        rel = str(Path(nb_file.path).relative_to(ROOT))
        if any(rel.startswith(p) for p in NOT_RUN_BY_NBVAL):
            continue
        extra = [NotebookCheck.from_parent(nb_file, name="[cpu budget]", check=_check_cpu)]
        if not any(rel.startswith(p) for p in NOT_EXECUTED_BY_THE_BOOK) and "glue(" in Path(
                nb_file.path).read_text(encoding="utf-8"):
            extra.append(NotebookCheck.from_parent(nb_file, name="[same numbers as the book]",
                                                   check=_check_same_as_book))
        items[i + 1:i + 1] = extra


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    nb_file = item.parent
    if _is_nbval_file(nb_file) and not hasattr(nb_file, "_dlfa_started"):
        nb_file._dlfa_started = time.perf_counter()
    outcome = yield
    if _is_nbval_file(nb_file) and type(item).__name__ == "IPyNbCell":
        glued = getattr(nb_file, "_dlfa_glued", None)
        if glued is None:
            glued = nb_file._dlfa_glued = {}
        glued.update(glued_from_outputs(getattr(item, "test_outputs", None)))
    return outcome
