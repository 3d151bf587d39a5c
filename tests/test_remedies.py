"""Gradient clipping against Pascanu et al.'s Algorithm 1, and the remedies table's findings."""

from __future__ import annotations

import numpy as np
import pytest

from gradtrace import get_preset
from gradtrace.lab.remedies import run_remedies
from gradtrace.lab.training import TrainConfig, clip_gradient, train


def test_clipping_is_algorithm_1() -> None:
    g = np.array([3.0, -4.0])  # ||g|| = 5
    np.testing.assert_allclose(clip_gradient(g, 1.0), [0.6, -0.8], rtol=1e-15)  # rescaled to norm 1
    np.testing.assert_array_equal(clip_gradient(g, 10.0), g)  # below the threshold: unchanged
    np.testing.assert_array_equal(clip_gradient(g, None), g)


def test_clipped_training_step_by_hand() -> None:
    p = get_preset("exercise-regression")
    h = train(TrainConfig(p.network, p.x, p.target, learning_rate=1.0, steps=1, clip_norm=1.0))
    g = np.array([0.85622787, -26.81835121, -123.83727063])  # part (d), norm 126.7
    step = g / np.linalg.norm(g)  # Algorithm 1 with threshold 1, then lr = 1
    np.testing.assert_allclose(h.weights[1], np.array([0.25, -0.11, 0.78]) - step, rtol=1e-7)
    assert np.linalg.norm(h.weights[1] - h.weights[0]) == pytest.approx(1.0, rel=1e-12)


def test_remedies_table_findings() -> None:
    rows = {r.name: r for r in run_remedies(steps=300, seed=0)}
    base = rows["baseline: l2, learning rate 1"]
    assert base.outcome.startswith("oscillating") and base.steps_to_tolerance is None
    assert rows["smaller learning rate (0.1)"].steps_to_tolerance == 54
    assert rows["target scaled to 1 (/128)"].steps_to_tolerance is not None
    assert rows["target scaled to 1 (/128)"].final_loss <= 1e-6  # in the original units
    assert rows["gradient-norm clipping (||g|| <= 1)"].final_loss < base.final_loss
    assert rows["Huber loss (delta 1)"].steps_to_tolerance is not None
    # vanishing: the sigmoid baseline's first-layer gradient is orders of magnitude below its last
    vb = rows["baseline: sigmoid, N(0, 1)"]
    assert vb.max_abs_grad / vb.min_abs_grad > 1e4 and vb.steps_to_tolerance is None
    assert rows["tanh hidden layers"].steps_to_tolerance is not None
    assert rows["relu hidden layers"].max_abs_grad == 0.0  # a dead relu chain: nothing flows
    skip = rows["skip connections (a_k = a_(k-1) + s(z_k))"]
    assert skip.min_abs_grad / vb.min_abs_grad > 100  # the first layer gets a usable gradient
    assert not any(r.diverged for r in rows.values())


def test_remedies_are_deterministic() -> None:
    assert run_remedies(steps=50, seed=1) == run_remedies(steps=50, seed=1)
