"""LaTeX layout of a document: a complete article that compiles with pdflatex and amsmath."""

from __future__ import annotations

from gradtrace.present.blocks import (
    Block,
    Bullets,
    Equations,
    Heading,
    Inline,
    Paragraph,
    Table,
    inline_tex,
    math_primes,
)

__all__ = ["document_latex"]

_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def _escape(text: str) -> str:
    return math_primes("".join(_ESCAPES.get(ch, ch) for ch in text))


def _inline(parts: tuple[Inline, ...] | Inline) -> str:
    return inline_tex(parts, _escape)


_SECTION = {1: "section*", 2: "subsection*", 3: "subsubsection*"}


def document_latex(blocks: list[Block], *, standalone: bool = True) -> str:
    """The document as LaTeX; ``standalone`` wraps it in a compilable article."""
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(rf"\{_SECTION.get(block.level, 'paragraph*')}{{{_escape(block.text)}}}")
        elif isinstance(block, Paragraph):
            out.append(_inline(block.parts))
        elif isinstance(block, Equations):
            # a line with its own alignment marks (``lhs &= rhs &\quad& \text{rule}``) keeps them
            body = " \\\\\n".join(
                f"  {line.latex}" if "&" in line.latex else f"  & {line.latex}"
                for line in block.lines
            )
            out.append("\\begin{align*}\n" + body + "\n\\end{align*}")
        elif isinstance(block, Table):
            cols = "l" * len(block.header)
            rows = [" & ".join(_inline(c) for c in row) + r" \\" for row in block.rows]
            header = " & ".join(_inline(h) for h in block.header) + r" \\ \hline"
            caption = rf"\textbf{{{_escape(block.caption)}}}\\[2pt]" + "\n" if block.caption else ""
            # in place (not a float), shrunk only when wider than the line
            out.append(
                "\\begin{center}\\small\n"
                + caption
                + "\\resizebox{\\ifdim\\width>\\linewidth\\linewidth\\else\\width\\fi}{!}{%\n"
                + f"\\begin{{tabular}}{{{cols}}}\n{header}\n"
                + "\n".join(rows)
                + "\n\\end{tabular}}\n\\end{center}"
            )
        elif isinstance(block, Bullets):
            items = "\n".join(r"  \item " + _inline(item.parts) for item in block.items)
            out.append("\\begin{itemize}\n" + items + "\n\\end{itemize}")
    body = "\n\n".join(out) + "\n"
    if not standalone:
        return body
    return (
        "\\documentclass[11pt]{article}\n\\usepackage[margin=2cm]{geometry}\n"
        "\\usepackage[T1]{fontenc}\n\\usepackage{lmodern}\n"
        "\\usepackage{amsmath,amssymb,graphicx}\n\\allowdisplaybreaks\n\\sloppy\n"
        "\\begin{document}\n" + body + "\\end{document}\n"
    )
