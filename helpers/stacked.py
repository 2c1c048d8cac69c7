"""Train several small networks of the same shape side by side, as one model: ``fit_stacked``.

A comparison in the book trains many copies of one architecture that differ only in their
initial weights, data, seed or learning rate (three seeds of one network, the four rates of
the playground's grid, ...). One at a time, each training step of such a small network is
mostly Python and operator overhead, not arithmetic. ``fit_stacked`` stacks the V networks'
weights into (V, ...) tensors and runs the V training loops as one: one batched matrix
product per layer instead of V small ones.

It gives the SAME numbers as V separate ``helpers.train.fit`` runs on the CPU, bit for bit
(``tests/test_stacked.py`` checks every recorded number and every final weight, at several
widths, also on MKL's Intel code paths): each network's slice of the batched product, its
batch-norm statistics (taken over its own rows of a (V, N, C) tensor, with the reference's
operations), its loss and SGD update are the same operations on the same values as in its own
run. (A BN of V networks written as one (N, V*C) batch norm would not be: PyTorch's column sums
round a C-column block differently inside a wider tensor unless C is a multiple of 32.) Each
network sees its own mini-batches (drawn from its own ``seed``, as ``fit`` draws them), uses its
own rate schedule, and stops on its own when its loss becomes NaN/inf.

What can be stacked: ``helpers.models.make_mlp`` networks (Linear layers, ``helpers.norm``
``BatchNorm`` layers and elementwise activations, in the same order with the same sizes; the
activations may differ between the networks), trained with plain SGD (no momentum, no weight
decay) on a cross-entropy loss.
"""
from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F
from torch import nn

from helpers.checks import check_bool, check_int, check_number, check_tensor
from helpers.device import get_device
from helpers.norm import BatchNorm
from helpers.train import History, _check_data, _make_schedule, weight_layers

__all__ = ["StackedMLP", "fit_stacked"]

ELEMENTWISE = (nn.ReLU, nn.Sigmoid, nn.Tanh, nn.LeakyReLU, nn.ELU, nn.GELU, nn.Identity)


class _StackedLinear(torch.autograd.Function):
    """V Linear layers at once: x (V, N, in), weight (V, out, in), bias (V, out) -> (V, N, out).

    The backward is written out so that each slice is computed exactly as ``F.linear``'s own
    backward computes it for one network (grad_weight = grad_outᵀ · x, not the transpose of
    xᵀ · grad_out, which autograd's ``bmm`` backward would use and which rounds differently).
    """

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        out = torch.bmm(x, weight.transpose(1, 2))
        return out + bias.unsqueeze(1)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        return (torch.bmm(grad_out, weight), torch.bmm(grad_out.transpose(1, 2), x), grad_out.sum(1))


def _signature(model: nn.Module) -> list:
    """What must match for two networks to be stacked: each layer's name, type and sizes."""
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"models must be nn.Sequential networks from helpers.models.make_mlp; "
                        f"got {type(model).__name__}")
    layers = []
    for name, layer in model.named_children():
        if isinstance(layer, nn.Linear):
            if layer.bias is None:
                raise TypeError(f"layer {name!r} has no bias; only Linear layers with a bias can be stacked")
            layers.append((name, "linear", layer.in_features, layer.out_features))
        elif type(layer) is BatchNorm:
            layers.append((name, "batchnorm", layer.num_features, layer.eps, layer.momentum))
        elif isinstance(layer, ELEMENTWISE):
            layers.append((name, "elementwise"))  # which activation may differ between the networks
        else:
            raise TypeError(f"layer {name!r} ({type(layer).__name__}) cannot be stacked; only Linear, "
                            f"helpers.norm.BatchNorm and elementwise activations can")
    return layers


