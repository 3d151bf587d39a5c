"""The indices in the docs agree with the printed solution (issue #20).

docs/exercise.md once said that each layer passed back multiplies the gradient by ``w_j s'(z_j)``;
the solution prints, correctly, ``w_j s'(z_(j-1))``. Two checks:

- the convention, wherever a formula pairs indices: ``w_A s'(z_B)`` (or ``phi'``) has
  ``B = A - 1``; ``dL/dw_A = delta_B a_C`` has ``B = A``; ``delta_A a_B`` (or ``s(z_B)``) has
  ``B = A - 1``; applied to the
  README, docs/, the package's source, the printed solution and its JSON;
- the quotes: each formula that docs/exercise.md and the README's exercise list quote from the
  solution (a span with an index or an equals sign) appears, in the terminal's notation, in
  ``gradtrace solve``'s output.
"""

from __future__ import annotations

import io
import json
import re
from functools import cache
from pathlib import Path

import pytest
import sympy as sp
from rich.console import Console

from gradtrace.lab.exercise import solve
from gradtrace.present.blocks import unicode_of
from gradtrace.present.exercise_doc import solution_document
from gradtrace.present.json import solution_dict
from gradtrace.present.text import print_document

ROOT = Path(__file__).parent.parent
SUBSCRIPTS = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")
_I = r"(?:_?\d+|_\w|_\([^()]*\)|[₀-₉]+)"  # an index: 3, _3, _j, _(k-1), ₃
FACTOR = re.compile(rf"\bw({_I})\s*[*·]?\s*(?:s|phi|φ)(?:_\w+)?'\s*\(z({_I})\)")
GRADIENT = re.compile(rf"(?:dL/dw|∂L/∂w)({_I}) = (?:delta|δ)({_I})\s*[*·]?\s*(?:a|s\(z|x\b)")
INPUT = re.compile(rf"(?:delta|δ)({_I})\s*[*·]?\s*(?:a({_I})|s\(z({_I})\))")


def _index(raw: str) -> sp.Expr:
    """``_(k-1)`` -> ``k - 1``, ``₃`` -> ``3``."""
    return sp.sympify(raw.translate(SUBSCRIPTS).lstrip("_").strip("()"))


@cache
def _solve_text() -> str:
    buf = io.StringIO()
    console = Console(file=buf, width=300, color_system=None, force_terminal=False)
    print_document(solution_document(solve()), console)
    return buf.getvalue()


def _sources() -> dict[str, str]:
    files = [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(ROOT / "src").rglob("*.py")]
    texts = {str(f.relative_to(ROOT)): f.read_text() for f in files}
    texts["gradtrace solve"] = _solve_text()
    texts["gradtrace solve --format json"] = json.dumps(solution_dict(solve()), ensure_ascii=False)
    return texts


def _index_errors(name: str, text: str) -> list[str]:
    errors = []
    for m in FACTOR.finditer(text):
        if _index(m[2]) != _index(m[1]) - 1:
            errors.append(f"{name}: {m[0]!r}: the factor of layer w_j is w_j s'(z_(j-1))")
    for m in GRADIENT.finditer(text):
        if _index(m[2]) != _index(m[1]):
            errors.append(f"{name}: {m[0]!r}: dL/dw_k = delta_k a_(k-1)")
    for m in INPUT.finditer(text):
        if _index(m[2] or m[3]) != _index(m[1]) - 1:
            errors.append(f"{name}: {m[0]!r}: dL/dw_k = delta_k a_(k-1), a_j = s(z_j)")
    return errors


def test_the_rules_find_a_wrong_index() -> None:
    assert _index_errors("s", "by `w_j s'(z_j)`, and |w_j * s'(z_j)| <= |w_j|/4") != []
    assert len(_index_errors("s", "dL/dw_k = delta_k a_k and ∂L/∂w₂ = δ₁ · s(z₁)")) == 3
    right = "w_(k+1) phi_k'(z_k), w₃ · s'(z₂), dL/dw_k = delta_k a_(k-1), δ₃ · a₂, delta2 s(z1)"
    assert _index_errors("s", right) == []


def test_every_index_pair_follows_the_convention() -> None:
    sources = _sources()
    # the rules do find the printed solution's formulas (the tables, the chain products)
    printed = sources["gradtrace solve"]
    assert len(FACTOR.findall(printed)) >= 8 and len(INPUT.findall(printed)) >= 6
    errors = [e for name, text in sources.items() for e in _index_errors(name, text)]
    assert errors == []


def _quoted(markdown: str) -> list[str]:
    """The code spans of a Markdown passage, its line breaks joined."""
    return re.findall(r"`([^`]+)`", re.sub(r"\n\s*", " ", markdown))


def _section(text: str, start: str, end: str | None = None) -> str:
    i = text.index(start)
    return text[i : text.index(end, i) if end else None]


def _is_formula(span: str) -> bool:
    """A span with an index (``w3``, ``z_(j-1)``, ``delta3``) or an equation."""
    return "=" in span or re.search(rf"[a-z]{_I}", span.replace("y_hat", "ŷ")) is not None


EXERCISE = (ROOT / "docs" / "exercise.md").read_text()
README = (ROOT / "README.md").read_text()
QUOTES = [
    *(("docs/exercise.md", s) for s in _quoted(_section(EXERCISE, "## What `gradtrace solve`"))),
    *(("README.md", s) for s in _quoted(_section(README, "It covers:", "## More to try"))),
]


@pytest.mark.parametrize(
    ("source", "span"), [q for q in QUOTES if _is_formula(q[1])], ids=lambda v: str(v)[:40]
)
def test_the_docs_quote_the_printed_solution(source: str, span: str) -> None:
    printed = " ".join(_solve_text().split())
    assert " ".join(unicode_of(span).split()) in printed, f"{source} quotes {span!r}"


def test_the_quoted_gradients_are_the_printed_ones() -> None:
    printed = _solve_text()
    tuples = [q for _, s in QUOTES for q in re.findall(r"^\(([-\d., ]+)\)$", s)]
    assert len(tuples) == 4
    for numbers in tuples:
        for number in numbers.split(", "):
            assert number in printed
