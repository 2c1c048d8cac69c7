"""Chapter 2 («نرمال‌سازی دسته‌ای، سیگموید یا ReLU؟»): the experiments behind its answers.

Does batch normalization make sigmoid (or tanh) a better choice than ReLU? The experiments train
deep multilayer perceptrons (``helpers.models.make_mlp``, Linear -> [BN] -> activation per hidden
layer) on scikit-learn's bundled 8×8 digits (``helpers.data.load_digits``: X (N, 64), ten classes)
with the one training loop (``helpers.train.fit``, plain SGD) and return plain dicts of numbers:

- ``activation_comparison``: sigmoid, tanh and ReLU with and without BN (plus well-initialised
  baselines without BN): final accuracy and per-layer gradient norms;
- ``bn_position``: BN before vs after the activation, everything else identical, on several seeds;
- ``dead_relu``: the fraction of ReLU units that output 0 for every training image;
- ``sigmoid_bn_outputs``: where σ(BN(x)) lies, at initialisation and after training (the answer in
  the source thread says it is confined to [σ(0), σ(1)] ≈ [0.5, 0.73]);
- ``preactivation_spread``: with BN after the activation, how spread out each activation's input is;
- ``dead_unit_through_bn``: does BN revive a ReLU unit that is dead on every example?

Their settings (the book's scale) are in ``SETTINGS``; the chapter, the claims registry and the tests
run them with ``run(name, ...)`` (``helpers.experiments.settings``). Hidden-layer outputs are measured
in training mode on the whole training set as one batch, on a copy of the model
(``hidden_outputs``): what BN computes during training. Deterministic for a given seed on the CPU.
"""
import copy
import math

import torch

from helpers.checks import check_int
from helpers.data import load_digits
from helpers.experiments.common import digits_or, finite_or_none, seeded_mlp
from helpers.experiments.settings import book_runner
from helpers.stacked import fit_stacked
from helpers.train import fit, gradient_norms

ACTIVATIONS = ("sigmoid", "tanh", "relu")
# Baselines without BN whose initialisation suits the activation (Glorot & Bengio 2010, He et al. 2015).
WELL_INITIALISED = (("tanh", "xavier"), ("relu", "kaiming"))
SIGMOID_0, SIGMOID_1 = 0.5, 1.0 / (1.0 + math.exp(-1.0))  # the answer's claimed range [σ(0), σ(1)]

SETTINGS = {
    "activation_comparison": {"activations": ACTIVATIONS, "baselines": WELL_INITIALISED, "depth": 10, "hidden": 64,
                              "lrs": (0.1, 0.5), "steps": 300, "batch_size": 60, "grad_batch": 500},
    "bn_position": {"seed_offsets": (0, 1, 2), "activations": ACTIVATIONS, "depth": 10, "hidden": 64, "lr": 0.1,
                    "steps": 300, "batch_size": 60},
    "dead_relu": {"variants": (("none", "before"), ("batch", "before"), ("batch", "after")), "init": "kaiming",
                  "depth": 10, "hidden": 64, "lrs": (0.1, 0.4), "steps": 300, "batch_size": 60},
    "sigmoid_bn_outputs": {"depth": 10, "hidden": 64, "lr": 0.5, "steps": 300, "batch_size": 60, "bins": 50},
    "preactivation_spread": {"activation": "tanh", "depth": 10, "hidden": 64},
    "dead_unit_through_bn": {"units": 4, "bias": -1e3},
}
TINY = {  # about a second each, for the unit tests (with the tests' 240-image split)
    "activation_comparison": {"hidden": 16, "steps": 6, "batch_size": 20, "grad_batch": 100},
    "bn_position": {"seed_offsets": (0, 1), "activations": ("sigmoid", "relu"), "hidden": 16, "steps": 5,
                    "batch_size": 20},
    "dead_relu": {"depth": 4, "hidden": 16, "steps": 5, "batch_size": 20},
    "sigmoid_bn_outputs": {"depth": 3, "hidden": 16, "steps": 5, "batch_size": 20, "bins": 20},
    "preactivation_spread": {"hidden": 16},
    "dead_unit_through_bn": {},
}
GLUE_PREFIX = {"activation_comparison": "ch2_cmp", "bn_position": "ch2_pos", "dead_relu": "ch2_dead",
               "sigmoid_bn_outputs": "ch2_sig", "preactivation_spread": "ch2_preact",
               "dead_unit_through_bn": "ch2_deadbn"}
