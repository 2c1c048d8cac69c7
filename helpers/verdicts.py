"""Words that depend on numbers, computed from the numbers (so prose cannot contradict them).

A chapter glues these strings instead of typing them: a verdict («درست»), how many seeds a
result held on («در هر سه بذر», «در دو بذر از سه»), a comparison («بهتر», «بدتر»,
«هم‌اندازه»), and the rate at which a claim held over many seeds in ``make bench``
(«در نُه بذر از ده»), read from ``benchmarks/results/claims/chN.json``.

Counts are written as Persian words or Persian digits, never Latin digits, so a glued phrase
follows the book's digit policy for prose (CONTRIBUTING.md, "Numbers in prose").
"""
from __future__ import annotations

import json
import math
from pathlib import Path

#: The four verdicts a «داوری ادعاها» table uses.
VERDICTS = {
    "true": "درست",
    "false": "نادرست",
    "partly": "نیمه‌درست",
    "untested": "تأییدنشده",
}

_WORDS = ("صفر", "یک", "دو", "سه", "چهار", "پنج", "شش", "هفت", "هشت", "نُه", "ده",  # نُه: not «نه» (no)
          "یازده", "دوازده", "سیزده", "چهارده", "پانزده", "شانزده", "هفده", "هجده", "نوزده", "بیست")
_FA_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")

#: Where ``make bench`` records how often each claim held: one ``chN.json`` per chapter.
RATES_DIR = Path(__file__).resolve().parent.parent / "benchmarks" / "results" / "claims"


def _count(n) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"a count must be a non-negative int, got {n!r}")
    return n


def persian_count(n: int) -> str:
    """``n`` as a Persian word (0-20) or in Persian digits (above 20): ``3 -> "سه"``, ``42 -> "۴۲"``."""
    n = _count(n)
    return _WORDS[n] if n < len(_WORDS) else str(n).translate(_FA_DIGITS)


def persian_digits(n: int) -> str:
    """``n`` in Persian digits: ``10 -> "۱۰"``."""
    return str(_count(n)).translate(_FA_DIGITS)


def verdict(kind: str) -> str:
    """The Persian verdict word for ``kind`` in ``VERDICTS`` ("true", "false", "partly", "untested")."""
    if kind not in VERDICTS:
        raise ValueError(f"verdict kind must be one of {sorted(VERDICTS)}, got {kind!r}")
    return VERDICTS[kind]


def verdict_from_counts(held: int, total: int) -> str:
    """«درست» if a claim held on every run, «نادرست» if on none, else «نیمه‌درست»."""
    held, total = _count(held), _count(total)
    if total == 0 or held > total:
        raise ValueError(f"need 0 <= held <= total and total > 0, got held={held}, total={total}")
    return verdict("true" if held == total else "false" if held == 0 else "partly")


def seeds_phrase(held: int, total: int, *, unit: str = "بذر") -> str:
    """How many of ``total`` runs a result held on, as a phrase that starts with «در».

    ``(3, 3) -> "در هر سه بذر"``, ``(2, 3) -> "در دو بذر از سه"``, ``(0, 3) -> "در هیچ‌یک از سه بذر"``,
    ``(1, 1) -> "در تنها بذر"``.
    """
    held, total = _count(held), _count(total)
    if total == 0 or held > total:
        raise ValueError(f"need 0 <= held <= total and total > 0, got held={held}, total={total}")
    if total == 1:
        return f"در تنها {unit}" if held == 1 else f"در تنها {unit} نه"
    if held == total:
        return f"در هر {persian_count(total)} {unit}" if total > 2 else f"در هر دو {unit}"
    if held == 0:
        return f"در هیچ‌یک از {persian_count(total)} {unit}"
    return f"در {persian_count(held)} {unit} از {persian_count(total)}"


def compare(value: float, reference: float, *, higher_is_better: bool, tolerance: float = 0.0,
            words: tuple[str, str, str] = ("بهتر", "بدتر", "هم‌اندازه")) -> str:
    """«بهتر» / «بدتر» / «هم‌اندازه»: ``value`` against ``reference``.

    Within ``tolerance`` (absolute) the two count as equal. NaN on either side is an error: a
    diverged run has no comparison word, the chapter must say it diverged.
    """
    for name, v in (("value", value), ("reference", reference), ("tolerance", tolerance)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v):
            raise ValueError(f"{name} must be a number (not NaN), got {v!r}")
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance!r}")
    better, worse, same = words
    if abs(value - reference) <= tolerance:
        return same
    return better if (value > reference) == higher_is_better else worse


def load_rates(directory: str | Path | None = None) -> dict:
    """{claim name: entry} recorded by ``make bench`` (``benchmarks/results/claims/chN.json``).

    Each entry has ``held`` (on how many seeds the claim held), ``total``, ``seeds``,
    ``failed_seeds`` and ``fingerprint`` (the settings it was measured with; ``tests/test_claims.py``
    fails when they no longer match the registry, so a stale rate cannot reach the book).
    """
    directory = Path(directory) if directory is not None else RATES_DIR
    files = sorted(directory.glob("ch*.json"))
    if not files:
        raise FileNotFoundError(f"no claims record in {directory}: run `make bench` (or python -m benchmarks.claims "
                                f"--chapter N --seeds 0 1 2 3 4 5 6 7 8 9 --record)")
    out = {}
    for path in files:
        out.update(json.loads(path.read_text(encoding="utf-8"))["claims"])
    return out


def claim_rate(name: str, directory: str | Path | None = None) -> tuple[int, int]:
    """``(held, total)`` for claim ``name`` from the recorded many-seed claims table."""
    rates = load_rates(directory)
    if name not in rates:
        raise KeyError(f"claim {name!r} has no many-seed record; recorded: {sorted(rates)}")
    return rates[name]["held"], rates[name]["total"]


def rate_phrase(name: str, directory: str | Path | None = None) -> str:
    """«در نُه بذر از ده» for claim ``name``, from the recorded many-seed claims table (counts in words, so
    the phrase never puts Persian digits next to the Latin digits of glued numbers)."""
    return seeds_phrase(*claim_rate(name, directory))
