"""How the CLI prints: a document in a format, JSON, a progress bar on stderr, a figure.

Commands hand a result to ``output`` with two presenters (its JSON dict, its document); nothing
else in the CLI writes to stdout except the few one-line summaries (``write``).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from gradtrace.cli.options import Format

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from rich.console import Console

    from gradtrace.present.blocks import Block

__all__ = [
    "emit",
    "output",
    "print_json",
    "progress",
    "save_figure",
    "show_bar",
    "text_width",
    "write",
]

R = TypeVar("R")


def write(text: str) -> None:
    """``text`` on stdout, ending in one newline."""
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def print_json(obj: object) -> None:
    """``obj`` as strict JSON (no NaN or Infinity), indented by 2."""
    write(json.dumps(obj, indent=2, allow_nan=False))


def text_width() -> int:
    """The width the text output is laid out at: ``$COLUMNS`` when set, else the terminal's
    width when stdout is a terminal, else 80 (a file, a pipe, a pager)."""
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return 80


def _console() -> Console:
    """The one rich console of the text output, ``text_width()`` wide (colours and bold only
    on a terminal: rich decides from stdout, ``NO_COLOR`` and ``TERM``)."""
    from rich.console import Console

    return Console(width=text_width())


def emit(blocks: list[Block], fmt: Format) -> None:
    """A document on stdout: rich text, Markdown or LaTeX."""
    if fmt is Format.text:
        from gradtrace.present.text import print_document

        print_document(blocks, _console())
    elif fmt is Format.markdown:
        from gradtrace.present.markdown import document_markdown

        write(document_markdown(blocks))
    else:
        from gradtrace.present.latex import document_latex

        write(document_latex(blocks))


def output(
    result: R,
    fmt: Format,
    as_json: bool,
    to_json: Callable[[R], Mapping[str, object]],
    to_document: Callable[[R], list[Block]],
) -> None:
    """Print ``result`` as JSON (``to_json``) or as a document in ``fmt`` (``to_document``)."""
    if as_json or fmt is Format.json:
        print_json(to_json(result))
    else:
        emit(to_document(result), fmt)


def show_bar(quiet: bool, as_json: bool = False, fmt: Format = Format.text) -> bool:
    """Whether to show a progress bar: on a terminal, unless --quiet or JSON output."""
    return not (quiet or as_json or fmt is Format.json) and sys.stderr.isatty()


def save_figure(fig: Figure, path: Path) -> list[Path]:
    """``--figure PATH`` (checked by ``options.figure_option`` before any work): its suffix picks
    the format, and a PNG gets an SVG twin beside it (``figures.save``)."""
    from gradtrace.present import figures

    if path.suffix.lower() == ".png":
        return figures.save(fig, path.with_suffix(""))
    return [figures.save_figure(fig, path)]


@contextmanager
def progress(
    *, enabled: bool, description: str = "sampling"
) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on stderr, or nothing (not a terminal, --quiet, --json)."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = bar.add_task(description, total=None)
    started = False

    def update(done: int, total: int) -> None:
        nonlocal started
        bar.update(task, completed=done, total=total)
        if not started:  # the bar starts with the work: lines printed before it stay above it
            bar.start()
            started = True

    try:
        yield update
    finally:
        if started:
            bar.stop()
