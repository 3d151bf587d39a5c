"""Figures of the lab's experiments: Monte Carlo gradients per layer, the depth at which they vanish,
a training run, and the remedies compared."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from gradtrace.lab.depth import DepthResult
from gradtrace.lab.montecarlo import MonteCarloResult
from gradtrace.lab.remedies import RemedyRow
from gradtrace.lab.training import TrainHistory
from gradtrace.present.figures.canvas import Axes, Figure, Line2D, LogLocator, NullFormatter, plt

__all__ = [
    "STATUS_COLOURS",
    "depth_figure",
    "montecarlo_figure",
    "remedies_figure",
    "training_figure",
]


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


def _decades(ax: Axes, values: Sequence[float]) -> None:
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
