"""Figures from results (matplotlib, the ``plots`` extra). Nothing here computes: every value drawn
comes from a data object of the layers below. Each function returns a ``Figure``; ``save`` writes
PNG and SVG.

* ``sigmoid_figure``: s and s' with the maximum of s' and the steepest points marked.
* ``exercise_gradients_figure``: |dL/dw_k| per layer for parts (b) and (d), dots on a log scale.
* ``montecarlo_figure``: per-layer quantiles of |dL/dw_k| for several depths.
* ``depth_figure``: mean log10|dL/dw_1| against depth, with the expected rate.
* ``training_figure``: the loss curve and a layer x step heat map of log10|dL/dw_k|.
* ``phase_diagram_figure``: the mean-field critical line with xi_c contours and a marked point.
* ``jacobian_histogram_figure``: histograms of log10 of Jacobian squared singular values.
* ``pennington2017_figure``: variance over mean^2 of the spectrum against depth, by init.
* ``remedies_figure``: final loss per remedy as dots, for both problems, coloured by status.
* ``reproduction_figure``: one per reproduction (``gradtrace reproduce NAME --figure PATH``).
* ``monitor_heatmap_figure``: a monitored run's parameter x step heat map of log10||g||.
* ``monitor_summary_figure``: per parameter, the median ||g|| and its range over the steps;
  below it, the global gradient norm per step.

No bars on log axes: a bar's length there depends on where the axis happens to start.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gradtrace.core.activations import get_activation
from gradtrace.lab.depth import DepthResult
from gradtrace.lab.exercise import Solution
from gradtrace.lab.montecarlo import MonteCarloResult
from gradtrace.lab.remedies import RemedyRow
from gradtrace.lab.training import TrainHistory
from gradtrace.monitor.records import MonitorRun, norm_matrix, step_totals
from gradtrace.monitor.verdict import Verdict
from gradtrace.reproduce.pennington2017 import Pennington2017Result
from gradtrace.symbolic import SigmoidAnalysis
from gradtrace.theory.meanfield import PhaseDiagram
from gradtrace.theory.spectra import JacobianSpectrum

try:
    import matplotlib

    matplotlib.use("Agg")  # files only; never opens a window
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import LogLocator, NullFormatter
except ImportError as e:  # pragma: no cover - exercised without the extra
    raise ImportError("gradtrace's figures need matplotlib: pip install 'gradtrace[plots]'") from e

__all__ = [
    "STATUS_COLOURS",
    "depth_figure",
    "exercise_gradients_figure",
    "jacobian_histogram_figure",
    "monitor_heatmap_figure",
    "monitor_summary_figure",
    "montecarlo_figure",
    "pennington2017_figure",
    "phase_diagram_figure",
    "remedies_figure",
    "reproduction_figure",
    "save",
    "save_figure",
    "sigmoid_figure",
    "training_figure",
]


def save(fig: Figure, stem: Path) -> list[Path]:
    """Write ``stem.png`` (150 dpi) and ``stem.svg``; return both paths."""
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    fig.savefig(paths[0], dpi=150, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight")
    plt.close(fig)
    return paths


def sigmoid_figure(a: SigmoidAnalysis) -> Figure:
    """s(z) and s'(z) on [-8, 8] with the maximum of s' and the extrema of s'' marked."""
    sig = get_activation("sigmoid")
    z = np.linspace(-8, 8, 801)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(z, sig.value(z), label="s(z)")
    ax.plot(z, sig.d1(z), label="s'(z) = s(z)(1 - s(z))")
    z0, v0 = float(a.maximum[0]), float(a.maximum[1])
    ax.plot([z0], [v0], "o", color="C3", label=f"max s'(0) = {v0:g}")
    for zs, _ in a.steepest:
        zf = float(zs)
        ax.plot([zf], [float(sig.d1(np.asarray(zf)))], "s", color="C2")
    ax.plot(
        [],
        [],
        "s",
        color="C2",
        label=f"s' changes fastest: z = ±{abs(float(a.steepest[0][0])):.3f}",
    )
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set(title="The sigmoid and its derivative", xlabel="z", ylabel="value")
    ax.legend(loc="upper left")
    return fig


def exercise_gradients_figure(sol: Solution) -> Figure:
    """|dL/dw_k| per layer for parts (b) and (d): dots joined by lines on one log axis (no bars,
    whose baseline on a log axis would be arbitrary); each dot is labelled with its value."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for i, (part, label) in enumerate(
        ((sol.b, "(b) classification, y_hat = 1"), (sol.d, "(d) regression, y_hat = 128"))
    ):
        g = np.abs(part.gradients)
        k = np.arange(1, g.size + 1)
        ax.plot(k, g, "o-", color=f"C{i}", label=label)
        for kk, v in zip(k, g, strict=True):
            ax.annotate(f"{v:.3g}", (kk, v), textcoords="offset points", xytext=(6, -3), fontsize=8)
    ax.set_yscale("log")
    ax.set_xticks(k, [f"w{j}" for j in k])
    ax.set_xlim(0.7, k[-1] + 0.5)
    ax.set(
        title="Gradient magnitude per layer",
        xlabel="weight",
        ylabel="|dL/dw_k| (log scale)",
    )
    ax.legend(loc="lower right")
    return fig


