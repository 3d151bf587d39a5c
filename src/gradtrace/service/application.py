"""The application layer: what the faces (CLI, web API, report, notebook) share above the engine.

Every face parses its own input (Typer options, pydantic request models), then calls one of
these functions with plain values, so ``gradtrace grad --json`` and ``POST /api/trace`` run the
same code, not two copies kept equal by a test. This module owns:

* preset resolution with overrides (``resolve_spec``, ``resolve_problem``): an explicit value
  beats the preset's, the preset's beats the engine default; the exercise's numbers live only in
  ``gradtrace.core.network.PRESETS``;
* every experiment's config from plain values (``montecarlo_config``, ``depth_config``,
  ``train_config``);
* the trace with its optional log-magnitude twin (``grad``, ``grad_json``) and the symbolic
  derivation (``derive``, cached: it is immutable);
* the limits of each experiment, taken from the engine (``LIMITS``);
* the reproductions of classic papers by name (``reproduce``);
* sweeps from a grid file into a store (``sweep``, ``sweep_status``).

Nothing here prints: results are data, and ``grad_json`` returns the JSON contract as a dict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from gradtrace.core.backprop import Trace, backprop
from gradtrace.core.errors import SpecError
from gradtrace.core.logmode import LogTrace, backprop_log
from gradtrace.core.network import ChainSpec, Network, Preset, get_preset
from gradtrace.lab import depth as _depth
from gradtrace.lab import montecarlo as _mc
from gradtrace.lab import training as _training
from gradtrace.lab.depth import DepthConfig
from gradtrace.lab.montecarlo import MonteCarloConfig
from gradtrace.lab.training import TrainConfig, make_dataset
from gradtrace.lab.wide import WideConfig
from gradtrace.present.json import log_trace_dict, trace_dict
from gradtrace.symbolic import MAX_SYMBOLIC_DEPTH, ChainDerivation, derive_chain
from gradtrace.theory.meanfield import (
    MeanField,
    PhaseDiagram,
    gradient_growth,
    mean_field,
)
from gradtrace.theory.meanfield import phase_diagram as _phase_diagram
from gradtrace.theory.simulation import TheorySimulation, simulate_against_theory
from gradtrace.theory.spectra import JacobianSpectrum, jacobian_spectrum

if TYPE_CHECKING:
    from gradtrace.present.report import ReportConfig

__all__ = [
    "DEFAULT_PRESET",
    "LIMITS",
    "GradResult",
    "Limits",
    "Problem",
    "TheoryResult",
    "depth_config",
    "derive",
    "grad",
    "grad_json",
    "jacobian",
    "montecarlo_config",
    "report_config",
    "reproduce",
    "resolve_problem",
    "resolve_spec",
    "theory",
    "theory_grid",
    "train_config",
]

DEFAULT_PRESET = "exercise-classification"
"""The problem experiments fall back on: part (b)'s chain and sample."""


@dataclass(frozen=True)
class Limits:
    """The engine's own bounds on each experiment, gathered in one place for the faces.

    The web API may hold requests to tighter bounds (its cost model); it reads these for the
    rest, and never types an engine number again.
    """

    depth_experiment: int = _depth.MAX_DEPTH  # deepest chain of `gradtrace depth`
    montecarlo_depth: int = _mc.MAX_DEPTH  # histograms per layer bound Monte Carlo's depth
    montecarlo_samples: int = _mc.MAX_SAMPLES  # int32 histogram counts
    symbolic_depth: int = MAX_SYMBOLIC_DEPTH  # closed forms grow as depth squared
    steps: int = _training.MAX_STEPS  # gradient-descent steps per run


LIMITS = Limits()


# ---- presets and overrides ------------------------------------------------------------------


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
    weights: list[float] | tuple[float, ...] | None = None,
    biases: list[float] | tuple[float, ...] | None = None,
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


def grad(problem: Problem, *, log: bool = False) -> GradResult:
    """Backprop through ``problem``; with ``log``, also the log-magnitude mode (which reuses the
    float64 pass rather than computing it twice)."""
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
def derive(spec: ChainSpec) -> ChainDerivation:
    """``derive_chain(spec)``, cached (a derivation is immutable, and the specs are frozen)."""
    return derive_chain(spec)


# ---- experiment configs from plain values ---------------------------------------------------


