"""The report's document: the exercise solved, and the lab's results with the words that read
their figures. ``report_document`` builds every heading, paragraph, table and caption from a
``ReportResults`` (computed by ``gradtrace.present.report``); the figures come in as PNG bytes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from gradtrace.lab.depth import DepthResult
from gradtrace.lab.exercise import Solution
from gradtrace.lab.montecarlo import MonteCarloResult
from gradtrace.lab.remedies import RemedyRow
from gradtrace.lab.training import TrainHistory
from gradtrace.present.blocks import Block, Heading, Image, Table, fmt, num, par
from gradtrace.present.exercise_doc import solution_document
from gradtrace.present.lab_doc import depth_table, montecarlo_document, remedies_document
from gradtrace.theory.meanfield import MeanField, PhaseDiagram
from gradtrace.theory.simulation import TheorySimulation

__all__ = [
    "CAPTIONS",
    "RATIO",
    "ReportResults",
    "TheoryResults",
    "ratio_text",
    "report_document",
    "times_text",
]

CAPTIONS = {
    "sigmoid": "The sigmoid, its derivative, the maximum s'(0) = 1/4 and the steepest points",
    "exercise_gradients": "|dL/dw_k| per layer, parts (b) and (d): dots on a log scale",
    "montecarlo": "Median and 5-95 % band of |dL/dw_k| per layer, for each depth",
    "depth": "First-layer gradient against depth, and the backward product against the expected rate",
    "training": "The regression net at learning rate {lr:g} ({why}): loss and |dL/dw_k| per step",
    "remedies": "Final loss of each remedy, one dot per run, log scale ({legend})",
    "phase_diagram": "Deep tanh nets: the order-to-chaos line and the depth scale xi_c, with the "
    "ordered point of the table marked",
}
"""Each figure's caption, by name (the training one takes the learning rate of the run shown and
why it is shown; the remedies one the colour of each status, as the figure draws it)."""

RATIO = "r = |dL/dw_1| / |dL/dw_L|"
"""The one measure of how much smaller the first layer's gradient is than the last layer's."""


def ratio_text(r: float) -> str:
    """``r`` as quoted everywhere in the report (4 significant digits)."""
    return fmt(r, 4)


def times_text(r: float) -> str:
    """``1 / r``, the "times smaller" every sentence quotes, from the same ``r``."""
    return fmt(1 / r, 4)


@dataclass(frozen=True, eq=False)
class TheoryResults:
    """The deep-network section: mean-field theory at a few points of tanh nets (ordered,
    critical, chaotic), finite-width simulations at the same points, and the phase diagram."""

    points: tuple[MeanField, ...]
    simulations: tuple[TheorySimulation, ...]
    diagram: PhaseDiagram


@dataclass(frozen=True, eq=False)
class ReportResults:
    """Everything the report shows, computed: the exercise, Monte Carlo per depth, depth runs
    (sigmoid, tanh, identity), training per learning rate on the regression net, and the
    remedies table."""

    solution: Solution
    montecarlo: tuple[MonteCarloResult, ...]
    depth: tuple[DepthResult, ...]
    training: tuple[TrainHistory, ...]
    remedies: tuple[RemedyRow, ...]
    remedies_steps: int
    theory: TheoryResults

    @property
    def training_shown(self) -> TrainHistory:
        """The training run the figure and its reading describe: the largest learning rate that
        converged; if none did, the run that did not diverge with the lowest final loss (else
        the first)."""
        return self._shown[0]

    @property
    def training_shown_why(self) -> str:
        """Why ``training_shown`` is the run shown, in words for its caption."""
        return self._shown[1]

    @property
    def _shown(self) -> tuple[TrainHistory, str]:
        done = [h for h in self.training if h.outcome == "converged"]
        if done:
            return max(done, key=lambda h: h.config.learning_rate), (
                "the largest learning rate that converged"
            )
        alive = [h for h in self.training if h.outcome != "diverged" and h.loss.size]
        if alive:
            return min(alive, key=lambda h: float(h.loss[-1])), (
                "none converged: the lowest final loss"
            )
        return self.training[0], "every run diverged; the first"


def _ratio(g: np.ndarray) -> float:
    """``r`` of one gradient vector, (L,)."""
    return float(abs(g[0]) / abs(g[-1]))


def _saturation(h: TrainHistory, r_start: float, r_end: float) -> str:
    """When r fell by more than three decades: w1's largest step, which sent the hidden
    sigmoids into their flat tails (quoted from the history)."""
    if not h.steps_taken or not r_end < 1e-3 * r_start:
        return ""
    j = int(np.argmax(np.abs(np.diff(h.weights[:, 0])))) + 1  # weights[j] is after step j - 1
    return (
        f" The largest move of w1 takes it from {fmt(h.weights[j - 1, 0], 4)} to "
        f"{fmt(h.weights[j, 0], 4)} (step {j - 1}); it pushed the hidden sigmoids into their flat "
        "tails, where s'(z) is nearly 0, so the first layer's gradient vanished and w3 alone "
        "fitted the target."
    )


def report_document(
    r: ReportResults, pngs: Mapping[str, bytes], colours: Mapping[str, str] | None = None
) -> list[Block]:
    """The report's blocks; ``pngs`` holds each figure of ``CAPTIONS`` as PNG bytes, and
    ``colours`` the remedies figure's colour per status (matplotlib names, e.g. ``tab:green``)."""
    sol, mcs, runs = r.solution, r.montecarlo, r.depth
    shown = r.training_shown
    statuses = [s for s in (colours or {}) if any(x.status == s for x in r.remedies)]
    legend = "; ".join(f"{(colours or {})[s].removeprefix('tab:')}: {s}" for s in statuses)

    def figure(name: str) -> Image:
        caption = CAPTIONS[name].format(
            lr=shown.config.learning_rate, why=r.training_shown_why, legend=legend
        )
        return Image(pngs[name], f"{name}.png", caption.replace(", log scale ()", ", log scale"))

    gb, gd = np.abs(sol.b.gradients), np.abs(sol.d.gradients)
    rb = _ratio(gb)
    deepest = runs[0].config.depths[-1]
    train_steps = r.training[0].config.steps
    L3 = gb.size
    mc_rows = tuple(
        (
            f"{m.config.spec.depth}",
            f"{m.config.samples:,} initializations, N(0, {fmt(m.config.std)}^2)",
            ratio_text(m.ratio_quantiles["p50"]),
            ratio_text(m.ratio_quantiles["p05"]),
            ratio_text(m.ratio_quantiles["p95"]),
            times_text(m.ratio_quantiles["p50"]),
        )
        for m in mcs
    )
    ratio_table = Table(
        ("depth L", "over", "median r", "p05 of r", "p95 of r", "1 / median r"),
        (
            (f"{L3}", "part (b)'s trace (one network)", ratio_text(rb), "-", "-", times_text(rb)),
            *mc_rows,
        ),
        f"How much smaller the first layer's gradient is: {RATIO}",
    )
    h0 = shown
    steps_run = h0.steps_taken
    r_start = _ratio(h0.grads[0]) if steps_run else float("nan")
    r_end = _ratio(h0.grads[-1]) if steps_run else float("nan")
    identity = runs[2]
    explodes_at = (
        identity.config.std * 10**-identity.expected_rate
        if identity.expected_rate is not None
        else float("nan")
    )
    return [
        # 1. the exercise
        *solution_document(sol),
        Heading("Figures of the exercise", 2),
        figure("sigmoid"),
        figure("exercise_gradients"),
        par(
            f"Reading the dots: in (b) the gradient falls from w3 to w1 by a factor "
            f"{times_text(rb)} = 1 / r, where {RATIO} = {ratio_text(rb)} is the first weight's "
            f"gradient over the last weight's (L = {L3}); in (d) every dot is "
            f"{fmt(gd[0] / gb[0], 4)} times higher than in (b), the residual's factor, so r and the "
            "fall from w3 to w1 are the same.",
        ),
        # 2. Monte Carlo over initializations
        Heading("Over random initializations", 1),
        # the setting and the per-layer table; the ratio is stated once, below
        *montecarlo_document(mcs[0])[1:3],
        par(
            f"How much smaller is the first layer's gradient? This report answers with one ratio, "
            f"{RATIO}: the first weight's gradient over the last weight's, in the same network "
            "and for the same input. For part (b)'s one network it is "
            f"{ratio_text(rb)} (1 / r = {times_text(rb)}). Over random N(0, 1) initializations r "
            "varies; we quote its median at each depth, and its 5 and 95 % quantiles:",
        ),
        ratio_table,
        figure("montecarlo"),
        par(
            "Reading the figure: each dot is one layer's own median |dL/dw_k| over the "
            "initializations; the gap between the first and the last dot grows with depth, "
            "geometrically, as the per-layer factor |w s'(z)| <= |w|/4 predicts. The ratio r is "
            "taken per initialization, so its median is read from the table, not from the dots: "
            + "; ".join(
                f"at depth {m.config.spec.depth} the median r is "
                f"{ratio_text(m.ratio_quantiles['p50'])} (1 / r = {times_text(m.ratio_quantiles['p50'])})"
                for m in mcs
            )
            + ".",
        ),
        # 3. depth
        Heading("Against depth", 1),
        Table(
            (
                "activation",
                "std",
                "fitted rate",
                "+-",
                "expected rate",
                f"mean log10|dL/dw_1| at depth {deepest}",
            ),
            tuple(
                (
                    d.config.activation,
                    fmt(d.config.std),
                    num(d.fitted_rate, 4),
                    num(d.fitted_rate_se, 2),
                    num(d.expected_rate, 4) if d.expected_rate is not None else "-",
                    num(d.points[-1].mean_log10_abs_grad_first, 5),
                )
                for d in runs
            ),
            "Decades per layer passed back (negative: vanishing)",
        ),
        figure("depth"),
        par(
            "Reading the figure: each backward product is a straight line in log scale whose slope is the "
            "stationary rate; sigmoid chains lose "
            f"{fmt(-runs[0].fitted_rate, 4)} decades per layer whatever the weights' sign, while an identity "
            f"chain with std {fmt(identity.config.std)} gains {fmt(identity.fitted_rate, 4)} per layer (its "
            f"expected rate log10(std) + E log10|N(0, 1)| is positive once std > {fmt(explodes_at, 4)}). "
            f"At depth {deepest} the sigmoid chain's first gradient is about "
            f"10^{fmt(runs[0].points[-1].mean_log10_abs_grad_first, 5)} (the table's mean log10), "
            "far below float64's smallest number, so it is computed in log space.",
        ),
        depth_table(runs[0]),
        # 4. training
        Heading("Training dynamics", 1),
        Table(
            (
                "learning rate",
                "outcome",
                "steps run",
                "loss at step 0",
                "final loss",
                "r at the last step",
            ),
            tuple(
                (
                    f"{h.config.learning_rate:g}",
                    h.outcome,
                    str(h.steps_taken),
                    num(h.loss[0], 4) if h.loss.size else "-",
                    num(h.loss[-1], 4) if h.loss.size else "-",
                    ratio_text(_ratio(h.grads[-1])) if h.steps_taken else "-",
                )
                for h in r.training
            ),
            f"The exercise's regression net (target 128), up to {train_steps} steps",
        ),
        figure("training"),
        par(
            f"Reading the figure: it shows the run at learning rate {h0.config.learning_rate:g} "
            f"({r.training_shown_why}; outcome: {h0.outcome}, after {steps_run} steps). Its loss "
            "goes from ",
            num(h0.loss[0], 4) if h0.loss.size else "-",
            " at step 0 to ",
            num(h0.loss[-1], 4) if h0.loss.size else "-",
            f". At step 0 its gradients are part (d)'s, so r = {ratio_text(r_start)}; at the last "
            f"step r = {ratio_text(r_end)} (the heat map's bottom row against its top row)."
            + _saturation(h0, r_start, r_end),
        ),
        # 5. remedies
        *remedies_document(r.remedies, r.remedies_steps),
        figure("remedies"),
        # 6. deep, wide networks
        *theory_section(r.theory),
        figure("phase_diagram"),
    ]


