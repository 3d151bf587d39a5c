"""The monitor report's document: the verdict with its reasons and fixes, the mean-field
comparison, the figures, and per-parameter and per-module tables, all built from a
``MonitorRun`` and its ``Verdict`` (figures come in as PNG bytes)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from gradtrace.monitor.advice import Advice
from gradtrace.monitor.checks import module_list, name_list
from gradtrace.monitor.records import MonitorRun, norm_matrix
from gradtrace.monitor.verdict import Verdict
from gradtrace.present.blocks import Block, Bullets, Heading, Image, Paragraph, Table, fmt, par

__all__ = ["CAPTIONS", "SUMMARY", "monitor_document"]

CAPTIONS = {
    "monitor_heatmap": "log10 of each parameter's gradient norm per optimizer step (grey: no gradient at that step; black: a gradient exactly 0; red crosses: inf/nan)",
    "monitor_summary": "Each parameter's gradient norm, median over the steps and its range, log scale, exact zeros left out ('all 0': zero at every step; red: named by the verdict); below, the global norm per step (red lines: steps with inf/nan)",
}
"""Each figure's caption, by name."""

SUMMARY = {
    "healthy": "Healthy: no parameter's gradient vanished or exploded by the thresholds below.",
    "vanishing": "Vanishing gradients: some parameters get far less gradient than the rest, step after step.",
    "exploding": "Exploding gradients: the gradient norm grew over the run or spiked.",
    "nonfinite": "Non-finite gradients: inf or nan appeared in the gradients or the loss.",
    "no data": "No data: the monitor recorded nothing.",
}
"""One sentence per status."""


def _advice(i: int, a: Advice) -> str:
    """``1. Clip ... [clip: max_norm=1]: reason.``: the fix, its remedy as data, the reason."""
    params = ", ".join(f"{k}={v}" for k, v in a.params.items())
    return f"{i}. {a.text} [{a.remedy}{': ' + params if params else ''}]: {a.reason}."


def _g(v: float) -> str:
    return fmt(v, 3) if np.isfinite(v) else str(v)


def _steps(steps: list[int]) -> str:
    return ", ".join(map(str, steps[:12])) + (
        f" ... ({len(steps)} steps)" if len(steps) > 12 else ""
    )


def _ratio(vals: np.ndarray, largest: np.ndarray) -> str:
    """Median of ``||g|| / largest`` over the steps whose largest norm is not 0 (at a step
    where every gradient is 0 the ratio is undefined)."""
    ok = largest > 0
    return _g(float(np.median(vals[ok] / largest[ok]))) if ok.any() else "-"


def _coverage(run: MonitorRun, g: np.ndarray) -> str:
    """What the records leave out: parameters with no gradient (frozen or unused) get no
    record, at some steps or at all."""
    partial = int((np.isnan(g).any(axis=1)).sum())  # a record missing at some step
    some = (
        f"{partial} parameter(s) had no gradient at some recorded steps (grey in the heat map). "
        if partial
        else ""
    )
    if run.unrecorded is None:
        return (
            some + "Parameters without a gradient at any step (frozen or unused) get no record; "
            "this file holds records only, so whether the model had such parameters is not known "
            "(a .json run lists them)."
        )
    if not run.unrecorded:
        return some + "Every parameter of the model was recorded."
    shown = ", ".join(run.unrecorded[:8]) + (" ..." if len(run.unrecorded) > 8 else "")
    return (
        some + f"{len(run.unrecorded)} of the model's {len(run.unrecorded) + g.shape[0]} "
        f"parameters had no gradient at any recorded step (frozen or unused) and are not shown: {shown}."
    )


def _parameter_table(run: MonitorRun, verdict: Verdict) -> Table:
    names, _, g = norm_matrix(run.records)
    _, _, bad = norm_matrix(run.records, "nonfinite")
    _, _, upd = norm_matrix(run.records, "update_ratio")
    finite = np.isfinite(g)
    largest = np.where(finite, g, -np.inf).max(axis=0)
    with_upd = any("update_ratio" in r for r in run.records)
    header: tuple[str, ...] = (
        "parameter",
        "steps",
        "median ||g||",
        "min",
        "max",
        "median ||g|| / largest",
        "inf/nan entries",
    )
    if with_upd:
        header += ("median ||dw||/||w||",)
    rows = []
    named = set(verdict.layers)
    for i, name in enumerate(names):
        f = finite[i]
        vals = g[i, f]
        cells = [
            name + (" (named)" if name in named else ""),
            str(int((~np.isnan(g[i])).sum())),
            _g(float(np.median(vals))) if vals.size else "-",
            _g(float(vals.min())) if vals.size else "-",
            _g(float(vals.max())) if vals.size else "-",
            _ratio(vals, largest[f]),
            str(int(np.nansum(bad[i]))),
        ]
        if with_upd:
            u = upd[i][np.isfinite(upd[i])]
            cells.append(_g(float(np.median(u))) if u.size else "-")
        rows.append(tuple(cells))
    return Table(header, tuple(rows), "Per parameter, over the recorded steps")


