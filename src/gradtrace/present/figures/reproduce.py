"""Figures of the reproductions (``gradtrace reproduce NAME --figure PATH``): one drawing per paper,
picked by the type of its result."""

from __future__ import annotations

import numpy as np

from gradtrace.present.figures.canvas import Figure, plt
from gradtrace.present.figures.theory import resolved_spectrum
from gradtrace.reproduce import ReproductionResult
from gradtrace.reproduce.glorot2010 import Glorot2010Result
from gradtrace.reproduce.hanin2018 import Hanin2018Result
from gradtrace.reproduce.he2015 import He2015Result
from gradtrace.reproduce.pennington2017 import Pennington2017Reproduction, Pennington2017Result
from gradtrace.reproduce.schoenholz2017 import Schoenholz2017Result
from gradtrace.reproduce.trainability import TrainabilityResult

__all__ = ["pennington2017_figure", "reproduction_figure"]


def _he2015(r: He2015Result, fig: Figure) -> None:
    ax = fig.add_subplot(1, 1, 1)
    for i, (name, label) in enumerate(
        (("xavier", "Xavier, Var[w] = 1/n"), ("he", "He, Var[w] = 2/n"))
    ):
        ax.plot(r.layers, r.std[name], "o", ms=4, color=f"C{i}", label=f"{label}: measured")
        ax.plot(
            r.layers, r.closed_form_std[name], "-", color=f"C{i}", alpha=0.6, label="closed form"
        )
    ax.set_yscale("log", base=2)
    ax.set(
        title=f"ReLU nets of width {r.width}: std of the pre-activations by layer",
        xlabel="layer l",
        ylabel="std (log2 scale)",
    )
    ax.legend(fontsize=8)


def _glorot2010(r: Glorot2010Result, fig: Figure) -> None:
    ax1, ax2 = fig.subplots(1, 2)
    for i, name in enumerate(("standard", "normalized")):
        ax1.plot(
            r.layers,
            r.grad_variance[name],
            "o-",
            color=f"C{i}",
            label=f"{name}: factor {r.factor[name]:.2f}/layer",
        )
    ax1.set_yscale("log")
    ax1.set(
        title="Back-propagated gradients at init (tanh)",
        xlabel="hidden layer k",
        ylabel="Var[dL/dz_k]",
    )
    ax1.legend(fontsize=8)
    for k in range(r.mean_activation.shape[1]):
        ax2.plot(
            r.epochs,
            r.mean_activation[:, k],
            "o-",
            ms=3,
            color=f"C{k}",
            label=f"hidden layer {k + 1}",
        )
    ax2.set(
        title="Mean sigmoid activation while training (digits, standard init)",
        xlabel="epoch",
        ylabel="mean activation",
        ylim=(0, 1),
    )
    ax2.legend(fontsize=8)


def _hanin2018(r: Hanin2018Result, fig: Figure) -> None:
    ax = fig.add_subplot(1, 1, 1)
    for i, (w, ratio, se, c) in enumerate(
        zip(r.widths, r.ratio, r.ratio_se, r.closed, strict=True)
    ):
        d = np.arange(len(ratio))
        ax.errorbar(
            d,
            ratio,
            yerr=2 * se,
            fmt="o",
            ms=4,
            color=f"C{i}",
            label=f"width {w[0]}: measured (2 se)",
        )
        ax.plot(d, c, "-", color=f"C{i}", alpha=0.6, label="3 prod(1 + 5/n_j)")
    ax.set_yscale("log")
    ax.set(
        title=f"E[Z^4] / E[Z^2]^2 of He-initialized ReLU nets ({r.samples} nets each)",
        xlabel="hidden layers before Z",
        ylabel="E[Z^4] / E[Z^2]^2 (log scale)",
    )
    ax.legend(fontsize=8)


def _schoenholz2017(r: Schoenholz2017Result, fig: Figure) -> None:
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(r.curve_sigma_w2, r.curve_xi, "-", color="C0", label="mean-field theory")
    ax.plot(r.sigma_w2, r.xi_simulated, "o", color="C1", label=f"simulated (width {r.width})")
    ax.axvline(
        r.critical, color="grey", ls="--", lw=1, label=f"critical sigma_w^2 = {r.critical:.3f}"
    )
    ax.set_yscale("log")
    ax.set(
        title=f"Correlation depth scale, tanh, sigma_b^2 = {r.sigma_b2:g}",
        xlabel="sigma_w^2",
        ylabel="xi_c (layers, log scale)",
        ylim=(1, 1e3),
    )
    ax.legend(fontsize=8)


def _pennington2017(r: Pennington2017Reproduction, fig: Figure) -> None:
    ax = fig.add_subplot(1, 1, 1)
    for i, series in enumerate(dict.fromkeys(row.series for row in r.result.rows)):
        rows = [row for row in r.result.rows if row.series == series]
        depths = [row.depth for row in rows]
        ax.plot(depths, [row.measured_variance_over_mean2 for row in rows], "o", color=f"C{i}",
                label=f"{series}: measured")  # fmt: skip
        ax.plot(depths, [row.predicted_variance_over_mean2 for row in rows], "-", color=f"C{i}",
                alpha=0.6, label=f"{series}: free probability")  # fmt: skip
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set(
        title="Spread of the Jacobian's squared singular values at criticality (tanh)",
        xlabel="depth L",
        ylabel="variance / mean^2 (log scale)",
    )
    ax.legend(fontsize=8)


