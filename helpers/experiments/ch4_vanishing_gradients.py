"""Chapter 4 («ناپدید شدن گرادیان»): the experiments behind its claims.

Why ReLU "works" in deep feed-forward and convolutional networks but not, by itself,
in recurrent ones. Every function returns a plain dict of numbers and lists, so the
chapter can glue them into its prose and a claims benchmark can rerun them on
several seeds. Nothing here draws or prints.

- Feed-forward depth: ``derivative_bounds``, ``layer_gradients`` (10-layer MLP,
  per-layer weight-gradient norms at initialisation, for several activations,
  initialisations and batch norm), ``relu_zero_gradients`` (how often ReLU's
  derivative is 0), ``relu_init_training`` (a deep ReLU MLP with a bad
  initialisation does not train), ``cnn_gradients`` (a deep plain ReLU CNN —
  independent, sparse weights — still vanishes or explodes with a bad scale).
- Convolution as a matrix product: ``conv_example`` (the seed's 4×4 / 2×2 example),
  ``conv_checks`` (against ``F.conv2d``), ``conv_timing`` (naive loops vs im2col vs
  native; wall time, varies between runs).
- Recurrent networks: ``spectral_radius_demo`` (the shared matrix multiplied k
  times), ``rnn_gradient_vs_length`` (‖∂L/∂x_1‖ / ‖∂L/∂x_T‖ for tanh, ReLU, IRNN,
  IndRNN and LSTM), ``adding_problem`` (a short training run against the 1/6 baseline).

The book's settings of every experiment are in ``SETTINGS`` (``run(name, seed=...)`` runs one with
them; ``TINY`` holds the unit tests' small scale). Results are deterministic for a given ``seed``
on the CPU (``conv_timing`` excepted).
Note that ``helpers.use_book_numerics`` flushes denormal numbers to zero, so a gradient
that has vanished far enough is exactly 0.0 here; plots on a log scale must clip it
at a floor (``FLOOR``) and say so.
"""
from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F
from torch import nn

from helpers.activations import derivative
from helpers.checks import check_choice
from helpers.conv import conv2d_im2col, conv2d_naive, conv_output_size, im2col
from helpers.data import ADDING_BASELINE_MSE, make_adding_problem
from helpers.experiments.common import NUM_CLASSES, digits_or, seeded_mlp
from helpers.experiments.settings import book_runner
from helpers.rnn import AddingModel, RNNCell, hidden_gradient_norms, make_layer
from helpers.seeding import set_seed
from helpers.spectral import spectral_radius   # no eigenvalue solver: LAPACK's fails on a rank-one matrix on Intel CPUs
from helpers.train import fit, gradient_norms

FLOOR = 1e-300          # where log plots draw a gradient that underflowed to exactly 0 (float64)
FLOAT32_TINY = torch.finfo(torch.float32).tiny   # ≈ 1.2e-38: below this float32 (flushed) is 0

#: (name, activation, init, norm) of the 10-layer networks compared in ``layer_gradients``.
LAYER_CONFIGS = (
    ("sigmoid_default", "sigmoid", "default", None),
    ("sigmoid_xavier", "sigmoid", "xavier", None),
    ("tanh_default", "tanh", "default", None),
    ("tanh_xavier", "tanh", "xavier", None),
    ("relu_default", "relu", "default", None),
    ("relu_he", "relu", "kaiming", None),
    ("sigmoid_bn", "sigmoid", "default", "batch"),
    ("relu_he_bn", "relu", "kaiming", "batch"),
)

RNN_CELLS = ("tanh", "relu", "irnn", "indrnn", "indrnn_uniform", "lstm", "lstm_chrono")
LSTM_CELLS = ("lstm", "lstm_chrono")   # torch.nn.LSTM (autograd), the others are helpers.rnn cells

__all__ = [
    "SETTINGS", "TINY", "GLUE_PREFIX", "run",
    "FLOOR", "FLOAT32_TINY", "LAYER_CONFIGS", "RNN_CELLS", "LSTM_CELLS",
    "derivative_bounds", "layer_gradients", "relu_zero_gradients", "relu_init_training",
    "plain_cnn", "cnn_gradients", "conv_example", "conv_checks", "conv_timing",
    "spectral_radius_demo", "make_rnn_layer", "lstm_gradient_norms", "rnn_gradient_vs_length",
    "adding_problem",
]


def _device(device):
    return torch.device("cpu") if device is None else torch.device(device)


def _float64_device(device):
    """The device for float64 work: Apple's MPS has no float64, so those computations run on the CPU there."""
    dev = _device(device)
    return torch.device("cpu") if dev.type == "mps" else dev


