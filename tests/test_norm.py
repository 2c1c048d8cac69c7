"""helpers.norm against PyTorch, float64, values AND gradients.

Tolerances: float64 throughout, compared with ``rtol=1e-10, atol=1e-12``
(``assert_close`` below); the only differences from PyTorch are rounding
order, about 1e-15 relative. ``gradcheck`` uses its float64 defaults
(eps=1e-6, atol=1e-5, rtol=1e-3). Shapes are non-square, and gamma/beta and the
starting running statistics are random (not ones/zeros), so a swapped axis,
a missing gamma, a biased/unbiased mix-up or a momentum read the Keras way
changes the numbers.
"""
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from helpers.norm import (
    NORMS,
    BatchNorm,
    BatchNormFunction,
    BatchRenorm,
    GroupNorm,
    LayerNorm,
    LayerNormFunction,
    batch_renorm_forward,
    batchnorm_backward,
    batchnorm_forward,
    default_num_groups,
    groupnorm_forward,
    layernorm_backward,
    layernorm_forward,
    make_norm,
)

RTOL, ATOL = 1e-10, 1e-12
DT = torch.float64
SHAPES = [(7, 5), (6, 3, 5, 4)]  # (N, C) and (N, C, H, W), nothing square
MOMENTUM = 0.3


def assert_close(actual, expected):
    torch.testing.assert_close(actual, expected, rtol=RTOL, atol=ATOL)


def randn(*shape, gen, scale=1.0, shift=0.0):
    return torch.randn(*shape, generator=gen, dtype=DT) * scale + shift


def params(c, gen):
    """Random gamma, beta and starting running stats, all (C,)."""
    gamma = randn(c, gen=gen, scale=0.7, shift=1.3)
    beta = randn(c, gen=gen, scale=0.5, shift=-0.4)
    running_mean = randn(c, gen=gen, scale=0.3)
    running_var = torch.rand(c, generator=gen, dtype=DT) + 0.5
    return gamma, beta, running_mean, running_var


def torch_batch_norm(x, gamma, beta, rm, rv, training, momentum=MOMENTUM, eps=1e-5):
    """PyTorch's batch norm (what nn.BatchNorm1d/2d call); rm, rv updated in place."""
    return F.batch_norm(x, rm, rv, gamma, beta, training=training, momentum=momentum, eps=eps)


# ---------------------------------------------------------------------------
# batch norm: forward, running statistics, evaluation
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES)
def test_batchnorm_forward_and_running_stats_match_torch_over_steps(shape, rng):
    c = shape[1]
    gamma, beta, rm, rv = params(c, rng)
    rm_ref, rv_ref = rm.clone(), rv.clone()
    for step in range(4):
        x = randn(*shape, gen=rng, scale=2.0 + step, shift=1.5 - step)  # statistics move between steps
        out, _ = batchnorm_forward(x, gamma, beta, rm, rv, training=True, momentum=MOMENTUM)
        ref = torch_batch_norm(x, gamma, beta, rm_ref, rv_ref, training=True)
        assert_close(out, ref)
        assert_close(rm, rm_ref)
        assert_close(rv, rv_ref)
    # evaluation after the steps uses (and keeps) the running statistics
    x = randn(*shape, gen=rng, scale=3.0, shift=0.5)
    rm_before, rv_before = rm.clone(), rv.clone()
    out, _ = batchnorm_forward(x, gamma, beta, rm, rv, training=False, momentum=MOMENTUM)
    assert_close(out, torch_batch_norm(x, gamma, beta, rm_ref, rv_ref, training=False))
    assert torch.equal(rm, rm_before) and torch.equal(rv, rv_before)


@pytest.mark.parametrize("shape", SHAPES)
def test_batchnorm_stores_unbiased_and_normalises_with_biased_variance(shape, rng):
    """The convention in words, checked directly (independent of PyTorch)."""
    c = shape[1]
    gamma, beta, rm, rv = params(c, rng)
    x = randn(*shape, gen=rng, scale=2.0, shift=1.0)
    dims = (0,) if len(shape) == 2 else (0, 2, 3)
    view = (1, c) if len(shape) == 2 else (1, c, 1, 1)
    out, _ = batchnorm_forward(x, gamma, beta, rm, rv, training=True, momentum=1.0)  # momentum 1: stats replaced
    assert_close(rm, x.mean(dims))
    assert_close(rv, x.var(dims, correction=1))
    biased = x.var(dims, correction=0, keepdim=True)
    expected = gamma.view(view) * (x - x.mean(dims, keepdim=True)) / torch.sqrt(biased + 1e-5) + beta.view(view)
    assert_close(out, expected)


