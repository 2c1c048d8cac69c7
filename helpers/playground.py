"""The training playground («زمین بازی آموزش»): toggles for batch norm, activation, LR schedule, depth and data.

One notebook cell serves both places the book is read::

    from helpers.playground import Playground
    Playground(vary=("norm",), start={"activation": "sigmoid", "depth": 6})

* In JupyterLab the cell shows live ipywidgets: flipping a toggle redraws the panel through
  the kernel (a dictionary look-up and an SVG string: a few milliseconds).
* On the static site (no kernel) the same output carries a ``text/html`` panel with every
  combination of the varied controls precomputed; ``_static/playground.js`` (a few lines)
  swaps the precomputed views when a radio button changes. No request leaves the page.
  The book must prefer ``text/html`` over the widget view for this output: in ``_config.yml``
  ``sphinx.config.nb_mime_priority_overrides: [[html, text/html, 5]]``.

Every setting trains ``helpers.models.make_mlp`` with ``helpers.train.fit`` (plain SGD, fixed
seed), so the grid is deterministic on the CPU. The whole grid is trained when the cell is
displayed (a ``tqdm`` bar shows progress in an interactive session) and cached in this module,
so a second playground over the same settings costs nothing. A run whose loss becomes NaN or
infinite is shown as «واگرا شد» (``fit`` stops it; nothing raises).

For each setting the panel shows: train/test loss and accuracy, the learning rate of the
schedule, per-layer gradient norms (at the first step and at the end), the histogram of the
last hidden layer's pre-activations (the input of its activation function: what batch norm
changes) before and after training, and for the 2-D spirals the decision boundary.
Plots are drawn as SVG by ``render_view`` (one renderer for both places).
"""
from __future__ import annotations

import base64
import copy
import functools
import hashlib
import html
import io
import itertools
import json
import math
import os
from collections import OrderedDict

import numpy as np
import torch

from helpers.models import make_mlp
from helpers.seeding import set_seed
from helpers.train import fit

__all__ = ["CONTROLS", "DEFAULT_START", "TRAIN_CONFIG", "DIVERGED", "Playground", "run_setting",
           "render_summary", "render_data", "render_chrome", "render_view", "setting_key", "clear_cache"]

# Each control: its Persian title and its options (value -> label). Values are what the
# training code receives; labels are what the reader sees.
CONTROLS = OrderedDict([
    ("data", ("داده", OrderedDict([("spirals", "دو مارپیچ (دوبعدی)"), ("digits", "ارقام ۸×۸")]))),
    ("norm", ("نرمال‌سازی دسته‌ای", OrderedDict([("none", "بدون"), ("before", "پیش از فعال‌سازی"),
                                                 ("after", "پس از فعال‌سازی")]))),
    ("activation", ("تابع فعال‌سازی", OrderedDict([("sigmoid", "sigmoid"), ("tanh", "tanh"),
                                                  ("relu", "ReLU")]))),
    ("schedule", ("زمان‌بندی نرخ یادگیری", OrderedDict([("constant", "ثابت"), ("step", "کاهش پله‌ای"),
                                                        ("cosine", "کسینوسی"), ("cyclical", "چرخه‌ای")]))),
    ("depth", ("عمق (لایه‌های پنهان)", OrderedDict([(2, "2"), (6, "6")]))),
    ("lr", ("نرخ یادگیری", OrderedDict([(0.1, "0.1"), (0.3, "0.3"), (1.0, "1"), (30.0, "30")]))),
])
DEFAULT_START = {"data": "spirals", "norm": "none", "activation": "relu", "schedule": "constant",
                 "depth": 6, "lr": 0.3}
# The scale of every run: tiny, so the whole grid trains in seconds on one CPU thread.
TRAIN_CONFIG = {"hidden": 32, "steps": 150, "batch_size": 32, "eval_every": 10, "momentum": 0.0}
NUM_CLASSES = {"spirals": 2, "digits": 10}
BOUNDARY_RES = 32          # the decision boundary is a BOUNDARY_RES² grid of probabilities
BOUNDARY_BOX = 1.3         # ... over [-BOX, BOX]² (the spirals have radius ≈ 1)
HIST_BINS = 30
HIST_ROWS = 512            # pre-activations are measured on this many training rows
DIVERGED = "واگرا شد"
CHANCE = "در حد حدس تصادفی"

