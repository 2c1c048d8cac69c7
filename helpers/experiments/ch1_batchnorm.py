"""Chapter 1 («نرمال‌سازی دسته‌ای»): the experiments behind its figures and claims.

Each experiment trains or probes small multilayer perceptrons (``helpers.models.make_mlp``,
built by ``helpers.experiments.common.seeded_mlp``) on scikit-learn's bundled 8×8 digits
(``helpers.data.load_digits``: 64 features, ten classes) with the one training loop
(``helpers.train.fit``), and returns a plain dict of numbers and lists that the chapter glues
into its prose and the claims registry reruns on other seeds.

The book's settings of every experiment are in ``SETTINGS`` (and nowhere else): the chapter,
``benchmarks/claims.py`` and the tests run an experiment with ``run(name, seed=..., ...)``
(``helpers.experiments.settings``); ``TINY`` shrinks each one to about a second for the tests;
``GLUE_PREFIX`` names the glue keys of each experiment's numbers in the chapter.

Results are deterministic for a given ``seed`` on the CPU. Only ``step_time`` measures wall
time, which varies from run to run by nature.
"""
import copy
import math
import time
from collections import OrderedDict

import torch
import torch.nn.functional as F

from helpers.checks import check_int, check_number
from helpers.data import load_digits
from helpers.experiments.common import NUM_CLASSES, digits_or, finite_or_none, seeded_mlp
from helpers.experiments.settings import book_runner
from helpers.models import make_mlp
from helpers.norm import BatchNorm, batchnorm_forward
from helpers.seeding import set_seed
from helpers.stacked import fit_stacked
from helpers.train import accuracy, fit

__all__ = [
    "SETTINGS",
    "TINY",
    "GLUE_PREFIX",
    "TRAINS_ACC",
    "run",
    "bn_demo",
    "init_primer",
    "standardize_demo",
    "conditioning_demo",
    "steps_to_target",
    "lr_sweep",
    "init_scale_sweep",
    "deep_network",
    "generalization_gap",
    "small_batch",
    "step_time",
    "highest_trainable_lr",
]

# The book's settings: every argument of every experiment the chapter runs, in one place.
SETTINGS = {
    "bn_demo": dict(batch_size=6, num_features=3, steps=5, momentum=0.1),
    "standardize_demo": dict(pixel=None, max_mode_fraction=0.75),
    "conditioning_demo": dict(n=1000, scale=10.0, rho=0.9, tol=1e-6, max_steps=100_000),
    "init_primer": dict(depth=10, hidden=100, activations=("tanh", "relu"), inits=("default", "xavier", "kaiming")),
    "steps_to_target": dict(target=0.95, lr=0.5, hidden=100, depth=3, activation="sigmoid", batch_size=60,
                            max_steps=2000, eval_every=10),
    "lr_sweep": dict(lrs=(0.03, 0.3, 1.0, 3.0, 10.0), steps=300, hidden=100, depth=4, activation="relu",
                     batch_size=60),
    "init_scale_sweep": dict(scales=(0.1, 1.0, 10.0), lr=0.1, steps=300, hidden=100, depth=4, activation="relu",
                             batch_size=60),
    "deep_network": dict(depth=10, hidden=100, activation="sigmoid", lr=0.5, steps=400, batch_size=60,
                         eval_every=20),
    "generalization_gap": dict(lr=0.1, steps=600, hidden=100, depth=3, activation="relu", batch_size=32,
                               test_time_stats=True),
    "small_batch": dict(batch_sizes=(2, 4, 32), norms=("none", "batch", "layer", "group", "batch_renorm"),
                        epochs=1, base_lr=0.4, base_batch=32, hidden=64, depth=2, activation="relu", num_groups=8),
    "step_time": dict(batch_size=256, hidden=256, depth=3, steps=15, warmup=10, repeats=5,
                      norms=("none", "batch", "batch_after", "torch_batch")),
}

