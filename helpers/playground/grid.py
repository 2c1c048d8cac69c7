"""The training grid: one small network per setting, trained with the book's ``make_mlp`` and ``fit``.

``run_setting`` trains one setting and returns plain numbers (what the charts draw). ``Grid`` is
the set of settings one panel offers; it trains a setting the first time it is asked for and
remembers the result (in the object, so two panels never share hidden state).
"""
from __future__ import annotations

import copy
import itertools
import math
from collections import OrderedDict

import numpy as np
import torch

from helpers.models import make_mlp
from helpers.playground.settings import CONTROLS, NUM_CLASSES, check_config, check_setting, setting_key
from helpers.seeding import set_seed
from helpers.stacked import fit_stacked
from helpers.train import fit

BOUNDARY_RES = 32          # the decision boundary is a BOUNDARY_RES² grid of probabilities
BOUNDARY_BOX = 1.3         # ... over [-BOX, BOX]² (the spirals have radius ≈ 1)
HIST_BINS = 30
HIST_ROWS = 512            # pre-activations are measured on this many training rows


def load_data(name: str, seed: int = 0):
    """The data set of the "data" control: 2-D spirals or scikit-learn's 8×8 digits (a ``Split``)."""
    from helpers.data import load_digits, make_spirals
    if name == "spirals":
        return make_spirals(n_per_class=200, n_classes=2, noise=0.1, turns=1.0, seed=seed)
    if name == "digits":
        return load_digits(seed=seed)
    raise ValueError(f"data must be one of {list(CONTROLS['data'][1])}, got {name!r}")


def _finite_prefix(values) -> list:
    out = []
    for v in values:
        if v is None or not math.isfinite(v):
            break
        out.append(float(v))
    return out


def _pre_activations(model, X, layer: str) -> np.ndarray:
    """Inputs of activation module ``layer`` for rows X, in training mode, the model left untouched."""
    probe = copy.deepcopy(model).train()
    captured = {}
    handle = dict(probe.named_children())[layer].register_forward_pre_hook(
        lambda module, args: captured.setdefault("x", args[0].detach()))
    with torch.no_grad():
        probe(X)
    handle.remove()
    return captured["x"].float().cpu().numpy().ravel()


def _boundary(model, device) -> np.ndarray:
    """P(class 1) on a BOUNDARY_RES² grid over [-BOX, BOX]², row 0 at the top (eval mode)."""
    ticks = np.linspace(-BOUNDARY_BOX, BOUNDARY_BOX, BOUNDARY_RES)
    xx, yy = np.meshgrid(ticks, ticks[::-1])
    grid = torch.tensor(np.stack([xx.ravel(), yy.ravel()], axis=1), dtype=torch.float32, device=device)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        prob = torch.softmax(model(grid), dim=1)[:, 1]
    model.train(was_training)
    return prob.cpu().numpy().reshape(BOUNDARY_RES, BOUNDARY_RES)


def run_setting(setting: dict, *, seed: int = 0, device=None, data=None, **config) -> dict:
    """Train one playground setting and return a plain dict (lists of finite floats, JSON-friendly).

    ``setting``: one value per control of ``CONTROLS`` (data, norm, activation, schedule, depth,
    lr; lr may be any positive number). ``config`` overrides ``TRAIN_CONFIG``. ``data``: the
    ``Split`` of ``load_data(setting["data"], seed)`` if already loaded. Keys:
    ``eval_steps``, ``train_loss``/``test_loss``/``train_acc``/``test_acc`` (whole sets, eval
    mode; cut at the first non-finite value), ``lr_steps``/``lr``, ``grad_layers`` with
    ``grad_first``/``grad_last`` (weight-gradient norm per layer at step 1 and at the last
    recorded step), ``hist_edges`` with ``hist_init``/``hist_final`` (pre-activations of the last
    hidden layer; ``hist_final`` None if the run diverged), ``boundary`` (spirals only: rows of
    P(class 1); None if diverged), ``diverged``/``diverged_at``, ``chance`` (1 / classes),
    ``status`` ("ok", "diverged" or "chance").
    """
    return run_settings([setting], seed=seed, device=device, data=data, **config)[0]


def _architecture(setting: dict) -> tuple:
    """The layers of a setting's network (its activation aside): settings that agree here can train together."""
    return tuple(setting[name] for name in ("data", "norm", "depth"))


