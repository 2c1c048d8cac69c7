"""Chapter 2 («نرمال‌سازی دسته‌ای، سیگموید یا ReLU؟»): the experiments behind its answers.

Does batch normalization make sigmoid (or tanh) a better choice than ReLU? Every function
trains deep multilayer perceptrons (``helpers.models.make_mlp``, 10 hidden layers by default)
on scikit-learn's bundled 8×8 digits (``helpers.data.load_digits``) with the one training
loop (``helpers.train.fit``) and returns a plain dict of numbers and lists, so the chapter can
glue them into its prose and a claims benchmark can rerun them on several seeds:

- ``activation_comparison``: sigmoid, tanh and ReLU with and without BN (plus well-initialised
  baselines without BN): final accuracy and per-layer gradient norms at initialisation and
  after training;
- ``bn_position``: BN before vs after the activation, everything else identical;
- ``dead_relu``: the fraction of ReLU units that output 0 for every training example, with and
  without BN, at a moderate and a high learning rate;
- ``sigmoid_bn_outputs``: the distribution of σ(BN(x)) at initialisation and after training,
  with the learned γ and β (the answer in the seed thread claims it is confined to
  [σ(0), σ(1)] ≈ [0.5, 0.73]).
- ``preactivation_spread``: the spread of every activation's input at initialisation, layer by
  layer (does BN after the activation leave the activations alone, as a comment in the thread says?);
- ``dead_unit_through_bn``: a ReLU unit dead on every example, followed (or preceded) by BN: does
  BN revive it, as the asker guesses?

Hidden-layer outputs are measured in training mode on the whole training set as one batch
(on a copy of the model, so its running statistics are untouched): what BN computes during
training, and not the running averages, which are still (0, 1) at initialisation.

Results are deterministic for a given ``seed`` on the CPU.
"""
import copy
import math

import torch

from helpers.data import load_digits
from helpers.models import make_mlp
from helpers.seeding import set_seed
from helpers.train import fit, gradient_norms

NUM_CLASSES = 10
ACTIVATIONS = ("sigmoid", "tanh", "relu")
# Baselines without BN whose initialisation suits the activation (Glorot & Bengio 2010, He et al. 2015).
WELL_INITIALISED = (("tanh", "xavier"), ("relu", "kaiming"))
SIGMOID_0, SIGMOID_1 = 0.5, 1.0 / (1.0 + math.exp(-1.0))  # the answer's claimed range [σ(0), σ(1)]

__all__ = [
    "activation_comparison",
    "bn_position",
    "dead_relu",
    "sigmoid_bn_outputs",
    "hidden_outputs",
    "dead_fractions",
    "same_linear_weights",
    "preactivation_spread",
    "dead_unit_through_bn",
    "ACTIVATIONS",
    "SIGMOID_0",
    "SIGMOID_1",
]


def _data(data, seed):
    return load_digits(seed=seed) if data is None else data


def _mlp(data, *, hidden, depth, activation, norm, seed, norm_position="before", init="default"):
    """make_mlp whose initial weights depend only on ``seed`` (the norm layers hold no random numbers,
    so the Linear weights are the same whether BN comes before or after the activation)."""
    set_seed(seed)
    return make_mlp(data.X_train.shape[1], hidden, depth, NUM_CLASSES, activation=activation,
                    norm=norm, norm_position=norm_position, init=init)


def _clean(value):
    """NaN/inf (a diverged run) becomes None, so results stay JSON-friendly and easy to test."""
    return None if value is None or (isinstance(value, float) and not math.isfinite(value)) else value


def _layer_norms(model, X, y):
    """Per-layer weight-gradient norms as a list in layer order (linear1, ..., linear{depth+1})."""
    norms = gradient_norms(model, X, y)
    return [norms[name] for name in sorted(norms, key=lambda n: int(n.removeprefix("linear")))]


