"""helpers.gradcheck: centred differences agree with autograd (float64, rel_error < 1e-7),
leave their input untouched, refuse float32, and rel_error behaves as CS231n's."""
import numpy as np
import pytest
import torch

from helpers.gradcheck import numeric_gradient, rel_error

DT = torch.float64


def nonlinear(x):
    """A non-linear map (3, 4) -> (4, 2) mixing elements, so every output depends on many inputs."""
    m = torch.linspace(-1.0, 1.0, 6, dtype=DT).view(3, 2)
    return torch.tanh(x).t() @ m + torch.sin(x * x).t() @ (m * m) + x.exp().sum() / 10


def test_numeric_gradient_agrees_with_autograd(rng):
    x = torch.randn(3, 4, generator=rng, dtype=DT)
    dout = torch.randn(4, 2, generator=rng, dtype=DT)
    xr = x.clone().requires_grad_()
    nonlinear(xr).backward(dout)
    num = numeric_gradient(nonlinear, x, dout)
    assert num.shape == x.shape
    assert rel_error(num, xr.grad) < 1e-7


def test_numeric_gradient_with_no_upstream_gradient_is_that_of_the_sum(rng):
    x = torch.randn(5, generator=rng, dtype=DT)
    num = numeric_gradient(lambda t: (t**3).sum(), x, None)
    assert rel_error(num, 3 * x**2) < 1e-7


def test_numeric_gradient_detects_a_wrong_analytic_gradient(rng):
    # d/dx tanh(x) = 1 - tanh(x)^2; "forgetting the square" must show up as a large error
    x = torch.randn(6, generator=rng, dtype=DT)
    dout = torch.randn(6, generator=rng, dtype=DT)
    num = numeric_gradient(torch.tanh, x, dout)
    assert rel_error(num, (1 - torch.tanh(x) ** 2) * dout) < 1e-7
    assert rel_error(num, (1 - torch.tanh(x)) * dout) > 1e-2


def test_numeric_gradient_leaves_x_unchanged(rng):
    x = torch.randn(2, 3, 2, generator=rng, dtype=DT)
    before = x.clone()
    numeric_gradient(torch.sigmoid, x, torch.ones(2, 3, 2, dtype=DT))
    assert torch.equal(x, before)  # bit for bit


def test_numeric_gradient_restores_x_when_f_raises(rng):
    x = torch.randn(4, generator=rng, dtype=DT)
    before = x.clone()

    def boom(t):
        raise RuntimeError("f failed")

    with pytest.raises(RuntimeError, match="f failed"):
        numeric_gradient(boom, x, torch.ones(4, dtype=DT))
    assert torch.equal(x, before)


def test_numeric_gradient_works_on_non_contiguous_and_leaf_tensors(rng):
    base = torch.randn(4, 3, generator=rng, dtype=DT)
    x = base.t()  # non-contiguous view
    num = numeric_gradient(lambda t: t**2, x, torch.ones(3, 4, dtype=DT))
    assert rel_error(num, 2 * x) < 1e-7
    leaf = torch.randn(3, generator=rng, dtype=DT, requires_grad=True)
    num = numeric_gradient(lambda t: t.detach() ** 2, leaf, torch.ones(3, dtype=DT))
    assert rel_error(num, 2 * leaf.detach()) < 1e-7


@pytest.mark.parametrize(
    "x, dout, f, match",
    [
        (torch.ones(3), torch.ones(3, dtype=DT), torch.tanh, r"x must have dtype torch.float64; got torch.float32"),
        (torch.ones(3, dtype=DT), torch.ones(3), torch.tanh, r"dout must have dtype torch.float64"),
        (torch.ones(3, dtype=DT), torch.ones(3, dtype=DT), lambda t: t.float(), r"f\(x\) must have dtype torch.float64"),
        (np.ones(3), torch.ones(3, dtype=DT), torch.tanh, "x must be a torch.Tensor; got ndarray"),
    ],
)
def test_numeric_gradient_refuses_anything_but_float64(x, dout, f, match):
    with pytest.raises(TypeError, match=match):
        numeric_gradient(f, x, dout)


def test_numeric_gradient_rejects_bad_shapes_and_steps():
    x = torch.ones(3, dtype=DT)
    with pytest.raises(ValueError, match=r"dout must have shape f\(x\).shape = \(3,\); got shape \(4,\)"):
        numeric_gradient(torch.tanh, x, torch.ones(4, dtype=DT))
    with pytest.raises(ValueError, match="h must be a finite number > 0; got 0.0"):
        numeric_gradient(torch.tanh, x, torch.ones(3, dtype=DT), h=0.0)
    with pytest.raises(TypeError, match="h must be a finite number > 0; got str"):
        numeric_gradient(torch.tanh, x, torch.ones(3, dtype=DT), h="1e-6")


def test_rel_error_basic_properties(rng):
    a = torch.randn(5, 4, generator=rng, dtype=DT)
    b = a + 1e-3 * torch.randn(5, 4, generator=rng, dtype=DT)
    assert rel_error(a, a) == 0.0
    assert rel_error(torch.zeros(3), torch.zeros(3)) == 0.0  # the 1e-8 floor avoids 0/0
    assert rel_error(a, b) == rel_error(b, a)
    assert 0.0 < rel_error(a, b) < 1.0
    assert rel_error(a, -a) == pytest.approx(1.0)  # the largest possible value
    assert isinstance(rel_error(a, b), float)
    # arrays and plain numbers are accepted too
    assert rel_error(np.array([1.0, 2.0]), [1.0, 2.0]) == 0.0
    assert rel_error(3.0, 1.0) == pytest.approx(0.5)


def test_rel_error_is_elementwise_so_a_wrong_small_entry_is_large():
    # a norm-based relative error would call these equal (~1e-6); rel_error does not
    a = torch.tensor([1000.0, 1e-3], dtype=DT)
    b = torch.tensor([1000.0, 2e-3], dtype=DT)
    assert rel_error(a, b) == pytest.approx(1 / 3)
    assert (a - b).norm() / (a.norm() + b.norm()) < 1e-6


def test_rel_error_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"same shape; got \(3,\) and \(2,\)"):
        rel_error(torch.zeros(3), torch.zeros(2))
