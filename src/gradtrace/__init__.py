"""gradtrace: exact, explained gradients of chain networks; watch them vanish and explode.

The names below come from the engine, ``gradtrace.core`` (activations, losses, ChainSpec and
Network, backprop -> Trace, dense networks, log mode). The folders are the layers, each importing
only from those below it (docs/architecture.md)::

    cli/, web/            the faces: parse, call the service, print or answer
    service/              one function per job; the registry of defaults and limits
    present/              document blocks; text, Markdown, LaTeX, JSON, HTML; figures; report
    lab/ theory/ reproduce/ sweep/ monitor/
                          experiments: the exercise solved, Monte Carlo, training, mean-field
                          theory, paper reproductions, grids on Dask, the PyTorch monitor
    core/ symbolic/       the engine, and its SymPy cross-derivation

In a running IPython (Jupyter), importing gradtrace registers rich display of its results from the
presentation side (``gradtrace.present.notebook``); nothing is imported for it elsewhere.
"""

import sys as _sys

from gradtrace import _moved
from gradtrace.core.activations import ACTIVATIONS, Activation, get_activation
from gradtrace.core.backprop import Trace, backprop
from gradtrace.core.dense import DenseNetwork, DenseSpec, DenseTrace, dense_backprop
from gradtrace.core.errors import SpecError
from gradtrace.core.logmode import LogTrace, backprop_log
from gradtrace.core.losses import LOSSES, Loss, get_loss
from gradtrace.core.network import PRESETS, ChainSpec, Network, Preset, get_preset

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
    from gradtrace.present.notebook import register

    register(ipython.get_ipython())


_register_notebook_display()
_moved.install()
