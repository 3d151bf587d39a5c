"""Documents of the lab's experiments: Monte Carlo over initializations (``gradtrace
montecarlo``), gradients against depth (``gradtrace depth``), a training run (``gradtrace
train``) and the remedies table (``gradtrace remedies``). Every number comes from the results."""

from __future__ import annotations

import numpy as np

from gradtrace.lab.depth import DepthResult
from gradtrace.lab.montecarlo import MonteCarloResult
from gradtrace.lab.remedies import RemedyRow
from gradtrace.lab.training import TrainHistory
from gradtrace.present.blocks import Block, Bullets, Heading, Inline, Table, fmt, m, num, par

__all__ = [
    "depth_document",
    "depth_table",
    "montecarlo_document",
    "remedies_document",
    "remedy_outcome",
    "train_document",
]


def montecarlo_document(r: MonteCarloResult) -> list[Block]:
    """Per-layer quantiles of |dL/dw_k| over random initializations (``gradtrace montecarlo``)."""
    c = r.config
    init = (
        f"N(0, {fmt(c.std)}^2)"
        if c.init == "normal"
        else f"U(-sqrt(3) {fmt(c.std)}, sqrt(3) {fmt(c.std)})"
    )
    x = "x ~ N(0, 1)" if c.x is None else f"x = {fmt(c.x)}"
    t = "y_hat drawn" if c.target is None else f"y_hat = {fmt(c.target)}"
    rows: list[tuple[Inline, ...]] = []
    for s in r.layers:
        q = s.abs_grad_quantiles
        rows.append(
            (
                str(s.layer),
                *(num(q[k], 3) for k in ("p05", "p25", "p50", "p75", "p95")),
                num(s.mean_log10_abs_grad, 4),
                f"{100 * s.fraction_below['1e-3']:.2f}%",
                f"{100 * s.fraction_below['1e-6']:.3f}%",
                f"{100 * s.fraction_above['1e2']:.3f}%",
            )
        )
    header: tuple[Inline, ...] = (
        "layer",
        "p05",
        "p25",
        "median",
        "p75",
        "p95",
        m("mean log10|g|"),
        "< 1e-3",
        "< 1e-6",
        "> 1e2",
    )
    ratio = r.ratio_quantiles
    blocks: list[Block] = [
        Heading("Gradients over random initializations", 1),
        par(
            f"{c.samples:,} samples (seed {c.seed}); depth {c.spec.depth}, hidden activation "
            f"{c.spec.activation}, output activation {c.spec.output_activation}, loss {c.spec.loss}"
            f"{', biases on' if c.spec.biases else ''}; weights ~ {init}; {x}, {t}.",
        ),
        Table(header, tuple(rows), "|dL/dw_k| per layer"),
    ]
    if ratio:
        blocks.append(
            par(
                f"|dL/dw1| / |dL/dw{c.spec.depth}|: median {fmt(ratio['p50'], 3)} (p05 {fmt(ratio['p05'], 3)}, "
                f"p95 {fmt(ratio['p95'], 3)}); on average the first layer's gradient is "
                f"{fmt(10**-r.mean_log10_ratio, 3)} times smaller than the last's (geometric mean).",
            )
        )
    if r.float64_nonfinite:
        blocks.append(
            par(
                f"warning: {r.float64_nonfinite} gradients were not finite in float64 and are left out."
            )
        )
    return blocks


def depth_table(r: DepthResult) -> Table:
    """log10|dL/dw_1| per depth: mean, median, exact zeros, and where float64 lost it."""
    rows = tuple(
        (
            str(p.depth),
            num(p.mean_log10_abs_grad_first, 5),
            num(p.median_log10_abs_grad_first, 5),
            f"{100 * p.fraction_zero_first:.1f}%",
            f"{100 * p.fraction_float64_lost_first:.1f}%",
        )
        for p in r.points
    )
    header: tuple[Inline, ...] = (
        "depth L",
        m("mean log10|dL/dw1|"),
        m("median log10|dL/dw1|"),
        "exactly 0",
        "float64 lost it",
    )
    return Table(header, rows, f"log10|dL/dw_1|, {r.config.activation} chains")


def depth_document(r: DepthResult) -> list[Block]:
    """log10|dL/dw_1| against depth and the per-layer rate (``gradtrace depth``)."""
    c = r.config
    init = f"N(0, {fmt(c.std)}^2)" if c.init == "normal" else f"uniform with std {fmt(c.std)}"
    blocks: list[Block] = [
        Heading("Gradients against depth", 1),
        par(
            f"{c.samples} chains per depth (seed {c.seed}) of {c.activation} layers, weights ~ {init}, "
            f"identity output, l2 loss; x = {fmt(c.x)}, y_hat = {fmt(c.target)}. Computed in the "
            "log-magnitude mode, so nothing underflows.",
        ),
        depth_table(r),
    ]
    fitted = (
        "n/a (no sample kept a nonzero path)"
        if np.isnan(r.fitted_rate)
        else (f"{fmt(r.fitted_rate, 4)} +- {fmt(r.fitted_rate_se, 2)}")
    )
    expected = "n/a" if r.expected_rate is None else fmt(r.expected_rate, 4)
    trend = ""
    if not np.isnan(r.fitted_rate):
        trend = (
            " The gradient vanishes" if r.fitted_rate < 0 else " The gradient explodes"
        ) + f" by about {fmt(abs(r.fitted_rate), 3)} decades per layer passed back."
    blocks.append(
        par(
            f"Per-layer rate of log10|dL/dz_k| along the depth-{r.profile_depth} chain: fitted {fitted}; "
            f"expected E[log10|w phi'(z)|] at the stationary distribution: {expected} (decades per layer)."
            + trend,
        )
    )
    return blocks


