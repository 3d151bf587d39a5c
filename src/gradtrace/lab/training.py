"""Training dynamics: plain gradient descent on chain networks, recorded step by step.

Full-batch gradient descent, ``w <- w - lr * mean_i dL_i/dw`` (the exercise's single sample, or
a small seeded 1-D dataset), with every step's loss, weights, gradients and relative updates
``|lr dL/dw_k| / |w_k|`` kept as data. The run is classified, in this order:

* **diverged**: the loss or a weight became non-finite, or the loss exceeded ``divergence_factor``
  times its starting value; the run stops there (no NaN is carried on);
* **converged**: the loss fell to ``tolerance`` or below;
* **oscillating**: some weight's update changed sign on more than 30 % of the steps in the second
  half of the run (gradient descent overshooting along a steep direction);
* **stalled**: every gradient is exactly 0 (dead units): no weight can move.
* **decreasing**: none of these yet after ``steps`` steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gradtrace.core.backprop import backprop
from gradtrace.core.errors import SpecError
from gradtrace.core.network import ChainSpec, Network, check_finite

__all__ = ["MAX_STEPS", "TrainConfig", "TrainHistory", "clip_gradient", "make_dataset", "train"]

MAX_STEPS = 100_000
OSCILLATION_SHARE = 0.3


def make_dataset(spec: ChainSpec, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A small 1-D dataset for ``spec``'s loss, drawn from ``default_rng(seed)``.

    bce: ``x ~ U(-3, 3)``, label 1 where ``x > 0.3`` (a threshold the chain must learn).
    l2: ``x ~ U(-3, 3)``, target ``128 s(x)`` (targets on the exercise's scale, up to 128).
    """
    if n < 1:
        raise SpecError(f"dataset size must be at least 1, got {n}", field="dataset")
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3.0, 3.0, n)
    if spec.loss == "bce":
        return x, (x > 0.3).astype(np.float64)
    return x, 128.0 / (1.0 + np.exp(-x))


@dataclass(frozen=True, eq=False)
class TrainConfig:
    """What to train.

    **Fields:** ``network`` (the starting weights); ``x``, ``target`` (one sample or a dataset,
    ``(n,)``); ``learning_rate`` (> 0); ``steps`` (1 to 100,000); ``tolerance`` (the loss that
    counts as converged); ``divergence_factor`` (a loss this many times the start counts as
    diverged).
    """

    network: Network
    x: np.ndarray  # (n,); a number is taken as one sample
    target: np.ndarray  # (n,)
    learning_rate: float
    steps: int = 1000
    tolerance: float = 1e-6
    divergence_factor: float = 1e6
    clip_norm: float | None = None  # Pascanu et al. 2013, Algorithm 1: rescale g when ||g|| > c

    def __post_init__(self) -> None:
        if self.network.batch_shape:
            raise SpecError("train one network at a time (weights of shape (L,))", field="weights")
        object.__setattr__(self, "x", np.atleast_1d(check_finite("x", self.x)))
        object.__setattr__(
            self, "target", np.atleast_1d(self.network.spec.check_target(self.target))
        )
        if self.x.shape != self.target.shape:
            raise SpecError(
                f"x and target must have the same length, got {self.x.size} and {self.target.size}",
                field="target",
            )
        lr = float(check_finite("learning rate", self.learning_rate, field="learning_rate"))
        if lr <= 0:
            raise SpecError(
                f"learning rate must be positive, got {self.learning_rate:g}", field="learning_rate"
            )
        if isinstance(self.steps, bool) or not 1 <= self.steps <= MAX_STEPS:
            raise SpecError(
                f"steps must be between 1 and {MAX_STEPS}, got {self.steps}", field="steps"
            )
        if float(check_finite("tolerance", self.tolerance)) < 0:
            raise SpecError(
                f"tolerance must be at least 0, got {self.tolerance:g}", field="tolerance"
            )
        if (
            self.clip_norm is not None
            and not float(check_finite("clip norm", self.clip_norm, field="clip_norm")) > 0
        ):
            raise SpecError(
                f"clip norm must be positive, got {self.clip_norm:g}", field="clip_norm"
            )


