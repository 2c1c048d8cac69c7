"""Fast checks of chapter 1's experiments (helpers.experiments.ch1_batchnorm).

The chapter runs them with the book's settings (``ch1.SETTINGS``); here they run at the
declared tiny scale (``ch1.run(name, tiny=True)``, on a subset of the digits) and must return
finite, well-formed results; a test about one argument calls the experiment with the tiny
settings and that argument changed. One direction check is kept near the chapter's scale
because it is cheap and robust: BN reaches the target train accuracy in fewer steps than the
same network without BN (seed 0).
"""
import inspect
import math

import pytest
import torch

from helpers.experiments import ch1_batchnorm as ch1
from helpers.experiments.common import seeded_mlp
from helpers.experiments.settings import book_call

CPU = "cpu"


def _is_acc(value):
    return isinstance(value, float) and math.isfinite(value) and 0.0 <= value <= 1.0


def _tiny(name, **changes):
    """The experiment's tiny settings with ``changes``, seed 0: for a test about one argument."""
    return {**book_call(ch1, name, tiny=True), "seed": 0, **changes}


def test_the_issue_examples_have_one_value_each():
    """small_batch and generalization_gap once had defaults that disagreed with the chapter's call."""
    assert ch1.SETTINGS["small_batch"]["epochs"] == 1 and ch1.SETTINGS["small_batch"]["base_lr"] == 0.4
    assert ch1.SETTINGS["small_batch"]["depth"] == 2 and ch1.SETTINGS["generalization_gap"]["steps"] == 600
    for name in ("small_batch", "generalization_gap"):
        params = inspect.signature(getattr(ch1, name)).parameters
        assert all(params[k].default is inspect.Parameter.empty for k in ch1.SETTINGS[name])


def test_every_experiment_has_a_glue_prefix_of_the_chapter():
    assert set(ch1.GLUE_PREFIX) == set(ch1.SETTINGS)
    prefixes = list(ch1.GLUE_PREFIX.values())
    assert len(set(prefixes)) == len(prefixes) and all(p.startswith("ch1_") for p in prefixes)


def test_a_setting_passed_at_the_call_is_refused_with_a_clear_error():
    with pytest.raises(TypeError, match="book settings"):
        ch1.run("small_batch", epochs=2)
    with pytest.raises(TypeError, match="depth"):
        ch1.small_batch(seed=0, batch_sizes=(4,))  # no defaults: a missing setting is an error, not a silent value


def test_bn_demo_matches_the_formulas():
    demo = ch1.run("bn_demo", tiny=True)
    m = demo["batch_size"]
    mean = torch.tensor(demo["batch_mean"])
    biased, unbiased = torch.tensor(demo["batch_var_biased"]), torch.tensor(demo["batch_var_unbiased"])
    torch.testing.assert_close(unbiased, biased * m / (m - 1))
    # a fixed batch, running mean from 0: after k steps it holds 1 - 0.9**k of the batch mean
    assert len(demo["running_mean"]) == ch1.TINY["bn_demo"]["steps"]
    for k, running in enumerate(demo["running_mean"], start=1):
        torch.testing.assert_close(torch.tensor(running), (1 - 0.9 ** k) * mean, rtol=1e-5, atol=1e-6)
    # running var from 1: (0.9**k) * 1 + (1 - 0.9**k) * unbiased var
    for k, running in enumerate(demo["running_var"], start=1):
        torch.testing.assert_close(torch.tensor(running), 0.9 ** k + (1 - 0.9 ** k) * unbiased, rtol=1e-5, atol=1e-6)
    # training output per feature has mean beta and std |gamma| (eps makes it slightly smaller)
    torch.testing.assert_close(torch.tensor(demo["train_out_mean"]), torch.tensor(demo["beta"]), rtol=0, atol=1e-5)
    torch.testing.assert_close(torch.tensor(demo["train_out_std"]), torch.tensor(demo["gamma"]).abs(),
                               rtol=1e-3, atol=1e-4)
    assert demo["max_train_eval_diff"] > 0.01  # eval mode uses running stats, not the batch's
    assert demo["same_sample_diff"] > 0.01  # training-mode output depends on the batch-mates


def test_bn_demo_rejects_a_batch_of_one():
    with pytest.raises(ValueError, match="batch_size must be an int >= 2; got 1"):
        ch1.bn_demo(**_tiny("bn_demo", batch_size=1))


def test_steps_to_target_bn_is_faster_seed0(digits):
    r = ch1.steps_to_target(**_tiny("steps_to_target", hidden=100, max_steps=1500), data=digits, device=CPU)
    assert r["batch"]["steps"] is not None
    assert r["none"]["steps"] is None or r["batch"]["steps"] < r["none"]["steps"]
    assert r["ratio"] > 1 and math.isfinite(r["ratio"])
    assert all(_is_acc(a) for a in r["batch"]["train_acc"])
    assert len(r["batch"]["eval_steps"]) == len(r["batch"]["train_acc"])