# The same experiments at a scale that runs in about a second (the unit tests: ``run(name, tiny=True)``).
TINY = {
    "bn_demo": dict(batch_size=5, steps=4),
    "standardize_demo": {},
    "conditioning_demo": dict(n=400),
    "init_primer": dict(depth=6, hidden=32),
    "steps_to_target": dict(target=0.5, hidden=16, batch_size=20, max_steps=60),
    "lr_sweep": dict(lrs=(0.1, 1e4), steps=15, hidden=16, depth=2, batch_size=20),
    "init_scale_sweep": dict(scales=(0.1, 1.0), steps=10, hidden=16, depth=2, batch_size=20),
    "deep_network": dict(depth=4, hidden=16, steps=10, eval_every=5, batch_size=20),
    "generalization_gap": dict(steps=20, hidden=16, depth=2, batch_size=20),
    "small_batch": dict(batch_sizes=(4, 20), hidden=16, depth=2, num_groups=4),
    "step_time": dict(batch_size=16, hidden=16, depth=2, steps=2, warmup=1, repeats=1),
}

# The chapter glues each experiment's numbers under ``<prefix>_<key>_<subkey>`` (helpers.notebook.glue_result).
GLUE_PREFIX = {
    "bn_demo": "ch1_demo",
    "standardize_demo": "ch1_std",
    "conditioning_demo": "ch1_cond",
    "init_primer": "ch1_primer",
    "steps_to_target": "ch1_st",
    "lr_sweep": "ch1_lr",
    "init_scale_sweep": "ch1_init",
    "deep_network": "ch1_deep",
    "generalization_gap": "ch1_gap",
    "small_batch": "ch1_sb",
    "step_time": "ch1_time",
}

TRAINS_ACC = 0.9  # "it trains": test accuracy of at least 90 % (highest_trainable_lr)

run = book_runner(__name__)


def bn_demo(*, seed, batch_size, num_features, steps, momentum, device=None):
    """What ``batchnorm_forward`` computes in training and in evaluation mode.

    A batch x: (batch_size, num_features) whose features have different means and
    scales goes through ``steps`` training-mode calls (each updates the running
    statistics in place), then one evaluation-mode call. Returns the batch statistics
    (mean, biased and unbiased variance), the running statistics after each step, the
    per-feature mean and std of the training output (≈ β and |γ|), and how far the
    evaluation output is from the training output for the same batch; also how much one
    sample's training-mode output changes when its batch-mates change.
    """
    check_int("batch_size", batch_size, min=2)  # a variance needs two values
    device = torch.device("cpu") if device is None else torch.device(device)
    gen = set_seed(seed)
    scale = torch.linspace(0.5, 3.0, num_features)
    shift = torch.linspace(-2.0, 4.0, num_features)
    x = (torch.randn(batch_size, num_features, generator=gen) * scale + shift).to(device)
    other = (torch.randn(batch_size, num_features, generator=gen) * scale + shift).to(device)
    gamma = (1.0 + 0.5 * torch.randn(num_features, generator=gen)).to(device)
    beta = (0.5 * torch.randn(num_features, generator=gen)).to(device)
    running_mean = torch.zeros(num_features, device=device)
    running_var = torch.ones(num_features, device=device)

    history_mean, history_var = [], []
    for _ in range(steps):
        out_train, _ = batchnorm_forward(x, gamma, beta, running_mean, running_var,
                                         training=True, momentum=momentum)
        history_mean.append(running_mean.tolist())
        history_var.append(running_var.tolist())
    out_eval, _ = batchnorm_forward(x, gamma, beta, running_mean, running_var,
                                    training=False, momentum=momentum)
    # the same first sample, in a batch with different batch-mates (copies of the stats so
    # the demo's running statistics are not touched)
    mixed = torch.cat([x[:1], other[1:]])
    out_mixed, _ = batchnorm_forward(mixed, gamma, beta, running_mean.clone(), running_var.clone(),
                                     training=True, momentum=momentum)
    return {
        "x": x.tolist(),
        "gamma": gamma.tolist(),
        "beta": beta.tolist(),
        "momentum": momentum,
        "batch_size": batch_size,
        "steps": steps,
        "batch_mean": x.mean(0).tolist(),
        "batch_var_biased": x.var(0, unbiased=False).tolist(),
        "batch_var_unbiased": x.var(0, unbiased=True).tolist(),
        "running_mean": history_mean,
        "running_var": history_var,
        "train_out_mean": out_train.mean(0).tolist(),
        "train_out_std": out_train.std(0, unbiased=False).tolist(),
        "out_train": out_train.tolist(),
        "out_eval": out_eval.tolist(),
        "max_train_eval_diff": (out_train - out_eval).abs().max().item(),
        "same_sample_diff": (out_train[0] - out_mixed[0]).abs().max().item(),
    }