@dataclass(frozen=True, eq=False)
class TrainHistory:
    """Every step of one run (``T`` = steps taken).

    **Fields:** ``loss`` ``(T+1,)`` (before each step and after the last); ``weights``
    ``(T+1, L)``; ``grads`` ``(T, L)`` (at ``weights[t]``, before any clipping);
    ``relative_update`` ``(T, L)`` (of the step actually taken);
    ``outcome`` (``converged``, ``diverged``, ``oscillating``, ``stalled``, ``decreasing``);
    ``converged_at``
    and ``diverged_at`` (step indices or None); ``message``: the outcome in a sentence.
    """

    config: TrainConfig
    loss: np.ndarray
    weights: np.ndarray
    grads: np.ndarray
    relative_update: np.ndarray
    outcome: str
    converged_at: int | None
    diverged_at: int | None
    message: str

    @property
    def steps_taken(self) -> int:
        return self.grads.shape[0]

    @property
    def total_relative_change(self) -> np.ndarray:
        """``|w_k(end) - w_k(start)| / |w_k(start)|`` per layer."""
        w0, w1 = self.weights[0], self.weights[-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.abs(w1 - w0) / np.abs(w0)


def clip_gradient(g: np.ndarray, threshold: float | None) -> np.ndarray:
    """Gradient-norm clipping (Pascanu, Mikolov & Bengio 2013, Algorithm 1): if
    ``||g||_2 >= threshold`` then ``g <- threshold / ||g||_2 * g``; the direction is kept."""
    if threshold is None:
        return g
    norm = float(np.linalg.norm(g))
    return g * (threshold / norm) if norm >= threshold else g


def _loss_and_grad(
    spec: ChainSpec, w: np.ndarray, x: np.ndarray, t: np.ndarray
) -> tuple[float, np.ndarray]:
    trace = backprop(Network(spec, w), x, t)  # x, t: (n,) -> per-sample traces
    return float(np.mean(trace.loss)), trace.grad_weight.mean(axis=0)


def train(
    config: TrainConfig, *, progress: Callable[[int, int], None] | None = None
) -> TrainHistory:
    """Run gradient descent and classify the run; never raises on divergence, never returns NaN.
    ``progress(done, total)`` is called every 1 % of the steps."""
    spec = config.network.spec
    lr = float(config.learning_rate)
    w = config.network.weights.astype(np.float64).copy()
    losses, weights, grads, rel = [], [w.copy()], [], []
    diverged_at = converged_at = None
    loss0 = None
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for step in range(config.steps + 1):
            loss, g = _loss_and_grad(spec, w, config.x, config.target)
            if loss0 is None:
                loss0 = loss
            bad = not (np.isfinite(loss) and np.isfinite(g).all())
            if bad or loss > config.divergence_factor * max(loss0, 1e-300):
                diverged_at = step
                break
            losses.append(loss)
            if converged_at is None and loss <= config.tolerance:
                converged_at = step
                break
            if step == config.steps:
                break
            if progress is not None and step % max(1, config.steps // 100) == 0:
                progress(step, config.steps)
            update = lr * clip_gradient(g, config.clip_norm)
            new_w = w - update
            if not np.isfinite(new_w).all():
                diverged_at = step + 1
                break
            grads.append(g)
            rel.append(np.abs(update) / np.abs(w))
            w = new_w
            weights.append(w.copy())
    # keep the steps whose loss was finite: T of them after the start (a diverging run drops the
    # update that left float64's range; the starting weights always stay)
    T = max(len(losses) - 1, 0)
    loss_arr = np.array(losses)
    grads_arr = np.array(grads).reshape(-1, spec.depth)[:T]
    rel_arr = np.array(rel).reshape(-1, spec.depth)[:T]
    weights_arr = np.array(weights)[: T + 1]
    outcome, message = _classify(loss_arr, grads_arr, converged_at, diverged_at, config)
    return TrainHistory(
        config,
        loss_arr,
        weights_arr,
        grads_arr,
        rel_arr,
        outcome,
        converged_at,
        diverged_at,
        message,
    )


def _classify(
    loss: np.ndarray,
    grads: np.ndarray,
    converged_at: int | None,
    diverged_at: int | None,
    config: TrainConfig,
) -> tuple[str, str]:
    if diverged_at is not None:
        last = f"{loss[-1]:.4g}" if loss.size else "n/a"
        return "diverged", (
            f"diverged at step {diverged_at}: the loss or a weight left float64's range or grew "
            f"{config.divergence_factor:g}x (last finite loss {last})"
        )
    if converged_at is not None:
        return (
            "converged",
            f"converged at step {converged_at}: loss {loss[-1]:.4g} <= {config.tolerance:g}",
        )
    if grads.size and not np.any(grads):
        return "stalled", (
            f"stalled: every gradient is exactly 0 (no unit passes a gradient back: dead relus or "
            f"zero weights), so no weight moves (loss {loss[-1]:.4g} after {grads.shape[0]} steps)"
        )
    half = grads[grads.shape[0] // 2 :]
    if half.shape[0] >= 4:
        flips = np.mean(np.sign(half[1:]) * np.sign(half[:-1]) < 0, axis=0)  # per layer
        k = int(np.argmax(flips))
        if flips[k] > OSCILLATION_SHARE:
            return "oscillating", (
                f"oscillating: the update of w{k + 1} changed sign on {100 * flips[k]:.0f}% of the later "
                f"steps (loss {loss[-1]:.4g} after {grads.shape[0]} steps)"
            )
    return (
        "decreasing",
        f"not converged after {grads.shape[0]} steps: loss {loss[0]:.4g} -> {loss[-1]:.4g}",
    )