def _edges(v: np.ndarray) -> np.ndarray:
    """Cell edges around the grid values ``v`` (midpoints; half a step beyond the ends)."""
    mid = (v[1:] + v[:-1]) / 2
    return np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])


def _trainability(r: TrainabilityResult, fig: Figure) -> None:
    ax = fig.add_subplot(1, 1, 1)
    depths = r.depths.astype(float)
    mesh = ax.pcolormesh(
        _edges(r.sigma_w2), _edges(depths), r.accuracy, cmap="viridis", vmin=0.0, vmax=1.0
    )
    fig.colorbar(mesh, ax=ax, label="test accuracy")
    top = float(_edges(depths)[-1])
    ax.plot(r.curve_sigma_w2, r.curve_six_xi_c, "-", color="white", lw=2, label="6 xi_c (theory)")
    finite = np.isfinite(r.trainable)
    ax.plot(
        r.sigma_w2[finite],
        r.trainable[finite],
        "o",
        color="red",
        ms=5,
        label=f"measured: accuracy falls below {r.threshold:g}",
    )
    if (~finite).any():
        ax.plot(r.sigma_w2[~finite], np.full((~finite).sum(), top), "^", color="red", ms=6)
    if r.sigma_w2_critical is not None:
        ax.axvline(r.sigma_w2_critical, color="white", ls=":", lw=1)
    ax.set_ylim(max(0.0, float(_edges(depths)[0])), top)  # no negative depths
    ax.set(
        title=f"Trainability of {r.activation} nets\n(width {r.width}, sigma_b2 = {r.sigma_b2:g}, "
        f"{r.steps} SGD steps, digits)",
        xlabel="sigma_w^2",
        ylabel="depth L",
    )
    # below the axes: inside, it hid the chaotic side's 6 xi_c curve
    # below the axes, on grey: the theory's line is white, to stand out on the accuracy map
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, facecolor="0.6")


def reproduction_figure(result: ReproductionResult) -> Figure:
    """The figure of one reproduction (its result's type picks the drawing)."""
    known = (
        He2015Result,
        Glorot2010Result,
        Hanin2018Result,
        Schoenholz2017Result,
        Pennington2017Reproduction,
        TrainabilityResult,
    )
    if not isinstance(result, known):
        raise ValueError(f"no figure for the reproduction {result.name!r}")
    fig = plt.figure(figsize=(11 if isinstance(result, Glorot2010Result) else 7, 4.5))
    match result:
        case He2015Result():
            _he2015(result, fig)
        case Glorot2010Result():
            _glorot2010(result, fig)
        case Hanin2018Result():
            _hanin2018(result, fig)
        case Schoenholz2017Result():
            _schoenholz2017(result, fig)
        case Pennington2017Reproduction():
            _pennington2017(result, fig)
        case TrainabilityResult():
            _trainability(result, fig)
    fig.tight_layout()
    return fig


def pennington2017_figure(r: Pennington2017Result) -> Figure:
    """Left: variance over mean^2 of the spectrum against depth, measured (dots) and predicted
    L (mu2/mu1^2 - 1 - s1) (lines), one colour per series. Right: each series' deepest spectrum."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    series = list(dict.fromkeys(row.series for row in r.rows))
    for i, name in enumerate(series):
        rows = [row for row in r.rows if row.series == name]
        d = np.array([row.depth for row in rows])
        ax1.plot(d, [row.measured_variance_over_mean2 for row in rows], "o", color=f"C{i}")
        label = (
            f"{name}: predicted {r.slopes[name]:.3g} L"
            if name in r.slopes
            else f"{name}: predicted {rows[0].predicted_variance_over_mean2:.3g}"
        )
        ax1.plot(
            d, [row.predicted_variance_over_mean2 for row in rows], "-", color=f"C{i}", label=label
        )
    ax1.set_xscale("log", base=2)
    ax1.set_yscale("log")
    ax1.set(
        title=f"{r.config.activation} at criticality (q* = {r.q_star:.3g} unless tuned), "
        f"N = {r.config.width}",
        xlabel="depth L",
        ylabel="variance / mean^2 of lambda (dots: measured)",
    )
    ax1.legend(fontsize=8)
    for i, name in enumerate(series):
        lam, unresolved = resolved_spectrum(r.deepest[name])
        label = f"{name} ({unresolved} below 1e-13 max not drawn)" if unresolved else name
        ax2.hist(np.log10(lam), bins=60, density=True, alpha=0.5, color=f"C{i}", label=label)
    ax2.set(
        title=f"Spectra at L = {max(r.config.depths)}",
        xlabel="log10 lambda",
        ylabel="density",
    )
    ax2.legend(fontsize=8)
    fig.tight_layout()
    return fig
