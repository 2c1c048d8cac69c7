"""helpers.stacked: V networks trained side by side give what V separate ``fit`` runs give, bit for bit."""
import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from helpers.data import load_digits
from helpers.experiments.common import seeded_mlp
from helpers.models import make_mlp
from helpers.seeding import book_numerics
from helpers.stacked import StackedMLP, fit_stacked
from helpers.train import fit

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def splits():
    return {seed: load_digits(seed=seed) for seed in (0, 1, 2)}


def _recorded(history):
    """Everything a History recorded but its wall time, as text (so NaN equals NaN, and 1e-9 differs)."""
    fields = dataclasses.asdict(history)
    fields.pop("seconds")
    return repr(fields)


def _both(splits, *, hidden, seeds, lrs, schedules=None, record_grad_norms=False, steps=40, eval_every=15,
          **mlp):
    """(fit histories, fit models, fit_stacked histories, fit_stacked models) for the same runs."""
    schedules = schedules or [None] * len(seeds)

    activations = mlp.pop("activation")
    activations = activations if isinstance(activations, list) else [activations] * len(seeds)

    def models():
        return [seeded_mlp(splits[s], seed=s, hidden=hidden, depth=3, activation=act, **mlp)
                for s, act in zip(seeds, activations)]

    alone, together = models(), models()
    with book_numerics():
        expected = [fit(m, (splits[s].X_train, splits[s].y_train), test=(splits[s].X_test, splits[s].y_test),
                        steps=steps, batch_size=30, lr=lr, schedule=sched, seed=s, eval_every=eval_every,
                        record_grad_norms=record_grad_norms, device="cpu", progress=False)
                    for m, s, lr, sched in zip(alone, seeds, lrs, schedules)]
        got = fit_stacked(together, [(splits[s].X_train, splits[s].y_train) for s in seeds],
                          test=[(splits[s].X_test, splits[s].y_test) for s in seeds], steps=steps, batch_size=30,
                          lr=lrs, schedule=schedules, seed=seeds, eval_every=eval_every,
                          record_grad_norms=record_grad_norms, device="cpu")
    return expected, alone, got, together


CASES = {
    "bn before, relu, three seeds": dict(seeds=[0, 1, 2], lrs=[0.1] * 3, activation="relu", norm="batch"),
    "bn after, sigmoid, three rates": dict(seeds=[0, 0, 0], lrs=[0.1, 0.5, 2.0], activation="sigmoid",
                                           norm="batch", norm_position="after"),
    "no bn, tanh, xavier": dict(seeds=[2, 1], lrs=[0.3, 0.1], activation="tanh", init="xavier"),
    "different activations, bn after": dict(seeds=[0, 1, 2, 0], lrs=[0.1, 0.1, 0.5, 0.5],
                                            activation=["sigmoid", "sigmoid", "relu", "tanh"], norm="batch",
                                            norm_position="after"),
    "schedules and gradient norms": dict(seeds=[0, 0, 0, 0], lrs=[0.1, 0.3, 1.0, 0.5], activation="relu",
                                         norm="batch", schedules=["constant", "step", "cosine", "cyclical"],
                                         record_grad_norms=True),
}


@pytest.mark.parametrize("hidden", [32, 64])
@pytest.mark.parametrize("case", list(CASES))
def test_same_numbers_and_weights_as_separate_fits(splits, case, hidden):
    expected, alone, got, together = _both(splits, hidden=hidden, **CASES[case])
    for v, (h_fit, h_stacked) in enumerate(zip(expected, got)):
        assert _recorded(h_stacked) == _recorded(h_fit), f"network {v}: a recorded number differs"
        for (name, a), (_, b) in zip(alone[v].state_dict().items(), together[v].state_dict().items()):
            assert torch.equal(a, b), f"network {v}: {name} differs from its own fit run"


def test_a_diverging_network_stops_alone_and_keeps_its_weights(splits):
    expected, alone, got, together = _both(splits, hidden=32, seeds=[0, 0, 0], lrs=[0.1, 5.0, 60.0],
                                           activation="relu", steps=60)
    assert [h.diverged for h in expected] == [False, True, True]  # the case tests what it says
    assert expected[1].diverged_at != expected[2].diverged_at
    for v in range(3):
        assert _recorded(got[v]) == _recorded(expected[v])
        assert all(torch.equal(a, b) for a, b in zip(alone[v].state_dict().values(),
                                                      together[v].state_dict().values()))


