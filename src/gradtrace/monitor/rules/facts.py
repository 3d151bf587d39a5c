"""What the remedy rules read from a run (``RunFacts``, computed once per verdict), the
constants their judgements use, and the init proposal that several rules share."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from gradtrace.core.jsontypes import JSON
from gradtrace.monitor.advice import Proposal, round_down
from gradtrace.monitor.checks import Finding, Thresholds
from gradtrace.monitor.records import MonitorRun, step_totals

if TYPE_CHECKING:
    from gradtrace.monitor.verdict import TheoryComparison

__all__ = [
    "LARGE_LOSS",
    "PRACTICAL_SIGMA_W2",
    "WARMUP_SHARE",
    "RunFacts",
    "init_for",
    "init_proposal",
]

LARGE_LOSS = 100.0
"""A first recorded loss above this is a large loss for the remedies: with a squared error it
means residuals of 10 or more, i.e. targets far from unit scale (one SGD step can bring it
down at once by moving the output bias, so it is the first loss that tells)."""

WARMUP_SHARE = 0.2
"""Spikes within this share of the first recorded steps call for a learning-rate warm-up."""

PRACTICAL_SIGMA_W2 = 4.0
"""A critical sigma_w2 above this is not advised as an init: weights that large saturate
bounded units, and the nearest critical point is then a change of activation."""


def init_for(acts: set[str]) -> str:
    """He for ReLU-family nets, Xavier for bounded activations."""
    return "he" if acts & {"relu", "leaky_relu", "gelu", "silu", "elu"} or not acts else "xavier"


class RunFacts:
    """What the rules read from a run, computed once."""

    def __init__(
        self,
        run: MonitorRun,
        theory: TheoryComparison | None,
        th: Thresholds,
        findings: Sequence[Finding],
    ) -> None:
        self.run, self.ctx, self.theory, self.th = run, run.context, theory, th
        self.found = {f.kind: f for f in findings if f.problem}
        self.acts = set(run.context.activations)
        self.steps, self.total = step_totals(run.records)
        losses = [r["loss"] for r in sorted(run.losses, key=lambda r: r["step"])]
        head = [v for v in losses if math.isfinite(v)][:1]  # the loss at the initialization
        self.loss = head[0] if head else None
        self.plain_rnn = [n for n, k in run.context.recurrent.items() if k == "rnn"]

    def has(self) -> dict[str, bool]:
        ctx = self.ctx
        has = {f"only_{a}": self.acts == {a} for a in self.acts}
        has["norms"] = bool(ctx.norms)
        has["residual"] = ctx.residual is True
        has["scaler"] = ctx.scaler or any("skipped" in r for r in self.run.records)
        has["plain_rnn"] = bool(self.plain_rnn)
        return has

    def typical_norm(self, before: int | None = None) -> float:
        """The median global norm over the finite steps (before step ``before``), rounded
        down: a clipping threshold that leaves ordinary steps alone."""
        ok = np.isfinite(self.total) & (self.total > 0)
        if before is not None:
            ok &= np.asarray(self.steps) < before
        return round_down(float(np.median(self.total[ok]))) if ok.any() else 1.0

    def lr_text(self, factor: float) -> tuple[str, dict[str, JSON]]:
        lr = self.ctx.lr
        if lr:
            new = float(f"{lr * factor:.3g}")
            return f"Lower the learning rate from {lr:g} to {new:g}", {"factor": factor, "lr": new}
        return f"Lower the learning rate by a factor of {1 / factor:g}", {"factor": factor}


def init_proposal(r: RunFacts, score: float, why: str, kind: str) -> Proposal | None:
    """The init a run's model needs: the mean-field critical point for a plain MLP where it
    is practical, else He or Xavier."""
    t = r.theory
    if t is not None:
        mf = t.mean_field
        crit = mf.sigma_w2_critical
        if crit is not None and crit <= PRACTICAL_SIGMA_W2 and mf.activation != "relu":
            return Proposal(
                "init",
                score,
                f"Initialize at the critical point: W ~ N(0, {crit:.3g}/fan_in), b ~ N(0, {mf.sigma_b2:.3g})",
                f"{why}; mean-field theory puts this init in the {mf.phase} phase (chi_1 = {mf.chi_1:.3g}, gradients change by {math.sqrt(mf.chi_1):.3g} per layer), and sigma_w2 = {crit:.3g} gives chi_1 = 1 (Schoenholz et al. 2017)",
                {"scheme": "critical", "sigma_w2": float(f"{crit:.4g}"), "sigma_b2": mf.sigma_b2},
                kind,
            )
    scheme = init_for(r.acts)
    name = "He (Kaiming) init, W ~ N(0, 2/fan_in)" if scheme == "he" else "Xavier (Glorot) init"
    src = "He et al. 2015" if scheme == "he" else "Glorot and Bengio 2010"
    return Proposal(
        "init",
        score,
        f"Re-initialize the weights with {name}, biases 0",
        f"{why}; it keeps the gradient's variance from layer to layer ({src})",
        {"scheme": scheme},
        kind,
    )
