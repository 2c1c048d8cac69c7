"""Vanilla RNN, IRNN and IndRNN cells and layers, a hand-written backward through time, gradient norms over time.

Taught in chapter 4 (``chapters/04_vanishing_gradients.ipynb``: why the
shared recurrent matrix makes gradients vanish or explode over T steps) and
lab 5 (``labs/source/lab5_rnn_gradients.ipynb``: a vanilla cell, IRNN
initialisation, an IndRNN cell, gradient norms over 1000 steps, the adding
problem).

Layout: sequences are **batch-first**, ``x: (N, T, input_size)`` (N sequences
of T steps), as the adding-problem data; a single step is ``x_t: (N,
input_size)``; hidden states are ``h: (N, hidden_size)``. Time steps are
numbered t = 1..T; h_0 is the initial state (zeros unless given).

The cells (nonlinearity ``act`` is ``"tanh"`` or ``"relu"``):

* ``RNNCell``:    h_t = act(W_ih x_t + W_hh h_{t-1} + b)   — one shared (H, H) matrix W_hh;
* ``IndRNNCell``: h_t = act(W_ih x_t + u ⊙ h_{t-1} + b)    — one recurrent weight per unit
  (Li et al. 2018), with the bound |u| <= u_max (``clip_recurrent_``);
* IRNN (Le et al. 2015) is an ``RNNCell`` with ReLU after ``irnn_init_``
  (W_hh = identity, b = 0).

One bias ``b`` per cell (``torch.nn.RNNCell`` has two, ``b_ih + b_hh``;
only their sum matters).

``RNN`` and ``IndRNN`` run a cell over a sequence. Their ``forward`` is the loop a
learner expects: call the cell once per step and let autograd backpropagate
through time. ``forward_fast`` computes the same outputs with a backward through
time written by hand (the chain rule in a loop over time with plain tensor ops,
no autograd graph over the steps; tests check its gradients against
``forward``'s). It exists for speed only: chapter 4's adding problem trains
with it (``AddingModel(..., fast_bptt=True)``), which halves that run's CPU
time (measured 18 s against 36 s for its 2 x 1000 Adam steps, T = 50, hidden
64, on a busy 2-core CPU). Its gradients agree with autograd's to rounding;
training amplifies those rounding differences a little, so the adding
problem trained through ``forward`` ends with test errors that agree with
the chapter's to about four significant digits, not bit for bit.

``make_layer(kind, ...)`` builds every recurrent layer the course compares
(tanh, ReLU, IRNN, IndRNN), in one place.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from helpers.checks import check_bool, check_choice, check_int, check_number, check_tensor

__all__ = [
    "NONLINEARITIES", "RNNCell", "IndRNNCell", "RNN", "IndRNN", "irnn_init_", "indrnn_u_max",
    "LAYER_KINDS", "make_layer", "hidden_gradient_norms", "AddingModel", "ADDING_CELL_TYPES",
]

NONLINEARITIES = ("tanh", "relu")
LAYER_KINDS = ("tanh", "relu", "irnn", "indrnn", "indrnn_uniform")
ADDING_CELL_TYPES = ("tanh", "relu", "irnn", "indrnn")


# --- small pure functions shared by the forward and the backward -----------

def _act(nonlinearity: str, a: Tensor) -> Tensor:
    return torch.tanh(a) if nonlinearity == "tanh" else torch.relu(a)


def _act_derivative_from_output(nonlinearity: str, h: Tensor) -> Tensor:
    """act'(a) written with h = act(a): tanh' = 1 - h^2; relu' = 1 where h > 0, else 0 (autograd's relu'(0) = 0)."""
    if nonlinearity == "tanh":
        return 1.0 - h * h
    return (h > 0).to(h.dtype)


