"""Fast checks of chapter 4's experiment functions (helpers.experiments.ch4_vanishing_gradients).

The chapter runs them at full scale; here most run small and must return finite,
well-formed results. The direction checks are the chapter's claims at a scale where
they are cheap and hold by orders of magnitude: sigmoid gradients vanish across ten
layers where He-initialised ReLU's do not; about half of ReLU's derivatives are 0; a
plain ReLU CNN vanishes at PyTorch's default scale and explodes at twice He's; the
spectral radius, not the size of the entries, decides a linear recurrence; tanh/ReLU RNN
gradients vanish over 200 steps where IRNN's and IndRNN's do not, and an LSTM's vanish at
PyTorch's default init (forget gates near 1/2) but not with chrono init (forget gates near 1).
Experiments without a direction check run at the module's TINY scale (``ch4.run(name, tiny=True)``).
"""
import math

import pytest
import torch

from helpers.experiments import ch4_vanishing_gradients as ch4

CPU = "cpu"


def test_every_experiment_runs_at_the_tiny_scale_and_bad_settings_are_refused():
    for name in ("conv_timing", "spectral_radius_demo"):
        assert ch4.run(name, tiny=True)["names"]
    with pytest.raises(TypeError, match="book settings"):
        ch4.run("adding_problem", steps=5)
    with pytest.raises(KeyError, match="no experiment"):
        ch4.run("vanishing")
    with pytest.raises(ValueError, match="part of the book"):
        ch4.run("rnn_gradient_vs_length", tiny=True, subset={"lengths": (7,)})
    with pytest.raises(TypeError, match="seed"):
        ch4.derivative_bounds(**ch4.SETTINGS["derivative_bounds"], seed=0)


def test_derivative_bounds():
    r = ch4.run("derivative_bounds", tiny=True)
    assert r["sigmoid"]["max"] == pytest.approx(0.25, abs=1e-12)
    assert r["tanh"]["max"] == pytest.approx(1.0, abs=1e-12)
    assert r["relu"]["max"] == 1.0
    assert abs(r["sigmoid"]["at"]) < 1e-3
    assert r["sigmoid_product"] == pytest.approx(0.25 ** 10)


def test_layer_gradients_sigmoid_vanishes_relu_he_does_not(digits):
    configs = [c for c in ch4.LAYER_CONFIGS if c[0] in ("sigmoid_default", "relu_he", "sigmoid_bn")]
    r = ch4.layer_gradients(seed=0, depth=10, hidden=100, batch_size=128, configs=configs, data=digits, device=CPU)
    assert r["names"] == ["sigmoid_default", "relu_he", "sigmoid_bn"]
    for name in r["names"]:
        assert len(r[name]["norms"]) == 11 and all(math.isfinite(v) and v > 0 for v in r[name]["norms"])
    assert r["sigmoid_default"]["ratio"] < 1e-4
    assert r["relu_he"]["ratio"] > 0.05
    assert r["sigmoid_bn"]["ratio"] > 0.05


def test_layer_gradients_backward_factor_of_default_relu_is_about_041(digits):
    """PyTorch's default init: n Var(w) = 1/3, half of ReLU's derivatives are 0, so the backpropagated gradient
    shrinks by about sqrt(1/6) = 0.41 per layer; the weight-gradient ratio hides part of it (the inputs shrink too)."""
    configs = [c for c in ch4.LAYER_CONFIGS if c[0] in ("relu_default", "relu_he")]
    r = ch4.layer_gradients(seed=0, depth=10, hidden=100, batch_size=128, configs=configs, data=digits, device=CPU)
    d = r["relu_default"]
    assert len(d["act_norms"]) == 10 and all(v > 0 for v in d["act_norms"])
    assert d["act_ratio"] == pytest.approx(d["act_norms"][0] / d["act_norms"][-1])
    backward = d["act_ratio"] ** (1 / 9)
    assert 0.3 < backward < 0.5
    assert d["ratio"] ** (1 / 9) > backward + 0.05
    assert 0.5 < r["relu_he"]["act_ratio"] ** (1 / 9) < 1.5


