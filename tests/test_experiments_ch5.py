"""Fast checks of chapter 5's experiment functions (helpers.experiments.ch5_resnet).

The chapter runs them at the book's scale (``ch5.SETTINGS``); here they run at the declared
tiny scale (``ch5.run(name, tiny=True)``) and must return well-formed results. One direction check is kept at a small scale because it is cheap and robust
(the degradation problem): a 22-layer plain MLP ends with a higher TRAINING error than a
4-layer plain one and than its residual twin (seed 0, MNIST-1D, 150 steps).
"""
import math

import pytest
import torch

from helpers.data import Split, load_digits, make_mnist1d
from helpers.experiments import ch5_resnet as ch5
from helpers.resnet import MLPBlock, count_parameters

CPU = "cpu"


@pytest.fixture(scope="module")
def mnist1d():
    return make_mnist1d()


def _is_rate(value):
    return isinstance(value, float) and math.isfinite(value) and 0.0 <= value <= 1.0


def test_blocks_for_depth():
    assert ch5.blocks_for_depth(6) == 2 and ch5.blocks_for_depth(30) == 14 and ch5.blocks_for_depth(2) == 0
    for bad in (5, 0, -2):
        with pytest.raises(ValueError, match="depth must be"):
            ch5.blocks_for_depth(bad)
    for bad in (6.0, True):
        with pytest.raises(TypeError, match="depth must be an int"):
            ch5.blocks_for_depth(bad)


def test_plain_and_residual_twins_have_the_same_parameters():
    torch.manual_seed(0)
    plain = ch5.ResidualMLP(40, 16, 3, residual=False)
    torch.manual_seed(0)
    res = ch5.ResidualMLP(40, 16, 3, residual=True)
    assert plain.depth == res.depth == 8
    assert count_parameters(plain) == count_parameters(res)
    for p, q in zip(plain.parameters(), res.parameters()):  # same seed, same initial weights
        torch.testing.assert_close(p, q)
    x = torch.randn(32, 40)
    assert plain(x).shape == res(x).shape == (32, 10)
    assert not torch.allclose(plain(x), res(x))  # only the shortcut differs


def test_zero_init_block_is_the_identity_on_nonnegative_inputs():
    block = MLPBlock(8, residual=True, zero_init_last_bn=True)
    x = torch.rand(16, 8)  # the input of a block is a ReLU output: >= 0
    torch.testing.assert_close(block(x), x)  # F(x) = 0 at initialisation, so relu(F(x) + x) = x
    with pytest.raises(ValueError, match="residual"):
        MLPBlock(8, residual=False, zero_init_last_bn=True)


def test_responses_and_lesion_on_a_fresh_zero_init_net():
    torch.manual_seed(0)
    model = ch5.ResidualMLP(40, 16, 4, residual=True, zero_init_last_bn=True)
    X, y = torch.randn(64, 40), torch.randint(0, 10, (64,))
    assert ch5.block_responses(model, X) == [0.0] * 4  # every branch outputs exactly zero
    errors = ch5.lesion(model, X, y)
    full = 1.0 - (model.eval()(X).argmax(1) == y).float().mean().item()
    assert len(errors) == 4 and all(e == pytest.approx(full) for e in errors)  # removing an identity changes nothing
    assert model.skipped == set()


def test_lesion_of_a_plain_net_skips_one_block_at_a_time():
    torch.manual_seed(0)
    model = ch5.ResidualMLP(40, 16, 3, residual=False)
    model.skipped = {0}
    X, y = torch.randn(64, 40), torch.randint(0, 10, (64,))
    errors = ch5.lesion(model, X, y)
    assert len(errors) == 3 and all(_is_rate(e) for e in errors)
    assert model.skipped == {0}  # restored


