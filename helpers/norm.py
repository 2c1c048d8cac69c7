"""Normalisation layers written from scratch: batch, layer, group norm and batch renorm.

Taught in chapter 1, «نرمال‌سازی دسته‌ای» (``chapters/01_batchnorm.ipynb``), and
built by the student in lab 1 (``labs/source/lab1_batchnorm.ipynb``). Every function
is checked against PyTorch in ``tests/test_norm.py`` (float64, values and
gradients).

Shapes: ``x`` is ``(N, C)`` (a fully connected layer's output) or
``(N, C, H, W)`` (a convolution's output). Batch norm and batch renorm
normalise each channel ``c`` over the ``M = N`` (or ``N*H*W``) values it has
in the batch; layer norm normalises each sample over all its non-batch
values; group norm normalises each sample over groups of channels.

The functional forms take their parameters explicitly:
``batchnorm_forward`` / ``layernorm_forward`` return ``(out, cache)`` and have
an analytic ``*_backward(dout, cache) -> (dx, dgamma, dbeta)`` (CS231n style);
``groupnorm_forward`` and ``batch_renorm_forward`` return ``out`` and rely on
autograd. The ``nn.Module`` wrappers (``BatchNorm``, ``LayerNorm``,
``GroupNorm``, ``BatchRenorm``) hold ``weight`` (gamma), ``bias`` (beta) and,
where needed, the ``running_mean`` / ``running_var`` buffers, with PyTorch's
names so ``state_dict`` keys and init code carry over; their constructors take
PyTorch's arguments in PyTorch's order (``BatchNorm(num_features, eps, momentum)``,
``GroupNorm(num_groups, num_channels, eps)``). ``make_norm(name, C)`` builds one
by name ("batch", "layer", "group", "batch_renorm", or None).
"""
from __future__ import annotations

import torch
from torch import nn

from helpers.checks import check_bool, check_int, check_number, check_tensor

__all__ = [
    "batchnorm_forward",
    "batchnorm_backward",
    "layernorm_forward",
    "layernorm_backward",
    "groupnorm_forward",
    "batch_renorm_forward",
    "BatchNorm",
    "LayerNorm",
    "GroupNorm",
    "BatchRenorm",
    "NORMS",
    "make_norm",
    "default_num_groups",
]


# ---------------------------------------------------------------------------
# Input checks (each error message names what was expected)
# ---------------------------------------------------------------------------

def _check_input(x, eps, **channel_vectors) -> int:
    """x: (N, C) or (N, C, H, W); each named vector (gamma, beta, running stats): (C,); eps > 0. Returns C."""
    check_tensor("x", x, ndim=(2, 4), layout="(N, C) or (N, C, H, W)")
    num_channels = x.shape[1]
    for name, t in channel_vectors.items():
        check_tensor(name, t, shape=(num_channels,), layout="(C,)")
    check_number("eps", eps, min=0, min_open=True)
    return num_channels


def _check_mode(training, momentum) -> None:
    """training: a bool; momentum: the fraction of the running statistics updated, in [0, 1]."""
    check_bool("training", training, "True: batch statistics, False: running statistics")
    check_number("momentum", momentum, min=0, max=1)


def _channel_view(x: torch.Tensor) -> tuple[int, ...]:
    """Shape that broadcasts a (C,) vector against x: (1, C) or (1, C, 1, 1)."""
    return (1, x.shape[1]) + (1,) * (x.dim() - 2)


def _batch_dims(x: torch.Tensor) -> tuple[int, ...]:
    """Dimensions batch norm reduces over: (0,) or (0, 2, 3)."""
    return (0,) + tuple(range(2, x.dim()))


