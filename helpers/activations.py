"""Activation functions, their analytic derivatives, and a registry by name.

Taught in chapter 2 (``chapters/02_bn_sigmoid_relu.ipynb``: sigmoid and ReLU
beside batch norm), chapter 4 (``chapters/04_vanishing_gradients.ipynb``:
sigmoid's derivative is at most 1/4, ReLU's is 0 for negative inputs) and
lab 2 (``labs/source/lab2_activations.ipynb``: students write the derivatives).

Every function takes a floating-point tensor ``x`` of any shape and returns a
tensor of the same shape. The derivatives are written out by hand (no
autograd) and follow PyTorch's autograd at the kinks, so they can be compared
value for value:

* ``relu'(0) = 0``  (autograd passes the gradient only where ``x > 0``);
* ``leaky_relu'(0) = negative_slope``  (slope 1 only where ``x > 0``);
* ``elu'(0) = alpha``  (the ``x <= 0`` branch, ``alpha * exp(x)``, is used at 0).

Models and widgets pick an activation by name::

    get_activation("relu")        # -> nn.ReLU()
    activation_fn("tanh")(x)      # -> tanh(x), our own formula
    derivative("sigmoid")(x)      # -> s(x) * (1 - s(x))
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import Tensor, nn

from helpers.checks import check_tensor

__all__ = [
    "sigmoid", "sigmoid_derivative",
    "tanh", "tanh_derivative",
    "relu", "relu_derivative",
    "leaky_relu", "leaky_relu_derivative",
    "elu", "elu_derivative",
    "gelu", "gelu_derivative",
    "Activation", "ACTIVATIONS",
    "get_activation", "activation_fn", "derivative", "activation_names",
]


def _magnitude_and_sign(x: Tensor) -> tuple[Tensor, Tensor]:
    """|x| and sign(x) with sign(0) = +1, written with ``where`` so that autograd
    through our formulas is right at 0 too (``x.abs()`` and ``torch.sign`` have
    derivative 0 there, which would make autograd's tanh'(0) = 0)."""
    positive = x >= 0
    return torch.where(positive, x, -x), torch.where(positive, 1.0, -1.0).to(x.dtype)


# --- sigmoid ---------------------------------------------------------------

def sigmoid(x: Tensor) -> Tensor:
    """Logistic sigmoid s(x) = 1 / (1 + exp(-x)); x: any shape.

    Written in the two stable forms (``1/(1+e^-x)`` for x >= 0 and
    ``e^x/(1+e^x)`` for x < 0) so that ``exp`` never overflows.
    """
    check_tensor("x", x, floating=True)
    magnitude, _ = _magnitude_and_sign(x)
    e = torch.exp(-magnitude)                   # in (0, 1]: never overflows
    return torch.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_derivative(x: Tensor) -> Tensor:
    """s'(x) = s(x) (1 - s(x)); at most 1/4 (at x = 0). x: any shape."""
    s = sigmoid(x)
    return s * (1.0 - s)


# --- tanh ------------------------------------------------------------------

def tanh(x: Tensor) -> Tensor:
    """tanh(x) = (1 - e^{-2|x|}) / (1 + e^{-2|x|}) · sign(x); x: any shape.

    ``expm1`` keeps full relative precision near 0; ``exp`` of a non-positive
    number never overflows.
    """
    check_tensor("x", x, floating=True)
    magnitude, sign = _magnitude_and_sign(x)
    return sign * (-torch.expm1(-2.0 * magnitude)) / (1.0 + torch.exp(-2.0 * magnitude))


def tanh_derivative(x: Tensor) -> Tensor:
    """tanh'(x) = 1 - tanh(x)^2; at most 1 (at x = 0). x: any shape."""
    t = tanh(x)
    return 1.0 - t * t


# --- ReLU ------------------------------------------------------------------

def relu(x: Tensor) -> Tensor:
    """ReLU(x) = max(x, 0); x: any shape."""
    check_tensor("x", x, floating=True)
    return torch.where(x > 0, x, torch.zeros_like(x))


def relu_derivative(x: Tensor) -> Tensor:
    """ReLU'(x) = 1 for x > 0, else 0 — including x = 0, as PyTorch's autograd. x: any shape."""
    check_tensor("x", x, floating=True)
    return (x > 0).to(x.dtype)


# --- leaky ReLU ------------------------------------------------------------

def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """LeakyReLU(x) = x for x > 0, negative_slope · x otherwise; x: any shape."""
    check_tensor("x", x, floating=True)
    return torch.where(x > 0, x, negative_slope * x)