def _recurrent(kind: str, weight: Tensor, h: Tensor) -> Tensor:
    """The recurrent term: W_hh h ("full", weight (H, H)) or u ⊙ h ("diagonal", weight (H,)); h: (..., H)."""
    return h @ weight.T if kind == "full" else h * weight


def _recurrent_vjp(kind: str, weight: Tensor, g: Tensor) -> Tensor:
    """Transposed Jacobian of the recurrent term times g: g W_hh (row vectors) or g ⊙ u; g: (..., H)."""
    return g @ weight if kind == "full" else g * weight


def _norm(g: Tensor) -> Tensor:
    """The 2-norm of all entries of g, scaled first so that squaring tiny entries cannot underflow
    (a plain norm returns 0 once the entries fall below ~1e-154 in float64, though they are not 0)."""
    biggest = g.abs().max()
    return torch.where(biggest > 0, biggest * torch.linalg.vector_norm(g / torch.where(biggest > 0, biggest, 1.0)),
                       biggest)


def _forward_states(x, h0, weight_ih, bias, weight_rec, kind, nonlinearity) -> Tensor:
    """All hidden states, without autograd: hs (T + 1, N, H) with hs[0] = h0 and hs[t] = h_t.

    x: (N, T, I), h0: (N, H). Time-major storage so that each step reads and
    writes contiguous (N, H) blocks; ``out=`` avoids a copy per step.
    """
    N, T, I = x.shape
    z = torch.addmm(bias, x.transpose(0, 1).reshape(T * N, I), weight_ih.T).view(T, N, -1)  # input terms, one matmul
    hs = x.new_empty(T + 1, *h0.shape)
    hs[0] = h0
    for t in range(T):
        out = hs[t + 1]
        if kind == "full":
            torch.addmm(z[t], hs[t], weight_rec.T, out=out)     # W_ih x_t + b + W_hh h_{t-1}
        else:
            torch.addcmul(z[t], hs[t], weight_rec, out=out)      # W_ih x_t + b + u ⊙ h_{t-1}
        if nonlinearity == "tanh":
            out.tanh_()
        else:
            out.relu_()
    return hs


def _backward_deltas(hs, grad_hs, weight_rec, kind, nonlinearity):
    """Backward through time, without autograd.

    hs: (T + 1, N, H) from ``_forward_states``; grad_hs: (T, N, H) with
    grad_hs[t - 1] = the direct gradient ∂L/∂h_t (from outputs read at step t).
    Returns deltas (T, N, H), deltas[t - 1] = ∂L/∂a_t (a_t the pre-activation),
    and ∂L/∂h_0 (N, H). The recursion: ∂L/∂h_t = direct_t + (∂a_{t+1}/∂h_t)^T ∂L/∂a_{t+1}.
    """
    act_grad = _act_derivative_from_output(nonlinearity, hs[1:])     # act'(a_t) for every t at once
    deltas = torch.empty_like(act_grad)
    carry = None                                                     # ∂L/∂h_t through the recurrence
    for t in range(grad_hs.shape[0] - 1, -1, -1):
        d = deltas[t]
        if carry is None:
            torch.mul(grad_hs[t], act_grad[t], out=d)
        else:
            torch.add(grad_hs[t], carry, out=d)                      # ∂L/∂h_{t+1}
            d.mul_(act_grad[t])                                      # ∂L/∂a_{t+1}
        carry = _recurrent_vjp(kind, weight_rec, d)
    return deltas, carry


