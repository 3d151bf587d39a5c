"""Every LaTeX output compiles with pdflatex (installed by .ci/run from Debian's TeX Live)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from gradtrace.cli import main

CASES = {
    "solve": ["solve", "--format", "latex"],
    "grad": ["grad", "--preset", "exercise-regression", "--log", "--format", "latex"],
    "grad-biases": [
        "grad",
        "--weights=0.5,-1.5",
        "--biases=0.1,-0.2",
        "--x=-1",
        "--target",
        "0.3",
        "--format",
        "latex",
    ],
    "derive": [
        "derive",
        "--depth",
        "3",
        "--activation",
        "softsign",
        "--output-activation",
        "identity",
        "--loss",
        "l2",
        "--biases",
        "--format",
        "latex",
    ],
}


@pytest.mark.skipif(
    shutil.which("pdflatex") is None, reason="pdflatex not installed (.ci/run installs it)"
)
@pytest.mark.parametrize("name", list(CASES))
def test_latex_compiles(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(CASES[name]) == 0
    tex = tmp_path / f"{name}.tex"
    tex.write_text(capsys.readouterr().out)
    result = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    assert (tmp_path / f"{name}.pdf").stat().st_size > 10_000


FORBIDDEN = {
    "¡": "'<' typeset in the wrong font",
    "—": "'|' typeset as a dash",
    "sqrt(": "code notation",
    "y_hat": "code notation",
    "e+": "a number in e-notation",
    "**": "code notation",
}


@pytest.mark.skipif(
    shutil.which("pdflatex") is None or shutil.which("pdftotext") is None,
    reason="pdflatex or pdftotext (poppler-utils) not installed",
)
def test_solution_typesets_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The worked solution as a reader sees it: no stray glyphs, no code notation, no line
    sticking out of the margin by more than 5 pt."""
    assert main(CASES["solve"]) == 0
    (tmp_path / "s.tex").write_text(capsys.readouterr().out)
    done = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "s.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:]
    log = (tmp_path / "s.log").read_text(errors="replace")
    overfull = [float(x) for x in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide", log)]
    assert all(x <= 5 for x in overfull), f"overfull boxes (pt): {overfull}"
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "s.pdf", "-"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "0.00136364" in text and "SymPy verifies" in text
    found = {s: why for s, why in FORBIDDEN.items() if s in text}
    assert not found, found
