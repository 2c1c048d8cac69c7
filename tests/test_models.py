"""helpers.models.make_mlp: layer names and order, norm placement, initialisation statistics, bad arguments."""
import math

import pytest
import torch
from torch import nn

from helpers.models import make_mlp


def test_layer_names_and_count_without_norm():
    m = make_mlp(64, 32, 3, 10)
    assert [n for n, _ in m.named_children()] == [
        "linear1", "act1", "linear2", "act2", "linear3", "act3", "linear4"]
    assert isinstance(m.act1, nn.ReLU)
    assert m.linear1.in_features == 64 and m.linear1.out_features == 32
    assert m.linear4.in_features == 32 and m.linear4.out_features == 10
    assert m(torch.randn(5, 64)).shape == (5, 10)


def test_depth_zero_is_one_linear_layer():
    m = make_mlp(7, 3, 0, 2)
    assert [n for n, _ in m.named_children()] == ["linear1"]
    assert m(torch.randn(4, 7)).shape == (4, 2)


@pytest.mark.parametrize("position, expected", [
    ("before", ["linear1", "norm1", "act1", "linear2", "norm2", "act2", "linear3"]),
    ("after", ["linear1", "act1", "norm1", "linear2", "act2", "norm2", "linear3"]),
])
def test_norm_placement(position, expected):
    m = make_mlp(10, 6, 2, 3, activation="sigmoid", norm="batch", norm_position=position)
    assert [n for n, _ in m.named_children()] == expected
    assert isinstance(m.act2, nn.Sigmoid)
    # the norm layer sees the Linear output ("before") or the activation output ("after")
    seen = {}
    m.norm1.register_forward_hook(lambda mod, inp, out: seen.setdefault("x", inp[0]))
    x = torch.randn(8, 10)
    m.train()
    m(x)
    lin = m.linear1(x)
    want = lin if position == "before" else torch.sigmoid(lin)
    torch.testing.assert_close(seen["x"], want)


def test_norm_none_string_adds_no_layer():
    assert len(make_mlp(4, 5, 2, 3, norm="none")) == len(make_mlp(4, 5, 2, 3)) == 5


@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_norm_layers_come_from_helpers_norm(norm):
    from helpers.norm import make_norm
    m = make_mlp(4, 6, 2, 3, norm=norm)
    assert type(m.norm1) is type(make_norm(norm, 6))


def test_kaiming_init_statistics():
    torch.manual_seed(0)
    fan_in = 400
    m = make_mlp(fan_in, 500, 2, 10, init="kaiming")
    w = m.linear2.weight.detach().double()  # 500 x 500
    assert abs(w.std().item() - math.sqrt(2 / 500)) < 0.01 * math.sqrt(2 / 500) * 3
    assert abs(m.linear1.weight.std().item() - math.sqrt(2 / fan_in)) < 0.03 * math.sqrt(2 / fan_in)
    assert abs(w.mean().item()) < 3 * math.sqrt(2 / 500) / 500
    assert torch.all(m.linear1.bias == 0) and torch.all(m.linear3.bias == 0)


def test_xavier_and_normal_and_default_statistics():
    torch.manual_seed(1)
    x = make_mlp(300, 500, 2, 10, init="xavier")
    bound = math.sqrt(6 / (500 + 500))
    assert x.linear2.weight.abs().max().item() <= bound
    assert abs(x.linear2.weight.std().item() - bound / math.sqrt(3)) < 0.02 * bound
    assert torch.all(x.linear2.bias == 0)
    n = make_mlp(300, 500, 2, 10, init="normal", init_std=0.05)
    assert abs(n.linear2.weight.std().item() - 0.05) < 0.001
    d = make_mlp(300, 500, 2, 10)
    # PyTorch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), std = 1/sqrt(3*fan_in)
    assert abs(d.linear2.weight.std().item() - 1 / math.sqrt(3 * 500)) < 0.02 / math.sqrt(500)
    assert d.linear2.bias.abs().max() > 0


def test_init_scale_multiplies_hidden_weights_only():
    torch.manual_seed(2)
    a = make_mlp(20, 30, 2, 4, init="kaiming")
    torch.manual_seed(2)
    b = make_mlp(20, 30, 2, 4, init="kaiming", init_scale=10.0)
    torch.testing.assert_close(b.linear1.weight, 10 * a.linear1.weight)
    torch.testing.assert_close(b.linear2.weight, 10 * a.linear2.weight)
    torch.testing.assert_close(b.linear3.weight, a.linear3.weight)


@pytest.mark.parametrize("args, kwargs, error, message", [
    ((0, 5, 2, 3), {}, ValueError, "in_features must be an int >= 1; got 0"),
    ((4, 5, -1, 3), {}, ValueError, "depth must be an int >= 0; got -1"),
    ((4, 5.0, 2, 3), {}, TypeError, "hidden must be an int >= 1; got float 5.0"),
    ((4, 5, 2, 3), {"activation": "swishy"}, ValueError, "unknown activation 'swishy'"),
    ((4, 5, 2, 3), {"norm": "weird"}, ValueError, "unknown norm 'weird'"),
    ((4, 5, 2, 3), {"norm_position": "middle"}, ValueError,
     "norm_position must be one of 'before', 'after'; got 'middle'"),
    ((4, 5, 2, 3), {"init": "orthogonal"}, ValueError,
     "init must be one of 'default', 'kaiming', 'xavier', 'normal'; got 'orthogonal'"),
    ((4, 5, 2, 3), {"init_scale": 0}, ValueError, "init_scale must be a finite number > 0; got 0.0"),
    ((4, 5, 2, 3), {"init_scale": float("nan")}, ValueError, "init_scale must be a finite number > 0; got nan"),
    ((4, 5, 2, 3), {"init_std": "0.1"}, TypeError, "init_std must be a finite number > 0; got str"),
])
def test_bad_arguments(args, kwargs, error, message):
    with pytest.raises(error, match=f"^{message}"):
        make_mlp(*args, **kwargs)


def test_norm_kwargs_reach_the_norm_layers():
    m = make_mlp(4, 12, 2, 3, norm="group", norm_kwargs={"num_groups": 3})
    assert m.norm1.num_groups == 3 and m.norm2.num_groups == 3
    with pytest.raises(ValueError):
        make_mlp(4, 12, 2, 3, norm="group", norm_kwargs={"num_groups": 5})  # 5 does not divide 12
