"""Speed of the course's reference helpers against PyTorch's native kernels, on CPU.

A script, not a test: ``python benchmarks/bench_helpers.py [--repeats 15]``
prints a Markdown table; ``run_benchmarks()`` returns the same rows as dicts
for the report generator. Timings are medians of ``repeats`` runs after
``warmup`` untimed runs (helper and native alternating), once with ``torch.set_num_threads(1)`` and once with
the default thread count. Every helper is first checked to compute the same
thing as its native counterpart, so no row times a wrong result.

Cases (float32, as a network would run them):

- batch norm, training mode, (64, 64, 16, 16): ``helpers.norm.batchnorm_forward``
  + ``batchnorm_backward`` vs ``F.batch_norm`` + autograd. Target: at most 2x.
- convolution, (64, 3, 32, 32) with 16 3x3 filters and (64, 64, 16, 16) with 64
  3x3 filters, stride 1, padding 1: ``helpers.conv.conv2d_im2col`` (forward,
  and forward + ``conv2d_im2col_backward``) vs ``F.conv2d`` (+ autograd for
  dx, dw, db). Target: at most 3x.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch
import torch.nn.functional as F

from helpers.conv import conv2d_im2col, conv2d_im2col_backward

TARGETS = {"batch norm": 2.0, "conv": 3.0}
DEFAULT_THREADS = torch.get_num_threads()


def median_times(fn_a, fn_b, repeats: int, warmup: int) -> tuple[float, float]:
    """Median wall times (seconds) of ``fn_a()`` and ``fn_b()`` over ``repeats`` runs each, after ``warmup``.

    The two are timed alternately (a, b, a, b, ...) so that load from other
    processes on a shared machine falls on both alike and their ratio stays fair.
    """
    for _ in range(warmup):
        fn_a()
        fn_b()
    times_a, times_b = [], []
    for _ in range(repeats):
        for fn, times in ((fn_a, times_a), (fn_b, times_b)):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    return statistics.median(times_a), statistics.median(times_b)


def _batchnorm_case(gen):
    """(helper fn, native fn, check fn) for batch norm forward + backward on (64, 64, 16, 16)."""
    from helpers.norm import batchnorm_backward, batchnorm_forward  # written by the norm session

    x = torch.randn(64, 64, 16, 16, generator=gen)
    gamma = 1 + 0.1 * torch.randn(64, generator=gen)
    beta = 0.1 * torch.randn(64, generator=gen)
    dout = torch.randn(x.shape, generator=gen)
    rm_h, rv_h = torch.zeros(64), torch.ones(64)
    rm_n, rv_n = torch.zeros(64), torch.ones(64)
    xr, gr, br = (t.clone().requires_grad_() for t in (x, gamma, beta))

    def helper():
        out, cache = batchnorm_forward(x, gamma, beta, rm_h, rv_h, training=True, momentum=0.1, eps=1e-5)
        return (out, *batchnorm_backward(dout, cache))

    def native():
        out = F.batch_norm(xr, rm_n, rv_n, gr, br, training=True, momentum=0.1, eps=1e-5)
        return (out.detach(), *torch.autograd.grad(out, (xr, gr, br), dout))

    return helper, native


def _conv_cases(gen, shape, n_filters):
    """(forward pair, forward+backward pair) for a 3x3, stride 1, padding 1 convolution."""
    x = torch.randn(shape, generator=gen)
    w = 0.1 * torch.randn(n_filters, shape[1], 3, 3, generator=gen)
    b = torch.randn(n_filters, generator=gen)
    dout = torch.randn(shape[0], n_filters, shape[2], shape[3], generator=gen)
    xr, wr, br = (t.clone().requires_grad_() for t in (x, w, b))

    def helper_fwd():
        return (conv2d_im2col(x, w, b, 1, 1)[0],)

    def native_fwd():
        return (F.conv2d(x, w, b, 1, 1),)

    def helper_fwd_bwd():
        out, cache = conv2d_im2col(x, w, b, 1, 1)
        return (out, *conv2d_im2col_backward(dout, cache))

    def native_fwd_bwd():
        out = F.conv2d(xr, wr, br, 1, 1)
        return (out.detach(), *torch.autograd.grad(out, (xr, wr, br), dout))

    return (helper_fwd, native_fwd), (helper_fwd_bwd, native_fwd_bwd)


def _check_same(name: str, helper, native) -> None:
    """Refuse to time a helper that does not compute what its native counterpart computes."""
    for i, (h, n) in enumerate(zip(helper(), native())):
        scale = n.abs().max().item() + 1e-12
        err = (h - n).abs().max().item() / scale
        if err > 1e-4:
            raise AssertionError(f"{name}: output {i} differs from PyTorch (max error {err:.2e} of its scale)")


def _cases(gen):
    """[(name, kind, shape text, helper, native)], the batch-norm row left out if helpers.norm is missing."""
    cases = []
    try:
        bn_helper, bn_native = _batchnorm_case(gen)
    except ImportError as err:  # the norm session may not have landed its module yet
        print(f"(batch norm skipped: {err})")
    else:
        cases.append(("batch norm fwd+bwd", "batch norm", "(64, 64, 16, 16)", bn_helper, bn_native))
    for shape, n_filters in [((64, 3, 32, 32), 16), ((64, 64, 16, 16), 64)]:
        (hf, nf), (hfb, nfb) = _conv_cases(gen, shape, n_filters)
        text = f"{shape}, {n_filters} 3x3 filters"
        cases.append(("conv fwd", "conv", text, hf, nf))
        cases.append(("conv fwd+bwd", "conv", text, hfb, nfb))
    return cases


def run_benchmarks(repeats: int = 15, warmup: int = 3, threads=None) -> list[dict]:
    """Time every case; return one dict per (case, thread count).

    Keys: ``case``, ``shape``, ``threads``, ``helper_ms``, ``native_ms``,
    ``ratio`` (helper / native), ``target`` (largest acceptable ratio), ``met``.
    ``threads`` defaults to (1, the default thread count). The thread count in
    force before the call is restored afterwards.
    """
    if threads is None:
        threads = sorted({1, DEFAULT_THREADS})
    before = torch.get_num_threads()
    gen = torch.Generator().manual_seed(0)
    rows = []
    try:
        cases = _cases(gen)
        for name, kind, shape, helper, native in cases:
            _check_same(name, helper, native)
        for n_threads in threads:
            torch.set_num_threads(n_threads)
            for name, kind, shape, helper, native in cases:
                t_helper, t_native = median_times(helper, native, repeats, warmup)
                ratio = t_helper / t_native
                rows.append(dict(case=name, shape=shape, threads=n_threads,
                                 helper_ms=1e3 * t_helper, native_ms=1e3 * t_native,
                                 ratio=ratio, target=TARGETS[kind], met=ratio <= TARGETS[kind]))
    finally:
        torch.set_num_threads(before)
    return rows


def machine_info() -> str:
    """One line naming the CPU, its core count and the torch build."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} logical cores, torch {torch.__version__}"


def to_markdown(rows: list[dict]) -> str:
    """The rows as a Markdown table."""
    lines = [
        "| case | input | threads | helper (ms) | PyTorch (ms) | helper/PyTorch | target | met |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['case']} | {r['shape']} | {r['threads']} | {r['helper_ms']:.2f} | {r['native_ms']:.2f} "
            f"| {r['ratio']:.2f}x | <= {r['target']:.0f}x | {'yes' if r['met'] else 'no'} |"
        )
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed runs per case (median reported)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs before timing")
    args = parser.parse_args(argv)
    rows = run_benchmarks(repeats=args.repeats, warmup=args.warmup)
    print(f"CPU: {machine_info()}; median of {args.repeats} runs after {args.warmup} warm-up runs, float32\n")
    print(to_markdown(rows))


if __name__ == "__main__":
    main()
