"""helpers.rnn against PyTorch in float64: cells, sequences, the hand-written BPTT, gradient norms over time.

Tolerances: values and gradients rtol = 1e-10, atol = 1e-12 (float64; the
only differences are summation order). Sizes are non-square (input 3, hidden 5).
"""
import math

import pytest
import torch
import torch.nn.functional as F

from helpers.rnn import (AddingModel, IndRNN, IndRNNCell, RNN, RNNCell, _SequenceBPTT, hidden_gradient_norms,
                         indrnn_u_max, irnn_init_, make_layer)

RTOL, ATOL = 1e-10, 1e-12
I, H, N = 3, 5, 4
DT = torch.float64


def _randomize_(module, gen, scale=0.5):
    """Non-trivial parameters (random biases, non-identity weights) for value/gradient comparisons."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(scale * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return module


def _adding_inputs(n, T, gen):
    """Adding-problem inputs (N, T, 2): values U(0, 1), two markers, one in each half."""
    v = torch.rand(n, T, generator=gen, dtype=DT)
    m = torch.zeros(n, T, dtype=DT)
    rows = torch.arange(n)
    m[rows, torch.randint(0, T // 2, (n,), generator=gen)] = 1.0
    m[rows, torch.randint(T // 2, T, (n,), generator=gen)] = 1.0
    return torch.stack([v, m], -1)


def _make_cell(kind, gen, input_size=I, hidden_size=H):
    """The cell types hidden_gradient_norms must handle, float64, random parameters."""
    if kind in ("tanh", "relu"):
        return _randomize_(RNNCell(input_size, hidden_size, kind).double(), gen)
    if kind == "irnn":
        cell = _randomize_(RNNCell(input_size, hidden_size, "relu").double(), gen)
        return irnn_init_(cell)
    nonlinearity = "relu" if kind == "indrnn" else "tanh"
    cell = _randomize_(IndRNNCell(input_size, hidden_size, nonlinearity, u_max=1.2).double(), gen, scale=0.8)
    return cell.clip_recurrent_()


CELL_KINDS = ["tanh", "relu", "irnn", "indrnn", "indrnn_tanh"]


# --- RNNCell vs torch.nn.RNNCell / torch.nn.RNN ---------------------------------

def _torch_twin(ours, gen, cls=torch.nn.RNNCell, **kw):
    """A torch cell with our weights; our one bias split at random into torch's b_ih + b_hh."""
    twin = cls(ours.input_size, ours.hidden_size, nonlinearity=ours.nonlinearity, dtype=DT, **kw)
    suffix = "_l0" if cls is torch.nn.RNN else ""
    b_hh = torch.randn(ours.hidden_size, generator=gen, dtype=DT)
    with torch.no_grad():
        getattr(twin, "weight_ih" + suffix).copy_(ours.weight_ih)
        getattr(twin, "weight_hh" + suffix).copy_(ours.weight_hh)
        getattr(twin, "bias_ih" + suffix).copy_(ours.bias - b_hh)
        getattr(twin, "bias_hh" + suffix).copy_(b_hh)
    return twin


def _grads(tensors):
    return [t.grad.clone() for t in tensors]


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_cell_matches_torch_values_and_gradients(nonlinearity, rng):
    ours = _randomize_(RNNCell(I, H, nonlinearity).double(), rng)
    twin = _torch_twin(ours, rng)
    x = torch.randn(N, I, generator=rng, dtype=DT, requires_grad=True)
    h = torch.randn(N, H, generator=rng, dtype=DT, requires_grad=True)
    up = torch.randn(N, H, generator=rng, dtype=DT)

    out = ours(x, h)
    (out * up).sum().backward()
    g_ours = _grads([x, h, ours.weight_ih, ours.weight_hh, ours.bias])
    x.grad = h.grad = None
    ref = twin(x, h)
    (ref * up).sum().backward()
    g_ref = _grads([x, h, twin.weight_ih, twin.weight_hh, twin.bias_ih])

    torch.testing.assert_close(out, ref, rtol=RTOL, atol=ATOL)
    if nonlinearity == "relu":
        assert (out == 0).any() and (out > 0).any()          # both sides of the kink are exercised
    for a, b in zip(g_ours, g_ref):
        torch.testing.assert_close(a, b, rtol=RTOL, atol=ATOL)
    torch.testing.assert_close(g_ours[-1], twin.bias_hh.grad, rtol=RTOL, atol=ATOL)   # torch's other bias


