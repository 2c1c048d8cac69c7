"""Chapter 5 («معماری ResNet»): the experiments behind its claims, and their settings.

The degradation problem of He et al. 2015 (a deeper *plain* network has a higher TRAINING
error than a shallower one, and its residual twin does not) shown at CPU scale: multilayer
perceptrons built from ``helpers.resnet.MLPBlock`` (the basic block with linear layers in
place of the 3×3 convolutions), trained on MNIST-1D (``helpers.data.make_mnist1d``) with the
one training loop (``helpers.train.fit``). ``helpers.resnet`` holds the blocks and networks;
this module adds the chapter's network (:class:`ResidualMLP`), its analyses and experiments:

- :func:`degradation`: plain vs residual, shallow vs deep, with and without the zero
  initialisation of each block's last BN γ (Goyal et al. 2017), and analyses of the trained
  nets; :func:`degradation_figures` names the numbers the chapter and the claims read;
- :func:`stochastic_depth_and_width`: one small run each of a CIFAR-style ResNet, the same
  with stochastic depth (Huang et al. 2016) and a shallower, wider one (Zagoruyko &
  Komodakis 2016), on the 8×8 digits as 1-channel images;
- :func:`resnet_counts`, :func:`kernel_costs`: parameters and MACs (multiply-accumulates,
  what the paper calls FLOPs) from shapes alone (meta device); :func:`forward_rate`: one
  timed forward pass that turns a MAC *count* into a MAC/s *rate*.

``SETTINGS`` holds the book's settings of each experiment and ``run(name, ...)`` runs it with
them (``helpers.experiments.settings``); ``TINY`` is the unit tests' scale. Results are plain
dicts, deterministic for a given ``seed`` on the CPU except the wall times (keys with
``time``), which vary from run to run.
"""
import math
import time

import torch
import torch.nn as nn

from helpers.checks import check_int
from helpers.data import Split, make_mnist1d
from helpers.experiments.common import NUM_CLASSES, digits_or
from helpers.experiments.settings import book_runner
from helpers.resnet import (IMAGENET_LAYOUTS, MLPBlock, compare_blocks, count_macs, count_parameters, macs_by_layer,
                            resnet_cifar, resnet_imagenet)
from helpers.seeding import set_seed
from helpers.train import accuracy, fit

VARIANTS = ("plain", "residual", "residual_zero_init")
NET = {"plain": "plain", "residual": "res", "residual_zero_init": "res0"}  # run names: plain30, res30, res030

SETTINGS = {
    "degradation": dict(depths=(6, 30), variants=VARIANTS, width=64, steps=600, batch_size=128, lr=0.05,
                        momentum=0.9, weight_decay=1e-4, schedule="cosine", eval_every=50, analyse=True),
    "stochastic_depth_and_width": dict(depth=20, survival_last=0.5, wide_depth=8, wide_width=2, steps=100,
                                       batch_size=64, lr=0.05, momentum=0.9, weight_decay=1e-4,
                                       schedule="cosine"),
    "resnet_counts": dict(depths=tuple(IMAGENET_LAYOUTS), image_size=224, cifar_depth=20,
                          cifar_widths=(1, 2, 4, 8)),
    "kernel_costs": dict(channels=64, size=56),
    "forward_rate": dict(depth=34, batch_size=1, image_size=224, repeats=3),
}
TINY = {
    "degradation": dict(depths=(4, 6), width=8, steps=4, batch_size=32, eval_every=2),
    "stochastic_depth_and_width": dict(depth=8, steps=2, batch_size=16),
    "resnet_counts": dict(depths=(18, 34), cifar_widths=(1, 2)),
    "kernel_costs": dict(channels=8, size=10),
    "forward_rate": dict(depth=18, image_size=32, repeats=1),
}
GLUE_PREFIX = {"degradation": "ch5_deg", "stochastic_depth_and_width": "ch5_sd", "resnet_counts": "ch5_count",
               "kernel_costs": "ch5_k", "forward_rate": "ch5_time_fwd"}
