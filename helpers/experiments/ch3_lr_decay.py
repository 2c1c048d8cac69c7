"""Chapter 3 («کاهش نرخ یادگیری»): the experiments behind its figures and claims.

Two laboratories, each experiment a function returning a plain dict (lists and numbers), run with
the book's settings (``SETTINGS``) by the chapter, the claims registry and the tests
(``run(name, ...)``, see ``helpers.experiments.settings``):

- a two-dimensional ill-conditioned quadratic with noisy gradients (pure NumPy, milliseconds):
  ``quadratic_paths`` (the source post's three panels: a too-small, a decaying and a too-large rate)
  and ``stationary_spread`` (the noise floor of constant-rate SGD against its formula,
  ``stationary_excess_loss``);
- MNIST-1D (``helpers.data.make_mnist1d``) with a small ReLU MLP
  (``helpers.experiments.common.seeded_mlp``): ``lr_sweep`` (the U-shaped curve; divergence
  reported, never raised) and ``compare_schedules`` (every schedule of ``SCHEDULE_NAMES`` on the same
  model, data and mini-batches, in a noisy and a benign regime).

The MNIST-1D experiments train many copies of one network at once with ``batched_fit``, the fast
path of ``helpers.train.fit``: the same initial weights and mini-batches, one learning rate (or
schedule) per copy, one batched matrix product per layer. Each copy follows the update of ``fit``
with SGD and momentum (``tests/test_experiments_ch3.py`` checks the two copy by copy), at a fraction
of the cost of one ``fit`` per copy; that is what lets the chapter compare nine schedules on three
seeds within its CPU budget. ``fit`` is the loop to read; ``batched_fit`` is the same loop, batched.

Results are deterministic for a given seed on the CPU.
"""
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from helpers.checks import check_int, check_number
from helpers.data import make_mnist1d
from helpers.experiments.common import NUM_CLASSES, finite_or_none, seeded_mlp
from helpers.experiments.settings import book_runner
from helpers.schedules import Schedule, constant, make_schedule

CHANCE_LOSS = math.log(NUM_CLASSES)
"""Cross-entropy of a uniform guess over 10 classes, ln 10 ≈ 2.303: a run at or above it has learnt nothing."""

SCHEDULE_NAMES = ("constant", "step", "linear", "exponential", "inverse_time", "inverse_time_10", "cosine",
                  "warmup_cosine", "cyclical")
"""The schedules the chapter compares (``build_schedule`` builds each by name): those of
``helpers.schedules.SCHEDULES``, plus ``linear`` (lr0 · (1 − t/T), the source post's «خطی») and
``inverse_time_10`` (the post's inverse-time formula with k set to end at lr0/10, where
``inverse_time`` ends at lr0/100 as exponential decay does)."""

_QUADRATIC = {"eigenvalues": (1.0, 10.0), "angle_deg": 30.0, "sigma": 1.0}  # the one valley of both experiments

SETTINGS = {
    # the valley (condition number 10, tilted 30°), 100 noisy steps from one start at three rates
    # (and one beyond the stability limit 2/λ_max = 0.2); 1000 noise draws for the mean loss
    "quadratic_paths": {**_QUADRATIC, "start": (-3.5, 2.0), "steps": 100, "lr_small": 0.01, "lr_large": 0.19,
                        "decay_k": 0.1, "lr_diverge": 0.21, "chains": 1000, "grid": 61, "extent": 4.5},
    # the noise floor at five constant rates, up to the large rate of quadratic_paths
    "stationary_spread": {**_QUADRATIC, "lrs": (0.01, 0.02, 0.05, 0.1, 0.19), "chains": 1000, "measure": 500},
    # twelve constant rates, about three-fold apart, 1e-3 .. 300
    "lr_sweep": {"lrs": (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0), "steps": 400,
                 "batch_size": 128, "hidden": 64, "depth": 2, "momentum": 0.9, "eval_every": 25},
    # the same peak rate, model and momentum in two regimes: mini-batches of 32 (gradient noise dominates;
    # 1500 updates, 12 epochs) or of 256 (noise scale lr/B eight times smaller; 1000 updates, about 67
    # epochs: each costs eight times the computation, and by then the constant rate has all but reached
    # its floor); seeds 0, 1, 2 (seed + seed_offsets)
    "compare_schedules": {"regimes": {"noisy": {"batch_size": 32, "steps": 1500},
                                      "benign": {"batch_size": 256, "steps": 1000}},
                          "seed_offsets": (0, 1, 2), "lr": 0.1, "names": SCHEDULE_NAMES, "hidden": 64, "depth": 2,
                          "momentum": 0.9, "eval_every": 100},
}

