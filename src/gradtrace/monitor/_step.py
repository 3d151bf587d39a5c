"""One recorded step of the monitor: from the parameters to its statistics (``_stats``
segments), their reduction over ranks (``distributed``: one collective), and, at a flush, from
statistics to records (one device-to-host copy for all the steps of a flush)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from gradtrace.monitor import distributed
from gradtrace.monitor._stats import (
    MAX,
    NORM,
    SUM,
    Segment,
    as_tensor,
    measure,
    norms,
    reduce_ranks,
)
from gradtrace.monitor.records import Record

__all__ = ["Step", "add_update", "capture", "records_of", "reduce", "to_host"]

F64 = torch.float64
_KEPT = ("grad_norm", "nonfinite", "present", "grad_max_abs", "weight_norm", "update", "loss")
Loss = tuple[torch.Tensor | float, int]  # (sum of the observed losses, how many)


@dataclass
class Step:
    """One recorded step: its segments until reduced over ranks, then its statistics (tensors on
    the device, or floats from the host path) until a flush."""

    step: int
    names: list[str]
    segments: list[Segment]
    skipped: bool | None  # None: no scaler attached
    acts: list[tuple[str, str]]  # (module, kind) of the activation segments
    device: torch.device  # where the statistics are
    before: list[torch.Tensor | None] | None = None  # weights before the step (track_updates)
    params: list[torch.Tensor | None] = field(default_factory=list)  # their parameters
    parts: dict[str, torch.Tensor | list[float]] = field(default_factory=dict)  # key -> values


@torch.no_grad()
def capture(
    step: int,
    ps: list[torch.Tensor],
    names: list[str],
    mine: list[bool],
    *,
    skipped: bool | None,
    detail: bool,
    weights: bool,
    count: bool,
    loss: Loss | None,
    acts: tuple[list[tuple[str, str]], list[Segment]],
    keep_before: bool,
    distributed_run: bool,
) -> Step:
    """The step's partial statistics of the parameters ``ps`` (this rank's shares where ``mine``)
    as segments; nothing is read from a device. ``weights``: measure the weight norms; ``keep_before``: keep a
    copy of the weights for the update ratio."""
    grads: list[torch.Tensor | None]
    local: list[torch.Tensor | None]
    if not distributed_run:  # the fast path: every parameter whole, every one with a gradient
        grads, local = [p.grad for p in ps], list(ps)
    else:
        grads = [
            distributed.local(p.grad) if m and p.grad is not None else None
            for p, m in zip(ps, mine, strict=True)
        ]
        local = [distributed.local(p) if m else None for p, m in zip(ps, mine, strict=True)]
    device = next((g.device for g in grads if g is not None), None) or (
        ps[0].device if ps else torch.device("cpu")
    )
    segments = measure(grads, local if weights else None, detail=detail, count=count, device=device)
    if distributed_run:  # which ranks had a gradient (all, under DDP and FSDP2)
        segments.append(Segment("present", MAX, [float(p.grad is not None) for p in ps]))
    if loss is not None:  # [mean over the micro-batches, 1]
        total, n = loss
        if isinstance(total, torch.Tensor):
            one = torch.ones(1, dtype=F64, device=device)
            segments.append(
                Segment("loss", SUM, torch.cat([(total / n).reshape(1).to(device), one]))
            )
        else:
            segments.append(Segment("loss", SUM, [total / n, 1.0]))
    elif distributed_run:  # every rank sends the same segments: [0, 0] where no loss was seen
        segments.append(Segment("loss", SUM, [0.0, 0.0]))
    modules, act_segments = acts
    entry = Step(step, names, segments + act_segments, skipped, modules, device)
    if keep_before:
        entry.params = [p if m else None for p, m in zip(ps, mine, strict=True)]
        entry.before = [None if w is None else w.clone() for w in local]
    return entry


@torch.no_grad()
def add_update(entry: Step) -> None:
    """After the optimizer step: ``||w_after - w_before||`` of this rank's shares (zeros for a
    step that did not run)."""
    if entry.before is None:
        entry.segments.append(Segment("update", NORM, [0.0] * len(entry.names)))
        return
    after = [None if p is None else distributed.local(p) for p in entry.params]
    delta = [
        None if a is None or b is None else torch.sub(a, b)
        for a, b in zip(after, entry.before, strict=True)
    ]
    entry.segments.append(Segment("update", NORM, norms(delta, entry.device)))
    entry.before, entry.params = None, []


def reduce(
    entry: Step,
    size: int,
    fractions: Callable[[list[tuple[str, str]], dict[str, torch.Tensor], int], torch.Tensor] | None,
) -> None:
    """Reduce the step's segments over ``size`` ranks (one collective when ``size > 1``) and
    keep its statistics in ``entry.parts``; ``fractions`` turns activation segments into the
    modules' fractions."""
    segments = entry.segments
    parts: dict[str, torch.Tensor | list[float]]
    if size > 1:
        flat = torch.cat([s.tensor(entry.device) for s in segments])
        reduced = reduce_ranks(distributed.gather(flat, size), segments)
        lengths = [len(s) for s in segments]
        parts = dict(zip([s.key for s in segments], reduced.split(lengths), strict=True))
    else:
        parts = {s.key: s.values for s in segments}
    entry.parts = {k: parts[k] for k in _KEPT if k in parts}
    if entry.acts and fractions is not None:
        acts = {k: as_tensor(v, entry.device) for k, v in parts.items() if k.startswith("act")}
        entry.parts["fractions"] = fractions(entry.acts, acts, size)
    entry.segments = []


