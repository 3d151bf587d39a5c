"""Simulations of wide random MLPs: signal propagation, gradient norms and Jacobian spectra.

The network (the mean-field notation of Poole et al. 2016 and Schoenholz et al. 2017), width
``N`` in every layer, input ``x = a^0`` of width ``N``::

    h^l = W^l a^(l-1) + b^l,   a^l = phi(h^l),   l = 1 .. depth
    W^l_ij ~ N(0, sigma_w2 / N)   ("gaussian")   or   sqrt(sigma_w2) Q, Q Haar-orthogonal
    b^l_i  ~ N(0, sigma_b2)

Measured quantities (``simulate``):

* ``q[l] = mean_i (h^l_i)^2``, ``q[0] = mean_i x_i^2`` (averaged over the two inputs and the
  sampled nets); mean field predicts ``q^l = sigma_w2 E[phi(h)^2] + sigma_b2``, ``h ~ N(0, q^(l-1))``.
* ``c[l] = <h^l_1, h^l_2> / (|h^l_1| |h^l_2|)`` for two inputs with correlation ``c0`` (``c[0]``
  from the inputs themselves), averaged over the sampled nets.
* ``grad_norm_ratio[l-1] = |dL/dh^l|^2 / |dL/dh^depth|^2`` for ``l = 1 .. depth``, backpropagated
  from a random Gaussian direction ``dL/dh^depth = u`` through ``dL/dh^(l-1) = phi'(h^(l-1)) ⊙
  (W^l)^T dL/dh^l``; averaged over nets and inputs; mean field predicts ``chi_1^(depth - l)``.

``jacobian_singular_values`` returns the squared singular values of ``J = D_depth W^depth ...
D_1 W^1`` (``D_l = diag(phi'(h^l))``), accumulated as ``J <- D_l (W^l J)`` with one
``N x N`` matmul per layer (Pennington, Schoenholz & Ganguli 2017).

One code path for every backend: arrays live in ``numpy`` (``device=None``, the core install) or
in ``torch`` on ``device`` (``"cpu"``, ``"cuda"``, ...; PyTorch is optional). Only ``_Backend``
knows which: moving arrays, the spectrum routine. Weights are drawn on the host from
``numpy.random.default_rng([seed, l])`` for layer ``l`` (the inputs and the output direction from
``[seed, 0]``), so every backend sees the same draws, a shallower net is a prefix of a deeper one
with the same seed, and the backward pass redraws ``W^l`` instead of storing every layer.
Everything is float64.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from gradtrace.core.activations import get_activation
from gradtrace.core.errors import SpecError
from gradtrace.core.inits import Reflectors, bias, gaussian, haar_reflectors
from gradtrace.core.network import check_count, check_finite

__all__ = [
    "WIDE_INITS",
    "WideConfig",
    "WideRun",
    "draw_layer",
    "jacobian_singular_values",
    "simulate",
]

WIDE_INITS = ("gaussian", "orthogonal")

Tensor = Any  # numpy.ndarray or torch.Tensor: duck-typed, the functions both libraries share


@dataclass(frozen=True)
class WideConfig:
    """One family of wide random MLPs and how many to sample.

    **Fields:**
    - ``activation``: name of ``phi`` (any of ``gradtrace.ACTIVATIONS``).
    - ``sigma_w2``: weight variance times fan-in (``W_ij ~ N(0, sigma_w2 / width)``), > 0.
    - ``sigma_b2``: bias variance, >= 0.
    - ``width``: ``N``, units per layer (the input's width too).
    - ``depth``: number of layers.
    - ``samples``: independent nets (and inputs) drawn.
    - ``seed``: the random stream; the same seed gives the same draws on every backend.
    - ``init``: ``"gaussian"`` or ``"orthogonal"`` (``sqrt(sigma_w2)`` times a Haar matrix).
    - ``input_q``: the input's per-unit second moment ``q^0`` (the theory passes ``q*``).
    - ``device``: ``None`` for NumPy, else a torch device (``"cpu"``, ``"cuda"``, ...).
    """

    activation: str
    sigma_w2: float
    sigma_b2: float
    width: int
    depth: int
    samples: int = 1
    seed: int = 0
    init: str = "gaussian"  # or "orthogonal"
    input_q: float = 1.0  # per-unit second moment of the input
    device: str | None = None  # None: NumPy; else a torch device

    def __post_init__(self) -> None:
        get_activation(self.activation)
        if float(check_finite("sigma_w2", self.sigma_w2)) <= 0:
            raise SpecError(f"sigma_w2 must be positive, got {self.sigma_w2!r}", field="sigma_w2")
        if float(check_finite("sigma_b2", self.sigma_b2)) < 0:
            raise SpecError(
                f"sigma_b2 must be non-negative, got {self.sigma_b2!r}", field="sigma_b2"
            )
        if float(check_finite("input_q", self.input_q)) <= 0:
            raise SpecError(f"input_q must be positive, got {self.input_q!r}", field="input_q")
        check_count("width", self.width, 1)
        check_count("depth", self.depth, 1)
        check_count("samples", self.samples, 1)
        check_count("seed", self.seed, 0)
        if self.init not in WIDE_INITS:
            raise SpecError(
                f"unknown init {self.init!r} (choose from {', '.join(WIDE_INITS)})", field="init"
            )
        if self.device is not None and not isinstance(self.device, str):
            raise SpecError(f"device must be a name or None, got {self.device!r}", field="device")


@dataclass(frozen=True, eq=False)
class WideRun:
    """What ``simulate`` measured (see the module docstring for the definitions).

    **Fields:**
    - ``config``, ``c0`` (the inputs' correlation).
    - ``q``: ``(depth + 1,)``, ``q[0]`` the input's.
    - ``c``: ``(depth + 1,)``, ``c[0]`` the inputs'.
    - ``grad_norm_ratio``: ``(depth,)``, entry ``l - 1`` for layer ``l``; the last is 1.
    """

    config: WideConfig
    c0: float
    q: np.ndarray
    c: np.ndarray
    grad_norm_ratio: np.ndarray


# ---- the backend: the only place that knows NumPy from torch ---------------------------------


class _Backend:
    """Array namespace ``xp`` (numpy or torch) plus host<->device moves and the spectrum."""

    def __init__(self, device: str | None) -> None:
        self.device = device
        if device is None:
            self.xp: ModuleType = np  # the array namespace: numpy or torch
            return
        try:
            import torch
        except ImportError:
            raise SpecError(
                f"device {device!r} needs PyTorch (pip install torch), or use device=None",
                field="device",
            ) from None
        try:
            self.dev = torch.device(device)
            torch.empty(1, dtype=torch.float64, device=self.dev)
        except (RuntimeError, AssertionError) as err:
            raise SpecError(f"device {device!r} is not available: {err}", field="device") from None
        self.xp = torch

    def put(self, a: np.ndarray) -> Tensor:
        """A host float64 array on the backend (no copy for NumPy and torch on the CPU)."""
        if self.device is None:
            return a
        return self.xp.from_numpy(np.ascontiguousarray(a, dtype=np.float64)).to(self.dev)

    def get(self, t: Tensor) -> np.ndarray:
        """A backend array back on the host as NumPy."""
        if self.device is None:
            return np.asarray(t)
        return np.asarray(t.cpu().numpy())

    def mT(self, t: Tensor) -> Tensor:
        """Swap the last two axes (a view)."""
        return t.swapaxes(-1, -2)

    def weights(self, w: _Weights) -> _Weights:
        """A layer's host weights (``_draw``) on the backend."""
        m = w.matrix
        if isinstance(m, np.ndarray):
            return _Weights(self.put(m), w.gain)
        if self.device is None or not isinstance(m, Reflectors):  # NumPy keeps the reflectors
            return w
        lapack_a = self.mT(self.put(m.rows))  # LAPACK's A is the transpose of ``rows``
        return _Weights((lapack_a, self.put(m.tau), self.put(m.signs)), w.gain)

    def rows_times(
        self, w: _Weights, x: Tensor, *, transpose: bool = False, out: Tensor = None
    ) -> Tensor:
        """``x W^T`` (``x W`` if ``transpose``) for rows ``x`` ``(samples, k, N)``: each row ``r``
        mapped to ``W r`` (``W^T r``). Orthogonal weights are applied from their reflectors (an
        ``ormqr``, never a formed matrix), and on NumPy in place: ``x`` is overwritten and
        returned. A matrix product goes into ``out`` when one is given."""
        m = w.matrix
        if isinstance(m, Reflectors):  # NumPy
            r = m.apply_rows(x, transpose=transpose, inplace=True)
            r *= w.gain
            return r
        if isinstance(m, tuple):  # torch: torch.ormqr on the same reflectors
            a, tau, signs = m
            s = signs[:, None, :]
            if transpose:  # x Q diag(s)
                return w.gain * self.xp.ormqr(a, tau, x, left=False, transpose=False) * s
            return w.gain * self.xp.ormqr(a, tau, x * s, left=False, transpose=True)
        if out is None:
            return x @ (m if transpose else self.mT(m))
        return self.xp.matmul(x, m if transpose else self.mT(m), out=out)

    def squared_singular_values(self, j: Tensor, method: str) -> Tensor:
        """Squared singular values of each ``(N, N)`` matrix in ``j``, descending."""
        la = self.xp.linalg
        if method == "svd":
            s = la.svdvals(j) if self.device is not None else la.svd(j, compute_uv=False)
            return s * s
        ev = la.eigvalsh(j @ self.mT(j))  # ascending
        ev = self.xp.flip(ev, (-1,)) if self.device is not None else ev[..., ::-1]
        return ev * (ev > 0)  # rounding can leave -eps for a zero eigenvalue


# phi and phi' on either backend: the engine's formulas (activations.py), written with the
# functions numpy and torch share (exp, abs, tanh, where); tests hold them to the engine's.
_Rule = Callable[[ModuleType, Tensor], Tensor]


def _sig(xp: ModuleType, z: Tensor) -> Tensor:
    e = xp.exp(-xp.abs(z))
    return xp.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _sig_d1(xp: ModuleType, z: Tensor) -> Tensor:
    e = xp.exp(-xp.abs(z))
    return e / (1.0 + e) ** 2


def _tanh_d1(xp: ModuleType, z: Tensor) -> Tensor:
    e = xp.exp(-2.0 * xp.abs(z))
    return 4.0 * e / (1.0 + e) ** 2


def _step(xp: ModuleType, z: Tensor, low: float) -> Tensor:
    one = xp.ones_like(z)
    return xp.where(z > 0, one, low * one)


_RULES: dict[str, tuple[_Rule, _Rule]] = {
    "sigmoid": (_sig, _sig_d1),
    "tanh": (lambda xp, z: xp.tanh(z), _tanh_d1),
    "relu": (lambda xp, z: xp.where(z > 0, z, 0.0 * z), lambda xp, z: _step(xp, z, 0.0)),
    "leaky_relu": (
        lambda xp, z: xp.where(z > 0, z, 0.01 * z),
        lambda xp, z: _step(xp, z, 0.01),
    ),
    "softsign": (
        lambda xp, z: z / (1.0 + xp.abs(z)),
        lambda xp, z: 1.0 / (1.0 + xp.abs(z)) ** 2,
    ),
    "identity": (lambda xp, z: z, lambda xp, z: xp.ones_like(z)),
}


# ---- the random draws (host, NumPy; identical for every backend) ------------------------------


@dataclass(frozen=True, eq=False)
class _Weights:
    """One layer's ``W = gain * M``: ``M`` a matrix batch (Gaussian weights, ``gain = 1``), or a
    Haar matrix's reflectors (``Reflectors`` on the host, a tuple of tensors on torch)."""

    matrix: np.ndarray | Reflectors | tuple[Tensor, Tensor, Tensor]  # on torch: Tensor or the tuple
    gain: float = 1.0


def _draw(config: WideConfig, layer: int) -> tuple[_Weights, np.ndarray]:
    """Layer ``l``'s weights and biases from ``default_rng([seed, l])``. Orthogonal weights are
    drawn as reflectors (``inits.haar_reflectors``, Stewart 1980): no QR, and applying them costs
    one matrix product."""
    rng = np.random.default_rng([config.seed, layer])
    n, batch = config.width, (config.samples,)
    w: _Weights
    if config.init == "orthogonal":
        w = _Weights(haar_reflectors(rng, n, batch_shape=batch), math.sqrt(config.sigma_w2))
    else:
        w = _Weights(gaussian(rng, n, n, sigma_w2=config.sigma_w2, batch_shape=batch))
    return w, bias(rng, n, sigma_b2=config.sigma_b2, batch_shape=batch)


def draw_layer(config: WideConfig, layer: int) -> tuple[np.ndarray, np.ndarray]:
    """``W^l`` ``(samples, N, N)`` and ``b^l`` ``(samples, N)`` of layer ``l`` (1-based), from
    ``default_rng([seed, l])``: the same numbers every time and on every backend, and the ones
    the simulations use (which never form an orthogonal ``W`` themselves)."""
    w, b = _draw(config, layer)
    m = w.matrix
    if isinstance(m, Reflectors):
        return w.gain * m.matrix(), b
    if not isinstance(m, np.ndarray):  # pragma: no cover - _draw draws on the host
        raise TypeError("draw_layer: the host draw is a matrix or reflectors")
    return m, b


def _draw_inputs(config: WideConfig, c0: float) -> tuple[np.ndarray, np.ndarray]:
    """Two inputs per net with per-unit second moment ``input_q`` and correlation ``c0``
    (in expectation), ``(samples, 2, N)``, and the output directions ``u``, ``(samples, 2, N)``."""
    rng = np.random.default_rng([config.seed, 0])
    u = rng.standard_normal((config.samples, 2, config.width))
    x = np.empty_like(u)
    x[:, 0] = u[:, 0]
    x[:, 1] = c0 * u[:, 0] + math.sqrt(1.0 - c0 * c0) * u[:, 1]
    x *= math.sqrt(config.input_q)
    return x, rng.standard_normal((config.samples, 2, config.width))


# ---- the simulations ------------------------------------------------------------------------


def simulate(config: WideConfig, *, c0: float = 0.5) -> WideRun:
    """Propagate two correlated inputs through ``config.samples`` random nets and one random
    output direction back; measure ``q``, ``c`` and ``grad_norm_ratio`` (module docstring)."""
    c0 = float(check_finite("c0", c0))
    if not -1.0 <= c0 <= 1.0:
        raise SpecError(f"c0 must lie in [-1, 1], got {c0:g}", field="c0")
    be = _Backend(config.device)
    xp = be.xp
    value, d1 = _RULES[config.activation]
    x_host, u_host = _draw_inputs(config, c0)

    def moments(h: Tensor) -> tuple[float, float]:
        sq = (h * h).sum(-1)  # (samples, 2)
        q = sq.mean() / config.width
        corr = (h[:, 0] * h[:, 1]).sum(-1) / xp.sqrt(sq[:, 0] * sq[:, 1])
        return float(q), float(corr.mean())

    a = be.put(x_host)  # (samples, 2, N): a^0 = x
    q0, c_0 = moments(a)
    qs, cs, slopes = [q0], [c_0], []
    for layer in range(1, config.depth + 1):
        w, b = _draw(config, layer)
        h = be.rows_times(be.weights(w), a) + be.put(b)[:, None, :]  # W a + b, per row
        q, c = moments(h)
        qs.append(q)
        cs.append(c)
        slopes.append(d1(xp, h))  # phi'(h^l), (samples, 2, N)
        a = value(xp, h)

    # backward from dL/dh^depth = u: dL/dh^(l-1) = phi'(h^(l-1)) ⊙ (W^l)^T dL/dh^l
    g = be.put(u_host)
    top = (g * g).sum(-1)  # (samples, 2)
    ratios = [xp.ones_like(top)]
    for layer in range(config.depth, 1, -1):
        w = be.weights(_draw(config, layer)[0])
        g = be.rows_times(w, g, transpose=True) * slopes[layer - 2]  # W^T g, per row
        ratios.append((g * g).sum(-1) / top)
    ratio = np.array([float(r.mean()) for r in reversed(ratios)])
    return WideRun(config, c0, np.array(qs), np.array(cs), ratio)


def jacobian_singular_values(config: WideConfig, *, method: str = "eigh") -> np.ndarray:
    """Squared singular values of the input-output Jacobian ``J = D_depth W^depth ... D_1 W^1``
    of ``config.samples`` random nets, ``(samples, width)``, descending.

    Each net sees one random input with per-unit second moment ``input_q`` (the first of
    ``simulate``'s pair). The transpose ``K = J^T`` is accumulated, starting from the identity,
    as ``K <- (K W^T) D_l``: one ``N x N`` product per layer, a matmul into a preallocated buffer
    for Gaussian weights, and for orthogonal ones the reflectors applied in place (``dormqr``,
    about a third of a QR's cost; ``J``'s spectrum is ``K``'s). Then:

    - ``method="eigh"`` (default): ``eigvalsh(K K^T)``, several times faster than an SVD on a
      CPU. Its absolute error is about ``1e-16 * s_max^2``, so squared singular values below
      ``~1e-13 s_max^2`` are not resolved (they come out as rounding noise or 0).
    - ``method="svd"``: the singular values themselves, accurate relative to each one.
    """
    if method not in ("eigh", "svd"):
        raise SpecError(f"method must be 'eigh' or 'svd', got {method!r}", field="method")
    be = _Backend(config.device)
    xp = be.xp
    value, d1 = _RULES[config.activation]
    n = config.width
    a = be.put(_draw_inputs(config, 0.0)[0][:, :1])  # (samples, 1, N)
    k = be.put(np.broadcast_to(np.eye(n), (config.samples, n, n)).copy())  # K = J^T = I
    buf: Tensor = None  # the spare buffer a matmul writes into (allocated by the first one)
    for layer in range(1, config.depth + 1):
        w, b = _draw(config, layer)
        w = be.weights(w)
        h = be.rows_times(w, a) + be.put(b)[:, None, :]  # (samples, 1, N)
        d = d1(xp, h)  # D_l as a row, (samples, 1, N)
        new = be.rows_times(w, k, out=buf)  # K W^T: in place (reflectors) or into buf
        if new is not k:
            k, buf = new, k
        k *= d  # (K W^T) D_l
        a = value(xp, h)
    return be.get(be.squared_singular_values(k, method))
