"""Convolution as one matrix product: im2col, col2im and a conv layer built on them.

Taught in chapter 4 (``chapters/04_vanishing_gradients.ipynb``, the section on
convolution as a matrix product) and practised in lab 4 (``labs/source/lab4_im2col.ipynb``).

Shapes used throughout:

- ``x``:    (N, C, H, W)       a batch of N images with C channels
- ``w``:    (F, C, kh, kw)     F filters, each spanning all C channels
- ``b``:    (F,)               one bias per filter
- ``cols``: (N, C*kh*kw, L)    one column per output position, L = H' * W'
- ``out``:  (N, F, H', W')     H' = (H - kh + 2*ph) // sh + 1, likewise W'

The column layout is exactly that of ``torch.nn.functional.unfold``: row
``c*kh*kw + i*kw + j`` of a column holds pixel (i, j) of channel c of the
receptive field, and columns run over output positions in row-major order.
``col2im`` is the adjoint of ``im2col`` (overlapping entries are summed), as
``torch.nn.functional.fold`` is of ``unfold``. The tests check both against
PyTorch; this module does not call ``F.unfold``/``F.fold`` itself.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from helpers.checks import check_bool, check_int, check_tensor

__all__ = [
    "conv_output_size",
    "im2col",
    "col2im",
    "conv2d_im2col",
    "conv2d_im2col_backward",
    "conv2d_naive",
    "ConvCache",
]

X_LAYOUT, W_LAYOUT, COLS_LAYOUT = "(N, C, H, W)", "(F, C, kh, kw)", "(N, C*kh*kw, L)"


def _pair(name: str, value, *, min: int) -> tuple[int, int]:
    """An int or a (height, width) pair of ints, each >= min -> a (height, width) pair of ints."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair (height, width); got {value!r}")
        return check_int(name, value[0], min=min), check_int(name, value[1], min=min)
    v = check_int(name, value, min=min)
    return v, v


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0, *, exact: bool = False) -> int:
    """Number of positions a kernel takes along one axis: ``(size - kernel + 2*padding) // stride + 1``.

    This is the formula (H - F + 2P)/S + 1 of chapter 4 and lab 4; e.g. a 4-pixel
    side, a 2-pixel kernel, stride 1 and padding 1 give (4 - 2 + 2)/1 + 1 = 5.

    When ``stride`` does not divide ``size - kernel + 2*padding`` the division is
    floored, as in PyTorch: the last rows/columns of the padded input that no
    whole kernel window reaches are skipped. With ``exact=True`` that case raises
    a ``ValueError`` instead (CS231n's "these hyperparameters do not fit").

    Raises ``TypeError`` for non-integer arguments (NumPy ints are fine) and
    ``ValueError`` when no positive result is possible: ``size`` or ``kernel`` < 1,
    ``stride`` < 1, ``padding`` < 0, or a kernel larger than the padded input.
    """
    size, kernel = check_int("size", size, min=1), check_int("kernel", kernel, min=1)
    stride, padding = check_int("stride", stride, min=1), check_int("padding", padding, min=0)
    check_bool("exact", exact)
    span = size + 2 * padding - kernel
    if span < 0:
        raise ValueError(
            f"kernel ({kernel}) is larger than the padded input (size {size} + 2*padding {padding} "
            f"= {size + 2 * padding}); expected kernel <= size + 2*padding"
        )
    if exact and span % stride:
        raise ValueError(
            f"(size - kernel + 2*padding) = {span} is not divisible by stride {stride}: "
            f"the kernel does not tile the padded input exactly"
        )
    return span // stride + 1


def _geometry(input_hw, kernel_size, stride, padding):
    """Checked (kh, kw), (sh, sw), (ph, pw), (oh, ow) for an input of spatial size input_hw."""
    kh, kw = _pair("kernel_size", kernel_size, min=1)
    sh, sw = _pair("stride", stride, min=1)
    ph, pw = _pair("padding", padding, min=0)
    H, W = input_hw
    oh = conv_output_size(H, kh, sh, ph)
    ow = conv_output_size(W, kw, sw, pw)
    return (kh, kw), (sh, sw), (ph, pw), (oh, ow)


