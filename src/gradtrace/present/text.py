"""Terminal layout of a document: lines wrapped at a width, none wider and none ending in a space.

The layout is done here, line by line (``document_lines``); rich only prints the lines, bold or
coloured on a terminal and plain elsewhere (``print_document``). Rules of the layout:

- text wraps between words; an operator (``=``, ``·``, ``-``...) stays with the word after
  it, so a line never ends in one; in running text a short formula (``∂L/∂w₂ = -0.0427113``)
  is never split;
- a table keeps every number whole: when it is too wide, the columns a ``Table`` marks
  ``under`` (long chain-rule products, sources) leave the grid and are written, one per line,
  under their row; then its headers wrap, then its text columns; a table that cannot fit even
  so is transposed (few rows), else its columns come in turns beside the first, else it is
  written row by row, one ``header: value`` per line;
- displayed formulas keep their alignment; a formula too long for the line goes on below,
  indented by four more.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from gradtrace.present.blocks import (
    Block,
    Bullets,
    Equations,
    Heading,
    Image,
    Inline,
    Math,
    Paragraph,
    Table,
)

__all__ = ["document_lines", "document_text", "print_document", "wrap"]

Line = tuple[str, str]
"""One output line and its rich style ("" for none)."""

ATOM = 36
"""A formula in running text up to this many cells wide is never split across lines."""

_KEEP = "\ue000"
"""Stands for a space that is not a break (inside a short formula) while text is wrapped."""

_OPERATORS = frozenset("= ≠ < > <= >= ≤ ≥ ≈ ~ · * × / + - − +- ± -> <- → ←".split())
"""Words that are an operator: a line may begin with one, never end in one."""

_TIES = ("Sec.", "Eq.", "Eqs.", "Fig.", "Figs.", "Thm.")
"""Words kept with the word after them: ``Sec. 5`` never splits."""

MARGIN, GAP = 2, 3
"""A table's left margin and the space between its columns (2 when it is too wide for 3)."""


# ---- wrapping --------------------------------------------------------------------------------


def _words(text: str) -> list[tuple[str, str]]:
    """``text`` as (space before, word) pairs; an operator (or ``Sec.``, ``Eq.``...) is joined
    to the word after it."""
    pairs = [(mt[1], mt[2]) for mt in re.finditer(r"(\s*)(\S+)", text)]
    out: list[tuple[str, str]] = []
    glue = False
    for space, word in pairs:
        if glue:
            out[-1] = (out[-1][0], out[-1][1] + space + word)
        else:
            out.append((space, word))
        glue = word in _OPERATORS or word.endswith(_TIES)
    return out


def _fold(word: str, width: int) -> list[str]:
    """A word wider than ``width``, cut into pieces (only when nothing else fits)."""
    pieces, piece = [], ""
    for ch in word:
        if piece and cell_len(piece + ch) > width:
            pieces.append(piece)
            piece = ""
        piece += ch
    return [*pieces, piece]


def wrap(text: str, width: int, first: str = "", rest: str | None = None) -> list[str]:
    """``text`` in lines of at most ``width`` cells: the first begins with ``first``, the others
    with ``rest`` (default: as many spaces). The spacing between words is kept as written (the
    text's own indentation too), and ``_KEEP`` joins words into one. No line ends in a space;
    a word wider than a whole line is cut, the only case where one is."""
    rest = " " * cell_len(first) if rest is None else rest
    lines: list[str] = []
    line, prefix = first, first
    for space, word in _words(text):
        word = word.replace(_KEEP, " ")
        if line != prefix:
            if cell_len(line + space + word) <= width:
                line += space + word
                continue
            lines.append(line.rstrip())
            line = prefix = rest
        elif not lines:
            line += space  # the text's own indentation (an aligned formula)
        if cell_len(line + word) > width and line == first and first.strip():
            if cell_len(rest + word) <= width:  # a label alone, then the word below it
                lines.append(line.rstrip())
                line = prefix = rest
        room = max(width - cell_len(line), 1)
        *whole, word = _fold(word, room) if cell_len(word) > room else [word]
        for piece in whole:
            lines.append((line + piece).rstrip())
            line = prefix = rest
        line += word
    lines.append(line.rstrip())
    return lines


def _plain(parts: tuple[Inline, ...] | Inline, *, atoms: bool = False) -> str:
    """The terminal spelling of inline parts; with ``atoms``, the spaces of each short formula
    (or of each short piece of a long one, between its commas) become ``_KEEP``, so that it is
    never split."""
    if isinstance(parts, tuple):
        return "".join(_plain(p, atoms=atoms) for p in parts)
    if isinstance(parts, Math) and atoms:  # each short piece between its commas kept whole
        pieces = re.split(r"([,;] )", parts.plain)
        return "".join(
            p.replace(" ", _KEEP) if i % 2 == 0 and cell_len(p) <= ATOM else p
            for i, p in enumerate(pieces)  # odd: the separators
        )
    return parts if isinstance(parts, str) else parts.plain


