"""Terminal layout of a document with rich (plain text when the output is not a terminal)."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.padding import Padding
from rich.table import Table as RichTable
from rich.text import Text

from gradtrace.present.blocks import (
    Block,
    Bullets,
    Equations,
    Heading,
    Image,
    Inline,
    Paragraph,
    Table,
)

__all__ = ["print_document"]


def _plain(parts: tuple[Inline, ...] | Inline) -> str:
    if isinstance(parts, tuple):
        return "".join(_plain(p) for p in parts)
    return parts if isinstance(parts, str) else parts.plain


def print_document(blocks: list[Block], console: Console) -> None:
    """Print ``blocks`` on ``console`` (inject ``Console(width=...)`` for reproducible output)."""
    for block in blocks:
        if isinstance(block, Heading):
            console.print()
            if block.level <= 2 and len(block.text) + 6 > console.width:
                # too long for a rule's title (rich would cut it): the text wrapped, then the rule
                console.print(Text(block.text, style="bold"))
                console.rule(characters="=" if block.level == 1 else "-")
            elif block.level == 1:
                console.rule(Text(block.text, style="bold"), characters="=")
            elif block.level == 2:
                console.rule(Text(block.text, style="bold"), characters="-", align="left")
            else:
                console.print(Text(block.text, style="bold underline"))
        elif isinstance(block, Paragraph):
            console.print(Text(_plain(block.parts)))
            console.print()
        elif isinstance(block, Equations):
            for line in block.lines:
                console.print(Padding(Text(line.plain, style="cyan"), (0, 0, 0, 4)))
            console.print()
        elif isinstance(block, Table):
            table = RichTable(
                *(_plain(h) for h in block.header),
                title=block.caption or None,
                box=box.SIMPLE_HEAD,
                title_justify="left",
                title_style="bold",
            )
            for row in block.rows:
                table.add_row(*(Text(_plain(c)) for c in row))  # no markup: E[...] stays
            console.print(table)
        elif isinstance(block, Image):
            console.print(Text(f"[figure: {block.caption} ({block.name})]", style="italic"))
            console.print()
        elif isinstance(block, Bullets):
            for item in block.items:
                console.print(Padding(Text("- " + _plain(item.parts)), (0, 0, 0, 2)))
            console.print()