@torch.no_grad()
def hidden_outputs(model, X, *, module_prefix="act"):
    """Outputs of every hidden module named ``{module_prefix}{i}`` for the whole batch X, in layer order.

    The forward pass runs in TRAINING mode on a copy of ``model``: BN normalises with the
    statistics of X itself, and the model's running statistics are left alone. Returns a list of
    (N, hidden) CPU tensors.
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
    the activation, that is before the normalisation).
    """
    return [(out <= 0).all(dim=0).float().mean().item() for out in hidden_outputs(model, X)]


def same_linear_weights(model_a, model_b):
    """True when every Linear layer of the two models holds exactly the same weights and biases."""
    a = {k: v for k, v in model_a.state_dict().items() if k.startswith("linear")}
    b = {k: v for k, v in model_b.state_dict().items() if k.startswith("linear")}
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def preactivation_spread(data, *, seed=0, activation="tanh", norm="batch", norm_position="after", depth=10,
                         hidden=64):
    """Per hidden layer, how spread out the input of the activation is at initialisation.

    The input of activation i is the output of ``linear{i}`` (with ``norm_position="after"`` or no
    norm, nothing stands between them). For each unit, its standard deviation over
    ``data.X_train`` (training mode, see ``hidden_outputs``), averaged over the units; a list of
    ``depth`` numbers. With PyTorch's default initialisation and no BN this shrinks geometrically
    with depth; with BN after the activation every Linear layer after the first reads normalised
    inputs, so it stays about constant.
    """
    model = _mlp(data, hidden=hidden, depth=depth, activation=activation, norm=norm, seed=seed,
                 norm_position=norm_position)
    outs = hidden_outputs(model, data.X_train, module_prefix="linear")[:depth]  # the last Linear is the output layer
    return [o.std(dim=0).mean().item() for o in outs]


def dead_unit_through_bn(X, *, units=4, bias=-1e3, seed=0):
    """A ReLU unit that outputs 0 for every row of ``X`` (its bias is ``bias``), with BN after the ReLU.

    Builds Linear(X.shape[1], units) with unit 0's bias set to ``bias``, runs Linear -> ReLU -> BN
    in training mode on all of ``X`` and back-propagates a random linear loss. Returns
    ``{"after_spread"``: max - min of BN's output for the dead unit over X (0: a constant, β),
    ``"after_grad"``: the norm of the gradient reaching the dead unit's incoming weights,
    ``"live_grad_min"``: the smallest such norm among the other units, ``"before_positive"``: the
    fraction of rows on which the same unit's ReLU input is positive when BN comes first
    (Linear -> BN -> ReLU)``}``.
    """
    if units < 2:
        raise ValueError(f"units must be >= 2 (one dead unit and at least one live one), got {units}")
    X = torch.as_tensor(X, dtype=torch.float32).cpu()
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


def _train(model, data, *, lr, steps, batch_size, seed, device, eval_every=None):
    return fit(model, (data.X_train, data.y_train), test=(data.X_test, data.y_test), steps=steps,
               batch_size=batch_size, lr=lr, eval_every=eval_every or steps, seed=seed, device=device,
               progress=False)


def _summary(history):
    if history.diverged:
        return {"diverged": True, "diverged_at": history.diverged_at, "train_acc": None, "test_acc": None,
                "train_loss": None}
    return {"diverged": False, "diverged_at": None, "train_acc": _clean(history.train_acc[-1]),
            "test_acc": _clean(history.test_acc[-1]), "train_loss": _clean(history.eval_train_loss[-1])}


