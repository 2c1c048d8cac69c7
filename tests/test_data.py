"""helpers.data: shapes, dtypes, determinism, train-only standardisation, and bad arguments."""
import math

import numpy as np
import pytest
import torch

from helpers import data


# ----------------------------------------------------------------------------- digits
def test_digits_shapes_and_dtypes():
    s = data.load_digits()
    assert isinstance(s, data.Split)
    assert s.X_train.shape == (1500, 64) and s.X_test.shape == (297, 64)
    assert s.y_train.shape == (1500,) and s.y_test.shape == (297,)
    assert s.X_train.dtype == torch.float32 and s.y_train.dtype == torch.int64
    assert s.X_train.device.type == "cpu"
    assert set(s.y_train.tolist()) == set(range(10))


def test_digits_same_seed_same_tensors_different_seed_different():
    a, b, c = data.load_digits(seed=3), data.load_digits(seed=3), data.load_digits(seed=4)
    for ta, tb in zip(a, b):
        assert torch.equal(ta, tb)
    assert not torch.equal(a.y_test, c.y_test)


def test_digits_split_is_a_partition_of_all_images():
    from sklearn.datasets import load_digits as sk
    s = data.load_digits(standardize=False)
    X = np.concatenate([s.X_train.numpy(), s.X_test.numpy()])
    ref = sk().data / 16.0
    # every image appears exactly once: compare sorted rows
    key = lambda A: A[np.lexsort(A.T[::-1])]
    np.testing.assert_allclose(key(X.astype(np.float64)), key(ref), atol=1e-7)


def test_digits_standardised_with_train_statistics_only():
    raw = data.load_digits(standardize=False, seed=1)
    std = data.load_digits(standardize=True, seed=1)
    Xtr, Xte = raw.X_train.double(), raw.X_test.double()
    mean, sd = Xtr.mean(0), Xtr.std(0, unbiased=False) + 1e-6
    torch.testing.assert_close(std.X_train.double(), (Xtr - mean) / sd, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(std.X_test.double(), (Xte - mean) / sd, rtol=1e-5, atol=1e-5)
    # train columns (non-constant ones) have mean 0 and std 1; the test set's do not exactly
    varying = Xtr.std(0) > 0.01  # eps=1e-6 in the denominator matters only for near-constant pixels
    assert std.X_train[:, varying].mean(0).abs().max() < 1e-5
    torch.testing.assert_close(std.X_train[:, varying].double().std(0, unbiased=False),
                               torch.ones(int(varying.sum()), dtype=torch.float64), rtol=1e-4, atol=1e-4)
    assert std.X_test[:, varying].mean(0).abs().max() > 1e-3


def test_digits_test_size():
    s = data.load_digits(test_size=500)
    assert len(s.X_test) == 500 and len(s.X_train) == 1297


@pytest.mark.parametrize("kwargs, error, message", [
    ({"seed": -1}, ValueError, "seed must be an int >= 0; got -1"),
    ({"seed": 1.5}, TypeError, "seed must be an int >= 0; got float 1.5"),
    ({"test_size": 0}, ValueError, "test_size must be an int >= 1; got 0"),
    ({"test_size": 1797}, ValueError, "test_size must be smaller than the 1797 images; got 1797"),
    ({"standardize": "yes"}, TypeError, "standardize must be a bool; got 'yes'"),
])
def test_digits_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=f"^{message}$"):
        data.load_digits(**kwargs)


# ----------------------------------------------------------------------------- spirals
def test_spirals_shapes_dtypes_and_classes():
    s = data.make_spirals(n_per_class=100, n_classes=3, test_fraction=0.2)
    assert s.X_train.shape == (240, 2) and s.X_test.shape == (60, 2)
    assert s.X_train.dtype == torch.float32 and s.y_train.dtype == torch.int64
    y = torch.cat([s.y_train, s.y_test])
    assert torch.bincount(y).tolist() == [100, 100, 100]


def test_spirals_determinism():
    a, b, c = data.make_spirals(seed=1), data.make_spirals(seed=1), data.make_spirals(seed=2)
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert not torch.equal(a.X_train, c.X_train)


def test_spirals_without_noise_lie_on_their_arms():
    turns = 1.5
    s = data.make_spirals(n_per_class=50, n_classes=2, noise=0.0, turns=turns)
    X, y = torch.cat([s.X_train, s.X_test]).double(), torch.cat([s.y_train, s.y_test])
    r = X.norm(dim=1)
    assert r.max() <= 1.0 + 1e-6
    angle = torch.atan2(X[:, 1], X[:, 0])
    expected = 2 * math.pi * turns * r + math.pi * y  # class k is rotated by 2πk/n_classes
    diff = torch.remainder(angle - expected + math.pi, 2 * math.pi) - math.pi
    assert diff.abs().max() < 1e-4


def test_spirals_are_not_linearly_separable_but_noise_is_small():
    """A linear classifier cannot separate the arms (else the playground shows nothing)."""
    from sklearn.linear_model import LogisticRegression
    s = data.make_spirals(n_per_class=300, turns=1.5, noise=0.05)
    acc = LogisticRegression().fit(s.X_train.numpy(), s.y_train.numpy()).score(s.X_test.numpy(), s.y_test.numpy())
    assert acc < 0.8


