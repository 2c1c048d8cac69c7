"""Shared test settings: tiny models on one CPU thread; the built book for the site tests."""
from pathlib import Path

import pytest
import torch

from helpers.data import Split, load_digits

# One thread, but denormals kept: the unit tests compare helpers with PyTorch in the same process and mode,
# and hypothesis refuses to run with subnormals flushed. Tests of the book's numbers run in its mode
# (helpers.seeding.book_numerics: the claims, the determinism probe, the notebooks).
torch.set_num_threads(1)

# Notebooks under tests/fixtures are data for the tests (typography samples, graded submissions -
# some deliberately hostile), never something for nbval to execute.
collect_ignore_glob = ["fixtures/*"]


@pytest.fixture
def rng():
    """A seeded torch generator, so each test's data does not depend on test order."""
    return torch.Generator().manual_seed(1234)


@pytest.fixture(scope="session")
def digits():
    return load_digits(seed=0)


@pytest.fixture(scope="session")
def tiny(digits):
    """240 training and 60 test images: enough for shapes and finiteness, fast enough for a test."""
    return Split(digits.X_train[:240], digits.y_train[:240], digits.X_test[:60], digits.y_test[:60])


ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def built_book():
    """The built book's HTML folder and build output: ``tools/build_book.py`` (what ``make book`` runs),
    once per test run and shared by xdist workers (tests/book_build.py). Notebooks are executed through
    the jupyter-cache; a failed notebook fails this fixture on every build, warm ones included."""
    from book_build import build_book_once

    return build_book_once()


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium driven by playwright (never `playwright install`)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is installed by requirements.txt")
    from lab_server import CHROMIUM, CHROMIUM_ARGS

    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
