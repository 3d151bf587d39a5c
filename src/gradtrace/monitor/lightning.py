"""``GradientMonitorCallback``: the monitor in a Lightning ``Trainer`` (the ``lightning`` extra).

When it records: Lightning calls ``on_before_optimizer_step`` once per optimizer step, after
backward (after the last micro-batch under ``accumulate_grad_batches``) and *before* it clips
the gradients. In Lightning 2.6, ``Precision._after_closure``
(``lightning/pytorch/plugins/precision/precision.py``) calls the callbacks'
``on_before_optimizer_step``, then the module's, then ``_clip_gradients``, which calls
``configure_gradient_clipping`` (``gradient_clip_val``). Under ``precision="16-mixed"``,
``MixedPrecision.optimizer_step`` (``plugins/precision/amp.py``) runs the closure (backward),
then ``scaler.unscale_(optimizer)``, then ``_after_closure``: the callback sees unscaled,
unclipped gradients. It records there, at ``trainer.global_step`` (the optimizer steps done
before this one).

At the end of fit, on global rank 0 only, with a TensorBoard logger, it writes the records as
scalars (``write_scalars``) to the logger's ``SummaryWriter``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from gradtrace.monitor.callbacks import MonitorCallbackBase

try:
    from lightning.pytorch.callbacks import Callback
except ImportError as e:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "GradientMonitorCallback needs Lightning: pip install 'gradtrace[lightning]'"
    ) from e

if TYPE_CHECKING:
    from lightning.pytorch import LightningModule, Trainer

__all__ = ["GradientMonitorCallback"]


class GradientMonitorCallback(MonitorCallbackBase, Callback):
    """Records the LightningModule's gradients at every ``every``-th optimizer step, before
    gradient clipping.

    **Arguments:** ``every``, ``activations``, ``thresholds``: as for ``GradientMonitor``
    (update ratios need the optimizer's own hooks, which Lightning's optimizer wrapping and
    precision plugins manage, so the callback does not track them). ``tensorboard``: write the
    records to the trainer's TensorBoard logger at the end of fit (when it has one; global rank
    0 only).

    After fit, ``callback.monitor`` holds the monitor (``records()``, ``verdict()``,
    ``save(path)``) and ``callback.verdict()`` is its verdict.
    """

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Create the monitor on the module being fitted."""
        self._start(pl_module)

    def on_before_optimizer_step(
        self, trainer: Trainer, pl_module: LightningModule, optimizer: torch.optim.Optimizer
    ) -> None:
        """Record this optimizer step (every ``every``-th), before clipping."""
        step = int(trainer.global_step)
        if self._due(step):
            self._record(step)

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Remove the hooks; on global rank 0, write the scalars to a TensorBoard logger."""
        main = bool(trainer.is_global_zero)
        writer = getattr(getattr(trainer, "logger", None), "experiment", None) if main else None
        self._finish(writer if hasattr(writer, "add_scalar") else None, main_process=main)
