"""tools/collect.py: finding submissions, timestamps, the late policy, the grader's table, Moodle's CSV.

The grader itself (tools/homework.py grade) is replaced here by a stand-in that writes its
scores.csv; the real grader runs on a real hub's submission in tests/test_hub.py.
"""
import csv
import importlib.util
import json
import os
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("collect", ROOT / "tools" / "collect.py")
collect = importlib.util.module_from_spec(_spec)
sys.modules["collect"] = collect  # dataclasses look their module up while the class is made
_spec.loader.exec_module(collect)

LAB = "lab1_batchnorm"
TEHRAN = timezone(timedelta(hours=3, minutes=30))
DEADLINE = datetime(2026, 12, 10, 23, 59, tzinfo=TEHRAN)
NOTEBOOK = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def _write(path: Path, when: datetime, content=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content if content is not None else NOTEBOOK), encoding="utf-8")
    ts = when.timestamp()
    os.utime(path, (ts, ts))
    return path


@pytest.fixture
def fake_grader(monkeypatch):
    """Stand-in for tools/homework.py grade: every collected notebook scores the percent given."""
    percents = {}
    calls = []

    def run_grader(submissions, out, jobs, dist, extra):
        calls.append((Path(submissions), jobs, dist, extra))
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "scores.csv", "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(collect.SCORE_COLUMNS)
            for nb in sorted(Path(submissions).glob(f"*/{LAB}.ipynb")):
                student = nb.parent.name
                p = percents.get(student, 100.0)
                w.writerow([student, LAB, p * 0.21, 21, p, "ok", 1.0, str(nb)])
        return out / "scores.csv"

    monkeypatch.setattr(collect, "run_grader", run_grader)
    return percents, calls


def _run(tmp_path, *extra, source=None):
    return collect.main([str(source or tmp_path / "homes"), "--lab", LAB, "--deadline", DEADLINE.isoformat(),
                         "--out", str(tmp_path / "out"), *extra])


def _csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# ----------------------------------------------------------------------------- the policy
@pytest.mark.parametrize("late, days, penalty, too_late", [
    (timedelta(minutes=-30), 0, 0, False),
    (timedelta(minutes=15), 0, 0, False),                 # inside the grace period
    (timedelta(minutes=16), 1, 10, False),                # one started day
    (timedelta(hours=24), 1, 10, False),
    (timedelta(hours=24, seconds=1), 2, 20, False),
    (timedelta(days=3), 3, 30, False),
    (timedelta(days=3, minutes=1), 4, 100, True),         # past the late window
])
def test_late_policy(late, days, penalty, too_late):
    p = collect.Policy(DEADLINE, grace_minutes=15, penalty_per_day=10, max_late_days=3)
    assert p.penalty(DEADLINE + late) == (days, penalty, too_late)


def test_deadline_needs_a_time_zone(tmp_path):
    with pytest.raises(collect.CollectError, match="time zone"):
        collect.Policy(datetime(2026, 12, 10, 23, 59))
    (tmp_path / "homes").mkdir()
    assert collect.main([str(tmp_path / "homes"), "--lab", LAB, "--deadline", "2026-12-10T23:59",
                         "--out", str(tmp_path / "out")]) == 2


@pytest.mark.parametrize("pattern", ["{lab}.ipynb", "{student}/{student}.ipynb", "../{student}/x.ipynb", "/abs/{student}"])
def test_bad_pattern_is_a_clear_error(pattern):
    with pytest.raises(collect.CollectError, match="pattern"):
        collect.pattern_regex(pattern, LAB)


# ----------------------------------------------------------------------------- finding files
def test_tljh_homes_layout(tmp_path):
    homes = tmp_path / "home"
    _write(homes / "jupyter-ali" / "submit" / f"{LAB}.ipynb", DEADLINE)
    _write(homes / "jupyter-sara" / "submit" / f"{LAB}.ipynb", DEADLINE)
    _write(homes / "jupyter-reza" / "submit" / "lab2_activations.ipynb", DEADLINE)   # another lab
    _write(homes / "jupyter-nima" / f"{LAB}.ipynb", DEADLINE)                         # not submitted
    _write(homes / "jupyter-ali" / "submit" / ".ipynb_checkpoints" / f"{LAB}-checkpoint.ipynb", DEADLINE)
    found = collect.find_submissions(homes, "jupyter-{student}/submit/{lab}.ipynb", LAB)
    assert sorted(found) == ["ali", "sara"]
    found = collect.find_submissions(homes, "{student}/submit/{lab}.ipynb", LAB, strip_prefix="jupyter-")
    assert sorted(found) == ["ali", "sara"]


def test_missing_source_is_a_clear_error(tmp_path):
    assert _run(tmp_path, source=tmp_path / "nowhere") == 2


