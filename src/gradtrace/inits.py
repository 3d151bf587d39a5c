"""Weight initializations for dense layers: each draws a ``(fan_out, fan_in)`` matrix.

Every scheme is a function ``f(rng, fan_out, fan_in, *, batch_shape=(), **params)`` returning a
float64 array ``(*batch_shape, fan_out, fan_in)``, drawn from the ``numpy.random.Generator``
passed in (no global RNG state)::

    normal(std)            N(0, std^2)
    lecun_normal           N(0, 1 / fan_in)                     LeCun et al. 1998, Efficient BackProp, sec. 4.6
    xavier_normal          N(0, 2 / (fan_in + fan_out))         Glorot & Bengio 2010, Eq. 16 (its variance)
    xavier_uniform         U(-r, r), r = sqrt(6 / (fan_in + fan_out))   Glorot & Bengio 2010, Eq. 16
    he_normal(mode)        N(0, 2 / fan), fan = fan_in or fan_out       He et al. 2015, Eqs. 10 and 14
    orthogonal(gain)       gain * Q, Q from the QR of a Gaussian, signs fixed by diag(R)
                           (Saxe, McClelland & Ganguli 2014; Mezzadri 2007 for the sign fix)
    gaussian(sigma_w2)     N(0, sigma_w2 / fan_in)              the mean-field convention, Poole et al. 2016

and ``bias(rng, n, sigma_b2)`` draws ``N(0, sigma_b2)`` biases. ``INITS`` holds the weight
schemes by name; ``get_init`` looks one up (``SpecError`` for an unknown name).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from gradtrace.errors import SpecError

__all__ = [
    "INITS",
    "bias",
    "gaussian",
    "get_init",
    "he_normal",
    "lecun_normal",
    "normal",
    "orthogonal",
    "xavier_normal",
    "xavier_uniform",
]

Array = np.ndarray


def _shape(fan_out: int, fan_in: int, batch_shape: tuple[int, ...]) -> tuple[int, ...]:
    for name, n in (("fan_out", fan_out), ("fan_in", fan_in)):
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise SpecError(f"{name} must be a whole number of at least 1, got {n!r}", field=name)
    return (*tuple(batch_shape), int(fan_out), int(fan_in))


def _positive(name: str, value: float, *, zero_ok: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise SpecError(f"{name} must be a number, got {value!r}", field=name) from None
    if not np.isfinite(v) or v < 0 or (v == 0 and not zero_ok):
        what = "non-negative" if zero_ok else "positive"
        raise SpecError(f"{name} must be a {what} finite number, got {value!r}", field=name)
    return v


def normal(
    rng: np.random.Generator,
    fan_out: int,
    fan_in: int,
    *,
    std: float,
    batch_shape: tuple[int, ...] = (),
) -> Array:
    """``N(0, std^2)`` entries."""
    shape = _shape(fan_out, fan_in, batch_shape)
    return _positive("std", std, zero_ok=True) * rng.standard_normal(shape)


def gaussian(
    rng: np.random.Generator,
    fan_out: int,
    fan_in: int,
    *,
    sigma_w2: float = 1.0,
    batch_shape: tuple[int, ...] = (),
) -> Array:
    """``N(0, sigma_w2 / fan_in)``: the mean-field convention (Poole et al. 2016), under which
    ``q^l = sigma_w2 E[phi(h)^2] + sigma_b2`` holds for any width."""
    shape = _shape(fan_out, fan_in, batch_shape)
    var = _positive("sigma_w2", sigma_w2, zero_ok=True) / shape[-1]
    return np.sqrt(var) * rng.standard_normal(shape)


def lecun_normal(
    rng: np.random.Generator, fan_out: int, fan_in: int, *, batch_shape: tuple[int, ...] = ()
) -> Array:
    """``N(0, 1 / fan_in)`` (LeCun, Bottou, Orr & Müller 1998, Efficient BackProp, sec. 4.6)."""
    return gaussian(rng, fan_out, fan_in, sigma_w2=1.0, batch_shape=batch_shape)


def xavier_normal(
    rng: np.random.Generator, fan_out: int, fan_in: int, *, batch_shape: tuple[int, ...] = ()
) -> Array:
    """``N(0, 2 / (fan_in + fan_out))``: the variance of Glorot & Bengio 2010, Eq. 16."""
    shape = _shape(fan_out, fan_in, batch_shape)
    return np.sqrt(2.0 / (fan_in + fan_out)) * rng.standard_normal(shape)


def xavier_uniform(
    rng: np.random.Generator, fan_out: int, fan_in: int, *, batch_shape: tuple[int, ...] = ()
) -> Array:
    """``U(-r, r)``, ``r = sqrt(6 / (fan_in + fan_out))`` (Glorot & Bengio 2010, Eq. 16); its
    variance is ``r^2 / 3 = 2 / (fan_in + fan_out)``."""
    shape = _shape(fan_out, fan_in, batch_shape)
    r = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-r, r, shape)


def he_normal(
    rng: np.random.Generator,
    fan_out: int,
    fan_in: int,
    *,
    mode: str = "fan_in",
    batch_shape: tuple[int, ...] = (),
) -> Array:
    """``N(0, 2 / fan)`` with ``fan = fan_in`` (forward pass, He et al. 2015, Eq. 10) or
    ``fan_out`` (backward pass, Eq. 14)."""
    if mode not in ("fan_in", "fan_out"):
        raise SpecError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}", field="mode")
    shape = _shape(fan_out, fan_in, batch_shape)
    fan = fan_in if mode == "fan_in" else fan_out
    return np.sqrt(2.0 / fan) * rng.standard_normal(shape)


def orthogonal(
    rng: np.random.Generator,
    fan_out: int,
    fan_in: int,
    *,
    gain: float = 1.0,
    batch_shape: tuple[int, ...] = (),
) -> Array:
    """``gain * Q`` with orthonormal rows or columns (whichever there are fewer of), Haar
    distributed: the QR of a Gaussian matrix with ``Q``'s columns multiplied by the signs of
    ``diag(R)`` (Saxe, McClelland & Ganguli 2014; the sign fix makes ``Q`` uniform, Mezzadri
    2007, "How to generate random matrices from the classical compact groups")."""
    shape = _shape(fan_out, fan_in, batch_shape)
    g = _positive("gain", gain, zero_ok=True)
    tall = fan_out >= fan_in
    m, n = (fan_out, fan_in) if tall else (fan_in, fan_out)
    a = rng.standard_normal((*shape[:-2], m, n))  # (..., m, n), m >= n
    q, r = np.linalg.qr(a)  # q (..., m, n) with orthonormal columns
    signs = np.sign(np.diagonal(r, axis1=-2, axis2=-1))
    signs = np.where(signs == 0, 1.0, signs)
    q = q * signs[..., None, :]
    if not tall:
        q = np.swapaxes(q, -1, -2)
    return g * np.ascontiguousarray(q)


def bias(
    rng: np.random.Generator, n: int, *, sigma_b2: float, batch_shape: tuple[int, ...] = ()
) -> Array:
    """``N(0, sigma_b2)`` biases, ``(*batch_shape, n)`` (zeros, with no draw, when
    ``sigma_b2 = 0``)."""
    shape = _shape(n, 1, batch_shape)[:-1]
    s2 = _positive("sigma_b2", sigma_b2, zero_ok=True)
    if s2 == 0:
        return np.zeros(shape)
    return np.sqrt(s2) * rng.standard_normal(shape)


INITS: dict[str, Callable[..., Array]] = {
    "normal": normal,
    "gaussian": gaussian,
    "lecun_normal": lecun_normal,
    "xavier_normal": xavier_normal,
    "xavier_uniform": xavier_uniform,
    "he_normal": he_normal,
    "orthogonal": orthogonal,
}
"""Every weight scheme by name; each is ``f(rng, fan_out, fan_in, *, batch_shape=(), ...)``."""


def get_init(name: str, *, field: str = "init") -> Callable[..., Any]:
    """The weight scheme called ``name``; SpecError about ``field`` naming the choices."""
    try:
        return INITS[name]
    except (KeyError, TypeError):
        raise SpecError(
            f"unknown init {name!r} (choose from {', '.join(INITS)})", field=field
        ) from None
