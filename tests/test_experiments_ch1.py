"""Fast checks of chapter 1's experiment functions (helpers.experiments.ch1_batchnorm).

The chapter runs them at full scale; here they run tiny (a subset of digits, a few
steps) and must return finite, well-formed results. One direction check is kept at
the chapter's scale because it is cheap and robust: BN reaches the target train
accuracy in fewer steps than the same network without BN (seed 0).
"""
import math

import pytest
import torch

from helpers.experiments import ch1_batchnorm as bnx

CPU = "cpu"




def _is_acc(value):
    return isinstance(value, float) and math.isfinite(value) and 0.0 <= value <= 1.0


def test_bn_demo_matches_the_formulas():
    demo = bnx.bn_demo(seed=0, batch_size=5, num_features=3, steps=4, momentum=0.1)
    m = demo["batch_size"]
    mean = torch.tensor(demo["batch_mean"])
    biased, unbiased = torch.tensor(demo["batch_var_biased"]), torch.tensor(demo["batch_var_unbiased"])
    torch.testing.assert_close(unbiased, biased * m / (m - 1))
    # a fixed batch, running mean from 0: after k steps it holds 1 - 0.9**k of the batch mean
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
    with pytest.raises(ValueError, match="batch_size"):
        bnx.bn_demo(batch_size=1)


def test_steps_to_target_bn_is_faster_seed0(digits):
    r = bnx.steps_to_target(seed=0, target=0.9, lr=0.5, max_steps=1500, eval_every=10, data=digits, device=CPU)
    assert r["batch"]["steps"] is not None
    assert r["none"]["steps"] is None or r["batch"]["steps"] < r["none"]["steps"]
    assert r["ratio"] > 1 and math.isfinite(r["ratio"])
    assert all(_is_acc(a) for a in r["batch"]["train_acc"])
    assert len(r["batch"]["eval_steps"]) == len(r["batch"]["train_acc"])


def test_lr_sweep_reports_divergence_without_raising(tiny):
    r = bnx.lr_sweep(seed=0, lrs=(0.1, 1e4), steps=15, hidden=16, depth=2, batch_size=20, data=tiny, device=CPU)
    assert r["lrs"] == [0.1, 1e4]
    for norm in ("none", "batch"):
        assert len(r[norm]) == 2
        ok = r[norm][0]
        assert not ok["diverged"] and _is_acc(ok["test_acc"]) and _is_acc(ok["train_acc"])
    bad = r["none"][1]
    assert bad["diverged"] and bad["test_acc"] is None and isinstance(bad["diverged_at"], int)
    assert bnx.highest_trainable_lr(r, "none", threshold=0.0) == 0.1


def test_init_scale_and_deep_network_are_well_formed(tiny):
    r = bnx.init_scale_sweep(seed=0, scales=(0.1, 1.0), steps=10, hidden=16, depth=2, batch_size=20,
                             data=tiny, device=CPU)
    assert r["scales"] == [0.1, 1.0] and len(r["none"]) == len(r["batch"]) == 2
    assert all(row["diverged"] or _is_acc(row["test_acc"]) for row in r["none"] + r["batch"])
    d = bnx.deep_network(seed=0, depth=4, hidden=16, steps=10, eval_every=5, batch_size=20, data=tiny, device=CPU)
    for norm in ("none", "batch"):
        assert _is_acc(d[norm]["train_acc"]) and d[norm]["eval_steps"] == [0, 5, 10]
        assert d[norm]["grad_ratio_init"] > 0 and math.isfinite(d[norm]["grad_ratio_init"])
    # sigmoid without BN: the first layer's gradient is far smaller than the last's; with BN it is not
    assert d["none"]["grad_ratio_init"] < d["batch"]["grad_ratio_init"]


def test_generalization_gap_is_train_minus_test(tiny):
    r = bnx.generalization_gap(seed=0, steps=20, hidden=16, depth=2, batch_size=20, data=tiny, device=CPU)
    for norm in ("none", "batch"):
        row = r[norm]
        assert _is_acc(row["train_acc"]) and _is_acc(row["test_acc"])
        assert row["gap"] == pytest.approx(row["train_acc"] - row["test_acc"])
        assert math.isfinite(row["test_loss"]) and math.isfinite(row["train_loss"])


def test_small_batch_runs_every_norm_side_by_side(tiny):
    norms = ("none", "batch", "layer", "group", "batch_renorm")
    r = bnx.small_batch(seed=0, batch_sizes=(4, 20), norms=norms, epochs=1, hidden=16, depth=2, num_groups=4,
                        data=tiny, device=CPU)
    assert r["batch_sizes"] == [4, 20] and r["norms"] == list(norms)
    for norm in norms:
        for bs in (4, 20):
            row = r[norm][bs]
            assert row["steps"] == len(tiny.y_train) // bs
            assert _is_acc(row["test_acc"])
            assert ("test_acc_train_mode" in row) == (norm in ("batch", "batch_renorm"))
            if "test_acc_train_mode" in row:
                assert _is_acc(row["test_acc_train_mode"])


def test_group_norm_gets_the_requested_groups(tiny):
    model = bnx._mlp(tiny, hidden=16, depth=2, activation="relu", norm="group", seed=0, num_groups=4)
    groups = [m.num_groups for name, m in model.named_children() if name.startswith("norm")]
    assert groups == [4, 4]


