"""Activation statistics, sampled in time: forward hooks on ``nn.Sigmoid``, ``nn.Tanh`` and
``nn.ReLU`` modules that measure only while ``armed`` (the monitor arms them before a detail
step), so that the other forward passes cost one Python call and a flag test per module.

* saturated (sigmoid, tanh): the fraction of outputs with ``|a - 1/2| > 0.49`` (sigmoid) or
  ``|a| > 0.99`` (tanh), over every output of the batch (``SATURATION``); a nan output is not
  saturated.
* dead (ReLU): the fraction of units (an output position: every dimension but the batch's)
  that are exactly 0 for every sample of the batch. A unit with a nan output is not dead (nan is
  not 0): it is a non-finite problem, which the gradient records show.

The last training-mode forward pass (with gradients enabled) before the recorded step counts;
evaluation passes are not seen. Functional activations (``torch.relu(x)``) are not seen either.

Over ranks (each rank sees its own part of the global batch) both stay exact: a saturated
fraction adds counts and sizes over ranks (``sum_r count_r / sum_r size_r``; the mean of the
ranks' fractions when they hold equal batches), and a unit is dead for the global batch when it
is dead on every rank, so each rank sends its alive mask packed 64 units to a float64 word and
the masks are OR-ed (``_stats.reduce_ranks``): 1/64 of a float per unit, at detail steps only.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from gradtrace.torch._model import named_modules, own_class
from gradtrace.torch._stats import MAX, OR, SUM, Segment

__all__ = ["SATURATION", "ActivationProbe"]

SATURATION = {"sigmoid": 0.49, "tanh": 0.99}
"""A sigmoid output is saturated when ``|a - 1/2| > 0.49`` (then ``s'(z) < 0.0099``, under 4 %
of its maximum 1/4); a tanh output when ``|a| > 0.99`` (then ``tanh'(z) < 0.02``)."""

_KINDS: dict[type[nn.Module], str] = {nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.ReLU: "relu"}
F64 = torch.float64


def _pack(alive: torch.Tensor) -> torch.Tensor:
    """A bool mask ``(units,)`` as int64 words (bit ``j`` of word ``i``: unit ``64 i + j``),
    reinterpreted as float64 ``(ceil(units / 64),)``; disjoint bits add without carries."""
    bits = torch.zeros(-(-alive.numel() // 64) * 64, dtype=torch.int64, device=alive.device)
    bits[: alive.numel()] = alive
    shifts = torch.arange(64, dtype=torch.int64, device=alive.device)
    return (bits.view(-1, 64) << shifts).sum(dim=1).view(F64)


def _popcount(words: torch.Tensor) -> torch.Tensor:
    """The number of set bits of float64-viewed int64 words, as a float64 scalar."""
    w = words.contiguous().view(torch.int64)
    shifts = torch.arange(64, dtype=torch.int64, device=w.device)
    return ((w.unsqueeze(-1) >> shifts) & 1).sum().to(F64)  # >> sign-extends; & 1 keeps bit k


class ActivationProbe:
    """The forward hooks and the latest measurement of each activation module."""

    def __init__(self, root: nn.Module) -> None:
        self.armed = True  # measure in the coming forward passes
        self._latest: dict[str, tuple[str, torch.Tensor, int]] = {}  # name -> (kind, value, size)
        self._hooks: list[Any] = []
        for name, module in named_modules(root):
            kind = _KINDS.get(own_class(module))
            if kind is not None:
                self._hooks.append(module.register_forward_hook(self._hook(name, kind)))

    def _hook(self, name: str, kind: str) -> Any:
        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            if not self.armed:
                return
            if not (
                module.training and torch.is_grad_enabled() and isinstance(output, torch.Tensor)
            ):
                return
            a = output.detach()
            if kind == "relu":
                units = a.reshape(a.shape[0] if a.dim() else 1, -1)  # (B, units)
                alive = (units != 0).any(dim=0)  # nan != 0: alive
                self._latest[name] = ("dead", alive, alive.numel())
            else:
                centre = 0.5 if kind == "sigmoid" else 0.0
                far = ((a - centre).abs() > SATURATION[kind]).sum()
                self._latest[name] = ("saturated", far, a.numel())

        return hook

    def take(self, *, packed: bool) -> tuple[list[tuple[str, str]], list[Segment]]:
        """The latest measurements as ``(module, kind)`` pairs and their segments (keys
        ``act{i}``, and ``act{i}.bits`` for packed dead masks), forgetting them. Device ops only."""
        modules: list[tuple[str, str]] = []
        segments: list[Segment] = []
        for i, (name, (kind, v, size)) in enumerate(self._latest.items()):
            modules.append((name, kind))
            total = v.new_full((1,), size, dtype=F64)
            if kind == "saturated":  # [count, size], added over ranks
                segments.append(Segment(f"act{i}", SUM, torch.cat([v.reshape(1).to(F64), total])))
            elif packed:  # the alive mask, OR-ed over ranks; [units]
                segments.append(Segment(f"act{i}.bits", OR, _pack(v)))
                segments.append(Segment(f"act{i}", MAX, total))
            else:  # [dead units, units]
                dead = total - v.sum().to(F64)
                segments.append(Segment(f"act{i}", SUM, torch.cat([dead, total])))
        self._latest.clear()
        return modules, segments

    @staticmethod
    def fractions(modules: list[tuple[str, str]], parts: dict[str, torch.Tensor]) -> torch.Tensor:
        """``(m,)`` float64: each module's fraction from its (reduced) segments."""
        out = []
        for i in range(len(modules)):
            v = parts[f"act{i}"]
            if f"act{i}.bits" in parts:  # dead = units - alive on some rank
                out.append(1.0 - _popcount(parts[f"act{i}.bits"]) / v[0])
            else:
                out.append(v[0] / v[1])
        return torch.stack(out) if out else torch.zeros(0, dtype=F64)

    def remove(self) -> None:
        """Remove the hooks."""
        for h in self._hooks:
            h.remove()
        self._hooks.clear()