def _activation_table(run: MonitorRun) -> Table:
    modules = list(dict.fromkeys((a["name"], a["kind"]) for a in run.activations))
    rows = []
    for name, kind in modules:
        f = np.array(
            [a["fraction"] for a in run.activations if (a["name"], a["kind"]) == (name, kind)]
        )
        rows.append((name, kind, str(f.size), fmt(float(np.median(f)), 3), fmt(float(f.max()), 3)))
    return Table(
        ("module", "fraction of units", "steps", "median", "max"),
        tuple(rows),
        "Activations: dead ReLU units, saturated sigmoid/tanh outputs",
    )


def monitor_document(run: MonitorRun, verdict: Verdict, pngs: Mapping[str, bytes]) -> list[Block]:
    """The report's blocks; ``pngs`` holds the figures named in ``CAPTIONS``."""
    names, steps, g = norm_matrix(run.records)
    blocks: list[Block] = [
        Heading(f"Gradient flow: {verdict.status}", 1),
        par(
            f"{len(steps)} recorded optimizer steps ({steps[0]} to {steps[-1]}), "
            f"{len(names)} parameters, {len(run.records)} records. {SUMMARY[verdict.status]}"
        ),
    ]
    blocks.append(par(_coverage(run, g)))
    if verdict.layers:
        named = name_list(verdict.parameters, 12)
        if verdict.modules:  # the activation checks name modules: say which
            params = f"parameters {named}; " if verdict.parameters else ""
            named = f"{params}modules {module_list(verdict.modules, 12)}"
        blocks.append(par(f"Named: {named}; at steps {_steps(verdict.steps)}."))
    problems = [f for f in verdict.findings if f.problem]
    notes = [f for f in verdict.findings if not f.problem]
    if problems:
        blocks.append(Heading("What was found", 2))
        blocks.append(Bullets(tuple(Paragraph((f"{f.kind}: {f.reason}.",)) for f in problems)))
    if verdict.advice:
        blocks.append(Heading("What to do, and why (most likely fix first)", 2))
        blocks.append(
            Bullets(tuple(Paragraph((_advice(i, a),)) for i, a in enumerate(verdict.advice, 1)))
        )
    if notes:
        blocks.append(Heading("Also noted", 2))
        blocks.append(Bullets(tuple(Paragraph((f"{f.kind}: {f.reason}.",)) for f in notes)))
    t = verdict.theory
    if t is not None:
        mf = t.mean_field
        blocks += [
            Heading("Against mean-field theory", 2),
            par(
                f"The model is a plain MLP of {mf.activation} layers. From its weights at the start, "
                f"sigma_w2 = fan_in Var(W) = {fmt(mf.sigma_w2, 4)} and sigma_b2 = {fmt(mf.sigma_b2, 4)}. "
                f"Mean-field theory (Poole et al. 2016; Schoenholz et al. 2017) gives chi_1 = {fmt(mf.chi_1, 4)} there "
                f"({mf.phase} phase): the squared gradient changes by chi_1 per layer passed back. "
                "A weight's gradient is that gradient times the layer's input activations, so its "
                f"norm is predicted to change by {t.basis} = {fmt(t.predicted_factor, 4)} per layer"
                + (
                    " (for ReLU without a fixed point q* > 0 the activations grow by sqrt(sigma_w2/2) "
                    "per layer forward, which cancels sqrt(chi_1))."
                    if t.basis != "sqrt(chi_1)"
                    else "."
                )
            ),
            Table(
                ("", "per-layer factor toward the input"),
                (
                    (f"predicted, {t.basis}", fmt(t.predicted_factor, 4)),
                    (
                        f"measured at step {t.step} (fit over {len(t.layers)} hidden weights)",
                        fmt(t.measured_factor, 4) if t.measured_factor is not None else "-",
                    ),
                ),
                "Mean-field prediction and measurement",
            ),
        ]
    blocks.append(Heading("Figures", 2))
    for name, caption in CAPTIONS.items():
        if name in pngs:
            blocks.append(Image(pngs[name], f"{name}.png", caption))
    blocks += [Heading("Per parameter", 2), _parameter_table(run, verdict)]
    if run.activations:
        blocks += [Heading("Activations", 2), _activation_table(run)]
    th = verdict.thresholds
    blocks += [
        Heading("Thresholds", 2),
        par(
            f"Vanishing: a gradient norm below {th.vanishing_ratio:g} of the step's largest in at least "
            f"{th.sustained:.0%} of the steps, or in each of the first {th.onset_steps}, and still at the end "
            "(else it recovered); exactly 0 at every step is its own finding, and a bias that feeds a BatchNorm is 0 by design. "
            f"Exploding: the global gradient norm above {th.large_ratio:g}x the global weight norm "
            f"(under plain SGD, the learning rate times it above {th.step_ratio:g}) from the start or in at least {th.sustained:.0%} of the steps; "
            f"the global norm's median over the last quarter of steps above {th.growth_factor:g}x that of the first quarter "
            f"(from {th.min_growth_steps} steps); or a jump above {th.spike_factor:g}x the median of the {th.spike_window} steps before it. "
            f"Dead units above {th.dead_fraction:.0%}, saturated outputs above {th.saturated_fraction:.0%}. "
            f"Under a GradScaler, a first streak of up to {th.startup_skips} skipped steps is its start-up; "
            f"skipped steps after it make the run non-finite above {th.skipped_fraction:.0%} of the steps. "
            f"Mean-field comparison from {th.theory_min_hidden} hidden weight matrices. "
            "Change them with gradtrace.torch.Thresholds."
        ),
    ]
    return blocks
