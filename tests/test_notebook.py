"""Notebook display, registered from the presentation side (render/notebook.py)."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from gradtrace import Network, backprop, backprop_log, get_preset
from gradtrace.lab.exercise import solve
from gradtrace.lab.training import TrainConfig, train
from gradtrace.present.notebook import FORMATTERS, load_ipython_extension, register


class FakeFormatter:
    """Records ``for_type`` as IPython's BaseFormatter does."""

    def __init__(self) -> None:
        self.types: dict[type, Any] = {}

    def for_type(self, cls: type, fn: Any) -> None:
        self.types[cls] = fn


def fake_shell() -> SimpleNamespace:
    formatters = {"text/markdown": FakeFormatter(), "text/html": FakeFormatter()}
    return SimpleNamespace(display_formatter=SimpleNamespace(formatters=formatters))


def test_register_adds_every_formatter() -> None:
    ip = fake_shell()
    assert register(ip)
    for mime, by_type in FORMATTERS.items():
        assert ip.display_formatter.formatters[mime].types == by_type


def test_load_ext_registers() -> None:
    ip = fake_shell()
    load_ipython_extension(ip)
    assert ip.display_formatter.formatters["text/html"].types


def test_without_a_shell_nothing_happens() -> None:
    assert register() is False  # pytest runs outside any IPython shell


def test_shown_through_ipythons_own_formatter() -> None:
    formatters = pytest.importorskip("IPython.core.formatters")
    ip = SimpleNamespace(display_formatter=formatters.DisplayFormatter())
    register(ip)
    fmt = ip.display_formatter.format
    sol = solve()
    data, _ = fmt(sol)
    assert "0.00136364" in data["text/markdown"]
    data, _ = fmt(sol.b.trace)
    assert data["text/html"].startswith("<table>") and "| layer |" in data["text/markdown"]
    p = get_preset("exercise-regression")
    data, _ = fmt(backprop_log(p.network, p.x, p.target))
    assert "Log-magnitude mode" in data["text/markdown"]
    data, _ = fmt(train(TrainConfig(p.network, p.x, p.target, 1e-3, steps=5)))
    assert "Gradient descent" in data["text/markdown"]
    batched = backprop(Network.chain([0.5, 0.5]), np.zeros(3), np.zeros(3))
    assert "over a batch of shape (3,)" in fmt(batched)[0]["text/markdown"]


def test_import_registers_only_inside_a_running_shell() -> None:
    pytest.importorskip("IPython")
    code = (
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "from IPython.core.history import HistoryManager\n"
        "HistoryManager.enabled = False\n"
        "ip = InteractiveShell.instance()\n"
        "import gradtrace\n"
        "from gradtrace.lab.exercise import solve\n"
        "print('0.00136364' in ip.display_formatter.format(solve())[0]['text/markdown'])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
    plain = "import sys, gradtrace; print('gradtrace.present.notebook' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", plain], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