def test_relu_derivative_is_zero_about_half_the_time(digits):
    r = ch4.relu_zero_gradients(seed=0, depth=6, hidden=64, batch_size=128, init="kaiming", data=digits, device=CPU)
    assert len(r["zero_derivative"]) == len(r["dead_units"]) == len(r["zero_grad"]) == 6
    assert 0.35 < r["mean_zero_derivative"] < 0.65
    for zd, zg, dead in zip(r["zero_derivative"], r["zero_grad"], r["dead_units"]):
        assert zg >= zd - 1e-12          # where ReLU' = 0 the backpropagated gradient is exactly 0
        assert 0.0 <= dead <= zd


def test_relu_init_training_is_well_formed(tiny):
    r = ch4.run("relu_init_training", tiny=True, data=tiny, device=CPU)
    assert r["names"] == ["default_x1", "kaiming_x1", "kaiming_x2"]
    for name in r["names"]:
        row = r[name]
        assert row["diverged"] or 0.0 <= row["train_acc"] <= 1.0
        assert row["grad_ratio_init"] > 0


def test_plain_cnn_vanishes_or_explodes_with_the_init_scale(digits):
    r = ch4.cnn_gradients(seed=0, depth=10, channels=8, batch_size=32,
                          inits=(("default", 1.0), ("he", 1.0), ("he", 2.0)), data=digits, device=CPU)
    d, he, big = r["default_x1"], r["he_x1"], r["he_x2"]
    assert len(he["grad_norms"]) == 10
    assert d["ratio"] < 1e-2 < he["ratio"] < 1e2 < big["ratio"]
    assert he["conv_matrix"]["zero_fraction"] > 0.8          # a 3x3 convolution on 8x8 is a sparse matrix
    assert big["conv_matrix"]["largest_singular_value"] == pytest.approx(
        2 * he["conv_matrix"]["largest_singular_value"], rel=1e-5)


def test_plain_cnn_rejects_an_unknown_init():
    with pytest.raises(ValueError, match="init"):
        ch4.plain_cnn(3, 4, init="xavier")


def test_conv_example_is_the_seeds():
    r = ch4.run("conv_example")
    assert (r["out_height"], r["out_width"], r["positions"]) == (5, 5, 25)
    assert r["cols_shape"] == [4, 25]
    assert r["max_err_conv2d"] == 0.0 and r["max_err_unfold"] == 0.0
    assert torch.tensor(r["cols"]).shape == (4, 25)


def test_conv_checks_match_conv2d():
    rows = ch4.run("conv_checks", seed=0)
    assert len(rows) == 4
    for row in rows:
        assert row["out_shape"][2:] == row["formula"]
        assert row["max_err"] < 1e-10


def test_conv_timing_is_positive():
    r = ch4.run("conv_timing", tiny=True)
    small, large = r["small"], r["large"]
    assert all(v > 0 and math.isfinite(v) for v in small["ms"].values())
    assert small["config"]["loop_iterations"] == 1 * 2 * 6 * 6
    assert small["max_err_naive"] < 1e-4 and small["max_err_im2col"] < 1e-4
    assert large["ms"]["naive"] is None and large["naive_over_im2col"] is None and large["ms"]["native"] > 0


def test_spectral_radius_not_entry_size_decides():
    r = ch4.spectral_radius_demo(seed=0, hidden=32, radii=(0.9, 1.0, 1.1), steps=100)
    assert r["rho_0.9"]["rho"] == pytest.approx(0.9) and r["rho_1.1"]["rho"] == pytest.approx(1.1)
    assert r["rho_0.9"]["norms"][100] < 1e-2 < 10 < r["rho_1.1"]["norms"][100]
    small, large = r["small_entries"], r["large_entries"]
    assert small["max_entry"] < 1 < small["rho"] and small["norms"][100] > 1e10
    assert large["max_entry"] > 1 > large["rho"] and large["norms"][100] < 1e-2
    assert 0.3 < r["default_rho"] < 1.0


