"""The documents of ``gradtrace jacobian`` (the squared singular values of a deep random net's
input-output Jacobian, measured, beside free probability's mean and variance, each quantity
with its formula and its source) and of the Pennington et al. 2017 reproduction."""

from __future__ import annotations

import numpy as np

from gradtrace.present.blocks import Block, Equations, Heading, Inline, Table, human, par
from gradtrace.present.theory_doc import m
from gradtrace.reproduce.pennington2017 import Pennington2017Result
from gradtrace.theory.spectra import JacobianSpectrum

__all__ = ["PENNINGTON_2017", "PENNINGTON_2018", "jacobian_document", "pennington2017_document"]

PENNINGTON_2017 = (
    "Pennington, Schoenholz & Ganguli 2017, Resurrecting the sigmoid in deep learning through "
    "dynamical isometry"
)
PENNINGTON_2018 = (
    "Pennington, Schoenholz & Ganguli 2018, The emergence of spectral universality in deep networks"
)

_WEIGHTS = {
    "gaussian": "W_ij ~ N(0, sigma_w2/N)",
    "orthogonal": "W = sqrt(sigma_w2) Q, Q Haar-orthogonal",
}


def _quantiles(lam: np.ndarray) -> tuple[tuple[Inline, ...], ...]:
    qs = np.quantile(lam, [0.0, 0.05, 0.5, 0.95, 1.0])
    return ((*(human(v, 4) for v in qs),),)


def jacobian_document(r: JacobianSpectrum) -> list[Block]:
    """Predicted against measured moments of the spectrum of ``J J^T`` (``gradtrace jacobian``)."""
    c, t = r.config, r.theory
    q_text: Inline = "every q is fixed; q = 1 is used" if t.q_star is None else human(t.q_star, 6)
    rows: tuple[tuple[Inline, ...], ...] = (
        (
            m("q*"),
            q_text,
            m("q = sigma_w2 E[phi(sqrt(q) z)^2] + sigma_b2"),
            "pre-activations h ~ N(0, q*)",
        ),
        (m("mu1"), human(t.mu1, 6), m("mu1 = E[phi'(h)^2]"), "mean of D^2, D = diag(phi'(h))"),
        (m("mu2"), human(t.mu2, 6), m("mu2 = E[phi'(h)^4]"), "second moment of D^2"),
        (
            m("s1"),
            human(t.s1, 3),
            m("S_(W^T W)(z) = (1 + s1 z + ...)/sigma_w2"),
            "-1 Gaussian, 0 orthogonal",
        ),
        (
            m("chi"),
            human(t.chi, 6),
            m("chi = sigma_w2 mu1"),
            "mean squared singular value of one layer",
        ),
    )
    moments: tuple[tuple[Inline, ...], ...] = (
        (
            "mean, m1",
            m("chi^L"),
            human(t.mean, 5),
            human(r.measured_mean, 5),
        ),
        (
            "variance / mean^2",
            m("L (mu2/mu1^2 - 1 - s1)"),
            human(t.variance_over_mean2, 5),
            human(r.measured_variance_over_mean2, 5),
        ),
    )
    return [
        Heading(f"Jacobian spectrum: {c.activation}, {c.init} weights", 1),
        par(
            f"{c.samples} random nets (seed {c.seed}) of depth L = {c.depth} and width N = "
            f"{c.width}: ",
            m(_WEIGHTS[c.init]),
            ", ",
            m("b_i ~ N(0, sigma_b2)"),
            ", at ",
            m(f"sigma_w2 = {c.sigma_w2:g}, sigma_b2 = {c.sigma_b2:g}"),
            ". The input-output Jacobian is ",
            m("J = D_L W^L ... D_1 W^1"),
            "; its squared singular values are the eigenvalues lambda of ",
            m("J J^T"),
            ". Each net's input has per-unit second moment ",
            m(f"E[phi(h)^2] = {t.input_q:.6g}"),
            ", so that every h starts at the fixed point q*, as in the paper.",
        ),
        Table(("quantity", "value", "formula", "meaning"), rows, "The prediction's ingredients"),
        par(
            "Free probability multiplies the layers' S-transforms, ",
            m("S_(JJ^T) = S_(W W^T)^L S_(D^2)^L"),
            f" ({PENNINGTON_2017}, Eq. 12); its first two coefficients give the mean and the "
            "variance of the spectrum, exactly for every depth at infinite width "
            f"({PENNINGTON_2017}, Sec. 2.5; {PENNINGTON_2018}):",
        ),
        Equations((m("m1 = chi^L"), m("(m2 - m1^2)/m1^2 = L (mu2/mu1^2 - 1 - s1)"))),
        Table(
            ("moment of lambda", "formula", "predicted", "measured"),
            moments,
            f"{c.samples} x {c.width} squared singular values",
        ),
        Table(
            ("min", "p05", "median", "p95", "max"),
            _quantiles(r.squared_singular_values),
            "The measured lambda",
        ),
        par(
            "At finite width the measured moments differ from the prediction by corrections of "
            "order L/N and by sampling noise. Gaussian weights add L to the variance over mean^2 "
            "(s1 = -1): their spectrum widens with depth whatever phi is. Orthogonal weights add "
            "nothing, and a sigmoidal phi with small q* keeps mu2/mu1^2 near 1: dynamical isometry.",
        ),
    ]


def pennington2017_document(r: Pennington2017Result) -> list[Block]:
    """The reproduction's table: predicted against measured moments per series and depth."""
    c = r.config
    rows = tuple(
        (
            row.series,
            str(row.depth),
            human(row.q_star, 4),
            human(row.measured_mean, 4),
            human(row.predicted_variance_over_mean2, 4),
            human(row.measured_variance_over_mean2, 4),
        )
        for row in r.rows
    )
    g, o = r.slopes["gaussian"], r.slopes["orthogonal"]
    return [
        Heading(f"Reproduction: {PENNINGTON_2017}", 1),
        par(
            f"Deep {c.activation} nets at criticality (chi = 1, so the predicted mean m1 = 1 at "
            f"every depth), width N = {c.width}, {c.samples} nets per depth (seed {c.seed}). "
            f"Gaussian and orthogonal weights share the critical point sigma_b2 = {c.sigma_b2:g}, "
            f"sigma_w2 = {r.sigma_w2:.6g}, q* = {r.q_star:.4g}; the tuned orthogonal series "
            f"moves along the critical line to the q* whose predicted variance over mean^2 is "
            f"{c.isometry_ratio:g} at each depth.",
        ),
        Equations((m("(m2 - m1^2)/m1^2 = L (mu2/mu1^2 - 1 - s1)"),)),
        Table(
            ("series", "L", m("q*"), "measured m1", "predicted var/m1^2", "measured var/m1^2"),
            rows,
            "Squared singular values of J",
        ),
        par(
            f"The paper's result: with Gaussian weights the variance grows linearly in depth, "
            f"here with slope mu2/mu1^2 = {g:.4g} >= 1, and no critical point avoids it; with "
            f"orthogonal weights the slope is mu2/mu1^2 - 1 = {o:.4g}, which vanishes as q* -> 0 "
            "for tanh, so a q* that shrinks with depth keeps the spectrum concentrated around 1 "
            "(dynamical isometry). At finite width the deepest Gaussian nets measure above the "
            "prediction: corrections of order L/N.",
        ),
    ]
