"""The checks a monitored run's records go through, one function per rule, each returning what it
found (``Finding``); ``judge`` (``gradtrace.monitor.verdict``) turns the findings into a status.

The rules, with the reason for each threshold (every threshold is a ``Thresholds`` field):

1. ``nonfinite``: a record with ``nonfinite > 0`` or a non-finite norm, or a non-finite loss. It
   names the parameters at the first such step: in backprop a non-finite value spreads to every
   gradient computed after it, so the first step's list starts where it arose.
2. ``skipped``: steps a GradScaler skipped because it found inf/nan (the records mark them).
   Dynamic loss scaling starts high and halves the scale at each overflow (Micikevicius et al.
   2018, Sec. 3.2; PyTorch's default: ``init_scale = 2**16``, ``backoff_factor = 0.5``), so a
   run starts with a streak of skipped steps while the scale backs off: up to ``startup_skips``
   (16 halvings bring 2**16 to 1) they are the scaler calibrating. After that streak, skipped
   steps above ``skipped_fraction`` of the steps, or a streak longer than ``startup_skips``, are
   persistent overflow: status nonfinite. Otherwise the finding is informational.
3. ``large`` (absolute): the global gradient norm ``G = sqrt(sum_p ||g_p||^2)`` against the global
   weight norm ``W``, at the steps where the weights were measured (every ``detail_every``-th
   recorded step, the first included). In the healthy runs of the
   failure benchmark ``G / W`` stays below 0.2; ``G / W > large_ratio`` (100) means one SGD step
   at a common rate of 0.01 would move the weights by their own size. Under plain SGD with a
   known learning rate ``lr``, ``lr G / W > step_ratio`` (10) means each step moves the weights
   by ten times their own norm (a first step from a small init may well move them by about
   their norm, so 1 would be too strict). Either, at each of the first ``onset_steps`` or in at least
   ``sustained`` of the steps (or, under plain SGD, at the first step: that one update
   already outgrows the weights), is an explosion already present at the start, which
   comparisons between steps or layers cannot see. It names the parameters whose own ratio is largest.
4. ``growth``: the median of ``G`` over the last quarter of the steps above ``growth_factor``
   (100) times its median over the first quarter (from ``min_growth_steps`` steps): two orders
   of magnitude is far outside the drift of a training run's gradient norm. It names the
   parameters whose own norm grew that much, largest growth first.
5. ``spike``: ``G`` above ``spike_factor`` (100) times the median of the ``spike_window`` (20)
   steps before it, and a jump: above ``sqrt(spike_factor)`` times the step just before (so
   that steady exponential growth is growth, not a spike at every step). It names the
   parameters that spiked at those steps.
6. ``vanishing``: a parameter whose ``||g_p||`` is below ``vanishing_ratio`` (1e-4) times the
   step's largest in at least ``sustained`` (half) of the steps, or at each of the first
   ``onset_steps`` (5), *and still at the end* (the median of its last quarter of steps): under
   SGD it learns at least 10^4 times slower than the fastest parameter. One that was low at the
   start and recovered, its own gradient grown back above the threshold by the end (LayerScale-
   style blocks initialized near 0 that grow), is a ``recovered`` finding, not a failure; one
   whose ratio rose only because every other gradient collapsed to its size is still vanishing.
7. ``zero``: a parameter whose gradient is exactly 0 at every recorded step: no gradient reaches
   it (dead units upstream, a detached path, a branch not used in the loss). Not vanishing: no
   amount of scale fixes it. A bias that feeds straight into a BatchNorm (``RunContext.cancelled``)
   is zero *by design*, since BatchNorm subtracts the batch mean (Ioffe and Szegedy 2015, Sec. 3.2
   note that the bias "can be ignored"): an informational ``by_design`` finding, whether its
   rounding leaves it at exactly 0 or not.
8. ``dead`` / ``saturated``: from the activation records, ReLU modules with more than
   ``dead_fraction`` of their units 0 for every sample of the batch, sigmoid/tanh modules with
   more than ``saturated_fraction`` of their outputs saturated, in at least ``sustained`` of the
   recorded steps and at the end: such units pass back no gradient. These findings name modules
   (``Finding.modules``, with their classes), not parameters.

Informational findings (``Finding.problem`` False) leave the status alone: ``skipped`` (rare),
``recovered``, ``by_design``, ``frozen``, ``unused`` (trainable, no gradient at any step),
``tied``, and ``unseen`` (activations inside ``nn.RNN``/``nn.LSTM``/``nn.GRU``, which the
saturation and dead-unit checks do not see).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from gradtrace.core.errors import SpecError
from gradtrace.monitor.records import MonitorRun, Record, norm_matrix

__all__ = [
    "Finding",
    "Thresholds",
    "check_growth",
    "check_large",
    "check_nonfinite",
    "check_notes",
    "check_skipped",
    "check_spikes",
    "check_units",
    "check_vanishing",
    "module_list",
    "name_list",
    "no_data_finding",
    "shorten",
]


@dataclass(frozen=True)
class Thresholds:
    """When the verdict calls a run vanishing, exploding or non-finite (the module docstring
    gives each rule and the reason for each value). Every field can be changed:
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
    skipped_fraction: float = 0.1  # GradScaler-skipped steps after start-up above this: persistent
    theory_min_hidden: int = 3  # mean-field comparison only from this many hidden weights
    large_ratio: float = 100.0  # G / W above this: too large for the weights, from the start
    step_ratio: float = 10.0  # plain SGD: lr G / W above this: each step outgrows the weights
    startup_skips: int = 16  # a GradScaler's first streak of skips up to this: calibrating

    def __post_init__(self) -> None:
        for name in (
            "vanishing_ratio",
            "growth_factor",
            "spike_factor",
            "large_ratio",
            "step_ratio",
        ):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
                raise SpecError(f"{name} must be a positive number, got {v!r}", field=name)
        for name in ("sustained", "dead_fraction", "saturated_fraction", "skipped_fraction"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and 0 < v <= 1):
                raise SpecError(f"{name} must be in (0, 1], got {v!r}", field=name)
        for name, least in (("onset_steps", 1), ("startup_skips", 0), ("theory_min_hidden", 2)):
            v = getattr(self, name)
            if not (isinstance(v, int) and not isinstance(v, bool) and v >= least):
                raise SpecError(f"{name} must be a whole number >= {least}, got {v!r}", field=name)
        for name in ("min_growth_steps", "spike_window"):
            v = getattr(self, name)
            if not (isinstance(v, int) and v >= 3):
                raise SpecError(f"{name} must be a whole number >= 3, got {v!r}", field=name)