def montecarlo_figure(results: Sequence[MonteCarloResult]) -> Figure:
    """Median |dL/dw_k| per layer (p05-p95 band) for each result (e.g. several depths)."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for i, r in enumerate(results):
        k = np.array([s.layer for s in r.layers])
        q = {
            key: np.array([s.abs_grad_quantiles[key] for s in r.layers])
            for key in ("p05", "p50", "p95")
        }
        label = f"depth {r.config.spec.depth}, {r.config.spec.activation}, std {r.config.std:g}"
        ax.plot(k, q["p50"], "o-", color=f"C{i}", label=label)
        ax.fill_between(k, np.maximum(q["p05"], 1e-300), q["p95"], color=f"C{i}", alpha=0.15)
    ax.set_yscale("log")
    ax.set(
        title=f"|dL/dw_k| over {results[0].config.samples:,} random initializations (median, 5-95 %)",
        xlabel="layer k",
        ylabel="|dL/dw_k| (log scale)",
    )
    ax.legend()
    return fig


def depth_figure(results: Sequence[DepthResult]) -> Figure:
    """Left: mean log10|dL/dw_1| against depth. Right: along the deepest chain, mean
    log10|dL/dz_k| against the number of layers passed back, with the expected rate's line (the
    backward product alone; dL/dw_1 also carries the forward signal, which in homogeneous chains
    moves at the same rate)."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for i, r in enumerate(results):
        label = f"{r.config.activation}, std {r.config.std:g}"
        d = np.array([p.depth for p in r.points])
        ax1.plot(
            d, [p.mean_log10_abs_grad_first for p in r.points], "o-", color=f"C{i}", label=label
        )
        prof = r.profile_mean_log10_delta
        back = r.profile_depth - np.arange(1, prof.size + 1)  # layers passed back from the output
        ax2.plot(
            back, prof - prof[-1], color=f"C{i}", label=f"{label}: fitted {r.fitted_rate:.4f}/layer"
        )
        if r.expected_rate is not None:
            ax2.plot(
                back,
                r.expected_rate * back,
                "--",
                color=f"C{i}",
                alpha=0.6,
                label=f"expected {r.expected_rate:.4f}/layer",
            )
    ax1.set_xscale("log")
    ax1.set(
        title="First-layer gradient against depth",
        xlabel="depth L (log scale)",
        ylabel="mean log10|dL/dw_1|",
    )
    ax1.legend(fontsize=8)
    ax2.set(
        title="Backward product along the deepest chain",
        xlabel="layers passed back, L - k",
        ylabel="mean log10|dL/dz_k| - log10|dL/dz_L|",
    )
    ax2.legend(fontsize=7)
    fig.tight_layout()
    return fig