run = book_runner(__name__)

__all__ = ["VARIANTS", "NET", "SETTINGS", "TINY", "GLUE_PREFIX", "run", "ResidualMLP", "blocks_for_depth", "make_net",
           "degradation", "degradation_figures", "block_responses", "lesion", "digits_as_images",
           "stochastic_depth_and_width", "resnet_counts", "kernel_costs", "forward_rate"]


# --------------------------------------------------------------------------- the network
class ResidualMLP(nn.Module):
    """stem -> ``num_blocks`` × ``helpers.resnet.MLPBlock`` -> linear classifier; plain or residual.

    stem: Linear(in_features, width, no bias) + BN + ReLU; then the blocks; then ``fc``:
    Linear(width, num_classes). Layers with weights: 2·num_blocks + 2 (the chapter's "depth":
    2 blocks = 6 layers, 14 blocks = 30 layers). x: (N, in_features) -> logits (N, num_classes).

    ``skipped``: indices of blocks the forward pass leaves out (x passes on unchanged). Empty by
    default; :func:`lesion` sets it to remove one block at test time.
    """

    def __init__(self, in_features: int, width: int, num_blocks: int, num_classes: int = NUM_CLASSES, *,
                 residual: bool = True, zero_init_last_bn: bool = False):
        super().__init__()
        check_int("num_blocks", num_blocks, min=0)
        self.residual = bool(residual)
        self.stem = nn.Sequential(nn.Linear(in_features, width, bias=False), nn.BatchNorm1d(width), nn.ReLU())
        nn.init.kaiming_normal_(self.stem[0].weight, nonlinearity="relu")
        self.blocks = nn.Sequential(*[MLPBlock(width, residual, zero_init_last_bn) for _ in range(num_blocks)])
        self.fc = nn.Linear(width, num_classes)
        self.skipped = set()

    @property
    def depth(self) -> int:
        """Layers with weights: the stem, two per block, the classifier."""
        return 2 * len(self.blocks) + 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for i, block in enumerate(self.blocks):
            if i not in self.skipped:
                x = block(x)
        return self.fc(x)


def blocks_for_depth(depth: int) -> int:
    """Number of two-layer blocks of a :class:`ResidualMLP` with ``depth`` weight layers (even, >= 2)."""
    if check_int("depth", depth, min=2) % 2:
        raise ValueError(f"depth must be even (stem + 2 per block + classifier); got {depth}")
    return (depth - 2) // 2


def make_net(variant: str, in_features: int, width: int, depth: int, seed: int) -> ResidualMLP:
    """The chapter's network: a :class:`ResidualMLP` with ``depth`` weight layers, plain ("plain"),
    residual ("residual") or residual with γ = 0 in each block's last BN ("residual_zero_init").
    Seeded here, so the same seed gives plain and residual twins the same initial weights."""
    set_seed(seed)
    return ResidualMLP(in_features, width, blocks_for_depth(depth), NUM_CLASSES,
                       residual=variant != "plain", zero_init_last_bn=variant == "residual_zero_init")


# --------------------------------------------------------------------------- analyses of a trained net
@torch.no_grad()
def block_responses(model: ResidualMLP, X: torch.Tensor) -> list:
    """For each block, RMS of its branch output F(x) divided by the RMS of its input x (eval mode).

    A value near 0 means the block is close to the identity (it changes its input little);
    He et al. 2015, Fig. 7, plot the standard deviation of F's output per layer for the same
    purpose. X: (N, in_features) on any device; the model's mode is restored.
    """
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        x = model.stem(X.to(device))
        ratios = []
        for block in model.blocks:
            f = block.branch(x)
            ratios.append((f.pow(2).mean().sqrt() / x.pow(2).mean().sqrt().clamp_min(1e-12)).item())
            x = block(x)
    finally:
        model.train(was_training)
    return ratios


