"""The remedies for gradients that blow up: non-finite values, a GradScaler that keeps skipping,
gradients too large from the start, growing, or spiking. The judgements behind the scores:

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
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from gradtrace.monitor.advice import Proposal
from gradtrace.monitor.checks import Finding
from gradtrace.monitor.rules.facts import LARGE_LOSS, WARMUP_SHARE, RunFacts, init_proposal

__all__ = ["RULES"]


def _nonfinite(r: RunFacts, f: Finding) -> list[Proposal]:
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


def _skipped(r: RunFacts, f: Finding) -> list[Proposal]:
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


def _large(r: RunFacts, f: Finding) -> list[Proposal]:
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
        p = init_proposal(r, 0.95, "the weights are too large", f.kind)
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
    p = init_proposal(
        r, 0.5, "large gradients from the first step often come from large initial weights", f.kind
    )
    if p:
        out.append(p)
    return out


def _growth(r: RunFacts, f: Finding) -> list[Proposal]:
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


def _spike(r: RunFacts, f: Finding) -> list[Proposal]:
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


RULES: dict[str, Callable[[RunFacts, Finding], list[Proposal]]] = {
    "nonfinite": _nonfinite,
    "skipped": _skipped,
    "large": _large,
    "growth": _growth,
    "spike": _spike,
}
"""Each finding kind of this family -> its rule."""