@dataclass(frozen=True)
class Finding:
    """One thing the verdict found: ``kind`` (a key of ``PROBLEMS``, or an informational kind:
    ``"no_data"``, ``"skipped"``, ``"recovered"``, ``"by_design"``, ``"frozen"``, ``"unused"``,
    ``"tied"``, ``"unseen"``), ``layers``, the steps, the reason in words, and ``problem``:
    whether it bears on the status (False: informational).

    ``layers`` holds every name the finding is about. Most are parameters (``"0.weight"``); the
    activation findings (``dead``, ``saturated``) and ``unseen`` name modules instead (``"3"``, an
    ``nn.Sequential`` child). ``modules`` maps each name that is a module to its class
    (``{"3": "ReLU"}``); ``parameters`` is the rest."""

    kind: str
    layers: list[str]
    steps: list[int]
    reason: str
    problem: bool = True
    modules: dict[str, str] = field(default_factory=dict)

    @property
    def parameters(self) -> list[str]:
        """The names in ``layers`` that are parameters, not modules."""
        return [n for n in self.layers if n not in self.modules]


# ---- the checks ----------------------------------------------------------------------------------


def _is_bad(r: Record) -> bool:
    return r["nonfinite"] > 0 or not math.isfinite(r["grad_norm"])


def shorten(steps: Sequence[int], limit: int = 10) -> str:
    """``0, 1, 2 ... 97, 98, 99 (100 steps)``: the first and last few of a long list."""
    steps = list(steps)
    if len(steps) <= limit:
        return ", ".join(map(str, steps))
    half = limit // 2
    head, tail = ", ".join(map(str, steps[:half])), ", ".join(map(str, steps[-half:]))
    return f"{head} ... {tail} ({len(steps)} steps)"


def name_list(names: Sequence[str], limit: int = 6) -> str:
    return ", ".join(names[:limit]) + (
        f" and {len(names) - limit} more" if len(names) > limit else ""
    )


def module_list(modules: dict[str, str], limit: int = 6) -> str:
    """``3 (ReLU), 5 (ReLU)``: module names with their classes."""
    return name_list([f"{n} ({c})" for n, c in modules.items()], limit)


