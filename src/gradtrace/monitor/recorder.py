"""``GradientMonitor``: exact per-parameter gradient records of a PyTorch model, cheaply, with no
host read inside a training step, and exact under data parallelism.

**When it records.** ``attach(optimizer)`` registers ``optimizer.register_step_pre_hook``, which
runs inside ``optimizer.step()``, after backward and before the update, for any optimizer. So
under gradient accumulation there is one record per optimizer step, not per micro-batch, and
``zero_grad`` cannot have run yet. Only the optimizer's own parameters that belong to the model
are recorded, and only those with ``requires_grad`` and a gradient: a parameter without one is
skipped, not counted as zero. Under ``torch.amp.GradScaler``, ``attach(optimizer,
scaler=scaler)``: ``scaler.step`` unscales the gradients in place before it calls
``optimizer.step()``, so the hook sees true gradients; when the scaler finds inf/nan it skips
``optimizer.step()``, and the monitor then records the (unscaled) gradients itself, with
``skipped=True``. (Optimizers with their own scale handling, such as ``fused=True`` Adam, unscale
inside their step: call ``scaler.unscale_(optimizer)`` before ``scaler.step`` with those.)

**What a recorded step costs** (the design; measurements in docs/benchmarks.md). On this
project's CPU benchmark MLP (10 Linear 256x256, a 6-9 ms AdamW step) one pass over the gradients'
memory costs 115-170 us, about 2 % of the step, so three passes (gradient norm, largest ``|g|``,
weight norm) cannot fit a 3 % budget. Every recorded step therefore makes one pass, the exact and
overflow-free gradient 2-norm (BLAS ``nrm2`` on the CPU, a fused float64 ``_foreach_norm``
elsewhere: ``_stats``), which is what the verdict needs at every step, and detects inf/nan from
it. ``max |g|`` and ``||w||`` are measured at every ``detail_every``-th recorded step only
(``||w||`` at every recorded step with ``track_updates``, for the update ratio), and are nan in
the other records; activation statistics are sampled at the same detail steps
(``_activations``). A cheaper norm would not be exact: torch's float32 norm on the CPU returns 0
for a gradient of entries 1e-25 and inf for entries 1e20; a numba loop (700 us) and a float64
``_foreach_norm`` on the CPU (350-550 us) are slower than BLAS.

**No host read in a step.** A step's statistics (``_step``) are float64 tensors on the
parameters' device (the device path) or Python floats that BLAS returned (the CPU path, where
there is no device to wait for); nothing on a device is read until a flush (every
``FLUSH_EVERY`` recorded steps, or when ``records()``, ``activation_records()``, ``context()``,
``run()``, ``verdict()``, ``to_frame()`` or ``save()`` asks), which copies all pending steps in
one transfer. Non-finite detection on a device is itself a device op (``~isfinite`` of the
norms); the CPU path counts inf/nan entries exactly, reading only the rare tensors whose norm
came out non-finite. The lr read for ``RunContext`` is the optimizer's Python number (a tensor
lr is kept as a tensor until ``context()``).

**Under torch.distributed** (DDP, FSDP2; ``distributed``): the records are those of the full
parameters, reduced from every rank's shard statistics with one ``all_gather`` per recorded step
(after the optimizer step under ``track_updates``, so that the weights' change travels with the
rest), and are identical on every rank; names are the user's (``_model.user_name``); ``save``
writes on rank 0 only.

Modules: ``_stats`` (per-tensor statistics, reductions over ranks), ``_step`` (one recorded
step, to records), ``distributed`` (shards and the collective), ``_activations`` (sampled
activation hooks), ``_model`` (names, structure, cancelled biases, the MLP shape).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from gradtrace.core.errors import SpecError
from gradtrace.monitor import _model, distributed
from gradtrace.monitor._activations import SATURATION, ActivationProbe
from gradtrace.monitor._model import mlp_shape
from gradtrace.monitor._step import Step, add_update, capture, records_of, reduce, to_host
from gradtrace.monitor.records import (
    RECORD_KEYS,
    MonitorRun,
    Record,
    RunContext,
    save_run,
)
from gradtrace.monitor.verdict import Thresholds, Verdict, judge

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DETAIL_EVERY", "FLUSH_EVERY", "SATURATION", "GradientMonitor", "mlp_shape"]

FLUSH_EVERY = 256
"""Recorded steps kept on the device before they are turned into records."""
DETAIL_EVERY = 10
"""The default ``detail_every``: ``max |g|``, ``||w||`` and activations at every 10th record."""

F64 = torch.float64


def _whole(x: object, name: str) -> int:
    if not isinstance(x, int) or isinstance(x, bool) or x < 1:
        raise SpecError(f"{name} must be a whole number >= 1, got {x!r}", field=name)
    return x


class GradientMonitor:
    """Per-parameter gradient records of ``model`` and a verdict on them.

    **Arguments:**
    - ``model``: the ``nn.Module`` whose ``named_parameters()`` name the records (the user's
      names: DDP's ``module.``, ``torch.compile``'s ``_orig_mod.``, FSDP1's and activation
      checkpointing's wrapper components are dropped).
    - ``every``: record every ``every``-th optimizer step (steps 0, every, 2 every, ...).
    - ``detail_every``: measure ``grad_max_abs`` and ``weight_norm`` (and the activation
      fractions) at every ``detail_every``-th recorded step, the first included; they are nan in
      the other records (``weight_norm`` is measured at every recorded step with
      ``track_updates``). ``grad_norm`` and ``nonfinite`` are measured at every recorded step.
    - ``track_updates``: also record ``update_ratio = ||w_after - w_before|| / ||w_before||``
      (keeps a copy of the weights during each recorded step).
    - ``activations``: forward hooks on ``nn.Sigmoid``, ``nn.Tanh`` and ``nn.ReLU`` modules
      record, at each detail step, the saturated fraction (``SATURATION``) or the dead fraction
      (units that are exactly 0 for every sample of the batch; nan is not 0) of the last
      training-mode forward pass before it; the hooks measure nothing in the other passes.
      Functional activations (``torch.relu(x)``) are not seen.
    - ``count_nonfinite``: ``nonfinite`` is the exact number of inf/nan entries of a gradient on
      the CPU always; on other devices it is 1 for "at least one" (the norm is non-finite),
      unless ``count_nonfinite=True``, which counts them in one more pass on the device. Under
      ``torch.distributed`` counts add over shards, and flags take the maximum.
    - ``thresholds``: the verdict's ``Thresholds``.

    ``observe_loss(loss)`` adds the training loss to the records of the coming step.

    Nothing is recorded until ``attach`` or ``record``. Some hooks are registered at once: the
    activation hooks (when asked for), one hook on the first trainable parameter that counts
    backward passes, and, until the first step, hooks that find biases cancelled by a BatchNorm
    (``RunContext.cancelled``; not on a ``torch.compile`` model, where hooks would be traced).
    """

    def __init__(
        self,
        model: nn.Module,
        every: int = 1,
        *,
        detail_every: int = DETAIL_EVERY,
        track_updates: bool = False,
        activations: bool = False,
        count_nonfinite: bool = False,
        thresholds: Thresholds | None = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise SpecError(
                f"model must be a torch.nn.Module, got {type(model).__name__}", field="model"
            )
        self.model = model
        self.every = _whole(every, "every")
        self.detail_every = _whole(detail_every, "detail_every")
        self.track_updates = bool(track_updates)
        self.count_nonfinite = bool(count_nonfinite)
        self.thresholds = thresholds or Thresholds()
        root = _model.unwrap(model)
        self._root = root
        named = _model.named_parameters(root)
        self._names = {i: n for i, (n, _) in named.items()}
        self._params = [p for _, p in named.values()]
        self.mlp = mlp_shape(root)
        self._structure = _model.structure(root)
        self._tied = _model.tied(root)
        self._hooks: list[RemovableHandle] = []
        self._attached: dict[int, torch.optim.Optimizer] = {}
        self._optimizers: list[torch.optim.Optimizer] = []  # every optimizer ever attached
        self._counts: dict[int | None, int] = {}  # optimizer (None: record()) -> steps seen
        self._fired: dict[int, bool] = {}
        # scaler -> (the scaler, its own step method)
        self._scalers: dict[int, tuple[torch.amp.GradScaler, Callable[..., float | None]]] = {}
        self._scaled: set[int] = set()  # optimizers attached with a scaler
        self._pending: list[Step] = []  # reduced steps, on the device
        self._open: dict[int, Step] = {}  # optimizer -> its step waiting for the update
        self._records: list[Record] = []
        self._activations: list[Record] = []
        self._losses: list[Record] = []
        self._loss: tuple[torch.Tensor | float, int] | None = None  # (sum, count) observed
        self._lr: float | None = None
        self._manual = False  # record() was called: every trainable parameter is looked at
        self._recorded: set[str] = set()
        self._backward = 0
        self._mine: dict[int, bool] = {}  # parameter -> whether this rank's shard counts
        self._acts = ActivationProbe(root) if activations else None
        self._cancel = None if _model.is_compiled(model) else _model.CancelledBiasProbe(root)
        first = next((p for p in self._params if p.requires_grad), None)
        # one Python call per backward pass (the hook exists from torch 2.2)
        self._counts_backward = first is not None and hasattr(
            first, "register_post_accumulate_grad_hook"
        )
        if first is not None and self._counts_backward:
            self._hooks.append(first.register_post_accumulate_grad_hook(self._on_backward))

    # ---- attaching -----------------------------------------------------------------------------

    def attach(
        self, optimizer: torch.optim.Optimizer, *, scaler: torch.amp.GradScaler | None = None
    ) -> GradientMonitor:
        """Record before each ``optimizer.step()``, after backward. Several optimizers may be
        attached (each records its own parameters, with its own step count). With a
        ``torch.amp.GradScaler``, pass it as ``scaler`` so that skipped steps are recorded and
        marked. Returns the monitor."""
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise SpecError(
                f"attach needs a torch.optim.Optimizer, got {type(optimizer).__name__}",
                field="optimizer",
            )
        key = id(optimizer)
        if key in self._attached:
            raise SpecError("this optimizer is already attached", field="optimizer")
        self._attached[key] = optimizer
        if optimizer not in self._optimizers:
            self._optimizers.append(optimizer)
        self._counts.setdefault(key, 0)
        self._hooks.append(optimizer.register_step_pre_hook(self._pre_hook))
        if self.track_updates:
            self._hooks.append(optimizer.register_step_post_hook(self._post_hook))
        if scaler is not None:
            self._scaled.add(key)
            self._wrap(scaler)
        return self

    def _wrap(self, scaler: torch.amp.GradScaler) -> None:
        """Replace ``scaler.step`` (on this instance only) by one that notices a skipped step."""
        if id(scaler) in self._scalers:
            return
        original = scaler.step

        def step(optimizer: torch.optim.Optimizer, *args: object, **kwargs: object) -> float | None:
            key = id(optimizer)
            if key not in self._attached:
                return original(optimizer, *args, **kwargs)
            self._fired[key] = False
            out = original(optimizer, *args, **kwargs)
            if not self._fired[key]:  # the scaler found inf/nan and skipped optimizer.step()
                self._step_of(optimizer, skipped=True)
            return out

        scaler.step = step  # type: ignore[method-assign]  # this instance only; detach restores it
        self._scalers[id(scaler)] = (scaler, original)

    def detach(self) -> None:
        """Remove every hook (optimizers, activation modules, parameters) and restore wrapped
        scalers. The records stay readable."""
        for h in self._hooks:
            h.remove()
        self._hooks.clear()
        if self._acts is not None:
            self._acts.remove()
        if self._cancel is not None:
            self._cancel.stop()
        for scaler, _ in self._scalers.values():
            del scaler.step  # the class's own method again
        self._scalers.clear()
        self._attached.clear()

    def __enter__(self) -> GradientMonitor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.detach()

    # ---- observing -----------------------------------------------------------------------------

    def observe_loss(self, loss: torch.Tensor | float) -> None:
        """Keep ``loss`` (a scalar tensor, detached here, or a number) for the coming optimizer
        step (or ``record()``); nothing is read from the device. Several calls before one step
        (micro-batches) are averaged: pass each micro-batch's unscaled loss. Loss records
        (``MonitorRun.losses``, ``{"step", "loss"}``) exist for recorded steps; under
        ``torch.distributed`` they are the mean over the ranks that observed a loss."""
        if isinstance(loss, torch.Tensor):
            if loss.numel() != 1:
                raise SpecError(
                    f"observe_loss needs a scalar loss, got a tensor of shape {tuple(loss.shape)}",
                    field="loss",
                )
            value: torch.Tensor | float = loss.detach().reshape(()).to(F64)
        elif isinstance(loss, int | float) and not isinstance(loss, bool):
            value = float(loss)
        else:
            raise SpecError(
                f"observe_loss needs a scalar tensor or a number, got {type(loss).__name__}",
                field="loss",
            )
        if self._loss is None:
            self._loss = (value, 1)
        else:
            self._loss = (self._loss[0] + value, self._loss[1] + 1)

    def _on_backward(self, p: torch.Tensor) -> None:
        self._backward += 1

    # ---- recording -----------------------------------------------------------------------------

    def _pre_hook(
        self, optimizer: torch.optim.Optimizer, args: tuple[object, ...], kwargs: dict[str, object]
    ) -> None:
        key = id(optimizer)
        self._fired[key] = True
        self._step_of(optimizer, skipped=False if key in self._scaled else None)

    def _is_detail(self, key: int | None, count: int) -> bool:
        """Whether the ``count``-th step of ``key`` (None: ``record()``) is a detail step."""
        if key is None:
            return count % self.detail_every == 0
        return count % self.every == 0 and (count // self.every) % self.detail_every == 0

    def _arm(self) -> None:
        """Arm the activation hooks when a coming step is a detail step."""
        if self._acts is not None:
            self._acts.arm(
                not self._counts or any(self._is_detail(k, c) for k, c in self._counts.items())
            )

    def _end_probe(self) -> None:
        """At each step: stop the cancelled-bias probe once it has seen a training forward."""
        if self._cancel is not None and self._cancel.seen_training:
            self._cancel.stop()

    def _step_of(self, optimizer: torch.optim.Optimizer, *, skipped: bool | None) -> None:
        key = id(optimizer)
        count = self._counts[key]
        self._counts[key] = count + 1
        self._end_probe()
        loss, self._loss = self._loss, None
        if count % self.every == 0:
            if self._lr is None:
                self._lr = optimizer.param_groups[0].get("lr")
            owned = [p for group in optimizer.param_groups for p in group["params"]]
            keep = self.track_updates and not skipped  # the update ratio needs the weights
            entry = self._capture(count, owned, skipped, self._is_detail(key, count), loss, keep)
            if entry is not None and keep:
                self._open[key] = entry  # reduced after the step, with the weights' change
            elif entry is not None:
                if self.track_updates:  # a skipped step changes nothing
                    add_update(entry)
                self._reduce(entry)
        self._arm()

    def _post_hook(
        self, optimizer: torch.optim.Optimizer, args: tuple[object, ...], kwargs: dict[str, object]
    ) -> None:
        entry = self._open.pop(id(optimizer), None)
        if entry is not None:
            add_update(entry)
            self._reduce(entry)

    def record(self, *, step: int | None = None) -> None:
        """Record the current ``.grad`` of every trainable model parameter that has one, now
        (for custom loops; attached optimizers record by themselves). ``step`` defaults to the
        number of earlier ``record()`` calls; every ``detail_every``-th call is a detail step.
        Update ratios need an attached optimizer (its post-step hook): here they are nan."""
        count = self._counts.get(None, 0)
        self._counts[None] = count + 1
        self._manual = True
        self._end_probe()
        loss, self._loss = self._loss, None
        at = count if step is None else int(step)
        entry = self._capture(at, self._params, None, self._is_detail(None, count), loss, False)
        if entry is not None:
            self._reduce(entry)
        self._arm()

    def _capture(
        self,
        step: int,
        params: Iterable[torch.Tensor],
        skipped: bool | None,
        detail: bool,
        loss: tuple[torch.Tensor | float, int] | None,
        keep_before: bool,
    ) -> Step | None:
        """The model's trainable parameters among ``params`` (with a gradient, in a single
        process), and their step's statistics (``_step.capture``)."""
        rank, size = distributed.world()
        ps: list[torch.Tensor] = []
        names: list[str] = []
        for p in params:  # one loop: this runs at every recorded step
            name = self._names.get(id(p))
            if name is not None and p.requires_grad and (size > 1 or p.grad is not None):
                ps.append(p)
                names.append(name)
        acts = self._acts.take(packed=size > 1) if self._acts is not None and detail else ([], [])
        if size == 1 and not ps and not acts[0] and loss is None:
            return None
        mine = (
            [self._contributes(p, rank, n) for p, n in zip(ps, names, strict=True)]
            if size > 1
            else [True] * len(ps)
        )
        return capture(
            step,
            ps,
            names,
            mine,
            skipped=skipped,
            detail=detail,
            weights=detail or self.track_updates,
            count=self.count_nonfinite,
            loss=loss,
            acts=acts,
            keep_before=keep_before,
            distributed_run=size > 1,
        )

    def _contributes(self, p: torch.Tensor, rank: int, name: str) -> bool:
        mine = self._mine.get(id(p))
        if mine is None:
            mine = self._mine[id(p)] = distributed.contributes(p, rank, name)
        return mine

    def _reduce(self, entry: Step) -> None:
        """Reduce over ranks and keep the step until a flush."""
        reduce(entry, distributed.world()[1], self._acts.fractions if self._acts else None)
        self._pending.append(entry)
        if len(self._pending) >= FLUSH_EVERY:
            self._flush()

    # ---- reading -------------------------------------------------------------------------------

    def _flush(self) -> None:
        """Turn the reduced steps into records: one copy to the host for all of them. Steps
        waiting for their update ratio stay open."""
        done, self._pending = self._pending, []
        to_host(done)
        for e in done:
            records, losses, acts = records_of(e, self.track_updates)
            self._recorded.update(r["name"] for r in records)
            self._records += records
            self._losses += losses
            self._activations += acts
            e.parts = {}

    def records(self) -> list[Record]:
        """One dict per (recorded step, parameter), in recording order: ``"step"``, ``"name"``,
        ``"grad_norm"``, ``"grad_max_abs"``, ``"weight_norm"`` (nan outside detail steps),
        ``"nonfinite"``, and ``"update_ratio"`` (``track_updates``) and ``"skipped"`` (a scaler
        attached) when tracked. See ``gradtrace.monitor.records``."""
        self._flush()
        return [dict(r) for r in self._records]

    def activation_records(self) -> list[Record]:
        """One dict per (detail step, activation module): ``"step"``, ``"name"``, ``"kind"``
        (``"saturated"`` or ``"dead"``) and ``"fraction"``."""
        self._flush()
        return [dict(a) for a in self._activations]

    def context(self) -> RunContext:
        """What the monitor knows of the model and the loop (``RunContext``)."""
        self._flush()
        names = _model.named_parameters(self._root)
        trainable = [(n, p) for n, p in names.values() if p.requires_grad]
        # the parameters a recorded step looks at: its optimizers' (all, for record())
        looked = {id(p) for o in self._optimizers for g in o.param_groups for p in g["params"]}
        unused = (
            tuple(
                n
                for n, p in trainable
                if (self._manual or id(p) in looked) and n not in self._recorded
            )
            if self._records
            else ()
        )
        steps = [c for k, c in self._counts.items() if k is not None]
        lr = self._lr
        return RunContext(
            activations=self._structure["activations"],
            norms=self._structure["norms"],
            residual=self._structure["residual"],
            recurrent=self._structure["recurrent"],
            cancelled=tuple(self._cancel.found) if self._cancel is not None else (),
            frozen=tuple(n for n, p in names.values() if not p.requires_grad),
            unused=unused,
            tied=dict(self._tied),
            optimizers=tuple(type(o).__name__ for o in self._optimizers),
            adaptive=_model.adaptive(self._optimizers),
            lr=None if lr is None else float(lr),
            scaler=bool(self._scaled),
            param_dtypes=self._structure["param_dtypes"],
            backward_passes=self._backward if self._counts_backward else None,
            optimizer_steps=max(steps) if steps else None,
            world_size=distributed.world()[1],
        )

    def run(self) -> MonitorRun:
        """The records, the activation records, the MLP shape, the model's parameters that got
        no record (no gradient at any recorded step), the ``RunContext`` and the loss records,
        as one ``MonitorRun``."""
        records = self.records()
        seen = {r["name"] for r in records}
        unrecorded = [n for n in self._names.values() if n not in seen]
        return MonitorRun(
            records,
            self.activation_records(),
            self.mlp,
            unrecorded,
            self.context(),
            [dict(r) for r in self._losses],
        )

    def verdict(self, thresholds: Thresholds | None = None) -> Verdict:
        """The verdict on what was recorded so far (``gradtrace.monitor.verdict.judge``)."""
        return judge(self.run(), thresholds or self.thresholds)

    def to_frame(self) -> pd.DataFrame:
        """The records as a pandas DataFrame, one row per record (pandas: the ``torch`` extra);
        nan where a value was not measured."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("to_frame needs pandas: pip install 'gradtrace[torch]'") from None
        records = self.records()
        keys = list(RECORD_KEYS) + [
            k for k in ("update_ratio", "skipped") if records and k in records[0]
        ]
        return pd.DataFrame.from_records(records, columns=keys)

    def save(self, path: str | Path) -> Path:
        """Write the run to ``path`` (``.csv``, ``.parquet`` or ``.json``; see ``save_run``);
        ``gradtrace monitor-report PATH`` renders it. Under ``torch.distributed`` only rank 0
        writes (every rank holds the same records); the others write nothing and return the
        path."""
        run = self.run()
        if distributed.world()[0] != 0:
            return Path(path)
        return save_run(run, path)
