"""gradtrace: exact, explained gradients of chain networks; watch them vanish and explode.

The public API, by layer (imports flow one way, top to bottom)::

    activations, losses   value, derivatives, SymPy forms
    network               ChainSpec (architecture), Network (with numbers), presets
    backprop              backprop -> Trace (the canonical backward recursion)
    dense                 DenseSpec, DenseNetwork, dense_backprop -> DenseTrace (width n_k)
    inits                 weight initializations (LeCun, Xavier, He, orthogonal, mean-field)
    logmode               backprop_log -> LogTrace (log-magnitude, for very deep chains)
    gradcheck             central differences
    symbolic              SymPy derivations (part a, closed-form gradients)
    exercise              the worked solution of parts a-d as data

In a running IPython (Jupyter), importing gradtrace registers rich display of its results from the
presentation side (``gradtrace.render.notebook``); nothing is imported for it elsewhere.
"""

import sys as _sys

from gradtrace.activations import ACTIVATIONS, Activation, get_activation
from gradtrace.backprop import Trace, backprop
from gradtrace.dense import DenseNetwork, DenseSpec, DenseTrace, dense_backprop
from gradtrace.errors import SpecError
from gradtrace.logmode import LogTrace, backprop_log
from gradtrace.losses import LOSSES, Loss, get_loss
from gradtrace.network import PRESETS, ChainSpec, Network, Preset, get_preset

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "PRESETS",
    "Activation",
    "ChainSpec",
    "DenseNetwork",
    "DenseSpec",
    "DenseTrace",
    "LogTrace",
    "Loss",
    "Network",
    "Preset",
    "SpecError",
    "Trace",
    "__version__",
    "backprop",
    "backprop_log",
    "dense_backprop",
    "get_activation",
    "get_loss",
    "get_preset",
]


def _register_notebook_display() -> None:
    """Rich display in a running IPython shell; a no-op anywhere else (IPython is optional)."""
    ipython = _sys.modules.get("IPython")
    if ipython is None or ipython.get_ipython() is None:
        return
    from gradtrace.render.notebook import register

    register(ipython.get_ipython())


_register_notebook_display()
