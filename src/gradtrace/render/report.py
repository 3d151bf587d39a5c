"""The report's document: the exercise solved, and the lab's results with the words that read
their figures. ``report_document`` builds every heading, paragraph, table and caption from a
``ReportResults`` (computed by ``gradtrace.report``); the figures come in as PNG bytes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from gradtrace.exercise import Solution
from gradtrace.lab.depth import DepthResult
from gradtrace.lab.montecarlo import MonteCarloResult
from gradtrace.lab.remedies import RemedyRow
from gradtrace.lab.training import TrainHistory
from gradtrace.render.blocks import Block, Heading, Image, Table, fmt, num, par
from gradtrace.render.exercise import solution_document
from gradtrace.render.lab import depth_table, montecarlo_document, remedies_document

__all__ = ["CAPTIONS", "ReportResults", "report_document"]

CAPTIONS = {
    "sigmoid": "The sigmoid, its derivative, the maximum s'(0) = 1/4 and the steepest points",
    "exercise_gradients": "|dL/dw_k| per layer, parts (b) and (d), log scale",
    "montecarlo": "Median and 5-95 % band of |dL/dw_k| per layer, for each depth",
    "depth": "First-layer gradient against depth, and the backward product against the expected rate",
    "training": "Loss and |dL/dw_k| per step at learning rate {lr:g}",
    "remedies": "Final loss per remedy (green: reached the tolerance)",
}
"""Each figure's caption, by name (the training one takes the learning rate of the run shown)."""


@dataclass(frozen=True, eq=False)
class ReportResults:
    """Everything the report shows, computed: the exercise, Monte Carlo per depth, depth runs
    (sigmoid, tanh, identity), training per learning rate on the regression net, the
    classification net's first-step relative update per layer, and the remedies table."""

    solution: Solution
    montecarlo: tuple[MonteCarloResult, ...]
    depth: tuple[DepthResult, ...]
    training: tuple[TrainHistory, ...]
    first_step: np.ndarray  # |dw_k| / |w_k| at the first step, (L,)
    remedies: tuple[RemedyRow, ...]
    remedies_steps: int

    @property
    def training_shown(self) -> TrainHistory:
        """The training run the figure shows: the first that did not converge, else the last."""
        return next((h for h in self.training if h.outcome != "converged"), self.training[-1])


def report_document(r: ReportResults, pngs: Mapping[str, bytes]) -> list[Block]:
    """The report's blocks; ``pngs`` holds each figure of ``CAPTIONS`` as PNG bytes."""
    sol, mcs, runs = r.solution, r.montecarlo, r.depth
    worst = r.training_shown

    def figure(name: str) -> Image:
        return Image(
            pngs[name], f"{name}.png", CAPTIONS[name].format(lr=worst.config.learning_rate)
        )

    gb, gd = np.abs(sol.b.gradients), np.abs(sol.d.gradients)
    medians = [
        (
            m.config.spec.depth,
            m.layers[0].abs_grad_quantiles["p50"],
            m.layers[-1].abs_grad_quantiles["p50"],
        )
        for m in mcs
    ]
    deepest = runs[0].config.depths[-1]
    train_steps = r.training[0].config.steps
    first = r.first_step
    return [
        # 1. the exercise
        *solution_document(sol),
        Heading("Figures of the exercise", 2),
        figure("sigmoid"),
        figure("exercise_gradients"),
        par(
            f"Reading the bars: in (b) they fall by a factor {fmt(gb[-1] / gb[0], 4)} from w3 to w1; in (d) every bar is "
            f"{fmt(gd[0] / gb[0], 4)} times taller than in (b), the residual's factor, and they fall by the same "
            f"{fmt(gd[-1] / gd[0], 4)} from w3 to w1.",
        ),
        # 2. Monte Carlo over initializations
        Heading("Over random initializations", 1),
        *montecarlo_document(mcs[0])[1:],
        figure("montecarlo"),
        par(
            "Reading the figure: the first layer's median gradient is "
            + "; ".join(
                f"{fmt(last / first, 3)} times below the last layer's at depth {L}"
                for L, first, last in medians
            )
            + ". The gap grows with depth, geometrically, as the per-layer factor |w s'(z)| <= |w|/4 predicts.",
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
            f"{fmt(-runs[0].fitted_rate, 3)} decades per layer whatever the weights' sign, while an identity "
            f"chain with std 3 gains {fmt(runs[2].fitted_rate, 3)} per layer (it explodes once std > 1.887). "
            f"At depth {deepest} the sigmoid chain's first gradient is about 10^{fmt(runs[0].points[-1].mean_log10_abs_grad_first, 4)}, "
            "far below float64's smallest number, so it is computed in log space.",
        ),
        depth_table(runs[0]),
        # 4. training
        Heading("Training dynamics", 1),
        Table(
            ("learning rate", "outcome"),
            tuple((f"{h.config.learning_rate:g}", h.message) for h in r.training),
            f"The exercise's regression net (target 128), {train_steps} steps",
        ),
        figure("training"),
        par(
            f"Reading the figure: the run at learning rate {worst.config.learning_rate:g} ends '{worst.outcome}'. In the "
            f"classification net the first step moves w1 by {fmt(100 * first[0], 3)}% of its value and w3 by "
            f"{fmt(100 * first[-1], 3)}%: the first layer learns {fmt(first[-1] / first[0], 3)} times more slowly.",
        ),
        # 5. remedies
        *remedies_document(r.remedies, r.remedies_steps),
        figure("remedies"),
    ]