def test_steps_to_target_at_the_tiny_scale_reports_a_lower_bound_when_the_plain_net_misses(tiny):
    r = ch1.run("steps_to_target", tiny=True, data=tiny, device=CPU)
    settings = book_call(ch1, "steps_to_target", tiny=True)
    for norm in ("none", "batch"):
        assert r[norm]["eval_steps"][0] == 0 and len(r[norm]["eval_steps"]) == len(r[norm]["train_acc"])
        assert all(_is_acc(a) for a in r[norm]["train_acc"])
    assert r["batch"]["steps"] is not None and r["none"]["steps"] is None  # sigmoid without BN: too slow here
    assert r["ratio_is_lower_bound"] and r["ratio"] == settings["max_steps"] / r["batch"]["steps"]


def test_lr_sweep_reports_divergence_without_raising(tiny):
    r = ch1.run("lr_sweep", tiny=True, data=tiny, device=CPU)
    assert r["lrs"] == list(ch1.TINY["lr_sweep"]["lrs"]) == [0.1, 1e4]
    for norm in ("none", "batch"):
        assert len(r[norm]) == 2
        ok = r[norm][0]
        assert not ok["diverged"] and _is_acc(ok["test_acc"]) and _is_acc(ok["train_acc"])
    bad = r["none"][1]
    assert bad["diverged"] and bad["test_acc"] is None and isinstance(bad["diverged_at"], int)
    assert ch1.highest_trainable_lr(r, "none", threshold=0.0) == 0.1


def test_init_scale_and_deep_network_are_well_formed(tiny):
    r = ch1.run("init_scale_sweep", tiny=True, data=tiny, device=CPU)
    assert r["scales"] == [0.1, 1.0] and len(r["none"]) == len(r["batch"]) == 2
    assert all(row["diverged"] or _is_acc(row["test_acc"]) for row in r["none"] + r["batch"])
    d = ch1.run("deep_network", tiny=True, data=tiny, device=CPU)
    for norm in ("none", "batch"):
        assert _is_acc(d[norm]["train_acc"]) and d[norm]["eval_steps"] == [0, 5, 10]
        assert d[norm]["grad_ratio_init"] > 0 and math.isfinite(d[norm]["grad_ratio_init"])
    # sigmoid without BN: the first layer's gradient is far smaller than the last's; with BN it is not
    assert d["none"]["grad_ratio_init"] < d["batch"]["grad_ratio_init"]


def test_generalization_gap_is_train_minus_test(tiny):
    r = ch1.run("generalization_gap", tiny=True, data=tiny, device=CPU)
    for norm in ("none", "batch"):
        row = r[norm]
        assert _is_acc(row["train_acc"]) and _is_acc(row["test_acc"])
        assert row["gap"] == pytest.approx(row["train_acc"] - row["test_acc"])
        assert math.isfinite(row["test_loss"]) and math.isfinite(row["train_loss"])


def test_small_batch_runs_every_norm_side_by_side(tiny):
    r = ch1.run("small_batch", tiny=True, data=tiny, device=CPU)
    norms = ch1.SETTINGS["small_batch"]["norms"]
    assert r["batch_sizes"] == [4, 20] and r["norms"] == list(norms)
    for norm in norms:
        for bs in (4, 20):
            row = r[norm][bs]
            assert row["steps"] == len(tiny.y_train) // bs
            assert _is_acc(row["test_acc"])
            assert ("test_acc_train_mode" in row) == (norm in ("batch", "batch_renorm"))
            if "test_acc_train_mode" in row:
                assert _is_acc(row["test_acc_train_mode"])
    assert r["config"]["renorm"] == {"r_max": 3.0, "d_max": 5.0, "momentum": 0.01}


def test_group_norm_gets_the_requested_groups(tiny, monkeypatch):
    """small_batch builds its GroupNorm layers with ``num_groups`` (the default would be 2 features per group)."""
    built = []

    def spy(*args, **kwargs):
        model = seeded_mlp(*args, **kwargs)
        built.append(model)
        return model

    monkeypatch.setattr(ch1, "seeded_mlp", spy)
    ch1.small_batch(**_tiny("small_batch", norms=("group",), batch_sizes=(20,), num_groups=4), data=tiny, device=CPU)
    groups = [m.num_groups for name, m in built[0].named_children() if name.startswith("norm")]
    assert groups == [4] * ch1.TINY["small_batch"]["depth"]


