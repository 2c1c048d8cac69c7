"""helpers.spectral: the spectral radius without an eigenvalue solver, on the book's degenerate matrices.

The slow test forces MKL onto its Intel code paths on any x86 CPU (an LD_PRELOAD shim that
answers MKL's "is this an Intel CPU?" with yes, plus ``MKL_CBWR``), reproducing the failure of
``torch.linalg.eigvals`` that broke chapter 4 on Intel machines, and runs chapter 4's demo there.
"""
import functools
import json
import math
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers.spectral import spectral_radius

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("n", [2, 5, 63, 64, 65, 128])
@pytest.mark.parametrize("c", [0.05, -0.3])
def test_constant_matrix_is_rank_one_with_radius_n_times_c(n, c):
    W = torch.full((n, n), c, dtype=torch.float64)
    assert spectral_radius(W) == pytest.approx(abs(c) * n, rel=1e-12)


def test_block_triangular_radius_is_the_largest_diagonal_entry():
    block = torch.tensor([[0.9, 3.0], [0.0, 0.9]], dtype=torch.float64)
    assert spectral_radius(torch.block_diag(*[block] * 32)) == 0.9
    lower = torch.tril(torch.randn(7, 7, dtype=torch.float64)) + torch.diag(torch.arange(7.0, dtype=torch.float64))
    assert spectral_radius(lower) == pytest.approx(lower.diagonal().abs().max().item())
    jordan = 0.5 * torch.eye(64, dtype=torch.float64) + torch.diag(torch.ones(63, dtype=torch.float64), 1)
    assert spectral_radius(jordan) == 0.5


@pytest.mark.parametrize("W, rho", [
    (torch.zeros(4, 4), 0.0),
    (torch.eye(6), 1.0),
    (-3 * torch.eye(3), 3.0),
    (torch.tensor([[0.0, -2.0], [2.0, 0.0]]), 2.0),            # eigenvalues ±2i
    (torch.tensor([[1.0, 1.0], [-1.0, -1.0]]), 0.0),           # nilpotent, not triangular
    (torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.8, 0.0, 0.0]], dtype=torch.float64), 0.8 ** (1 / 3)),  # cyclic
])
def test_closed_forms(W, rho):
    assert spectral_radius(W) == pytest.approx(rho, abs=1e-12)


@pytest.mark.parametrize("n", [3, 16, 64, 100])
def test_random_matrices_agree_with_numpy(n):
    gen = torch.Generator().manual_seed(n)
    for _ in range(5):
        W = torch.randn(n, n, generator=gen, dtype=torch.float64) / math.sqrt(n)
        expected = np.abs(np.linalg.eigvals(W.numpy())).max()
        assert spectral_radius(W) == pytest.approx(expected, rel=1e-12)
        assert spectral_radius(W.float()) == pytest.approx(np.abs(np.linalg.eigvals(W.float().double().numpy())).max(),
                                                           rel=1e-12)