# --------------------------------------------------------------------------- feed-forward depth

def derivative_bounds(*, names, low, high, points, depth):
    """Largest derivative of each activation of ``names`` on a grid of ``points`` values in [low, high]
    (``helpers.activations.derivative``).

    Returns ``{name: {"max": value, "at": x}}`` and ``"sigmoid_product"`` = (1/4)^depth, the
    most a product of ``depth`` sigmoid derivatives can be (the seed's 10-layer bound).
    """
    z = torch.linspace(low, high, points, dtype=torch.float64)
    out = {"depth": depth, "sigmoid_product": 0.25 ** depth}
    for name in names:
        d = derivative(name)(z)
        i = int(d.argmax())
        out[name] = {"max": d[i].item(), "at": z[i].item()}
    return out


def layer_gradients(*, seed, depth, hidden, batch_size, configs, data=None, device=None):
    """Per-layer weight-gradient norms ‖∂L/∂W_l‖ of a ``depth``-layer MLP at initialisation.

    One batch of ``batch_size`` digits (X: (batch_size, 64), y: (batch_size,)), cross-entropy loss,
    training mode (batch norm uses the batch's statistics). For every config (name, activation, init, norm) of
    ``configs``: ``norms`` (hidden layers 1..depth, then the output layer) and ``ratio`` =
    ‖∂L/∂W_1‖ / ‖∂L/∂W_depth‖, first over last hidden layer (as in chapter 1); and
    ``act_norms`` = ‖∂L/∂a_l‖ of the hidden pre-activations a_l (the backpropagated gradient
    alone, without the layer inputs that a weight gradient also contains) with ``act_ratio``
    = first over last.
    """
    data = digits_or(data, seed)
    dev = _device(device)
    X, y = data.X_train[:batch_size].to(dev), data.y_train[:batch_size].to(dev)
    out = {"config": {"depth": depth, "hidden": hidden, "batch_size": batch_size}, "names": []}
    for name, activation, init, norm in configs:
        model = seeded_mlp(data, seed=seed, hidden=hidden, depth=depth, activation=activation, init=init,
                           norm=norm).to(dev)
        model.train()                                   # batch norm normalises with the batch's statistics
        g = gradient_norms(model, X, y)
        norms = [g[f"linear{i}"] for i in range(1, depth + 2)]
        act = _preactivation_gradient_norms(model, X, y, depth)
        out["names"].append(name)
        out[name] = {"activation": activation, "init": init, "norm": norm, "norms": norms,
                     "ratio": norms[0] / norms[depth - 1] if norms[depth - 1] > 0 else None,
                     "act_norms": act, "act_ratio": act[0] / act[-1] if act[-1] > 0 else None}
    return out


def _preactivation_gradient_norms(model, X, y, depth):
    """‖∂L/∂a_l‖ for the outputs a_l of linear1..linear{depth} of a ``make_mlp`` network (training mode):
    the gradient that backpropagation sends down, without the layer's input that a weight gradient
    ‖∂L/∂W_l‖ = ‖∂L/∂a_l · h_{l-1}ᵀ‖ also contains."""
    hidden = {f"linear{i}" for i in range(1, depth + 1)}
    pre, h = [], X
    model.train()
    for name, module in model.named_children():
        h = module(h)
        if name in hidden:
            pre.append(h)
    grads = torch.autograd.grad(F.cross_entropy(h, y), pre)
    return [gr.norm().item() for gr in grads]


def _relu_stats(model, X, y, depth):
    """Per hidden layer of a ``make_mlp`` ReLU network without normalisation: fraction of
    pre-activations <= 0, fraction of units that are off for the whole batch, and fraction of
    exactly-zero entries of ∂L/∂a (a = the output of linear1..linear{depth})."""
    hidden = {f"linear{i}" for i in range(1, depth + 1)}
    pre, h = [], X
    for name, module in model.named_children():
        h = module(h)
        if name in hidden:
            h.retain_grad()
            pre.append(h)
    F.cross_entropy(h, y).backward()
    zero_derivative = [(a <= 0).double().mean().item() for a in pre]
    dead_units = [(a <= 0).all(dim=0).double().mean().item() for a in pre]
    zero_grad = [(a.grad == 0).double().mean().item() for a in pre]
    return zero_derivative, dead_units, zero_grad


