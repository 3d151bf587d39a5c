"""The fused Monte Carlo kernel against the engine's backprop."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings

from chains import build, chains
from gradtrace.lab.kernel import grad_weights


@settings(max_examples=150)
@given(p=chains(max_depth=30, batch=True, wmax=4.0, xmax=4.0))
def test_kernel_equals_engine(p: dict) -> None:
    net, trace = build(p)
    shape = trace.batch_shape
    n = int(np.prod(shape)) if shape else 1
    L = net.depth
    w = trace.weights.reshape(n, L)
    b = None if trace.biases is None else trace.biases.reshape(n, L)
    got = grad_weights(net.spec, w, b, trace.x.reshape(n), trace.target.reshape(n))
    want = trace.grad_weight.reshape(n, L)
    # the same formulas, rounded in a slightly different order: 1e-12 relative (depth 30 included)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300)


def test_kernel_on_the_exercise_batch(rng: np.random.Generator) -> None:
    from gradtrace import Network, backprop

    w = rng.standard_normal((100_000, 3))
    net = Network.chain(w)
    want = backprop(net, 0.63, 1.0).grad_weight
    got = grad_weights(net.spec, w, None, np.full(100_000, 0.63), np.ones(100_000))
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=0)