def test_batchnorm_momentum_is_the_fraction_updated(rng):
    gamma, beta, rm, rv = params(5, rng)
    rm0, rv0 = rm.clone(), rv.clone()
    x = randn(7, 5, gen=rng, scale=2.0, shift=3.0)
    batchnorm_forward(x, gamma, beta, rm, rv, training=True, momentum=0.2)
    assert_close(rm, 0.8 * rm0 + 0.2 * x.mean(0))
    assert_close(rv, 0.8 * rv0 + 0.2 * x.var(0, correction=1))


# ---------------------------------------------------------------------------
# batch norm: analytic backward vs autograd
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("shape", SHAPES)
def test_batchnorm_backward_matches_autograd(shape, training, rng):
    c = shape[1]
    gamma, beta, rm, rv = params(c, rng)
    x = randn(*shape, gen=rng, scale=1.7, shift=0.6)
    dout = randn(*shape, gen=rng)

    out, cache = batchnorm_forward(x, gamma, beta, rm.clone(), rv.clone(), training=training, momentum=MOMENTUM)
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)

    xr, gr, br = (t.clone().requires_grad_() for t in (x, gamma, beta))
    ref = torch_batch_norm(xr, gr, br, rm.clone(), rv.clone(), training=training)
    ref.backward(dout)
    assert_close(out, ref.detach())
    assert_close(dx, xr.grad)
    assert_close(dgamma, gr.grad)
    assert_close(dbeta, br.grad)


def test_batchnorm_eval_backward_is_not_the_training_backward(rng):
    """Guards the mode in the cache: the two backward formulas differ."""
    gamma, beta, rm, rv = params(5, rng)
    x, dout = randn(7, 5, gen=rng), randn(7, 5, gen=rng)
    _, cache_train = batchnorm_forward(x, gamma, beta, rm.clone(), rv.clone(), training=True)
    _, cache_eval = batchnorm_forward(x, gamma, beta, rm.clone(), rv.clone(), training=False)
    assert cache_train["training"] is True and cache_eval["training"] is False
    assert not torch.allclose(batchnorm_backward(dout, cache_train)[0], batchnorm_backward(dout, cache_eval)[0])


# ---------------------------------------------------------------------------
# layer norm and group norm
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES)
def test_layernorm_matches_nn_layernorm(shape, rng):
    """gamma/beta of shape x.shape[1:]: exactly nn.LayerNorm(x.shape[1:])."""
    norm_shape = shape[1:]
    x = randn(*shape, gen=rng, scale=2.0, shift=-1.0)
    gamma = randn(*norm_shape, gen=rng, scale=0.7, shift=1.2)
    beta = randn(*norm_shape, gen=rng, scale=0.5)
    dout = randn(*shape, gen=rng)

    out, cache = layernorm_forward(x, gamma, beta)
    dx, dgamma, dbeta = layernorm_backward(dout, cache)

    ref_mod = nn.LayerNorm(norm_shape, eps=1e-5, dtype=DT)
    with torch.no_grad():
        ref_mod.weight.copy_(gamma)
        ref_mod.bias.copy_(beta)
    xr = x.clone().requires_grad_()
    ref = ref_mod(xr)
    ref.backward(dout)
    assert_close(out, ref.detach())
    assert_close(dx, xr.grad)
    assert_close(dgamma, ref_mod.weight.grad)
    assert_close(dbeta, ref_mod.bias.grad)
    assert dgamma.shape == gamma.shape


def test_layernorm_per_channel_affine_on_images_is_groupnorm_with_one_group(rng):
    shape = (6, 3, 5, 4)
    gamma, beta, _, _ = params(3, rng)
    x = randn(*shape, gen=rng, scale=2.0, shift=-1.0)
    dout = randn(*shape, gen=rng)

    out, cache = layernorm_forward(x, gamma, beta)
    dx, dgamma, dbeta = layernorm_backward(dout, cache)

    xr, gr, br = (t.clone().requires_grad_() for t in (x, gamma, beta))
    ref = F.group_norm(xr, 1, gr, br, eps=1e-5)
    ref.backward(dout)
    assert_close(out, ref.detach())
    assert_close(dx, xr.grad)
    assert_close(dgamma, gr.grad)
    assert_close(dbeta, br.grad)


