"""The worked solution of the exercise (parts a-d) as data; nothing here prints.

* (a) ``s'(z)``, its maximum and infimum, from ``symbolic.sigmoid_analysis``.
* (b) the classification chain at the preset weights: forward and backward trace, the factors
  that make ``|dL/dw1|`` small, and one gradient step at usual learning rates.
* (c) closed-form gradients of the regression chain, from ``symbolic.derive_chain``.
* (d) the regression chain with ``y_hat = 128``: the same numbers, and what the residual
  ``2 (y_hat - y)`` does to every gradient and to one step.

Renderers (``gradtrace.render``) turn a ``Solution`` into text, Markdown, LaTeX or JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from gradtrace.backprop import Trace, backprop
from gradtrace.network import Network, Preset, get_preset
from gradtrace.symbolic import ChainDerivation, SigmoidAnalysis, derive_chain, sigmoid_analysis

__all__ = ["LEARNING_RATES", "NumericPart", "Solution", "StepOutcome", "solve"]

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


@dataclass(frozen=True, eq=False)
class Solution:
    """The whole worked solution: ``a`` (sigmoid analysis), ``b`` and ``d`` (numbers),
    ``c`` (the regression chain's closed-form gradients)."""

    a: SigmoidAnalysis
    b: NumericPart
    c: ChainDerivation
    d: NumericPart


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
    return Solution(
        a=sigmoid_analysis(),
        b=solve_part("b", get_preset("exercise-classification")),
        c=derive_chain(regression.network.spec),
        d=solve_part("d", regression),
    )