_CACHE: dict = {}


def clear_cache() -> None:
    """Forget every trained setting (tests use it to time a cold grid)."""
    _CACHE.clear()


def setting_key(setting: dict, controls=None) -> str:
    """The key of a setting: its values in control order joined by "/" (e.g. "digits/none/relu/constant/6/0.3")."""
    names = list(CONTROLS) if controls is None else list(controls)
    return "/".join(_fmt_value(setting[name]) for name in names)


def _fmt_value(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _check_setting(setting: dict) -> dict:
    if not isinstance(setting, dict):
        raise TypeError(f"setting must be a dict, got {type(setting).__name__}")
    unknown = set(setting) - set(CONTROLS)
    if unknown:
        raise ValueError(f"unknown controls {sorted(unknown)}; known: {list(CONTROLS)}")
    missing = set(CONTROLS) - set(setting)
    if missing:
        raise ValueError(f"setting lacks {sorted(missing)}")
    for name, value in setting.items():
        if name in ("data", "norm", "activation", "schedule") and value not in CONTROLS[name][1]:
            raise ValueError(f"{name} must be one of {list(CONTROLS[name][1])}, got {value!r}")
    depth, lr = setting["depth"], setting["lr"]
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
        raise ValueError(f"depth must be an int >= 1, got {depth!r}")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr must be a positive finite number, got {lr!r}")
    return {**setting, "lr": float(lr)}


# ----------------------------------------------------------------------------- training
@functools.lru_cache(maxsize=None)
def _dataset(name: str, seed: int):
    from helpers.data import load_digits, make_spirals
    if name == "spirals":
        return make_spirals(n_per_class=200, n_classes=2, noise=0.1, turns=1.0, seed=seed)
    return load_digits(seed=seed)


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


def run_setting(setting: dict, *, seed: int = 0, device=None, **config) -> dict:
    """Train one playground setting and return a plain dict (lists of finite floats, JSON-friendly).

    ``setting``: one value per control of ``CONTROLS`` (data, norm, activation, schedule, depth,
    lr; lr may be any positive number). ``config`` overrides ``TRAIN_CONFIG``. Keys:
    ``eval_steps``, ``train_loss``/``test_loss``/``train_acc``/``test_acc`` (whole sets, eval
    mode; cut at the first non-finite value), ``lr_steps``/``lr``, ``grad_layers`` with
    ``grad_first``/``grad_last`` (weight-gradient norm per layer at step 1 and at the last
    recorded step), ``hist_edges`` with ``hist_init``/``hist_final`` (pre-activations of the last
    hidden layer; ``hist_final`` None if the run diverged), ``boundary`` (spirals only: rows of
    P(class 1); None if diverged), ``diverged``/``diverged_at``, ``chance`` (1 / classes),
    ``status`` ("ok", "diverged" or "chance").
    """
    setting = _check_setting(setting)
    cfg = {**TRAIN_CONFIG, **config}
    unknown = set(cfg) - set(TRAIN_CONFIG)
    if unknown:
        raise ValueError(f"unknown training options {sorted(unknown)}; known: {list(TRAIN_CONFIG)}")
    if device is None:
        from helpers.device import get_device
        device = get_device()
    device = torch.device(device)
    data = _dataset(setting["data"], seed)
    n_classes = NUM_CLASSES[setting["data"]]
    depth = setting["depth"]
    set_seed(seed)
    norm = None if setting["norm"] == "none" else "batch"
    model = make_mlp(data.X_train.shape[1], cfg["hidden"], depth, n_classes, activation=setting["activation"],
                     norm=norm, norm_position="before" if norm is None else setting["norm"]).to(device)
    probe_layer = f"act{depth}"
    X_probe = data.X_train[:HIST_ROWS].to(device)
    pre_init = _pre_activations(model, X_probe, probe_layer)
    hist = fit(model, (data.X_train, data.y_train), test=(data.X_test, data.y_test), steps=cfg["steps"],
               batch_size=cfg["batch_size"], lr=setting["lr"], momentum=cfg["momentum"],
               schedule=setting["schedule"], eval_every=cfg["eval_every"], record_grad_norms=True,
               seed=seed, device=device, progress=False)
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


def _cached_run(setting: dict, seed: int, device, config: dict) -> dict:
    key = (setting_key(setting), seed, str(torch.device(device)), tuple(sorted(config.items())))
    if key not in _CACHE:
        _CACHE[key] = run_setting(setting, seed=seed, device=device, **config)
    return _CACHE[key]


# ----------------------------------------------------------------------------- SVG rendering
# A view is drawn in two layers, so the page ships the unchanging parts once:
# * the chrome (``render_chrome``): frames, titles, legends, axis names, the fixed ticks;
# * the data (``render_data``): the curves, histograms, boundary and the ticks that depend on
#   the setting, as an SVG fragment placed in the chrome's ``<g class="dlfa-pg-data">``.
# Coordinates are whole pixels and straight runs of a polyline are merged, to keep it small.
W, H = 780, 418                       # the view's SVG size (it scales with the page width)
PANEL_W, PANEL_H = 218, 130
TOP, BOTTOM = 34, 34 + PANEL_H + 62
COLS = (48, 48 + PANEL_W + 36, 48 + 2 * (PANEL_W + 36))
COLORS = {"train": "#1f77b4", "test": "#ff7f0e", "lr": "#2ca02c", "init": "#9a9a9a", "final": "#1f77b4",
          "class0": (31, 119, 180), "class1": (214, 39, 40), "chance": "#888"}
SVG_CSS = (".dlfa-pg svg .fr{fill:none;stroke:#bbb}.dlfa-pg svg .gr{stroke:#eee}"
           ".dlfa-pg svg .tt{font-size:12px;text-anchor:middle;font-weight:bold}"
           ".dlfa-pg svg .yt{font-size:9px;text-anchor:end;fill:#555}"
           ".dlfa-pg svg .xt{font-size:9px;text-anchor:middle;fill:#555}"
           ".dlfa-pg svg .xl{font-size:10px;text-anchor:middle;fill:#333}"
           ".dlfa-pg svg .lg{font-size:11px;text-anchor:start}"
           ".dlfa-pg svg .nt{font-size:12px;text-anchor:middle;fill:#777}"
           ".dlfa-pg svg .dv{font-size:15px;text-anchor:middle;fill:#c62828;font-weight:bold}"
           ".dlfa-pg-summary{direction:rtl;margin:.3em 0}.dlfa-pg-diverged{color:#c62828}"
           ".dlfa-pg-chance{color:#8a6d00}")


def _nice_ticks(lo: float, hi: float, n: int = 4) -> list:
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=10 * mag)
    start = math.ceil(lo / step - 1e-9) * step
    ticks, t = [], start
    while t <= hi + 1e-9 * step:
        ticks.append(round(t, 10))
        t += step
    return ticks


