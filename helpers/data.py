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

from helpers.checks import check_bool, check_int, check_number

Split = namedtuple("Split", "X_train y_train X_test y_test")
Split.__doc__ = """A train/test split of tensors: X_* float32 features, y_* labels (int64 classes or float32 targets)."""


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

    seed = check_int("seed", seed, min=0)
    test_size = check_int("test_size", test_size, min=1)
    check_bool("standardize", standardize)
    digits = _sk_load_digits()
    X = digits.data.astype(np.float64) / 16.0
    y = digits.target.astype(np.int64)
    if test_size >= len(y):
        raise ValueError(f"test_size must be smaller than the {len(y)} images; got {test_size}")
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


# ----------------------------------------------------------------------------- spirals
def make_spirals(n_per_class=300, n_classes=2, noise=0.1, turns=1.0, seed=0, test_fraction=0.25) -> Split:
    """Interleaved 2-D spirals, one arm per class: the playground's decision-boundary data set.

    For class k a point at parameter s ~ U(0, 1) lies at radius r = s and angle
    2π·turns·s + 2πk/n_classes, plus Gaussian noise of standard deviation ``noise`` on each
    coordinate. The ``n_classes · n_per_class`` points are shuffled and split:
    ``Split(X_train (N_train, 2), y_train (N_train,), X_test (N_test, 2), y_test (N_test,))``,
    N_test = round(test_fraction · N), X float32, y int64 in [0, n_classes).
    """
    n_per_class = check_int("n_per_class", n_per_class, min=2)
    n_classes = check_int("n_classes", n_classes, min=2)
    noise = check_number("noise", noise, min=0)
    turns = check_number("turns", turns, min=0, min_open=True)
    seed = check_int("seed", seed, min=0)
    test_fraction = check_number("test_fraction", test_fraction, min=0, max=1, min_open=True, max_open=True)
    rng = np.random.default_rng(seed)
    s = rng.uniform(0.0, 1.0, size=(n_classes, n_per_class))
    angle = 2 * np.pi * turns * s + 2 * np.pi * np.arange(n_classes)[:, None] / n_classes
    X = np.stack([s * np.cos(angle), s * np.sin(angle)], axis=-1).reshape(-1, 2)
    X = X + noise * rng.standard_normal(X.shape)
    y = np.repeat(np.arange(n_classes, dtype=np.int64), n_per_class)
    order = rng.permutation(len(y))
    n_test = int(round(test_fraction * len(y)))
    if not 0 < n_test < len(y):
        raise ValueError(f"test_fraction={test_fraction} leaves an empty train or test set of {len(y)} points")
    test_idx, train_idx = order[:n_test], order[n_test:]
    f = lambda a: torch.from_numpy(a.astype(np.float32))
    return Split(f(X[train_idx]), torch.from_numpy(y[train_idx]), f(X[test_idx]), torch.from_numpy(y[test_idx]))


# ----------------------------------------------------------------------------- MNIST-1D
MNIST1D_SEED = 42  # the seed of the reference data set (Greydanus 2020, mnist1d's get_dataset_args())


