"""Gradient descent: first steps against hand-computed updates, and each outcome detected."""

from __future__ import annotations

import numpy as np
import pytest

from gradtrace import Network, SpecError, get_preset
from gradtrace.lab.training import TrainConfig, make_dataset, train
from oracles import mp_grads


def test_first_two_steps_are_w_minus_lr_times_the_exact_gradient() -> None:
    p = get_preset("exercise-regression")
    lr = 0.01
    h = train(TrainConfig(p.network, p.x, p.target, lr, steps=2))
    w0 = [0.25, -0.11, 0.78]
    g0, _ = mp_grads(w0, None, 0.63, 128.0, "sigmoid", "identity", "l2")
    w1 = [w - lr * float(g) for w, g in zip(w0, g0, strict=True)]
    g1, _ = mp_grads(w1, None, 0.63, 128.0, "sigmoid", "identity", "l2")
    w2 = [w - lr * float(g) for w, g in zip(w1, g1, strict=True)]
    np.testing.assert_allclose(h.weights[1], w1, rtol=1e-13)
    np.testing.assert_allclose(h.weights[2], w2, rtol=1e-13)
    np.testing.assert_allclose(
        h.relative_update[0], np.abs(lr * np.array([float(g) for g in g0])) / np.abs(w0), rtol=1e-12
    )
    # the loss recorded before each step is (128 - y)^2 at those weights
    a2 = 1 / (1 + np.exp(-w1[1] / (1 + np.exp(-w1[0] * 0.63))))
    assert h.loss[1] == pytest.approx((128 - w1[2] * a2) ** 2, rel=1e-13)


def test_divergence_is_detected_without_nan() -> None:
    # identity chain, L = (t - w2 w1 x)^2: a large step overshoots further every time
    net = Network.chain([1.0, 1.0], activation="identity", output_activation="identity", loss="l2")
    h = train(TrainConfig(net, 3.0, 0.0, learning_rate=1.0, steps=1000))
    assert h.outcome == "diverged" and h.diverged_at is not None and h.diverged_at < 20
    assert np.isfinite(h.loss).all() and np.isfinite(h.weights).all()
    assert h.loss.size == h.weights.shape[0] == h.grads.shape[0] + 1
    assert "diverged at step" in h.message


def test_divergence_at_the_first_step_is_reported() -> None:
    # y = 1e200 * 1e200 is inf already: the run reports it instead of failing
    net = Network.chain(
        [1e200, 1e200], activation="identity", output_activation="identity", loss="l2"
    )
    h = train(TrainConfig(net, 1.0, 0.0, learning_rate=0.1, steps=10))
    assert h.outcome == "diverged" and h.diverged_at == 0 and h.steps_taken == 0
    np.testing.assert_array_equal(h.weights, [[1e200, 1e200]])
    assert h.loss.size == 0


def test_oscillation_is_detected() -> None:
    # one weight, L = (t - w x)^2: the step multiplies the error by 1 - 2 lr x^2 = -0.98, so
    # the update changes sign every step while the loss shrinks slowly
    net = Network.chain([0.0], activation="identity", output_activation="identity", loss="l2")
    h = train(TrainConfig(net, 1.0, 1.0, learning_rate=0.99, steps=100))
    assert h.outcome == "oscillating"
    assert np.all(np.sign(h.grads[1:, 0]) != np.sign(h.grads[:-1, 0]))
    # and the loss follows (0.98^2)^t exactly
    np.testing.assert_allclose(h.loss, 0.98 ** (2 * np.arange(h.loss.size)), rtol=1e-9)


def test_convergence_and_its_step() -> None:
    p = get_preset("exercise-regression")
    h = train(TrainConfig(p.network, p.x, p.target, 0.1, steps=1000))
    assert h.outcome == "converged" and h.loss[-1] <= 1e-6
    assert h.converged_at == h.loss.size - 1 and (h.loss[:-1] > 1e-6).all()


def test_vanishing_first_layer_moves_least_at_the_start() -> None:
    p = get_preset("exercise-classification")
    h = train(TrainConfig(p.network, p.x, p.target, 0.1, steps=1))
    r = h.relative_update[0]
    assert r[2] / r[0] > 40  # 46x: |g1|/|w1| against |g3|/|w3| from part (b)


def test_dataset_is_seeded_and_shaped() -> None:
    spec = get_preset("exercise-regression").network.spec
    x1, t1 = make_dataset(spec, 16, 3)
    x2, t2 = make_dataset(spec, 16, 3)
    assert np.array_equal(x1, x2) and np.array_equal(t1, t2) and (0 < t1).all() and (t1 < 128).all()
    h = train(TrainConfig(get_preset("exercise-regression").network, x1, t1, 0.01, steps=3))
    # full-batch: the first gradient is the mean of the per-sample gradients
    from gradtrace import backprop

    g = backprop(get_preset("exercise-regression").network, x1, t1).grad_weight.mean(axis=0)
    np.testing.assert_allclose(h.grads[0], g, rtol=1e-14)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"learning_rate": 0.0}, "learning rate must be positive"),
        ({"learning_rate": float("nan")}, "learning rate must be a finite number"),
        ({"steps": 0}, "steps must be between 1 and 100000"),
        ({"target": 2.0}, r"target 2 is outside \[0, 1\]"),
        ({"x": [1.0, 2.0]}, "x and target must have the same length"),
    ],
)
def test_bad_config(kwargs: dict, message: str) -> None:
    base = {
        "network": get_preset("exercise-classification").network,
        "x": 0.63,
        "target": 1.0,
        "learning_rate": 0.1,
    }
    with pytest.raises(SpecError, match=message):
        TrainConfig(**{**base, **kwargs})


def test_dead_relus_are_reported_as_stalled_not_decreasing() -> None:
    from gradtrace.core.network import Network
    from gradtrace.lab.training import TrainConfig, train

    # z1 = -1 switches the first relu off: every gradient is exactly 0, nothing moves
    net = Network.chain([-1.0, 1.0], activation="relu", output_activation="relu", loss="l2")
    h = train(TrainConfig(net, np.array([1.0]), np.array([1.0]), learning_rate=0.1, steps=20))
    assert h.outcome == "stalled" and "every gradient is exactly 0" in h.message
    assert np.all(h.weights == h.weights[0]) and h.loss[0] == h.loss[-1] == 1.0
