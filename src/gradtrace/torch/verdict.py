"""The verdict on a monitored run: healthy, vanishing, exploding or non-finite, with the layers,
the steps, the reasons and the fixes. Plain data in, plain data out (no torch here).

``judge(run, thresholds)`` looks for, in order of severity:

1. **non-finite** gradients: any record with ``nonfinite > 0`` or a non-finite norm. It names
   the parameters at the first such step (where the inf/nan appeared) and every such step.
   Under an attached GradScaler, inf/nan in a step the scaler skipped is the scaler doing its
   job: that is a ``"skipped"`` finding, and the run is non-finite only when more than
   ``skipped_fraction`` of the recorded steps were skipped (persistent overflow).
2. **exploding**: the global norm ``G_t = sqrt(sum_p ||g_p||^2)`` growing over the run (the
   median of the last quarter of steps over the median of the first quarter above
   ``growth_factor``), or a **spike** (``G_t`` above ``spike_factor`` times the median of the
   ``spike_window`` steps before it).
3. **vanishing**: a parameter whose ``||g_p||`` is below ``vanishing_ratio`` times the step's
   largest, in at least ``sustained`` of the recorded steps or in each of the first
   ``onset_steps`` (vanishing from the initialization: a net whose deep signal has died may
   then settle where every gradient is tiny, the largest included); and, from the activation records,
   ReLU modules with more than ``dead_fraction`` of their units dead, or sigmoid/tanh modules
   with more than ``saturated_fraction`` of their outputs saturated, sustained likewise (dead and
   saturated units pass back no gradient, so they are vanishing gradients at the unit level).

Where the model is a plain MLP (``MlpShape``) with at least ``theory_min_hidden`` hidden weight
matrices (those between two hidden layers), the verdict also holds the mean-field prediction at
its initialization beside the per-layer factor measured from the weights' gradient norms; see
``TheoryComparison`` for the derivation of what is predicted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from gradtrace.errors import SpecError
from gradtrace.theory.meanfield import MeanField, mean_field
from gradtrace.torch.records import MlpShape, MonitorRun, Record, norm_matrix, step_totals

__all__ = ["STATUSES", "Finding", "TheoryComparison", "Thresholds", "Verdict", "judge"]

STATUSES = ("healthy", "vanishing", "exploding", "nonfinite")


@dataclass(frozen=True)
class Thresholds:
    """When the verdict calls a run vanishing or exploding. Every field can be changed:
    ``GradientMonitor(model, thresholds=Thresholds(vanishing_ratio=1e-6))``."""

    vanishing_ratio: float = 1e-4  # ||g_p|| below this times the step's largest: vanishing there
    sustained: float = 0.5  # ... in at least this fraction of the recorded steps,
    onset_steps: int = 5  # ... or in each of the first onset_steps (vanishing from the init)
    growth_factor: float = 100.0  # median G_t of the last quarter / first quarter above this
    min_growth_steps: int = 8  # fewer recorded steps than this: growth is not judged
    spike_factor: float = 100.0  # G_t above this times the median of the window before it
    spike_window: int = 20  # steps in that window (at least 3 needed)
    dead_fraction: float = 0.5  # a ReLU module with more than this fraction of dead units
    saturated_fraction: float = 0.5  # a sigmoid/tanh module with more than this saturated
    skipped_fraction: float = 0.1  # GradScaler-skipped steps above this fraction: non-finite
    theory_min_hidden: int = 3  # mean-field comparison only from this many hidden weights

    def __post_init__(self) -> None:
        for name in ("vanishing_ratio", "growth_factor", "spike_factor"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
                raise SpecError(f"{name} must be a positive number, got {v!r}", field=name)
        for name in ("sustained", "dead_fraction", "saturated_fraction", "skipped_fraction"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and 0 < v <= 1):
                raise SpecError(f"{name} must be in (0, 1], got {v!r}", field=name)
        if not (isinstance(self.onset_steps, int) and self.onset_steps >= 1):
            raise SpecError(
                f"onset_steps must be a whole number >= 1, got {self.onset_steps!r}",
                field="onset_steps",
            )
        if not (isinstance(self.theory_min_hidden, int) and self.theory_min_hidden >= 2):
            raise SpecError(
                f"theory_min_hidden must be a whole number >= 2, got {self.theory_min_hidden!r}",
                field="theory_min_hidden",
            )
        for name in ("min_growth_steps", "spike_window"):
            v = getattr(self, name)
            if not (isinstance(v, int) and v >= 3):
                raise SpecError(f"{name} must be a whole number >= 3, got {v!r}", field=name)


@dataclass(frozen=True)
class Finding:
    """One thing the verdict found: ``kind`` (``"nonfinite"``, ``"skipped"``, ``"spike"``, ``"growth"``,
    ``"vanishing"``, ``"dead"``, ``"saturated"``), the parameters or modules, the steps, and the
    reason in words."""

    kind: str
    layers: list[str]
    steps: list[int]
    reason: str


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
    ``advice``: fixes, each with its reason; ``findings``: everything found, worst first;
    ``theory``: the mean-field comparison for a plain MLP, else None; ``thresholds``: those
    applied."""

    status: str
    layers: list[str]
    steps: list[int]
    advice: list[str]
    findings: list[Finding] = field(default_factory=list)
    theory: TheoryComparison | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)  # what the verdict applied