run = book_runner(__name__)

__all__ = [
    "SETTINGS", "TINY", "GLUE_PREFIX", "run",
    "activation_comparison", "bn_position", "dead_relu", "sigmoid_bn_outputs", "preactivation_spread",
    "dead_unit_through_bn",
    "hidden_outputs", "dead_fractions", "same_linear_weights",
    "ACTIVATIONS", "SIGMOID_0", "SIGMOID_1",
]


# --------------------------------------------------------------------------- measuring a model
@torch.no_grad()
def hidden_outputs(model, X, *, module_prefix="act"):
    """Outputs of every hidden module named ``{module_prefix}{i}`` for the whole batch X, in layer order.

    The forward pass runs in TRAINING mode on a copy of ``model``: BN normalises with the
    statistics of X itself, and the model's running statistics are left alone. X: (N, features);
    returns a list of (N, hidden) CPU tensors.
    """
    clone = copy.deepcopy(model)
    device = next(clone.parameters()).device
    outs, hooks = {}, []
    for name, module in clone.named_children():
        if name.startswith(module_prefix) and name.removeprefix(module_prefix).isdigit():
            hooks.append(module.register_forward_hook(
                lambda mod, inp, out, key=int(name.removeprefix(module_prefix)): outs.__setitem__(key, out)))
    if not hooks:
        raise ValueError(f"model has no module named '{module_prefix}1', '{module_prefix}2', ...")
    clone.train()
    clone(X.to(device))
    for h in hooks:
        h.remove()
    return [outs[k].detach().cpu() for k in sorted(outs)]


def dead_fractions(model, X):
    """Per hidden layer, the fraction of units whose activation output is 0 for EVERY row of X.

    A ReLU unit like that is «dead» on this data: its output is constant, so no gradient reaches
    its incoming weights through it. Measured on the activation modules ``act{i}`` (for BN after
    the activation, that is before the normalisation). Returns a list of ``depth`` floats.
    """
    return [(out <= 0).all(dim=0).float().mean().item() for out in hidden_outputs(model, X)]


def same_linear_weights(model_a, model_b):
    """True when every Linear layer of the two models holds exactly the same weights and biases."""
    a = {k: v for k, v in model_a.state_dict().items() if k.startswith("linear")}
    b = {k: v for k, v in model_b.state_dict().items() if k.startswith("linear")}
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _layer_norms(model, X, y):
    """Per-layer weight-gradient norms (training mode, one batch) as a list: linear1, ..., linear{depth+1}."""
    norms = gradient_norms(model, X, y)
    return [norms[name] for name in sorted(norms, key=lambda n: int(n.removeprefix("linear")))]


def _train(model, data, *, lr, steps, batch_size, seed, device):
    """``fit`` (plain SGD, fixed rate) on ``data``, evaluated once at the end; returns its History."""
    return fit(model, (data.X_train, data.y_train), test=(data.X_test, data.y_test), steps=steps,
               batch_size=batch_size, lr=lr, eval_every=steps, seed=seed, device=device, progress=False)


def _train_together(models, datas, *, lrs, seeds, steps, batch_size, device):
    """``_train`` for networks of one shape at once (``helpers.stacked.fit_stacked``: the same numbers,
    bit for bit, as one ``_train`` each, in a fraction of the time); returns their Histories."""
    return fit_stacked(models, [(d.X_train, d.y_train) for d in datas], test=[(d.X_test, d.y_test) for d in datas],
                       steps=steps, batch_size=batch_size, lr=list(lrs), seed=list(seeds), eval_every=steps,
                       device=device)


def _summary(history):
    """The final numbers of a run (whole training set / test set, eval mode); None for a diverged run."""
    if history.diverged:
        return {"diverged": True, "diverged_at": history.diverged_at, "train_acc": None, "test_acc": None,
                "train_loss": None}
    return {"diverged": False, "diverged_at": None, "train_acc": finite_or_none(history.train_acc[-1]),
            "test_acc": finite_or_none(history.test_acc[-1]),
            "train_loss": finite_or_none(history.eval_train_loss[-1])}


def _ratio(values, first, last):
    """values[first] / values[last], None when the denominator is 0."""
    return values[first] / values[last] if values[last] > 0 else None


