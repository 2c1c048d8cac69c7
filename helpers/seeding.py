"""The one seeding helper and the floating-point mode the book computes in."""
import contextlib
import random

import numpy as np
import torch


def set_seed(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch (CPU and every CUDA device).

    Returns a fresh ``torch.Generator`` seeded with ``seed`` for code that
    wants an explicit generator (data shuffling) independent of cell order.
    The same seed gives the same numbers on CPU.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return torch.Generator().manual_seed(seed)


def use_book_numerics() -> None:
    """Compute the way the book computes its numbers: torch on one CPU thread, denormals flushed to zero.

    One thread: the course's models are tiny, on a 2-core laptop one thread is as fast as two, and
    under nbval the kernel and the test runner no longer compete for cores (a training cell went from
    62 s to 3.3 s). Denormals flushed: vanishing signals produce denormal numbers, which make CPU
    kernels slow; flushing them to zero changes numbers below about 1e-38 (chapter 4's float32
    gradients), so the claims and the tests use this same mode (``book_numerics``).
    """
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)


@contextlib.contextmanager
def book_numerics():
    """``use_book_numerics()`` for the duration of a ``with`` block, then PyTorch's previous thread
    count and its default (denormals kept) again."""
    before = torch.get_num_threads()
    use_book_numerics()
    try:
        yield
    finally:
        torch.set_flush_denormal(False)
        torch.set_num_threads(before)
