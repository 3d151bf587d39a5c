"""Every LaTeX output compiles with pdflatex (installed by .ci/run from Debian's TeX Live)."""

from __future__ import annotations

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
