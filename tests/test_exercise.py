"""The worked solution: its numbers, the JSON contract, every format, and golden text."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from rich.console import Console

from gradtrace.lab.exercise import LEARNING_RATES, solve
from gradtrace.present.exercise_doc import solution_document
from gradtrace.present.json import solution_dict
from gradtrace.present.latex import document_latex
from gradtrace.present.markdown import document_markdown
from gradtrace.present.text import print_document
from gradtrace.symbolic import ChainDerivation
from oracles import mp_grads, mp_loss

GOLDEN = Path(__file__).parent / "golden" / "solve.txt"
SYMBOLS = {n: sp.Symbol(n) for n in ("w1", "w2", "w3", "x", "y_hat")}
POINT = {"w1": 0.25, "w2": -0.11, "w3": 0.78, "x": 0.63}


def render_text(width: int = 80) -> str:
    buf = io.StringIO()
    console = Console(
        file=buf, width=width, color_system=None, force_terminal=False, legacy_windows=False
    )
    print_document(solution_document(solve()), console)
    return buf.getvalue()


def test_golden_text() -> None:
    """`gradtrace solve` at width 80; regenerate with GRADTRACE_UPDATE_GOLDEN=1 after a reviewed change."""
    text = render_text()
    if os.environ.get("GRADTRACE_UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()


def test_json_contract_and_values() -> None:
    d = solution_dict(solve())
    a = d["a"]
    assert (
        sp.simplify(
            sp.sympify(a["derivative"])
            - sp.exp(-sp.Symbol("z")) / (1 + sp.exp(-sp.Symbol("z"))) ** 2
        )
        == 0
    )
    assert a["maximum"] == {"z": 0.0, "value": 0.25, "exact": "1/4"}
    assert a["infimum"] == {"value": 0.0, "attained": False}
    for part, act, loss, t in (("b", "sigmoid", "bce", 1.0), ("d", "identity", "l2", 128.0)):
        p = d[part]
        assert set(p["gradients"]) == {"w1", "w2", "w3"}
        exact, _ = mp_grads([0.25, -0.11, 0.78], None, 0.63, t, "sigmoid", act, loss)
        for k, name in enumerate(("w1", "w2", "w3")):
            assert p["gradients"][name] == pytest.approx(float(exact[k]), rel=1e-13)
        assert p["loss"] == pytest.approx(
            float(mp_loss([0.25, -0.11, 0.78], None, 0.63, t, "sigmoid", act, loss)), rel=1e-14
        )
        assert isinstance(p["prediction"], float)
    # (c): strings in w1, w2, w3, x, y_hat that evaluate to (d)'s numbers at y_hat = 128
    c = d["c"]["gradients"]
    assert set(c) == {"w1", "w2", "w3"}
    for name, text in c.items():
        expr = sp.sympify(text, locals=SYMBOLS)
        assert {str(s) for s in expr.free_symbols} <= set(SYMBOLS)
        value = float(expr.subs({SYMBOLS[k]: v for k, v in {**POINT, "y_hat": 128}.items()}))
        assert value == pytest.approx(d["d"]["gradients"][name], rel=1e-13)


def test_observations_are_computed_from_the_numbers() -> None:
    sol = solve()
    g = sol.b.gradients
    assert sol.b.ratio_to_last[0] == pytest.approx(abs(g[2] / g[0]), rel=1e-15)
    assert 140 < sol.b.ratio_to_last[0] < 150
    # the residual in (d): -2 (128 - y), about -255
    y = float(sol.d.trace.prediction)
    assert float(sol.d.trace.dloss_dprediction) == pytest.approx(-2 * (128 - y), rel=1e-15)
    # one step: w <- w - lr g, and the loss after it from a fresh forward pass
    for st, lr in zip(sol.d.steps, LEARNING_RATES, strict=True):
        np.testing.assert_allclose(
            st.weights_after, np.array([0.25, -0.11, 0.78]) - lr * sol.d.gradients, rtol=1e-15
        )
        w1, w2, w3 = st.weights_after
        a1 = 1 / (1 + np.exp(-w1 * 0.63))
        a2 = 1 / (1 + np.exp(-w2 * a1))
        assert st.loss_after == pytest.approx((128 - w3 * a2) ** 2, rel=1e-13)


def test_every_format_carries_every_gradient() -> None:
    sol = solve()
    blocks = solution_document(sol)
    md, tex, text = document_markdown(blocks), document_latex(blocks), render_text(140)
    for g in (*sol.b.gradients, *sol.d.gradients):
        shown = f"{g:.6g}"
        assert shown in text and shown in md and shown in tex
    assert tex.startswith("\\documentclass") and tex.rstrip().endswith("\\end{document}")
    assert tex.count("\\begin{") == tex.count("\\end{")
    assert "$$" in md and "| layer |" in md


def test_notebook_display() -> None:
    from gradtrace.present.notebook import FORMATTERS

    markdown, html_of = FORMATTERS["text/markdown"], FORMATTERS["text/html"]
    sol = solve()
    assert "0.00136364" in markdown[type(sol)](sol)
    html = html_of[type(sol.b.trace)](sol.b.trace)
    assert html.startswith("<table>") and "0.00136364" in html and "-0.197225" in html
    assert "| layer |" in markdown[type(sol.d.trace)](sol.d.trace)


# ---- the model answer: derivations checked, extras labelled, no code notation ----------------


def test_every_derivation_step_is_verified_by_sympy() -> None:
    sol = solve()
    steps = [st for d in sol.derivations for st in d.steps]
    assert len(steps) >= 12 and all(st.verified for st in steps)
    assert all(f.verified for f in sol.c_factored) and len(sol.c_factored) == 3
    assert sol.b_delta.result.plain == "y - y_hat" and sol.c_dl_dy.result.plain == "2(y - y_hat)"


def test_a_wrong_step_is_flagged() -> None:
    from gradtrace.symbolic.steps import derivation

    z = sp.Symbol("z", real=True)
    s = 1 / (1 + sp.exp(-z))
    d = derivation(
        "s'(z)",
        sp.diff(s, z),
        [("s(z) (1 - s(z))", s * (1 - s), "right"), ("s(z) (1 + s(z))", s * (1 + s), "wrong")],
    )
    assert [st.verified for st in d.steps] == [True, False] and not d.verified


def test_a_wrong_factored_gradient_is_flagged() -> None:
    from dataclasses import replace

    from gradtrace.lab.exercise import factored_gradients

    c = solve().c
    g = c.gradient("w2")
    swapped = replace(g, factors=tuple(f for f in g.factors if f.role != "weight"))
    broken = replace(c, gradients=tuple(swapped if x is g else x for x in c.gradients))
    flags = {f.parameter: f.verified for f in factored_gradients(broken)}
    assert flags == {"w1": True, "w2": False, "w3": True}


_U = sp.Symbol("u")
_S = sp.Lambda(_U, 1 / (1 + sp.exp(-_U)))
_PARSE = {"s": _S, "ds": sp.Lambda(_U, _S(_U) * (1 - _S(_U)))}


def _parse_factored(plain: str, c: ChainDerivation) -> sp.Expr:
    """A factored gradient's plain text back to SymPy, ``s`` the sigmoid and ``s'`` its
    derivative ``s (1 - s)``, in ``c``'s symbols."""
    from sympy.parsing.sympy_parser import (
        implicit_multiplication,
        parse_expr,
        standard_transformations,
    )

    names = {str(v): v for v in (*c.weights, c.x, c.y_hat)}
    return parse_expr(
        plain.replace("s'(", "ds("),
        local_dict=_PARSE | names,
        transformations=(*standard_transformations, implicit_multiplication),
    )


