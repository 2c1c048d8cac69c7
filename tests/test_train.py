"""helpers.train: learning on digits, determinism, divergence, targets, gradient norms, modes, bad arguments."""
import math

import pytest
import torch
from torch import nn

from helpers.data import load_digits
from helpers.models import make_mlp
from helpers.train import History, accuracy, fit, gradient_norms


@pytest.fixture(scope="module")
def digits():
    return load_digits(seed=0)


def small_model(seed=0, **kwargs):
    torch.manual_seed(seed)
    return make_mlp(64, 32, 1, 10, **kwargs)


def test_tiny_model_learns_digits(digits):
    h = fit(small_model(), (digits.X_train, digits.y_train), test=(digits.X_test, digits.y_test),
            steps=300, batch_size=32, lr=0.1, eval_every=100, device="cpu", progress=False)
    assert isinstance(h, History)
    assert h.train_acc[0] < 0.3            # untrained: near chance
    assert h.train_acc[-1] > 0.90
    assert h.test_acc[-1] > 0.85
    assert h.eval_steps == [0, 100, 200, 300]
    assert h.steps == list(range(1, 301)) and len(h.train_loss) == len(h.lr) == 300
    assert h.lr == [0.1] * 300
    assert len(h.test_loss) == len(h.eval_train_loss) == 4
    assert h.eval_train_loss[-1] < h.eval_train_loss[0]
    assert not h.diverged and h.diverged_at is None
    assert h.seconds > 0


def test_same_seed_identical_history_different_seed_differs(digits):
    kw = dict(steps=60, batch_size=16, lr=0.05, eval_every=20, device="cpu", progress=False,
              momentum=0.9, record_grad_norms=True)
    a = fit(small_model(norm="batch"), (digits.X_train, digits.y_train), seed=5, **kw)
    b = fit(small_model(norm="batch"), (digits.X_train, digits.y_train), seed=5, **kw)
    c = fit(small_model(norm="batch"), (digits.X_train, digits.y_train), seed=6, **kw)
    for name in ("train_loss", "lr", "train_acc", "eval_train_loss", "grad_norms", "grad_steps"):
        assert getattr(a, name) == getattr(b, name), name
    assert a.train_loss != c.train_loss


def test_fit_does_not_touch_callers_random_state(digits):
    model = small_model()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    fit(model, (digits.X_train, digits.y_train), steps=5, batch_size=8, lr=0.1, device="cpu",
        progress=False)
    assert torch.equal(torch.rand(3), expected)


def test_each_epoch_is_a_new_permutation(digits):
    """Full-batch-free check: with batch_size = N/2 two steps cover the set exactly once per epoch."""
    X, y = digits.X_train[:40], digits.y_train[:40]
    seen = []
    model = nn.Sequential(nn.Linear(64, 10))
    model.register_forward_pre_hook(lambda m, inp: seen.append(inp[0].clone()) if m.training else None)
    fit(model, (X, y), steps=4, batch_size=20, lr=0.01, device="cpu", progress=False, eval_every=100)
    first_epoch = torch.cat(seen[:2])
    second_epoch = torch.cat(seen[2:4])
    key = lambda A: sorted(map(tuple, A.tolist()))
    assert key(first_epoch) == key(X) == key(second_epoch)
    assert not torch.equal(first_epoch, second_epoch)


def test_divergence_is_reported_not_raised(digits):
    h = fit(small_model(), (digits.X_train, digits.y_train), steps=200, batch_size=32, lr=1e6,
            device="cpu", progress=False, eval_every=50)
    assert h.diverged is True
    assert h.diverged_at is not None and 1 <= h.diverged_at < 200
    assert h.steps[-1] == h.diverged_at and not math.isfinite(h.train_loss[-1])
    assert all(math.isfinite(v) for v in h.train_loss[:-1])


