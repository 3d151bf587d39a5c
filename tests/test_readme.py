"""The README's Python example runs, and prints what it says it prints."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).parents[1] / "README.md"


def test_readme_python_example_runs_and_its_comments_hold() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for code in blocks:
            exec(compile(code, str(README), "exec"), {})
    printed = out.getvalue()
    assert "[ 0.00136364 -0.04271133 -0.19722521]" in printed
    assert "(2*a3 - 2*y_hat) · a2" in printed