def init_primer(*, seed, depth, hidden, activations, inits, data=None):
    """How the initialisation sets the size of the signal through ``depth`` layers (no training).

    The training images go through freshly initialised MLPs (no normalisation) of ``depth``
    hidden layers; for each hidden layer the "signal" is the standard deviation of its
    pre-activations ACROSS THE SAMPLES (root-mean-square over the units): how differently the
    layer responds to different images. A constant response (std 0) carries no information
    about the input. Returns ``{"layers": [1..depth], act: {init: [std per layer]}, "ratio":
    {"act_init": std at layer depth / std at layer 1}}``.
    """
    check_int("depth", depth, min=2)  # a first and a last layer to compare
    data = digits_or(data, seed)
    out = {"layers": list(range(1, depth + 1)), "activations": list(activations), "inits": list(inits),
           "config": {"depth": depth, "hidden": hidden, "n_samples": len(data.X_train)}, "ratio": {}}
    for act in activations:
        out[act] = {}
        for init in inits:
            model = seeded_mlp(data, seed=seed, hidden=hidden, depth=depth, activation=act, init=init).eval()
            stds, x = [], data.X_train
            with torch.no_grad():
                for name, module in model.named_children():
                    x = module(x)
                    if name.startswith("linear") and name != f"linear{depth + 1}":
                        stds.append(x.std(0).pow(2).mean().sqrt().item())
            out[act][init] = stds
            out["ratio"][f"{act}_{init}"] = stds[-1] / stds[0]
    return out


def _skewness(x):
    x = x.double()
    centred = x - x.mean()
    return (centred.pow(3).mean() / centred.pow(2).mean().pow(1.5)).item()


def standardize_demo(*, seed, pixel, max_mode_fraction):
    """Standardising a feature (mean 0, variance 1) moves and rescales it; it keeps its shape.

    Takes one pixel of the raw 8×8 digits (values 0..16, divided by 16) over the training
    images of ``load_digits(seed=seed)``; with ``pixel=None`` (the book's) the most skewed pixel among those that
    are not nearly constant (at most ``max_mode_fraction`` of the images share its most common
    value). Returns the raw and standardised values, their mean, std and skewness (a
    shape measure that an affine map with positive scale leaves unchanged), the fraction of
    images at the most common value before and after, and what a uniform distribution with
    variance 1 would look like (range ±√3, skewness 0).
    """
    data = load_digits(seed=seed, standardize=False)
    X = data.X_train.double()
    std = X.std(0, unbiased=False)
    if pixel is None:
        usable = [j for j in range(X.shape[1]) if std[j] > 0
                  and (X[:, j] == X[:, j].mode().values).double().mean() <= max_mode_fraction]
        if not usable:
            raise ValueError(f"no pixel has at most {max_mode_fraction} of the images at one value")
        pixel = max(usable, key=lambda j: abs(_skewness(X[:, j])))
    check_int("pixel", pixel, min=0, max=X.shape[1] - 1)
    if std[pixel] == 0:
        raise ValueError(f"pixel must be a pixel that varies over the training images; got {pixel}, a constant one")
    raw = X[:, pixel]
    z = (raw - raw.mean()) / raw.std(unbiased=False)
    mode_raw = raw.mode().values.item()
    return {
        "pixel": pixel, "n": len(raw),
        "raw": raw.tolist(), "standardized": z.tolist(),
        "raw_mean": raw.mean().item(), "raw_std": raw.std(unbiased=False).item(), "raw_skew": _skewness(raw),
        "z_mean": z.mean().item(), "z_std": z.std(unbiased=False).item(), "z_skew": _skewness(z),
        "z_min": z.min().item(), "z_max": z.max().item(),
        "mode_fraction_raw": (raw == mode_raw).double().mean().item(),
        "mode_fraction_z": (z == z[raw == mode_raw][0]).double().mean().item(),
        "uniform_half_width": math.sqrt(3.0),
    }


def _gd_steps(H, b, lr, tol, max_steps):
    """Gradient descent on 0.5 w'Hw - b'w from w = 0 until the loss gap is below tol × the initial gap.

    The gap is 0.5 e'He with e = w - w*, and one step maps e to (I - lr H) e; plain floats, as
    the problem is 2×2 and a loop of tensor calls would cost more than the arithmetic.
    """
    (h11, h12), (_, h22) = H.tolist()
    e1, e2 = (-torch.linalg.solve(H, b)).tolist()
    gap = lambda a, c: 0.5 * (h11 * a * a + 2 * h12 * a * c + h22 * c * c)  # noqa: E731
    limit = tol * gap(e1, e2)
    for step in range(1, max_steps + 1):
        e1, e2 = e1 - lr * (h11 * e1 + h12 * e2), e2 - lr * (h12 * e1 + h22 * e2)
        if gap(e1, e2) <= limit:
            return step
    return None