def training_figure(h: TrainHistory) -> Figure:
    """The loss per step (log scale) and a layer x step heat map of log10|dL/dw_k|."""
    fig, (ax1, ax2) = plt.subplots(
        2, 1, figsize=(8, 6), sharex=True, gridspec_kw={"height_ratios": [1, 1.2]}
    )
    steps = np.arange(h.loss.size)
    ax1.plot(steps, h.loss, color="C0")
    ax1.set_yscale("log")
    ax1.set(
        title=f"Gradient descent, learning rate {h.config.learning_rate:g}: {h.outcome}",
        xlabel="step",
        ylabel="loss (log scale)",
    )
    ax1.tick_params(labelbottom=True)
    with np.errstate(divide="ignore"):
        heat = np.log10(np.abs(h.grads.T)) if h.steps_taken else np.zeros((h.weights.shape[1], 1))
    im = ax2.imshow(
        np.where(np.isfinite(heat), heat, np.nan),
        aspect="auto",
        origin="lower",
        interpolation="nearest",
        extent=(-0.5, max(h.steps_taken, 1) - 0.5, 0.5, heat.shape[0] + 0.5),
        cmap="viridis",
    )
    ax2.set_yticks(np.arange(1, heat.shape[0] + 1))
    ax2.set(title="Gradient magnitude per layer and step", xlabel="step", ylabel="layer k")
    # below the heat map, so the two panels keep the same width and their steps line up
    fig.colorbar(im, ax=ax2, label="log10|dL/dw_k|", location="bottom", aspect=40, pad=0.25)
    fig.tight_layout()
    return fig


STATUS_COLOURS = {
    "reached the tolerance": "tab:green",
    "did not reach the tolerance": "tab:blue",
    "diverged": "tab:red",
}
"""The colour of each remedy status (``RemedyRow.status``); the report's caption names them."""


def _decades(ax: Any, values: Sequence[float]) -> None:
    """A log x axis spanning whole decades around ``values``, labelled at the decades only (minor
    labels of a short log axis crowd each other)."""
    lo, hi = np.log10(min(values)), np.log10(max(values))
    lo, hi = np.floor(lo), np.ceil(hi)
    if hi - lo < 1:
        hi = lo + 1
    ax.set_xscale("log")
    ax.set_xlim(10**lo / 2, 10**hi * 2)
    step = max(1, int(np.ceil((hi - lo) / 6)))  # at most about 7 labels
    ax.xaxis.set_major_locator(LogLocator(base=10.0**step))
    ax.xaxis.set_minor_formatter(NullFormatter())


def remedies_figure(
    rows: Sequence[RemedyRow], colours: Mapping[str, str] = STATUS_COLOURS
) -> Figure:
    """Final loss of each remedy as a dot on a log axis (a dot has no baseline to mislead), one
    panel per problem, coloured by ``colours[row.status]``; the legend lists the statuses shown."""
    problems = sorted({r.problem for r in rows})
    fig, axes = plt.subplots(
        len(problems), 1, figsize=(8, 1.4 + 0.45 * len(rows)), layout="constrained"
    )
    axes = np.atleast_1d(axes)
    for ax, prob in zip(axes, problems, strict=True):
        rs = [r for r in rows if r.problem == prob]
        vals = [max(r.final_loss, 1e-16) for r in rs]
        y = np.arange(len(rs))
        ax.hlines(y, 0, 1, transform=ax.get_yaxis_transform(), color="0.88", lw=0.8, zorder=0)
        ax.scatter(vals, y, s=60, c=[colours[r.status] for r in rs], zorder=2)
        ax.set_yticks(y, [r.name for r in rs])
        ax.set_ylim(len(rs) - 0.5, -0.5)
        _decades(ax, vals)
        loss = "l2 loss, target 128" if prob == "exploding" else "bce loss"
        ax.set(title=f"{prob} gradients", xlabel=f"final loss ({loss}, log scale)", ylabel="remedy")
    shown = [s for s in colours if any(r.status == s for r in rows)]
    handles = [Line2D([], [], ls="", marker="o", ms=7, color=colours[s], label=s) for s in shown]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8)
    fig.suptitle("Remedies: the same start and budget for every run")
    return fig


