"""Activation functions: value, first and second derivative, log-space rule and SymPy form.

Every rule is written so that it is exact (to float64 rounding) for every finite input:

* sigmoid uses ``e = exp(-|z|)``, which never overflows, so ``s(-1000) == 0.0`` and
  ``s(1e308) == 1.0`` without a warning; ``s'(z) = e / (1 + e)**2`` keeps full relative
  precision in the tails where ``s(z) * (1 - s(z))`` would round to 0.
* tanh's derivative is ``sech(z)**2`` written through ``exp(-2|z|)`` for the same reason
  (``1 - tanh(z)**2`` cancels catastrophically once ``|z| > 19``).

Notation: ``z`` is a pre-activation, ``phi`` the activation, ``d1 = phi'``, ``d2 = phi''``.

The log-space rule ``log_forward(lz, sz)`` takes ``z`` as ``(log|z|, sign z)`` and returns
``(log|a|, sign a, log|phi'(z)|)``; the log-magnitude backward pass (see ``backprop.py``) uses
it to follow chains whose values leave float64's range.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy as sp

from gradtrace.core.errors import SpecError

__all__ = ["ACTIVATIONS", "LEAKY_SLOPE", "Activation", "get_activation", "log_sigmoid", "sigmoid"]

LEAKY_SLOPE = 0.01
"""Negative-side slope of leaky_relu (PyTorch's default ``negative_slope``)."""

_LN_LEAKY = float(np.log(LEAKY_SLOPE))

Array = np.ndarray
Rule = Callable[[Array], Array]
LogRule = Callable[[Array, Array], tuple[Array, Array, Array]]


@dataclass(frozen=True)
class Activation:
    """One activation function and everything the engine needs to know about it.

    **Fields:**
    - ``name``: the name used on the command line and in specs.
    - ``value``, ``d1``, ``d2``: ``phi(z)``, ``phi'(z)``, ``phi''(z)`` on float64 arrays.
    - ``log_forward``: ``(log|z|, sign z) -> (log|a|, sign a, log|phi'(z)|)``.
    - ``sympy``: ``phi`` as a SymPy expression of a real symbol.
    - ``bounds``: the open interval of ``phi``'s range, ``(-inf, inf)`` when unbounded.
    - ``sympy_inverse``: ``a -> z`` with ``phi(z) = a`` where ``phi`` is invertible, else None;
      the symbolic module uses it to write ``phi'(z)`` in terms of ``a`` (``s' = a (1 - a)``).
    """

    name: str
    value: Rule
    d1: Rule
    d2: Rule
    log_forward: LogRule
    sympy: Callable[[sp.Expr], sp.Expr]
    bounds: tuple[float, float]
    sympy_inverse: Callable[[sp.Expr], sp.Expr] | None = None

    def __repr__(self) -> str:
        return f"Activation({self.name!r})"


def _as_float(z: Array | float) -> Array:
    return np.asarray(z, dtype=np.float64)


def _softplus(u: Array) -> Array:
    """log(1 + exp(u)) without overflow."""
    return np.maximum(u, 0.0) + np.log1p(np.exp(-np.abs(u)))


def _from_log(lz: Array, sz: Array) -> Array:
    """``sign * exp(log|z|)``; ``+-inf`` when the magnitude is beyond float64."""
    with np.errstate(over="ignore"):
        return sz * np.exp(lz)


# ---- sigmoid: s(z) = 1 / (1 + exp(-z)); s' = s (1 - s); s'' = s' (1 - 2 s) --------------------


def sigmoid(z: Array | float) -> Array:
    """The logistic sigmoid, stable for every finite float (no overflow, no warning)."""
    z = _as_float(z)
    e = np.exp(-np.abs(z))  # in (0, 1]: never overflows
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def log_sigmoid(z: Array | float) -> Array:
    """log s(z) = -softplus(-z), exact in both tails."""
    z = _as_float(z)
    return np.minimum(z, 0.0) - np.log1p(np.exp(-np.abs(z)))


def _sigmoid_d1(z: Array) -> Array:
    e = np.exp(-np.abs(_as_float(z)))
    return e / (1.0 + e) ** 2


def _sigmoid_d2(z: Array) -> Array:
    # s'' = s' (1 - 2 s) = -s' tanh(z / 2)
    z = _as_float(z)
    return -_sigmoid_d1(z) * np.tanh(z / 2.0)


def _sigmoid_log(lz: Array, sz: Array) -> tuple[Array, Array, Array]:
    z = _from_log(lz, sz)
    a_log = log_sigmoid(z)
    # log s'(z) = log s(z) + log s(-z) = -|z| - 2 log(1 + exp(-|z|))
    d1_log = -np.abs(z) - 2.0 * np.log1p(np.exp(-np.abs(z)))
    return a_log, np.ones_like(a_log), d1_log


# ---- tanh: tanh' = sech^2 = 4 e / (1 + e)^2 with e = exp(-2|z|) ---------------------------------


def _tanh_d1(z: Array) -> Array:
    e = np.exp(-2.0 * np.abs(_as_float(z)))
    return 4.0 * e / (1.0 + e) ** 2


def _tanh_d2(z: Array) -> Array:
    z = _as_float(z)
    return -2.0 * np.tanh(z) * _tanh_d1(z)


def _tanh_log(lz: Array, sz: Array) -> tuple[Array, Array, Array]:
    z = _from_log(lz, sz)
    absz = np.abs(z)
    small = absz < 1e-8
    with np.errstate(divide="ignore"):
        # tanh(z) = z (1 + O(z^2)): below 1e-8 log|tanh z| = log|z| to float64 precision
        a_log = np.where(small, lz, np.log(np.tanh(absz)))
    d1_log = np.log(4.0) - 2.0 * absz - 2.0 * np.log1p(np.exp(-2.0 * absz))
    return a_log, sz.astype(np.float64), d1_log


# ---- relu and leaky_relu: piecewise linear; phi'(0) is taken as the left slope, as in PyTorch ----


def _relu(z: Array) -> Array:
    return np.maximum(_as_float(z), 0.0)


def _relu_d1(z: Array) -> Array:
    return (_as_float(z) > 0).astype(np.float64)


def _zero_d2(z: Array) -> Array:
    return np.zeros_like(_as_float(z))


def _relu_log(lz: Array, sz: Array) -> tuple[Array, Array, Array]:
    pos = sz > 0
    return (
        np.where(pos, lz, -np.inf),
        pos.astype(np.float64),
        np.where(pos, 0.0, -np.inf),
    )


def _leaky(z: Array) -> Array:
    z = _as_float(z)
    return np.where(z > 0, z, LEAKY_SLOPE * z)


def _leaky_d1(z: Array) -> Array:
    return np.where(_as_float(z) > 0, 1.0, LEAKY_SLOPE)


def _leaky_log(lz: Array, sz: Array) -> tuple[Array, Array, Array]:
    pos = sz > 0
    return np.where(pos, lz, lz + _LN_LEAKY), sz.astype(np.float64), np.where(pos, 0.0, _LN_LEAKY)


# ---- softsign: z / (1 + |z|); phi' = 1 / (1 + |z|)^2; phi'' = -2 sign(z) / (1 + |z|)^3 -----------


def _softsign(z: Array) -> Array:
    z = _as_float(z)
    r = np.abs(z)
    with np.errstate(invalid="ignore"):
        return np.where(np.isinf(r), np.sign(z), z / (1.0 + r))


def _softsign_d1(z: Array) -> Array:
    return 1.0 / (1.0 + np.abs(_as_float(z))) ** 2


def _softsign_d2(z: Array) -> Array:
    z = _as_float(z)
    return -2.0 * np.sign(z) / (1.0 + np.abs(z)) ** 3


def _softsign_log(lz: Array, sz: Array) -> tuple[Array, Array, Array]:
    log1p_absz = _softplus(lz)  # log(1 + |z|) from log|z|, exact for tiny and huge |z|
    return lz - log1p_absz, sz.astype(np.float64), -2.0 * log1p_absz


# ---- identity ------------------------------------------------------------------------------------


def _identity(z: Array) -> Array:
    return _as_float(z).copy()


def _one(z: Array) -> Array:
    return np.ones_like(_as_float(z))


def _identity_log(lz: Array, sz: Array) -> tuple[Array, Array, Array]:
    return lz, sz.astype(np.float64), np.zeros_like(lz)


def _piecewise_linear(slope: sp.Expr) -> Callable[[sp.Expr], sp.Expr]:
    """``slope z + (1 - slope) max(0, z)``: Max nests linearly with depth (nested Piecewise
    conditions grow exponentially), and with ``Heaviside(0) = 0`` its derivative has the left
    slope at 0, as PyTorch does."""
    return lambda z: slope * z + (1 - slope) * sp.Max(0, z)


_INF = float("inf")

ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation(
            "sigmoid",
            sigmoid,
            _sigmoid_d1,
            _sigmoid_d2,
            _sigmoid_log,
            lambda z: 1 / (1 + sp.exp(-z)),
            (0.0, 1.0),
            lambda a: sp.log(a / (1 - a)),
        ),
        Activation(
            "tanh",
            np.tanh,
            _tanh_d1,
            _tanh_d2,
            _tanh_log,
            sp.tanh,
            (-1.0, 1.0),
            sp.atanh,
        ),
        Activation(
            "relu",
            _relu,
            _relu_d1,
            _zero_d2,
            _relu_log,
            _piecewise_linear(sp.Integer(0)),
            (0.0, _INF),
        ),
        Activation(
            "leaky_relu",
            _leaky,
            _leaky_d1,
            _zero_d2,
            _leaky_log,
            _piecewise_linear(sp.Rational(1, 100)),
            (-_INF, _INF),
        ),
        Activation(
            "softsign",
            _softsign,
            _softsign_d1,
            _softsign_d2,
            _softsign_log,
            lambda z: z / (1 + sp.Abs(z)),
            (-1.0, 1.0),
        ),
        Activation(
            "identity",
            _identity,
            _one,
            _zero_d2,
            _identity_log,
            lambda z: z,
            (-_INF, _INF),
            lambda a: a,
        ),
    )
}
"""Every activation by name, in the order the CLI lists them."""


def get_activation(name: str, *, field: str = "activation") -> Activation:
    """The activation called ``name``; SpecError about ``field`` naming the choices for an
    unknown name."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        choices = ", ".join(ACTIVATIONS)
        raise SpecError(
            f"unknown activation {name!r} (choose from {choices})", field=field
        ) from None
