"""helpers.conv against PyTorch in float64: im2col vs F.unfold, col2im vs F.fold,
conv2d_im2col (values and gradients) vs F.conv2d + autograd, the output-size
formula, chapter 4's worked example, and every kind of bad input.

Tolerances (float64): im2col is a pure copy, so it must equal F.unfold exactly;
col2im, the convolution and its gradients sum in a different order from
PyTorch, so they must agree to atol = rtol = 1e-10 (values here are O(1)-O(10),
float64 rounding is ~1e-15 per term); against centred differences the
relative error (helpers.gradcheck.rel_error) must be below 1e-7.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.conv import (
    col2im,
    conv2d_im2col,
    conv2d_im2col_backward,
    conv2d_naive,
    conv_output_size,
    im2col,
)
from helpers.gradcheck import numeric_gradient, rel_error

TOL = dict(rtol=1e-10, atol=1e-10)
DT = torch.float64

# (x shape, kernel, stride, padding): non-square kernels and images, stride 2, padding 1 and 2, N > 1
CASES = [
    ((2, 3, 7, 9), (2, 3), 1, 1),
    ((3, 2, 8, 5), (3, 1), 2, 2),
    ((2, 1, 6, 6), 3, 2, 1),
    ((2, 3, 9, 7), (2, 3), (2, 1), (1, 2)),
    ((1, 2, 5, 11), (3, 1), (1, 2), (2, 0)),
    ((4, 2, 10, 6), (1, 3), 2, (0, 1)),
]


def randn(shape, gen):
    return torch.randn(shape, generator=gen, dtype=DT)


# ---------------------------------------------------------------------------
# conv_output_size
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "size, kernel, stride, padding, expected",
    [
        (4, 2, 1, 1, 5),      # chapter 4's example: (4 - 2 + 2)/1 + 1
        (32, 3, 1, 1, 32),    # "same" 3x3 convolution
        (7, 3, 2, 0, 3),
        (224, 7, 2, 3, 112),  # ResNet stem
        (5, 5, 1, 0, 1),      # kernel exactly as large as the input
        (3, 5, 1, 1, 1),      # ... as large as the padded input
        (5, 2, 2, 0, 2),      # (5 - 2)/2 = 1.5 is floored, as in PyTorch
    ],
)
def test_conv_output_size_values(size, kernel, stride, padding, expected):
    assert conv_output_size(size, kernel, stride, padding) == expected
    # and it is the size F.conv2d really produces
    out = F.conv2d(torch.zeros(1, 1, size, size), torch.zeros(1, 1, kernel, kernel), stride=stride, padding=padding)
    assert out.shape[-1] == expected


def test_conv_output_size_accepts_numpy_ints():
    assert conv_output_size(np.int64(4), np.int32(2), np.int64(1), np.int64(1)) == 5


def test_conv_output_size_exact_refuses_a_stride_that_does_not_tile():
    assert conv_output_size(7, 3, 2, 0, exact=True) == 3
    with pytest.raises(ValueError, match="not divisible by stride 2"):
        conv_output_size(5, 2, 2, 0, exact=True)


@pytest.mark.parametrize(
    "args, match",
    [
        ((4, 7, 1, 1), r"kernel \(7\) is larger than the padded input"),
        ((4, 3, 1, -1), "padding must be an int >= 0; got -1"),
        ((4, 3, -1, 0), r"stride must be an int >= 1; got -1"),
        ((4, 3, 0, 0), r"stride must be an int >= 1; got 0"),
        ((0, 1, 1, 0), "size must be an int >= 1; got 0"),
        ((4, 0, 1, 0), "kernel must be an int >= 1; got 0"),
    ],
)
def test_conv_output_size_rejects_impossible_values(args, match):
    with pytest.raises(ValueError, match=match):
        conv_output_size(*args)


@pytest.mark.parametrize("args", [(4.0, 2, 1, 1), (4, 2, 1.5, 1), (4, 2, 1, "1"), (4, True, 1, 0)])
def test_conv_output_size_rejects_non_ints(args):
    with pytest.raises(TypeError, match="must be an int"):
        conv_output_size(*args)


# ---------------------------------------------------------------------------
# chapter 4's worked example
# ---------------------------------------------------------------------------
def test_seed_example_4x4_input_2x2_filter_gives_25_positions():
    x = torch.arange(16, dtype=DT).view(1, 1, 4, 4)
    cols = im2col(x, 2, stride=1, padding=1)
    assert conv_output_size(4, 2, 1, 1) == 5
    assert cols.shape == (1, 4, 25)  # one channel: a (4, 25) column matrix, 25 = 5 x 5 positions
    # column 0 is the top-left window: three padding zeros and x[0, 0]
    assert cols[0, :, 0].tolist() == [0.0, 0.0, 0.0, 0.0]
    # column 6 (row 1, column 1 of the 5x5 output) covers x[0:2, 0:2]
    assert cols[0, :, 6].tolist() == [0.0, 1.0, 4.0, 5.0]
    # the last column is the bottom-right window: x[3, 3] and three zeros
    assert cols[0, :, 24].tolist() == [15.0, 0.0, 0.0, 0.0]
    w = torch.tensor([[[[1.0, 0.0], [0.0, -1.0]]]], dtype=DT)
    out, _ = conv2d_im2col(x, w, stride=1, padding=1)
    assert out.shape == (1, 1, 5, 5)
    torch.testing.assert_close(out, F.conv2d(x, w, stride=1, padding=1), **TOL)


# ---------------------------------------------------------------------------
# im2col / col2im vs F.unfold / F.fold
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("shape, kernel, stride, padding", CASES)
def test_im2col_equals_unfold(shape, kernel, stride, padding, rng):
    x = randn(shape, rng)
    cols = im2col(x, kernel, stride, padding)
    ref = F.unfold(x, kernel, padding=padding, stride=stride)
    assert cols.shape == ref.shape
    torch.testing.assert_close(cols, ref, rtol=0, atol=0)


@pytest.mark.parametrize("shape, kernel, stride, padding", CASES)
def test_col2im_equals_fold(shape, kernel, stride, padding, rng):
    x = randn(shape, rng)
    cols = randn(F.unfold(x, kernel, padding=padding, stride=stride).shape, rng)
    got = col2im(cols, shape, kernel, stride, padding)
    ref = F.fold(cols, shape[2:], kernel, padding=padding, stride=stride)
    assert got.shape == shape
    torch.testing.assert_close(got, ref, **TOL)
    # an (H, W) output size, as F.fold takes it, works too
    torch.testing.assert_close(col2im(cols, shape[2:], kernel, stride, padding), ref, **TOL)


@pytest.mark.parametrize("shape, kernel, stride, padding", CASES[:3])
def test_col2im_is_the_adjoint_of_im2col(shape, kernel, stride, padding, rng):
    # <im2col(x), c> == <x, col2im(c)> for all x, c: the defining property used by the backward pass
    x = randn(shape, rng)
    c = randn(im2col(x, kernel, stride, padding).shape, rng)
    lhs = (im2col(x, kernel, stride, padding) * c).sum()
    rhs = (x * col2im(c, shape, kernel, stride, padding)).sum()
    torch.testing.assert_close(lhs, rhs, **TOL)


def test_col2im_sums_overlaps():
    # 1x1x3x3 image, 2x2 kernel, stride 1: the centre pixel lies in all 4 windows
    ones = torch.ones(1, 4, 4, dtype=DT)
    counts = col2im(ones, (1, 1, 3, 3), 2)
    assert counts[0, 0].tolist() == [[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]


def test_nothing_calls_unfold_or_fold(monkeypatch, rng):
    # the helpers must be our own code, not the functions the tests compare with
    def forbidden(*args, **kwargs):
        raise AssertionError("helpers.conv must not call F.unfold / F.fold")

    shape, kernel, stride, padding = CASES[1]
    x = randn(shape, rng)
    ref_cols = F.unfold(x, kernel, padding=padding, stride=stride)
    monkeypatch.setattr(F, "unfold", forbidden)
    monkeypatch.setattr(F, "fold", forbidden)
    cols = im2col(x, kernel, stride, padding)
    col2im(cols, shape, kernel, stride, padding)
    w = randn((2, shape[1], *kernel), rng)
    out, cache = conv2d_im2col(x, w, None, stride, padding)
    conv2d_im2col_backward(torch.ones_like(out), cache)
    torch.testing.assert_close(cols, ref_cols, rtol=0, atol=0)


# ---------------------------------------------------------------------------
# conv2d_im2col vs F.conv2d: values and gradients
# ---------------------------------------------------------------------------
def _conv_case(shape, kernel, stride, padding, n_filters, rng, bias=True):
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    x = randn(shape, rng)
    w = randn((n_filters, shape[1], kh, kw), rng)
    b = randn((n_filters,), rng) if bias else None
    return x, w, b


@pytest.mark.parametrize("shape, kernel, stride, padding", CASES)
def test_conv2d_im2col_values_and_gradients_match_autograd(shape, kernel, stride, padding, rng):
    x, w, b = _conv_case(shape, kernel, stride, padding, 5, rng)
    out, cache = conv2d_im2col(x, w, b, stride, padding)

    xr, wr, br = (t.clone().requires_grad_() for t in (x, w, b))
    ref = F.conv2d(xr, wr, br, stride=stride, padding=padding)
    torch.testing.assert_close(out, ref.detach(), **TOL)

    dout = randn(out.shape, rng)
    ref.backward(dout)
    dx, dw, db = conv2d_im2col_backward(dout, cache)
    torch.testing.assert_close(dx, xr.grad, **TOL)
    torch.testing.assert_close(dw, wr.grad, **TOL)
    torch.testing.assert_close(db, br.grad, **TOL)


def test_conv2d_im2col_without_bias(rng):
    x, w, _ = _conv_case((2, 3, 6, 7), (3, 2), 1, 1, 4, rng, bias=False)
    out, cache = conv2d_im2col(x, w, None, 1, 1)
    torch.testing.assert_close(out, F.conv2d(x, w, None, 1, 1), **TOL)
    dx, dw, db = conv2d_im2col_backward(torch.ones_like(out), cache)
    assert db is None
    assert dx.shape == x.shape and dw.shape == w.shape


def test_conv2d_im2col_gradients_match_centred_differences(rng):
    shape, kernel, stride, padding = (2, 2, 5, 4), (2, 3), (2, 1), (1, 2)
    x, w, b = _conv_case(shape, kernel, stride, padding, 3, rng)
    out, cache = conv2d_im2col(x, w, b, stride, padding)
    dout = randn(out.shape, rng)
    dx, dw, db = conv2d_im2col_backward(dout, cache)

    num_dx = numeric_gradient(lambda t: conv2d_im2col(t, w, b, stride, padding)[0], x, dout)
    num_dw = numeric_gradient(lambda t: conv2d_im2col(x, t, b, stride, padding)[0], w, dout)
    num_db = numeric_gradient(lambda t: conv2d_im2col(x, w, t, stride, padding)[0], b, dout)
    assert rel_error(dx, num_dx) < 1e-7
    assert rel_error(dw, num_dw) < 1e-7
    assert rel_error(db, num_db) < 1e-7


def test_conv2d_naive_matches_conv2d(rng):
    x, w, b = _conv_case((2, 2, 6, 5), (3, 2), (2, 1), (1, 0), 3, rng)
    torch.testing.assert_close(conv2d_naive(x, w, b, (2, 1), (1, 0)), F.conv2d(x, w, b, (2, 1), (1, 0)), **TOL)
    torch.testing.assert_close(conv2d_naive(x, w, None, 1, 2), F.conv2d(x, w, None, 1, 2), **TOL)


# ---------------------------------------------------------------------------
# property-based: random shapes, kernels, strides and paddings
# ---------------------------------------------------------------------------
@st.composite
def geometries(draw):
    """(x shape, (kh, kw), (sh, sw), (ph, pw)) with the kernel fitting inside the padded input."""
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    kh = draw(st.integers(1, min(5, h + 2 * ph)))
    kw = draw(st.integers(1, min(5, w + 2 * pw)))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return (n, c, h, w), (kh, kw), (sh, sw), (ph, pw)


@settings(max_examples=30, deadline=None)
@given(geometries(), st.integers(0, 2**31 - 1))
def test_property_im2col_and_col2im_match_unfold_and_fold(geom, seed):
    shape, kernel, stride, padding = geom
    gen = torch.Generator().manual_seed(seed)
    x = randn(shape, gen)
    ref = F.unfold(x, kernel, padding=padding, stride=stride)
    cols = im2col(x, kernel, stride, padding)
    assert cols.shape[2] == conv_output_size(shape[2], kernel[0], stride[0], padding[0]) * conv_output_size(
        shape[3], kernel[1], stride[1], padding[1]
    )
    torch.testing.assert_close(cols, ref, rtol=0, atol=0)
    c = randn(ref.shape, gen)
    torch.testing.assert_close(
        col2im(c, shape, kernel, stride, padding), F.fold(c, shape[2:], kernel, padding=padding, stride=stride), **TOL
    )


@settings(max_examples=30, deadline=None)
@given(geometries(), st.integers(1, 4), st.booleans(), st.integers(0, 2**31 - 1))
def test_property_conv2d_im2col_matches_conv2d(geom, n_filters, bias, seed):
    shape, kernel, stride, padding = geom
    gen = torch.Generator().manual_seed(seed)
    x, w, b = _conv_case(shape, kernel, stride, padding, n_filters, gen, bias=bias)
    out, cache = conv2d_im2col(x, w, b, stride, padding)
    leaves = [t.clone().requires_grad_() for t in (x, w) + ((b,) if bias else ())]
    ref = F.conv2d(leaves[0], leaves[1], leaves[2] if bias else None, stride=stride, padding=padding)
    torch.testing.assert_close(out, ref.detach(), **TOL)
    dout = randn(out.shape, gen)
    ref.backward(dout)
    grads = conv2d_im2col_backward(dout, cache)
    for got, leaf in zip(grads, leaves):
        torch.testing.assert_close(got, leaf.grad, **TOL)


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------
def test_im2col_rejects_wrong_rank():
    with pytest.raises(ValueError, match=r"x must be a 4-D tensor of shape \(N, C, H, W\); got a 3-D tensor"):
        im2col(torch.zeros(3, 4, 4), 2)


def test_im2col_rejects_non_tensor():
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        im2col(np.zeros((1, 1, 4, 4)), 2)


def test_im2col_rejects_kernel_larger_than_padded_input():
    with pytest.raises(ValueError, match=r"kernel \(5\) is larger than the padded input"):
        im2col(torch.zeros(1, 1, 4, 6), (5, 3), padding=0)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(stride=-1), ValueError, "stride must be an int >= 1; got -1"),
        (dict(stride=0), ValueError, "stride must be an int >= 1; got 0"),
        (dict(stride=(1, 0)), ValueError, "stride must be an int >= 1; got 0"),
        (dict(padding=-2), ValueError, "padding must be an int >= 0; got -2"),
        (dict(stride=1.5), TypeError, "stride must be an int >= 1; got float 1.5"),
        (dict(kernel_size=(2, 2, 2)), ValueError, r"kernel_size must be an int or a pair \(height, width\)"),
    ],
)
def test_im2col_rejects_bad_hyperparameters(kwargs, exc, match):
    args = dict(kernel_size=2) | kwargs
    with pytest.raises(exc, match=match):
        im2col(torch.zeros(1, 1, 4, 4), **args)


def test_col2im_rejects_inconsistent_shapes():
    cols = torch.zeros(2, 12, 20)  # C=3, 2x2 kernel, 4x5 positions (a 5x6 input, no padding)
    assert col2im(cols, (2, 3, 5, 6), 2).shape == (2, 3, 5, 6)
    with pytest.raises(ValueError, match=r"cols must be a 3-D tensor of shape \(N, C\*kh\*kw, L\)"):
        col2im(torch.zeros(12, 20), (2, 3, 5, 6), 2)
    with pytest.raises(ValueError, match="not a multiple of kh\\*kw"):
        col2im(cols, (2, 3, 5, 6), 3)
    with pytest.raises(ValueError, match="expected N = 2 and C"):
        col2im(cols, (2, 4, 5, 6), 2)
    with pytest.raises(ValueError, match="positions"):
        col2im(cols, (2, 3, 6, 6), 2)
    with pytest.raises(ValueError, match=r"input_shape must be \(N, C, H, W\) or \(H, W\)"):
        col2im(cols, (3, 5, 6), 2)


def test_conv2d_im2col_rejects_bad_input():
    x, w, b = torch.zeros(2, 3, 6, 6), torch.zeros(4, 3, 3, 3), torch.zeros(4)
    with pytest.raises(ValueError, match=r"x must be a 4-D tensor of shape \(N, C, H, W\)"):
        conv2d_im2col(x[0], w, b)
    with pytest.raises(ValueError, match=r"w must be a 4-D tensor of shape \(F, C, kh, kw\)"):
        conv2d_im2col(x, w[0], b)
    with pytest.raises(ValueError, match=r"channel mismatch: x has C = 2 channels"):
        conv2d_im2col(x[:, :2], w, b)
    with pytest.raises(ValueError, match=r"b must have shape \(F,\) = \(4,\)"):
        conv2d_im2col(x, w, torch.zeros(3))
    with pytest.raises(ValueError, match=r"b must have shape \(F,\) = \(4,\)"):
        conv2d_im2col(x, w, torch.zeros(4, 1))
    with pytest.raises(ValueError, match="stride must be an int >= 1"):
        conv2d_im2col(x, w, b, stride=-1)
    with pytest.raises(TypeError, match=r"b must have dtype torch.float32; got torch.float64"):
        conv2d_im2col(x, w, b.double())
    with pytest.raises(TypeError, match=r"w must be a torch.Tensor of shape \(F, C, kh, kw\); got list"):
        conv2d_im2col(x, [[1.0]], b)
    with pytest.raises(ValueError, match=r"kernel \(3\) is larger than the padded input"):
        conv2d_im2col(torch.zeros(2, 3, 2, 6), w, b)
    with pytest.raises(TypeError, match="same dtype"):
        conv2d_im2col(x.double(), w, b)
    with pytest.raises(ValueError, match=r"channel mismatch"):
        conv2d_naive(x[:, :2], w, b)


def test_conv2d_im2col_backward_rejects_wrong_dout_shape():
    out, cache = conv2d_im2col(torch.zeros(2, 3, 6, 6), torch.zeros(4, 3, 3, 3), torch.zeros(4))
    with pytest.raises(ValueError, match=r"dout must have the forward output's shape"):
        conv2d_im2col_backward(torch.zeros(2, 5, 4, 4), cache)
