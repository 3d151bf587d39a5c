"""``GradientMonitorTrainerCallback``: the monitor in a Hugging Face ``Trainer`` (the ``hf`` extra).

It records the model's per-parameter gradients once per optimizer step, after the last
micro-batch of gradient accumulation, unscaled under fp16 mixed precision, and *before* the
Trainer clips them to ``max_grad_norm`` (clipping would hide an explosion), at
``state.global_step`` (the optimizer steps done before this one).

Where the Trainer clips (transformers 5.25.0, accelerate 1.16.0): in
``transformers/trainer.py``, ``Trainer._run_epoch`` runs forward and backward for each
micro-batch of an optimizer step; after the last one (``do_sync_step``, lines 1973-1981) it calls
``self._clip_grad_norm(model)`` when ``args.max_grad_norm > 0`` (else ``_get_grad_norm``, which
measures without clipping), *then* ``callback_handler.on_pre_optimizer_step``, then
``self.optimizer.step()``, then ``on_optimizer_step``, then ``model.zero_grad()``, increments
``global_step`` and calls ``on_step_end``. So every callback event of a step comes after the
clip, or after ``zero_grad``; ``on_substep_end`` follows the micro-batches before the last one
only. ``Trainer._clip_grad_norm`` (line 2825) calls ``Accelerator.clip_grad_norm_``
(``accelerate/accelerator.py``, line 2892), which first unscales the gradients in place under
fp16 (``unscale_gradients``: ``GradScaler.unscale_``) and then, in
``_clip_grad_norm_dtensor_aware`` (line 2863), takes the total norm ``T`` with
``torch.nn.utils.get_total_norm`` and multiplies every gradient in place by
``min(1, max_grad_norm / (T + 1e-6))`` with ``torch.nn.utils.clip_grads_with_norm_``, both
imported from ``torch.nn.utils`` at each call.

Why not undo the clip in ``on_pre_optimizer_step``: the clipped gradient is ``c g`` with that
coefficient ``c``, but ``T`` reaches callbacks only through ``on_log``, at logging steps; and
where ``T`` is inf (the explosion one wants to see) ``c`` is 0, where it is nan ``c`` is nan, so
the clipped gradients are zeros and nans from which ``g`` cannot be recovered. Nor can a callback
hook the clip itself: it gets ``args``, ``state``, ``control``, the model, the optimizer, the
scheduler and the data loaders, never the Trainer or its Accelerator
(huggingface/transformers#38181).

So, while the Trainer trains (``on_train_begin`` to ``on_train_end``), the callback wraps
``torch.nn.utils.clip_grads_with_norm_`` and ``torch.nn.utils.clip_grad_norm_`` (the latter is
what ``_clip_grad_norm_dtensor_aware`` calls where ``torch.distributed`` is unavailable). The
wrapper, called with parameters of the monitored model, records all its gradients once per
optimizer step and then clips exactly as before; called with other parameters, it only clips.
Where no clipping happens (``max_grad_norm`` 0) the callback records in
``on_pre_optimizer_step``: in transformers 5.25 ``_get_grad_norm`` has unscaled the gradients by
then (``Accelerator.clip_grad_norm_`` with an infinite bound); transformers 4.57 makes no such call
without clipping, so there, under fp16 with ``max_grad_norm`` 0, the records are still scaled by
the GradScaler's factor. If the Trainer clipped in a way the wrapper does not see (DeepSpeed, FSDP1's
``model.clip_grad_norm_``), the callback records in ``on_pre_optimizer_step`` and warns once
that those records may be clipped. (Checked with transformers 5.25.0 and 4.57.6.)

The loss: a forward hook on the model keeps the ``loss`` its outputs carry in training mode, and
each recorded step passes the step's loss to the monitor where it keeps losses
(``GradientMonitor.observe_loss``), combined over the micro-batches as the Trainer combines its
own (``Trainer.training_step``, ``Trainer.compute_loss``): summed where the Trainer passed the
step's item count ``num_items_in_batch`` to the model (the model then divides by the step's
count; times the number of processes under ``average_tokens_across_devices``), averaged
otherwise. It is this process's loss, before any label smoothing or ``compute_loss_func``.

Under distributed training every process records (the monitor may reduce across processes), and
only the world process zero (``state.is_world_process_zero``) writes files: the TensorBoard
scalars and the ``save`` file.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.utils as torch_nn_utils
from torch import nn
from torch.utils.hooks import RemovableHandle

from gradtrace.core.errors import SpecError
from gradtrace.monitor.callbacks import MonitorCallbackBase
from gradtrace.monitor.verdict import Thresholds

try:
    from transformers.trainer_callback import TrainerCallback
except ImportError as e:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "GradientMonitorTrainerCallback needs transformers: pip install 'gradtrace[hf]'"
    ) from e

if TYPE_CHECKING:
    from torch.utils.tensorboard import SummaryWriter
    from transformers import TrainerControl, TrainerState, TrainingArguments

__all__ = ["CLIPPERS", "GradientMonitorTrainerCallback"]

CLIPPERS = ("clip_grads_with_norm_", "clip_grad_norm_")
"""The ``torch.nn.utils`` functions wrapped during training: the callback records the gradients
just before they run."""


def _output_dir(args: TrainingArguments) -> str:
    """The Trainer's output folder (it always sets one; the working folder if not)."""
    return args.output_dir or "."


