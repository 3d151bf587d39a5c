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
from collections.abc import Callable, Sequence
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
    "change",
    "fmt",
    "formula",
    "human",
    "join",
    "latex_of",
    "m",
    "num",
    "par",
    "pct",
    "phi_name",
    "sym",
    "unicode_of",
    "usym",
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
    """A table with a header row and an optional caption. ``under``: the columns (0-based) that
    a terminal too narrow for the whole table writes under their row instead, one line each
    (``header: value``, or the value alone under a formula's header: a product such as
    ``delta2 = delta3 * w3 * s'(z2) = ...`` names itself): long text that would otherwise be
    squeezed into a narrow column. Other formats ignore it."""

    header: tuple[Inline, ...]
    rows: tuple[tuple[Inline, ...], ...]
    caption: str = ""
    under: tuple[int, ...] = ()


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


# ---- the plain notation read as mathematics: unicode for the terminal, real fractions in LaTeX --
#
# ``formula`` (used by the worked solution) reads one more convention of the plain notation: a
# fraction whose two sides are both parenthesized, ``(A)/(B)``, is a real fraction (``\frac``
# in LaTeX; ``A/(B)`` in the terminal, parentheses kept only where they group). ``exp(u)`` is
# ``e^{u}``, ``u^(n)`` a power. ``unicode_of`` spells a plain formula for the terminal:
#
#     dL/dw1   y_hat   delta3   phi   exp(-z)   (1 + u)^2   u^(-1)   ->  <=  *   1.5e-05
#     ∂L/∂w₁   ŷ       δ₃       φ     e⁻ᶻ       (1 + u)²    u⁻¹      →   ≤   ·   1.5·10⁻⁵

