"""SymPy derivations: the sigmoid's derivative and its extrema (part a), closed-form gradients.

Nothing here is typed in: every derivative comes from ``sympy.diff`` applied to the SymPy forms
of ``activations.py`` and ``losses.py``, every extremum from ``sympy.solveset``, and each claimed
identity is checked by ``sympy.simplify`` before it is reported.

Gradients are given in two forms (symbols: ``w1 .. wL``, ``b1 .. bL``, ``x``, ``y_hat``):

* the chain-product form of the delta recursion (see ``backprop.py``)::

      dL/dw_k = dL/dz_L * prod_{j=k+1..L} (w_j phi'(z_(j-1))) * a_(k-1)

  as a list of factors in the intermediate symbols ``z_j``, ``a_j``;
* the closed form: the same product with every ``z_j``, ``a_j`` replaced by its expression in
  the inputs, each factor simplified on its own (the sigmoid stays written through ``exp``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import sympy as sp

from gradtrace.activations import get_activation
from gradtrace.errors import SpecError
from gradtrace.losses import get_loss
from gradtrace.network import ChainSpec

__all__ = [
    "MAX_SYMBOLIC_DEPTH",
    "ChainDerivation",
    "Factor",
    "GradientFormula",
    "SigmoidAnalysis",
    "derive_chain",
    "sigmoid_analysis",
    "sympy_function",
    "sympy_locals",
    "to_latex",
]

MAX_SYMBOLIC_DEPTH = 60
"""Deepest chain ``derive_chain`` accepts: closed forms grow as depth squared."""

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


# ---- part (a): the sigmoid's derivative --------------------------------------------------------


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


# ---- closed-form gradients of a chain ----------------------------------------------------------


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


def _left_slope(expr: sp.Expr) -> sp.Expr:
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
    deriv = _left_slope(sp.diff(form, u))

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


def _phi_symbolic(act_name: str) -> Callable[[sp.Expr], sp.Expr]:
    """``phi`` for building closed forms: explicit where ``z`` occurs once, else named."""
    form = get_activation(act_name).sympy(Z)
    if sum(1 for node in sp.preorder_traversal(form) if node == Z) > 1:
        return sympy_function(act_name)
    return get_activation(act_name).sympy


@cache
def _derivative_rule(act_name: str) -> sp.Expr:
    """``phi'(z)`` as a function of ``Z``, tidied."""
    return tidy(_left_slope(sp.diff(get_activation(act_name).sympy(Z), Z)))


@cache
def _output_delta_rule(act_name: str, loss_name: str) -> sp.Expr:
    """``dL/dz_L`` as a function of ``Z`` and ``Y_HAT``: the loss differentiated through phi."""
    loss = get_loss(loss_name).sympy(get_activation(act_name).sympy(Z), Y_HAT)
    return tidy(_left_slope(sp.diff(loss, Z)))


def derive_chain(spec: ChainSpec) -> ChainDerivation:
    """Closed-form ``dL/dw_k`` (and ``dL/db_k``) of a chain, computed by SymPy.

    Raises ``SpecError`` for depth above ``MAX_SYMBOLIC_DEPTH``.
    """
    L = spec.depth
    if spec.residual:
        raise SpecError(
            "symbolic derivation of residual chains is not supported yet (the gradient is a sum "
            "over paths, not one chain product); use 'gradtrace grad' for numbers"
        )
    if L > MAX_SYMBOLIC_DEPTH:
        raise SpecError(
            f"depth {L} is too deep for symbolic derivation (at most {MAX_SYMBOLIC_DEPTH}); "
            "use 'gradtrace grad' for numbers"
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
        ak = _phi_symbolic(spec.phi(k + 1).name)(zk)
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
