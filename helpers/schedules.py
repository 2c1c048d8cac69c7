"""Learning-rate schedules as pure functions of the step, and an adapter that drives a torch optimizer.

Every schedule is a callable ``schedule(step) -> lr`` with ``step`` an int >= 0 counting
optimizer updates from 0 (the update number ``step`` uses ``schedule(step)``). Each equals the
corresponding ``torch.optim.lr_scheduler`` when that scheduler's ``step()`` is called once per
update (tested to a relative 1e-12 over hundreds of steps):

============================  ===========================================  ====================
schedule                      formula                                      PyTorch equivalent
============================  ===========================================  ====================
``constant(lr0)``             lr0                                          ConstantLR(factor=1)
``step_decay``                lr0 · γ^⌊t / step_size⌋                       StepLR
``exponential``               lr0 · γ^t                                    ExponentialLR
``inverse_time``              lr0 / (1 + k · ⌊t / steps_per_epoch⌋)          LambdaLR
``cosine``                    η_min + (lr0 − η_min)(1 + cos(π t / T_max))/2  CosineAnnealingLR
``cyclical``                  triangular wave between base_lr and max_lr   CyclicLR
``with_warmup(s, W, f)``      linear f·s(0) → s(0) over W steps, then s(t−W)  SequentialLR(LinearLR, s)
============================  ===========================================  ====================

Taught in chapter 3 («کاهش نرخ یادگیری») and lab 3; ``helpers.train.fit`` accepts a schedule
or its name and drives its optimizer with ``ScheduledOptimizer``; the playground switches
between them.
"""
import math

from helpers.checks import check_callable, check_choice, check_int, check_number

__all__ = [
    "Schedule", "constant", "step_decay", "exponential", "inverse_time", "cosine", "cyclical",
    "with_warmup", "SCHEDULES", "make_schedule", "ScheduledOptimizer",
]


class Schedule:
    """A named pure function ``step -> lr`` (validates the step; ``repr`` shows the parameters)."""

    def __init__(self, fn, name, **params):
        self._fn = fn
        self.name = name
        self.params = params

    def __call__(self, step) -> float:
        return float(self._fn(check_int("step", step, min=0)))

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{self.name}({args})"


# ---------------------------------------------------------------- argument checks
def _positive(name, value) -> float:
    return check_number(name, value, min=0, min_open=True)


def _non_negative(name, value) -> float:
    return check_number(name, value, min=0)


# ---------------------------------------------------------------- the schedules
def constant(lr0) -> Schedule:
    """lr(t) = lr0."""
    lr0 = _positive("lr0", lr0)
    return Schedule(lambda t: lr0, "constant", lr0=lr0)