def activation_comparison(*, seed=0, depth=10, hidden=64, activations=ACTIVATIONS, lrs=(0.1, 0.5), steps=300,
                          batch_size=60, grad_batch=500, baselines=WELL_INITIALISED, data=None, device=None):
    """Deep sigmoid, tanh and ReLU networks with and without BN; accuracy and per-layer gradient norms.

    Every network has ``depth`` hidden layers of ``hidden`` units and PyTorch's default
    initialisation, so BN is the only difference between the two variants of an activation;
    ``baselines`` adds networks WITHOUT BN whose initialisation suits the activation (Xavier for
    tanh, He/Kaiming for ReLU). Each network is trained at every learning rate of ``lrs`` from the
    same initial weights and mini-batches; the run with the lowest final training loss is kept
    (diverged runs never are). SGD without momentum.

    Per-layer gradient norms ‖∂L/∂W_l‖ (layers 1..depth+1, the last is the output layer) are
    measured on the first ``grad_batch`` training images in training mode, at initialisation
    and after training (the kept run).

    Returns ``{"config", "names", "runs": {name: {...}}}`` with names like "sigmoid_none",
    "sigmoid_batch", "relu_kaiming"; each run has activation, norm, init, best_lr, train_acc,
    test_acc, train_loss (whole training set, eval mode), ``per_lr`` (the summary at each lr),
    grad_init, grad_trained (lists) and grad_ratio_init / grad_ratio_trained (first / last
    hidden layer).
    """
    data = _data(data, seed)
    Xg, yg = data.X_train[:grad_batch], data.y_train[:grad_batch]
    variants = [(act, norm, "default") for act in activations for norm in ("none", "batch")]
    variants += [(act, "none", init) for act, init in baselines]
    out = {"config": {"depth": depth, "hidden": hidden, "lrs": list(lrs), "steps": steps,
                      "batch_size": batch_size, "grad_batch": len(yg)}, "names": [], "runs": {}}
    for act, norm, init in variants:
        name = f"{act}_{norm}" if init == "default" else f"{act}_{init}"
        grad_init = _layer_norms(_mlp(data, hidden=hidden, depth=depth, activation=act, norm=norm,
                                      seed=seed, init=init), Xg, yg)
        per_lr, best, best_model = [], None, None
        for lr in lrs:
            model = _mlp(data, hidden=hidden, depth=depth, activation=act, norm=norm, seed=seed, init=init)
            summary = {"lr": lr, **_summary(_train(model, data, lr=lr, steps=steps, batch_size=batch_size,
                                                    seed=seed, device=device))}
            per_lr.append(summary)
            if summary["train_loss"] is not None and (best is None or summary["train_loss"] < best["train_loss"]):
                best, best_model = summary, model
        run = {"activation": act, "norm": norm, "init": init, "per_lr": per_lr, "grad_init": grad_init,
               "grad_ratio_init": grad_init[0] / grad_init[depth - 1] if grad_init[depth - 1] > 0 else None}
        if best is None:
            run.update({"best_lr": None, "train_acc": None, "test_acc": None, "train_loss": None,
                        "grad_trained": None, "grad_ratio_trained": None})
        else:
            grad_trained = _layer_norms(best_model, Xg, yg)
            run.update({"best_lr": best["lr"], "train_acc": best["train_acc"], "test_acc": best["test_acc"],
                        "train_loss": best["train_loss"], "grad_trained": grad_trained,
                        "grad_ratio_trained": grad_trained[0] / grad_trained[depth - 1]
                        if grad_trained[depth - 1] > 0 else None})
        out["names"].append(name)
        out["runs"][name] = run
    return out