class _SequenceBPTT(torch.autograd.Function):
    """Run a cell over a sequence with the backward through time written by hand (``forward_fast``;
    checked with gradcheck and against autograd in tests/test_rnn.py)."""

    @staticmethod
    def forward(ctx, x, h0, weight_ih, bias, weight_rec, kind, nonlinearity):
        hs = _forward_states(x, h0, weight_ih, bias, weight_rec, kind, nonlinearity)
        ctx.save_for_backward(x, weight_ih, weight_rec, hs)
        ctx.kind, ctx.nonlinearity = kind, nonlinearity
        return hs[1:].transpose(0, 1).contiguous()              # (N, T, H)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        x, weight_ih, weight_rec, hs = ctx.saved_tensors
        N, T, I = x.shape
        grad_hs = grad_out.transpose(0, 1).contiguous()          # time-major, like hs
        deltas, grad_h0 = _backward_deltas(hs, grad_hs, weight_rec, ctx.kind, ctx.nonlinearity)
        d_flat = deltas.view(T * N, -1)                          # rows (t, n)
        need = ctx.needs_input_grad
        grad_x = (d_flat @ weight_ih).view(T, N, I).transpose(0, 1) if need[0] else None
        grad_w_ih = d_flat.T @ x.transpose(0, 1).reshape(T * N, I) if need[2] else None
        grad_b = d_flat.sum(0) if need[3] else None
        grad_rec = None
        if need[4]:
            h_prev = hs[:-1].reshape(T * N, -1)                  # h_{t-1} for t = 1..T
            grad_rec = d_flat.T @ h_prev if ctx.kind == "full" else (d_flat * h_prev).sum(0)
        return grad_x, (grad_h0 if need[1] else None), grad_w_ih, grad_b, grad_rec, None, None


# --- input checks -----------------------------------------------------------

def _check_input(name: str, t, layout: str, ndim: int, last: int, dtype: torch.dtype) -> None:
    """t: a non-empty tensor of ``layout`` (``ndim`` dimensions, the last of size ``last``), the cell's dtype."""
    check_tensor(name, t, shape=(None,) * (ndim - 1) + (last,), layout=layout, dtype=dtype)
    if t.numel() == 0:
        raise ValueError(f"{name} must be a non-empty tensor of shape {layout}; got shape {tuple(t.shape)}")


def _initial_state(cell, h0, batch: int, like: Tensor) -> Tensor:
    if h0 is None:
        return like.new_zeros(batch, cell.hidden_size)
    _check_input("h0", h0, "(N, hidden_size)", 2, cell.hidden_size, cell.weight_ih.dtype)
    if h0.shape[0] != batch:
        raise ValueError(f"h0 must have shape (N, hidden_size) with N = {batch} (x's batch size); "
                         f"got shape {tuple(h0.shape)}")
    return h0


# --- cells ------------------------------------------------------------------

class _RecurrentCell(nn.Module):
    """Common part of the cells: h_t = act(W_ih x_t + recurrent(h_{t-1}) + b)."""

    kind: str = ""                 # "full" (W_hh) or "diagonal" (u)

    def __init__(self, input_size: int, hidden_size: int, nonlinearity: str):
        super().__init__()
        self.input_size = check_int("input_size", input_size, min=1)
        self.hidden_size = check_int("hidden_size", hidden_size, min=1)
        self.nonlinearity = check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size))
        self.bias = nn.Parameter(torch.empty(hidden_size))

    @property
    def weight_rec(self) -> Tensor:
        raise NotImplementedError

    def forward(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        """One step. x: (N, input_size), h: (N, hidden_size) or None (zeros) -> h_new: (N, hidden_size)."""
        _check_input("x", x, "(N, input_size)", 2, self.input_size, self.weight_ih.dtype)
        h = _initial_state(self, h, x.shape[0], x)
        a = x @ self.weight_ih.T + self.bias + _recurrent(self.kind, self.weight_rec, h)
        return _act(self.nonlinearity, a)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, nonlinearity={self.nonlinearity!r}"


class RNNCell(_RecurrentCell):
    """Vanilla (Elman) cell h_t = act(W_ih x_t + W_hh h_{t-1} + b), act = tanh or ReLU.

    Parameters: ``weight_ih`` (H, I), ``weight_hh`` (H, H), ``bias`` (H,).
    Initialised like ``torch.nn.RNNCell``: every entry U(-1/√H, 1/√H) (torch
    draws two biases that way and adds them; we draw one). Chapter 4, lab 5.
    """

    kind = "full"

    def __init__(self, input_size: int, hidden_size: int, nonlinearity: str = "tanh"):
        super().__init__(input_size, hidden_size, nonlinearity)
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, hidden_size))
        self.reset_parameters()

    @property
    def weight_rec(self) -> Tensor:
        return self.weight_hh

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in (self.weight_ih, self.weight_hh, self.bias):
            nn.init.uniform_(p, -bound, bound)


