"""Chapter 3 («کاهش نرخ یادگیری»): the experiments behind its claims.

Two kinds of experiment, each a function returning a plain dict (lists and numbers), so the
chapter can glue the numbers into its prose and the claims benchmark can rerun them on
several seeds:

- on a real two-dimensional ill-conditioned quadratic (pure NumPy, milliseconds):
  ``quadratic_paths`` (gradient descent with noisy gradients at a too-small, a decaying and a
  too-large learning rate: the seed post's three panels) and ``stationary_spread`` (the
  noise floor of constant-rate SGD is proportional to the rate: measured against the formula);
- on MNIST-1D (``helpers.data.make_mnist1d``) with a small ReLU MLP (``helpers.models.make_mlp``)
  trained by the one loop (``helpers.train.fit``): ``lr_sweep`` (the U-shaped curve; divergence
  reported by ``History.diverged``, never raised) and ``compare_schedules`` (every schedule of
  ``helpers.schedules`` on the same model, data and mini-batches, in the two ``SETTINGS``).

Results are deterministic for a given ``seed`` on the CPU.
"""
import math

import numpy as np

from helpers.data import make_mnist1d
from helpers.models import make_mlp
from helpers.schedules import make_schedule
from helpers.seeding import set_seed
from helpers.train import fit

NUM_CLASSES = 10
CHANCE_LOSS = math.log(NUM_CLASSES)
"""Cross-entropy of a uniform guess over 10 classes, ln 10 ≈ 2.303: a run at or above it has learnt nothing."""

SCHEDULE_NAMES = ("constant", "step", "exponential", "inverse_time", "cosine", "warmup_cosine", "cyclical")
"""The schedules the chapter compares, by their ``helpers.schedules.SCHEDULES`` name."""

SETTINGS = {
    # peak rate and batch size; the same model, steps and momentum in both
    "noisy": {"lr": 0.1, "batch_size": 32},
    "benign": {"lr": 0.1, "batch_size": 256},
}
"""The two regimes of the chapter: the same peak rate, mini-batches of 32 (gradient noise
dominates) or of 256 (noise scale lr/B eight times smaller)."""

