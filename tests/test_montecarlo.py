"""Monte Carlo over initializations: against closed forms, a plain NumPy loop, and itself."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest

from gradtrace import ChainSpec, SpecError
from gradtrace.lab.montecarlo import BLOCK, RESOLUTION, MonteCarloConfig, run_montecarlo
from gradtrace.present.json import montecarlo_dict

PHI = NormalDist()


def test_depth_one_matches_the_closed_form() -> None:
    # one sigmoid unit, bce, label 1: |dL/dw| = x s(-w x), decreasing in w ~ N(0, 1), so its
    # q-quantile is x s(-x w_(1-q)) with w_(1-q) the normal quantile, exactly
    x, N = 5.0, 1_000_000  # x = 5: |g| < 1e-3 has probability 4.5%, not 1e-24 as at x = 0.63
    r = run_montecarlo(MonteCarloConfig(ChainSpec(1), N, seed=3, x=x, target=1.0))
    layer = r.layers[0]

    def cdf(v: float) -> float:  # exact P(|g| <= v) = 1 - Phi(w) with x s(-x w) = v
        if v >= x:
            return 1.0
        return 1 - PHI.cdf(-math.log(v / (x - v)) / x)

    for key, q in (("p05", 0.05), ("p25", 0.25), ("p50", 0.5), ("p75", 0.75), ("p95", 0.95)):
        got = layer.abs_grad_quantiles[key]
        tol = 5 * math.sqrt(q * (1 - q) / N)  # sampling error
        # the reported value is exact up to one histogram bin either way
        lo, hi = cdf(got * 10**-RESOLUTION), cdf(got * 10**RESOLUTION)
        assert lo - tol <= q <= hi + tol, (key, got, lo, hi)
    # E[log10 |g|] by quadrature over w
    wg = np.linspace(-12, 12, 400_001)
    dens = np.exp(-(wg**2) / 2) / math.sqrt(2 * math.pi)
    lg = np.log10(x) - np.logaddexp(0, x * wg) / math.log(10)  # log10(x s(-x w))
    mean = np.trapezoid(dens * lg, wg)
    sd = math.sqrt(np.trapezoid(dens * (lg - mean) ** 2, wg))
    assert abs(layer.mean_log10_abs_grad - mean) < 5 * sd / math.sqrt(N)
    # P(|g| < 1e-3) = 1 - Phi(w_c) with x s(-x w_c) = 1e-3
    wc = -math.log(1e-3 / (x - 1e-3)) / x
    p = 1 - PHI.cdf(wc)
    assert abs(layer.fraction_below["1e-3"] - p) < 5 * math.sqrt(p * (1 - p) / N)


def _plain_exercise_grads(seed: int, n: int) -> np.ndarray:
    """The exercise's classification net written out by hand on the same block stream."""
    rows = []
    for b in range(-(-n // BLOCK)):
        m = min(BLOCK, n - b * BLOCK)
        w = np.random.default_rng([seed, b]).standard_normal((m, 3))
        x = 0.63
        a1 = 1 / (1 + np.exp(-w[:, 0] * x))
        a2 = 1 / (1 + np.exp(-w[:, 1] * a1))
        y = 1 / (1 + np.exp(-w[:, 2] * a2))
        d3 = y - 1.0
        d2 = d3 * w[:, 2] * a2 * (1 - a2)
        d1 = d2 * w[:, 1] * a1 * (1 - a1)
        rows.append(np.stack([d1 * x, d2 * a1, d3 * a2], axis=1))
    return np.abs(np.concatenate(rows))


def test_matches_a_plain_numpy_loop_with_the_same_seed() -> None:
    n = 150_000  # three blocks, the last one partial
    r = run_montecarlo(MonteCarloConfig(ChainSpec(3), n, seed=11))
    g = _plain_exercise_grads(11, n)
    lg = np.log10(g)
    for k, layer in enumerate(r.layers):
        srt = np.sort(g[:, k])
        for key, q in (("p05", 0.05), ("p50", 0.5), ("p95", 0.95)):
            rank = q * n
            lo, hi = srt[max(math.floor(rank) - 1, 0)], srt[min(math.ceil(rank), n - 1)]
            got = layer.abs_grad_quantiles[key]
            assert lo * 10 ** (-2 * RESOLUTION) <= got <= hi * 10 ** (2 * RESOLUTION), (k, key)
        assert layer.mean_log10_abs_grad == pytest.approx(lg[:, k].mean(), rel=1e-10)
        assert layer.fraction_below["1e-3"] == np.count_nonzero(g[:, k] < 1e-3) / n
        assert layer.fraction_below["1e-6"] == np.count_nonzero(g[:, k] < 1e-6) / n
        assert layer.fraction_above["1e2"] == np.count_nonzero(g[:, k] > 1e2) / n
    ratio = lg[:, 0] - lg[:, 2]
    assert r.mean_log10_ratio == pytest.approx(ratio.mean(), rel=1e-10)


def test_chunk_size_does_not_change_the_result() -> None:
    spec = ChainSpec(4, "tanh", "identity", "l2", biases=True)
    base = dict(spec=spec, samples=3 * BLOCK + 123, seed=5, x=None, target=None)
    results = [
        montecarlo_dict(run_montecarlo(MonteCarloConfig(**base, chunk_size=c)))
        for c in (1, BLOCK, 2 * BLOCK + 1, 10 * BLOCK)
    ]
    assert all(r == results[0] for r in results[1:])


def test_same_seed_same_result_other_seed_other_result() -> None:
    cfg = dict(spec=ChainSpec(3), samples=20_000)
    a = montecarlo_dict(run_montecarlo(MonteCarloConfig(**cfg, seed=1)))
    b = montecarlo_dict(run_montecarlo(MonteCarloConfig(**cfg, seed=1)))
    c = montecarlo_dict(run_montecarlo(MonteCarloConfig(**cfg, seed=2)))
    assert a == b and a != c


def test_uniform_init_has_the_requested_spread() -> None:
    # depth 1, identity, l2, target 0, x = 1: dL/dw = 2 w, so |g| / 2 = |w| ~ |U(-a, a)|, a = sqrt(3) std
    r = run_montecarlo(
        MonteCarloConfig(
            ChainSpec(1, "identity", "identity", "l2"),
            400_000,
            seed=4,
            init="uniform",
            std=0.5,
            x=1.0,
            target=0.0,
        )
    )
    a = math.sqrt(3) * 0.5
    assert r.layers[0].abs_grad_quantiles["p50"] / 2 == pytest.approx(a / 2, rel=5e-3)
    assert r.layers[0].abs_grad_quantiles["p95"] / 2 == pytest.approx(0.95 * a, rel=5e-3)


def test_relu_zero_gradients_are_counted() -> None:
    # relu chain with x = 1: the first unit is off for w1 < 0, half the time
    r = run_montecarlo(
        MonteCarloConfig(ChainSpec(2, "relu", "identity", "l2"), 100_000, seed=9, x=1.0, target=0.5)
    )
    assert r.layers[0].fraction_zero == pytest.approx(0.5, abs=0.01)
    assert r.layers[0].abs_grad_quantiles["p25"] == 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"samples": 0}, "samples must be a whole number of at least 1"),
        ({"std": 0.0}, "std must be positive"),
        ({"init": "cauchy"}, "unknown init 'cauchy'"),
        ({"seed": -1}, "seed must be a whole number of at least 0"),
        ({"target": 2.0}, r"target 2 is outside \[0, 1\]"),
        ({"spec": ChainSpec(101)}, "depth must be at most 100"),
    ],
)
def test_bad_config(kwargs: dict, message: str) -> None:
    base = {"spec": ChainSpec(3), "samples": 10}
    with pytest.raises(SpecError, match=message):
        MonteCarloConfig(**{**base, **kwargs})


def test_overflowed_gradients_are_left_out_not_counted_as_zero() -> None:
    # identity chain, std 1e150: |y| = |w1 w2 w3| x overflows float64 in part of the samples
    spec = ChainSpec(3, "identity", "identity", "l2")
    r = run_montecarlo(MonteCarloConfig(spec, 20_000, seed=2, std=1e150, x=1.0, target=0.0))
    assert r.float64_nonfinite > 0
    for layer in r.layers:
        assert layer.fraction_zero == 0.0  # no gradient of this chain is truly 0
