"""The worked solution of the exercise (parts a-d) as data; nothing here prints.

* (a) ``s'(z)``, its maximum and infimum, from ``symbolic.sigmoid_analysis``.
* (b) the classification chain at the preset weights: forward and backward trace, the factors
  that make ``|dL/dw1|`` small, and one gradient step at usual learning rates.
* (c) closed-form gradients of the regression chain, from ``symbolic.derive_chain``.
* (d) the regression chain with ``y_hat = 128``: the same numbers, and what the residual
  ``2 (y_hat - y)`` does to every gradient and to one step.

The derivations a student is asked for are written out step by step (``symbolic.steps``), each
step checked by SymPy: ``s'`` and ``s''`` (a), the cross-entropy's ``delta_L = y - y_hat`` (b),
the squared error's ``dL/dy`` (c, d), and (c)'s gradients factored by the chain, each checked
against ``sympy.diff`` of the whole loss.

Renderers (``gradtrace.present``) turn a ``Solution`` into text, Markdown, LaTeX or JSON.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import numpy as np
import sympy as sp

from gradtrace.core.activations import get_activation
from gradtrace.core.backprop import Trace, backprop
from gradtrace.core.network import Network, Preset, get_preset
from gradtrace.symbolic import ChainDerivation, SigmoidAnalysis, derive_chain, sigmoid_analysis
from gradtrace.symbolic.forms import Z
from gradtrace.symbolic.steps import (
    Derivation,
    bce_sigmoid_delta_steps,
    equal,
    l2_delta_steps,
    sigmoid_derivative_steps,
    sigmoid_second_derivative_steps,
)

__all__ = [
    "LEARNING_RATES",
    "FactoredGradient",
    "NumericPart",
    "Solution",
    "StepOutcome",
    "factored_gradients",
    "solve",
]

LEARNING_RATES = (0.01, 0.1)
"""Learning rates for the one-step illustrations: the usual defaults of plain SGD."""


@dataclass(frozen=True, eq=False)
class StepOutcome:
    """One plain gradient-descent step ``w <- w - lr dL/dw`` from the preset weights.

    **Fields:** ``learning_rate``; ``weights_after`` ``(L,)``; ``relative_change``
    ``|lr dL/dw_k| / |w_k|`` ``(L,)``; ``prediction_after`` and ``loss_after`` at the new weights.
    """

    learning_rate: float
    weights_after: np.ndarray
    relative_change: np.ndarray
    prediction_after: float
    loss_after: float


@dataclass(frozen=True, eq=False)
class NumericPart:
    """A part solved at numbers: (b) or (d).

    **Fields:**
    - ``part``: ``"b"`` or ``"d"``; ``preset``: the network and sample.
    - ``trace``: the forward and backward pass (unbatched).
    - ``derivation``: the chain's symbolic gradients (for the formulas beside the numbers).
    - ``steps``: one gradient step per rate in ``LEARNING_RATES``.
    """

    part: str
    preset: Preset
    trace: Trace
    derivation: ChainDerivation
    steps: tuple[StepOutcome, ...]

    @property
    def gradients(self) -> np.ndarray:
        """``dL/dw_k``, ``(L,)``."""
        return self.trace.grad_weight

    @property
    def ratio_to_last(self) -> np.ndarray:
        """``|dL/dw_L| / |dL/dw_k|``: how many times smaller each gradient is than the last."""
        g = np.abs(self.gradients)
        return g[-1] / g

    @property
    def derivative_fraction_of_max(self) -> np.ndarray:
        """``phi'(z_k) / max phi'`` for sigmoid layers (max 1/4), ``(L,)``; NaN elsewhere."""
        names = [self.trace.spec.phi(k + 1).name for k in range(self.trace.depth)]
        d1 = self.trace.activation_derivative
        return np.array(
            [d / 0.25 if n == "sigmoid" else np.nan for d, n in zip(d1, names, strict=True)]
        )

    @property
    def factor_bound(self) -> np.ndarray:
        """``|w_(k+1)| / 4``: the most ``|w_(k+1) s'(z_k)|`` can be, ``(L-1,)``."""
        return np.abs(self.trace.weights[1:]) / 4.0

    @property
    def sensitivity(self) -> np.ndarray:
        """``dy/dw_k = (dL/dw_k) / (dL/dy)``: the gradient with the loss factor divided out."""
        return self.gradients / self.trace.dloss_dprediction


@dataclass(frozen=True)
class FactoredGradient:
    """``dL/dw_k`` of a sigmoid chain written by the chain: the output factor (the squared
    error's ``2 (y - y_hat)`` after an identity output, the cross-entropy's ``y - y_hat`` after a
    sigmoid), then ``w_j s'(z_(j-1))`` per layer passed back, then the layer's input
    ``s(z_(k-1))`` (``x`` for the first).

    **Fields:** ``parameter`` (``"w1"``...); ``factors``: ``(role, layer)`` in backward order,
    roles as in ``symbolic.Factor`` (``output``, ``weight``, ``derivative``, ``input``);
    ``expr``: the product in the inputs; ``plain``: the same product with each factor written
    in the inputs through ``s`` and ``s'`` (``2(w3 s(w2 s(w1 x)) - y_hat) * s(w2 s(w1 x))``, the
    plain notation); ``verified``: SymPy found ``expr`` equal to ``sympy.diff`` of the whole loss
    by ``w_k``.
    """

    parameter: str
    factors: tuple[tuple[str, int], ...]
    expr: sp.Expr
    plain: str
    verified: bool