def check_nonfinite(records: Sequence[Record], losses: Sequence[Record]) -> Finding | None:
    """Non-finite gradients outside the steps a GradScaler skipped, or a non-finite loss."""
    bad = [r for r in records if _is_bad(r) and not r.get("skipped")]
    skipped = {int(r["step"]) for r in records if r.get("skipped")}
    bad_loss = sorted(
        int(r["step"])
        for r in losses
        if not math.isfinite(r["loss"]) and int(r["step"]) not in skipped
    )
    if not bad and not bad_loss:
        return None
    steps = sorted({int(r["step"]) for r in bad} | set(bad_loss))
    first = [r["name"] for r in bad if r["step"] == steps[0]]
    parts = [f"non-finite gradients or loss at {len(steps)} step(s), first at step {steps[0]}"]
    if first:
        count = sum(int(r["nonfinite"]) for r in bad if r["step"] == steps[0])
        entries = f"{count} inf/nan entries" if count > len(first) else "inf/nan"
        parts.append(f"in {name_list(first)} ({entries} there)")
    if steps[0] in bad_loss:
        parts.append("the loss itself is not finite there")
    return Finding("nonfinite", first, steps, ", ".join(parts))


def check_skipped(records: Sequence[Record], th: Thresholds) -> Finding | None:
    """The steps a GradScaler skipped (module docstring, rule 2): a problem when persistent."""
    all_steps = sorted({int(r["step"]) for r in records})
    skipped = sorted({int(r["step"]) for r in records if r.get("skipped")})
    if not skipped:
        return None
    streak = 0
    for s in all_steps:
        if s not in skipped:
            break
        streak += 1
    later = all_steps[streak:]
    later_skips = [s for s in skipped if s in set(later)]
    startup = streak <= th.startup_skips
    persistent = (not startup) or (len(later_skips) > th.skipped_fraction * max(len(later), 1))
    first = [r["name"] for r in records if r["step"] == skipped[0] and _is_bad(r)]
    what = f"the GradScaler skipped {len(skipped)} of {len(all_steps)} steps (inf/nan in the scaled gradients"
    what += f", first at step {skipped[0]} in {name_list(first)}" if first else ""
    what += ")"
    if persistent:
        why = (
            f"a streak of {streak} skipped steps from the start, more than the {th.startup_skips} halvings that bring the default scale 2**16 to 1"
            if not startup
            else f"{len(later_skips)} of the {len(later)} steps after start-up skipped, more than {th.skipped_fraction:.0%}"
        )
        return Finding("skipped", first, skipped, f"{what}: persistent overflow, {why}")
    parts = []
    if streak:
        parts.append(f"{streak} at start-up while the scale backed off")
    if later_skips:
        parts.append(f"{len(later_skips)} later, at most {th.skipped_fraction:.0%} of the steps")
    reason = f"{what}: the scaler at work ({'; '.join(parts)})"
    return Finding("skipped", first, skipped, reason, problem=False)