def _centred_and_biased_variance(x: torch.Tensor, dims: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mean over ``dims``, x minus that mean, and the biased variance (divide by M), all keepdim."""
    mean = x.mean(dim=dims, keepdim=True)
    centred = x - mean
    return mean, centred, (centred * centred).mean(dim=dims, keepdim=True)


def _check_batch_has_variance(x: torch.Tensor, num_channels: int) -> int:
    """Values per channel M = N*H*W; training needs M > 1 to compute a variance."""
    m = x.numel() // num_channels
    if m < 2:
        raise ValueError(
            f"training mode needs more than one value per channel (N*H*W > 1) to compute a variance; "
            f"got x of shape {tuple(x.shape)}"
        )
    return m


# ---------------------------------------------------------------------------
# Batch normalisation (Ioffe & Szegedy 2015)
# ---------------------------------------------------------------------------

def batchnorm_forward(x, gamma, beta, running_mean, running_var, *, training, momentum=0.1, eps=1e-5):
    """Batch normalisation, forward pass (chapter 1, «نرمال‌سازی دسته‌ای»; lab 1).

    Args:
        x: (N, C) or (N, C, H, W).
        gamma, beta: (C,) learned scale and shift.
        running_mean, running_var: (C,) running statistics. In training mode
            they are UPDATED IN PLACE; in evaluation mode they are only read.
        training: True uses the batch's statistics, False the running ones.
        momentum: the fraction updated, PyTorch's convention:
            ``running = (1 - momentum) * running + momentum * batch_stat``
            (Keras/TensorFlow call ``1 - momentum`` the momentum).
        eps: added to the variance before the square root.

    For each channel c, with the M = N (or N*H*W) values x_c of the batch:
    training normalises with the batch mean and the BIASED variance
    (divide by M), ``x_hat = (x - mean) / sqrt(var + eps)``, and stores the
    UNBIASED variance (divide by M - 1) in ``running_var`` - the same choice
    as ``torch.nn.BatchNorm1d/2d``. Evaluation uses
    ``x_hat = (x - running_mean) / sqrt(running_var + eps)``.
    The output is ``gamma * x_hat + beta``.

    Returns:
        out: same shape as x.
        cache: what ``batchnorm_backward`` needs (records the mode, so the
            backward is right in evaluation mode too).

    Raises:
        ValueError: x not 2- or 4-dimensional, gamma/beta/running stats not
            of shape (C,), momentum outside [0, 1], eps <= 0, or a training
            batch with only one value per channel.
        TypeError: a non-tensor, or training not a bool.
    """
    num_channels = _check_input(x, eps, gamma=gamma, beta=beta, running_mean=running_mean, running_var=running_var)
    _check_mode(training, momentum)

    view = _channel_view(x)
    dims = _batch_dims(x)
    m = x.numel() // num_channels  # values per channel
    if training:
        _check_batch_has_variance(x, num_channels)
        mean, centred, var = _centred_and_biased_variance(x, dims)
        inv_std = 1.0 / torch.sqrt(var + eps)
        x_hat = centred * inv_std
        with torch.no_grad():
            unbiased_var = var.reshape(num_channels) * (m / (m - 1))
            running_mean.mul_(1.0 - momentum).add_(momentum * mean.reshape(num_channels))
            running_var.mul_(1.0 - momentum).add_(momentum * unbiased_var)
    else:
        inv_std = 1.0 / torch.sqrt(running_var.reshape(view) + eps)
        x_hat = (x - running_mean.reshape(view)) * inv_std

    out = gamma.reshape(view) * x_hat + beta.reshape(view)
    cache = {"training": training, "x_hat": x_hat, "inv_std": inv_std, "gamma": gamma, "dims": dims}
    return out, cache


def batchnorm_backward(dout, cache):
    """Batch normalisation, analytic backward pass (chapter 1; lab 1).

    Args:
        dout: upstream gradient dL/d(out), same shape as x.
        cache: from ``batchnorm_forward``.

    Returns:
        dx: same shape as x; dgamma, dbeta: (C,).

    In training mode the mean and variance depend on x, which gives, per
    channel with ``g = dout * gamma``:
    ``dx = inv_std / M * (M * g - sum(g) - x_hat * sum(g * x_hat))``.
    In evaluation mode the statistics are constants: ``dx = g * inv_std``.
    """
    x_hat = cache["x_hat"]
    check_tensor("dout", dout, shape=x_hat.shape, layout="x.shape")
    dims = cache["dims"]
    inv_std = cache["inv_std"]
    gamma = cache["gamma"]

    dbeta = dout.sum(dim=dims)
    dgamma = (dout * x_hat).sum(dim=dims)
    g = dout * gamma.reshape(_channel_view(x_hat))
    if cache["training"]:
        m = x_hat.numel() // x_hat.shape[1]
        dx = inv_std / m * (
            m * g
            - g.sum(dim=dims, keepdim=True)
            - x_hat * (g * x_hat).sum(dim=dims, keepdim=True)
        )
    else:
        dx = g * inv_std
    return dx, dgamma, dbeta


# ---------------------------------------------------------------------------
# Layer normalisation (Ba, Kiros & Hinton 2016)
# ---------------------------------------------------------------------------

def _layernorm_affine_view(x: torch.Tensor, gamma: torch.Tensor, name: str) -> tuple[int, ...]:
    """Broadcast shape for gamma/beta in layer norm: per channel (C,) or per element x.shape[1:]."""
    check_tensor(name, gamma)
    if tuple(gamma.shape) == tuple(x.shape[1:]):
        return (1,) + tuple(x.shape[1:])
    if tuple(gamma.shape) == (x.shape[1],):
        return _channel_view(x)
    raise ValueError(
        f"{name} must have shape (C,) = ({x.shape[1]},) or x.shape[1:] = {tuple(x.shape[1:])}; "
        f"got shape {tuple(gamma.shape)}"
    )


def layernorm_forward(x, gamma, beta, *, eps=1e-5):
    """Layer normalisation, forward pass (chapter 1, the alternatives to batch norm).

    Each sample is normalised over ALL its non-batch values (mean and biased
    variance per sample), so the result does not depend on the batch and
    training and evaluation compute the same thing.

    Args:
        x: (N, D) or (N, C, H, W).
        gamma, beta: the affine parameters, either
            - shape ``x.shape[1:]`` (one per element): exactly
              ``nn.LayerNorm(normalized_shape=x.shape[1:])``; for (N, D)
              inputs that is (D,);
            - or shape (C,) (one per channel, broadcast over H, W): for
              (N, C, H, W) this equals ``nn.GroupNorm(1, C)``. The
              ``LayerNorm`` module uses this form.
        eps: added to the variance before the square root.

    Returns:
        out: same shape as x; cache for ``layernorm_backward``.
    """
    _check_input(x, eps)
    view = _layernorm_affine_view(x, gamma, "gamma")
    if _layernorm_affine_view(x, beta, "beta") != view:
        raise ValueError(f"beta must have the shape of gamma, {tuple(gamma.shape)}; got {tuple(beta.shape)}")

    dims = tuple(range(1, x.dim()))  # every non-batch dimension
    mean, centred, var = _centred_and_biased_variance(x, dims)
    inv_std = 1.0 / torch.sqrt(var + eps)
    x_hat = centred * inv_std
    out = gamma.reshape(view) * x_hat + beta.reshape(view)
    # gamma's gradient sums over the dimensions gamma is broadcast along
    param_dims = tuple(d for d in range(x.dim()) if view[d] == 1)
    cache = {"x_hat": x_hat, "inv_std": inv_std, "gamma": gamma, "view": view, "dims": dims, "param_dims": param_dims}
    return out, cache


def layernorm_backward(dout, cache):
    """Layer normalisation, analytic backward pass.

    Args:
        dout: upstream gradient, same shape as x.
        cache: from ``layernorm_forward``.

    Returns:
        dx: same shape as x; dgamma, dbeta: same shape as gamma.

    The batch-norm formula with the roles of the axes swapped: the sums run
    over each sample's D (or C*H*W) values instead of over the batch.
    """
    x_hat = cache["x_hat"]
    check_tensor("dout", dout, shape=x_hat.shape, layout="x.shape")
    gamma = cache["gamma"]
    dims = cache["dims"]
    param_dims = cache["param_dims"]

    dbeta = dout.sum(dim=param_dims).reshape(gamma.shape)
    dgamma = (dout * x_hat).sum(dim=param_dims).reshape(gamma.shape)
    g = dout * gamma.reshape(cache["view"])
    m = x_hat[0].numel()  # values per sample
    dx = cache["inv_std"] / m * (
        m * g
        - g.sum(dim=dims, keepdim=True)
        - x_hat * (g * x_hat).sum(dim=dims, keepdim=True)
    )
    return dx, dgamma, dbeta


# ---------------------------------------------------------------------------
# Group normalisation (Wu & He 2018)
# ---------------------------------------------------------------------------

def _check_num_groups(num_groups, num_channels: int) -> None:
    check_int("num_groups", num_groups, min=1)
    if num_channels % num_groups != 0:
        raise ValueError(f"num_groups must divide the number of channels C = {num_channels}; got {num_groups}")


def groupnorm_forward(x, gamma, beta, num_groups, *, eps=1e-5):
    """Group normalisation (chapter 1, the alternatives to batch norm).

    The C channels are split into ``num_groups`` groups of C / num_groups
    consecutive channels; each sample is normalised over each group's values
    (mean and biased variance), then scaled and shifted per channel. One
    group is layer norm with per-channel affine; C groups is instance norm.
    Differentiable by autograd (plain tensor ops); equals ``nn.GroupNorm``.

    Args:
        x: (N, C) or (N, C, H, W).
        gamma, beta: (C,).
        num_groups: a positive int that divides C.
        eps: added to the variance before the square root.

    Returns:
        out: same shape as x.
    """
    num_channels = _check_input(x, eps, gamma=gamma, beta=beta)
    _check_num_groups(num_groups, num_channels)

    grouped = x.reshape(x.shape[0], num_groups, -1)  # (N, G, C/G * H * W)
    mean = grouped.mean(dim=-1, keepdim=True)
    centred = grouped - mean
    var = (centred * centred).mean(dim=-1, keepdim=True)  # biased
    x_hat = (centred / torch.sqrt(var + eps)).reshape(x.shape)
    view = _channel_view(x)
    return gamma.reshape(view) * x_hat + beta.reshape(view)


def default_num_groups(num_channels: int) -> int:
    """The GroupNorm module's default: the largest of 32, 16, 8, 4, 2, 1 that divides C.

    32 is Wu & He's default; smaller layers (common in the course's CPU-sized
    models) fall back to the largest power of two that still divides C.
    """
    return next(g for g in (32, 16, 8, 4, 2, 1) if num_channels % g == 0)


# ---------------------------------------------------------------------------
# Batch renormalisation (Ioffe 2017)
# ---------------------------------------------------------------------------

def batch_renorm_forward(x, gamma, beta, running_mean, running_var, *, training, r_max, d_max,
                         momentum=0.01, eps=1e-5):
    """Batch renormalisation (Ioffe 2017), forward pass; autograd gives the backward.

    Chapter 1 runs it beside batch, layer and group norm in the small-batch
    experiment.

    Args:
        x: (N, C) or (N, C, H, W).
        gamma, beta, running_mean, running_var: (C,); the running statistics
            are UPDATED IN PLACE in training mode, exactly as in
            ``batchnorm_forward`` (PyTorch convention, unbiased variance
            stored, ``momentum`` is the fraction updated).
        training: True or False.
        r_max: >= 1; d_max: >= 0. The paper starts from r_max = 1, d_max = 0
            (plain batch norm) and relaxes them during training; change the
            module's attributes to follow such a schedule.
        momentum: in [0, 1]; eps: > 0.

    In training, per channel, with the batch mean mu_B, the batch's biased
    variance, ``sigma_B = sqrt(var_B + eps)`` and
    ``sigma = sqrt(running_var + eps)`` (running statistics BEFORE this
    step's update)::

        r = clip(sigma_B / sigma, 1 / r_max, r_max)       # no gradient
        d = clip((mu_B - running_mean) / sigma, -d_max, d_max)  # no gradient
        x_hat = (x - mu_B) / sigma_B * r + d

    so the output uses the running statistics already in training, while the
    gradient still flows through mu_B and sigma_B. With r_max = 1 and
    d_max = 0 this is batch norm; without clipping it is
    ``(x - running_mean) / sigma``. Evaluation uses
    ``x_hat = (x - running_mean) / sigma``. The output is gamma * x_hat + beta.

    Returns:
        out: same shape as x.
    """
    num_channels = _check_input(x, eps, gamma=gamma, beta=beta, running_mean=running_mean, running_var=running_var)
    _check_mode(training, momentum)
    check_number("r_max", r_max, min=1, finite=False)  # inf: no clipping
    check_number("d_max", d_max, min=0, finite=False)

    view = _channel_view(x)
    dims = _batch_dims(x)
    mu = running_mean.reshape(view)
    sigma = torch.sqrt(running_var.reshape(view) + eps)
    if training:
        m = _check_batch_has_variance(x, num_channels)
        mean, centred, var = _centred_and_biased_variance(x, dims)
        sigma_b = torch.sqrt(var + eps)
        # r and d are treated as constants: computed from detached statistics
        r = (sigma_b.detach() / sigma).clamp(1.0 / r_max, r_max)
        d = ((mean.detach() - mu) / sigma).clamp(-d_max, d_max)
        x_hat = centred / sigma_b * r + d
        with torch.no_grad():
            unbiased_var = var.reshape(num_channels) * (m / (m - 1))
            running_mean.mul_(1.0 - momentum).add_(momentum * mean.reshape(num_channels))
            running_var.mul_(1.0 - momentum).add_(momentum * unbiased_var)
    else:
        x_hat = (x - mu) / sigma
    return gamma.reshape(view) * x_hat + beta.reshape(view)


# ---------------------------------------------------------------------------
# autograd.Functions: the modules run the tested forward AND backward
# ---------------------------------------------------------------------------

class BatchNormFunction(torch.autograd.Function):
    """``batchnorm_forward`` + ``batchnorm_backward`` as one autograd operation.

    ``BatchNormFunction.apply(x, gamma, beta, running_mean, running_var,
    training, momentum, eps)``; gradients flow to x, gamma and beta.
    """

    @staticmethod
    def forward(ctx, x, gamma, beta, running_mean, running_var, training, momentum, eps):
        out, cache = batchnorm_forward(x, gamma, beta, running_mean, running_var,
                                       training=training, momentum=momentum, eps=eps)
        ctx.cache = cache
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dout):
        dx, dgamma, dbeta = batchnorm_backward(dout.contiguous(), ctx.cache)
        return dx, dgamma, dbeta, None, None, None, None, None


class LayerNormFunction(torch.autograd.Function):
    """``layernorm_forward`` + ``layernorm_backward`` as one autograd operation:
    ``LayerNormFunction.apply(x, gamma, beta, eps)``."""

    @staticmethod
    def forward(ctx, x, gamma, beta, eps):
        out, cache = layernorm_forward(x, gamma, beta, eps=eps)
        ctx.cache = cache
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dout):
        dx, dgamma, dbeta = layernorm_backward(dout.contiguous(), ctx.cache)
        return dx, dgamma, dbeta, None


# ---------------------------------------------------------------------------
# nn.Module wrappers (parameter and buffer names as in PyTorch)
# ---------------------------------------------------------------------------

class _Affine(nn.Module):
    """Shared part: ``weight`` (gamma, ones) and ``bias`` (beta, zeros), both (C,), and ``eps``.

    ``size_name`` is what the subclass calls C, as PyTorch does ("num_features" or "num_channels").
    """

    def __init__(self, size_name: str, num_channels: int, eps: float, device=None, dtype=None):
        super().__init__()
        check_int(size_name, num_channels, min=1)
        check_number("eps", eps, min=0, min_open=True)
        self.eps = eps
        factory = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.ones(num_channels, **factory))
        self.bias = nn.Parameter(torch.zeros(num_channels, **factory))

    def _check_input(self, x) -> None:
        check_tensor("x", x, ndim=(2, 4), layout="(N, C) or (N, C, H, W)")
        num_channels = self.weight.shape[0]
        if x.shape[1] != num_channels:
            raise ValueError(
                f"{type(self).__name__} expects x with C = {num_channels} channels "
                f"(shape (N, {num_channels}) or (N, {num_channels}, H, W)); got shape {tuple(x.shape)}"
            )


class _RunningStats(_Affine):
    """Adds ``num_features``, ``momentum`` and the ``running_mean`` (zeros) and ``running_var`` (ones) buffers."""

    def __init__(self, num_features: int, momentum: float, eps: float, device=None, dtype=None):
        super().__init__("num_features", num_features, eps, device, dtype)
        check_number("momentum", momentum, min=0, max=1)
        self.num_features = num_features
        self.momentum = momentum
        factory = {"device": device, "dtype": dtype}
        self.register_buffer("running_mean", torch.zeros(num_features, **factory))
        self.register_buffer("running_var", torch.ones(num_features, **factory))


class BatchNorm(_RunningStats):
    """Batch norm for (N, C) and (N, C, H, W) inputs, like ``nn.BatchNorm1d/2d(num_features, eps, momentum)``.

    Chapter 1, «نرمال‌سازی دسته‌ای»; lab 1. The forward and backward are
    ``batchnorm_forward`` / ``batchnorm_backward`` (through
    ``BatchNormFunction``). ``module.train()``: batch statistics, running
    statistics updated in place; ``module.eval()``: running statistics.
    ``momentum`` is the fraction updated (PyTorch's convention).
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, *, device=None, dtype=None):
        super().__init__(num_features, momentum, eps, device, dtype)

    def forward(self, x):
        self._check_input(x)
        return BatchNormFunction.apply(x, self.weight, self.bias, self.running_mean, self.running_var,
                                       self.training, self.momentum, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class LayerNorm(_Affine):
    """Layer norm over all non-batch dimensions, with a per-channel affine: ``LayerNorm(num_features, eps)``.

    On (N, C): exactly ``nn.LayerNorm(C, eps)``. On (N, C, H, W): each sample is
    normalised over its C*H*W values and then scaled and shifted per CHANNEL
    (``weight``, ``bias`` of shape (C,)), i.e. ``nn.GroupNorm(1, C)`` - not
    ``nn.LayerNorm((C, H, W))``, whose parameters would tie the module to one
    image size. Same computation in train() and eval(). Runs
    ``layernorm_forward`` / ``layernorm_backward`` (``LayerNormFunction``).
    """

    def __init__(self, num_features: int, eps: float = 1e-5, *, device=None, dtype=None):
        super().__init__("num_features", num_features, eps, device, dtype)
        self.num_features = num_features

    def forward(self, x):
        self._check_input(x)
        return LayerNormFunction.apply(x, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}"


class GroupNorm(_Affine):
    """Group norm for (N, C) and (N, C, H, W) inputs, like ``nn.GroupNorm(num_groups, num_channels, eps)``.

    The same arguments in the same order as PyTorch: ``num_groups`` first (a
    positive int that divides C), then ``num_channels`` (C). Same computation in
    train() and eval(); autograd differentiates ``groupnorm_forward``.
    ``make_norm("group", C)`` picks ``default_num_groups(C)`` groups when no
    ``num_groups`` is given.
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, *, device=None, dtype=None):
        super().__init__("num_channels", num_channels, eps, device, dtype)
        _check_num_groups(num_groups, num_channels)
        self.num_groups = num_groups
        self.num_channels = num_channels

    def forward(self, x):
        self._check_input(x)
        return groupnorm_forward(x, self.weight, self.bias, self.num_groups, eps=self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}"


class BatchRenorm(_RunningStats):
    """Batch renormalisation (Ioffe 2017) for (N, C) and (N, C, H, W) inputs.

    See ``batch_renorm_forward``. ``r_max`` and ``d_max`` are plain
    attributes: set them during training to follow the paper's schedule
    (r_max = 1, d_max = 0 is batch norm). ``momentum`` defaults to 0.01, as
    in the paper's slow running averages.
    """

    def __init__(self, num_features: int, r_max: float = 3.0, d_max: float = 5.0, *, momentum: float = 0.01,
                 eps: float = 1e-5, device=None, dtype=None):
        super().__init__(num_features, momentum, eps, device, dtype)
        self.r_max = r_max
        self.d_max = d_max

    def forward(self, x):
        self._check_input(x)
        return batch_renorm_forward(x, self.weight, self.bias, self.running_mean, self.running_var,
                                    training=self.training, r_max=self.r_max, d_max=self.d_max,
                                    momentum=self.momentum, eps=self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_features}, r_max={self.r_max}, d_max={self.d_max}, momentum={self.momentum}, eps={self.eps}"


NORMS: dict[str, type[nn.Module]] = {
    "batch": BatchNorm,
    "layer": LayerNorm,
    "group": GroupNorm,
    "batch_renorm": BatchRenorm,
}


def make_norm(name: str | None, num_features: int, **kwargs) -> nn.Module:
    """Build a normalisation layer for ``num_features`` channels by name, for models that switch between them.

    Args:
        name: one of ``NORMS`` ("batch", "layer", "group", "batch_renorm"),
            or None / "none" for ``nn.Identity()`` (no normalisation).
        num_features: C, the number of channels (features) of the input.
        **kwargs: passed to the class (e.g. ``momentum=0.3``); for "group",
            ``num_groups`` (default ``default_num_groups(C)``) becomes
            ``GroupNorm(num_groups, C)``'s first argument.

    Raises:
        ValueError: an unknown name (the message lists the known names).
    """
    if name is None or name == "none":
        return nn.Identity()
    if name not in NORMS:
        known = ", ".join(repr(k) for k in NORMS)
        raise ValueError(f"unknown norm {name!r}; known names: {known}, or None / 'none' for no normalisation")
    if name == "group":
        num_groups = kwargs.pop("num_groups", None)
        return GroupNorm(default_num_groups(num_features) if num_groups is None else num_groups, num_features, **kwargs)
    return NORMS[name](num_features, **kwargs)
