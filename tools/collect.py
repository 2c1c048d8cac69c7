#!/usr/bin/env python3
"""Collect a lab's submissions from a class hub, apply the late policy, grade, export for Moodle.

    .venv/bin/python tools/collect.py SOURCE --lab lab1_batchnorm --deadline 2026-12-10T23:59:00+03:30 \\
        --out collected/lab1 [--pattern "{student}/submit/{lab}.ipynb"] [-j 2] [--roster roster.csv]

``SOURCE`` is the folder that holds the students' files: the hub's user storage (The Littlest
JupyterHub: ``/home``, with ``--pattern "jupyter-{student}/submit/{lab}.ipynb"``; Zero to
JupyterHub: the shared submissions volume mounted in the instructor's server, with
``--pattern "{student}/{lab}.ipynb"``) or any folder students' notebooks were copied into.
``--pattern`` says where one student's notebook is, relative to ``SOURCE``; ``{student}`` is one
folder or file-name part, ``{lab}`` the lab's name.

What it does, in order:

1. **collect**: every file matching the pattern is validated (a readable notebook) and copied,
   with its modification time, to ``OUT/submissions/<student>/<lab>.ipynb``;
2. **timestamp**: the submission time is the file's modification time on the hub's storage,
   except that, with ``--previous OUT_OF_AN_EARLIER_RUN/manifest.csv``, a file whose content is
   unchanged since that run keeps that run's submission time, and a changed or new file can be no
   earlier than that run's collection time (a student cannot back-date a file with ``touch``
   past a collection: run the command once at the deadline, again after the late window);
3. **late policy** (``LATE_POLICY`` below; numbers set by ``--grace-minutes``, ``--penalty-per-day``,
   ``--max-late-days``): up to ``grace`` minutes after the deadline is on time; after that each
   started 24 hours costs ``penalty`` % of the earned grade; after ``max-late-days`` days the
   grade is 0 (the notebook is still graded, so the student gets feedback);
4. **grade**: ``tools/homework.py grade OUT/submissions --out OUT/grades -j N`` (the sandboxed
   grader; one fresh kernel per submission), then reads its ``scores.csv``;
5. **export**: ``OUT/manifest.csv`` (what was collected, when, its SHA-256), ``OUT/gradebook.csv``
   (every column: raw percent, penalty, final grade, status) and ``OUT/moodle.csv``, the format of
   Moodle's *Import grades → CSV file*: UTF-8, comma-separated, one header row, one column that
   identifies the user (mapped in Moodle's import form to *username*, *ID number* or *email
   address*), one grade column named after the grade item and its feedback column.

Exit status: 0 when every collected submission got a grade row, 1 otherwise, 2 on bad arguments.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOMEWORK = ROOT / "tools" / "homework.py"
SCORE_COLUMNS = ["student", "lab", "score", "possible", "percent", "status", "seconds", "file"]
# Moodle's grade import maps one CSV column to one of these user fields ("Map to": userid,
# username, useridnumber, useremail); the column's header is ours to choose.
MOODLE_ID_FIELDS = {"username": "Username", "userid": "User id", "idnumber": "ID number", "email": "Email address"}

LATE_POLICY = """\
Late policy: a submission up to GRACE minutes after the deadline is on time. After that, each
started 24 hours costs PENALTY % of the grade the notebook earned (1 minute late = 1 day). After
MAX_DAYS days the grade is 0, but the notebook is still graded so that the student gets feedback.
A student with no submission gets no grade (or 0 when a roster is given: see --roster)."""


class CollectError(Exception):
    """Bad input: reported as one clear line, exit status 2."""


# --------------------------------------------------------------------------- policy
@dataclass(frozen=True)
class Policy:
    deadline: datetime
    grace_minutes: float = 15
    penalty_per_day: float = 10
    max_late_days: int = 3

    def __post_init__(self):
        if self.deadline.tzinfo is None:
            raise CollectError("the deadline needs a time zone, e.g. 2026-12-10T23:59:00+03:30 (Tehran)")
        if self.grace_minutes < 0 or self.max_late_days < 0 or not 0 <= self.penalty_per_day <= 100:
            raise CollectError("grace and late days must be >= 0 and the penalty between 0 and 100 %")

    def late_days(self, submitted: datetime) -> int:
        """0 when on time, else the number of started 24-hour periods after the deadline."""
        late = submitted - self.deadline
        if late <= timedelta(minutes=self.grace_minutes):
            return 0
        return max(1, math.ceil(late / timedelta(days=1)))

    def penalty(self, submitted: datetime) -> tuple[int, float, bool]:
        """(late days, penalty in % of the earned grade, too late to count)."""
        days = self.late_days(submitted)
        if days > self.max_late_days:
            return days, 100.0, True
        return days, float(min(100.0, days * self.penalty_per_day)), False


def parse_time(text: str) -> datetime:
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise CollectError(f"not an ISO 8601 time: {text!r} (e.g. 2026-12-10T23:59:00+03:30)") from None
    return t


# --------------------------------------------------------------------------- finding submissions
def pattern_regex(pattern: str, lab: str) -> tuple[str, re.Pattern]:
    if pattern.count("{student}") != 1:
        raise CollectError(f"--pattern must contain {{student}} exactly once, got {pattern!r}")
    if pattern.startswith("/") or ".." in Path(pattern).parts:
        raise CollectError(f"--pattern is relative to SOURCE and may not leave it: {pattern!r}")
    glob = pattern.replace("{student}", "*").replace("{lab}", lab)
    rx = re.escape(pattern).replace(re.escape("{student}"), r"(?P<student>[^/]+)").replace(re.escape("{lab}"),
                                                                                           re.escape(lab))
    return glob, re.compile(rx + r"\Z")


def find_submissions(source: Path, pattern: str, lab: str, strip_prefix: str = "") -> dict[str, Path]:
    if not source.is_dir():
        raise CollectError(f"SOURCE is not a folder: {source}")
    glob, rx = pattern_regex(pattern, lab)
    found: dict[str, Path] = {}
    for path in sorted(source.glob(glob)):
        m = rx.match(path.relative_to(source).as_posix())
        if not m or not path.is_file():
            continue
        student = m.group("student")
        if strip_prefix and student.startswith(strip_prefix):
            student = student[len(strip_prefix):]
        if not student or student.startswith("."):
            continue
        if student in found:
            raise CollectError(f"two files for student {student!r}: {found[student]} and {path}")
        found[student] = path
    return found


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def readable_notebook(path: Path) -> str | None:
    """None when ``path`` is a notebook the grader can open, else why not."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        return f"not a notebook (invalid JSON: {e.__class__.__name__})"
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list) or nb.get("nbformat") != 4:
        return "not a Jupyter notebook (nbformat 4)"
    return None