@pytest.mark.parametrize("num_groups", [1, 2, 3, 6])
@pytest.mark.parametrize("shape", [(7, 6), (5, 6, 3, 4)])
def test_groupnorm_matches_torch(shape, num_groups, rng):
    gamma, beta, _, _ = params(6, rng)
    x = randn(*shape, gen=rng, scale=1.5, shift=0.8)
    dout = randn(*shape, gen=rng)

    xs, gs, bs = (t.clone().requires_grad_() for t in (x, gamma, beta))
    out = groupnorm_forward(xs, gs, bs, num_groups)
    out.backward(dout)

    xr, gr, br = (t.clone().requires_grad_() for t in (x, gamma, beta))
    ref = F.group_norm(xr, num_groups, gr, br, eps=1e-5)
    ref.backward(dout)
    assert_close(out.detach(), ref.detach())
    assert_close(xs.grad, xr.grad)
    assert_close(gs.grad, gr.grad)
    assert_close(bs.grad, br.grad)


@pytest.mark.parametrize("c, expected", [(64, 32), (24, 8), (6, 2), (5, 1), (1, 1), (48, 16)])
def test_default_num_groups(c, expected):
    assert default_num_groups(c) == expected
    assert make_norm("group", c).num_groups == expected


# ---------------------------------------------------------------------------
# batch renormalisation
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES)
def test_batch_renorm_without_room_to_clip_is_batchnorm(shape, rng):
    """r_max = 1, d_max = 0: values, gradients and running stats equal batch norm's."""
    c = shape[1]
    gamma, beta, rm, rv = params(c, rng)
    rm_bn, rv_bn = rm.clone(), rv.clone()
    for step in range(3):
        # batch statistics far from the running ones, so r and d WOULD act if allowed to
        x = randn(*shape, gen=rng, scale=3.0 + step, shift=2.0 - step)
        dout = randn(*shape, gen=rng)
        xr, gr, br = (t.clone().requires_grad_() for t in (x, gamma, beta))
        out = batch_renorm_forward(xr, gr, br, rm, rv, training=True, r_max=1.0, d_max=0.0, momentum=MOMENTUM)
        out.backward(dout)
        ref, cache = batchnorm_forward(x, gamma, beta, rm_bn, rv_bn, training=True, momentum=MOMENTUM)
        dx, dgamma, dbeta = batchnorm_backward(dout, cache)
        assert_close(out.detach(), ref)
        assert_close(xr.grad, dx)
        assert_close(gr.grad, dgamma)
        assert_close(br.grad, dbeta)
        assert_close(rm, rm_bn)
        assert_close(rv, rv_bn)
    x = randn(*shape, gen=rng)
    out = batch_renorm_forward(x, gamma, beta, rm, rv, training=False, r_max=1.0, d_max=0.0)
    assert_close(out, batchnorm_forward(x, gamma, beta, rm_bn, rv_bn, training=False)[0])


def reference_batch_renorm(x, gamma, beta, rm, rv, r_max, d_max, eps=1e-5):
    """Ioffe 2017, Algorithm 1, written out for (N, C) only; r and d detached."""
    mu_b = x.mean(0)
    sigma_b = torch.sqrt(x.var(0, correction=0) + eps)
    sigma = torch.sqrt(rv + eps)
    r = torch.clamp(sigma_b.detach() / sigma, min=1.0 / r_max, max=r_max)
    d = torch.clamp((mu_b.detach() - rm) / sigma, min=-d_max, max=d_max)
    return gamma * ((x - mu_b) / sigma_b * r + d) + beta


