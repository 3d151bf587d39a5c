"""SymPy derivations: part (a), closed-form gradients vs backprop and vs sympy.diff."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
import sympy as sp
from hypothesis import assume, given, settings

from chains import away_from_kinks, build, chains, well_conditioned
from gradtrace import ChainSpec, SpecError
from gradtrace.symbolic import (
    MAX_SYMBOLIC_DEPTH,
    derive_chain,
    sigmoid_analysis,
    sympy_function,
    sympy_locals,
)


def test_part_a_from_sympy() -> None:
    a = sigmoid_analysis()
    z, s = sp.Symbol("z", real=True), sp.Symbol("s")
    sig = 1 / (1 + sp.exp(-z))
    assert a.d1_identity_holds
    assert sp.simplify(a.d1 - sig * (1 - sig)) == 0
    assert a.d1_in_s == s * (1 - s)
    assert sp.simplify(a.d2_in_s - s * (1 - s) * (1 - 2 * s)) == 0
    assert a.critical_points == (0,)
    assert a.maximum == (0, sp.Rational(1, 4))
    assert a.d3_at_maximum == sp.Rational(-1, 8)
    assert a.limits == (0, 0) and a.strictly_positive and a.infimum == 0 and not a.infimum_attained
    # steepest points: z = -+log(2 + sqrt 3), s'' = +-sqrt(3)/18 (checked against mpmath)
    (z1, v1), (z2, v2) = a.steepest
    with mp.workdps(30):
        f2 = lambda u: mp.diff(lambda t: 1 / (1 + mp.exp(-t)), u, 2)  # noqa: E731
        root = mp.findroot(lambda u: mp.diff(lambda t: 1 / (1 + mp.exp(-t)), u, 3), 1.3)
        assert float(z2) == pytest.approx(float(root), rel=1e-14)
        assert float(z1) == pytest.approx(-float(root), rel=1e-14)
        assert float(v1) == pytest.approx(float(f2(-root)), rel=1e-14)
        assert float(v2) == pytest.approx(float(f2(root)), rel=1e-14)
    assert sp.simplify(z2 - sp.log(2 + sp.sqrt(3))) == 0


@settings(max_examples=30)
@given(p=chains(max_depth=5))
def test_closed_form_matches_backprop_to_1e12(p: dict) -> None:
    _check_closed_form(p)


@settings(max_examples=8)
@given(p=chains(max_depth=30).filter(lambda p: p["weights"].shape[-1] >= 10))
def test_closed_form_matches_backprop_deep(p: dict) -> None:
    _check_closed_form(p)


def _check_closed_form(p: dict) -> None:
    assume(not p["residual"])  # residual chains: a sum over paths, not derived symbolically yet
    _, trace = build(p)
    assume(away_from_kinks(p, trace, margin=1e-6) and well_conditioned(p, trace))
    spec = ChainSpec(
        depth=p["weights"].shape[-1],
        activation=p["activation"],
        output_activation=p["output_activation"],
        loss=p["loss"],
        biases=p["biases"] is not None,
    )
    deriv = derive_chain(spec)
    args = [*p["weights"], *(p["biases"] if p["biases"] is not None else []), p["x"], p["target"]]
    # substitute 30-digit numbers and evaluate (each Max and named activation evaluates as built)
    vals = {s: sp.Float(float(v), 30) for s, v in zip(deriv.inputs, args, strict=True)}
    got = [float(sp.N(g.closed.xreplace(vals), 30)) for g in deriv.gradients]
    ours = list(trace.grad_weight) + (list(trace.grad_bias) if trace.grad_bias is not None else [])
    for o, g in zip(ours, got, strict=True):
        assert abs(o - g) <= 1e-12 * abs(g) + 1e-300, (o, g)


@pytest.mark.parametrize(
    "spec",
    [
        ChainSpec(3),
        ChainSpec(3, output_activation="identity", loss="l2"),
        ChainSpec(2, "tanh", "identity", "l2", biases=True),
        ChainSpec(3, "softsign", "sigmoid", "bce", biases=True),
        ChainSpec(2, "leaky_relu", "identity", "l2"),
    ],
)
def test_chain_product_equals_sympy_diff_of_the_loss(spec: ChainSpec) -> None:
    # the delta recursion (factors) against SymPy differentiating the whole loss at once
    deriv = derive_chain(spec)
    rng = np.random.default_rng(3)
    for g in deriv.gradients:
        direct = sp.diff(deriv.loss, sp.Symbol(g.parameter, real=True))
        for _ in range(3):
            vals = {
                s: sp.Float(float(v), 30)
                for s, v in zip(deriv.inputs, rng.uniform(0.2, 1.5, len(deriv.inputs)), strict=True)
            }
            if spec.loss == "bce":
                vals[deriv.y_hat] = sp.Float(0.7, 30)
            a = sp.N(g.closed.subs(vals), 25)
            b = sp.N(direct.subs(vals), 25)
            assert abs(a - b) <= sp.Float("1e-20") * abs(b), (g.parameter, a, b)


def test_output_delta_of_bce_after_sigmoid_is_the_residual() -> None:
    d = derive_chain(ChainSpec(3))
    a3, y_hat = d.a[-1], d.y_hat
    assert sp.simplify(d.output_delta - (a3 - y_hat)) == 0
    d = derive_chain(ChainSpec(3, output_activation="identity", loss="l2"))
    assert sp.simplify(d.output_delta - 2 * (a3 - y_hat)) == 0


def test_closed_forms_are_parseable_and_in_the_input_symbols() -> None:
    d = derive_chain(ChainSpec(3, output_activation="identity", loss="l2"))
    allowed = {"w1", "w2", "w3", "x", "y_hat"}
    for g in d.gradients:
        parsed = sp.sympify(g.closed_str())
        assert {str(s) for s in parsed.free_symbols} <= allowed
        assert not parsed.has(sp.Function("s")) and parsed.has(sp.exp)
        vals = {
            sp.Symbol(n): v
            for n, v in zip(
                ["w1", "w2", "w3", "x", "y_hat"], [0.25, -0.11, 0.78, 0.63, 128], strict=True
            )
        }
        assert float(parsed.subs(vals)) == pytest.approx(
            float(
                g.closed.subs(
                    {sp.Symbol(k, real=True): v for k, v in ((str(s), vals[s]) for s in vals)}
                )
            ),
            rel=1e-14,
        )


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "softsign", "tanh"])
def test_depth_30_derivation_is_linear_in_depth_and_exact_at_kinks(activation: str) -> None:
    # nested Piecewise once made relu at depth 30 hang (> 10 min); Max keeps the size linear in
    # depth, which is what this checks (the time: benchmarks/symbolic_depth.py)
    d = derive_chain(ChainSpec(30, activation, "identity", "l2", biases=True))
    assert len(d.gradients[0].closed_str()) < 50_000  # linear in depth, not 2^depth
    # the derivative's value at a kink follows the engine (left slope): relu'(0) = 0, leaky'(0) = 0.01
    from gradtrace.core.activations import get_activation
    from gradtrace.symbolic.chain import Z, _derivative_rule

    rule = _derivative_rule(activation)
    assert float(rule.subs(Z, 0)) == float(get_activation(activation).d1(0.0))


def test_named_activations_parse_back_and_evaluate() -> None:
    d = derive_chain(ChainSpec(3, "softsign", "identity", "l2"))
    text = d.gradient("w1").closed_str()
    assert "softsign(" in text
    parsed = sp.sympify(text, locals=sympy_locals())
    vals = {"w1": 0.7, "w2": -1.3, "w3": 0.4, "x": 0.9, "y_hat": 2.0}
    sub = {sym: vals[str(sym)] for sym in parsed.free_symbols}
    from gradtrace import Network, backprop

    g = backprop(
        Network.chain(
            [0.7, -1.3, 0.4], activation="softsign", output_activation="identity", loss="l2"
        ),
        0.9,
        2.0,
    )
    assert float(
        parsed.xreplace({k: sp.Float(v, 30) for k, v in sub.items()}).evalf(30)
    ) == pytest.approx(g.grad_weight[0], rel=1e-13)
    # its derivative is SymPy's derivative of the explicit form
    u = sp.Symbol("u", real=True)
    f = sympy_function("softsign")
    assert sp.simplify(sp.diff(f(u), u) - sp.diff(u / (1 + sp.Abs(u)), u)) == 0


def test_depth_limit() -> None:
    with pytest.raises(SpecError, match=f"at most {MAX_SYMBOLIC_DEPTH}"):
        derive_chain(ChainSpec(MAX_SYMBOLIC_DEPTH + 1))
