"""helpers.schedules against torch.optim.lr_scheduler (rel. tol 1e-12 over >= 200 steps), properties, bad input.

Convention checked here: ``schedule(t)`` is the rate the (t+1)-th optimizer update uses, i.e. the
optimizer's lr after the torch scheduler's ``step()`` has been called t times.
"""
import math
import os

import pytest
import torch
from hypothesis import assume, given, settings, strategies as st

from helpers import schedules as S
from helpers.schedules import make_schedule

STEPS = 250
REL = 1e-12


def torch_rates(make_scheduler, lr0, steps=STEPS):
    """Learning rates a torch scheduler gives to an SGD optimizer at updates 0 .. steps-1 (float64 params)."""
    p = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr0)
    sched = make_scheduler(opt)
    rates = []
    for _ in range(steps):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return rates


def assert_rates_match(schedule, expected, rel=REL):
    got = [schedule(t) for t in range(len(expected))]
    for t, (g, e) in enumerate(zip(got, expected)):
        assert math.isclose(g, e, rel_tol=rel, abs_tol=0.0), (t, g, e)


L = torch.optim.lr_scheduler


def test_step_decay_matches_StepLR():
    assert_rates_match(S.step_decay(0.3, step_size=37, gamma=0.55),
                       torch_rates(lambda o: L.StepLR(o, step_size=37, gamma=0.55), 0.3))


def test_exponential_matches_ExponentialLR():
    assert_rates_match(S.exponential(0.7, gamma=0.987),
                       torch_rates(lambda o: L.ExponentialLR(o, gamma=0.987), 0.7))


@pytest.mark.parametrize("T_max, eta_min", [(250, 0.003), (90, 0.01)])  # second: past T_max the wave rises
def test_cosine_matches_CosineAnnealingLR(T_max, eta_min):
    assert_rates_match(S.cosine(0.2, T_max=T_max, eta_min=eta_min),
                       torch_rates(lambda o: L.CosineAnnealingLR(o, T_max=T_max, eta_min=eta_min), 0.2),
                       rel=1e-11 if T_max < STEPS else REL)


@pytest.mark.parametrize("mode, down", [("triangular", None), ("triangular", 23), ("triangular2", None),
                                        ("exp_range", 17)])
def test_cyclical_matches_CyclicLR(mode, down):
    expected = torch_rates(lambda o: L.CyclicLR(o, base_lr=0.01, max_lr=0.13, step_size_up=31,
                                                step_size_down=down, mode=mode, gamma=0.995,
                                                cycle_momentum=False), 0.01)
    assert_rates_match(S.cyclical(0.01, 0.13, 31, step_size_down=down, mode=mode, gamma=0.995), expected)


