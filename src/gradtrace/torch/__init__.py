"""The public name of the gradient monitor: ``from gradtrace.torch import GradientMonitor``.

The monitor lives in :mod:`gradtrace.monitor`; this package re-exports its public names, so
that the import users write says what it needs (PyTorch, the ``torch`` extra). As there, the
torch-backed names are imported on first use: ``judge`` and ``load_run`` work without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gradtrace import monitor as _monitor
from gradtrace.monitor import (
    Finding,
    MlpShape,
    MonitorRun,
    TheoryComparison,
    Thresholds,
    Verdict,
    judge,
    load_run,
    save_run,
)

if TYPE_CHECKING:
    from gradtrace.monitor.hf import GradientMonitorTrainerCallback
    from gradtrace.monitor.lightning import GradientMonitorCallback
    from gradtrace.monitor.recorder import GradientMonitor
    from gradtrace.monitor.tensorboard import write_scalars

__all__ = [
    "Finding",
    "GradientMonitor",
    "GradientMonitorCallback",
    "GradientMonitorTrainerCallback",
    "MlpShape",
    "MonitorRun",
    "TheoryComparison",
    "Thresholds",
    "Verdict",
    "judge",
    "load_run",
    "save_run",
    "write_scalars",
]


def __getattr__(name: str) -> Any:
    """The torch-backed names, imported on first use (see :mod:`gradtrace.monitor`)."""
    return getattr(_monitor, name)
