"""Small pieces every chapter's experiments share (data, a seeded MLP, a diverged run as ``None``)."""
from __future__ import annotations

import math

from helpers.data import load_digits
from helpers.models import make_mlp
from helpers.seeding import set_seed

__all__ = ["NUM_CLASSES", "digits_or", "seeded_mlp", "finite_or_none"]

NUM_CLASSES = 10  # the digits and MNIST-1D both have ten classes


def digits_or(data, seed: int):
    """``data`` if given, else the digits split drawn by ``seed`` (``helpers.data.load_digits``)."""
    return load_digits(seed=seed) if data is None else data


def seeded_mlp(data, *, seed: int, hidden: int, depth: int, activation: str, **kwargs):
    """``helpers.models.make_mlp`` for ``data`` (features in, ten classes out) whose initial weights
    depend only on ``seed``; ``kwargs`` go to ``make_mlp`` (``norm``, ``norm_position``, ``init``, ...)."""
    set_seed(seed)
    return make_mlp(data.X_train.shape[1], hidden, depth, NUM_CLASSES, activation=activation, **kwargs)


def finite_or_none(value):
    """NaN or infinity (a diverged run) becomes ``None``, so results stay JSON-friendly and easy to test."""
    return None if value is None or (isinstance(value, float) and not math.isfinite(value)) else value
