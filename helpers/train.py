"""The one training loop every notebook uses: ``fit`` and its ``History``.

``fit`` places the model and data on a device, draws seeded mini-batches, steps a
``torch.optim`` optimizer under an optional learning-rate schedule, and records the
loss and learning rate at every step, accuracy at evaluation points and, on request,
per-layer gradient norms. A NaN or infinite loss stops training and is reported in
``History.diverged`` instead of raising, so a learning-rate sweep can show divergence.

Progress bar (``progress``): ``True`` shows a ``tqdm.auto`` bar, ``False`` never does;
``None`` (the default) shows it only in an interactive session (a Jupyter kernel, a Python
prompt or a terminal) and never when the environment variable ``DLFA_QUIET`` is set (to any
value): tests and the book build set it, so their outputs stay clean.

Taught in chapter 1 and used by every chapter, lab and the playground.
"""
import math
import os
import sys
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from helpers.checks import check_bool, check_callable, check_choice, check_int, check_number, check_tensor
from helpers.device import get_device
from helpers.schedules import ScheduledOptimizer, make_schedule

LOSSES = ("cross_entropy", "mse")
OPTIMIZERS = ("sgd", "adam", "adamw")


@dataclass
class History:
    """What ``fit`` recorded.

    Per training step (``steps[i]`` is the 1-based step number): ``train_loss`` (the mini-batch
    loss before that step's update) and ``lr`` (the learning rate used by the update).
    At evaluation points ``eval_steps`` (0 = before training, then every ``eval_every`` steps and
    the last step): ``train_acc`` / ``test_acc`` (accuracy on the whole train / test set, eval
    mode; empty for ``loss="mse"``), ``eval_train_loss`` / ``test_loss`` (whole-set loss).
    ``grad_norms[layer]`` holds the Frobenius norm of that layer's weight gradient for the
    mini-batch of each step in ``grad_steps`` (step 1 = the gradient at initialisation, then
    every ``eval_every`` steps and the last step); filled only with ``record_grad_norms=True``.
    ``diverged_at`` is the step whose loss was NaN/inf; ``steps_to_target`` the first evaluation
    step at which train accuracy reached ``target_accuracy``; ``seconds`` the wall time.
    """

    steps: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)
    lr: list = field(default_factory=list)
    eval_steps: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    test_acc: list = field(default_factory=list)
    eval_train_loss: list = field(default_factory=list)
    test_loss: list = field(default_factory=list)
    grad_steps: list = field(default_factory=list)
    grad_norms: dict = field(default_factory=dict)
    diverged: bool = False
    diverged_at: int | None = None
    steps_to_target: int | None = None
    seconds: float = 0.0


def weight_layers(model: nn.Module) -> dict:
    """Layers whose gradient norms are reported: modules with a ``weight`` parameter of ≥ 2 dimensions
    (Linear, Conv, ...; not the 1-D γ of norm layers), keyed by their qualified name (e.g. "linear1")."""
    layers = {}
    for name, module in model.named_modules():
        weight = getattr(module, "weight", None)
        if isinstance(weight, nn.Parameter) and weight.dim() >= 2 and weight.requires_grad:
            layers[name or type(module).__name__] = module
    return layers


def _loss_fn(loss):
    if callable(loss):
        return loss
    check_choice("loss", loss, LOSSES, alternative="a callable(output, target)")
    if loss == "cross_entropy":
        return F.cross_entropy
    return lambda out, target: F.mse_loss(out.reshape(target.shape), target)


def _model_device(model):
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


@torch.no_grad()
def _predict(model, X, batch_size):
    outs = [model(X[i:i + batch_size]) for i in range(0, len(X), batch_size)]
    return torch.cat(outs)


def accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor, *, batch_size: int = 4096) -> float:
    """Fraction of rows of X whose argmax logit equals y, evaluated in eval mode.

    X: (N, ...) inputs, y: (N,) int64 labels, model(X): (N, C) logits. The model's previous
    train/eval mode is restored afterwards. Inputs are moved to the model's device.
    Chapter 1 shows why evaluation must be in eval mode (batch norm's running statistics).
    """
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same length; got {len(X)} and {len(y)}")
    if len(X) == 0:
        raise ValueError("accuracy of an empty set is undefined: X has 0 rows")
    was_training = model.training
    device = _model_device(model)
    model.eval()
    try:
        out = _predict(model, X.to(device), batch_size)
    finally:
        model.train(was_training)
    if out.dim() != 2:
        raise ValueError(f"model output must be logits of shape (N, C); got {tuple(out.shape)}")
    return (out.argmax(dim=1) == y.to(device)).float().mean().item()