def _fmt_tick(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1e4 or abs(v) < 1e-3:
        return f"{v:.0e}".replace("e+0", "e").replace("e-0", "e-")
    return f"{v:g}"


def _esc(text) -> str:
    return html.escape(str(text), quote=True)


def _simplify(pts, tol=0.6):
    """Drop points that lie within ``tol`` pixels of the segment joining their neighbours."""
    if len(pts) <= 2:
        return pts
    out = [pts[0]]
    for i in range(1, len(pts) - 1):
        (x0, y0), (x1, y1), (x2, y2) = out[-1], pts[i], pts[i + 1]
        dx, dy = x2 - x0, y2 - y0
        norm = math.hypot(dx, dy)
        dist = abs(dy * (x1 - x0) - dx * (y1 - y0)) / norm if norm else math.hypot(x1 - x0, y1 - y0)
        if dist > tol:
            out.append(pts[i])
    out.append(pts[-1])
    return out


class _Axes:
    """The coordinate map of one small chart at (x0, y0)."""

    def __init__(self, x0, y0, xlim, ylim, *, ylog=False):
        self.x0, self.y0, self.ylog = x0, y0, ylog
        self.xlim = xlim if xlim[1] > xlim[0] else (xlim[0], xlim[0] + 1)
        lo, hi = ylim
        if ylog:
            lo, hi = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
            hi = max(hi, lo + 1)
        elif hi <= lo:
            hi = lo + 1
        self.ylim = (lo, hi)

    def sx(self, x):
        a, b = self.xlim
        return self.x0 + (x - a) / (b - a) * PANEL_W

    def sy(self, y):
        if self.ylog:
            y = math.log10(max(y, 10.0 ** self.ylim[0]))
        a, b = self.ylim
        y = min(max(y, a), b)
        return self.y0 + PANEL_H - (y - a) / (b - a) * PANEL_H

    def yticks(self):
        if self.ylog:
            decades = list(range(int(self.ylim[0]), int(self.ylim[1]) + 1))
            stride = max(1, math.ceil(len(decades) / 5))
            ticks = [(10.0 ** d, "1" if d == 0 else "10" if d == 1 else f"1e{d}") for d in decades[::stride]]
        else:
            ticks = [(v, _fmt_tick(v)) for v in _nice_ticks(*self.ylim)]
        return "".join(f"<text x='{self.x0 - 4}' y='{self.sy(v) + 3:.0f}' class='yt'>{label}</text>"
                       for v, label in ticks)

    def xticks(self, ticks=None):
        ticks = _nice_ticks(*self.xlim, n=3) if ticks is None else ticks
        return "".join(f"<text x='{self.sx(v):.0f}' y='{self.y0 + PANEL_H + 12}' class='xt'>{_fmt_tick(v)}</text>"
                       for v in ticks)

    def line(self, xs, ys, color, *, dash=False, width=1.6):
        pts = _simplify([(round(self.sx(x)), round(self.sy(y))) for x, y in zip(xs, ys) if y is not None])
        if not pts:
            return ""
        d = " ".join(f"{x},{y}" for x, y in pts)
        extra = " stroke-dasharray='4 3'" if dash else ""
        return f"<polyline points='{d}' fill='none' stroke='{color}' stroke-width='{width}'{extra}/>"

    def dots(self, xs, ys, color):
        d = "".join(f"M{self.sx(x):.0f} {self.sy(y):.0f}h0" for x, y in zip(xs, ys) if y)
        return f"<path d='{d}' stroke='{color}' stroke-width='5' stroke-linecap='round'/>" if d else ""


def _panel_chrome(x0, y0, title, xlabel=None):
    out = [f"<rect x='{x0}' y='{y0}' width='{PANEL_W}' height='{PANEL_H}' class='fr'/>",
           f"<text x='{x0 + PANEL_W / 2:.0f}' y='{y0 - 8}' class='tt' direction='rtl'>{_esc(title)}</text>"]
    if xlabel:
        out.append(f"<text x='{x0 + PANEL_W / 2:.0f}' y='{y0 + PANEL_H + 25}' class='xl' "
                   f"direction='rtl'>{_esc(xlabel)}</text>")
    return "".join(out)


LEGEND = (("آموزش", "train", False), ("آزمون", "test", True), ("حدس تصادفی", "chance", True),
          ("آغاز آموزش", "init", False), ("پایان آموزش", "final", False))


def _legend(y: int) -> str:
    """One legend for all six charts, right to left along the bottom of the view."""
    out, x = [], W - 60
    for label, color, dash in LEGEND:
        extra = " stroke-dasharray='4 3'" if dash else ""
        out.append(f"<line x1='{x}' x2='{x + 20}' y1='{y - 4}' y2='{y - 4}' stroke='{COLORS[color]}' "
                   f"stroke-width='2.5'{extra}/><text x='{x - 5}' y='{y}' class='lg' direction='rtl'>{_esc(label)}</text>")
        x -= 36 + 6 * len(label)
    return "".join(out)


def render_chrome(steps: int) -> str:
    """The SVG parts every view shares (``steps``: the length of every run)."""
    acc = _Axes(COLS[1], TOP, (0, steps), (0, 1))
    grid = "".join(f"<line x1='{acc.x0}' x2='{acc.x0 + PANEL_W}' y1='{acc.sy(v):.0f}' y2='{acc.sy(v):.0f}' "
                   f"class='gr'/>" for v in (0.25, 0.5, 0.75))
    parts = [
        _panel_chrome(COLS[0], TOP, "زیان (loss)", "گام"),
        grid + _panel_chrome(COLS[1], TOP, "دقت (accuracy)", "گام"),
        _panel_chrome(COLS[2], TOP, "نرخ یادگیری", "گام"),
        _panel_chrome(COLS[0], BOTTOM, "نرم گرادیان وزن‌های هر لایه", "لایه"),
        _panel_chrome(COLS[1], BOTTOM, "ورودی تابع فعال‌سازی، آخرین لایهٔ پنهان", "مقدار"),
        _panel_chrome(COLS[2], BOTTOM, "مرز تصمیم (دادهٔ آزمون)"),
        acc.yticks(), _legend(H - 6),
    ]
    for col in COLS:
        parts.append(_Axes(col, TOP, (0, steps), (0, 1)).xticks())
    return "".join(parts)


def _boundary_png(boundary) -> str:
    """Encode P(class 1) rows as a small PNG data URI, blending the two class colours."""
    import matplotlib.image as mpimg
    p = np.asarray(boundary, dtype=float)[..., None]
    c0, c1 = np.array(COLORS["class0"]) / 255, np.array(COLORS["class1"]) / 255
    rgb = 1 - 0.45 * (1 - ((1 - p) * c0 + p * c1))   # pale, so the points stay visible
    rgb = np.round(rgb * 16) / 16                    # few colours: a smaller PNG
    buf = io.BytesIO()
    mpimg.imsave(buf, rgb.clip(0, 1), format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def points_symbol(uid: str, seed: int = 0) -> str:
    """An SVG <symbol> with the spirals' test points (once per panel, used by every view)."""
    data = _dataset("spirals", seed)
    paths = []
    for cls in (0, 1):
        pts = data.X_test[data.y_test == cls].numpy()
        d = "".join(f"M{(x + BOUNDARY_BOX) / (2 * BOUNDARY_BOX) * PANEL_H:.0f} "
                    f"{(BOUNDARY_BOX - y) / (2 * BOUNDARY_BOX) * PANEL_H:.0f}h0" for x, y in pts)
        color = "rgb(%d,%d,%d)" % COLORS[f"class{cls}"]
        paths.append(f"<path d='{d}' stroke='{color}' stroke-width='3.2' stroke-linecap='round' fill='none'/>")
    return f"<symbol id='{uid}-pts'>{''.join(paths)}</symbol>"


def render_summary(r: dict) -> str:
    """The Persian result line of a view (HTML): final accuracies, or «واگرا شد» and the step."""
    if r["diverged"]:
        return (f"<strong class='dlfa-pg-diverged'>{DIVERGED}</strong>: زیان در گام "
                f"<bdi>{r['diverged_at']}</bdi> به NaN یا بی‌نهایت رسید و آموزش متوقف شد.")
    text = (f"دقت آموزش <bdi>{r['train_acc'][-1]:.3f}</bdi>، دقت آزمون <bdi>{r['test_acc'][-1]:.3f}</bdi>، "
            f"زیان آزمون <bdi>{r['test_loss'][-1]:.3f}</bdi>")
    if r["status"] == "chance":
        text += f" (<strong class='dlfa-pg-chance'>{CHANCE}</strong>)"
    return text + "."


def render_data(r: dict, uid: str) -> str:
    """The SVG fragment of one setting: curves, histograms, boundary and setting-dependent ticks."""
    steps = r["total_steps"]
    xs = r["eval_steps"]
    out = []
    n_classes = round(1 / r["chance"])
    ax = _Axes(COLS[0], TOP, (0, steps), (0, 1.6 * math.log(n_classes)))
    out += [ax.yticks(), ax.line(xs, r["train_loss"], COLORS["train"]),
            ax.line(xs, r["test_loss"], COLORS["test"], dash=True)]

    ax = _Axes(COLS[1], TOP, (0, steps), (0, 1))
    out += [ax.line([0, steps], [r["chance"]] * 2, COLORS["chance"], dash=True, width=1),
            ax.line(xs, r["train_acc"], COLORS["train"]), ax.line(xs, r["test_acc"], COLORS["test"], dash=True)]

    ax = _Axes(COLS[2], TOP, (0, steps), (0, r["setting"]["lr"] * 1.1))
    out += [ax.yticks(), ax.line([s - 1 for s in r["lr_steps"]], r["lr"], COLORS["lr"])]

    grads = [g for g in r["grad_first"] + r["grad_last"] if g]
    layer_x = list(range(1, len(r["grad_layers"]) + 1))
    ax = _Axes(COLS[0], BOTTOM, (0.6, len(layer_x) + 0.4), (min(grads, default=1e-3), max(grads, default=1)),
               ylog=True)
    out += [ax.yticks(), ax.xticks(layer_x),
            ax.line(layer_x, r["grad_first"], COLORS["init"]), ax.dots(layer_x, r["grad_first"], COLORS["init"]),
            ax.line(layer_x, r["grad_last"], COLORS["final"]), ax.dots(layer_x, r["grad_last"], COLORS["final"])]

    edges = r["hist_edges"]
    peak = max(r["hist_init"] + (r["hist_final"] or []))
    ax = _Axes(COLS[1], BOTTOM, (edges[0], edges[-1]), (0, peak * 1.1 or 1))
    out.append(ax.xticks())
    for counts, color in ((r["hist_init"], COLORS["init"]), (r["hist_final"], COLORS["final"])):
        if counts is None:
            continue
        d = [f"M{ax.sx(edges[0]):.0f} {ax.sy(0):.0f}"]
        for i, c in enumerate(counts):
            d.append(f"V{ax.sy(c):.0f}H{ax.sx(edges[i + 1]):.0f}")
        out.append(f"<path d='{''.join(d)}V{ax.sy(0):.0f}' fill='{color}' fill-opacity='0.25' stroke='{color}'/>")

    x0 = COLS[2] + (PANEL_W - PANEL_H) / 2
    note = None
    if r["boundary"] is not None:
        out.append(f"<image x='{x0:.0f}' y='{BOTTOM}' width='{PANEL_H}' height='{PANEL_H}' "
                   f"preserveAspectRatio='none' href='{_boundary_png(r['boundary'])}'/>"
                   f"<use href='#{uid}-pts' x='{x0:.0f}' y='{BOTTOM}'/>")
    elif r["setting"]["data"] != "spirals":
        note = "فقط برای دادهٔ دوبعدی"
    else:
        note = DIVERGED
    if note:
        out.append(f"<text x='{COLS[2] + PANEL_W / 2:.0f}' y='{BOTTOM + PANEL_H / 2:.0f}' class='nt' "
                   f"direction='rtl'>{_esc(note)}</text>")
    if r["diverged"]:
        out.append(f"<text x='{W / 2:.0f}' y='16' class='dv' direction='rtl'>{DIVERGED}</text>")
    return "".join(out)


def render_view(r: dict, uid: str) -> str:
    """One complete, self-contained view (summary + SVG with chrome and data): the live widget's HTML."""
    defs = points_symbol(uid, r["config"]["seed"]) if r["setting"]["data"] == "spirals" else ""
    return (f"<div class='dlfa-pg-summary' dir='rtl'>{render_summary(r)}</div>"
            f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {W} {H}' width='100%' "
            f"style='max-width:{W}px;font-family:inherit' role='img'><defs>{defs}</defs>"
            f"{render_chrome(r['total_steps'])}<g class='dlfa-pg-data'>{render_data(r, uid)}</g></svg>")


# ----------------------------------------------------------------------------- the panel
def _show_progress(progress) -> bool:
    from helpers.train import _is_interactive
    if progress is None:
        return "DLFA_QUIET" not in os.environ and _is_interactive()
    return bool(progress)


class Playground:
    """A control panel over a grid of settings; displaying it trains the grid once (cached).

    vary: the controls the reader can toggle (default: data, norm, activation, schedule, depth;
    the learning rate stays at ``start["lr"]``); the other controls stay at ``start``.
    options: per varied control, the values offered (default: all of that control's values in
    ``CONTROLS``; they must include the start value). start: the initial setting (missing keys
    from ``DEFAULT_START``). seed, device, **config: passed to ``run_setting`` for every setting
    (device None: ``helpers.get_device()``). progress: None shows a bar only in an interactive
    session without ``DLFA_QUIET`` (as ``fit`` does).
    """

    def __init__(self, vary=("data", "norm", "activation", "schedule", "depth"), *, start=None, options=None,
                 seed=0, device=None, progress=None, **config):
        if isinstance(vary, str):
            vary = (vary,)
        for name in vary:
            if name not in CONTROLS:
                raise ValueError(f"cannot vary {name!r}; controls are {list(CONTROLS)}")
        self.vary = tuple(name for name in CONTROLS if name in vary)
        if not self.vary:
            raise ValueError("vary at least one control")
        self.start = _check_setting({**DEFAULT_START, **(start or {})})
        self.options = OrderedDict()
        for name in self.vary:
            values = list((options or {}).get(name, CONTROLS[name][1]))
            if self.start[name] not in values:
                raise ValueError(f"start {name}={self.start[name]!r} is not among the options {values}")
            self.options[name] = values
        unknown = set(config) - set(TRAIN_CONFIG)
        if unknown:
            raise ValueError(f"unknown training options {sorted(unknown)}; known: {list(TRAIN_CONFIG)}")
        self.seed, self.device, self.progress, self.config = seed, device, progress, dict(config)
        self.steps = {**TRAIN_CONFIG, **config}["steps"]
        digest = hashlib.sha1(json.dumps([self.vary, setting_key(self.start), list(map(str, self.options.values())),
                                          seed, sorted(config.items())]).encode()).hexdigest()[:8]
        self.uid = f"dlfa-pg-{digest}"
        self._results = None
        self._widget = None

    # -- grid
    def settings(self) -> list:
        """Every setting of the grid (the start setting with the varied controls in all combinations)."""
        combos = itertools.product(*self.options.values())
        return [{**self.start, **dict(zip(self.vary, values))} for values in combos]

    def key(self, setting: dict) -> str:
        """Key of a setting in this panel: the varied controls' values joined by "/"."""
        return setting_key(setting, self.vary)

    def _resolved_device(self):
        if self.device is None:
            from helpers.device import get_device
            return get_device()
        return torch.device(self.device)

    def compute(self) -> dict:
        """Train (or fetch from the cache) every setting; returns {key: result} in grid order."""
        if self._results is None:
            settings = self.settings()
            bar = None
            if _show_progress(self.progress):
                from tqdm.auto import tqdm
                bar = tqdm(total=len(settings), desc="playground", leave=False)
            device = self._resolved_device()
            results = OrderedDict()
            try:
                for s in settings:
                    results[self.key(s)] = _cached_run(s, self.seed, device, self.config)
                    if bar is not None:
                        bar.update(1)
            finally:
                if bar is not None:
                    bar.close()
            self._results = results
        return self._results

    def result(self, setting: dict | None = None) -> dict:
        """The result dict of one setting (default: the start setting); keys as in ``run_setting``."""
        setting = self.start if setting is None else {**self.start, **setting}
        return self.compute()[self.key(setting)]

    def _defs(self) -> str:
        uses_spirals = self.start["data"] == "spirals" or "spirals" in self.options.get("data", ())
        return points_symbol(self.uid, self.seed) if uses_spirals else ""

    def _fixed_html(self) -> str:
        fixed = [name for name in CONTROLS if name not in self.vary]
        if not fixed:
            return ""
        items = "، ".join(f"{CONTROLS[n][0]}: {_esc(CONTROLS[n][1].get(self.start[n], _fmt_value(self.start[n])))}"
                          for n in fixed)
        return f"<div class='dlfa-pg-fixed' dir='rtl'>ثابت: {items}</div>"

    def _svg(self, data: str) -> str:
        return (f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {W} {H}' width='100%' "
                f"style='max-width:{W}px;font-family:inherit' role='img'><defs>{self._defs()}</defs>"
                f"{render_chrome(self.steps)}<g class='dlfa-pg-data'>{data}</g></svg>")

    # -- static site
    def views(self) -> dict:
        """{key: [summary HTML, SVG data fragment]} for every setting: what playground.js swaps in."""
        return {key: [render_summary(r), render_data(r, self.uid)] for key, r in self.compute().items()}

    def to_html(self) -> str:
        """The kernel-free panel: radio buttons, the start view, and every view as JSON for playground.js."""
        views = self.views()
        fieldsets = []
        for name in self.vary:
            title, labels = CONTROLS[name]
            radios = "".join(
                f"<label><input type='radio' name='{self.uid}-{name}' value='{_esc(_fmt_value(v))}'"
                f"{' checked' if v == self.start[name] else ''}> {_esc(labels.get(v, _fmt_value(v)))}</label>"
                for v in self.options[name])
            fieldsets.append(f"<fieldset data-control='{name}'><legend>{_esc(title)}</legend>{radios}</fieldset>")
        start_key = self.key(self.start)
        summary, data = views[start_key]
        payload = json.dumps({"controls": list(self.vary), "views": views}, ensure_ascii=False,
                             separators=(",", ":")).replace("</", "<\\/")
        return (f"<div class='dlfa-pg' id='{self.uid}' dir='rtl' lang='fa'>"
                f"<form class='dlfa-pg-controls' onsubmit='return false'>{''.join(fieldsets)}</form>"
                f"{self._fixed_html()}"
                f"<div class='dlfa-pg-view' dir='ltr' data-key='{_esc(start_key)}'>"
                f"<div class='dlfa-pg-summary' dir='rtl'>{summary}</div>{self._svg(data)}</div>"
                f"<script type='application/json' class='dlfa-pg-data'>{payload}</script></div>")

    # -- JupyterLab
    def live_view(self, setting: dict | None = None) -> str:
        """The HTML the live widget shows for one setting (the same summary and SVG as the static panel)."""
        r = self.result(setting)
        return (f"<style>{SVG_CSS}</style><div class='dlfa-pg' dir='ltr' data-key='{_esc(self.key(r['setting']))}'>"
                f"<div class='dlfa-pg-summary' dir='rtl'>{render_summary(r)}</div>"
                f"{self._svg(render_data(r, self.uid))}</div>")

    def widget(self):
        """The live ipywidgets panel: toggle buttons and an HTML view redrawn by the kernel."""
        import ipywidgets as W

        results = self.compute()
        state = dict(self.start)
        view = W.HTML(value=self.live_view())
        view.add_class("dlfa-pg-live-view")
        rows = []
        for name in self.vary:
            title, labels = CONTROLS[name]
            toggle = W.ToggleButtons(options=[(labels.get(v, _fmt_value(v)), v) for v in self.options[name]],
                                     value=self.start[name], style={"button_width": "auto"})
            toggle.add_class(f"dlfa-pg-{name}")

            def on_change(change, name=name):
                state[name] = change["new"]
                key = self.key(state)
                if key not in results:           # only reachable if options were edited by hand
                    results[key] = _cached_run(dict(state), self.seed, self._resolved_device(), self.config)
                view.value = self.live_view(state)

            toggle.observe(on_change, names="value")
            label = W.HTML(f"<div dir='rtl' style='text-align:right'><b>{_esc(title)}</b></div>",
                           layout=W.Layout(width="12em"))
            rows.append(W.HBox([toggle, label], layout=W.Layout(justify_content="flex-end")))
        box = W.VBox([*rows, W.HTML(self._fixed_html()), view])
        box.add_class("dlfa-pg-live")
        self._widget = box
        return box

    def __repr__(self):
        return f"Playground(vary={self.vary!r}, start={setting_key(self.start)!r})"

    def _repr_mimebundle_(self, include=None, exclude=None):
        """text/html (the kernel-free panel, for the book) and the widget view (for JupyterLab)."""
        bundle = {"text/plain": repr(self), "text/html": self.to_html()}
        try:
            widget_bundle = self.widget()._repr_mimebundle_()
        except ImportError:  # pragma: no cover - ipywidgets is in requirements.txt
            return bundle
        bundle.update({k: v for k, v in (widget_bundle or {}).items() if k != "text/plain"})
        return bundle
