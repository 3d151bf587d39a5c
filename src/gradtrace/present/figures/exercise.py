"""Figures of the worked exercise: the sigmoid and its derivative, and part (b)'s and (d)'s
gradients per layer."""

from __future__ import annotations

import numpy as np

from gradtrace.core.activations import get_activation
from gradtrace.lab.exercise import Solution
from gradtrace.present.figures.canvas import Figure, plt
from gradtrace.symbolic import SigmoidAnalysis

__all__ = ["exercise_gradients_figure", "sigmoid_figure"]


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
