"""What the training-framework callbacks share (``lightning.py``, ``hf.py``).

``MonitorCallbackBase`` holds the options, creates the ``GradientMonitor`` when training starts,
records one optimizer step at a time (every ``every``-th, passing the step's loss to the monitor
where it keeps losses), and at the end removes the monitor's hooks and, on the main process only,
writes the records as TensorBoard scalars. Each framework's callback inherits it beside the
framework's own callback class and only decides *when* to call ``_start``, ``_record`` and
``_finish``.
"""

from __future__ import annotations

from typing import Protocol

from torch import nn

from gradtrace.core.errors import SpecError
from gradtrace.monitor.recorder import GradientMonitor
from gradtrace.monitor.tensorboard import ScalarWriter, write_scalars
from gradtrace.monitor.verdict import Thresholds, Verdict

__all__ = ["MonitorCallbackBase"]


class LogWriter(ScalarWriter, Protocol):
    """A ``ScalarWriter`` that can be flushed (a ``SummaryWriter``)."""

    def flush(self) -> object:
        """Write what is buffered."""
        ...


class MonitorCallbackBase:
    """The monitor inside a framework's training loop.

    **Arguments:**
    - ``every``: record every ``every``-th optimizer step (steps 0, every, 2 every, ... of the
      framework's global step count).
    - ``activations``, ``thresholds``: as for ``GradientMonitor``.
    - ``tensorboard``: at the end of training, write the records as TensorBoard scalars (where
      the framework has a TensorBoard writer; on the main process only).

    After training, ``.monitor`` holds the monitor (``records()``, ``run()``, ``verdict()``,
    ``save(path)``) and ``.verdict()`` is its verdict.
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
        if not isinstance(every, int) or isinstance(every, bool) or every < 1:
            raise SpecError(f"every must be a whole number >= 1, got {every!r}", field="every")
        self.every = every
        self.activations = activations
        self.thresholds = thresholds
        self.tensorboard = tensorboard
        self.monitor: GradientMonitor | None = None

    def _start(self, model: nn.Module) -> GradientMonitor:
        """A fresh monitor on ``model`` (the callback records the steps itself)."""
        if self.monitor is not None:  # a second fit: the first one's hooks go
            self.monitor.detach()
        self.monitor = GradientMonitor(
            model, 1, activations=self.activations, thresholds=self.thresholds
        )
        return self.monitor

    def _due(self, step: int) -> bool:
        """Whether optimizer step ``step`` is one to record."""
        return self.monitor is not None and step % self.every == 0

    def _record(self, step: int, loss: float | None = None) -> None:
        """Record the model's gradients now, as optimizer step ``step``, with the step's
        ``loss`` where known and where the monitor keeps losses (``observe_loss``)."""
        if self.monitor is None:
            return
        if loss is not None and hasattr(self.monitor, "observe_loss"):
            self.monitor.observe_loss(loss)
        self.monitor.record(step=step)

    def _finish(self, writer: LogWriter | None, *, main_process: bool) -> None:
        """Remove the monitor's hooks; on the main process, write the records to ``writer`` (a
        ``SummaryWriter``, or None for none) when ``tensorboard`` asks for it."""
        if self.monitor is None:
            return
        self.monitor.detach()
        if main_process and self.tensorboard and writer is not None:
            write_scalars(self.monitor.records(), writer)
            writer.flush()

    def verdict(self) -> Verdict:
        """The monitor's verdict on the steps recorded (after training, or during it)."""
        if self.monitor is None:
            raise ValueError("the callback has not seen a training run yet")
        return self.monitor.verdict()
