"""Fast checks of chapter 2's experiments (helpers.experiments.ch2_bn_sigmoid_relu).

The chapter runs them with the book's settings (``SETTINGS``); here they run at the ``TINY`` scale on
240 training images and must return finite, well-formed results. Direction checks that need no long
training: at initialisation a deep sigmoid network's first-layer gradient is orders of magnitude
smaller than its last hidden layer's without BN and not with it; σ(BN(x)) at initialisation lies
mostly OUTSIDE [σ(0), σ(1)]; BN before and after the activation start from identical weights.
"""
import math

import pytest
import torch

from helpers.experiments import ch2_bn_sigmoid_relu as ch2
from helpers.experiments.settings import book_call
from helpers.models import make_mlp

CPU = "cpu"


def _is_acc(value):
    return isinstance(value, float) and math.isfinite(value) and 0.0 <= value <= 1.0


def test_claimed_range_constants():
    assert ch2.SIGMOID_0 == 0.5
    assert ch2.SIGMOID_1 == pytest.approx(torch.sigmoid(torch.tensor(1.0)).item())
    assert ch2.SIGMOID_1 == pytest.approx(0.731, abs=1e-3)


def test_every_experiment_has_a_glue_prefix_of_the_chapter():
    assert set(ch2.GLUE_PREFIX) == set(ch2.SETTINGS)
    assert all(p.startswith("ch2_") for p in ch2.GLUE_PREFIX.values())
    assert len(set(ch2.GLUE_PREFIX.values())) == len(ch2.GLUE_PREFIX)


def test_a_setting_passed_at_the_call_is_refused():
    with pytest.raises(TypeError, match="book settings"):
        ch2.run("sigmoid_bn_outputs", lr=0.1)
    with pytest.raises(ValueError, match="part of the book"):
        ch2.run("bn_position", subset={"seed_offsets": (0, 7)})


def test_activation_comparison_well_formed_and_gradients_vanish_without_bn(tiny):
    r = ch2.run("activation_comparison", tiny=True, data=tiny, device=CPU)
    lrs = list(ch2.SETTINGS["activation_comparison"]["lrs"])
    expected = ["sigmoid_none", "sigmoid_batch", "tanh_none", "tanh_batch", "relu_none", "relu_batch",
                "tanh_xavier", "relu_kaiming"]
    assert r["names"] == expected and set(r["runs"]) == set(expected)
    depth = r["config"]["depth"]
    for name in expected:
        run = r["runs"][name]
        assert len(run["grad_init"]) == depth + 1 and all(g > 0 and math.isfinite(g) for g in run["grad_init"])
        assert [row["lr"] for row in run["per_lr"]] == lrs
        assert run["best_lr"] in lrs
        assert _is_acc(run["train_acc"]) and _is_acc(run["test_acc"])
        # the kept run is the one with the lowest final training loss
        assert run["train_loss"] == min(row["train_loss"] for row in run["per_lr"] if row["train_loss"] is not None)
        assert len(run["grad_trained"]) == depth + 1
        assert run["grad_ratio_init"] == pytest.approx(run["grad_init"][0] / run["grad_init"][depth - 1])
    assert r["runs"]["relu_kaiming"]["init"] == "kaiming" and r["runs"]["relu_kaiming"]["norm"] == "none"
    # direction (robust, at initialisation): 10 sigmoid layers without BN -> first-layer gradient is
    # orders of magnitude smaller than the last hidden layer's; with BN it is not
    assert depth == 10
    assert r["runs"]["sigmoid_none"]["grad_ratio_init"] < 1e-4
    assert r["runs"]["sigmoid_batch"]["grad_ratio_init"] > 0.1