__all__ = [
    "CHANCE_LOSS", "SCHEDULE_NAMES", "SETTINGS", "quadratic_paths", "stationary_spread",
    "stationary_excess_loss", "build_schedule", "schedule_table", "lr_sweep", "compare_schedules",
    "loss_around_step",
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


def quadratic_paths(*, eigenvalues=(1.0, 10.0), angle_deg=30.0, start=(-3.5, 2.0), steps=100,
                    sigma=1.0, lr_small=0.01, lr_large=0.19, decay_k=0.1, lr_diverge=0.21,
                    seed=0, grid=61, extent=4.5):
    """Gradient descent with noisy gradients on a tilted 2-D quadratic, at four learning rates.

    f(w) = ½ wᵀ H w with H's eigenvalues ``eigenvalues`` (condition number λ_max/λ_min) rotated
    by ``angle_deg``; the minimum is w* = 0 and f* = 0. Each step uses g = H w + σ ξ, with the
    SAME noise draws ξ for every run (so the runs differ only in their rates):

    - "small": constant ``lr_small`` (crawls);
    - "large": constant ``lr_large`` (η·λ_max close to 2: zig-zags across the valley and, with
      noise, keeps bouncing around the minimum);
    - "decay": the seed's inverse-time rule η_t = lr_large / (1 + decay_k · t), starting as large;
    - "diverge": constant ``lr_diverge`` with η·λ_max > 2 (returned for the text, not drawn).

    Returns the paths (lists of [w1, w2]), the loss along each path, the rate at each step, the
    theoretical noise floor ``stationary_excess_loss`` at each step's rate, a contour grid
    (``grid_x``, ``grid_y``, ``grid_f``) and the stability limit 2/λ_max.
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
    xs = np.linspace(-extent, extent, grid)
    X, Y = np.meshgrid(xs, xs)
    P = np.stack([X, Y], axis=-1)
    out["grid_x"], out["grid_y"] = xs.tolist(), xs.tolist()
    out["grid_f"] = (0.5 * np.einsum("...i,ij,...j->...", P, H, P)).tolist()
    return out


def stationary_spread(*, lrs=(0.01, 0.02, 0.05, 0.1, 0.19), eigenvalues=(1.0, 10.0),
                      angle_deg=30.0, sigma=1.0, chains=1000, burn_in=None, measure=500, seed=0):
    """The noise floor of constant-rate noisy gradient descent, measured against the formula.

    Runs ``chains`` independent chains (vectorised) from the minimum on the quadratic of
    ``quadratic_paths``; after ``burn_in`` steps (default: ten relaxation times of the slowest
    direction, 10 / (η λ_min)) it averages f(w) over ``measure`` steps and all chains. Returns,
    per rate, the measured mean excess loss and ``stationary_excess_loss``; their ratio is ≈ 1,
    and both grow in proportion to the rate: a constant rate leaves SGD bouncing in a cloud
    whose size is set by the rate (and, for mini-batches, by the gradient noise ∝ 1/B).
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


def build_schedule(name, *, lr, total_steps, steps_per_epoch, **kwargs):
    """The chapter's schedule ``name`` (see ``SCHEDULE_NAMES``) for a run of ``total_steps`` steps.

    ``helpers.schedules.make_schedule`` with its defaults, except that inverse time counts
    epochs as in seed 001, lr0 / (1 + k · epoch), with k chosen so that the rate ends at lr0/100
    (as exponential decay does): the rate then changes once every ``steps_per_epoch`` steps.
    ``kwargs`` override make_schedule's defaults (e.g. ``final_factor=0.1`` or ``k=0.5`` for
    inverse time, ``step_size`` for step decay).
    """
    if name == "inverse_time":
        kwargs.setdefault("steps_per_epoch", steps_per_epoch)
    return make_schedule(name, lr0=lr, total_steps=total_steps, **kwargs)


def schedule_table(*, names=SCHEDULE_NAMES, lr=0.1, total_steps=1500, steps_per_epoch=125, schedule_kwargs=None):
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
def _data(data):
    return make_mnist1d() if data is None else data


def _mlp(data, *, hidden, depth, seed):
    set_seed(seed)
    return make_mlp(data.X_train.shape[1], hidden, depth, NUM_CLASSES, activation="relu")


def _finite(value):
    return value if value is not None and math.isfinite(value) else None


def lr_sweep(*, seed=0, lrs=(1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0),
             steps=400, batch_size=128, hidden=128, depth=2, momentum=0.9, eval_every=25, data=None,
             device=None):
    """Final training loss against a constant learning rate: the U-shaped curve.

    The same network, initial weights and mini-batches for every rate; SGD with ``momentum``.
    A run whose loss becomes NaN/inf is stopped by ``helpers.train.fit`` and reported here with
    ``diverged=True`` and ``diverged_at`` (its final loss is None), never raised. A finite run
    whose final loss is at least ``CHANCE_LOSS`` learnt nothing (``at_chance``); one whose
    mini-batch loss ever exceeded 1e4 (``max_batch_loss``) blew up without reaching NaN.
    Also returns each run's whole-training-set loss curve (``eval_steps``, ``curve``) and the
    best rate (lowest final loss).
    """
    data = _data(data)
    out = {"lrs": list(lrs), "chance_loss": CHANCE_LOSS,
           "config": {"steps": steps, "batch_size": batch_size, "hidden": hidden, "depth": depth,
                      "momentum": momentum, "seed": seed}}
    runs = []
    for lr in lrs:
        model = _mlp(data, hidden=hidden, depth=depth, seed=seed)
        h = fit(model, (data.X_train, data.y_train), test=(data.X_test, data.y_test), steps=steps,
                batch_size=batch_size, lr=lr, momentum=momentum, eval_every=eval_every, seed=seed,
                device=device, progress=False)
        final = None if h.diverged else _finite(h.eval_train_loss[-1])
        finite_batch = [v for v in h.train_loss if math.isfinite(v)]
        runs.append({"lr": lr, "diverged": h.diverged, "diverged_at": h.diverged_at,
                     "final_loss": final, "final_test_acc": None if h.diverged else _finite(h.test_acc[-1]),
                     "at_chance": final is not None and final >= CHANCE_LOSS,
                     "max_batch_loss": max(finite_batch) if finite_batch else None,
                     "eval_steps": list(h.eval_steps), "curve": [_finite(v) for v in h.eval_train_loss],
                     "batch_loss": [_finite(v) for v in h.train_loss]})
    out["runs"] = runs
    trained = [r for r in runs if r["final_loss"] is not None]
    best = min(trained, key=lambda r: r["final_loss"]) if trained else None
    out["best_lr"] = None if best is None else best["lr"]
    out["best_loss"] = None if best is None else best["final_loss"]
    out["smallest_diverged_lr"] = min((r["lr"] for r in runs if r["diverged"]), default=None)
    return out


def compare_schedules(*, setting="noisy", names=SCHEDULE_NAMES, lr=None, batch_size=None, steps=1500,
                      hidden=128, depth=2, momentum=0.9, eval_every=50, seed=0, schedule_kwargs=None,
                      data=None, device=None):
    """Every schedule side by side: the same model, initial weights, data, mini-batches and peak rate.

    ``setting`` picks the peak rate and batch size from ``SETTINGS`` ("noisy": lr 0.1, batch 32;
    "benign": lr 0.1, batch 256); ``lr`` / ``batch_size`` override them. Each schedule is built by
    ``build_schedule`` for ``steps`` steps (``schedule_kwargs``: name -> keyword overrides, e.g.
    ``{"inverse_time": {"final_factor": 0.1}}``). Returns, per schedule, the whole-training-set loss and
    test-accuracy curves (every ``eval_every`` steps), the rate at every step, the final training
    loss and test accuracy, and the mean rate as a fraction of the peak; plus the names sorted by
    final training loss (``order``).
    """
    if setting not in SETTINGS:
        raise ValueError(f"setting must be one of {tuple(SETTINGS)}, got {setting!r}")
    lr = SETTINGS[setting]["lr"] if lr is None else lr
    batch_size = SETTINGS[setting]["batch_size"] if batch_size is None else batch_size
    _check_overrides(schedule_kwargs, names)
    data = _data(data)
    steps_per_epoch = len(data.y_train) // batch_size
    out = {"names": list(names), "setting": setting,
           "config": {"lr": lr, "batch_size": batch_size, "steps": steps, "hidden": hidden, "depth": depth,
                      "momentum": momentum, "eval_every": eval_every, "seed": seed,
                      "steps_per_epoch": steps_per_epoch, "epochs": steps / steps_per_epoch,
                      "noise_scale": lr / batch_size}}
    for name in names:
        schedule = build_schedule(name, lr=lr, total_steps=steps, steps_per_epoch=steps_per_epoch,
                                  **(schedule_kwargs or {}).get(name, {}))
        model = _mlp(data, hidden=hidden, depth=depth, seed=seed)
        h = fit(model, (data.X_train, data.y_train), test=(data.X_test, data.y_test), steps=steps,
                batch_size=batch_size, lr=lr, momentum=momentum, schedule=schedule, eval_every=eval_every,
                seed=seed, device=device, progress=False)
        out[name] = {"eval_steps": list(h.eval_steps), "train_loss": [_finite(v) for v in h.eval_train_loss],
                     "test_acc": [_finite(v) for v in h.test_acc], "lr": list(h.lr),
                     "diverged": h.diverged, "diverged_at": h.diverged_at,
                     "final_train_loss": None if h.diverged else _finite(h.eval_train_loss[-1]),
                     "final_test_acc": None if h.diverged else _finite(h.test_acc[-1]),
                     "mean_lr_factor": sum(h.lr) / (len(h.lr) * lr), "repr": repr(schedule)}
    done = [n for n in names if out[n]["final_train_loss"] is not None]
    out["order"] = sorted(done, key=lambda n: out[n]["final_train_loss"])
    return out


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
