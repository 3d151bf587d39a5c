"""Derivations written out step by step, each step checked by SymPy.

A ``Derivation`` is a chain of equalities ``lhs = e_1 = e_2 = ...`` as a teacher writes it: each
line carries its formula in the plain notation (the one ``render.blocks`` prints), the rule that
gives it from the line before, and the SymPy expression it stands for. ``verified`` records that
``simplify(previous - this) == 0``, the first line compared with the true value of ``lhs``
(computed by ``sympy.diff``, not typed in). A wrong line is recorded as unverified, never dropped.

Rules are plain text in which formulas stand between backticks (``"chain rule, `u = 1 + exp(-z)`"``).

* ``sigmoid_derivative_steps``: ``s' = s (1 - s)`` by the chain rule (part a).
* ``sigmoid_second_derivative_steps``: ``s'' = s (1 - s)(1 - 2 s)`` by the product rule.
* ``bce_sigmoid_delta_steps``: cross-entropy through a sigmoid, ``dL/dz = y - y_hat`` (part b).
* ``l2_delta_steps``: the squared error, ``dL/dy = 2 (y - y_hat)`` (parts c, d).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sympy as sp

from gradtrace.core.activations import get_activation
from gradtrace.core.losses import get_loss
from gradtrace.symbolic.forms import Y_HAT, Z

__all__ = [
    "Derivation",
    "Step",
    "bce_sigmoid_delta_steps",
    "derivation",
    "equal",
    "l2_delta_steps",
    "sigmoid_derivative_steps",
    "sigmoid_second_derivative_steps",
]


@dataclass(frozen=True)
class Step:
    """One line ``= plain`` of a derivation: ``expr`` is what it stands for, ``rule`` why it
    follows from the line before (words, formulas between backticks), ``verified`` whether SymPy
    found ``simplify(previous - expr) == 0``."""

    plain: str
    expr: sp.Expr
    rule: str
    verified: bool


@dataclass(frozen=True)
class Derivation:
    """``lhs = steps[0] = steps[1] = ...``; ``value`` is the true value of ``lhs`` (SymPy)."""

    lhs: str
    value: sp.Expr
    steps: tuple[Step, ...]

    @property
    def verified(self) -> bool:
        """Every step checked by SymPy."""
        return all(s.verified for s in self.steps)

    @property
    def result(self) -> Step:
        """The last line: what the derivation arrives at."""
        return self.steps[-1]


def equal(a: sp.Expr, b: sp.Expr) -> bool:
    """``simplify(a - b) == 0``: SymPy's check of one step."""
    return bool(sp.simplify(a - b) == 0)


def derivation(lhs: str, value: sp.Expr, lines: Sequence[tuple[str, sp.Expr, str]]) -> Derivation:
    """Check ``lines`` (``(plain, expr, rule)`` each) one against the next, starting from
    ``value``, and return them as a ``Derivation``."""
    steps: list[Step] = []
    prev = value
    for plain, expr, rule in lines:
        steps.append(Step(plain, expr, rule, equal(prev, expr)))
        prev = expr
    return Derivation(lhs, value, tuple(steps))


def _sigmoid() -> sp.Expr:
    return get_activation("sigmoid").sympy(Z)


def sigmoid_derivative_steps() -> Derivation:
    """``s'(z)`` from ``s(z) = (1 + exp(-z))^(-1)`` by the chain rule, down to ``s (1 - s)``."""
    s = _sigmoid()
    e = sp.exp(-Z)
    u = 1 + e
    return derivation(
        "s'(z)",
        sp.diff(s, Z),
        [
            (
                "-(1 + exp(-z))^(-2) * (-exp(-z))",
                -(u**-2) * (-e),
                "chain rule on `u^(-1)`: `(u^(-1))' = -u^(-2) u'`, with `u = 1 + exp(-z)`, "
                "`u' = -exp(-z)`",
            ),
            ("(exp(-z))/((1 + exp(-z))^2)", e / u**2, "the two minus signs cancel"),
            (
                "(1)/(1 + exp(-z)) * (exp(-z))/(1 + exp(-z))",
                (1 / u) * (e / u),
                "split the fraction in two",
            ),
            (
                "s(z) (1 - s(z))",
                s * (1 - s),
                "`(exp(-z))/(1 + exp(-z)) = 1 - (1)/(1 + exp(-z)) = 1 - s(z)`",
            ),
        ],
    )


