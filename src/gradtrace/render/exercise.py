"""Documents of the worked exercise (``gradtrace solve``, parts a-d) and of a chain's symbolic
gradients (``gradtrace derive``). Every number and formula comes from ``Solution`` and
``ChainDerivation``; the builders only choose words and layout."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import sympy as sp

from gradtrace.activations import get_activation
from gradtrace.backprop import Trace
from gradtrace.exercise import NumericPart, Solution
from gradtrace.render.blocks import (
    Block,
    Bullets,
    Equations,
    Heading,
    Inline,
    Math,
    Paragraph,
    fmt,
    join,
    m,
    num,
    par,
    phi_name,
)
from gradtrace.render.trace import backward_table, forward_table, result_line, spec_line
from gradtrace.symbolic import ChainDerivation, SigmoidAnalysis

Progress = Callable[[int, int], None]

__all__ = ["CLOSED_FORM_DEPTH", "derivation_document", "solution_document"]


# ---- part (a) ----------------------------------------------------------------------------------


def _part_a(a: SigmoidAnalysis) -> list[Block]:
    sig = get_activation("sigmoid")
    z_max, v_max = a.maximum
    (z_lo, d2_hi), (z_hi, d2_lo) = a.steepest
    tails = [(z, float(sig.d1(np.asarray(z)))) for z in (5.0, 10.0, 20.0)]
    return [
        Heading("(a) The sigmoid's derivative and its extrema", 2),
        par(
            "With ",
            m("s(z) = 1/(1 + exp(-z))"),
            ", SymPy differentiates and confirms the identity (",
            m("simplify(s' - s(1 - s)) = 0"),
            ": " + ("holds" if a.d1_identity_holds else "FAILS") + "):",
        ),
        Equations(
            (
                m("s'(z) = ", a.d1, " = ", a.d1_in_s),
                m("s''(z) = ", a.d2_in_s, Math("   (s = s(z))", r" \quad (s = s(z))")),
            )
        ),
        par(
            "Maximum. ",
            m("s''(z) = 0"),
            " has the single real solution ",
            m("z = ", z_max),
            " (of the roots of ",
            m(a.d2_in_s, " = 0"),
            " only s = 1/2 lies in 0 < s < 1; s = 0 and s = 1 are limits), and ",
            m("s'''(0) = ", a.d3_at_maximum, " < 0"),
            ", so ",
            m("s'(0) = ", v_max, f" = {fmt(float(v_max))}"),
            " is a maximum, and the global one: it is the only critical point, and ",
            m("s' -> 0"),
            " at both ends.",
        ),
        par(
            "Minimum. SymPy " + ("proves " if a.strictly_positive else "could not prove "),
            m("s'(z) > 0"),
            " for every real z, and ",
            m("lim s'(z) = ", a.limits[0]),
            " as ",
            m("z -> -oo"),
            " and ",
            m(a.limits[1]),
            " as ",
            m("z -> +oo"),
            ". So the infimum is ",
            m("inf s' = ", a.infimum),
            ", approached as |z| grows but never attained: s' has no minimum. ",
            "How fast it approaches 0: ",
            *join([m(f"s'({fmt(z)}) = ", num(v, 3)) for z, v in tails]),
            " (s' is even, the same at -z).",
        ),
        par(
            "Where s' changes fastest (the extrema of s''): ",
            m("s'''(z) = 0"),
            " at ",
            _approx("z = ", z_lo),
            " where s'' reaches its maximum ",
            _approx("", d2_hi),
            ", and at ",
            _approx("z = ", z_hi),
            " where s'' reaches its minimum ",
            _approx("", d2_lo),
            f" (s'''' there is {a.d4_at_steepest[0]} and {a.d4_at_steepest[1]}).",
        ),
        par(
            "What it means for backpropagation. Going back through a sigmoid layer multiplies the "
            "gradient by ",
            m("w_j s'(z_j)"),
            ", whose size is at most ",
            m("|w_j|/4"),
            ". Through n layers the gradient shrinks by up to ",
            m("prod |w_j|/4"),
            ": with weights of size 1 or less, by a factor 4 or more per layer, and far more where "
            f"units saturate (s'(5) is {fmt(100 * tails[0][1] / float(v_max), 2)}% of the maximum). "
            "Early layers therefore receive vanishing "
            "gradients and learn slowly; only weights larger than 4 in size can make a sigmoid layer "
            "amplify the gradient.",
        ),
    ]


def _approx(lhs: str, value: sp.Basic) -> Math:
    """``lhs value = 0.1234``, the exact value (SymPy) and its decimal (``\\approx`` in LaTeX)."""
    return m(lhs, value, Math(" = ", r" \approx "), fmt(float(value), 4))


# ---- parts (b) and (d) -------------------------------------------------------------------------


def _formula_lines(deriv: ChainDerivation) -> Equations:
    return Equations(
        tuple(
            m(f"dL/d{g.parameter} = ", Math(g.chain_text(), g.chain_latex()))
            for g in deriv.gradients
        )
    )


CLOSED_FORM_DEPTH = 12
"""Deeper derivations leave their closed forms out unless asked: their size grows as depth
squared, and writing them out takes about 1 s at depth 15, 7 s at 30 and 50 s at 60."""


def _closed_lines(deriv: ChainDerivation, progress: Progress | None = None) -> Equations:
    lines = []
    for i, g in enumerate(deriv.gradients):
        lines.append(m(f"dL/d{g.parameter} = ", g.closed))
        if progress is not None:
            progress(i + 1, len(deriv.gradients))
    return Equations(tuple(lines))


def _numeric_part(p: NumericPart, heading: str) -> list[Block]:
    t = p.trace
    L = t.depth
    ratios = p.ratio_to_last
    blocks: list[Block] = [Heading(heading, 2), spec_line(t)]
    blocks.append(
        par(
            "Backpropagation computes, from the output back, ",
            m("delta_k = dL/dz_k"),
            " and then ",
            m("dL/dw_k = delta_k a_(k-1)"),
            " (with ",
            m("a_0 = x"),
            "). In symbols (derived by SymPy):",
        )
    )
    blocks.append(_formula_lines(p.derivation))
    blocks += [forward_table(t), backward_table(t), result_line(t)]

    # observations, every figure computed from the trace
    obs: list[Paragraph] = []
    smaller: list[list[Inline]] = [
        [m(f"|dL/dw{k + 1}|"), f" is {fmt(r, 4)} times smaller than ", m(f"|dL/dw{L}|")]
        for k, r in enumerate(ratios[:-1])
    ]
    if L > 1:
        factors = t.backward_factor
        frac = p.derivative_fraction_of_max
        per_layer = [
            m(f"w{k + 2} {phi_name(t.spec.phi(k + 1).name)}'(z{k + 1}) = {fmt(f, 4)}")
            for k, f in enumerate(factors)
        ]
        obs.append(par("Magnitudes: ", *join(smaller, "; "), "."))
        why: list[Inline] = [
            "Why: every layer passed back multiplies the gradient by ",
            m("w_j phi'(z_(j-1))"),
            ", here ",
            *join(per_layer),
            ".",
        ]
        if not np.isnan(frac[:-1]).all():
            why += [
                " The sigmoid units are far from saturation (",
                *join(
                    [
                        [m(f"s'(z{k + 1})"), f" is {fmt(100 * f, 3)}% of its maximum ", m("1/4")]
                        for k, f in enumerate(frac[:-1])
                        if not np.isnan(f)
                    ]
                ),
                "), so the shrinking comes from the bound ",
                *join([m(f"|w{k + 2}|/4 = {fmt(bd, 4)}") for k, bd in enumerate(p.factor_bound)]),
                ": a sigmoid layer with a small weight cannot pass the gradient back undiminished.",
            ]
        obs.append(Paragraph(tuple(why)))
    if not t.spec.fused_bce:
        obs.append(
            par(
                "The residual: ",
                m(f"dL/dy = -2(y_hat - y) = {fmt(t.dloss_dprediction)}"),
                " multiplies every gradient. Divided by it, the gradients are ",
                *join([m(f"dy/dw{k + 1} = {fmt(v, 4)}") for k, v in enumerate(p.sensitivity)]),
                ": ordinary sizes, shrinking towards the input as in (b). The gradients are huge only because "
                "the target is far from anything the network can output now; the ratios between layers are "
                "unchanged, so vanishing (across layers) and exploding (in scale) happen at once.",
            )
        )
        if t.spec.output_activation == "identity" and t.inputs[-1] != 0:
            need = t.target / t.inputs[-1]
            obs.append(
                par(
                    f"The scale of the problem: to reach the target through the last layer alone, w{L} would "
                    "have to be ",
                    m(f"y_hat / a{L - 1} = {fmt(need, 4)}"),
                    f", {fmt(abs(need / t.weights[-1]), 3)} times its present value.",
                    *_step_contrast(p),
                )
            )
    for st in p.steps:
        changes = [
            m(f"w{k + 1}: {fmt(w0, 4)} -> {fmt(w1, 4)} ({fmt(100 * rc, 3)}%)")
            for k, (w0, w1, rc) in enumerate(
                zip(t.weights, st.weights_after, st.relative_change, strict=True)
            )
        ]
        obs.append(
            par(
                "One gradient step with learning rate ",
                m(f"{st.learning_rate:g}"),
                ": ",
                *join(changes),
                "; the prediction goes from ",
                m(fmt(t.prediction)),
                " to ",
                m(fmt(st.prediction_after)),
                " and the loss from ",
                m(fmt(t.loss)),
                " to ",
                m(fmt(st.loss_after)),
                ".",
            )
        )
    blocks += [Heading("Observations", 3), Bullets(tuple(obs))]
    return blocks


def _step_contrast(p: NumericPart) -> list[Inline]:
    """How unevenly the largest step moves the layers (one learning rate serves all of them)."""
    if not p.steps or p.trace.depth < 2:
        return []
    st = p.steps[-1]
    rc = st.relative_change
    k = int(np.argmax(rc[:-1]))
    return [
        f" With learning rate {st.learning_rate:g}, w{len(rc)} moves by {fmt(100 * rc[-1], 3)}% of its "
        f"value while w{k + 1} moves by {fmt(100 * rc[k], 3)}%: one learning rate cannot suit layers "
        "whose gradients differ this much, which is what scaling the target or clipping the gradient "
        "norm addresses."
    ]


# ---- part (c) ----------------------------------------------------------------------------------


def _part_c(c: ChainDerivation) -> list[Block]:
    return [
        Heading("(c) Regression: the gradients derived", 2),
        par(
            "Without the final sigmoid, ",
            m("y = z3 = w3 a2"),
            " and ",
            m("L = (y_hat - y)^2"),
            ", so SymPy gives ",
            m("dL/dz3 = dL/dy = ", c.output_delta),
            " and, by the chain rule, the product of the factors met going back (with ",
            m("s'(z) = a (1 - a)"),
            " for a = s(z)):",
        ),
        _formula_lines(c),
        par("Written out in the inputs (closed form, each factor simplified by SymPy):"),
        _closed_lines(c),
        par(
            "Each gradient is the residual factor ",
            m("2(y - y_hat)"),
            " times the sensitivity ",
            m("dy/dw_k"),
            " of the prediction; only the last factor depends on the target.",
        ),
    ]


def _at(trace: Trace) -> str:
    ws = ", ".join(fmt(w) for w in trace.weights)
    return f"w = ({ws}), x = {fmt(trace.x)}, y_hat = {fmt(trace.target)}"


def solution_document(sol: Solution) -> list[Block]:
    """The whole worked solution, parts a-d."""
    intro = par(
        "The network is a chain of three one-unit layers without biases: ",
        m("z1 = w1 x, a1 = s(z1), z2 = w2 a1, a2 = s(z2), z3 = w3 a2"),
        ". Classification: ",
        m("y = s(z3)"),
        " with ",
        m("L = -(y_hat log y + (1 - y_hat) log(1 - y))"),
        ". Regression: ",
        m("y = z3"),
        " with ",
        m("L = (y_hat - y)^2"),
        ". As in the exercise, y is the prediction and ",
        m("y_hat"),
        " the label or target.",
    )
    return [
        Heading("Vanishing and exploding gradients: the exercise, solved", 1),
        intro,
        *_part_a(sol.a),
        *_numeric_part(sol.b, f"(b) Classification at {_at(sol.b.trace)}"),
        *_part_c(sol.c),
        *_numeric_part(sol.d, f"(d) Regression at {_at(sol.d.trace)}"),
    ]


def derivation_document(
    deriv: ChainDerivation, *, closed: bool | None = None, progress: Progress | None = None
) -> list[Block]:
    """Symbolic gradients of a chain (``gradtrace derive``): the chain-product form, and the
    closed form when ``closed`` (``None``: up to depth ``CLOSED_FORM_DEPTH``; past it the
    document says they were left out). ``progress(done, total)`` is called per closed form."""
    s = deriv.spec
    if closed is None:
        closed = s.depth <= CLOSED_FORM_DEPTH
    closed_part: Block = (
        _closed_lines(deriv, progress)
        if closed
        else par(
            f"Left out: past depth {CLOSED_FORM_DEPTH} the closed forms grow as the depth squared "
            "(writing them takes about a second at depth 15 and a minute at depth 60); "
            "--closed-form writes them."
        )
    )
    return [
        Heading("Symbolic gradients", 1),
        par(
            f"Depth {s.depth}, hidden activation {s.activation}, output activation {s.output_activation}, "
            f"loss {s.loss}, biases {'on' if s.biases else 'off'}. ",
            m(f"z_k = w_k a_(k-1){' + b_k' if s.biases else ''}, a_k = phi_k(z_k), a_0 = x"),
            "; ",
            m("dL/dz_L = ", deriv.output_delta),
            ".",
        ),
        Heading("Chain-product form", 2),
        _formula_lines(deriv),
        Heading("Closed form", 2),
        closed_part,
    ]