class _StackedBatchNormFunction(torch.autograd.Function):
    """Batch norm of V networks at once: x (V, N, C), each network's C channels over its own N rows.

    The same operations, in the same order, as ``helpers.norm.batchnorm_forward`` /
    ``batchnorm_backward`` (the reference that chapter 1 and lab 1 teach), with the statistics
    taken over dim 1 instead of dim 0: each network's slice gets the bits its own ``BatchNorm``
    would give (``tests/test_stacked.py``). gamma, beta, running_mean, running_var: (V, C).
    """

    @staticmethod
    def forward(ctx, x, gamma, beta, running_mean, running_var, training, momentum, eps):
        count, m, channels = x.shape
        gamma_v, beta_v = gamma.unsqueeze(1), beta.unsqueeze(1)
        if training:
            mean = x.mean(dim=1, keepdim=True)
            centred = x - mean
            var = (centred * centred).mean(dim=1, keepdim=True)
            inv_std = 1.0 / torch.sqrt(var + eps)
            x_hat = centred * inv_std
            with torch.no_grad():
                unbiased_var = var.reshape(count, channels) * (m / (m - 1))
                running_mean.mul_(1.0 - momentum).add_(momentum * mean.reshape(count, channels))
                running_var.mul_(1.0 - momentum).add_(momentum * unbiased_var)
        else:
            inv_std = 1.0 / torch.sqrt(running_var.unsqueeze(1) + eps)
            x_hat = (x - running_mean.unsqueeze(1)) * inv_std
        ctx.training = training
        ctx.save_for_backward(x_hat, inv_std, gamma)
        return gamma_v * x_hat + beta_v

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dout):
        x_hat, inv_std, gamma = ctx.saved_tensors
        dout = dout.contiguous()
        dbeta = dout.sum(dim=1)
        dgamma = (dout * x_hat).sum(dim=1)
        g = dout * gamma.unsqueeze(1)
        if ctx.training:
            m = x_hat.shape[1]
            dx = inv_std / m * (m * g - g.sum(dim=1, keepdim=True) - x_hat * (g * x_hat).sum(dim=1, keepdim=True))
        else:
            dx = g * inv_std
        return dx, dgamma, dbeta, None, None, None, None, None


class _StackedBatchNorm(nn.Module):
    """The ``BatchNorm`` layers of V networks: ``weight``, ``bias``, ``running_mean``, ``running_var`` (V, C)."""

    def __init__(self, parts):
        super().__init__()
        self.eps, self.momentum, self.num_features = parts[0].eps, parts[0].momentum, parts[0].num_features
        with torch.no_grad():
            self.weight = nn.Parameter(torch.stack([p.weight for p in parts]))
            self.bias = nn.Parameter(torch.stack([p.bias for p in parts]))
            self.register_buffer("running_mean", torch.stack([p.running_mean for p in parts]))
            self.register_buffer("running_var", torch.stack([p.running_var for p in parts]))

    def forward(self, x):
        if self.training and x.shape[1] < 2:
            raise ValueError(f"training mode needs more than one row per network to compute a variance; "
                             f"got x of shape {tuple(x.shape)}")
        return _StackedBatchNormFunction.apply(x, self.weight, self.bias, self.running_mean, self.running_var,
                                               self.training, self.momentum, self.eps)


class _Elementwise(nn.Module):
    """The activation layer of V networks, which may differ between them (sigmoid for some, ReLU for others).

    Each run of consecutive networks with the same activation gets that activation on its rows
    of the (V, N, C) input; the runs are concatenated back in order.
    """

    def __init__(self, activations):
        super().__init__()
        self.runs = []  # (activation, first network, one past the last)
        for v, act in enumerate(activations):
            if self.runs and repr(self.runs[-1][0]) == repr(act):
                self.runs[-1][2] = v + 1
            else:
                self.runs.append([act, v, v + 1])
        self.activations = nn.ModuleList([act for act, _, _ in self.runs])

    def forward(self, x):
        if len(self.runs) == 1:
            return self.runs[0][0](x)
        return torch.cat([act(x[start:stop]) for act, start, stop in self.runs])