def train_document(h: TrainHistory) -> list[Block]:
    """The outcome of a gradient-descent run, per-layer movement and the loss curve."""
    c = h.config
    spec = c.network.spec
    T = h.steps_taken
    rows = []
    for k in range(spec.depth):
        rows.append(
            (
                str(k + 1),
                num(h.weights[0, k], 4),
                num(h.weights[-1, k], 4),
                num(h.grads[0, k], 4) if T else "-",
                f"{100 * h.relative_update[0, k]:.3g}%" if T else "-",
                f"{100 * np.median(h.relative_update[:, k]):.3g}%" if T else "-",
                f"{100 * h.total_relative_change[k]:.3g}%",
            )
        )
    header: tuple[Inline, ...] = (
        "layer",
        "w start",
        "w end",
        "dL/dw at start",
        "first step |dw|/|w|",
        "median |dw|/|w|",
        "total change",
    )
    marks = [
        s
        for s in (
            0,
            1,
            2,
            5,
            10,
            20,
            50,
            100,
            200,
            500,
            1000,
            2000,
            5000,
            10000,
            20000,
            50000,
            100000,
        )
        if s < h.loss.size
    ]
    if h.loss.size and h.loss.size - 1 not in marks:
        marks.append(h.loss.size - 1)
    curve = Table(("step", "loss"), tuple((str(s), num(h.loss[s], 6)) for s in marks), "Loss")
    blocks: list[Block] = [
        Heading("Gradient descent", 1),
        par(
            f"Depth {spec.depth}, hidden activation {spec.activation}, output activation "
            f"{spec.output_activation}, loss {spec.loss}; {c.x.size} sample{'s' if c.x.size > 1 else ''}; "
            f"learning rate {c.learning_rate:g}, up to {c.steps} steps.",
        ),
        par("Outcome: " + h.message + "."),
        Table(header, tuple(rows), "Per layer"),
        *([curve] if marks else []),  # no finite loss at all: nothing to draw
    ]
    if T and spec.depth > 1:
        first, last = h.relative_update[0, 0], h.relative_update[0, -1]
        if first > 0 and last > 0:
            moves = (
                f"At the first step w1 moves by {fmt(100 * first, 3)}% of its value and "
                f"w{spec.depth} by {fmt(100 * last, 3)}%"
            )
            smaller = (
                f": the first layer's update is {fmt(last / first, 3)} times smaller in relative terms"
                if last > first
                else ""
            )
            blocks.append(par(moves + smaller + "."))
    return blocks


_VERDICT = {
    "diverged": "diverged",
    "oscillating": "oscillating, did not reach the tolerance",
    "stalled": "stalled: every gradient is exactly zero, no weight moved",
    "decreasing": "still decreasing, did not reach the tolerance",
}


def remedy_outcome(r: RemedyRow) -> str:
    """A remedy run's outcome in words, from the row's own fields (no loss in it: the table's
    final loss is the one loss quoted)."""
    if r.steps_to_tolerance is not None:
        return f"reached the tolerance at step {r.steps_to_tolerance}"
    return _VERDICT.get(r.verdict, r.status)


def remedies_document(rows: tuple[RemedyRow, ...], steps: int) -> list[Block]:
    """The remedies table: one row per run, with the reason it helps or not. Every loss quoted
    is the row's ``final_loss``, in the problem's own units."""
    header: tuple[Inline, ...] = (
        "problem",
        "remedy",
        "steps to tolerance",
        "diverged",
        "final loss",
        m("min |dL/dw|"),
        m("max |dL/dw|"),
    )
    table = Table(
        header,
        tuple(
            (
                r.problem,
                r.name,
                str(r.steps_to_tolerance) if r.steps_to_tolerance is not None else "-",
                "yes" if r.diverged else "no",
                num(r.final_loss, 4),
                num(r.min_abs_grad, 3),
                num(r.max_abs_grad, 3),
            )
            for r in rows
        ),
        f"Same starting weights, {steps} steps each",
    )
    return [
        Heading("Remedies for exploding and vanishing gradients", 1),
        par(
            "Exploding: the exercise's regression net (target 128) at learning rate 1, tolerance 1e-6 "
            "on the l2 loss. Vanishing: a depth-6 sigmoid chain, N(0, 1) weights, 64 seeded 1-D "
            "classification samples, learning rate 1, tolerance 0.2 on the bce loss. Gradients are at the "
            "start (full batch). The final loss is the loss of each run's last weights in its problem's "
            "own units: the l2 loss on the original target 128 for every exploding row (the scaled "
            "target's run is measured on the unscaled target, the Huber run with l2), the mean bce loss "
            "for the vanishing rows; so the rows of a problem compare.",
        ),
        table,
        Bullets(
            tuple(
                par(
                    f"{r.name}: {r.why}. Outcome: {remedy_outcome(r)}; final loss ",
                    num(r.final_loss, 4),
                    ".",
                )
                for r in rows
            )
        ),
    ]
