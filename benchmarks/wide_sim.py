"""Jacobian spectra of wide random nets: gradtrace.lab.wide against plain torch matmuls.

Times ``jacobian_singular_values`` (tanh, sigma_w2 = 1, sigma_b2 = 0.05; default width 1000,
depth 100, 8 samples) on the NumPy backend and on torch-CPU, against the floor: plain torch
float64 matmuls of the same shapes (``depth`` products of ``width x width`` matrices per sample,
then the same spectrum routine, ``eigvalsh(J J^T)``), with no weights drawn and no forward pass.
Prints seconds (median of ``--repeats``) and the ratios to the floor. Goals (issue 10): at most
60 s, and within 2x of the floor.

    PYTHONPATH=src python benchmarks/wide_sim.py                  # the issue's sizes
    PYTHONPATH=src python benchmarks/wide_sim.py --width 300 --depth 30 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from gradtrace.lab.wide import WideConfig, jacobian_singular_values


def floor(width: int, depth: int, samples: int) -> None:
    """Plain torch: depth matmuls per sample into a buffer, then eigvalsh(J J^T)."""
    g = torch.Generator().manual_seed(0)
    w = torch.randn(samples, width, width, dtype=torch.float64, generator=g) / width**0.5
    j = w.clone()
    buf = torch.empty_like(j)
    for _ in range(depth - 1):
        torch.matmul(w, j, out=buf)
        j, buf = buf, j
    torch.linalg.eigvalsh(j @ j.mT)


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--width", type=int, default=1000)
    p.add_argument("--depth", type=int, default=100)
    p.add_argument("--samples", type=int, default=8)
    p.add_argument("--repeats", type=int, default=1)
    args = p.parse_args()
    cfg = WideConfig("tanh", 1.0, 0.05, width=args.width, depth=args.depth, samples=args.samples)
    print(
        f"width {args.width}, depth {args.depth}, {args.samples} samples, "
        f"median of {args.repeats}; torch threads {torch.get_num_threads()}"
    )
    base = median_seconds(lambda: floor(args.width, args.depth, args.samples), args.repeats)
    print(f"plain torch matmuls (floor)   {base:8.2f} s")
    for name, device in (("gradtrace numpy", None), ("gradtrace torch-cpu", "cpu")):
        c = WideConfig(**{**cfg.__dict__, "device": device})
        t = median_seconds(lambda c=c: jacobian_singular_values(c), args.repeats)
        print(f"{name:<29} {t:8.2f} s   ratio {t / base:5.2f}x   goal <= 60 s: {t <= 60}")


if __name__ == "__main__":
    main()
