"""Part (a), derived by SymPy: the sigmoid's derivative ``s' = s(1 - s)``, its maximum, its
infimum, and the steepest points of ``s'``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import sympy as sp

from gradtrace.core.activations import get_activation
from gradtrace.symbolic.forms import Z

__all__ = ["SigmoidAnalysis", "sigmoid_analysis"]


@dataclass(frozen=True)
class SigmoidAnalysis:
    """Derivatives of ``s(z) = 1 / (1 + exp(-z))`` and their extrema, all from SymPy.

    **Fields:**
    - ``s``, ``d1``, ``d2``, ``d3``: ``s`` and its first three derivatives (as differentiated).
    - ``d1_in_s``: ``s' = s (1 - s)`` as an expression of the symbol ``s``; ``d1_identity_holds``
      records that ``simplify(d1 - s (1 - s)) == 0``; ``d2_in_s``: ``s''`` in ``s``, obtained
      by substituting ``exp(-z) = (1 - s) / s``.
    - ``critical_points``: real zeros of ``s''`` (``{0}``); ``maximum``: ``(z, s'(z))``;
      ``d3_at_maximum``: ``s'''(0) < 0`` confirms a maximum.
    - ``limits``: ``s'`` at ``-oo`` and ``+oo``; ``strictly_positive``: SymPy proves ``s' > 0``.
    - ``infimum``: 0, never attained (``s' > 0`` everywhere), so ``s'`` has no minimum.
    - ``steepest``: the extrema of ``s''`` (``s'`` changes fastest), ``[(z, s''(z)), ...]``.
    - ``d4_at_steepest``: ``s''''`` at those points (sign confirms max or min of ``s''``).
    """

    s: sp.Expr
    d1: sp.Expr
    d2: sp.Expr
    d3: sp.Expr
    d1_in_s: sp.Expr
    d1_identity_holds: bool
    d2_in_s: sp.Expr
    critical_points: tuple[sp.Expr, ...]
    maximum: tuple[sp.Expr, sp.Expr]
    d3_at_maximum: sp.Expr
    limits: tuple[sp.Expr, sp.Expr]
    strictly_positive: bool
    infimum: sp.Expr
    infimum_attained: bool
    steepest: tuple[tuple[sp.Expr, sp.Expr], ...]
    d4_at_steepest: tuple[sp.Expr, ...]


def _exact(expr: sp.Expr) -> sp.Expr:
    return sp.nsimplify(sp.radsimp(sp.simplify(expr)))


@cache
def sigmoid_analysis() -> SigmoidAnalysis:
    """Part (a), derived by SymPy: ``s'``, its maximum, infimum and steepest points."""
    s_sym = sp.Symbol("s")
    s = get_activation("sigmoid").sympy(Z)
    d1, d2, d3 = (sp.diff(s, Z, n) for n in (1, 2, 3))
    d4 = sp.diff(s, Z, 4)
    d1_in_s = s_sym * (1 - s_sym)
    holds = sp.simplify(d1 - d1_in_s.subs(s_sym, s)) == 0
    d2_in_s = sp.factor(sp.simplify(d2.subs(sp.exp(-Z), (1 - s_sym) / s_sym)))

    crit = sp.solveset(sp.simplify(d2), Z, sp.S.Reals)
    critical = tuple(sorted(crit, key=float)) if isinstance(crit, sp.FiniteSet) else ()
    if len(critical) != 1:  # pragma: no cover - would mean SymPy disagrees with the theory
        raise RuntimeError(f"unexpected critical points of s': {crit}")
    z0 = critical[0]
    maximum = (z0, _exact(d1.subs(Z, z0)))
    d3_at_max = _exact(d3.subs(Z, z0))

    limits = (sp.limit(d1, Z, -sp.oo), sp.limit(d1, Z, sp.oo))
    positive = bool(d1.is_positive)
    infimum = sp.Min(*limits) if positive else sp.nan

    steep = sp.solveset(sp.simplify(d3), Z, sp.S.Reals)
    steep_pts = tuple(sorted(steep, key=float)) if isinstance(steep, sp.FiniteSet) else ()
    steepest = tuple((_exact(zs), _exact(d2.subs(Z, zs))) for zs in steep_pts)
    d4_vals = tuple(_exact(d4.subs(Z, zs)) for zs in steep_pts)
    return SigmoidAnalysis(
        s=s,
        d1=d1,
        d2=d2,
        d3=d3,
        d1_in_s=d1_in_s,
        d1_identity_holds=holds,
        d2_in_s=d2_in_s,
        critical_points=critical,
        maximum=maximum,
        d3_at_maximum=d3_at_max,
        limits=limits,
        strictly_positive=positive,
        infimum=infimum,
        infimum_attained=False,
        steepest=steepest,
        d4_at_steepest=d4_vals,
    )