def montecarlo_config(
    *,
    preset: str | None = None,
    depth: int | None = None,
    activation: str | None = None,
    output_activation: str | None = None,
    loss: str | None = None,
    biases: bool = False,
    residual: bool = False,
    x: float | None = None,
    target: float | None = None,
    draw_x: bool = False,
    draw_target: bool = False,
    init: str = "normal",
    std: float = 1.0,
    samples: int = 100_000,
    seed: int = 0,
    chunk_size: int | None = None,
) -> MonteCarloConfig:
    """A Monte Carlo config: the chain from ``resolve_spec``; the sample from the options, else the
    preset's, else part (b)'s; ``draw_x``/``draw_target`` draw them per sample instead."""
    spec = resolve_spec(
        preset=preset,
        depth=depth,
        activation=activation,
        output_activation=output_activation,
        loss=loss,
        biases=biases,
        residual=residual,
    )
    sample = get_preset(preset or DEFAULT_PRESET)
    extra = {} if chunk_size is None else {"chunk_size": chunk_size}
    return MonteCarloConfig(
        spec=spec,
        samples=samples,
        seed=seed,
        init=init,
        std=std,
        x=None if draw_x else (x if x is not None else sample.x),
        target=None if draw_target else (target if target is not None else sample.target),
        **extra,
    )


def depth_config(**values: Any) -> DepthConfig:
    """A depth experiment's config; every value has the engine's default (``DepthConfig``)."""
    if "depths" in values:
        values["depths"] = tuple(values["depths"])
    return DepthConfig(**values)


def train_config(
    *,
    preset: str | None = None,
    weights: list[float] | tuple[float, ...] | None = None,
    activation: str | None = None,
    output_activation: str | None = None,
    loss: str | None = None,
    residual: bool = False,
    x: float | None = None,
    target: float | None = None,
    dataset: int | None = None,
    seed: int = 0,
    learning_rate: float = 0.01,
    steps: int = 1000,
    tolerance: float = 1e-6,
    clip_norm: float | None = None,
    target_scale: float = 1.0,
) -> TrainConfig:
    """A training config from a preset and overrides.

    With ``dataset``, train on that many seeded samples (``make_dataset``) instead of one; the
    chain is then the preset's, or part (b)'s classification chain when neither a preset nor
    weights are given. ``target_scale`` divides every target (training then runs on the scaled
    problem); ``clip_norm`` clips the gradient's norm (Pascanu et al. 2013, Algorithm 1).
    """
    if dataset is not None:
        preset = preset if preset is not None or weights is not None else DEFAULT_PRESET
        x = 0.0 if x is None else x  # the sample is unused: the data set replaces it
        target = 1.0 if target is None else target
    if not target_scale > 0:
        raise SpecError(
            f"target scale must be positive, got {target_scale:g}", field="target_scale"
        )
    problem = resolve_problem(
        preset=preset,
        weights=weights,
        x=x,
        target=target,
        activation=activation,
        output_activation=output_activation,
        loss=loss,
        residual=residual,
    )
    if dataset is not None:
        xs, ts = make_dataset(problem.network.spec, dataset, seed)
    else:
        xs, ts = np.array([problem.x]), np.array([problem.target])
    return TrainConfig(
        network=problem.network,
        x=xs,
        target=ts / target_scale,
        learning_rate=learning_rate,
        steps=steps,
        tolerance=tolerance,
        clip_norm=clip_norm,
    )


def report_config(*, seed: int = 0, samples: int = 100_000, quick: bool = False) -> ReportConfig:
    """The report's parameters; ``quick`` is a draft in seconds (at most 20,000 Monte Carlo
    samples, 30 chains per depth up to depth 1,000, 300 training and 100 remedy steps)."""
    from gradtrace.present.report import (
        ReportConfig,  # matplotlib is an extra: import only when asked
    )

    if not quick:
        return ReportConfig(seed=seed, samples=samples)
    return ReportConfig(
        seed=seed,
        samples=min(samples, 20_000),
        depth_samples=30,
        depths=(1, 10, 100, 1000),
        train_steps=300,
        remedies_steps=100,
    )


def reproduce(name: str, *, quick: bool = False, **params: Any) -> Any:
    """Run the reproduction ``name`` (``gradtrace.reproduce.REPRODUCTIONS``) with its defaults,
    the smaller ones of ``quick``, then ``params``; SpecError listing the names for a bad one."""
    from gradtrace.reproduce import get_reproduction

    return get_reproduction(name).run(quick=quick, **params)


# ---- sweeps ---------------------------------------------------------------------------------


