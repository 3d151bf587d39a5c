"""The lab's jobs: Monte Carlo over initializations, the depth experiment, training, the
remedies, and the report that gathers them (``gradtrace montecarlo|depth|train|remedies|report
|monitor-report``, ``/api/montecarlo``, ``/api/train``).

Each job is one function that takes plain values (defaults: ``gradtrace.service.defaults``)
or a ready config, runs, and returns the engine's result; ``*_config`` builds the config alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict, Unpack

import numpy as np

from gradtrace.core.errors import SpecError
from gradtrace.core.network import get_preset
from gradtrace.lab.depth import DepthConfig, DepthResult, run_depth
from gradtrace.lab.montecarlo import MonteCarloConfig, MonteCarloResult, run_montecarlo
from gradtrace.lab.remedies import RemedyRow, run_remedies
from gradtrace.lab.training import TrainConfig, TrainHistory, make_dataset
from gradtrace.lab.training import train as _train
from gradtrace.service._trace import Floats, resolve_problem, resolve_spec
from gradtrace.service.defaults import (
    DEFAULT_PRESET,
    DEPTH,
    MONTECARLO,
    REMEDIES,
    REPORT,
    TRAIN,
)

if TYPE_CHECKING:
    from gradtrace.present.report import ReportConfig

__all__ = [
    "DepthValues",
    "MonteCarloValues",
    "Progress",
    "TrainValues",
    "depth",
    "depth_config",
    "monitor_report",
    "montecarlo",
    "montecarlo_config",
    "remedies",
    "report",
    "report_config",
    "train",
    "train_config",
]

Progress = Callable[[int, int], None]
"""``progress(done, total)``: how far a long job is (the CLI's progress bar)."""


# ---- Monte Carlo over initializations -----------------------------------------------------------


class MonteCarloValues(TypedDict, total=False):
    """``montecarlo_config``'s keywords (every one optional)."""

    preset: str | None
    depth: int | None
    activation: str | None
    output_activation: str | None
    loss: str | None
    biases: bool
    residual: bool
    x: float | None
    target: float | None
    draw_x: bool
    draw_target: bool
    init: str
    std: float
    samples: int
    seed: int
    chunk_size: int | None


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
    init: str = MONTECARLO.init.default,
    std: float = MONTECARLO.std.default,
    samples: int = MONTECARLO.samples.default,
    seed: int = MONTECARLO.seed.default,
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
    return MonteCarloConfig(
        spec=spec,
        samples=samples,
        seed=seed,
        init=init,
        std=std,
        x=None if draw_x else (x if x is not None else sample.x),
        target=None if draw_target else (target if target is not None else sample.target),
        chunk_size=MONTECARLO.chunk_size.default if chunk_size is None else chunk_size,
    )


def montecarlo(
    config: MonteCarloConfig | None = None,
    /,
    *,
    progress: Progress | None = None,
    **values: Unpack[MonteCarloValues],
) -> MonteCarloResult:
    """``gradtrace montecarlo`` and ``/api/montecarlo``: ``run_montecarlo`` of ``config`` (or of
    ``montecarlo_config(**values)``)."""
    if config is None:
        config = montecarlo_config(**values)
    elif values:
        raise TypeError("give a config or its values, not both")
    return run_montecarlo(config, progress=progress)


# ---- the depth experiment ---------------------------------------------------------------------


class DepthValues(TypedDict, total=False):
    """``depth_config``'s keywords (every one optional: ``DepthConfig``'s defaults)."""

    activation: str
    std: float
    depths: Sequence[int]
    samples: int
    seed: int
    x: float
    target: float
    init: str


def depth_config(
    *,
    activation: str = DEPTH.activation.default,
    std: float = DEPTH.std.default,
    depths: Sequence[int] = DEPTH.depths.default,
    samples: int = DEPTH.samples.default,
    seed: int = DEPTH.seed.default,
    x: float = DEPTH.x.default,
    target: float = DEPTH.target.default,
    init: str = DEPTH.init.default,
) -> DepthConfig:
    """A depth experiment's config (every default is ``DepthConfig``'s)."""
    return DepthConfig(
        activation=activation,
        std=std,
        depths=tuple(depths),
        samples=samples,
        seed=seed,
        x=x,
        target=target,
        init=init,
    )


def depth(
    config: DepthConfig | None = None,
    /,
    *,
    progress: Progress | None = None,
    **values: Unpack[DepthValues],
) -> DepthResult:
    """``gradtrace depth``: ``run_depth`` of ``config`` (or of ``depth_config(**values)``)."""
    if config is None:
        config = depth_config(**values)
    elif values:
        raise TypeError("give a config or its values, not both")
    return run_depth(config, progress=progress)


# ---- training ---------------------------------------------------------------------------------


class TrainValues(TypedDict, total=False):
    """``train_config``'s keywords (every one optional)."""

    preset: str | None
    weights: Floats | None
    activation: str | None
    output_activation: str | None
    loss: str | None
    residual: bool
    x: float | None
    target: float | None
    dataset: int | None
    seed: int
    learning_rate: float
    steps: int
    tolerance: float
    clip_norm: float | None
    target_scale: float


def train_config(
    *,
    preset: str | None = None,
    weights: Floats | None = None,
    activation: str | None = None,
    output_activation: str | None = None,
    loss: str | None = None,
    residual: bool = False,
    x: float | None = None,
    target: float | None = None,
    dataset: int | None = None,
    seed: int = TRAIN.seed.default,
    learning_rate: float = TRAIN.learning_rate.default,
    steps: int = TRAIN.steps.default,
    tolerance: float = TRAIN.tolerance.default,
    clip_norm: float | None = TRAIN.clip_norm.default,
    target_scale: float = TRAIN.target_scale.default,
) -> TrainConfig:
    """A training config from a preset and overrides.

    The chain is the preset's with ``weights`` and the other overrides (SpecError when neither
    gives weights). The sample is ``x`` and ``target``, each else the preset's, else part (b)'s
    (as in ``montecarlo_config``). With ``dataset``, train on that many seeded samples
    (``make_dataset``) instead of one; the chain is then part (b)'s when neither a preset nor
    weights are given.
    ``target_scale`` divides every target (training then runs on the scaled problem);
    ``clip_norm`` clips the gradient's norm (Pascanu et al. 2013, Algorithm 1).
    """
    if preset is None and weights is None:
        if dataset is None:
            raise SpecError(
                "give --weights (for example --weights=0.25,-0.11,0.78), --dataset N, or --preset",
                field="weights",
            )
        preset = DEFAULT_PRESET
    if not target_scale > 0:
        raise SpecError(
            f"target scale must be positive, got {target_scale:g}", field="target_scale"
        )
    sample = get_preset(preset or DEFAULT_PRESET)
    problem = resolve_problem(
        preset=preset,
        weights=weights,
        x=sample.x if x is None else x,
        target=sample.target if target is None else target,
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


def train(
    config: TrainConfig | None = None,
    /,
    *,
    progress: Progress | None = None,
    **values: Unpack[TrainValues],
) -> TrainHistory:
    """``gradtrace train`` and ``/api/train``: gradient descent on ``config`` (or on
    ``train_config(**values)``), every step recorded."""
    if config is None:
        config = train_config(**values)
    elif values:
        raise TypeError("give a config or its values, not both")
    return _train(config, progress=progress)


def remedies(
    *, steps: int = REMEDIES.steps.default, seed: int = REMEDIES.seed.default
) -> tuple[RemedyRow, ...]:
    """``gradtrace remedies``: the remedies table (``run_remedies``)."""
    return run_remedies(steps=steps, seed=seed)


# ---- the reports ------------------------------------------------------------------------------


def _plots(command: str) -> None:
    """SpecError in one line unless the plots extra (matplotlib) is installed."""
    try:
        import gradtrace.present.figures  # noqa: F401
    except ImportError as e:
        raise SpecError(f"{command} needs the plots extra ({e})") from None


def report_config(
    *, seed: int = REPORT.seed.default, samples: int = REPORT.samples.default, quick: bool = False
) -> ReportConfig:
    """The report's parameters; ``quick`` is a draft in seconds (at most 20,000 Monte Carlo
    samples, 30 chains per depth up to depth 1,000, 300 training and 100 remedy steps)."""
    from gradtrace.present.report import ReportConfig  # heavy: import only when asked

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


def report(
    out: str | Path,
    *,
    seed: int = REPORT.seed.default,
    samples: int = REPORT.samples.default,
    quick: bool = False,
    force: bool = False,
    progress: Progress | None = None,
) -> list[Path]:
    """``gradtrace report``: build the report and write it into the new folder ``out`` (which
    must not exist, unless ``force``); return the files written. The plots extra and the folder
    are checked before any work: a bad one fails fast and writes nothing."""
    _plots("report")
    from gradtrace.present.report import STAGES, build_report, check_output_folder, write_report

    target = Path(out)
    check_output_folder(target, force=force)
    config = report_config(seed=seed, samples=samples, quick=quick)
    stages = iter(range(1, len(STAGES) + 1))
    built = build_report(
        config,
        progress=(lambda _m: progress(next(stages), len(STAGES))) if progress else None,
    )
    return write_report(built, target, force=force)


def monitor_report(records: str | Path, out: str | Path, *, force: bool = False) -> list[Path]:
    """``gradtrace monitor-report``: a saved monitor run (.csv, .parquet or .json) rendered into
    the new folder ``out``; return the files written."""
    _plots("monitor-report")
    from gradtrace.present.report import monitor_report as write

    return write(Path(records), Path(out), force=force)
