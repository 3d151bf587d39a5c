"""The fused Monte Carlo kernels (NumPy and compiled) against the engine's backprop."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from hypothesis import assume, given, settings

from chains import build, chains, well_conditioned
from gradtrace.lab.kernel import HAVE_NUMBA, grad_weights

NO_NUMBA = "numba not importable (the fast extra; the test extra installs it)"
BACKENDS = [
    "numpy",
    pytest.param("numba", marks=pytest.mark.skipif(not HAVE_NUMBA, reason=NO_NUMBA)),
]


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=150)
@given(p=chains(max_depth=30, batch=True, wmax=4.0, xmax=4.0))
def test_kernel_equals_engine(backend: str, p: dict) -> None:
    net, trace = build(p)
    if backend == "numba":
        # its exp differs from NumPy's by an ulp or two and it fuses multiply-adds: the same
        # formulas rounded differently, so sums that cancel (w a + b, skip connections, the
        # residual y - y_hat) amplify those differences; elsewhere 1e-12 holds
        assume(well_conditioned(p, trace))
    shape = trace.batch_shape
    n = int(np.prod(shape)) if shape else 1
    L = net.depth
    w = trace.weights.reshape(n, L)
    b = None if trace.biases is None else trace.biases.reshape(n, L)
    x, t = trace.x.reshape(n), trace.target.reshape(n)
    got = grad_weights(net.spec, w, b, x, t, backend=backend)  # type: ignore[arg-type]
    want = trace.grad_weight.reshape(n, L)
    # the same formulas, rounded in a slightly different order: 1e-12 relative (depth 30 included)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("backend", BACKENDS)
def test_kernel_on_the_exercise_batch(backend: str, rng: np.random.Generator) -> None:
    from gradtrace import Network, backprop

    n = 100_003  # not a multiple of any tile size
    w = rng.standard_normal((n, 3))
    net = Network.chain(w)
    want = backprop(net, 0.63, 1.0).grad_weight
    got = grad_weights(net.spec, w, None, np.full(n, 0.63), np.ones(n), backend=backend)  # type: ignore[arg-type]
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=0)


def test_unknown_backend_is_refused() -> None:
    from gradtrace import ChainSpec

    with pytest.raises(ValueError, match="'gpu'"):
        grad_weights(ChainSpec(3), np.ones((1, 3)), None, np.ones(1), np.ones(1), backend="gpu")  # type: ignore[arg-type]


@pytest.mark.skipif(not HAVE_NUMBA, reason=NO_NUMBA)
def test_compiled_exp_against_numpy_and_mpmath(rng: np.random.Generator) -> None:
    from gradtrace.lab.kernel_numba import exp_nonpositive

    u = -np.concatenate(
        [np.linspace(0.0, 760.0, 400_001), rng.exponential(3.0, 200_000), [0.0, 1e-300, 5e-324]]
    )
    got, want = exp_nonpositive(u), np.exp(u)
    normal = want >= np.finfo(np.float64).tiny
    ulp = np.spacing(want[normal])
    assert np.max(np.abs(got[normal] - want[normal]) / ulp) <= 3.0
    # subnormal results are rounded once: within one subnormal step of numpy's
    assert np.max(np.abs(got[~normal] - want[~normal])) <= 5e-324
    assert got[u < -745.2].max() == 0.0
    assert exp_nonpositive(np.array([-0.0]))[0] == 1.0
    assert np.isnan(exp_nonpositive(np.array([np.nan]))[0])
    assert exp_nonpositive(np.array([-np.inf]))[0] == 0.0
    # and against 30-digit values at a few points where numpy itself could be off
    for v in (-1e-8, -0.3465, -1.0, -20.5, -300.25, -708.0):
        with mpmath.workdps(30):
            exact = mpmath.exp(mpmath.mpf(v))
        assert abs(exp_nonpositive(np.array([v]))[0] - float(exact)) <= 2.5 * np.spacing(
            float(exact)
        )