# ---- tables ---------------------------------------------------------------------------------


def _longest_word(text: str) -> int:
    return max((cell_len(w) for _, w in _words(text)), default=0)


def _spread(low: list[int], high: list[int], room: int) -> list[int]:
    """Widths from ``low`` towards ``high``, ``room`` cells in all, in proportion to what each
    column lacks (the largest remainders get the cells left over)."""
    need = [h - lo for lo, h in zip(low, high, strict=True)]
    spare = room - sum(low)
    if sum(need) <= spare:
        return list(high)
    shares = [spare * n / sum(need) for n in need]
    widths = [lo + int(s) for lo, s in zip(low, shares, strict=True)]
    for i in sorted(range(len(low)), key=lambda i: int(shares[i]) - shares[i]):
        if sum(widths) >= room:
            break
        if widths[i] < high[i]:
            widths[i] += 1
    return widths


def _column_widths(header: list[str], rows: list[list[str]], room: int) -> list[int] | None:
    """Column widths that fit ``room`` (the columns' gaps left out): whole cells when possible,
    headers wrapped next, then text cells wrapped between words; None if even that is too
    wide."""
    cols = list(zip(header, *rows, strict=True))
    natural = [max(cell_len(c) for c in col) for col in cols]
    cells = [max([_longest_word(col[0])] + [cell_len(c) for c in col[1:]]) for col in cols]
    words = [max(_longest_word(c) for c in col) for col in cols]
    if sum(cells) <= room:  # the headers wrap: whole ones first, the shortest to unwrap first
        widths = list(cells)
        for i in sorted(range(len(cols)), key=lambda i: natural[i] - cells[i]):
            if sum(widths) + natural[i] - cells[i] <= room:
                widths[i] = natural[i]
        return widths
    if sum(words) <= room:
        return _spread(words, cells, room)
    return None


def _grid_row(cells: Sequence[str], widths: list[int], gap: int, *, bottom: bool) -> list[str]:
    """One row of the grid: each cell wrapped in its column, aligned to the top (or the
    ``bottom``: the header)."""
    wrapped = [wrap(c, w) if c else [""] for c, w in zip(cells, widths, strict=True)]
    height = max(len(w) for w in wrapped)
    pad = [[""] * (height - len(w)) for w in wrapped]
    cols = [p + w if bottom else w + p for p, w in zip(pad, wrapped, strict=True)]
    out = []
    for i in range(height):
        parts = [col[i] + " " * (w - cell_len(col[i])) for col, w in zip(cols, widths, strict=True)]
        out.append((" " * MARGIN + (" " * gap).join(parts)).rstrip())
    return out


def _natural(header: list[str], rows: list[list[str]], shown: list[int]) -> list[int]:
    """The widths of the ``shown`` columns with every cell on one line."""
    return [max(cell_len(c) for c in [header[i], *(r[i] for r in rows)]) for i in shown]


def _fits(header: list[str], rows: list[list[str]], shown: list[int], width: int) -> bool:
    widths = _natural(header, rows, shown)
    return MARGIN + sum(widths) + GAP * (len(widths) - 1) <= width


def _grid(header: list[str], rows: list[list[str]], width: int) -> tuple[list[int], int] | None:
    """Column widths and the gap between columns for a grid of ``header`` and ``rows`` at most
    ``width`` wide: every cell on one line with a gap of 3 when they fit, else a gap of 2 and
    ``_column_widths``; None when no grid fits."""
    natural = _natural(header, rows, list(range(len(header))))
    if MARGIN + sum(natural) + GAP * (len(natural) - 1) <= width:
        return natural, GAP
    widths = _column_widths(header, rows, width - MARGIN - 2 * (len(header) - 1))
    return None if widths is None else (widths, 2)


def _grid_lines(
    header: list[str], rows: list[list[str]], grid: tuple[list[int], int], under: list[list[str]]
) -> list[Line]:
    """The grid: the header (bold, aligned to its bottom), a rule, the rows; ``under``: for each
    row, the lines written below it (its products)."""
    widths, gap = grid
    out: list[Line] = [(line, "bold") for line in _grid_row(header, widths, gap, bottom=True)]
    out.append((" " * MARGIN + "─" * (sum(widths) + gap * (len(widths) - 1)), ""))
    for row, below in zip(rows, under, strict=True):
        out += [(line, "") for line in _grid_row(row, widths, gap, bottom=False)]
        out += [(line, "cyan") for line in below]
    return out


def _chunks(header: list[str], rows: list[list[str]], width: int) -> list[list[int]]:
    """The columns after the first in runs that fit beside it, each cell on one line."""
    chunks: list[list[int]] = [[0]]
    for i in range(1, len(header)):
        if len(chunks[-1]) > 1 and not _fits(header, rows, [*chunks[-1], i], width):
            chunks.append([0])
        chunks[-1].append(i)
    return chunks