def test_batch_renorm_with_active_clipping_matches_the_paper(rng):
    r_max, d_max = 1.5, 0.5
    gamma, beta, rm, rv = params(5, rng)
    x = randn(7, 5, gen=rng, scale=4.0, shift=3.0)  # sigma_B/sigma ~ 4 > r_max, mean offset ~ 3 > d_max
    dout = randn(7, 5, gen=rng)

    # the unclipped r and d lie outside the bounds: clipping is active for every channel
    sigma = torch.sqrt(rv + 1e-5)
    r_raw = torch.sqrt(x.var(0, correction=0) + 1e-5) / sigma
    d_raw = (x.mean(0) - rm) / sigma
    assert (r_raw > r_max).all() and (d_raw.abs() > d_max).all()

    xs, gs, bs = (t.clone().requires_grad_() for t in (x, gamma, beta))
    out = batch_renorm_forward(xs, gs, bs, rm.clone(), rv.clone(), training=True, r_max=r_max, d_max=d_max)
    out.backward(dout)
    xr, gr, br = (t.clone().requires_grad_() for t in (x, gamma, beta))
    ref = reference_batch_renorm(xr, gr, br, rm, rv, r_max, d_max)
    ref.backward(dout)
    assert_close(out.detach(), ref.detach())
    assert_close(xs.grad, xr.grad)
    assert_close(gs.grad, gr.grad)
    assert_close(bs.grad, br.grad)

    # clipping changes the output: neither batch norm nor the unclipped limit
    bn = batchnorm_forward(x, gamma, beta, rm.clone(), rv.clone(), training=True)[0]
    assert (out.detach() - bn).abs().max() > 0.1
    unclipped = gamma * (x - rm) / sigma + beta
    assert (out.detach() - unclipped).abs().max() > 0.1


def test_batch_renorm_without_clipping_normalises_with_running_stats(rng):
    """r, d unclipped: (x - mu_B)/sigma_B * sigma_B/sigma + (mu_B - mu)/sigma = (x - mu)/sigma,
    and the gradient is batch norm's scaled by r (r, d are constants)."""
    shape = (6, 3, 5, 4)
    gamma, beta, rm, rv = params(3, rng)
    x = randn(*shape, gen=rng, scale=2.5, shift=1.0)
    dout = randn(*shape, gen=rng)
    xs = x.clone().requires_grad_()
    out = batch_renorm_forward(xs, gamma, beta, rm.clone(), rv.clone(), training=True, r_max=1e9, d_max=1e9)
    out.backward(dout)
    eval_out = batchnorm_forward(x, gamma, beta, rm, rv, training=False)[0]
    assert_close(out.detach(), eval_out)
    _, cache = batchnorm_forward(x, gamma, beta, rm.clone(), rv.clone(), training=True)
    dx_bn = batchnorm_backward(dout, cache)[0]
    sigma_b = torch.sqrt(x.var((0, 2, 3), correction=0) + 1e-5)
    r = (sigma_b / torch.sqrt(rv + 1e-5)).view(1, 3, 1, 1)
    assert_close(xs.grad, dx_bn * r)


def test_batch_renorm_eval_uses_running_stats_and_keeps_them(rng):
    gamma, beta, rm, rv = params(5, rng)
    x = randn(7, 5, gen=rng, scale=2.0)
    rm0, rv0 = rm.clone(), rv.clone()
    out = batch_renorm_forward(x, gamma, beta, rm, rv, training=False, r_max=3.0, d_max=5.0)
    assert_close(out, gamma * (x - rm0) / torch.sqrt(rv0 + 1e-5) + beta)
    assert torch.equal(rm, rm0) and torch.equal(rv, rv0)


# ---------------------------------------------------------------------------
# nn.Module wrappers
# ---------------------------------------------------------------------------

def copy_affine(src, dst):
    with torch.no_grad():
        dst.weight.copy_(src.weight)
        dst.bias.copy_(src.bias)


def randomise(module, gen):
    with torch.no_grad():
        c = module.weight.shape[0]
        module.weight.copy_(randn(c, gen=gen, scale=0.7, shift=1.3))
        module.bias.copy_(randn(c, gen=gen, scale=0.5))