def indrnn_u_max(seq_len: int, max_growth: float = 2.0) -> float:
    """The IndRNN bound u_max = max_growth^(1/seq_len) (Li et al. 2018).

    With |u| <= u_max, the recurrent factor u^T of the gradient through T steps
    stays at most ``max_growth`` in size (ReLU derivatives are 0 or 1).
    seq_len >= 1, max_growth >= 1; e.g. indrnn_u_max(1000) = 2^(1/1000) ≈ 1.000693.
    """
    seq_len = check_int("seq_len", seq_len, min=1)
    return check_number("max_growth", max_growth, min=1) ** (1.0 / seq_len)


class IndRNNCell(_RecurrentCell):
    """IndRNN cell (Li et al. 2018): h_t = act(W_ih x_t + u ⊙ h_{t-1} + b), act = ReLU (default) or tanh.

    Each hidden unit has its own recurrent weight u_i (no mixing between
    units), so the gradient through T steps of unit i is u_i^T times ReLU's
    0/1 derivatives: |u_i| <= u_max = γ^(1/T) keeps it at most γ (see
    ``indrnn_u_max``). Call ``clip_recurrent_()`` after every optimizer step
    to enforce the bound; ``u_max=None`` means no bound.

    Parameters: ``weight_ih`` (H, I), ``bias`` (H,), ``u`` (H,). ``weight_ih``
    and ``bias`` are initialised U(-1/√I, 1/√I) (as ``nn.Linear``); ``u`` by
    ``u_init``: ``"uniform"`` U(0, 1) (every unit forgets at its own rate),
    ``"ones"`` (u = 1, long memory, used in the adding problem's last layer),
    or a number c (u = c, |c| <= u_max). Chapter 4, lab 5.
    """

    kind = "diagonal"

    def __init__(self, input_size: int, hidden_size: int, nonlinearity: str = "relu", *,
                 u_max: float | None = None, u_init: str | float = "uniform"):
        super().__init__(input_size, hidden_size, nonlinearity)
        self.u_max = None if u_max is None else check_number("u_max", u_max, min=1)   # e.g. indrnn_u_max(T)
        if isinstance(u_init, str):
            check_choice("u_init", u_init, ("uniform", "ones"), alternative="a number")
        elif abs(check_number("u_init", u_init)) > (self.u_max or math.inf):
            raise ValueError(f"u_init must lie in [-u_max, u_max] = [-{self.u_max}, {self.u_max}]; got {u_init}")
        self.u_init = u_init
        self.u = nn.Parameter(torch.empty(hidden_size))
        self.reset_parameters()

    @property
    def weight_rec(self) -> Tensor:
        return self.u

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.input_size)
        nn.init.uniform_(self.weight_ih, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)
        with torch.no_grad():
            if self.u_init == "uniform":
                self.u.uniform_(0.0, 1.0)
            elif self.u_init == "ones":
                self.u.fill_(1.0)
            else:
                self.u.fill_(float(self.u_init))
        self.clip_recurrent_()

    def clip_recurrent_(self) -> "IndRNNCell":
        """Clamp u into [-u_max, u_max] in place (no-op when u_max is None); returns the cell."""
        if self.u_max is not None:
            with torch.no_grad():
                self.u.clamp_(-self.u_max, self.u_max)
        return self

    def extra_repr(self) -> str:
        return super().extra_repr() + f", u_max={self.u_max}"


