"""helpers.verdicts: the words a chapter glues instead of typing them."""
import json

import pytest

from helpers import verdicts as v


@pytest.mark.parametrize("held,total,expected", [
    (3, 3, "در هر سه بذر"), (2, 3, "در دو بذر از سه"), (0, 3, "در هیچ‌یک از سه بذر"), (1, 3, "در یک بذر از سه"),
    (2, 2, "در هر دو بذر"), (9, 10, "در نُه بذر از ده"), (1, 1, "در تنها بذر"),
])
def test_seeds_phrase(held, total, expected):
    assert v.seeds_phrase(held, total) == expected


@pytest.mark.parametrize("held,total,expected", [(3, 3, "درست"), (0, 3, "نادرست"), (2, 3, "نیمه‌درست"),
                                                 (9, 10, "نیمه‌درست")])
def test_verdict_from_counts(held, total, expected):
    assert v.verdict_from_counts(held, total) == expected


@pytest.mark.parametrize("bad", [(4, 3), (-1, 3), (1, 0), (1.0, 3), (True, 3)])
def test_counts_are_checked(bad):
    with pytest.raises(ValueError, match="held|count"):
        v.seeds_phrase(*bad)


def test_verdict_words_and_unknown_kind():
    assert [v.verdict(k) for k in ("true", "false", "partly", "untested")] == ["درست", "نادرست", "نیمه‌درست",
                                                                               "تأییدنشده"]
    with pytest.raises(ValueError, match="verdict kind"):
        v.verdict("maybe")


def test_compare_follows_the_numbers():
    assert v.compare(0.95, 0.90, higher_is_better=True) == "بهتر"
    assert v.compare(0.95, 0.90, higher_is_better=False) == "بدتر"
    assert v.compare(0.901, 0.90, higher_is_better=True, tolerance=0.002) == "هم‌اندازه"
    with pytest.raises(ValueError, match="NaN"):
        v.compare(float("nan"), 0.9, higher_is_better=True)


def test_counts_in_persian_words_or_digits():
    assert v.persian_count(3) == "سه" and v.persian_count(20) == "بیست" and v.persian_count(42) == "۴۲"
    assert v.persian_digits(10) == "۱۰"


def test_rate_phrase_reads_the_record(tmp_path):
    (tmp_path / "ch9.json").write_text(json.dumps({"claims": {
        "a": {"held": 9, "total": 10}, "b": {"held": 10, "total": 10}, "c": {"held": 0, "total": 10}}}))
    assert v.rate_phrase("a", tmp_path) == "در نُه بذر از ده"
    assert v.rate_phrase("b", tmp_path) == "در هر ده بذر"
    assert v.rate_phrase("c", tmp_path) == "در هیچ‌یک از ده بذر"
    assert v.claim_rate("a", tmp_path) == (9, 10)
    with pytest.raises(KeyError, match="no many-seed record"):
        v.rate_phrase("zzz", tmp_path)
    with pytest.raises(FileNotFoundError, match="make bench"):
        v.load_rates(tmp_path / "empty")
