"""SGD on the dense engine: the minibatch mean of dL/dW (``batch_mean``) and the trainer."""

from __future__ import annotations

import numpy as np
import pytest

from gradtrace.core.dense import DenseNetwork, DenseSpec, dense_backprop
from gradtrace.core.errors import SpecError
from gradtrace.core.inits import bias, gaussian
from gradtrace.lab.classifier import accuracy, train_classifier


def _net(rng: np.random.Generator, widths: tuple[int, ...]) -> DenseNetwork:
    spec = DenseSpec(widths, activation="tanh", output_activation="identity", loss="l2")
    ws = tuple(
        gaussian(rng, widths[k + 1], widths[k], sigma_w2=1.5) for k in range(len(widths) - 1)
    )
    bs = tuple(bias(rng, n, sigma_b2=0.05) for n in widths[1:])
    return DenseNetwork(spec, ws, bs)


@pytest.mark.parametrize("batch_shape", [(7,), (3, 4)])
def test_batch_mean_is_the_mean_of_the_per_sample_gradients(
    rng: np.random.Generator, batch_shape: tuple[int, ...]
) -> None:
    net = _net(rng, (5, 6, 4, 3))
    x = rng.standard_normal((*batch_shape, 5))
    y = rng.standard_normal((*batch_shape, 3))
    each = dense_backprop(net, x, y)
    mean = dense_backprop(net, x, y, batch_mean=True)
    axes = tuple(range(len(batch_shape)))
    for g, m in zip(each.grad_weight, mean.grad_weight, strict=True):
        np.testing.assert_allclose(m, g.mean(axes), rtol=1e-13, atol=1e-15)
    assert each.grad_bias is not None and mean.grad_bias is not None
    for g, m in zip(each.grad_bias, mean.grad_bias, strict=True):
        np.testing.assert_allclose(m, g.mean(axes), rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(mean.prediction, each.prediction)


def test_batch_mean_refuses_batched_parameters(rng: np.random.Generator) -> None:
    net = _net(rng, (2, 3, 1))
    batched = DenseNetwork(net.spec, tuple(w[None] for w in net.weights), net.biases)
    with pytest.raises(SpecError, match="batch_mean needs parameters without batch axes"):
        dense_backprop(batched, np.ones((1, 2)), np.ones((1, 1)), batch_mean=True)


def _blobs(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    labels = rng.integers(0, 3, 300)
    centres = 2.0 * rng.standard_normal((3, 4))
    return centres[labels] + 0.3 * rng.standard_normal((300, 4)), labels


def test_sgd_learns_separable_blobs(rng: np.random.Generator) -> None:
    x, labels = _blobs(rng)
    net = _net(rng, (4, 16, 3))
    before = accuracy(net.spec, net.weights, net.biases, x, labels)
    run = train_classifier(
        net.spec,
        net.weights,
        net.biases,
        x,
        labels,
        learning_rate=0.05,
        batch=16,
        steps=300,
        rng=np.random.default_rng(1),
    )
    assert not run.diverged and len(run.losses) == 300
    assert run.losses[-20:].mean() < 0.3 * run.losses[:20].mean()
    assert accuracy(net.spec, run.weights, run.biases, x, labels) > max(0.95, before)


def test_a_diverging_run_stops_and_says_so(rng: np.random.Generator) -> None:
    x, labels = _blobs(rng)
    net = _net(rng, (4, 16, 3))
    run = train_classifier(
        net.spec,
        net.weights,
        net.biases,
        x,
        labels,
        learning_rate=1e6,
        batch=16,
        steps=200,
        rng=np.random.default_rng(1),
    )
    assert run.diverged and len(run.losses) < 200
    assert all(np.isfinite(w).all() for w in run.weights)  # the last finite parameters