def bn_position(*, seeds=(0, 1, 2), activations=ACTIVATIONS, positions=("before", "after"), lr=0.1, steps=300,
                depth=10, hidden=64, batch_size=60, data_for_seed=None, device=None):
    """BN before vs after the activation, a controlled comparison.

    For each seed and activation the two networks start from IDENTICAL Linear weights (checked,
    ``same_init``), see the same mini-batches in the same order and use the same learning rate
    and number of steps; only the place of the BN layer differs (Linear → BN → act vs
    Linear → act → BN). Each seed also draws its own train/test split of the digits
    (``data_for_seed(seed)``, by default ``load_digits(seed=seed)``).

    Returns ``{"config", "seeds", "activations", "positions", act: {position: [summary per seed]},
    "mean": {act: {position: {train_loss, train_acc, test_acc}}}, "after_wins": {act: {"train_loss":
    k, "test_acc": k}}, "same_init": bool}``, where ``after_wins`` counts the seeds on which "after"
    had the lower final training loss / the higher test accuracy (ties count for neither).
    """
    if tuple(positions) != ("before", "after"):
        raise ValueError(f"positions must be ('before', 'after'), got {positions!r}")
    data_for_seed = data_for_seed or (lambda s: load_digits(seed=s))
    out = {"config": {"lr": lr, "steps": steps, "depth": depth, "hidden": hidden, "batch_size": batch_size},
           "seeds": list(seeds), "activations": list(activations), "positions": list(positions),
           "mean": {}, "after_wins": {}}
    same_init = True
    for act in activations:
        out[act] = {pos: [] for pos in positions}
    for seed in seeds:
        data = data_for_seed(seed)
        for act in activations:
            models = {}
            for pos in positions:
                models[pos] = _mlp(data, hidden=hidden, depth=depth, activation=act, norm="batch", seed=seed,
                                   norm_position=pos)
            same_init = same_init and same_linear_weights(models["before"], models["after"])
            for pos in positions:
                h = _train(models[pos], data, lr=lr, steps=steps, batch_size=batch_size, seed=seed, device=device)
                out[act][pos].append({"seed": seed, **_summary(h)})
    for act in activations:
        out["mean"][act] = {}
        for pos in positions:
            rows = out[act][pos]
            out["mean"][act][pos] = {
                key: (None if any(r[key] is None for r in rows) else sum(r[key] for r in rows) / len(rows))
                for key in ("train_loss", "train_acc", "test_acc")}
        wins = {"train_loss": 0, "test_acc": 0}
        for before, after in zip(out[act]["before"], out[act]["after"]):
            if before["train_loss"] is not None and after["train_loss"] is not None:
                wins["train_loss"] += after["train_loss"] < before["train_loss"]
                wins["test_acc"] += after["test_acc"] > before["test_acc"]
        out["after_wins"][act] = wins
    out["same_init"] = same_init
    return out


def dead_relu(*, seed=0, lrs=(0.1, 0.4), variants=(("none", "before"), ("batch", "before"), ("batch", "after")),
              init="kaiming", steps=300, depth=10, hidden=64, batch_size=60, data=None, device=None):
    """Dead ReLU units with and without BN, at each learning rate of ``lrs``.

    A unit is dead when its ReLU outputs 0 for every training image (``dead_fractions``). The
    networks are initialised with ``init`` (He/Kaiming by default, which lets the network without
    BN train at a moderate rate); variants are ``(norm, norm_position)`` pairs, all trained from the
    same Linear weights and mini-batches. Also reports, without training, the dead fraction at
    PyTorch's default initialisation with no BN (``default_init_dead``), where the signal shrinks
    layer by layer until the biases decide the sign of every pre-activation.

    Returns ``{"config", "lrs", "variants": [names], name: [{"lr", "diverged", "diverged_at",
    "train_acc", "test_acc", "train_loss", "dead_init" (per layer), "dead" (per layer, None if
    diverged), "dead_mean", "dead_init_mean"}], "default_init_dead": [per layer],
    "default_init_dead_mean"}`` with names "none", "batch_before", "batch_after".
    """
    data = _data(data, seed)
    names = [norm if norm == "none" else f"{norm}_{pos}" for norm, pos in variants]
    out = {"config": {"init": init, "steps": steps, "depth": depth, "hidden": hidden, "batch_size": batch_size},
           "lrs": list(lrs), "variants": names}
    for name, (norm, pos) in zip(names, variants):
        rows = []
        for lr in lrs:
            model = _mlp(data, hidden=hidden, depth=depth, activation="relu", norm=norm, seed=seed,
                         norm_position=pos, init=init)
            dead_init = dead_fractions(model, data.X_train)
            h = _train(model, data, lr=lr, steps=steps, batch_size=batch_size, seed=seed, device=device)
            row = {"lr": lr, **_summary(h), "dead_init": dead_init, "dead_init_mean": sum(dead_init) / len(dead_init)}
            if h.diverged:
                row.update({"dead": None, "dead_mean": None})
            else:
                dead = dead_fractions(model, data.X_train)
                row.update({"dead": dead, "dead_mean": sum(dead) / len(dead)})
            rows.append(row)
        out[name] = rows
    default = _mlp(data, hidden=hidden, depth=depth, activation="relu", norm="none", seed=seed, init="default")
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
            "below_0.1": (values < 0.1).float().mean().item(), "above_0.9": (values > 0.9).float().mean().item()}