def check_large(run: MonitorRun, th: Thresholds) -> Finding | None:
    """Rule 3: gradients too large for the weights, from the start or sustained."""
    names, steps, g = norm_matrix(run.records)
    _, _, w = norm_matrix(run.records, "weight_norm")
    if not steps:
        return None
    # only the steps where the weights were measured (every detail_every-th recorded step):
    # a weight norm carried over from an earlier step would be stale in a run whose weights grow
    finite = np.isfinite(g)
    known = np.isfinite(w) & (w > 0) & finite
    with np.errstate(all="ignore"):
        G = np.sqrt(np.sum(np.where(finite, g, 0.0) ** 2, axis=0))
        W = np.sqrt(np.sum(np.where(known, w, 0.0) ** 2, axis=0))
        measured = np.isfinite(w).any(axis=0)
        ratio = np.where(finite.any(axis=0) & measured & (W > 0), G / W, np.nan)
    ok = np.isfinite(ratio)
    if not ok.any():
        return None
    ctx = run.context
    limit, why = th.large_ratio, f"above {th.large_ratio:g}"
    sgd = ctx.adaptive is False and ctx.lr is not None and ctx.lr > 0
    if sgd and ctx.lr is not None and th.step_ratio / ctx.lr <= limit:
        limit = th.step_ratio / ctx.lr  # plain SGD: each step moves the weights by lr G
        why = f"so that one step of lr = {ctx.lr:g} moves them by {th.step_ratio:g}x their norm or more"
    high = ok & (ratio > limit)
    onset = min(th.onset_steps, int(ok.sum()))
    first = np.flatnonzero(ok)[:onset]
    sustained = high.sum() >= th.sustained * int(ok.sum())
    # plain SGD: a first update larger than the weights themselves is already the explosion
    # (the exercise's regression chain, part d); adaptive optimizers bound their first step
    sgd_first = sgd and bool(high[first[0]])
    if not (sustained or sgd_first or (first.size and high[first].all())):
        return None
    at = [steps[j] for j in np.flatnonzero(high)]
    # the parameters whose own gradient is largest for their weights at those steps; a weight
    # norm is floored at the root-mean-square one, so a bias near 0 does not top the list
    with np.errstate(all="ignore"):
        floor = W[high] / np.sqrt(np.maximum(known[:, high].sum(axis=0), 1))
        scale = np.maximum(np.where(known[:, high], w[:, high], 0.0), floor)
        own = np.nanmedian(np.where(finite[:, high], g[:, high] / scale, np.nan), axis=1)
    order = [i for i in np.argsort(-np.nan_to_num(own, nan=-np.inf)) if np.isfinite(own[i])]
    named = [names[i] for i in order if own[i] > limit] or [names[i] for i in order[:3]]
    j = int(np.flatnonzero(high)[0])
    reason = (
        f"the global gradient norm is {ratio[j]:.3g}x the global weight norm ({W[j]:.3g}) at step {steps[j]}, {why}, "
        f"at {len(at)} of {int(ok.sum())} steps: largest relative to their weights in {name_list(named)}"
    )
    top = float(np.nanmax(np.where(finite, g, np.nan)))
    if top > 1.8e19:  # sqrt(float32 max): squares overflow float32 (Adam's second moment)
        reason += (
            f"; a norm of {top:.3g} is beyond sqrt(float32 max) = 1.8e19, where squares overflow"
        )
    return Finding("large", named, at, reason)


