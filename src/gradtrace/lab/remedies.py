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

from dataclasses import dataclass

import numpy as np

from gradtrace.backprop import backprop
from gradtrace.lab.training import TrainConfig, make_dataset, train
from gradtrace.network import ChainSpec, Network

__all__ = ["RemedyRow", "run_remedies"]


@dataclass(frozen=True)
class RemedyRow:
    """One training run of the remedies table."""

    problem: str  # "exploding" | "vanishing"
    name: str
    why: str
    outcome: str
    steps_to_tolerance: int | None
    diverged: bool
    final_loss: float  # in the problem's own units
    min_abs_grad: float  # smallest |dL/dw_k| at the start
    max_abs_grad: float  # largest |dL/dw_k| at the start


def _row(
    problem: str,
    name: str,
    why: str,
    cfg: TrainConfig,
    eval_net: Network,
    x: np.ndarray,
    t: np.ndarray,
) -> RemedyRow:
    h = train(cfg)
    g0 = (
        np.abs(h.grads[0]) if h.steps_taken else np.zeros(cfg.network.depth)
    )  # full-batch, at the start
    w_end = h.weights[-1]
    final = float(np.mean(backprop(Network(eval_net.spec, w_end), x, t).loss))
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
    )


def run_remedies(*, steps: int = 300, seed: int = 0) -> tuple[RemedyRow, ...]:
    """The remedies table (every run deterministic for a given ``seed``)."""
    rows = []
    # ---- exploding: the exercise's regression net, y_hat = 128 ---------------------------------
    w0 = [0.25, -0.11, 0.78]
    reg = Network.chain(w0, output_activation="identity", loss="l2")
    x, t = np.array([0.63]), np.array([128.0])
    base = dict(network=reg, x=x, target=t, steps=steps, tolerance=1e-6)
    rows.append(
        _row(
            "exploding",
            "baseline: l2, learning rate 1",
            "the residual 2(y - 128) ~ 255 scales every step",
            TrainConfig(**base, learning_rate=1.0),
            reg,
            x,
            t,
        )
    )
    rows.append(
        _row(
            "exploding",
            "smaller learning rate (0.1)",
            "steps 10x smaller stay inside the stable region",
            TrainConfig(**base, learning_rate=0.1),
            reg,
            x,
            t,
        )
    )
    rows.append(
        _row(
            "exploding",
            "gradient-norm clipping (||g|| <= 1)",
            "caps each step's length; the direction is kept",
            TrainConfig(**base, learning_rate=1.0, clip_norm=1.0),
            reg,
            x,
            t,
        )
    )
    scaled = TrainConfig(
        network=reg,
        x=x,
        target=t / 128.0,
        steps=steps,
        tolerance=1e-6 / 128.0**2,
        learning_rate=1.0,
    )
    rows.append(
        _row(
            "exploding",
            "target scaled to 1 (/128)",
            "the residual, and so every gradient, shrinks 128x; w3 must then reach 1, not 128",
            scaled,
            reg,
            x,
            t / 128.0,
        )
    )
    # report the scaled run's loss in the original units
    rows[-1] = RemedyRow(**{**rows[-1].__dict__, "final_loss": rows[-1].final_loss * 128.0**2})
    hub = Network.chain(w0, output_activation="identity", loss="huber")
    # near the target Huber is r^2 / 2: tolerance 0.5e-6 is the same criterion as l2's 1e-6
    rows.append(
        _row(
            "exploding",
            "Huber loss (delta 1)",
            "|dL/dy| <= 1 far from the target: a bounded gradient",
            TrainConfig(
                network=hub, x=x, target=t, steps=steps, tolerance=0.5e-6, learning_rate=1.0
            ),
            reg,
            x,
            t,
        )
    )
    # ---- vanishing: depth-6 sigmoid chain, classification data -----------------------------------
    spec = ChainSpec(6, "sigmoid", "sigmoid", "bce")
    xs, ts = make_dataset(spec, 64, seed)
    w = np.random.default_rng(seed).standard_normal(6)
    vbase = dict(x=xs, target=ts, steps=steps, tolerance=0.2, learning_rate=1.0)
    for name, act, scale_w, why in (
        (
            "baseline: sigmoid, N(0, 1)",
            "sigmoid",
            1.0,
            "each layer back multiplies by |w s'(z)| <= |w|/4",
        ),
        ("tanh hidden layers", "tanh", 1.0, "tanh'(0) = 1, four times the sigmoid's best"),
        (
            "relu hidden layers",
            "relu",
            1.0,
            "relu' = 1 on active units; a dead unit passes nothing",
        ),
        ("larger init, N(0, 4^2)", "sigmoid", 4.0, "the bound |w|/4 reaches 1 at |w| = 4"),
    ):
        net = Network.chain(w * scale_w, activation=act, output_activation="sigmoid", loss="bce")
        rows.append(_row("vanishing", name, why, TrainConfig(network=net, **vbase), net, xs, ts))
    skip = Network.chain(
        w, activation="sigmoid", output_activation="sigmoid", loss="bce", residual=True
    )
    rows.append(
        _row(
            "vanishing",
            "skip connections (a_k = a_(k-1) + s(z_k))",
            "dL/da_(k-1) = dL/da_k + delta_k w_k: the identity path passes the gradient back undiminished",
            TrainConfig(network=skip, **vbase),
            skip,
            xs,
            ts,
        )
    )
    return tuple(rows)