# ----------------------------------------------------------------------------- the whole command
def test_collect_grade_and_export(tmp_path, fake_grader):
    percents, calls = fake_grader
    homes = tmp_path / "homes"
    _write(homes / "ali" / f"{LAB}.ipynb", DEADLINE - timedelta(hours=1))
    _write(homes / "sara" / f"{LAB}.ipynb", DEADLINE + timedelta(hours=30))       # 2 days late
    _write(homes / "reza" / f"{LAB}.ipynb", DEADLINE + timedelta(days=5))         # too late
    _write(homes / "nima" / f"{LAB}.ipynb", DEADLINE, content="not json")         # broken file
    (homes / "nima" / f"{LAB}.ipynb").write_text("{broken", encoding="utf-8")
    percents.update(ali=80.0, sara=50.0, reza=90.0)
    roster = tmp_path / "roster.csv"
    roster.write_text("student,username,idnumber,email\nali,ali.m,9811,ali@u.ac.ir\nsara,sara.k,9812,s@u.ac.ir\n"
                      "reza,reza.t,9813,r@u.ac.ir\nnima,nima.a,9814,n@u.ac.ir\nmina,mina.b,9815,m@u.ac.ir\n",
                      encoding="utf-8")
    assert _run(tmp_path, "--roster", str(roster), "--moodle-id", "idnumber", "--moodle-item", "آزمایشگاه ۱",
                "--max-grade", "20", "-j", "3") == 0
    out = tmp_path / "out"
    assert calls[0][1] == 3, "-j reaches the grader"
    assert sorted(p.parent.name for p in (out / "submissions").glob(f"*/{LAB}.ipynb")) == ["ali", "reza", "sara"]
    # the copy keeps the submission time
    assert (out / "submissions" / "ali" / f"{LAB}.ipynb").stat().st_mtime == \
        (homes / "ali" / f"{LAB}.ipynb").stat().st_mtime
    book = {r["student"]: r for r in _csv(out / "gradebook.csv")}
    assert (book["ali"]["late_days"], book["ali"]["final_percent"], book["ali"]["status"]) == ("0", "80.0", "ok")
    assert (book["sara"]["late_days"], book["sara"]["penalty_percent"], book["sara"]["final_percent"]) == \
        ("2", "20.0", "40.0")
    assert book["reza"]["final_percent"] == "0.0" and "too late" in book["reza"]["status"]
    assert book["nima"]["status"] == "unreadable" and book["nima"]["final_percent"] == "0.0"
    assert book["mina"]["status"] == "missing" and book["mina"]["final_percent"] == "0.0"
    with open(out / "moodle.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["ID number", "آزمایشگاه ۱", "آزمایشگاه ۱ (feedback)"]
    grades = {r[0]: r[1] for r in rows[1:]}
    assert grades == {"9811": "16", "9812": "8", "9813": "0", "9814": "0", "9815": "0"}
    feedback = {r[0]: r[2] for r in rows[1:]}
    assert "تأخیر" in feedback["9812"] and feedback["9815"] == "تحویل داده نشد"
    manifest = {r["student"]: r for r in _csv(out / "manifest.csv")}
    assert manifest["sara"]["submitted_at"] == (DEADLINE + timedelta(hours=30)).astimezone(timezone.utc) \
        .isoformat(timespec="seconds")
    assert len(manifest["ali"]["sha256"]) == 64


def test_moodle_username_falls_back_to_the_hub_name(tmp_path, fake_grader):
    _write(tmp_path / "homes" / "ali" / f"{LAB}.ipynb", DEADLINE)
    assert _run(tmp_path) == 0
    rows = list(csv.reader(open(tmp_path / "out" / "moodle.csv", encoding="utf-8")))
    assert rows == [["Username", LAB, f"{LAB} (feedback)"], ["ali", "100", "نمرهٔ خودکار: 100.0٪"]]


def test_idnumber_without_roster_is_a_clear_error(tmp_path, fake_grader):
    _write(tmp_path / "homes" / "ali" / f"{LAB}.ipynb", DEADLINE)
    assert _run(tmp_path, "--moodle-id", "idnumber") == 2


def test_backdating_after_a_collection_does_not_help(tmp_path, fake_grader):
    """A file changed after the first collection cannot claim a time before it, whatever its mtime."""
    deadline = datetime.now(TEHRAN).replace(microsecond=0) - timedelta(days=10)
    homes = tmp_path / "homes"
    nb = _write(homes / "ali" / f"{LAB}.ipynb", deadline - timedelta(hours=2))
    _write(homes / "sara" / f"{LAB}.ipynb", deadline - timedelta(hours=2))
    args = [str(homes), "--lab", LAB, "--deadline", deadline.isoformat(), "--out", str(tmp_path / "out")]
    assert collect.main(args) == 0
    first = tmp_path / "first_manifest.csv"
    (tmp_path / "out" / "manifest.csv").rename(first)
    first_rows = {r["student"]: r for r in _csv(first)}
    # ali rewrites the notebook 10 days after the deadline and sets its time back to before it
    _write(nb, deadline - timedelta(hours=3), content={**NOTEBOOK, "metadata": {"x": 1}})
    assert collect.main(args + ["--previous", str(first)]) == 0
    rows = {r["student"]: r for r in _csv(tmp_path / "out" / "manifest.csv")}
    assert rows["ali"]["submitted_at"] == first_rows["ali"]["collected_at"], "changed file: not before the 1st run"
    assert rows["ali"]["too_late"] == "1"
    assert rows["sara"]["submitted_at"] == first_rows["sara"]["submitted_at"], "unchanged file keeps its time"
    assert rows["sara"]["late_days"] == "0"


def test_grader_table_without_expected_columns_is_refused(tmp_path):
    bad = tmp_path / "scores.csv"
    bad.write_text("student,lab,score\nali,lab1_batchnorm,3\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="percent"):
        collect.read_scores(bad)


def test_ungraded_submission_fails_the_run(tmp_path, monkeypatch):
    def run_grader(submissions, out, jobs, dist, extra):
        out.mkdir(parents=True, exist_ok=True)
        (out / "scores.csv").write_text(",".join(collect.SCORE_COLUMNS) + "\n", encoding="utf-8")
        return out / "scores.csv"

    monkeypatch.setattr(collect, "run_grader", run_grader)
    _write(tmp_path / "homes" / "ali" / f"{LAB}.ipynb", DEADLINE)
    assert _run(tmp_path) == 1
    assert _csv(tmp_path / "out" / "gradebook.csv")[0]["status"] == "not graded"
