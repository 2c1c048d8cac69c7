"""Numeric gradient checks: centred differences with an upstream gradient, and ``rel_error``.

Used wherever a chapter or lab writes a backward pass by hand and must show it
is right: lab 1 (the batch-norm backward), chapter 4
(``chapters/04_vanishing_gradients.ipynb``) and lab 4 (``labs/source/lab4_im2col.ipynb``,
the im2col convolution's backward).
"""
from __future__ import annotations

import itertools

import numpy as np
import torch

from helpers.checks import check_number, check_tensor

__all__ = ["numeric_gradient", "rel_error"]


def _require_float64(name: str, t) -> None:
    check_tensor(name, t)
    if t.dtype != torch.float64:
        raise TypeError(
            f"{name} must have dtype torch.float64; got {t.dtype}: in float32 a centred difference with "
            f"h = 1e-6 is dominated by rounding error (float32 resolves only ~1e-7 relative), "
            f"so convert with .double() first"
        )


def numeric_gradient(f, x: torch.Tensor, dout: torch.Tensor | None, h: float = 1e-6) -> torch.Tensor:
    """Gradient of ``sum(f(x) * dout)`` with respect to ``x`` by centred differences.

    f: a function of the tensor ``x`` returning a tensor ``y`` (any shape);
    x: float64 tensor of any shape; dout: float64 tensor of ``y``'s shape, the
    upstream gradient dL/dy (``None`` means ones, i.e. the gradient of ``y.sum()``).
    Returns grad: same shape as x, with, for every element x_i,

        grad_i = sum((f(x + h e_i) - f(x - h e_i)) * dout) / (2 h)

    whose error is O(h^2). ``f`` is called 2 * x.numel() times, so keep x small.
    ``x`` is changed in place during the check and restored exactly (bit for bit)
    before returning, even if ``f`` raises. Everything must be float64: with
    float32 the rounding error of f, about 1e-7 * |f| / h, swamps the answer.
    """
    _require_float64("x", x)
    if dout is not None:
        _require_float64("dout", dout)
    h = check_number("h", h, min=0, min_open=True)
    grad = torch.zeros_like(x)
    with torch.no_grad():
        for idx in itertools.product(*(range(n) for n in x.shape)):
            old = x[idx].item()
            try:
                x[idx] = old + h
                plus = _output(f, x, dout)
                x[idx] = old - h
                minus = _output(f, x, dout)
            finally:
                x[idx] = old
            diff = plus - minus
            grad[idx] = (diff if dout is None else diff * dout).sum() / (2 * h)
    return grad


def _output(f, x, dout):
    """f(x) as a detached copy, checked against the upstream gradient's shape."""
    y = f(x)
    _require_float64("f(x)", y)
    if dout is not None:
        check_tensor("dout", dout, shape=y.shape, layout="f(x).shape")
    return y.detach().clone()


def rel_error(a, b) -> float:
    """Largest elementwise relative error between ``a`` and ``b`` (CS231n's definition).

        rel_error(a, b) = max_i |a_i - b_i| / max(1e-8, |a_i| + |b_i|)

    a, b: tensors, arrays or numbers of the same shape. The result is 0 for
    equal inputs, symmetric, and at most 1 (reached when a_i = -b_i != 0).
    Because every element is divided by its own size, a wrong small entry is
    caught even beside large ones. Rough guide for float64 gradient checks:
    below 1e-7 is right, above 1e-4 is almost certainly a bug.
    """
    ta = torch.as_tensor(np.asarray(a) if not isinstance(a, torch.Tensor) else a).detach().to(torch.float64)
    tb = torch.as_tensor(np.asarray(b) if not isinstance(b, torch.Tensor) else b).detach().to(torch.float64)
    if ta.shape != tb.shape:
        raise ValueError(f"a and b must have the same shape; got {tuple(ta.shape)} and {tuple(tb.shape)}")
    if ta.numel() == 0:
        raise ValueError("a and b must have at least one element; got empty ones")
    num = (ta - tb).abs()
    den = (ta.abs() + tb.abs()).clamp_min(1e-8)
    return float((num / den).max())
