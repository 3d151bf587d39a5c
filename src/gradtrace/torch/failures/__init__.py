"""A public benchmark of gradient failures: small models on synthetic data, each a known way for
gradients to fail or a healthy baseline, with the verdict the monitor must give, the layers it
must name and the remedy that fixes it (``cases.CASES``), and the machinery to run them and to
apply a verdict's first advice literally (``harness``).

Run the whole benchmark with ``python benchmarks/monitor_failures.py``; the test suite runs the
cases marked ``fast`` (tests/test_monitor_failures.py). docs/monitor.md publishes the table.
"""

from __future__ import annotations

from gradtrace.torch.failures.cases import CASES
from gradtrace.torch.failures.harness import (
    Case,
    Outcome,
    Setup,
    Trial,
    apply_remedy,
    names_match,
    run_case,
)

__all__ = [
    "CASES",
    "Case",
    "Outcome",
    "Setup",
    "Trial",
    "apply_remedy",
    "names_match",
    "run_case",
]
