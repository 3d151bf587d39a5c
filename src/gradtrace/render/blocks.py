"""The document model: format-neutral blocks that ``text.py`` (rich), ``markdown.py``,
``latex.py`` and ``html.py`` lay out, and the helpers the document builders write with.

Blocks: ``Heading``, ``Paragraph`` (text with inline ``Math``), ``Equations``, ``Table``,
``Bullets``, ``Image``. ``Math`` carries a plain-text and a LaTeX form of the same formula; both
come from one source: the plain notation, translated to LaTeX by ``latex_of``, or a SymPy
expression (``sym``).

The plain notation and its LaTeX (``latex_of``), token by token::

    dL/dw_k, dy/dw1     \\frac{\\partial L}{\\partial w_k}, \\frac{\\partial y}{\\partial w_{1}}
    w1, z3, delta2      w_{1}, z_{3}, \\delta_{2}      (a letter or a name, then digits)
    a_(k-1)             a_{k-1}
    y_hat               \\hat y
    delta, phi          \\delta, \\varphi
    log, exp, tanh, lim, inf, prod, min, max     \\log, \\exp, ...
    any other name      \\operatorname{name}      (log10 -> \\log_{10}; tanh' -> \\tanh')
    1.5e-05             1.5 \\times 10^{-5}
    *, ·  ->  <=  oo    \\cdot, \\cdot, \\to, \\le, \\infty
    %  and  ", "        \\%  and  ",\\ "
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import sympy as sp

from gradtrace.symbolic import to_latex

__all__ = [
    "Block",
    "Bullets",
    "Equations",
    "Heading",
    "Image",
    "Inline",
    "Math",
    "Paragraph",
    "Table",
    "fmt",
    "join",
    "latex_of",
    "m",
    "num",
    "par",
    "phi_name",
    "sym",
]


@dataclass(frozen=True)
class Math:
    """One formula in two spellings: ``plain`` (terminal) and ``latex``."""

    plain: str
    latex: str


Inline = str | Math


@dataclass(frozen=True)
class Heading:
    """A section title; ``level`` 1 is the document's title."""

    text: str
    level: int = 1


@dataclass(frozen=True)
class Paragraph:
    """Running text with inline formulas."""

    parts: tuple[Inline, ...]


@dataclass(frozen=True)
class Equations:
    """Displayed formulas, one per line."""

    lines: tuple[Math, ...]


@dataclass(frozen=True)
class Table:
    """A table with a header row and an optional caption."""

    header: tuple[Inline, ...]
    rows: tuple[tuple[Inline, ...], ...]
    caption: str = ""


@dataclass(frozen=True)
class Bullets:
    """A bulleted list of paragraphs."""

    items: tuple[Paragraph, ...]


@dataclass(frozen=True)
class Image:
    """A figure: PNG bytes, the file name it is saved under, and a caption."""

    png: bytes
    name: str
    caption: str


Block = Heading | Paragraph | Equations | Table | Bullets | Image


# ---- the plain notation, translated to LaTeX -----------------------------------------------------

_NAMES = {
    "delta": r"\delta",
    "phi": r"\varphi",
    "log": r"\log",
    "exp": r"\exp",
    "tanh": r"\tanh",
    "lim": r"\lim",
    "inf": r"\inf",
    "prod": r"\prod",
    "min": r"\min",
    "max": r"\max",
    "oo": r"\infty",
}
_SYMBOLS = {"*": r"\cdot", "·": r"\cdot", "->": r"\to", "<=": r"\le", "%": r"\%", ", ": r",\ "}
_TOKEN = re.compile(
    r"d(?P<top>[A-Za-z])/d(?P<by>[A-Za-z]\d*(?:_\([^()]*\)|_\w)?)"  # dL/dw_k
    r"|(?P<mant>\d+(?:\.\d+)?)e(?P<exp>[+-]?\d+)"  # 1.5e-05
    r"|y_hat"
    r"|(?P<name>[A-Za-z]{2,}(?:_[A-Za-z]{2,})*)(?P<nsub>\d*)"  # log10, delta2, leaky_relu
    r"|(?P<var>(?<![\w.])[A-Za-z])(?P<vsub>\d+)"  # w1
    r"|_\((?P<sub>[^()]*)\)"  # a_(k-1)
    r"|->|<=|, |[*·%]"
)


def _token(mt: re.Match[str]) -> str:
    text = mt.group(0)
    if mt["top"]:
        return rf"\frac{{\partial {mt['top']}}}{{\partial {latex_of(mt['by'])}}}"
    if mt["mant"]:
        return rf"{mt['mant']} \times 10^{{{int(mt['exp'])}}}"
    if text == "y_hat":
        return r"\hat y"
    if mt["name"]:
        name = mt["name"]
        escaped = name.replace("_", r"\_")
        out = _NAMES.get(name, rf"\operatorname{{{escaped}}}")
        return out + (f"_{{{mt['nsub']}}}" if mt["nsub"] else "")
    if mt["var"]:
        return f"{mt['var']}_{{{mt['vsub']}}}"
    if mt["sub"] is not None:
        return f"_{{{latex_of(mt['sub'])}}}"
    return _SYMBOLS[text]


def latex_of(plain: str) -> str:
    """The LaTeX spelling of a formula in the plain notation (the table in the module docstring)."""
    return _TOKEN.sub(_token, plain)


# ---- numbers and small formulas ----------------------------------------------------------------


Real = float | np.floating | np.ndarray
"""A number, or a 0-d array (a Trace's per-layer entries)."""


def fmt(v: Real, sig: int = 6) -> str:
    """``v`` to ``sig`` significant digits, plain ASCII (``-1.23e-05``)."""
    v = float(v)
    if not math.isfinite(v):
        return str(v)
    return f"{v:.{sig}g}"


def num(v: Real, sig: int = 6) -> Math:
    """A number as ``Math`` (LaTeX writes ``1.2 \\times 10^{-5}``)."""
    text = fmt(v, sig)
    if not math.isfinite(float(v)):
        return Math(text, {"inf": r"\infty", "-inf": r"-\infty"}.get(text, r"\mathrm{nan}"))
    return m(text)


def m(*pieces: str | sp.Basic | Math) -> Math:
    """One formula from its pieces: plain notation (translated by ``latex_of``), SymPy
    expressions (``sym``) and ready ``Math``, concatenated in order."""
    parts = [
        p if isinstance(p, Math) else sym(p) if isinstance(p, sp.Basic) else Math(p, latex_of(p))
        for p in pieces
    ]
    return Math("".join(p.plain for p in parts), "".join(p.latex for p in parts))


def sym(expr: sp.Basic) -> Math:
    """A SymPy expression in both spellings."""
    return Math(sp.sstr(expr), to_latex(expr))


def par(*parts: Inline) -> Paragraph:
    """A paragraph of the given text and formulas."""
    return Paragraph(tuple(parts))


def join(items: Sequence[Inline | Sequence[Inline]], sep: str = ", ") -> list[Inline]:
    """``items`` (each a formula, a string, or a run of both) with ``sep`` between them, to
    splice into a paragraph."""
    out: list[Inline] = []
    for i, item in enumerate(items):
        if i:
            out.append(sep)
        out += [item] if isinstance(item, str | Math) else item
    return out


def phi_name(name: str) -> str:
    """An activation's name in formulas: ``s`` for the sigmoid, else its own name."""
    return "s" if name == "sigmoid" else name
