"""tests/suite_order.py: the order make test starts the test files in (tests/conftest.py applies it)."""
from pathlib import Path

from suite_order import LONGEST_FIRST

ROOT = Path(__file__).resolve().parent.parent


def test_every_file_named_in_the_order_exists():
    missing = [p for p in LONGEST_FIRST if not (ROOT / p).is_file()]
    assert missing == [], f"tests/suite_order.py names files that do not exist: {missing}"
    assert len(set(LONGEST_FIRST)) == len(LONGEST_FIRST)


def test_xdist_keeps_the_order():
    """Without --no-loadscope-reorder, pytest-xdist sorts files by their number of tests instead."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    xdist = next(line for line in makefile.splitlines() if line.startswith("XDIST ="))
    assert "--dist loadfile" in xdist and "--no-loadscope-reorder" in xdist, xdist