def lesion(model: ResidualMLP, X: torch.Tensor, y: torch.Tensor) -> list:
    """Error on (X, y) when block i alone is removed at test time, for each i (Veit et al. 2016).

    In a residual net removing a block means dropping its branch F (the shortcut stays); in a
    plain net the block is replaced by the identity. Nothing is retrained. Returns a list of
    errors (1 − accuracy), one per block; ``model.skipped`` is restored afterwards.
    """
    saved = set(model.skipped)
    errors = []
    try:
        for i in range(len(model.blocks)):
            model.skipped = saved | {i}
            errors.append(1.0 - accuracy(model, X, y))
    finally:
        model.skipped = saved
    return errors


# --------------------------------------------------------------------------- degradation
def degradation(*, seed=0, depths, variants, width, steps, batch_size, lr, momentum, weight_decay, schedule,
                eval_every, analyse, data=None, device=None):
    """Train plain and residual MLPs of each depth with one recipe; the TRAINING error is the figure of merit.

    For each variant and depth a :class:`ResidualMLP` of ``width`` units, ``depth`` weight layers
    (6 = 2 blocks, 30 = 14 blocks), is trained on ``data`` (default MNIST-1D: x (N, 40) signals,
    y (N,) digits) by ``helpers.train.fit``: SGD with momentum and weight decay (as in the paper),
    the ``schedule`` of the learning rate ``lr``, ``steps`` mini-batches of ``batch_size``, train
    and test errors every ``eval_every`` steps. Every network gets the same data and mini-batches;
    a plain net and its residual twin start from the same weights and have the same parameters.
    ``variants``: "plain", "residual" (γ = 1 everywhere), "residual_zero_init" (γ = 0 in each
    block's last BN).

    Returns ``{"config", "depths", "variants", "n_train", "n_test", "runs": {variant: {depth: run}}}``;
    a run holds ``layers, blocks, params, eval_steps, train_err, test_err`` (curves),
    ``final_train_err, final_test_err, final_train_loss`` (None if it diverged), ``diverged``,
    ``time_s`` (wall seconds) and the gradient norms of the first (stem) and last (classifier)
    layers at the first step (``grad_first_init, grad_last_init, grad_ratio_init``). With
    ``analyse``, for a run that did not diverge: ``responses`` (residual variants,
    :func:`block_responses` on the training set) and ``lesion_train_err`` (:func:`lesion`).
    """
    data = make_mnist1d() if data is None else data
    depths, variants = list(depths), list(variants)
    for d in depths:
        blocks_for_depth(d)
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown variant(s) {unknown}; expected some of {', '.join(VARIANTS)}")
    out = {"config": {"width": width, "steps": steps, "batch_size": batch_size, "lr": lr, "momentum": momentum,
                      "weight_decay": weight_decay, "schedule": schedule, "seed": seed},
           "depths": depths, "variants": variants,
           "n_train": len(data.y_train), "n_test": len(data.y_test), "runs": {}}
    for variant in variants:
        out["runs"][variant] = {}
        for depth in depths:
            model = make_net(variant, data.X_train.shape[1], width, depth, seed)
            h = fit(model, (data.X_train, data.y_train), test=(data.X_test, data.y_test), steps=steps,
                    batch_size=batch_size, lr=lr, momentum=momentum, weight_decay=weight_decay, schedule=schedule,
                    eval_every=eval_every, seed=seed, device=device, progress=False, record_grad_norms=True)
            first, last = h.grad_norms["stem.0"][0], h.grad_norms["fc"][0]
            train_err, test_err = [1.0 - a for a in h.train_acc], [1.0 - a for a in h.test_acc]
            run = {"layers": model.depth, "blocks": len(model.blocks), "params": count_parameters(model),
                   "eval_steps": list(h.eval_steps), "train_err": train_err, "test_err": test_err,
                   "final_train_err": None if h.diverged else train_err[-1],
                   "final_test_err": None if h.diverged else test_err[-1],
                   "final_train_loss": None if h.diverged else h.eval_train_loss[-1],
                   "diverged": h.diverged, "time_s": h.seconds,
                   "grad_first_init": first, "grad_last_init": last,
                   "grad_ratio_init": first / last if last > 0 else None}
            if analyse and not h.diverged:  # model.eval() inside, the training mode restored
                if model.residual:
                    run["responses"] = block_responses(model, data.X_train)
                run["lesion_train_err"] = lesion(model, data.X_train, data.y_train)
            out["runs"][variant][depth] = run
    return out