def test_bn_position_is_controlled(tiny):
    r = ch2.run("bn_position", seed=5, tiny=True, data_for_seed=lambda s: tiny, device=CPU)
    seeds = [5 + k for k in ch2.TINY["bn_position"]["seed_offsets"]]
    acts = list(ch2.TINY["bn_position"]["activations"])
    assert r["same_init"] is True and r["seeds"] == seeds and r["activations"] == acts
    for act in acts:
        for pos in ("before", "after"):
            rows = r[act][pos]
            assert [row["seed"] for row in rows] == seeds
            assert all(_is_acc(row["test_acc"]) for row in rows)
            mean = r["mean"][act][pos]
            assert mean["test_acc"] == pytest.approx(sum(row["test_acc"] for row in rows) / len(rows))
        wins = r["after_wins"][act]
        assert 0 <= wins["train_loss"] <= len(seeds) and 0 <= wins["test_acc"] <= len(seeds)


def test_bn_position_one_seed_is_that_seeds_row_of_several(tiny):
    """The claims rerun one seed of the book's three: its row must not depend on the other seeds."""
    both = ch2.run("bn_position", seed=0, tiny=True, data_for_seed=lambda s: tiny, device=CPU)
    one = ch2.run("bn_position", seed=1, tiny=True, subset={"seed_offsets": (0,)}, data_for_seed=lambda s: tiny,
                  device=CPU)
    assert one["seeds"] == [1]
    for act in one["activations"]:
        for pos in ("before", "after"):
            assert one[act][pos] == [row for row in both[act][pos] if row["seed"] == 1]


def test_same_linear_weights_whatever_the_bn_position():
    torch.manual_seed(3)
    a = make_mlp(8, 4, 3, 2, activation="tanh", norm="batch", norm_position="before")
    torch.manual_seed(3)
    b = make_mlp(8, 4, 3, 2, activation="tanh", norm="batch", norm_position="after")
    assert ch2.same_linear_weights(a, b)
    with torch.no_grad():
        b.linear2.weight[0, 0] += 1.0
    assert not ch2.same_linear_weights(a, b)


def test_dead_fractions_counts_units_silent_on_every_row():
    model = make_mlp(3, 4, 1, 2, activation="relu")
    with torch.no_grad():
        model.linear1.weight.zero_()
        model.linear1.bias.copy_(torch.tensor([-1.0, 1.0, -0.5, 2.0]))  # units 0 and 2 always output 0
    X = torch.randn(50, 3)
    assert ch2.dead_fractions(model, X) == [0.5]


def test_hidden_outputs_leave_running_stats_alone(tiny):
    model = make_mlp(64, 8, 2, 10, activation="sigmoid", norm="batch")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    outs = ch2.hidden_outputs(model, tiny.X_train)
    assert [tuple(o.shape) for o in outs] == [(240, 8), (240, 8)]
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    with pytest.raises(ValueError, match="act1"):
        ch2.hidden_outputs(torch.nn.Sequential(torch.nn.Linear(2, 2)), torch.randn(3, 2))


def test_dead_relu_well_formed(tiny):
    r = ch2.run("dead_relu", tiny=True, data=tiny, device=CPU)
    depth = ch2.TINY["dead_relu"]["depth"]
    assert r["variants"] == ["none", "batch_before", "batch_after"]
    assert r["lrs"] == list(ch2.SETTINGS["dead_relu"]["lrs"])
    for name in r["variants"]:
        for row in r[name]:
            assert len(row["dead"]) == depth and all(0.0 <= f <= 1.0 for f in row["dead"])
            assert row["dead_mean"] == pytest.approx(sum(row["dead"]) / depth)
    # BN before the ReLU standardises each unit over the batch: at initialisation none is dead
    assert r["batch_before"][0]["dead_init"] == [0.0] * depth
    assert len(r["default_init_dead"]) == depth


def test_dead_relu_reports_a_diverged_run_as_none(tiny):
    """An argument test: a rate of 1e4 diverges; the dead fraction of a diverged run is None, not a number."""
    kwargs = dict(book_call(ch2, "dead_relu", tiny=True), lrs=(0.1, 1e4))
    r = ch2.dead_relu(**kwargs, seed=0, data=tiny, device=CPU)
    bad = r["none"][1]
    assert bad["diverged"] and bad["dead"] is None and bad["dead_mean"] is None
    assert r["none"][0]["dead"] is not None


