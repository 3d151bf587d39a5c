"""TensorBoard scalars from monitor records (``torch.utils.tensorboard.SummaryWriter``).

One scalar per (record, key), tagged ``{key}/{parameter name}`` at the record's step, so that
TensorBoard shows one chart per key with one line per parameter; plus ``grad_norm/_global``,
the global norm ``sqrt(sum_p ||g_p||^2)`` of each step.

Non-finite values: ``grad_norm`` is always written, inf (an overflow) and nan (a nan gradient
entry) included. ``grad_max_abs``, ``weight_norm`` and ``update_ratio`` are nan where the
monitor did not measure them at that step (``GradientMonitor``'s ``detail_every``, an update
ratio without an attached optimizer); such a nan is skipped, not written. It is written where
the record's gradient holds inf/nan entries (``nonfinite > 0``): there a nan is the measured
consequence of that gradient. inf is always written. The global norm of a step is
``records.step_totals``'s: nan when one of its parameters' norms is nan, inf when one is inf
(and none is nan), never the smaller sum of the finite ones.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

from gradtrace.monitor.records import Record, step_totals

__all__ = ["DETAIL_KEYS", "SCALAR_KEYS", "ScalarWriter", "write_scalars"]

SCALAR_KEYS = ("grad_norm", "grad_max_abs", "weight_norm", "update_ratio")
"""The record keys written as scalars (``update_ratio`` where tracked)."""

DETAIL_KEYS = ("grad_max_abs", "weight_norm", "update_ratio")
"""The keys whose nan means "not measured at this step" unless the gradient is non-finite."""


class ScalarWriter(Protocol):
    """Where scalars go: a ``SummaryWriter``, or anything with ``add_scalar(tag, value, step)``."""

    def add_scalar(self, tag: str, scalar_value: float, global_step: int, /) -> object:
        """Write ``scalar_value`` under ``tag`` at ``global_step``."""
        ...


def _written(r: Record, key: str) -> bool:
    """Whether ``r[key]`` is a value to write (not a not-measured nan)."""
    v = float(r[key])
    return not (math.isnan(v) and key in DETAIL_KEYS and not r.get("nonfinite", 0))


def write_scalars(
    records: Sequence[Record], writer: ScalarWriter, *, keys: Sequence[str] = SCALAR_KEYS
) -> int:
    """Write ``records`` (``GradientMonitor.records()``) to ``writer`` (a ``SummaryWriter``, or
    anything with ``add_scalar(tag, value, step)``); returns the number of scalars written.
    Call it once at the end, or now and then with the records since the last call."""
    n = 0
    for r in records:
        for key in keys:
            if key in r and _written(r, key):
                writer.add_scalar(f"{key}/{r['name']}", float(r[key]), int(r["step"]))
                n += 1
    steps, total = step_totals(records)
    for step, g in zip(steps, total.tolist(), strict=True):
        writer.add_scalar("grad_norm/_global", g, step)
        n += 1
    return n