class StackedMLP(nn.Module):
    """V networks of one shape as one module: input (V, N, in_features) -> output (V, N, out_features).

    Row v of the input goes through network v only. The networks have the same layers in the same
    order with the same sizes; their activations may differ (``_Elementwise``). A Linear layer
    holds ``weight`` (V, out, in) and ``bias`` (V, out); a ``BatchNorm`` of C features holds (V, C)
    parameters and statistics, each network's C channels normalised over its own N rows. ``StackedMLP(models)`` copies the
    networks' weights and buffers in; ``copy_into(models)`` copies them back out.
    """

    def __init__(self, models):
        super().__init__()
        models = list(models)
        if not models:
            raise ValueError("models must hold at least one network; got none")
        signature = _signature(models[0])
        for i, model in enumerate(models[1:], start=1):
            if _signature(model) != signature:
                raise ValueError(f"models[{i}] is not the same architecture as models[0]: "
                                 f"{_signature(model)} != {signature}")
        self.num_models = len(models)
        self.names = [layer[0] for layer in signature]
        self.layers = nn.ModuleDict()
        with torch.no_grad():
            for name in self.names:
                parts = [getattr(model, name) for model in models]
                first = parts[0]
                if isinstance(first, nn.Linear):
                    stacked = nn.Module()
                    stacked.weight = nn.Parameter(torch.stack([p.weight for p in parts]))
                    stacked.bias = nn.Parameter(torch.stack([p.bias for p in parts]))
                elif isinstance(first, BatchNorm):
                    stacked = _StackedBatchNorm(parts)
                else:
                    stacked = _Elementwise(parts)
                self.layers[name] = stacked

    def forward(self, x):
        """x: (V, N, in_features) -> logits (V, N, out_features)."""
        check_tensor("x", x, ndim=3, layout=f"(V, N, features) with V = {self.num_models}")
        if x.shape[0] != self.num_models:
            raise ValueError(f"x must have V = {self.num_models} rows in dim 0 (one per network); "
                             f"got shape {tuple(x.shape)}")
        for name in self.names:
            layer = self.layers[name]
            if isinstance(layer, (_StackedBatchNorm, _Elementwise)):
                x = layer(x)
            else:
                x = _StackedLinear.apply(x, layer.weight, layer.bias)
        return x

    @torch.no_grad()
    def copy_into(self, models, which=None) -> None:
        """Copy network v's weights and buffers into ``models[v]`` (for v in ``which``, default all)."""
        which = range(self.num_models) if which is None else which
        for name in self.names:
            layer = self.layers[name]
            for v in which:
                target = getattr(models[v], name)
                if isinstance(layer, _StackedBatchNorm):
                    for key in ("weight", "bias", "running_mean", "running_var"):
                        getattr(target, key).copy_(getattr(layer, key)[v])
                elif isinstance(layer, nn.Module) and hasattr(layer, "weight"):
                    target.weight.copy_(layer.weight[v])
                    target.bias.copy_(layer.bias[v])


def _per_model(name, value, count):
    """``value`` as a list of ``count`` items: a list/tuple of that length, or one value for all."""
    if isinstance(value, (list, tuple)):
        if len(value) != count:
            raise ValueError(f"{name} must have one entry per model ({count}); got {len(value)}")
        return list(value)
    return [value] * count


def _stack_sets(name, pairs, count):
    """Per-model (X, y) pairs (a list of ``count``, each checked as ``fit`` checks its sets) -> X (V, N, ...),
    y (V, N); every model's set must have the same shape."""
    if not isinstance(pairs, (list, tuple)) or (len(pairs) == 2 and isinstance(pairs[0], torch.Tensor)):
        raise TypeError(f"{name} must be a list of (X, y) pairs, one per model")
    checked = [_check_data(f"{name}[{i}]", pair) for i, pair in enumerate(_per_model(name, list(pairs), count))]
    shapes = {tuple(X.shape) for X, _ in checked}
    if len(shapes) != 1:
        raise ValueError(f"every model's {name} set must have the same shape to be stacked; got {sorted(shapes)}")
    return torch.stack([X for X, _ in checked]), torch.stack([y for _, y in checked])


