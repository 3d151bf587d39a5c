"""Markdown layout of a document (math as ``$...$``, as Jupyter and GitHub render it)."""

from __future__ import annotations

from gradtrace.core.backprop import Trace
from gradtrace.lab.exercise import Solution
from gradtrace.present.blocks import (
    Block,
    Bullets,
    Equations,
    Heading,
    Image,
    Inline,
    Paragraph,
    Table,
    inline_tex,
    math_primes,
)
from gradtrace.present.exercise_doc import solution_document
from gradtrace.present.trace_doc import trace_document

__all__ = ["document_markdown", "solution_markdown", "trace_markdown"]


def _inline(parts: tuple[Inline, ...] | Inline) -> str:
    return inline_tex(parts, math_primes)


def _cell(c: Inline) -> str:
    """A table cell: ``|`` escaped as ``\\|``, which GitHub's tables turn back into ``|``
    (in text and in math alike; ``\\vert`` only works inside math)."""
    return _inline(c).replace("|", r"\|")


def document_markdown(blocks: list[Block], *, title: str | None = None) -> str:
    """The document as a Markdown string; with ``title``, under it as the one level-1 heading
    (the document's own headings one level down)."""
    out: list[str] = [] if title is None else [f"# {title}"]
    shift = 0 if title is None else 1
    for block in blocks:
        if isinstance(block, Heading):
            out.append("#" * (block.level + shift) + " " + block.text)
        elif isinstance(block, Paragraph):
            out.append(_inline(block.parts))
        elif isinstance(block, Equations):
            if any("&" in line.latex for line in block.lines):  # aligned derivation steps
                rows = " \\\\\n".join(line.latex for line in block.lines)
                out.append(f"$$\n\\begin{{aligned}}\n{rows}\n\\end{{aligned}}\n$$")
            else:
                out.append("\n".join(f"$$\n{line.latex}\n$$" for line in block.lines))
        elif isinstance(block, Table):
            lines = [f"**{block.caption}**", ""] if block.caption else []
            lines.append("| " + " | ".join(_cell(h) for h in block.header) + " |")
            lines.append("|" + "---|" * len(block.header))
            lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in block.rows]
            out.append("\n".join(lines))
        elif isinstance(block, Bullets):
            out.append("\n".join("- " + _inline(item.parts) for item in block.items))
        elif isinstance(block, Image):
            out.append(f"![{block.caption}]({block.name})")
    return "\n\n".join(out) + "\n"


def solution_markdown(solution: Solution) -> str:
    """The worked solution as Markdown."""
    return document_markdown(solution_document(solution))


def trace_markdown(trace: Trace) -> str:
    """An unbatched trace as Markdown tables; a batched one as a one-line summary."""
    if trace.batch_shape:
        return f"Trace of depth {trace.depth} over a batch of shape {trace.batch_shape}"
    return document_markdown(trace_document(trace))
