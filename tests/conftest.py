"""Shared test settings: tiny models on one CPU thread, float64 comparisons."""
import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture
def rng():
    """A seeded torch generator, so each test's data does not depend on test order."""
    return torch.Generator().manual_seed(1234)
