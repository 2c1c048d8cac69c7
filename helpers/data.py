"""Data sets that need no download, as seeded float32 CPU tensors.

Used by every chapter and lab: scikit-learn's bundled 8×8 digits (chapters 1–2,
the playground), two spirals (the playground's 2-D decision boundary),
MNIST-1D generated locally (chapters 3 and 5), and the adding problem
(chapter 4, lab 5). CIFAR-10 and MNIST loaders are an optional extra for
readers with internet; nothing in the book or the tests needs them.

Every function returns tensors on the CPU (move them with ``helpers.get_device``)
and is deterministic: the same ``seed`` gives the same tensors, and no function
touches the global random state of Python, NumPy or torch.
"""
from collections import namedtuple

import numpy as np
import torch

Split = namedtuple("Split", "X_train y_train X_test y_test")
Split.__doc__ = """A train/test split of tensors: X_* float32 features, y_* labels (int64 classes or float32 targets)."""


def _check_int(name, value, *, minimum):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")
    return int(value)


def _check_seed(seed):
    return _check_int("seed", seed, minimum=0)


def _standardize(X_train, X_test, eps=1e-6):
    """Standardise both arrays with the TRAIN mean and std (per feature); eps keeps constant pixels finite."""
    mean = X_train.mean(axis=0)
    std = X_train.std(axis=0) + eps
    return (X_train - mean) / std, (X_test - mean) / std


def load_digits(*, seed=0, test_size=297, standardize=True) -> Split:
    """scikit-learn's bundled 8×8 digits (1797 images, 10 classes), split and optionally standardised.

    Returns ``Split(X_train (N_train, 64), y_train (N_train,), X_test (test_size, 64), y_test (test_size,))``
    with X float32 and y int64; the default split is 1500 train / 297 test images.
    Pixels are divided by 16 (to [0, 1]); with ``standardize=True`` each pixel is then
    standardised with the mean and standard deviation of the TRAINING images only, so no
    information from the test images leaks into training. ``seed`` picks the random split.

    Taught in chapter 1 (batch normalization) and used by chapter 2 and the playground.
    """
    from sklearn.datasets import load_digits as _sk_load_digits

    seed = _check_seed(seed)
    test_size = _check_int("test_size", test_size, minimum=1)
    if not isinstance(standardize, bool):
        raise TypeError(f"standardize must be a bool, got {standardize!r}")
    digits = _sk_load_digits()
    X = digits.data.astype(np.float64) / 16.0
    y = digits.target.astype(np.int64)
    if test_size >= len(y):
        raise ValueError(f"test_size must be smaller than the {len(y)} images, got {test_size}")
    order = np.random.default_rng(seed).permutation(len(y))
    test_idx, train_idx = order[:test_size], order[test_size:]
    X_train, X_test = X[train_idx], X[test_idx]
    if standardize:
        X_train, X_test = _standardize(X_train, X_test)
    return Split(
        torch.from_numpy(X_train.astype(np.float32)),
        torch.from_numpy(y[train_idx]),
        torch.from_numpy(X_test.astype(np.float32)),
        torch.from_numpy(y[test_idx]),
    )
