"""Sweeps in words and JSON: the plan (cells new to the store), the outcome, the store's status.

``status_dict`` is ``gradtrace sweep-status --json``'s contract: exactly
``{"cells_total", "cells_done", "cells_failed"}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gradtrace.core.jsontypes import JSONObject
from gradtrace.sweep.cells import ParamValue
from gradtrace.sweep.grid import Cell
from gradtrace.sweep.runner import SweepReport
from gradtrace.sweep.store import Status

__all__ = ["cell_label", "plan_lines", "report_dict", "report_lines", "status_dict", "status_line"]

MOST_NEW = 10  # new cells named one by one; past this, a count


def cell_label(
    params: Mapping[str, ParamValue], seed: int, axes: tuple[str, ...] | None = None
) -> str:
    """``sigma_w2=1.5 depth=20 seed=0``: the swept values (all of them without ``axes``)."""
    names = axes if axes is not None else tuple(params)
    return " ".join([*(f"{n}={params[n]}" for n in names), f"seed={seed}"])


def plan_lines(new: Sequence[Cell], to_run: int, axes: tuple[str, ...]) -> list[str]:
    """Which cells the grid added to the store, and how many will run now."""
    lines = [f"{len(new)} new cell{'s' * (len(new) != 1)} in the store"]
    if new and len(new) <= MOST_NEW:
        lines[0] += ":"
        lines += [f"  new: {cell_label(c.params, c.seed, axes)}" for c in new]
    lines.append(f"{to_run} cell{'s' * (to_run != 1)} to run")
    return lines


def status_dict(status: Status) -> dict[str, int]:
    """``gradtrace sweep-status --json``."""
    return {
        "cells_total": status.cells_total,
        "cells_done": status.cells_done,
        "cells_failed": status.cells_failed,
    }


def status_line(status: Status) -> str:
    """``56 cells: 40 done, 2 failed, 14 pending``."""
    pending = status.cells_total - status.cells_done - status.cells_failed
    return (
        f"{status.cells_total} cell{'s' * (status.cells_total != 1)}: {status.cells_done} done, {status.cells_failed} failed, "
        f"{pending} pending"
    )


def report_lines(report: SweepReport, axes: tuple[str, ...] | None = None) -> list[str]:
    """The outcome: cells run, failures (their swept values, ``axes``, as in the plan) with
    their errors, the store's totals."""
    lines = [f"ran {report.ran} cell{'s' * (report.ran != 1)}"]
    lines += [
        f"  failed: {cell_label(c.params, c.seed, axes)}: {error}" for c, error in report.failed
    ]
    stale = report.stale
    if stale:
        n = f"{stale} stored cell{'s' * (stale != 1)}"
        lines.append(
            f"{n} not in this grid: deleted"
            if report.pruned
            else f"{n} {'are' if stale != 1 else 'is'} not in this grid; kept (--prune deletes them)"
        )
    lines.append(status_line(report.status))
    if report.status.cells_failed:
        lines.append("rerun with --retry-failed to compute the failed cells again")
    return lines


def report_dict(report: SweepReport) -> JSONObject:
    """``gradtrace sweep --json``: the new cells, the cells run, the failures, the totals."""
    return {
        "new": [{"params": c.params, "seed": c.seed} for c in report.new],
        "ran": report.ran,
        "failed": [
            {"params": c.params, "seed": c.seed, "error": error} for c, error in report.failed
        ],
        **status_dict(report.status),
        "not_in_grid": report.stale,
        "pruned": report.pruned,
    }