def gradient_norms(model: nn.Module, X: torch.Tensor, y: torch.Tensor, *, loss="cross_entropy",
                   train_mode: bool = True) -> dict:
    """Per-layer norms ‖∂L/∂W‖ of the loss on one batch (X: (N, ...), y: (N,)), keyed by layer name.

    Layers are those of ``weight_layers`` (Linear/Conv weights, e.g. "linear1", ..., "linear11").
    The forward pass runs in training mode by default (the gradient training would see, with
    batch statistics in batch norm); the model is left exactly as it was: its mode, its buffers
    (running statistics) and any ``.grad`` already stored. Chapters 2 and 4 use it at initialisation.
    """
    layers = weight_layers(model)
    if not layers:
        raise ValueError("model has no layer with a weight matrix (Linear/Conv) to report")
    device = _model_device(model)
    was_training = model.training
    saved_buffers = {name: b.detach().clone() for name, b in model.named_buffers()}
    try:
        model.train(train_mode)
        with torch.enable_grad():
            out = model(X.to(device))
            value = _loss_fn(loss)(out, y.to(device))
            weights = [m.weight for m in layers.values()]
            grads = torch.autograd.grad(value, weights)
    finally:
        model.train(was_training)
        with torch.no_grad():
            for name, b in model.named_buffers():
                b.copy_(saved_buffers[name])
    return {name: g.norm().item() for name, g in zip(layers, grads)}


def _is_interactive() -> bool:
    if "ipykernel" in sys.modules:
        try:
            from IPython import get_ipython
        except ImportError:  # pragma: no cover
            return False
        return get_ipython() is not None
    return hasattr(sys, "ps1") or sys.stderr.isatty()


def _show_progress(progress) -> bool:
    if progress is None:
        return "DLFA_QUIET" not in os.environ and _is_interactive()
    return check_bool("progress", progress, "or None: only in an interactive session")


def _make_optimizer(optimizer, params, lr, momentum, weight_decay):
    """A torch optimizer by name ("sgd", "adam", "adamw") or from a factory(params, lr=...)."""
    if callable(optimizer):
        return optimizer(params, lr=lr)
    check_choice("optimizer", optimizer, OPTIMIZERS, alternative="a factory(params, lr=...) -> torch.optim.Optimizer")
    if optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


def _make_schedule(schedule, lr, steps, schedule_kwargs):
    """The rate as a function of the 0-based update number: constant ``lr``, a named schedule or the callable."""
    if schedule is None:
        return lambda step: lr
    if isinstance(schedule, str):
        return make_schedule(schedule, lr0=lr, total_steps=steps, **(schedule_kwargs or {}))
    return check_callable("schedule", schedule, "None, a schedule name or a callable step -> lr")


def _check_data(name, pair):
    """``(X, y)``: two tensors with the same number of rows, at least one."""
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise TypeError(f"{name} must be a tuple (X, y) of tensors; got {type(pair).__name__}")
    X, y = check_tensor(f"{name} X", pair[0]), check_tensor(f"{name} y", pair[1])
    if len(X) != len(y) or len(X) == 0:
        raise ValueError(f"{name}: X and y must have the same number of rows, at least one; "
                         f"got {len(X)} and {len(y)}")
    return X, y


