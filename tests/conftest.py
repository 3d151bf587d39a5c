"""Test harness: warnings are errors (pyproject), hypothesis profiles, a seeded RNG fixture."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# In CI the examples are derandomized, so a green run is reproducible; locally they vary.
settings.register_profile(
    "default",
    max_examples=40,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.load_profile("default")


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh, fixed-seed generator for each test (no global RNG state)."""
    return np.random.default_rng(20261126)
