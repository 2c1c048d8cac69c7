"""The book's claims hold on seeds 0, 1 and 2, at the book's own scale (issue 8, "claims hold on every seed").

``benchmarks/claims.py`` holds the registry: each claim calls the chapter's experiment function
with the notebook's own arguments and says whether the claim held. A failure here means the
prose claims more than the experiments show on some seed: reword the prose (or change the
experiment and its prose together), never the criterion alone. About 3 minutes of one CPU core
(each experiment runs once per seed and is shared by the claims that read it).
"""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.claims import CLAIMS, EXPERIMENTS, SEEDS, book_mismatches, evaluate, load_glued  # noqa: E402


def test_registry_is_well_formed():
    names = [c.name for c in CLAIMS]
    assert len(names) == len(set(names)), "claim names must be unique"
    assert {c.chapter for c in CLAIMS} == {1, 2, 3, 4, 5}, "every chapter makes at least one claim"
    assert set(EXPERIMENTS) and all(callable(f) for f in EXPERIMENTS.values())
    for c in CLAIMS:
        assert c.statement and c.criterion, c.name


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: c.name)
def test_claim_holds_on_every_seed(claim, seed):
    figures, held = claim.run(seed)
    assert held, (f"claim {claim.name!r} (chapter {claim.chapter}) did not hold on seed {seed}.\n"
                  f"  criterion: {claim.criterion}\n  figures:   {figures}\n  the prose says: {claim.statement}")


@pytest.mark.slow
def test_seed_0_measures_what_the_book_glued(built_book):
    """Seed 0 reruns the chapters' own calls, so its figures are the numbers the built book shows."""
    html_dir, _ = built_book
    glued = load_glued(html_dir.parent / "jupyter_execute")
    rows = evaluate(seeds=(0,))  # shares the seed-0 runs above (memoised)
    assert not book_mismatches(rows, glued), (
        "the claims registry no longer measures what the book glued (a notebook's arguments changed, or the "
        "jupyter-cache holds results from before a helpers change): " + "; ".join(book_mismatches(rows, glued)))
