"""Small models the chapters build by name: a configurable multilayer perceptron.

``make_mlp`` is the network of chapters 1–4 and of the playground: depth, width,
activation, normalisation (and its place before or after the activation) and
initialisation are switched by name, so an experiment changes one argument.
"""
from collections import OrderedDict

import torch
from torch import nn

from helpers.activations import get_activation
from helpers.checks import check_choice, check_int, check_number
from helpers.norm import make_norm

INITS = ("default", "kaiming", "xavier", "normal")
NORM_POSITIONS = ("before", "after")


def init_linear_(layer: nn.Linear, init: str, *, std: float = 0.01) -> None:
    """Initialise one ``nn.Linear`` in place.

    - ``"default"``: leave PyTorch's own initialisation (Kaiming-uniform with a=√5, i.e.
      U(−1/√fan_in, 1/√fan_in) weights and bias).
    - ``"kaiming"``: He et al. 2015, weights ~ N(0, 2/fan_in), zero bias (the ReLU gain).
    - ``"xavier"``: Glorot & Bengio 2010, weights ~ U(−a, a) with a = √(6/(fan_in+fan_out)), zero bias.
    - ``"normal"``: weights ~ N(0, std²) (std=0.01 by default), zero bias.
    """
    check_choice("init", init, INITS)
    if init == "default":
        return
    with torch.no_grad():
        if init == "kaiming":
            nn.init.kaiming_normal_(layer.weight, mode="fan_in", nonlinearity="relu")
        elif init == "xavier":
            nn.init.xavier_uniform_(layer.weight)
        else:
            nn.init.normal_(layer.weight, mean=0.0, std=std)
        if layer.bias is not None:
            nn.init.zeros_(layer.bias)


def make_mlp(in_features, hidden, depth, out_features, *, activation="relu", norm=None,
             norm_position="before", init="default", init_scale=1.0, init_std=0.01,
             norm_kwargs=None) -> nn.Sequential:
    """A multilayer perceptron: ``depth`` hidden layers of Linear (+norm) (+activation), then a Linear output.

    Input x: (N, in_features) -> logits (N, out_features).

    Layers are named so per-layer gradient norms read well: ``linear1, norm1, act1, ...,
    linear{depth}, norm{depth}, act{depth}, linear{depth+1}`` (the output layer). With
    ``norm_position="before"`` each hidden block is Linear -> norm -> activation (Ioffe &
    Szegedy 2015); with ``"after"`` it is Linear -> activation -> norm. ``norm=None`` (or
    ``"none"``) adds no norm layers at all. ``depth=0`` gives a single Linear layer.

    ``activation`` is a name from ``helpers.activations`` ("sigmoid", "tanh", "relu", ...);
    ``norm`` a name from ``helpers.norm`` ("batch", "layer", "group", "batch_renorm"), built with
    ``make_norm(norm, hidden, **norm_kwargs)`` (e.g. ``norm_kwargs={"num_groups": 4}``: on (N, C)
    inputs a group of one feature normalises to a constant, so choose groups of several features).
    ``init`` ("default" | "kaiming" | "xavier" | "normal", see ``init_linear_``; ``init_std``
    is the standard deviation of "normal") applies to every Linear layer; ``init_scale`` then
    multiplies the weights of the hidden Linear layers — the ones a normalisation follows —
    as in chapter 1's "insensitivity to the initialisation scale" experiment.

    Taught in chapters 1–4; the playground builds its networks with it.
    """
    for name, value in (("in_features", in_features), ("hidden", hidden), ("out_features", out_features)):
        check_int(name, value, min=1)
    check_int("depth", depth, min=0)  # the number of hidden layers
    check_choice("norm_position", norm_position, NORM_POSITIONS)
    check_choice("init", init, INITS)
    check_number("init_scale", init_scale, min=0, min_open=True)
    check_number("init_std", init_std, min=0, min_open=True)
    use_norm = norm is not None and norm != "none"
    norm_kwargs = dict(norm_kwargs or {})
    get_activation(activation)  # the names are checked even when depth == 0
    if use_norm:
        make_norm(norm, hidden, **norm_kwargs)

    layers = OrderedDict()
    width_in = in_features
    for i in range(1, depth + 1):
        linear = nn.Linear(width_in, hidden)
        init_linear_(linear, init, std=init_std)
        if init_scale != 1.0:
            with torch.no_grad():
                linear.weight.mul_(init_scale)
        layers[f"linear{i}"] = linear
        act = get_activation(activation)
        if use_norm and norm_position == "before":
            layers[f"norm{i}"] = make_norm(norm, hidden, **norm_kwargs)
        layers[f"act{i}"] = act
        if use_norm and norm_position == "after":
            layers[f"norm{i}"] = make_norm(norm, hidden, **norm_kwargs)
        width_in = hidden
    output = nn.Linear(width_in, out_features)
    init_linear_(output, init, std=init_std)
    layers[f"linear{depth + 1}"] = output
    return nn.Sequential(layers)