# ---------------------------------------------------------------------------
# im2col / col2im
# ---------------------------------------------------------------------------
def im2col(x: torch.Tensor, kernel_size, stride=1, padding=0) -> torch.Tensor:
    """Unroll every receptive field of ``x`` into a column.

    x: (N, C, H, W); kernel_size, stride, padding: an int or a (height, width) pair.
    Returns cols: (N, C*kh*kw, L) with L = H' * W', laid out exactly like
    ``F.unfold(x, kernel_size, padding=padding, stride=stride)``. Mind the order:
    ``im2col(x, kernel_size, stride, padding)`` is CS231n's and lab 4's; ``F.unfold``'s
    positional order is ``(kernel_size, dilation, padding, stride)``, so pass keywords to it.

    Vectorised: ``Tensor.unfold`` makes a strided *view* of shape
    (N, C, H', W', kh, kw) (no copy, no Python loop over positions); one
    permute + reshape copies it into the column matrix. Chapter 4, lab 4.
    """
    check_tensor("x", x, ndim=4, layout=X_LAYOUT)
    N, C, H, W = x.shape
    (kh, kw), (sh, sw), (ph, pw), (oh, ow) = _geometry((H, W), kernel_size, stride, padding)
    xp = F.pad(x, (pw, pw, ph, ph)) if (ph or pw) else x
    patches = xp.unfold(2, kh, sh).unfold(3, kw, sw)  # (N, C, oh, ow, kh, kw), a view
    return patches.permute(0, 1, 4, 5, 2, 3).reshape(N, C * kh * kw, oh * ow)


def col2im(cols: torch.Tensor, input_shape, kernel_size, stride=1, padding=0) -> torch.Tensor:
    """Fold columns back into an image, summing entries that overlap: the adjoint of ``im2col``.

    cols: (N, C*kh*kw, L); input_shape: (N, C, H, W) of the image ``im2col`` was
    called on (an (H, W) pair is accepted too, as ``F.fold``'s ``output_size``).
    Returns x: (N, C, H, W), equal to
    ``F.fold(cols, (H, W), kernel_size, padding=padding, stride=stride)`` (keywords: ``F.fold``'s
    positional order is ``(output_size, kernel_size, dilation, padding, stride)``).

    This is what the backward pass of a convolution needs: a pixel that sits in
    several receptive fields receives the sum of their gradients. Vectorised:
    the only Python loop runs over the kh*kw kernel entries (9 for a 3x3
    kernel), never over output positions; entry (i, j) of every column is
    added, for all N, C and positions at once, to the strided slice of a
    zero-padded image it came from, whose border is then cut off. (A single
    ``index_add_`` with precomputed indices does the same; on our CPU it was
    as fast for large inputs and up to 5x slower for small ones.) Chapter 4, lab 4.
    """
    check_tensor("cols", cols, ndim=3, layout=COLS_LAYOUT)
    shape = tuple(input_shape)
    if len(shape) not in (2, 4):
        raise ValueError(f"input_shape must be (N, C, H, W) or (H, W); got {input_shape!r}")
    H, W = check_int("input_shape H", shape[-2], min=1), check_int("input_shape W", shape[-1], min=1)
    (kh, kw), (sh, sw), (ph, pw), (oh, ow) = _geometry((H, W), kernel_size, stride, padding)
    N, CK, L = cols.shape
    if CK % (kh * kw):
        raise ValueError(f"cols.shape[1] = {CK} is not a multiple of kh*kw = {kh * kw}; expected C*kh*kw rows")
    C = CK // (kh * kw)
    if len(shape) == 4 and (shape[0] != N or shape[1] != C):
        raise ValueError(
            f"input_shape {shape} does not match cols of shape {tuple(cols.shape)}: "
            f"expected N = {N} and C = cols.shape[1] / (kh*kw) = {C}"
        )
    if L != oh * ow:
        raise ValueError(f"cols.shape[2] = {L} but a {H}x{W} input gives H'*W' = {oh}*{ow} = {oh * ow} positions")
    blocks = cols.reshape(N, C, kh, kw, oh, ow)
    xp = cols.new_zeros(N, C, H + 2 * ph, W + 2 * pw)
    for i in range(kh):
        for j in range(kw):
            xp[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw] += blocks[:, :, i, j]
    return xp[:, :, ph:ph + H, pw:pw + W].contiguous()


# ---------------------------------------------------------------------------
# convolution layer
# ---------------------------------------------------------------------------
class ConvCache(NamedTuple):
    """What ``conv2d_im2col_backward`` needs from the forward pass."""

    cols: torch.Tensor          # (N, C*kh*kw, L)
    w: torch.Tensor             # (F, C, kh, kw)
    has_bias: bool
    input_shape: tuple          # (N, C, H, W)
    stride: tuple               # (sh, sw)
    padding: tuple              # (ph, pw)


def _check_conv_args(x, w, b):
    """x: (N, C, H, W), w: (F, C, kh, kw) of x's dtype, b: None or (F,) of w's dtype."""
    check_tensor("x", x, ndim=4, layout=X_LAYOUT)
    check_tensor("w", w, ndim=4, layout=W_LAYOUT)
    if x.shape[1] != w.shape[1]:
        raise ValueError(
            f"channel mismatch: x has C = {x.shape[1]} channels (x: {tuple(x.shape)}) but w expects "
            f"{w.shape[1]} (w: {tuple(w.shape)}); expected x.shape[1] == w.shape[1]"
        )
    if x.dtype != w.dtype:
        raise TypeError(f"x and w must have the same dtype; got x: {x.dtype}, w: {w.dtype}")
    if b is not None:  # one bias per filter
        check_tensor("b", b, shape=(w.shape[0],), layout="(F,)", dtype=w.dtype)


