"""Time the symbolic derivation of a depth-30 chain with biases, per activation.

Moved here from ``tests/test_symbolic.py`` (issue #18: no wall-clock asserts in unit tests). Nested
``Piecewise`` once made relu at depth 30 hang (over 10 minutes); ``Max`` keeps the expression
linear in depth, and the test now checks that size instead of the time.

Run: ``PYTHONPATH=src python benchmarks/symbolic_depth.py [--depth 30] [--repeats 3]``. Prints,
per activation, the first run (which also builds the cached derivative rules), the median of the
repeats, and the length of dL/dw1's closed form.
"""

from __future__ import annotations

import argparse
import statistics
import time

from gradtrace import ChainSpec
from gradtrace.symbolic import derive_chain

ACTIVATIONS = ("relu", "leaky_relu", "softsign", "tanh", "sigmoid")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    for activation in ACTIVATIONS:
        spec = ChainSpec(args.depth, activation, "identity", "l2", biases=True)
        times = []
        for _ in range(1 + args.repeats):
            t0 = time.perf_counter()
            d = derive_chain(spec)
            times.append(time.perf_counter() - t0)
        size = len(d.gradients[0].closed_str())
        print(
            f"{activation:10s} depth {args.depth}: first {times[0]:.3f} s, "
            f"median of {args.repeats} {statistics.median(times[1:]):.3f} s, "
            f"closed form of dL/dw1 {size:,} characters"
        )


if __name__ == "__main__":
    main()
