"""The application layer: one function per job, shared by the faces (CLI, web API) and Python.

Every face parses its own input (Typer options, pydantic request models), then calls one of
these functions with plain values, so ``gradtrace grad --json`` and ``POST /api/trace`` run the
same code, not two copies kept equal by a test (``tests/test_parity.py`` checks that they
answer alike). The defaults and limits of every job live in ``gradtrace.service.defaults``.

The jobs, each returning the engine's result (data; nothing here prints):

* the exercise (``_trace``): ``solve``; ``grad`` (a trace with its optional log-magnitude twin,
  and ``grad_json``, its JSON contract); ``derive`` (the symbolic derivation, cached); and the
  preset resolution they share, ``resolve_spec`` and ``resolve_problem`` (an explicit value
  beats the preset's, the preset's beats the engine default; the exercise's numbers live only in
  ``gradtrace.core.network.PRESETS``);
* the lab (``_experiments``): ``montecarlo``, ``depth``, ``train``, ``remedies``, each taking
  plain values or a ready config (``montecarlo_config``, ``depth_config``, ``train_config``), and
  the reports, ``report`` and ``monitor_report``;
* theory (``_theory``): ``theory``, ``theory_grid``, ``phase``, ``jacobian``;
* the long runs (``_runs``): ``reproduce`` (a classic paper by name), ``sweep`` and
  ``sweep_status``.

A missing sample (``x``, ``target``) of ``montecarlo`` and ``train`` is the preset's, else part
(b)'s, whichever face asks; ``grad`` is a trace of one given problem and needs both (or a
preset).
"""

from __future__ import annotations

from dataclasses import dataclass

from gradtrace.service._experiments import (
    Progress,
    depth,
    depth_config,
    monitor_report,
    montecarlo,
    montecarlo_config,
    remedies,
    report,
    report_config,
    train,
    train_config,
)
from gradtrace.service._runs import reproduce, sweep, sweep_status
from gradtrace.service._theory import TheoryResult, jacobian, phase, theory, theory_grid
from gradtrace.service._trace import (
    GradResult,
    Problem,
    derive,
    grad,
    grad_json,
    resolve_problem,
    resolve_spec,
    solve,
)
from gradtrace.service.defaults import DEFAULT_PRESET, DEPTH, DERIVE, MONTECARLO, TRAIN

__all__ = [
    "DEFAULT_PRESET",
    "LIMITS",
    "GradResult",
    "Limits",
    "Problem",
    "Progress",
    "TheoryResult",
    "depth",
    "depth_config",
    "derive",
    "grad",
    "grad_json",
    "jacobian",
    "monitor_report",
    "montecarlo",
    "montecarlo_config",
    "phase",
    "remedies",
    "report",
    "report_config",
    "reproduce",
    "resolve_problem",
    "resolve_spec",
    "solve",
    "sweep",
    "sweep_status",
    "theory",
    "theory_grid",
    "train",
    "train_config",
]


@dataclass(frozen=True)
class Limits:
    """The engine's own bounds on each experiment, as the registry
    (``gradtrace.service.defaults``) holds them; ``web/cost.py`` reads them."""

    depth_experiment: int = int(DEPTH.depths.le or 0)  # deepest chain of `gradtrace depth`
    montecarlo_depth: int = int(MONTECARLO.depth.le or 0)  # histograms per layer
    montecarlo_samples: int = int(MONTECARLO.samples.le or 0)  # int32 histogram counts
    symbolic_depth: int = int(DERIVE.depth.le or 0)  # closed forms grow as depth squared
    steps: int = int(TRAIN.steps.le or 0)  # gradient-descent steps per run


LIMITS = Limits()