def check_growth(
    run: MonitorRun, steps: list[int], total: np.ndarray, th: Thresholds
) -> Finding | None:
    ok = np.isfinite(total) & (total > 0)
    s, gt = np.asarray(steps)[ok], total[ok]
    if s.size < th.min_growth_steps:
        return None
    q = max(1, s.size // 4)
    early, late = float(np.median(gt[:q])), float(np.median(gt[-q:]))
    if late <= th.growth_factor * early:
        return None
    names, all_steps, g = norm_matrix(run.records)
    col = {st: j for j, st in enumerate(all_steps)}
    first, last = [col[int(x)] for x in s[:q]], [col[int(x)] for x in s[-q:]]
    with np.errstate(all="ignore"):
        own = np.nanmedian(g[:, last], axis=1) / np.nanmedian(g[:, first], axis=1)
    order = [i for i in np.argsort(-np.nan_to_num(own, nan=-np.inf)) if np.isfinite(own[i])]
    named = [names[i] for i in order if own[i] > th.growth_factor] or [names[i] for i in order[:3]]
    reason = (
        f"the global gradient norm grew {late / early:.3g}x over the run (median {early:.3g} over "
        f"steps {s[0]}-{s[q - 1]}, {late:.3g} over steps {s[-q]}-{s[-1]}; threshold {th.growth_factor:g}x), "
        f"most in {name_list(named)}"
    )
    return Finding("growth", named, [int(x) for x in s[-q:]], reason)


def check_spikes(
    run: MonitorRun, steps: list[int], total: np.ndarray, th: Thresholds
) -> Finding | None:
    hits = []
    for j in range(3, len(steps)):
        window = total[max(0, j - th.spike_window) : j]
        window = window[np.isfinite(window)]
        if window.size >= 3 and np.isfinite(total[j]):
            # a jump, not a step of steady growth: also sqrt(spike_factor) above the step before
            jump = (
                not np.isfinite(total[j - 1])
                or total[j] > math.sqrt(th.spike_factor) * total[j - 1]
            )
            if jump and total[j] > th.spike_factor * float(np.median(window)):
                hits.append(j)
    if not hits:
        return None
    names, _, g = norm_matrix(run.records)
    named: dict[str, float] = {}
    for j in hits:
        with np.errstate(all="ignore"):
            base = np.nanmedian(g[:, max(0, j - th.spike_window) : j], axis=1)
            rise = g[:, j] / base
        for i in np.argsort(-np.nan_to_num(rise, nan=-np.inf))[:3]:
            if np.isfinite(rise[i]) and rise[i] > 1:
                named[names[i]] = max(named.get(names[i], 0.0), float(rise[i]))
    layers = sorted(named, key=lambda n: -named[n])
    at = [steps[j] for j in hits]
    reason = (
        f"the global gradient norm spiked above {th.spike_factor:g}x the median of the "
        f"{th.spike_window} steps before it at step(s) {shorten(at)}"
        + (f", most in {name_list(layers)}" if layers else "")
    )
    return Finding("spike", layers, at, reason)


def check_vanishing(run: MonitorRun, th: Thresholds) -> list[Finding]:
    """Rules 6 and 7: vanishing, recovered, exactly zero, zero by design."""
    names, steps, g = norm_matrix(run.records)
    cancelled = set(run.context.cancelled)
    finite = np.isfinite(g)
    counted = finite.sum(axis=1)
    zero = np.array(
        [counted[i] > 0 and bool(np.all(g[i, finite[i]] == 0)) for i in range(len(names))]
    )
    largest = np.where(finite, g, -np.inf).max(axis=0)  # per step; -inf where none is finite
    low = finite & (g < th.vanishing_ratio * largest)
    onset = min(th.onset_steps, len(steps))
    out: list[Finding] = []
    design = [
        names[i] for i in range(len(names)) if names[i] in cancelled and (zero[i] or low[i].any())
    ]
    if design:
        out.append(
            Finding(
                "by_design",
                design,
                [],
                f"{name_list(design)}: a bias that feeds straight into a BatchNorm, which subtracts the batch mean and so cancels it; its gradient is 0 by design (bias=False saves the parameter)",
                problem=False,
            )
        )
    dead = [names[i] for i in range(len(names)) if zero[i] and names[i] not in cancelled]
    if dead:
        out.append(
            Finding(
                "zero",
                dead,
                list(steps),
                f"{name_list(dead)}: gradient exactly 0 at every recorded step, so no gradient reaches them: dead units upstream, a detached path, or a branch the loss does not use",
            )
        )
    hit, recovered = [], []
    tail = max(1, len(steps) // 4)
    for i in range(len(names)):
        if not counted[i] or zero[i] or names[i] in cancelled:
            continue
        early = low[i, :onset].all() if onset else False
        if not (low[i].sum() >= th.sustained * counted[i] or early):
            continue
        last = [j for j in range(len(steps) - tail, len(steps)) if finite[i, j] and largest[j] > 0]
        ratio_end = float(np.median(g[i, last] / largest[last])) if last else 0.0
        # recovered: back above the threshold at the end *because its own gradient grew*, not
        # because every other gradient collapsed down to it (a deep sigmoid net that settles
        # where all gradients are tiny)
        start = g[i, :onset][finite[i, :onset]]
        grew = bool(last) and start.size > 0 and np.median(g[i, last]) >= np.median(start)
        if len(steps) >= 2 * th.onset_steps and ratio_end >= th.vanishing_ratio and grew:
            recovered.append(i)
        else:
            hit.append(i)
    if recovered:
        at = sorted({steps[j] for i in recovered for j in np.flatnonzero(low[i])})
        rec = [names[i] for i in recovered]
        out.append(
            Finding(
                "recovered",
                rec,
                at,
                f"{name_list(rec)}: gradients below {th.vanishing_ratio:g} of the largest at steps {shorten(at)}, then back above it by the end of the run (as in blocks initialized near 0 that grow)",
                problem=False,
            )
        )
    if hit:
        at = sorted({steps[j] for i in hit for j in np.flatnonzero(low[i])})
        usable = finite & (largest > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.array(
                [
                    np.median(g[i, usable[i]] / largest[usable[i]]) if usable[i].any() else np.inf
                    for i in hit
                ]
            )
        worst = int(np.argmin(ratio))
        w = hit[worst]
        smallest = f"median ratio {ratio[worst]:.3g}"
        if ratio[worst] == 0:  # zero at most steps: say so, a ratio of 0 is not a small gradient
            zeros = int(np.sum(g[w, finite[w]] == 0))
            smallest = f"exactly 0 at {zeros} of {int(counted[w])} recorded steps"
        reason = (
            f"{len(hit)} of {len(names)} parameters have gradient norms below {th.vanishing_ratio:g} "
            f"of the largest in at least {th.sustained:.0%} of the steps or in the first {onset}, and still at the end: "
            f"{name_list([names[i] for i in hit])} (smallest: {names[w]}, {smallest})"
        )
        out.append(Finding("vanishing", [names[i] for i in hit], at, reason))
    return out


def _unit_class(kind: str, present: Sequence[str]) -> str:
    """The class of a module the activation records name: dead units are measured on ``nn.ReLU``
    only, saturation on ``nn.Sigmoid`` and ``nn.Tanh`` (told apart where the model has one of
    the two; ``present`` is ``RunContext.activations``)."""
    if kind == "dead":
        return "ReLU"
    squashing = [c for k, c in (("sigmoid", "Sigmoid"), ("tanh", "Tanh")) if k in present]
    return squashing[0] if len(squashing) == 1 else "Sigmoid or Tanh"


def check_units(
    activations: Sequence[Record], th: Thresholds, present: Sequence[str] = ()
) -> list[Finding]:
    """Rule 8: dead ReLU units and saturated sigmoid/tanh outputs, per module; ``present`` is
    the model's activation kinds (``RunContext.activations``), to name each module's class."""
    out = []
    for kind, limit in (("dead", th.dead_fraction), ("saturated", th.saturated_fraction)):
        rows = [a for a in activations if a["kind"] == kind]
        modules = list(dict.fromkeys(a["name"] for a in rows))
        hit, at = [], set()
        for name in modules:
            mine = sorted((a for a in rows if a["name"] == name), key=lambda a: a["step"])
            over = [a for a in mine if a["fraction"] > limit]
            if len(over) >= th.sustained * len(mine) and mine[-1]["fraction"] > limit:
                hit.append(name)
                at |= {int(a["step"]) for a in over}
        if hit:
            what = (
                "units dead (0 for every sample of the batch)"
                if kind == "dead"
                else "outputs saturated"
            )
            classes = {n: _unit_class(kind, present) for n in hit}
            reason = f"more than {limit:.0%} of {what} in the modules {module_list(classes)}, in at least {th.sustained:.0%} of the steps and at the end"
            out.append(Finding(kind, hit, sorted(at), reason, modules=classes))
    return out


_RECURRENT = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}


def check_notes(run: MonitorRun) -> list[Finding]:
    """Informational findings from the run's context: frozen, unused, tied, unseen."""
    ctx = run.context
    out = []
    if ctx.frozen:
        out.append(
            Finding(
                "frozen",
                list(ctx.frozen),
                [],
                f"{len(ctx.frozen)} parameter(s) frozen (requires_grad=False), not recorded: {name_list(list(ctx.frozen))}",
                problem=False,
            )
        )
    if ctx.unused:
        out.append(
            Finding(
                "unused",
                list(ctx.unused),
                [],
                f"{len(ctx.unused)} trainable parameter(s) got no gradient at any recorded step (not on the loss's path; DistributedDataParallel needs find_unused_parameters=True for them): {name_list(list(ctx.unused))}",
                problem=False,
            )
        )
    if ctx.tied:
        pairs = [f"{a} = {', '.join(b)}" for a, b in ctx.tied.items()]
        out.append(
            Finding(
                "tied",
                list(ctx.tied),
                [],
                f"shared parameters, recorded once under their first name with the gradient summed over their uses: {'; '.join(pairs[:4])}",
                problem=False,
            )
        )
    if ctx.recurrent:
        recurrent = {n: _RECURRENT.get(k, k) for n, k in ctx.recurrent.items()}
        out.append(
            Finding(
                "unseen",
                list(ctx.recurrent),
                [],
                f"the activations inside the modules {module_list(recurrent)} are computed in one kernel, so the dead-unit and saturation checks do not see them; their weights' gradients are recorded",
                problem=False,
                modules=recurrent,
            )
        )
    return out


def no_data_finding(run: MonitorRun) -> Finding:
    ctx = run.context
    if ctx.backward_passes and not ctx.optimizer_steps:
        why = (
            f"{ctx.backward_passes} backward pass(es) reached the model but no optimizer step ran since attach: "
            "a torch.amp.GradScaler that skips every step does not call optimizer.step(); pass it as attach(optimizer, scaler=scaler) to record those steps"
        )
    elif ctx.optimizer_steps:
        why = f"{ctx.optimizer_steps} optimizer step(s) ran, but none of the model's parameters had a gradient at a recorded step (frozen, or not the optimizer's parameters)"
    elif ctx.optimizers:
        why = "the monitor is attached, but no optimizer step and no backward pass reached it yet"
    else:
        why = "the monitor was never attached to an optimizer (attach(optimizer)) and record() was never called"
    return Finding("no_data", [], [], f"nothing was recorded: {why}", problem=False)