def conditioning_demo(*, seed, n, scale, rho, tol, max_steps):
    """Why standardising the inputs lets one learning rate suit every feature, and where it does not.

    Linear regression (squared error) on two features, with gradient descent at the rate
    1/λ_max (the largest curvature sets the largest stable rate, 2/λ_max). Four inputs:
    features of scales 1 and ``scale``, uncorrelated or with correlation ``rho``, raw or
    standardised (each feature to mean 0, variance 1: what batch norm does per feature). For
    each: the Hessian's eigenvalues, its condition number κ = λ_max / λ_min, and the steps to
    bring the loss gap below ``tol`` of the start (None if more than ``max_steps``); GD needs
    about κ·ln(1/tol) steps.
    """
    check_number("scale", scale, min=0, min_open=True)
    check_number("rho", rho, min=-1, max=1, min_open=True, max_open=True)
    gen = set_seed(seed)
    z = torch.randn(n, 2, generator=gen, dtype=torch.float64)
    w_true = torch.tensor([1.0, -1.0], dtype=torch.float64)
    out = {"config": {"n": n, "scale": scale, "rho": rho, "tol": tol, "max_steps": max_steps}}
    for corr_name, r in (("uncorrelated", 0.0), ("correlated", rho)):
        base = torch.stack([z[:, 0], r * z[:, 0] + math.sqrt(1 - r * r) * z[:, 1]], 1)
        raw = base * torch.tensor([1.0, scale], dtype=torch.float64)
        y = raw @ w_true + 0.1 * torch.randn(n, generator=gen, dtype=torch.float64)
        for std_name, X in (("raw", raw), ("standardized", (raw - raw.mean(0)) / raw.std(0, unbiased=False))):
            Xc, yc = X - X.mean(0), y - y.mean()
            H, b = Xc.T @ Xc / n, Xc.T @ yc / n
            eig = torch.linalg.eigvalsh(H)
            lam_min, lam_max = eig[0].item(), eig[-1].item()
            out[f"{corr_name}_{std_name}"] = {
                "eigenvalues": [lam_min, lam_max], "kappa": lam_max / lam_min,
                "sample_corr": torch.corrcoef(X.T)[0, 1].item(),
                "steps": _gd_steps(H, b, 1.0 / lam_max, tol, max_steps)}
    return out


def steps_to_target(*, seed, target, lr, hidden, depth, activation, batch_size, max_steps, eval_every,
                    data=None, device=None):
    """Optimizer steps until TRAIN accuracy reaches ``target``, with and without BN.

    The same network, images (N, 64) -> ``depth`` hidden layers of ``hidden`` units (sigmoid in
    the book, as in Ioffe & Szegedy's MNIST experiment) -> logits (N, 10), without and with a
    BatchNorm before each activation; the same initial weights, learning rate and mini-batches
    of ``batch_size``; TRAIN accuracy measured every ``eval_every`` steps, training stops at the
    target. Returns, per variant ("none", "batch"), the steps (None if not reached in
    ``max_steps``) and the train-accuracy curve, plus ``ratio`` = steps without / with BN
    (a lower bound, using ``max_steps``, if the plain net never got there).
    """
    data = digits_or(data, seed)
    out = {"config": {"target": target, "lr": lr, "hidden": hidden, "depth": depth,
                      "batch_size": batch_size, "max_steps": max_steps, "activation": activation}}
    for norm in ("none", "batch"):
        model = seeded_mlp(data, seed=seed, hidden=hidden, depth=depth, activation=activation, norm=norm)
        h = fit(model, (data.X_train, data.y_train), steps=max_steps, batch_size=batch_size, lr=lr,
                eval_every=eval_every, target_accuracy=target, stop_at_target=True, seed=seed,
                device=device, progress=False)
        out[norm] = {"steps": h.steps_to_target, "eval_steps": list(h.eval_steps),
                     "train_acc": list(h.train_acc), "diverged": h.diverged}
    with_bn, without = out["batch"]["steps"], out["none"]["steps"]
    out["ratio"] = None if with_bn is None else (without if without is not None else max_steps) / with_bn
    out["ratio_is_lower_bound"] = without is None
    return out


