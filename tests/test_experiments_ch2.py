"""Fast checks of chapter 2's experiment functions (helpers.experiments.ch2_bn_sigmoid_relu).

The chapter runs them at full scale; here they run tiny (a subset of digits, a few steps) and
must return finite, well-formed results. Direction checks that need no long training:
at initialisation a deep sigmoid network's first-layer gradient is orders of magnitude smaller
than its last hidden layer's without BN and not with it; σ(BN(x)) at initialisation lies
mostly OUTSIDE [σ(0), σ(1)]; BN before and after the activation start from identical weights.
"""
import math

import pytest
import torch

from helpers.experiments import ch2_bn_sigmoid_relu as ab
from helpers.models import make_mlp

CPU = "cpu"




def _is_acc(value):
    return isinstance(value, float) and math.isfinite(value) and 0.0 <= value <= 1.0


def test_claimed_range_constants():
    assert ab.SIGMOID_0 == 0.5
    assert ab.SIGMOID_1 == pytest.approx(torch.sigmoid(torch.tensor(1.0)).item())
    assert ab.SIGMOID_1 == pytest.approx(0.731, abs=1e-3)


def test_activation_comparison_well_formed_and_gradients_vanish_without_bn(tiny):
    r = ab.activation_comparison(seed=0, depth=10, hidden=16, lrs=(0.1, 0.5), steps=6, batch_size=20,
                                 grad_batch=100, data=tiny, device=CPU)
    expected = ["sigmoid_none", "sigmoid_batch", "tanh_none", "tanh_batch", "relu_none", "relu_batch",
                "tanh_xavier", "relu_kaiming"]
    assert r["names"] == expected and set(r["runs"]) == set(expected)
    for name in expected:
        run = r["runs"][name]
        assert len(run["grad_init"]) == 11 and all(g > 0 and math.isfinite(g) for g in run["grad_init"])
        assert [row["lr"] for row in run["per_lr"]] == [0.1, 0.5]
        assert run["best_lr"] in (0.1, 0.5)
        assert _is_acc(run["train_acc"]) and _is_acc(run["test_acc"])
        # the kept run is the one with the lowest final training loss
        assert run["train_loss"] == min(row["train_loss"] for row in run["per_lr"] if row["train_loss"] is not None)
        assert len(run["grad_trained"]) == 11
    assert r["runs"]["relu_kaiming"]["init"] == "kaiming" and r["runs"]["relu_kaiming"]["norm"] == "none"
    # direction (robust, at initialisation): 10 sigmoid layers without BN -> first-layer gradient is
    # orders of magnitude smaller than the last hidden layer's; with BN it is not
    assert r["runs"]["sigmoid_none"]["grad_ratio_init"] < 1e-4
    assert r["runs"]["sigmoid_batch"]["grad_ratio_init"] > 0.1


def test_bn_position_is_controlled(tiny):
    r = ab.bn_position(seeds=(0, 1), activations=("sigmoid", "relu"), steps=5, hidden=16, depth=10, batch_size=20,
                       data_for_seed=lambda s: tiny, device=CPU)
    assert r["same_init"] is True
    for act in ("sigmoid", "relu"):
        for pos in ("before", "after"):
            rows = r[act][pos]
            assert [row["seed"] for row in rows] == [0, 1]
            assert all(_is_acc(row["test_acc"]) for row in rows)
            mean = r["mean"][act][pos]
            assert mean["test_acc"] == pytest.approx(sum(row["test_acc"] for row in rows) / 2)
        wins = r["after_wins"][act]
        assert 0 <= wins["train_loss"] <= 2 and 0 <= wins["test_acc"] <= 2
    with pytest.raises(ValueError, match="positions"):
        ab.bn_position(positions=("after", "before"))


def test_same_linear_weights_whatever_the_bn_position():
    torch.manual_seed(3)
    a = make_mlp(8, 4, 3, 2, activation="tanh", norm="batch", norm_position="before")
    torch.manual_seed(3)
    b = make_mlp(8, 4, 3, 2, activation="tanh", norm="batch", norm_position="after")
    assert ab.same_linear_weights(a, b)
    with torch.no_grad():
        b.linear2.weight[0, 0] += 1.0
    assert not ab.same_linear_weights(a, b)


def test_dead_fractions_counts_units_silent_on_every_row():
    model = make_mlp(3, 4, 1, 2, activation="relu")
    with torch.no_grad():
        model.linear1.weight.zero_()
        model.linear1.bias.copy_(torch.tensor([-1.0, 1.0, -0.5, 2.0]))  # units 0 and 2 always output 0
    X = torch.randn(50, 3)
    assert ab.dead_fractions(model, X) == [0.5]


