"""Build the book once per test run, through the same command as ``make book``.

``tools/build_book.py`` runs Jupyter Book and then checks what it produced (every notebook
executed, no error output, no traceback in any page), so a rebuild of a tree that already
holds a failure fails again. pytest-xdist workers share one build: the first takes a file lock
and builds; the others wait for it and reuse the result of the same test run.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = ROOT / "_build" / "html"
LOG_FILE = ROOT / "_build" / "book-build.log"


def _run_id() -> str:
    """The same for every worker of one pytest run: the controller's pid under xdist, else our own."""
    return str(os.getppid() if os.environ.get("PYTEST_XDIST_WORKER") else os.getpid())


def build_book_once(timeout: int = 1800) -> tuple[Path, str]:
    """(html folder, build output) - building if this test run has not built yet. Fails on any problem."""
    from filelock import FileLock

    (ROOT / "_build").mkdir(exist_ok=True)
    marker = ROOT / "_build" / "book-build.run"
    with FileLock(str(ROOT / "_build" / "book-build.lock")):
        if not (marker.is_file() and marker.read_text() == _run_id() and LOG_FILE.is_file()):
            result = subprocess.run([sys.executable, str(ROOT / "tools" / "build_book.py")], cwd=ROOT,
                                    env={**os.environ, "DLFA_QUIET": "1"}, capture_output=True, text=True,
                                    timeout=timeout)
            log = result.stdout + result.stderr
            LOG_FILE.write_text(log, encoding="utf-8")
            marker.write_text(_run_id() if result.returncode == 0 else "failed")
            assert result.returncode == 0, f"book build failed (exit {result.returncode}):\n{log[-8000:]}"
        return BUILD_DIR, LOG_FILE.read_text(encoding="utf-8")
