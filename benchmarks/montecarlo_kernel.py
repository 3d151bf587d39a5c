"""The Monte Carlo hot path, side by side: gradients of N random initializations of the exercise's
classification chain (3 sigmoid layers, bce, x = 0.63, label 1), float64.

Methods, all run in this one process on the same machine:
  gradtrace kernel      gradtrace.lab.kernel.grad_weights over blocks of 65,536 samples: the
                        compiled kernel (numba, all cores) and the NumPy fallback
  gradtrace end to end  gradtrace.lab.montecarlo.run_montecarlo (sampling, gradients, statistics)
  torch.autograd        one batched forward/backward over all N samples, float64, all cores
  JAX                   jit(vmap(grad(loss))) with x64, when JAX is installed (compile excluded)
  exp floor             NumPy computing the 3N exponentials alone, in the same blocks

Run:
  python benchmarks/montecarlo_kernel.py                 # N = 10^7, 5 repeats, medians
  python benchmarks/montecarlo_kernel.py --samples 1000000 --repeats 3 --no-depth-scan
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np

from gradtrace import ChainSpec
from gradtrace.lab.kernel import HAVE_NUMBA, grad_weights
from gradtrace.lab.montecarlo import BLOCK, MonteCarloConfig, run_montecarlo

X, TARGET = 0.63, 1.0


def median_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def gradtrace_kernel(w: np.ndarray, spec: ChainSpec, backend: str = "auto") -> Callable[[], None]:
    xs, ts = np.full(BLOCK, X), np.full(BLOCK, TARGET)

    def run() -> None:
        for i in range(0, len(w), BLOCK):
            blk = w[i : i + BLOCK]
            grad_weights(spec, blk, None, xs[: len(blk)], ts[: len(blk)], backend=backend)  # type: ignore[arg-type]

    return run


def exp_floor(w: np.ndarray) -> Callable[[], None]:
    out = np.empty((BLOCK, w.shape[1]))

    def run() -> None:
        for i in range(0, len(w), BLOCK):
            blk = w[i : i + BLOCK]
            np.exp(blk, out=out[: len(blk)])

    return run


def torch_autograd(w: np.ndarray, sample: bool) -> Callable[[], None] | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(os.cpu_count() or 1)
    wt = torch.from_numpy(w)

    def run() -> None:
        W = (torch.randn(w.shape, dtype=torch.float64) if sample else wt.clone()).requires_grad_(
            True
        )
        a = torch.full((w.shape[0],), X, dtype=torch.float64)
        z = W[:, 0] * a
        for k in range(1, w.shape[1]):
            z = W[:, k] * torch.sigmoid(z)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            z, torch.full_like(z, TARGET), reduction="sum"
        )
        loss.backward()

    return run


def jax_vmap_grad(w: np.ndarray, sample: bool) -> tuple[Callable[[], None], float] | None:
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    def loss(wv: jnp.ndarray) -> jnp.ndarray:
        z = wv[0] * X
        for k in range(1, wv.shape[0]):
            z = wv[k] * jax.nn.sigmoid(z)
        return jnp.logaddexp(0.0, z) - TARGET * z  # bce from the logit

    grad_all = jax.jit(jax.vmap(jax.grad(loss)))
    wj = jnp.asarray(w)
    key = jax.random.PRNGKey(0)
    start = time.perf_counter()
    grad_all(wj).block_until_ready()  # compile
    compile_s = time.perf_counter() - start

    def run() -> None:
        ww = jax.random.normal(key, w.shape, dtype=jnp.float64) if sample else wj
        grad_all(ww).block_until_ready()

    if sample:
        run()  # compile the sampling path too
    return run, compile_s


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--samples", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-depth-scan", action="store_true")
    args = parser.parse_args()
    N, R = args.samples, args.repeats
    spec = ChainSpec(3)
    w = np.random.default_rng(7).standard_normal((N, 3))

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, NumPy {np.__version__}"
    )
    print(
        f"N = {N:,} initializations of the exercise's classification chain, float64, "
        f"median of {R} runs\n"
    )

    rows: list[tuple[str, float, float | None]] = []
    if HAVE_NUMBA:
        import numba

        gradtrace_kernel(w[:10], spec)()  # compile (or load the cached machine code)
        rows.append(
            (
                f"gradtrace numba {numba.__version__}, {numba.get_num_threads()} thr",
                median_time(gradtrace_kernel(w, spec), R),
                median_time(lambda: run_montecarlo(MonteCarloConfig(spec, N, seed=7)), R),
            )
        )
    rows.append(
        (
            "gradtrace NumPy kernel",
            median_time(gradtrace_kernel(w, spec, "numpy"), R),
            None
            if HAVE_NUMBA
            else median_time(lambda: run_montecarlo(MonteCarloConfig(spec, N, seed=7)), R),
        )
    )
    t_run, t_e2e = torch_autograd(w, False), torch_autograd(w, True)
    if t_run is not None and t_e2e is not None:
        import torch

        rows.append(
            (f"torch.autograd {torch.__version__}", median_time(t_run, R), median_time(t_e2e, R))
        )
    jx, jx_e2e = jax_vmap_grad(w, False), jax_vmap_grad(w, True)
    if jx is not None and jx_e2e is not None:
        import jax

        rows.append(
            (
                f"JAX {jax.__version__} jit(vmap(grad))",
                median_time(jx[0], R),
                median_time(jx_e2e[0], R),
            )
        )
        print(f"(JAX compile time, excluded: {jx[1]:.2f} s)")
    floor = median_time(exp_floor(w), R)

    ours_k, ours_e = rows[0][1], rows[0][2]
    assert ours_e is not None
    print(
        f"{'method':<34} {'kernel s':>9} {'ns/sample':>10} {'x gradtrace':>12} {'end-to-end s':>13} {'x gradtrace':>12}"
    )
    for name, k, e in rows:
        e2e = "" if e is None else f"{e:13.3f} {e / ours_e:12.2f}"
        print(f"{name:<34} {k:9.3f} {1e9 * k / N:10.1f} {k / ours_k:12.2f} {e2e}")
    print(
        f"{'exp floor (3N exps, NumPy)':<34} {floor:9.3f} {1e9 * floor / N:10.1f} {floor / ours_k:12.2f}"
    )
    print(f"\ngradtrace kernel / exp floor = {ours_k / floor:.2f}")

    if not args.no_depth_scan:
        print("\ndepth scan (sigmoid chain, bce): gradtrace kernel time per sample-layer")
        rng = np.random.default_rng(1)
        for L in (3, 10, 30, 100, 300, 1000):
            n = max(BLOCK, (3_000_000 // L) // BLOCK * BLOCK)
            wl = rng.standard_normal((n, L))
            t = median_time(gradtrace_kernel(wl, ChainSpec(L)), max(3, R // 2))
            print(f"  L = {L:5d}: {1e9 * t / (n * L):6.2f} ns per sample-layer ({n:,} samples)")


if __name__ == "__main__":
    main()