def test_steps_to_target_and_stop_at_target(digits):
    train = (digits.X_train, digits.y_train)
    kw = dict(steps=400, batch_size=32, lr=0.1, eval_every=10, device="cpu", progress=False,
              target_accuracy=0.8)
    full = fit(small_model(), train, **kw)
    assert full.steps_to_target is not None and 0 < full.steps_to_target < 400
    i = full.eval_steps.index(full.steps_to_target)
    assert full.train_acc[i] >= 0.8 and all(a < 0.8 for a in full.train_acc[:i])
    early = fit(small_model(), train, stop_at_target=True, **kw)
    assert early.steps_to_target == full.steps_to_target
    assert early.eval_steps[-1] == full.steps_to_target and len(early.steps) == full.steps_to_target
    never = fit(small_model(), train, **{**kw, "steps": 5, "target_accuracy": 1.0})
    assert never.steps_to_target is None


def test_grad_norms_recorded_per_layer(digits):
    model = small_model()
    h = fit(model, (digits.X_train, digits.y_train), steps=50, batch_size=32, lr=0.1, eval_every=20,
            device="cpu", progress=False, record_grad_norms=True)
    assert set(h.grad_norms) == {"linear1", "linear2"}
    assert h.grad_steps == [1, 20, 40, 50]
    assert all(len(v) == 4 and all(x > 0 for x in v) for v in h.grad_norms.values())
    off = fit(small_model(), (digits.X_train, digits.y_train), steps=5, batch_size=32, lr=0.1,
              device="cpu", progress=False)
    assert off.grad_norms == {} and off.grad_steps == []


def test_gradient_norms_matches_autograd_and_leaves_model_untouched(digits):
    model = small_model(norm="batch").double()
    X, y = digits.X_train[:64].double(), digits.y_train[:64]
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    norms = gradient_norms(model, X, y)
    assert not model.training
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k          # running statistics restored
    assert all(p.grad is None for p in model.parameters())
    # reference: plain autograd in training mode
    model.train()
    nn.functional.cross_entropy(model(X), y).backward()
    assert set(norms) == {"linear1", "linear2"}
    for name in norms:
        assert math.isclose(norms[name], getattr(model, name).weight.grad.norm().item(), rel_tol=1e-12)


def test_accuracy_restores_mode_and_is_correct():
    model = nn.Sequential(nn.Linear(2, 2, bias=False), nn.Dropout(0.5))
    with torch.no_grad():
        model[0].weight.copy_(torch.eye(2))
    X = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0], [0.0, 3.0]])
    y = torch.tensor([0, 1, 1, 1])
    model.train()
    assert accuracy(model, X, y) == 0.75  # deterministic: dropout off in eval mode
    assert model.training
    model.eval()
    accuracy(model, X, y)
    assert not model.training


def test_schedule_callable_is_used_per_step(digits):
    h = fit(small_model(), (digits.X_train, digits.y_train), steps=10, batch_size=32, lr=0.1,
            schedule=lambda t: 0.1 / (1 + t), device="cpu", progress=False)
    assert h.lr == [0.1 / (1 + t) for t in range(10)]


def test_optimizer_factory_and_adam(digits):
    train = (digits.X_train, digits.y_train)
    h = fit(small_model(), train, steps=100, batch_size=32, lr=1e-2, optimizer="adam", device="cpu",
            progress=False)
    assert h.train_acc[-1] > 0.85
    h2 = fit(small_model(), train, steps=3, batch_size=32, lr=1e-2, optimizer=torch.optim.RMSprop,
             device="cpu", progress=False)
    assert len(h2.train_loss) == 3


def test_mse_loss_regression():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(200, 3, generator=g)
    y = X @ torch.tensor([1.0, -2.0, 0.5])
    h = fit(nn.Linear(3, 1), (X, y), steps=200, batch_size=20, lr=0.05, loss="mse", device="cpu",
            progress=False)
    assert h.train_acc == [] and h.eval_train_loss[-1] < 1e-3 < h.eval_train_loss[0]


def test_progress_env_var(monkeypatch, digits, capsys):
    monkeypatch.setenv("DLFA_QUIET", "1")
    fit(small_model(), (digits.X_train, digits.y_train), steps=3, batch_size=8, lr=0.1, device="cpu")
    assert capsys.readouterr().err == ""
    fit(small_model(), (digits.X_train, digits.y_train), steps=3, batch_size=8, lr=0.1, device="cpu",
        progress=True)
    assert "train" in capsys.readouterr().err


