"""The spectral radius without an eigenvalue solver (chapter 4).

Why not ``torch.linalg.eigvals``: LAPACK's nonsymmetric eigensolver is an iterative QR
algorithm that may fail to converge on degenerate input. Chapter 4 multiplies a 64×64 matrix
whose entries are all 0.05 (rank one: 63 repeated zero eigenvalues), and on Intel CPUs MKL's
AVX2/AVX-512 code path raises "the algorithm failed to converge" on it (AMD CPUs take another
path and pass). A book that builds on one vendor only is not reproducible, so ρ is computed
here from matrix products alone, which cannot fail to converge: exactly from the diagonal for a
triangular matrix, otherwise by Gelfand's formula ρ(W) = lim_m ‖W^m‖^(1/m) with m = 2^60 reached
by 60 renormalised squarings. The error is about log(C)/m for a constant C that depends on W's
eigenvectors: below double precision for every matrix the book builds (rank-one, defective,
random with complex pairs); ``tests/test_spectral.py`` compares it with the closed forms and
with numpy's eigenvalues.

The largest singular value (``torch.linalg.matrix_norm(W, ord=2)``, an SVD) stays: the SVD's
bidiagonal algorithms handle repeated and zero singular values, and the tests run it on the
book's degenerate matrices with MKL forced onto its Intel AVX2 and AVX-512 code paths.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from helpers.checks import check_tensor

__all__ = ["spectral_radius"]

SQUARINGS = 60  # m = 2**60 in Gelfand's formula: log(C) / m < 1e-16 for any C below 1e+49


def _square_matrix(W: Tensor) -> Tensor:
    """W as a float64 CPU-or-device tensor, after checking it is a finite, real, non-empty square matrix."""
    check_tensor("W", W, ndim=2, layout="(n, n)")
    if W.shape[0] != W.shape[1] or W.shape[0] == 0:
        raise ValueError(f"W must be a non-empty square matrix (n, n); got shape {tuple(W.shape)}")
    if W.is_complex():
        raise TypeError(f"W must be a real matrix; got dtype {W.dtype}")
    W = W.detach().double() if W.device.type != "mps" else W.detach().cpu().double()
    if not torch.isfinite(W).all():
        raise ValueError("W must have finite entries; got NaN or infinite ones")
    return W


def spectral_radius(W: Tensor) -> float:
    """ρ(W) = the largest |eigenvalue| of a real square matrix W (n, n).

    A triangular W (block-triangular ones such as chapter 4's 2×2 blocks on the diagonal
    included) has its eigenvalues on the diagonal: ρ = max |W_ii|, exactly. Any other W goes
    through Gelfand's formula in float64: ``SQUARINGS`` matrix products, about 120·n³ flops
    (a few milliseconds for n = 64). Raises ``ValueError`` where float64 cannot resolve ρ: a
    matrix so far from normal (like a large Jordan block in another basis) that the powers'
    diagonal underflows; its eigenvalues move by ε^(1/n) under rounding, so no method can.
    """
    A = _square_matrix(W)
    if torch.equal(A, A.triu()) or torch.equal(A, A.tril()):
        return A.diagonal().abs().max().item()
    scale = A.abs().max()
    A = A / scale
    norm = torch.linalg.matrix_norm(A).item()  # Frobenius: a sum of squares, no solver
    A, log_norm_of_power = A / norm, math.log(norm)  # log ‖(W/scale)^m‖ for m = 2**k, k = 0
    for _ in range(SQUARINGS):
        A = A @ A
        norm = torch.linalg.matrix_norm(A).item()
        if norm == 0.0:
            return _zero_if_nilpotent(W, A)
        A = A / norm
        log_norm_of_power = 2.0 * log_norm_of_power + math.log(norm)
    return float(scale) * math.exp(log_norm_of_power / 2.0 ** SQUARINGS)


def _zero_if_nilpotent(W: Tensor, power: Tensor) -> float:
    """0 when W^n is exactly zero (W nilpotent, ρ = 0); otherwise the zero power was underflow."""
    A = W.detach().double().cpu()
    P = A.clone()
    for _ in range(A.shape[0] - 1):
        P = P @ A
    if not P.any():
        return 0.0
    raise ValueError("spectral_radius: this matrix is too far from normal for its spectral radius to be resolved "
                     "in float64 (its powers' diagonal underflows; its eigenvalues are ill-conditioned)")
