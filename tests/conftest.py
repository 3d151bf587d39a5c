"""Test harness: warnings are errors (pyproject), hypothesis profiles, a seeded RNG fixture, and
the explorer and headless Chromium shared by the browser tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

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


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """The explorer app on a free loopback port, once per test module (a module may define its
    own ``server``, as tests/test_web_server.py does for the real ``gradtrace serve``)."""
    from browser import explorer_server

    with explorer_server() as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium, once per test module."""
    from browser import launch

    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = launch(pw)
        yield b
        b.close()
