"""Hanin 2018: finite-width fluctuations of a ReLU net's output, E[Z^4] / E[Z^2]^2.

Hanin 2018 (Thm. 1) shows that in a ReLU net with weights of variance ``2 / fan_in`` the
second moment of the squared gradients, relative to its mean squared, grows exponentially in
``beta = sum_j 1/n_j`` over the hidden widths; Hanin & Rolnick 2018 (Thm. 5) show the same for
the squared length of the activations, with the rate ``5 beta``. For Gaussian weights and zero
biases the moment is exact, and it is the anchor here. Write ``z^j`` for layer ``j``'s
pre-activation and ``Q_j = (2 / n_j) |relu(z^j)|^2``. Given ``Q_(j-1)``, the units of ``z^j``
are i.i.d. ``N(0, Q_(j-1))``, so with ``g ~ N(0, 1)``, ``E[relu(g)^2] = 1/2`` and
``E[relu(g)^4] = 3/2``::

    E[Q_j | Q_(j-1)] = Q_(j-1),   E[Q_j^2 | Q_(j-1)] = Q_(j-1)^2 (1 + 5 / n_j)

and a unit ``Z`` of the next layer is ``N(0, Q_j)`` given ``Q_j``, so ``E[Z^4] = 3 E[Q_j^2]``::

    E[Z^4] / E[Z^2]^2 = 3 prod_(j=1)^(d-1) (1 + 5 / n_j)   ~   3 exp(5 beta)   for wide layers

(``3`` is the Gaussian value: infinitely wide layers, the mean-field limit). One deep net holds
every depth: unit ``z^d_i`` is the scalar output of the net truncated after ``d - 1`` hidden
layers. The nets are ``DenseNetwork`` s drawn with ``inits.he_normal`` and run by
``dense_backprop``, ``samples`` of them at once (a batch axis); the moments average over nets and
over the units of a layer (exchangeable, so the estimate is unbiased).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradtrace.core.dense import DenseNetwork, DenseSpec, dense_backprop
from gradtrace.core.inits import he_normal
from gradtrace.core.network import check_count
from gradtrace.reproduce import Anchor

__all__ = [
    "CITATION",
    "DEFAULTS",
    "QUICK",
    "TITLE",
    "Hanin2018Params",
    "Hanin2018Result",
    "closed_form",
    "run",
]

TITLE = "Fluctuations of a ReLU net's output: E[Z^4] / E[Z^2]^2 against 3 prod(1 + 5/n_j)"
CITATION = (
    "Hanin 2018, Which Neural Net Architectures Give Rise to Exploding and Vanishing "
    "Gradients?, NeurIPS, Thm. 1; Hanin & Rolnick 2018, How to Start Training, Thm. 5"
)

CHUNK = 5_000  # nets per dense_backprop call (memory: CHUNK x the weights)


def closed_form(hidden: tuple[int, ...]) -> np.ndarray:
    """``3 prod_(j<=d) (1 + 5/n_j)`` for ``d = 0 .. len(hidden)`` hidden layers."""
    return 3.0 * np.cumprod(np.r_[1.0, 1.0 + 5.0 / np.asarray(hidden, dtype=float)])


@dataclass(frozen=True, eq=False)
class Hanin2018Result:
    """**Fields:** ``widths`` (one tuple of hidden widths per architecture), ``samples``,
    ``seed``; per architecture: ``ratio`` and ``ratio_se`` (the measured ``E[Z^4]/E[Z^2]^2`` and
    its standard error after ``d = 0 ..`` hidden layers), ``closed`` (the closed form);
    ``anchors``: the deepest net of each architecture."""

    widths: tuple[tuple[int, ...], ...]
    input_width: int
    samples: int
    seed: int
    ratio: tuple[np.ndarray, ...]
    ratio_se: tuple[np.ndarray, ...]
    closed: tuple[np.ndarray, ...]
    anchors: tuple[Anchor, ...]

    name = "hanin2018"

    @property
    def header(self) -> tuple[str, ...]:
        return (
            "hidden widths n_j",
            "hidden layers",
            "E[Z^4]/E[Z^2]^2",
            "+- (se)",
            "3 prod(1 + 5/n_j)",
        )

    @property
    def notes(self) -> tuple[str, ...]:
        """Nothing the table leaves out."""
        return ()

    @property
    def rows(self) -> tuple[tuple[str | float, ...], ...]:
        rows: list[tuple[str | float, ...]] = []
        for w, r, se, c in zip(self.widths, self.ratio, self.ratio_se, self.closed, strict=True):
            label = f"{w[0]} x {len(w)}" if len(set(w)) == 1 else ",".join(map(str, w))
            rows += [
                (label, float(d), float(r[d]), float(se[d]), float(c[d])) for d in range(len(r))
            ]
        return tuple(rows)


def _moments(
    hidden: tuple[int, ...], input_width: int, samples: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per depth ``d = 0 .. len(hidden)``: the ratio and its standard error (delta method over
    nets), from ``samples`` He-initialized ReLU nets with one fixed input."""
    # the output layer (identity) as wide as the last hidden one: each unit is a scalar output
    widths = (input_width, *hidden, hidden[-1])
    spec = DenseSpec(
        widths, activation="relu", output_activation="identity", loss="l2", biases=False
    )
    x = np.ones(input_width)  # |x|^2 / n_0 = 1: the ratio does not depend on the input
    z2, z4 = [], []  # per chunk: (nets, depth + 1) means over the units of each layer
    for i, start in enumerate(range(0, samples, CHUNK)):
        n = min(CHUNK, samples - start)
        rng = np.random.default_rng([seed, i])
        weights = tuple(
            he_normal(rng, widths[k + 1], widths[k], batch_shape=(n,))
            for k in range(len(widths) - 1)
        )
        trace = dense_backprop(DenseNetwork(spec, weights), x, np.zeros(widths[-1]))
        # z[d] is the pre-activation after d hidden layers: the output of a depth-d net
        z2.append(np.stack([np.mean(z**2, axis=-1) for z in trace.z], -1))
        z4.append(np.stack([np.mean(z**4, axis=-1) for z in trace.z], -1))
    a, b = np.concatenate(z4), np.concatenate(z2)  # (samples, depth + 1)
    ma, mb = a.mean(0), b.mean(0)
    ratio = ma / mb**2
    # delta method: d(ratio) = da / mb^2 - 2 ma db / mb^3, per net, then the mean's se
    infl = a / mb**2 - 2.0 * ma * b / mb**3
    se = infl.std(0, ddof=1) / np.sqrt(a.shape[0])
    return ratio, se


