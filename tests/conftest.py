"""Shared test settings: tiny models on one CPU thread; the built book for the site tests."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from helpers.data import Split, load_digits

torch.set_num_threads(1)


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
BUILD_DIR = ROOT / "_build" / "html"


@pytest.fixture(scope="session")
def built_book():
    """Build the book once per session (warnings are errors) and return the HTML folder.

    Notebooks are executed through the jupyter-cache, so a second build reuses
    the results of the first.
    """
    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(ROOT),
           "--builder", "html", "--warningiserror", "--keep-going"]
    env = {**os.environ, "DLFA_QUIET": "1"}
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"book build failed (exit {result.returncode}):\n{log[-6000:]}"
    return BUILD_DIR, log


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium driven by playwright (never `playwright install`)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is installed by requirements.txt")
    from lab_server import CHROMIUM, CHROMIUM_ARGS

    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