TINY = {
    "quadratic_paths": {"steps": 20, "chains": 50, "grid": 5},
    "stationary_spread": {"lrs": (0.05, 0.1), "chains": 50, "measure": 20},
    "lr_sweep": {"lrs": (0.1, 1e4), "steps": 20, "batch_size": 20, "hidden": 16, "eval_every": 10},
    "compare_schedules": {"regimes": {"noisy": {"batch_size": 32, "steps": 30}}, "seed_offsets": (0, 2),
                          "names": ("constant", "linear", "inverse_time_10"), "hidden": 16, "eval_every": 10},
}

GLUE_PREFIX = {"quadratic_paths": "ch3_q", "stationary_spread": "ch3_ss", "lr_sweep": "ch3_sw",
               "compare_schedules": "ch3"}
"""Glue names: ``ch3_q_…``, ``ch3_ss_…``, ``ch3_sw_…``; the schedule comparison's ``ch3_<regime>_…``."""

run = book_runner(__name__)

__all__ = [
    "CHANCE_LOSS", "SCHEDULE_NAMES", "SETTINGS", "TINY", "GLUE_PREFIX", "run", "quadratic_paths",
    "stationary_spread", "stationary_excess_loss", "linear_decay", "build_schedule", "schedule_table",
    "batched_fit", "lr_sweep", "compare_schedules", "loss_around_step",
]


# ----------------------------------------------------------------------------- the quadratic
def _hessian(eigenvalues, angle_deg):
    """H = R diag(eigenvalues) Rᵀ with R the rotation by ``angle_deg`` (a tilted elliptic valley)."""
    a = math.radians(angle_deg)
    R = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    return R @ np.diag(eigenvalues) @ R.T


def stationary_excess_loss(lr, eigenvalues, sigma):
    """Mean excess loss E[f(w)] − f(w*) of constant-rate noisy gradient descent at stationarity.

    f(w) = ½ (w − w*)ᵀ H (w − w*), gradient g = H (w − w*) + σ ξ with ξ ~ N(0, I). Along an
    eigen-direction of H with eigenvalue λ the iterate is an AR(1) process
    u ← (1 − ηλ) u − ησ ξ, whose stationary variance is ησ² / (λ (2 − ηλ)); so
    E[f] − f* = Σ_λ ½ λ · ησ² / (λ (2 − ηλ)) = Σ_λ ησ² / (2 (2 − ηλ)) ≈ d ησ² / 4 for small η.
    Finite only while η λ_max < 2 (``inf`` otherwise: the iteration diverges).
    """
    lams = np.asarray(eigenvalues, dtype=float)
    if np.any(lr * lams >= 2):
        return math.inf
    return float(np.sum(lr * sigma ** 2 / (2 * (2 - lr * lams))))


