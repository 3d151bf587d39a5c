"""The README's examples run as written, and its command synopses name only real options."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from gradtrace.cli import main

README = Path(__file__).parents[1] / "README.md"
TEXT = README.read_text()


ATTACH = re.search(r"\n### Attach it where you train\n.*?(?=\n## )", TEXT, flags=re.S)
"""The README's "Attach it where you train" snippets: they train the reader's own model, so
tests/test_monitor_integrations.py runs them with tiny ones; the test below skips them."""


def test_readme_python_example_runs_and_its_comments_hold() -> None:
    assert ATTACH, "the README's 'Attach it where you train' subsection is missing"
    text = TEXT.replace(ATTACH.group(0), "")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for code in blocks:
            exec(compile(code, str(README), "exec"), {})
    printed = out.getvalue()
    assert "[ 0.00136364 -0.04271133 -0.19722521]" in printed
    assert "(2*a3 - 2*y_hat) · a2" in printed
    assert "vanishing ['0.weight', '0.bias']" in printed  # the gradient monitor's example
    assert "activation {'to': 'relu', 'init': 'he'}" in printed
    # the README's excerpt of print(verdict) is what it prints, up to the elided lines; a line
    # that ends in "..." is a prefix (the last steps listed sit on a threshold: 28 on one CPU,
    # 29 on another; the smallest ratio, near 1e-6, moves with the thread count)
    text = README.read_text().split("```text\ngradient verdict:")[1].split("```")[0]
    shown = ("gradient verdict:" + text).splitlines()
    lines = printed.splitlines()
    for line in shown:
        if line.strip() == "...":
            continue
        if line.endswith(" ..."):
            assert any(got.startswith(line[:-3]) for got in lines), line
        else:
            assert line in lines, line


def _shell_commands() -> list[str]:
    """Every ``gradtrace ...`` command in the README's bash blocks, and the inline ones marked
    ``Example:``, except ``serve`` (it runs until stopped)."""
    found = []
    for block in re.findall(r"```bash\n(.*?)```", TEXT, flags=re.S):
        for line in block.splitlines():
            command = line.split("#")[0].strip()
            if "gradtrace " in command:
                found.append(command[command.index("gradtrace ") :])
    found += re.findall(r"Example: `(gradtrace [^`]*)`", TEXT)
    return sorted({c for c in found if not c.startswith("gradtrace serve")})


COMMANDS = _shell_commands()


def test_the_readme_has_examples_of_every_command() -> None:
    used = {c.split()[1] for c in COMMANDS}
    assert {"solve", "grad", "derive", "montecarlo", "depth", "train", "remedies"} <= used


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_command_runs_as_written(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: str,
) -> None:
    monkeypatch.chdir(tmp_path)  # `gradtrace report` writes where it is run
    args = shlex.split(command)[1:]
    assert main(args) == 0, capsys.readouterr().err
    out, err = capsys.readouterr()
    assert out and err == ""


def _synopses() -> list[tuple[str, list[str]]]:
    """``(command, [--options])`` of each synopsis line of the command-line reference."""
    out = []
    for line in re.findall(r"^`(gradtrace [^`]*)`$", TEXT, flags=re.M):
        words = line.split()
        out.append((words[1], sorted(set(re.findall(r"--[a-z][a-z0-9-]*", line)))))
    return out


@pytest.mark.parametrize(("command", "options"), _synopses())
def test_synopsis_options_exist(
    capsys: pytest.CaptureFixture[str], command: str, options: list[str]
) -> None:
    assert main([command, "--help"]) == 0
    helptext = capsys.readouterr().out
    for option in options:
        assert re.search(rf"{option}\b", helptext), f"{command} has no {option}"


def test_readme_lists_every_sweep_cell_parameter_as_the_code_defines_it() -> None:
    from gradtrace.sweep.cells import params_markdown

    found = re.search(r"<!-- cell-parameters:[^\n]*-->\n(.*?)<!-- /cell-parameters -->", TEXT, re.S)
    assert found, "the README's cell-parameters block is missing"
    assert found.group(1) == params_markdown(), (
        "the README's cell parameters drifted from gradtrace.sweep.cells.PARAMS: paste "
        "params_markdown()'s output between the markers"
    )