@pytest.mark.parametrize("steps_per_epoch", [1, 12])
def test_inverse_time_matches_LambdaLR(steps_per_epoch):
    k = 0.37
    expected = torch_rates(lambda o: L.LambdaLR(o, lambda t: 1 / (1 + k * (t // steps_per_epoch))), 0.5)
    assert_rates_match(S.inverse_time(0.5, k, steps_per_epoch=steps_per_epoch), expected)
    if steps_per_epoch > 1:  # constant within an epoch, changes at its boundary
        s = S.inverse_time(0.5, k, steps_per_epoch=steps_per_epoch)
        assert s(0) == s(11) == 0.5 and s(12) == 0.5 / (1 + k)


@pytest.mark.parametrize("start_factor", [0.1, 0.5])
def test_warmup_then_cosine_matches_SequentialLR(start_factor):
    W, lr0 = 40, 0.3

    def torch_sched(o):
        warm = L.LinearLR(o, start_factor=start_factor, end_factor=1.0, total_iters=W)
        cos = L.CosineAnnealingLR(o, T_max=STEPS - W, eta_min=0.001)
        return L.SequentialLR(o, [warm, cos], milestones=[W])

    ours = S.with_warmup(S.cosine(lr0, STEPS - W, eta_min=0.001), W, start_factor=start_factor)
    assert_rates_match(ours, torch_rates(torch_sched, lr0))


def test_warmup_then_step_matches_SequentialLR():
    W, lr0 = 25, 0.2

    def torch_sched(o):
        warm = L.LinearLR(o, start_factor=0.2, end_factor=1.0, total_iters=W)
        return L.SequentialLR(o, [warm, L.StepLR(o, step_size=50, gamma=0.5)], milestones=[W])

    assert_rates_match(S.with_warmup(S.step_decay(lr0, 50, 0.5), W, start_factor=0.2),
                       torch_rates(torch_sched, lr0))


def test_constant_and_make_schedule_names():
    assert all(S.constant(0.1)(t) == 0.1 for t in range(300))
    for name in ("constant", "step", "exponential", "inverse_time", "cosine", "cyclical", "warmup_cosine"):
        assert name in S.SCHEDULES
        s = make_schedule(name, lr0=0.1, total_steps=200)
        rates = [s(t) for t in range(200)]
        assert all(0 < r <= 0.1 + 1e-15 for r in rates[1:]), name
    # documented defaults
    assert math.isclose(make_schedule("exponential", lr0=1.0, total_steps=100)(100), 0.01, rel_tol=1e-12)
    assert math.isclose(make_schedule("inverse_time", lr0=1.0, total_steps=100)(100), 0.01, rel_tol=1e-12)
    assert make_schedule("cosine", lr0=1.0, total_steps=100)(100) == pytest.approx(0.0, abs=1e-15)
    assert make_schedule("step", lr0=1.0, total_steps=90, gamma=0.5)(30) == 0.5
    cyc = make_schedule("cyclical", lr0=1.0, total_steps=80)
    assert cyc(0) == pytest.approx(0.1) and cyc(10) == pytest.approx(1.0)


def test_make_schedule_with_warmup_and_overrides():
    s = make_schedule("cosine", lr0=0.4, total_steps=300, warmup_steps=30, start_factor=0.25)
    ref = S.with_warmup(S.cosine(0.4, 270), 30, start_factor=0.25)
    assert [s(t) for t in range(300)] == [ref(t) for t in range(300)]
    assert s(0) == pytest.approx(0.1) and s(30) == pytest.approx(0.4)
    wc = make_schedule("warmup_cosine", lr0=1.0, total_steps=200)
    assert wc(0) == pytest.approx(0.1) and wc(10) == pytest.approx(1.0) and wc(200) == pytest.approx(0.0)


def test_unknown_name_lists_known_names():
    with pytest.raises(ValueError, match="cosine.*cyclical|known schedules"):
        make_schedule("warmdown", lr0=0.1, total_steps=10)
    with pytest.raises(ValueError) as err:
        make_schedule("warmdown", lr0=0.1, total_steps=10)
    for name in S.SCHEDULES:
        assert name in str(err.value)


@pytest.mark.parametrize("build, error", [
    (lambda: S.step_decay(0.1, 10, gamma=0.0), ValueError),
    (lambda: S.step_decay(0.1, 10, gamma=-0.5), ValueError),
    (lambda: S.step_decay(0.1, 0), ValueError),
    (lambda: S.step_decay(0.1, 2.5), TypeError),
    (lambda: S.exponential(0.1, 0.0), ValueError),
    (lambda: S.exponential(-0.1, 0.9), ValueError),
    (lambda: S.inverse_time(0.1, -1.0), ValueError),
    (lambda: S.inverse_time(0.1, 1.0, steps_per_epoch=0), ValueError),
    (lambda: S.cosine(0.1, 0), ValueError),
    (lambda: S.cosine(0.1, 10, eta_min=0.2), ValueError),
    (lambda: S.cyclical(0.2, 0.1, 10), ValueError),
    (lambda: S.cyclical(0.1, 0.2, 10, mode="sawtooth"), ValueError),
    (lambda: S.with_warmup(S.constant(0.1), -1), ValueError),
    (lambda: S.with_warmup(S.constant(0.1), 5, start_factor=1.5), ValueError),
    (lambda: S.with_warmup(0.1, 5), TypeError),
    (lambda: make_schedule("cosine", lr0=0.0, total_steps=10), ValueError),
    (lambda: make_schedule("cosine", lr0=0.1, total_steps=0), ValueError),
    (lambda: make_schedule("cosine", lr0=0.1, total_steps=10, warmup_steps=10), ValueError),
    (lambda: make_schedule("constant", lr0=0.1, total_steps=10, gamma=0.5), ValueError),
    (lambda: S.constant(0.1)(-1), ValueError),
    (lambda: S.constant(0.1)(1.5), TypeError),
])
def test_bad_arguments(build, error):
    with pytest.raises(error):
        build()


# ---------------------------------------------------------------- the optimizer adapter
def test_scheduled_optimizer_drives_sgd_like_torch():
    """SGD driven by our adapter follows the same parameter trajectory as SGD + CosineAnnealingLR."""
    g = torch.Generator().manual_seed(0)
    A = torch.randn(6, 4, generator=g, dtype=torch.float64)
    b = torch.randn(6, generator=g, dtype=torch.float64)

    def loss(w):
        return ((A @ w - b) ** 2).sum()

    w1 = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    opt1 = S.ScheduledOptimizer(torch.optim.SGD([w1], lr=123.0, momentum=0.9), S.cosine(0.01, 200, 1e-4))
    w2 = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    opt2 = torch.optim.SGD([w2], lr=0.01, momentum=0.9)
    sched2 = L.CosineAnnealingLR(opt2, T_max=200, eta_min=1e-4)
    for t in range(200):
        assert math.isclose(opt1.lr, opt2.param_groups[0]["lr"], rel_tol=REL)
        for w, o in ((w1, opt1), (w2, opt2)):
            o.zero_grad()
            loss(w).backward()
            o.step()
        assert opt1.param_groups[0]["lr"] == S.cosine(0.01, 200, 1e-4)(t)
        sched2.step()
    torch.testing.assert_close(w1, w2, rtol=1e-12, atol=1e-14)
    assert opt1.step_count == 200
    with pytest.raises(TypeError):
        S.ScheduledOptimizer("sgd", S.constant(0.1))
    with pytest.raises(TypeError, match="schedule must be a callable step -> lr"):
        S.ScheduledOptimizer(torch.optim.SGD([w1], lr=0.1), 0.1)


# ---------------------------------------------------------------- properties
lrs = st.floats(1e-4, 10.0)
PROP = settings(deadline=None, derandomize=True, database=None,  # same examples on every run
                max_examples=int(os.environ.get("DLFA_HYPOTHESIS_EXAMPLES", 30)))


@PROP
@given(lr0=lrs, step_size=st.integers(1, 60), gamma=st.floats(0.05, 0.99), steps=st.integers(1, 300))
def test_property_step_decay_vs_StepLR(lr0, step_size, gamma, steps):
    assume(lr0 * gamma ** (steps // step_size) > 1e-290)  # subnormal rates lose their relative precision
    assert_rates_match(S.step_decay(lr0, step_size, gamma),
                       torch_rates(lambda o: L.StepLR(o, step_size=step_size, gamma=gamma), lr0, steps))


@PROP
@given(lr0=lrs, frac=st.floats(0.0, 0.9), T_max=st.integers(1, 200))
def test_property_cosine_bounded_monotone_and_vs_torch(lr0, frac, T_max):
    eta_min = frac * lr0
    s = S.cosine(lr0, T_max, eta_min)
    rates = [s(t) for t in range(T_max + 1)]
    assert rates[0] == pytest.approx(lr0, rel=1e-12)
    assert rates[-1] == pytest.approx(eta_min, rel=1e-9, abs=1e-12 * lr0)
    assert all(a >= b - 1e-12 * lr0 for a, b in zip(rates, rates[1:]))
    assert_rates_match(s, torch_rates(lambda o: L.CosineAnnealingLR(o, T_max=T_max, eta_min=eta_min), lr0,
                                      T_max), rel=1e-9)


@PROP
@given(base=st.floats(1e-4, 1.0), ratio=st.floats(1.0, 20.0), up=st.integers(1, 50),
       down=st.one_of(st.none(), st.integers(1, 50)))
def test_property_cyclical_bounded_periodic_and_vs_torch(base, ratio, up, down):
    top = base * ratio
    s = S.cyclical(base, top, up, step_size_down=down)
    period = up + (up if down is None else down)
    rates = [s(t) for t in range(3 * period)]
    assert all(base * (1 - 1e-12) <= r <= top * (1 + 1e-12) for r in rates)
    assert rates[up] == pytest.approx(top, rel=1e-12)
    for t in range(period):
        assert rates[t + period] == pytest.approx(rates[t], rel=1e-9)
    assert_rates_match(s, torch_rates(lambda o: L.CyclicLR(o, base_lr=base, max_lr=top, step_size_up=up,
                                                           step_size_down=down, cycle_momentum=False),
                                      base, 3 * period), rel=1e-9)


@PROP
@given(lr0=lrs, W=st.integers(1, 50), start=st.floats(0.0, 1.0), name=st.sampled_from(sorted(S.SCHEDULES)))
def test_property_warmup_linear_then_shifted(lr0, W, start, name):
    inner = make_schedule(name, lr0=lr0, total_steps=200)
    s = S.with_warmup(inner, W, start_factor=start)
    warm = [s(t) for t in range(W + 1)]
    assert warm[0] == pytest.approx(start * inner(0), rel=1e-12, abs=1e-300)
    assert all(a <= b * (1 + 1e-12) for a, b in zip(warm, warm[1:]))       # non-decreasing
    diffs = [b - a for a, b in zip(warm[:W], warm[1:W])]
    assert all(d == pytest.approx(diffs[0], rel=1e-9, abs=1e-15) for d in diffs)  # linear
    assert all(s(W + t) == inner(t) for t in range(0, 200, 7))


@PROP
@given(lr0=lrs, k=st.floats(0.0, 5.0), spe=st.integers(1, 20), t=st.integers(0, 10_000))
def test_property_inverse_time_formula(lr0, k, spe, t):
    assert S.inverse_time(lr0, k, spe)(t) == pytest.approx(lr0 / (1 + k * (t // spe)), rel=1e-15)
    assert S.inverse_time(lr0, k, spe)(t) <= lr0
