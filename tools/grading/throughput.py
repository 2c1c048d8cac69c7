#!/usr/bin/env python3
"""Measure grading throughput: 60 submissions (10 per lab; honest, wrong and adversarial) with -j 2.

    .venv/bin/python tools/grading/throughput.py --dist /tmp/tp-dist --work /tmp/tp [-j 2]

Per lab: the reference answers twice (honest), the deliberately wrong submissions of
tests/fixtures/labs/mutations.json (up to five), the empty handout, and adversarial ones from
tests/fixtures/grading/attacks.py (the lab's own attacks, else answers that patch the checkers).
Prints the median and total wall time, the peak memory of the whole grading process tree (the
sum of the resident memory of the grader, its children and their sandboxes, sampled every
0.5 s), the load average before and after, and checks the scores: the references get full marks,
every mutation loses points on its question, no adversarial submission gets more than it should.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tests"))


def tree_rss(pid: int) -> int:
    """Resident memory (bytes) of ``pid`` and all its descendants."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            stat = (p / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            pages = int((p / "statm").read_text().split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(p.name))
        rss[int(p.name)] = pages * os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [pid]
    while todo:
        q = todo.pop()
        total += rss.get(q, 0)
        todo += children.get(q, [])
    return total


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dist", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("-j", "--jobs", type=int, default=2)
    a = ap.parse_args()
    import homework
    import test_grading_attacks as T

    spec = importlib.util.spec_from_file_location("attacks", ROOT / "tests" / "fixtures" / "grading" / "attacks.py")
    attacks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(attacks)
    mutations = json.loads((ROOT / "tests" / "fixtures" / "labs" / "mutations.json").read_text(encoding="utf-8"))
    labs = [p.stem for p in homework.lab_sources()]
    homework.ensure_bundles(labs, a.dist)
    subs = a.work / "submissions"
    expect = {}
    for lab in labs:
        made = []
        for k in (1, 2):
            made.append((f"honest{k}", T.build(a.dist, lab, "solved", subs / f"honest{k}" / f"{lab}.ipynb"), "full"))
        for m in mutations[lab][:5]:
            nb = T.build(a.dist, lab, "solved", subs / f"wrong_{m['name']}" / f"{lab}.ipynb", replace=m["replace"])
            made.append((f"wrong_{m['name']}", nb, ("wrong", m)))
        made.append(("empty", T.build(a.dist, lab, "student", subs / "empty" / f"{lab}.ipynb"), 0))
        own = [(n, x) for n, x in attacks.ATTACKS.items() if x["lab"] == lab and n not in ("network",)]
        generic = ("import torch, math\ntorch.allclose = lambda *a, **k: True\ntorch.equal = lambda *a, **k: True\n"
                   "math.isclose = lambda *a, **k: True\n")
        while len(made) < 10:
            if own:
                n, x = own.pop(0)
                cells = [c.replace("PORT", "9") for c in x.get("cells", [])]
                nb = T.build(a.dist, lab, x["base"], subs / f"attack_{n}" / f"{lab}.ipynb", cells)
                made.append((f"attack_{n}", nb, x["deserved"]))
            else:
                k = len(made)
                nb = T.build(a.dist, lab, "student", subs / f"attack_patch{k}" / f"{lab}.ipynb", [generic])
                made.append((f"attack_patch{k}", nb, 0))
        for student, _, deserved in made:
            expect[(student, lab)] = deserved
    n = len(expect)
    load0 = os.getloadavg()
    peak = [0]
    stop = threading.Event()

    def sample():
        me = os.getpid()
        while not stop.is_set():
            peak[0] = max(peak[0], tree_rss(me))
            time.sleep(0.5)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    t0 = time.perf_counter()
    rows = homework.grade([subs], a.work / "grades", dist=a.dist, jobs=a.jobs)
    total = time.perf_counter() - t0
    stop.set()
    th.join()
    load1 = os.getloadavg()
    secs = [r["seconds"] for r in rows]
    problems = []
    for r in rows:
        score = sum(q["score"] for q in r["questions"].values())
        possible = sum(q["possible"] for q in r["questions"].values())
        want = expect.get((r["student"], r["lab"]))
        if want == "full" and score != possible:
            problems.append(f"{r['student']} {r['lab']}: {score}/{possible} ({r['status']}, {r['error']})")
        elif isinstance(want, tuple):
            m = want[1]
            for q in m["loses"]:
                if r["questions"][q]["score"] >= r["questions"][q]["possible"]:
                    problems.append(f"{r['student']} {r['lab']}: should lose on {q}")
            for q in m["keeps"]:
                if r["questions"][q]["score"] < r["questions"][q]["possible"]:
                    problems.append(f"{r['student']} {r['lab']}: should keep {q}")
        elif isinstance(want, (int, float)) and score > want:
            problems.append(f"{r['student']} {r['lab']}: {score} > deserved {want}")
    print(json.dumps({"submissions": n, "jobs": a.jobs, "total_s": round(total, 1),
                      "median_s": round(statistics.median(secs), 1), "max_s": max(secs),
                      "peak_rss_mib": round(peak[0] / 2 ** 20), "load_before": [round(x, 1) for x in load0],
                      "load_after": [round(x, 1) for x in load1], "cpus": os.cpu_count(),
                      "problems": problems}, indent=1))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