def read_manifest(path: Path) -> dict[tuple[str, str], dict]:
    if not path.exists():
        raise CollectError(f"--previous manifest not found: {path}")
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    need = {"student", "lab", "submitted_at", "collected_at", "sha256"}
    if rows and not need <= set(rows[0]):
        raise CollectError(f"{path} is not a manifest written by this command (columns {sorted(need)})")
    return {(r["student"], r["lab"]): r for r in rows}


# --------------------------------------------------------------------------- grading
def run_grader(submissions: Path, out: Path, jobs: int, dist: Path | None, extra: list[str]) -> Path:
    cmd = [sys.executable, str(HOMEWORK), "grade", str(submissions), "--out", str(out), "-j", str(jobs)]
    if dist is not None:
        cmd += ["--dist", str(dist)]
    cmd += extra
    print("grading:", " ".join(cmd), flush=True)
    res = subprocess.run(cmd, cwd=ROOT)
    scores = out / "scores.csv"
    if res.returncode != 0 and not scores.exists():
        raise SystemExit(f"the grader failed (exit {res.returncode}) and wrote no {scores}")
    if not scores.exists():
        raise SystemExit(f"the grader wrote no {scores}")
    return scores


def read_scores(path: Path) -> dict[str, dict]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in SCORE_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise SystemExit(f"{path}: the grader's table lacks column(s) {', '.join(missing)} "
                             f"(expected {', '.join(SCORE_COLUMNS)})")
        rows = {}
        for r in reader:
            try:
                r["percent"] = float(r["percent"])
            except ValueError:
                raise SystemExit(f"{path}: percent {r['percent']!r} of {r['student']} is not a number") from None
            rows[r["student"]] = r
    return rows