def _xi(v: float) -> str:
    return "infinite" if not np.isfinite(v) else fmt(v, 4)


def theory_section(t: TheoryResults) -> list[Block]:
    """Mean-field theory of deep tanh nets beside finite-width simulations: every number from
    ``t``'s results."""
    rows = []
    for mf, sim in zip(t.points, t.simulations, strict=True):
        L = sim.run.config.depth
        rows.append(
            (
                fmt(mf.sigma_w2, 4),
                fmt(mf.sigma_b2, 3),
                mf.phase,
                fmt(mf.chi_1, 4),
                _xi(mf.xi_c),
                num(mf.chi_1 ** (L - 1), 3),
                num(sim.ratio_predicted[0], 3),
                num(sim.run.grad_norm_ratio[0], 3),
            )
        )
    first = t.simulations[0].run.config
    ordered, chaotic = t.points[0], t.points[-1]
    return [
        Heading("Deep, wide networks: mean-field theory", 1),
        par(
            "In a deep fully connected net of width N with weights W_ij ~ N(0, sigma_w2/N) and "
            "biases b_i ~ N(0, sigma_b2), squared gradients change by a factor chi_1 = sigma_w2 "
            "E[phi'(sqrt(q*) z)^2] per layer passed back, where q* is the fixed point of the "
            "length map (Poole et al. 2016; Schoenholz et al. 2017). chi_1 < 1 is the ordered "
            "phase (gradients vanish), chi_1 > 1 the chaotic phase (they explode), and on the "
            "critical line chi_1 = 1 the depth scale xi_c over which correlations travel "
            "diverges. The table puts the theory beside "
            f"{first.samples} random tanh nets of width {first.width} and depth {first.depth} "
            "at each point (gradtrace theory --simulate does the same for any point).",
        ),
        Table(
            (
                "sigma_w2",
                "sigma_b2",
                "phase",
                "chi_1",
                "xi_c",
                "chi_1^(L-1)",
                "predicted |dL/dh^1|^2/|dL/dh^L|^2",
                "measured",
            ),
            tuple(rows),
            f"Gradient ratio between the first and the last of L = {first.depth} layers",
        ),
        par(
            f"Reading the table: at sigma_w2 = {fmt(ordered.sigma_w2, 4)} the first layer's "
            f"squared gradient is predicted at {fmt(t.simulations[0].ratio_predicted[0], 3)} of "
            f"the last layer's and measured at {fmt(t.simulations[0].run.grad_norm_ratio[0], 3)}; "
            f"at sigma_w2 = {fmt(chaotic.sigma_w2, 4)} it is predicted at "
            f"{fmt(t.simulations[-1].ratio_predicted[0], 3)} and measured at "
            f"{fmt(t.simulations[-1].run.grad_norm_ratio[0], 3)}. The prediction is the product "
            "of the per-layer factors from the same input (chi_1^(L-1) once q has settled); at "
            "finite width the measurements scatter around it by a few per cent per layer.",
        ),
    ]