def _table_lines(table: Table, width: int) -> list[Line]:
    """A table: its caption, then a grid, the ``under`` columns below their rows when the whole
    does not fit; when it still does not: the table transposed (few rows, many columns), else
    its columns in turns beside the first, else one ``header: value`` per line, row by row."""
    header = [_plain(h) for h in table.header]
    rows = [[_plain(c) for c in row] for row in table.rows]
    out: list[Line] = (
        [(line, "bold") for line in wrap(table.caption, width)] if table.caption else []
    )
    everything = list(range(len(header)))
    shown = (
        everything
        if _fits(header, rows, everything, width)
        else [i for i in everything if i not in table.under]
    )
    grid = _grid([header[i] for i in shown], [[r[i] for i in shown] for r in rows], width)
    if grid is not None:
        widths = grid[0]
        indent = " " * (MARGIN + widths[0] + grid[1] if widths[0] < 12 else MARGIN + 4)
        labels = [h if isinstance(h, str) else "" for h in table.header]  # a formula: none
        below = [
            [
                line
                for i in everything
                if i not in shown and row[i]
                for line in wrap(
                    f"{labels[i]}: {row[i]}" if labels[i] else row[i],
                    width,
                    indent,
                    indent + "    ",
                )
            ]
            for row in rows
        ]
        out += _grid_lines(
            [header[i] for i in shown], [[r[i] for i in shown] for r in rows], grid, below
        )
        return [*out, ("", "")]
    columns = [list(col) for col in zip(header, *rows, strict=True)]  # transposed
    grid = _grid(columns[0], columns[1:], width)
    if grid is not None:
        out += _grid_lines(columns[0], columns[1:], grid, [[] for _ in columns[1:]])
        return [*out, ("", "")]
    turns = []
    for cols in _chunks(header, rows, width):
        sub = [[r[i] for i in cols] for r in rows]
        grid = _grid([header[i] for i in cols], sub, width)
        if grid is None:
            break
        turns += [*_grid_lines([header[i] for i in cols], sub, grid, [[] for _ in rows]), ("", "")]
    else:  # the columns in turns, each beside the first
        return out + turns
    for row in rows:  # too narrow for any grid
        for h, cell in zip(header, row, strict=True):
            out += [(line, "") for line in wrap(cell, width, f"{' ' * MARGIN}{h}: ", " " * 6)]
        out.append(("", ""))
    return out


# ---- the document ---------------------------------------------------------------------------


def _heading_lines(block: Heading, width: int) -> list[Line]:
    text = block.text
    if block.level <= 2 and cell_len(text) + 6 <= width:
        if block.level == 1:
            left = (width - cell_len(text) - 2) // 2
            right = width - cell_len(text) - 2 - left
            return [("=" * left + f" {text} " + "=" * right, "bold")]
        return [(f"{text} " + "-" * (width - cell_len(text) - 1), "bold")]
    lines: list[Line] = [(line, "bold") for line in wrap(text, width)]
    if block.level <= 2:  # too long for a rule's title: the text wrapped, then the rule
        lines.append(("=" * width if block.level == 1 else "-" * width, "bold"))
    return lines


def document_lines(blocks: list[Block], width: int) -> list[Line]:
    """``blocks`` laid out in lines of at most ``width`` cells, each with its style."""
    out: list[Line] = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(("", ""))
            out += _heading_lines(block, width)
        elif isinstance(block, Paragraph):
            out += [(line, "") for line in wrap(_plain(block.parts, atoms=True), width)]
            out.append(("", ""))
        elif isinstance(block, Equations):
            for part in (p for eq in block.lines for p in eq.plain.split("\n")):
                lead = " " * (len(part) - len(part.lstrip()))
                out += [(line, "cyan") for line in wrap(part, width, "    ", lead + " " * 8)]
            out.append(("", ""))
        elif isinstance(block, Table):
            out += _table_lines(block, width)
        elif isinstance(block, Image):
            caption = f"[figure: {block.caption} ({block.name})]"
            out += [(line, "italic") for line in wrap(caption, width)]
            out.append(("", ""))
        elif isinstance(block, Bullets):
            for item in block.items:
                out += [(line, "") for line in wrap(_plain(item.parts, atoms=True), width, "  - ")]
            out.append(("", ""))
    return out


def document_text(blocks: list[Block], width: int = 80) -> str:
    """The document as plain text, ``width`` cells wide at most."""
    return "".join(line + "\n" for line, _ in document_lines(blocks, width))


def print_document(blocks: list[Block], console: Console) -> None:
    """Print ``blocks`` on ``console``, at its width (inject ``Console(width=...)`` for
    reproducible output)."""
    for line, style in document_lines(blocks, console.width):
        console.print(Text(line, style=style), soft_wrap=True)
