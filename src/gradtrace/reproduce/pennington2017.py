"""Pennington, Schoenholz & Ganguli 2017, "Resurrecting the sigmoid in deep learning through
dynamical isometry": the Jacobian spectra of deep tanh nets at criticality, Gaussian against
orthogonal weights.

The paper's result, as reproduced here: at a critical point (``chi = sigma_w2 mu1 = 1``, so the
mean squared singular value ``m1 = chi^L = 1`` at every depth) the variance of the spectrum of
``J J^T`` over its mean squared is ``L (mu2 / mu1^2 - 1 - s1)`` (``gradtrace.theory.spectra``).
With Gaussian weights (``s1 = -1``) it grows linearly in depth with slope ``mu2 / mu1^2 >= 1``:
no choice of ``sigma_w2, sigma_b2`` keeps it bounded, and dynamical isometry is out of reach.
With orthogonal weights (``s1 = 0``) the slope is ``mu2 / mu1^2 - 1``, which goes to 0 with
``q*`` for tanh (``phi'^2 ~ 1 - 2 h^2``), so a small ``q*`` keeps the spectrum concentrated
around 1 over many layers.

``run`` simulates both inits at one critical point (``sigma_b2`` given, ``sigma_w2`` on the
critical line from ``gradtrace.theory.meanfield``) over a list of depths; each depth is a
separate simulation with the same seed (a shallower net is a prefix of a deeper one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gradtrace.errors import SpecError
from gradtrace.lab.wide import WIDE_INITS, WideConfig
from gradtrace.network import check_count
from gradtrace.theory.meanfield import critical_sigma_w2
from gradtrace.theory.spectra import JacobianSpectrum, jacobian_spectrum

__all__ = ["Pennington2017Config", "Pennington2017Result", "Pennington2017Row", "run"]


@dataclass(frozen=True)
class Pennington2017Config:
    """What to simulate.

    **Fields:**
    - ``activation``: the nonlinearity (the paper's sigmoidal case: tanh).
    - ``sigma_b2``: the bias variance; ``sigma_w2`` is then the critical one.
    - ``depths``: depths ``L`` to simulate, each >= 1.
    - ``width``: ``N``; ``samples``: nets per depth and init; ``seed``: their draws.
    """

    activation: str = "tanh"
    sigma_b2: float = 0.05  # q* = 0.57 on tanh's critical line
    depths: tuple[int, ...] = (2, 4, 8, 16, 32, 64, 128)
    width: int = 300
    samples: int = 4
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.depths:
            raise SpecError("depths must list at least one depth", field="depths")
        for d in self.depths:
            check_count("depths", d, 1)


@dataclass(frozen=True)
class Pennington2017Row:
    """One depth and init: predicted and measured ``m1`` and variance over ``m1^2``."""

    depth: int
    init: str
    predicted_mean: float
    measured_mean: float
    predicted_variance_over_mean2: float
    measured_variance_over_mean2: float


@dataclass(frozen=True, eq=False)
class Pennington2017Result:
    """The table (``rows``: by init, then depth), the critical point, each init's slope of
    the predicted ratio in ``L`` (``mu2 / mu1^2 - 1 - s1``), and the deepest spectra (for the
    histograms)."""

    config: Pennington2017Config
    sigma_w2: float
    q_star: float
    slopes: dict[str, float]
    rows: tuple[Pennington2017Row, ...]
    deepest: dict[str, JacobianSpectrum]


def run(
    config: Pennington2017Config | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> Pennington2017Result:
    """Simulate Gaussian and orthogonal nets at the critical point over ``config.depths``."""
    c = config or Pennington2017Config()
    sigma_w2 = critical_sigma_w2(c.activation, c.sigma_b2)
    if sigma_w2 is None:
        raise SpecError(
            f"{c.activation} has no critical point at sigma_b2 = {c.sigma_b2:g}", field="sigma_b2"
        )
    rows: list[Pennington2017Row] = []
    deepest: dict[str, JacobianSpectrum] = {}
    slopes: dict[str, float] = {}
    total, done = len(WIDE_INITS) * len(c.depths), 0
    q_star = 0.0
    for init in WIDE_INITS:
        for depth in sorted(c.depths):
            r = jacobian_spectrum(
                WideConfig(
                    c.activation,
                    sigma_w2,
                    c.sigma_b2,
                    width=c.width,
                    depth=depth,
                    samples=c.samples,
                    seed=c.seed,
                    init=init,
                )
            )
            t = r.theory
            q_star = t.q
            slopes[init] = t.variance_over_mean2 / depth
            rows.append(
                Pennington2017Row(
                    depth,
                    init,
                    t.mean,
                    r.measured_mean,
                    t.variance_over_mean2,
                    r.measured_variance_over_mean2,
                )
            )
            deepest[init] = r
            done += 1
            if progress is not None:
                progress(done, total)
    return Pennington2017Result(c, sigma_w2, q_star, slopes, tuple(rows), deepest)
