"""Glorot & Bengio 2010: back-propagated gradients and top-layer saturation, standard against
normalized initialization.

Two of the paper's observations:

1. **Back-propagated gradients at initialization** (Sec. 4.2, Eqs. 12-14 and Fig. 7). With the
   "standard" init ``W ~ U(-1/sqrt(n), 1/sqrt(n))`` (Eq. 1), ``n Var(W) = 1/3``, and in the
   linear regime of tanh each layer passed back multiplies the variance of ``dCost/ds`` by
   ``n Var(W)``: it shrinks toward the lower layers. The normalized init (Eq. 16,
   ``inits.xavier_uniform``: ``Var(W) = 2 / (n_in + n_out) = 1/n`` for equal widths) keeps it.
   Measured here: the variance of ``delta_k = dL/dz_k`` over units and inputs for each hidden
   layer of a tanh net (``dense_backprop``), and the per-layer factor fitted over the hidden
   layers, against ``1/3`` and ``1``.
2. **Top hidden layer saturation while training** (Sec. 3.1, Fig. 2). A net of 4 hidden sigmoid
   layers with standard init, trained by SGD: the top hidden layer's mean activation falls
   quickly toward 0 and stays there for a long time. Trained here on scikit-learn's digits
   (8x8 images, shipped with scikit-learn: no download), inputs scaled to [0, 1], by plain
   minibatch SGD on ``dense_backprop``'s gradients. The dense engine has no softmax, so the
   output is 10 linear units regressing the one-hot label under the l2 loss (the paper uses a
   softmax with negative log-likelihood; a linear output, like the softmax's logits, can lean on
   its biases, which is what the paper's explanation of the saturation turns on). Recorded per epoch: each hidden layer's mean activation
   over the training set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradtrace.core.dense import DenseNetwork, DenseSpec, dense_backprop
from gradtrace.core.inits import xavier_uniform
from gradtrace.core.network import check_count
from gradtrace.lab.datasets import load_digits
from gradtrace.reproduce import Anchor

__all__ = [
    "CITATION",
    "DEFAULTS",
    "QUICK",
    "TITLE",
    "Glorot2010Params",
    "Glorot2010Result",
    "load_digits",
    "run",
    "standard_uniform",
]

TITLE = "Back-propagated gradients and top-layer saturation: standard against normalized init"
CITATION = (
    "Glorot & Bengio 2010, Understanding the difficulty of training deep feedforward "
    "neural networks, AISTATS, Figs. 2 and 7, Eqs. 1, 12 and 16"
)

GLOROT_INITS = ("standard", "normalized")
"""The paper's two inits: "standard" (``standard_uniform``, Eq. 1) and "normalized" (Xavier's
``xavier_uniform``, Eq. 16)."""


def standard_uniform(
    rng: np.random.Generator, fan_out: int, fan_in: int, *, batch_shape: tuple[int, ...] = ()
) -> np.ndarray:
    """The "standard" init of Glorot & Bengio 2010, Eq. 1: ``U(-1/sqrt(n), 1/sqrt(n))``,
    ``n = fan_in`` (variance ``1 / (3 n)``)."""
    r = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-r, r, (*batch_shape, fan_out, fan_in))


def _draw(init: str, rng: np.random.Generator, widths: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    draw = standard_uniform if init == "standard" else xavier_uniform
    return tuple(draw(rng, widths[k + 1], widths[k]) for k in range(len(widths) - 1))


@dataclass(frozen=True, eq=False)
class Glorot2010Result:
    """**Fields:** ``seed``; at initialization: ``layers`` (hidden layers ``1 .. L-1``),
    ``grad_variance`` (init -> ``Var(dL/dz_k)`` per hidden layer), ``factor`` (init -> fitted
    per-layer factor); training: ``epochs`` (``0 ..``), ``mean_activation`` ``(epochs + 1,
    hidden layers)`` with standard init, ``accuracy`` per epoch (training set); ``anchors``."""

    seed: int
    width: int
    layers: np.ndarray
    grad_variance: dict[str, np.ndarray]
    factor: dict[str, float]
    train_widths: tuple[int, ...]
    learning_rate: float
    batch: int
    epochs: np.ndarray
    mean_activation: np.ndarray
    accuracy: np.ndarray
    anchors: tuple[Anchor, ...]

    name = "glorot2010"

    @property
    def header(self) -> tuple[str, ...]:
        return ("hidden layer k", "Var(dL/dz_k), standard", "Var(dL/dz_k), normalized")

    @property
    def notes(self) -> tuple[str, ...]:
        """The training run in words: the top hidden layer's mean activation and the accuracy."""
        top = ", ".join(f"{v:.3g}" for v in self.mean_activation[:, -1])
        acc = ", ".join(f"{v:.3f}" for v in self.accuracy)
        w = "-".join(map(str, self.train_widths))
        return (
            f"Training a {w} sigmoid net (standard init, linear output, l2 on one-hot labels) on "
            f"the 1,797 digits by SGD (learning rate {self.learning_rate:g}, minibatches of "
            f"{self.batch}). Top hidden layer's mean activation, before training and after each "
            f"epoch: {top}.",
            f"Training accuracy per epoch: {acc}.",
        )

    @property
    def rows(self) -> tuple[tuple[float, ...], ...]:
        s, n = self.grad_variance["standard"], self.grad_variance["normalized"]
        return tuple((float(k), float(s[i]), float(n[i])) for i, k in enumerate(self.layers))