# --------------------------------------------------------------------------- the experiments
def activation_comparison(*, seed, activations, baselines, depth, hidden, lrs, steps, batch_size, grad_batch,
                          data=None, device=None):
    """Deep sigmoid, tanh and ReLU networks with and without BN: accuracy and per-layer gradient norms.

    For each activation, two networks with ``depth`` hidden layers of ``hidden`` units and PyTorch's
    default initialisation, without and with BN (Linear -> BN -> activation), so BN is their only
    difference; ``baselines`` (activation, init) pairs add networks WITHOUT BN whose initialisation
    suits the activation (Xavier for tanh, He for ReLU). Each network is trained at every rate of
    ``lrs`` from the same initial weights and mini-batches (``steps`` SGD steps of ``batch_size``);
    the run with the lowest final training loss is kept (a diverged run never is).

    Gradient norms ‖∂L/∂W_l‖ of layers 1..depth+1 (the last is the output layer) are measured on the
    first ``grad_batch`` training images, in training mode, at initialisation and after training.

    Returns ``{"config", "names", "runs": {name: run}}``, names like "sigmoid_none", "sigmoid_batch",
    "relu_kaiming"; a run holds activation, norm, init, best_lr, train_acc, test_acc, train_loss
    (whole training set, eval mode), ``per_lr`` (the summary at each rate), grad_init and grad_trained
    (lists of depth + 1 norms) and grad_ratio_init / grad_ratio_trained (first / last hidden layer).
    """
    data = digits_or(data, seed)
    Xg, yg = data.X_train[:grad_batch], data.y_train[:grad_batch]
    variants = [(act, norm, "default") for act in activations for norm in ("none", "batch")]
    variants += [(act, "none", init) for act, init in baselines]
    out = {"config": {"depth": depth, "hidden": hidden, "lrs": list(lrs), "steps": steps,
                      "batch_size": batch_size, "grad_batch": len(yg)}, "names": [], "runs": {}}

    def model(act, norm, init):
        return seeded_mlp(data, seed=seed, hidden=hidden, depth=depth, activation=act, norm=norm, init=init)

    # every variant at every rate, from the same initial weights and mini-batches; the networks with
    # the same layers (with BN / without) train together, grouped by activation
    runs = sorted(((variant, lr) for variant in variants for lr in lrs), key=lambda r: (r[0][1], r[0][0]))
    nets = {run: model(*run[0]) for run in runs}
    histories = {}
    for norm in ("none", "batch"):
        group = [run for run in runs if run[0][1] == norm]
        trained = _train_together([nets[run] for run in group], [data] * len(group), lrs=[lr for _, lr in group],
                                  seeds=[seed] * len(group), steps=steps, batch_size=batch_size, device=device)
        histories.update(zip(group, trained))
    for act, norm, init in variants:
        name = f"{act}_{norm}" if init == "default" else f"{act}_{init}"
        grad_init = _layer_norms(model(act, norm, init), Xg, yg)
        per_lr, best, best_model = [], None, None
        for lr in lrs:
            run = ((act, norm, init), lr)
            summary = {"lr": lr, **_summary(histories[run])}
            per_lr.append(summary)
            if summary["train_loss"] is not None and (best is None or summary["train_loss"] < best["train_loss"]):
                best, best_model = summary, nets[run]
        kept = best or dict.fromkeys(("lr", "train_acc", "test_acc", "train_loss"))  # every rate diverged: None
        grad_trained = None if best is None else _layer_norms(best_model, Xg, yg)
        out["names"].append(name)
        out["runs"][name] = {
            "activation": act, "norm": norm, "init": init, "per_lr": per_lr, "best_lr": kept["lr"],
            "train_acc": kept["train_acc"], "test_acc": kept["test_acc"], "train_loss": kept["train_loss"],
            "grad_init": grad_init, "grad_trained": grad_trained,
            "grad_ratio_init": _ratio(grad_init, 0, depth - 1),
            "grad_ratio_trained": None if grad_trained is None else _ratio(grad_trained, 0, depth - 1)}
    return out