def test_scale_invariance_and_large_entries():
    W = torch.randn(20, 20, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    r = spectral_radius(W)
    assert spectral_radius(1e150 * W) == pytest.approx(1e150 * r, rel=1e-12)
    assert spectral_radius(1e-150 * W) == pytest.approx(1e-150 * r, rel=1e-12)


@pytest.mark.parametrize("bad, error, message", [
    (torch.ones(3, 4), ValueError, r"W must be a non-empty square matrix \(n, n\); got shape \(3, 4\)"),
    (torch.ones(2, 2, 2), ValueError, r"W must be a 2-D tensor of shape \(n, n\); got a 3-D tensor"),
    (torch.ones(0, 0), ValueError, r"W must be a non-empty square matrix \(n, n\); got shape \(0, 0\)"),
    (torch.tensor([[1.0, float("nan")], [0.0, 1.0]]), ValueError, "W must have finite entries"),
    (torch.eye(2, dtype=torch.complex128), TypeError, "W must be a real matrix; got dtype torch.complex128"),
    ([[1.0, 0.0], [0.0, 1.0]], TypeError, r"W must be a torch.Tensor of shape \(n, n\); got list"),
])
def test_bad_input_is_refused_with_a_clear_error(bad, error, message):
    with pytest.raises(error, match=f"^{message}"):
        spectral_radius(bad)


def test_a_matrix_too_far_from_normal_is_refused_not_answered_wrongly():
    jordan = 0.5 * torch.eye(64, dtype=torch.float64) + torch.diag(torch.ones(63, dtype=torch.float64), 1)
    q, _ = torch.linalg.qr(torch.randn(64, 64, generator=torch.Generator().manual_seed(1), dtype=torch.float64))
    dense = q @ jordan @ q.T  # a 64x64 Jordan block in another basis: eigenvalues ill-conditioned (ε^(1/64))
    try:
        rho = spectral_radius(dense)
    except ValueError as e:
        assert "too far from normal" in str(e)
    else:  # if float64 resolves it, the answer must at least be a spectral radius of a nearby matrix
        assert 0.5 <= rho < 0.5 + 1.5


# ----------------------------------------------------------------------------- Intel code paths
SHIM = "int mkl_serv_intel_cpu_true(void) { return 1; }\n"
PROBE = textwrap.dedent("""
    import json, torch
    from helpers.experiments import ch4_vanishing_gradients as vg
    W = torch.full((64, 64), 0.05, dtype=torch.float64)
    try:
        torch.linalg.eigvals(W)
        eigvals_failed = False
    except RuntimeError:
        eigvals_failed = True
    sr = vg.run("spectral_radius_demo", seed=0, device="cpu")  # the book's settings
    cnn = vg._conv_matrix_stats(vg.plain_cnn(20, 16, init="he")[0][10], 8)
    print(json.dumps({"eigvals_failed": eigvals_failed,
                      "rho": {k: sr[k]["rho"] for k in sr["names"]},
                      "sv": {k: sr[k]["largest_singular_value"] for k in sr["names"]},
                      "default_rho": sr["default_rho"], "conv_sv": cnn["largest_singular_value"]}))
""")


@functools.lru_cache(maxsize=None)
def _plain_probe():
    """The probe on this CPU's own code paths: the same for both parametrisations, so run once."""
    return _probe({})


def _probe(env_extra):
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**__import__("os").environ, **env_extra})
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("cbwr", ["AVX512", "AVX2"])
def test_chapter_4_matrices_on_mkl_intel_code_paths(tmp_path, cbwr):
    gcc = shutil.which("gcc") or shutil.which("cc")
    assert gcc, "a C compiler is needed to force MKL's Intel code path (Debian: gcc)"
    (tmp_path / "shim.c").write_text(SHIM)
    subprocess.run([gcc, "-shared", "-fPIC", "-o", str(tmp_path / "shim.so"), str(tmp_path / "shim.c")], check=True)
    forced = _probe({"LD_PRELOAD": str(tmp_path / "shim.so"), "MKL_CBWR": cbwr})
    # the shim works: LAPACK's eigensolver fails on the rank-one matrix, as on Intel CPUs
    assert forced["eigvals_failed"], "MKL's Intel path no longer fails on the constant matrix: update this test"
    assert forced["rho"]["small_entries"] == pytest.approx(3.2, rel=1e-12)
    assert forced["rho"]["large_entries"] == 0.9
    assert forced["sv"]["small_entries"] == pytest.approx(3.2, rel=1e-12)  # SVD: fine on the degenerate matrices
    assert forced["sv"]["large_entries"] == pytest.approx(
        np.linalg.norm(np.array([[0.9, 3.0], [0.0, 0.9]]), 2), rel=1e-12)
    plain = _plain_probe()
    assert forced["rho"] == pytest.approx(plain["rho"], rel=1e-12)
    assert forced["sv"] == pytest.approx(plain["sv"], rel=1e-12)
    assert forced["conv_sv"] == pytest.approx(plain["conv_sv"], rel=1e-9)