def _final(history):
    """The last evaluation of a ``fit`` run: train and test accuracy, or None for both if it diverged."""
    if history.diverged:
        return {"diverged": True, "diverged_at": history.diverged_at, "train_acc": None, "test_acc": None}
    return {"diverged": False, "diverged_at": None,
            "train_acc": finite_or_none(history.train_acc[-1]), "test_acc": finite_or_none(history.test_acc[-1])}


def _fit_together(models, data, *, lrs, steps, batch_size, seed, device):
    """``fit`` of each model on ``data`` at its rate (same mini-batches, evaluated once at the end), all at
    once with ``helpers.stacked.fit_stacked`` (the same numbers, bit for bit); returns their Histories."""
    n = len(models)
    return fit_stacked(models, [(data.X_train, data.y_train)] * n, test=[(data.X_test, data.y_test)] * n,
                       steps=steps, batch_size=batch_size, lr=list(lrs), seed=seed, eval_every=steps, device=device)


def lr_sweep(*, seed, lrs, steps, hidden, depth, activation, batch_size, data=None, device=None):
    """Test accuracy after ``steps`` SGD steps for each learning rate, with and without BN.

    The MLP (N, 64) -> ``depth`` hidden layers of ``hidden`` units -> (N, 10), the same initial
    weights and mini-batches for every rate. A run whose loss becomes NaN/inf is recorded as
    diverged (accuracy None), not raised.
    Returns ``{"lrs": [...], norm: [{"diverged", "diverged_at", "train_acc", "test_acc"}, ...]}``.
    """
    data = digits_or(data, seed)
    out = {"lrs": list(lrs), "config": {"steps": steps, "hidden": hidden, "depth": depth,
                                        "batch_size": batch_size, "activation": activation}}
    for norm in ("none", "batch"):  # every rate's network trains beside the others (fit_stacked: fit's numbers)
        models = [seeded_mlp(data, seed=seed, hidden=hidden, depth=depth, activation=activation, norm=norm)
                  for _ in lrs]
        out[norm] = [_final(h) for h in _fit_together(models, data, lrs=lrs, steps=steps, batch_size=batch_size,
                                                      seed=seed, device=device)]
    return out


def highest_trainable_lr(sweep, norm, *, threshold=0.9):
    """The largest learning rate of an ``lr_sweep`` result whose test accuracy is >= threshold (or None)."""
    good = [lr for lr, r in zip(sweep["lrs"], sweep[norm]) if r["test_acc"] is not None and r["test_acc"] >= threshold]
    return max(good) if good else None


def init_scale_sweep(*, seed, scales, lr, steps, hidden, depth, activation, batch_size, data=None, device=None):
    """Test accuracy after ``steps`` steps when the hidden layers' initial weights are multiplied by each scale.

    The MLP (N, 64) -> ``depth`` hidden layers of ``hidden`` units -> (N, 10) starts from PyTorch's
    default weights times each of ``scales`` (``make_mlp(init_scale=...)``), without and with BN.
    Returns ``{"scales": [...], norm: [{"diverged", "diverged_at", "train_acc", "test_acc"}, ...]}``.
    """
    data = digits_or(data, seed)
    out = {"scales": list(scales), "config": {"lr": lr, "steps": steps, "hidden": hidden, "depth": depth,
                                              "batch_size": batch_size, "activation": activation}}
    for norm in ("none", "batch"):  # every scale's network trains beside the others (fit_stacked: fit's numbers)
        models = [seeded_mlp(data, seed=seed, hidden=hidden, depth=depth, activation=activation, norm=norm,
                             init_scale=scale) for scale in scales]
        out[norm] = [_final(h) for h in _fit_together(models, data, lrs=[lr] * len(scales), steps=steps,
                                                      batch_size=batch_size, seed=seed, device=device)]
    return out


