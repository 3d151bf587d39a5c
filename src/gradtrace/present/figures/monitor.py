"""Figures of a monitored run: the parameter x step heat map of log10||g||, and the per-parameter
summary beside the global norm per step."""

from __future__ import annotations

import numpy as np

from gradtrace.monitor.records import MonitorRun, norm_matrix, step_totals
from gradtrace.monitor.verdict import Verdict
from gradtrace.present.figures.canvas import Artist, Figure, matplotlib, plt

__all__ = ["monitor_heatmap_figure", "monitor_summary_figure"]


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
    handles: list[Artist] = []
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
