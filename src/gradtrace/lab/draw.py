"""Weight initializations shared by the lab's experiments: N(0, std^2), or the uniform law with
the same variance, U(-sqrt(3) std, sqrt(3) std)."""

from __future__ import annotations

import numpy as np

from gradtrace.core.errors import SpecError
from gradtrace.core.network import check_finite

__all__ = ["DRAW_LAWS", "check_init", "draw"]

DRAW_LAWS = ("normal", "uniform")
"""The laws ``draw`` knows, by name: N(0, std^2) and the uniform law of the same variance."""


def check_init(init: str, std: float) -> None:
    """SpecError naming ``init`` if unknown, or ``std`` if not a positive finite number."""
    if init not in DRAW_LAWS:
        raise SpecError(f"unknown init {init!r} (choose from {', '.join(DRAW_LAWS)})", field="init")
    if float(check_finite("std", std)) <= 0:
        raise SpecError(f"std must be positive, got {std:g}", field="std")


def draw(rng: np.random.Generator, init: str, std: float, shape: tuple[int, ...]) -> np.ndarray:
    """``shape`` weights from ``rng``: ``std * standard_normal`` or ``uniform(-a, a)``,
    ``a = sqrt(3) std`` (one call to ``rng`` either way, so the stream's layout is fixed)."""
    if init == "normal":
        return std * rng.standard_normal(shape)
    half = np.sqrt(3.0) * std
    return rng.uniform(-half, half, shape)
