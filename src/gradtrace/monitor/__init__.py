"""Gradient-flow monitoring of real PyTorch models (the ``torch`` extra).

``GradientMonitor`` (``recorder.py``) records exact per-parameter gradient norms at each
optimizer step; ``judge`` (``verdict.py``) turns a run into a verdict that names layers, steps
and fixes; ``records.py`` holds a run as plain data and reads and writes its files;
``tensorboard.py`` writes the records as TensorBoard scalars; ``lightning.py`` is a Lightning
callback (the ``lightning`` extra) and ``hf.py`` a Hugging Face ``Trainer`` callback (the ``hf``
extra), both built on ``callbacks.py``.

Only ``recorder.py`` (with its private modules ``_stats``, ``_step``, ``_model``, ``_activations``
and ``distributed``), ``tensorboard.py``, ``callbacks.py``, ``lightning.py``, ``hf.py`` and the
failure benchmark (``failures/``) need torch, and they are imported
when first used: ``from gradtrace.torch import GradientMonitor`` needs torch, while
``gradtrace.monitor.records`` and ``gradtrace.monitor.verdict`` do not, so a saved run can be
rendered (``gradtrace monitor-report``) on the core install with the plots extra.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gradtrace.monitor.records import MlpShape, MonitorRun, load_run, save_run
from gradtrace.monitor.verdict import Finding, TheoryComparison, Thresholds, Verdict, judge

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

_LAZY = {
    "GradientMonitor": ("gradtrace.monitor.recorder", "torch"),
    "write_scalars": ("gradtrace.monitor.tensorboard", "torch"),
    "GradientMonitorCallback": ("gradtrace.monitor.lightning", "lightning"),
    "GradientMonitorTrainerCallback": ("gradtrace.monitor.hf", "hf"),
}


def __getattr__(name: str) -> Any:
    """Import the torch-backed names on first use, with one clear line if torch is missing."""
    if name not in _LAZY:
        raise AttributeError(f"module 'gradtrace.monitor' has no attribute {name!r}")
    module, extra = _LAZY[name]
    try:
        import torch  # noqa: F401
    except ImportError:
        raise ImportError(
            f"gradtrace.torch.{name} needs PyTorch: pip install 'gradtrace[{extra}]'"
        ) from None
    from importlib import import_module

    return getattr(import_module(module), name)
