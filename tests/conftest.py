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


@pytest.fixture(scope="session")
def grading_sandbox():
    """The bubblewrap sandbox every graded submission runs in must start here; otherwise the grading
    tests fail (or skip, on a developer machine that refuses namespaces, with DLFA_ALLOW_NO_SANDBOX=1)."""
    import os
    import sys

    sys.path.insert(0, str(ROOT / "tools" / "grading"))
    import sandbox

    why = sandbox.self_test()
    if why is not None:
        if os.environ.get("DLFA_ALLOW_NO_SANDBOX") == "1":
            pytest.skip(f"no grading sandbox on this machine: {why}")
        pytest.fail(f"no grading sandbox on this machine: {why} (set DLFA_ALLOW_NO_SANDBOX=1 to skip)")


@pytest.fixture(scope="session")
def generated_labs(tmp_path_factory):
    """Every lab generated once per test run (``tools/homework.py generate``: student notebooks, autograder
    bundles, book pages) into a folder the xdist workers share: the first worker generates under a file
    lock, the others wait and reuse it. Graders only read it; tests that change bundles make their own."""
    import os
    import sys

    from filelock import FileLock

    sys.path.insert(0, str(ROOT / "tools"))
    import homework

    base = tmp_path_factory.getbasetemp()  # under xdist: <run>/popen-gwN; its parent is the run's, shared
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder = shared / "generated-labs"
    with FileLock(str(shared / "generated-labs.lock")):
        done = folder / "generated.ok"
        if not done.exists():
            homework.generate(dist=folder / "dist", pages=True, pages_dir=folder / "pages")
            done.write_text("ok\n")
    return folder


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium driven by playwright (never `playwright install`)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is installed by requirements.txt")
    from lab_server import CHROMIUM, CHROMIUM_ARGS

    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


from suite_order import LONGEST_FIRST  # noqa: E402 - the order make test starts the test files in


def pytest_collection_modifyitems(config, items):
    def rank(item):
        path = item.nodeid.split("::", 1)[0]
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the order inside each file, and of the other files, is kept
