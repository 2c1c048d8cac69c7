"""helpers.activations against PyTorch in float64: values, derivatives vs autograd, registry, bad input.

Tolerances: values and derivatives rtol = 1e-12, atol = 1e-14 (float64; our
formulas differ from PyTorch's kernels only by rounding).
"""
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from helpers import activations as A

RTOL, ATOL = 1e-12, 1e-14

# name -> (non-default parameters, PyTorch reference function, expected nn module type)
CASES = {
    "sigmoid": ({}, torch.sigmoid, nn.Sigmoid),
    "tanh": ({}, torch.tanh, nn.Tanh),
    "relu": ({}, F.relu, nn.ReLU),
    "leaky_relu": ({"negative_slope": 0.2}, lambda x: F.leaky_relu(x, 0.2), nn.LeakyReLU),
    "elu": ({"alpha": 0.7}, lambda x: F.elu(x, 0.7), nn.ELU),
    "gelu": ({}, F.gelu, nn.GELU),
}
NAMES = list(CASES)


def _inputs(gen, shape=(7, 5, 3), scale=3.0):
    """Random float64 inputs with exact zeros (the kinks) and a few large values (overflow checks)."""
    x = scale * torch.randn(shape, generator=gen, dtype=torch.float64)
    flat = x.view(-1)
    flat[::7] = 0.0
    flat[1:5] = torch.tensor([40.0, -40.0, 800.0, -800.0], dtype=torch.float64)
    return x


def _autograd_derivative(fn, x):
    x = x.detach().clone().requires_grad_(True)
    fn(x).backward(torch.ones_like(x))
    return x.grad


def test_registry_has_the_contract_names():
    assert list(A.ACTIVATIONS) == ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu"]
    assert A.activation_names() == list(A.ACTIVATIONS)
    for name, act in A.ACTIVATIONS.items():
        assert act.name == name and isinstance(act.module(**act.defaults), torch.nn.Module)


@pytest.mark.parametrize("name", NAMES)
def test_values_match_torch(name, rng):
    kwargs, ref, _ = CASES[name]
    x = _inputs(rng)
    torch.testing.assert_close(A.activation_fn(name, **kwargs)(x), ref(x), rtol=RTOL, atol=ATOL)
    assert torch.isfinite(A.activation_fn(name, **kwargs)(x)).all()


@pytest.mark.parametrize("name", NAMES)
def test_derivatives_match_autograd(name, rng):
    kwargs, ref, _ = CASES[name]
    x = _inputs(rng)
    assert (x == 0).any()
    ours = A.derivative(name, **kwargs)(x)
    torch.testing.assert_close(ours, _autograd_derivative(ref, x), rtol=RTOL, atol=ATOL)
    # and our own function differentiated by autograd agrees with our formula
    torch.testing.assert_close(ours, _autograd_derivative(A.activation_fn(name, **kwargs), x), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name, expected", [
    ("sigmoid", 0.25), ("tanh", 1.0), ("relu", 0.0), ("leaky_relu", 0.2), ("elu", 0.7), ("gelu", 0.5),
])
def test_derivative_at_zero_follows_autograd_convention(name, expected):
    kwargs, ref, _ = CASES[name]
    zero = torch.zeros(3, dtype=torch.float64)
    assert A.derivative(name, **kwargs)(zero).tolist() == [expected] * 3
    assert _autograd_derivative(ref, zero).tolist() == [expected] * 3


def test_default_parameters_match_torch_defaults(rng):
    x = _inputs(rng)
    torch.testing.assert_close(A.leaky_relu(x), F.leaky_relu(x), rtol=RTOL, atol=ATOL)
    torch.testing.assert_close(A.elu(x), F.elu(x), rtol=RTOL, atol=ATOL)
    torch.testing.assert_close(A.leaky_relu_derivative(x), _autograd_derivative(F.leaky_relu, x), rtol=RTOL, atol=ATOL)
    torch.testing.assert_close(A.elu_derivative(x), _autograd_derivative(F.elu, x), rtol=RTOL, atol=ATOL)