@pytest.mark.parametrize("hidden", [16, 24, 100])
def test_bit_for_bit_at_widths_off_the_vector_blocks_too(splits, hidden):
    # a BN of V networks as one (N, V*C) batch norm would round differently here (not a multiple of 32)
    expected, alone, got, together = _both(splits, hidden=hidden, seeds=[0, 1, 2], lrs=[0.1, 0.1, 0.3],
                                           activation="relu", norm="batch", steps=30, eval_every=10)
    for v in range(3):
        assert _recorded(got[v]) == _recorded(expected[v])
        assert all(torch.equal(a, b) for a, b in zip(alone[v].state_dict().values(),
                                                      together[v].state_dict().values()))


def test_forward_sends_row_v_through_network_v_only(splits):
    models = [seeded_mlp(splits[0], seed=s, hidden=32, depth=2, activation="tanh", norm="batch") for s in (0, 1)]
    stack = StackedMLP(models).eval()
    for m in models:
        m.eval()
    X = splits[0].X_test[:50]
    out = stack(torch.stack([X, 2 * X]))
    assert out.shape == (2, 50, 10)
    assert torch.allclose(out[0], models[0](X), atol=1e-6) and torch.allclose(out[1], models[1](2 * X), atol=1e-6)


def test_bad_input_is_refused_with_what_was_expected(splits):
    data = splits[0]
    relu = [seeded_mlp(data, seed=0, hidden=32, depth=2, activation="relu") for _ in range(2)]
    with pytest.raises(ValueError, match="same architecture"):
        StackedMLP([relu[0], seeded_mlp(data, seed=0, hidden=32, depth=2, activation="relu", norm="batch")])
    with pytest.raises(ValueError, match="same architecture"):
        StackedMLP([relu[0], seeded_mlp(data, seed=0, hidden=16, depth=2, activation="relu")])
    with pytest.raises(TypeError, match="cannot be stacked"):
        StackedMLP([make_mlp(64, 32, 2, 10, norm="layer")])
    with pytest.raises(TypeError, match="nn.Sequential"):
        StackedMLP([nn.Linear(64, 10)])
    with pytest.raises(ValueError, match="at least one"):
        StackedMLP([])
    with pytest.raises(ValueError, match="V = 2"):
        StackedMLP(relu)(torch.zeros(3, 5, 64))
    train = [(data.X_train, data.y_train)] * 2
    with pytest.raises(ValueError, match="one entry per model"):
        fit_stacked(relu, train, steps=2, batch_size=10, lr=[0.1], seed=0, device="cpu")
    with pytest.raises(ValueError, match="same shape"):
        fit_stacked(relu, [train[0], (data.X_train[:100], data.y_train[:100])], steps=2, batch_size=10, lr=0.1,
                    seed=0, device="cpu")
    with pytest.raises(ValueError, match="batch_size must be <="):
        fit_stacked(relu, train, steps=2, batch_size=10**6, lr=0.1, seed=0, device="cpu")
    with pytest.raises(ValueError, match="seed"):
        fit_stacked(relu, train, steps=2, batch_size=10, lr=0.1, seed=-1, device="cpu")


INTEL_PATHS_PROBE = """
import sys, torch, pytest
try:  # the shim works: MKL's Intel path fails on this rank-one matrix (see tests/test_spectral.py)
    torch.linalg.eigvals(torch.full((64, 64), 0.05, dtype=torch.float64))
    sys.exit("MKL's Intel code path is not active")
except RuntimeError:
    pass
sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "-p", "no:xdist", "tests/test_stacked.py",
                      "-k", "widths or different or diverging", "-m", "not slow"]))
"""


@pytest.mark.slow
@pytest.mark.parametrize("cbwr", ["AVX512", "AVX2"])
def test_bit_for_bit_on_mkl_intel_code_paths(tmp_path, cbwr):
    """The bit-for-bit tests (BN widths 16-100, mixed activations, a diverging network) again, with MKL
    forced onto the code paths it takes on Intel CPUs."""
    gcc = shutil.which("gcc") or shutil.which("cc")
    assert gcc, "a C compiler is needed to force MKL's Intel code path (Debian: gcc)"
    (tmp_path / "shim.c").write_text("int mkl_serv_intel_cpu_true(void) { return 1; }\n")
    subprocess.run([gcc, "-shared", "-fPIC", "-o", str(tmp_path / "shim.so"), str(tmp_path / "shim.c")], check=True)
    env = {**os.environ, "LD_PRELOAD": str(tmp_path / "shim.so"), "MKL_CBWR": cbwr}
    out = subprocess.run([sys.executable, "-c", INTEL_PATHS_PROBE], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    assert " passed" in out.stdout and "failed" not in out.stdout