def relu_zero_gradients(*, seed, depth, hidden, batch_size, init, data=None, device=None):
    """How often is ReLU's derivative 0? Measured in a ``depth``-layer ReLU MLP at initialisation.

    For every hidden layer: ``zero_derivative`` = fraction of (sample, unit) pairs whose
    pre-activation a <= 0 (ReLU'(a) = 0 there, as in autograd); ``dead_units`` = fraction of
    units that are off for every sample of the batch; ``zero_grad`` = fraction of entries of
    ∂L/∂a that backpropagation makes exactly 0 (each a list of ``depth`` fractions, one batch of
    ``batch_size`` digits). ``mean_zero_derivative`` averages the first.
    """
    data = digits_or(data, seed)
    dev = _device(device)
    X, y = data.X_train[:batch_size].to(dev), data.y_train[:batch_size].to(dev)
    model = seeded_mlp(data, seed=seed, hidden=hidden, depth=depth, activation="relu", init=init).to(dev)
    zero_derivative, dead_units, zero_grad = _relu_stats(model, X, y, depth)
    return {"config": {"depth": depth, "hidden": hidden, "batch_size": batch_size, "init": init},
            "zero_derivative": zero_derivative, "dead_units": dead_units, "zero_grad": zero_grad,
            "mean_zero_derivative": sum(zero_derivative) / len(zero_derivative)}


