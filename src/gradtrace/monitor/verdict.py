"""The verdict on a monitored run: what the gradients did, where, and the ranked fixes. Plain
data in, plain data out (no torch here).

``judge(run, thresholds)`` returns a ``Verdict`` whose ``status`` is one of ``STATUSES``:

* **no data**: nothing was recorded; the finding says why (never attached; backward passes but
  no optimizer step, as when a GradScaler skips every step and was not passed to ``attach``;
  no parameter had a gradient).
* **nonfinite**: inf or nan in a gradient or in the loss, outside the steps a GradScaler skipped;
  or a GradScaler that keeps skipping (see ``skipped``).
* **exploding**: gradients too large for the weights they update, or growing, or spiking.
* **vanishing**: gradients that die out in some parameters or units and stay dead.
* **healthy**: none of these. A healthy verdict may still hold informational findings.

The rules, with the reason for each threshold, are in ``gradtrace.monitor.checks`` (one function
per rule; every threshold is a ``Thresholds`` field, both defined there and importable here).

Where the model is a plain MLP (``MlpShape``) with at least ``theory_min_hidden`` hidden weight
matrices (those between two hidden layers), the verdict also holds the mean-field prediction at
its initialization beside the per-layer factor measured from the weights' gradient norms; see
``TheoryComparison`` for the derivation of what is predicted.

The advice is data (``gradtrace.monitor.advice``): each finding proposes remedies with a score from
what is known of the model, and the verdict ranks them (``gradtrace.monitor.rules``).
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import asdict, dataclass, field

import numpy as np

from gradtrace.core.jsontypes import JSONObject
from gradtrace.monitor.advice import Advice
from gradtrace.monitor.checks import (
    Finding,
    Thresholds,
    check_growth,
    check_large,
    check_nonfinite,
    check_notes,
    check_skipped,
    check_spikes,
    check_units,
    check_vanishing,
    module_list,
    name_list,
    no_data_finding,
    shorten,
)
from gradtrace.monitor.records import MlpShape, MonitorRun, norm_matrix, step_totals
from gradtrace.theory.meanfield import MeanField, mean_field

__all__ = [
    "PROBLEMS",
    "STATUSES",
    "Finding",
    "TheoryComparison",
    "Thresholds",
    "Verdict",
    "describe",
    "judge",
]

STATUSES = ("healthy", "vanishing", "exploding", "nonfinite", "no data")

PROBLEMS: dict[str, str] = {
    "nonfinite": "nonfinite",
    "skipped": "nonfinite",  # when persistent
    "large": "exploding",
    "growth": "exploding",
    "spike": "exploding",
    "vanishing": "vanishing",
    "zero": "vanishing",
    "dead": "vanishing",
    "saturated": "vanishing",
}
"""Each problem finding's kind -> the status it implies (worst status first in ``STATUSES``
order: nonfinite, exploding, vanishing)."""


@dataclass(frozen=True)
class TheoryComparison:
    """Mean-field prediction for the MLP's initialization beside the measurement.

    What is measured is ``||dL/dW_l||``, and for one sample ``dL/dW_l = delta_l a_(l-1)^T``, so
    ``||dL/dW_l|| = ||delta_l|| ||a_(l-1)||``: the backward factor times a forward one. Going one
    layer toward the input, ``E|delta|^2`` changes by ``chi_1 = sigma_w2 E[phi'(h)^2]``
    (Schoenholz et al. 2017, Sec. 5, eq. 9), and ``E|a|^2 = E[phi(h)^2]`` with ``h ~ N(0, q_l)``
    follows the length map ``q_l = sigma_w2 E[phi(h_(l-1))^2] + sigma_b2`` (Poole et al. 2016,
    eq. 3). So the predicted factor per layer toward the input is
    ``sqrt(chi_1) * sqrt(E[phi(h_(l-1))^2] / E[phi(h_l)^2])``:

    * where ``q`` sits at a finite fixed point ``q* > 0`` (tanh and sigmoid, and ReLU with bias,
      ``sigma_w2 < 2``), the forward ratio is 1 and the factor is ``sqrt(chi_1)``. For ReLU the
      length map is linear, ``q_l = (sigma_w2 / 2) q_(l-1) + sigma_b2``, so ``q`` reaches
      ``q* = sigma_b2 / (1 - sigma_w2 / 2)`` geometrically, at rate ``sigma_w2 / 2`` per layer;
      before that (the layers nearest the input) the weight-gradient norms stay flat, so the fit
      uses only the half of the hidden weights nearest the output there.
    * ReLU with no fixed point ``q* > 0`` (no bias, or ``sigma_w2 >= 2``): ``q`` changes by
      ``sigma_w2 / 2`` per layer, ``E[relu(h)^2] = q / 2``, so the forward ratio is
      ``sqrt(2 / sigma_w2)`` and the factor is ``sqrt(chi_1) sqrt(2 / sigma_w2) = 1``
      (``chi_1 = sigma_w2 / 2``): weight-gradient norms stay flat whatever the init.

    ``predicted_factor``: that factor; ``basis``: which of the two formulas it is.
    ``measured_factor``: the ratio of consecutive hidden weights' gradient norms going one layer
    toward the input, fitted (least squares on log10) at the first recorded step."""

    mean_field: MeanField
    predicted_factor: float
    measured_factor: float | None
    layers: list[str]  # the weights the fit used, input to output
    step: int
    basis: str = "sqrt(chi_1)"


@dataclass(frozen=True)
class Verdict:
    """``status`` in ``STATUSES``; ``layers`` and ``steps`` implicated by that status;
    ``advice``: ranked fixes (``Advice``, each a ``str`` that also carries its ``remedy`` and
    ``params``); ``findings``: everything found, problems first, worst first; ``theory``: the
    mean-field comparison for a plain MLP, else None; ``thresholds``: those applied.

    ``layers`` holds parameters and modules together, as the findings name them; ``modules``
    maps the names that are modules (a dead ReLU ``"3"``) to their classes, and ``parameters``
    is the rest (see ``Finding``)."""

    status: str
    layers: list[str]
    steps: list[int]
    advice: list[Advice]
    findings: list[Finding] = field(default_factory=list)
    theory: TheoryComparison | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)  # what the verdict applied
    modules: dict[str, str] = field(default_factory=dict)

    @property
    def parameters(self) -> list[str]:
        """The names in ``layers`` that are parameters, not modules."""
        return [n for n in self.layers if n not in self.modules]

    def to_dict(self) -> JSONObject:
        """The verdict as JSON-ready data: status, layers (split into parameters and modules),
        steps, the advice as data (``Advice.to_dict``), the findings and the thresholds applied."""
        return {
            "status": self.status,
            "layers": list(self.layers),
            "parameters": self.parameters,
            "modules": dict(self.modules),
            "steps": list(self.steps),
            "advice": [a.to_dict() for a in self.advice],
            "findings": [asdict(f) | {"parameters": f.parameters} for f in self.findings],
            "thresholds": asdict(self.thresholds),
        }

    def __str__(self) -> str:
        return describe(self)


def _theory(run: MonitorRun, mlp: MlpShape, th: Thresholds) -> TheoryComparison | None:
    hidden = list(mlp.weights[1:-1])  # weights between two hidden layers
    if len(hidden) < th.theory_min_hidden:
        return None
    try:
        mf = mean_field(mlp.activation, mlp.sigma_w2, mlp.sigma_b2)
    except (ValueError, ArithmeticError):
        return None
    names, steps, g = norm_matrix(run.records)
    if not steps:
        return None
    predicted, basis = math.sqrt(mf.chi_1), "sqrt(chi_1)"
    if mf.activation == "relu":
        fixed = mf.q_star is not None and 0 < mf.q_star < math.inf
        if fixed:  # past the transient toward q*: the half nearest the output
            hidden = hidden[len(hidden) // 2 :]
        else:
            # chi_1 = sigma_w2 / 2 for ReLU at any q (phi' is 0 or 1)
            predicted = math.sqrt(mf.sigma_w2 / 2.0) * math.sqrt(2.0 / mf.sigma_w2)
            basis = "sqrt(chi_1) sqrt(2/sigma_w2)"
    row = {n: i for i, n in enumerate(names)}
    pts = [(k, g[row[n], 0]) for k, n in enumerate(hidden) if n in row]
    pts = [(k, v) for k, v in pts if np.isfinite(v) and v > 0]
    measured = None
    if len(pts) >= 2:
        k, v = np.array([p[0] for p in pts], float), np.log10([p[1] for p in pts])
        slope = float(np.polyfit(k, v, 1)[0])  # log10 norm per layer toward the output
        measured = 10.0 ** (-slope)
    return TheoryComparison(mf, predicted, measured, hidden, steps[0], basis)


def judge(run: MonitorRun, thresholds: Thresholds | None = None) -> Verdict:
    """The verdict on ``run`` (the rules: ``gradtrace.monitor.checks``)."""
    from gradtrace.monitor.rules import advise

    th = thresholds or Thresholds()
    records = run.records
    theory = _theory(run, run.mlp, th) if run.mlp is not None and records else None
    if not records:
        return Verdict("no data", [], [], [], [no_data_finding(run), *check_notes(run)], theory, th)
    steps, total = step_totals(records)
    skipped = check_skipped(records, th)
    findings = [
        f
        for f in (
            check_nonfinite(records, run.losses),
            skipped,
            check_large(run, th),
            check_growth(run, steps, total, th),
            check_spikes(run, steps, total, th),
        )
        if f is not None
    ]
    findings += check_vanishing(run, th)
    findings += check_units(run.activations, th, run.context.activations)
    findings += check_notes(run)
    problems = [f for f in findings if f.problem]
    status = "healthy"
    for candidate in ("nonfinite", "exploding", "vanishing"):
        if any(PROBLEMS[f.kind] == candidate for f in problems):
            status = candidate
            break
    mine = [f for f in problems if PROBLEMS[f.kind] == status]
    findings = (
        mine + [f for f in problems if f not in mine] + [f for f in findings if not f.problem]
    )
    layers = list(dict.fromkeys(n for f in mine for n in f.layers))
    modules = {n: c for f in mine for n, c in f.modules.items()}
    at = sorted({s for f in mine for s in f.steps})
    advice = advise(run, status, findings, theory, th)
    return Verdict(status, layers, at, advice, findings, theory, th, modules)


def describe(v: Verdict, width: int = 80) -> str:
    """The verdict as plain text at most ``width`` columns wide: the status, where, the
    findings (problems, then notes) and the ranked advice with each remedy's name."""

    def wrap(text: str, first: str, rest: str) -> list[str]:
        return textwrap.wrap(text, width, initial_indent=first, subsequent_indent=rest) or [
            first.rstrip()
        ]

    lines = [f"gradient verdict: {v.status}"]
    if v.parameters:
        lines += wrap(f"parameters: {name_list(v.parameters)}", "  ", "    ")
    if v.modules:
        lines += wrap(f"modules: {module_list(v.modules)}", "  ", "    ")
    if v.steps:
        lines += wrap(f"steps: {shorten(v.steps)}", "  ", "    ")
    problems = [f for f in v.findings if f.problem]
    notes = [f for f in v.findings if not f.problem]
    if problems:
        lines.append("findings:")
        for f in problems:
            lines += wrap(f"{f.kind}: {f.reason}", "  - ", "    ")
    if v.advice:
        lines.append("advice, most likely fix first:")
        for i, a in enumerate(v.advice, 1):
            params = ", ".join(f"{k}={val}" for k, val in a.params.items())
            lines += wrap(
                f"{a.text} [{a.remedy}{': ' + params if params else ''}]. {a.reason[:1].upper()}{a.reason[1:]}.",
                f"  {i}. ",
                "     ",
            )
    if notes:
        lines.append("also noted:")
        for f in notes:
            lines += wrap(f"{f.kind}: {f.reason}", "  - ", "    ")
    return "\n".join(line.rstrip() for line in lines)
