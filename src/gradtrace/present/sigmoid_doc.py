"""Part (a) of the worked exercise as document blocks: the sigmoid's derivative, its extrema and
what they mean for backpropagation (``sigmoid_part``). Every number and formula comes from the
``SigmoidAnalysis`` of ``Solution.a`` and its SymPy derivations."""

from __future__ import annotations

import numpy as np
import sympy as sp

from gradtrace.core.activations import get_activation
from gradtrace.lab.exercise import Solution
from gradtrace.present.blocks import (
    Block,
    Heading,
    Inline,
    Math,
    fmt,
    formula,
    human,
    join,
    par,
    pct,
    usym,
)
from gradtrace.present.derive_doc import derivation_lines, verified_note

__all__ = ["sigmoid_part"]


def sigmoid_part(sol: Solution) -> list[Block]:
    """(a): s'(z) derived and checked, its maximum and infimum, and the cost for backpropagation."""
    a = sol.a
    sig = get_activation("sigmoid")
    z_max, v_max = a.maximum
    (z_lo, d2_hi), (z_hi, d2_lo) = a.steepest
    tails = [(z, float(sig.d1(np.asarray(z)))) for z in (2.0, 5.0, 10.0)]
    top = float(v_max)
    return [
        Heading("(a) The sigmoid's derivative and its extrema", 2),
        par(
            "Answer. ",
            formula("s'(z) = s(z) (1 - s(z))"),
            ". Its largest value is ",
            formula("s'(0) = 1/4"),
            ", at ",
            formula("z = 0"),
            ". It has no smallest value: ",
            formula("s'(z) > 0"),
            " for every z, and ",
            formula("s'(z) -> 0"),
            " as ",
            formula("|z| -> oo"),
            ", so its infimum 0 is approached but never attained. For backpropagation: each "
            "sigmoid layer the gradient passes back through multiplies it by ",
            formula("w s'(z)"),
            ", at most ",
            formula("|w|/4"),
            " in size, so as long as ",
            formula("|w| < 4"),
            " gradients shrink layer by layer, and almost vanish where units saturate.",
        ),
        Heading("Working: the first derivative (chain rule)", 3),
        par("Write ", formula("s(z) = (1)/(1 + exp(-z)) = (1 + exp(-z))^(-1)"), ". Then"),
        derivation_lines(sol.a_first),
        Heading("Working: the second derivative (product rule)", 3),
        derivation_lines(sol.a_second),
        par(verified_note([sol.a_first, sol.a_second])),
        Heading("Working: the extrema of s'", 3),
        par(
            "Maximum. ",
            formula("s''(z) = 0"),
            " needs ",
            formula("1 - 2 s(z) = 0"),
            ", since ",
            formula("s(z) (1 - s(z)) > 0"),
            " (because ",
            formula("0 < s(z) < 1"),
            "). So ",
            formula("s(z) = 1/2"),
            ", that is ",
            formula("z = "),
            usym(z_max),
            ", the only critical point (SymPy's solveset finds no other). For ",
            formula("z < 0"),
            " we have ",
            formula("s < 1/2"),
            " and ",
            formula("s'' > 0"),
            "; for ",
            formula("z > 0"),
            ", ",
            formula("s'' < 0"),
            ": s' rises, then falls. So ",
            formula("s'(0) = 1/2 * 1/2 = 1/4"),
            " is the global maximum (SymPy confirms ",
            formula("s'''(0) = -1/8 < 0")
            if a.d3_at_maximum == -sp.Rational(1, 8)
            else usym(a.d3_at_maximum),
            ").",
        ),
        par(
            "Minimum. ",
            formula("s'(z) = s(z) (1 - s(z))"),
            " is a product of two positive numbers, so ",
            formula("s'(z) > 0"),
            " everywhere"
            + (" (SymPy proves it too)" if a.strictly_positive else " (SymPy could not prove it)")
            + ". As ",
            formula("z -> +oo"),
            ", ",
            formula("s(z) -> 1"),
            "; as ",
            formula("z -> -oo"),
            ", ",
            formula("s(z) -> 0"),
            ". Either way ",
            formula("s'(z) -> "),
            usym(a.limits[1]),
            ". So ",
            formula("inf s' = 0"),
            ", and no z attains it: s' has no minimum.",
        ),
        par(
            "Observation. Away from 0, s' falls quickly: ",
            *join(
                [
                    [
                        formula(f"s'({fmt(z)}) = "),
                        human(v, 3),
                        " (",
                        pct(v / top, 3),
                        " of the maximum)",
                    ]
                    for z, v in tails
                ],
                "; ",
            ),
            ". s' is even, so the same holds at ",
            formula("-z"),
            ".",
        ),
        par(
            "What it means for backpropagation. Going back from layer ",
            formula("j"),
            " to layer ",
            formula("j - 1"),
            " multiplies the gradient by ",
            formula("w_j s'(z_(j-1))"),
            ", at most ",
            formula("|w_j|/4"),
            " in size. With weights of size 1 or less, each such factor is at most 1/4: the "
            "gradient shrinks by a factor 4 or more per layer; a saturated unit (",
            formula("|z| = 5"),
            ") passes back only ",
            pct(tails[1][1] / top, 2),
            " of what an unsaturated one does. Early layers therefore receive vanishing gradients "
            "and learn slowly; only a weight larger than 4 in size can make a sigmoid layer "
            "amplify the gradient.",
        ),
        Heading("Extra, not asked: where s' changes fastest", 3),
        par(
            "This goes beyond the question (which asks for the extrema of s' itself): the extrema "
            "of ",
            formula("s''"),
            " are where s' rises and falls fastest. ",
            formula("s'''(z) = 0"),
            " at ",
            *_approx("z = ", z_lo),
            ", where ",
            formula("s''"),
            " has its maximum ",
            *_approx("", d2_hi),
            ", and at ",
            *_approx("z = ", z_hi),
            ", where it has its minimum ",
            *_approx("", d2_lo),
            " (SymPy: ",
            formula("s''''"),
            " there is ",
            usym(a.d4_at_steepest[0]),
            " and ",
            usym(a.d4_at_steepest[1]),
            ").",
        ),
    ]


def _approx(lhs: str, value: sp.Basic) -> list[Inline]:
    """``lhs value ≈ 0.1234``: the exact value (SymPy) and its decimal."""
    return [formula(lhs), usym(value), Math(" ≈ ", r" \approx "), human(float(value), 4)]
