"""The failure benchmark as the monitor's own test: every case gets the verdict it must get
and names the layers it must name, and for the failures the first advice, applied literally
and rerun, turns the verdict healthy and lowers the held-out loss. The cases marked ``fast``
run unmarked; the rest are marked ``slow`` (still in .ci/run; ``pytest -m "not slow"`` skips
them). benchmarks/monitor_failures.py runs the same cases with timings and prints the table.

The held-out cases (``HELD_OUT``), written apart from the verdict rules, are measurements, not
checks of the monitor: here each must only build, train and yield a verdict with a status of
``STATUSES``; what the monitor says of them, right or wrong, is what the benchmark reports."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator

import pytest
import torch

from gradtrace.monitor.advice import REMEDIES
from gradtrace.monitor.failures import (
    ALL_CASES,
    CASES,
    HELD_OUT,
    Case,
    Setup,
    apply_remedy,
    names_match,
    run_case,
)
from gradtrace.monitor.verdict import STATUSES


def _params(cases: tuple[Case, ...]) -> list:
    return [pytest.param(c, id=c.name, marks=() if c.fast else pytest.mark.slow) for c in cases]


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """One torch thread, as the benchmark runs; restored after, so other tests keep theirs."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _run(case: Case, setup: Setup | None = None):
    with warnings.catch_warnings():
        # the cases provoke overflow on purpose (float16, GradScaler on the CPU)
        warnings.simplefilter("ignore")
        return run_case(case, setup)


def test_the_benchmark_covers_what_it_must() -> None:
    groups = {c.group for c in CASES}
    assert len(CASES) >= 24
    assert {
        "vanishing",
        "exploding",
        "dead units",
        "saturation",
        "non-finite",
        "loss spike",
    } <= groups
    assert {"fp16 persistent", "fp16 transient", "zero by design", "frozen", "unused"} <= groups
    assert {"tied", "accumulation", "recovers", "no data"} <= groups
    healthy = {c.name for c in CASES if c.expect == "healthy"}
    assert {
        "cnn_batchnorm",
        "transformer",
        "critical_tanh",
        "residual_mlp",
        "tiny_loss_scale",
    } <= healthy
    for c in CASES:
        assert (c.fix is None) == (c.expect in ("healthy", "no data")), c.name
        assert c.fix is None or c.fix in REMEDIES
        assert c.about, c.name


def test_the_held_out_set_is_apart_and_well_formed() -> None:
    assert ALL_CASES == CASES + HELD_OUT
    assert not any(c.held_out for c in CASES)
    assert all(c.held_out for c in HELD_OUT)
    names = [c.name for c in ALL_CASES]
    assert len(names) == len(set(names))
    assert len(HELD_OUT) >= 8
    assert sum(c.expect == "healthy" for c in HELD_OUT) >= 3
    assert sum(c.fix is not None for c in HELD_OUT) >= 5
    for c in HELD_OUT:
        assert c.expect in STATUSES, c.name
        assert (c.fix is None) == (c.expect in ("healthy", "no data")), c.name
        assert c.fix is None or c.fix in REMEDIES
        assert c.about, c.name


@pytest.mark.slow
@pytest.mark.parametrize("case", HELD_OUT, ids=[c.name for c in HELD_OUT])
def test_held_out_case_runs(case: Case) -> None:
    """A measurement, not a check of the monitor: the case builds, trains with the monitor
    attached and yields a verdict (whatever it says)."""
    out = _run(case)
    assert out.applicable
    assert len(out.losses) > 0
    assert out.verdict.status in STATUSES


@pytest.mark.parametrize("case", _params(CASES))
def test_verdict_and_layers(case: Case) -> None:
    out = _run(case)
    v = out.verdict
    assert v.status == case.expect, (case.name, str(v))
    named = set(v.layers) | {n for f in v.findings for n in f.layers}
    assert names_match(named, case.must_name), (case.must_name, sorted(named))
    if case.expect == "healthy":
        assert v.advice == [] and not any(f.problem for f in v.findings)


@pytest.mark.parametrize("case", _params(tuple(c for c in CASES if c.fix)))
def test_first_advice_fixes_it(case: Case) -> None:
    before = _run(case)
    first = before.verdict.advice[0]
    assert first.remedy == case.fix, str(before.verdict)
    after = _run(case, apply_remedy(Setup(), first))
    assert after.applicable
    assert after.verdict.status == "healthy", str(after.verdict)
    assert math.isfinite(after.loss_end)
    assert not math.isfinite(before.loss_end) or after.loss_end < before.loss_end