def _summary(xs: list) -> dict:
    """first, last, min, max, mean, median (the upper middle value) of ``xs``; rest_min, rest_max over ``xs[1:]``."""
    out = {"first": xs[0], "last": xs[-1], "min": min(xs), "max": max(xs), "mean": sum(xs) / len(xs),
           "median": sorted(xs)[len(xs) // 2]}
    if len(xs) > 1:
        out.update(rest_min=min(xs[1:]), rest_max=max(xs[1:]))
    return out


def degradation_figures(result: dict) -> dict:
    """The numbers chapter 5 quotes from a :func:`degradation` result, flat: ``{name: number or None}``.

    Each run is named ``<net><depth>`` (net: ``plain``, ``res``, ``res0`` for γ = 0; ``res030`` is
    the residual net with γ = 0 and 30 layers); its figures are ``_train_err, _test_err`` (final),
    ``_train_err_init`` (before training), ``_grad_ratio`` (first / last layer gradient norm at the
    first step), ``_params, _blocks, _time_s``, and with the analyses ``_resp_<stat>``
    (:func:`block_responses`) and ``_lesion_<stat>`` (:func:`lesion`), ``<stat>`` one of
    :func:`_summary`'s (``rest``: every block but the first). The chapter glues them and the claims
    registry reads them, so each is computed in one place.
    """
    figures = {}
    for variant, by_depth in result["runs"].items():
        for depth, r in by_depth.items():
            name = f"{NET[variant]}{depth}"
            figures.update({f"{name}_train_err": r["final_train_err"], f"{name}_test_err": r["final_test_err"],
                            f"{name}_train_err_init": r["train_err"][0], f"{name}_grad_ratio": r["grad_ratio_init"],
                            f"{name}_params": r["params"], f"{name}_blocks": r["blocks"],
                            f"{name}_time_s": r["time_s"]})
            for key, xs in (("resp", r.get("responses")), ("lesion", r.get("lesion_train_err"))):
                if xs:
                    figures.update({f"{name}_{key}_{stat}": v for stat, v in _summary(xs).items()})
    return figures


# --------------------------------------------------------------------------- stochastic depth, wide ResNets
def digits_as_images(data: Split | None = None, *, seed=0) -> Split:
    """The 8×8 digits (``helpers.data.load_digits``) as 1-channel images: x (N, 64) -> (N, 1, 8, 8)."""
    data = digits_or(data, seed)
    side = int(math.isqrt(data.X_train.shape[1]))
    if side * side != data.X_train.shape[1]:
        raise ValueError(f"expected square images flattened to side² features, got {data.X_train.shape[1]}")
    return Split(data.X_train.reshape(-1, 1, side, side), data.y_train,
                 data.X_test.reshape(-1, 1, side, side), data.y_test)


def stochastic_depth_and_width(*, seed=0, depth, survival_last, wide_depth, wide_width, steps, batch_size, lr,
                               momentum, weight_decay, schedule, data=None, device=None):
    """One small run each: ResNet-``depth``, the same with stochastic depth, and a wider, shallower ResNet.

    All three are ``helpers.resnet.resnet_cifar`` nets (1 input channel) trained by
    ``helpers.train.fit`` with one recipe on the 8×8 digits as images (:func:`digits_as_images`,
    x (N, 1, 8, 8)). Stochastic depth decays linearly down to ``survival_last`` for the last
    block (Huang et al. 2016); the wide net is ``resnet_cifar(wide_depth, width=wide_width)``
    (Zagoruyko & Komodakis 2016).

    Returns ``{"config", "runs": {"resnet", "stochastic_depth", "wide"}}``; each run holds
    ``depth, width, blocks, expected_blocks`` (blocks a training step runs on average),
    ``params, macs`` (per image), ``train_acc, test_acc`` (None if it diverged), ``diverged``,
    ``time_s`` and ``time_ms_per_step`` (wall time of the whole ``fit``, evaluations included).
    """
    data = digits_as_images(data, seed=seed)
    shape = tuple(data.X_train.shape[1:])
    specs = {"resnet": dict(depth=depth, width=1, stochastic_depth=None),
             "stochastic_depth": dict(depth=depth, width=1, stochastic_depth=survival_last),
             "wide": dict(depth=wide_depth, width=wide_width, stochastic_depth=None)}
    out = {"config": {"depth": depth, "survival_last": survival_last, "wide_depth": wide_depth,
                      "wide_width": wide_width, "steps": steps, "batch_size": batch_size, "lr": lr,
                      "momentum": momentum, "weight_decay": weight_decay, "schedule": schedule, "seed": seed,
                      "image_shape": list(shape)},
           "runs": {}}
    for name, spec in specs.items():
        set_seed(seed)
        model = resnet_cifar(spec["depth"], NUM_CLASSES, width=spec["width"],
                             stochastic_depth=spec["stochastic_depth"], in_channels=shape[0])
        macs = count_macs(model, shape)
        h = fit(model, (data.X_train, data.y_train), test=(data.X_test, data.y_test), steps=steps,
                batch_size=batch_size, lr=lr, momentum=momentum, weight_decay=weight_decay, schedule=schedule,
                eval_every=steps, seed=seed, device=device, progress=False)
        out["runs"][name] = {
            "depth": spec["depth"], "width": spec["width"], "blocks": len(model.blocks),
            "expected_blocks": sum(b.survival_prob for b in model.blocks),
            "params": count_parameters(model), "macs": macs,
            "train_acc": None if h.diverged else h.train_acc[-1],
            "test_acc": None if h.diverged else h.test_acc[-1],
            "diverged": h.diverged, "time_s": h.seconds, "time_ms_per_step": h.seconds / steps * 1e3,
        }
    return out


# --------------------------------------------------------------------------- counting
def _stage_of(name: str) -> str:
    if name.startswith("stages."):
        return "stage" + str(int(name.split(".")[1]) + 1)
    return name.split(".")[0]


def resnet_counts(*, depths, image_size, cifar_depth, cifar_widths):
    """Parameters and MACs (one ``image_size``² RGB image) of the ImageNet ResNets, from shapes only.

    Every model is built on the meta device, so nothing is allocated or computed. Returns
    ``{"imagenet": {depth: {"block", "layout", "params", "macs"}}, "plain34": {...},
    "shortcuts34": {"A", "B", "C": {...}}`` (ResNet-34 with the paper's shortcut options: A zero-padding,
    B projections where the shape changes, C projections everywhere), ``"stages34": {"stem",
    "stage1".."stage4", "fc": macs}`` (when 34 is in ``depths``), ``"blocks": compare_blocks(256, 64, 56),
    "cifar_width": {k: {"params", "macs"}}}`` (ResNet-``cifar_depth`` on 32×32×3, widened k times).
    """
    out = {"image_size": image_size, "imagenet": {}, "cifar_depth": cifar_depth, "cifar_width": {}}
    shape = (3, image_size, image_size)
    with torch.device("meta"):
        for depth in depths:
            kind, layout = IMAGENET_LAYOUTS[depth]
            model = resnet_imagenet(depth)
            out["imagenet"][depth] = {"block": kind, "layout": list(layout), "params": count_parameters(model),
                                      "macs": count_macs(model, shape)}
            if depth == 34:
                stages = {}
                for name, macs in macs_by_layer(model, shape).items():
                    stages[_stage_of(name)] = stages.get(_stage_of(name), 0) + macs
                out["stages34"] = stages
        plain = resnet_imagenet(34, residual=False)
        out["plain34"] = {"params": count_parameters(plain), "macs": count_macs(plain, shape)}
        out["shortcuts34"] = {}
        for option, kind in (("A", "pad"), ("B", "auto"), ("C", "projection")):
            model = resnet_imagenet(34, shortcut=kind)
            out["shortcuts34"][option] = {"params": count_parameters(model), "macs": count_macs(model, shape)}
        for k in cifar_widths:
            model = resnet_cifar(cifar_depth, width=k)
            out["cifar_width"][k] = {"params": count_parameters(model), "macs": count_macs(model, (3, 32, 32))}
    out["blocks"] = compare_blocks(256, 64, 56)
    return out


def kernel_costs(*, channels, size):
    """Parameters and MACs of one large kernel vs a stack of 3×3 kernels with the same receptive field.

    ``channels`` in and out, stride 1, "same" padding, no bias, one (channels, size, size) input:
    5×5 vs two 3×3 (receptive field 5), 7×7 vs three 3×3 (receptive field 7), and the widening
    a reader asked about: 3×3 → 5×5 kernels vs 3×3 with twice the channels.
    Returns ``{name: {"params", "macs", "receptive_field"}}``.
    """
    c = channels
    with torch.device("meta"):
        stacks = {
            "5x5": (nn.Conv2d(c, c, 5, padding=2, bias=False), 5),
            "3x3_x2": (nn.Sequential(*[nn.Conv2d(c, c, 3, padding=1, bias=False) for _ in range(2)]), 5),
            "7x7": (nn.Conv2d(c, c, 7, padding=3, bias=False), 7),
            "3x3_x3": (nn.Sequential(*[nn.Conv2d(c, c, 3, padding=1, bias=False) for _ in range(3)]), 7),
            "3x3": (nn.Conv2d(c, c, 3, padding=1, bias=False), 3),
            "3x3_2c": (nn.Conv2d(c, 2 * c, 3, padding=1, bias=False), 3),
        }
    return {name: {"params": count_parameters(m), "macs": count_macs(m, (c, size, size)), "receptive_field": rf}
            for name, (m, rf) in stacks.items()}


@torch.no_grad()
def forward_rate(*, depth, batch_size, image_size, repeats, device="cpu", seed=0):
    """Time one forward pass of ResNet-``depth`` and turn its MAC count into a rate (MAC/s).

    The model has real (random) weights on ``device``, in eval mode; the input is x
    (batch_size, 3, image_size, image_size); one untimed warm-up pass, then the fastest of
    ``repeats`` timed passes. Returns ``{"device", "depth", "batch_size", "macs"`` (for the
    batch), ``"seconds", "rate"`` (MACs per second), ``"images_per_second"}``.
    A wall-clock measurement: it varies with the machine and its load.
    """
    device = torch.device(device)
    set_seed(seed)
    model = resnet_imagenet(depth).to(device).eval()
    x = torch.randn(batch_size, 3, image_size, image_size, device=device)
    macs = count_macs(model, tuple(x.shape))

    def forward():
        model(x)
        if device.type == "cuda":
            torch.cuda.synchronize()

    forward()
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        forward()
        best = min(best, time.perf_counter() - t0)
    return {"device": device.type, "depth": depth, "batch_size": batch_size, "macs": macs, "seconds": best,
            "rate": macs / best, "images_per_second": batch_size / best}
