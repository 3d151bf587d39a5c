"""The failure benchmark's machinery: a case's set-up, the remedies applied literally, and one
training run watched by the monitor (``run_case``).

A case builds a ``Trial`` (model, optimizer, data, loss, held-out evaluation) from a ``Setup``.
``Setup`` holds the knobs that the remedies of ``gradtrace.monitor.advice.REMEDIES`` turn;
``apply_remedy`` maps an ``Advice`` to a new ``Setup``. Some knobs are applied here to any model
(learning rate, clipping, warm-up, re-initialization, swapping activation modules, LayerNorm
after hidden linear layers, mixed precision, dropping non-finite samples); the others change
the data or the architecture (standardized targets or inputs, residual connections, a gated
cell), and a case that cannot honour one says so (``Trial.supports``): the remedy then counts as
not fixing it.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypedDict

import torch
from torch import nn

from gradtrace.core.jsontypes import JSON
from gradtrace.monitor.advice import Advice
from gradtrace.monitor.checks import Thresholds
from gradtrace.monitor.recorder import GradientMonitor
from gradtrace.monitor.verdict import Verdict

__all__ = [
    "ARCHITECTURAL",
    "Case",
    "Outcome",
    "Setup",
    "Trial",
    "apply_remedy",
    "reinit",
    "run_case",
    "swap_activations",
]


@dataclass(frozen=True)
class Setup:
    """The knobs the remedies turn (defaults: the case as it is)."""

    lr_factor: float = 1.0  # lower_lr: multiply every group's learning rate
    clip: float | None = None  # clip: clip_grad_norm_ at this before each step
    warmup: int = 0  # warmup: linear warm-up over this many steps
    init: Mapping[str, JSON] | None = None  # init: {"scheme", "sigma_w2", "sigma_b2"}
    activation: str | None = None  # activation: swap activation modules to this kind
    activation_init: str | None = None  # ... and re-initialize with this scheme
    normalize_hidden: bool = False  # normalize(where="hidden"): LayerNorm after hidden Linear
    normalize_inputs: bool = False  # normalize(where="inputs"): standardize the inputs (case)
    residual: bool = False  # residual: skip connections (case)
    scale_targets: bool = False  # scale_targets: standardized targets (case)
    amp: str | None = None  # loss_scale: "GradScaler" (fp16 autocast + scaler) or "bfloat16"
    clean_inputs: bool = False  # check_inputs: drop samples with non-finite inputs or targets
    gated: str | None = None  # gated: "lstm" or "gru" for a plain RNN (case)


ARCHITECTURAL = ("normalize_inputs", "residual", "scale_targets", "gated")
"""The ``Setup`` fields a case must honour itself (``Trial.supports``)."""


class MonitorOptions(TypedDict, total=False):
    """The keyword arguments of ``GradientMonitor`` a case may set."""

    detail_every: int
    track_updates: bool
    activations: bool
    count_nonfinite: bool
    thresholds: Thresholds | None


@dataclass
class Trial:
    """One training set-up, as a case builds it.

    - ``batch(t)``: the step's inputs and targets; ``loss(model, x, y)``: the training loss;
    - ``evaluate(model)``: the held-out loss in the data's own units (targets unscaled),
      computed without gradients: how the benchmark tells whether a remedy helped;
    - ``accumulate``: micro-batches per optimizer step (each from ``batch``);
    - ``autocast``: a dtype for ``torch.autocast`` (the case's own mixed precision), with
      ``scaler`` its GradScaler and ``attach_scaler`` whether the monitor is told about it;
    - ``supports``: the ``ARCHITECTURAL`` knobs this case's build honours;
    - ``monitor``: keyword arguments for ``GradientMonitor``.
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer
    batch: Callable[[int], tuple[torch.Tensor, torch.Tensor]]
    loss: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
    evaluate: Callable[[nn.Module], float]
    steps: int
    accumulate: int = 1
    autocast: torch.dtype | None = None
    scaler: torch.amp.GradScaler | None = None
    attach_scaler: bool = True
    supports: tuple[str, ...] = ()
    monitor: MonitorOptions = field(default_factory=lambda: MonitorOptions())
    attach: bool = True  # False: build the monitor but never attach it (a no-data case)


@dataclass(frozen=True)
class Case:
    """One failure (or healthy baseline) of the benchmark.

    - ``expect``: the status the verdict must give; ``must_name``: parameter or module names
      the verdict must name (in ``Verdict.layers``, or for a healthy run in the findings);
    - ``fix``: the remedy (a word of ``REMEDIES``) that fixes it, None for a healthy run;
    - ``fast``: in the subset the test suite runs;
    - ``held_out``: written apart from the verdict rules (``heldout.HELD_OUT``), to measure how
      the verdict generalizes; the test suite runs it without asserting the monitor's answer.
    """

    name: str
    group: str
    about: str
    build: Callable[[Setup], Trial]
    expect: str
    must_name: tuple[str, ...] = ()
    fix: str | None = None
    fast: bool = False
    seed: int = 0
    held_out: bool = False


@dataclass(frozen=True)
class Outcome:
    """One run of a case: the verdict, the held-out loss before and after training (nan when
    it diverged), the training losses, and the seconds it took."""

    verdict: Verdict
    loss_start: float
    loss_end: float
    losses: list[float]
    seconds: float
    applicable: bool = True  # False: the set-up asked for a knob the case cannot honour


def _number(p: Mapping[str, JSON], key: str, default: float) -> float:
    """The advice parameter ``key`` (a number; ``default`` when absent)."""
    v = p.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ValueError(f"advice parameter {key!r} must be a number, got {v!r}")
    return float(v)


def apply_remedy(setup: Setup, advice: Advice) -> Setup:
    """``setup`` with ``advice`` applied literally (its remedy and parameters)."""
    p, r = advice.params, advice.remedy
    if r == "lower_lr":
        return dataclasses.replace(setup, lr_factor=setup.lr_factor * _number(p, "factor", 0.1))
    if r == "clip":
        return dataclasses.replace(setup, clip=_number(p, "max_norm", 1.0))
    if r == "warmup":
        return dataclasses.replace(setup, warmup=int(_number(p, "steps", 10)))
    if r == "init":
        return dataclasses.replace(setup, init=dict(p))
    if r == "activation":
        init = p.get("init")
        return dataclasses.replace(
            setup, activation=str(p["to"]), activation_init=None if init is None else str(init)
        )
    if r == "normalize":
        if p.get("where", "hidden") == "inputs":
            return dataclasses.replace(setup, normalize_inputs=True)
        return dataclasses.replace(setup, normalize_hidden=True)
    if r == "residual":
        return dataclasses.replace(setup, residual=True)
    if r == "scale_targets":
        return dataclasses.replace(setup, scale_targets=True)
    if r == "loss_scale":
        how = "bfloat16" if p.get("dtype") == "bfloat16" else "GradScaler"
        return dataclasses.replace(setup, amp=how)
    if r == "check_inputs":
        return dataclasses.replace(setup, clean_inputs=True)
    if r == "gated":
        return dataclasses.replace(setup, gated=str(p.get("cell", "lstm")))
    return setup  # check_graph: nothing to apply literally


# ---- remedies on any model -----------------------------------------------------------------------

_WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d)


