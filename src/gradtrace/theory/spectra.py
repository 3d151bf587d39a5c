"""Jacobian spectra of deep random networks: free probability's moments next to simulation.

The net is ``lab.wide``'s: ``h^l = W^l a^(l-1) + b^l``, ``a^l = phi(h^l)``, width ``N``, depth
``L``, with Gaussian weights (``W_ij ~ N(0, sigma_w2 / N)``) or scaled Haar-orthogonal ones
(``sqrt(sigma_w2) Q``). Its input-output Jacobian is ``J = D_L W^L ... D_1 W^1`` with
``D_l = diag(phi'(h^l))``, and the squared singular values of ``J`` are the eigenvalues
``lambda`` of ``J J^T``.

When every pre-activation sits at the length map's fixed point, ``h^l ~ N(0, q*)``, free
probability gives the S-transform of ``J J^T`` as a product over layers (Pennington, Schoenholz
& Ganguli 2017, "Resurrecting the sigmoid in deep learning through dynamical isometry",
Sec. 2.3, Eq. 12): ``S_JJ^T = S_WW^T^L S_D^2^L``. Write

    mu_k = E[phi'(h)^(2k)],  h ~ N(0, q*)         the moments of D^2
    S_W^TW(z) = sigma_w2^-1 (1 + s1 z + ...)      s1 = -1 Gaussian (Wishart), 0 orthogonal
    chi = sigma_w2 mu1

An S-transform starts ``S(z) = m1^-1 (1 + (1 - m2 / m1^2) z + ...)``, and the first-order
coefficients of a product add, so the first two moments ``m_k = E[tr (J J^T)^k] / N`` are

    m1 = chi^L                                             (the mean of lambda)
    (m2 - m1^2) / m1^2 = L (mu2 / mu1^2 - 1 - s1)          (its variance over mean squared)

(the paper, Sec. 2.5, derives them this way; the symbols ``mu_k``, ``s1`` are those of
Pennington, Schoenholz & Ganguli 2018, "The emergence of spectral universality in deep
networks"). For Gaussian weights and a hard-tanh or ReLU phi, where ``mu2 = mu1 = p``, this is
the paper's ``m2 = m1^2 (L + p) / p``. Both are
exact for every depth in the limit of infinite width: the second follows from the z-coefficient
of an L-fold product alone, no expansion in L is made. At finite width they carry ``O(L / N)``
corrections (the tests state how large at the sizes they use). A Gaussian net's ratio is at
least ``L`` (``mu2 >= mu1^2``); an orthogonal net's, ``L (mu2 / mu1^2 - 1)``, vanishes as
``q* -> 0`` for tanh: the dynamical isometry of the paper.

"At the fixed point", as in the paper: the simulation's input ``a^0`` gets the per-unit second
moment ``E[phi(h)^2] = (q* - sigma_b2) / sigma_w2`` at ``h ~ N(0, q*)``, so that ``h^1`` (and
in expectation every later ``h^l``) has second moment ``q*``; ``q*`` comes from
``gradtrace.theory.meanfield``. Where ``q* = 0`` (tanh without bias, sigma_w2 <= 1) the moments
are their limits ``q -> 0`` and the input is tiny (``q = 1e-30``), and where every ``q`` is fixed
(relu at criticality, no bias) ``q = 1`` is used: the slope moments of a piecewise-linear phi do
not depend on ``q``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from numpy.polynomial.legendre import leggauss

from gradtrace.core.activations import get_activation
from gradtrace.core.errors import SpecError
from gradtrace.core.network import check_count
from gradtrace.lab.wide import WIDE_INITS, WideConfig, jacobian_singular_values
from gradtrace.theory.meanfield import mean_field

__all__ = [
    "S1",
    "JacobianSpectrum",
    "SpectrumTheory",
    "critical_point",
    "jacobian_spectrum",
    "predicted_moments",
    "slope_moments",
    "spectrum_theory",
]

S1: dict[str, float] = {"gaussian": -1.0, "orthogonal": 0.0}
"""First S-transform coefficient of ``W^T W / sigma_w2``: ``1 - m2 / m1^2`` of its spectrum
(Marchenko-Pastur at aspect ratio 1 has ``m2 = 2 m1^2``; an orthogonal matrix's is a point)."""

_Q_ZERO = 1e-30  # the q at which the limit q* -> 0 is evaluated (phi' is then phi'(0 +- tiny))

# E[f(z)], z ~ N(0, 1), as the integral over z in [0, Z_MAX] of (f(z) + f(-z)) times the normal
# density, by Gauss-Legendre: the kinks of phi' at 0 (softsign, relu) then sit at an end of the
# interval, where they cost no accuracy. Gauss-Hermite over the whole line converges slowly
# across a kink: 96 nodes give softsign's E[phi'^2] 3 % low. _X, _W: (_NODES,)
_NODES, _Z_MAX = 256, 12.0
_X, _W = leggauss(_NODES)
_X = (_X + 1.0) * (_Z_MAX / 2)
_W = _W * (_Z_MAX / 2) * np.exp(-_X * _X / 2) / math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class SpectrumTheory:
    """Free probability's first two moments of the spectrum of ``J J^T`` (module docstring).

    **Fields:**
    - ``activation``, ``sigma_w2``, ``sigma_b2``, ``depth``, ``init``: the net.
    - ``q_star``: the length map's fixed point (None: every q is fixed).
    - ``q``: the q the moments are taken at (``q*``, or its stand-in: module docstring).
    - ``input_q``: ``E[phi(h)^2]`` at that q, the input's per-unit second moment.
    - ``mu1``, ``mu2``: ``E[phi'(h)^2]``, ``E[phi'(h)^4]``.
    - ``s1``: the weights' first S-transform coefficient (-1 Gaussian, 0 orthogonal).
    - ``chi``: ``sigma_w2 mu1``, the mean squared singular value of one layer's Jacobian.
    - ``mean``: ``chi^L``; ``variance_over_mean2``: ``L (mu2 / mu1^2 - 1 - s1)``.
    """

    activation: str
    sigma_w2: float
    sigma_b2: float
    depth: int
    init: str
    q_star: float | None
    q: float
    input_q: float
    mu1: float
    mu2: float
    s1: float
    chi: float
    mean: float
    variance_over_mean2: float


def _expect(f: object, q: float) -> float:
    """``E[f(sqrt(q) z)]``, ``z ~ N(0, 1)``, by the half-line Gauss-Legendre rule above."""
    u = math.sqrt(q) * _X
    return float((f(u) + f(-u)) @ _W)  # type: ignore[operator]


def slope_moments(activation: str, q: float) -> tuple[float, float]:
    """``(mu1, mu2) = (E[phi'(h)^2], E[phi'(h)^4])`` at ``h ~ N(0, q)``."""
    phi = get_activation(activation)
    return _expect(lambda u: phi.d1(u) ** 2, q), _expect(lambda u: phi.d1(u) ** 4, q)


def critical_point(activation: str, q_star: float) -> tuple[float, float]:
    """The critical ``(sigma_w2, sigma_b2)`` whose fixed point is ``q_star``, the paper's way of
    walking along the critical line: ``sigma_w2 = 1 / mu1(q*)`` makes ``chi = 1``, and
    ``sigma_b2 = q* - sigma_w2 E[phi(h)^2]`` makes ``q*`` a fixed point of the length map.
    SpecError where that ``sigma_b2`` would be negative (no critical point has this ``q*``)."""
    phi = get_activation(activation)
    if not (math.isfinite(q_star) and q_star > 0):
        raise SpecError(f"q* must be a positive number, got {q_star!r}", field="q_star")
    mu1, _ = slope_moments(activation, q_star)
    sigma_w2 = 1.0 / mu1
    sigma_b2 = q_star - sigma_w2 * _expect(lambda u: phi.value(u) ** 2, q_star)
    if sigma_b2 < 0:
        raise SpecError(
            f"no critical point of {phi.name} has q* = {q_star:g} (sigma_b2 would be "
            f"{sigma_b2:.3g})",
            field="q_star",
        )
    return sigma_w2, max(sigma_b2, 0.0)


def spectrum_theory(
    activation: str, sigma_w2: float, sigma_b2: float, depth: int, init: str
) -> SpectrumTheory:
    """The predicted moments with everything they are made of (``SpectrumTheory``)."""
    phi = get_activation(activation)
    check_count("depth", depth, 1)
    if init not in WIDE_INITS:
        raise SpecError(
            f"unknown init {init!r} (choose from {', '.join(WIDE_INITS)})", field="init"
        )
    mf = mean_field(phi, sigma_w2, sigma_b2)
    if mf.q_star is not None and math.isinf(mf.q_star):
        raise SpecError(
            f"q grows without bound at sigma_w2 = {sigma_w2:g}, sigma_b2 = {sigma_b2:g} "
            f"({phi.name}): there is no fixed point to take the spectrum at",
            field="sigma_w2",
        )
    if mf.q_star is None:
        q = 1.0
    else:
        q = mf.q_star if mf.q_star > 0 else _Q_ZERO
    mu1, mu2 = slope_moments(phi.name, q)
    s1 = S1[init]
    chi = float(sigma_w2) * mu1
    if mu1 <= 0:
        raise SpecError(f"phi' vanishes at q = {q:g} ({phi.name}): the Jacobian is 0")
    return SpectrumTheory(
        activation=phi.name,
        sigma_w2=float(sigma_w2),
        sigma_b2=float(sigma_b2),
        depth=int(depth),
        init=init,
        q_star=mf.q_star,
        q=q,
        input_q=_expect(lambda u: phi.value(u) ** 2, q),
        mu1=mu1,
        mu2=mu2,
        s1=s1,
        chi=chi,
        mean=chi**depth,
        variance_over_mean2=depth * (mu2 / (mu1 * mu1) - 1.0 - s1),
    )


def predicted_moments(
    activation: str, sigma_w2: float, sigma_b2: float, depth: int, init: str
) -> tuple[float, float]:
    """``(m1, (m2 - m1^2) / m1^2)`` of the spectrum of ``J J^T``: ``chi^L`` and
    ``L (mu2 / mu1^2 - 1 - s1)`` (module docstring)."""
    t = spectrum_theory(activation, sigma_w2, sigma_b2, depth, init)
    return t.mean, t.variance_over_mean2


@dataclass(frozen=True, eq=False)
class JacobianSpectrum:
    """Predicted and measured moments of the squared singular values of ``J``.

    **Fields:**
    - ``config``: the nets simulated (``input_q`` set at the fixed point).
    - ``theory``: the prediction (``SpectrumTheory``).
    - ``squared_singular_values``: ``(samples, width)``, each net's, descending.
    - ``measured_mean``: the mean of every ``lambda`` of every net (``m1``).
    - ``measured_variance_over_mean2``: ``mean(lambda^2) / mean(lambda)^2 - 1``, over all of them.
    """

    config: WideConfig
    theory: SpectrumTheory
    squared_singular_values: np.ndarray
    measured_mean: float
    measured_variance_over_mean2: float

    @property
    def predicted_mean(self) -> float:
        return self.theory.mean

    @property
    def predicted_variance_over_mean2(self) -> float:
        return self.theory.variance_over_mean2


def jacobian_spectrum(config: WideConfig) -> JacobianSpectrum:
    """Simulate ``config.samples`` nets at the fixed point and compare with the prediction.

    ``config.input_q`` is replaced by the fixed point's input moment (``SpectrumTheory.input_q``);
    everything else (width, depth, init, samples, seed, device) is used as given."""
    theory = spectrum_theory(
        config.activation, config.sigma_w2, config.sigma_b2, config.depth, config.init
    )
    config = replace(config, input_q=theory.input_q)
    lam = jacobian_singular_values(config)  # (samples, width)
    m1 = float(lam.mean())
    m2 = float((lam * lam).mean())
    ratio = m2 / (m1 * m1) - 1.0 if m1 > 0 else math.nan
    return JacobianSpectrum(config, theory, lam, m1, ratio)