@dataclass(frozen=True)
class Hanin2018Params:
    """The architectures and how many random nets of each."""

    widths: tuple[tuple[int, ...], ...] = (
        (10,) * 4,
        (20,) * 6,
        (50,) * 6,
    )  # hidden widths n_1 .. of each architecture
    input_width: int = 10  # inputs
    samples: int = 40_000  # random nets per architecture


DEFAULTS = Hanin2018Params()
QUICK = Hanin2018Params(samples=10_000)


def run(params: Hanin2018Params = DEFAULTS, *, seed: int = 0) -> Hanin2018Result:
    """``samples`` random nets of each architecture in ``widths`` (hidden widths ``n_1 ..``)."""
    widths, input_width, samples = (params.widths, params.input_width, params.samples)
    check_count("samples", samples, 2)
    check_count("input_width", input_width, 1)
    widths = tuple(tuple(int(n) for n in w) for w in widths)
    ratios, ses, closed, anchors = [], [], [], []
    for k, hidden in enumerate(widths):
        r, se = _moments(hidden, input_width, samples, seed + 1000 * k)
        c = closed_form(hidden)
        ratios.append(r)
        ses.append(se)
        closed.append(c)
        anchors.append(
            Anchor(
                f"E[Z^4]/E[Z^2]^2 after {len(hidden)} hidden layers of widths {','.join(map(str, hidden))}",
                float(c[-1]),
                float(r[-1]),
                0.1,
                "3 prod(1 + 5/n_j): exact for Gaussian weights of variance 2/fan_in",
            )
        )
    return Hanin2018Result(
        widths, input_width, samples, seed, tuple(ratios), tuple(ses), tuple(closed), tuple(anchors)
    )
