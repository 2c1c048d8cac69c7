"""The book's claims: recorded on ten seeds, current, and holding on the seed the book shows.

``benchmarks/claims.py`` holds the registry: each claim calls the chapter's experiment function
with the notebook's own arguments and says whether the claim held. Three checks, cheapest first:

1. the registry is well formed;
2. the ten-seed record (``benchmarks/results/claims/chN.json``, written by ``make bench`` or
   ``python -m benchmarks.claims --chapter N --seeds 0 .. 9 --record``) covers every claim, was
   measured with the registry's current settings (fingerprint), and every claim held on at least
   ``MIN_HELD`` of its seeds - the prose glues that rate («در ۹ بذر از ۱۰»);
3. on the book's own seed (0), every claim holds on the numbers the book built on THIS machine
   glued. A claim whose figures are all glued (``book_keys``) is judged from the book without
   running anything again. Today every claim is (the chapters glue the figures their prose does not
   show, e.g. a diverged run's None, without displaying them); a claim that needs a figure the book
   did not glue reruns seed 0, and its numbers must equal the book's.

A failure means the prose claims more than the experiments show: reword the prose (or change the
experiment and its prose together, then record again), never the criterion alone.
"""
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.claims import (CLAIMS, EXPERIMENTS, book_mismatches, cpu_identity, evaluate,  # noqa: E402
                               fingerprint, load_glued, load_records)

MIN_SEEDS = 10
MIN_HELD = 8


def test_registry_is_well_formed():
    names = [c.name for c in CLAIMS]
    assert len(names) == len(set(names)), "claim names must be unique"
    assert {c.chapter for c in CLAIMS} == {1, 2, 3, 4, 5}, "every chapter makes at least one claim"
    assert set(EXPERIMENTS) and all(callable(f) for f in EXPERIMENTS.values())
    for c in CLAIMS:
        assert c.statement and c.criterion, c.name


def test_fingerprint_changes_with_the_settings():
    claim = CLAIMS[0]
    changed = type(claim)(**{**claim.__dict__, "criterion": claim.criterion + " (changed)"})
    assert fingerprint(changed) != fingerprint(claim)
    assert fingerprint(claim) == fingerprint(claim)


RECORDS = load_records()


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: c.name)
def test_ten_seed_record_is_current_and_the_claim_survives_new_seeds(claim):
    rec = RECORDS.get(claim.name)
    assert rec is not None, (f"claim {claim.name!r} has no many-seed record: run python -m benchmarks.claims "
                             f"--chapter {claim.chapter} --seeds 0 1 2 3 4 5 6 7 8 9 --record")
    assert rec["fingerprint"] == fingerprint(claim), (
        f"claim {claim.name!r} changed (criterion, measure or the experiment's arguments) after its ten-seed record: "
        f"record it again (python -m benchmarks.claims --chapter {claim.chapter} --seeds 0 1 2 3 4 5 6 7 8 9 --record)")
    assert rec["total"] >= MIN_SEEDS and 0 in rec["seeds"], f"{claim.name}: recorded on {rec['seeds']}"
    assert rec["held"] >= MIN_HELD, (
        f"claim {claim.name!r} held on only {rec['held']} of {rec['total']} seeds (failed on {rec['failed_seeds']}): "
        f"a claim that does not survive new seeds is a tuned result; change the experiment or weaken the sentence")


def test_no_record_for_a_claim_that_no_longer_exists():
    assert not set(RECORDS) - {c.name for c in CLAIMS}, "stale entries in benchmarks/results/claims/"


def _book_keys(claim) -> dict:
    """Figure name -> glue key, pooled over every claim that reads the same measure function (the same
    figure name of the same measure is the same number)."""
    keys = {}
    for other in CLAIMS:
        if other.measure is claim.measure:
            keys.update(other.book_keys)
    return keys


def _book_figures(claim, glued):
    """The claim's seed-0 figures that the book glued (a figure the book does not glue is absent)."""
    return {n: glued[k] for n, k in _book_keys(claim).items() if k in glued}


def _holds_on(claim, figures):
    """claim.holds(figures), or None if the predicate needs a figure that is not there."""
    try:
        return bool(claim.holds(figures))
    except KeyError:
        return None


def _close(a, b):
    if a is None or b is None:
        return a is b
    if isinstance(a, str) or isinstance(b, str):
        return str(a) == str(b)
    return math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=1e-12)


def _same_cpu(rec_cpu: str) -> bool:
    return rec_cpu == cpu_identity()


def test_cpu_identity_names_model_and_simd():
    ident = cpu_identity()
    assert "family" in ident and "avx512f" in ident, ident


@pytest.mark.slow
@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: c.name)
def test_claim_holds_on_the_numbers_the_book_shows(claim, built_book):
    html_dir, _ = built_book
    glued = load_glued(html_dir.parent / "jupyter_execute")
    figures = _book_figures(claim, glued)
    held = _holds_on(claim, figures)
    if held is None:  # the predicate reads a figure the book does not glue: run seed 0 again and compare
        rows = evaluate(seeds=(0,), claims=[claim])
        bad = book_mismatches(rows, glued)
        assert not bad, ("the claims registry no longer measures what the book glued (a notebook's arguments "
                         "changed, or the jupyter-cache holds results from before a helpers change): " + "; ".join(bad))
        figures = rows[0]["figures"][0]
        held = bool(claim.holds(figures))
    assert held, (f"claim {claim.name!r} (chapter {claim.chapter}) does not hold on the book's numbers.\n"
                  f"  criterion: {claim.criterion}\n  figures:   {figures}\n  the prose says: {claim.statement}")
    rec = RECORDS.get(claim.name)
    if rec and _same_cpu(rec.get("cpu", "")):
        # the record was made on this CPU model: its seed 0 must be the book's numbers, bit for bit
        # (on another CPU vendor the floating-point paths differ, and only the verdict above is compared)
        diff = {n: (v, figures[n]) for n, v in rec["figures"]["0"].items() if n in figures and not _close(v, figures[n])}
        assert not diff, f"{claim.name}: the ten-seed record's seed 0 differs from the book (record, book): {diff}"