def deep_network(*, seed, depth, hidden, activation, lr, steps, batch_size, eval_every, data=None, device=None):
    """Train a deep (``depth`` hidden layers) network with and without BN; curves and final accuracies.

    The MLP (N, 64) -> ``depth`` hidden layers of ``hidden`` units -> (N, 10), train accuracy
    every ``eval_every`` steps. Also returns the ratio of the first to the last hidden layer's weight-gradient norm at
    initialisation (step 1), the vanishing-gradient picture behind the result.
    """
    data = digits_or(data, seed)
    out = {"config": {"depth": depth, "hidden": hidden, "activation": activation, "lr": lr,
                      "steps": steps, "batch_size": batch_size}}
    for norm in ("none", "batch"):
        model = seeded_mlp(data, seed=seed, hidden=hidden, depth=depth, activation=activation, norm=norm)
        h = fit(model, (data.X_train, data.y_train), test=(data.X_test, data.y_test), steps=steps,
                batch_size=batch_size, lr=lr, eval_every=eval_every, seed=seed, device=device,
                progress=False, record_grad_norms=True)
        first, last = h.grad_norms["linear1"][0], h.grad_norms[f"linear{depth}"][0]
        out[norm] = {**_final(h), "eval_steps": list(h.eval_steps),
                     "train_acc_curve": list(h.train_acc),
                     "grad_ratio_init": first / last if last > 0 else None}
    return out


def _track_batch_stats(model, *, only_training_steps):
    """Sum each BatchNorm layer's batch mean and unbiased batch variance over the forward passes.

    Returns ``(sums, handles)``: ``sums[i] = [count, sum of means, sum of variances]`` for the
    i-th BatchNorm layer; remove the hooks with ``h.remove()``. With ``only_training_steps`` a
    pass counts only in training mode with gradients on (an optimisation step, not an evaluation).
    """
    layers = [m for m in model.modules() if isinstance(m, BatchNorm)]
    sums = [[0, 0.0, 0.0] for _ in layers]

    def make_hook(acc):
        def hook(module, inputs):
            if only_training_steps and not (module.training and torch.is_grad_enabled()):
                return
            x = inputs[0].detach()
            acc[0] += 1
            acc[1] = acc[1] + x.mean(0)
            acc[2] = acc[2] + x.var(0, unbiased=True)
        return hook

    return sums, [layer.register_forward_pre_hook(make_hook(acc)) for layer, acc in zip(layers, sums)]


def _with_stats(model, stats):
    """A copy of ``model`` whose BatchNorm layers hold the given (mean, var) as running statistics."""
    twin = copy.deepcopy(model)
    for layer, (mean, var) in zip([m for m in twin.modules() if isinstance(m, BatchNorm)], stats):
        layer.running_mean.copy_(mean)
        layer.running_var.copy_(var)
    return twin


def _test_time_statistics(model, data, sums, *, batch_size, seed):
    """Three choices of the statistics a BN model uses at test time, compared.

    - "ema": the running averages kept during training (momentum 0.1, PyTorch's and this course's way);
    - "all_training": the plain average of every training step's batch statistics (a literal
      "mean of the means of training time": early steps, made with other weights, count as much
      as the last ones);
    - "final_weights": Ioffe & Szegedy's Algorithm 2: with the trained weights frozen, the average
      of the batch means and of the unbiased batch variances over one pass of training batches.
    Returns each one's test accuracy and its distance from "final_weights" (per layer, averaged
    over the features: |mean - reference mean| / reference std, and |log(var / reference var)|).
    """
    layers = [m for m in model.modules() if isinstance(m, BatchNorm)]
    twin = copy.deepcopy(model).train()
    final, handles = _track_batch_stats(twin, only_training_steps=False)
    order = torch.randperm(len(data.X_train), generator=torch.Generator().manual_seed(seed))
    device = next(model.parameters()).device
    with torch.no_grad():
        for i in range(0, len(order) - batch_size + 1, batch_size):
            twin(data.X_train[order[i:i + batch_size]].to(device))
    for h in handles:
        h.remove()
    choices = {"ema": [(l.running_mean.clone(), l.running_var.clone()) for l in layers],
               "all_training": [(a[1] / a[0], a[2] / a[0]) for a in sums],
               "final_weights": [(a[1] / a[0], a[2] / a[0]) for a in final]}
    out = {}
    for name, stats in choices.items():
        mean_dist, var_dist = [], []
        for (mean, var), (ref_mean, ref_var) in zip(stats, choices["final_weights"]):
            mean_dist.append(((mean - ref_mean).abs() / ref_var.sqrt()).mean().item())
            var_dist.append((var / ref_var).log().abs().mean().item())
        out[name] = {"test_acc": accuracy(_with_stats(model, stats), data.X_test, data.y_test),
                     "mean_dist": mean_dist, "var_dist": var_dist}
    return out