# --------------------------------------------------------------------------- main
def read_roster(path: Path) -> dict[str, dict]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if "student" not in (reader.fieldnames or []):
            raise CollectError(f"{path}: the roster needs a 'student' column (the hub user name); "
                               "optional: username, idnumber, email (the Moodle account)")
        return {r["student"].strip(): r for r in reader if r["student"].strip()}


def fmt(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat(timespec="seconds")


def collect(args) -> int:
    policy = Policy(parse_time(args.deadline), args.grace_minutes, args.penalty_per_day, args.max_late_days)
    if args.max_grade <= 0:
        raise CollectError("--max-grade must be positive")
    roster = read_roster(args.roster) if args.roster else {}
    previous = read_manifest(args.previous) if args.previous else {}
    found = find_submissions(args.source, args.pattern, args.lab, args.strip_prefix)
    if roster:
        unknown = sorted(set(found) - set(roster))
        if unknown:
            print(f"warning: not on the roster, collected anyway: {', '.join(unknown)}", file=sys.stderr)
    now = datetime.now(timezone.utc)
    out: Path = args.out
    subs = out / "submissions"
    if subs.exists():
        shutil.rmtree(subs)
    subs.mkdir(parents=True)

    manifest = []
    for student, path in sorted(found.items()):
        problem = readable_notebook(path)
        digest = sha256(path)
        mtime = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
        prev = previous.get((student, args.lab))
        if prev and prev["sha256"] == digest:
            submitted = parse_time(prev["submitted_at"])
        elif previous:
            floor = min(parse_time(r["collected_at"]) for r in previous.values())
            submitted = max(mtime, floor)
        else:
            submitted = mtime
        days, penalty, too_late = policy.penalty(submitted)
        row = {"student": student, "lab": args.lab, "submitted_at": fmt(submitted), "collected_at": fmt(now),
               "late_days": days, "penalty_percent": penalty, "too_late": int(too_late), "sha256": digest,
               "source": str(path), "problem": problem or ""}
        if problem is None:
            dst = subs / student / f"{args.lab}.ipynb"
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dst)
        manifest.append(row)
    with open(out / "manifest.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(manifest[0]) if manifest else
                           ["student", "lab", "submitted_at", "collected_at", "sha256"])
        w.writeheader()
        w.writerows(manifest)
    print(f"collected {sum(1 for m in manifest if not m['problem'])} notebook(s) of {args.lab} from {args.source} "
          f"({sum(1 for m in manifest if m['late_days'])} late, "
          f"{sum(1 for m in manifest if m['problem'])} unreadable)", flush=True)

    scores = {}
    if any(not m["problem"] for m in manifest) and not args.no_grade:
        extra = [f"--timeout={args.timeout}"] if args.timeout else []
        scores = read_scores(run_grader(subs, out / "grades", args.jobs, args.dist, extra))

    book, ungraded = [], []
    for m in manifest:
        s = scores.get(m["student"])
        if m["problem"]:
            status, raw = "unreadable", 0.0
        elif s is None:
            status, raw = ("not graded" if not args.no_grade else "collected"), None
            if not args.no_grade:
                ungraded.append(m["student"])
        else:
            status, raw = s["status"], s["percent"]
        final = None if raw is None else round(raw * (1 - m["penalty_percent"] / 100), 2)
        if m["too_late"]:
            status = f"{status}; too late"
        book.append({**{k: m[k] for k in ("student", "lab", "submitted_at", "late_days", "penalty_percent")},
                     "raw_percent": raw, "final_percent": final, "status": status})
    for student in sorted(set(roster) - set(found)):
        book.append({"student": student, "lab": args.lab, "submitted_at": "", "late_days": "", "penalty_percent": "",
                     "raw_percent": None, "final_percent": 0.0, "status": "missing"})
    with open(out / "gradebook.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["student", "lab", "submitted_at", "late_days", "penalty_percent",
                                          "raw_percent", "final_percent", "status"])
        w.writeheader()
        w.writerows(book)
    write_moodle(out / "moodle.csv", book, roster, args)
    print(f"wrote {out / 'gradebook.csv'} and {out / 'moodle.csv'} ({len(book)} students)")
    if ungraded:
        print(f"error: the grader returned no row for: {', '.join(ungraded)}", file=sys.stderr)
        return 1
    return 0