@pytest.mark.parametrize("part", ["b", "d"])
def test_the_substituted_gradients_are_sympys(part: str) -> None:
    """Each gradient with every factor of the chain written in the inputs (part (c) prints the
    regression's; the classification's comes from the same builder) is ``sympy.diff`` of the whole
    loss, and gives the part's numbers at its point."""
    from gradtrace.lab.exercise import factored_gradients

    sol = solve()
    p = sol.b if part == "b" else sol.d
    c = p.derivation
    factored = sol.c_factored if part == "d" else factored_gradients(c)
    assert [f.parameter for f in factored] == ["w1", "w2", "w3"]
    t = p.trace
    point = {**dict(zip(c.weights, t.weights, strict=True)), c.x: t.x, c.y_hat: t.target}
    for k, f in enumerate(factored):
        assert f.verified
        expr = _parse_factored(f.plain, c)
        assert expr.free_symbols <= {*c.weights, c.x, c.y_hat}
        assert sp.simplify(expr - sp.diff(c.loss, c.weights[k])) == 0, f.plain
        assert float(expr.subs(point)) == pytest.approx(float(t.grad_weight[k]), rel=1e-13)
    # every factor of the chain product is substituted: one s' per layer passed back
    assert [f.plain.count("s'(") for f in factored] == [2, 1, 0]
    assert factored[0].plain.endswith("* w3 s'(w2 s(w1 x)) * w2 s'(w1 x) * x")