def generalization_gap(*, seed, lr, steps, hidden, depth, activation, batch_size, test_time_stats, data=None,
                       device=None):
    """Does BN regularise here? Train accuracy, test accuracy and their gap, with and without BN.

    Both networks, (N, 64) -> ``depth`` hidden layers of ``hidden`` units -> (N, 10), are trained
    for the same number of steps at the same learning rate (long enough that both fit the
    training set); a regulariser would show as a smaller gap or a higher test accuracy. The
    chapter reports whatever this measures.

    ``test_time_stats=True`` also records every training step's batch statistics in the BN
    model (read-only hooks: training is unchanged) and compares three choices of test-time
    statistics in ``out["batch"]["test_time"]`` (see ``_test_time_statistics``).
    """
    data = digits_or(data, seed)
    out = {"config": {"lr": lr, "steps": steps, "hidden": hidden, "depth": depth,
                      "batch_size": batch_size, "activation": activation}}
    for norm in ("none", "batch"):
        model = seeded_mlp(data, seed=seed, hidden=hidden, depth=depth, activation=activation, norm=norm)
        track = test_time_stats and norm == "batch"
        if track:
            sums, handles = _track_batch_stats(model, only_training_steps=True)
        h = fit(model, (data.X_train, data.y_train), test=(data.X_test, data.y_test), steps=steps,
                batch_size=batch_size, lr=lr, eval_every=steps, seed=seed, device=device, progress=False)
        r = _final(h)
        r["gap"] = None if r["diverged"] else r["train_acc"] - r["test_acc"]
        r["test_loss"] = None if h.diverged else finite_or_none(h.test_loss[-1])
        r["train_loss"] = None if h.diverged else finite_or_none(h.eval_train_loss[-1])
        if track:
            for handle in handles:
                handle.remove()
            if not h.diverged:
                r["test_time"] = _test_time_statistics(model, data, sums, batch_size=batch_size, seed=seed)
        out[norm] = r
    return out


@torch.no_grad()
def _accuracy_in_train_mode(model, X, y, batch_size):
    """The classic bug: test accuracy computed in TRAINING mode, in mini-batches of ``batch_size``.

    Each test batch is normalised with its own statistics (and the running statistics get
    overwritten, so call this on a model you no longer need). A last incomplete batch is dropped.
    """
    device = next(model.parameters()).device
    was_training = model.training
    model.train()
    correct = total = 0
    for i in range(0, len(X) - batch_size + 1, batch_size):
        xb, yb = X[i:i + batch_size].to(device), y[i:i + batch_size].to(device)
        correct += (model(xb).argmax(1) == yb).sum().item()
        total += len(yb)
    model.train(was_training)
    return correct / total


