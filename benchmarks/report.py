"""The benchmark command: build, time and check the whole course; write a Markdown report.

    .venv/bin/python -m benchmarks.report [--out benchmarks/report.md] [--tests] [--in-place] ...

What it measures, in this order (each step can be skipped, see ``--help``):

1. **The machine**: CPU model, logical cores, memory, torch, the CUDA device if any, and the
   load average before and after (the machine may be shared: wall times are then inflated,
   so every time is reported with the CPU time beside it).
2. **Cold book build**: ``jupyter-book build`` (the build step of ``make book``, warnings as
   errors) with an empty jupyter-cache, no HTML and an empty data cache (``DLFA_CACHE``, so
   MNIST-1D is generated again): every notebook in the table of contents executed. Then the
   **warm rebuild**: the same command again with nothing changed. Wall time, CPU time
   (user + system of the whole process tree) and peak memory (the largest resident set of any
   single process of the tree, from ``/usr/bin/time``). By default the build runs in a private
   copy of the working tree (tracked and untracked-but-not-ignored files, plus the generated
   browser assets), so other people's ``_build/`` is left alone; ``--in-place`` instead clears
   and rebuilds this checkout's ``_build/.jupyter_cache`` and ``_build/html``.
3. **Every notebook's execution time**: the book's notebooks from the cold build's jupyter-cache
   records (its ``execution_seconds``), with each kernel's CPU time and peak memory logged by a
   small ``sitecustomize`` hook; notebooks the book does not execute (the labs' source notebooks,
   a page not yet in the table of contents) are executed once with nbclient, timed the same way.
4. **Helpers vs PyTorch**: ``benchmarks/bench_helpers.py``'s ratios.
5. **The claims table**: ``benchmarks/claims.py`` on seeds 0-9 (recorded to ``benchmarks/results/claims/``), and a check that seed 0 gives
   exactly the numbers the freshly built book glued.
6. Optionally (``--tests``), **the full test command**'s wall and CPU time.

Budgets, printed as PASS/FAIL lines: cold build <= 300 s, warm rebuild <= 30 s, no notebook
> 45 s wall (on a quiet machine) and none > 60 s of kernel CPU time (the test suite enforces the
CPU budget too, tests/nbval_record.py). Each is judged on wall time (the budget) and, beside it, on CPU time (what
the wall time would be on an idle machine, for these single-threaded runs).
"""
from __future__ import annotations