def _section(text: str, start: str, end: str | None) -> str:
    i = text.index(start)
    return text[i : text.index(end, i) if end else None]


def test_the_text_reads_as_a_model_answer() -> None:
    text = render_text(100)
    a = _section(text, "(a) The sigmoid", "(b) Classification")
    b = _section(text, "(b) Classification", "(c) Regression")
    c = _section(text, "(c) Regression", "(d) Regression")
    d = _section(text, "(d) Regression", None)
    # every part opens with the answer
    for part in (a, b, c, d):
        assert part.split("\n", 1)[1].lstrip().startswith("Answer.")
    # (a): the steps to s' = s(1 - s) and s'', and the extras labelled as such
    assert "chain rule" in a and "product rule" in a and "s(z)(1 - s(z))" in a
    assert "Extra, not asked" in a and a.index("Extra, not asked") < a.index("s'''(z) = 0")
    assert "√3/18" in a and "sqrt(" not in text
    # (b): the cross-entropy's delta derived, and why s'(z3) drops out
    assert "-(ŷ/y - (1 - ŷ)/(1 - y)) · y(1 - y)" in b and "= y - ŷ" in b
    assert "does not appear in δ₃" in b and "0.241259" in b
    # (c): factored by the chain, no exp towers, no code notation, y not a3
    assert "∂L/∂w₁ = 2(y - ŷ) · w₃ s'(z₂) · w₂ s'(z₁) · x" in c
    assert "exp(" not in c and "**" not in text and "y_hat" not in text and "2*" not in text
    assert "y = z₃ = w₃ s(z₂)" in c
    # ... and with every factor substituted, for each weight
    assert "∂L/∂w₃ = 2(w₃ s(w₂ s(w₁ x)) - ŷ) · s(w₂ s(w₁ x))" in c
    assert "∂L/∂w₂ = 2(w₃ s(w₂ s(w₁ x)) - ŷ) · w₃ s'(w₂ s(w₁ x)) · s(w₁ x)" in c
    assert "∂L/∂w₁ = 2(w₃ s(w₂ s(w₁ x)) - ŷ) · w₃ s'(w₂ s(w₁ x)) · w₂ s'(w₁ x) · x" in c
    # human numbers
    assert "e+0" not in text and "2,438%" in d and "0.25 → 0.249986 (-0.00545%)" in b


def test_why_b_and_d_differ() -> None:
    text = render_text(100)
    why_b = _section(text, "(b) Classification", "(c) Regression").split("Why the gradients")[1]
    why_d = _section(text, "(d) Regression", None).split("Why the gradients")[1]
    lines_b = {ln.strip() for ln in why_b.splitlines() if len(ln.strip()) > 40}
    lines_d = {ln.strip() for ln in why_d.splitlines() if len(ln.strip()) > 40}
    assert not lines_b & lines_d
    assert "627.9 times larger" in " ".join(why_d.split()) and "144.6" in why_b


def test_markdown_and_json_carry_the_derivations() -> None:
    sol = solve()
    md = document_markdown(solution_document(sol))
    assert "\\begin{aligned}" in md and "\\frac{\\hat y}{y}" in md and "Extra, not asked" in md
    d = solution_dict(sol)
    assert all(st["verified"] for st in d["a"]["derivative_steps"])
    assert d["b"]["output_delta_steps"][-1]["equation"] == "y - y_hat"
    assert d["c"]["factored"]["w1"]["verified"] is True
    w1 = d["c"]["factored"]["w1"]["formula"]
    assert w1 == "2(w3 s(w2 s(w1 x)) - y_hat) * w3 s'(w2 s(w1 x)) * w2 s'(w1 x) * x"
