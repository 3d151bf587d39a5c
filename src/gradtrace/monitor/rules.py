"""From findings to ranked advice (no torch here).

``advise`` asks each problem finding for the remedies that answer it (``Proposal``s, with the
reason for this run and a score: how likely the remedy is to fix a run with that finding, given
the model and the run), then ranks them with ``gradtrace.monitor.advice.rank``. The scores encode
these judgements, each from the mechanism it names:

* **non-finite**: a float16 model without loss scaling first gets mixed precision (float16
  overflows above 65504; Micikevicius et al. 2018); inf/nan that follow a rise of the gradient
  norm are a divergence (lower the learning rate, clip); inf/nan that appear suddenly, with
  finite gradients just before, come from the data or the loss (find and drop them).
* **persistent GradScaler skips**: bfloat16 has float32's exponent range, so it cannot overflow
  where float32 does not; then a lower learning rate or clipping.
* **large from the start**: a large loss (median above ``LARGE_LOSS``) means large residuals:
  standardize the targets (the gradient of a squared error is proportional to the residual); a
  plain RNN explodes through its recurrent weights: clip (Pascanu et al. 2013); a plain MLP in
  the chaotic mean-field phase: re-initialize at the critical point; plain SGD whose steps
  outgrow the weights: lower the rate by the factor that brings ``lr G / W`` below
  ``step_ratio``.
* **growth**: lower the learning rate (each update overshoots), clip at the norm the run had
  before it grew.
* **spike**: clip at the run's typical norm; spikes in the first ``WARMUP_SHARE`` of the run: a
  warm-up.
* **vanishing**: a plain RNN: a gated cell; a plain MLP of tanh in the ordered phase: the
  critical init; ReLU nets: He init (He et al. 2015); sigmoid nets: ReLU with He init (the
  sigmoid's derivative is at most 1/4); then residual connections and normalization.
* **zero**: find the detached or unused path. **dead** ReLUs: dead from the first step, the
  init (zero biases, He); dying during training, a lower learning rate (large updates push
  biases far negative), then LeakyReLU, which never outputs exactly 0, so the unit keeps a
  gradient (Maas et al. 2013). **saturated**: where the first
  activation layer saturates, standardize the inputs; else Xavier init or normalization.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from gradtrace.monitor.advice import Advice, Proposal, rank, round_down
from gradtrace.monitor.records import MonitorRun, step_totals

if TYPE_CHECKING:
    from gradtrace.monitor.verdict import Finding, TheoryComparison, Thresholds

__all__ = ["LARGE_LOSS", "PRACTICAL_SIGMA_W2", "WARMUP_SHARE", "advise"]

LARGE_LOSS = 100.0
"""A first recorded loss above this is a large loss for the remedies: with a squared error it
means residuals of 10 or more, i.e. targets far from unit scale (one SGD step can bring it
down at once by moving the output bias, so it is the first loss that tells)."""

WARMUP_SHARE = 0.2
"""Spikes within this share of the first recorded steps call for a learning-rate warm-up."""

PRACTICAL_SIGMA_W2 = 4.0
"""A critical sigma_w2 above this is not advised as an init: weights that large saturate
bounded units, and the nearest critical point is then a change of activation."""


def _init_for(acts: set[str]) -> str:
    """He for ReLU-family nets, Xavier for bounded activations."""
    return "he" if acts & {"relu", "leaky_relu", "gelu", "silu", "elu"} or not acts else "xavier"


class _Run:
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

    def lr_text(self, factor: float) -> tuple[str, dict[str, Any]]:
        lr = self.ctx.lr
        if lr:
            new = float(f"{lr * factor:.3g}")
            return f"Lower the learning rate from {lr:g} to {new:g}", {"factor": factor, "lr": new}
        return f"Lower the learning rate by a factor of {1 / factor:g}", {"factor": factor}


def _nonfinite(r: _Run, f: Finding) -> list[Proposal]:
    out = []
    dtypes = set(r.ctx.param_dtypes)
    if "float16" in dtypes and not r.has()["scaler"]:
        out.append(
            Proposal(
                "loss_scale",
                0.9,
                "Train in mixed precision: float32 weights, torch.autocast(dtype=torch.float16) and a torch.amp.GradScaler",
                "the weights are float16, which overflows above 65504: the scaler skips the steps that overflow and keeps the updates in float32 (Micikevicius et al. 2018)",
                {"how": "GradScaler"},
                f.kind,
            )
        )
    first = f.steps[0]
    ok = np.isfinite(r.total) & (np.asarray(r.steps) < first)
    before = r.total[ok]
    rising = before.size >= 2 and before[-1] > 10 * float(
        np.median(before[: max(1, before.size // 2)])
    )
    if rising:
        text, params = r.lr_text(0.1)
        out += [
            Proposal(
                "lower_lr",
                0.85,
                text,
                f"the gradient norm rose {before[-1] / float(np.median(before[: max(1, before.size // 2)])):.3g}x before inf/nan appeared at step {first}: the run diverged",
                params,
                f.kind,
            ),
            Proposal(
                "clip",
                0.7,
                f"Clip the global gradient norm at {r.typical_norm(first):g} (torch.nn.utils.clip_grad_norm_ before optimizer.step())",
                "it bounds each update whatever the gradient, which stops the divergence (Pascanu et al. 2013)",
                {"max_norm": r.typical_norm(first)},
                f.kind,
            ),
        ]
    else:
        where = f" in {', '.join(f.layers[:3])}" if f.layers else ""
        out += [
            Proposal(
                "check_inputs",
                0.85,
                f"Find where the inf/nan starts: step {first}{where}; check that batch and the loss (log(0), division by zero), and drop non-finite samples",
                "the gradients were finite just before, so the inf/nan came with the data or the loss, and one non-finite value spreads to every gradient behind it",
                {"step": first},
                f.kind,
            ),
            Proposal(
                "clip",
                0.3,
                f"Clip the global gradient norm at {r.typical_norm(first):g} (torch.nn.utils.clip_grad_norm_)",
                "it bounds large but finite gradients; it cannot repair inf/nan",
                {"max_norm": r.typical_norm(first)},
                f.kind,
            ),
        ]
    return out


def _skipped(r: _Run, f: Finding) -> list[Proposal]:
    text, params = r.lr_text(0.1)
    return [
        Proposal(
            "loss_scale",
            0.8,
            "Use bfloat16 instead of float16 (torch.autocast(dtype=torch.bfloat16), no scaler)",
            "the GradScaler keeps skipping steps, so the gradients overflow float16 even at a small scale; bfloat16 has float32's exponent range",
            {"dtype": "bfloat16"},
            f.kind,
        ),
        Proposal(
            "lower_lr",
            0.5,
            text,
            "overflow that recurs after the scaler backed off often follows a diverging run",
            params,
            f.kind,
        ),
        Proposal(
            "clip",
            0.45,
            f"Clip the global gradient norm at {r.typical_norm():g} (after scaler.unscale_(optimizer))",
            "it bounds the updates that feed the overflow (Pascanu et al. 2013)",
            {"max_norm": r.typical_norm()},
            f.kind,
        ),
    ]


def _init_proposal(r: _Run, score: float, why: str, kind: str) -> Proposal | None:
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
    scheme = _init_for(r.acts)
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


def _large(r: _Run, f: Finding) -> list[Proposal]:
    out: list[Proposal] = []
    if r.loss is not None and r.loss > LARGE_LOSS:
        out.append(
            Proposal(
                "scale_targets",
                0.9,
                "Standardize the targets: fit (y - mean) / std and map the predictions back",
                f"the loss starts at {r.loss:.3g}: residuals that large make every gradient large, since a squared error's gradient is proportional to the residual",
                {"how": "standardize"},
                f.kind,
            )
        )
    # structural causes (a plain RNN's recurrence, a chaotic init) rank above a large loss,
    # which they also produce
    if r.plain_rnn:
        rnn = ", ".join(r.plain_rnn)
        out += [
            Proposal(
                "init",
                0.95,
                f"Initialize the recurrent weights of {rnn} orthogonally (torch.nn.init.orthogonal_)",
                "a plain RNN multiplies the gradient by its recurrent weights at every time step, so recurrent weights with singular values above 1 make it explode over the sequence; orthogonal ones have every singular value at 1 (Saxe et al. 2014; Le et al. 2015 start from the identity)",
                {"scheme": "orthogonal"},
                f.kind,
            ),
            Proposal(
                "clip",
                0.7,
                "Clip the global gradient norm at 1 (torch.nn.utils.clip_grad_norm_ before optimizer.step())",
                f"the gradient of {rnn} explodes through time; clipping bounds each update (Pascanu et al. 2013)",
                {"max_norm": 1.0},
                f.kind,
            ),
        ]
    t = r.theory
    if t is not None and t.mean_field.phase == "chaotic":
        p = _init_proposal(r, 0.95, "the weights are too large", f.kind)
        if p:
            out.append(p)
    if r.ctx.adaptive is False and r.ctx.lr:
        text, params = r.lr_text(0.1)
        out.append(
            Proposal(
                "lower_lr",
                0.6,
                text,
                "plain SGD moves the weights by lr times the gradient, and these steps are as large as the weights themselves",
                params,
                f.kind,
            )
        )
    out.append(
        Proposal(
            "clip",
            0.7,
            "Clip the global gradient norm at 1 (torch.nn.utils.clip_grad_norm_ before optimizer.step())",
            "the gradient is far larger than the weights from the first step; clipping bounds every update (Pascanu et al. 2013)",
            {"max_norm": 1.0},
            f.kind,
        )
    )
    p = _init_proposal(
        r, 0.5, "large gradients from the first step often come from large initial weights", f.kind
    )
    if p:
        out.append(p)
    return out


def _growth(r: _Run, f: Finding) -> list[Proposal]:
    text, params = r.lr_text(0.1)
    early = r.typical_norm(f.steps[0]) if f.steps else r.typical_norm()
    spike = r.found.get("spike")
    # a spike before the growth window: one oversized update started it, so clipping comes first
    after_spike = spike is not None and bool(f.steps) and spike.steps[0] < f.steps[0]
    out = [
        Proposal(
            "lower_lr",
            0.6 if after_spike else 0.85,
            text,
            "the gradient norm grows step after step: each update overshoots and the next gradient comes back larger",
            params,
            f.kind,
        ),
        Proposal(
            "clip",
            0.7,
            f"Clip the global gradient norm at {early:g}, its size before the growth (torch.nn.utils.clip_grad_norm_)",
            "it bounds each update whatever the gradient, which stops the feedback (Pascanu et al. 2013)",
            {"max_norm": early},
            f.kind,
        ),
    ]
    if r.loss is not None and r.loss > LARGE_LOSS:
        out.append(
            Proposal(
                "scale_targets",
                0.65,
                "Standardize the targets: fit (y - mean) / std and map the predictions back",
                f"the loss starts at {r.loss:.3g}, so the residuals and with them the gradients are large",
                {"how": "standardize"},
                f.kind,
            )
        )
    out.append(
        Proposal(
            "normalize",
            0.3,
            "Add LayerNorm after each hidden linear layer",
            "it keeps activations at unit scale, so weight growth does not feed back into the gradients",
            {"where": "hidden"},
            f.kind,
        )
    )
    return out


def _spike(r: _Run, f: Finding) -> list[Proposal]:
    norm = r.typical_norm()
    out = [
        Proposal(
            "clip",
            0.85,
            f"Clip the global gradient norm at {norm:g}, the run's typical norm (torch.nn.utils.clip_grad_norm_ before optimizer.step())",
            "a spike is one oversized update; clipping bounds it and leaves ordinary steps alone (Pascanu et al. 2013)",
            {"max_norm": norm},
            f.kind,
        )
    ]
    n = len(r.steps)
    if f.steps and n and r.steps.index(f.steps[0]) < max(WARMUP_SHARE * n, 1):
        steps = max(10, 2 * (r.steps.index(f.steps[0]) + 1))
        out.append(
            Proposal(
                "warmup",
                0.6,
                f"Warm the learning rate up linearly over the first {steps} steps",
                "the spikes come early, while the optimizer's statistics are still settling and the step is large for the curvature",
                {"steps": steps},
                f.kind,
            )
        )
    text, params = r.lr_text(0.3)
    out.append(
        Proposal(
            "lower_lr",
            0.45,
            text,
            "spikes cluster where the step is large relative to the curvature",
            params,
            f.kind,
        )
    )
    return out


def _vanishing(r: _Run, f: Finding) -> list[Proposal]:
    out: list[Proposal] = []
    if r.plain_rnn:
        out.append(
            Proposal(
                "gated",
                0.8,
                f"Replace the plain RNN ({', '.join(r.plain_rnn)}) by an LSTM",
                "a plain RNN multiplies the gradient by its recurrent Jacobian at every time step, so it dies over long sequences; the LSTM's additive cell state carries it (Hochreiter and Schmidhuber 1997)",
                {"cell": "lstm"},
                f.kind,
            )
        )
    t = r.theory
    if t is not None and t.mean_field.phase == "ordered" and t.mean_field.activation == "tanh":
        p = _init_proposal(r, 0.85, "the gradients shrink layer after layer", f.kind)
        if p:
            out.append(p)
    if "sigmoid" in r.acts:
        why = "the sigmoid's derivative is at most 1/4, so every sigmoid layer scales the gradient down by at least 4 unless its weights are large; ReLU's is 1 where it is active, and He init keeps the variance (He et al. 2015)"
        if t is not None and t.mean_field.activation == "sigmoid":
            mf = t.mean_field
            crit = mf.sigma_w2_critical
            why += (
                f"; mean-field theory puts this init in the {mf.phase} phase (chi_1 = {mf.chi_1:.3g}, gradients change by {math.sqrt(mf.chi_1):.3g} per layer), and "
                + (
                    f"the critical sigma_w2 = {crit:.3g} is so large that sigmoid units would saturate (Schoenholz et al. 2017)"
                    if crit is not None
                    else "no sigma_w2 is critical for sigmoid at this bias variance (Schoenholz et al. 2017)"
                )
            )
        out.append(
            Proposal(
                "activation",
                0.8,
                "Replace the sigmoids with ReLU and re-initialize with He init (W ~ N(0, 2/fan_in))",
                why,
                {"to": "relu", "init": "he"},
                f.kind,
            )
        )
    if r.acts and r.acts <= {"relu", "leaky_relu"}:
        p = _init_proposal(r, 0.8, "the gradients shrink layer after layer", f.kind)
        if p:
            out.append(p)
    elif "tanh" in r.acts:
        p = _init_proposal(r, 0.7, "the gradients shrink layer after layer", f.kind)
        if p:
            out.append(p)
    out.append(
        Proposal(
            "residual",
            0.55,
            "Add residual connections (a_k = a_(k-1) + f(a_(k-1)))",
            "the skip path passes the gradient back unattenuated, whatever each block does (He et al. 2016)",
            {},
            f.kind,
        )
    )
    out.append(
        Proposal(
            "normalize",
            0.5,
            "Add LayerNorm after each hidden linear layer",
            "it keeps pre-activations near unit scale, where the activation's derivative is large",
            {"where": "hidden"},
            f.kind,
        )
    )
    p = _init_proposal(r, 0.4, "the gradients shrink layer after layer", f.kind)
    if p:
        out.append(p)
    return out


def _zero(r: _Run, f: Finding) -> list[Proposal]:
    # dead units explain the zeros: their own remedies come first
    score = 0.3 if "dead" in r.found else 0.9
    return [
        Proposal(
            "check_graph",
            score,
            f"Find why no gradient reaches {', '.join(f.layers[:3])}: a .detach(), a torch.no_grad block, an output the loss does not use, or dead units in front",
            "a gradient that is exactly 0 at every step is not small but absent: no scale or init brings it back",
            {},
            f.kind,
        )
    ]


def _dead(r: _Run, f: Finding) -> list[Proposal]:
    text, params = r.lr_text(0.1)
    limit = r.th.dead_fraction
    first = {a["name"]: a["fraction"] for a in sorted(r.run.activations, key=lambda a: -a["step"])}
    # dead from the first recorded step: the initialization killed them; dying later: updates did
    at_start = any(first.get(n, 0.0) > limit for n in f.layers)
    dead = ", ".join(f.layers[:3])
    return [
        Proposal(
            "init",
            0.9 if at_start else 0.5,
            "Re-initialize with He init and zero biases",
            f"the ReLUs in {dead} are dead from the first step, so the initialization put their inputs below 0 for every sample; zero biases and He init start every unit active on about half the inputs (He et al. 2015)"
            if at_start
            else "units die when their biases are far negative for the inputs they see; zero biases start every unit active on about half the inputs",
            {"scheme": "he"},
            f.kind,
        ),
        Proposal(
            "activation",
            0.7,
            "Replace ReLU with LeakyReLU (negative slope 0.01)",
            f"dead ReLUs ({dead}) output 0 for every input and pass back no gradient, so they cannot recover; LeakyReLU never outputs exactly 0 (Maas et al. 2013)",
            {"to": "leaky_relu"},
            f.kind,
        ),
        Proposal(
            "lower_lr",
            0.85 if not at_start else 0.4,
            text,
            "the units died during training: one large update can push a unit's bias far negative, after which it never activates again"
            if not at_start
            else "one large update can push a unit's bias far negative, after which it never activates again",
            params,
            f.kind,
        ),
    ]


def _saturated(r: _Run, f: Finding) -> list[Proposal]:
    out = []
    first = r.run.activations[0]["name"] if r.run.activations else None
    if first is not None and first in f.layers:
        out.append(
            Proposal(
                "normalize",
                0.85,
                "Standardize the inputs (zero mean, unit variance per feature)",
                f"the first activation layer ({first}) is saturated already, so the inputs are too large for it",
                {"where": "inputs"},
                f.kind,
            )
        )
    p = _init_proposal(r, 0.6, "saturated sigmoid/tanh units have derivative near 0", f.kind)
    if p:
        out.append(p)
    out.append(
        Proposal(
            "normalize",
            0.5,
            "Add LayerNorm after each hidden linear layer",
            "it keeps pre-activations in the steep middle of the curve",
            {"where": "hidden"},
            f.kind,
        )
    )
    return out


_RULES = {
    "nonfinite": _nonfinite,
    "skipped": _skipped,
    "large": _large,
    "growth": _growth,
    "spike": _spike,
    "vanishing": _vanishing,
    "zero": _zero,
    "dead": _dead,
    "saturated": _saturated,
}


def advise(
    run: MonitorRun,
    status: str,
    findings: Sequence[Finding],
    theory: TheoryComparison | None,
    th: Thresholds,
) -> list[Advice]:
    """The ranked advice for ``findings`` (see the module docstring)."""
    from gradtrace.monitor.verdict import PROBLEMS

    r = _Run(run, theory, th, findings)
    proposals = [p for f in findings if f.problem for p in _RULES[f.kind](r, f)]
    own = {k for k, s in PROBLEMS.items() if s == status}
    return rank(proposals, own, r.has())
