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

One module per subject (``exercise``, ``lab``, ``theory``, ``reproduce``, ``monitor``; matplotlib
and the savers in ``canvas``); every name is public here, as ``figures.NAME``.

No bars on log axes: a bar's length there depends on where the axis happens to start.
"""

from __future__ import annotations

from gradtrace.present.figures.canvas import plt, save, save_figure
from gradtrace.present.figures.exercise import exercise_gradients_figure, sigmoid_figure
from gradtrace.present.figures.lab import (
    STATUS_COLOURS,
    depth_figure,
    montecarlo_figure,
    remedies_figure,
    training_figure,
)
from gradtrace.present.figures.monitor import monitor_heatmap_figure, monitor_summary_figure
from gradtrace.present.figures.reproduce import pennington2017_figure, reproduction_figure
from gradtrace.present.figures.theory import jacobian_histogram_figure, phase_diagram_figure

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
    "plt",
    "remedies_figure",
    "reproduction_figure",
    "save",
    "save_figure",
    "sigmoid_figure",
    "training_figure",
]
