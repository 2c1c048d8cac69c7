"""Argument checks shared by every library module: one line per argument at the public boundary.

Each check takes the argument's ``name`` and ``value``, raises an error whose message says what
was expected and what was got, and returns the value (as a plain ``int`` / ``float`` where it
converts), so a function reads::

    num_groups = check_int("num_groups", num_groups, min=1)
    eps = check_number("eps", eps, min=0, min_open=True)
    check_tensor("gamma", gamma, shape=(C,), layout="(C,)")

The errors follow Python's convention: ``TypeError`` when the argument is the wrong kind of
object (a float where an int is needed, a list where a tensor is needed, a wrong dtype),
``ValueError`` when it is the right kind with a wrong value (a negative count, a wrong shape, an
unknown name). Messages have one form, ``"<name> must be <what was expected>; got <what was got>"``,
for example ``"stride must be an int >= 1; got 0"`` or
``"x must be a 2-D or 4-D tensor of shape (N, C) or (N, C, H, W); got a 3-D tensor of shape (7, 5, 3)"``.
"""
from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Iterable

import torch

__all__ = [
    "check_int",
    "check_number",
    "check_bool",
    "check_choice",
    "check_callable",
    "check_tensor",
]


def _bounds(kind: str, min, max, min_open: bool = False, max_open: bool = False) -> str:
    """Words for a range: 'an int >= 1', 'a number > 0', 'a number in [0, 1]', 'a number in (0, 1]'."""
    if min is not None and max is not None:
        return f"{kind} in {'(' if min_open else '['}{min}, {max}{')' if max_open else ']'}"
    if min is not None:
        return f"{kind} {'>' if min_open else '>='} {min}"
    if max is not None:
        return f"{kind} {'<' if max_open else '<='} {max}"
    return kind


def _article(words: str) -> str:
    return ("an " if words[0] in "aeiou" else "a ") + words


def check_int(name: str, value, *, min: int | None = None, max: int | None = None) -> int:
    """``value`` as a Python int, checked to lie in ``[min, max]`` (either bound may be None).

    Accepts Python ints, NumPy integers and 0-d integer tensors (anything with ``__index__``);
    refuses bools and floats (``2.0`` is not a count) with a ``TypeError``, and an int out of
    range with a ``ValueError``: ``check_int("depth", -1, min=0)`` raises
    ``ValueError("depth must be an int >= 0; got -1")``.
    """
    expected = _article(_bounds("int", min, max))
    if isinstance(value, bool) or (isinstance(value, torch.Tensor) and value.dim() != 0):
        raise TypeError(f"{name} must be {expected}; got {type(value).__name__} {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be {expected}; got {type(value).__name__} {value!r}") from None
    if (min is not None and value < min) or (max is not None and value > max):
        raise ValueError(f"{name} must be {expected}; got {value}")
    return value


def check_number(name: str, value, *, min: float | None = None, max: float | None = None,
                 min_open: bool = False, max_open: bool = False, finite: bool = True) -> float:
    """``value`` as a Python float, checked to be a real number in the given range.

    ``min`` / ``max`` are inclusive unless ``min_open`` / ``max_open``; ``finite=True`` (the
    default) refuses NaN and infinities. Ints and NumPy floats are accepted, bools and strings
    are not (``TypeError``); out of range is a ``ValueError``:
    ``check_number("eps", 0.0, min=0, min_open=True)`` raises
    ``ValueError("eps must be a finite number > 0; got 0.0")``.
    """
    kind = "finite number" if finite and (min is None or max is None) else "number"
    expected = _article(_bounds(kind, min, max, min_open, max_open))
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {expected}; got {type(value).__name__} {value!r}")
    value = float(value)
    if math.isnan(value) or (finite and math.isinf(value)):
        raise ValueError(f"{name} must be {expected}; got {value!r}")
    below = min is not None and (value <= min if min_open else value < min)
    above = max is not None and (value >= max if max_open else value > max)
    if below or above:
        raise ValueError(f"{name} must be {expected}; got {value!r}")
    return value