def _gradient_variance(
    init: str, width: int, depth: int, inputs: int, input_std: float, seed: int
) -> np.ndarray:
    """Var(dL/dz_k) per hidden layer of ``depth - 1`` tanh layers of ``width``, l2 loss against a
    random target, over units and ``inputs`` random inputs."""
    widths = (width,) * (depth + 1)
    rng = np.random.default_rng([seed, 1])
    spec = DenseSpec(
        widths, activation="tanh", output_activation="identity", loss="l2", biases=False
    )
    x = input_std * rng.standard_normal((inputs, width))
    target = rng.standard_normal((inputs, width))
    trace = dense_backprop(DenseNetwork(spec, _draw(init, rng, widths)), x, target)
    return np.array([np.var(d) for d in trace.delta[:-1]])


def _train(
    x: np.ndarray,
    labels: np.ndarray,
    widths: tuple[int, ...],
    *,
    lr: float,
    batch: int,
    epochs: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """SGD on the sigmoid net (standard init, zero biases); mean activation of each hidden layer
    and the accuracy, on the whole set, before training and after each epoch."""
    rng = np.random.default_rng([seed, 2])
    spec = DenseSpec(widths, activation="sigmoid", output_activation="identity", loss="l2")
    weights = list(_draw("standard", rng, widths))
    biases = [np.zeros(n) for n in widths[1:]]
    onehot = np.eye(widths[-1])[labels]

    def measure() -> tuple[np.ndarray, float]:
        t = dense_backprop(DenseNetwork(spec, tuple(weights), tuple(biases)), x, onehot)
        means = np.array([a.mean() for a in t.a[:-1]])
        return means, float(np.mean(t.prediction.argmax(-1) == labels))

    means, accs = [], []
    m, acc = measure()
    means.append(m)
    accs.append(acc)
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch):
            idx = order[start : start + batch]
            t = dense_backprop(
                DenseNetwork(spec, tuple(weights), tuple(biases)), x[idx], onehot[idx]
            )
            for k in range(len(weights)):  # w <- w - lr * mean over the minibatch of dL/dw
                weights[k] = weights[k] - lr * t.grad_weight[k].mean(0)
                biases[k] = biases[k] - lr * t.grad_bias[k].mean(0)  # type: ignore[index]
        m, acc = measure()
        means.append(m)
        accs.append(acc)
    return np.array(means), np.array(accs)


@dataclass(frozen=True)
class Glorot2010Params:
    """What ``run`` computes: part 1 (tanh nets at initialization) and part 2 (a sigmoid net
    trained on the digits)."""

    width: int = 100  # part 1: units per tanh layer
    depth: int = 6  # part 1: layers
    inputs: int = 100  # part 1: random inputs
    input_std: float = 0.5  # part 1: their std
    hidden: int = 100  # part 2: units in each of the 4 hidden layers
    epochs: int = 10  # part 2: passes over the digits
    learning_rate: float = 0.1  # part 2: SGD
    batch: int = 10  # part 2: minibatch size


DEFAULTS = Glorot2010Params()
QUICK = Glorot2010Params(epochs=2)


def run(params: Glorot2010Params = DEFAULTS, *, seed: int = 0) -> Glorot2010Result:
    """Part 1 at ``depth`` tanh layers of ``width`` (``inputs`` random inputs); part 2: 4 hidden
    sigmoid layers of ``hidden`` units on the digits, ``epochs`` of SGD."""
    width, depth, inputs, input_std, hidden, epochs, learning_rate, batch = (
        params.width,
        params.depth,
        params.inputs,
        params.input_std,
        params.hidden,
        params.epochs,
        params.learning_rate,
        params.batch,
    )
    for name, v in (
        ("width", width),
        ("depth", depth),
        ("inputs", inputs),
        ("hidden", hidden),
        ("batch", batch),
    ):
        check_count(name, v, 3 if name == "depth" else 1)
    check_count("epochs", epochs, 0)
    variance: dict[str, np.ndarray] = {}
    factor: dict[str, float] = {}
    layers = np.arange(1, depth)
    for init in GLOROT_INITS:
        var_k = _gradient_variance(init, width, depth, inputs, input_std, seed)
        variance[init] = var_k
        # per layer passed back: log-linear fit of Var(dL/dz_k) against L - k
        factor[init] = float(np.exp(-np.polyfit(layers, np.log(var_k), 1)[0]))
    x, labels = load_digits()
    train_widths = (x.shape[1], hidden, hidden, hidden, hidden, 10)
    means, acc = _train(
        x, labels, train_widths, lr=learning_rate, batch=batch, epochs=epochs, seed=seed
    )
    top = means[:, -1]
    anchors = (
        Anchor(
            "Var(dL/dz) factor per layer passed back, standard init",
            1.0 / 3.0,
            factor["standard"],
            0.25,
            "n Var(W) = 1/3 for U(-1/sqrt(n), 1/sqrt(n)) (Glorot & Bengio 2010, Eqs. 1 and 12)",
        ),
        Anchor(
            "Var(dL/dz) factor per layer passed back, normalized init",
            1.0,
            factor["normalized"],
            0.25,
            "n Var(W) = 1 for Eq. 16 with equal widths: the variance is kept",
        ),
        Anchor(
            "top hidden layer's lowest mean activation while training, standard init",
            0.0,
            float(top[1:].min()) if epochs else float(top[0]),
            0.1,
            "Glorot & Bengio 2010, Fig. 2: the top hidden layer saturates toward 0",
            absolute=True,
        ),
    )
    return Glorot2010Result(
        seed,
        width,
        layers,
        variance,
        factor,
        train_widths,
        learning_rate,
        batch,
        np.arange(epochs + 1),
        means,
        acc,
        anchors,
    )
