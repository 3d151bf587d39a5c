"""The exercise's jobs: presets with overrides, one trace (with its log-magnitude twin), the
symbolic derivation and the worked solution (``gradtrace solve|grad|derive``, ``/api/trace``,
``/api/derive``)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypedDict, Unpack

from gradtrace.core.backprop import Trace, backprop
from gradtrace.core.errors import SpecError
from gradtrace.core.logmode import LogTrace, backprop_log
from gradtrace.core.network import ChainSpec, Network, Preset, get_preset
from gradtrace.lab.exercise import Solution
from gradtrace.lab.exercise import solve as _solve
from gradtrace.present.json import log_trace_dict, trace_dict
from gradtrace.symbolic import ChainDerivation, derive_chain

__all__ = [
    "Floats",
    "GradResult",
    "Problem",
    "ProblemValues",
    "SpecValues",
    "derive",
    "grad",
    "grad_json",
    "resolve_problem",
    "resolve_spec",
    "solve",
]


Floats = list[float] | tuple[float, ...]
"""Weights or biases, one per layer."""


class SpecValues(TypedDict, total=False):
    """``resolve_spec``'s keywords (every one optional)."""

    preset: str | None
    depth: int | None
    activation: str | None
    output_activation: str | None
    loss: str | None
    biases: bool
    residual: bool


class ProblemValues(TypedDict, total=False):
    """``resolve_problem``'s keywords (every one optional)."""

    preset: str | None
    weights: Floats | None
    biases: Floats | None
    x: float | None
    target: float | None
    activation: str | None
    output_activation: str | None
    loss: str | None
    residual: bool
    depth: int | None


def _preset(name: str | None) -> Preset | None:
    return None if name is None else get_preset(name)


def resolve_spec(
    *,
    preset: str | None = None,
    depth: int | None = None,
    activation: str | None = None,
    output_activation: str | None = None,
    loss: str | None = None,
    biases: bool = False,
    residual: bool = False,
) -> ChainSpec:
    """A chain architecture from a preset and overrides (``None``: the preset's value, else the
    engine default). SpecError when neither ``depth`` nor ``preset`` gives a depth."""
    p = _preset(preset)
    base = p.network.spec if p is not None else ChainSpec(1)
    if depth is None:
        if p is None:
            raise SpecError("give --depth (the number of layers) or --preset", field="depth")
        depth = base.depth
    return ChainSpec(
        depth=depth,
        activation=activation or base.activation,
        output_activation=output_activation or base.output_activation,
        loss=loss or base.loss,
        biases=biases,
        residual=residual,
    )


@dataclass(frozen=True, eq=False)
class Problem:
    """A network and one sample: what ``grad`` and ``train`` work on.

    **Fields:** ``network``; ``x`` and ``target``; ``title`` (the preset's, when the network is
    the preset's own; else a generic one).
    """

    network: Network
    x: float
    target: float
    title: str = "Gradient trace"


def resolve_problem(
    *,
    preset: str | None = None,
    weights: Floats | None = None,
    biases: Floats | None = None,
    x: float | None = None,
    target: float | None = None,
    activation: str | None = None,
    output_activation: str | None = None,
    loss: str | None = None,
    residual: bool = False,
    depth: int | None = None,
) -> Problem:
    """A network with one sample, from a preset and overrides.

    ``weights`` (or the preset's) set the depth; ``depth``, if given, must match their count.
    SpecError, naming the missing value, when neither an option nor the preset supplies it.
    """
    p = _preset(preset)
    spec = resolve_spec(
        preset=preset,
        depth=1,  # checked against the weights below
        activation=activation,
        output_activation=output_activation,
        loss=loss,
        residual=residual,
    )
    if weights is None:
        if p is None:
            raise SpecError(
                "give --weights (for example --weights=0.25,-0.11,0.78) or --preset",
                field="weights",
            )
        weights = [float(v) for v in p.network.weights]
    if depth is not None:
        ChainSpec(depth=depth)  # validates the depth itself
        if depth != len(weights):
            raise SpecError(
                f"--depth {depth} does not match the {len(weights)} weights given in --weights",
                field="depth",
            )
    if x is None:
        if p is None:
            raise SpecError("give --x (the input) or --preset", field="x")
        x = p.x
    if target is None:
        if p is None:
            raise SpecError("give --target (the label y_hat) or --preset", field="target")
        target = p.target
    net = Network.chain(
        weights,
        biases=biases,
        activation=spec.activation,
        output_activation=spec.output_activation,
        loss=spec.loss,
        residual=residual,
    )
    net.spec.check_target(target)  # a label outside the loss's range: SpecError now
    own = p is not None and net.spec == p.network.spec and list(weights) == list(p.network.weights)
    title = p.title if p is not None and own else "Gradient trace"
    return Problem(network=net, x=float(x), target=float(target), title=title)


# ---- the trace, with its log-magnitude twin -------------------------------------------------


@dataclass(frozen=True, eq=False)
class GradResult:
    """One forward and backward pass: the float64 ``trace``, and ``log_trace`` when asked."""

    problem: Problem
    trace: Trace
    log_trace: LogTrace | None = None


def grad(
    problem: Problem | None = None, /, *, log: bool = False, **values: Unpack[ProblemValues]
) -> GradResult:
    """``gradtrace grad`` and ``/api/trace``: backprop through ``problem`` (or the one
    ``resolve_problem(**values)`` gives); with ``log``, also the log-magnitude mode (which reuses
    the float64 pass rather than computing it twice)."""
    if problem is None:
        problem = resolve_problem(**values)
    elif values:
        raise TypeError("give a problem or its values, not both")
    trace = backprop(problem.network, problem.x, problem.target)
    log_trace = (
        backprop_log(problem.network, problem.x, problem.target, plain=trace) if log else None
    )
    return GradResult(problem, trace, log_trace)


def grad_json(result: GradResult) -> dict[str, Any]:
    """The JSON contract of ``gradtrace grad --json`` and ``/api/trace``: the trace, and under
    ``log_magnitude`` the log-mode values when computed."""
    out = trace_dict(result.trace)
    if result.log_trace is not None:
        out["log_magnitude"] = log_trace_dict(result.log_trace)
    return out


@lru_cache(maxsize=256)
def _derive(spec: ChainSpec) -> ChainDerivation:
    return derive_chain(spec)


def derive(spec: ChainSpec | None = None, /, **values: Unpack[SpecValues]) -> ChainDerivation:
    """``gradtrace derive`` and ``/api/derive``: ``derive_chain`` of ``spec`` (or of
    ``resolve_spec(**values)``), cached (a derivation is immutable, and the specs are frozen)."""
    if spec is None:
        spec = resolve_spec(**values)
    elif values:
        raise TypeError("give a spec or its values, not both")
    return _derive(spec)


def solve() -> Solution:
    """``gradtrace solve``: the worked solution of the exercise's parts a-d."""
    return _solve()