def run_settings(settings: list, *, seed: int = 0, device=None, data=None, **config) -> list:
    """``run_setting`` for several settings: the same dicts, in the same order.

    Settings with the same data, norm and depth build networks with the same layers (their
    activations may differ), each from its seed's weights, and see the same mini-batches. Such a
    group trains side by side as one model (``helpers.stacked.fit_stacked``), which gives the same
    numbers, bit for bit, as training each alone with ``fit`` (with momentum, each trains alone). ``data``: the
    ``Split`` of ``load_data(name, seed)`` for the settings' data set, if they all use one.
    """
    settings = [check_setting(setting) for setting in settings]
    cfg = check_config(config)
    if device is None:
        from helpers.device import get_device
        device = get_device()
    device = torch.device(device)
    if data is not None and len({setting["data"] for setting in settings}) > 1:
        raise ValueError("data= is one data set; these settings use several: pass data=None")
    splits = {name: data if data is not None else load_data(name, seed) for name in {s["data"] for s in settings}}
    groups = OrderedDict()
    order = sorted(range(len(settings)), key=lambda i: settings[i]["activation"])  # one run per activation
    for i in order:
        groups.setdefault(_architecture(settings[i]) if cfg["momentum"] == 0 else i, []).append(i)
    results = [None] * len(settings)
    for members in groups.values():
        group = [settings[i] for i in members]
        split = splits[group[0]["data"]]
        models = [_build(setting, cfg, split, seed, device) for setting in group]
        probe_layer = f"act{group[0]['depth']}"
        X_probe = split.X_train[:HIST_ROWS].to(device)
        pre_init = [_pre_activations(model, X_probe, probe_layer) for model in models]
        histories = _train(models, group, cfg, split, seed, device)
        for i, setting, model, hist, pre in zip(members, group, models, histories, pre_init):
            results[i] = _summarise(setting, cfg, seed, model, hist, pre, X_probe, probe_layer, device)
    return results


def _build(setting, cfg, data, seed, device):
    """The setting's network (``make_mlp``), its initial weights drawn from ``seed``."""
    set_seed(seed)
    norm = None if setting["norm"] == "none" else "batch"
    return make_mlp(data.X_train.shape[1], cfg["hidden"], setting["depth"], NUM_CLASSES[setting["data"]],
                    activation=setting["activation"], norm=norm,
                    norm_position="before" if norm is None else setting["norm"]).to(device)


def _train(models, settings, cfg, data, seed, device):
    """Histories of the settings' networks trained on ``data``: together when they can be, else with ``fit``."""
    common = dict(steps=cfg["steps"], batch_size=cfg["batch_size"], eval_every=cfg["eval_every"],
                  record_grad_norms=True, device=device)
    if cfg["momentum"] == 0 and len(models) > 1:
        return fit_stacked(models, [(data.X_train, data.y_train)] * len(models),
                           test=[(data.X_test, data.y_test)] * len(models), lr=[s["lr"] for s in settings],
                           schedule=[s["schedule"] for s in settings], seed=seed, **common)
    return [fit(model, (data.X_train, data.y_train), test=(data.X_test, data.y_test), lr=setting["lr"],
                momentum=cfg["momentum"], schedule=setting["schedule"], seed=seed, progress=False, **common)
            for model, setting in zip(models, settings)]


