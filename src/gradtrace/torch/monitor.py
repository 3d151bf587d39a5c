"""``GradientMonitor``: exact per-parameter gradient records of a PyTorch model, cheaply.

Each recorded step costs one batch of fused reductions on the parameters' device and no copy:
``torch._foreach_norm`` over the gradients (the 2-norm and, on a GPU, the inf-norm, i.e.
``max |g_i|``; on the CPU one ``aminmax`` per tensor, see ``_max_abs``) and over the weights,
stacked into one tensor of shape ``(3, n)`` for ``n`` parameters. The
tensor stays where it is; it is turned into Python numbers (one ``.cpu()`` per step, in one
batch) only when ``records()``, ``verdict()``, ``to_frame()`` or ``save()`` asks, or every
``FLUSH_EVERY`` recorded steps. A non-finite entry makes its tensor's norm non-finite, so the
exact count ``nonfinite`` needs a second pass only over the tensors whose norm came out inf or
nan; checking for that is one more reduction over the ``(3, n)`` stack (on a GPU this reads one
flag back, a synchronization per recorded step; ``every=10`` makes that one in ten). In that
pass, a tensor with no inf/nan entry whose float32 norm overflowed (entries above ~1e19) gets
its exact norm recomputed in float64, scaled by its max-abs (``_exact_norms``), so huge but
finite gradients are recorded as finite and judged as exploding, not as non-finite.

When it records: ``attach(optimizer)`` registers ``optimizer.register_step_pre_hook``, which
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
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import torch
from torch import nn

from gradtrace.errors import SpecError
from gradtrace.torch.records import (
    RECORD_KEYS,
    MlpShape,
    MonitorRun,
    Record,
    save_run,
)
from gradtrace.torch.verdict import Thresholds, Verdict, judge

__all__ = ["FLUSH_EVERY", "SATURATION", "GradientMonitor", "mlp_shape"]

FLUSH_EVERY = 256
"""Recorded steps kept as tensors before they are turned into records."""

SATURATION = {"sigmoid": 0.49, "tanh": 0.99}
"""A sigmoid output is saturated when ``|a - 1/2| > 0.49`` (then ``s'(z) < 0.0099``, under 4 %
of its maximum 1/4); a tanh output when ``|a| > 0.99`` (then ``tanh'(z) < 0.02``)."""

_ACTIVATIONS: dict[type[nn.Module], str] = {nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.ReLU: "relu"}
_PASSIVE = (nn.Flatten, nn.Identity, nn.Dropout)  # no parameters, no effect on the mean field


@dataclass
class _Pending:
    """One recorded step, still as tensors."""

    step: int
    names: list[str]
    stats: torch.Tensor  # (3, n): grad 2-norm, grad max |g|, weight 2-norm
    nonfinite: dict[int, int]  # column -> count, only where non-zero
    skipped: bool | None = None  # None: no scaler attached
    update: torch.Tensor | None = None  # (n,) ||w_after - w_before||, once the step ran
    before: list[torch.Tensor] | None = None  # weights before the step (track_updates)
    params: list[torch.Tensor] = field(default_factory=list)  # the parameters (track_updates)
    activations: list[tuple[str, str, torch.Tensor]] = field(default_factory=list)


def _norms(tensors: list[torch.Tensor], order: float) -> list[torch.Tensor]:
    """Per-tensor vector norms in one fused call, accumulated in float32 at least."""
    dtypes = {t.dtype for t in tensors}
    if dtypes <= {torch.float32, torch.float64} and len(dtypes) == 1:
        return list(torch._foreach_norm(tensors, order))
    if dtypes <= {torch.float16, torch.bfloat16, torch.float32}:
        return list(torch._foreach_norm(tensors, order, dtype=torch.float32))
    return [torch.linalg.vector_norm(t, order).to(torch.float64) for t in tensors]


def _max_abs(tensors: list[torch.Tensor]) -> torch.Tensor:
    """``max |t_i|`` of each tensor, shape (n,). On a GPU the fused inf-norm is one kernel
    launch; on the CPU ``_foreach_norm(ord=inf)`` takes a slow path (2.2 ms for the benchmark's
    MLP against 0.12 ms for one ``aminmax`` per tensor, a single vectorized pass), so the CPU
    takes ``max(-min, max)`` from ``aminmax`` (nan propagates through both)."""
    if tensors[0].device.type != "cpu":
        return torch.stack(_norms(tensors, math.inf)).abs()
    lo, hi = [], []
    for t in tensors:
        if t.numel():
            a, b = torch.aminmax(t)
        else:  # aminmax refuses empty tensors; their max |t| is 0
            a = b = t.new_zeros(())
        lo.append(a)
        hi.append(b)
    # abs(): max(-min, max) is >= 0, but comes out -0.0 for an all-zero tensor
    return torch.maximum(torch.stack(lo).neg(), torch.stack(hi)).abs()


def _exact_norms(t: torch.Tensor) -> torch.Tensor:
    """``(||t||_2, max |t_i|)`` of a finite tensor, in float64, without overflow: the sum of
    squares is taken of ``t / max|t_i|`` (entries in [-1, 1]) and scaled back, so a float32
    gradient whose squares overflow float32 (and even float64) gets its exact norm."""
    x = t.detach().to(torch.float64)
    m = x.abs().max() if x.numel() else x.new_zeros(())
    if not m > 0:
        return torch.stack([m, m])
    return torch.stack([torch.linalg.vector_norm(x / m) * m, m])


def mlp_shape(model: nn.Module) -> MlpShape | None:
    """The model as a plain MLP for the mean-field comparison, or None when it is not one:
    its leaf modules, in registration order, must be ``Linear (act Linear)*`` with at least two
    Linear layers and one activation kind (sigmoid, tanh or relu); Flatten, Identity and Dropout
    are ignored. ``sigma_w2 = fan_in mean(W^2)`` and ``sigma_b2 = mean(b^2)``, averaged over the
    Linear layers after the first (those whose input is a hidden layer)."""
    leaves = [
        (name, m)
        for name, m in model.named_modules()
        if not list(m.children()) and not isinstance(m, _PASSIVE)
    ]
    if len(leaves) < 3 or len(leaves) % 2 == 0:
        return None
    linears = leaves[0::2]
    acts = {type(m) for _, m in leaves[1::2]}
    if not all(type(m) is nn.Linear for _, m in linears) or len(acts) != 1:
        return None
    kind = _ACTIVATIONS.get(acts.pop())
    if kind is None:
        return None
    names = {id(p): n for n, p in model.named_parameters()}
    sw, sb = [], []
    with torch.no_grad():
        for _, lin in linears[1:]:
            assert isinstance(lin, nn.Linear)
            w = lin.weight.detach().to(torch.float64)
            sw.append(w.shape[1] * float(w.pow(2).mean()))
            sb.append(
                float(lin.bias.detach().to(torch.float64).pow(2).mean())
                if lin.bias is not None
                else 0.0
            )
    weights = tuple(names[id(lin.weight)] for _, lin in linears if isinstance(lin, nn.Linear))
    return MlpShape(kind, weights, sum(sw) / len(sw), sum(sb) / len(sb))


class GradientMonitor:
    """Per-parameter gradient records of ``model`` and a verdict on them.

    **Arguments:**
    - ``model``: the ``nn.Module`` whose ``named_parameters()`` name the records.
    - ``every``: record every ``every``-th optimizer step (steps 0, every, 2 every, ...).
    - ``track_updates``: also record ``update_ratio = ||w_after - w_before|| / ||w_before||``
      (keeps a copy of the weights during each recorded step).
    - ``activations``: forward hooks on ``nn.Sigmoid``, ``nn.Tanh`` and ``nn.ReLU`` modules
      record, per recorded step, the saturated fraction (``SATURATION``) or the dead fraction
      (units that are 0 for every sample of the batch) of the last training-mode forward pass.
      Functional activations (``torch.relu(x)``) are not seen.
    - ``thresholds``: the verdict's ``Thresholds``.

    Nothing is recorded until ``attach`` or ``record`` (activation hooks, when asked for, are
    registered at once but only keep the latest fraction).
    """

    def __init__(
        self,
        model: nn.Module,
        every: int = 1,
        *,
        track_updates: bool = False,
        activations: bool = False,
        thresholds: Thresholds | None = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise SpecError(
                f"model must be a torch.nn.Module, got {type(model).__name__}", field="model"
            )
        if not isinstance(every, int) or isinstance(every, bool) or every < 1:
            raise SpecError(f"every must be a whole number >= 1, got {every!r}", field="every")
        self.model = model
        self.every = every
        self.track_updates = track_updates
        self.thresholds = thresholds or Thresholds()
        self.mlp = mlp_shape(model)
        self._names = {id(p): n for n, p in model.named_parameters()}
        self._params = [p for _, p in model.named_parameters()]
        self._hooks: list[Any] = []
        self._attached: dict[int, torch.optim.Optimizer] = {}
        self._counts: dict[int | None, int] = {}
        self._fired: dict[int, bool] = {}
        self._scalers: dict[int, tuple[Any, Callable[..., Any]]] = {}
        self._scaled: set[int] = set()  # optimizers attached with a scaler
        self._pending: list[_Pending] = []
        self._open: dict[int, _Pending] = {}  # optimizer -> its step in progress (track_updates)
        self._records: list[Record] = []
        self._activations: list[Record] = []
        self._latest: dict[str, tuple[str, torch.Tensor]] = {}
        if activations:
            for name, module in model.named_modules():
                kind = _ACTIVATIONS.get(type(module))
                if kind is not None:
                    self._hooks.append(module.register_forward_hook(self._forward_hook(name, kind)))

    # ---- attaching -----------------------------------------------------------------------------

    def attach(self, optimizer: torch.optim.Optimizer, *, scaler: Any = None) -> GradientMonitor:
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
        self._counts.setdefault(key, 0)
        self._hooks.append(optimizer.register_step_pre_hook(self._pre_hook))
        if self.track_updates:
            self._hooks.append(optimizer.register_step_post_hook(self._post_hook))
        if scaler is not None:
            self._scaled.add(key)
            self._wrap(scaler)
        return self

    def _wrap(self, scaler: Any) -> None:
        """Replace ``scaler.step`` (on this instance only) by one that notices a skipped step."""
        if id(scaler) in self._scalers:
            return
        original = scaler.step

        def step(optimizer: torch.optim.Optimizer, *args: Any, **kwargs: Any) -> Any:
            key = id(optimizer)
            if key not in self._attached:
                return original(optimizer, *args, **kwargs)
            self._fired[key] = False
            out = original(optimizer, *args, **kwargs)
            if not self._fired[key]:  # the scaler found inf/nan and skipped optimizer.step()
                self._step_of(optimizer, skipped=True)
            return out

        scaler.step = step
        self._scalers[id(scaler)] = (scaler, original)

    def detach(self) -> None:
        """Remove every hook (optimizers, activation modules) and restore wrapped scalers."""
        for h in self._hooks:
            h.remove()
        self._hooks.clear()
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

    # ---- recording -----------------------------------------------------------------------------

    def _pre_hook(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        key = id(optimizer)
        self._fired[key] = True
        self._step_of(optimizer, skipped=False if key in self._scaled else None)

    def _step_of(self, optimizer: torch.optim.Optimizer, *, skipped: bool | None) -> None:
        key = id(optimizer)
        step = self._counts[key]
        self._counts[key] = step + 1
        if step % self.every:
            return
        owned = [p for group in optimizer.param_groups for p in group["params"]]
        entry = self._capture(step, owned, skipped=skipped, copy=self.track_updates and not skipped)
        if entry is not None and self.track_updates:
            if skipped:
                entry.update = torch.zeros(len(entry.names), dtype=torch.float64)
            else:
                self._open[key] = entry

    def _post_hook(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        entry = self._open.pop(id(optimizer), None)
        if entry is None or entry.before is None:
            return
        with torch.no_grad():
            delta = list(torch._foreach_sub(entry.params, entry.before))
            entry.update = torch.stack(_norms(delta, 2.0))
        entry.before, entry.params = None, []

    def record(self, *, step: int | None = None) -> None:
        """Record the current ``.grad`` of every trainable model parameter that has one, now
        (for custom loops; attached optimizers record by themselves). ``step`` defaults to the
        number of earlier ``record()`` calls. Update ratios need an attached optimizer (its
        post-step hook): here they are nan."""
        count = self._counts.get(None, 0)
        self._counts[None] = count + 1
        self._capture(count if step is None else int(step), self._params, skipped=None, copy=False)

    @torch.no_grad()
    def _capture(
        self, step: int, params: Iterable[torch.Tensor], *, skipped: bool | None, copy: bool
    ) -> _Pending | None:
        ps = [p for p in params if id(p) in self._names and p.requires_grad and p.grad is not None]
        acts = [(n, kind, v) for n, (kind, v) in self._latest.items()]
        self._latest.clear()
        if not ps and not acts:
            return None
        names = [self._names[id(p)] for p in ps]
        if ps:
            grads = [p.grad for p in ps if p.grad is not None]
            weights = ps  # under no_grad: no graph is recorded
            # the fused reductions, stacked: (3, n)
            g2 = torch.stack(_norms(grads, 2.0))
            stats = torch.stack(
                [g2, _max_abs(grads).to(g2.dtype), torch.stack(_norms(weights, 2.0)).to(g2.dtype)]
            )
            nonfinite: dict[int, int] = {}
            if not bool(torch.isfinite(stats[:2]).all()):  # rare: count exactly where it is
                stats = stats.to(torch.float64)  # room for norms beyond float32's range
                bad = (~torch.isfinite(stats[:2])).any(dim=0).nonzero().flatten().tolist()
                for i in bad:
                    count = int((~torch.isfinite(grads[i])).sum())
                    if count:
                        nonfinite[i] = count
                    else:  # all finite: the float32 norm overflowed (entries > ~1e19)
                        stats[:2, i] = _exact_norms(grads[i])
        else:
            stats, nonfinite = torch.zeros((3, 0)), {}
        entry = _Pending(step, names, stats, nonfinite, skipped, activations=acts)
        if copy and ps:  # the weights before the step, for the update ratio
            entry.before = list(torch._foreach_mul(ps, 1.0))  # a copy
            entry.params = ps
        self._pending.append(entry)
        if len(self._pending) >= FLUSH_EVERY:
            self._flush(keep_open=True)
        return entry

    def _forward_hook(self, name: str, kind: str) -> Callable[..., None]:
        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            if not (module.training and torch.is_grad_enabled()) or not isinstance(
                output, torch.Tensor
            ):
                return
            a = output.detach()
            if kind == "relu":
                # a unit is dead when it is 0 for every sample of the batch: (B, ...) -> (units,)
                alive = (a.reshape(a.shape[0], -1) > 0).any(dim=0) if a.dim() > 1 else (a > 0).any()
                fraction = 1.0 - alive.to(torch.float32).mean()
                self._latest[name] = ("dead", fraction)
            else:
                centre = 0.5 if kind == "sigmoid" else 0.0
                far = (a - centre).abs() > SATURATION[kind]
                self._latest[name] = ("saturated", far.to(torch.float32).mean())

        return hook

    # ---- reading -------------------------------------------------------------------------------

    def _flush(self, *, keep_open: bool = False) -> None:
        """Turn pending steps into records (one ``.cpu()`` per step). With ``keep_open``, steps
        still waiting for their update ratio stay pending."""
        waiting = {id(e) for e in self._open.values()} if keep_open else set()
        keep = [e for e in self._pending if id(e) in waiting]
        for e in self._pending:
            if id(e) in waiting:
                continue
            g2, ginf, w2 = e.stats.to("cpu", torch.float64).tolist() if e.names else ([], [], [])
            upd = e.update.to("cpu", torch.float64).tolist() if e.update is not None else None
            for i, name in enumerate(e.names):
                r: Record = {
                    "step": e.step,
                    "name": name,
                    "grad_norm": g2[i],
                    "grad_max_abs": ginf[i],
                    "weight_norm": w2[i],
                    "nonfinite": e.nonfinite.get(i, 0),
                }
                if self.track_updates:
                    r["update_ratio"] = (
                        (upd[i] / w2[i] if w2[i] > 0 else math.inf if upd[i] > 0 else 0.0)
                        if upd is not None
                        else math.nan
                    )
                if e.skipped is not None:
                    r["skipped"] = e.skipped
                self._records.append(r)
            for module, kind, v in e.activations:
                self._activations.append(
                    {"step": e.step, "name": module, "kind": kind, "fraction": float(v)}
                )
        self._pending = keep

    def records(self) -> list[Record]:
        """One dict per (recorded step, parameter), in recording order: ``"step"``, ``"name"``,
        ``"grad_norm"``, ``"grad_max_abs"``, ``"weight_norm"``, ``"nonfinite"``, and
        ``"update_ratio"`` (``track_updates``) and ``"skipped"`` (a scaler attached) when
        tracked. See ``gradtrace.torch.records``."""
        self._flush(keep_open=True)
        return [dict(r) for r in self._records]

    def activation_records(self) -> list[Record]:
        """One dict per (recorded step, activation module): ``"step"``, ``"name"``,
        ``"kind"`` (``"saturated"`` or ``"dead"``) and ``"fraction"``."""
        self._flush(keep_open=True)
        return [dict(a) for a in self._activations]

    def run(self) -> MonitorRun:
        """The records, the activation records, the MLP shape and the model's parameters that
        got no record (no gradient at any recorded step) as one ``MonitorRun``."""
        records = self.records()
        seen = {r["name"] for r in records}
        unrecorded = [n for n in self._names.values() if n not in seen]
        return MonitorRun(records, self.activation_records(), self.mlp, unrecorded)

    def verdict(self, thresholds: Thresholds | None = None) -> Verdict:
        """The verdict on what was recorded so far (``gradtrace.torch.verdict.judge``)."""
        return judge(self.run(), thresholds or self.thresholds)

    def to_frame(self) -> Any:
        """The records as a pandas DataFrame, one row per record (pandas: the ``torch`` extra)."""
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
        ``gradtrace monitor-report PATH`` renders it."""
        return save_run(self.run(), path)
