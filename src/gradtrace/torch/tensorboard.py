"""TensorBoard scalars from monitor records (``torch.utils.tensorboard.SummaryWriter``).

One scalar per (record, key), tagged ``{key}/{parameter name}`` at the record's step, so that
TensorBoard shows one chart per key with one line per parameter; plus ``grad_norm/_global``,
the global norm ``sqrt(sum_p ||g_p||^2)`` of each step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gradtrace.torch.records import Record, step_totals

__all__ = ["SCALAR_KEYS", "write_scalars"]

SCALAR_KEYS = ("grad_norm", "grad_max_abs", "weight_norm", "update_ratio")
"""The record keys written as scalars (``update_ratio`` where tracked)."""


def write_scalars(
    records: Sequence[Record], writer: Any, *, keys: Sequence[str] = SCALAR_KEYS
) -> int:
    """Write ``records`` (``GradientMonitor.records()``) to ``writer`` (a ``SummaryWriter``, or
    anything with ``add_scalar(tag, value, step)``); returns the number of scalars written.
    Call it once at the end, or now and then with the records since the last call."""
    n = 0
    for r in records:
        for key in keys:
            if key in r:
                writer.add_scalar(f"{key}/{r['name']}", float(r[key]), int(r["step"]))
                n += 1
    if records:
        steps, total = step_totals(records)
        for s, g in zip(steps, total, strict=True):
            writer.add_scalar("grad_norm/_global", float(g), int(s))
            n += 1
    return n