def bn_position(*, seed, seed_offsets, activations, depth, hidden, lr, steps, batch_size, data_for_seed=None,
                device=None):
    """BN before vs after the activation (Linear -> BN -> act vs Linear -> act -> BN), a controlled comparison.

    Runs the seeds ``seed + k`` for k in ``seed_offsets``. For each seed and activation the two
    networks start from IDENTICAL Linear weights (checked: ``same_init``), see the same mini-batches
    in the same order and use the same rate and number of steps; only the place of the BN layer
    differs. Each seed draws its own train/test split (``data_for_seed(seed)``, by default
    ``load_digits(seed=seed)``), so a seed's rows do not depend on the other seeds: a claim reruns one
    seed s with ``run("bn_position", seed=s, subset={"seed_offsets": (0,)})``.

    Returns ``{"config", "seeds", "activations", "positions", act: {position: [summary per seed]},
    "mean": {act: {position: {train_loss, train_acc, test_acc}}}, "after_wins": {act: {"train_loss":
    k, "test_acc": k}}, "same_init": bool}``, where ``after_wins`` counts the seeds on which "after"
    had the lower final training loss / the higher test accuracy (ties count for neither).
    """
    seeds = [seed + k for k in seed_offsets]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seed_offsets must be distinct; got {seed_offsets!r}")
    positions = ("before", "after")
    data_for_seed = data_for_seed or (lambda s: load_digits(seed=s))
    out = {"config": {"lr": lr, "steps": steps, "depth": depth, "hidden": hidden, "batch_size": batch_size},
           "seeds": seeds, "activations": list(activations), "positions": list(positions),
           "mean": {}, "after_wins": {}}
    datas = dict(zip(seeds, (data_for_seed(s) for s in seeds)))
    runs = [(act, s) for act in activations for s in seeds]
    models = {pos: [seeded_mlp(datas[s], seed=s, hidden=hidden, depth=depth, activation=act, norm="batch",
                               norm_position=pos) for act, s in runs] for pos in positions}
    same_init = all(same_linear_weights(b, a) for b, a in zip(models["before"], models["after"]))
    for act in activations:
        out[act] = {}
    for pos in positions:  # one position's networks train together, each seed on its own data and mini-batches
        histories = _train_together(models[pos], [datas[s] for _, s in runs], lrs=[lr] * len(runs),
                                    seeds=[s for _, s in runs], steps=steps, batch_size=batch_size, device=device)
        for (act, s), h in zip(runs, histories):
            out[act].setdefault(pos, []).append({"seed": s, **_summary(h)})
    for act in activations:
        out["mean"][act] = {
            pos: {key: (None if any(r[key] is None for r in out[act][pos])
                        else sum(r[key] for r in out[act][pos]) / len(out[act][pos]))
                  for key in ("train_loss", "train_acc", "test_acc")}
            for pos in positions}
        wins = {"train_loss": 0, "test_acc": 0}
        for before, after in zip(out[act]["before"], out[act]["after"]):
            if before["train_loss"] is not None and after["train_loss"] is not None:
                wins["train_loss"] += after["train_loss"] < before["train_loss"]
                wins["test_acc"] += after["test_acc"] > before["test_acc"]
        out["after_wins"][act] = wins
    out["same_init"] = same_init
    return out