_Clipper = Callable[..., torch.Tensor | None]
"""A ``torch.nn.utils`` clipping function (the norm, or None), or the wrapper around one."""


class GradientMonitorTrainerCallback(MonitorCallbackBase, TrainerCallback):
    """Records the model's gradients at every ``every``-th optimizer step of a ``Trainer``,
    before gradient clipping.

    **Arguments:**
    - ``every``, ``activations``, ``thresholds``: as for ``GradientMonitor``.
    - ``tensorboard``: where ``args.report_to`` includes ``"tensorboard"``, write the records
      as TensorBoard scalars at the end of training, into ``gradtrace/`` under the Trainer's
      TensorBoard folder (``$TENSORBOARD_LOGGING_DIR``, else ``output_dir/runs``): a run of its
      own beside the Trainer's.
    - ``save``: write the run there at the end of training (``.csv``, ``.parquet`` or
      ``.json``; a relative path is under ``args.output_dir``).

    After training, ``callback.monitor`` holds the monitor (``records()``, ``verdict()``,
    ``save(path)``) and ``callback.verdict()`` is its verdict.
    """

    def __init__(
        self,
        every: int = 1,
        *,
        activations: bool = False,
        thresholds: Thresholds | None = None,
        tensorboard: bool = True,
        save: str | Path | None = None,
    ) -> None:
        super().__init__(
            every, activations=activations, thresholds=thresholds, tensorboard=tensorboard
        )
        if save is not None:  # refused now, not after the training
            suffix = Path(save).suffix.lower()
            if suffix not in (".csv", ".parquet", ".json"):
                raise SpecError(
                    f"save must name a .csv, .parquet or .json file, got {str(save)!r}",
                    field="save",
                )
            if suffix == ".parquet" and importlib.util.find_spec("pyarrow") is None:
                raise SpecError(
                    f"save={str(save)!r}: Parquet needs pyarrow (pip install pyarrow); "
                    "or save as .csv or .json",
                    field="save",
                )
        self.save = save
        self._args: TrainingArguments | None = None
        self._state: TrainerState | None = None
        self._params: set[int] = set()  # ids of the monitored model's parameters
        self._clipped_at: int | None = None  # the last step whose clip the wrapper saw
        self._recorded_at: int | None = None  # the last step recorded
        self._wrapped: dict[str, tuple[_Clipper, _Clipper]] = {}  # name -> (original, wrapper)
        self._warned = False
        self._losses: list[torch.Tensor] = []  # this step's micro-batch losses
        self._by_items = False  # the model divided by the step's item count
        self._loss_hook: RemovableHandle | None = None

    # ---- the Trainer's events --------------------------------------------------------------

    def on_train_begin(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        **kwargs: object,
    ) -> None:
        """Create the monitor on the Trainer's model; wrap the clipping functions."""
        model = kwargs.get("model")
        if not isinstance(model, nn.Module):
            raise ValueError(
                f"GradientMonitorTrainerCallback needs the Trainer's model, got {type(model).__name__}"
            )
        self._args, self._state = args, state
        self._start(model)
        self._params = {id(p) for p in model.parameters()}
        self._clipped_at = self._recorded_at = None
        self._warned = False
        self._losses.clear()
        if self._loss_hook is not None:
            self._loss_hook.remove()
        self._loss_hook = model.register_forward_hook(self._keep_loss, with_kwargs=True)
        self._wrap()

    def on_step_begin(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        **kwargs: object,
    ) -> None:
        """A new optimizer step: its first micro-batch is about to run."""
        self._losses.clear()

    def on_pre_optimizer_step(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        **kwargs: object,
    ) -> None:
        """Record here when the clip was not seen (no clipping, or clipping out of sight)."""
        step = int(state.global_step)
        if self._clipped_at != step and args.max_grad_norm > 0 and not self._warned:
            self._warned = True
            warnings.warn(
                f"GradientMonitorTrainerCallback did not see the Trainer clip the gradients "
                f"(max_grad_norm={args.max_grad_norm}) through torch.nn.utils (DeepSpeed? "
                f"FSDP1?): its records from step {step} on are taken after clipping",
                RuntimeWarning,
                stacklevel=2,
            )
        self._record_step(step)

    def on_train_end(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        **kwargs: object,
    ) -> None:
        """Unwrap, remove the hooks; on world process zero, write the scalars and the file."""
        self._unwrap()
        if self._loss_hook is not None:
            self._loss_hook.remove()
            self._loss_hook = None
        main = bool(state.is_world_process_zero)
        writer = self._writer(args) if main and self.tensorboard else None
        try:
            self._finish(writer, main_process=main)
        finally:
            if writer is not None:
                writer.close()
        if main and self.save is not None and self.monitor is not None:
            self.monitor.save(Path(_output_dir(args)) / Path(self.save))

    # ---- recording ---------------------------------------------------------------------------

    def _record_step(self, step: int) -> None:
        """Record optimizer step ``step`` once (every ``every``-th), with its loss."""
        if self._recorded_at == step or not self._due(step):
            return
        self._recorded_at = step
        self._record(step, self._step_loss())
        self._losses.clear()

    def _before_clip(self, parameters: list[torch.Tensor]) -> None:
        """Called by the wrapped clipping functions before they clip ``parameters``."""
        if self._state is None or not any(id(p) in self._params for p in parameters):
            return
        step = int(self._state.global_step)
        self._clipped_at = step
        self._record_step(step)

    def _keep_loss(
        self,
        module: nn.Module,
        args: tuple[object, ...],
        kwargs: dict[str, object],
        output: object,
    ) -> None:
        """Forward hook: keep a training forward's ``loss``."""
        if not (module.training and torch.is_grad_enabled()):
            return
        loss = output.get("loss") if isinstance(output, Mapping) else getattr(output, "loss", None)
        if isinstance(loss, torch.Tensor) and loss.numel():
            # mean: DataParallel gathers one loss per GPU
            self._losses.append(loss.detach().float().mean())
            self._by_items = kwargs.get("num_items_in_batch") is not None

    def _step_loss(self) -> float | None:
        """The step's loss from its micro-batches' losses (see the module docstring)."""
        if not self._losses:
            return None
        losses = torch.stack(self._losses).to(torch.float64)
        if not self._by_items:
            return float(losses.mean())
        # the Trainer's count is over all processes; it scales each process's loss back up
        args = self._args
        across = args is not None and getattr(args, "average_tokens_across_devices", False)
        return float(losses.sum()) * (args.world_size if args is not None and across else 1)

    # ---- wrapping the clip -------------------------------------------------------------------

    def _wrap(self) -> None:
        """Replace the ``CLIPPERS`` in ``torch.nn.utils`` by recording ones (once)."""
        for name in CLIPPERS:
            if name in self._wrapped or not hasattr(torch_nn_utils, name):
                continue
            original = getattr(torch_nn_utils, name)

            def clip(
                parameters: torch.Tensor | Iterable[torch.Tensor],
                *args: object,
                _original: _Clipper = original,
                **kwargs: object,
            ) -> torch.Tensor | None:
                params = [parameters] if isinstance(parameters, torch.Tensor) else list(parameters)
                self._before_clip(params)
                return _original(params, *args, **kwargs)

            functools.update_wrapper(clip, original)
            setattr(torch_nn_utils, name, clip)
            self._wrapped[name] = (original, clip)

    def _unwrap(self) -> None:
        """Put the original functions back (where nobody wrapped them again since)."""
        for name, (original, clip) in list(self._wrapped.items()):
            if getattr(torch_nn_utils, name) is clip:
                setattr(torch_nn_utils, name, original)
                del self._wrapped[name]
        self._state = None  # a wrapper that stays (wrapped again by another) records no more

    # ---- outputs -----------------------------------------------------------------------------

    def _writer(self, args: TrainingArguments) -> SummaryWriter | None:
        """A ``SummaryWriter`` beside the Trainer's TensorBoard run, or None without one."""
        if "tensorboard" not in (args.report_to or []):
            return None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ImportError(
                "TensorBoard scalars need tensorboard: pip install tensorboard"
            ) from None
        root = os.environ.get("TENSORBOARD_LOGGING_DIR") or os.path.join(_output_dir(args), "runs")
        return SummaryWriter(log_dir=os.path.join(os.path.expanduser(root), "gradtrace"))
