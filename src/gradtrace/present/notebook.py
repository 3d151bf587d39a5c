"""Rich display in Jupyter, registered from the presentation side: the data objects of the
layers below carry no ``_repr_*_`` hooks, so none of them imports presentation.

``register(ip)`` adds IPython display formatters: Markdown (with rendered math) for ``Trace``,
``LogTrace``, ``Solution``, ``MonteCarloResult``, ``DepthResult`` and ``TrainHistory``, and HTML
tables for ``Trace``. ``import gradtrace`` calls it when IPython is already running; elsewhere
``%load_ext gradtrace.present.notebook`` does the same. IPython itself is not a dependency.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gradtrace.core.backprop import Trace
from gradtrace.core.logmode import LogTrace
from gradtrace.lab.depth import DepthResult
from gradtrace.lab.exercise import Solution
from gradtrace.lab.montecarlo import MonteCarloResult
from gradtrace.lab.training import TrainHistory
from gradtrace.present.html import trace_html
from gradtrace.present.lab_doc import depth_document, montecarlo_document, train_document
from gradtrace.present.markdown import document_markdown, solution_markdown, trace_markdown
from gradtrace.present.trace_doc import log_table

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

__all__ = ["FORMATTERS", "load_ipython_extension", "register"]


def _log_trace_markdown(lt: LogTrace) -> str:
    if lt.loss.shape:
        return f"LogTrace of depth {lt.spec.depth} over a batch of shape {lt.loss.shape}"
    return document_markdown([log_table(lt)])


# a formatter takes an instance of its key type: one type per entry, not expressible for the dict
FORMATTERS: dict[str, dict[type, Callable[[Any], str]]] = {
    "text/markdown": {
        Trace: trace_markdown,
        LogTrace: _log_trace_markdown,
        Solution: solution_markdown,
        MonteCarloResult: lambda r: document_markdown(montecarlo_document(r)),
        DepthResult: lambda r: document_markdown(depth_document(r)),
        TrainHistory: lambda h: document_markdown(train_document(h)),
    },
    "text/html": {Trace: trace_html},
}
"""What each data type is shown as, by MIME type."""


def register(ip: InteractiveShell | None = None) -> bool:
    """Add the ``FORMATTERS`` to the display formatters of ``ip`` (an IPython shell; by default
    the running one). Returns False, changing nothing, when there is no shell (or it shows no
    rich output)."""
    if ip is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        ip = get_ipython()
        if ip is None:
            return False
    display = ip.display_formatter
    if display is None:  # a shell that shows no rich output
        return False
    formatters = display.formatters
    for mime, by_type in FORMATTERS.items():
        for cls, fn in by_type.items():
            formatters[mime].for_type(cls, fn)
    return True


def load_ipython_extension(ip: InteractiveShell) -> None:
    """``%load_ext gradtrace.present.notebook``: register the formatters on ``ip``."""
    register(ip)