def _output_factor(c: ChainDerivation) -> tuple[str, sp.Expr, sp.Symbol]:
    """The first factor of every gradient, from its step-by-step derivation: its plain text in
    ``y``, its expression, and the symbol that stands for ``y`` in it."""
    spec = c.spec
    if spec.activation != "sigmoid" or spec.biases or spec.residual:
        raise ValueError("factored gradients are written for sigmoid chains without biases")
    if (spec.output_activation, spec.loss) == ("identity", "l2"):
        step = l2_delta_steps().result  # 2(y - y_hat), in y
        return step.plain, step.expr, sp.Symbol("y", real=True)
    if (spec.output_activation, spec.loss) == ("sigmoid", "bce"):
        step = bce_sigmoid_delta_steps().result  # y - y_hat, SymPy's form in z = z_L
        return f"({step.plain})", step.expr, Z
    raise ValueError(f"no factored form for {spec.output_activation} output with {spec.loss}")


def factored_gradients(c: ChainDerivation) -> tuple[FactoredGradient, ...]:
    """The gradients factored by the chain, built from the rules of (a) and the loss's derivation
    (the squared error's ``dL/dy`` for (c), the cross-entropy's ``delta_L`` for (b)), not from
    ``c``'s closed forms, and checked against ``diff(c.loss, w_k)``."""
    u = sp.Symbol("u", real=True)
    s = get_activation("sigmoid").sympy(u)
    ds = s * (1 - s)  # s' = s (1 - s), part (a)
    out_plain, out_expr, out_sym = _output_factor(c)
    # each pre-activation in the inputs: z1 = w1 x, z2 = w2 s(w1 x), ...
    z_plain: list[str] = []
    for k, w in enumerate(c.weights):
        z_plain.append(f"{w} x" if k == 0 else f"{w} s({z_plain[-1]})")
    y_plain = z_plain[-1] if c.spec.output_activation == "identity" else f"s({z_plain[-1]})"
    out: list[FactoredGradient] = []
    for w in c.weights:
        g = c.gradient(str(w))
        factors = tuple((f.role, f.layer) for f in g.factors)
        parts: list[sp.Expr] = []
        texts: list[str] = []
        for role, layer in factors:
            if role == "output":
                parts.append(out_expr.subs(out_sym, c.z_closed[-1]))  # y = z_L; s(z) at z_L
                texts.append(re.sub(r"\by\b", y_plain, out_plain))
            elif role == "weight":
                parts.append(c.weights[layer - 1])
                texts.append(str(c.weights[layer - 1]))
            elif role == "derivative":  # s'(z_layer), beside the weight that multiplies it
                parts.append(ds.subs(u, c.z_closed[layer - 1]))
                texts[-1] += f" s'({z_plain[layer - 1]})"
            else:  # input: s(z_layer), or x for the first layer
                parts.append(c.x if layer == 0 else s.subs(u, c.z_closed[layer - 1]))
                texts.append("x" if layer == 0 else f"s({z_plain[layer - 1]})")
        expr = sp.Mul(*parts)
        verified = equal(expr, sp.diff(c.loss, w))
        out.append(FactoredGradient(g.parameter, factors, expr, " * ".join(texts), verified))
    return tuple(out)


@dataclass(frozen=True, eq=False)
class Solution:
    """The whole worked solution: ``a`` (sigmoid analysis), ``b`` and ``d`` (numbers),
    ``c`` (the regression chain's closed-form gradients).

    The step-by-step derivations: ``a_first`` (``s'``), ``a_second`` (``s''``), ``b_delta``
    (the cross-entropy's ``delta3``), ``c_dl_dy`` (the squared error's ``dL/dy``) and
    ``c_factored`` (the gradients factored by the chain).
    """

    a: SigmoidAnalysis
    b: NumericPart
    c: ChainDerivation
    d: NumericPart
    a_first: Derivation
    a_second: Derivation
    b_delta: Derivation
    c_dl_dy: Derivation
    c_factored: tuple[FactoredGradient, ...]

    @property
    def derivations(self) -> tuple[Derivation, ...]:
        """Every step-by-step derivation, in the order the solution shows them."""
        return (self.a_first, self.a_second, self.b_delta, self.c_dl_dy)


def _step(preset: Preset, trace: Trace, lr: float) -> StepOutcome:
    net = preset.network
    delta_w = lr * trace.grad_weight
    after = net.weights - delta_w
    new = backprop(Network(net.spec, after, net.biases), preset.x, preset.target)
    return StepOutcome(
        learning_rate=lr,
        weights_after=after,
        relative_change=np.abs(delta_w) / np.abs(net.weights),
        prediction_after=float(new.prediction),
        loss_after=float(new.loss),
    )


def solve_part(part: str, preset: Preset) -> NumericPart:
    """Solve one numeric part for a preset (any chain preset works, not only the exercise's)."""
    trace = backprop(preset.network, preset.x, preset.target)
    steps = tuple(_step(preset, trace, lr) for lr in LEARNING_RATES)
    return NumericPart(part, preset, trace, derive_chain(preset.network.spec), steps)


@cache
def solve() -> Solution:
    """The worked solution of parts a-d (computed once per process)."""
    regression = get_preset("exercise-regression")
    c = derive_chain(regression.network.spec)
    return Solution(
        a=sigmoid_analysis(),
        b=solve_part("b", get_preset("exercise-classification")),
        c=c,
        d=solve_part("d", regression),
        a_first=sigmoid_derivative_steps(),
        a_second=sigmoid_second_derivative_steps(),
        b_delta=bce_sigmoid_delta_steps(),
        c_dl_dy=l2_delta_steps(),
        c_factored=factored_gradients(c),
    )