def sigmoid_bn_outputs(*, seed=0, depth=10, hidden=64, lr=0.1, steps=300, batch_size=60, bins=50, data=None,
                       device=None):
    """Where do the outputs σ(BN(x)) of a deep sigmoid network with BN actually lie?

    Trains one network (Linear → BN → sigmoid, ``depth`` hidden layers) and measures, at
    initialisation and after training, the outputs of every sigmoid on the whole training set
    (training mode, see ``hidden_outputs``), pooled over all layers: a histogram over [0, 1]
    (``bins`` bins, as fractions), min, max, the fraction inside the answer's claimed range
    [σ(0), σ(1)] ≈ [0.5, 0.731] and outside it, below 0.5 (``below_half``), below 0.1 and above 0.9. Also
    the same per layer, and the learned γ and β of every BN layer (all values, and their
    min/mean/max over the network). For comparison, the largest output of ReLU(BN(x)) at
    initialisation (the answer says ReLU with BN «spreads between 0 and 1»).
    """
    data = _data(data, seed)
    model = _mlp(data, hidden=hidden, depth=depth, activation="sigmoid", norm="batch", seed=seed)
    init_outs = hidden_outputs(model, data.X_train)
    pre_init = torch.cat([o.flatten() for o in hidden_outputs(model, data.X_train, module_prefix="norm")])
    h = _train(model, data, lr=lr, steps=steps, batch_size=batch_size, seed=seed, device=device)
    out = {"config": {"depth": depth, "hidden": hidden, "lr": lr, "steps": steps, "batch_size": batch_size,
                      "bins": bins}, "claimed_range": [SIGMOID_0, SIGMOID_1], **_summary(h)}
    if h.diverged:
        raise RuntimeError(f"the sigmoid+BN network diverged at step {h.diverged_at}; lower lr={lr}")
    trained_outs = hidden_outputs(model, data.X_train)
    for tag, outs in (("init", init_outs), ("trained", trained_outs)):
        pooled = torch.cat([o.flatten() for o in outs])
        out[tag] = {"hist": _histogram(pooled, bins), **_range_stats(pooled),
                    "per_layer": [_range_stats(o.flatten()) for o in outs]}
    # x̂ itself at initialisation (γ = 1, β = 0): standardised, so far wider than [0, 1]
    out["init"]["bn_out_std"] = pre_init.std().item()
    out["init"]["bn_out_in_0_1"] = ((pre_init >= 0) & (pre_init <= 1)).float().mean().item()
    gammas = [model.get_submodule(f"norm{i}").weight.detach().cpu() for i in range(1, depth + 1)]
    betas = [model.get_submodule(f"norm{i}").bias.detach().cpu() for i in range(1, depth + 1)]
    g, b = torch.cat(gammas), torch.cat(betas)
    out["gamma"] = {"values": g.tolist(), "min": g.min().item(), "mean": g.mean().item(), "max": g.max().item(),
                    "per_layer_mean": [x.mean().item() for x in gammas]}
    out["beta"] = {"values": b.tolist(), "min": b.min().item(), "mean": b.mean().item(), "max": b.max().item(),
                   "per_layer_mean": [x.mean().item() for x in betas]}
    relu = _mlp(data, hidden=hidden, depth=depth, activation="relu", norm="batch", seed=seed)
    relu_outs = torch.cat([o.flatten() for o in hidden_outputs(relu, data.X_train)])
    out["relu_init"] = {"max": relu_outs.max().item(), "above_1": (relu_outs > 1).float().mean().item(),
                        "zero": (relu_outs <= 0).float().mean().item()}
    return out