def dead_relu(*, seed, variants, init, depth, hidden, lrs, steps, batch_size, data=None, device=None):
    """Dead ReLU units with and without BN, at each learning rate of ``lrs``.

    A unit is dead when its ReLU outputs 0 for every training image (``dead_fractions``). The ReLU
    networks (``depth`` hidden layers of ``hidden`` units) are initialised with ``init`` (He/Kaiming
    in the book, so that the network without BN trains at a moderate rate); ``variants`` are
    ``(norm, norm_position)`` pairs, all trained from the same Linear weights and mini-batches. Also
    reports, without training, the dead fraction at PyTorch's default initialisation with no BN
    (``default_init_dead``), where the signal shrinks layer by layer until the biases decide the sign
    of every pre-activation.

    Returns ``{"config", "lrs", "variants": [names], name: [{"lr", "diverged", "diverged_at",
    "train_acc", "test_acc", "train_loss", "dead_init" (per layer), "dead" (per layer, None if
    diverged), "dead_mean", "dead_init_mean"} per rate], "default_init_dead": [per layer],
    "default_init_dead_mean"}`` with names "none", "batch_before", "batch_after".
    """
    data = digits_or(data, seed)
    names = [norm if norm == "none" else f"{norm}_{pos}" for norm, pos in variants]
    out = {"config": {"init": init, "steps": steps, "depth": depth, "hidden": hidden, "batch_size": batch_size},
           "lrs": list(lrs), "variants": names}
    for name, (norm, pos) in zip(names, variants):
        rows = []
        models = [seeded_mlp(data, seed=seed, hidden=hidden, depth=depth, activation="relu", norm=norm,
                             norm_position=pos, init=init) for _ in lrs]
        dead_init = dead_fractions(models[0], data.X_train)  # the same initial weights at every rate
        histories = _train_together(models, [data] * len(lrs), lrs=lrs, seeds=[seed] * len(lrs), steps=steps,
                                    batch_size=batch_size, device=device)
        for lr, model, h in zip(lrs, models, histories):
            dead = None if h.diverged else dead_fractions(model, data.X_train)
            rows.append({"lr": lr, **_summary(h), "dead_init": dead_init,
                         "dead_init_mean": sum(dead_init) / len(dead_init),
                         "dead": dead, "dead_mean": None if dead is None else sum(dead) / len(dead)})
        out[name] = rows
    default = seeded_mlp(data, seed=seed, hidden=hidden, depth=depth, activation="relu", norm="none")
    out["default_init_dead"] = dead_fractions(default, data.X_train)
    out["default_init_dead_mean"] = sum(out["default_init_dead"]) / depth
    return out


def _histogram(values, bins):
    counts = torch.histc(values, bins=bins, min=0.0, max=1.0)
    return (counts / counts.sum()).tolist()


def _range_stats(values):
    inside = ((values >= SIGMOID_0) & (values <= SIGMOID_1)).float().mean().item()
    return {"min": values.min().item(), "max": values.max().item(), "inside": inside, "outside": 1.0 - inside,
            "below_half": (values < SIGMOID_0).float().mean().item(),
            "below_01": (values < 0.1).float().mean().item(), "above_09": (values > 0.9).float().mean().item()}


def sigmoid_bn_outputs(*, seed, depth, hidden, lr, steps, batch_size, bins, data=None, device=None):
    """Where do the outputs σ(BN(x)) of a deep sigmoid network with BN actually lie?

    Trains one network (Linear -> BN -> sigmoid, ``depth`` hidden layers of ``hidden`` units) and
    measures, at initialisation and after training, the outputs of every sigmoid on the whole
    training set (training mode, see ``hidden_outputs``; N × hidden values per layer), pooled over
    the layers: a histogram over [0, 1] (``bins`` bins, as fractions), min, max, the fraction inside
    the answer's claimed range [σ(0), σ(1)] ≈ [0.5, 0.731] and outside it, below 0.5
    (``below_half``), below 0.1 (``below_01``) and above 0.9 (``above_09``); the same per layer
    (``per_layer``), and at initialisation the spread of x̂ itself (``xhat_std``, ``xhat_in_0_1``).
    Also the learned γ and β of every BN layer (all values, min/mean/max, per-layer means) and, for
    comparison, the outputs of ReLU(BN(x)) at initialisation (``relu_init``: max, the fraction above
    1 and at 0; the answer says ReLU with BN «spreads between 0 and 1»).
    """
    data = digits_or(data, seed)
    model = seeded_mlp(data, seed=seed, hidden=hidden, depth=depth, activation="sigmoid", norm="batch")
    init_outs = hidden_outputs(model, data.X_train)
    xhat = torch.cat([o.flatten() for o in hidden_outputs(model, data.X_train, module_prefix="norm")])
    h = _train(model, data, lr=lr, steps=steps, batch_size=batch_size, seed=seed, device=device)
    if h.diverged:
        raise RuntimeError(f"the sigmoid+BN network diverged at step {h.diverged_at}; lower lr={lr}")
    out = {"config": {"depth": depth, "hidden": hidden, "lr": lr, "steps": steps, "batch_size": batch_size,
                      "bins": bins}, "claimed_range": [SIGMOID_0, SIGMOID_1], **_summary(h)}
    for tag, outs in (("init", init_outs), ("trained", hidden_outputs(model, data.X_train))):
        pooled = torch.cat([o.flatten() for o in outs])
        out[tag] = {"hist": _histogram(pooled, bins), **_range_stats(pooled),
                    "per_layer": [_range_stats(o.flatten()) for o in outs]}
    # x̂ itself at initialisation (γ = 1, β = 0): standardised, so far wider than [0, 1]
    out["init"]["xhat_std"] = xhat.std().item()
    out["init"]["xhat_in_0_1"] = ((xhat >= 0) & (xhat <= 1)).float().mean().item()
    for key, attr in (("gamma", "weight"), ("beta", "bias")):
        per_layer = [getattr(model.get_submodule(f"norm{i}"), attr).detach().cpu() for i in range(1, depth + 1)]
        values = torch.cat(per_layer)
        out[key] = {"values": values.tolist(), "min": values.min().item(), "mean": values.mean().item(),
                    "max": values.max().item(), "per_layer_mean": [x.mean().item() for x in per_layer]}
    relu = seeded_mlp(data, seed=seed, hidden=hidden, depth=depth, activation="relu", norm="batch")
    relu_outs = torch.cat([o.flatten() for o in hidden_outputs(relu, data.X_train)])
    out["relu_init"] = {"max": relu_outs.max().item(), "above_1": (relu_outs > 1).float().mean().item(),
                        "zero": (relu_outs <= 0).float().mean().item()}
    return out


