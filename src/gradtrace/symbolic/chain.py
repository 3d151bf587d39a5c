"""Closed-form gradients of a chain, computed by SymPy (see the package docstring for the two
forms). ``derive_chain`` differentiates the loss and each activation with ``sympy.diff``; the
recursion it writes out is ``backprop``'s, whose module docstring is canonical.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import sympy as sp

from gradtrace.core.activations import get_activation
from gradtrace.core.errors import SpecError
from gradtrace.core.losses import get_loss
from gradtrace.core.network import ChainSpec
from gradtrace.symbolic.forms import Y_HAT, A, X, Z, left_slope, phi_symbolic, tidy, to_latex

__all__ = ["MAX_SYMBOLIC_DEPTH", "ChainDerivation", "Factor", "GradientFormula", "derive_chain"]

MAX_SYMBOLIC_DEPTH = 60
"""Deepest chain ``derive_chain`` accepts: closed forms grow as depth squared."""


@dataclass(frozen=True)
class Factor:
    """One factor of a chain-product gradient.

    ``role`` is ``"output"`` (``dL/dz_L``), ``"weight"`` (``w_j``), ``"derivative"``
    (``phi'(z_j)``) or ``"input"`` (``a_(k-1)``); ``layer`` is the layer it belongs to;
    ``expr`` uses the intermediate symbols ``z_j``, ``a_j``; ``closed`` the inputs.
    """

    role: str
    layer: int
    expr: sp.Expr
    closed: sp.Expr


@dataclass(frozen=True)
class GradientFormula:
    """``dL/d(parameter)`` in chain-product form (``factors``) and closed form (``closed``)."""

    parameter: str
    factors: tuple[Factor, ...]
    closed: sp.Expr

    @property
    def chain(self) -> sp.Expr:
        """The product of the factors, in the intermediate symbols."""
        return sp.Mul(*(f.expr for f in self.factors))

    def chain_text(self, sep: str = " · ") -> str:
        """``(a3 - y_hat) · w3 · (a2*(1 - a2)) · ...``, factors in backward order, parenthesized
        where needed; ``sep="*"`` gives a SymPy-parseable string."""
        return sep.join(_paren(sp.sstr(f.expr), f.expr) for f in self.factors)

    def chain_latex(self) -> str:
        """The chain-product form in LaTeX, factors in backward order."""
        return r" \cdot ".join(_paren(to_latex(f.expr), f.expr, latex=True) for f in self.factors)

    def closed_str(self) -> str:
        """The closed form as a SymPy-parseable string."""
        return sp.sstr(self.closed)

    def closed_latex(self) -> str:
        """The closed form in LaTeX."""
        return to_latex(self.closed)


def _paren(text: str, expr: sp.Expr, *, latex: bool = False) -> str:
    if isinstance(expr, sp.Add) or (isinstance(expr, sp.Mul) and len(expr.args) > 1):
        return rf"\left({text}\right)" if latex else f"({text})"
    return text


@dataclass(frozen=True)
class ChainDerivation:
    """Symbolic forward pass, loss and gradients of a ``ChainSpec``.

    **Fields:**
    - ``spec``; ``weights``, ``biases``: the symbols ``w1 ..``, ``b1 ..`` (``biases`` empty
      without biases); ``x``, ``y_hat``.
    - ``z``, ``a``: the intermediate symbols ``z1 .. zL``, ``a1 .. aL``.
    - ``z_closed``, ``a_closed``: their expressions in the inputs.
    - ``loss``: ``L`` in the inputs; ``output_delta``: ``dL/dz_L`` in the intermediate symbols.
    - ``gradients``: one ``GradientFormula`` per weight, then per bias.
    """

    spec: ChainSpec
    weights: tuple[sp.Symbol, ...]
    biases: tuple[sp.Symbol, ...]
    x: sp.Symbol
    y_hat: sp.Symbol
    z: tuple[sp.Symbol, ...]
    a: tuple[sp.Symbol, ...]
    z_closed: tuple[sp.Expr, ...]
    a_closed: tuple[sp.Expr, ...]
    loss: sp.Expr
    output_delta: sp.Expr
    gradients: tuple[GradientFormula, ...]

    @property
    def inputs(self) -> tuple[sp.Symbol, ...]:
        """Every input symbol: weights, biases, ``x``, ``y_hat``."""
        return (*self.weights, *self.biases, self.x, self.y_hat)

    def gradient(self, parameter: str) -> GradientFormula:
        """The formula for ``parameter`` (``"w1"``, ``"b2"``, ...)."""
        for g in self.gradients:
            if g.parameter == parameter:
                return g
        raise KeyError(parameter)


@cache
def _rule_in_a(expr_z: sp.Expr, act_name: str) -> sp.Expr | None:
    """``expr_z`` (a function of ``Z``) rewritten through ``z = phi^-1(a)`` as a function of
    ``A``, when the activation is invertible and the result is no longer."""
    inverse = get_activation(act_name).sympy_inverse
    if inverse is None:
        return None
    in_a = tidy(sp.simplify(expr_z.subs(Z, inverse(A))))
    if Z in in_a.free_symbols or sp.count_ops(in_a) > sp.count_ops(expr_z):
        return None
    return in_a


def _in_terms_of_a(expr_z: sp.Expr, act_name: str, a_sym: sp.Symbol) -> sp.Expr | None:
    in_a = _rule_in_a(expr_z, act_name)
    return None if in_a is None else in_a.subs(A, a_sym)


@cache
def _derivative_rule(act_name: str) -> sp.Expr:
    """``phi'(z)`` as a function of ``Z``, tidied."""
    return tidy(left_slope(sp.diff(get_activation(act_name).sympy(Z), Z)))


@cache
def _output_delta_rule(act_name: str, loss_name: str) -> sp.Expr:
    """``dL/dz_L`` as a function of ``Z`` and ``Y_HAT``: the loss differentiated through phi."""
    loss = get_loss(loss_name).sympy(get_activation(act_name).sympy(Z), Y_HAT)
    return tidy(left_slope(sp.diff(loss, Z)))


def derive_chain(spec: ChainSpec) -> ChainDerivation:
    """Closed-form ``dL/dw_k`` (and ``dL/db_k``) of a chain, computed by SymPy.

    Raises ``SpecError`` for depth above ``MAX_SYMBOLIC_DEPTH``.
    """
    L = spec.depth
    if spec.residual:
        raise SpecError(
            "symbolic derivation of residual chains is not supported yet (the gradient is a sum "
            "over paths, not one chain product); use 'gradtrace grad' for numbers",
            field="residual",
        )
    if L > MAX_SYMBOLIC_DEPTH:
        raise SpecError(
            f"depth {L} is too deep for symbolic derivation (at most {MAX_SYMBOLIC_DEPTH}); "
            "use 'gradtrace grad' for numbers",
            field="depth",
        )
    w = sp.symbols(f"w1:{L + 1}", real=True)
    b = sp.symbols(f"b1:{L + 1}", real=True) if spec.biases else ()
    z = sp.symbols(f"z1:{L + 1}", real=True)
    a = sp.symbols(f"a1:{L + 1}", real=True)

    # forward, in the inputs: z_k = w_k a_(k-1) + b_k, a_k = phi_k(z_k)
    z_closed: list[sp.Expr] = []
    a_closed: list[sp.Expr] = []
    prev: sp.Expr = X
    for k in range(L):
        zk = w[k] * prev + (b[k] if b else 0)
        ak = phi_symbolic(spec.phi(k + 1).name)(zk)
        z_closed.append(zk)
        a_closed.append(ak)
        prev = ak
    loss = get_loss(spec.loss).sympy(a_closed[-1], Y_HAT)

    # dL/dz_L, written in a_L where the output activation is invertible (bce+sigmoid: a_L - y_hat)
    out_name = spec.output_activation
    out_rule = _output_delta_rule(out_name, spec.loss)
    out_expr = _in_terms_of_a(out_rule, out_name, a[-1]) or out_rule.subs(Z, z[-1])
    out_factor = Factor("output", L, out_expr, out_rule.subs(Z, z_closed[-1]))

    # phi'(z_j) for each hidden layer j, in a_j where possible
    deriv: list[Factor] = []
    for j in range(1, L):  # layers 1 .. L-1 feed a weight further on
        name = spec.phi(j).name
        rule = _derivative_rule(name)
        expr = _in_terms_of_a(rule, name, a[j - 1]) or rule.subs(Z, z[j - 1])
        deriv.append(Factor("derivative", j, expr, rule.subs(Z, z_closed[j - 1])))

    def formula(parameter: str, k: int, with_input: bool) -> GradientFormula:
        factors = [out_factor]
        for j in range(L, k, -1):  # pass back through layer j: w_j phi'(z_(j-1))
            factors.append(Factor("weight", j, w[j - 1], w[j - 1]))
            factors.append(deriv[j - 2])
        if with_input:
            inp, inp_closed = (X, X) if k == 1 else (a[k - 2], a_closed[k - 2])
            factors.append(Factor("input", k - 1, inp, inp_closed))
        closed = sp.Mul(*(f.closed for f in factors))
        return GradientFormula(parameter, tuple(factors), closed)

    grads = [formula(str(w[k - 1]), k, True) for k in range(1, L + 1)]
    grads += [formula(str(b[k - 1]), k, False) for k in range(1, L + 1) if b]
    return ChainDerivation(
        spec=spec,
        weights=w,
        biases=b,
        x=X,
        y_hat=Y_HAT,
        z=z,
        a=a,
        z_closed=tuple(z_closed),
        a_closed=tuple(a_closed),
        loss=loss,
        output_delta=out_expr,
        gradients=tuple(grads),
    )
