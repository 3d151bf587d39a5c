"""Backprop against independent oracles: mpmath at 30 digits, torch.autograd in float64,
central differences; batching; validation; non-finite detection."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
from hypothesis import assume, given, settings

from chains import (
    SMOOTH,
    assert_grads_close,
    away_from_kinks,
    build,
    chains,
    unsaturated,
    well_conditioned,
)
from gradtrace import Network, SpecError, backprop, get_preset
from gradtrace.core.gradcheck import check_gradients, numerical_gradients
from oracles import mp_grads, mp_loss, torch_grads

# ---- the exercise, against mpmath at 30 digits ----------------------------------------------------


@pytest.mark.parametrize(
    ("preset", "act_out", "loss"),
    [("exercise-classification", "sigmoid", "bce"), ("exercise-regression", "identity", "l2")],
)
def test_exercise_numbers_match_mpmath(preset: str, act_out: str, loss: str) -> None:
    p = get_preset(preset)
    w = [0.25, -0.11, 0.78]  # typed from the exercise, not read from the preset
    trace = backprop(p.network, 0.63, p.target)
    exact, _ = mp_grads(w, None, 0.63, p.target, "sigmoid", act_out, loss, dps=30)
    for got, want in zip(trace.grad_weight, exact, strict=True):
        assert abs(got - float(want)) <= 1e-14 * abs(float(want))
    want_loss = mp_loss(w, None, 0.63, p.target, "sigmoid", act_out, loss, dps=30)
    assert float(trace.loss) == pytest.approx(float(want_loss), rel=1e-14)
    # prediction: the forward pass of the exercise in mpmath
    with mp.workdps(30):
        a2 = 1 / (1 + mp.exp(-mp.mpf("-0.11") / (1 + mp.exp(-mp.mpf("0.25") * mp.mpf("0.63")))))
        y = mp.mpf("0.78") * a2
        y = 1 / (1 + mp.exp(-y)) if act_out == "sigmoid" else y
    assert float(trace.prediction) == pytest.approx(float(y), rel=1e-15)


def test_exercise_values_on_record() -> None:
    # the figures quoted in the exercise (to their printed digits)
    b = backprop(get_preset("exercise-classification").network, 0.63, 1.0).grad_weight
    d = backprop(get_preset("exercise-regression").network, 0.63, 128.0).grad_weight
    np.testing.assert_allclose(b, [0.0013636, -0.042711, -0.19723], rtol=5e-5)
    np.testing.assert_allclose(d, [0.85623, -26.818, -123.84], rtol=5e-5)


# ---- random chains ---------------------------------------------------------------------------------


@settings(max_examples=120)
@given(p=chains(max_depth=30, batch=True))
def test_matches_torch_autograd(p: dict) -> None:
    _, trace = build(p)
    assume(unsaturated(p, trace))
    gw, gb, loss = torch_grads(
        p["weights"],
        p["biases"],
        p["x"],
        p["target"],
        p["activation"],
        p["output_activation"],
        p["loss"],
        residual=p["residual"],
    )
    scale = np.maximum(np.abs(trace.loss), np.max(np.abs(gw), axis=-1))
    # torch's bce-with-logits takes log(1 + e^-|z|) without log1p: ~1e-11 off for small losses
    # (the engine's loss is held to mpmath at 1e-13 in test_losses.py)
    np.testing.assert_allclose(trace.loss, loss, rtol=1e-9, atol=1e-300)
    assert_grads_close(trace.grad_weight, gw, scale, rtol=1e-9, floor=1e-15)
    if gb is not None:
        assert_grads_close(trace.grad_bias, gb, scale, rtol=1e-9, floor=1e-15)


def _stencil_loss_scale(net: Network, p: dict, rel_step: float = 1e-3) -> np.ndarray:
    """Largest |L| over the widest points the differences evaluate, per batch element (this sets
    their rounding floor)."""
    worst = np.abs(backprop(net, p["x"], p["target"]).loss)
    for params, is_w in ((net.weights, True), (net.biases, False)):
        if params is None:
            continue
        for k in range(net.depth):
            for m in (-1, 1):
                q = params.copy()
                q[..., k] += m * rel_step * np.maximum(1.0, np.abs(q[..., k]))
                moved = (
                    Network(net.spec, q, net.biases) if is_w else Network(net.spec, net.weights, q)
                )
                worst = np.maximum(worst, np.abs(backprop(moved, p["x"], p["target"]).loss))
    return worst


@settings(max_examples=60)
@given(p=chains(max_depth=30, wmax=1.0, batch=True))
def test_matches_central_differences(p: dict) -> None:
    # A chain with gain g per layer varies with w1 on the scale g^-depth: no float64 step resolves
    # g = 2 at depth 30 to 1e-9. So this oracle gets |w| <= 1 and no skip connections (gain <= 1);
    # the exploding regime is checked against torch (|w| <= 2) and mpmath (|w| <= 8, saturated).
    net, trace = build(p)
    # a residual that (nearly) cancels makes every gradient ~0: below this oracle's noise; and a
    # skip connection lifts the gain per layer to 1 + |w phi'| (up to 2): torch and mpmath cover those
    assume(away_from_kinks(p, trace) and well_conditioned(p, trace) and not p["residual"])
    # first step 1e-3 |a|: never crosses a kink kept 0.05 away (|a| <= 32 here)
    fd = numerical_gradients(net, p["x"], p["target"], rel_step=1e-3)
    fd_w, fd_b = fd.grad_weight, fd.grad_bias
    # the noise floor of a central difference is about eps max|L(p +- h)| / h
    scale = np.maximum(_stencil_loss_scale(net, p), np.max(np.abs(trace.grad_weight), axis=-1))
    assert_grads_close(trace.grad_weight, fd_w, scale, rtol=1e-9, floor=3e-11)
    if fd_b is not None:
        assert_grads_close(trace.grad_bias, fd_b, scale, rtol=1e-9, floor=3e-11)


@settings(max_examples=25)
@given(p=chains(max_depth=6, acts=[*SMOOTH, "relu", "leaky_relu"], wmax=8.0, xmax=5.0))
def test_matches_mpmath_including_saturated_units(p: dict) -> None:
    # wider weights than the torch test: units saturate, where the engine must stay exact
    _, trace = build(p)
    assume(away_from_kinks(p, trace, margin=1e-3) and well_conditioned(p, trace))
    w = [float(v) for v in p["weights"]]
    b = None if p["biases"] is None else [float(v) for v in p["biases"]]
    gw, gb = mp_grads(
        w,
        b,
        float(p["x"]),
        float(p["target"]),
        p["activation"],
        p["output_activation"],
        p["loss"],
        dps=30,
        residual=p["residual"],
    )
    ref = np.array([float(g) for g in gw])
    # mpmath.diff resolves a gradient down to ~1e-30 of the loss, and not below ~1e-80 at all
    # (a loss of 1e-518 leaves nothing to difference): below that it reads 0
    scale = max(float(np.abs(trace.loss)), float(np.max(np.abs(ref))), 1e-55)
    assert_grads_close(trace.grad_weight, ref, np.array(scale), rtol=1e-11, floor=1e-25)
    if gb is not None:
        assert_grads_close(
            trace.grad_bias,
            np.array([float(g) for g in gb]),
            np.array(scale),
            rtol=1e-11,
            floor=1e-25,
        )


def test_engine_exact_where_torch_rounds_to_zero() -> None:
    # tanh chain with a saturated first unit: torch's 1 - tanh^2 gives 0 at z = 20
    p = {
        "weights": np.array([10.0, 0.5]),
        "biases": None,
        "x": np.array(2.0),
        "target": np.array(0.3),
        "activation": "tanh",
        "output_activation": "identity",
        "loss": "l2",
    }
    _, trace = build(p)
    gw_torch, _, _ = torch_grads(p["weights"], None, 2.0, 0.3, "tanh", "identity", "l2")
    gw_exact, _ = mp_grads([10.0, 0.5], None, 2.0, 0.3, "tanh", "identity", "l2", dps=40)
    assert gw_torch[0] == 0.0
    assert trace.grad_weight[0] == pytest.approx(float(gw_exact[0]), rel=1e-13)
    assert trace.grad_weight[0] != 0.0


# ---- batching ----------------------------------------------------------------------------------


@settings(max_examples=30)
@given(p=chains(max_depth=8, batch=True))
def test_batched_equals_one_at_a_time(p: dict) -> None:
    net, trace = build(p)
    for idx in np.ndindex(trace.batch_shape):
        b = None if p["biases"] is None else p["biases"][idx]
        one = backprop(Network(net.spec, p["weights"][idx], b), p["x"][idx], p["target"][idx])
        # NumPy's SIMD exp (arrays) and scalar exp may differ in the last bit
        np.testing.assert_allclose(trace.grad_weight[idx], one.grad_weight, rtol=1e-14, atol=0)
        np.testing.assert_allclose(trace.loss[idx], one.loss, rtol=1e-14, atol=0)


def test_a_million_initializations_in_one_call(rng: np.random.Generator) -> None:
    w = rng.standard_normal((1_000_000, 3))
    trace = backprop(Network.chain(w), 0.63, 1.0)
    assert trace.grad_weight.shape == (1_000_000, 3)
    for i in rng.integers(0, 1_000_000, size=5):
        one = backprop(Network.chain(w[i]), 0.63, 1.0)
        np.testing.assert_allclose(trace.grad_weight[i], one.grad_weight, rtol=1e-14, atol=0)


def test_broadcasting_x_and_target_over_weights(rng: np.random.Generator) -> None:
    w = rng.standard_normal((4, 3))
    x = np.array([[0.1], [0.2]])  # (2, 1) against weights (4, 3) -> batch (2, 4)
    trace = backprop(Network.chain(w), x, 1.0)
    assert trace.grad_weight.shape == (2, 4, 3)
    one = backprop(Network.chain(w[3]), 0.2, 1.0)
    np.testing.assert_allclose(trace.grad_weight[1, 3], one.grad_weight, rtol=1e-14, atol=0)


# ---- trace bookkeeping -------------------------------------------------------------------------


def test_trace_fields_are_consistent() -> None:
    p = get_preset("exercise-classification")
    t = backprop(p.network, p.x, p.target)
    np.testing.assert_array_equal(t.inputs, [0.63, t.a[0], t.a[1]])
    # delta_k = delta_(k+1) * backward_factor_k
    np.testing.assert_allclose(t.delta[:-1], t.delta[1:] * t.backward_factor, rtol=1e-15)
    np.testing.assert_allclose(t.grad_weight, t.delta * t.inputs, rtol=1e-15)
    assert t.warnings == ()
    # dL/dy = -1/y for label 1
    assert float(t.dloss_dprediction) == pytest.approx(-1 / float(t.prediction), rel=1e-15)


def test_overflow_is_reported_not_silent() -> None:
    # identity chain, weights 1e100: the prediction overflows float64
    net = Network.chain(
        [1e200, 1e200], activation="identity", output_activation="identity", loss="l2"
    )
    t = backprop(net, 1.0, 0.0)
    assert not np.isfinite(t.prediction)
    assert any(msg.startswith("z is not finite") for msg in t.warnings)
    assert any("log-magnitude" in msg for msg in t.warnings)


def test_gradcheck_helper() -> None:
    p = get_preset("exercise-regression")
    result = check_gradients(p.network, p.x, p.target)
    assert result.passed and result.max_rel_error < 1e-8
    # a wrong gradient is caught: L = (t - w x)^2 has dL/dw = -2 x (t - w x) exactly
    net = Network.chain([1.5], activation="identity", output_activation="identity", loss="l2")
    fd = numerical_gradients(net, 2.0, 1.0)
    assert fd.grad_weight[0] == pytest.approx(-2 * 2.0 * (1.0 - 3.0), rel=1e-12)
    assert fd.error_weight[0] < 1e-10


# ---- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: Network.chain([0.1, float("nan")]),
            r"weights must be finite numbers, got nan \(item 2\)",
        ),
        (lambda: Network.chain([0.1], activation="swish"), "unknown activation 'swish'"),
        (lambda: Network.chain([0.1], loss="mse"), "unknown loss 'mse'"),
        (
            lambda: Network.chain([0.1], output_activation="tanh", loss="bce"),
            "loss 'bce' needs output activation 'sigmoid'",
        ),
        (lambda: Network.chain([0.1, 0.2], biases=[1.0]), "expected 2 biases"),
        (lambda: Network.chain([]), "expected 0 weights|depth must be at least 1"),
        (lambda: backprop(Network.chain([0.1]), 0.5, 1.5), r"target 1.5 is outside \[0, 1\]"),
        (
            lambda: backprop(Network.chain([0.1]), float("inf"), 1.0),
            "x must be a finite number, got inf",
        ),
        (lambda: get_preset("exercise"), "unknown preset 'exercise'"),
    ],
)
def test_bad_input_raises_value_error_naming_it(make, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()
    assert issubclass(SpecError, ValueError)