def test_rnn_cell_default_state_is_zero_and_init_matches_torch_range(rng):
    cell = RNNCell(I, H).double()
    x = torch.randn(N, I, generator=rng, dtype=DT)
    torch.testing.assert_close(cell(x), cell(x, torch.zeros(N, H, dtype=DT)), rtol=0, atol=0)
    bound = 1 / math.sqrt(H)
    for p in cell.parameters():
        assert p.abs().max() <= bound and p.std() > 0.2 * bound


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("fast", [False, True])
def test_rnn_sequence_matches_torch_nn_rnn(nonlinearity, fast, rng):
    ours = RNN(I, H, nonlinearity).double()
    _randomize_(ours, rng)
    twin = _torch_twin(ours.cell, rng, cls=torch.nn.RNN, batch_first=True)
    T = 7
    x = torch.randn(N, T, I, generator=rng, dtype=DT, requires_grad=True)
    h0 = torch.randn(N, H, generator=rng, dtype=DT, requires_grad=True)
    up = torch.randn(N, T, H, generator=rng, dtype=DT)

    out, h_T = ours.forward_fast(x, h0) if fast else ours(x, h0)
    ((out * up).sum() + h_T.sum()).backward()
    c = ours.cell
    g_ours = _grads([x, h0, c.weight_ih, c.weight_hh, c.bias])
    x.grad = h0.grad = None
    ref, ref_h = twin(x, h0.unsqueeze(0))
    ((ref * up).sum() + ref_h.sum()).backward()
    g_ref = _grads([x, h0, twin.weight_ih_l0, twin.weight_hh_l0, twin.bias_ih_l0])

    torch.testing.assert_close(out, ref, rtol=RTOL, atol=ATOL)
    torch.testing.assert_close(h_T, ref_h[0], rtol=RTOL, atol=ATOL)
    for a, b in zip(g_ours, g_ref):
        torch.testing.assert_close(a, b, rtol=RTOL, atol=ATOL)


# --- IndRNN vs the formula written directly with autograd -----------------------

