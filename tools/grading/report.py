"""What grading writes: who a file belongs to, Persian feedback, and the score tables - from one source.

Every output (``scores.csv``, ``scores_<lab>.csv``, ``feedback/*.md``, ``results.json``) is made by
:func:`write_outputs` from the same list of rows, after every submission's sandbox is gone, into a
fresh temporary folder that is then moved into place; none of them can disagree with another.
"""
from __future__ import annotations

import csv
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

FA_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
SCORE_COLUMNS = ["student", "lab", "score", "possible", "percent", "status", "seconds", "file", "review"]

ERROR_NAMES = {
    "SyntaxError": "خطای نحوی (SyntaxError)",
    "IndentationError": "خطای تورفتگی (IndentationError)",
    "TabError": "خطای تورفتگی (TabError)",
    "NameError": "نام تعریف‌نشده (NameError)",
    "TimeoutError": "پایان مهلت زمانی (TimeoutError)",
    "MemoryError": "کمبود حافظه (MemoryError)",
}


# --------------------------------------------------------------------------- who and which lab
def _clean(part: str, lab: str | None) -> str:
    if lab:
        part = part.replace(lab, "")
    part = re.sub(r"\(\d+\)", "", part)            # "lab1_batchnorm (1).ipynb", downloaded twice
    part = re.sub(r"(?i)\bsubmission\b", "", part)
    return part.strip("_-. ")


def identify(path: Path, base: Path, labs: list[str]) -> tuple[str, str | None]:
    """(student, lab) of a submitted notebook; lab None when it cannot be told.

    The lab is the notebook's ``otter.assignment_name`` (else the lab name in its path). The
    student is what the path says besides the lab, from the graded folder down
    (``ali/lab1_batchnorm.ipynb``, ``sara_lab1_batchnorm.ipynb``); when that is empty - a folder
    or a file of one student graded on its own - the folder the file is in names the student.
    """
    path, base = Path(path), Path(base)
    lab = None
    try:
        meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
        lab = meta.get("otter", {}).get("assignment_name")
    except (OSError, ValueError, AttributeError):
        pass
    rel = path.relative_to(base) if path.is_relative_to(base) else Path(path.name)
    if lab not in labs:
        lab = next((name for name in labs if name in str(rel)), None)
    parts = [_clean(p, lab) for p in rel.with_suffix("").parts]
    student = "_".join(p for p in parts if p)
    if not student:
        for parent in path.resolve().parents:
            name = _clean(parent.name, lab)
            if name:
                student = name
                break
    return student or path.stem, lab


# --------------------------------------------------------------------------- feedback
_PATH = re.compile(r"(?:[A-Za-z]:\\|/)(?:[^\s'\"():,]+[/\\])+[^\s'\"():,]*")


def scrub(text: str) -> str:
    """A message without machine paths (``/home/...``, ``C:\\...``): they become ``…``."""
    return _PATH.sub("…", str(text))


def _fa(x) -> str:
    if isinstance(x, float) and x.is_integer():
        x = int(x)
    s = f"{x:g}" if isinstance(x, float) else str(x)
    return s.translate(FA_DIGITS).replace(".", "٫")


def error_line(err: dict) -> str:
    """One Persian line for an error of the notebook: its kind (SyntaxError named), cell and line."""
    etype = str(err.get("type", "Error"))
    name = ERROR_NAMES.get(etype, etype)
    where = []
    if err.get("cell") is not None:
        where.append(f"خانهٔ کد شمارهٔ {_fa(int(err['cell']) + 1)}")
    if err.get("line"):
        where.append(f"خط {_fa(int(err['line']))}")
    msg = scrub(err.get("msg") or "")[:300]
    return f"{name}" + (f" در {('، '.join(where))}" if where else "") + (f": `{msg}`" if msg else "")


