"""Hypothesis strategies for chain problems, and the guards that say where an oracle is exact."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gradtrace import Network, Trace, backprop
from gradtrace.core.activations import ACTIVATIONS

ACTS = list(ACTIVATIONS)
SMOOTH = ["sigmoid", "tanh", "softsign", "identity"]
KINKED = {"relu", "leaky_relu", "softsign"}  # softsign: phi'' jumps at 0


@st.composite
def chains(
    draw,
    *,
    max_depth: int = 30,
    batch: bool = False,
    acts: list[str] | None = None,
    wmax: float = 2.0,
    xmax: float = 2.0,
):
    """A chain problem: dict(weights, biases, x, target, activation, output_activation, loss)."""
    acts = acts or ACTS
    depth = draw(st.integers(1, max_depth))
    activation = draw(st.sampled_from(acts))
    loss = draw(st.sampled_from(["bce", "l2", "huber"]))
    output = "sigmoid" if loss == "bce" else draw(st.sampled_from(acts))
    shape = draw(st.sampled_from([(), (3,), (2, 2)])) if batch else ()
    fl = lambda m: st.floats(-m, m, allow_nan=False, allow_subnormal=False)  # noqa: E731
    weights = draw(hnp.arrays(np.float64, (*shape, depth), elements=fl(wmax)))
    biases = draw(st.none() | hnp.arrays(np.float64, (*shape, depth), elements=fl(1.0)))
    x = draw(hnp.arrays(np.float64, shape, elements=fl(xmax)))
    if loss == "bce":
        target = draw(
            hnp.arrays(np.float64, shape, elements=st.sampled_from([0.0, 1.0]) | st.floats(0, 1))
        )
    else:
        target = draw(hnp.arrays(np.float64, shape, elements=fl(3.0)))
    return {
        "weights": weights,
        "biases": biases,
        "x": x,
        "target": target,
        "activation": activation,
        "output_activation": output,
        "loss": loss,
        "residual": draw(st.booleans()),
    }


def build(p: dict) -> tuple[Network, Trace]:
    net = Network.chain(
        p["weights"],
        biases=p["biases"],
        activation=p["activation"],
        output_activation=p["output_activation"],
        loss=p["loss"],
        residual=p.get("residual", False),
    )
    return net, backprop(net, p["x"], p["target"])


def names(p: dict) -> list[str]:
    L = p["weights"].shape[-1]
    return [p["output_activation"] if k == L - 1 else p["activation"] for k in range(L)]


def unsaturated(
    p: dict,
    trace: Trace,
    *,
    sigmoid_max: float = 12.0,
    tanh_max: float = 6.0,
    softsign_max: float = 1e4,
) -> bool:
    """torch's sigmoid' = y(1-y) and tanh' = 1-y^2 lose relative precision in saturation, and its
    softsign' (autograd through z/(1+|z|): a difference of near-equal terms) loses eps |z|."""
    limits = {"sigmoid": sigmoid_max, "tanh": tanh_max, "softsign": softsign_max}
    for k, n in enumerate(names(p)):
        if n in limits and (np.abs(trace.z[..., k]) > limits[n]).any():
            return False
    return True


def away_from_kinks(p: dict, trace: Trace, margin: float = 0.05) -> bool:
    """Finite differences and mpmath.diff need every kinked unit away from z = 0."""
    return all(
        not (n in KINKED and (np.abs(trace.z[..., k]) < margin).any())
        for k, n in enumerate(names(p))
    )


def well_conditioned(p: dict, trace: Trace, ratio: float = 1e-3) -> bool:
    """No catastrophic cancellation (the only float64 sums: w a + b, the residual).

    Where these cancel, every float64 implementation loses digits, the exact value is tiny
    relative to its terms, and agreement with an exact oracle is not expected.
    """
    if p["biases"] is not None:
        terms = np.abs(trace.weights * trace.inputs) + np.abs(trace.biases)
        if (np.abs(trace.z) < ratio * terms).any():
            return False
    if p["residual"]:
        L = len(names(p))
        g, d, w = trace.dloss_dactivation, trace.delta, trace.weights
        for k, n in enumerate(names(p)[:-1]):
            # forward, hidden layer k + 1: a = a_prev + phi(z)
            skip, branch = trace.inputs[..., k], ACTIVATIONS[n].value(trace.z[..., k])
            if (np.abs(trace.a[..., k]) < ratio * (np.abs(skip) + np.abs(branch))).any():
                return False
            # backward: dL/da_(k+1) = delta_(k+2) w_(k+2) [+ dL/da_(k+2) along the skip]
            via_w = np.abs(d[..., k + 1] * w[..., k + 1])
            via_skip = np.abs(g[..., k + 1]) if k + 1 < L - 1 else 0.0
            if (np.abs(g[..., k]) < ratio * (via_w + via_skip)).any():
                return False
    y, t = trace.prediction, trace.target
    if p["loss"] in ("l2", "huber"):
        r = np.abs(y - t)
        kink = np.abs(r - 1.0) > 1e-6  # huber's second derivative jumps at |r| = 1
        return bool(
            (r > ratio * (np.abs(y) + np.abs(t))).all() and (p["loss"] == "l2" or kink.all())
        )
    return bool((np.abs(trace.delta[..., -1]) > ratio).all())


def assert_grads_close(
    ours: np.ndarray, ref: np.ndarray, scale: np.ndarray, *, rtol: float, floor: float
) -> None:
    """``|ours - ref| <= rtol |ref| + floor * scale``: relative agreement for every gradient above
    the reference's noise floor (``floor * scale``, per batch element), absolute below it."""
    bound = rtol * np.abs(ref) + floor * np.asarray(scale)[..., None]
    err = np.abs(ours - ref)
    bad = ~(err <= bound)
    assert not bad.any(), (
        f"max excess {np.max((err - bound)[bad])}; ours {ours[bad]}, ref {ref[bad]}"
    )