def test_step_time_is_positive():
    r = bnx.step_time(batch_size=16, hidden=16, depth=2, steps=2, warmup=1, repeats=1)
    for norm in ("none", "batch", "torch_batch"):
        assert r[norm] > 0 and math.isfinite(r[norm])
    assert r["batch_overhead"] == pytest.approx(r["batch"] / r["none"])


def test_flatten_keeps_numbers_only():
    flat = bnx.flatten({"a": 1, "b": {"c": 2.5, "d": None, "e": True, "f": "text"}, "g": [1, 2]}, "x")
    assert flat == {"x_a": 1, "x_b_c": 2.5}


def test_init_primer_he_keeps_the_relu_signal_and_default_loses_it(tiny):
    r = bnx.init_primer(seed=0, depth=6, hidden=32, data=tiny)
    assert r["layers"] == [1, 2, 3, 4, 5, 6]
    for act in ("tanh", "relu"):
        for init in ("default", "xavier", "kaiming"):
            stds = r[act][init]
            assert len(stds) == 6 and all(s > 0 and math.isfinite(s) for s in stds)
            assert r["ratio"][f"{act}_{init}"] == pytest.approx(stds[-1] / stds[0])
    # default init shrinks a ReLU net's signal by far more than He's init does
    assert r["ratio"]["relu_default"] < 0.1 * r["ratio"]["relu_kaiming"]
    with pytest.raises(ValueError, match="depth"):
        bnx.init_primer(depth=1, data=tiny)


def test_standardize_demo_keeps_the_shape():
    r = bnx.standardize_demo(seed=0)
    assert r["z_mean"] == pytest.approx(0, abs=1e-9) and r["z_std"] == pytest.approx(1, abs=1e-9)
    assert r["z_skew"] == pytest.approx(r["raw_skew"], abs=1e-9) and abs(r["raw_skew"]) > 1
    assert r["mode_fraction_z"] == r["mode_fraction_raw"] <= 0.75
    assert len(r["raw"]) == len(r["standardized"]) == r["n"]
    # a uniform distribution with variance 1 spans ±√3; the skewed pixel reaches far beyond on one side
    assert r["z_max"] > r["uniform_half_width"] > -r["z_min"]
    with pytest.raises(ValueError, match="pixel"):
        bnx.standardize_demo(seed=0, pixel=0)  # the top-left pixel is blank in every digit


def test_conditioning_demo_standardising_fixes_scales_not_correlations():
    r = bnx.conditioning_demo(seed=0, n=400, scale=10.0, rho=0.9)
    assert r["uncorrelated_raw"]["kappa"] > 50 and r["uncorrelated_standardized"]["kappa"] < 1.5
    # standardised, correlated features keep kappa near (1 + rho) / (1 - rho) = 19
    corr = r["correlated_standardized"]["sample_corr"]
    assert r["correlated_standardized"]["kappa"] == pytest.approx((1 + corr) / (1 - corr), rel=1e-6)
    for case in ("uncorrelated", "correlated"):
        assert r[f"{case}_standardized"]["steps"] < r[f"{case}_raw"]["steps"]
    assert bnx.conditioning_demo(seed=0, n=400, max_steps=5)["correlated_raw"]["steps"] is None
    with pytest.raises(ValueError, match="rho"):
        bnx.conditioning_demo(rho=1.0)


def test_test_time_statistics_do_not_change_training(tiny):
    kwargs = dict(seed=0, steps=20, hidden=16, depth=2, batch_size=20, data=tiny, device=CPU)
    plain = bnx.generalization_gap(**kwargs)
    tracked = bnx.generalization_gap(test_time_stats=True, **kwargs)
    assert tracked["batch"]["test_acc"] == plain["batch"]["test_acc"]  # the hooks only read
    t = tracked["batch"]["test_time"]
    assert t["ema"]["test_acc"] == plain["batch"]["test_acc"]  # "ema" is the model as trained
    assert t["final_weights"]["mean_dist"] == [0.0, 0.0] and t["final_weights"]["var_dist"] == [0.0, 0.0]
    for name in ("ema", "all_training"):
        assert _is_acc(t[name]["test_acc"]) and len(t[name]["mean_dist"]) == 2
        assert all(d >= 0 and math.isfinite(d) for d in t[name]["mean_dist"] + t[name]["var_dist"])
    assert "test_time" not in plain["batch"] and "test_time" not in tracked["none"]


def test_step_time_bn_after_relu_sees_zeros():
    r = bnx.step_time(batch_size=16, hidden=16, depth=2, steps=2, warmup=1, repeats=1,
                      norms=("none", "batch", "batch_after"))
    assert 0.2 < r["batch_after_zero_fraction"] < 0.8
    assert r["batch_after_overhead"] == pytest.approx(r["batch_after"] / r["none"])


def test_small_batch_records_the_renorm_settings(tiny):
    r = bnx.small_batch(seed=0, batch_sizes=(20,), norms=("batch_renorm",), epochs=1, hidden=16, depth=2,
                        data=tiny, device=CPU)
    assert r["config"]["renorm"] == {"r_max": 3.0, "d_max": 5.0, "momentum": 0.01}
