"""Figures of the theory: the mean-field phase diagram, and histograms of the Jacobian's squared
singular values."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gradtrace.present.figures.canvas import Figure, plt
from gradtrace.theory.meanfield import PhaseDiagram
from gradtrace.theory.spectra import JacobianSpectrum

__all__ = ["jacobian_histogram_figure", "phase_diagram_figure", "resolved_spectrum"]


def phase_diagram_figure(pd: PhaseDiagram, point: tuple[float, float] | None = None) -> Figure:
    """The critical line sigma_w2(sigma_b2) over contours of log10 xi_c (the depth correlations
    travel), with ``point`` = (sigma_w2, sigma_b2) marked."""
    fig, ax = plt.subplots(figsize=(7, 5))
    with np.errstate(divide="ignore"):
        logxi = np.log10(np.where(np.isfinite(pd.xi_c), pd.xi_c, np.nan))
    finite = logxi[np.isfinite(logxi)]
    if finite.size:
        levels = np.linspace(np.floor(finite.min() * 2) / 2, np.ceil(finite.max() * 2) / 2, 13)
        cs = ax.contourf(pd.sigma_w2, pd.sigma_b2, logxi, levels=levels, cmap="magma")
        fig.colorbar(cs, ax=ax, label="log10 xi_c (layers)")
    ok = np.isfinite(pd.critical)
    ax.plot(pd.critical[ok], pd.sigma_b2[ok], color="C0", lw=2.5, label="critical line (chi_1 = 1)")
    if point is not None:
        ax.plot([point[0]], [point[1]], "*", ms=16, color="C2", mec="k", label="your point")
    ax.set_xlim(pd.sigma_w2[0], pd.sigma_w2[-1])
    ax.set_ylim(pd.sigma_b2[0], pd.sigma_b2[-1])
    ax.text(0.03, 0.95, "ordered", transform=ax.transAxes, color="w", va="top")
    ax.text(0.97, 0.05, "chaotic", transform=ax.transAxes, color="w", ha="right")
    ax.set(
        title=f"Mean-field phase diagram, {pd.activation}",
        xlabel="sigma_w^2",
        ylabel="sigma_b^2",
    )
    ax.legend(loc="upper right", fontsize=8)
    return fig


def resolved_spectrum(r: JacobianSpectrum) -> tuple[np.ndarray, int]:
    """The squared singular values eigvalsh resolves (above 1e-13 of each net's largest; see
    ``lab.wide.jacobian_singular_values``), flattened, and how many were left out."""
    lam = r.squared_singular_values
    keep = lam > 1e-13 * lam[:, :1]
    return lam[keep], int(lam.size - keep.sum())


def jacobian_histogram_figure(spectra: Sequence[JacobianSpectrum]) -> Figure:
    """Density of log10 lambda, the squared singular values of J, one histogram per spectrum,
    with the measured mean (solid) and the predicted mean chi^L (dashed) marked."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for i, r in enumerate(spectra):
        lam, unresolved = resolved_spectrum(r)
        c, t = r.config, r.theory
        label = (
            f"{c.init}, L = {c.depth}, N = {c.width}: var/mean^2 "
            f"{r.measured_variance_over_mean2:.3g} (predicted {t.variance_over_mean2:.3g})"
            + (f"; {unresolved} below 1e-13 max not drawn" if unresolved else "")
        )
        ax.hist(np.log10(lam), bins=60, density=True, alpha=0.5, color=f"C{i}", label=label)
        ax.axvline(np.log10(r.measured_mean), color=f"C{i}", lw=1.5)
        ax.axvline(np.log10(t.mean), color=f"C{i}", lw=1.5, ls="--")
    first = spectra[0].config
    ax.set(
        title=f"Squared singular values of J: {first.activation}, sigma_w2 = {first.sigma_w2:.4g}, "
        f"sigma_b2 = {first.sigma_b2:.4g}",
        xlabel="log10 lambda (solid: measured mean; dashed: predicted chi^L)",
        ylabel="density",
    )
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
