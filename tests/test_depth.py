"""Depth experiment: the stationary rate against quadrature and plain chain simulations, and the
fitted rate of simulated deep chains against it."""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest

from gradtrace import SpecError
from gradtrace.core.activations import get_activation
from gradtrace.lab.depth import DepthConfig, expected_rate, log_abs_weight_mean, run_depth


def test_mean_log_weight_closed_forms_match_quadrature() -> None:
    with mp.workdps(30):
        normal = mp.quad(lambda w: mp.log10(abs(w)) * mp.npdf(w, 0, 2.5), [-mp.inf, 0, mp.inf])
        a = mp.sqrt(3) * 2.5
        uniform = mp.quad(lambda w: mp.log10(abs(w)) / (2 * a), [-a, 0, a])
    assert log_abs_weight_mean(2.5, "normal") == pytest.approx(float(normal), rel=1e-12)
    assert log_abs_weight_mean(2.5, "uniform") == pytest.approx(float(uniform), rel=1e-12)


@pytest.mark.parametrize(
    ("activation", "std"), [("sigmoid", 1.0), ("sigmoid", 4.0), ("tanh", 3.0), ("softsign", 3.0)]
)
def test_stationary_expectation_matches_a_plain_chain_simulation(
    activation: str, std: float
) -> None:
    # run 4,000 independent chains a_k = phi(w_k a_(k-1)) for 600 steps, drop 100, and average
    # log10 phi'(w a) over the rest: the ergodic average the grid computes without simulating
    act = get_activation(activation)
    rng = np.random.default_rng(0)
    a = np.full(4000, 0.5)
    terms = []
    for step in range(600):
        w = std * rng.standard_normal(a.shape)
        if step >= 100:
            terms.append(np.log10(act.d1(w * a)))
        a = act.value(w * a)
    per_chain = np.mean(terms, axis=0)
    sim, se = per_chain.mean(), per_chain.std(ddof=1) / math.sqrt(per_chain.size)
    theory = expected_rate(activation, std) - log_abs_weight_mean(std)
    assert abs(sim - theory) < 4 * se + 2e-4, (sim, se, theory)


@pytest.mark.parametrize(
    ("activation", "std"),
    [
        ("sigmoid", 1.0),
        ("identity", 3.0),
        ("identity", 0.5),
        ("tanh", 0.5),
        ("tanh", 3.0),
        ("softsign", 3.0),
        ("leaky_relu", 1.0),
    ],
)
def test_fitted_rate_matches_the_stationary_rate(activation: str, std: float) -> None:
    r = run_depth(DepthConfig(activation, std, depths=(1500,), samples=300, seed=3))
    assert r.expected_rate is not None
    # sampling error of the fit, plus the grid's own convergence (below 1e-3 decade)
    assert abs(r.fitted_rate - r.expected_rate) < 4 * r.fitted_rate_se + 1e-3, (
        r.fitted_rate,
        r.fitted_rate_se,
        r.expected_rate,
    )


def test_exploding_and_vanishing_signs() -> None:
    # identity chains explode when E log10|w| > 0, i.e. std > exp((gamma + ln 2) / 2) = 1.887
    threshold = math.exp((0.5772156649015329 + math.log(2)) / 2)
    assert expected_rate("identity", threshold) == pytest.approx(0.0, abs=1e-12)
    assert expected_rate("identity", 2.0) > 0 > expected_rate("identity", 1.8)
    assert expected_rate("sigmoid", 1.0) < expected_rate("sigmoid", 3.0) < 0


def test_depth_10000_is_finite_and_float64_loses_it() -> None:
    r = run_depth(DepthConfig("sigmoid", 1.0, depths=(10, 10_000), samples=20, seed=1))
    deep = r.points[-1]
    assert np.isfinite(deep.mean_log10_abs_grad_first) and deep.mean_log10_abs_grad_first < -8000
    assert deep.fraction_float64_lost_first == 1.0
    assert r.points[0].fraction_float64_lost_first == 0.0
    assert r.profile_mean_log10_grad.shape == (10_000,)


def test_relu_paths_die_at_the_rate_of_a_fair_coin() -> None:
    # x = 1: each hidden relu unit is on with probability 1/2, so w1's gradient is 0 with
    # probability 1 - 2^-(L-1)
    r = run_depth(DepthConfig("relu", 1.0, depths=(1, 3), samples=8000, seed=2))
    assert r.points[0].fraction_zero_first == 0.0
    assert r.points[1].fraction_zero_first == pytest.approx(
        0.75, abs=4 * math.sqrt(0.75 * 0.25 / 8000)
    )


def test_same_seed_same_result() -> None:
    a = run_depth(DepthConfig("tanh", 1.5, depths=(5, 50), samples=10, seed=4))
    b = run_depth(DepthConfig("tanh", 1.5, depths=(5, 50), samples=10, seed=4))
    assert a.points == b.points and np.array_equal(
        a.profile_mean_log10_delta, b.profile_mean_log10_delta
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"depths": (0,)}, "depths must be between 1 and 10000"),
        ({"depths": (10_001,)}, "depths must be between 1 and 10000"),
        ({"std": -1.0}, "std must be positive"),
        ({"samples": 1}, "samples must be at least 2"),
        ({"activation": "gelu"}, "unknown activation 'gelu'"),
        ({"init": "cauchy"}, "unknown init 'cauchy'"),
    ],
)
def test_bad_config(kwargs: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        DepthConfig(**kwargs)