def to_host(steps: list[Step]) -> None:
    """Every statistic of ``steps`` still in a tensor, as floats: one copy to the host."""
    on_device = [
        (e, k, v) for e in steps for k, v in e.parts.items() if isinstance(v, torch.Tensor)
    ]
    if not on_device:
        return
    where = on_device[0][2].device
    host = torch.cat([v.reshape(-1).to(where, F64) for _, _, v in on_device]).cpu().tolist()
    start = 0
    for e, k, v in on_device:
        e.parts[k] = host[start : start + v.numel()]
        start += v.numel()


def records_of(e: Step, track_updates: bool) -> tuple[list[Record], list[Record], list[Record]]:
    """``(records, loss records, activation records)`` of a step whose statistics are on the
    host; nan for what was not measured."""
    parts = {k: v for k, v in e.parts.items() if isinstance(v, list)}
    nan = math.nan
    n = len(e.names)
    ginf = parts.get("grad_max_abs", [nan] * n)
    w2 = parts.get("weight_norm", [nan] * n)
    records: list[Record] = [
        {
            "step": e.step,
            "name": name,
            "grad_norm": g,
            "grad_max_abs": m,
            "weight_norm": w,
            "nonfinite": int(bad),
        }
        for name, g, m, w, bad in zip(
            e.names, parts["grad_norm"], ginf, w2, parts["nonfinite"], strict=True
        )
    ]
    if track_updates:
        upd = parts.get("update", [nan] * n)
        for r, u, w in zip(records, upd, w2, strict=True):
            r["update_ratio"] = u / w if w > 0 else math.inf if u > 0 else 0.0 if u == 0 else nan
    if e.skipped is not None:
        for r in records:
            r["skipped"] = e.skipped
    if "present" in parts:  # under torch.distributed: the parameters some rank had a gradient
        records = [r for r, has in zip(records, parts["present"], strict=True) if has]
    losses: list[Record] = []
    if "loss" in parts and parts["loss"][1] > 0:
        losses.append({"step": e.step, "loss": parts["loss"][0] / parts["loss"][1]})
    acts: list[Record] = [
        {"step": e.step, "name": module, "kind": kind, "fraction": v}
        for (module, kind), v in zip(e.acts, parts.get("fractions", []), strict=True)
    ]
    return records, losses, acts
