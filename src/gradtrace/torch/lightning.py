"""``GradientMonitorCallback``: the monitor in a Lightning ``Trainer`` (the ``lightning`` extra).

Lightning calls ``on_before_optimizer_step`` once per optimizer step, after backward (after the
last micro-batch under ``accumulate_grad_batches``) and, under ``precision="16-mixed"``, after
its GradScaler has unscaled the gradients; the callback records there, at
``trainer.global_step``. At the end of fit, with a TensorBoard logger, it writes the records as
scalars (``write_scalars``) to the logger's ``SummaryWriter``.
"""

from __future__ import annotations

from typing import Any

from gradtrace.torch.monitor import GradientMonitor
from gradtrace.torch.tensorboard import write_scalars
from gradtrace.torch.verdict import Thresholds, Verdict

try:
    from lightning.pytorch.callbacks import Callback
except ImportError as e:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "GradientMonitorCallback needs Lightning: pip install 'gradtrace[lightning]'"
    ) from e

__all__ = ["GradientMonitorCallback"]


class GradientMonitorCallback(Callback):
    """Records the LightningModule's gradients at every ``every``-th optimizer step.

    **Arguments:** ``every``, ``activations``, ``thresholds``: as for ``GradientMonitor``
    (update ratios need the optimizer's own hooks, which Lightning's optimizer wrapping and
    precision plugins manage, so the callback does not track them). ``tensorboard``: write the records to the trainer's TensorBoard
    logger at the end of fit (when it has one).

    After fit, ``callback.monitor`` holds the monitor (``records()``, ``verdict()``,
    ``save(path)``).
    """

    def __init__(
        self,
        every: int = 1,
        *,
        activations: bool = False,
        thresholds: Thresholds | None = None,
        tensorboard: bool = True,
    ) -> None:
        super().__init__()
        self.every = every
        self.options: dict[str, Any] = {
            "activations": activations,
            "thresholds": thresholds,
        }
        self.tensorboard = tensorboard
        self.monitor: GradientMonitor | None = None

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        """Create the monitor on the module being fitted."""
        self.monitor = GradientMonitor(pl_module, 1, **self.options)

    def on_before_optimizer_step(self, trainer: Any, pl_module: Any, optimizer: Any) -> None:
        """Record this optimizer step (every ``every``-th)."""
        if self.monitor is not None and trainer.global_step % self.every == 0:
            self.monitor.record(step=int(trainer.global_step))

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        """Remove the hooks; write the scalars to a TensorBoard logger."""
        if self.monitor is None:
            return
        self.monitor.detach()
        writer = getattr(getattr(trainer, "logger", None), "experiment", None)
        if self.tensorboard and writer is not None and hasattr(writer, "add_scalar"):
            write_scalars(self.monitor.records(), writer)
            writer.flush()

    def verdict(self) -> Verdict:
        """The monitor's verdict (after fit)."""
        if self.monitor is None:
            raise ValueError("the callback has not seen a fit yet")
        return self.monitor.verdict()
