"""Figures draw exactly the data they are given, with titles and labelled axes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from gradtrace import ChainSpec, get_preset
from gradtrace.lab.depth import DepthConfig, run_depth
from gradtrace.lab.exercise import solve
from gradtrace.lab.montecarlo import MonteCarloConfig, run_montecarlo
from gradtrace.lab.remedies import run_remedies
from gradtrace.lab.training import TrainConfig, train
from gradtrace.present import figures as P


def _labelled(fig) -> None:
    for ax in fig.axes:
        if ax.get_label() == "<colorbar>":
            continue
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel(), ax


def test_exercise_dots_are_the_gradients() -> None:
    sol = solve()
    fig = P.exercise_gradients_figure(sol)
    _labelled(fig)
    (ax,) = fig.axes
    assert ax.get_yscale() == "log" and not ax.patches  # dots, no bars on a log axis
    for line, part in zip(ax.lines, (sol.b, sol.d), strict=True):
        np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3])
        np.testing.assert_allclose(line.get_ydata(), np.abs(part.gradients), rtol=0)


def test_sigmoid_marks_the_maximum() -> None:
    fig = P.sigmoid_figure(solve().a)
    _labelled(fig)
    marker = next(ln for ln in fig.axes[0].lines if ln.get_label().startswith("max"))
    assert tuple(marker.get_xydata()[0]) == (0.0, 0.25)
    assert fig.axes[0].get_legend() is not None


def test_depth_profile_and_expected_line() -> None:
    r = run_depth(DepthConfig("sigmoid", 1.0, depths=(10, 200), samples=20, seed=0))
    fig = P.depth_figure([r])
    _labelled(fig)
    right = fig.axes[1]
    data = right.lines[0].get_ydata()
    np.testing.assert_allclose(data, r.profile_mean_log10_delta - r.profile_mean_log10_delta[-1])
    back, expected = right.lines[1].get_xdata(), right.lines[1].get_ydata()
    np.testing.assert_allclose(expected, r.expected_rate * back)


def test_training_heat_map_is_log_gradients() -> None:
    p = get_preset("exercise-regression")
    h = train(TrainConfig(p.network, p.x, p.target, 0.1, steps=30))
    fig = P.training_figure(h)
    _labelled(fig)
    img = fig.axes[1].images[0].get_array()
    np.testing.assert_allclose(img, np.log10(np.abs(h.grads.T)))
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), h.loss)


def test_montecarlo_and_remedies(tmp_path: Path) -> None:
    r = run_montecarlo(MonteCarloConfig(ChainSpec(3), 5000, seed=0))
    fig = P.montecarlo_figure([r])
    _labelled(fig)
    np.testing.assert_allclose(
        fig.axes[0].lines[0].get_ydata(), [s.abs_grad_quantiles["p50"] for s in r.layers]
    )
    rows = run_remedies(steps=40)
    fig = P.remedies_figure(rows)
    for ax in fig.axes:
        assert ax.get_title() and ax.get_xlabel()
    assert not any(ax.patches for ax in fig.axes)  # dots, no bars on a log axis
    from matplotlib.collections import PathCollection

    xs = [
        x
        for ax in fig.axes
        for coll in ax.collections
        if isinstance(coll, PathCollection)
        for x in coll.get_offsets()[:, 0]
    ]
    expected = [
        max(x.final_loss, 1e-16)
        for prob in sorted({x.problem for x in rows})
        for x in rows
        if x.problem == prob
    ]
    np.testing.assert_allclose(xs, expected)
    png, svg = P.save(fig, tmp_path / "remedies")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "<svg" in svg.read_text()[:500]