@pytest.mark.parametrize("kwargs, error, message", [
    ({"steps": 0}, ValueError, "steps must be an int >= 1; got 0"),
    ({"steps": 2.5}, TypeError, "steps must be an int >= 1; got float 2.5"),
    ({"batch_size": 0}, ValueError, "batch_size must be an int >= 1; got 0"),
    ({"batch_size": 10_000}, ValueError, "batch_size must be <= the 1500 training rows; got 10000"),
    ({"lr": 0.0}, ValueError, "lr must be a finite number > 0; got 0.0"),
    ({"lr": float("nan")}, ValueError, "lr must be a finite number > 0; got nan"),
    ({"lr": "0.1"}, TypeError, "lr must be a finite number > 0; got str '0.1'"),
    ({"optimizer": "lbfgs"}, ValueError, "optimizer must be one of 'sgd', 'adam', 'adamw' or a factory"),
    ({"loss": "hinge"}, ValueError, "loss must be one of 'cross_entropy', 'mse' or a callable"),
    ({"target_accuracy": 1.5}, ValueError, r"target_accuracy must be a number in \(0, 1\]; got 1.5"),
    ({"eval_every": 0}, ValueError, "eval_every must be an int >= 1; got 0"),
    ({"momentum": -0.1}, ValueError, "momentum must be a finite number >= 0; got -0.1"),
    ({"progress": "yes"}, TypeError, "progress must be a bool"),
    ({"schedule": 3}, TypeError, "schedule must be None, a schedule name or a callable step -> lr; got int 3"),
    ({"seed": -1}, ValueError, "seed must be an int >= 0; got -1"),
    ({"on_step": "print"}, TypeError, r"on_step must be None or a callable on_step\(step, model, loss\)"),
])
def test_bad_arguments(kwargs, error, message, digits):
    args = dict(steps=5, batch_size=8, lr=0.1, device="cpu", progress=False)
    args.update(kwargs)
    with pytest.raises(error, match=f"^{message}"):
        fit(small_model(), (digits.X_train, digits.y_train), **args)


def test_bad_train_pairs(digits):
    with pytest.raises(TypeError, match=r"train must be a tuple \(X, y\) of tensors; got Tensor"):
        fit(small_model(), digits.X_train, steps=5, batch_size=8, lr=0.1, device="cpu")
    with pytest.raises(TypeError, match=r"train y must be a torch.Tensor; got list"):
        fit(small_model(), (digits.X_train, [0] * 1500), steps=5, batch_size=8, lr=0.1, device="cpu")
    with pytest.raises(ValueError, match="same number of rows, at least one; got 1500 and 10"):
        fit(small_model(), (digits.X_train, digits.y_train[:10]), steps=5, batch_size=8, lr=0.1,
            device="cpu")
    with pytest.raises(TypeError, match="model must be a torch.nn.Module; got function"):
        fit(lambda x: x, (digits.X_train, digits.y_train), steps=5, batch_size=8, lr=0.1, device="cpu")


# ---------------------------------------------------------------- the per-step hook
def _history_fields(h):
    return {k: v for k, v in vars(h).items() if k != "seconds"}


def test_on_step_is_called_after_each_update_and_changes_nothing_by_itself(digits):
    train, test = (digits.X_train, digits.y_train), (digits.X_test, digits.y_test)
    kw = dict(steps=25, batch_size=32, lr=0.1, momentum=0.9, schedule="cosine", eval_every=10, test=test,
              record_grad_norms=True, seed=3, device="cpu", progress=False)
    model = small_model(norm="batch")
    start = [p.detach().clone() for p in model.parameters()]
    calls = []

    def on_step(step, m, loss):
        moved = any(not torch.equal(a, b) for a, b in zip(start, m.parameters()))
        calls.append((step, m, loss, moved, m.training))

    h = fit(model, train, on_step=on_step, **kw)
    assert [c[0] for c in calls] == h.steps == list(range(1, 26))
    assert all(c[1] is model for c in calls)
    assert [c[2] for c in calls] == h.train_loss          # the float loss of that step's mini-batch
    assert all(type(c[2]) is float for c in calls)
    assert calls[0][3]                                    # step 1's update is already applied
    assert all(c[4] for c in calls)                       # in train mode
    # a hook that does nothing leaves every number as fit without a hook
    ref_model = small_model(norm="batch")
    ref = fit(ref_model, train, **kw)
    assert _history_fields(h) == _history_fields(ref)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), ref_model.state_dict().values()))