@pytest.mark.parametrize("shape", SHAPES)
def test_batchnorm_module_matches_nn_batchnorm_in_train_and_eval(shape, rng):
    c = shape[1]
    ours = BatchNorm(c, momentum=MOMENTUM, dtype=DT)
    ref = (nn.BatchNorm1d if len(shape) == 2 else nn.BatchNorm2d)(c, momentum=MOMENTUM, dtype=DT)
    randomise(ours, rng)
    copy_affine(ours, ref)
    for mode in ["train", "train", "train", "eval"]:
        ours.train(mode == "train")
        ref.train(mode == "train")
        x = randn(*shape, gen=rng, scale=2.0, shift=1.0)
        dout = randn(*shape, gen=rng)
        xo, xr = x.clone().requires_grad_(), x.clone().requires_grad_()
        out_o, out_r = ours(xo), ref(xr)
        out_o.backward(dout)
        out_r.backward(dout)
        assert_close(out_o, out_r)
        assert_close(xo.grad, xr.grad)
        assert_close(ours.weight.grad, ref.weight.grad)
        assert_close(ours.bias.grad, ref.bias.grad)
        assert_close(ours.running_mean, ref.running_mean)
        assert_close(ours.running_var, ref.running_var)
        ours.zero_grad()
        ref.zero_grad()
    assert set(dict(ours.named_buffers())) == {"running_mean", "running_var"}


def test_batchnorm_module_runs_the_handwritten_backward(rng):
    x = randn(7, 5, gen=rng).requires_grad_()
    out = BatchNorm(5, dtype=DT)(x)
    assert type(out.grad_fn).__name__ == "BatchNormFunctionBackward"


@pytest.mark.parametrize("shape", SHAPES)
def test_layernorm_module(shape, rng):
    c = shape[1]
    ours = LayerNorm(c, dtype=DT)
    ref = nn.LayerNorm(c, dtype=DT) if len(shape) == 2 else nn.GroupNorm(1, c, dtype=DT)
    randomise(ours, rng)
    copy_affine(ours, ref)
    x = randn(*shape, gen=rng, scale=2.0, shift=1.0)
    dout = randn(*shape, gen=rng)
    for training in (True, False):  # the same computation in both modes
        ours.train(training)
        xo, xr = x.clone().requires_grad_(), x.clone().requires_grad_()
        ours(xo).backward(dout)
        ref(xr).backward(dout)
        assert_close(ours(x), ref(x))
        assert_close(xo.grad, xr.grad)
    assert_close(ours.weight.grad, ref.weight.grad)
    assert_close(ours.bias.grad, ref.bias.grad)


@pytest.mark.parametrize("shape", [(7, 6), (5, 6, 3, 4)])
def test_groupnorm_module(shape, rng):
    ours = GroupNorm(3, 6, dtype=DT)
    ref = nn.GroupNorm(3, 6, dtype=DT)
    randomise(ours, rng)
    copy_affine(ours, ref)
    x = randn(*shape, gen=rng, scale=2.0, shift=1.0)
    assert_close(ours(x), ref(x))
    ours.eval()
    assert_close(ours(x), ref(x))


@pytest.mark.parametrize("shape", SHAPES)
def test_batch_renorm_module_train_and_eval(shape, rng):
    c = shape[1]
    ours = BatchRenorm(c, r_max=1.0, d_max=0.0, momentum=MOMENTUM, dtype=DT)
    ref = (nn.BatchNorm1d if len(shape) == 2 else nn.BatchNorm2d)(c, momentum=MOMENTUM, dtype=DT)
    randomise(ours, rng)
    copy_affine(ours, ref)
    for training in (True, True, False):
        ours.train(training)
        ref.train(training)
        x = randn(*shape, gen=rng, scale=2.0, shift=1.0)
        assert_close(ours(x), ref(x))
        assert_close(ours.running_var, ref.running_var)
    # with room to clip, eval still uses the running statistics: train and eval differ
    ours.r_max, ours.d_max = 3.0, 5.0
    x = randn(*shape, gen=rng, scale=2.0, shift=1.0)
    ours.train()
    rm, rv = ours.running_mean.clone(), ours.running_var.clone()
    out_train = ours(x)
    assert not torch.equal(ours.running_mean, rm) and not torch.equal(ours.running_var, rv)
    ours.eval()
    rm, rv = ours.running_mean.clone(), ours.running_var.clone()
    out_eval = ours(x)
    assert torch.equal(ours.running_mean, rm) and torch.equal(ours.running_var, rv)
    assert not torch.allclose(out_train, out_eval)