def test_small_inputs_keep_relative_precision():
    x = torch.tensor([1e-12, -3e-9, 1e-300], dtype=torch.float64)
    torch.testing.assert_close(A.tanh(x), torch.tanh(x), rtol=1e-14, atol=0.0)
    torch.testing.assert_close(A.elu(x, 0.7), F.elu(x, 0.7), rtol=1e-14, atol=0.0)


@pytest.mark.parametrize("name", NAMES)
def test_get_activation_returns_the_torch_module(name, rng):
    kwargs, ref, cls = CASES[name]
    m1, m2 = A.get_activation(name, **kwargs), A.get_activation(name, **kwargs)
    assert type(m1) is cls and m1 is not m2
    x = _inputs(rng)
    torch.testing.assert_close(m1(x), ref(x), rtol=RTOL, atol=ATOL)
    torch.testing.assert_close(m1(x), A.activation_fn(name, **kwargs)(x), rtol=RTOL, atol=ATOL)


def test_module_parameters_and_exact_gelu():
    assert A.get_activation("leaky_relu", negative_slope=0.2).negative_slope == 0.2
    assert A.get_activation("elu", alpha=0.7).alpha == 0.7
    assert A.get_activation("gelu").approximate == "none"
    assert isinstance(A.get_activation("ReLU"), nn.ReLU)          # case and dashes are forgiven
    assert isinstance(A.get_activation("leaky-relu"), nn.LeakyReLU)


def test_float32_keeps_dtype(rng):
    x = _inputs(rng).float()
    for name in NAMES:
        assert A.activation_fn(name)(x).dtype == torch.float32
        assert A.derivative(name)(x).dtype == torch.float32


def test_unknown_name_lists_the_known_names():
    for lookup in (A.get_activation, A.activation_fn, A.derivative):
        with pytest.raises(ValueError) as err:
            lookup("swish")
        for name in NAMES:
            assert name in str(err.value)
    with pytest.raises(TypeError, match="str"):
        A.get_activation(None)


def test_unknown_parameter_is_rejected():
    with pytest.raises(ValueError, match="negative_slope"):
        A.get_activation("leaky_relu", alpha=0.3)
    with pytest.raises(ValueError, match="none"):
        A.activation_fn("relu", alpha=0.3)


@pytest.mark.parametrize("fn", [A.sigmoid, A.sigmoid_derivative, A.tanh, A.tanh_derivative, A.relu,
                                A.relu_derivative, A.leaky_relu, A.leaky_relu_derivative, A.elu,
                                A.elu_derivative, A.gelu, A.gelu_derivative])
def test_non_tensor_and_integer_input_raise_type_error(fn):
    with pytest.raises(TypeError, match="^x must be a torch.Tensor; got list$"):
        fn([0.0, 1.0])
    with pytest.raises(TypeError, match=r"^x must be a floating-point tensor \(float32 or float64\); got dtype torch.int64$"):
        fn(torch.arange(3))


@settings(deadline=None, max_examples=25)
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=4),
       seed=st.integers(0, 2**31 - 1),
       scale=st.sampled_from([1e-3, 1.0, 5.0, 30.0]),
       name=st.sampled_from(NAMES))
def test_property_derivative_matches_autograd_on_random_shapes(shape, seed, scale, name):
    kwargs, ref, _ = CASES[name]
    gen = torch.Generator().manual_seed(seed)
    x = scale * torch.randn(shape, generator=gen, dtype=torch.float64)
    x.view(-1)[::3] = 0.0
    d = A.derivative(name, **kwargs)(x)
    assert d.shape == x.shape
    torch.testing.assert_close(d, _autograd_derivative(ref, x), rtol=RTOL, atol=ATOL)
    if name == "sigmoid":
        assert (d <= 0.25).all() and (d >= 0).all()          # the bound chapter 4 builds on
    if name == "tanh":
        assert (d <= 1.0).all() and (d >= 0).all()
