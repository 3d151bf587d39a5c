"""Activation statistics, sampled in time: forward hooks on ``nn.Sigmoid``, ``nn.Tanh`` and
``nn.ReLU`` modules that exist only while ``armed`` (the monitor arms them before a detail step
and disarms them after it), so that the other forward passes run without any hook.

* saturated (sigmoid, tanh): the fraction of outputs with ``|a - 1/2| > 0.49`` (sigmoid) or
  ``|a| > 0.99`` (tanh), over every output of the batch (``SATURATION``); a nan output is not
  saturated.
* dead (ReLU): the fraction of units (an output position: every dimension but the batch's)
  that are exactly 0 for every sample of the batch. A ReLU output is >= 0 or nan, so a unit is
  dead when its maximum over the batch is 0; ``amax`` propagates nan, so a unit with a nan
  output is not dead (nan is not 0): it is a non-finite problem, which the gradient records show.
  (One ``amax`` over the batch costs 5 us here for 64 x 256 outputs, against 40 us for
  ``(a != 0).any(0)``.)

The last training-mode forward pass (with gradients enabled) before the recorded step counts;
evaluation passes are not seen. Functional activations (``torch.relu(x)``) are not seen either.

Over ranks (each rank sees its own part of the global batch) both stay exact: a saturated
fraction adds counts and sizes over ranks (``sum_r count_r / sum_r size_r``; the mean of the
ranks' fractions when they hold equal batches), and a unit is dead for the global batch when it
is dead on every rank, so each rank sends its alive mask packed 64 units to a float64 word and
the masks are OR-ed (``_stats.reduce_ranks``): 1/64 of a float per unit, at detail steps only.
The number of units is the same on every rank (the same model).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from gradtrace.monitor._model import named_modules, own_class
from gradtrace.monitor._stats import OR, SUM, Segment

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
    """The forward hooks (while armed) and the latest measurement of each activation module."""

    def __init__(self, root: nn.Module) -> None:
        self._modules = [
            (name, module, _KINDS[own_class(module)])
            for name, module in named_modules(root)
            if own_class(module) in _KINDS
        ]
        self._latest: dict[str, tuple[str, torch.Tensor, int]] = {}  # name -> (kind, value, size)
        self._hooks: list[RemovableHandle] = []
        self.armed = False
        self.arm(True)

    def arm(self, on: bool) -> None:
        """Register the hooks (``on``) or remove them; nothing happens when already so."""
        if on and not self.armed:
            self._hooks = [m.register_forward_hook(self._hook(n, k)) for n, m, k in self._modules]
        elif not on and self.armed:
            self.remove()
        self.armed = on

    def _hook(
        self, name: str, kind: str
    ) -> Callable[[nn.Module, tuple[object, ...], object], None]:
        def hook(module: nn.Module, inputs: tuple[object, ...], output: object) -> None:
            if not (
                module.training and torch.is_grad_enabled() and isinstance(output, torch.Tensor)
            ):
                return
            a = output.detach()
            if a.numel() == 0:
                return
            if kind == "relu":
                # (B, units) -> (units,): the largest output of each unit over the batch
                peak = a.reshape(a.shape[0] if a.dim() else 1, -1).amax(dim=0)
                self._latest[name] = ("dead", peak, peak.numel())
            else:
                centre = 0.5 if kind == "sigmoid" else 0.0
                far = ((a - centre).abs() > SATURATION[kind]).sum()
                self._latest[name] = ("saturated", far, a.numel())

        return hook

    def take(self, *, packed: bool) -> tuple[list[tuple[str, str]], list[Segment]]:
        """The latest measurements as ``(module, kind)`` pairs and their segments, forgetting
        them: ``act.count`` (saturated outputs; alive units, or 0 where ``packed``) and
        ``act.size`` (outputs; units), both added over ranks, and with ``packed`` each dead
        module's alive mask ``act{i}.bits``. Device ops only."""
        if not self._latest:
            return [], []
        modules: list[tuple[str, str]] = []
        counts: list[torch.Tensor] = []
        sizes: list[float] = []
        bits: list[Segment] = []
        for i, (name, (kind, v, size)) in enumerate(self._latest.items()):
            modules.append((name, kind))
            sizes.append(float(size))
            if kind == "saturated":
                counts.append(v)
            elif packed:
                bits.append(Segment(f"act{i}.bits", OR, _pack(v != 0)))
                counts.append(torch.zeros((), dtype=torch.int64, device=v.device))
            else:
                counts.append((v != 0).sum())  # alive units
        self._latest.clear()
        count = torch.stack(counts).to(F64)
        return modules, [Segment("act.count", SUM, count), Segment("act.size", SUM, sizes), *bits]

    @staticmethod
    def fractions(
        modules: list[tuple[str, str]], parts: dict[str, torch.Tensor], world: int
    ) -> torch.Tensor:
        """``(m,)`` float64: each module's fraction from its segments, added over ``world``
        ranks: saturated ``count / size``; dead ``1 - alive / units`` (units: the same on every
        rank, so ``size / world``)."""
        count, size = parts["act.count"], parts["act.size"]
        dead = [kind == "dead" for _, kind in modules]
        if any(f"act{i}.bits" in parts for i in range(len(modules))):
            count = torch.stack(
                [
                    _popcount(parts[f"act{i}.bits"]) if f"act{i}.bits" in parts else count[i]
                    for i in range(len(modules))
                ]
            )
        flags = torch.tensor(dead, dtype=torch.bool).to(count.device, non_blocking=True)
        units = torch.where(flags, size / world, size)
        fraction = count / units
        return torch.where(flags, 1.0 - fraction, fraction)

    def remove(self) -> None:
        """Remove the hooks."""
        for h in self._hooks:
            h.remove()
        self._hooks.clear()
        self.armed = False