def test_make_norm_by_name():
    assert set(NORMS) == {"batch", "layer", "group", "batch_renorm"}
    for name, cls in NORMS.items():
        module = make_norm(name, 8)
        assert type(module) is cls and module.weight.shape == (8,)
        x = torch.randn(4, 8)
        assert module(x).shape == x.shape
        assert module(torch.randn(4, 8, 3, 2)).shape == (4, 8, 3, 2)
    assert isinstance(make_norm(None, 8), nn.Identity)
    assert isinstance(make_norm("none", 8), nn.Identity)
    assert make_norm("group", 8, num_groups=2).num_groups == 2
    assert make_norm("batch", 8, momentum=0.3).momentum == 0.3
    with pytest.raises(ValueError, match=r"unknown norm 'bn'.*'batch', 'layer', 'group', 'batch_renorm'"):
        make_norm("bn", 8)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("shape", [(4, 3), (3, 2, 3, 2)])
def test_gradcheck_batchnorm_function(shape, training, rng):
    c = shape[1]
    gamma, beta, rm, rv = params(c, rng)
    x = randn(*shape, gen=rng).requires_grad_()
    gamma.requires_grad_()
    beta.requires_grad_()
    assert torch.autograd.gradcheck(
        lambda x, g, b: BatchNormFunction.apply(x, g, b, rm.clone(), rv.clone(), training, 0.1, 1e-5),
        (x, gamma, beta),
    )


@pytest.mark.parametrize("shape", [(4, 3), (3, 2, 3, 2)])
def test_gradcheck_layernorm_function(shape, rng):
    gamma, beta, _, _ = params(shape[1], rng)
    x = randn(*shape, gen=rng).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda x, g, b: LayerNormFunction.apply(x, g, b, 1e-5),
        (x, gamma.requires_grad_(), beta.requires_grad_()),
    )


# ---------------------------------------------------------------------------
# bad input: ValueError naming what was expected
# ---------------------------------------------------------------------------

def bn_args(**overrides):
    """Valid arguments for a (7, 5) batch, with some replaced by bad ones."""
    args = dict(x=torch.randn(7, 5, dtype=DT), gamma=torch.ones(5, dtype=DT), beta=torch.zeros(5, dtype=DT),
                running_mean=torch.zeros(5, dtype=DT), running_var=torch.ones(5, dtype=DT),
                training=True, momentum=0.1, eps=1e-5)
    args.update(overrides)
    return args


BAD_BATCHNORM = {
    "rank 3": (dict(x=torch.randn(7, 5, 3)),
               r"x must be a 2-D or 4-D tensor of shape \(N, C\) or \(N, C, H, W\); got a 3-D tensor of shape \(7, 5, 3\)"),
    "rank 1": (dict(x=torch.randn(5)), r"\(N, C\) or \(N, C, H, W\); got a 1-D tensor"),
    "gamma channels": (dict(gamma=torch.ones(4)), r"gamma must have shape \(C,\) = \(5,\).*got shape \(4,\)"),
    "beta channels": (dict(beta=torch.ones(6)), r"beta must have shape \(C,\) = \(5,\)"),
    "running_mean channels": (dict(running_mean=torch.zeros(4)), r"running_mean must have shape \(C,\) = \(5,\)"),
    "running_var channels": (dict(running_var=torch.ones(5, 1)), r"running_var must have shape \(C,\) = \(5,\)"),
    "momentum > 1": (dict(momentum=1.5), r"momentum must be a number in \[0, 1\]; got 1\.5"),
    "momentum < 0": (dict(momentum=-0.1), r"momentum must be a number in \[0, 1\]"),
    "eps 0": (dict(eps=0.0), r"eps must be a finite number > 0; got 0\.0"),
    "eps < 0": (dict(eps=-1e-5), r"eps must be a finite number > 0"),
    "one value per channel": (dict(x=torch.randn(1, 5)), r"more than one value per channel"),
}


@pytest.mark.parametrize("case", BAD_BATCHNORM, ids=list(BAD_BATCHNORM))
def test_batchnorm_and_renorm_bad_input(case):
    overrides, message = BAD_BATCHNORM[case]
    a = bn_args(**overrides)
    with pytest.raises(ValueError, match=message):
        batchnorm_forward(a["x"], a["gamma"], a["beta"], a["running_mean"], a["running_var"],
                          training=a["training"], momentum=a["momentum"], eps=a["eps"])
    with pytest.raises(ValueError, match=message):  # batch renorm shares the checks
        batch_renorm_forward(a["x"], a["gamma"], a["beta"], a["running_mean"], a["running_var"],
                             training=a["training"], r_max=3.0, d_max=5.0, momentum=a["momentum"], eps=a["eps"])