def test_on_step_runs_before_that_steps_evaluation(digits):
    """A hook that zeroes the network at step 10 makes the evaluation of step 10 see uniform logits."""
    def zero_at_ten(step, model, loss):
        if step == 10:
            with torch.no_grad():
                for p in model.parameters():
                    p.zero_()

    h = fit(small_model(), (digits.X_train, digits.y_train), steps=12, batch_size=32, lr=0.1,
            eval_every=10, on_step=zero_at_ten, device="cpu", progress=False)
    assert h.eval_steps == [0, 10, 12]
    assert h.eval_train_loss[1] == pytest.approx(math.log(10), rel=1e-6)   # all logits 0: log(10 classes)
    assert h.eval_train_loss[0] != pytest.approx(math.log(10), rel=1e-3)


def test_on_step_can_constrain_the_weights(digits):
    """Clipping every weight to [-c, c] after each update (as an IndRNN bound is kept) holds at the end."""
    c = 0.02

    def clip(step, model, loss):
        with torch.no_grad():
            for p in model.parameters():
                p.clamp_(-c, c)

    model = small_model()
    fit(model, (digits.X_train, digits.y_train), steps=30, batch_size=32, lr=0.5, on_step=clip, device="cpu",
        progress=False)
    assert max(p.abs().max().item() for p in model.parameters()) <= c
    free = small_model()
    fit(free, (digits.X_train, digits.y_train), steps=30, batch_size=32, lr=0.5, device="cpu", progress=False)
    assert max(p.abs().max().item() for p in free.parameters()) > c


def test_on_step_is_not_called_for_a_diverged_step(digits):
    calls = []
    h = fit(small_model(), (digits.X_train, digits.y_train), steps=30, batch_size=32, lr=1e8,
            on_step=lambda step, model, loss: calls.append(step), device="cpu", progress=False)
    assert h.diverged and calls == list(range(1, h.diverged_at))


def test_schedule_by_name_uses_make_schedule(digits):
    from helpers.schedules import make_schedule
    h = fit(small_model(), (digits.X_train, digits.y_train), steps=40, batch_size=32, lr=0.2,
            schedule="cosine", device="cpu", progress=False)
    ref = make_schedule("cosine", lr0=0.2, total_steps=40)
    assert h.lr == [ref(t) for t in range(40)]
    h2 = fit(small_model(), (digits.X_train, digits.y_train), steps=40, batch_size=32, lr=0.2,
             schedule="step", schedule_kwargs={"step_size": 10, "gamma": 0.5}, device="cpu", progress=False)
    assert h2.lr[9] == 0.2 and h2.lr[10] == 0.1 and h2.lr[39] == 0.2 / 8
    with pytest.raises(ValueError, match="known schedules"):
        fit(small_model(), (digits.X_train, digits.y_train), steps=5, batch_size=8, lr=0.1,
            schedule="warmdown", device="cpu", progress=False)


@pytest.mark.parametrize("norm, kwargs", [("batch", {}), ("layer", {}), ("group", {"num_groups": 4}),
                                          ("batch_renorm", {})])
def test_fit_trains_with_every_norm(norm, kwargs, digits):
    h = fit(small_model(norm=norm, norm_kwargs=kwargs), (digits.X_train, digits.y_train), steps=100, batch_size=32, lr=0.1,
            eval_every=100, device="cpu", progress=False)
    assert not h.diverged and h.train_acc[-1] > 0.85