def test_step_time_is_positive():
    r = ch1.run("step_time", tiny=True)
    for norm in ("none", "batch", "torch_batch", "batch_after"):
        assert r[norm] > 0 and math.isfinite(r[norm])
    assert r["batch_overhead"] == pytest.approx(r["batch"] / r["none"])
    assert 0.2 < r["batch_after_zero_fraction"] < 0.8  # the norm layers after the ReLU see about half zeros
    assert r["batch_after_overhead"] == pytest.approx(r["batch_after"] / r["none"])


def test_init_primer_he_keeps_the_relu_signal_and_default_loses_it(tiny):
    r = ch1.run("init_primer", tiny=True, data=tiny)
    assert r["layers"] == [1, 2, 3, 4, 5, 6]
    for act in ("tanh", "relu"):
        for init in ("default", "xavier", "kaiming"):
            stds = r[act][init]
            assert len(stds) == 6 and all(s > 0 and math.isfinite(s) for s in stds)
            assert r["ratio"][f"{act}_{init}"] == pytest.approx(stds[-1] / stds[0])
    # default init shrinks a ReLU net's signal by far more than He's init does
    assert r["ratio"]["relu_default"] < 0.1 * r["ratio"]["relu_kaiming"]
    with pytest.raises(ValueError, match="depth must be an int >= 2; got 1"):
        ch1.init_primer(**_tiny("init_primer", depth=1), data=tiny)


def test_standardize_demo_keeps_the_shape():
    r = ch1.run("standardize_demo", tiny=True)
    assert r["z_mean"] == pytest.approx(0, abs=1e-9) and r["z_std"] == pytest.approx(1, abs=1e-9)
    assert r["z_skew"] == pytest.approx(r["raw_skew"], abs=1e-9) and abs(r["raw_skew"]) > 1
    assert r["mode_fraction_z"] == r["mode_fraction_raw"] <= ch1.SETTINGS["standardize_demo"]["max_mode_fraction"]
    assert len(r["raw"]) == len(r["standardized"]) == r["n"]
    # a uniform distribution with variance 1 spans ±√3; the skewed pixel reaches far beyond on one side
    assert r["z_max"] > r["uniform_half_width"] > -r["z_min"]
    with pytest.raises(ValueError, match="pixel must be a pixel that varies"):
        ch1.standardize_demo(**_tiny("standardize_demo", pixel=0))  # the top-left pixel is blank in every digit
    with pytest.raises(ValueError, match="pixel must be an int in"):
        ch1.standardize_demo(**_tiny("standardize_demo", pixel=64))


def test_conditioning_demo_standardising_fixes_scales_not_correlations():
    r = ch1.run("conditioning_demo", tiny=True)
    assert r["uncorrelated_raw"]["kappa"] > 50 and r["uncorrelated_standardized"]["kappa"] < 1.5
    # standardised, correlated features keep kappa near (1 + rho) / (1 - rho) = 19
    corr = r["correlated_standardized"]["sample_corr"]
    assert r["correlated_standardized"]["kappa"] == pytest.approx((1 + corr) / (1 - corr), rel=1e-6)
    for case in ("uncorrelated", "correlated"):
        assert r[f"{case}_standardized"]["steps"] < r[f"{case}_raw"]["steps"]
    assert ch1.conditioning_demo(**_tiny("conditioning_demo", max_steps=5))["correlated_raw"]["steps"] is None
    with pytest.raises(ValueError, match=r"rho must be a number in \(-1, 1\)"):
        ch1.conditioning_demo(**_tiny("conditioning_demo", rho=1.0))
    with pytest.raises(ValueError, match="scale must be a finite number > 0"):
        ch1.conditioning_demo(**_tiny("conditioning_demo", scale=0.0))


def test_test_time_statistics_do_not_change_training(tiny):
    tracked = ch1.run("generalization_gap", tiny=True, data=tiny, device=CPU)  # the book tracks them
    plain = ch1.generalization_gap(**_tiny("generalization_gap", test_time_stats=False), data=tiny, device=CPU)
    assert tracked["batch"]["test_acc"] == plain["batch"]["test_acc"]  # the hooks only read
    t = tracked["batch"]["test_time"]
    assert t["ema"]["test_acc"] == plain["batch"]["test_acc"]  # "ema" is the model as trained
    assert t["final_weights"]["mean_dist"] == [0.0, 0.0] and t["final_weights"]["var_dist"] == [0.0, 0.0]
    for name in ("ema", "all_training"):
        assert _is_acc(t[name]["test_acc"]) and len(t[name]["mean_dist"]) == 2
        assert all(d >= 0 and math.isfinite(d) for d in t[name]["mean_dist"] + t[name]["var_dist"])
    assert "test_time" not in plain["batch"] and "test_time" not in tracked["none"]
