"""SymPy forms shared by the derivations: the symbols, printing in the exercise's notation, and
named functions for activations whose explicit form would blow up when nested.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import sympy as sp

from gradtrace.core.activations import get_activation

__all__ = [
    "Y_HAT",
    "A",
    "X",
    "Z",
    "left_slope",
    "phi_symbolic",
    "sympy_function",
    "sympy_locals",
    "tidy",
    "to_latex",
]

Z = sp.Symbol("z", real=True)
A = sp.Symbol("a", real=True)
Y_HAT = sp.Symbol("y_hat", real=True)
X = sp.Symbol("x", real=True)


def to_latex(expr: sp.Expr) -> str:
    """LaTeX with the exercise's notation: ``y_hat`` as ``\\hat{y}``."""
    return sp.latex(expr, symbol_names={Y_HAT: r"\hat{y}"})


def _functions(expr: sp.Expr) -> set[type]:
    return {f.func for f in expr.atoms(sp.Function)}


def tidy(expr: sp.Expr) -> sp.Expr:
    """The shortest of ``expr``, ``simplify(expr)``, ``factor(expr)`` that adds no new functions.

    (``simplify`` writes ``exp(-z)/(1+exp(-z))**2`` as ``1/(4 cosh(z/2)**2)``; we keep ``exp``.)
    """
    allowed = _functions(expr)
    # for real u, u sign(u) = |u|: lets softsign's derivative collapse to 1/(1 + |z|)**2
    unsigned = expr.replace(sp.sign, lambda u: sp.Abs(u) / u)
    candidates = []  # on a tie the earlier wins: factored forms read best
    for f in (sp.factor, lambda e: e, sp.simplify, sp.cancel):
        for e in (expr, unsigned):
            try:
                candidates.append(f(e))
            except (sp.PolynomialError, TypeError, NotImplementedError):  # pragma: no cover
                continue
    ok = [c for c in candidates if _functions(c) <= allowed]
    return min(ok, key=sp.count_ops)


def left_slope(expr: sp.Expr) -> sp.Expr:
    """``Heaviside(u) -> Heaviside(u, 0)``: at a kink take the left slope, as the engine does."""
    return expr.replace(sp.Heaviside, lambda u, *_: sp.Heaviside(u, 0))


@cache
def sympy_function(act_name: str) -> type[sp.Function]:
    """A named SymPy function for an activation whose explicit form uses ``z`` more than once.

    Nesting ``z / (1 + |z|)`` through L layers doubles the expression per layer (2^30 nodes at
    depth 30); a named ``softsign(u)`` keeps closed forms linear in depth and reads like the math.
    Its derivative (``fdiff``) is ``sympy.diff`` of the explicit form, and on numbers it evaluates
    the explicit form, so nothing is typed in twice.
    """
    explicit = get_activation(act_name).sympy
    u = sp.Dummy("u", real=True)
    form = explicit(u)
    deriv = left_slope(sp.diff(form, u))

    def eval_(cls: type, arg: sp.Expr) -> sp.Expr | None:
        return form.subs(u, arg) if arg.is_Number else None

    def fdiff(self: sp.Function, argindex: int = 1) -> sp.Expr:
        return deriv.subs(u, self.args[0])

    def imp(v: float) -> float:  # numbers for lambdify: the explicit form, exact for mpmath
        return float(form.subs(u, v)) if isinstance(v, float) else sp.N(form.subs(u, sp.sympify(v)))

    return type(
        act_name,
        (sp.Function,),
        {
            "eval": classmethod(eval_),
            "fdiff": fdiff,
            "_imp_": staticmethod(imp),
            "is_real": True,
            "_eval_rewrite_as_explicit": lambda self, arg, **kw: form.subs(u, arg),
        },
    )


def sympy_locals() -> dict[str, object]:
    """Names for ``sympy.sympify`` to parse gradtrace's expression strings back (the named
    activations ``softsign``, ``leaky_relu`` and the symbols ``y_hat``, ``x``)."""
    names: dict[str, object] = {"y_hat": Y_HAT, "x": X}
    for name in ("softsign", "leaky_relu"):
        names[name] = sympy_function(name)
    return names


def phi_symbolic(act_name: str) -> Callable[[sp.Expr], sp.Expr]:
    """``phi`` for building closed forms: explicit where ``z`` occurs once, else named."""
    form = get_activation(act_name).sympy(Z)
    if sum(1 for node in sp.preorder_traversal(form) if node == Z) > 1:
        return sympy_function(act_name)
    return get_activation(act_name).sympy
