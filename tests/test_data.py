"""helpers.data: shapes, dtypes, determinism, train-only standardisation, and bad arguments."""
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


@pytest.mark.parametrize("kwargs, error", [
    ({"seed": -1}, ValueError), ({"seed": 1.5}, TypeError), ({"test_size": 0}, ValueError),
    ({"test_size": 1797}, ValueError), ({"standardize": "yes"}, TypeError),
])
def test_digits_bad_arguments(kwargs, error):
    with pytest.raises(error):
        data.load_digits(**kwargs)
