"""Remedies for exploding and vanishing gradients, compared on the same problems and budgets.

Two problems, each with a baseline and the usual fixes, all from the same starting weights and
with the same number of steps:

* **exploding** (the exercise's regression net, target 128, learning rate 1): a smaller learning
  rate; gradient-norm clipping (Pascanu et al. 2013, Algorithm 1); scaling the target down to 1
  (what standardizing targets does); the Huber loss, whose gradient is bounded.
* **vanishing** (a depth-6 sigmoid chain on a seeded 1-D classification set, N(0, 1) weights):
  tanh or relu hidden layers; larger initial weights (sigmoid passes back at most |w|/4); skip
  connections around the hidden layers (He et al. 2016).

Every row's final loss is measured in the problem's own units (l2 on the unscaled target for
the exploding rows, bce for the vanishing rows), so the rows compare.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from gradtrace.core.backprop import backprop
from gradtrace.core.network import ChainSpec, Network, get_preset
from gradtrace.lab.training import TrainConfig, make_dataset, train

__all__ = ["RemedyRow", "run_remedies"]


@dataclass(frozen=True)
class RemedyRow:
    """One training run of the remedies table."""

    problem: str  # "exploding" | "vanishing"
    name: str
    why: str
    outcome: str  # the training run's message (its losses are in the loss it trained on)
    steps_to_tolerance: int | None
    diverged: bool
    final_loss: float  # in the problem's own units
    min_abs_grad: float  # smallest |dL/dw_k| at the start
    max_abs_grad: float  # largest |dL/dw_k| at the start
    verdict: str = (
        ""  # the outcome in a word: converged | diverged | oscillating | stalled | decreasing
    )

    @property
    def status(self) -> str:
        """``reached the tolerance``, ``diverged`` or ``did not reach the tolerance``."""
        if self.steps_to_tolerance is not None:
            return "reached the tolerance"
        return "diverged" if self.diverged else "did not reach the tolerance"


def _row(
    problem: str,
    name: str,
    why: str,
    cfg: TrainConfig,
    *,
    measure: ChainSpec | None = None,
    scale: float = 1.0,
) -> RemedyRow:
    """Train ``cfg`` and measure its final weights with ``measure``'s loss (default: the one it
    trained on) on its own data, times ``scale`` (a scaled target's loss back in original units)."""
    h = train(cfg)
    g0 = (
        np.abs(h.grads[0]) if h.steps_taken else np.zeros(cfg.network.depth)
    )  # full batch, at the start
    spec = measure if measure is not None else cfg.network.spec
    final = scale * float(np.mean(backprop(Network(spec, h.weights[-1]), cfg.x, cfg.target).loss))
    return RemedyRow(
        problem=problem,
        name=name,
        why=why,
        outcome=h.message,
        steps_to_tolerance=h.converged_at,
        diverged=h.outcome == "diverged",
        final_loss=final,
        min_abs_grad=float(g0.min()),
        max_abs_grad=float(g0.max()),
        verdict=h.outcome,
    )


def run_remedies(*, steps: int = 300, seed: int = 0) -> tuple[RemedyRow, ...]:
    """The remedies table (every run deterministic for a given ``seed``)."""
    # ---- exploding: the exercise's regression net (target 128), learning rate 1 -----------------
    p = get_preset("exercise-regression")
    reg = p.network
    hub = Network(replace(reg.spec, loss="huber"), reg.weights)
    x = np.array([p.x])
    t = np.array([p.target])
    residual = float(backprop(reg, p.x, p.target).dloss_dprediction)  # 2(y - y_hat)
    rows = [
        _row(
            "exploding",
            "baseline: l2, learning rate 1",
            f"the residual 2(y - {p.target:g}) ~ {abs(residual):.0f} scales every step",
            TrainConfig(reg, target=t, learning_rate=1.0, tolerance=1e-6, x=x, steps=steps),
        ),
        _row(
            "exploding",
            "smaller learning rate (0.1)",
            "steps 10x smaller stay inside the stable region",
            TrainConfig(reg, target=t, learning_rate=0.1, tolerance=1e-6, x=x, steps=steps),
        ),
        _row(
            "exploding",
            "gradient-norm clipping (||g|| <= 1)",
            "caps each step's length; the direction is kept",
            TrainConfig(
                reg, target=t, learning_rate=1.0, tolerance=1e-6, clip_norm=1.0, x=x, steps=steps
            ),
        ),
        # trained on y_hat / scale to the same tolerance in original units; loss reported in those
        _row(
            "exploding",
            f"target scaled to 1 (/{p.target:g})",
            f"the residual, and so every gradient, shrinks {p.target:g}x; w3 must then reach 1, "
            f"not {p.target:g}",
            TrainConfig(
                reg,
                target=t / p.target,
                learning_rate=1.0,
                tolerance=1e-6 / p.target**2,
                x=x,
                steps=steps,
            ),
            scale=p.target**2,
        ),
        # near the target Huber is r^2 / 2: tolerance 0.5e-6 is the same criterion as l2's 1e-6
        _row(
            "exploding",
            "Huber loss (delta 1)",
            "|dL/dy| <= 1 far from the target: a bounded gradient",
            TrainConfig(hub, target=t, learning_rate=1.0, tolerance=0.5e-6, x=x, steps=steps),
            measure=reg.spec,
        ),
    ]
    # ---- vanishing: depth-6 sigmoid chain, 64 classification samples, learning rate 1 -----------
    xs, ts = make_dataset(ChainSpec(6, "sigmoid", "sigmoid", "bce"), 64, seed)
    w = np.random.default_rng(seed).standard_normal(6)
    for name, act, scale_w, residual, why in (
        (
            "baseline: sigmoid, N(0, 1)",
            "sigmoid",
            1.0,
            False,
            "each layer back multiplies by |w s'(z)| <= |w|/4",
        ),
        ("tanh hidden layers", "tanh", 1.0, False, "tanh'(0) = 1, four times the sigmoid's best"),
        (
            "relu hidden layers",
            "relu",
            1.0,
            False,
            "relu' = 1 on active units; a dead unit passes nothing",
        ),
        ("larger init, N(0, 4^2)", "sigmoid", 4.0, False, "the bound |w|/4 reaches 1 at |w| = 4"),
        (
            "skip connections (a_k = a_(k-1) + s(z_k))",
            "sigmoid",
            1.0,
            True,
            "dL/da_(k-1) = dL/da_k + delta_k w_k: the identity path passes the gradient back undiminished",
        ),
    ):
        net = Network.chain(
            w * scale_w, activation=act, output_activation="sigmoid", loss="bce", residual=residual
        )
        cfg = TrainConfig(net, x=xs, target=ts, steps=steps, tolerance=0.2, learning_rate=1.0)
        rows.append(_row("vanishing", name, why, cfg))
    return tuple(rows)