def feedback_text(row: dict) -> str:
    if row["status"] == "missing":
        return "تحویل داده نشد"
    parts = [f"نمرهٔ خودکار: {row['raw_percent']}٪"] if row["raw_percent"] is not None else []
    if row["late_days"]:
        parts.append(f"{row['late_days']} روز تأخیر، {row['penalty_percent']:g}٪ کسر")
    if "too late" in row["status"]:
        parts.append("پس از مهلت تأخیر: صفر")
    if row["status"].startswith(("timeout", "error", "unreadable")):
        parts.append(f"وضعیت: {row['status']}")
    return "؛ ".join(parts)


def write_moodle(path: Path, book: list[dict], roster: dict, args) -> None:
    field = args.moodle_id
    header = MOODLE_ID_FIELDS[field]
    item = args.moodle_item or args.lab
    rows = []
    for r in book:
        if r["final_percent"] is None:
            continue  # collected but not graded: nothing to import
        ident = (roster.get(r["student"], {}).get(field) or "").strip()
        if not ident and field == "email" and "@" in r["student"]:
            ident = r["student"]  # hub user names are e-mail addresses (LTI login with username_key email)
        if not ident:
            if field not in ("username", "userid"):
                raise CollectError(f"--moodle-id {field}: no {field} for {r['student']!r} in the roster")
            ident = r["student"]  # the hub name is the Moodle username / user id (LTI username_key)
        grade = round(r["final_percent"] / 100 * args.max_grade, 2)
        rows.append([ident, f"{grade:g}", feedback_text(r)])
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow([header, item, f"{item} (feedback)"])
        w.writerows(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=LATE_POLICY,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", type=Path, help="folder with the students' files (hub homes or a submissions volume)")
    ap.add_argument("--lab", required=True, help="lab name, e.g. lab1_batchnorm")
    ap.add_argument("--deadline", required=True, help="ISO 8601 with time zone, e.g. 2026-12-10T23:59:00+03:30")
    ap.add_argument("--out", type=Path, required=True, help="output folder")
    ap.add_argument("--pattern", default="{student}/{lab}.ipynb",
                    help="where a student's notebook is, relative to SOURCE (default: %(default)s)")
    ap.add_argument("--strip-prefix", default="", help="removed from the {student} part, e.g. jupyter- on TLJH")
    ap.add_argument("--grace-minutes", type=float, default=15)
    ap.add_argument("--penalty-per-day", type=float, default=10, help="%% of the earned grade per started day")
    ap.add_argument("--max-late-days", type=int, default=3)
    ap.add_argument("--previous", type=Path, help="manifest.csv of an earlier collection of the same lab")
    ap.add_argument("--roster", type=Path, help="CSV: student (hub name)[, username, idnumber, email]")
    ap.add_argument("--moodle-id", choices=sorted(MOODLE_ID_FIELDS), default="username",
                    help="which Moodle user field identifies the student in moodle.csv")
    ap.add_argument("--moodle-item", help="grade item name in Moodle (default: the lab name)")
    ap.add_argument("--max-grade", type=float, default=100, help="the Moodle grade item's maximum grade")
    ap.add_argument("-j", "--jobs", type=int, default=2, help="submissions graded at the same time")
    ap.add_argument("--dist", type=Path, help="the grader's dist/ folder (default: the grader's own)")
    ap.add_argument("--timeout", type=int, help="seconds per submission, passed to the grader")
    ap.add_argument("--no-grade", action="store_true", help="only collect and timestamp")
    args = ap.parse_args(argv)
    if not re.fullmatch(r"[A-Za-z0-9_]+", args.lab):
        ap.error(f"--lab must be a lab name such as lab1_batchnorm, got {args.lab!r}")
    if args.jobs < 1:
        ap.error("-j must be at least 1")
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        return collect(args)
    except CollectError as e:
        print(f"collect.py: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
