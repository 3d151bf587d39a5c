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

import numpy as np

from gradtrace.inits import orthogonal
from gradtrace.lab.wide import WIDE_INITS, WideConfig, _draw
from gradtrace.theory.meanfield import critical_sigma_w2
from gradtrace.theory.spectra import jacobian_spectrum

GOAL_S = 60.0


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
    t = time.perf_counter()
    r = jacobian_spectrum(config)
    total = time.perf_counter() - t
    print(
        f"jacobian_spectrum {a.init} N={a.width} L={a.depth} samples={a.samples}: {total:.1f} s "
        f"({total / GOAL_S:.2f}x the {GOAL_S:.0f} s goal); predicted var/mean^2 "
        f"{r.predicted_variance_over_mean2:.4f}, measured {r.measured_variance_over_mean2:.4f}"
    )
    t = time.perf_counter()
    for layer in range(1, a.depth + 1):
        _draw(config, layer)
    draws = time.perf_counter() - t
    rng = np.random.default_rng(0)
    w = rng.standard_normal((a.samples, a.width, a.width)) / np.sqrt(a.width)
    j = rng.standard_normal((a.samples, a.width, a.width))
    out = np.empty_like(j)
    t = time.perf_counter()
    for _ in range(a.depth - 1):
        np.matmul(w, j, out=out)
    mm = time.perf_counter() - t
    if a.init == "orthogonal":
        refl = _draw(config, 1)[0].matrix
        t = time.perf_counter()
        for _ in range(a.depth - 1):
            refl.apply_rows(j, inplace=True)
        applied = time.perf_counter() - t
        t = time.perf_counter()
        for _ in range(a.depth):
            orthogonal(rng, a.width, a.width, batch_shape=(a.samples,))
        qr = time.perf_counter() - t
        print(
            f"  orthogonal weights: {a.depth - 1} reflector applications (dormqr) {applied:.1f} s, "
            f"{applied / mm:.2f}x the plain matmuls; the QR draw they replace {qr:.1f} s "
            f"for {a.depth} layers, {qr / (draws + applied):.2f}x the reflectors' draw + apply"
        )
    t = time.perf_counter()
    np.linalg.eigvalsh(j @ j.swapaxes(-1, -2))
    ev = time.perf_counter() - t
    print(
        f"  where it goes: drawing {a.depth} layers {draws:.1f} s; {a.depth - 1} plain batched "
        f"matmuls {mm:.1f} s; J J^T + eigvalsh {ev:.1f} s"
    )
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
