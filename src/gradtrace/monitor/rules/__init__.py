"""From findings to ranked advice (no torch here).

``advise`` asks each problem finding for the remedies that answer it (``Proposal``s, with the
reason for this run and a score: how likely the remedy is to fix a run with that finding, given
the model and the run), then ranks them with ``gradtrace.monitor.advice.rank``. The rules live
by family, each module's docstring with the judgements its scores encode, each from the
mechanism it names: ``exploding`` (non-finite, persistent GradScaler skips, large from the
start, growth, spikes) and ``vanishing`` (vanishing, zero, dead and saturated units); ``facts``
holds what they read from the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from gradtrace.monitor.advice import Advice, rank
from gradtrace.monitor.checks import Finding, Thresholds
from gradtrace.monitor.records import MonitorRun
from gradtrace.monitor.rules import exploding, vanishing
from gradtrace.monitor.rules.facts import LARGE_LOSS, PRACTICAL_SIGMA_W2, WARMUP_SHARE, RunFacts

if TYPE_CHECKING:
    from gradtrace.monitor.verdict import TheoryComparison

__all__ = ["LARGE_LOSS", "PRACTICAL_SIGMA_W2", "WARMUP_SHARE", "advise"]

_RULES = {**exploding.RULES, **vanishing.RULES}


def advise(
    run: MonitorRun,
    status: str,
    findings: Sequence[Finding],
    theory: TheoryComparison | None,
    th: Thresholds,
) -> list[Advice]:
    """The ranked advice for ``findings`` (see the module docstring)."""
    from gradtrace.monitor.verdict import PROBLEMS

    r = RunFacts(run, theory, th, findings)
    proposals = [p for f in findings if f.problem for p in _RULES[f.kind](r, f)]
    own = {k for k, s in PROBLEMS.items() if s == status}
    return rank(proposals, own, r.has())