def _summarise(setting, cfg, seed, model, hist, pre_init, X_probe, probe_layer, device) -> dict:
    """The plain dict of one trained setting (see ``run_setting``)."""
    n_classes = NUM_CLASSES[setting["data"]]
    diverged = bool(hist.diverged)
    params_finite = all(bool(torch.isfinite(p).all()) for p in model.parameters())

    curves = {name: _finite_prefix(getattr(hist, name))
              for name in ("eval_train_loss", "test_loss", "train_acc", "test_acc")}
    n_eval = min(len(v) for v in curves.values())
    every = 2 if len(hist.lr) > 80 else 1
    lr_idx = [i for i in range(len(hist.lr)) if i % every == 0 or i == len(hist.lr) - 1]
    layers = list(hist.grad_norms)
    grad_first = [hist.grad_norms[name][0] if hist.grad_norms[name] else None for name in layers]
    grad_last = [hist.grad_norms[name][-1] if hist.grad_norms[name] else None for name in layers]
    grad_first = [g if g is not None and math.isfinite(g) else None for g in grad_first]
    grad_last = [g if g is not None and math.isfinite(g) else None for g in grad_last]

    pre_final = _pre_activations(model, X_probe, probe_layer) if params_finite else None
    if pre_final is not None and not np.isfinite(pre_final).all():
        pre_final = None
    pool = pre_init if pre_final is None else np.concatenate([pre_init, pre_final])
    pool = pool[np.isfinite(pool)]
    lo, hi = np.percentile(pool, [0.5, 99.5]) if pool.size else (-1.0, 1.0)
    lo, hi = min(float(lo), -1.0), max(float(hi), 1.0)
    edges = np.linspace(lo, hi, HIST_BINS + 1)

    def histogram(values):
        values = np.clip(values[np.isfinite(values)], lo, hi)
        counts, _ = np.histogram(values, bins=edges)
        return (counts / max(1, counts.sum())).round(4).tolist()

    boundary = None
    if setting["data"] == "spirals" and params_finite and not diverged:
        grid = _boundary(model, device)
        if np.isfinite(grid).all():
            boundary = grid.round(3).tolist()

    chance = 1.0 / n_classes
    final_train_acc = curves["train_acc"][n_eval - 1] if n_eval else None
    if diverged:
        status = "diverged"
    elif final_train_acc is None or final_train_acc < chance + 0.1 * (1 - chance):
        status = "chance"
    else:
        status = "ok"
    return {
        "setting": setting,
        "key": setting_key(setting),
        "config": {**cfg, "seed": seed},
        "eval_steps": [int(s) for s in hist.eval_steps[:n_eval]],
        "train_loss": curves["eval_train_loss"][:n_eval],
        "test_loss": curves["test_loss"][:n_eval],
        "train_acc": curves["train_acc"][:n_eval],
        "test_acc": curves["test_acc"][:n_eval],
        "lr_steps": [int(hist.steps[i]) for i in lr_idx],
        "lr": [float(hist.lr[i]) for i in lr_idx],
        "grad_layers": layers,
        "grad_steps": [int(hist.grad_steps[0]), int(hist.grad_steps[-1])] if hist.grad_steps else [],
        "grad_first": grad_first,
        "grad_last": grad_last,
        "hist_layer": probe_layer,
        "hist_edges": edges.round(4).tolist(),
        "hist_init": histogram(pre_init),
        "hist_final": None if pre_final is None else histogram(pre_final),
        "boundary": boundary,
        "diverged": diverged,
        "diverged_at": hist.diverged_at,
        "chance": chance,
        "status": status,
        "total_steps": cfg["steps"],
    }


class Grid:
    """The settings of one panel: ``start`` with the ``vary`` controls in every combination of ``options``.

    ``result(setting)`` trains a setting the first time it is asked for and remembers it;
    ``results()`` trains whatever is missing and returns every setting in grid order.
    Arguments are checked by ``Playground``, which builds the grid.
    """

    def __init__(self, vary: tuple, start: dict, options: dict, *, seed: int, device, config: dict):
        self.vary, self.start, self.options = vary, start, options
        self.seed, self.device, self.config = seed, device, config
        self._data = {}
        self._results = {}

    def settings(self) -> list:
        """Every setting of the grid (the start setting with the varied controls in all combinations)."""
        combos = itertools.product(*self.options.values())
        return [{**self.start, **dict(zip(self.vary, values))} for values in combos]

    def key(self, setting: dict) -> str:
        """Key of a setting in this grid: the varied controls' values joined by "/"."""
        return setting_key(setting, self.vary)

    def data(self, name: str):
        """The data set ``name`` (loaded once per grid)."""
        if name not in self._data:
            self._data[name] = load_data(name, self.seed)
        return self._data[name]

    def is_trained(self, setting: dict) -> bool:
        return self.key({**self.start, **setting}) in self._results

    def result(self, setting: dict | None = None) -> dict:
        """The ``run_setting`` dict of one setting (default: the start setting), trained on first use."""
        setting = self.start if setting is None else {**self.start, **setting}
        fixed = {name for name in self.start if name not in self.vary and setting[name] != self.start[name]}
        if fixed:
            raise ValueError(f"{sorted(fixed)} do not vary in this grid; vary is {list(self.vary)}")
        key = self.key(setting)
        if key not in self._results:
            if self.device is None:
                from helpers.device import get_device
                self.device = get_device()
            self._results[key] = run_setting(setting, seed=self.seed, device=self.device,
                                             data=self.data(setting["data"]), **self.config)
        return self._results[key]

    def results(self) -> dict:
        """{key: result} for every setting of the grid, in grid order (trains the missing ones together,
        ``run_settings``: the same numbers as one at a time)."""
        missing = [s for s in self.settings() if self.key(s) not in self._results]
        if self.device is None and missing:
            from helpers.device import get_device
            self.device = get_device()
        for name in OrderedDict.fromkeys(s["data"] for s in missing):
            todo = [s for s in missing if s["data"] == name]
            trained = run_settings(todo, seed=self.seed, device=self.device, data=self.data(name), **self.config)
            self._results.update((self.key(s), r) for s, r in zip(todo, trained))
        return OrderedDict((self.key(s), self.result(s)) for s in self.settings())
