"""The CLI's shared options: value parsers, the options every command group uses, and one way
to build an option from the registry (``gradtrace.service.defaults``), whose ``help`` and
``default`` the ``--help`` text shows.

Options are typed (numbers, whole numbers, comma lists) and parsed here; a bad value is one
line on stderr naming the option (``main``). Options take ``--name value`` or ``--name=value``
(``--weights=-1.2,0.4``).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from typer.models import OptionInfo

from gradtrace.core.errors import SpecError
from gradtrace.service.defaults import SPEC, TRACE, Param

__all__ = [
    "FIGURE_FORMATS",
    "ActivationOpt",
    "ForceOpt",
    "Format",
    "FormatOpt",
    "JsonOpt",
    "LossOpt",
    "Numbers",
    "OutputActivationOpt",
    "PlainJsonOpt",
    "PresetOpt",
    "QuietOpt",
    "ResidualOpt",
    "TargetOpt",
    "Wholes",
    "XOpt",
    "figure_option",
    "number",
    "numbers",
    "option",
    "out_option",
    "scheduler_address",
    "whole",
    "wholes",
    "worker_count",
]


class Format(StrEnum):
    text = "text"
    markdown = "markdown"
    latex = "latex"
    json = "json"


# ---- value parsers: a number, a whole number, comma lists of either ----------------------------


class Numbers(tuple[float, ...]):
    """A comma list of numbers, as parsed from ``--weights=0.25,-0.11,0.78``."""


class Wholes(tuple[int, ...]):
    """A comma list of whole numbers, as parsed from ``--depths 1,10,100``."""


def number(text: str | float) -> float:
    if isinstance(text, float | int):
        return float(text)
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None


def whole(text: str | int) -> int:
    if isinstance(text, int):
        return text
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None


def worker_count(text: str | int) -> int:
    n = whole(text)
    if n < 1:
        raise ValueError(f"must be at least 1, got {n}")
    return n


def scheduler_address(text: str) -> str:
    from gradtrace.sweep.runner import check_scheduler

    try:
        return check_scheduler(text)
    except SpecError as e:
        raise ValueError(str(e).removeprefix("--scheduler ")) from None


def numbers(text: str | Numbers) -> Numbers:
    if isinstance(text, Numbers):
        return text
    items = [s.strip() for s in text.split(",")]
    out = []
    for i, item in enumerate(items, start=1):
        try:
            out.append(float(item))
        except ValueError:
            raise ValueError(f"{item!r} is not a number (item {i} of {text!r})") from None
    return Numbers(out)


def wholes(text: str | Wholes) -> Wholes:
    if isinstance(text, Wholes):
        return text
    out = []
    for v in numbers(text):
        if v != int(v):
            raise ValueError(f"{v:g} is not a whole number")
        out.append(int(v))
    return Wholes(out)


# ---- options from the registry ----------------------------------------------------------------


def option(
    p: Param[object],
    *decls: str,
    parser: Callable[[str], object] | None = None,
    metavar: str | None = None,
    help: str | None = None,
    show_default: bool | str = True,
) -> OptionInfo:
    """A Typer option for the registry's ``p``: its help text (unless ``help``); the command's
    parameter takes ``p.default`` as its default, which ``--help`` shows."""
    return typer.Option(
        *decls,
        parser=parser,
        metavar=metavar,
        help=p.help if help is None else help,
        show_default=show_default,
    )


FIGURE_FORMATS = ".png (and an .svg twin), .svg or .pdf"
"""What ``--figure PATH`` writes: the suffix picks the format."""


def _figure(text: str | Path) -> Path:
    """``--figure``'s value, checked before any work: the plots extra is installed, the folder
    exists and the suffix names a format. Nothing is computed or written when one fails."""
    path = Path(text)
    if path.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise ValueError(f"{str(path)!r} must end in .png, .svg or .pdf")
    if not path.parent.is_dir():
        raise ValueError(f"folder {str(path.parent)!r} does not exist")
    try:
        import gradtrace.present.figures  # noqa: F401
    except ImportError as e:
        raise ValueError(f"needs the plots extra ({e})") from None
    return path


def figure_option(what: str) -> OptionInfo:
    """``--figure PATH``: save ``what`` (one rule for every command: ``save_figure``)."""
    return typer.Option(
        "--figure", metavar="PATH", parser=_figure, help=f"Save {what} to PATH: {FIGURE_FORMATS}"
    )


def out_option() -> OptionInfo:
    """``--out DIR``: the folder a report is written into."""
    return typer.Option(
        "--out", metavar="DIR", help="Folder to create (it must not exist, unless --force)"
    )


PresetOpt = Annotated[
    str | None,
    typer.Option(
        metavar="NAME",
        help="exercise-classification or exercise-regression: supplies every other option "
        "(options given explicitly override it)",
    ),
]
ActivationOpt = Annotated[str | None, option(SPEC.activation, metavar="NAME")]
OutputActivationOpt = Annotated[str | None, option(SPEC.output_activation, metavar="NAME")]
LossOpt = Annotated[str | None, option(SPEC.loss, metavar="NAME")]
ResidualOpt = Annotated[bool, option(SPEC.residual, "--residual")]
XOpt = Annotated[float | None, option(TRACE.x, "--x", parser=number)]
TargetOpt = Annotated[float | None, option(TRACE.target, parser=number)]

FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (same as --format json)")]
# for the commands without --format
PlainJsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON")]
QuietOpt = Annotated[bool, typer.Option("--quiet", help="No progress bar")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace the folder if it exists")]
