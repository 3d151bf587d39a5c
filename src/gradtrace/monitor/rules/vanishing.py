"""The remedies for gradients that die out: vanishing, exactly zero, dead ReLU units and saturated
sigmoid/tanh units. The judgements behind the scores:

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
from collections.abc import Callable

from gradtrace.monitor.advice import Proposal
from gradtrace.monitor.checks import Finding
from gradtrace.monitor.rules.facts import (
    RunFacts,
    init_proposal,
)

__all__ = ["RULES"]


def _vanishing(r: RunFacts, f: Finding) -> list[Proposal]:
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
        p = init_proposal(r, 0.85, "the gradients shrink layer after layer", f.kind)
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
        p = init_proposal(r, 0.8, "the gradients shrink layer after layer", f.kind)
        if p:
            out.append(p)
    elif "tanh" in r.acts:
        p = init_proposal(r, 0.7, "the gradients shrink layer after layer", f.kind)
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
    p = init_proposal(r, 0.4, "the gradients shrink layer after layer", f.kind)
    if p:
        out.append(p)
    return out


def _zero(r: RunFacts, f: Finding) -> list[Proposal]:
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


def _dead(r: RunFacts, f: Finding) -> list[Proposal]:
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
            f"the ReLU modules {dead} are dead from the first step, so the initialization put their inputs below 0 for every sample; zero biases and He init start every unit active on about half the inputs (He et al. 2015)"
            if at_start
            else "units die when their biases are far negative for the inputs they see; zero biases start every unit active on about half the inputs",
            {"scheme": "he"},
            f.kind,
        ),
        Proposal(
            "activation",
            0.7,
            "Replace ReLU with LeakyReLU (negative slope 0.01)",
            f"dead ReLUs (the modules {dead}) output 0 for every input and pass back no gradient, so they cannot recover; LeakyReLU never outputs exactly 0 (Maas et al. 2013)",
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


def _saturated(r: RunFacts, f: Finding) -> list[Proposal]:
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
    p = init_proposal(r, 0.6, "saturated sigmoid/tanh units have derivative near 0", f.kind)
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


RULES: dict[str, Callable[[RunFacts, Finding], list[Proposal]]] = {
    "vanishing": _vanishing,
    "zero": _zero,
    "dead": _dead,
    "saturated": _saturated,
}
"""Each finding kind of this family -> its rule."""