import argparse
import math
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python benchmarks/report.py` as well as `python -m benchmarks.report`
    sys.path.insert(0, str(ROOT))
VENV_BIN = Path(sys.executable).parent
DEFAULT_OUT = ROOT / "benchmarks" / "report.md"
BUDGETS = {"cold": 300.0, "warm": 30.0, "notebook": 45.0, "notebook_cpu": 60.0}
GENERATED_ASSETS = ("_vendor", "_static/fonts")  # git-ignored, made by `make assets`, needed by the build

KERNEL_HOOK = '''\
# Written by benchmarks/report.py: logs the CPU time and peak memory of every Jupyter kernel.
import os as _os, sys as _sys
if _os.environ.get("DLFA_BENCH_KERNEL_LOG") and any("ipykernel" in a for a in getattr(_sys, "orig_argv", _sys.argv)[:4]):
    import atexit as _atexit, json as _json, resource as _resource, time as _time
    _start = _time.time()

    def _dlfa_log():
        ru = _resource.getrusage(_resource.RUSAGE_SELF)
        rec = {"pid": _os.getpid(), "start": _start, "end": _time.time(), "user": ru.ru_utime,
               "sys": ru.ru_stime, "maxrss_kb": ru.ru_maxrss, "cwd": _os.getcwd()}
        path = _os.path.join(_os.environ["DLFA_BENCH_KERNEL_LOG"], f"kernel-{_os.getpid()}.json")
        with open(path, "w") as f:
            _json.dump(rec, f)

    _atexit.register(_dlfa_log)
# then run the sitecustomize this one shadows, if there is one
import importlib.util as _u
from importlib.machinery import PathFinder as _PF
_here = _os.path.dirname(_os.path.abspath(__file__))
_next = _PF.find_spec("sitecustomize", [p for p in _sys.path if _os.path.abspath(p or ".") != _here])
if _next is not None and _next.loader is not None:
    _m = _u.module_from_spec(_next)
    _next.loader.exec_module(_m)
'''


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the machine
def machine() -> dict:
    info = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "python": platform.python_version(), "platform": platform.platform()}
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        with open("/proc/meminfo") as f:
            kb = next(int(line.split()[1]) for line in f if line.startswith("MemTotal"))
        info["memory_gib"] = kb / 2**20
    except (OSError, StopIteration):
        info["memory_gib"] = None
    import torch

    info["torch"] = torch.__version__
    info["torch_threads"] = torch.get_num_threads()
    if torch.cuda.is_available():
        info["cuda"] = ", ".join(f"{torch.cuda.get_device_name(i)}" for i in range(torch.cuda.device_count()))
        info["cuda"] += f" (CUDA {torch.version.cuda})"
    else:
        info["cuda"] = "none (torch.cuda.is_available() is False)"
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        info["commit"] = commit + (" + uncommitted changes" if dirty else "")
    except OSError:
        info["commit"] = "?"
    return info


def loadavg() -> str:
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg()) + " (1 / 5 / 15 min)"
    except OSError:
        return "?"


# --------------------------------------------------------------------------- timing commands
def timed(cmd: list[str], *, cwd, env=None, timeout=None, log_file=None) -> dict:
    """Run ``cmd``; wall, CPU (user + sys of the process tree) and peak RSS (largest process).

    Uses ``/usr/bin/time`` where it exists (its peak RSS is the command's own tree); otherwise the
    rusage of waited-for children.
    """
    import resource

    env = {**os.environ, **(env or {})}
    gnu_time = shutil.which("time", path="/usr/bin:/bin")
    with tempfile.NamedTemporaryFile("r", suffix=".time", delete=False) as tf:
        time_file = tf.name
    full = [gnu_time, "-f", "%e %U %S %M", "-o", time_file, *cmd] if gnu_time else cmd
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(full, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
        rc, out = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired:
        rc, out = f"timeout after {timeout} s", ""
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = {"cmd": " ".join(cmd), "rc": rc, "wall": wall,
              "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
              "peak_mib": after.ru_maxrss / 1024, "output": out}
    try:
        fields = Path(time_file).read_text().split()
        if gnu_time and len(fields) >= 4:
            fields = fields[-4:]
            result.update(wall=float(fields[0]), cpu=float(fields[1]) + float(fields[2]),
                          peak_mib=int(fields[3]) / 1024)
    except (OSError, ValueError):
        pass
    finally:
        Path(time_file).unlink(missing_ok=True)
    if log_file:
        Path(log_file).write_text(out, encoding="utf-8")
    return result


# --------------------------------------------------------------------------- the book build
def stage_copy(dest: Path) -> Path:
    """Copy the working tree (tracked + untracked-not-ignored files, and the generated assets) to ``dest``."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, files):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    for rel in GENERATED_ASSETS:
        src = ROOT / rel
        if not src.exists():
            raise SystemExit(f"missing {rel}: run `make assets` first")
        shutil.copytree(src, dest / rel, dirs_exist_ok=True)
    return dest


def build_book(book: Path, env: dict, label: str, logs: Path) -> dict:
    cmd = [str(VENV_BIN / "python"), str(ROOT / "tools" / "build_book.py"), str(book)]  # what `make book` runs
    log(f"{label} build of {book} ...")
    r = timed(cmd, cwd=book, env=env, timeout=3600, log_file=logs / f"build-{label}.log")
    log(f"{label} build: rc={r['rc']}, {r['wall']:.1f} s wall, {r['cpu']:.1f} s CPU")
    return r


def cache_records(book: Path) -> list[dict]:
    """jupyter-cache's records of the notebooks the build executed: uri, end time, execution seconds."""
    from jupyter_cache import get_cache

    cache = get_cache(str(book / "_build" / ".jupyter_cache"))
    recs = []
    for r in cache.list_cache_records():
        recs.append({"uri": r.uri, "created": r.created, "seconds": (r.data or {}).get("execution_seconds")})
    return sorted(recs, key=lambda r: r["created"])


def kernel_logs(folder: Path) -> list[dict]:
    recs = [json.loads(p.read_text()) for p in folder.glob("kernel-*.json")]
    return sorted(recs, key=lambda r: r["start"])


def match_kernels(records: list[dict], kernels: list[dict]) -> list[dict | None]:
    """For each cache record, the kernel that ran it: the kernel whose end is nearest the record's time.

    jupyter-cache stores naive UTC datetimes; kernels log epoch seconds.
    """
    out, free = [], list(kernels)
    for rec in records:
        created = rec["created"].replace(tzinfo=dt.timezone.utc).timestamp()
        best = min(free, key=lambda k: abs(k["end"] - created), default=None)
        if best is not None and abs(best["end"] - created) < 60:
            free.remove(best)
            out.append(best)
        else:
            out.append(None)
    return out


def notebook_in_book(book: Path) -> set[str]:
    return {str(Path(r["uri"]).resolve().relative_to(book.resolve())) for r in cache_records(book)}


def execute_extra(path: Path, env: dict, kernel_log: Path) -> dict:
    """Execute one notebook with nbclient (fresh kernel, cwd = its folder); wall, CPU, peak memory."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    old_env = dict(os.environ)
    os.environ.update(env)
    before = {p.name for p in kernel_log.glob("kernel-*.json")}
    t0 = time.perf_counter()
    error = None
    try:
        NotebookClient(nb, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    except Exception as err:  # a failing lab is reported, not fatal
        error = f"{type(err).__name__}: {str(err).splitlines()[-1] if str(err) else ''}"[:200]
    finally:
        os.environ.clear()
        os.environ.update(old_env)
    wall = time.perf_counter() - t0
    time.sleep(0.5)
    new = [p for p in kernel_log.glob("kernel-*.json") if p.name not in before]
    k = json.loads(new[0].read_text()) if new else None
    return {"wall": wall, "cpu": None if k is None else k["user"] + k["sys"],
            "peak_mib": None if k is None else k["maxrss_kb"] / 1024, "error": error}


# --------------------------------------------------------------------------- formatting
def fmt_s(x) -> str:
    return "–" if x is None else f"{x:.1f} s"


def fmt_mib(x) -> str:
    return "–" if x is None else f"{x:.0f} MiB"


def verdict(value, budget) -> str:
    return "–" if value is None else ("PASS" if value <= budget else "FAIL")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the report (default: %(default)s)")
    p.add_argument("--in-place", action="store_true",
                   help="build this checkout (clears its _build/.jupyter_cache and _build/html) instead of a private copy")
    p.add_argument("--skip-build", action="store_true", help="no book build (and no notebook table from it)")
    p.add_argument("--skip-extra", action="store_true", help="do not execute the notebooks the book does not execute")
    p.add_argument("--skip-helpers", action="store_true", help="no helpers-vs-PyTorch benchmark")
    p.add_argument("--skip-claims", action="store_true", help="no claims table")
    p.add_argument("--seeds", type=int, nargs="+", default=list(range(10)),
                   help="claims seeds (default: 0-9, recorded to benchmarks/results/claims/ for the book to glue)")
    p.add_argument("--no-record", action="store_true", help="do not write the claims record")
    p.add_argument("--repeats", type=int, default=15, help="timed runs per helpers case")
    p.add_argument("--tests", action="store_true", help="also time the full test command (long)")
    p.add_argument("--test-cmd", default=f"{VENV_BIN / 'python'} -m pytest",
                   help="the test command to time with --tests (default: %(default)s)")
    p.add_argument("--keep", action="store_true", help="keep the private build copy (its path is logged)")
    args = p.parse_args(argv)

    started = dt.datetime.now(dt.timezone.utc)
    info = machine()
    load_before = loadavg()
    log(f"machine: {info['cpu']}, {info['cores']} cores; load {load_before}")
    work = Path(tempfile.mkdtemp(prefix="dlfa-bench-"))
    logs = work / "logs"
    logs.mkdir()
    hook = work / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(KERNEL_HOOK, encoding="utf-8")
    klog_cold, klog_warm, klog_extra = (work / n for n in ("kernels-cold", "kernels-warm", "kernels-extra"))
    for d in (klog_cold, klog_warm, klog_extra):
        d.mkdir()
    data_cache = work / "data-cache"
    base_env = {"DLFA_QUIET": "1", "DLFA_CACHE": str(data_cache),
                "PYTHONPATH": str(hook) + (os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else "")}

    sections, budget_lines = [], []
    cold = warm = None
    nb_rows = []
    glued = {}

    # ---- book build
    if not args.skip_build:
        if args.in_place:
            book = ROOT
            for rel in ("_build/.jupyter_cache", "_build/html", "_build/jupyter_execute"):
                shutil.rmtree(ROOT / rel, ignore_errors=True)
        else:
            book = stage_copy(work / "book")
        cold = build_book(book, {**base_env, "DLFA_BENCH_KERNEL_LOG": str(klog_cold)}, "cold", logs)
        warm = build_book(book, {**base_env, "DLFA_BENCH_KERNEL_LOG": str(klog_warm)}, "warm", logs)
        records = cache_records(book)
        kernels = match_kernels(records, kernel_logs(klog_cold))
        for rec, k in zip(records, kernels):
            nb_rows.append({"notebook": str(Path(rec["uri"]).resolve().relative_to(book.resolve())),
                            "how": "book build (jupyter-cache)", "wall": rec["seconds"],
                            "cpu": None if k is None else k["user"] + k["sys"],
                            "peak_mib": None if k is None else k["maxrss_kb"] / 1024, "error": None})
        from benchmarks.claims import load_glued

        glued = load_glued(book / "_build" / "jupyter_execute")
        warm_kernels = len(list(klog_warm.glob("kernel-*.json")))

        # ---- notebooks the book does not execute
        if not args.skip_extra:
            in_book = {r["notebook"] for r in nb_rows}
            candidates = sorted(ROOT.glob("*.ipynb")) + sorted((ROOT / "labs" / "source").glob("*.ipynb"))
            for path in candidates:
                rel = str(path.relative_to(ROOT))
                if rel in in_book or ".ipynb_checkpoints" in rel:
                    continue
                log(f"executing {rel} with nbclient ...")
                src = book / rel if (book / rel).exists() else path
                r = execute_extra(src, {**base_env, "DLFA_BENCH_KERNEL_LOG": str(klog_extra)}, klog_extra)
                nb_rows.append({"notebook": rel, "how": "nbclient (not in the book's table of contents)", **r})
                log(f"{rel}: {r['wall']:.1f} s wall, {fmt_s(r['cpu'])} CPU{'; ' + r['error'] if r['error'] else ''}")

    # ---- helpers vs PyTorch
    helpers_md = None
    if not args.skip_helpers:
        log("helpers vs PyTorch ...")
        from benchmarks.bench_helpers import run_benchmarks, to_markdown

        helpers_md = to_markdown(run_benchmarks(repeats=args.repeats))

    # ---- claims
    claims_md, claims_rows, claim_times, mismatches = None, [], {}, None
    if not args.skip_claims:
        from benchmarks import claims as C

        log(f"claims on seeds {args.seeds} ...")
        t0, c0 = time.perf_counter(), time.process_time()
        prints = {c.name: C.fingerprint(c) for c in C.CLAIMS}  # before the runs (see claims.record)
        claims_rows = C.evaluate(args.seeds, progress=lambda s: log("claim " + s))
        claims_wall, claims_cpu = time.perf_counter() - t0, time.process_time() - c0
        claims_md = C.to_markdown(claims_rows)
        if not args.no_record:
            for path in C.record(claims_rows, fingerprints=prints):
                log(f"recorded {path}")
        claim_times = C.experiment_times()
        if glued and 0 in args.seeds:
            mismatches = C.book_mismatches(claims_rows, glued)

    # ---- the test command
    tests = None
    if args.tests:
        log(f"test command: {args.test_cmd} ...")
        tests = timed(["bash", "-c", args.test_cmd], cwd=ROOT, env={"DLFA_QUIET": "1"}, timeout=7200,
                      log_file=logs / "tests.log")
        log(f"tests: rc={tests['rc']}, {tests['wall']:.1f} s wall, {tests['cpu']:.1f} s CPU")

    load_after = loadavg()

    # ---- budgets
    if cold is not None:
        budget_lines.append(f"{verdict(cold['wall'], BUDGETS['cold'])}  cold book build <= {BUDGETS['cold']:.0f} s: "
                            f"{cold['wall']:.1f} s wall ({cold['cpu']:.1f} s CPU: "
                            f"{verdict(cold['cpu'], BUDGETS['cold'])} by CPU time); exit code {cold['rc']}")
        budget_lines.append(f"{verdict(warm['wall'], BUDGETS['warm'])}  warm rebuild <= {BUDGETS['warm']:.0f} s: "
                            f"{warm['wall']:.1f} s wall ({warm['cpu']:.1f} s CPU: "
                            f"{verdict(warm['cpu'], BUDGETS['warm'])} by CPU time); exit code {warm['rc']}")
    if nb_rows:
        walls = [r for r in nb_rows if r["wall"] is not None]
        worst = max(walls, key=lambda r: r["wall"])
        over = [r["notebook"] for r in walls if r["wall"] > BUDGETS["notebook"]]
        cpus = [r for r in nb_rows if r["cpu"] is not None]
        worst_cpu = max(cpus, key=lambda r: r["cpu"]) if cpus else None
        over_cpu = [r["notebook"] for r in cpus if r["cpu"] > BUDGETS["notebook_cpu"]]
        budget_lines.append(
            f"{'FAIL' if over else 'PASS'}  no notebook > {BUDGETS['notebook']:.0f} s: slowest {worst['notebook']} "
            f"{worst['wall']:.1f} s wall" + (f" (over: {', '.join(over)})" if over else "")
            + (f"; <= {BUDGETS['notebook_cpu']:.0f} s CPU: {'FAIL' if over_cpu else 'PASS'}, slowest {worst_cpu['notebook']} {worst_cpu['cpu']:.1f} s CPU"
               if worst_cpu else ""))
        failed = [r["notebook"] for r in nb_rows if r.get("error")]
        if failed:
            budget_lines.append(f"FAIL  notebooks that raised: {', '.join(failed)}")
    if claims_rows:
        need = math.ceil(0.8 * len(args.seeds))
        weak = [f"{r['claim']} ({sum(r['held'].values())}/{len(args.seeds)})" for r in claims_rows
                if sum(r["held"].values()) < need]
        budget_lines.append(f"{'FAIL' if weak else 'PASS'}  every claim held on at least {need} of the seeds {args.seeds}"
                            + (f" (not: {', '.join(weak)})" if weak else f" ({len(claims_rows)} claims)"))
    if mismatches is not None:
        budget_lines.append(f"{'FAIL' if mismatches else 'PASS'}  claims on seed 0 equal the numbers the book glued"
                            + (f": {'; '.join(mismatches)}" if mismatches else ""))
    if tests is not None:
        budget_lines.append(f"{'PASS' if tests['rc'] == 0 else 'FAIL'}  test command exit code {tests['rc']}")

    # ---- the report
    lines = ["# Benchmark report", "",
             f"Made {started:%Y-%m-%d %H:%M} UTC by `python -m benchmarks.report` at commit {info['commit']}.", "",
             "## Machine", "",
             f"- CPU: {info['cpu']}, {info['cores']} logical cores; memory {info['memory_gib']:.1f} GiB"
             if info.get("memory_gib") else f"- CPU: {info['cpu']}, {info['cores']} logical cores",
             f"- CUDA device: {info['cuda']}",
             f"- Python {info['python']}, torch {info['torch']} ({info['torch_threads']} threads by default); {info['platform']}",
             f"- load average before: {load_before}; after: {load_after}. Other processes share this machine when the "
             "load is above zero before the run: wall times are then inflated, and the CPU time beside each is the "
             "better estimate of an idle machine's time for these single-threaded runs.", "",
             "## Budgets", "", "```", *budget_lines, "```", ""]
    if cold is not None:
        lines += ["## Book build", "",
                  f"`jupyter-book build <book> --builder html --warningiserror --keep-going` "
                  f"({'this checkout' if args.in_place else 'a private copy of the working tree'}; "
                  "cold: empty jupyter-cache, no HTML, empty data cache `DLFA_CACHE`; warm: the same command again).", "",
                  "| build | wall | CPU (user + sys) | peak memory (largest process) | exit code |",
                  "|---|---:|---:|---:|---:|",
                  f"| cold | {fmt_s(cold['wall'])} | {fmt_s(cold['cpu'])} | {fmt_mib(cold['peak_mib'])} | {cold['rc']} |",
                  f"| warm | {fmt_s(warm['wall'])} | {fmt_s(warm['cpu'])} | {fmt_mib(warm['peak_mib'])} | {warm['rc']} |",
                  "", f"The warm rebuild started {warm_kernels} kernel(s) (0 = every notebook came from the cache).", ""]
    if nb_rows:
        lines += ["## Notebooks", "",
                  "Wall time: jupyter-cache's `execution_seconds` for the book's notebooks (cold build), nbclient's "
                  "for the others. CPU time and peak memory: the kernel's own (logged when it exits).", "",
                  "| notebook | executed by | wall | kernel CPU | kernel peak memory | budget (45 s wall) |",
                  "|---|---|---:|---:|---:|---|"]
        for r in nb_rows:
            status = "raised: " + r["error"] if r.get("error") else verdict(r["wall"], BUDGETS["notebook"])
            lines.append(f"| {r['notebook']} | {r['how']} | {fmt_s(r['wall'])} | {fmt_s(r['cpu'])} | "
                         f"{fmt_mib(r['peak_mib'])} | {status} |")
        total_wall = sum(r["wall"] or 0 for r in nb_rows)
        cpus = [r["cpu"] for r in nb_rows if r["cpu"] is not None]
        total_cpu = fmt_s(sum(cpus)) + ("" if len(cpus) == len(nb_rows) else f" ({len(cpus)} of {len(nb_rows)})")
        lines += [f"| **total** | | {total_wall:.1f} s | {total_cpu if cpus else '–'} | | |", ""]
    if helpers_md:
        lines += ["## Helpers vs PyTorch (CPU, float32)", "",
                  f"Median of {args.repeats} interleaved runs after 3 warm-up runs (`benchmarks/bench_helpers.py`).", "",
                  helpers_md, ""]
    if claims_md:
        lines += ["## Claims", "",
                  f"Each claim's figures of merit on seeds {', '.join(map(str, args.seeds))}, computed by the chapter's own "
                  "experiment function with the notebook's own arguments (`benchmarks/claims.py`); `held` = its "
                  "criterion was met on that seed. `tests/test_claims.py` fails when any claim fails on any seed.", "",
                  claims_md, "",
                  f"Claims: {claims_wall:.1f} s wall, {claims_cpu:.1f} s CPU for {len(args.seeds)} seeds. Per experiment "
                  "and seed (wall / CPU):", ""]
        names = sorted({n for n, _ in claim_times})
        lines += ["| experiment | " + " | ".join(f"seed {s}" for s in args.seeds) + " |",
                  "|---|" + "---:|" * len(args.seeds)]
        for n in names:
            lines.append(f"| {n} | " + " | ".join(
                f"{claim_times[(n, s)][0]:.1f} / {claim_times[(n, s)][1]:.1f} s" if (n, s) in claim_times else "–"
                for s in args.seeds) + " |")
        lines.append("")
    if tests is not None:
        tail = [l for l in tests["output"].strip().splitlines() if l.strip()][-1:] or ["(no output)"]
        lines += ["## Test command", "", f"`{args.test_cmd}`: {fmt_s(tests['wall'])} wall, {fmt_s(tests['cpu'])} CPU, "
                  f"peak {fmt_mib(tests['peak_mib'])}, exit code {tests['rc']}.", "", "```", tail[0], "```", ""]
    lines += [f"Logs of this run: `{logs}`."]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    log(f"report written to {args.out}")
    print(args.out)
    print("\n".join(budget_lines))
    if not args.keep and not args.in_place:
        shutil.rmtree(work / "book", ignore_errors=True)
    elif not args.in_place:
        log(f"private build kept at {work / 'book'}")
    ok = all(not l.startswith("FAIL") for l in budget_lines)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
