"""The registry of defaults and limits (``gradtrace.service.defaults``): one source, read by the
faces; where a library dataclass keeps its own default, the registry reads it or equals it."""

from __future__ import annotations

from dataclasses import fields

import pytest

from gradtrace.lab.depth import DepthConfig
from gradtrace.lab.training import MAX_STEPS, TrainConfig
from gradtrace.present.report import ReportConfig
from gradtrace.service import defaults as d


def test_library_defaults_are_read_not_typed() -> None:
    assert (
        d.TRAIN.steps.default == 1000 == {f.name: f.default for f in fields(TrainConfig)}["steps"]
    )
    assert d.TRAIN.tolerance.default == 1e-6
    assert d.TRAIN.steps.le == MAX_STEPS
    assert d.DEPTH.samples.default == DepthConfig().samples
    assert d.DEPTH.depths.default == DepthConfig().depths
    assert d.REMEDIES.steps.default == 300


def test_report_defaults_equal_the_report_config() -> None:
    """``ReportConfig`` is too slow to import for ``--help``: the registry types its face
    defaults, and this test holds them equal."""
    config = ReportConfig()
    assert (d.REPORT.samples.default, d.REPORT.seed.default) == (config.samples, config.seed)


def test_theory_point() -> None:
    assert (d.THEORY.sigma_w2.default, d.THEORY.sigma_b2.default) == (1.5, 0.05)


def test_pydantic_field_uses_the_web_bounds() -> None:
    assert d.pydantic_field(d.THEORY.width) == {
        "default": 100,
        "ge": 10,
        "le": 1000,
        "description": "Units per layer of the simulated nets",
    }
    assert "default" not in d.pydantic_field(d.TRACE.x, required=True)
    assert d.pydantic_field(d.TRAIN.learning_rate)["gt"] == 0


def test_web_limits() -> None:
    limits = d.web_limits()
    assert limits["steps"] == MAX_STEPS
    assert limits["derive_depth"] == 50
    assert limits["samples"] == 1_000_000


@pytest.mark.parametrize("group", [d.SPEC, d.TRACE, d.MONTECARLO, d.TRAIN, d.THEORY, d.JACOBIAN])
def test_every_param_is_named_after_its_field(group: object) -> None:
    for f in fields(group):  # type: ignore[arg-type]
        p = getattr(group, f.name)
        if isinstance(p, d.Param):
            assert p.name == f.name