def test_sigmoid_bn_outputs_are_not_confined_to_the_claimed_range(tiny):
    r = ch2.run("sigmoid_bn_outputs", tiny=True, data=tiny, device=CPU)
    depth, hidden, bins = (ch2.TINY["sigmoid_bn_outputs"][k] for k in ("depth", "hidden", "bins"))
    for tag in ("init", "trained"):
        part = r[tag]
        assert len(part["hist"]) == bins and sum(part["hist"]) == pytest.approx(1.0)
        assert part["inside"] + part["outside"] == pytest.approx(1.0)
        assert len(part["per_layer"]) == depth
        assert 0.0 <= part["min"] <= part["max"] <= 1.0
    # x̂ is standardised (std 1): σ(x̂) falls in [0.5, 0.73] only where 0 <= x̂ <= 1, a third or so
    assert r["init"]["xhat_std"] == pytest.approx(1.0, abs=0.01)
    assert r["init"]["outside"] > 0.5
    assert 0.3 < r["init"]["below_half"] < 0.7  # x̂ has mean 0: a large share of σ(x̂) is below σ(0) = 0.5
    assert r["init"]["min"] < ch2.SIGMOID_0 and r["init"]["max"] > ch2.SIGMOID_1
    assert r["init"]["inside"] == pytest.approx(r["init"]["xhat_in_0_1"], abs=1e-6)
    assert len(r["gamma"]["values"]) == len(r["beta"]["values"]) == depth * hidden
    assert r["gamma"]["min"] <= r["gamma"]["mean"] <= r["gamma"]["max"]
    assert r["relu_init"]["max"] > 1.0


def test_preactivation_spread_shrinks_without_bn_and_not_with_bn_after(tiny):
    r = ch2.run("preactivation_spread", data=tiny)
    after, none = r["after"], r["none"]
    depth = ch2.SETTINGS["preactivation_spread"]["depth"]
    assert len(after) == len(none) == depth and all(v > 0 and math.isfinite(v) for v in after + none)
    assert after[0] == pytest.approx(none[0])   # layer 1 reads the raw pixels in both, from the same weights
    assert r["after_ratio"] == after[-1] / after[1] and r["none_ratio"] == none[-1] / none[1]
    # default init, no BN: each tanh layer shrinks the signal (factor about sqrt(1/3)); BN after keeps it
    assert r["none_ratio"] < 0.1
    assert 0.5 <= r["after_ratio"] <= 2
    with pytest.raises(ValueError, match="depth must be an int >= 2"):
        ch2.preactivation_spread(seed=0, activation="tanh", depth=1, hidden=4, data=tiny)


def test_dead_unit_is_not_revived_by_bn_after_the_relu(tiny):
    r = ch2.run("dead_unit_through_bn", tiny=True, data=tiny)
    assert r["after_spread"] == 0.0 and r["after_grad"] == 0.0   # a constant β, and no gradient reaches it
    assert r["live_grad_min"] > 0
    assert 0.2 < r["before_positive"] < 0.8                        # BN first: standardised, about half positive
    alive = ch2.dead_unit_through_bn(seed=0, units=4, bias=0.0, data=tiny)
    assert alive["after_grad"] > 0 and alive["after_spread"] > 0   # the same unit, not dead: gradient flows
    with pytest.raises(ValueError, match="units must be an int >= 2"):
        ch2.dead_unit_through_bn(seed=0, units=1, bias=-1e3, data=tiny)


def test_bn_position_refuses_repeated_seeds(tiny):
    kwargs = dict(book_call(ch2, "bn_position", tiny=True), seed_offsets=(0, 0))
    with pytest.raises(ValueError, match="seed_offsets must be distinct"):
        ch2.bn_position(**kwargs, seed=0, data_for_seed=lambda s: tiny, device=CPU)