# ---------------------------------------------------------------- a stream of examples in order, test-set evaluation
class _Recorder(nn.Module):
    """A linear layer that keeps every training-mode input batch it sees."""

    def __init__(self, d_in, d_out):
        super().__init__()
        self.linear = nn.Linear(d_in, d_out)
        self.batches = []

    def forward(self, x):
        if self.training:
            self.batches.append(x.detach().clone())
        return self.linear(x)


def test_shuffle_false_takes_the_rows_in_order_each_epoch():
    X = torch.arange(100 * 3, dtype=torch.float32).reshape(100, 3)
    y = torch.zeros(100, dtype=torch.int64)
    model = _Recorder(3, 2)
    fit(model, (X, y), steps=7, batch_size=30, lr=1e-6, shuffle=False, eval_every=100, device="cpu",
        progress=False)
    starts = [0, 30, 60, 0, 30, 60, 0]  # three whole batches per epoch; the last 10 rows are dropped
    assert len(model.batches) == 7
    for batch, start in zip(model.batches, starts):
        assert torch.equal(batch, X[start:start + 30])
    shuffled = _Recorder(3, 2)
    fit(shuffled, (X, y), steps=1, batch_size=30, lr=1e-6, eval_every=100, device="cpu", progress=False)
    assert not torch.equal(shuffled.batches[0], X[:30])  # the default draws a permutation


def test_eval_train_false_evaluates_the_test_set_only(digits):
    train, test = (digits.X_train, digits.y_train), (digits.X_test, digits.y_test)
    kw = dict(test=test, steps=30, batch_size=32, lr=0.1, eval_every=10, device="cpu", progress=False)
    h = fit(small_model(), train, eval_train=False, **kw)
    ref = fit(small_model(), train, **kw)
    assert h.train_acc == [] and h.eval_train_loss == []
    assert h.eval_steps == ref.eval_steps == [0, 10, 20, 30]
    assert h.test_acc == ref.test_acc and h.test_loss == ref.test_loss and h.train_loss == ref.train_loss
    with pytest.raises(ValueError, match="target_accuracy is measured on the training set"):
        fit(small_model(), train, eval_train=False, target_accuracy=0.5, **kw)
    with pytest.raises(TypeError, match="shuffle must be a bool; got 0"):
        fit(small_model(), train, shuffle=0, **kw)


def test_fit_equals_a_hand_written_loop_over_a_stream_with_a_constraint():
    """The adding problem's loop (chapter 4): fresh batches in order, Adam, MSE, the weights clipped after
    every update, the test MSE every few steps. fit(shuffle=False, eval_train=False, on_step=clip) gives
    the same numbers bit for bit."""
    from helpers.data import make_adding_problem

    T, batch_size, steps, eval_every = 8, 16, 12, 4
    X, y = make_adding_problem(batch_size * steps, T, seed=0)
    X_test, y_test = make_adding_problem(64, T, seed=1)
    X, X_test = X.reshape(len(X), -1), X_test.reshape(len(X_test), -1)

    def clip(step, model, loss):
        with torch.no_grad():
            for p in model.parameters():
                p.clamp_(-0.3, 0.3)

    def net():
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(2 * T, 16), nn.Tanh(), nn.Linear(16, 1), nn.Flatten(0))

    model = net()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    test_mse = []
    for step in range(0, steps + 1):
        if step:
            lo = (step - 1) * batch_size
            loss = nn.functional.mse_loss(model(X[lo:lo + batch_size]), y[lo:lo + batch_size])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            clip(step, model, loss.item())
        if step % eval_every == 0:
            with torch.no_grad():
                test_mse.append(nn.functional.mse_loss(model(X_test), y_test).item())

    fitted = net()
    h = fit(fitted, (X, y), test=(X_test, y_test), steps=steps, batch_size=batch_size, lr=1e-2, optimizer="adam",
            loss="mse", eval_every=eval_every, shuffle=False, eval_train=False, on_step=clip, device="cpu",
            progress=False)
    assert h.eval_steps == [0, 4, 8, 12]
    assert h.test_loss == test_mse
    assert all(torch.equal(a, b) for a, b in zip(fitted.parameters(), model.parameters()))