def sigmoid_second_derivative_steps() -> Derivation:
    """``s''(z)`` from ``s' = s (1 - s)`` by the product rule."""
    s = _sigmoid()
    d1 = sp.diff(s, Z)
    return derivation(
        "s''(z)",
        sp.diff(s, Z, 2),
        [
            (
                "s'(z) (1 - s(z)) + s(z) (-s'(z))",
                d1 * (1 - s) + s * (-d1),
                "product rule on `s(z) (1 - s(z))`",
            ),
            ("s'(z) (1 - 2 s(z))", d1 * (1 - 2 * s), "collect `s'(z)`"),
            ("s(z) (1 - s(z)) (1 - 2 s(z))", s * (1 - s) * (1 - 2 * s), "`s' = s(1 - s)` again"),
        ],
    )


def bce_sigmoid_delta_steps() -> Derivation:
    """``delta_L = dL/dz_L`` for the cross-entropy after a sigmoid output ``y = s(z_L)``: the
    sigmoid's derivative ``y (1 - y)`` cancels the denominators of ``dL/dy``, leaving
    ``y - y_hat``. Lines are written in ``y``; SymPy checks them with ``y = s(z)``."""
    y_sym = sp.Symbol("y", positive=True)
    y = _sigmoid()
    bce = get_loss("bce").sympy
    dl_dy = sp.diff(bce(y_sym, Y_HAT), y_sym)  # -(y_hat/y - (1 - y_hat)/(1 - y))
    dl_dy_shown = -(Y_HAT / y_sym - (1 - Y_HAT) / (1 - y_sym))
    lines = [
        (
            "dL/dy * dy/dz3",
            dl_dy.subs(y_sym, y) * sp.diff(y, Z),
            "chain rule through `y = s(z3)`",
        ),
        (
            "-((y_hat)/(y) - (1 - y_hat)/(1 - y)) * y(1 - y)",
            dl_dy_shown * y_sym * (1 - y_sym),
            "`dL/dy` of the cross-entropy; `s'(z3) = y(1 - y)` by (a)",
        ),
        (
            "-(y_hat (1 - y) - (1 - y_hat) y)",
            -(Y_HAT * (1 - y_sym) - (1 - Y_HAT) * y_sym),
            "`y(1 - y)` cancels both denominators",
        ),
        (
            "-(y_hat - y_hat y - y + y_hat y)",
            -(Y_HAT - Y_HAT * y_sym - y_sym + Y_HAT * y_sym),
            "multiply out",
        ),
        ("y - y_hat", y_sym - Y_HAT, "the two `y_hat y` cancel"),
    ]
    if not equal(dl_dy, dl_dy_shown):  # pragma: no cover - the shown dL/dy is SymPy's
        raise RuntimeError(f"dL/dy of the cross-entropy is {dl_dy}")
    at_z = [(plain, expr.subs(y_sym, y), rule) for plain, expr, rule in lines]
    value = sp.diff(bce(y, Y_HAT), Z)
    return derivation("delta3 = dL/dz3", value, at_z)


def l2_delta_steps() -> Derivation:
    """``dL/dy`` for the squared error ``L = (y_hat - y)^2`` (no factor one half)."""
    y = sp.Symbol("y", real=True)
    l2 = get_loss("l2").sympy
    return derivation(
        "dL/dy",
        sp.diff(l2(y, Y_HAT), y),
        [
            ("2(y_hat - y) * (-1)", 2 * (Y_HAT - y) * (-1), "chain rule on the square"),
            ("2(y - y_hat)", 2 * (y - Y_HAT), "take the minus sign inside"),
        ],
    )