# ---- the reproductions (gradtrace reproduce NAME) ---------------------------------------------


def _he2015(r: Any, fig: Figure) -> None:
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


def _glorot2010(r: Any, fig: Figure) -> None:
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


def _hanin2018(r: Any, fig: Figure) -> None:
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


_REPRODUCTION_FIGURES = {"he2015": _he2015, "glorot2010": _glorot2010, "hanin2018": _hanin2018}


def reproduction_figure(result: Any) -> Figure:
    """The figure of one reproduction (its ``name`` picks the drawing)."""
    draw = _REPRODUCTION_FIGURES.get(result.name)
    if draw is None:
        raise ValueError(f"no figure for the reproduction {result.name!r}")
    fig = plt.figure(figsize=(11 if result.name == "glorot2010" else 7, 4.5))
    draw(result, fig)
    fig.tight_layout()
    return fig


def save_figure(fig: Figure, path: Path) -> Path:
    """Write ``fig`` to ``path`` (its suffix picks the format: .png, .svg, .pdf)."""
    fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)
    return path


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


def _schoenholz2017(r: Any, fig: Figure) -> None:
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


_REPRODUCTION_FIGURES["schoenholz2017"] = _schoenholz2017


def _pennington2017(r: Any, fig: Figure) -> None:
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


_REPRODUCTION_FIGURES["pennington2017"] = _pennington2017


def _edges(v: np.ndarray) -> np.ndarray:
    """Cell edges around the grid values ``v`` (midpoints; half a step beyond the ends)."""
    mid = (v[1:] + v[:-1]) / 2
    return np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])


def _trainability(r: Any, fig: Figure) -> None:
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


_REPRODUCTION_FIGURES["trainability"] = _trainability


def _resolved(r: JacobianSpectrum) -> tuple[np.ndarray, int]:
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
        lam, unresolved = _resolved(r)
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
        lam, unresolved = _resolved(r.deepest[name])
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


# ---- the gradient monitor ------------------------------------------------------------------------