def preactivation_spread(*, seed, activation, depth, hidden, data=None):
    """At initialisation, how spread out the input of every activation is, with BN after it and without BN.

    The input of activation i is the output of ``linear{i}`` (with BN after the activation, or no BN,
    nothing stands between them). For each unit, its standard deviation over ``data.X_train``
    (training mode, see ``hidden_outputs``), averaged over the units: a list of ``depth`` numbers for
    the network with BN after the activation (``"after"``) and for the same network without BN
    (``"none"``), from the same initial weights. ``after_ratio`` / ``none_ratio``: the last layer's
    spread over the second's (layer 2 is the first whose input was normalised). With PyTorch's
    default initialisation and no BN the spread shrinks geometrically with depth; with BN after the
    activation every Linear layer after the first reads normalised inputs, so it stays about constant.
    """
    check_int("depth", depth, min=2)  # the ratios compare the last layer with layer 2
    data = digits_or(data, seed)
    out = {}
    for name, norm in (("after", "batch"), ("none", "none")):
        model = seeded_mlp(data, seed=seed, hidden=hidden, depth=depth, activation=activation, norm=norm,
                           norm_position="after")
        outs = hidden_outputs(model, data.X_train, module_prefix="linear")[:depth]  # the last Linear is the output
        out[name] = [o.std(dim=0).mean().item() for o in outs]
        out[f"{name}_ratio"] = out[name][-1] / out[name][1]
    return out


def dead_unit_through_bn(*, seed, units, bias, data=None):
    """A ReLU unit that outputs 0 for every training image (its bias is ``bias``), with BN after the ReLU.

    Builds Linear(64, ``units``) with unit 0's bias set to ``bias``, runs Linear -> ReLU -> BN in
    training mode on all of ``data.X_train`` (N, 64) and back-propagates a random linear loss. Returns
    ``{"after_spread"``: max - min of BN's output for the dead unit over the images (0: a constant, β),
    ``"after_grad"``: the norm of the gradient reaching the dead unit's incoming weights,
    ``"live_grad_min"``: the smallest such norm among the other units, ``"before_positive"``: the
    fraction of images on which the same unit's ReLU input is positive when BN comes first
    (Linear -> BN -> ReLU)``}``.
    """
    check_int("units", units, min=2)  # one dead unit and at least one live one
    X = torch.as_tensor(digits_or(data, seed).X_train, dtype=torch.float32).cpu()
    torch.manual_seed(seed)
    lin, bn = torch.nn.Linear(X.shape[1], units), torch.nn.BatchNorm1d(units)
    with torch.no_grad():
        lin.bias[0] = bias
    out = bn(torch.relu(lin(X)))
    (out * torch.randn_like(out)).sum().backward()
    with torch.no_grad():
        before_positive = (bn(lin(X))[:, 0] > 0).float().mean().item()
    return {"after_spread": (out[:, 0].max() - out[:, 0].min()).item(),
            "after_grad": lin.weight.grad[0].norm().item(),
            "live_grad_min": lin.weight.grad[1:].norm(dim=1).min().item(),
            "before_positive": before_positive}
