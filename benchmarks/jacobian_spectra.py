"""Time `gradtrace jacobian`'s work at the issue's size: the spectrum of 8 tanh nets of width
1,000 and depth 100 at criticality, against the 60 s goal on a CPU.

    PYTHONPATH=src python benchmarks/jacobian_spectra.py [--init gaussian|orthogonal]
    PYTHONPATH=src python benchmarks/jacobian_spectra.py --depth 10   # a tenth of the layers

Prints the seconds of `theory.spectra.jacobian_spectrum` (the prediction, the draws, the
forward pass and the `depth - 1` matmuls of `lab.wide`, the eigenvalues) and the ratio to the
goal, then where the time goes: drawing every layer's weights alone (`lab.wide._draw`: the
Householder reflectors for orthogonal weights, Stewart 1980), applying them (`dormqr`) or the
plain batched matmuls alone, and `eigvalsh` alone; for orthogonal weights also the QR draw
(`inits.orthogonal`) the reflectors replaced, side by side.
Everything but the eigenvalues grows linearly in depth. Record the machine's load beside the
figures: on a shared machine they move by 2x.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np

from gradtrace.core.inits import orthogonal
from gradtrace.lab.wide import WIDE_INITS, WideConfig, _draw
from gradtrace.theory.meanfield import critical_sigma_w2
from gradtrace.theory.spectra import jacobian_spectrum

GOAL_S = 60.0
T = TypeVar("T")


def timed(work: Callable[[], T]) -> tuple[T, float]:
    """``work()``'s result and its wall-clock seconds."""
    start = time.perf_counter()
    result = work()
    return result, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--width", type=int, default=1000)
    ap.add_argument("--depth", type=int, default=100)
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--init", choices=WIDE_INITS, default="orthogonal")
    a = ap.parse_args()
    print(f"load average: {os.getloadavg()}")
    sw = critical_sigma_w2("tanh", 0.05)
    assert sw is not None
    config = WideConfig(
        "tanh", sw, 0.05, width=a.width, depth=a.depth, samples=a.samples, init=a.init
    )
    r, total = timed(lambda: jacobian_spectrum(config))
    print(
        f"jacobian_spectrum {a.init} N={a.width} L={a.depth} samples={a.samples}: {total:.1f} s "
        f"({total / GOAL_S:.2f}x the {GOAL_S:.0f} s goal); predicted var/mean^2 "
        f"{r.predicted_variance_over_mean2:.4f}, measured {r.measured_variance_over_mean2:.4f}"
    )
    _, draws = timed(lambda: [_draw(config, layer) for layer in range(1, a.depth + 1)])
    rng = np.random.default_rng(0)
    w = rng.standard_normal((a.samples, a.width, a.width)) / np.sqrt(a.width)
    j = rng.standard_normal((a.samples, a.width, a.width))
    out = np.empty_like(j)
    _, mm = timed(lambda: [np.matmul(w, j, out=out) for _ in range(a.depth - 1)])
    if a.init == "orthogonal":
        refl = _draw(config, 1)[0].matrix
        _, applied = timed(lambda: [refl.apply_rows(j, inplace=True) for _ in range(a.depth - 1)])
        _, qr = timed(
            lambda: [
                orthogonal(rng, a.width, a.width, batch_shape=(a.samples,)) for _ in range(a.depth)
            ]
        )
        print(
            f"  orthogonal weights: {a.depth - 1} reflector applications (dormqr) {applied:.1f} s, "
            f"{applied / mm:.2f}x the plain matmuls; the QR draw they replace {qr:.1f} s "
            f"for {a.depth} layers, {qr / (draws + applied):.2f}x the reflectors' draw + apply"
        )
    _, ev = timed(lambda: np.linalg.eigvalsh(j @ j.swapaxes(-1, -2)))
    print(
        f"  where it goes: drawing {a.depth} layers {draws:.1f} s; {a.depth - 1} plain batched "
        f"matmuls {mm:.1f} s; J J^T + eigvalsh {ev:.1f} s"
    )
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