# ---- advice: each fix with its reason ------------------------------------------------------------

ADVICE = {
    "nonfinite": [
        "Find where the inf/nan starts: the first parameters named above at the first step listed; check the loss for log(0) or division by zero and the inputs for inf/nan, since one non-finite value in the forward pass spreads to every gradient behind it.",
        "Clip the gradient norm (torch.nn.utils.clip_grad_norm_) and lower the learning rate: non-finite values usually follow a run of growing norms (Pascanu et al. 2013).",
        "Under float16, train with torch.amp.GradScaler: it skips the steps whose gradients overflow instead of writing inf into the weights.",
    ],
    "skipped": [
        "The GradScaler skips most steps: find where the inf/nan starts (the parameters named above at the first step listed); lower the learning rate or clip the gradient norm (torch.nn.utils.clip_grad_norm_ after scaler.unscale_), and check the loss and inputs for inf/nan, since a scaler can only skip steps, not cure an overflow that recurs.",
    ],
    "growth": [
        "Lower the learning rate: norms that grow step after step mean each update overshoots and the next gradient comes back larger.",
        "Clip the gradient norm (torch.nn.utils.clip_grad_norm_): it bounds each update whatever the gradient, which stops the feedback (Pascanu et al. 2013).",
        "Scale the targets (standardize them): the loss gradient is proportional to the residual, so large targets give large gradients.",
        "Add normalization (LayerNorm/BatchNorm): it keeps activations at unit scale, so weight growth does not feed back into the gradients.",
    ],
    "spike": [
        "Clip the gradient norm (torch.nn.utils.clip_grad_norm_): a spike is one oversized update, and clipping bounds it (Pascanu et al. 2013).",
        "Use a learning-rate warm-up or a lower learning rate: spikes cluster where the step is large relative to the curvature.",
    ],
    "vanishing": [
        "Initialization: use He (Kaiming) init for ReLU layers and Xavier (Glorot) init for tanh/sigmoid, which keep the gradient's variance from layer to layer (He et al. 2015; Glorot & Bengio 2010).",
        "Activation: replace sigmoid/tanh with ReLU-family units: sigmoid's derivative is at most 1/4, so every sigmoid layer scales the gradient down by at least 4 unless its weights are large.",
        "Normalization (BatchNorm/LayerNorm): keeps pre-activations near unit scale, where the activation's derivative is large.",
        "Residual connections (a_k = a_(k-1) + f(a_(k-1))): the skip path passes the gradient back unattenuated, whatever f does.",
    ],
    "dead": [
        "Dead ReLUs output 0 for every input and pass back no gradient: lower the learning rate (a large step pushes biases far negative), use LeakyReLU or GELU (non-zero slope for negative inputs), and He init with zero biases.",
    ],
    "saturated": [
        "Saturated sigmoid/tanh units have derivative near 0: standardize the inputs, use Xavier init or smaller weights, or add normalization, so pre-activations stay in the steep middle of the curve.",
    ],
}


ADD_SCALER = ADVICE["nonfinite"][2]  # not given when a GradScaler is attached

PRACTICAL_SIGMA_W2 = 4.0
"""A critical sigma_w2 above this is not advised as an init: weights that large saturate
bounded units, and the nearest critical point is then a change of activation."""


def _critical_advice(t: TheoryComparison) -> str:
    mf = t.mean_field
    crit = mf.sigma_w2_critical
    if crit is not None and crit <= PRACTICAL_SIGMA_W2:
        where = f"choose sigma_w2 = {crit:.3g} (the critical value at sigma_b2 = {mf.sigma_b2:.3g}; weights ~ N(0, sigma_w2 / fan_in)), so that chi_1 = 1 and gradients keep their size at any depth"
    elif crit is not None:
        where = f"the critical sigma_w2 at this sigma_b2 is {crit:.3g}, so large that {mf.activation} units would saturate; use tanh (critical near sigma_w2 = 1.76 at sigma_b2 = 0.05) or ReLU with He init (sigma_w2 = 2), which keep gradients' size at any depth"
    else:
        where = (
            "no sigma_w2 is critical at this sigma_b2; change the activation or the bias variance"
        )
    return f"Mean-field theory puts this initialization in the {mf.phase} phase (chi_1 = {mf.chi_1:.3g}): gradients change by sqrt(chi_1) = {math.sqrt(mf.chi_1):.3g} per layer toward the input; {where} (Schoenholz et al. 2017)."