BAD_BATCHNORM_KIND = {
    "mode string": (dict(training="train"), r"training must be a bool \(True: batch statistics, False: running "
                                            r"statistics\); got 'train'"),
    "mode int": (dict(training=1), r"training must be a bool .*; got 1"),
    "x list": (dict(x=[[1.0] * 5] * 7), r"x must be a torch.Tensor of shape \(N, C\) or \(N, C, H, W\); got list"),
    "gamma list": (dict(gamma=[1.0] * 5), r"gamma must be a torch.Tensor of shape \(C,\); got list"),
    "momentum str": (dict(momentum="0.1"), r"momentum must be a number in \[0, 1\]; got str"),
}


@pytest.mark.parametrize("case", BAD_BATCHNORM_KIND, ids=list(BAD_BATCHNORM_KIND))
def test_batchnorm_and_renorm_wrong_kind_of_argument(case):
    overrides, message = BAD_BATCHNORM_KIND[case]
    a = bn_args(**overrides)
    with pytest.raises(TypeError, match=message):
        batchnorm_forward(a["x"], a["gamma"], a["beta"], a["running_mean"], a["running_var"],
                          training=a["training"], momentum=a["momentum"], eps=a["eps"])
    with pytest.raises(TypeError, match=message):
        batch_renorm_forward(a["x"], a["gamma"], a["beta"], a["running_mean"], a["running_var"],
                             training=a["training"], r_max=3.0, d_max=5.0, momentum=a["momentum"], eps=a["eps"])


def test_batchnorm_needs_keyword_training():
    x, g = torch.randn(7, 5), torch.ones(5)
    with pytest.raises(TypeError):
        batchnorm_forward(x, g, g, g, g)  # training has no default: the mode must be chosen


def test_batch_renorm_bad_bounds():
    x, g = torch.randn(7, 5), torch.ones(5)
    with pytest.raises(ValueError, match=r"r_max must be a number >= 1; got 0\.5"):
        batch_renorm_forward(x, g, g, g.clone(), g.clone(), training=True, r_max=0.5, d_max=1.0)
    with pytest.raises(ValueError, match=r"d_max must be a number >= 0; got -1"):
        batch_renorm_forward(x, g, g, g.clone(), g.clone(), training=True, r_max=2.0, d_max=-1)


def test_groupnorm_and_layernorm_bad_input():
    x, g = torch.randn(7, 6), torch.ones(6)
    with pytest.raises(ValueError, match=r"num_groups must divide the number of channels C = 6; got 4"):
        groupnorm_forward(x, g, g, 4)
    with pytest.raises(ValueError, match=r"num_groups must be an int >= 1; got 0"):
        groupnorm_forward(x, g, g, 0)
    with pytest.raises(TypeError, match=r"num_groups must be an int >= 1; got float 2\.0"):
        groupnorm_forward(x, g, g, 2.0)
    with pytest.raises(ValueError, match=r"gamma must have shape \(C,\) = \(6,\)"):
        groupnorm_forward(x, torch.ones(5), g, 2)
    with pytest.raises(ValueError, match=r"\(N, C\) or \(N, C, H, W\)"):
        groupnorm_forward(torch.randn(7, 6, 3), g, g, 2)
    with pytest.raises(ValueError, match=r"gamma must have shape \(C,\) = \(3,\) or x.shape\[1:\] = \(3, 5, 4\)"):
        layernorm_forward(torch.randn(6, 3, 5, 4), torch.ones(5, 4), torch.zeros(5, 4))
    with pytest.raises(ValueError, match=r"\(N, C\) or \(N, C, H, W\)"):
        layernorm_forward(torch.randn(6, 3, 5), torch.ones(3), torch.zeros(3))
    with pytest.raises(ValueError, match=r"eps must be a finite number > 0; got 0"):
        layernorm_forward(x, g, g, eps=0)


def test_backward_rejects_wrong_dout_shape():
    x, g = torch.randn(7, 5), torch.ones(5)
    _, cache = batchnorm_forward(x, g, g, g.clone(), g.clone(), training=True)
    with pytest.raises(ValueError, match=r"dout must have shape x.shape = \(7, 5\); got shape \(5, 7\)"):
        batchnorm_backward(torch.randn(5, 7), cache)
    _, cache = layernorm_forward(x, g, g)
    with pytest.raises(ValueError, match=r"dout must have shape x.shape = \(7, 5\)"):
        layernorm_backward(torch.randn(7, 4), cache)