def fit_stacked(models, train, *, steps, batch_size, lr, seed, test=None, schedule=None, eval_every=50,
                record_grad_norms=False, eval_train=True, device=None) -> list:
    """Train V ``make_mlp`` networks of one shape side by side; returns their V ``History`` objects.

    The result is what ``helpers.train.fit(models[v], train[v], test=test[v], steps=steps,
    batch_size=batch_size, lr=lr[v], schedule=schedule[v], seed=seed[v], eval_every=eval_every,
    record_grad_norms=..., eval_train=..., device=device)`` would give for each v (SGD without
    momentum, cross-entropy), and each ``models[v]`` ends with the weights that run would leave,
    bit for bit on the CPU. A network whose loss becomes NaN/inf stops there (``diverged``) and
    keeps the weights it had, while the others go on.

    train: a list of V ``(X, y)`` pairs (X: (N, features), y: (N,) classes), the same N for all;
    test: None or a list of V pairs. lr, seed, schedule: one value for all models or a list of V.
    """
    models = list(models)
    count = len(models)
    check_int("steps", steps, min=1)
    check_int("batch_size", batch_size, min=1)
    check_int("eval_every", eval_every, min=1)
    check_bool("record_grad_norms", record_grad_norms)
    check_bool("eval_train", eval_train)
    lrs = [check_number("lr", r, min=0, min_open=True) for r in _per_model("lr", lr, count)]
    seeds = [check_int("seed", s, min=0) for s in _per_model("seed", seed, count)]
    schedules = [_make_schedule(s, r, steps, None) for s, r in zip(_per_model("schedule", schedule, count), lrs)]
    device = torch.device(get_device() if device is None else device)
    X_train, y_train = (t.to(device) for t in _stack_sets("train", train, count))
    n = X_train.shape[1]
    if batch_size > n:
        raise ValueError(f"batch_size must be <= the {n} training rows; got {batch_size}")
    if test is not None:
        X_test, y_test = (t.to(device) for t in _stack_sets("test", test, count))

    for model in models:  # as fit leaves its model: on the device
        model.to(device)
    stack = StackedMLP(models).to(device)
    layers = list(weight_layers(models[0])) if record_grad_norms else []
    histories = [History(grad_norms={name: [] for name in layers}) for _ in range(count)]
    generators = [torch.Generator().manual_seed(s) for s in seeds]
    batches_per_epoch = n // batch_size
    params = list(stack.parameters())
    alive = list(range(count))
    start = time.perf_counter()

    def evaluate(step, which):
        stack.eval()
        with torch.no_grad():
            out = stack(X_train) if eval_train else None
            out_t = stack(X_test) if test is not None else None
        for v in which:
            history = histories[v]
            history.eval_steps.append(step)
            if eval_train:
                history.eval_train_loss.append(F.cross_entropy(out[v], y_train[v]).item())
                history.train_acc.append((out[v].argmax(1) == y_train[v]).float().mean().item())
            if test is not None:
                history.test_loss.append(F.cross_entropy(out_t[v], y_test[v]).item())
                history.test_acc.append((out_t[v].argmax(1) == y_test[v]).float().mean().item())
        stack.train()

    stack.train()
    evaluate(0, alive)
    rows = torch.arange(count, device=device).unsqueeze(1)
    for step in range(1, steps + 1):
        position = (step - 1) % batches_per_epoch
        if position == 0:
            perms = torch.stack([torch.randperm(n, generator=g) for g in generators]).to(device)
        idx = perms[:, position * batch_size:(position + 1) * batch_size]
        out = stack(X_train[rows, idx])  # (V, B, classes): every model's own mini-batch
        targets = y_train[rows, idx]
        losses = {v: F.cross_entropy(out[v], targets[v]) for v in alive}
        rates = [0.0] * count
        for v in list(alive):
            value = losses[v].item()
            history = histories[v]
            rates[v] = float(schedules[v](step - 1))
            history.steps.append(step)
            history.train_loss.append(value)
            history.lr.append(rates[v])
            if not math.isfinite(value):
                history.diverged, history.diverged_at = True, step
                alive.remove(v)
                rates[v] = 0.0
                stack.copy_into(models, [v])  # fit stops here: the weights before this step's update
        if not alive:
            break
        for p in params:
            p.grad = None
        sum(losses[v] for v in alive).backward()
        if layers and (step == 1 or step % eval_every == 0 or step == steps):
            for v in alive:
                histories[v].grad_steps.append(step)
                for name in layers:
                    histories[v].grad_norms[name].append(stack.layers[name].weight.grad[v].contiguous().norm().item())
        _sgd_step(stack, rates, alive)
        if step % eval_every == 0 or step == steps:
            evaluate(step, alive)
    stack.copy_into(models, alive)
    seconds = time.perf_counter() - start
    for history in histories:
        history.seconds = seconds
    return histories


@torch.no_grad()
def _sgd_step(stack, rates, alive):
    """p <- p - rate_v * grad for every network v still training; a stopped network's slice is left alone.

    ``addcmul_`` with the rate as a broadcast tensor is the same fused operation as
    ``torch.optim.SGD``'s ``p.add_(grad, alpha=-lr)``, so each slice gets the same bits.
    """
    count = stack.num_models
    stopped = [v for v in range(count) if v not in alive]
    neg = torch.tensor([-r for r in rates], dtype=next(stack.parameters()).dtype,
                       device=next(stack.parameters()).device)
    for name in stack.names:
        layer = stack.layers[name]
        for key in ("weight", "bias"):
            p = getattr(layer, key, None)
            if not isinstance(p, nn.Parameter) or p.grad is None:
                continue
            grad = p.grad.reshape(count, -1)
            if stopped:
                grad[stopped] = 0.0
            p.view(count, -1).addcmul_(grad, neg.unsqueeze(1))
