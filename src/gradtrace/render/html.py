"""HTML for Jupyter: a trace as tables (``Trace._repr_html_``)."""

from __future__ import annotations

from html import escape

from gradtrace.backprop import Trace
from gradtrace.render.document import Inline, Table, backward_table, fmt, forward_table

__all__ = ["trace_html"]


def _cell(c: Inline) -> str:
    return escape(c if isinstance(c, str) else c.plain)


def _table(t: Table) -> str:
    head = "".join(f"<th>{_cell(h)}</th>" for h in t.header)
    rows = "".join(
        "<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in row) + "</tr>" for row in t.rows
    )
    return f"<table><caption>{escape(t.caption)}</caption><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def trace_html(trace: Trace) -> str:
    """Forward and backward tables of an unbatched trace; a summary line for a batched one."""
    if trace.batch_shape:
        return f"<p>Trace of depth {trace.depth} over a batch of shape {escape(str(trace.batch_shape))}</p>"
    summary = f"<p>y = {fmt(trace.prediction)}, L = {fmt(trace.loss)}, dL/dy = {fmt(trace.dloss_dprediction)}</p>"
    return _table(forward_table(trace)) + _table(backward_table(trace)) + summary