@pytest.mark.parametrize("kwargs, message", [
    ({"n_per_class": 1}, "n_per_class must be an int >= 2; got 1"),
    ({"n_classes": 1}, "n_classes must be an int >= 2; got 1"),
    ({"noise": -0.1}, "noise must be a finite number >= 0; got -0.1"),
    ({"turns": 0}, "turns must be a finite number > 0; got 0.0"),
    ({"test_fraction": 0.0}, r"test_fraction must be a number in \(0, 1\); got 0.0"),
    ({"test_fraction": 1.0}, r"test_fraction must be a number in \(0, 1\); got 1.0"),
    ({"seed": -2}, "seed must be an int >= 0; got -2"),
])
def test_spirals_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        data.make_spirals(**kwargs)


# ----------------------------------------------------------------------------- adding problem
def test_adding_problem_shapes_markers_and_targets():
    X, y = data.make_adding_problem(500, 37, seed=3)
    assert X.shape == (500, 37, 2) and y.shape == (500,)
    assert X.dtype == torch.float32 and y.dtype == torch.float32
    markers = X[..., 1]
    assert set(markers.unique().tolist()) == {0.0, 1.0}
    assert torch.all(markers.sum(1) == 2)                       # exactly two markers per sequence
    assert torch.all(markers[:, :18].sum(1) == 1)               # one in the first half ...
    assert torch.all(markers[:, 18:].sum(1) == 1)               # ... one in the second
    values = X[..., 0]
    assert values.min() >= 0 and values.max() <= 1
    torch.testing.assert_close(y, (values * markers).sum(1))


def test_adding_problem_baseline_mse_is_one_sixth():
    assert data.ADDING_BASELINE_MSE == 1 / 6
    _, y = data.make_adding_problem(10_000, 20, seed=0)
    mse = ((y.double() - 1.0) ** 2).mean().item()
    assert abs(mse - data.ADDING_BASELINE_MSE) < 0.02
    assert abs(y.double().mean().item() - 1.0) < 0.02


def test_adding_problem_determinism():
    a, b, c = data.make_adding_problem(50, 10, seed=4), data.make_adding_problem(50, 10, seed=4), \
        data.make_adding_problem(50, 10, seed=5)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


@pytest.mark.parametrize("args, error", [((0, 10), ValueError), ((5, 1), ValueError), ((5, 10.0), TypeError),
                                         ((5, 10, -1), ValueError)])
def test_adding_problem_bad_arguments(args, error):
    with pytest.raises(error):
        data.make_adding_problem(*args)


# ----------------------------------------------------------------------------- MNIST-1D
def _global_states():
    import random
    return np.random.get_state(), random.getstate()


def _same_state(a, b):
    (np_a, py_a), (np_b, py_b) = a, b
    return py_a == py_b and all(np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y
                                for x, y in zip(np_a, np_b))


def test_mnist1d_small_generated_offline_deterministic_and_cached(tmp_path, monkeypatch):
    pytest.importorskip("mnist1d")
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError("make_mnist1d tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    np.random.seed(99)
    before = _global_states()
    a = data.make_mnist1d(seed=1, cache_dir=tmp_path / "a", num_samples=200)
    assert _same_state(before, _global_states())       # mnist1d reseeds the globals: restored
    assert a.X_train.shape == (160, 40) and a.X_test.shape == (40, 40)
    assert a.X_train.dtype == torch.float32 and a.y_train.dtype == torch.int64
    assert set(torch.cat([a.y_train, a.y_test]).tolist()) == set(range(10))
    files = list((tmp_path / "a").iterdir())
    assert len(files) == 1 and files[0].suffix == ".npz"
    b = data.make_mnist1d(seed=1, cache_dir=tmp_path / "b", num_samples=200)   # regenerated
    cached = data.make_mnist1d(seed=1, cache_dir=tmp_path / "a", num_samples=200)  # loaded
    c = data.make_mnist1d(seed=2, cache_dir=tmp_path / "a", num_samples=200)
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert all(torch.equal(u, v) for u, v in zip(a, cached))
    assert not torch.equal(a.X_train, c.X_train)


def test_mnist1d_default_is_the_reference_dataset(tmp_path):
    """The full default set (about 5 s to generate): 4000/1000 signals of length 40, balanced classes."""
    pytest.importorskip("mnist1d")
    s = data.make_mnist1d(cache_dir=tmp_path)
    assert s.X_train.shape == (4000, 40) and s.X_test.shape == (1000, 40)
    counts = torch.bincount(torch.cat([s.y_train, s.y_test]))
    assert counts.tolist() == [500] * 10
    X = torch.cat([s.X_train, s.X_test]).double()
    assert abs(X.mean().item()) < 1e-6 and abs(X.std(unbiased=False).item() - 1) < 1e-5  # mnist1d standardises


def test_mnist1d_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="seed must be an int >= 0; got -1"):
        data.make_mnist1d(seed=-1, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="num_samples must be an int >= 20; got 5"):
        data.make_mnist1d(cache_dir=tmp_path, num_samples=5)


# ----------------------------------------------------------------------------- optional torchvision loaders
@pytest.mark.parametrize("loader", ["load_cifar10", "load_mnist"])
def test_torchvision_loaders_give_an_install_hint_when_absent(loader, monkeypatch, tmp_path):
    import sys
    monkeypatch.setitem(sys.modules, "torchvision", None)  # import torchvision -> ImportError
    with pytest.raises(ImportError, match=r'pip install "dl-fa-helpers\[datasets\]"'):
        getattr(data, loader)(tmp_path)
