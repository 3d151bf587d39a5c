"""Losses in the exercise's forms and their derivatives with respect to the prediction.

Notation (the exercise's): ``y`` is the prediction, ``y_hat`` the label or target.

* bce: ``L(y, y_hat) = -(y_hat log y + (1 - y_hat) log(1 - y))``.
* l2:  ``L(y, y_hat) = (y_hat - y)**2`` (no factor 1/2, as in the exercise).
* huber: ``L = r**2 / 2`` for ``|r| <= 1``, else ``|r| - 1/2``, with ``r = y - y_hat`` (Huber 1964,
  delta = 1): quadratic near the target, linear far from it, so ``|dL/dy| <= 1``.

When the output activation is the sigmoid, ``y = s(z)`` and the engine works from the logit
``z``: ``L = softplus(z) - y_hat z`` and ``dL/dz = s(z) - y_hat`` (the sigmoid's derivative
cancels the denominator of ``dL/dy``). This keeps the loss finite and its gradient exact even
when ``y`` rounds to exactly 0 or 1 in float64.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy as sp

from gradtrace.core.activations import sigmoid
from gradtrace.core.errors import SpecError

__all__ = [
    "LOSSES",
    "Loss",
    "bce",
    "bce_dloss_dprediction_from_logit",
    "bce_from_logit",
    "bce_grad",
    "bce_grad_logit",
    "get_loss",
    "huber",
    "huber_grad",
    "l2",
    "l2_grad",
]

Array = np.ndarray


def bce(y: Array, y_hat: Array) -> Array:
    """Binary cross-entropy from the probability ``y``; a zero-weight term contributes 0."""
    y, y_hat = np.asarray(y, dtype=np.float64), np.asarray(y_hat, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        pos = np.where(y_hat != 0, y_hat * np.log(y), 0.0)
        neg = np.where(y_hat != 1, (1 - y_hat) * np.log1p(-y), 0.0)
    return -(pos + neg)


def bce_grad(y: Array, y_hat: Array) -> Array:
    """dL/dy of bce: ``-y_hat / y + (1 - y_hat) / (1 - y)``."""
    y, y_hat = np.asarray(y, dtype=np.float64), np.asarray(y_hat, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(y_hat != 0, -y_hat / y, 0.0) + np.where(
            y_hat != 1, (1 - y_hat) / (1 - y), 0.0
        )


def bce_from_logit(z: Array, y_hat: Array) -> Array:
    """bce of ``y = s(z)``: ``softplus(z) - y_hat z``, finite for every finite ``z``."""
    z, y_hat = np.asarray(z, dtype=np.float64), np.asarray(y_hat, dtype=np.float64)
    return np.maximum(z, 0.0) - y_hat * z + np.log1p(np.exp(-np.abs(z)))


def bce_dloss_dprediction_from_logit(z: Array, y_hat: Array) -> Array:
    """dL/dy of bce at ``y = s(z)``: ``-y_hat (1 + e^-z) + (1 - y_hat)(1 + e^z)``.

    ``1/y = 1 + e^-z`` and ``1/(1 - y) = 1 + e^z`` are exact where ``y`` itself rounds to 0 or 1;
    the result is ``+-inf`` only where the true value is beyond float64's range.
    """
    z, y_hat = np.asarray(z, dtype=np.float64), np.asarray(y_hat, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):  # 0 * inf in the branch np.where drops
        pos = np.where(y_hat != 0, -y_hat * (1.0 + np.exp(-z)), 0.0)
        neg = np.where(y_hat != 1, (1.0 - y_hat) * (1.0 + np.exp(z)), 0.0)
    return pos + neg


def bce_grad_logit(z: Array, y_hat: Array) -> Array:
    """dL/dz of bce at ``y = s(z)``: ``s(z) - y_hat``, written ``(1 - y_hat) s(z) - y_hat s(-z)``.

    Both terms are exact, so the result keeps full relative precision unless the residual itself
    is small (``s(30) - 1`` computed naively loses 3 of 16 digits; this form loses none).
    """
    z, y_hat = np.asarray(z, dtype=np.float64), np.asarray(y_hat, dtype=np.float64)
    return (1.0 - y_hat) * sigmoid(z) - y_hat * sigmoid(-z)


def l2(y: Array, y_hat: Array) -> Array:
    """Squared error ``(y_hat - y)**2``."""
    return (np.asarray(y_hat, dtype=np.float64) - y) ** 2


def l2_grad(y: Array, y_hat: Array) -> Array:
    """dL/dy of l2: ``-2 (y_hat - y)``."""
    return -2.0 * (np.asarray(y_hat, dtype=np.float64) - y)


HUBER_DELTA = 1.0


def huber(y: Array, y_hat: Array) -> Array:
    """Huber loss with delta 1: ``r^2 / 2`` for ``|r| <= 1``, else ``|r| - 1/2``."""
    r = np.asarray(y, dtype=np.float64) - np.asarray(y_hat, dtype=np.float64)
    a = np.abs(r)
    return np.where(a <= HUBER_DELTA, 0.5 * r * r, HUBER_DELTA * (a - 0.5 * HUBER_DELTA))


def huber_grad(y: Array, y_hat: Array) -> Array:
    """dL/dy of the Huber loss: the residual clipped to [-1, 1]."""
    r = np.asarray(y, dtype=np.float64) - np.asarray(y_hat, dtype=np.float64)
    return np.clip(r, -HUBER_DELTA, HUBER_DELTA)


def _huber_sympy(y: sp.Expr, y_hat: sp.Expr) -> sp.Expr:
    r = y - y_hat
    d = sp.Integer(1)
    return sp.Piecewise((r**2 / 2, sp.Abs(r) <= d), (d * (sp.Abs(r) - d / 2), True))


@dataclass(frozen=True)
class Loss:
    """A loss ``L(y, y_hat)`` with its derivative and SymPy form.

    **Fields:**
    - ``name``: the name used on the command line.
    - ``value``, ``grad``: ``L`` and ``dL/dy`` on float64 arrays.
    - ``sympy``: ``(y, y_hat) -> L`` as a SymPy expression.
    - ``label_range``: closed interval the label must lie in (bce: ``[0, 1]``).
    """

    name: str
    value: Callable[[Array, Array], Array]
    grad: Callable[[Array, Array], Array]
    sympy: Callable[[sp.Expr, sp.Expr], sp.Expr]
    label_range: tuple[float, float]

    def __repr__(self) -> str:
        return f"Loss({self.name!r})"


LOSSES: dict[str, Loss] = {
    "bce": Loss(
        "bce",
        bce,
        bce_grad,
        lambda y, y_hat: -(y_hat * sp.log(y) + (1 - y_hat) * sp.log(1 - y)),
        (0.0, 1.0),
    ),
    "l2": Loss("l2", l2, l2_grad, lambda y, y_hat: (y_hat - y) ** 2, (-np.inf, np.inf)),
    "huber": Loss("huber", huber, huber_grad, _huber_sympy, (-np.inf, np.inf)),
}
"""Every loss by name."""


def get_loss(name: str) -> Loss:
    """The loss called ``name``; SpecError naming the choices for an unknown name."""
    try:
        return LOSSES[name]
    except (KeyError, TypeError):
        raise SpecError(
            f"unknown loss {name!r} (choose from {', '.join(LOSSES)})", field="loss"
        ) from None
