"""He et al. 2015: the output's scale against depth in deep ReLU nets, Xavier against He init.

He, Zhang, Ren & Sun 2015 ("Delving Deep into Rectifiers", Sec. 2.2) derive for ReLU layers
``Var[y_l] = (1/2) n_l Var[w_l] Var[y_(l-1)]`` (their Eq. 7 with ``E[x^2] = Var[y] / 2``), so a
weight variance of ``2 / n_l`` (Eq. 10, "He", ``fan_in``) keeps every layer's scale, while the
Xavier variance ``1 / n`` (Glorot & Bengio's, for ``fan_in = fan_out = n``) halves the second
moment at every layer: the output's std falls as ``2^(-L/2)`` and a 30-layer net stalls.

Here both are simulated with ``lab.wide.simulate`` (square layers of width ``n``, zero biases):
``W ~ N(0, sigma_w2 / n)`` is ``inits.he_normal`` (fan_in) at ``sigma_w2 = 2`` and
``inits.xavier_normal`` at ``sigma_w2 = 1``. Measured per layer: ``q^l``, the mean squared
pre-activation over units, inputs and nets; the std is ``sqrt(q^l)``. The input is not
rectified, so ``q^1 = sigma_w2 q^0``; after that the closed forms are ``q^l = q^1`` (He) and
``q^l = q^1 2^(-(l-1))`` (Xavier). Anchors: the slope of ``log2 std`` over layers ``1 .. L``,
``0`` and ``-1/2``, and the Xavier net's fall from layer 1 to layer ``L``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradtrace.lab.wide import WideConfig, simulate
from gradtrace.reproduce import Anchor

__all__ = [
    "CITATION",
    "DEFAULTS",
    "QUICK",
    "SIGMA_W2_BY_INIT",
    "TITLE",
    "He2015Params",
    "He2015Result",
    "run",
]

TITLE = "Output scale against depth in deep ReLU nets: Xavier against He initialization"
CITATION = "He, Zhang, Ren & Sun 2015, Delving Deep into Rectifiers, ICCV, Sec. 2.2 (Eq. 10)"

SIGMA_W2_BY_INIT = {"xavier": 1.0, "he": 2.0}
"""sigma_w2 of each init for square ReLU layers: Var(W) = sigma_w2 / n."""


@dataclass(frozen=True)
class He2015Params:
    """What ``run`` simulates, for each init."""

    width: int = 500  # units in every (square) layer
    depth: int = 30  # layers
    samples: int = 8  # nets


DEFAULTS = He2015Params()
QUICK = He2015Params(width=200, depth=16, samples=4)


@dataclass(frozen=True, eq=False)
class He2015Result:
    """**Fields:** ``width``, ``depth``, ``samples``, ``seed``; ``layers`` ``(depth + 1,)``
    (0 is the input); ``std`` and ``closed_form_std``: init name -> ``(depth + 1,)``;
    ``slope``: init name -> fitted slope of ``log2 std`` per layer; ``anchors``."""

    width: int
    depth: int
    samples: int
    seed: int
    layers: np.ndarray
    std: dict[str, np.ndarray]
    closed_form_std: dict[str, np.ndarray]
    slope: dict[str, float]
    anchors: tuple[Anchor, ...]

    name = "he2015"

    @property
    def header(self) -> tuple[str, ...]:
        return ("layer l", "std, Xavier", "closed form (Xavier)", "std, He", "closed form (He)")

    @property
    def notes(self) -> tuple[str, ...]:
        """Nothing the table leaves out."""
        return ()

    @property
    def rows(self) -> tuple[tuple[float, ...], ...]:
        x, h = self.std["xavier"], self.std["he"]
        cx, ch = self.closed_form_std["xavier"], self.closed_form_std["he"]
        return tuple(
            (float(layer), float(x[i]), float(cx[i]), float(h[i]), float(ch[i]))
            for i, layer in enumerate(self.layers)
        )


def run(params: He2015Params = DEFAULTS, *, seed: int = 0) -> He2015Result:
    """Simulate ``samples`` ReLU nets of ``depth`` square layers of ``width`` per init."""
    width, depth, samples = params.width, params.depth, params.samples
    layers = np.arange(depth + 1)
    std, closed, slope = {}, {}, {}
    anchors = []
    for name, sigma_w2 in SIGMA_W2_BY_INIT.items():
        config = WideConfig(
            activation="relu",
            sigma_w2=sigma_w2,
            sigma_b2=0.0,
            width=width,
            depth=depth,
            samples=samples,
            seed=seed,
        )
        q = simulate(config).q  # (depth + 1,), q[0] the input's
        std[name] = np.sqrt(q)
        # q^1 = sigma_w2 q^0 (the input is not rectified), then each ReLU layer keeps half
        # the second moment: q^l = q^1 (sigma_w2 / 2)^(l - 1)
        closed[name] = np.sqrt(q[0] * np.r_[1.0, sigma_w2 * (sigma_w2 / 2.0) ** (layers[1:] - 1)])
        slope[name] = float(np.polyfit(layers[1:], np.log2(std[name][1:]), 1)[0])
    anchors = [
        Anchor(
            "slope of log2 std per layer, Xavier",
            -0.5,
            slope["xavier"],
            0.1,
            "He et al. 2015, Sec. 2.2: Var halves per ReLU layer at Var(w) = 1/n",
        ),
        Anchor(
            "slope of log2 std per layer, He",
            0.0,
            slope["he"],
            0.05,
            "He et al. 2015, Eq. 10: Var(w) = 2/n keeps the scale",
            absolute=True,
        ),
        Anchor(
            f"std at layer {depth} / std at layer 1, Xavier",
            float(2.0 ** (-(depth - 1) / 2)),
            float(std["xavier"][-1] / std["xavier"][1]),
            0.25,
            f"closed form 2^(-{depth - 1}/2)",
        ),
    ]
    return He2015Result(width, depth, samples, seed, layers, std, closed, slope, tuple(anchors))