@pytest.mark.slow  # trains four networks for 150 steps (about 10 s)
def test_degradation_plain_deep_trains_worse_seed0(mnist1d):
    settings = dict(ch5.SETTINGS["degradation"], depths=(4, 22), variants=("plain", "residual"), steps=150,
                    analyse=False)  # the book's recipe, smaller
    r = ch5.degradation(seed=0, **settings, data=mnist1d, device=CPU)
    err = {v: {d: r["runs"][v][d]["final_train_err"] for d in (4, 22)} for v in ("plain", "residual")}
    assert err["plain"][22] > err["plain"][4] + 0.1, err  # deeper plain net: higher TRAINING error
    assert err["plain"][22] > err["residual"][22] + 0.1, err  # its residual twin trains better
    run = r["runs"]["plain"][22]
    assert run["params"] == r["runs"]["residual"][22]["params"]
    assert run["eval_steps"] == [0, 50, 100, 150] and len(run["train_err"]) == 4
    assert all(_is_rate(e) for e in run["train_err"] + run["test_err"])
    assert run["grad_ratio_init"] > 0 and math.isfinite(run["grad_ratio_init"])


@pytest.fixture(scope="module")
def tiny_degradation(mnist1d):
    tiny = Split(mnist1d.X_train[:256], mnist1d.y_train[:256], mnist1d.X_test[:64], mnist1d.y_test[:64])
    return ch5.run("degradation", tiny=True, data=tiny, device=CPU)


def test_degradation_analyses_are_well_formed(tiny_degradation):
    r = tiny_degradation
    assert r["variants"] == list(ch5.VARIANTS) and r["n_train"] == 256 and r["depths"] == [4, 6]
    for variant in ch5.VARIANTS:
        run = r["runs"][variant][6]
        assert len(run["lesion_train_err"]) == 2 and all(_is_rate(e) for e in run["lesion_train_err"])
        assert ("responses" in run) == (variant != "plain")
    assert all(v >= 0 and math.isfinite(v) for v in r["runs"]["residual"][6]["responses"])


def test_degradation_figures_name_every_number_the_chapter_quotes(tiny_degradation):
    r = tiny_degradation
    f = ch5.degradation_figures(r)
    res6, plain6 = r["runs"]["residual"][6], r["runs"]["plain"][6]
    assert f["plain6_train_err"] == plain6["final_train_err"]
    assert f["res06_test_err"] == r["runs"]["residual_zero_init"][6]["final_test_err"]
    assert f["plain6_train_err_init"] == plain6["train_err"][0] and f["plain6_grad_ratio"] == plain6["grad_ratio_init"]
    assert f["res6_resp_mean"] == sum(res6["responses"]) / len(res6["responses"])
    assert f["res6_resp_rest_max"] == max(res6["responses"][1:]) and f["res6_resp_first"] == res6["responses"][0]
    assert f["plain6_lesion_median"] == sorted(plain6["lesion_train_err"])[1]  # the upper of two
    assert "plain6_resp_mean" not in f  # a plain net has no residual branch to measure
    assert f["plain4_params"] == f["res4_params"] and f["plain4_blocks"] == 1
    assert all(v is None or isinstance(v, (int, float)) for v in f.values())


def test_bad_settings_give_clear_errors(mnist1d):
    with pytest.raises(TypeError, match="book settings"):
        ch5.run("degradation", steps=5)  # a setting lives in SETTINGS, not in the call
    bad = dict(ch5.SETTINGS["degradation"], **ch5.TINY["degradation"])
    with pytest.raises(ValueError, match="variant"):
        ch5.degradation(**dict(bad, variants=("dense",)), data=mnist1d, device=CPU)
    with pytest.raises(ValueError, match="depth must be even"):
        ch5.degradation(**dict(bad, depths=(5,)), data=mnist1d, device=CPU)
    with pytest.raises(TypeError):
        ch5.degradation(depths=(6,), data=mnist1d)  # no defaults for the book's settings