def fit(model, train, *, steps, batch_size, lr, test=None, optimizer="sgd", momentum=0.0,
        weight_decay=0.0, schedule=None, eval_every=50, target_accuracy=None, loss="cross_entropy",
        seed=0, device=None, record_grad_norms=False, progress=None, stop_at_target=False,
        schedule_kwargs=None, on_step=None, shuffle=True, eval_train=True) -> History:
    """Train ``model`` in place for ``steps`` mini-batch updates and return its ``History``.

    train, test: ``(X, y)`` tensors, X: (N, ...), y: (N,) int64 classes (or float targets with
    ``loss="mse"``). Mini-batches of ``batch_size`` rows come from a fresh permutation of the
    training set each epoch (an incomplete last batch is dropped), drawn from a
    ``torch.Generator`` seeded with ``seed``; with ``shuffle=False`` they are the rows in order
    (rows 0..batch_size-1, then the next batch_size, ...: a stream of fresh examples, such as
    ``batch_size * steps`` generated sequences, is then seen once, in order). The global torch RNG
    (dropout) is seeded from ``seed`` inside a fork, so the caller's random state is untouched.
    The same seed gives an identical History on the CPU.

    optimizer: "sgd" (with ``momentum``), "adam", "adamw", or a factory called as
    ``optimizer(model.parameters(), lr=lr)`` (e.g. ``torch.optim.RMSprop``).
    schedule: None (constant ``lr``), a callable ``step -> lr`` (step 0-based: step t's update
    uses ``schedule(t)``), or a name from ``helpers.schedules.SCHEDULES`` built with
    ``make_schedule(name, lr0=lr, total_steps=steps, **schedule_kwargs)``; the optimizer is
    driven by ``helpers.schedules.ScheduledOptimizer``.
    device: None means ``helpers.get_device()``; pass "cpu" for bit-exact reproducibility.
    Evaluation (eval mode, whole sets) happens at step 0, every ``eval_every`` steps and at the
    end; ``eval_train=False`` evaluates the test set only (for a large stream of training
    examples), leaving ``train_acc`` and ``eval_train_loss`` empty. ``target_accuracy`` in (0, 1]
    sets ``History.steps_to_target``; with ``stop_at_target=True`` training stops there. A NaN/inf loss stops training with
    ``diverged=True`` (no exception). See the module docstring for ``progress``.

    on_step: None or a callable ``on_step(step, model, loss)``, called after every update
    (``step`` 1-based, ``loss`` the float mini-batch loss of that step), before that step's
    evaluation; e.g. clip or project the weights (inside ``torch.no_grad()``) or record a
    quantity per step. Its return value is ignored.

    Each step, in order::

        loss = loss_fn(model(X_batch), y_batch)       # train mode
        optimizer.zero_grad(); loss.backward()        # (gradient norms recorded here)
        optimizer.step()                              # at the rate schedule(step - 1)
        on_step(step, model, loss.item())
        evaluate() every eval_every steps             # eval mode, then back to train mode
    """
    X_train, y_train = _check_data("train", train)
    if test is not None:
        X_test, y_test = _check_data("test", test)
    check_int("steps", steps, min=1)
    check_int("batch_size", batch_size, min=1)
    if batch_size > len(X_train):
        raise ValueError(f"batch_size must be <= the {len(X_train)} training rows; got {batch_size}")
    check_int("eval_every", eval_every, min=1)
    check_number("lr", lr, min=0, min_open=True)
    check_number("momentum", momentum, min=0)
    check_number("weight_decay", weight_decay, min=0)
    check_int("seed", seed, min=0)
    check_bool("shuffle", shuffle)
    check_bool("eval_train", eval_train)
    loss_fn = _loss_fn(loss)
    classification = loss != "mse"
    if target_accuracy is not None:
        if not classification:
            raise ValueError("target_accuracy needs a classification loss, not loss='mse'")
        if not eval_train:
            raise ValueError("target_accuracy is measured on the training set: it needs eval_train=True")
        check_number("target_accuracy", target_accuracy, min=0, max=1, min_open=True)
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    if on_step is not None:
        check_callable("on_step", on_step, "None or a callable on_step(step, model, loss)")
    show = _show_progress(progress)

    device = torch.device(get_device() if device is None else device)
    model.to(device)
    X_train, y_train = X_train.to(device), y_train.to(device)
    if test is not None:
        X_test, y_test = X_test.to(device), y_test.to(device)
    opt = ScheduledOptimizer(_make_optimizer(optimizer, model.parameters(), lr, momentum, weight_decay),
                             _make_schedule(schedule, lr, steps, schedule_kwargs))
    layers = weight_layers(model) if record_grad_norms else {}
    if record_grad_norms and not layers:
        raise ValueError("record_grad_norms=True but the model has no Linear/Conv weight to report")

    history = History(grad_norms={name: [] for name in layers})
    generator = torch.Generator().manual_seed(seed)
    n = len(X_train)
    batches_per_epoch = n // batch_size
    fork_devices = [device.index or 0] if device.type == "cuda" else []
    start = time.perf_counter()
    bar = None
    if show:
        from tqdm.auto import tqdm
        bar = tqdm(total=steps, leave=False, desc="train")

    def evaluate(step):
        history.eval_steps.append(step)
        model.eval()
        with torch.no_grad():
            if eval_train:
                out = _predict(model, X_train, 4096)
                history.eval_train_loss.append(loss_fn(out, y_train).item())
                if classification:
                    history.train_acc.append((out.argmax(1) == y_train).float().mean().item())
            if test is not None:
                out_t = _predict(model, X_test, 4096)
                history.test_loss.append(loss_fn(out_t, y_test).item())
                if classification:
                    history.test_acc.append((out_t.argmax(1) == y_test).float().mean().item())
        model.train()
        if target_accuracy is not None and history.steps_to_target is None \
                and history.train_acc[-1] >= target_accuracy:
            history.steps_to_target = step
            return stop_at_target
        return False

    try:
        with torch.random.fork_rng(devices=fork_devices):
            torch.manual_seed(seed)
            model.train()
            stop = evaluate(0)
            perm = None
            for step in range(1, steps + 1):
                if stop:
                    break
                position = (step - 1) % batches_per_epoch
                if position == 0:
                    perm = (torch.randperm(n, generator=generator) if shuffle else torch.arange(n)).to(device)
                idx = perm[position * batch_size:(position + 1) * batch_size]
                value = loss_fn(model(X_train[idx]), y_train[idx])
                loss_value = value.item()
                history.steps.append(step)
                history.train_loss.append(loss_value)
                history.lr.append(opt.lr)
                if not math.isfinite(loss_value):
                    history.diverged, history.diverged_at = True, step
                    break
                opt.zero_grad(set_to_none=True)
                value.backward()
                if layers and (step == 1 or step % eval_every == 0 or step == steps):
                    history.grad_steps.append(step)
                    for name, layer in layers.items():
                        g = layer.weight.grad
                        history.grad_norms[name].append(0.0 if g is None else g.norm().item())
                opt.step()
                if on_step is not None:
                    on_step(step, model, loss_value)
                if bar is not None:
                    bar.update(1)
                if step % eval_every == 0 or step == steps:
                    stop = evaluate(step)
    finally:
        if bar is not None:
            bar.close()
    history.seconds = time.perf_counter() - start
    return history
