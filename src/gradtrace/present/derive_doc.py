"""Symbolic derivations as document blocks: a SymPy-checked derivation written line by line
(``derivation_lines``, with ``verified_note`` saying how many lines SymPy checked), a chain's
gradients as products of per-layer factors (``chain_product_lines``), and the whole document of
``gradtrace derive`` (``derivation_document``). The exercise's document (``exercise_doc``) borrows
the first three."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from gradtrace.present.blocks import Block, Equations, Heading, Math, formula, m, par
from gradtrace.symbolic import ChainDerivation
from gradtrace.symbolic.steps import Derivation

Progress = Callable[[int, int], None]

__all__ = [
    "CLOSED_FORM_DEPTH",
    "chain_product_lines",
    "derivation_document",
    "derivation_lines",
    "verified_note",
]


# ---- a derivation, line by line -----------------------------------------------------------------


def _rule(rule: str) -> Math:
    """A step's rule: words, with formulas between backticks."""
    plain, latex = [], []
    for i, piece in enumerate(rule.split("`")):
        if i % 2:
            f = formula(piece)
            plain.append(f.plain)
            latex.append(f.latex)
        elif piece:
            plain.append(piece)
            latex.append(rf"\text{{{piece}}}")
    return Math("(" + "".join(plain) + ")", r"\text{(}" + "".join(latex) + r"\text{)}")


def derivation_lines(d: Derivation, lhs: str | None = None) -> Equations:
    """``lhs = line1`` then ``= line2`` ..., each with its rule: aligned on ``=`` in LaTeX; in
    the terminal the rule follows on the right, or below when the line would be long."""
    left = formula(lhs or d.lhs)
    lines = []
    for i, st in enumerate(d.steps):
        rhs, rule = formula(st.plain), _rule(st.rule)
        lead = left.plain if i == 0 else " " * len(left.plain)
        text = f"{lead} = {rhs.plain}"
        gap = "   " if len(text) + len(rule.plain) < 72 else "\n" + " " * (len(lead) + 3)
        latex_lead = left.latex if i == 0 else ""
        lines.append(Math(text + gap + rule.plain, rf"{latex_lead} &= {rhs.latex} &&{rule.latex}"))
    return Equations(tuple(lines))


def verified_note(ds: Sequence[Derivation]) -> str:
    n = sum(len(d.steps) for d in ds)
    ok = sum(st.verified for d in ds for st in d.steps)
    verdict = "every line holds" if ok == n else f"{n - ok} lines do NOT hold"
    return (
        f"SymPy verifies each line against the one before it (the difference simplifies to 0): "
        f"{ok} of {n} lines checked, {verdict}."
    )


# ---- a chain's gradients as products of per-layer factors ---------------------------------------


def _factor_text(role: str, layer: int, output: str) -> str:
    """One factor of a chain-product gradient, in the notation of the document."""
    if role == "output":
        return output
    if role == "weight":
        return f"w{layer}"
    if role == "derivative":
        return f"s'(z{layer})"
    return "x" if layer == 0 else f"s(z{layer})"


def chain_product_lines(deriv: ChainDerivation, output: str) -> Equations:
    """``dL/dw_k = output · w3 s'(z2) · ... · input``: one weight and its derivative per layer
    passed back, grouped as the factor that layer contributes."""
    lines = []
    for g in deriv.gradients:
        pieces: list[str] = []
        for f in g.factors:
            text = _factor_text(f.role, f.layer, output)
            if f.role == "derivative":
                pieces[-1] += " " + text
            else:
                pieces.append(text)
        lines.append(formula(f"dL/d{g.parameter} = " + " * ".join(pieces)))
    return Equations(tuple(reversed(lines)))


# ---- gradtrace derive ---------------------------------------------------------------------------


def _formula_lines(deriv: ChainDerivation) -> Equations:
    return Equations(
        tuple(
            m(f"dL/d{g.parameter} = ", Math(g.chain_text(), g.chain_latex()))
            for g in deriv.gradients
        )
    )


CLOSED_FORM_DEPTH = 12
"""Deeper derivations leave their closed forms out unless asked: their size grows as depth
squared, and writing them out takes about 1 s at depth 15, 7 s at 30 and 50 s at 60."""


def _closed_lines(deriv: ChainDerivation, progress: Progress | None = None) -> Equations:
    lines = []
    for i, g in enumerate(deriv.gradients):
        lines.append(m(f"dL/d{g.parameter} = ", g.closed))
        if progress is not None:
            progress(i + 1, len(deriv.gradients))
    return Equations(tuple(lines))


def derivation_document(
    deriv: ChainDerivation, *, closed: bool | None = None, progress: Progress | None = None
) -> list[Block]:
    """Symbolic gradients of a chain (``gradtrace derive``): the chain-product form, and the
    closed form when ``closed`` (``None``: up to depth ``CLOSED_FORM_DEPTH``; past it the
    document says they were left out). ``progress(done, total)`` is called per closed form."""
    s = deriv.spec
    if closed is None:
        closed = s.depth <= CLOSED_FORM_DEPTH
    closed_part: Block = (
        _closed_lines(deriv, progress)
        if closed
        else par(
            f"Left out: past depth {CLOSED_FORM_DEPTH} the closed forms grow as the depth squared "
            "(writing them takes about a second at depth 15 and a minute at depth 60); "
            "--closed-form writes them."
        )
    )
    return [
        Heading("Symbolic gradients", 1),
        par(
            f"Depth {s.depth}, hidden activation {s.activation}, output activation {s.output_activation}, "
            f"loss {s.loss}, biases {'on' if s.biases else 'off'}. ",
            m(f"z_k = w_k a_(k-1){' + b_k' if s.biases else ''}, a_k = phi_k(z_k), a_0 = x"),
            "; ",
            m("dL/dz_L = ", deriv.output_delta),
            ".",
        ),
        Heading("Chain-product form", 2),
        _formula_lines(deriv),
        Heading("Closed form", 2),
        closed_part,
    ]
