"""Figures from results (matplotlib, the ``plots`` extra). Nothing here computes: every value drawn
comes from a data object of the layers below. Each function returns a ``Figure``; ``save`` writes
PNG and SVG.

* ``sigmoid_figure``: s and s' with the maximum of s' and the steepest points marked.
* ``exercise_gradients_figure``: |dL/dw_k| per layer for parts (b) and (d), log scale.
* ``montecarlo_figure``: per-layer quantiles of |dL/dw_k| for several depths.
* ``depth_figure``: mean log10|dL/dw_1| against depth, with the expected rate.
* ``training_figure``: the loss curve and a layer x step heat map of log10|dL/dw_k|.
* ``remedies_figure``: final loss per remedy, for both problems.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gradtrace.activations import get_activation
from gradtrace.exercise import Solution
from gradtrace.lab.depth import DepthResult
from gradtrace.lab.montecarlo import MonteCarloResult
from gradtrace.lab.remedies import RemedyRow
from gradtrace.lab.training import TrainHistory
from gradtrace.symbolic import SigmoidAnalysis

try:
    import matplotlib

    matplotlib.use("Agg")  # files only; never opens a window
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure
except ImportError as e:  # pragma: no cover - exercised without the extra
    raise ImportError("gradtrace's figures need matplotlib: pip install 'gradtrace[plots]'") from e

__all__ = [
    "depth_figure",
    "exercise_gradients_figure",
    "montecarlo_figure",
    "remedies_figure",
    "save",
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
    """|dL/dw_k| per layer for parts (b) and (d), side by side, log scale."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8), sharey=False)
    for ax, part, title in (
        (axes[0], sol.b, "(b) classification, y_hat = 1"),
        (axes[1], sol.d, "(d) regression, y_hat = 128"),
    ):
        g = np.abs(part.gradients)
        labels = [f"w{k + 1}" for k in range(g.size)]
        ax.bar(labels, g, color=["C0", "C1", "C2"][: g.size])
        ax.set_yscale("log")
        for i, v in enumerate(g):
            ax.annotate(f"{v:.3g}", (i, v), ha="center", va="bottom", fontsize=8)
        ax.set(title=title, xlabel="weight", ylabel="|dL/dw| (log scale)")
    fig.suptitle("Gradient magnitude per layer")
    fig.tight_layout()
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
    ax2.set(title="Gradient magnitude per layer and step", xlabel="step", ylabel="layer k")
    fig.colorbar(im, ax=ax2, label="log10|dL/dw_k|")
    fig.tight_layout()
    return fig


def remedies_figure(rows: Sequence[RemedyRow]) -> Figure:
    """Final loss of each remedy (log scale), one panel per problem, converged runs marked."""
    problems = sorted({r.problem for r in rows})
    fig, axes = plt.subplots(1, len(problems), figsize=(10, 3.8))
    axes = np.atleast_1d(axes)
    for ax, prob in zip(axes, problems, strict=True):
        rs = [r for r in rows if r.problem == prob]
        vals = [max(r.final_loss, 1e-16) for r in rs]
        colors = [
            "C2" if r.steps_to_tolerance is not None else ("C3" if r.diverged else "C0") for r in rs
        ]
        ax.barh([r.name for r in rs], vals, color=colors)
        ax.set_xscale("log")
        ax.invert_yaxis()
        ax.set(title=f"{prob} gradients", xlabel="final loss (log scale)")
    axes[0].bar([], [], color="C2", label="reached the tolerance")
    axes[0].bar([], [], color="C0", label="did not")
    axes[0].legend(fontsize=8, loc="lower right")
    fig.suptitle("Remedies: the same start and budget for every run")
    fig.tight_layout()
    return fig
