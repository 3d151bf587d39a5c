"""Training a dense classifier by minibatch SGD on the dense engine's gradients.

The net is a ``DenseSpec`` with ``n_L`` linear output units regressing the one-hot label under
the l2 loss (the engine has no softmax; the predicted class is the largest output). Each step
draws a minibatch without replacement from ``rng`` (a fresh permutation each epoch) and moves
every weight and bias by ``-learning_rate`` times the minibatch mean of ``dense_backprop``'s
``dL/dW_k``, ``dL/db_k`` (``batch_mean=True``; plain SGD; Goodfellow, Bengio & Courville 2016, Algorithm 8.1).
A step whose loss or gradients are not finite stops the run (``diverged``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradtrace.core.dense import DenseNetwork, DenseSpec, dense_backprop
from gradtrace.core.network import check_count

__all__ = ["ClassifierRun", "accuracy", "train_classifier"]


@dataclass(frozen=True, eq=False)
class ClassifierRun:
    """What ``train_classifier`` returns.

    **Fields:**
    - ``weights``, ``biases``: the trained parameters (the last finite ones if it diverged).
    - ``losses``: ``(steps taken,)``, the minibatch mean loss before each step.
    - ``diverged``: whether a step gave a non-finite loss or gradient (training stopped there).
    """

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...] | None
    losses: np.ndarray
    diverged: bool


def accuracy(
    spec: DenseSpec,
    weights: tuple[np.ndarray, ...],
    biases: tuple[np.ndarray, ...] | None,
    x: np.ndarray,
    labels: np.ndarray,
) -> float:
    """The share of ``x`` ``(n, n_0)`` whose largest output is its label ``(n,)``."""
    onehot = np.eye(spec.widths[-1])[labels]
    # batch_mean: no per-sample (n, n_k, n_(k-1)) gradients for a whole data set
    t = dense_backprop(DenseNetwork(spec, weights, biases), x, onehot, batch_mean=True)
    return float(np.mean(t.prediction.argmax(-1) == labels))


def train_classifier(
    spec: DenseSpec,
    weights: tuple[np.ndarray, ...],
    biases: tuple[np.ndarray, ...] | None,
    x: np.ndarray,
    labels: np.ndarray,
    *,
    learning_rate: float,
    batch: int,
    steps: int,
    rng: np.random.Generator,
) -> ClassifierRun:
    """``steps`` SGD steps on ``x`` ``(n, n_0)``, integer ``labels`` ``(n,)`` in ``[0, n_L)``,
    from ``weights`` / ``biases``, minibatches of ``batch`` drawn from ``rng``."""
    check_count("steps", steps, 0)
    check_count("batch", batch, 1)
    onehot = np.eye(spec.widths[-1])[labels]
    ws = list(weights)
    bs = list(biases) if biases is not None else None
    losses: list[float] = []
    order = rng.permutation(len(x))
    at = 0
    for _ in range(steps):
        if at + batch > len(order):  # a new epoch: a new permutation
            order, at = rng.permutation(len(x)), 0
        idx = order[at : at + batch]
        at += batch
        with np.errstate(over="ignore", invalid="ignore"):
            t = dense_backprop(
                DenseNetwork(spec, tuple(ws), None if bs is None else tuple(bs)),
                x[idx],
                onehot[idx],
                batch_mean=True,  # grad_weight: the minibatch mean of dL/dW_k
            )
            loss = float(t.loss.mean())
            dws = list(t.grad_weight)
            dbs = None if t.grad_bias is None else list(t.grad_bias)
        finite = np.isfinite(loss) and all(np.isfinite(g).all() for g in dws)
        if dbs is not None:
            finite = finite and all(np.isfinite(g).all() for g in dbs)
        if not finite:
            return ClassifierRun(
                tuple(ws), None if bs is None else tuple(bs), np.array(losses), True
            )
        losses.append(loss)
        for k in range(len(ws)):  # w <- w - lr * dL/dw
            ws[k] = ws[k] - learning_rate * dws[k]
            if bs is not None and dbs is not None:
                bs[k] = bs[k] - learning_rate * dbs[k]
    return ClassifierRun(tuple(ws), None if bs is None else tuple(bs), np.array(losses), False)
