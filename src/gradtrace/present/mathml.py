"""A chain's symbolic gradients as presentation MathML (Chromium renders MathML Core without any
script): the explorer's formulas.

* ``factor_mathml(g)``: ``dL/dw_k`` as the product of its chain-rule factors.
* ``product_mathml(g)``: the same with the repeated pairs ``w_j phi'(z_(j-1))`` folded into one
  ``prod_(j=k+1)^L``, from ``PRODUCT_FROM`` pairs on.
* ``derivation_mathml(d)``: both, by parameter name, for every gradient of a derivation.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp
from sympy.printing.mathml import mathml

from gradtrace.symbolic import ChainDerivation, GradientFormula

__all__ = ["PRODUCT_FROM", "derivation_mathml", "factor_mathml", "product_mathml"]

PRODUCT_FROM = 3
"""A gradient with this many ``w_j phi'(z_(j-1))`` pairs or more is also written as a product."""

_INDEX = sp.Symbol("JINDEX", real=True)  # stands for a_(j-1) or z_(j-1) in the generic factor


@lru_cache(maxsize=4096)
def _mathml(expr: sp.Expr) -> str:
    """Presentation MathML of one factor (factors repeat across a chain's gradients: cached)."""
    text = mathml(expr, printer="presentation")
    return text.replace(
        "<msub><mi>y</mi><mi>hat</mi></msub>", "<mover><mi>y</mi><mo>^</mo></mover>"
    )


def _paren_mathml(expr: sp.Expr) -> str:
    inner = _mathml(expr)
    if expr.is_Add or (expr.is_Mul and len(expr.args) > 1):
        inner = f"<mrow><mo>(</mo>{inner}<mo>)</mo></mrow>"
    return inner


def _lhs_mathml(g: GradientFormula) -> str:
    name = f"<msub><mi>{g.parameter[0]}</mi><mn>{g.parameter[1:]}</mn></msub>"
    return f"<mfrac><mrow><mo>∂</mo><mi>L</mi></mrow><mrow><mo>∂</mo>{name}</mrow></mfrac>"


def _equation(g: GradientFormula, parts: list[str]) -> str:
    body = "<mo>·</mo>".join(parts)
    return f'<math display="block"><mrow>{_lhs_mathml(g)}<mo>=</mo>{body}</mrow></math>'


def factor_mathml(g: GradientFormula) -> str:
    """``dL/dw_k`` (or ``dL/db_k``) = its factors, each in parentheses where it is a sum or a
    product, joined by a centred dot."""
    return _equation(g, [_paren_mathml(f.expr) for f in g.factors])


def product_mathml(g: GradientFormula) -> str:
    """``dL/dw_k = (dL/dz_L) · prod_(j=k+1)^L w_j phi'(z_(j-1)) · a_(k-1)``: the chain's repeated
    pairs folded into one product, so what differs between gradients (the lower limit and the
    last factor) stays in view. Below ``PRODUCT_FROM`` pairs: the factor form itself."""
    pairs = [f for f in g.factors if f.role == "derivative"]
    if len(pairs) < PRODUCT_FROM:
        return factor_mathml(g)
    out = [f for f in g.factors if f.role == "output"]
    rest = [f for f in g.factors if f.role == "input"]
    first = min(f.layer for f in g.factors if f.role == "weight")  # = k + 1
    last = max(f.layer for f in g.factors if f.role == "weight")  # = L
    d = pairs[0]  # every hidden layer has the same activation: one generic factor
    generic = _paren_mathml(d.expr)  # identity: phi' = 1, no symbol in it
    for sym in d.expr.free_symbols:  # a_(j-1) or z_(j-1): the one symbol in phi'
        letter = str(sym)[0]
        generic = _paren_mathml(d.expr.subs(sym, _INDEX)).replace(
            "<mi>JINDEX</mi>",
            f"<msub><mi>{letter}</mi><mrow><mi>j</mi><mo>−</mo><mn>1</mn></mrow></msub>",
        )
    prod = (
        "<munderover><mo>∏</mo><mrow><mi>j</mi><mo>=</mo>"
        f"<mn>{first}</mn></mrow><mn>{last}</mn></munderover>"
        f"<mrow><mo>(</mo><msub><mi>w</mi><mi>j</mi></msub><mo>·</mo>{generic}<mo>)</mo></mrow>"
    )
    parts = [_paren_mathml(f.expr) for f in out] + [prod] + [_paren_mathml(f.expr) for f in rest]
    return _equation(g, parts)


def derivation_mathml(d: ChainDerivation) -> dict[str, dict[str, str]]:
    """``{"mathml": {parameter: factor form}, "mathml_product": {parameter: product form}}``,
    in the derivation's order of gradients."""
    return {
        "mathml": {g.parameter: factor_mathml(g) for g in d.gradients},
        "mathml_product": {g.parameter: product_mathml(g) for g in d.gradients},
    }
