"""Random nets of finite width beside the mean-field theory: what ``gradtrace theory --simulate``
shows. The simulation is ``lab.wide.simulate``; the prediction, layer by layer from the same
input, is ``meanfield.layer_predictions``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradtrace.lab.wide import WideConfig, WideRun, simulate
from gradtrace.theory.meanfield import layer_predictions

__all__ = ["TheorySimulation", "simulate_against_theory"]


@dataclass(frozen=True, eq=False)
class TheorySimulation:
    """The measured ``run`` and the prediction from the same input.

    **Fields:** ``run`` (``WideRun``: ``q`` ``(L+1,)``, ``grad_norm_ratio`` ``(L,)``);
    ``q_predicted`` ``(L+1,)``; ``ratio_predicted`` ``(L,)``."""

    run: WideRun
    q_predicted: np.ndarray
    ratio_predicted: np.ndarray


def simulate_against_theory(config: WideConfig) -> TheorySimulation:
    """Simulate ``config`` and predict the same quantities from the input actually drawn (its
    ``q^0`` is ``config.input_q`` up to sampling)."""
    run = simulate(config)
    q, ratio = layer_predictions(
        config.activation, config.sigma_w2, config.sigma_b2, float(run.q[0]), config.depth
    )
    return TheorySimulation(run, q, ratio)