def test_rnn_gradients_vanish_for_tanh_relu_lstm_not_for_irnn_indrnn_chrono():
    r = ch4.rnn_gradient_vs_length(seed=0, lengths=(10, 200), cells=ch4.RNN_CELLS, hidden=16, batch_size=4,
                                   profile_length=200, device=CPU)
    assert r["cells"] == list(ch4.RNN_CELLS)
    assert set(r["profile"]) == set(ch4.RNN_CELLS) and len(r["profile"]["tanh"]) == 200
    assert len(r["profile"]["lstm"]) == 200 and r["profile"]["lstm"][-1] == pytest.approx(1.0)
    for kind in ("tanh", "relu", "lstm"):
        assert r[kind][1] < 1e-10
    for kind in ("irnn", "indrnn"):
        assert 0.1 < r[kind][1] < 10
    assert r["lstm_chrono"][1] > 1e-4
    assert r["lstm_chrono"][1] > 1e6 * r["lstm"][1]


def test_a_claim_rerunning_part_of_the_lengths_gets_the_books_numbers():
    """The claims rerun only T = 1000 of the chapter's lengths (``subset=``): each (cell, T) seeds itself."""
    whole = ch4.run("rnn_gradient_vs_length", tiny=True)
    part = ch4.run("rnn_gradient_vs_length", tiny=True, subset={"lengths": (40,), "cells": ("tanh", "indrnn")})
    assert part["cells"] == ["tanh", "indrnn"]
    for kind in part["cells"]:
        assert part[kind] == whole[kind][1:]


def test_make_rnn_layer_rejects_an_unknown_kind():
    with pytest.raises(ValueError, match="kind"):
        ch4.make_rnn_layer("gru", 8)


def test_lstm_chrono_init_sets_the_forget_and_input_biases():
    torch.manual_seed(0)
    T, H = 50, 8
    lstm = ch4.make_rnn_layer("lstm_chrono", H, seq_len=T)
    assert isinstance(lstm, torch.nn.LSTM) and lstm.batch_first
    b_i, b_f = lstm.bias_ih_l0[:H], lstm.bias_ih_l0[H:2 * H]
    assert torch.all(b_f >= 0) and torch.all(b_f <= math.log(T - 1))
    assert torch.equal(b_i, -b_f)
    assert torch.all(lstm.bias_hh_l0[:2 * H] == 0)
    forget = torch.sigmoid(b_f)
    assert torch.all(forget >= 0.5) and torch.all(forget <= 1 - 1 / T)
    for bad in (None, 2, 2.5, True):
        with pytest.raises(ValueError, match="seq_len"):
            ch4.make_rnn_layer("lstm_chrono", H, seq_len=bad)


def test_lstm_gradient_norms_match_a_cell_by_cell_loop():
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(2, 5, batch_first=True).double()
    cell = torch.nn.LSTMCell(2, 5).double()
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(lstm, f"{name}_l0"))
    x = torch.randn(3, 7, 2, dtype=torch.float64)
    norms = ch4.lstm_gradient_norms(lstm, x)
    xs = x.clone().requires_grad_(True)
    h = c = torch.zeros(3, 5, dtype=torch.float64)
    for t in range(7):
        h, c = cell(xs[:, t], (h, c))
    h.sum().backward()
    expected = torch.stack([xs.grad[:, t].norm() for t in range(7)])
    assert norms.shape == (7,)
    assert torch.allclose(norms, expected, rtol=1e-10, atol=0)
    with pytest.raises(TypeError, match="LSTM"):
        ch4.lstm_gradient_norms(torch.nn.LSTM(2, 5), x.float())


def test_adding_problem_is_well_formed():
    r = ch4.run("adding_problem", tiny=True, device=CPU)
    assert r["baseline"] == pytest.approx(1 / 6)
    assert 0.1 < r["test_baseline"] < 0.25
    for kind in ("tanh", "indrnn"):
        row = r[kind]
        assert row["eval_steps"] == [0, 3, 6]
        assert all(math.isfinite(v) and v >= 0 for v in row["test_mse"])
        assert row["best"] == min(row["test_mse"]) and row["final"] == row["test_mse"][-1]