def test_hidden_outputs_leave_running_stats_alone(tiny):
    model = make_mlp(64, 8, 2, 10, activation="sigmoid", norm="batch")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    outs = ab.hidden_outputs(model, tiny.X_train)
    assert [tuple(o.shape) for o in outs] == [(240, 8), (240, 8)]
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    with pytest.raises(ValueError, match="act1"):
        ab.hidden_outputs(torch.nn.Sequential(torch.nn.Linear(2, 2)), torch.randn(3, 2))


def test_dead_relu_well_formed(tiny):
    r = ab.dead_relu(seed=0, lrs=(0.1, 1e4), steps=5, depth=4, hidden=16, batch_size=20, data=tiny, device=CPU)
    assert r["variants"] == ["none", "batch_before", "batch_after"] and r["lrs"] == [0.1, 1e4]
    for name in r["variants"]:
        ok = r[name][0]
        assert len(ok["dead"]) == 4 and all(0.0 <= f <= 1.0 for f in ok["dead"])
        assert ok["dead_mean"] == pytest.approx(sum(ok["dead"]) / 4)
    bad = r["none"][1]
    assert bad["diverged"] and bad["dead"] is None and bad["dead_mean"] is None
    # BN before the ReLU standardises each unit over the batch: at initialisation none is dead
    assert r["batch_before"][0]["dead_init"] == [0.0] * 4
    assert len(r["default_init_dead"]) == 4


def test_sigmoid_bn_outputs_are_not_confined_to_the_claimed_range(tiny):
    r = ab.sigmoid_bn_outputs(seed=0, depth=3, hidden=16, lr=0.1, steps=5, batch_size=20, bins=20, data=tiny,
                              device=CPU)
    for tag in ("init", "trained"):
        part = r[tag]
        assert len(part["hist"]) == 20 and sum(part["hist"]) == pytest.approx(1.0)
        assert part["inside"] + part["outside"] == pytest.approx(1.0)
        assert len(part["per_layer"]) == 3
        assert 0.0 <= part["min"] <= part["max"] <= 1.0
    # x̂ is standardised (std 1): σ(x̂) falls in [0.5, 0.73] only where 0 <= x̂ <= 1, a third or so
    assert r["init"]["bn_out_std"] == pytest.approx(1.0, abs=0.01)
    assert r["init"]["outside"] > 0.5
    assert 0.3 < r["init"]["below_half"] < 0.7  # x̂ has mean 0: a large share of σ(x̂) is below σ(0) = 0.5
    assert r["init"]["min"] < ab.SIGMOID_0 and r["init"]["max"] > ab.SIGMOID_1
    assert r["init"]["inside"] == pytest.approx(r["init"]["bn_out_in_0_1"], abs=1e-6)
    assert len(r["gamma"]["values"]) == len(r["beta"]["values"]) == 3 * 16
    assert r["gamma"]["min"] <= r["gamma"]["mean"] <= r["gamma"]["max"]
    assert r["relu_init"]["max"] > 1.0


def test_preactivation_spread_shrinks_without_bn_and_not_with_bn_after(tiny):
    after = ab.preactivation_spread(tiny, activation="tanh", norm="batch", norm_position="after", depth=10, hidden=16)
    none = ab.preactivation_spread(tiny, activation="tanh", norm="none", depth=10, hidden=16)
    assert len(after) == len(none) == 10 and all(v > 0 and math.isfinite(v) for v in after + none)
    assert after[0] == pytest.approx(none[0])   # layer 1 reads the raw pixels in both, from the same weights
    # default init, no BN: each tanh layer shrinks the signal (factor about sqrt(1/3)); BN after keeps it
    assert none[-1] / none[1] < 0.1
    assert 0.5 <= after[-1] / after[1] <= 2


def test_dead_unit_is_not_revived_by_bn_after_the_relu(tiny):
    r = ab.dead_unit_through_bn(tiny.X_train, units=4)
    assert r["after_spread"] == 0.0 and r["after_grad"] == 0.0   # a constant β, and no gradient reaches it
    assert r["live_grad_min"] > 0
    assert 0.2 < r["before_positive"] < 0.8                        # BN first: standardised, about half positive
    alive = ab.dead_unit_through_bn(tiny.X_train, units=4, bias=0.0)
    assert alive["after_grad"] > 0 and alive["after_spread"] > 0   # the same unit, not dead: gradient flows
    with pytest.raises(ValueError, match="units"):
        ab.dead_unit_through_bn(tiny.X_train, units=1)