def sweep(
    grid: str,
    *,
    store: str,
    scheduler: str | None = None,
    workers: int | None = None,
    retry_failed: bool = False,
    prune: bool = False,
    on_plan: Callable[..., None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Any:
    """``gradtrace sweep``: read the grid file ``grid`` and run it into ``store`` on Dask
    (``gradtrace.sweep.run_sweep``; its ``SweepReport``). SpecError for a bad grid or store."""
    from gradtrace.sweep import read_grid, run_sweep

    return run_sweep(
        read_grid(grid),
        store,
        scheduler=scheduler,
        workers=workers,
        retry_failed=retry_failed,
        prune=prune,
        on_plan=on_plan,
        progress=progress,
    )


def sweep_status(store: str) -> Any:
    """``gradtrace sweep-status``: the store's cells total, done and failed (``Status``)."""
    from gradtrace.sweep import Store

    with Store(store, create=False, label="PATH") as db:  # the CLI's positional PATH
        return db.status()


# ---- mean-field theory ----------------------------------------------------------------------

MAX_THEORY_DEPTH = 100_000
MAX_SIMULATED_DEPTH = 200  # a simulated layer costs width^2 per sample: seconds at these bounds
MAX_SIMULATED_WIDTH = 2000
"""Deepest L for the predicted gradient growth of ``gradtrace theory``."""


@dataclass(frozen=True, eq=False)
class TheoryResult:
    """``gradtrace theory``: the mean-field picture at one point and the predicted gradient
    growth ``chi_1^(L-l)`` for layers ``l = 1 .. L``."""

    mean_field: MeanField
    growth: np.ndarray
    simulated: TheorySimulation | None = None


def theory(
    activation: str,
    sigma_w2: float,
    sigma_b2: float,
    *,
    depth: int = 20,
    simulate: bool = False,
    width: int = 500,
    samples: int = 4,
    seed: int = 0,
) -> TheoryResult:
    """Mean-field theory at (sigma_w2, sigma_b2) for ``activation`` (SpecError on bad values);
    with ``simulate``, also ``samples`` random nets of ``width`` units and ``depth`` layers."""
    if not 1 <= depth <= MAX_THEORY_DEPTH:
        raise SpecError(
            f"depth must be between 1 and {MAX_THEORY_DEPTH:,}, got {depth}", field="depth"
        )
    mf = mean_field(activation, sigma_w2, sigma_b2)
    sim = None
    if simulate:
        if depth > MAX_SIMULATED_DEPTH or width > MAX_SIMULATED_WIDTH:
            raise SpecError(
                f"--simulate takes depth up to {MAX_SIMULATED_DEPTH} and width up to "
                f"{MAX_SIMULATED_WIDTH:,}, got depth {depth} and width {width:,}",
                field="depth" if depth > MAX_SIMULATED_DEPTH else "width",
            )
        config = WideConfig(activation, sigma_w2, sigma_b2, width, depth, samples, seed)
        sim = simulate_against_theory(config)
    return TheoryResult(mf, gradient_growth(mf, depth), sim)


def theory_grid(mf: MeanField, points: int = 200) -> PhaseDiagram:
    """The phase diagram around ``mf``'s point: sigma_w2 up to 4 (or past the point and the
    critical line), sigma_b2 up to 0.3 (or past the point); ``points`` x ``points``."""
    top_w = max(4.0, 1.25 * mf.sigma_w2, 1.25 * (mf.sigma_w2_critical or 0.0))
    top_b = max(0.3, 1.25 * mf.sigma_b2)
    w = np.linspace(top_w / points, top_w, points)
    b = np.linspace(0.0, top_b, points)
    return _phase_diagram(mf.activation, w, b)


# ---- Jacobian spectra -----------------------------------------------------------------------

MAX_JACOBIAN_SIZE = 4_000
"""Widest and deepest net of ``gradtrace jacobian`` (each layer costs ``samples N^3``)."""

MAX_JACOBIAN_ENTRIES = 128_000_000
"""Most ``samples x width^2`` of ``gradtrace jacobian``: 1 GB per float64 array."""


def jacobian(
    activation: str,
    sigma_w2: float,
    sigma_b2: float,
    *,
    depth: int,
    width: int,
    init: str = "orthogonal",
    samples: int = 4,
    seed: int = 0,
    device: str | None = None,
) -> JacobianSpectrum:
    """``gradtrace jacobian``: the measured spectrum of ``samples`` nets at the fixed point
    beside free probability's mean and variance (``gradtrace.theory.spectra``)."""
    for name, v in (("depth", depth), ("width", width)):
        if isinstance(v, int) and v > MAX_JACOBIAN_SIZE:
            raise SpecError(f"{name} must be at most {MAX_JACOBIAN_SIZE:,}, got {v:,}", field=name)
    if (
        isinstance(samples, int)
        and isinstance(width, int)
        and samples * width * width > MAX_JACOBIAN_ENTRIES
    ):
        raise SpecError(
            f"samples x width^2 must be at most {MAX_JACOBIAN_ENTRIES:,} (the Jacobians take "
            f"3 such float64 arrays), got {samples} x {width}^2",
            field="samples",
        )
    config = WideConfig(
        activation,
        sigma_w2,
        sigma_b2,
        width=width,
        depth=depth,
        samples=samples,
        seed=seed,
        init=init,
        device=device,
    )
    return jacobian_spectrum(config)