def default_cache_dir():
    """``$DLFA_CACHE`` if set, else ``~/.cache/dlfa``."""
    import os
    return os.environ.get("DLFA_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "dlfa")


def make_mnist1d(seed=MNIST1D_SEED, cache_dir=None, *, num_samples=5000) -> Split:
    """MNIST-1D (Greydanus 2020), generated locally — no download — and cached.

    Returns ``Split(X_train (0.8·num_samples, 40), y_train, X_test (0.2·num_samples, 40), y_test)``:
    X float32 1-D signals of length 40, y int64 digits 0–9. The default (``seed=42``,
    5000 samples: 4000 train / 1000 test) is the reference data set of the ``mnist1d``
    package's ``get_dataset_args()``; another seed draws another data set of the same kind.

    The arrays are built with ``mnist1d.data.make_dataset`` (its ``get_dataset`` would try a
    download; we never call it), which reseeds Python's and NumPy's global generators: their
    states are saved and restored, so the caller's random streams are untouched. The result
    is cached as ``.npz`` under ``cache_dir`` (default ``default_cache_dir()``); the file name
    holds the package version, seed and size, so a later call loads it in milliseconds.
    Needs the ``mnist1d`` package (in requirements.txt). Used by chapters 3 and 5.
    """
    import os
    import random

    seed = check_int("seed", seed, min=0)
    num_samples = check_int("num_samples", num_samples, min=20)
    try:
        import mnist1d
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as err:  # pragma: no cover - mnist1d is a pinned requirement
        raise ImportError('make_mnist1d needs the mnist1d package: pip install "mnist1d==0.0.2.post1"') from err
    from importlib.metadata import version

    cache_dir = default_cache_dir() if cache_dir is None else os.fspath(cache_dir)
    path = os.path.join(cache_dir, f"mnist1d-{version('mnist1d')}-seed{seed}-n{num_samples}.npz")
    if os.path.exists(path):
        with np.load(path) as z:
            arrays = {k: z[k] for k in ("x", "y", "x_test", "y_test")}
    else:
        args = get_dataset_args()
        args.seed, args.num_samples = seed, num_samples
        np_state, py_state = np.random.get_state(), random.getstate()
        try:
            d = make_dataset(args)
        finally:
            np.random.set_state(np_state)
            random.setstate(py_state)
        arrays = {k: np.asarray(d[k]) for k in ("x", "y", "x_test", "y_test")}
        os.makedirs(cache_dir, exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp.npz"
        np.savez(tmp, **arrays)
        os.replace(tmp, path)  # atomic: parallel notebooks never read half a file
    return Split(
        torch.from_numpy(arrays["x"].astype(np.float32)),
        torch.from_numpy(arrays["y"].astype(np.int64)),
        torch.from_numpy(arrays["x_test"].astype(np.float32)),
        torch.from_numpy(arrays["y_test"].astype(np.int64)),
    )


# ----------------------------------------------------------------------------- adding problem
ADDING_BASELINE_MSE = 1 / 6
"""MSE of always predicting 1.0 (the mean target): Var(a + b) = 2 · (1/12) for a, b ~ U(0, 1); ≈ 0.167."""


def make_adding_problem(n, T, seed=0):
    """The adding problem (Hochreiter & Schmidhuber 1997; Le et al. 2015; Li et al. 2018).

    Returns ``X: (n, T, 2)`` float32 and ``y: (n,)`` float32. Channel 0 holds values drawn from
    U(0, 1); channel 1 is a 0/1 marker with exactly two ones per sequence, one in the first half
    (position < T // 2) and one in the second half, as in Le et al. 2015 and Li et al. 2018.
    The target is the sum of the two marked values. Predicting the constant 1.0 gives
    ``ADDING_BASELINE_MSE`` = 1/6 ≈ 0.167; a network must beat that to have learnt anything.
    Used by chapter 4 and lab 5.
    """
    n = check_int("n", n, min=1)
    T = check_int("T", T, min=2)
    seed = check_int("seed", seed, min=0)
    rng = np.random.default_rng(seed)
    values = rng.uniform(0.0, 1.0, size=(n, T))
    half = T // 2
    first = rng.integers(0, half, size=n)
    second = rng.integers(half, T, size=n)
    markers = np.zeros((n, T))
    rows = np.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    y = values[rows, first] + values[rows, second]
    X = np.stack([values, markers], axis=-1)
    return torch.from_numpy(X.astype(np.float32)), torch.from_numpy(y.astype(np.float32))


# ----------------------------------------------------------------------------- optional: torchvision
_DATASETS_HINT = ('{name} needs torchvision, an optional extra for readers with internet: '
                  'pip install "dl-fa-helpers[datasets]"')


def _torchvision_datasets(name):
    try:
        from torchvision import datasets
    except ImportError as err:
        raise ImportError(_DATASETS_HINT.format(name=name)) from err
    return datasets


def _image_split(train_x, train_y, test_x, test_y, standardize):
    """uint8 (N, H, W, C) arrays -> float32 (N, C, H, W) in [0, 1], optionally standardised per channel (train stats)."""
    X_train = torch.from_numpy(np.ascontiguousarray(train_x)).permute(0, 3, 1, 2).float() / 255
    X_test = torch.from_numpy(np.ascontiguousarray(test_x)).permute(0, 3, 1, 2).float() / 255
    if standardize:
        mean = X_train.mean(dim=(0, 2, 3), keepdim=True)
        std = X_train.std(dim=(0, 2, 3), keepdim=True)
        X_train, X_test = (X_train - mean) / std, (X_test - mean) / std
    return Split(X_train, torch.as_tensor(np.asarray(train_y), dtype=torch.int64),
                 X_test, torch.as_tensor(np.asarray(test_y), dtype=torch.int64))


def load_cifar10(root, *, download=True, standardize=True) -> Split:
    """CIFAR-10 through torchvision (optional extra; downloads ~170 MB into ``root`` once).

    Returns ``Split(X_train (50000, 3, 32, 32), y_train (50000,), X_test (10000, 3, 32, 32), y_test)``,
    X float32 in [0, 1] or, with ``standardize``, standardised per channel with train statistics.
    Raises ImportError with the install command when torchvision is absent. Never used by tests.
    """
    datasets = _torchvision_datasets("load_cifar10")
    train = datasets.CIFAR10(root, train=True, download=download)
    test = datasets.CIFAR10(root, train=False, download=download)
    return _image_split(train.data, train.targets, test.data, test.targets, standardize)


def load_mnist(root, *, download=True, standardize=True) -> Split:
    """MNIST through torchvision (optional extra; downloads ~12 MB into ``root`` once).

    Returns ``Split(X_train (60000, 1, 28, 28), y_train (60000,), X_test (10000, 1, 28, 28), y_test)``,
    X float32 as in ``load_cifar10``. Raises ImportError with the install command when torchvision
    is absent. Never used by tests.
    """
    datasets = _torchvision_datasets("load_mnist")
    train = datasets.MNIST(root, train=True, download=download)
    test = datasets.MNIST(root, train=False, download=download)
    return _image_split(train.data.numpy()[..., None], train.targets, test.data.numpy()[..., None],
                        test.targets, standardize)
