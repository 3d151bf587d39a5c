"""Log-magnitude mode: exact log10|dL/dw| where float64 under- or overflows."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
from hypothesis import assume, given, settings

from chains import build, chains, well_conditioned
from gradtrace import Network, backprop_log
from oracles import mp_backward_log10


def _log10_plain(g: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log10(np.abs(g))


@pytest.mark.parametrize(
    ("loss", "out", "target"), [("bce", "sigmoid", 1.0), ("l2", "identity", 3.0)]
)
def test_depth_2000_sigmoid_chain_matches_mpmath(
    loss: str, out: str, target: float, rng: np.random.Generator
) -> None:
    w = rng.standard_normal(2000)
    lt = backprop_log(Network.chain(w, output_activation=out, loss=loss), 0.63, target)
    exact = mp_backward_log10(list(w), 0.63, target, "sigmoid", out, loss, dps=30)
    want = np.array([float(v) for v, _ in exact])
    signs = np.array([s for _, s in exact])
    # absolute error in log10 grows like depth * eps * |log10 g|: 1e-9 is a wide margin
    np.testing.assert_allclose(lt.log10_abs_grad_weight, want, rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(lt.sign_grad_weight, signs)
    # far below float64's range: the plain pass underflows, and the trace says where
    assert want.min() < -400
    # below 10^-324 float64 certainly gives 0, above 10^-300 certainly not (subnormals between)
    assert lt.float64_underflow[want < -324].all()
    assert not lt.float64_underflow[want > -300].any()
    assert not lt.float64_overflow.any()


def test_depth_10000_gives_finite_logs_where_float64_gives_zero(rng: np.random.Generator) -> None:
    w = rng.standard_normal(10_000)
    lt = backprop_log(Network.chain(w), 0.63, 1.0)
    assert np.isfinite(lt.log10_abs_grad_weight).all()
    assert lt.log10_abs_grad_weight[0] < -3000  # about -0.9 per layer
    assert lt.float64_underflow[0] and lt.float64_underflow.sum() > 9000
    # the last layers are within float64's range and flagged as fine
    assert not lt.float64_underflow[-10:].any()


def test_overflow_is_flagged_and_exact_in_log_space() -> None:
    # identity chain of weight 4 at depth 600: y = 4^600 x is beyond float64 (log10 = 361)
    L = 600
    net = Network.chain([4.0] * L, activation="identity", output_activation="identity", loss="l2")
    lt = backprop_log(net, 1.0, 0.0)
    # L = y^2, dL/dw_k = 2 y * y / w_k = 2 * 4^(2L) / 4 exactly
    want = np.log10(2.0) + (2 * L - 1) * np.log10(4.0)
    # 1,200 log-space additions: rounding accumulates to about depth * eps relative
    np.testing.assert_allclose(lt.log10_abs_grad_weight, want, rtol=1e-12)
    assert lt.float64_overflow.all()
    assert lt.warnings  # the plain pass reported it


def test_exact_zero_gradient_is_minus_inf_with_sign_zero() -> None:
    # relu unit switched off: the gradients before it are exactly 0, not an underflow
    net = Network.chain(
        [-1.0, 2.0, 0.5], activation="relu", output_activation="identity", loss="l2"
    )
    lt = backprop_log(net, 1.0, 1.0)
    assert np.isneginf(lt.log10_abs_grad_weight[:2]).all()
    assert (lt.sign_grad_weight[:2] == 0).all()
    assert not lt.float64_underflow.any()


def test_underflow_that_switches_a_branch_is_flagged() -> None:
    # z1 = 1e-257 * -8e-157 = -9e-414 underflows to -0 in float64; the leaky_relu output then
    # sees z2 = 0 (slope 0.01) instead of +9e-414 (slope 1): float64 is 100x off, log space exact
    net = Network.chain(
        [1.09787181e-257, -1.0], activation="tanh", output_activation="leaky_relu", loss="l2"
    )
    lt = backprop_log(net, -8.20871134e-157, 1.0)
    assert lt.float64_inaccurate[0]  # dL/dw1 = delta1 x went through leaky'(0) = 0.01
    assert lt.float64_underflow[1]  # dL/dw2 = delta2 a1 with a1 = tanh(-0) = 0
    with mp.workdps(30):
        x = mp.mpf(-8.20871134e-157)
        z1 = mp.mpf(1.09787181e-257) * x
        y = -mp.tanh(z1)  # z2 = -a1 > 0: slope 1
        g1 = 2 * (y - 1) * 1 * (-1) * (1 / mp.cosh(z1) ** 2) * x
        g2 = 2 * (y - 1) * mp.tanh(z1)
    assert lt.log10_abs_grad_weight[0] == pytest.approx(float(mp.log10(abs(g1))), rel=1e-14)
    assert lt.log10_abs_grad_weight[1] == pytest.approx(float(mp.log10(abs(g2))), rel=1e-14)


def test_biases_use_a_stable_log_add() -> None:
    # z = w a + b with w a = -b + tiny: log space must handle the cancellation like float64 does
    net = Network.chain(
        [2.0, 0.5], biases=[-1.0, 0.3], activation="tanh", output_activation="identity", loss="l2"
    )
    lt = backprop_log(net, 0.5, 0.0)  # z1 = 2 * 0.5 - 1 = 0 exactly
    assert np.isneginf(lt.log10_abs_z[0]) and lt.sign_z[0] == 0
    with mp.workdps(30):
        # dL/dw2 = 2 (y - 0) a1 with a1 = tanh(0) = 0 -> exactly 0; dL/db2 = 2 y
        y = mp.mpf("0.3")
    assert lt.sign_grad_weight[1] == 0
    assert 10 ** lt.log10_abs_delta[1] == pytest.approx(float(2 * y), rel=1e-15)


@settings(max_examples=60)
@given(p=chains(max_depth=30, batch=True))
def test_agrees_with_plain_float64_where_that_is_finite(p: dict) -> None:
    net, trace = build(p)
    # where w a + b or the residual cancels, float64 and log space each lose those digits, differently
    assume(well_conditioned(p, trace))
    lt = backprop_log(net, p["x"], p["target"])
    g = trace.grad_weight
    # in the normal range both are exact to rounding, unless an intermediate underflowed: then
    # the log trace must say so (float64_inaccurate) rather than let float64 pass silently
    ok = np.isfinite(g) & (np.abs(g) > 1e-290) & ~lt.float64_inaccurate
    np.testing.assert_allclose(
        lt.log10_abs_grad_weight[ok], _log10_plain(g)[ok], rtol=0, atol=1e-11
    )
    flagged = lt.float64_inaccurate
    if flagged.any():
        assert (np.abs(trace.z) < 1e-290).any() or (np.abs(g[flagged]) < 1e-290).any()
    np.testing.assert_array_equal(lt.sign_grad_weight[ok], np.sign(g)[ok])
    zero = g == 0
    # an exact zero in float64 is either a true zero (sign 0) or flagged as an underflow
    assert ((lt.sign_grad_weight[zero] == 0) | lt.float64_underflow[zero]).all()