def _tick_every(n: int, most: int = 40) -> int:
    """Label every k-th of n rows, so that at most ``most`` labels show."""
    return max(1, -(-n // most))


def _nonfinite_steps(run: MonitorRun) -> set[int]:
    """Steps where any record has an inf/nan entry or a non-finite norm."""
    return {
        int(r["step"]) for r in run.records if r["nonfinite"] > 0 or not np.isfinite(r["grad_norm"])
    }


def monitor_heatmap_figure(run: MonitorRun) -> Figure:
    """Parameters (rows, model order) x recorded steps (columns), coloured by log10||g||.
    Grey: no gradient at that step (skipped, not zero); black: a gradient exactly 0 (second
    image, ``images[1]``); red crosses: inf/nan entries (legend above the axes)."""
    from matplotlib.colors import ListedColormap

    names, steps, g = norm_matrix(run.records)
    _, _, bad = norm_matrix(run.records, "nonfinite")
    n = len(names)
    fig, ax = plt.subplots(figsize=(9, min(14.0, 3.0 + 0.2 * n)), layout="constrained")
    with np.errstate(divide="ignore", invalid="ignore"):
        heat = np.log10(g)
    shown = np.ma.masked_invalid(heat)
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="#d9d9d9")
    im = ax.imshow(shown, aspect="auto", interpolation="nearest", cmap=cmap, origin="upper")
    zero = np.ma.masked_where(g != 0, np.zeros_like(g))  # nan != 0: masked too
    ax.imshow(
        zero,
        aspect="auto",
        interpolation="nearest",
        cmap=ListedColormap(["black"]).with_extremes(bad=(0, 0, 0, 0)),
        origin="upper",
    )
    rows, cols = np.nonzero((bad > 0) | (np.isnan(heat) & ~np.isnan(g)) | np.isinf(g))
    handles: list[Any] = []
    if rows.size:
        handles.append(ax.scatter(cols, rows, marker="x", color="red", s=18, label="inf/nan"))
    if (g == 0).any():
        from matplotlib.patches import Patch

        handles.append(Patch(color="black", label="exactly 0"))
    if handles:  # above the axes, so that it covers no cell
        ax.legend(
            handles=handles,
            loc="lower right",
            bbox_to_anchor=(1.0, 1.0),
            ncols=len(handles),
            fontsize=8,
            frameon=False,
        )
    k = _tick_every(n)
    ax.set_yticks(np.arange(0, n, k), [names[i] for i in range(0, n, k)], fontsize=7)
    kx = _tick_every(len(steps), 12)
    ax.set_xticks(np.arange(0, len(steps), kx), [str(steps[j]) for j in range(0, len(steps), kx)])
    ax.set_xlabel("optimizer step")
    ax.set_title("Gradient norm per parameter and step", loc="left")
    fig.colorbar(im, ax=ax, label="log10 ||g||", location="right", pad=0.02, fraction=0.03)
    return fig


def monitor_summary_figure(run: MonitorRun, verdict: Verdict) -> Figure:
    """Top: per parameter, the median ||g|| over the steps (dot) and its min-max range (line),
    log scale, over the steps where its gradient was finite and not exactly 0; a parameter whose
    gradient was 0 at every step is marked "all 0" at the left edge; the parameters the verdict
    names in red. Bottom: the global norm per step; steps with any inf/nan are red lines, not
    points."""
    from matplotlib.ticker import MaxNLocator

    names, _, g = norm_matrix(run.records)
    n = len(names)
    fig, (ax1, ax2) = plt.subplots(
        2,
        1,
        figsize=(9, min(16.0, 4.5 + 0.2 * n)),
        gridspec_kw={"height_ratios": [max(2, n / 8), 1.6]},
        layout="constrained",
    )
    named = set(verdict.layers)
    y = np.arange(n)
    ok = np.where(np.isfinite(g) & (g > 0), g, np.nan)
    have = ~np.all(np.isnan(ok), axis=1)
    med = np.full(n, np.nan)
    lo, hi = med.copy(), med.copy()
    med[have] = np.nanmedian(ok[have], axis=1)
    lo[have], hi[have] = np.nanmin(ok[have], axis=1), np.nanmax(ok[have], axis=1)
    colour = np.array(["tab:red" if name in named else "tab:blue" for name in names])
    ax1.hlines(y[have], lo[have], hi[have], colors=colour[have], lw=1.5, alpha=0.6)
    ax1.scatter(med[have], y[have], c=colour[have], s=16, zorder=3)
    ax1.set_xscale("log")
    if have.any():
        ax1.set_xlim(np.nanmin(lo) / 3, np.nanmax(hi) * 3)
    zeros = ~have & np.any(g == 0, axis=1)  # only exact zeros (and no finite positive norm)
    for i in np.flatnonzero(zeros):
        ax1.annotate(
            "all 0",
            (0.0, y[i]),
            xycoords=("axes fraction", "data"),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=7,
            color=colour[i],
        )
    k = _tick_every(n)
    ax1.set_yticks(np.arange(0, n, k), [names[i] for i in range(0, n, k)], fontsize=7)
    ax1.set_ylim(n - 0.5, -0.5)
    ax1.set(
        xlabel="||g|| (log scale): median over steps, line from min to max (exact zeros left out)",
        title=f"Per parameter ({verdict.status}; red: named by the verdict)",
    )
    ax1.grid(axis="x", which="major", alpha=0.3)
    steps, total = step_totals(run.records)
    at = np.asarray(steps)
    broken = np.isin(at, sorted(_nonfinite_steps(run)))
    fine = np.isfinite(total) & (total > 0) & ~broken
    ax2.plot(at, np.where(fine, total, np.nan), ".-", color="C0", ms=3)  # a gap at each red line
    for s in at[~fine]:
        ax2.axvline(s, color="tab:red", alpha=0.4, lw=1)
    if fine.any():
        ax2.set_yscale("log")
    ax2.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax2.set(
        xlabel="optimizer step",
        ylabel="global ||g||",
        title="Global gradient norm per step (red lines: inf/nan, or 0)",
    )
    return fig
