#!/usr/bin/env python3
"""Build the book, and fail loudly whenever a notebook failed - on a rebuild too.

``make book`` and the test suite's ``built_book`` fixture both run this. It runs
``jupyter-book build`` (warnings are errors) and then checks what the build *produced*,
not only what it printed, because Jupyter Book prints an execution failure once: a rebuild
with nothing changed does not re-read the failed page (jupyter-cache keeps the failure, the
page keeps its traceback) and exits 0. The checks, after every build:

1. every notebook in the table of contents (except those the book does not execute, like
   ``labs/student/``) has an executed copy in ``_build/jupyter_execute``;
2. no executed copy contains an error output (the failing cell, its number, its first source
   lines and the traceback are printed here, in this command's own output);
3. no HTML page contains a rendered traceback.

Before building, the execution cache is cleared when the ``helpers`` package (or the pinned
requirements) changed since the last build: jupyter-cache keys on the notebook's text only,
so without this a page would keep numbers computed by the old code.

It ends with an execution report (QuantEcon-style): each notebook, its execution time from the
jupyter-cache and its status. The exit code is non-zero if the build or any check failed.

Usage: ``python tools/build_book.py [BOOK_DIR] [--path-output DIR]``.
"""
from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
JB_FLAGS = ["--builder", "html", "--warningiserror", "--keep-going"]
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
HTML_TRACEBACK = re.compile(r'class="output traceback|Traceback \(most recent call last\)')


def code_fingerprint(book: Path) -> str:
    """A hash of what the notebooks' results depend on besides their own text: helpers/ and requirements."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted((book / "helpers").rglob("*.py")) + [book / "requirements.txt", book / "pyproject.toml"]:
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(book)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def clear_stale_cache(book: Path, build: Path) -> None:
    """Remove the execution cache if the code it was computed with has changed."""
    import shutil

    stamp, cache = build / "code-fingerprint.txt", build / ".jupyter_cache"
    now = code_fingerprint(book)
    if cache.exists() and (not stamp.is_file() or stamp.read_text() != now):
        print("helpers/ or the requirements changed since the last build: every notebook is executed again")
        shutil.rmtree(cache)
    build.mkdir(parents=True, exist_ok=True)
    stamp.write_text(now)


def toc_notebooks(book: Path) -> list[Path]:
    """The notebooks the table of contents names, relative to the book (``_toc.yml`` ``file:`` entries)."""
    files = re.findall(r"^\s*-?\s*(?:file|root):\s*(\S+)\s*$", (book / "_toc.yml").read_text(encoding="utf-8"),
                       re.MULTILINE)
    return [Path(f).with_suffix(".ipynb") for f in files if (book / f).with_suffix(".ipynb").is_file()]


def not_executed_patterns(book: Path) -> list[str]:
    """``execute.exclude_patterns`` of ``_config.yml``: notebooks the book shows without running."""
    import yaml

    config = yaml.safe_load((book / "_config.yml").read_text(encoding="utf-8"))
    return list((config.get("execute") or {}).get("exclude_patterns") or [])


def error_outputs(executed: Path) -> list[dict]:
    """Every error output of an executed notebook: code cell number, first source lines, error, traceback."""
    cells = json.loads(executed.read_text(encoding="utf-8"))["cells"]
    found, code_number = [], 0
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        code_number += 1
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                source = "".join(cell["source"]).strip().splitlines()
                found.append({"cell": index, "code_cell": code_number, "source": source[:3],
                              "error": f"{out.get('ename')}: {ANSI.sub('', str(out.get('evalue')))}",
                              "traceback": [ANSI.sub("", line) for line in out.get("traceback", [])]})
    return found


def execution_times(build: Path) -> dict[str, float]:
    """{notebook path relative to the book: seconds} from the jupyter-cache records, where present."""
    db = build / ".jupyter_cache"
    if not db.is_dir():
        return {}
    try:
        from jupyter_cache import get_cache

        return {str(Path(r.uri)): r.data.get("execution_seconds") for r in get_cache(db).list_cache_records()
                if r.uri and r.data and r.data.get("execution_seconds") is not None}
    except Exception:  # the report is a courtesy; a cache it cannot read must not hide the real checks
        return {}


def check_build(book: Path, build: Path) -> tuple[list[str], list[tuple[str, str, str]]]:
    """(problems, report rows) for the book at ``book`` built into ``build`` (its ``_build``)."""
    problems, rows = [], []
    skip = not_executed_patterns(book)
    times = {Path(k).resolve(): v for k, v in execution_times(build).items()}
    for rel in toc_notebooks(book):
        if any(fnmatch.fnmatch(str(rel), pattern) for pattern in skip):
            continue
        executed = build / "jupyter_execute" / rel
        seconds = times.get((book / rel).resolve())
        shown = f"{seconds:.1f} s" if seconds is not None else "–"
        if not executed.is_file():
            problems.append(f"{rel}: no executed copy in {executed.parent} (the notebook was not executed)")
            rows.append((str(rel), shown, "NOT EXECUTED"))
            continue
        errors = error_outputs(executed)
        for e in errors:
            tb = "\n      ".join(line for line in "\n".join(e["traceback"]).splitlines()[-15:])
            problems.append(f"{rel}: code cell {e['code_cell']} (cell index {e['cell']}) raised {e['error']}\n"
                            f"    source: {' | '.join(e['source'])}\n    traceback (last lines):\n      {tb}")
        rows.append((str(rel), shown, f"FAILED (cell {errors[0]['code_cell']})" if errors else "ok"))
    html = build / "html"
    for page in sorted(html.rglob("*.html")) if html.is_dir() else []:
        if HTML_TRACEBACK.search(page.read_text(encoding="utf-8", errors="replace")):
            problems.append(f"{page.relative_to(html)}: the published page shows a Python traceback")
    return problems, rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("book", nargs="?", type=Path, default=ROOT)
    ap.add_argument("--path-output", type=Path, help="build into DIR/_build instead of BOOK/_build")
    args = ap.parse_args(argv)
    book = args.book.resolve()
    out = (args.path_output or book).resolve()
    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(book), *JB_FLAGS]
    if args.path_output:
        cmd += ["--path-output", str(out)]
    env = {**os.environ, "DLFA_QUIET": "1"}
    clear_stale_cache(book, out / "_build")
    rc = subprocess.run(cmd, env=env).returncode
    problems, rows = check_build(book, out / "_build")
    width = max([len(r[0]) for r in rows] + [8])
    print("\nExecution report\n" + "-" * (width + 30))
    for name, seconds, status in rows:
        print(f"{name:<{width}}  {seconds:>9}  {status}")
    if problems:
        print(f"\nBOOK BUILD FAILED: {len(problems)} problem(s) with the executed notebooks or pages:\n")
        print("\n\n".join(f"  - {p}" for p in problems))
    if rc != 0:
        print(f"\nBOOK BUILD FAILED: jupyter-book exited with {rc} (its warnings are errors; see its output above).")
    ok = rc == 0 and not problems
    print(f"\nBook: file://{out / '_build' / 'html' / 'index.html'}" if ok else "")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
