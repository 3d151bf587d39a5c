"""Advice as data: the remedies a verdict can give, each with machine-readable parameters, its
sentence and its reason, ranked by how likely it is to fix this run (no torch here).

**The vocabulary** (``REMEDIES``). Each ``Advice`` has a ``remedy`` from this list and
``params`` whose keys the list names; ``gradtrace.monitor.failures.apply_remedy`` applies each one
literally, which is how the failure benchmark checks that the first advice fixes its case.

============== ================================ ===============================================
remedy         params                           what it means
============== ================================ ===============================================
init           scheme, sigma_w2, sigma_b2       re-initialize the weights: ``"he"``
                                                (N(0, 2/fan_in)), ``"xavier"`` (Glorot),
                                                ``"orthogonal"``, or ``"critical"`` (N(0,
                                                sigma_w2/fan_in), the mean-field critical
                                                point); biases N(0, sigma_b2), 0 by default;
                                                recurrent weights orthogonal
lower_lr       factor, lr                       multiply the learning rate by ``factor``
                                                (``lr``: the new value, where the old is known)
clip           max_norm                         clip the global gradient norm to ``max_norm``
                                                before each step (``clip_grad_norm_``)
normalize      where (``"inputs"``/``"hidden"``) standardize the inputs, or add LayerNorm after
                                                each hidden linear layer
residual       (none)                           add skip connections around the blocks
activation     to, init                         replace the activation modules by ``to``
                                                (``"relu"``, ``"leaky_relu"``), re-initialized
                                                with ``init`` when given
warmup         steps                            raise the learning rate linearly from 0 over
                                                the first ``steps`` steps
scale_targets  how (``"standardize"``)          regress on (y - mean) / std and map back
loss_scale     dtype, how                       ``how="GradScaler"``: mixed precision with
                                                fp32 weights and dynamic loss scaling;
                                                ``dtype="bfloat16"``: bf16 autocast (float32's
                                                range, no scaler needed)
check_inputs   step                             find and drop the non-finite inputs or loss
                                                terms that first appear at ``step``
gated          cell (``"lstm"``/``"gru"``)        replace a plain RNN by a gated one
check_graph    (none)                           a gradient exactly 0 at every step: find the
                                                detached or unused path
============== ================================ ===============================================

**The ranking.** Each finding proposes remedies with a score, the rule's estimate of how likely
the remedy is to fix a run with that finding, given what the monitor knows of the model
(``RunContext``) and of the run. The scores are ordinal (only their order matters); they were set
from the mechanisms cited in each rule and checked against the failure benchmark
(docs/monitor.md). Remedies the model already has are never proposed: no ``activation: relu``
for a network that is all ReLU, no ``normalize: hidden`` where it has normalization layers, no
``residual`` where it has residual blocks, no ``GradScaler`` where one is attached. Findings of
the verdict's own status come first; a remedy proposed by several findings appears once, with its
best score.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from gradtrace.core.jsontypes import JSON, JSONObject

__all__ = ["REMEDIES", "Advice", "Proposal", "rank"]

REMEDIES: dict[str, tuple[str, ...]] = {
    "init": ("scheme", "sigma_w2", "sigma_b2"),
    "lower_lr": ("factor", "lr"),
    "clip": ("max_norm",),
    "normalize": ("where",),
    "residual": (),
    "activation": ("to", "init"),
    "warmup": ("steps",),
    "scale_targets": ("how",),
    "loss_scale": ("dtype", "how"),
    "check_inputs": ("step",),
    "gated": ("cell",),
    "check_graph": (),
}
"""Each remedy and the keys its ``params`` may hold (see the module docstring)."""


class Advice(str):
    """One piece of advice. As a ``str`` it is the sentence a reader sees (the fix, then its
    reason), as ``Verdict.advice`` always was; it also carries the data:

    - ``remedy``: a word of ``REMEDIES``; ``params``: its parameters (plain JSON values);
    - ``text``: what to do; ``reason``: why, for this run;
    - ``finding``: the kind of the finding it answers; ``score``: its rank's basis (higher first).
    """

    remedy: str
    params: dict[str, JSON]
    text: str
    reason: str
    finding: str
    score: float

    def __new__(
        cls,
        remedy: str,
        text: str,
        reason: str,
        params: Mapping[str, JSON] | None = None,
        *,
        finding: str = "",
        score: float = 0.0,
    ) -> Advice:
        if remedy not in REMEDIES:
            raise ValueError(f"unknown remedy {remedy!r}; expected one of {', '.join(REMEDIES)}")
        params = dict(params or {})
        unknown = set(params) - set(REMEDIES[remedy])
        if unknown:
            raise ValueError(f"remedy {remedy!r} takes no parameter {sorted(unknown)[0]!r}")
        self = super().__new__(cls, f"{text}: {reason}")
        self.remedy, self.params, self.text, self.reason = remedy, params, text, reason
        self.finding, self.score = finding, score
        return self

    def __reduce__(  # pickling keeps the data (str would drop it)
        self,
    ) -> tuple[Callable[[Mapping[str, JSON]], Advice], tuple[JSONObject]]:
        return (_advice, (self.to_dict(),))

    def to_dict(self) -> JSONObject:
        """``{"remedy", "params", "text", "reason", "finding", "score"}``, JSON-ready."""
        return {
            "remedy": self.remedy,
            "params": self.params,
            "text": self.text,
            "reason": self.reason,
            "finding": self.finding,
            "score": self.score,
        }


def _advice(d: Mapping[str, JSON]) -> Advice:
    """The inverse of ``Advice.to_dict`` (unpickling)."""
    remedy, text, reason, params = d["remedy"], d["text"], d["reason"], d["params"]
    finding, score = d["finding"], d["score"]
    if not (
        isinstance(remedy, str)
        and isinstance(text, str)
        and isinstance(reason, str)
        and isinstance(params, Mapping)
        and isinstance(finding, str)
        and isinstance(score, int | float)
    ):
        raise ValueError(f"not an Advice's data: {d!r}")
    return Advice(remedy, text, reason, params, finding=finding, score=float(score))


@dataclass(frozen=True)
class Proposal:
    """A remedy a rule proposes, before ranking: ``score`` in (0, 1]."""

    remedy: str
    score: float
    text: str
    reason: str
    params: Mapping[str, JSON]
    finding: str


def rank(proposals: Iterable[Proposal], own: set[str], has: Mapping[str, bool]) -> list[Advice]:
    """The proposals as ranked ``Advice``: those answering a finding of the status's own kinds
    (``own``) first, then by score; each remedy once (its best proposal); without the
    remedies that ``has`` says the model already has (keys as ``already_has`` returns)."""
    best: dict[tuple[str, str], Proposal] = {}
    for p in proposals:
        if already_has(p, has):
            continue
        key = (p.remedy, _variant(p))
        old = best.get(key)
        if old is None or _order(p, own) < _order(old, own):
            best[key] = p
    chosen = sorted(best.values(), key=lambda p: _order(p, own))
    out: list[Advice] = []
    seen: set[str] = set()
    for p in chosen:
        if p.remedy in seen and p.remedy not in ("normalize", "loss_scale"):
            continue  # one init, one lr change, ...: the best-ranked variant
        seen.add(p.remedy)
        out.append(Advice(p.remedy, p.text, p.reason, p.params, finding=p.finding, score=p.score))
    return out


def _order(p: Proposal, own: set[str]) -> tuple[int, float]:
    return (0 if p.finding in own else 1, -p.score)


def _variant(p: Proposal) -> str:
    """Distinct variants of one remedy that may both be advised (inputs and hidden
    normalization; a GradScaler and bf16)."""
    return str(p.params.get("where") or p.params.get("dtype") or p.params.get("how") or "")


def already_has(p: Proposal, has: Mapping[str, bool]) -> bool:
    """Whether the model or the loop already has what ``p`` proposes (never advise it)."""
    if p.remedy == "activation":
        return bool(has.get(f"only_{p.params.get('to')}"))
    if p.remedy == "normalize" and p.params.get("where") == "hidden":
        return bool(has.get("norms"))
    if p.remedy == "residual":
        return bool(has.get("residual"))
    if p.remedy == "loss_scale" and p.params.get("how") == "GradScaler":
        return bool(has.get("scaler"))
    if p.remedy == "gated":
        return not has.get("plain_rnn")
    return False


def round_down(x: float) -> float:
    """``x`` rounded down to 1, 2 or 5 times a power of ten (a clipping threshold or a learning
    rate a person would write)."""
    if not (math.isfinite(x) and x > 0):
        return 1.0
    e = math.floor(math.log10(x))
    m = x / 10**e
    m = 5.0 if m >= 5 else 2.0 if m >= 2 else 1.0
    return float(f"{m * 10**e:.3g}")
