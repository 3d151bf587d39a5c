"""SymPy derivations (a package: ``forms``, ``sigmoid``, ``chain``): the sigmoid's derivative and its extrema (part a), closed-form gradients.

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

from gradtrace.symbolic.chain import (
    MAX_SYMBOLIC_DEPTH,
    ChainDerivation,
    Factor,
    GradientFormula,
    derive_chain,
)
from gradtrace.symbolic.forms import sympy_function, sympy_locals, to_latex
from gradtrace.symbolic.sigmoid import SigmoidAnalysis, sigmoid_analysis

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
