"""Time the mean-field phase diagram on a 200 x 200 grid (goal: at most 3 s).

Run: ``PYTHONPATH=src python benchmarks/phase_diagram.py``. Prints, per activation, the median of
5 runs in seconds and its ratio to the goal (below 1 meets it).
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from gradtrace.theory import phase_diagram

GOAL_S = 3.0
W = np.linspace(0.02, 4.0, 200)
B = np.linspace(0.0, 0.3, 200)


def main() -> None:
    for activation in ("tanh", "softsign", "sigmoid", "relu"):
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            phase_diagram(activation, W, B)
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        print(
            f"{activation:9s} 200 x 200: {med:.3f} s (ratio to the {GOAL_S:g} s goal: {med / GOAL_S:.2f})"
        )


if __name__ == "__main__":
    main()