def step_decay(lr0, step_size, gamma=0.1) -> Schedule:
    """Step decay: lr(t) = lr0 · gamma^⌊t / step_size⌋ (multiply by gamma every step_size steps; StepLR)."""
    lr0, gamma = _positive("lr0", lr0), _positive("gamma", gamma)
    step_size = check_int("step_size", step_size, min=1)
    return Schedule(lambda t: lr0 * gamma ** (t // step_size), "step_decay",
                    lr0=lr0, step_size=step_size, gamma=gamma)


def exponential(lr0, gamma) -> Schedule:
    """Exponential decay: lr(t) = lr0 · gamma^t, gamma per step (ExponentialLR)."""
    lr0, gamma = _positive("lr0", lr0), _positive("gamma", gamma)
    return Schedule(lambda t: lr0 * gamma ** t, "exponential", lr0=lr0, gamma=gamma)


def inverse_time(lr0, k, steps_per_epoch=1) -> Schedule:
    """Inverse-time decay lr0 / (1 + k · epoch), the formula of chapter 3's source thread.

    ``epoch = ⌊t / steps_per_epoch⌋``: with ``steps_per_epoch=1`` (the default) the unit is the
    step; with the number of mini-batches per epoch the rate changes once per epoch as in that thread.
    k >= 0 (k = 0 is a constant rate).
    """
    lr0, k = _positive("lr0", lr0), _non_negative("k", k)
    steps_per_epoch = check_int("steps_per_epoch", steps_per_epoch, min=1)
    return Schedule(lambda t: lr0 / (1.0 + k * (t // steps_per_epoch)), "inverse_time",
                    lr0=lr0, k=k, steps_per_epoch=steps_per_epoch)


def cosine(lr0, T_max, eta_min=0.0) -> Schedule:
    """Cosine annealing (Loshchilov & Hutter 2017): η_min + (lr0 − η_min)(1 + cos(π t / T_max)) / 2.

    Reaches ``eta_min`` at t = T_max. As in ``torch.optim.lr_scheduler.CosineAnnealingLR`` the
    formula is not clamped: past T_max the rate rises again (period 2·T_max), so set
    T_max to the number of steps you train.
    """
    lr0, eta_min = _positive("lr0", lr0), _non_negative("eta_min", eta_min)
    T_max = check_int("T_max", T_max, min=1)
    if eta_min > lr0:
        raise ValueError(f"eta_min must be <= lr0 = {lr0}; got {eta_min}")
    return Schedule(lambda t: eta_min + (lr0 - eta_min) * (1 + math.cos(math.pi * t / T_max)) / 2,
                    "cosine", lr0=lr0, T_max=T_max, eta_min=eta_min)


CYCLICAL_MODES = ("triangular", "triangular2", "exp_range")


def cyclical(base_lr, max_lr, step_size_up, step_size_down=None, mode="triangular", gamma=1.0) -> Schedule:
    """Cyclical learning rate (Smith 2017): a triangular wave between base_lr and max_lr.

    The rate rises linearly from base_lr to max_lr over ``step_size_up`` steps, falls back over
    ``step_size_down`` (default: the same) and repeats. Modes as in Smith 2017 and
    ``torch.optim.lr_scheduler.CyclicLR``: "triangular" (constant amplitude), "triangular2"
    (amplitude halved each cycle), "exp_range" (amplitude × gamma^t).
    """
    base_lr, max_lr = _positive("base_lr", base_lr), _positive("max_lr", max_lr)
    if max_lr < base_lr:
        raise ValueError(f"max_lr must be >= base_lr = {base_lr}; got {max_lr}")
    up = check_int("step_size_up", step_size_up, min=1)
    down = up if step_size_down is None else check_int("step_size_down", step_size_down, min=1)
    check_choice("mode", mode, CYCLICAL_MODES)
    gamma = _positive("gamma", gamma)
    total = up + down
    up_ratio = up / total

    def lr(t):
        cycle = math.floor(1 + t / total)
        x = 1.0 + t / total - cycle                    # position inside the cycle, in [0, 1)
        height = x / up_ratio if x <= up_ratio else (x - 1) / (up_ratio - 1)
        if mode == "triangular":
            scale = 1.0
        elif mode == "triangular2":
            scale = 1 / 2.0 ** (cycle - 1)
        else:
            scale = gamma ** t
        return base_lr + (max_lr - base_lr) * height * scale

    return Schedule(lr, "cyclical", base_lr=base_lr, max_lr=max_lr, step_size_up=up,
                    step_size_down=down, mode=mode, gamma=gamma)


def with_warmup(schedule, warmup_steps, start_factor=0.1) -> Schedule:
    """Prefix any schedule with a linear warm-up of ``warmup_steps`` steps.

    lr(t) = s(0) · (start_factor + (1 − start_factor) · t / W) for t < W, then s(t − W): the
    wrapped schedule starts its own clock when the warm-up ends (as
    ``SequentialLR([LinearLR(start_factor, total_iters=W), s], milestones=[W])`` does).
    0 <= start_factor <= 1; ``warmup_steps=0`` returns the schedule unchanged in value.
    """
    schedule = check_callable("schedule", schedule, "a callable step -> lr")
    W = check_int("warmup_steps", warmup_steps, min=0)
    start_factor = check_number("start_factor", start_factor, min=0, max=1)

    def lr(t):
        if t < W:
            return schedule(0) * (start_factor + (1.0 - start_factor) * t / W)
        return schedule(t - W)

    return Schedule(lr, "with_warmup", schedule=schedule, warmup_steps=W, start_factor=start_factor)


# ---------------------------------------------------------------- by name
def _make_constant(lr0, total_steps):
    return constant(lr0)


def _make_step(lr0, total_steps, step_size=None, gamma=0.1):
    return step_decay(lr0, step_size if step_size is not None else max(1, total_steps // 3), gamma)


def _make_exponential(lr0, total_steps, gamma=None, final_factor=0.01):
    if gamma is None:
        gamma = _positive("final_factor", final_factor) ** (1.0 / total_steps)
    return exponential(lr0, gamma)


def _make_inverse_time(lr0, total_steps, k=None, steps_per_epoch=1, final_factor=0.01):
    if k is None:
        epochs = max(1, total_steps // check_int("steps_per_epoch", steps_per_epoch, min=1))
        k = (1.0 / _positive("final_factor", final_factor) - 1.0) / epochs
    return inverse_time(lr0, k, steps_per_epoch)


def _make_cosine(lr0, total_steps, T_max=None, eta_min=0.0):
    return cosine(lr0, T_max if T_max is not None else total_steps, eta_min)


def _make_cyclical(lr0, total_steps, base_lr=None, step_size_up=None, step_size_down=None,
                   mode="triangular", gamma=1.0):
    return cyclical(base_lr if base_lr is not None else lr0 / 10, lr0,
                    step_size_up if step_size_up is not None else max(1, total_steps // 8),
                    step_size_down, mode, gamma)


def _make_warmup_cosine(lr0, total_steps, warmup_steps=None, start_factor=0.1, eta_min=0.0):
    W = warmup_steps if warmup_steps is not None else max(1, total_steps // 20)
    W = check_int("warmup_steps", W, min=0)
    return with_warmup(cosine(lr0, max(1, total_steps - W), eta_min), W, start_factor)


SCHEDULES = {
    "constant": _make_constant,
    "step": _make_step,
    "exponential": _make_exponential,
    "inverse_time": _make_inverse_time,
    "cosine": _make_cosine,
    "cyclical": _make_cyclical,
    "warmup_cosine": _make_warmup_cosine,
}
"""name -> factory(lr0, total_steps, **kwargs) -> Schedule; defaults fit a run of total_steps steps."""


def make_schedule(name, *, lr0, total_steps, warmup_steps=0, **kwargs) -> Schedule:
    """Build a schedule by name for a run of ``total_steps`` updates starting at ``lr0``.

    Defaults when a keyword is not given: "step" decays ×0.1 every total_steps//3 steps;
    "exponential" and "inverse_time" end at lr0/100 (``final_factor``); "cosine" anneals to
    ``eta_min=0`` at total_steps; "cyclical" is triangular between lr0/10 and lr0 with
    step_size_up = total_steps//8; "warmup_cosine" warms up over total_steps//20 steps.
    Any keyword of the underlying function (``gamma``, ``k``, ``steps_per_epoch``, ``T_max``,
    ``eta_min``, ``base_lr``, ``step_size_up``, ``mode``, ...) overrides its default.
    ``warmup_steps > 0`` prefixes any schedule with a linear warm-up (``with_warmup``), the
    schedule then running over the remaining ``total_steps - warmup_steps`` steps.
    Unknown name -> ValueError listing the known names.
    """
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; known schedules: {', '.join(SCHEDULES)}")
    lr0 = _positive("lr0", lr0)
    total_steps = check_int("total_steps", total_steps, min=1)
    warmup_steps = check_int("warmup_steps", warmup_steps, min=0)
    if warmup_steps and name == "warmup_cosine":
        kwargs["warmup_steps"] = warmup_steps
        warmup_steps = 0
    if warmup_steps >= total_steps:
        raise ValueError(f"warmup_steps must be < total_steps = {total_steps}; got {warmup_steps}")
    start_factor = kwargs.pop("start_factor", 0.1) if warmup_steps else None
    try:
        schedule = SCHEDULES[name](lr0, total_steps - warmup_steps, **kwargs)
    except TypeError as err:
        if "unexpected keyword" in str(err):
            raise ValueError(f"schedule {name!r} does not take these arguments: {err}") from None
        raise
    return with_warmup(schedule, warmup_steps, start_factor) if warmup_steps else schedule


# ---------------------------------------------------------------- driving a torch optimizer
class ScheduledOptimizer:
    """A ``torch.optim`` optimizer whose every ``step()`` first sets each group's lr to ``schedule(t)``.

    ``t`` counts this wrapper's ``step()`` calls from 0, so update t uses ``schedule(t)`` - the
    same rates as calling a ``torch.optim.lr_scheduler``'s ``step()`` once per update. ``lr`` is
    the rate the next step uses; ``zero_grad`` and ``param_groups`` pass through.
    ``helpers.train.fit`` drives its optimizer with it::

        opt = ScheduledOptimizer(torch.optim.SGD(model.parameters(), lr=0.1), cosine(0.1, T_max=500))
        for x, y in batches:
            opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()
    """

    def __init__(self, optimizer, schedule):
        if not hasattr(optimizer, "param_groups") or not hasattr(optimizer, "step"):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer; got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.schedule = check_callable("schedule", schedule, "a callable step -> lr")
        self.step_count = 0

    @property
    def lr(self) -> float:
        return float(self.schedule(self.step_count))

    @property
    def param_groups(self):
        return self.optimizer.param_groups

    def zero_grad(self, set_to_none=True):
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def step(self, closure=None):
        rate = self.lr
        for group in self.optimizer.param_groups:
            group["lr"] = rate
        result = self.optimizer.step(closure) if closure is not None else self.optimizer.step()
        self.step_count += 1
        return result