def check_bool(name: str, value, meaning: str = "") -> bool:
    """``value`` itself if it is ``True`` or ``False``; ``1``, ``"yes"`` and ``None`` are refused (``TypeError``).

    ``meaning`` is added to the message, e.g. ``"True: batch statistics, False: running statistics"``.
    """
    if not isinstance(value, bool):
        extra = f" ({meaning})" if meaning else ""
        raise TypeError(f"{name} must be a bool{extra}; got {value!r}")
    return value


def check_choice(name: str, value, choices: Iterable, *, alternative: str = ""):
    """``value`` if it is one of ``choices`` (e.g. names), else a ``ValueError`` that lists them.

    ``alternative`` names what else the caller accepts (and checked before), e.g.
    ``"a callable(output, target)"``: the message then reads
    ``"loss must be one of 'cross_entropy', 'mse' or a callable(output, target); got 'l1'"``.
    """
    choices = tuple(choices)
    try:
        known = value in choices
    except TypeError:  # an unhashable value against a dict or set
        known = False
    if not known:
        listed = ", ".join(repr(c) for c in choices) + (f" or {alternative}" if alternative else "")
        raise ValueError(f"{name} must be one of {listed}; got {value!r}")
    return value


def check_callable(name: str, value, what: str = "a callable"):
    """``value`` if it can be called, else a ``TypeError`` saying what kind of callable was expected
    (e.g. ``what="a callable step -> lr"``)."""
    if not callable(value):
        raise TypeError(f"{name} must be {what}; got {type(value).__name__} {value!r}")
    return value


def _shape_words(shape) -> str:
    return "(" + ", ".join("*" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def check_tensor(name: str, value, *, ndim: int | tuple[int, ...] | None = None, shape=None,
                 layout: str | None = None, dtype: torch.dtype | None = None,
                 floating: bool = False) -> torch.Tensor:
    """``value`` if it is a ``torch.Tensor`` of the expected number of dimensions, shape and dtype.

    Args:
        ndim: the allowed number of dimensions, an int or a tuple (e.g. ``(2, 4)``).
        shape: the exact shape, a tuple whose ``None`` entries match any size.
        layout: the shape in words, shown in messages (e.g. ``"(N, C, H, W)"``, ``"(C,)"``).
        dtype: the exact dtype (e.g. ``torch.float64``).
        floating: require a floating-point dtype (float16/32/64, bfloat16).

    A non-tensor or a wrong dtype is a ``TypeError``; a wrong ``ndim`` or shape a ``ValueError``::

        check_tensor("x", torch.zeros(7, 5, 3), ndim=(2, 4), layout="(N, C) or (N, C, H, W)")
        # ValueError: x must be a 2-D or 4-D tensor of shape (N, C) or (N, C, H, W);
        #             got a 3-D tensor of shape (7, 5, 3)
    """
    ndims = (ndim,) if isinstance(ndim, int) else tuple(ndim) if ndim is not None else None
    of_shape = f" of shape {layout}" if layout else ""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor{of_shape}; got {type(value).__name__}")
    if ndims is not None and value.dim() not in ndims:
        dims = " or ".join(f"{d}-D" for d in ndims)
        raise ValueError(f"{name} must be {_article(dims)} tensor{of_shape}; "
                         f"got a {value.dim()}-D tensor of shape {tuple(value.shape)}")
    if shape is not None:
        shape = tuple(shape)
        fits = value.dim() == len(shape) and all(s is None or s == v for s, v in zip(shape, value.shape))
        if not fits:
            expected = f"{layout} = {_shape_words(shape)}" if layout else _shape_words(shape)
            raise ValueError(f"{name} must have shape {expected}; got shape {tuple(value.shape)}")
    if dtype is not None and value.dtype != dtype:
        raise TypeError(f"{name} must have dtype {dtype}; got {value.dtype}")
    if floating and not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor (float32 or float64); got dtype {value.dtype}")
    return value