@torch.no_grad()
def reinit(
    model: nn.Module, scheme: str, sigma_w2: float | None = None, sigma_b2: float = 0.0
) -> None:
    """Re-initialize every Linear/Conv weight: ``"he"`` N(0, 2/fan_in), ``"xavier"``
    N(0, 2/(fan_in + fan_out)), ``"critical"`` N(0, sigma_w2/fan_in), ``"orthogonal"`` (all
    singular values 1); biases N(0, sigma_b2). Recurrent layers (nn.RNN/LSTM/GRU) get
    orthogonal hidden-to-hidden weights whatever the scheme (their gradient then neither grows
    nor shrinks through time at the start: Saxe et al. 2014), Xavier input weights (He for
    ``"he"``) and zero biases."""
    for m in model.modules():
        if isinstance(m, nn.RNNBase):
            for name, p in m.named_parameters():
                if name.startswith("weight_hh"):
                    for block in p.view(-1, p.shape[1], p.shape[1]):  # one square per gate
                        nn.init.orthogonal_(block)
                elif name.startswith("weight_ih"):
                    if scheme == "he":
                        nn.init.kaiming_normal_(p)
                    else:
                        nn.init.xavier_normal_(p)
                else:
                    p.zero_()
            continue
        if not isinstance(m, _WEIGHTED):
            continue
        w = m.weight
        fan_in = w[0].numel()
        fan_out = w.shape[0] * (w[0][0].numel() if w.dim() > 2 else 1)
        if scheme == "orthogonal":
            nn.init.orthogonal_(w)
            var = None
        elif scheme == "he":
            var = 2.0 / fan_in
        elif scheme == "xavier":
            var = 2.0 / (fan_in + fan_out)
        elif scheme == "critical":
            var = float(sigma_w2 if sigma_w2 is not None else 1.0) / fan_in
        else:
            raise ValueError(f"unknown init scheme {scheme!r}")
        if var is not None:
            w.normal_(0.0, math.sqrt(var))
        if m.bias is not None:
            if sigma_b2 > 0:
                m.bias.normal_(0.0, math.sqrt(sigma_b2))
            else:
                m.bias.zero_()


_ACTIVATION_MODULES: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.01),
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}
_SWAPPABLE = (nn.Sigmoid, nn.Tanh, nn.ReLU, nn.LeakyReLU, nn.GELU)


def swap_activations(model: nn.Module, to: str) -> int:
    """Replace every activation module (sigmoid, tanh, ReLU, LeakyReLU, GELU) of ``model`` by a
    new ``to`` module, in place; returns how many were replaced."""
    n = 0
    for parent in model.modules():
        for name, child in list(parent.named_children()):
            if isinstance(child, _SWAPPABLE):
                setattr(parent, name, _ACTIVATION_MODULES[to]())
                n += 1
    return n