_SUP = str.maketrans("0123456789-+zn", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺ᶻⁿ")
_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def _sup(text: str) -> str | None:
    return text.translate(_SUP) if all(ch in "0123456789-+zn" for ch in text) else None


def _match(text: str, i: int, step: int) -> int:
    """Index of the parenthesis matching the one at ``i`` (``step`` +1: forward, -1: back)."""
    depth = 0
    while 0 <= i < len(text):
        depth += {"(": 1, ")": -1}.get(text[i], 0) * step
        if depth == 0:
            return i
        i += step
    raise ValueError(f"unbalanced parentheses in {text!r}")


def _fractions(text: str, frac: bool) -> str:
    """``(A)/(B)`` to ``\\frac{A}{B}`` (``frac``) or to ``A/B`` without needless parentheses."""
    start = 0
    while (i := text.find(")/(", start)) >= 0:
        lo, hi = _match(text, i, -1), _match(text, i + 2, +1)
        num_, den = text[lo + 1 : i], text[i + 3 : hi]
        top = rf"\frac{{{num_}}}{{" if frac else f"{_group(num_)}/"
        text = text[:lo] + top + (den + "}" if frac else _group(den)) + text[hi + 1 :]
        start = lo + len(top)
    return text


def _group(t: str) -> str:
    """``t`` as one side of ``a/b``: parenthesized unless it is one factor already."""
    closed = t.startswith("(") and " " not in t[_match(t, 0, 1) + 1 :]
    return t if " " not in t or closed else f"({t})"


def unicode_of(plain: str) -> str:
    """The terminal's spelling of a plain formula (the table above)."""
    t = _fractions(plain.replace("**", "^"), frac=False)
    t = re.sub(r"\bexp\(([^()]*)\)", r"e^(\1)", t)
    t = re.sub(r"\bsqrt\((\w+)\)", r"√\1", t)
    t = re.sub(
        r"(?<![\w.])(\d+(?:\.\d+)?)e([+-]?)0*(\d+)\b",
        lambda mt: f"{mt[1]}·10^({mt[2].replace('+', '')}{mt[3]})",
        t,
    )
    t = re.sub(r"(?<![A-Za-z])d([A-Za-z])/d(?=[A-Za-z])", r"∂\1/∂", t)
    t = t.replace("y_hat", "ŷ").replace("->", "→").replace("<=", "≤").replace(">=", "≥")
    t = t.replace("<-", "←")
    t = re.sub(r"\beta\b", "η", t)
    t = re.sub(r"\bdelta", "δ", t)
    t = re.sub(r"\bphi", "φ", t)
    t = re.sub(r"(?<![A-Za-z])oo(?![A-Za-z])", "∞", t)
    t = re.sub(r"(?<![\w.])([A-Za-zδφ∂])(\d+)", lambda mt: mt[1] + mt[2].translate(_SUB), t)
    t = re.sub(r"_(\d)\b", lambda mt: mt[1].translate(_SUB), t)
    t = re.sub(r"\^\(([^()]*)\)|\^(\d+)", lambda mt: _sup(mt[1] or mt[2]) or mt[0], t)
    t = t.replace(" * ", " · ").replace("*", "·").replace(") (", ")(")
    return re.sub(r"(?<![\w.])(\d) \(", r"\1(", t)


def _latex_math(plain: str) -> str:
    t = latex_of(plain)
    t = re.sub(r"\\exp\(([^()]*)\)", r"e^{\1}", t)
    t = re.sub(r"\\operatorname\{sqrt\}\((\w+)\)", r"\\sqrt{\1}", t)
    t = _fractions(t, frac=True).replace("<-", r"\leftarrow ")
    t = t.replace(r"\operatorname{eta}", r"\eta")
    t = re.sub(r"\^\(([^()]*)\)", r"^{\1}", t)
    return _tall_parens(t)


def _tall_parens(t: str) -> str:
    """``\\left( \\right)`` around parentheses that hold a fraction; others stay as they are."""
    opens: list[int] = []
    pairs: list[tuple[int, int]] = []
    for i, ch in enumerate(t):
        if ch == "(":
            opens.append(i)
        elif ch == ")" and opens:
            lo = opens.pop()
            if r"\frac" in t[lo:i]:
                pairs.append((lo, i))
    marks = {i: r"\left(" for i, _ in pairs} | {j: r"\right)" for _, j in pairs}
    return "".join(marks.get(i, ch) for i, ch in enumerate(t))


def formula(*pieces: str | Math) -> Math:
    """Like ``m``, for the worked solution: unicode in the terminal, real fractions in LaTeX."""
    parts = [p if isinstance(p, Math) else Math(unicode_of(p), _latex_math(p)) for p in pieces]
    return Math("".join(p.plain for p in parts), "".join(p.latex for p in parts))


def usym(expr: sp.Basic) -> Math:
    """A SymPy expression: unicode in the terminal (``√3/18``), SymPy's LaTeX."""
    return Math(unicode_of(sp.sstr(expr)), to_latex(expr))


def human(v: Real, sig: int = 6) -> Math:
    """A number as a person writes it: ``16,287.3``, ``0.00136364``, ``4.54·10⁻⁵``
    (LaTeX ``16{,}287.3``, ``4.54 \\times 10^{-5}``); ``sig`` significant digits."""
    x = float(v)
    if not math.isfinite(x):
        return num(x)
    if x != 0 and not 1e-4 <= abs(x) < 1e15:
        mant, exp_ = f"{x:.{sig - 1}e}".split("e")
        mant = mant.rstrip("0").rstrip(".")
        e = int(exp_)
        return Math(f"{mant}·10{str(e).translate(_SUP)}", rf"{mant} \times 10^{{{e}}}")
    digits = max(sig - 1 - math.floor(math.log10(abs(x))), 0) if x else 0
    text = f"{x:,.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return Math(text, text.replace(",", "{,}"))


def pct(fraction: Real, sig: int = 3, *, signed: bool = False) -> Math:
    """``fraction`` as a percentage: ``2,440%``, ``+0.00545%`` (``signed``)."""
    h = human(100 * float(fraction), sig)
    sign = "+" if signed and float(fraction) > 0 else ""
    return Math(f"{sign}{h.plain}%", rf"{sign}{h.latex}\,\%")  # no space: "%" never wraps alone


def change(before: Real, after: Real, sig: int = 6) -> Math:
    """``0.25 → 0.249986 (-0.00545%)``: a value before and after, and the relative change."""
    b, a = float(before), float(after)
    rel = pct((a - b) / abs(b), 3, signed=True)
    hb, ha = human(b, sig), human(a, sig)
    return Math(
        f"{hb.plain} → {ha.plain} ({rel.plain})",
        rf"{hb.latex} \to {ha.latex}\ ({rel.latex})",
    )


_PRIMED = re.compile(r"(?<![A-Za-z])([a-z])('{1,4})(?![A-Za-z])")


def math_primes(text: str, wrap: str = "$") -> str:
    """Prose with each primed one-letter name (``s'``, ``s''``) set as math (``$s'$``): in text
    mode LaTeX typesets ``'`` as a closing quote. Apostrophes inside words are left alone."""
    return _PRIMED.sub(lambda mt: f"{wrap}{mt.group(1)}{mt.group(2)}{wrap}", text)


def inline_tex(parts: tuple[Inline, ...] | Inline, text: Callable[[str], str]) -> str:
    """Inline parts as TeX-style text with ``$...$`` math (LaTeX and Markdown): ``text`` writes
    the prose; formulas side by side become one formula, since ``$a$$b$`` reads as display
    math."""
    if not isinstance(parts, tuple):
        return text(parts) if isinstance(parts, str) else f"${parts.latex}$"
    out: list[str] = []
    run: list[str] = []
    for p in (*parts, ""):
        if isinstance(p, str):
            if run:
                out.append("$" + "".join(run) + "$")
                run = []
            out.append(text(p))
        else:
            run.append(p.latex)
    return "".join(out)
