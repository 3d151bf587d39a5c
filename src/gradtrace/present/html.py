"""HTML: a trace as tables for Jupyter (``render/notebook.py``), and a whole document as one
self-contained page (figures embedded as base64 PNG, styles inline, no scripts, no network)."""

from __future__ import annotations

import base64
import re
from html import escape

from gradtrace.core.backprop import Trace
from gradtrace.present.blocks import (
    Block,
    Bullets,
    Equations,
    Heading,
    Image,
    Inline,
    Paragraph,
    Table,
    fmt,
)
from gradtrace.present.trace_doc import backward_table, forward_table

__all__ = ["document_html", "trace_html"]

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 64rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.5; color: #1b1b1b; }
code, .eq { font-family: ui-monospace, monospace; font-size: 0.92em; }
.eq { display: block; margin: 0.3rem 0 0.3rem 2rem; white-space: pre-wrap; color: #174a7c; }
.scroll { overflow-x: auto; max-width: 100%; margin: 0.8rem 0; }
table { border-collapse: collapse; font-size: 0.9em; }
caption { text-align: left; font-weight: bold; padding-bottom: 0.3rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.2rem 0.6rem; text-align: left; vertical-align: top; }
figure { margin: 1rem 0; } figure img { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: 0.9em; }
p, li, figcaption { overflow-wrap: anywhere; }
td.num { white-space: nowrap; }
"""

_NUMBER = re.compile(r"[-+]?(?:(?:\d[\d,]*\.?\d*|\.\d+)(?:e[-+]?\d+)?|inf|nan)%?")


def _td(text: str) -> str:
    """A table cell; numbers get ``class="num"`` so that they never break mid-token."""
    return '<td class="num">' if _NUMBER.fullmatch(text.strip()) else "<td>"


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


def _inline(parts: tuple[Inline, ...] | Inline) -> str:
    if isinstance(parts, tuple):
        return "".join(_inline(p) for p in parts)
    return escape(parts) if isinstance(parts, str) else f"<code>{escape(parts.plain)}</code>"


def document_html(blocks: list[Block], *, title: str) -> str:
    """A complete HTML page; it needs nothing outside itself to display."""
    body: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            level = min(block.level, 6)
            body.append(f"<h{level}>{escape(block.text)}</h{level}>")
        elif isinstance(block, Paragraph):
            body.append(f"<p>{_inline(block.parts)}</p>")
        elif isinstance(block, Equations):
            body.append(
                "".join(f'<span class="eq">{escape(line.plain)}</span>' for line in block.lines)
            )
        elif isinstance(block, Table):
            head = "".join(f"<th>{_inline(h)}</th>" for h in block.header)
            rows = "".join(
                "<tr>" + "".join(f"{_td(_inline(c))}{_inline(c)}</td>" for c in row) + "</tr>"
                for row in block.rows
            )
            body.append(  # a wide table scrolls inside its box; the page keeps its width
                f'<div class="scroll"><table><caption>{escape(block.caption)}</caption>'
                f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>"
            )
        elif isinstance(block, Bullets):
            body.append(
                "<ul>"
                + "".join(f"<li>{_inline(item.parts)}</li>" for item in block.items)
                + "</ul>"
            )
        elif isinstance(block, Image):
            data = base64.b64encode(block.png).decode("ascii")
            body.append(
                f'<figure><img alt="{escape(block.caption)}" src="data:image/png;base64,{data}">'
                f"<figcaption>{escape(block.caption)}</figcaption></figure>"
            )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