def test_stochastic_depth_and_width_tiny():
    d = load_digits(seed=0)
    tiny = Split(d.X_train[:128], d.y_train[:128], d.X_test[:32], d.y_test[:32])
    r = ch5.run("stochastic_depth_and_width", tiny=True, data=tiny, device=CPU)
    runs = r["runs"]
    assert runs["resnet"]["params"] == runs["stochastic_depth"]["params"]
    assert runs["resnet"]["expected_blocks"] == runs["resnet"]["blocks"] == 3  # depth 8: three blocks
    # linear decay 1 - l/L * 0.5 for l = 1..3: sum = 3 - 0.5 * 6 / 3
    assert runs["stochastic_depth"]["expected_blocks"] == pytest.approx(3 - 0.5 * 6 / 3)
    assert runs["wide"]["blocks"] == 3 and runs["wide"]["params"] > runs["resnet"]["params"]
    for run in runs.values():
        assert _is_rate(run["train_acc"]) and _is_rate(run["test_acc"]) and run["time_ms_per_step"] > 0
        assert run["macs"] > 0


def test_digits_as_images_keeps_the_pixels():
    d = load_digits(seed=0)
    im = ch5.digits_as_images(d)
    assert im.X_train.shape[1:] == (1, 8, 8)
    torch.testing.assert_close(im.X_train.reshape(len(im.X_train), -1), d.X_train)


def test_resnet_counts_match_the_paper():
    c = ch5.run("resnet_counts", tiny=True)
    assert c["imagenet"][34]["params"] == 21_797_672 and c["imagenet"][34]["layout"] == [3, 4, 6, 3]
    assert 3.6e9 <= c["imagenet"][34]["macs"] <= 3.7e9  # Table 1: 3.6×10⁹ "FLOPs" (multiply-adds)
    assert 1.8e9 <= c["imagenet"][18]["macs"] <= 1.9e9  # Table 1: 1.8×10⁹
    assert sum(c["stages34"].values()) == c["imagenet"][34]["macs"]
    assert c["plain34"]["params"] < c["imagenet"][34]["params"]  # no projection shortcuts
    sc = c["shortcuts34"]
    assert sc["A"]["params"] == c["plain34"]["params"] < sc["B"]["params"] == 21_797_672 < sc["C"]["params"]
    assert c["blocks"]["bottleneck"]["params"] == 70_400
    ratio = c["cifar_width"][2]["params"] / c["cifar_width"][1]["params"]
    assert 3.5 < ratio < 4.1  # widening k times multiplies the parameters by about k²


def test_kernel_costs():
    k = ch5.run("kernel_costs", tiny=True)  # 8 channels, 10x10
    assert k["3x3_x2"]["params"] * 25 == k["5x5"]["params"] * 18
    assert k["3x3_x3"]["params"] * 49 == k["7x7"]["params"] * 27
    assert k["3x3_2c"]["params"] == 2 * k["3x3"]["params"]
    assert k["5x5"]["macs"] == 8 * 8 * 25 * 100


def test_forward_rate_is_positive():
    r = ch5.run("forward_rate", tiny=True, device=CPU)
    assert r["depth"] == 18 and r["seconds"] > 0 and r["rate"] == pytest.approx(r["macs"] / r["seconds"])
    assert r["macs"] > 0 and r["images_per_second"] > 0


def _first_last_grad_ratio(model, X, y):
    model.train()
    model.zero_grad()
    torch.nn.functional.cross_entropy(model(X), y).backward()
    return (model.stem[0].weight.grad.norm() / model.fc.weight.grad.norm()).item()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_deep_plain_bn_net_gradient_grows_towards_the_input_at_init(mnist1d, seed):
    """Chapter 5's «not vanishing, exploding» (Yang et al. 2019): at init, a 30-layer plain BN MLP's first-layer
    gradient is many times its last layer's, a 6-layer one's is not, and the residual twin's is far smaller."""
    X, y = mnist1d.X_train[:128], mnist1d.y_train[:128]
    ratios = {}
    for residual, blocks in ((False, 14), (False, 2), (True, 14)):
        torch.manual_seed(seed)
        model = ch5.ResidualMLP(X.shape[1], 64, blocks, residual=residual)
        ratios[(residual, blocks)] = _first_last_grad_ratio(model, X, y)
    assert ratios[(False, 14)] > 10, ratios
    assert ratios[(False, 2)] < 2, ratios
    assert ratios[(True, 14)] < ratios[(False, 14)] / 10, ratios