@pytest.mark.parametrize("nonlinearity", ["relu", "tanh"])
def test_indrnn_cell_matches_direct_formula(nonlinearity, rng):
    cell = _randomize_(IndRNNCell(I, H, nonlinearity).double(), rng)
    act = torch.relu if nonlinearity == "relu" else torch.tanh
    x = torch.randn(N, I, generator=rng, dtype=DT, requires_grad=True)
    h = torch.randn(N, H, generator=rng, dtype=DT, requires_grad=True)
    up = torch.randn(N, H, generator=rng, dtype=DT)
    params = [cell.weight_ih, cell.u, cell.bias]

    out = cell(x, h)
    (out * up).sum().backward()
    g_ours = _grads([x, h, *params])
    for t in (x, h, *params):
        t.grad = None
    ref = act(x @ cell.weight_ih.T + cell.u * h + cell.bias)
    (ref * up).sum().backward()
    torch.testing.assert_close(out, ref, rtol=RTOL, atol=ATOL)
    for a, b in zip(g_ours, _grads([x, h, *params])):
        torch.testing.assert_close(a, b, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("kind", CELL_KINDS)
def test_forward_fast_matches_the_autograd_loop_of_forward(kind, rng):
    cell = _make_cell(kind, rng)
    seq = (RNN if isinstance(cell, RNNCell) else IndRNN)(I, H).double()
    seq.cell = cell
    T = 20
    x = torch.randn(N, T, I, generator=rng, dtype=DT)
    up = torch.randn(N, T, H, generator=rng, dtype=DT)
    results = []
    for fast in (True, False):
        xx = x.clone().requires_grad_(True)
        cell.zero_grad()
        out, h_T = seq.forward_fast(xx) if fast else seq(xx)
        ((out * up).sum() + 2 * h_T.sum()).backward()
        results.append([out.detach(), xx.grad] + [p.grad.clone() for p in cell.parameters()])
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("kind, nonlinearity", [("full", "tanh"), ("full", "relu"),
                                                ("diagonal", "relu"), ("diagonal", "tanh")])
def test_hand_written_backward_passes_gradcheck(kind, nonlinearity, rng):
    T, n, i, h = 4, 2, 3, 4
    x = torch.randn(n, T, i, generator=rng, dtype=DT, requires_grad=True)
    h0 = torch.randn(n, h, generator=rng, dtype=DT, requires_grad=True)
    w_ih = (0.7 * torch.randn(h, i, generator=rng, dtype=DT)).requires_grad_(True)
    b = (0.5 * torch.randn(h, generator=rng, dtype=DT)).requires_grad_(True)
    shape = (h, h) if kind == "full" else (h,)
    w_rec = (0.7 * torch.randn(shape, generator=rng, dtype=DT)).requires_grad_(True)
    fn = lambda *args: _SequenceBPTT.apply(*args, kind, nonlinearity)    # noqa: E731
    assert torch.autograd.gradcheck(fn, (x, h0, w_ih, b, w_rec), eps=1e-6, atol=1e-8)


# --- hidden_gradient_norms vs autograd --------------------------------------------

def _autograd_norms(cell, x, wrt, grad_output=None, jacobian=False):
    """‖∂L/∂h_t‖ or ‖∂L/∂x_t‖ (or the Jacobian norms) by autograd through the cell, step by step."""
    n, T, _ = x.shape
    hsz = cell.hidden_size

    def run():
        xs = [x[:, t].detach().clone().requires_grad_(True) for t in range(T)]
        h = torch.zeros(n, hsz, dtype=DT)
        hs = []
        for t in range(T):
            h = cell(xs[t], h)
            h.retain_grad()
            hs.append(h)
        return xs, hs

    def norms_of(tensors):
        return torch.stack([t.grad.pow(2).sum() for t in tensors])

    if not jacobian:
        xs, hs = run()
        g = torch.ones(n, hsz, dtype=DT) if grad_output is None else grad_output
        (hs[-1] * g).sum().backward()
        return norms_of(hs if wrt == "hidden" else xs).sqrt()
    total = torch.zeros(T, dtype=DT)
    for k in range(hsz):                  # row k of ∂h_T/∂h_t for every sequence at once
        xs, hs = run()
        hs[-1][:, k].sum().backward()
        total += norms_of(hs if wrt == "hidden" else xs)
    return total.sqrt()


@pytest.mark.parametrize("kind", CELL_KINDS)
@pytest.mark.parametrize("wrt", ["hidden", "input"])
def test_hidden_gradient_norms_match_autograd(kind, wrt, rng):
    cell = _make_cell(kind, rng, input_size=3, hidden_size=6)
    x = torch.randn(N, 20, 3, generator=rng, dtype=DT)
    ours = hidden_gradient_norms(cell, x, wrt=wrt)
    assert ours.shape == (20,) and ours.dtype == DT
    torch.testing.assert_close(ours, _autograd_norms(cell, x, wrt), rtol=RTOL, atol=1e-14)
    g = torch.randn(N, 6, generator=rng, dtype=DT)
    torch.testing.assert_close(hidden_gradient_norms(cell, x, wrt=wrt, grad_output=g),
                               _autograd_norms(cell, x, wrt, grad_output=g), rtol=RTOL, atol=1e-14)
    torch.testing.assert_close(hidden_gradient_norms(cell, x, wrt=wrt, jacobian=True),
                               _autograd_norms(cell, x, wrt, jacobian=True), rtol=RTOL, atol=1e-14)
    if wrt == "hidden":
        assert ours[-1] == pytest.approx(math.sqrt(N * 6))    # ‖g‖ for g = ones


def test_hidden_gradient_norms_do_not_underflow_before_the_gradient_does(rng):
    """Norms scale linearly with the upstream gradient even at 1e-200, where squaring would underflow."""
    cell = _make_cell("tanh", rng)
    x = torch.randn(N, 12, I, generator=rng, dtype=DT)
    g = torch.randn(N, H, generator=rng, dtype=DT)
    for wrt in ("hidden", "input"):
        ref = hidden_gradient_norms(cell, x, wrt=wrt, grad_output=g)
        tiny = hidden_gradient_norms(cell, x, wrt=wrt, grad_output=1e-200 * g)
        torch.testing.assert_close(tiny, 1e-200 * ref, rtol=1e-12, atol=0.0)
    assert (hidden_gradient_norms(cell, x, grad_output=0 * g) == 0).all()


def test_hidden_gradient_norms_accepts_sequence_wrappers_and_h0(rng):
    seq = _randomize_(IndRNN(I, H, u_max=1.5).double(), rng).clip_recurrent_()
    x = torch.randn(N, 9, I, generator=rng, dtype=DT)
    h0 = torch.randn(N, H, generator=rng, dtype=DT).abs()
    a = hidden_gradient_norms(seq, x, h0)
    # autograd with a non-zero h0
    hh = h0.clone()
    hs = []
    for t in range(9):
        hh = seq.cell(x[:, t], hh)
        hh.retain_grad()
        hs.append(hh)
    hs[-1].sum().backward()
    torch.testing.assert_close(a, torch.stack([q.grad.norm() for q in hs]), rtol=RTOL, atol=1e-14)


# --- long sequences: vanishing vs preserved gradients -----------------------------

def _first_over_last(cell, x):
    n = hidden_gradient_norms(cell, x)
    return (n[0] / n[-1]).item()


def test_gradients_over_1000_steps_vanish_for_tanh_but_not_irnn_or_indrnn():
    """The chapter 4 / lab 5 claim, as a test: at T = 1000 on adding-problem inputs,
    ‖∂L/∂h_1‖ / ‖∂L/∂h_T‖ underflows for a tanh RNN at PyTorch's default init,
    while IRNN and IndRNN (u = 1, |u| <= 2^(1/T)) keep it of order one."""
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    T, hidden = 1000, 64
    x = _adding_inputs(8, T, gen)
    tanh_rnn = RNNCell(2, hidden, "tanh").double()
    irnn = irnn_init_(RNNCell(2, hidden, "relu").double(), input_std=0.001)
    indrnn = IndRNNCell(2, hidden, "relu", u_max=indrnn_u_max(T), u_init="ones").double()

    r_tanh, r_irnn, r_ind = (_first_over_last(c, x) for c in (tanh_rnn, irnn, indrnn))
    assert math.isfinite(r_tanh) and r_tanh < 1e-10
    for r in (r_irnn, r_ind):
        assert math.isfinite(r) and 0.1 < r < 10
    # the same through the inputs: ‖∂L/∂x_1‖ / ‖∂L/∂x_T‖
    n_in = hidden_gradient_norms(indrnn, x, wrt="input")
    assert torch.isfinite(n_in).all() and n_in[0] > 0.1 * n_in[-1]


def test_indrnn_bound_limits_gradient_growth(rng):
    """With every |u_i| = u_max = 2^(1/T), a gradient grows at most 2× over T steps (ReLU' is 0 or 1):
    ∂h_T/∂h_1 spans T - 1 steps, so its norm ratio is exactly u_max^(T-1) when every unit stays active."""
    T = 300
    u_max = indrnn_u_max(T)
    cell = IndRNNCell(2, 16, u_max=u_max, u_init=u_max).double()
    with torch.no_grad():
        cell.u.fill_(u_max)                   # again in float64 (the float32 init rounded it)
        cell.bias.fill_(1.0)                  # keep every unit active: the worst case
    x = _adding_inputs(4, T, rng)
    jac = hidden_gradient_norms(cell, x, jacobian=True)
    assert jac[0] / jac[-1] == pytest.approx(u_max ** (T - 1), rel=1e-9)
    assert jac[0] / jac[-1] <= 2.0
    with torch.no_grad():
        cell.u.fill_(1.01)                    # beyond the bound: growth 1.01^299 ≈ 20
    assert hidden_gradient_norms(cell, x, jacobian=True)[0] / jac[-1] > 10
    cell.clip_recurrent_()
    assert cell.u.max().item() == pytest.approx(u_max)


# --- initialisation, clipping and the adding model --------------------------------

def test_irnn_init_sets_identity_and_zero_bias(rng):
    cell = _randomize_(RNNCell(I, H, "relu").double(), rng)
    w_ih = cell.weight_ih.detach().clone()
    assert irnn_init_(cell) is cell
    torch.testing.assert_close(cell.weight_hh.detach(), torch.eye(H, dtype=DT), rtol=0, atol=0)
    assert (cell.bias == 0).all()
    torch.testing.assert_close(cell.weight_ih.detach(), w_ih, rtol=0, atol=0)    # left alone by default
    seq = RNN(I, 64, "relu")
    irnn_init_(seq, scale=0.5, input_std=0.001)
    torch.testing.assert_close(seq.cell.weight_hh.detach(), 0.5 * torch.eye(64), rtol=0, atol=0)
    assert 0.0008 < seq.cell.weight_ih.std().item() < 0.0012
    with pytest.raises(TypeError, match="RNNCell"):
        irnn_init_(IndRNNCell(I, H))
    with pytest.raises(ValueError, match="scale"):
        irnn_init_(cell, scale=0.0)


def test_indrnn_init_and_clip_recurrent():
    assert indrnn_u_max(1000) == 2 ** (1 / 1000)
    assert indrnn_u_max(10, 10.0) == 10 ** 0.1
    cell = IndRNNCell(I, 200, u_max=1.05)
    assert 0 <= cell.u.min() and cell.u.max() <= 1 and cell.u.std() > 0.2       # U(0, 1)
    assert (IndRNNCell(I, H, u_init="ones").u == 1).all()
    with torch.no_grad():
        cell.u[:3] = torch.tensor([5.0, -5.0, 0.3])
    cell.clip_recurrent_()
    assert cell.u[:3].tolist() == pytest.approx([1.05, -1.05, 0.3])
    unbounded = IndRNNCell(I, H, u_max=None)
    with torch.no_grad():
        unbounded.u.fill_(3.0)
    assert (unbounded.clip_recurrent_().u == 3.0).all()


def test_clip_after_optimizer_step_keeps_the_bound(rng):
    model = AddingModel("indrnn", 8, num_layers=2, seq_len=20)
    u_max = indrnn_u_max(20)
    opt = torch.optim.SGD(model.parameters(), lr=10.0)
    x = _adding_inputs(4, 20, rng).float()
    model(x).sum().mul(-100).backward()
    opt.step()
    model.clip_recurrent_()
    for layer in model.layers:
        assert layer.cell.u.abs().max().item() <= u_max + 1e-7


@pytest.mark.parametrize("cell_type", ["tanh", "relu", "irnn", "indrnn"])
def test_adding_model_shapes_and_gradients(cell_type, rng):
    model = AddingModel(cell_type, 16, num_layers=2, seq_len=30).double()
    x = _adding_inputs(5, 30, rng)
    y = model(x)
    assert y.shape == (5,) and y.dtype == DT
    F.mse_loss(y, x.prod(-1).sum(1)).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    if cell_type == "irnn":
        torch.testing.assert_close(model.layers[0].cell.weight_hh.detach(), torch.eye(16, dtype=DT))
    if cell_type == "indrnn":
        assert (model.layers[-1].cell.u == 1).all() and model.layers[0].cell.u.max() < 1


@pytest.mark.parametrize("kind", ["tanh", "relu", "irnn", "indrnn", "indrnn_uniform"])
def test_make_layer_builds_each_kind_at_its_initialisation(kind):
    layer = make_layer(kind, 2, 6, seq_len=50)
    assert isinstance(layer, IndRNN if kind.startswith("indrnn") else RNN)
    cell = layer.cell
    assert cell.nonlinearity == ("tanh" if kind == "tanh" else "relu")
    if kind == "irnn":
        assert torch.equal(cell.weight_hh.detach(), torch.eye(6)) and (cell.bias == 0).all()
        assert cell.weight_ih.abs().max() < 0.01
    if kind == "indrnn":
        assert (cell.u == 1).all() and cell.u_max == pytest.approx(indrnn_u_max(50))
    if kind == "indrnn_uniform":
        assert 0 <= cell.u.min() and cell.u.max() < 1
    with pytest.raises(ValueError, match="kind"):
        make_layer("gru", 2, 6)


def test_adding_model_fast_bptt_gives_the_same_loss_and_gradients(rng):
    torch.manual_seed(0)
    slow = AddingModel("indrnn", 8, num_layers=2, seq_len=15).double()
    fast = AddingModel("indrnn", 8, num_layers=2, seq_len=15, fast_bptt=True).double()
    fast.load_state_dict(slow.state_dict())
    x = _adding_inputs(4, 15, rng)
    for model in (slow, fast):
        F.mse_loss(model(x), x.prod(-1).sum(1)).backward()
    torch.testing.assert_close(slow(x), fast(x), rtol=RTOL, atol=ATOL)
    for a, b in zip(slow.parameters(), fast.parameters()):
        torch.testing.assert_close(a.grad, b.grad, rtol=RTOL, atol=ATOL)
    with pytest.raises(TypeError, match="fast_bptt"):
        AddingModel("tanh", 8, fast_bptt="yes")


def test_adding_model_learns_short_sequences():
    """Usable for training: a 2-layer IndRNN beats the 1/6 baseline on T = 10 in 200 steps (~1 s)."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    T = 10
    model = AddingModel("indrnn", 32, num_layers=2, seq_len=T)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(200):
        x = _adding_inputs(32, T, gen).float()
        loss = F.mse_loss(model(x), x.prod(-1).sum(1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        model.clip_recurrent_()
    x = _adding_inputs(500, T, gen).float()
    with torch.no_grad():
        mse = F.mse_loss(model(x), x.prod(-1).sum(1)).item()
    assert mse < 0.05 < 1 / 6


# --- bad input ---------------------------------------------------------------------

def test_bad_construction_raises_clear_errors():
    with pytest.raises(ValueError, match="tanh"):
        RNNCell(I, H, "sigmoid")
    with pytest.raises(ValueError, match="hidden_size"):
        RNNCell(I, 0)
    with pytest.raises(TypeError, match="input_size must be an int >= 1"):
        IndRNNCell(2.5, H)
    with pytest.raises(TypeError, match="fast_bptt"):
        AddingModel("tanh", 8, fast_bptt=1)
    with pytest.raises(ValueError, match=">= 1"):
        IndRNNCell(I, H, u_max=0.9)
    with pytest.raises(ValueError, match="u_init"):
        IndRNNCell(I, H, u_init="normal")
    with pytest.raises(ValueError, match="u_max"):
        IndRNNCell(I, H, u_max=1.1, u_init=2.0)
    with pytest.raises(ValueError, match="max_growth"):
        indrnn_u_max(100, 0.5)
    with pytest.raises(ValueError, match="seq_len"):
        indrnn_u_max(0)
    with pytest.raises(ValueError, match="indrnn"):
        AddingModel("lstm", 8)


def test_bad_tensors_raise_clear_errors(rng):
    cell = RNNCell(I, H).double()
    seq = RNN(I, H).double()
    with pytest.raises(ValueError, match=r"\(N, input_size\)"):
        cell(torch.randn(N, 1, I, dtype=DT))
    with pytest.raises(ValueError, match=r"= \(\*, 3\); got shape \(4, 4\)"):
        cell(torch.randn(N, I + 1, dtype=DT))
    with pytest.raises(ValueError, match=r"\(N, hidden_size\)"):
        cell(torch.randn(N, I, dtype=DT), torch.randn(N + 1, H, dtype=DT))
    with pytest.raises(TypeError, match="dtype torch.float64"):
        cell(torch.randn(N, I))
    with pytest.raises(ValueError, match="non-empty"):
        seq(torch.randn(N, 0, I, dtype=DT))
    with pytest.raises(TypeError, match="Tensor"):
        cell([[0.0] * I])
    with pytest.raises(ValueError, match=r"\(N, T, input_size\)"):
        seq(torch.randn(N, I, dtype=DT))
    with pytest.raises(ValueError, match=r"\(N, T, input_size\)"):
        hidden_gradient_norms(cell, torch.randn(5, I, dtype=DT))
    with pytest.raises(ValueError, match="wrt"):
        hidden_gradient_norms(cell, torch.randn(N, 5, I, dtype=DT), wrt="weights")
    with pytest.raises(ValueError, match="not both"):
        hidden_gradient_norms(cell, torch.randn(N, 5, I, dtype=DT), grad_output=torch.ones(N, H, dtype=DT),
                              jacobian=True)
    with pytest.raises(ValueError, match="grad_output"):
        hidden_gradient_norms(cell, torch.randn(N, 5, I, dtype=DT), grad_output=torch.ones(N + 1, H, dtype=DT))
    with pytest.raises(TypeError, match="RNNCell"):
        hidden_gradient_norms(torch.nn.RNNCell(I, H), torch.randn(N, 5, I))
    with pytest.raises(ValueError, match=r"\(N, T, 2\)"):
        AddingModel("tanh", 8)(torch.randn(N, 5, 3))
