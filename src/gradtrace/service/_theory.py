"""Mean-field theory's jobs: the picture at one point with its predicted gradient growth, the
phase diagram around it, and the Jacobian spectra of deep random nets (``gradtrace
theory|jacobian``, ``/api/theory``, ``/api/phase``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradtrace.core.errors import SpecError
from gradtrace.lab.wide import WideConfig
from gradtrace.service.defaults import JACOBIAN, PHASE, THEORY
from gradtrace.theory.meanfield import MeanField, PhaseDiagram, gradient_growth, mean_field
from gradtrace.theory.meanfield import phase_diagram as _phase_diagram
from gradtrace.theory.simulation import TheorySimulation, simulate_against_theory
from gradtrace.theory.spectra import JacobianSpectrum, jacobian_spectrum

__all__ = ["TheoryResult", "jacobian", "phase", "theory", "theory_grid"]


@dataclass(frozen=True, eq=False)
class TheoryResult:
    """``gradtrace theory``: the mean-field picture at one point and the predicted gradient
    growth ``chi_1^(L-l)`` for layers ``l = 1 .. L``."""

    mean_field: MeanField
    growth: np.ndarray
    simulated: TheorySimulation | None = None


def theory(
    activation: str = THEORY.activation.default,
    sigma_w2: float = THEORY.sigma_w2.default,
    sigma_b2: float = THEORY.sigma_b2.default,
    *,
    depth: int = THEORY.depth.default,
    simulate: bool = False,
    width: int = THEORY.width.default,
    samples: int = THEORY.samples.default,
    seed: int = THEORY.seed.default,
) -> TheoryResult:
    """Mean-field theory at (sigma_w2, sigma_b2) for ``activation`` (SpecError on bad values);
    with ``simulate``, also ``samples`` random nets of ``width`` units and ``depth`` layers."""
    top = int(THEORY.depth.le or 0)
    if not 1 <= depth <= top:
        raise SpecError(f"depth must be between 1 and {top:,}, got {depth}", field="depth")
    mf = mean_field(activation, sigma_w2, sigma_b2)
    sim = None
    if simulate:
        deepest, widest = THEORY.simulated_depth_max, int(THEORY.width.le or 0)
        if depth > deepest or width > widest:
            raise SpecError(
                f"--simulate takes depth up to {deepest} and width up to "
                f"{widest:,}, got depth {depth} and width {width:,}",
                field="depth" if depth > deepest else "width",
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


def phase(activation: str = THEORY.activation.default, points: int = PHASE.points) -> PhaseDiagram:
    """``/api/phase``: ``theory_grid`` around the default theory point (``gradtrace theory
    --figure``'s diagram) on ``points`` x ``points``."""
    mf = mean_field(activation, THEORY.sigma_w2.default, THEORY.sigma_b2.default)
    return theory_grid(mf, points)


def jacobian(
    activation: str = JACOBIAN.activation.default,
    sigma_w2: float = JACOBIAN.sigma_w2.default,
    sigma_b2: float = JACOBIAN.sigma_b2.default,
    *,
    depth: int = JACOBIAN.depth.default,
    width: int = JACOBIAN.width.default,
    init: str = JACOBIAN.init.default,
    samples: int = JACOBIAN.samples.default,
    seed: int = JACOBIAN.seed.default,
    device: str | None = None,
) -> JacobianSpectrum:
    """``gradtrace jacobian``: the measured spectrum of ``samples`` nets at the fixed point
    beside free probability's mean and variance (``gradtrace.theory.spectra``)."""
    for p, v in ((JACOBIAN.depth, depth), (JACOBIAN.width, width)):
        top = int(p.le or 0)
        if isinstance(v, int) and v > top:
            raise SpecError(f"{p.name} must be at most {top:,}, got {v:,}", field=p.name)
    entries = JACOBIAN.entries_max
    if isinstance(samples, int) and isinstance(width, int) and samples * width * width > entries:
        raise SpecError(
            f"samples x width^2 must be at most {entries:,} (the Jacobians take "
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