# ---- the checks ----------------------------------------------------------------------------------


def _is_bad(r: Record) -> bool:
    return r["nonfinite"] > 0 or not (
        math.isfinite(r["grad_norm"]) and math.isfinite(r["grad_max_abs"])
    )


def _nonfinite(records: Sequence[Record]) -> Finding | None:
    """Non-finite gradients outside the steps a GradScaler skipped."""
    bad = [r for r in records if _is_bad(r) and not r.get("skipped")]
    if not bad:
        return None
    steps = sorted({int(r["step"]) for r in bad})
    first = [r["name"] for r in bad if r["step"] == steps[0]]
    count = sum(int(r["nonfinite"]) for r in bad if r["step"] == steps[0])
    reason = (
        f"non-finite gradients at {len(steps)} step(s), first at step {steps[0]} in "
        f"{', '.join(first)} ({count} inf/nan entries there)"
    )
    return Finding("nonfinite", first, steps, reason)


def _skipped(records: Sequence[Record], th: Thresholds) -> tuple[Finding | None, bool]:
    """``(finding, persistent)``: the steps a GradScaler skipped, and whether they are more
    than ``th.skipped_fraction`` of the recorded steps."""
    total = len({int(r["step"]) for r in records})
    steps = sorted({int(r["step"]) for r in records if r.get("skipped")})
    if not steps:
        return None, False
    first = [r["name"] for r in records if r["step"] == steps[0] and _is_bad(r)]
    persistent = len(steps) > th.skipped_fraction * total
    reason = (
        f"the GradScaler skipped {len(steps)} of {total} steps (inf/nan in the scaled gradients"
        + (f", first at step {steps[0]} in {', '.join(first)}" if first else "")
        + "): "
        + (
            f"persistent, more than {th.skipped_fraction:.0%} of the steps"
            if persistent
            else f"normal when rare (at most {th.skipped_fraction:.0%} of the steps)"
        )
    )
    return Finding("skipped", first, steps, reason), persistent


