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

``haar_reflectors(rng, n)`` draws a Haar orthogonal ``n x n`` matrix without a QR, as the
Householder reflectors of LAPACK's compact form (Stewart 1980): applying it costs one
matrix product, and forming it is never needed (``Reflectors.apply``).

``bias(rng, n, sigma_b2)`` draws ``N(0, sigma_b2)`` biases. ``WEIGHT_SCHEMES`` holds
the weight schemes by name; ``get_init`` looks one up (``SpecError`` for an unknown name).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy.linalg import lapack

from gradtrace.core.errors import SpecError

__all__ = [
    "WEIGHT_SCHEMES",
    "Reflectors",
    "bias",
    "gaussian",
    "get_init",
    "haar_reflectors",
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


@dataclass(frozen=True, eq=False)
class Reflectors:
    """Haar orthogonal ``n x n`` matrices ``Q = H_1 H_2 ... H_n diag(signs)`` in LAPACK's compact
    QR form, ``H_k = I - tau_k v_k v_k^T`` (``v_k`` zero above entry ``k``, one at it).

    **Fields** (``*batch`` is the batch shape):
    - ``rows``: ``(*batch, n, n)``, row ``k`` holds ``v_k``'s entries ``k+1 .. n`` in columns
      ``k+1 .. n``; its transpose is LAPACK's ``A`` (the diagonal and below are not read).
    - ``tau``: ``(*batch, n)``, the reflectors' scale factors (``tau_n = 0``).
    - ``signs``: ``(*batch, n)``, ``+-1``, the signs of ``diag(R)`` that make ``Q`` uniform.
    """

    rows: Array
    tau: Array
    signs: Array

    @property
    def n(self) -> int:
        """The matrix size."""
        return int(self.tau.shape[-1])

    def apply(self, c: Array, *, transpose: bool = False) -> Array:
        """``Q c`` (``Q^T c`` if ``transpose``) for ``c`` of shape ``(*batch, n, k)``, by LAPACK's
        ``dormqr``: about the cost of one matrix product, and ``Q`` is never formed."""
        rows = np.array(np.swapaxes(c, -1, -2), dtype=np.float64, order="C")  # a copy
        return np.swapaxes(self.apply_rows(rows, transpose=transpose, inplace=True), -1, -2)

    def apply_rows(self, x: Array, *, transpose: bool = False, inplace: bool = False) -> Array:
        """Each row ``r`` of ``x`` ``(*batch, k, n)`` mapped to ``Q r`` (``Q^T r`` if
        ``transpose``): ``x Q^T`` (``x Q``). With ``inplace`` a C-ordered float64 ``x`` is
        overwritten (no copy of an ``n x n`` block)."""
        batch = self.tau.shape[:-1]
        if x.ndim != len(batch) + 2 or x.shape[:-2] != batch or x.shape[-1] != self.n:
            raise ValueError(f"expected rows of shape {(*batch, 'k', self.n)}, got {x.shape}")
        own = inplace and x.dtype == np.float64 and x.flags.c_contiguous
        out = x if own else np.array(x, dtype=np.float64, order="C")
        blocks = out.reshape(-1, *x.shape[-2:])  # a view: out is C-contiguous
        rows = self.rows.reshape(-1, self.n, self.n)
        tau = self.tau.reshape(-1, self.n)
        signs = self.signs.reshape(-1, 1, self.n)
        if not transpose:
            blocks *= signs  # Q diag(s) r: the signs first
        for i in range(len(tau)):
            _ormqr(rows[i], tau[i], blocks[i], transpose)
        if transpose:
            blocks *= signs  # diag(s) Q^T r: the signs last
        return out

    def matrix(self) -> Array:
        """The explicit ``(*batch, n, n)`` matrices ``Q``."""
        eye = np.broadcast_to(np.eye(self.n), (*self.tau.shape[:-1], self.n, self.n))
        return np.ascontiguousarray(self.apply(eye))


@cache
def _lwork(n: int) -> int:
    # dormqr's block size 64 needs n * 64 plus its 65 x 64 block of T; LAPACK's own workspace
    # query answers a block of 32, about 2x slower here
    return n * 64 + 65 * 64


def _ormqr(rows: Array, tau: Array, ct: Array, transpose: bool) -> None:
    """In place on ``ct``, a C-ordered ``(k, n)`` block: LAPACK sees it as the Fortran
    ``n x k`` matrix ``C`` (the view ``ct.T``, no copy) and overwrites it with ``Q C`` (``Q^T C``
    if ``transpose``)."""
    n = len(tau)
    cq, _, info = lapack.dormqr(
        "L", "T" if transpose else "N", rows.T, tau, ct.T, lwork=_lwork(n), overwrite_c=1
    )
    if info != 0:  # pragma: no cover - a LAPACK argument error is a bug here
        raise RuntimeError(f"dormqr failed with info={info}")
    if not np.shares_memory(cq, ct):  # pragma: no cover - f2py copied after all
        ct[...] = cq.T


def haar_reflectors(
    rng: np.random.Generator, n: int, *, batch_shape: tuple[int, ...] = ()
) -> Reflectors:
    """Haar-distributed orthogonal ``n x n`` matrices as Householder reflectors, with no QR.

    Stewart 1980 ("The efficient generation of random orthogonal matrices with an application to
    condition estimators", SIAM J. Numer. Anal. 17(3)): the Householder QR of a Gaussian matrix
    builds its ``k``-th reflector from a vector that, by the rotation invariance of the Gaussian,
    is itself an independent ``N(0, I_(n-k+1))``. So the reflectors are drawn directly from
    independent Gaussian vectors ``x_k`` (LAPACK ``dlarfg``'s convention): ``beta_k = -sign(x_k1)
    |x_k|``, ``tau_k = (beta_k - x_k1) / beta_k``, ``v_k = x_k / (x_k1 - beta_k)``. Multiplying
    by ``diag(sign(beta_k))``, the signs of ``diag(R)``, makes ``Q`` uniform (Mezzadri 2007), the
    same law as ``orthogonal``. Drawing costs ``O(n^2)``; ``Reflectors.apply`` costs a matrix
    product, where a QR costs about four.
    """
    shape = _shape(n, n, batch_shape)
    x = np.triu(rng.standard_normal(shape))  # row k: x_k in columns k .. n
    alpha = np.diagonal(x, axis1=-2, axis2=-1).copy()
    norm = np.sqrt(np.einsum("...ij,...ij->...i", x, x))
    beta = -np.copysign(norm, alpha)
    tau = (beta - alpha) / beta
    x /= (alpha - beta)[..., None]
    signs = np.sign(beta)
    # the last "reflector" acts on one entry: LAPACK's tau = 0 and R's entry is x_n itself
    tau[..., -1] = 0.0
    signs[..., -1] = np.where(alpha[..., -1] < 0, -1.0, 1.0)
    return Reflectors(x, tau, signs)


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


WEIGHT_SCHEMES: dict[str, Callable[..., Array]] = {
    "normal": normal,
    "gaussian": gaussian,
    "lecun_normal": lecun_normal,
    "xavier_normal": xavier_normal,
    "xavier_uniform": xavier_uniform,
    "he_normal": he_normal,
    "orthogonal": orthogonal,
}
"""Every weight scheme by name; each is ``f(rng, fan_out, fan_in, *, batch_shape=(), ...)``."""


def get_init(name: str, *, field: str = "init") -> Callable[..., Array]:
    """The weight scheme called ``name``; SpecError about ``field`` naming the choices."""
    try:
        return WEIGHT_SCHEMES[name]
    except (KeyError, TypeError):
        raise SpecError(
            f"unknown init {name!r} (choose from {', '.join(WEIGHT_SCHEMES)})", field=field
        ) from None