def feedback_markdown(student: str, lab: str, row: dict) -> str:
    """Short Persian feedback: the first error first; hidden tests only «قبول»/«رد»; no paths, no test code."""
    qs = row["questions"]
    total = sum(q["score"] for q in qs.values())
    possible = sum(q["possible"] for q in qs.values())
    lines = ['<div dir="rtl">', "", f"# بازخورد {lab}", "", f"- دانشجو: `{student}`",
             f"- نمره: {_fa(round(total, 2))} از {_fa(possible)}"]
    first = None
    errors = row.get("cell_errors") or []
    if errors:
        first = errors[0]
        lines.append(f"- **نخستین خطا:** {error_line(first)}")
        if first.get("type") in ("SyntaxError", "IndentationError", "TabError"):
            lines.append("  - این خانه اصلاً اجرا نشد؛ تعریف‌های آن وجود ندارند و آزمون‌هایی که به آن‌ها نیاز دارند رد شدند.")
        if len(errors) > 1:
            lines.append(f"- {_fa(len(errors) - 1)} خانهٔ دیگر هم خطا داد.")
    if row["status"] == "timeout":
        lines.append("- اجرای کل دفترچه از محدودیت زمان گذشت و متوقف شد؛ پرسش‌هایی که آزموده نشدند صفر گرفتند.")
    elif row["status"] == "error":
        lines.append("- اجرای دفترچه کامل نشد؛ پرسش‌هایی که آزموده نشدند صفر گرفتند.")
    review = row.get("review") or {}
    lines.append("")
    for name, q in qs.items():
        lines += [f"## {name}: {_fa(round(q['score'], 2))} از {_fa(q['possible'])}", ""]
        if name in review:
            lines += [f"صفر برای این پرسش: پاسخ از چیزی استفاده می‌کند که این پرسش اجازه نمی‌دهد "
                      f"({scrub(review[name])}). مدرس آن را بازبینی می‌کند.", ""]
        if not q["cases"]:
            lines += ["این پرسش آزموده نشد.", ""]
            continue
        pub = hid = 0
        for case in q["cases"]:
            mark = "قبول" if case["passed"] else "رد"
            if case["hidden"]:
                hid += 1
                lines.append(f"- آزمون پنهان {_fa(hid)}: {mark}")
                continue
            pub += 1
            lines.append(f"- آزمون عمومی {_fa(pub)}: {mark}")
            if not case["passed"]:
                if case.get("failure_message"):
                    lines.append(f"  - {scrub(case['failure_message'])}")
                msg = scrub((case.get("message") or "").strip())
                if msg and msg != case.get("failure_message"):
                    lines.append(f"  - `{msg[:400]}`")
        lines.append("")
    lines += ["</div>", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- tables
def totals(row: dict) -> tuple[float, float]:
    qs = row["questions"]
    return sum(q["score"] for q in qs.values()), sum(q["possible"] for q in qs.values())


def review_text(row: dict) -> str:
    return "; ".join(f"{q}: {why}" for q, why in (row.get("review") or {}).items())


def write_outputs(rows: list[dict], out: Path, qkey) -> None:
    """scores.csv, scores_<lab>.csv, feedback/ and results.json, all from ``rows``, moved in at once."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".grading-", dir=out))
    try:
        (stage / "feedback").mkdir()
        with open(stage / "scores.csv", "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(SCORE_COLUMNS)
            for r in rows:
                score, possible = totals(r)
                w.writerow([r["student"], r["lab"] or "", round(score, 4), possible,
                            round(100 * score / possible, 2) if possible else 0, r["status"], r["seconds"],
                            r["file"], review_text(r)])
        for lab in sorted({r["lab"] for r in rows if r["lab"]}):
            lab_rows = [r for r in rows if r["lab"] == lab]
            qnames = sorted({q for r in lab_rows for q in r["questions"]}, key=qkey)
            with open(stage / f"scores_{lab}.csv", "w", newline="", encoding="utf-8") as f:
                w = csv.writer(f)
                w.writerow(["student", *qnames, "score", "possible", "status", "review"])
                for r in lab_rows:
                    qs = r["questions"]
                    score, possible = totals(r)
                    w.writerow([r["student"], *(round(qs[q]["score"], 4) if q in qs else 0 for q in qnames),
                                round(score, 4), possible, r["status"], review_text(r)])
        for r in rows:
            name = f"{r['student']}__{r['lab'] or 'unknown'}.md"
            (stage / "feedback" / name).write_text(feedback_markdown(r["student"], r["lab"] or "?", r),
                                                   encoding="utf-8")
        (stage / "results.json").write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
        # replace, never merge: tables of an earlier run (a lab not graded this time) go too
        for old in out.glob("scores_*.csv"):
            old.unlink()
        for name in ["scores.csv", "results.json", "feedback"] + [p.name for p in stage.glob("scores_*.csv")]:
            dst = out / name
            if dst.is_dir() and not dst.is_symlink():
                shutil.rmtree(dst)
            elif dst.exists() or dst.is_symlink():
                dst.unlink()
            os.replace(stage / name, dst)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