def small_batch(*, seed, batch_sizes, norms, epochs, base_lr, base_batch, hidden, depth, activation, num_groups,
                data=None, device=None):
    """Test accuracy against the mini-batch size for several normalisations, side by side.

    The MLP (N, 64) -> ``depth`` hidden layers of ``hidden`` units -> (N, 10) with each norm of
    ``norms`` before the activations ("group": ``num_groups`` groups). Every run sees the same
    number of ``epochs``; the learning rate follows the linear scaling rule
    ``base_lr * batch_size / base_batch``. Test accuracy is computed properly
    (eval mode). For the norms with running statistics ("batch", "batch_renorm") also the
    test accuracy in TRAINING mode at the same batch size: the classic evaluation bug.
    Returns ``{"batch_sizes": [...], norm: {batch_size: {"test_acc", "test_acc_train_mode"}}}``.
    """
    data = digits_or(data, seed)
    n = len(data.X_train)
    # GroupNorm's default groups (the largest of 32, 16, ... dividing C) would leave 2 features per group
    # at C = 64: as degenerate as batch norm at batch size 2
    groups = {"num_groups": num_groups}
    out = {"batch_sizes": list(batch_sizes), "norms": list(norms),
           "config": {"epochs": epochs, "base_lr": base_lr, "base_batch": base_batch, "hidden": hidden,
                      "depth": depth, "activation": activation, "num_groups": num_groups}}
    for norm in norms:
        out[norm] = {}
        for bs in batch_sizes:
            model = seeded_mlp(data, seed=seed, hidden=hidden, depth=depth, activation=activation, norm=norm,
                               norm_kwargs=groups if norm == "group" else None)
            steps = epochs * (n // bs)
            h = fit(model, (data.X_train, data.y_train), steps=steps, batch_size=bs,
                    lr=base_lr * bs / base_batch, eval_every=steps, seed=seed, device=device, progress=False)
            row = {"steps": steps, "diverged": h.diverged,
                   "test_acc": None if h.diverged else accuracy(model, data.X_test, data.y_test)}
            if norm in ("batch", "batch_renorm") and not h.diverged:
                row["test_acc_train_mode"] = _accuracy_in_train_mode(model, data.X_test, data.y_test, bs)
            out[norm][bs] = row
    if "batch_renorm" in norms:  # the settings the Batch Renorm layers ran with (helpers.norm.BatchRenorm's defaults)
        model = seeded_mlp(data, seed=seed, hidden=hidden, depth=depth, activation=activation, norm="batch_renorm")
        layer = next(m for m in model.modules() if hasattr(m, "r_max"))
        out["config"]["renorm"] = {"r_max": layer.r_max, "d_max": layer.d_max, "momentum": layer.momentum}
    return out


def step_time(*, seed, batch_size, hidden, depth, steps, warmup, repeats, norms, device="cpu"):
    """Wall time of one training step (forward, backward, SGD update), per normalisation, in ms.

    "batch" is the course's ``helpers.norm.BatchNorm`` (hand-written backward) before each ReLU,
    "batch_after" the same layer after each ReLU (``norm_position="after"``: its inputs are
    ReLU outputs, about half of them zeros), "torch_batch" PyTorch's native ``nn.BatchNorm1d``
    placed where make_mlp puts the norm. The fastest of
    ``repeats`` interleaved timings of ``steps`` steps, after ``warmup`` untimed steps (on a
    shared machine the minimum is the least disturbed estimate). This measures this
    machine now (CPU by default, as the chapter discusses CPU cost): it varies between runs.
    """
    device = torch.device(device)
    gen = set_seed(seed)
    X = torch.randn(batch_size, 64, generator=gen).to(device)
    y = torch.randint(0, NUM_CLASSES, (batch_size,), generator=gen).to(device)
    out = {"config": {"batch_size": batch_size, "hidden": hidden, "depth": depth, "steps": steps,
                      "device": device.type}}
    runs = {}
    for norm in norms:
        set_seed(seed)
        if norm == "torch_batch":
            model = make_mlp(64, hidden, depth, NUM_CLASSES, activation="relu", norm=None)
            layers = []
            for name, module in model.named_children():
                layers.append((name, module))
                if name.startswith("linear") and name != f"linear{depth + 1}":
                    layers.append((name.replace("linear", "norm"), torch.nn.BatchNorm1d(hidden)))
            model = torch.nn.Sequential(OrderedDict(layers))
        elif norm == "batch_after":  # the course's BatchNorm after the ReLU: its inputs are about half zeros
            model = make_mlp(64, hidden, depth, NUM_CLASSES, activation="relu", norm="batch", norm_position="after")
        else:
            model = make_mlp(64, hidden, depth, NUM_CLASSES, activation="relu", norm=norm)
        model.to(device).train()
        runs[norm] = (model, torch.optim.SGD(model.parameters(), lr=0.01))

    def run(norm, k):
        model, opt = runs[norm]
        for _ in range(k):
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(X), y).backward()
            opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()

    if "batch_after" in norms:  # how many of the after-ReLU norm layers' inputs are zeros
        zeros = []
        hooks = [m.register_forward_pre_hook(lambda mod, inp: zeros.append((inp[0] == 0).float().mean().item()))
                 for m in runs["batch_after"][0].modules() if isinstance(m, BatchNorm)]
        with torch.no_grad():
            runs["batch_after"][0](X)
        for h in hooks:
            h.remove()
        out["batch_after_zero_fraction"] = sum(zeros) / len(zeros)
    for norm in norms:
        run(norm, warmup)
    times = {norm: [] for norm in norms}
    for _ in range(repeats):  # interleaved, so a burst of load from elsewhere hits every variant alike
        for norm in norms:
            t0 = time.perf_counter()
            run(norm, steps)
            times[norm].append((time.perf_counter() - t0) / steps * 1e3)
    for norm in norms:
        out[norm] = min(times[norm])
    for norm in norms:
        if norm != "none":
            out[f"{norm}_overhead"] = out[norm] / out["none"]
    return out