def conv2d_im2col(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None, stride=1, padding=0):
    """2-D convolution (cross-correlation, as ``F.conv2d``) as ONE matrix product.

    x: (N, C, H, W); w: (F, C, kh, kw); b: (F,) or None; stride, padding: int or
    (height, width) pair. Returns ``(out, cache)`` with out: (N, F, H', W').

    The filters, flattened to a (F, C*kh*kw) matrix, multiply the column matrix
    (N, C*kh*kw, L) of ``im2col``: out[n] = W_row @ cols[n] (+ b), one batched
    GEMM. Pass ``cache`` to ``conv2d_im2col_backward``. Chapter 4, lab 4.
    """
    _check_conv_args(x, w, b)
    N, C, H, W = x.shape
    Fn, _, kh, kw = w.shape
    _, (sh, sw), (ph, pw), (oh, ow) = _geometry((H, W), (kh, kw), stride, padding)
    cols = im2col(x, (kh, kw), (sh, sw), (ph, pw))   # (N, C*kh*kw, L)
    w_row = w.reshape(Fn, -1)                          # (F, C*kh*kw)
    if b is None:
        out = w_row @ cols                             # (F, CK) @ (N, CK, L) -> (N, F, L)
    else:                                              # the same product, bias added by the GEMM
        out = torch.baddbmm(b.view(1, Fn, 1), w_row.expand(N, -1, -1), cols)
    cache = ConvCache(cols, w, b is not None, (N, C, H, W), (sh, sw), (ph, pw))
    return out.view(N, Fn, oh, ow), cache


def conv2d_im2col_backward(dout: torch.Tensor, cache: ConvCache):
    """Gradients of ``conv2d_im2col``: returns ``(dx, dw, db)``.

    dout: (N, F, H', W'), the upstream gradient of the output. Returns
    dx: (N, C, H, W), dw: (F, C, kh, kw), db: (F,) (None if the forward had no bias).

    With out = W_row @ cols + b:  dW_row = sum_n dout[n] @ cols[n]^T,
    db = dout summed over n and positions, dcols = W_row^T @ dout, and
    dx = col2im(dcols), which adds up the gradient of every receptive field a
    pixel belongs to. Chapter 4, lab 4.
    """
    cols, w, has_bias, input_shape, stride, padding = cache
    N, C, H, W = input_shape
    Fn, _, kh, kw = w.shape
    check_tensor("dout", dout, layout="(N, F, H', W')")
    L = cols.shape[2]
    if dout.dim() != 4 or dout.shape[0] != N or dout.shape[1] != Fn or dout.shape[2] * dout.shape[3] != L:
        raise ValueError(
            f"dout must have the forward output's shape (N, F, H', W') with N = {N}, F = {Fn}, "
            f"H'*W' = {L}; got {tuple(dout.shape)}"
        )
    d = dout.reshape(N, Fn, L)
    w_row = w.reshape(Fn, -1)
    db = d.sum(dim=(0, 2)) if has_bias else None
    dw = (d @ cols.transpose(1, 2)).sum(dim=0).view_as(w)            # sum_n (F, L) @ (L, CK)
    dcols = w_row.t() @ d                                             # (N, C*kh*kw, L)
    dx = col2im(dcols, input_shape, (kh, kw), stride, padding)
    return dx, dw, db


def conv2d_naive(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None, stride=1, padding=0) -> torch.Tensor:
    """The textbook convolution with four nested Python loops, for chapter 4's speed comparison.

    x: (N, C, H, W); w: (F, C, kh, kw); b: (F,) or None -> out: (N, F, H', W').
    One Python iteration per (image, filter, output row, output column), each a
    C*kh*kw dot product: N*F*H'*W' iterations of several microseconds each.
    Use it on SMALL inputs only (e.g. a few images of 8x8 to 32x32 pixels):
    a (64, 64, 16, 16) batch with 64 filters would take about a million
    iterations (tens of seconds). It returns only the output, no cache.
    Chapter 4 and lab 4 time it against ``conv2d_im2col`` and ``F.conv2d``.
    """
    _check_conv_args(x, w, b)
    N, C, H, W = x.shape
    Fn, _, kh, kw = w.shape
    _, (sh, sw), (ph, pw), (oh, ow) = _geometry((H, W), (kh, kw), stride, padding)
    xp = F.pad(x, (pw, pw, ph, ph))
    out = x.new_zeros(N, Fn, oh, ow)
    for n in range(N):
        for f in range(Fn):
            for i in range(oh):
                for j in range(ow):
                    window = xp[n, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
                    out[n, f, i, j] = (window * w[f]).sum()
            if b is not None:
                out[n, f] += b[f]
    return out