def add_layernorm(model: nn.Module) -> int:
    """Put a LayerNorm after each Linear layer that an activation module follows inside an
    ``nn.Sequential`` (the hidden layers), in place; returns how many."""
    n = 0
    for parent in list(model.modules()):
        if not isinstance(parent, nn.Sequential):
            continue
        kids = list(parent.named_children())
        for (name, m), (_, nxt) in itertools.pairwise(kids):
            if isinstance(m, nn.Linear) and isinstance(nxt, _SWAPPABLE):
                setattr(parent, name, nn.Sequential(m, nn.LayerNorm(m.out_features)))
                n += 1
    return n


def _rebuild_optimizer(opt: torch.optim.Optimizer, model: nn.Module) -> torch.optim.Optimizer:
    """The same optimizer class and hyperparameters over the model's (new) parameters."""
    defaults = dict(opt.defaults)
    return type(opt)([p for p in model.parameters() if p.requires_grad], **defaults)


def _finite_rows(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    keep = torch.isfinite(x.reshape(x.shape[0], -1)).all(dim=1)
    if y.is_floating_point():
        keep &= torch.isfinite(y.reshape(y.shape[0], -1)).all(dim=1)
    return x[keep], y[keep]


def run_case(
    case: Case,
    setup: Setup | None = None,
    *,
    monitor: bool = True,
    every: int = 1,
) -> Outcome:
    """Build ``case`` with ``setup``, train it for its steps with the monitor attached (unless
    ``monitor`` is False), and return the verdict and the held-out losses."""
    setup = setup or Setup()
    torch.manual_seed(case.seed)
    trial = case.build(setup)
    asked = [k for k in ARCHITECTURAL if getattr(setup, k) and k not in trial.supports]
    model = trial.model
    rebuilt = False
    if setup.activation:
        swap_activations(model, setup.activation)
        if setup.activation_init:
            reinit(model, setup.activation_init)
        rebuilt = True
    if setup.normalize_hidden:
        rebuilt |= add_layernorm(model) > 0
    if setup.init:
        sigma_w2 = setup.init.get("sigma_w2")
        reinit(
            model,
            str(setup.init.get("scheme", "he")),
            None if sigma_w2 is None else _number(setup.init, "sigma_w2", 1.0),
            _number(setup.init, "sigma_b2", 0.0) if setup.init.get("sigma_b2") else 0.0,
        )
    if setup.amp:
        model.float()
        rebuilt = True
    opt = _rebuild_optimizer(trial.optimizer, model) if rebuilt else trial.optimizer
    base_lr = [g["lr"] * setup.lr_factor for g in opt.param_groups]
    autocast = trial.autocast
    scaler = trial.scaler
    if setup.amp == "GradScaler":
        autocast, scaler = torch.float16, torch.amp.GradScaler("cpu")
    elif setup.amp == "bfloat16":
        autocast, scaler = torch.bfloat16, None
    attach_scaler = trial.attach_scaler or setup.amp == "GradScaler"
    mon = GradientMonitor(model, every, **trial.monitor) if monitor else None
    if mon is not None and trial.attach:
        mon.attach(opt, scaler=scaler if attach_scaler else None)
    loss_start = trial.evaluate(model)
    losses: list[float] = []
    start = time.perf_counter()
    for t in range(trial.steps):
        scale = min(1.0, (t + 1) / setup.warmup) if setup.warmup else 1.0
        for g, lr in zip(opt.param_groups, base_lr, strict=True):
            g["lr"] = lr * scale
        opt.zero_grad()
        total = 0.0
        for _ in range(trial.accumulate):
            x, y = trial.batch(t)
            if setup.clean_inputs:
                x, y = _finite_rows(x, y)
            if setup.amp and x.dtype == torch.float16:  # a float16 case now in float32
                x = x.float()
            with torch.autocast("cpu", dtype=autocast, enabled=autocast is not None):
                loss = trial.loss(model, x, y) / trial.accumulate
            (scaler.scale(loss) if scaler is not None else loss).backward()
            total += float(loss.detach())
        if mon is not None and hasattr(mon, "observe_loss"):
            mon.observe_loss(torch.tensor(total))
        losses.append(total)
        if setup.clip is not None:
            if scaler is not None:
                scaler.unscale_(opt)
            nn.utils.clip_grad_norm_(model.parameters(), setup.clip)
        if scaler is not None:
            scaler.step(opt)
            scaler.update()
        else:
            opt.step()
    seconds = time.perf_counter() - start
    loss_end = trial.evaluate(model)
    verdict = mon.verdict() if mon is not None else _no_verdict()
    if mon is not None:
        mon.detach()
    return Outcome(verdict, loss_start, loss_end, losses, seconds, applicable=not asked)


def _no_verdict() -> Verdict:
    return Verdict("no data", [], [], [])


def names_match(named: Iterable[str], wanted: Iterable[str]) -> bool:
    """Whether every wanted name is among ``named`` (a wanted name ending in ``*`` matches
    any name with that prefix)."""
    named = list(named)
    return all(
        any(n.startswith(w[:-1]) for n in named) if w.endswith("*") else w in named for w in wanted
    )