def quadratic_paths(*, seed, eigenvalues, angle_deg, start, steps, sigma, lr_small, lr_large, decay_k, lr_diverge,
                    chains, grid, extent):
    """Gradient descent with noisy gradients on a tilted 2-D quadratic, at four learning rates.

    f(w) = ½ wᵀ H w, w of shape (2,), with H's eigenvalues ``eigenvalues`` (condition number
    λ_max/λ_min) rotated by ``angle_deg``; the minimum is w* = 0 and f* = 0. Each step uses
    g = H w + σ ξ, ξ ~ N(0, I₂), with the SAME noise draws (steps, 2) for every run, so the runs
    differ only in their rates:

    - "small": constant ``lr_small`` (crawls);
    - "large": constant ``lr_large`` (η·λ_max close to 2: zig-zags across the valley and, with
      noise, keeps bouncing around the minimum);
    - "decay": the post's inverse-time rule η_t = lr_large / (1 + decay_k · t), starting as large;
    - "diverge": constant ``lr_diverge`` with η·λ_max > 2 (returned for the text, not drawn).

    Returns, per run, the path (steps + 1 points [w1, w2]), the loss along it, the rate at each
    step, the noise floor ``stationary_excess_loss`` at each step's rate, the final loss and
    distance to w*; a contour grid (``grid_x``, ``grid_y``: ``grid`` points in [−extent, extent];
    ``grid_f``: grid × grid values) and the stability limit 2/λ_max.

    One path is one draw of the noise, and its loss swings widely around its expectation (near
    the stability limit successive steps are strongly anti-correlated, so fifty steps of one path
    hold only a few independent values). So each of "small", "large" and "decay" is also run on
    ``chains`` independent noise draws (a (chains, 2) batch of iterates) from the same start:
    ``mean_loss`` is the mean loss over the chains at every step (what the noise floor predicts),
    ``chain_mean_last_half`` its mean over the second half of the run.
    """
    lams = np.asarray(eigenvalues, dtype=float)
    H = _hessian(lams, angle_deg)
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((steps, 2))
    rates = {
        "small": np.full(steps, float(lr_small)),
        "large": np.full(steps, float(lr_large)),
        "decay": lr_large / (1.0 + decay_k * np.arange(steps)),
        "diverge": np.full(steps, float(lr_diverge)),
    }
    out = {"config": {"eigenvalues": lams.tolist(), "condition_number": float(lams.max() / lams.min()),
                      "angle_deg": angle_deg, "start": list(start), "steps": steps, "sigma": sigma,
                      "lr_small": lr_small, "lr_large": lr_large, "decay_k": decay_k,
                      "lr_diverge": lr_diverge, "seed": seed},
           "lr_limit": float(2.0 / lams.max()), "runs": list(rates)}
    for name, eta in rates.items():
        w = np.array(start, dtype=float)
        path, loss = [w.tolist()], [float(0.5 * w @ H @ w)]
        for t in range(steps):
            w = w - eta[t] * (H @ w + sigma * noise[t])
            path.append(w.tolist())
            loss.append(float(0.5 * w @ H @ w))
        out[name] = {"path": path, "loss": loss, "lr": eta.tolist(),
                     "floor": [stationary_excess_loss(e, lams, sigma) for e in eta],
                     "final_loss": loss[-1], "final_distance": float(np.linalg.norm(w)),
                     "mean_loss_last_half": float(np.mean(loss[steps // 2:]))}
    if chains:
        draws = rng.standard_normal((steps, chains, 2))  # drawn after the paths' noise: the paths are unchanged
        for name in ("small", "large", "decay"):
            eta = rates[name]
            w = np.tile(np.asarray(start, dtype=float), (chains, 1))
            mean = [float(0.5 * w[0] @ H @ w[0])]
            for t in range(steps):
                w = w - eta[t] * (w @ H + sigma * draws[t])
                mean.append(float(np.mean(0.5 * np.einsum("ci,ij,cj->c", w, H, w))))
            out[name]["mean_loss"] = mean
            out[name]["chain_mean_last_half"] = float(np.mean(mean[steps // 2:]))
        out["config"]["chains"] = chains
    xs = np.linspace(-extent, extent, grid)
    X, Y = np.meshgrid(xs, xs)
    P = np.stack([X, Y], axis=-1)
    out["grid_x"], out["grid_y"] = xs.tolist(), xs.tolist()
    out["grid_f"] = (0.5 * np.einsum("...i,ij,...j->...", P, H, P)).tolist()
    return out


def stationary_spread(*, seed, lrs, eigenvalues, angle_deg, sigma, chains, measure, burn_in=None):
    """The noise floor of constant-rate noisy gradient descent, measured against the formula.

    Runs ``chains`` independent chains at once (iterates of shape (chains, 2)) from the minimum of
    the quadratic of ``quadratic_paths``; after ``burn_in`` steps (by default ten relaxation times
    of the slowest direction, 10 / (η λ_min)) it averages f(w) over ``measure`` steps and all
    chains. Returns, per rate of ``lrs``, the measured mean excess loss and
    ``stationary_excess_loss``; their ratio is ≈ 1, and both grow in proportion to the rate: a
    constant rate leaves SGD bouncing in a cloud whose size is set by the rate (and, for
    mini-batches, by the gradient noise ∝ 1/B).
    """
    lams = np.asarray(eigenvalues, dtype=float)
    H = _hessian(lams, angle_deg)
    rng = np.random.default_rng(seed)
    measured, theory = [], []
    for lr in lrs:
        if lr * lams.max() >= 2:
            raise ValueError(f"lr={lr} is beyond the stability limit 2/λ_max = {2 / lams.max():.3g}")
        n_burn = int(math.ceil(10.0 / (lr * lams.min()))) if burn_in is None else int(burn_in)
        w = np.zeros((chains, 2))
        total = 0.0
        for t in range(n_burn + measure):
            w = w - lr * (w @ H + sigma * rng.standard_normal((chains, 2)))
            if t >= n_burn:
                total += float(np.mean(0.5 * np.einsum("ci,ij,cj->c", w, H, w)))
        measured.append(total / measure)
        theory.append(stationary_excess_loss(lr, lams, sigma))
    return {"lrs": list(lrs), "measured": measured, "theory": theory,
            "ratio": [m / t for m, t in zip(measured, theory)],
            "config": {"eigenvalues": lams.tolist(), "sigma": sigma, "chains": chains, "measure": measure,
                       "seed": seed}}


# ----------------------------------------------------------------------------- schedules
def _check_overrides(schedule_kwargs, names):
    unknown = set(schedule_kwargs or {}) - set(names)
    if unknown:
        raise ValueError(f"schedule_kwargs names schedules not in names: {sorted(unknown)}")


def linear_decay(lr0, total_steps, final_factor=0.0) -> Schedule:
    """Linear decay lr0 · (1 − (1 − f) · t / T) from lr0 to f · lr0 at t = T (the source post's «خطی»).

    With ``final_factor=0`` this is ``torch.optim.lr_scheduler.PolynomialLR(total_iters=T, power=1)``
    (and ``LinearLR(start_factor=1, end_factor=f, total_iters=T)`` for any f). Past T it stays at f · lr0.
    """
    lr0 = check_number("lr0", lr0, min=0, min_open=True)
    total_steps = check_int("total_steps", total_steps, min=1)
    final_factor = check_number("final_factor", final_factor, min=0, max=1)
    lr0, f, T = float(lr0), float(final_factor), total_steps
    return Schedule(lambda t: lr0 * (1.0 - (1.0 - f) * min(t, T) / T), "linear", lr0=lr0, total_steps=T,
                    final_factor=f)


def build_schedule(name, *, lr, total_steps, steps_per_epoch, **kwargs):
    """The chapter's schedule ``name`` (see ``SCHEDULE_NAMES``) for a run of ``total_steps`` steps.

    ``helpers.schedules.make_schedule`` with its defaults, except:

    - inverse time counts epochs as the source post does, lr0 / (1 + k · epoch): the rate changes once every
      ``steps_per_epoch`` steps; "inverse_time" chooses k so that the rate ends at lr0/100 (as
      exponential decay does), "inverse_time_10" so that it ends at lr0/10 (k = 9 / epochs);
    - "linear" is ``linear_decay`` (to 0 at ``total_steps``).

    ``kwargs`` override the defaults (e.g. ``k=0.5`` for inverse time, ``step_size`` for step decay,
    ``final_factor`` for linear decay).
    """
    if name in ("inverse_time", "inverse_time_10"):
        kwargs.setdefault("steps_per_epoch", steps_per_epoch)
        if name == "inverse_time_10":
            kwargs.setdefault("final_factor", 0.1)
        return make_schedule("inverse_time", lr0=lr, total_steps=total_steps, **kwargs)
    if name == "linear":
        return linear_decay(lr, total_steps, **kwargs)
    return make_schedule(name, lr0=lr, total_steps=total_steps, **kwargs)


def schedule_table(*, names=SCHEDULE_NAMES, lr, total_steps, steps_per_epoch, schedule_kwargs=None):
    """Each schedule's rate at every step, its final rate and its mean rate (as fractions of lr).

    The mean rate is Σ_t η_t / (T · lr0): how much "distance" a schedule lets SGD travel compared
    with a constant rate over the same T steps; the chapter uses it to explain which schedules
    under-train. Also returns each schedule's ``repr`` (its parameters, e.g. inverse time's k).
    ``schedule_kwargs``: name -> keyword overrides for ``build_schedule`` (as in ``compare_schedules``).
    """
    _check_overrides(schedule_kwargs, names)
    out = {"names": list(names), "lr": lr, "total_steps": total_steps, "steps_per_epoch": steps_per_epoch}
    for name in names:
        s = build_schedule(name, lr=lr, total_steps=total_steps, steps_per_epoch=steps_per_epoch,
                           **(schedule_kwargs or {}).get(name, {}))
        rates = [s(t) for t in range(total_steps)]
        out[name] = {"rates": rates, "final_factor": rates[-1] / lr, "mean_factor": sum(rates) / (total_steps * lr),
                     "repr": repr(s), "params": {k: v for k, v in s.params.items() if isinstance(v, (int, float))}}
    return out


# ----------------------------------------------------------------------------- MNIST-1D
def _mnist1d_or(data):
    """``data`` if given, else MNIST-1D (``helpers.data.make_mnist1d``: 40-sample signals, ten classes)."""
    return make_mnist1d() if data is None else data


def _stacked_layers(models, device):
    """The Linear layers of ``make_mlp`` ReLU MLPs stacked copy by copy: [(W (S, out, in), b (S, out)), ...],
    copy s = models[s]; fresh leaf tensors that require grad (the models are not modified)."""
    shapes = None
    for model in models:
        kinds = [type(m) for m in model.children()]
        n_lin = sum(k is nn.Linear for k in kinds)
        if kinds != [nn.Linear, nn.ReLU] * (n_lin - 1) + [nn.Linear]:
            raise ValueError(f"batched_fit needs Linear-ReLU-...-Linear networks (make_mlp, relu), got {kinds}")
        these = [tuple(m.weight.shape) for m in model.children() if isinstance(m, nn.Linear)]
        if shapes is not None and these != shapes:
            raise ValueError(f"every copy must have the same layer shapes, got {shapes} and {these}")
        shapes = these
    out = []
    for i in range(len(shapes)):
        lins = [[m for m in model.children() if isinstance(m, nn.Linear)][i] for model in models]
        W = torch.stack([lin.weight.detach() for lin in lins]).to(device).contiguous().requires_grad_(True)
        b = torch.stack([lin.bias.detach() for lin in lins]).to(device).contiguous().requires_grad_(True)
        out.append((W, b))
    return out


def _batched_forward(layers, x):
    """The MLP of every copy at once: x (S, B, in) -> logits (S, B, classes); per layer
    h ← ReLU(h Wᵀ + b) with one batched matrix product (``torch.baddbmm``), no ReLU after the last."""
    h = x
    for i, (W, b) in enumerate(layers):
        h = torch.baddbmm(b.unsqueeze(1), h, W.transpose(1, 2))
        if i < len(layers) - 1:
            h = torch.relu(h)
    return h


def batched_fit(models, data, rates, *, steps, batch_size, seeds=0, momentum=0.9, eval_every=50,
                device=None, eval_batch=4096):
    """The fast path of ``helpers.train.fit``: train S = ``len(rates)`` copies of an MLP at once, copy s
    with learning rate ``rates[s](t)`` at update t.

    ``models``: one ReLU MLP from ``helpers.models.make_mlp`` (Linear, ReLU, ..., Linear) that every
    copy starts from, or a list of S of them (same shapes); they are not modified.
    ``seeds``: an int, or one per copy: the seed of the copy's mini-batches. Copies with the same
    seed see the same mini-batches, drawn exactly as ``fit`` draws them (a fresh permutation each
    epoch from a ``torch.Generator`` seeded with the seed, the incomplete last batch dropped). Each
    copy takes the step of ``torch.optim.SGD(momentum=momentum)``: buf ← momentum · buf + g,
    w ← w − rate · buf. So copy s follows ``fit(models[s], ..., schedule=rates[s], momentum=momentum,
    seed=seeds[s])`` up to the rounding of a batched matrix product (a test checks it); the copies
    share only the matrix products (one ``torch.baddbmm`` per layer, ``_batched_forward``), which is
    what makes many copies cheap. The MLP has no dropout or batch norm, so training and evaluation
    compute the same function (there is no train()/eval() mode to switch); evaluation runs without
    gradients.

    A copy whose mini-batch loss becomes NaN or infinite stops there (``diverged``, ``diverged_at``,
    as in ``fit``): its weights are set to zero and it takes no further part.

    Returns one dict per copy: ``eval_steps`` (0, every ``eval_every`` steps and the last),
    ``train_loss`` and ``train_acc`` on the whole training set, ``test_loss`` and ``test_acc`` on the
    test set, ``batch_loss`` (every update), ``lr`` (the rate of every update), ``diverged``,
    ``diverged_at``.
    """
    rates = list(rates)
    S = len(rates)
    if S == 0 or not all(callable(r) for r in rates):
        raise TypeError(f"rates must be a non-empty list of callables step -> lr, got {rates!r}")
    models = list(models) if isinstance(models, (list, tuple)) else [models] * S
    seeds = list(seeds) if isinstance(seeds, (list, tuple)) else [seeds] * S
    if len(models) != S or len(seeds) != S:
        raise ValueError(f"need one model and one seed per rate: {len(models)} models, {len(seeds)} seeds, {S} rates")
    n = len(data.y_train)
    steps, eval_every = check_int("steps", steps, min=1), check_int("eval_every", eval_every, min=1)
    batch_size = check_int("batch_size", batch_size, min=1, max=n)
    momentum = check_number("momentum", momentum, min=0, max=1, max_open=True)
    if device is None:
        from helpers.device import get_device
        device = get_device()
    device = torch.device(device)
    Xtr, ytr = data.X_train.to(device), data.y_train.to(device)
    Xte, yte = data.X_test.to(device), data.y_test.to(device)

    # the copies' weights (one stacked tensor per layer) and SGD's momentum buffers
    layers = _stacked_layers(models, device)
    params = [t for pair in layers for t in pair]
    bufs = [torch.zeros_like(p) for p in params]
    # every copy's rate at every step, (steps, S)
    table = [[float(r(t)) for r in rates] for t in range(steps)]
    for s in range(S):
        bad = [row[s] for row in table if not (math.isfinite(row[s]) and row[s] >= 0)]
        if bad:
            raise ValueError(f"rates[{s}] gave a rate that is not a finite number >= 0: {bad[0]!r}")
    rate_table = torch.tensor(table, dtype=params[0].dtype, device=device)
    # one batch generator per distinct seed, as fit seeds it; rows[s]: copy s's generator
    distinct = sorted(set(seeds))
    generators = {sd: torch.Generator().manual_seed(sd) for sd in distinct}
    rows = torch.tensor([distinct.index(sd) for sd in seeds], device=device)
    out = [{"eval_steps": [], "train_loss": [], "train_acc": [], "test_loss": [], "test_acc": [],
            "diverged": False, "diverged_at": None} for _ in range(S)]
    batch_losses = torch.empty(steps, S, dtype=torch.float32, device=device)
    alive = torch.ones(S, dtype=torch.bool, device=device)
    any_dead = False

    def per_copy(X, y):
        """(loss, accuracy) of every copy on the whole set X, y (in chunks of eval_batch rows): two lists of S."""
        loss_sum = torch.zeros(S, dtype=torch.float64, device=device)
        correct = torch.zeros(S, dtype=torch.float64, device=device)
        for i in range(0, len(X), eval_batch):
            xb, yb = X[i:i + eval_batch], y[i:i + eval_batch]
            logits = _batched_forward(layers, xb.unsqueeze(0).expand(S, -1, -1))
            ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), yb.repeat(S), reduction="none")
            loss_sum += ce.view(S, -1).sum(1).double()
            correct += (logits.argmax(-1) == yb).sum(1).double()
        return (loss_sum / len(X)).tolist(), (correct / len(X)).tolist()

    def evaluate(step):
        with torch.no_grad():
            tr_loss, tr_acc = per_copy(Xtr, ytr)
            te_loss, te_acc = per_copy(Xte, yte)
        for s in range(S):
            if not out[s]["diverged"]:
                for key, values in (("train_loss", tr_loss), ("train_acc", tr_acc), ("test_loss", te_loss),
                                    ("test_acc", te_acc)):
                    out[s][key].append(values[s])
                out[s]["eval_steps"].append(step)

    batches_per_epoch = n // batch_size
    evaluate(0)
    perms = None
    last = steps
    for step in range(1, steps + 1):
        # this step's mini-batch of every copy, (S, B): a fresh permutation per seed each epoch
        position = (step - 1) % batches_per_epoch
        if position == 0:
            perms = torch.stack([torch.randperm(n, generator=generators[sd]) for sd in distinct]).to(device)
        idx = perms[rows, position * batch_size:(position + 1) * batch_size]
        xb, yb = Xtr[idx], ytr[idx]
        # forward: each copy's mean cross-entropy on its batch, (S,)
        logits = _batched_forward(layers, xb)
        losses = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), yb.reshape(-1), reduction="none")
        losses = losses.view(S, batch_size).mean(1)
        batch_losses[step - 1] = losses.detach()
        rate = rate_table[step - 1]
        # backward: the sum's gradient is each copy's own gradient (the copies share no weights)
        if not bool(torch.isfinite(losses).all()) or any_dead:
            newly = alive & ~torch.isfinite(losses.detach())
            for s in torch.nonzero(newly).flatten().tolist():
                out[s]["diverged"], out[s]["diverged_at"] = True, step
            alive &= ~newly
            any_dead = True
            if not bool(alive.any()):
                last = step
                break
            rate = torch.where(alive, rate, torch.zeros_like(rate))
            grads = torch.autograd.grad(losses[alive].sum(), params)
        else:
            grads = torch.autograd.grad(losses.sum(), params)
        # SGD with momentum, each copy at its own rate
        with torch.no_grad():
            torch._foreach_mul_(bufs, momentum)
            torch._foreach_add_(bufs, grads)
            for p, buf in zip(params, bufs):
                p.addcmul_(rate.view(-1, *([1] * (p.dim() - 1))), buf, value=-1.0)
            if any_dead:
                for p, buf in zip(params, bufs):
                    p[~alive] = 0.0
                    buf[~alive] = 0.0
        if step % eval_every == 0 or step == steps:
            evaluate(step)
    losses_by_copy = batch_losses[:last].T.tolist()
    for s in range(S):
        done = out[s]["diverged_at"] or last
        out[s]["batch_loss"] = losses_by_copy[s][:done]
        out[s]["lr"] = [row[s] for row in table[:done]]
    return out


def lr_sweep(*, seed, lrs, steps, batch_size, hidden, depth, momentum, eval_every, data=None, device=None):
    """Final training loss against a constant learning rate: the U-shaped curve.

    One ReLU MLP (40 inputs, ``depth`` hidden layers of ``hidden`` units, ten outputs;
    ``seeded_mlp``) is copied once per rate of ``lrs`` and the copies are trained together by
    ``batched_fit`` for ``steps`` SGD updates with ``momentum`` on mini-batches of ``batch_size``
    (batches (B, 40), logits (B, 10)): the same initial weights and mini-batches for every rate.
    A run whose loss becomes NaN/inf stops there and is reported with ``diverged=True`` and
    ``diverged_at`` (its final loss is None), never raised. A finite run whose final loss is at
    least ``CHANCE_LOSS`` learnt nothing (``at_chance``); ``max_batch_loss`` is its largest
    mini-batch loss. Also returns each run's whole-training-set loss curve (``eval_steps``,
    ``curve``) and the best rate (lowest final loss).
    """
    data = _mnist1d_or(data)
    out = {"lrs": list(lrs), "chance_loss": CHANCE_LOSS,
           "config": {"steps": steps, "batch_size": batch_size, "hidden": hidden, "depth": depth,
                      "momentum": momentum, "seed": seed}}
    model = seeded_mlp(data, seed=seed, hidden=hidden, depth=depth, activation="relu")
    copies = batched_fit(model, data, [constant(lr) for lr in lrs], steps=steps, batch_size=batch_size,
                         momentum=momentum, eval_every=eval_every, seeds=seed, device=device)
    runs = []
    for lr, h in zip(lrs, copies):
        final = None if h["diverged"] else finite_or_none(h["train_loss"][-1])
        finite_batch = [v for v in h["batch_loss"] if math.isfinite(v)]
        runs.append({"lr": lr, "diverged": h["diverged"], "diverged_at": h["diverged_at"],
                     "final_loss": final,
                     "final_test_acc": None if h["diverged"] else finite_or_none(h["test_acc"][-1]),
                     "at_chance": final is not None and final >= CHANCE_LOSS,
                     "max_batch_loss": max(finite_batch) if finite_batch else None,
                     "eval_steps": list(h["eval_steps"]), "curve": [finite_or_none(v) for v in h["train_loss"]],
                     "batch_loss": [finite_or_none(v) for v in h["batch_loss"]]})
    out["runs"] = runs
    trained = [r for r in runs if r["final_loss"] is not None]
    best = min(trained, key=lambda r: r["final_loss"]) if trained else None
    out["best_lr"] = None if best is None else best["lr"]
    out["best_loss"] = None if best is None else best["final_loss"]
    out["smallest_diverged_lr"] = min((r["lr"] for r in runs if r["diverged"]), default=None)
    return out


def compare_schedules(*, seed, seed_offsets, regimes, lr, names, hidden, depth, momentum, eval_every,
                      schedule_kwargs=None, data=None, device=None):
    """Every schedule of ``names`` side by side, in every regime of ``regimes``, on several seeds:
    ``{regime: {seed: result}}`` for the seeds ``seed + offset``, offset in ``seed_offsets``.

    A regime is ``{"batch_size": B, "steps": T}``: mini-batches (B, 40) and T updates, with peak
    rate ``lr``. Each schedule is built by ``build_schedule`` for T steps (``schedule_kwargs``:
    name -> keyword overrides, e.g. ``{"inverse_time": {"final_factor": 0.1}}``). Every
    (seed, schedule) pair is one copy of the seed's ReLU MLP (``seeded_mlp``: ``depth`` hidden
    layers of ``hidden`` units), and all copies of a regime are trained together by
    ``batched_fit`` with SGD and ``momentum``: the same model, initial weights, data and
    mini-batches for every schedule of a seed. A seed's numbers do not depend on which other seeds
    or schedules were trained with it (a test checks it), so a claim can rerun one seed alone
    (``run("compare_schedules", seed=s, subset={"seed_offsets": (0,)})``) and get the book's numbers.

    Returns, per regime, seed and schedule, the whole-training-set loss and test-accuracy curves
    (every ``eval_every`` steps), the rate at every step, the final training loss and test accuracy
    (None if the run diverged) and the mean rate as a fraction of the peak; per seed, the names
    sorted by final training loss (``order``) and the ``config``.
    """
    names, seeds = tuple(names), tuple(seed + k for k in seed_offsets)
    if not names or len(set(names)) != len(names):
        raise ValueError(f"names must be distinct schedule names, got {names!r}")
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seed_offsets must be distinct ints, got {seed_offsets!r}")
    if not regimes or any(set(r) != {"batch_size", "steps"} for r in regimes.values()):
        raise ValueError(f"regimes must map names to {{'batch_size': B, 'steps': T}}, got {regimes!r}")
    _check_overrides(schedule_kwargs, names)
    data = _mnist1d_or(data)
    models = {sd: seeded_mlp(data, seed=sd, hidden=hidden, depth=depth, activation="relu") for sd in seeds}
    results = {}
    for regime, (batch_size, steps) in ((k, (v["batch_size"], v["steps"])) for k, v in regimes.items()):
        steps_per_epoch = len(data.y_train) // batch_size
        schedules = [build_schedule(name, lr=lr, total_steps=steps, steps_per_epoch=steps_per_epoch,
                                    **(schedule_kwargs or {}).get(name, {})) for name in names]
        copies = batched_fit([models[sd] for sd in seeds for _ in names], data, schedules * len(seeds),
                             seeds=[sd for sd in seeds for _ in names], steps=steps, batch_size=batch_size,
                             momentum=momentum, eval_every=eval_every, device=device)
        results[regime] = {}
        for i, sd in enumerate(seeds):
            out = {"names": list(names), "setting": regime,
                   "config": {"lr": lr, "batch_size": batch_size, "steps": steps, "hidden": hidden, "depth": depth,
                              "momentum": momentum, "eval_every": eval_every, "seed": sd,
                              "steps_per_epoch": steps_per_epoch, "epochs": steps / steps_per_epoch,
                              "noise_scale": lr / batch_size}}
            for j, (name, schedule) in enumerate(zip(names, schedules)):
                h = copies[i * len(names) + j]
                out[name] = {"eval_steps": list(h["eval_steps"]),
                             "train_loss": [finite_or_none(v) for v in h["train_loss"]],
                             "test_acc": [finite_or_none(v) for v in h["test_acc"]], "lr": list(h["lr"]),
                             "diverged": h["diverged"], "diverged_at": h["diverged_at"],
                             "final_train_loss": None if h["diverged"] else finite_or_none(h["train_loss"][-1]),
                             "final_test_acc": None if h["diverged"] else finite_or_none(h["test_acc"][-1]),
                             "mean_lr_factor": sum(h["lr"]) / (len(h["lr"]) * lr), "repr": repr(schedule)}
            done = [n for n in names if out[n]["final_train_loss"] is not None]
            out["order"] = sorted(done, key=lambda n: out[n]["final_train_loss"])
            results[regime][sd] = out
    return results


def loss_around_step(result, name, step, *, window=None):
    """Whole-training-set loss of schedule ``name`` in ``result`` one window before, at and after ``step``.

    ``window`` defaults to the evaluation interval. For step decay at its first boundary this shows
    the noise argument at work: right after the rate drops tenfold the loss falls at once, far more
    than in the window before. Returns ``{"before", "at", "after", "drop_before", "drop_after"}``.
    """
    r = result[name]
    window = result["config"]["eval_every"] if window is None else window
    where = {s: i for i, s in enumerate(r["eval_steps"])}
    missing = [s for s in (step - window, step, step + window) if s not in where]
    if missing:
        raise ValueError(f"no evaluation at step(s) {missing}: choose a step and window on the evaluation grid")
    before, at, after = (r["train_loss"][where[s]] for s in (step - window, step, step + window))
    return {"step": step, "window": window, "before": before, "at": at, "after": after,
            "drop_before": before - at, "drop_after": at - after}