def leaky_relu_derivative(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """1 for x > 0, negative_slope for x <= 0 (so at 0 it is negative_slope, as autograd). x: any shape."""
    check_tensor("x", x, floating=True)
    return torch.where(x > 0, torch.ones_like(x), torch.full_like(x, negative_slope))


# --- ELU -------------------------------------------------------------------

def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """ELU(x) = x for x > 0, alpha (e^x - 1) otherwise; x: any shape."""
    check_tensor("x", x, floating=True)
    negative = alpha * torch.expm1(torch.clamp(x, max=0.0))   # clamp: no overflow in the unused branch
    return torch.where(x > 0, x, negative)


def elu_derivative(x: Tensor, alpha: float = 1.0) -> Tensor:
    """1 for x > 0, alpha · e^x for x <= 0 (so at 0 it is alpha, as autograd). x: any shape."""
    check_tensor("x", x, floating=True)
    return torch.where(x > 0, torch.ones_like(x), alpha * torch.exp(torch.clamp(x, max=0.0)))


# --- GELU ------------------------------------------------------------------

_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def gelu(x: Tensor) -> Tensor:
    """GELU(x) = x · Φ(x) with the exact normal CDF Φ(x) = (1 + erf(x/√2)) / 2 (not the tanh approximation)."""
    check_tensor("x", x, floating=True)
    return x * 0.5 * (1.0 + torch.erf(x * _INV_SQRT2))


def gelu_derivative(x: Tensor) -> Tensor:
    """GELU'(x) = Φ(x) + x · φ(x), φ the standard normal density. x: any shape."""
    check_tensor("x", x, floating=True)
    cdf = 0.5 * (1.0 + torch.erf(x * _INV_SQRT2))
    pdf = _INV_SQRT_2PI * torch.exp(-0.5 * x * x)
    return cdf + x * pdf


# --- registry --------------------------------------------------------------

@dataclass(frozen=True)
class Activation:
    """One activation: its function, its derivative and the equivalent ``torch.nn`` module.

    ``defaults`` holds the keyword parameters (e.g. ``negative_slope``) with
    their default values; the same names are accepted by ``fn``,
    ``derivative`` and ``module``.
    """

    name: str
    fn: Callable[..., Tensor]
    derivative: Callable[..., Tensor]
    module: Callable[..., nn.Module]
    defaults: dict = field(default_factory=dict)


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in [
        Activation("sigmoid", sigmoid, sigmoid_derivative, nn.Sigmoid, {}),
        Activation("tanh", tanh, tanh_derivative, nn.Tanh, {}),
        Activation("relu", relu, relu_derivative, nn.ReLU, {}),
        Activation("leaky_relu", leaky_relu, leaky_relu_derivative, nn.LeakyReLU,
                   {"negative_slope": 0.01}),
        Activation("elu", elu, elu_derivative, nn.ELU, {"alpha": 1.0}),
        Activation("gelu", gelu, gelu_derivative, nn.GELU, {}),
    ]
}


def activation_names() -> list[str]:
    """The registered names, in registry order."""
    return list(ACTIVATIONS)


def _lookup(name: str, kwargs: dict) -> Activation:
    if not isinstance(name, str):
        raise TypeError(f"activation name must be a str, one of {activation_names()}; got {type(name).__name__}")
    key = name.strip().lower().replace("-", "_")
    if key not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; known names: {', '.join(activation_names())}")
    act = ACTIVATIONS[key]
    unknown = set(kwargs) - set(act.defaults)
    if unknown:
        allowed = sorted(act.defaults) or "none"
        raise ValueError(f"activation {key!r} takes parameters {allowed}; got {sorted(unknown)}")
    return act


def get_activation(name: str, **kwargs) -> nn.Module:
    """A fresh ``torch.nn`` module for ``name`` (e.g. ``nn.Sigmoid()``), for models and widgets.

    ``kwargs`` are the activation's parameters, e.g.
    ``get_activation("leaky_relu", negative_slope=0.2)``; GELU is the exact
    (erf) form. Unknown name -> ValueError listing the known names.
    """
    return _lookup(name, kwargs).module(**kwargs)


def activation_fn(name: str, **kwargs) -> Callable[[Tensor], Tensor]:
    """Our own function for ``name`` as ``f(x) -> Tensor``, with ``kwargs`` bound (e.g. ``alpha``)."""
    act = _lookup(name, kwargs)
    return functools.partial(act.fn, **kwargs) if kwargs else act.fn


def derivative(name: str, **kwargs) -> Callable[[Tensor], Tensor]:
    """The analytic derivative of ``name`` as ``f'(x) -> Tensor`` (elementwise), with ``kwargs`` bound."""
    act = _lookup(name, kwargs)
    return functools.partial(act.derivative, **kwargs) if kwargs else act.derivative
