"""The CUDA path: helpers and experiments on ``cuda`` agree with the CPU (skipped without a GPU)."""
import pytest
import torch

from helpers import get_device
from helpers.conv import conv2d_im2col, conv2d_im2col_backward
from helpers.models import make_mlp
from helpers.norm import batchnorm_backward, batchnorm_forward
from helpers.train import fit

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")]
CUDA = torch.device("cuda")


def test_get_device_prefers_cuda():
    assert get_device().type == "cuda"


def test_batchnorm_on_cuda_matches_cpu(rng):
    x = torch.randn(16, 8, 5, 5, generator=rng, dtype=torch.float64)
    gamma, beta = 1 + 0.1 * torch.randn(8, generator=rng, dtype=torch.float64), torch.randn(8, generator=rng, dtype=torch.float64)
    dout = torch.randn(x.shape, generator=rng, dtype=torch.float64)
    results = {}
    for dev in ("cpu", "cuda"):
        rm, rv = torch.zeros(8, dtype=torch.float64, device=dev), torch.ones(8, dtype=torch.float64, device=dev)
        out, cache = batchnorm_forward(x.to(dev), gamma.to(dev), beta.to(dev), rm, rv, training=True, momentum=0.1)
        grads = batchnorm_backward(dout.to(dev), cache)
        results[dev] = [t.cpu() for t in (out, rm, rv, *grads)]
    for a, b in zip(results["cpu"], results["cuda"]):
        torch.testing.assert_close(a, b)


def test_im2col_conv_on_cuda_matches_cpu(rng):
    x = torch.randn(4, 3, 9, 7, generator=rng, dtype=torch.float64)
    w = torch.randn(5, 3, 3, 2, generator=rng, dtype=torch.float64)
    b = torch.randn(5, generator=rng, dtype=torch.float64)
    results = {}
    for dev in ("cpu", "cuda"):
        out, cache = conv2d_im2col(x.to(dev), w.to(dev), b.to(dev), 2, 1)
        dout = torch.ones_like(out)
        results[dev] = [t.cpu() for t in (out, *conv2d_im2col_backward(dout, cache))]
    for a, c in zip(results["cpu"], results["cuda"]):
        torch.testing.assert_close(a, c)


def test_training_on_cuda_is_finite_and_close_to_cpu():
    """Same seed, same data: CUDA's float32 kernels differ in rounding only, so the runs end close."""
    from helpers.data import load_digits

    data = load_digits(seed=0)
    finals = {}
    for dev in ("cpu", "cuda"):
        torch.manual_seed(0)
        model = make_mlp(64, 64, 3, 10, activation="relu", norm="batch")
        h = fit(model, (data.X_train, data.y_train), test=(data.X_test, data.y_test), steps=200, batch_size=60,
                lr=0.1, eval_every=200, seed=0, device=dev, progress=False)
        assert not h.diverged
        assert next(model.parameters()).device.type == dev
        finals[dev] = h.test_acc[-1]
    assert abs(finals["cpu"] - finals["cuda"]) < 0.03, finals


def test_experiments_run_on_cuda():
    from helpers.experiments import ch4_vanishing_gradients as vg

    cpu = vg.run("layer_gradients", seed=0, device="cpu")  # the book's settings (chapter 4's table)
    gpu = vg.run("layer_gradients", seed=0, device="cuda")
    for name in cpu["names"]:
        a, b = cpu[name]["ratio"], gpu[name]["ratio"]
        assert b == pytest.approx(a, rel=1e-2), name