def test_modules_bad_input():
    with pytest.raises(ValueError, match=r"BatchNorm expects x with C = 5 channels.*got shape \(7, 4\)"):
        BatchNorm(5)(torch.randn(7, 4))
    with pytest.raises(ValueError, match=r"\(N, C\) or \(N, C, H, W\)"):
        LayerNorm(5)(torch.randn(7, 5, 3))
    with pytest.raises(ValueError, match=r"num_groups must divide the number of channels C = 6; got 4"):
        GroupNorm(4, 6)
    with pytest.raises(ValueError, match=r"momentum must be a number in \[0, 1\]"):
        BatchNorm(5, momentum=0.9 + 0.2)
    with pytest.raises(ValueError, match=r"num_features must be an int >= 1; got 0"):
        BatchRenorm(0)
    with pytest.raises(ValueError, match=r"num_channels must be an int >= 1; got 0"):
        GroupNorm(1, 0)
    with pytest.raises(ValueError, match=r"eps must be a finite number > 0; got -1\.0"):
        GroupNorm(2, 4, eps=-1.0)
    with pytest.raises(TypeError, match=r"num_features must be an int >= 1; got float 5\.0"):
        BatchNorm(5.0)


def test_constructors_take_pytorchs_arguments_in_pytorchs_order():
    """GroupNorm(num_groups, num_channels, eps), BatchNorm(num_features, eps, momentum), LayerNorm(C, eps):
    the same positional call builds the same layer as torch.nn's."""
    ours, ref = GroupNorm(2, 6, 1e-3), nn.GroupNorm(2, 6, 1e-3)
    assert (ours.num_groups, ours.num_channels, ours.eps) == (ref.num_groups, ref.num_channels, ref.eps)
    assert ours.weight.shape == ref.weight.shape == (6,)
    assert repr(ours) == "GroupNorm(2, 6, eps=0.001)"
    ours, ref = BatchNorm(5, 1e-3, 0.2), nn.BatchNorm1d(5, 1e-3, 0.2)
    assert (ours.num_features, ours.eps, ours.momentum) == (ref.num_features, ref.eps, ref.momentum)
    ours, ref = LayerNorm(5, 1e-3), nn.LayerNorm(5, 1e-3)
    assert (ours.num_features, ours.eps) == (ref.normalized_shape[0], ref.eps)
    x = torch.randn(3, 6, 2, 2, dtype=DT)
    assert_close(GroupNorm(3, 6, 1e-3, dtype=DT)(x), nn.GroupNorm(3, 6, 1e-3, dtype=DT)(x))


# ---------------------------------------------------------------------------
# property-based: batch norm over random shapes, both modes
# ---------------------------------------------------------------------------

@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(2, 8),
    c=st.integers(1, 6),
    spatial=st.none() | st.tuples(st.integers(1, 5), st.integers(1, 5)),
    training=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_batchnorm_matches_torch_on_random_shapes(n, c, spatial, training, seed):
    gen = torch.Generator().manual_seed(seed)
    shape = (n, c) if spatial is None else (n, c, *spatial)
    gamma, beta, rm, rv = params(c, gen)
    x = randn(*shape, gen=gen, scale=2.0, shift=0.5)
    dout = randn(*shape, gen=gen)
    rm_ref, rv_ref = rm.clone(), rv.clone()

    out, cache = batchnorm_forward(x, gamma, beta, rm, rv, training=training, momentum=MOMENTUM)
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)

    xr, gr, br = (t.clone().requires_grad_() for t in (x, gamma, beta))
    ref = torch_batch_norm(xr, gr, br, rm_ref, rv_ref, training=training)
    ref.backward(dout)
    # gradients can be large when two values nearly coincide: compare relative to their scale
    tol = dict(rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(out, ref.detach(), **tol)
    torch.testing.assert_close(rm, rm_ref, **tol)
    torch.testing.assert_close(rv, rv_ref, **tol)
    torch.testing.assert_close(dx, xr.grad, **tol)
    torch.testing.assert_close(dgamma, gr.grad, **tol)
    torch.testing.assert_close(dbeta, br.grad, **tol)