def _growth(steps: list[int], total: np.ndarray, th: Thresholds) -> Finding | None:
    ok = np.isfinite(total) & (total > 0)
    s, g = np.asarray(steps)[ok], total[ok]
    if s.size < th.min_growth_steps:
        return None
    q = max(1, s.size // 4)
    early, late = float(np.median(g[:q])), float(np.median(g[-q:]))
    if late <= th.growth_factor * early:
        return None
    reason = (
        f"the global gradient norm grew {late / early:.3g}x over the run (median {early:.3g} over "
        f"steps {s[0]}-{s[q - 1]}, {late:.3g} over steps {s[-q]}-{s[-1]}; threshold {th.growth_factor:g}x)"
    )
    return Finding("growth", [], [int(x) for x in s[-q:]], reason)


def _spikes(steps: list[int], total: np.ndarray, th: Thresholds) -> Finding | None:
    hits = []
    for j in range(3, len(steps)):
        window = total[max(0, j - th.spike_window) : j]
        window = window[np.isfinite(window)]
        if window.size >= 3 and np.isfinite(total[j]):
            if total[j] > th.spike_factor * float(np.median(window)):
                hits.append(steps[j])
    if not hits:
        return None
    reason = (
        f"the global gradient norm spiked above {th.spike_factor:g}x the median of the "
        f"{th.spike_window} steps before it at step(s) {', '.join(map(str, hits[:10]))}"
        + (" ..." if len(hits) > 10 else "")
    )
    return Finding("spike", [], hits, reason)


def _vanishing(records: Sequence[Record], th: Thresholds) -> Finding | None:
    names, steps, g = norm_matrix(records)
    finite = np.isfinite(g)
    largest = np.where(finite, g, -np.inf).max(axis=0)  # per step; -inf where none is finite
    low = finite & (g < th.vanishing_ratio * largest)
    counted = finite.sum(axis=1)
    onset = min(th.onset_steps, len(steps))
    hit = [
        i
        for i in range(len(names))
        if counted[i] and (low[i].sum() >= th.sustained * counted[i] or low[i, :onset].all())
    ]
    if not hit:
        return None
    at = sorted({steps[j] for i in hit for j in np.flatnonzero(low[i])})
    usable = finite & (largest > 0)  # a step where every gradient is 0 has no ratio
    with np.errstate(invalid="ignore"):  # a parameter with no usable step: nan
        ratio = np.array(
            [
                np.median(g[i, usable[i]] / largest[usable[i]]) if usable[i].any() else np.nan
                for i in hit
            ]
        )
    ratio = np.where(np.isnan(ratio), np.inf, ratio)
    worst = int(np.argmin(ratio))
    reason = (
        f"{len(hit)} of {len(names)} parameters have gradient norms below {th.vanishing_ratio:g} "
        f"of the largest in at least {th.sustained:.0%} of the steps or in the first {onset}: {', '.join(names[i] for i in hit[:6])}"
        + (" ..." if len(hit) > 6 else "")
        + f" (smallest: {names[hit[worst]]}, median ratio {ratio[worst]:.3g})"
    )
    return Finding("vanishing", [names[i] for i in hit], at, reason)


def _units(activations: Sequence[Record], th: Thresholds) -> list[Finding]:
    out = []
    for kind, limit in (("dead", th.dead_fraction), ("saturated", th.saturated_fraction)):
        rows = [a for a in activations if a["kind"] == kind]
        modules = list(dict.fromkeys(a["name"] for a in rows))
        hit, at = [], set()
        for name in modules:
            mine = [a for a in rows if a["name"] == name]
            over = [a for a in mine if a["fraction"] > limit]
            if len(over) >= th.sustained * len(mine):
                hit.append(name)
                at |= {int(a["step"]) for a in over}
        if hit:
            what = (
                "units dead (0 for every sample of the batch)"
                if kind == "dead"
                else "outputs saturated"
            )
            reason = f"more than {limit:.0%} of {what} in {', '.join(hit)}, in at least {th.sustained:.0%} of the steps"
            out.append(Finding(kind, hit, sorted(at), reason))
    return out


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


def _fix(advice: str) -> str:
    """What an advice tells to do, without its reason: the text before the first ``(`` or
    ``:``, lower-cased ("clip the gradient norm")."""
    return advice.split(":")[0].split("(")[0].strip().lower()


def _phase_agrees(t: TheoryComparison, status: str, kinds: set[str]) -> bool:
    """Mean-field init advice only where the init explains the verdict: gradients vanishing in
    the ordered phase (shrinking with depth), or growing over the run in the chaotic phase; not
    for a learning-rate spike, a non-finite or a healthy run."""
    if t.predicted_factor == 1.0 or t.basis != "sqrt(chi_1)":
        return False  # the prediction is flat weight-gradient norms: no init to advise
    if status == "vanishing" and "vanishing" in kinds:
        return t.mean_field.phase == "ordered"
    if status == "exploding" and "growth" in kinds:
        return t.mean_field.phase == "chaotic"
    return False


def judge(run: MonitorRun, thresholds: Thresholds | None = None) -> Verdict:
    """The verdict on ``run`` (see the module's docstring for the rules)."""
    th = thresholds or Thresholds()
    records = run.records
    theory = _theory(run, run.mlp, th) if run.mlp is not None and records else None
    if not records:
        return Verdict("healthy", [], [], [], [], theory, th)
    steps, total = step_totals(records)
    skipped, persistent = _skipped(records, th)
    findings = [
        f
        for f in (
            _nonfinite(records),
            skipped,
            _growth(steps, total, th),
            _spikes(steps, total, th),
            _vanishing(records, th),
        )
        if f is not None
    ]
    findings += _units(run.activations, th)
    kinds = {f.kind for f in findings}
    if "nonfinite" in kinds or persistent:
        status, mine = "nonfinite", {"nonfinite", "skipped"}
    elif kinds & {"growth", "spike"}:
        status, mine = "exploding", {"growth", "spike"}
    elif kinds & {"vanishing", "dead", "saturated"}:
        status, mine = "vanishing", {"vanishing", "dead", "saturated"}
    else:
        status, mine = "healthy", set()
    layers = list(dict.fromkeys(n for f in findings if f.kind in mine for n in f.layers))
    at = sorted({s for f in findings if f.kind in mine for s in f.steps})
    scaled = any("skipped" in r for r in records)  # a GradScaler was attached

    def fixes(f: Finding) -> list[str]:
        if f.kind == "skipped" and not persistent:
            return []  # the scaler doing its job
        if scaled:  # never advise the scaler it already has
            return [a for a in ADVICE[f.kind] if a != ADD_SCALER]
        return ADVICE[f.kind]

    advice: list[str] = []
    given: set[str] = set()
    for own in (True, False):  # the status's own fixes first, then the others found
        for f in findings:
            if own and f.kind not in mine:
                continue
            for a in fixes(f):
                if _fix(a) not in given:  # one wording per fix ("Clip the gradient norm" once)
                    given.add(_fix(a))
                    advice.append(a)
    if theory is not None and _phase_agrees(theory, status, kinds):
        advice.append(_critical_advice(theory))
    return Verdict(status, layers, at, advice, findings, theory, th)