def relu_init_training(*, seed, depth, hidden, inits, lr, steps, batch_size, data=None, device=None):
    """Train a deep plain ReLU MLP (no normalisation) from several initialisations.

    ``inits``: (init, scale) pairs for ``make_mlp(init=..., init_scale=...)``: PyTorch's
    default (too small for ReLU: weight std 1/√(3·fan_in), about 0.41 of He's), He, and He
    with the hidden weights doubled. Returns per ``"{init}_x{scale:g}"`` the final train and
    test accuracy (None if the loss became NaN/inf: ``diverged``), the train-accuracy curve
    and the first/last hidden-layer gradient ratio at step 1. Plain SGD with ``lr``, ``steps``
    mini-batches of ``batch_size`` digits (``helpers.train.fit``).
    """
    data = digits_or(data, seed)
    out = {"config": {"depth": depth, "hidden": hidden, "lr": lr, "steps": steps, "batch_size": batch_size},
           "names": []}
    for init, scale in inits:
        name = f"{init}_x{scale:g}"
        model = seeded_mlp(data, seed=seed, hidden=hidden, depth=depth, activation="relu", init=init,
                           init_scale=scale)
        h = fit(model, (data.X_train, data.y_train), test=(data.X_test, data.y_test), steps=steps,
                batch_size=batch_size, lr=lr, eval_every=max(1, steps // 15), seed=seed, device=device,
                progress=False, record_grad_norms=True)
        first, last = h.grad_norms["linear1"][0], h.grad_norms[f"linear{depth}"][0]
        out["names"].append(name)
        out[name] = {"init": init, "scale": scale, "diverged": h.diverged, "diverged_at": h.diverged_at,
                     "train_acc": None if h.diverged else h.train_acc[-1],
                     "test_acc": None if h.diverged else h.test_acc[-1],
                     "eval_steps": list(h.eval_steps), "train_acc_curve": list(h.train_acc),
                     "grad_ratio_init": first / last if last > 0 else None}
    return out


def plain_cnn(depth, channels, *, init="default", gain=1.0, in_channels=1, num_classes=NUM_CLASSES):
    """A plain deep ReLU CNN: ``depth`` 3×3 convolutions (padding 1) with ReLU, global average pooling, a Linear.

    No normalisation, no shortcut: every layer has its own, independently drawn weights.
    ``init="default"`` keeps PyTorch's initialisation; ``"he"`` draws weights
    N(0, gain² · 2 / fan_in) with zero bias (gain = 1 is He et al. 2015; 2 doubles every
    layer's weights). Returns ``(convs, head)``: an ``nn.ModuleList`` of the convolutions and
    the final ``nn.Linear``; ``cnn_gradients`` runs them.
    """
    check_choice("init", init, ("default", "he"))
    convs = nn.ModuleList()
    for i in range(depth):
        conv = nn.Conv2d(in_channels if i == 0 else channels, channels, 3, padding=1)
        if init == "he":
            with torch.no_grad():
                conv.weight.normal_(0.0, gain * math.sqrt(2.0 / (conv.in_channels * 9)))
                conv.bias.zero_()
        convs.append(conv)
    return convs, nn.Linear(channels, num_classes)


def _conv_matrix_stats(conv, size):
    """The convolution as one dense matrix acting on a flattened (C, size, size) image: fraction of
    zero entries (it is sparse: each output sees only a 3×3 window) and its largest singular value."""
    C = conv.in_channels
    n = C * size * size
    weight = conv.weight.detach().to(_float64_device(conv.weight.device))
    with torch.no_grad():
        basis = torch.eye(n, dtype=weight.dtype, device=weight.device).view(n, C, size, size)
        cols = F.conv2d(basis, weight, None, padding=conv.padding)            # (n, F, size, size): column j = A e_j
        A = cols.reshape(n, -1).T
        return {"shape": list(A.shape), "zero_fraction": (A == 0).double().mean().item(),
                "largest_singular_value": torch.linalg.matrix_norm(A.double(), ord=2).item()}


def cnn_gradients(*, seed, depth, channels, batch_size, inits, data=None, device=None):
    """Does a CNN's independent, sparse weights stop gradients vanishing or exploding? Measured.

    A ``plain_cnn`` on a batch of 8×8 digits (N, 1, 8, 8), cross-entropy loss, at
    initialisation. Per init (``"{init}_x{gain:g}"``): ``grad_norms`` = ‖∂L/∂a_l‖ of every
    layer's pre-activation a_l (l = 1..depth), ``ratio`` = first over last, ``act_std`` =
    the std of a_l (the forward signal), ``loss``; and ``conv_matrix`` = a middle layer written
    as a dense matrix (its zero fraction and largest singular value).
    """
    data = digits_or(data, seed)
    dev = _device(device)
    X = data.X_train[:batch_size].reshape(-1, 1, 8, 8).to(dev)
    y = data.y_train[:batch_size].to(dev)
    out = {"config": {"depth": depth, "channels": channels, "batch_size": batch_size}, "names": []}
    for init, gain in inits:
        name = f"{init}_x{gain:g}"
        set_seed(seed)
        convs, head = plain_cnn(depth, channels, init=init, gain=gain)
        convs, head = convs.to(dev), head.to(dev)
        pre, h = [], X
        for conv in convs:
            a = conv(h)
            a.retain_grad()
            pre.append(a)
            h = F.relu(a)
        loss = F.cross_entropy(head(h.mean(dim=(2, 3))), y)
        loss.backward()
        grads = [a.grad.norm().item() for a in pre]
        out["names"].append(name)
        out[name] = {"init": init, "gain": gain, "grad_norms": grads,
                     "ratio": grads[0] / grads[-1] if grads[-1] > 0 else None,
                     "act_std": [a.detach().std().item() for a in pre], "loss": loss.item(),
                     "conv_matrix": _conv_matrix_stats(convs[depth // 2], 8)}
    return out


# --------------------------------------------------------------------------- convolution as a matrix product

def conv_example(*, height, width, kernel, stride, padding):
    """The seed's example: a 4×4 one-channel image, a 2×2 filter, stride 1, padding 1.

    The image holds 0..15, the filter [[1, 0], [0, -1]] (float64). Returns the output size
    from the formula (H − F + 2P)/S + 1, the number of positions, the column matrix of
    ``im2col`` (C·kh·kw rows × positions) as a list, the output of one matrix product and the
    largest difference from ``F.conv2d`` and the columns' from ``F.unfold``.
    """
    x = torch.arange(height * width, dtype=torch.float64).view(1, 1, height, width)
    w = torch.zeros(1, 1, kernel, kernel, dtype=torch.float64)
    w[0, 0, 0, 0], w[0, 0, -1, -1] = 1.0, -1.0
    oh = conv_output_size(height, kernel, stride, padding)
    ow = conv_output_size(width, kernel, stride, padding)
    cols = im2col(x, kernel, stride, padding)                        # (1, 4, 25)
    out = (w.view(1, -1) @ cols[0]).view(oh, ow)                     # the one matrix product
    ref = F.conv2d(x, w, stride=stride, padding=padding)[0, 0]
    unfold = F.unfold(x, kernel, padding=padding, stride=stride)
    return {"config": {"height": height, "width": width, "kernel": kernel, "stride": stride, "padding": padding},
            "out_height": oh, "out_width": ow, "positions": oh * ow, "cols_shape": list(cols.shape[1:]),
            "x": x[0, 0].tolist(), "w": w[0, 0].tolist(), "cols": cols[0].tolist(), "out": out.tolist(),
            "max_err_conv2d": (out - ref).abs().max().item(), "max_err_unfold": (cols - unfold).abs().max().item()}


def conv_checks(*, seed, cases):
    """``conv2d_im2col`` against ``F.conv2d`` in float64 on random inputs.

    ``cases``: (N, C, H, W, F, kernel, stride, padding). Returns a list of rows with the
    output shape, the shape predicted by the formula and the largest absolute difference.
    """
    gen = set_seed(seed)
    rows = []
    for N, C, H, W, Fn, kernel, stride, padding in cases:
        kh, kw = kernel
        sh, sw = stride if isinstance(stride, tuple) else (stride, stride)
        x = torch.randn(N, C, H, W, generator=gen, dtype=torch.float64)
        w = torch.randn(Fn, C, kh, kw, generator=gen, dtype=torch.float64)
        b = torch.randn(Fn, generator=gen, dtype=torch.float64)
        out, _ = conv2d_im2col(x, w, b, stride, padding)
        ref = F.conv2d(x, w, b, stride=stride, padding=padding)
        rows.append({"x_shape": [N, C, H, W], "w_shape": [Fn, C, kh, kw], "stride": [sh, sw], "padding": padding,
                     "out_shape": list(out.shape),
                     "formula": [conv_output_size(H, kh, sh, padding), conv_output_size(W, kw, sw, padding)],
                     "max_err": (out - ref).abs().max().item()})
    return rows


def _best_ms(fn, number, repeats):
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best * 1e3


def _time_conv(*, seed, x_shape, filters, kernel, stride, padding, repeats, number, include_naive, device):
    """One convolution of a random float32 input ``x_shape`` = (N, C, H, W) with ``filters`` filters,
    timed three ways (the fastest of ``repeats``, each over ``number`` calls), and the three checked
    to agree."""
    dev = torch.device(device)
    gen = set_seed(seed)
    x = torch.randn(*x_shape, generator=gen).to(dev)
    w = torch.randn(filters, x_shape[1], kernel, kernel, generator=gen).to(dev)
    b = torch.randn(filters, generator=gen).to(dev)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    y_im2col, _ = conv2d_im2col(x, w, b, stride, padding)
    y_native = F.conv2d(x, w, b, stride=stride, padding=padding)
    naive = _best_ms(lambda: (conv2d_naive(x, w, b, stride, padding), sync()), 1, repeats) if include_naive else None
    ms = {
        "naive": naive,
        "im2col": _best_ms(lambda: (conv2d_im2col(x, w, b, stride, padding), sync()), number, repeats),
        "native": _best_ms(lambda: (F.conv2d(x, w, b, stride=stride, padding=padding), sync()), number, repeats),
    }
    y_naive = conv2d_naive(x, w, b, stride, padding) if include_naive else None
    return {"config": {"x_shape": list(x_shape), "filters": filters, "kernel": kernel, "stride": stride,
                       "padding": padding, "device": dev.type,
                       "loop_iterations": x_shape[0] * filters * y_native.shape[2] * y_native.shape[3]},
            "ms": ms, "naive_over_im2col": ms["naive"] / ms["im2col"] if include_naive else None,
            "im2col_over_native": ms["im2col"] / ms["native"],
            "max_err_naive": (y_naive - y_native).abs().max().item() if include_naive else None,
            "max_err_im2col": (y_im2col - y_native).abs().max().item()}


def conv_timing(*, seed, sizes, kernel, stride, padding, repeats, device="cpu"):
    """Wall time in ms of one convolution: ``conv2d_naive`` (Python loops), ``conv2d_im2col``
    (one matrix product) and ``F.conv2d`` (PyTorch's native kernel); the fastest of ``repeats``.

    ``sizes``: ``{name: {"x_shape": (N, C, H, W), "filters": F, "number": calls per timing,
    "include_naive": bool}}``; ``include_naive=False`` skips the loops (for inputs too large for
    them; their entries are then None). float32 on ``device`` (the CPU by default: the comparison is
    about CPU work). Returns per name the times ``ms``, the ratios and the largest differences
    between the three. Timings vary from run to run; the ratios are the point.
    """
    out = {"names": list(sizes)}
    for name, size in sizes.items():
        out[name] = _time_conv(seed=seed, kernel=kernel, stride=stride, padding=padding, repeats=repeats,
                               device=device, **size)
    return out


# --------------------------------------------------------------------------- recurrent networks

def _power_norms(W, v, steps):
    """‖(Wᵀ)^k v‖ / ‖v‖ for k = 0..steps: a gradient sent back k steps through h_t = W h_{t-1}."""
    norms, g, n0 = [], v.clone(), v.norm()
    for _ in range(steps + 1):
        norms.append((g.norm() / n0).item())
        g = W.T @ g
    return norms


def spectral_radius_demo(*, seed, hidden, radii, steps, device=None):
    """The shared recurrent matrix multiplied k times: what decides between vanishing and exploding.

    ``radii``: a random Gaussian (hidden × hidden) matrix rescaled to each spectral radius ρ;
    ``"small_entries"``: every entry 0.05 (all entries < 1, yet ρ = 0.05·hidden);
    ``"large_entries"``: 32 copies of the 2×2 block [[0.9, 3], [0, 0.9]] on the diagonal
    (entries up to 3, yet ρ = 0.9). For each: ``norms`` = ‖(Wᵀ)^k g‖/‖g‖ for k = 0..steps
    (float64; on Apple MPS, which has no float64, on the CPU), its spectral radius, largest
    entry and largest singular value.
    Also ``default_rho``: ρ of an ``RNNCell``'s W_hh at PyTorch's default initialisation.
    """
    dev = _float64_device(device)
    gen = set_seed(seed)
    base = torch.randn(hidden, hidden, generator=gen, dtype=torch.float64) / math.sqrt(hidden)
    v = torch.randn(hidden, generator=gen, dtype=torch.float64)
    base, v = base.to(dev), v.to(dev)
    rho0 = spectral_radius(base)
    mats = {f"rho_{r:g}": base * (r / rho0) for r in radii}
    mats["small_entries"] = torch.full((hidden, hidden), 0.05, dtype=torch.float64, device=dev)
    block = torch.tensor([[0.9, 3.0], [0.0, 0.9]], dtype=torch.float64)
    mats["large_entries"] = torch.block_diag(*[block] * (hidden // 2)).to(dev)
    out = {"config": {"hidden": hidden, "steps": steps, "radii": list(radii)}, "names": list(mats)}
    for name, W in mats.items():
        out[name] = {"rho": spectral_radius(W), "max_entry": W.abs().max().item(),
                     "largest_singular_value": torch.linalg.matrix_norm(W, ord=2).item(),
                     "norms": _power_norms(W, v, steps)}
    set_seed(seed)
    w_hh = RNNCell(2, hidden, "tanh").weight_hh.detach().double()
    out["default_rho"] = spectral_radius(w_hh)
    out["default_largest_singular_value"] = torch.linalg.matrix_norm(w_hh, ord=2).item()
    return out


def make_rnn_layer(kind, hidden, *, seq_len=None, input_size=2):
    """One recurrent layer of chapter 4's comparison, at its usual initialisation.

    ``"tanh"``, ``"relu"``, ``"irnn"``, ``"indrnn"`` (u = 1, |u| <= 2^(1/seq_len)) and
    ``"indrnn_uniform"`` (u ~ U(0, 1)): ``helpers.rnn.make_layer`` (the same layers the adding
    problem trains); ``"lstm"``: a one-layer batch-first ``torch.nn.LSTM`` at PyTorch's default init
    (every weight and both biases U(-1/√H, 1/√H), so each forget gate starts near σ(0) = 1/2);
    ``"lstm_chrono"``: the same LSTM with chrono initialisation (Tallec & Ollivier 2018):
    forget-gate bias log(U(1, seq_len − 1)) and input-gate bias its negative, so the forget
    gates start between 1/2 and 1 − 1/seq_len (needs ``seq_len`` >= 3).
    """
    check_choice("kind", kind, RNN_CELLS)
    if kind not in LSTM_CELLS:
        return make_layer(kind, input_size, hidden, seq_len=seq_len)
    lstm = nn.LSTM(input_size, hidden, batch_first=True)
    if kind == "lstm_chrono":
        if seq_len is None or isinstance(seq_len, bool) or not isinstance(seq_len, int) or seq_len < 3:
            raise ValueError(f"lstm_chrono needs seq_len >= 3 (its forget biases are log U(1, seq_len - 1)), "
                             f"got {seq_len!r}")
        with torch.no_grad():    # PyTorch's gate order in the biases: input, forget, cell, output
            b_f = torch.log(torch.empty(hidden).uniform_(1.0, seq_len - 1.0))
            lstm.bias_ih_l0[hidden:2 * hidden].copy_(b_f)
            lstm.bias_ih_l0[:hidden].copy_(-b_f)
            lstm.bias_hh_l0[:2 * hidden].zero_()
    return lstm


def _scaled_norm(g):
    """‖g‖ without underflow: scaled by the largest entry first (squares of entries below ~1e-154 are 0)."""
    biggest = g.abs().max()
    return biggest * torch.linalg.vector_norm(g / biggest) if biggest > 0 else biggest


def lstm_gradient_norms(lstm, x):
    """‖∂L/∂x_t‖ for t = 1..T of a batch-first ``torch.nn.LSTM``, with L = h_T.sum() (as
    ``helpers.rnn.hidden_gradient_norms(wrt="input")`` for the other cells), by autograd.

    x: (N, T, input_size) -> a tensor (T,); each entry is the norm over the whole batch.
    """
    if not isinstance(lstm, nn.LSTM) or not lstm.batch_first:
        raise TypeError(f"lstm must be a batch-first torch.nn.LSTM, got {type(lstm).__name__}")
    x = x.detach().clone().requires_grad_(True)
    _, (h, _) = lstm(x)
    (g,) = torch.autograd.grad(h[-1].sum(), x)
    return torch.stack([_scaled_norm(g[:, t]) for t in range(g.shape[1])])


def rnn_gradient_vs_length(*, seed, lengths, cells, hidden, batch_size, profile_length, device=None):
    """‖∂L/∂x_1‖ / ‖∂L/∂x_T‖ at initialisation against the sequence length T, per cell
    (``make_rnn_layer``: tanh, ReLU, IRNN, IndRNN and the two LSTMs), ``hidden`` units.

    Inputs are adding-problem sequences x: (batch_size, T, 2) (``make_adding_problem``), the
    loss reads the last hidden state only (L = h_T.sum(), ``hidden_gradient_norms`` with
    ``wrt="input"``), in float64 (on the CPU when ``device`` is MPS, which has no float64).
    The same seed gives the same weights at every T. A ratio of
    exactly 0.0 means the gradient underflowed (below ~1e-308, denormals flushed to zero).
    Returns per cell the list of ratios (one per length) and ``profile``: per cell the whole
    ‖∂L/∂x_t‖ / ‖∂L/∂x_T‖ over t = 1..T for T = ``profile_length`` (when it is one of ``lengths``).
    """
    dev = _float64_device(device)
    out = {"config": {"lengths": list(lengths), "hidden": hidden, "batch_size": batch_size,
                      "profile_length": profile_length}, "cells": list(cells)}
    for kind in cells:
        ratios = []
        for T in lengths:
            x = make_adding_problem(batch_size, T, seed=seed)[0].double().to(dev)
            set_seed(seed)
            layer = make_rnn_layer(kind, hidden, seq_len=T).double().to(dev)
            if kind in LSTM_CELLS:
                norms = lstm_gradient_norms(layer, x)
            else:
                norms = hidden_gradient_norms(layer, x, wrt="input")   # the chain rule by hand (lab 5)
            ratios.append((norms[0] / norms[-1]).item())
            if T == profile_length:
                out.setdefault("profile", {})[kind] = (norms / norms[-1]).tolist()
        out[kind] = ratios
    return out


def adding_problem(*, seed, T, cells, hidden, num_layers, steps, lr, batch_size, eval_every, n_test, device=None):
    """Train ``AddingModel``s briefly on the adding problem and track the test MSE.

    Each cell type gets the same architecture (``num_layers`` layers of ``hidden`` units, a
    linear read-out of h_T), Adam with ``lr``, ``steps`` fresh mini-batches of ``batch_size``
    sequences x: (batch_size, T, 2) with targets y: (batch_size,) (the same for every cell) and,
    for IndRNN, |u| <= 2^(1/T) after every step. Test set: ``n_test`` sequences from another seed,
    evaluated every ``eval_every`` steps. The layers backpropagate with the hand-written backward
    through time (``fast_bptt=True``: the same gradients as autograd's to rounding, in half the CPU
    time). Returns per cell the test MSE at ``eval_steps`` (0 = before training), ``final`` and
    ``best``, and the CPU/wall seconds; plus ``baseline`` = 1/6 and ``test_baseline`` = the MSE of
    always answering 1 on this test set.
    """
    dev = _device(device)
    X_test, y_test = make_adding_problem(n_test, T, seed=10_000 + seed)
    X_train, y_train = make_adding_problem(batch_size * steps, T, seed=seed)
    X_test, y_test = X_test.to(dev), y_test.to(dev)
    out = {"config": {"T": T, "hidden": hidden, "num_layers": num_layers, "steps": steps, "lr": lr,
                      "batch_size": batch_size, "n_test": n_test}, "cells": list(cells),
           "baseline": ADDING_BASELINE_MSE, "test_baseline": ((y_test - 1.0) ** 2).mean().item()}

    def test_mse(model):
        model.eval()
        with torch.no_grad():
            mse = F.mse_loss(model(X_test), y_test).item()
        model.train()
        return mse

    for kind in cells:
        set_seed(seed)
        model = AddingModel(kind, hidden, num_layers=num_layers, seq_len=T, fast_bptt=True).to(dev)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        eval_steps, mse = [0], [test_mse(model)]
        wall, cpu = time.perf_counter(), time.process_time()
        for step in range(1, steps + 1):
            lo = (step - 1) * batch_size
            x, y = X_train[lo:lo + batch_size].to(dev), y_train[lo:lo + batch_size].to(dev)
            loss = F.mse_loss(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            model.clip_recurrent_()
            if step % eval_every == 0 or step == steps:
                eval_steps.append(step)
                mse.append(test_mse(model))
        out[kind] = {"eval_steps": eval_steps, "test_mse": mse, "final": mse[-1], "best": min(mse),
                     "seconds": time.perf_counter() - wall, "cpu_seconds": time.process_time() - cpu}
    return out


# --------------------------------------------------------------------------- the book's settings

#: The chapter's settings of every experiment (``run(name, seed=...)`` passes them).
SETTINGS = {
    "derivative_bounds": {"names": ("sigmoid", "tanh", "relu"), "low": -10.0, "high": 10.0, "points": 200_001,
                          "depth": 10},
    "layer_gradients": {"depth": 10, "hidden": 100, "batch_size": 256, "configs": LAYER_CONFIGS},
    "relu_zero_gradients": {"depth": 10, "hidden": 100, "batch_size": 256, "init": "kaiming"},
    "relu_init_training": {"depth": 10, "hidden": 100, "inits": (("default", 1.0), ("kaiming", 1.0), ("kaiming", 2.0)),
                           "lr": 0.1, "steps": 300, "batch_size": 60},
    "cnn_gradients": {"depth": 20, "channels": 16, "batch_size": 64,
                      "inits": (("default", 1.0), ("he", 1.0), ("he", 2.0))},
    "conv_example": {"height": 4, "width": 4, "kernel": 2, "stride": 1, "padding": 1},
    "conv_checks": {"cases": ((2, 3, 7, 7, 4, (3, 3), 1, 0), (2, 3, 8, 8, 5, (3, 3), 2, 1),
                              (1, 2, 9, 7, 3, (5, 3), (2, 1), 2), (3, 4, 6, 6, 2, (1, 1), 1, 0))},
    "conv_timing": {"sizes": {"small": {"x_shape": (4, 3, 16, 16), "filters": 8, "number": 50, "include_naive": True},
                              "large": {"x_shape": (16, 16, 32, 32), "filters": 32, "number": 5,
                                        "include_naive": False}},
                    "kernel": 3, "stride": 1, "padding": 1, "repeats": 3},
    "spectral_radius_demo": {"hidden": 64, "radii": (0.9, 1.0, 1.1), "steps": 200},
    "rnn_gradient_vs_length": {"lengths": (10, 30, 100, 300, 1000), "cells": RNN_CELLS, "hidden": 64,
                               "batch_size": 16, "profile_length": 1000},
    "adding_problem": {"T": 50, "cells": ("tanh", "indrnn"), "hidden": 64, "num_layers": 2, "steps": 1000,
                       "lr": 2e-3, "batch_size": 50, "eval_every": 100, "n_test": 1000},
}

#: Each experiment at a scale that runs in about a second (the unit tests: ``run(name, tiny=True)``).
TINY = {
    "derivative_bounds": {"points": 2001},
    "layer_gradients": {"depth": 4, "hidden": 16, "batch_size": 32},
    "relu_zero_gradients": {"depth": 4, "hidden": 16, "batch_size": 32},
    "relu_init_training": {"depth": 4, "hidden": 16, "steps": 10, "batch_size": 20},
    "cnn_gradients": {"depth": 4, "channels": 4, "batch_size": 8},
    "conv_example": {},
    "conv_checks": {"cases": ((1, 2, 5, 5, 2, (3, 3), 1, 0), (1, 1, 6, 5, 2, (3, 2), (2, 1), 1))},
    "conv_timing": {"sizes": {"small": {"x_shape": (1, 2, 6, 6), "filters": 2, "number": 2, "include_naive": True},
                              "large": {"x_shape": (1, 2, 6, 6), "filters": 2, "number": 2,
                                        "include_naive": False}},
                    "repeats": 1},
    "spectral_radius_demo": {"hidden": 8, "steps": 20},
    "rnn_gradient_vs_length": {"lengths": (10, 40), "hidden": 8, "batch_size": 4, "profile_length": 40},
    "adding_problem": {"T": 10, "hidden": 8, "steps": 6, "batch_size": 8, "eval_every": 3, "n_test": 200},
}

#: The prefix of every glue name of an experiment's result (``helpers.notebook.glue_result``).
GLUE_PREFIX = {
    "derivative_bounds": "ch4_db", "layer_gradients": "ch4_lg", "relu_zero_gradients": "ch4_rz",
    "relu_init_training": "ch4_rt", "cnn_gradients": "ch4_cnn", "conv_example": "ch4_ex", "conv_checks": "ch4_checks",
    "conv_timing": "ch4_time", "spectral_radius_demo": "ch4_sr", "rnn_gradient_vs_length": "ch4_rg",
    "adding_problem": "ch4_add",
}

run = book_runner(__name__)
