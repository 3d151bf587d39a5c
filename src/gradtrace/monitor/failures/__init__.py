"""A public benchmark of gradient failures: small models on synthetic data, each a known way for
gradients to fail or a healthy baseline, with the verdict the monitor must give, the layers it
must name and the remedy that fixes it (``cases.CASES``), and the machinery to run them and to
apply a verdict's first advice literally (``harness``). ``heldout.HELD_OUT`` holds cases written
apart from the verdict rules, to measure how the verdict and its advice generalize (their
expected answers were decided before the monitor was run on them); ``ALL_CASES`` is both.

Run the whole benchmark with ``python benchmarks/monitor_failures.py``; the test suite runs the
cases marked ``fast`` (tests/test_monitor_failures.py). docs/monitor.md publishes the table.
"""

from __future__ import annotations

from gradtrace.monitor.failures.cases import CASES
from gradtrace.monitor.failures.harness import (
    Case,
    Outcome,
    Setup,
    Trial,
    apply_remedy,
    names_match,
    run_case,
)
from gradtrace.monitor.failures.heldout import HELD_OUT

ALL_CASES: tuple[Case, ...] = CASES + HELD_OUT
"""The original cases, then the held-out ones."""

__all__ = [
    "ALL_CASES",
    "CASES",
    "HELD_OUT",
    "Case",
    "Outcome",
    "Setup",
    "Trial",
    "apply_remedy",
    "names_match",
    "run_case",
]
