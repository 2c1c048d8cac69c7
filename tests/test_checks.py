"""helpers.checks: what each check accepts, what it refuses, and the words of its messages."""
import math

import numpy as np
import pytest
import torch

from helpers.checks import check_bool, check_callable, check_choice, check_int, check_number, check_tensor


# ---------------------------------------------------------------------------- check_int
@pytest.mark.parametrize("value", [3, np.int64(3), np.int32(3), torch.tensor(3)])
def test_check_int_accepts_ints_and_returns_a_python_int(value):
    got = check_int("n", value, min=1)
    assert got == 3 and type(got) is int


@pytest.mark.parametrize("value", [3.0, "3", None, True, False, torch.tensor(3.0), torch.tensor([3]), [3]])
def test_check_int_refuses_other_kinds_with_a_type_error(value):
    with pytest.raises(TypeError, match=r"^n must be an int >= 1; got "):
        check_int("n", value, min=1)


@pytest.mark.parametrize("kwargs, value, message", [
    (dict(min=1), 0, "n must be an int >= 1; got 0"),
    (dict(min=0), -1, "n must be an int >= 0; got -1"),
    (dict(max=5), 6, "n must be an int <= 5; got 6"),
    (dict(min=1, max=5), 6, r"n must be an int in \[1, 5\]; got 6"),
    (dict(min=1, max=5), 0, r"n must be an int in \[1, 5\]; got 0"),
])
def test_check_int_refuses_values_out_of_range(kwargs, value, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        check_int("n", value, **kwargs)


def test_check_int_bounds_are_inclusive():
    assert check_int("n", 1, min=1, max=5) == 1
    assert check_int("n", 5, min=1, max=5) == 5
    assert check_int("n", -7) == -7  # no bounds: any int


# ---------------------------------------------------------------------------- check_number
@pytest.mark.parametrize("value", [2, 2.0, np.float32(2.0), np.float64(2.0), np.int64(2)])
def test_check_number_accepts_reals_and_returns_a_float(value):
    got = check_number("lr", value, min=0, min_open=True)
    assert got == 2.0 and type(got) is float


@pytest.mark.parametrize("value", ["0.1", None, True, torch.tensor(0.1), 1j])
def test_check_number_refuses_other_kinds_with_a_type_error(value):
    with pytest.raises(TypeError, match=r"^lr must be a finite number > 0; got "):
        check_number("lr", value, min=0, min_open=True)


@pytest.mark.parametrize("kwargs, value, message", [
    (dict(min=0, min_open=True), 0.0, "x must be a finite number > 0; got 0.0"),
    (dict(min=0), -0.5, "x must be a finite number >= 0; got -0.5"),
    (dict(min=0), math.inf, "x must be a finite number >= 0; got inf"),
    (dict(min=0), math.nan, "x must be a finite number >= 0; got nan"),
    (dict(), math.inf, "x must be a finite number; got inf"),
    (dict(min=1), 0.5, r"x must be a finite number >= 1; got 0\.5"),
    (dict(max=1, max_open=True), 1, "x must be a finite number < 1; got 1.0"),
    (dict(min=0, max=1), 1.5, r"x must be a number in \[0, 1\]; got 1\.5"),
    (dict(min=0, max=1, min_open=True), 0, r"x must be a number in \(0, 1\]; got 0\.0"),
    (dict(min=0, max=1, max_open=True), 1, r"x must be a number in \[0, 1\); got 1\.0"),
    (dict(min=0, max=1), math.nan, r"x must be a number in \[0, 1\]; got nan"),
])
def test_check_number_refuses_values_out_of_range(kwargs, value, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        check_number("x", value, **kwargs)


def test_check_number_bounds_and_infinity():
    assert check_number("x", 0, min=0) == 0.0           # closed bound: the bound itself is in
    assert check_number("x", 1, min=0, max=1) == 1.0
    assert check_number("x", math.inf, min=0, finite=False) == math.inf
    with pytest.raises(ValueError, match="got nan"):      # NaN is never a number in range
        check_number("x", math.nan, finite=False)


# ---------------------------------------------------------------------------- check_bool, choice, callable
def test_check_bool():
    assert check_bool("training", True) is True and check_bool("training", False) is False
    for value in (1, 0, "train", None, np.bool_(True)):
        with pytest.raises(TypeError, match=r"^training must be a bool \(True: batch\); got "):
            check_bool("training", value, "True: batch")
    with pytest.raises(TypeError, match=r"^flag must be a bool; got 'yes'$"):
        check_bool("flag", "yes")


def test_check_choice():
    assert check_choice("norm", "batch", ("batch", "layer")) == "batch"
    assert check_choice("mode", None, (None, "a")) is None
    with pytest.raises(ValueError, match=r"^norm must be one of 'batch', 'layer'; got 'bn'$"):
        check_choice("norm", "bn", ("batch", "layer"))
    with pytest.raises(ValueError, match=r"got \['batch'\]"):   # unhashable against a dict's keys
        check_choice("norm", ["batch"], {"batch": 1}.keys())
    with pytest.raises(ValueError, match=r"^loss must be one of 'cross_entropy', 'mse' or a callable\(output, target\); "
                                         r"got 'l1'$"):
        check_choice("loss", "l1", ("cross_entropy", "mse"), alternative="a callable(output, target)")


def test_check_callable():
    assert check_callable("f", len) is len
    with pytest.raises(TypeError, match=r"^schedule must be a callable step -> lr; got float 0\.1$"):
        check_callable("schedule", 0.1, "a callable step -> lr")


# ---------------------------------------------------------------------------- check_tensor
def test_check_tensor_returns_the_tensor_it_accepts():
    x = torch.zeros(7, 5)
    assert check_tensor("x", x, ndim=(2, 4), shape=(None, 5), dtype=torch.float32, floating=True) is x


def test_check_tensor_kind_and_ndim():
    with pytest.raises(TypeError, match=r"^x must be a torch.Tensor of shape \(N, C, H, W\); got list$"):
        check_tensor("x", [[1.0]], ndim=4, layout="(N, C, H, W)")
    with pytest.raises(TypeError, match=r"^x must be a torch.Tensor; got ndarray$"):
        check_tensor("x", np.zeros(3))
    with pytest.raises(ValueError, match=r"^x must be a 2-D or 4-D tensor of shape \(N, C\) or \(N, C, H, W\); "
                                         r"got a 3-D tensor of shape \(7, 5, 3\)$"):
        check_tensor("x", torch.zeros(7, 5, 3), ndim=(2, 4), layout="(N, C) or (N, C, H, W)")
    with pytest.raises(ValueError, match=r"^w must be a 4-D tensor; got a 2-D tensor of shape \(3, 2\)$"):
        check_tensor("w", torch.zeros(3, 2), ndim=4)


def test_check_tensor_shape():
    with pytest.raises(ValueError, match=r"^gamma must have shape \(C,\) = \(5,\); got shape \(4,\)$"):
        check_tensor("gamma", torch.ones(4), shape=(5,), layout="(C,)")
    with pytest.raises(ValueError, match=r"^gamma must have shape \(5,\); got shape \(5, 1\)$"):
        check_tensor("gamma", torch.ones(5, 1), shape=(5,))
    with pytest.raises(ValueError, match=r"^h must have shape \(\*, 8\); got shape \(3, 7\)$"):
        check_tensor("h", torch.ones(3, 7), shape=(None, 8))
    assert check_tensor("h", torch.ones(3, 8), shape=(None, 8)).shape == (3, 8)


def test_check_tensor_dtype():
    with pytest.raises(TypeError, match=r"^x must have dtype torch.float64; got torch.float32$"):
        check_tensor("x", torch.zeros(2), dtype=torch.float64)
    with pytest.raises(TypeError, match=r"^x must be a floating-point tensor \(float32 or float64\); "
                                        r"got dtype torch.int64$"):
        check_tensor("x", torch.zeros(2, dtype=torch.int64), floating=True)