def irnn_init_(cell, scale: float = 1.0, input_std: float | None = None):
    """IRNN initialisation (Le, Jaitly & Hinton 2015), in place: W_hh = scale · I, b = 0.

    cell: an ``RNNCell`` or an ``RNN`` (its cell); IRNN means the ReLU
    nonlinearity. ``scale`` < 1 gives the scaled identity also tried by Le et
    al. ``input_std``: if given, W_ih ~ N(0, input_std²); otherwise W_ih is left
    as it is. Returns the cell (or the RNN) passed in. Chapter 4, lab 5.
    """
    target = cell.cell if isinstance(cell, RNN) else cell
    if not isinstance(target, RNNCell):
        raise TypeError(f"irnn_init_ expects an RNNCell or RNN (a full recurrent matrix); got {type(cell).__name__}")
    scale = check_number("scale", scale, min=0, min_open=True)
    if input_std is not None:
        check_number("input_std", input_std, min=0)
    with torch.no_grad():
        target.weight_hh.copy_(scale * torch.eye(target.hidden_size, dtype=target.weight_hh.dtype))
        target.bias.zero_()
        if input_std is not None:
            target.weight_ih.normal_(0.0, input_std)
    return cell


# --- sequence wrappers ------------------------------------------------------

class _Sequence(nn.Module):
    cell: _RecurrentCell

    def forward(self, x: Tensor, h0: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """x: (N, T, input_size), h0: (N, hidden_size) or None -> (outputs (N, T, hidden_size), h_T (N, hidden_size)).

        The cell, once per time step; autograd backpropagates through the loop."""
        c = self.cell
        _check_input("x", x, "(N, T, input_size)", 3, c.input_size, c.weight_ih.dtype)
        h = _initial_state(c, h0, x.shape[0], x)
        outs = []
        for t in range(x.shape[1]):
            h = c(x[:, t], h)
            outs.append(h)
        return torch.stack(outs, 1), h

    def forward_fast(self, x: Tensor, h0: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Same inputs and outputs as ``forward``, with the backward through time written by hand
        (``_SequenceBPTT``): no autograd graph over the steps, about twice as fast on a CPU."""
        c = self.cell
        _check_input("x", x, "(N, T, input_size)", 3, c.input_size, c.weight_ih.dtype)
        h = _initial_state(c, h0, x.shape[0], x)
        out = _SequenceBPTT.apply(x, h, c.weight_ih, c.bias, c.weight_rec, c.kind, c.nonlinearity)
        return out, out[:, -1]


class RNN(_Sequence):
    """An ``RNNCell`` run over a batch-first sequence x: (N, T, input_size). Chapter 4, lab 5."""

    def __init__(self, input_size: int, hidden_size: int, nonlinearity: str = "tanh"):
        super().__init__()
        self.cell = RNNCell(input_size, hidden_size, nonlinearity)


class IndRNN(_Sequence):
    """An ``IndRNNCell`` run over a batch-first sequence x: (N, T, input_size). Chapter 4, lab 5."""

    def __init__(self, input_size: int, hidden_size: int, nonlinearity: str = "relu", *,
                 u_max: float | None = None, u_init: str | float = "uniform"):
        super().__init__()
        self.cell = IndRNNCell(input_size, hidden_size, nonlinearity, u_max=u_max, u_init=u_init)

    def clip_recurrent_(self) -> "IndRNN":
        """Clamp the cell's u into [-u_max, u_max]; call after each optimizer step."""
        self.cell.clip_recurrent_()
        return self


def make_layer(kind: str, input_size: int, hidden_size: int, *, seq_len: int | None = None,
               max_growth: float = 2.0) -> RNN | IndRNN:
    """One recurrent layer of the kinds the course compares, at its usual initialisation.

    ``"tanh"`` / ``"relu"``: ``RNN`` at PyTorch's default init; ``"irnn"``: a ReLU ``RNN`` after
    ``irnn_init_`` (W_hh = I, b = 0, input weights N(0, 0.001²), Le et al. 2015); ``"indrnn"``:
    ``IndRNN`` (ReLU) with u = 1 (long memory); ``"indrnn_uniform"``: ``IndRNN`` with u ~ U(0, 1)
    (every unit forgets at its own rate). An IndRNN gets the bound |u| <= max_growth^(1/seq_len)
    when ``seq_len`` is given (``indrnn_u_max``, Li et al. 2018). Chapter 4, lab 5.
    """
    check_choice("kind", kind, LAYER_KINDS)
    if kind.startswith("indrnn"):
        u_max = None if seq_len is None else indrnn_u_max(seq_len, max_growth)
        return IndRNN(input_size, hidden_size, "relu", u_max=u_max, u_init="ones" if kind == "indrnn" else "uniform")
    layer = RNN(input_size, hidden_size, "tanh" if kind == "tanh" else "relu")
    return irnn_init_(layer, input_std=0.001) if kind == "irnn" else layer


# --- gradient norms over time ------------------------------------------------

def hidden_gradient_norms(cell, x: Tensor, h0: Tensor | None = None, *, wrt: str = "hidden",
                          grad_output: Tensor | None = None, jacobian: bool = False) -> Tensor:
    """How much gradient reaches each time step from the last one: a tensor of shape (T,).

    cell: an ``RNNCell`` or ``IndRNNCell`` (or an ``RNN`` / ``IndRNN``);
    x: (N, T, input_size); h0: (N, hidden_size) or None (zeros).

    The loss reads only the last state: L = Σ_n ⟨g_n, h_T,n⟩ with g =
    ``grad_output`` (N, hidden_size), by default all ones (L = h_T.sum()).
    Entry t - 1 (for step t = 1..T) is

    * ``wrt="hidden"`` (the primary quantity): ‖∂L/∂h_t‖ = ‖(∂h_T/∂h_t)^T g‖,
      so the last entry is ‖g‖ and entry t - 1 divided by it is the factor
      the gradient shrank or grew by over T - t steps;
    * ``wrt="input"``: ‖∂L/∂x_t‖ (the quantity chapter 4 plots as
      ‖∂L/∂x_1‖ / ‖∂L/∂x_T‖).

    ``jacobian=True`` replaces g by every direction at once: ‖∂h_T/∂h_t‖_F
    (or ‖∂h_T/∂x_t‖_F), the full Jacobian's Frobenius norm; it costs
    hidden_size times more. Norms are taken over the whole batch (the square
    root of the sum over the N sequences of the squared norms), rescaled so
    that they stay non-zero as long as the gradient itself is (down to ~1e-308
    in float64, not ~1e-154 as a plain norm).

    Computed without autograd: one forward pass storing the states, then the
    chain rule backwards in a loop over time (vector-Jacobian products with
    plain tensor ops); tests check it against autograd.
    """
    if isinstance(cell, _Sequence):
        cell = cell.cell
    if not isinstance(cell, _RecurrentCell):
        raise TypeError(f"cell must be an RNNCell, IndRNNCell, RNN or IndRNN; got {type(cell).__name__}")
    check_choice("wrt", wrt, ("hidden", "input"))
    _check_input("x", x, "(N, T, input_size)", 3, cell.input_size, cell.weight_ih.dtype)
    N, T, _ = x.shape
    H = cell.hidden_size
    with torch.no_grad():
        h0 = _initial_state(cell, h0, N, x)
        w_ih, w_rec = cell.weight_ih.detach(), cell.weight_rec.detach()
        hs = _forward_states(x.detach(), h0.detach(), w_ih, cell.bias.detach(), w_rec, cell.kind, cell.nonlinearity)
        if jacobian:
            if grad_output is not None:
                raise ValueError("give either grad_output or jacobian=True, not both")
            g = torch.eye(H, dtype=x.dtype, device=x.device).expand(N, H, H).clone()   # ∂h_T/∂h_T per sequence
        elif grad_output is None:
            g = torch.ones_like(hs[-1])
        else:
            _check_input("grad_output", grad_output, "(N, hidden_size)", 2, H, x.dtype)
            if grad_output.shape[0] != N:
                raise ValueError(f"grad_output must have shape (N, hidden_size) = ({N}, {H}); "
                                 f"got {tuple(grad_output.shape)}")
            g = grad_output.detach().clone()
        act_grad = _act_derivative_from_output(cell.nonlinearity, hs[1:])          # (T, N, H)
        if jacobian:
            act_grad = act_grad.unsqueeze(2)                                       # (T, N, 1, H)
        norms = x.new_empty(T)
        for t in range(T - 1, -1, -1):              # g = ∂L/∂h_{t+1} (or ∂h_T/∂h_{t+1}): (N, H) or (N, H, H)
            if wrt == "hidden":
                norms[t] = _norm(g)
            delta = g * act_grad[t]                                      # through act
            if wrt == "input":
                norms[t] = _norm(delta @ w_ih)
            g = _recurrent_vjp(cell.kind, w_rec, delta)                  # through the recurrence
    return norms


# --- the adding problem ------------------------------------------------------

class AddingModel(nn.Module):
    """A recurrent model for the adding problem: x (N, T, 2) -> prediction (N,) from the last hidden state.

    ``num_layers`` stacked layers of ``hidden_size`` units (``make_layer``), then a linear read-out
    of h_T. cell_type: ``"tanh"`` / ``"relu"`` / ``"irnn"`` (every layer of that kind) or
    ``"indrnn"`` (u ~ U(0, 1) in the lower layers and u = 1 in the last, following Li et al.
    2018; the bound u_max = max_growth^(1/seq_len) when ``seq_len`` is given). ``fast_bptt=True``
    runs the layers with ``forward_fast`` (the hand-written backward through time) instead of
    autograd's. Call ``clip_recurrent_()`` after each optimizer step (a no-op except for IndRNN).
    Predicting the constant 1 gives MSE 1/6 ≈ 0.167, the baseline to beat. Chapter 4, lab 5.
    """

    def __init__(self, cell_type: str, hidden_size: int = 128, *, num_layers: int = 1,
                 seq_len: int | None = None, max_growth: float = 2.0, fast_bptt: bool = False):
        super().__init__()
        self.cell_type = check_choice("cell_type", cell_type, ADDING_CELL_TYPES)
        check_int("hidden_size", hidden_size, min=1)
        check_int("num_layers", num_layers, min=1)
        self.fast_bptt = check_bool("fast_bptt", fast_bptt, "True: the hand-written backward through time")
        kinds = [cell_type] * num_layers
        if cell_type == "indrnn":
            kinds[:-1] = ["indrnn_uniform"] * (num_layers - 1)
        self.layers = nn.ModuleList(
            make_layer(kind, 2 if k == 0 else hidden_size, hidden_size, seq_len=seq_len, max_growth=max_growth)
            for k, kind in enumerate(kinds))
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x: Tensor) -> Tensor:
        """x: (N, T, 2) (values, markers) -> (N,)."""
        if not isinstance(x, Tensor) or x.dim() != 3 or x.shape[-1] != 2:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"AddingModel expects x of shape (N, T, 2); got {shape}")
        h = x
        for layer in self.layers:
            h, _ = layer.forward_fast(h) if self.fast_bptt else layer(h)
        return self.head(h[:, -1]).squeeze(-1)

    def clip_recurrent_(self) -> "AddingModel":
        """Enforce every IndRNN layer's bound |u| <= u_max (call after optimizer.step())."""
        for layer in self.layers:
            if isinstance(layer, IndRNN):
                layer.clip_recurrent_()
        return self
