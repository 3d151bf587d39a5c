"""Mean-field theory of signal propagation in deep random networks, for every activation.

A fully connected net with ``W_ij ~ N(0, sigma_w2 / N)`` and ``b_i ~ N(0, sigma_b2)``, in the
limit of infinite width (Poole et al. 2016, "Exponential expressivity in deep neural networks
through transient chaos"; Schoenholz et al. 2017, "Deep information propagation"). With
``Dz`` the standard Gaussian measure, ``u = sqrt(q) z`` and ``phi`` the activation:

* length map ``q^l = sigma_w2 E[phi(sqrt(q^(l-1)) z)^2] + sigma_b2``; its fixed point ``q*``;
* correlation map ``c^l = (sigma_w2 E[phi(u1) phi(u2)] + sigma_b2) / q*`` with
  ``u1 = sqrt(q*) z1``, ``u2 = sqrt(q*) (c z1 + sqrt(1 - c^2) z2)``; its fixed point ``c*``;
* ``chi_1 = sigma_w2 E[phi'(sqrt(q*) z)^2]``: the slope of the correlation map at ``c = 1``,
  and the mean squared singular value of one layer's Jacobian, so gradients grow by ``chi_1``
  per layer passed back (Schoenholz et al. 2017, Sec. 5: ``E|dL/dh^l|^2 ~ chi_1^(L-l)``);
* depth scales ``xi_q = -1 / log(chi_1 + sigma_w2 E[phi''(u) phi(u)])`` (the length map's slope
  at ``q*``) and ``xi_c = -1 / log(chi_c)``, ``chi_c = sigma_w2 E[phi'(u1) phi'(u2)]`` at ``c*``;
* phase: ordered (``chi_1 < 1``, ``c* = 1`` is stable), chaotic (``chi_1 > 1``, ``c* < 1``),
  critical (``chi_1 = 1``, where ``xi_c`` diverges).

Numerics. One-dimensional Gaussian expectations use Gauss-Hermite quadrature with ``NODES``
(an even number: no node at ``z = 0``, so ReLU's kink and step are integrated exactly). The
two-dimensional ``E[phi(u1) phi(u2)]`` of a smooth activation uses Mehler's expansion
``sum_k a_k^2 c^k`` with ``a_k = E[phi(sqrt(q) z) He_k(z)] / sqrt(k!)`` (each ``a_k`` a
Gauss-Hermite sum, ``TERMS`` of them), whose remainder ``E[phi^2] - sum a_k^2`` is put on the
next power so that the map is exact at ``c = 1``; every grid point then costs one matrix
product. The piecewise-linear activations (relu, leaky_relu, identity) use the closed forms of
the arc-cosine kernel (Cho and Saul 2009), and their length map is linear:
``q^l = chi_1 q^(l-1) + sigma_b2``. Their fixed point is ``q* = sigma_b2 / (1 - chi_1)`` when
``chi_1 < 1``; ``math.inf`` ("q grows without bound") when ``chi_1 > 1``, or when ``chi_1 = 1``
and ``sigma_b2 > 0``; and ``None`` at ``chi_1 = 1, sigma_b2 = 0``, where every ``q`` is fixed.
At ``q* = 0`` (no bias, the signal dies) the theory's quantities are their limits as ``q -> 0``.

``CRITICAL_TOL``: a point is critical when ``|chi_1 - 1| <= 1e-9``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.polynomial.hermite_e import hermegauss

from gradtrace.core.activations import LEAKY_SLOPE, Activation, get_activation
from gradtrace.core.errors import SpecError

__all__ = [
    "CRITICAL_TOL",
    "NODES",
    "TERMS",
    "MeanField",
    "PhaseDiagram",
    "check_point",
    "correlation_map",
    "critical_sigma_w2",
    "gradient_growth",
    "layer_predictions",
    "length_map",
    "mean_field",
    "phase_diagram",
]

NODES = 96
"""Gauss-Hermite nodes of each one-dimensional expectation (even: none at z = 0)."""

TERMS = 64
"""Terms ``a_0 .. a_(TERMS-1)`` of Mehler's expansion of the correlation map."""

CRITICAL_TOL = 1e-9
"""``|chi_1 - 1|`` at or below this counts as critical."""

_ITERATIONS = 100  # Newton steps at most, for q* and c*

# Gauss-Hermite rule for the weight exp(-z^2 / 2), normalized to the standard normal: E[f(z)] ~
# sum_i w_i f(x_i).  x, w: (NODES,)
_X, _W = hermegauss(NODES)
_W = _W / math.sqrt(2.0 * math.pi)


def _hermite_table(x: np.ndarray, terms: int) -> np.ndarray:
    """Normalized probabilists' Hermite polynomials ``He_k(x) / sqrt(k!)``, shape (len(x), terms),
    by the stable recurrence ``h_(k+1) = (x h_k - sqrt(k) h_(k-1)) / sqrt(k + 1)``."""
    h = np.empty((x.size, terms))
    h[:, 0] = 1.0
    if terms > 1:
        h[:, 1] = x
    for k in range(1, terms - 1):
        h[:, k + 1] = (x * h[:, k] - math.sqrt(k) * h[:, k - 1]) / math.sqrt(k + 1)
    return h


_WH = _W[:, None] * _hermite_table(_X, TERMS)  # (NODES, TERMS): a = phi(sqrt(q) x) @ _WH

# piecewise-linear activations: phi(z) = alpha z + (1 - alpha) relu(z)
_SLOPE = {"relu": 0.0, "leaky_relu": LEAKY_SLOPE, "identity": 1.0}


def _act(activation: str | Activation) -> Activation:
    return activation if isinstance(activation, Activation) else get_activation(activation)


def _expect(f: object, q: np.ndarray) -> np.ndarray:
    """``E[f(sqrt(q) z)]`` for each entry of ``q`` (any shape), by Gauss-Hermite quadrature."""
    u = np.sqrt(np.asarray(q, dtype=np.float64))[..., None] * _X  # (..., NODES)
    return f(u) @ _W  # type: ignore[operator]


def check_point(sigma_w2: float, sigma_b2: float) -> None:
    """SpecError unless ``sigma_w2 > 0`` and ``sigma_b2 >= 0`` are finite (``mean_field``'s
    check, without solving anything), naming the value."""
    try:
        _check(np.array([float(sigma_w2)]), np.array([float(sigma_b2)]))
    except SpecError as e:
        value = sigma_w2 if e.field == "sigma_w2" else sigma_b2
        raise SpecError(f"{e}, got {value!r}", field=e.field) from None


def _check(sigma_w2: np.ndarray, sigma_b2: np.ndarray) -> None:
    if not (np.all(np.isfinite(sigma_w2)) and np.all(sigma_w2 > 0)):
        raise SpecError("sigma_w2 must be a positive number", field="sigma_w2")
    if not (np.all(np.isfinite(sigma_b2)) and np.all(sigma_b2 >= 0)):
        raise SpecError("sigma_b2 must be a number >= 0", field="sigma_b2")


# ---- the maps ------------------------------------------------------------------------------------


def length_map(
    activation: str | Activation,
    q: float | np.ndarray,
    sigma_w2: float | np.ndarray,
    sigma_b2: float | np.ndarray,
) -> np.ndarray:
    """One step of the length map: ``sigma_w2 E[phi(sqrt(q) z)^2] + sigma_b2`` (broadcast)."""
    phi = _act(activation)
    return np.asarray(sigma_w2) * _expect(lambda u: phi.value(u) ** 2, np.asarray(q)) + sigma_b2


def _pair(phi: Activation, c: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``E[phi(u1) phi(u2)]`` and ``E[phi'(u1) phi'(u2)]`` in closed form (piecewise linear),
    else None."""
    alpha = _SLOPE.get(phi.name)
    if alpha is None:
        return None
    c = np.clip(c, -1.0, 1.0)
    theta = np.arccos(c)
    orthant = (np.pi - theta) / (2 * np.pi)  # P(u1 > 0, u2 > 0)
    arccos1 = (np.sqrt(1 - c * c) + (np.pi - theta) * c) / (2 * np.pi)  # E[relu relu] / q
    lin = alpha * alpha + alpha * (1 - alpha)  # the linear part's cross terms, over q c
    return q * (lin * c + (1 - alpha) ** 2 * arccos1), lin + (1 - alpha) ** 2 * orthant


def _mehler(phi: Activation, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Squared Hermite coefficients ``a_k^2`` of ``phi(sqrt(q) z)``, shape (..., TERMS), and
    the remainder ``E[phi^2] - sum_k a_k^2`` (>= 0), shape (...)."""
    v = phi.value(np.sqrt(q)[..., None] * _X)  # (..., NODES)
    a2 = (v @ _WH) ** 2
    rest = np.maximum((v * v) @ _W - a2.sum(axis=-1), 0.0)
    return a2, rest


def _series(a2: np.ndarray, rest: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``sum a_k^2 c^k`` and its derivative in ``c``, the remainder on ``c^TERMS`` (Horner)."""
    value = rest * c
    slope = TERMS * rest
    for k in range(TERMS - 1, 0, -1):
        value = (value + a2[..., k]) * c
        slope = slope * c + k * a2[..., k]
    return value + a2[..., 0], slope


def _kernel(phi: Activation, c: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``E[phi(u1) phi(u2)]`` and ``q E[phi'(u1) phi'(u2)]`` (= the first's derivative in c,
    by Price's theorem), for correlation ``c`` and length ``q``."""
    closed = _pair(phi, c, q)
    if closed is not None:
        return closed[0], q * closed[1]
    a2, rest = _mehler(phi, q)
    return _series(a2, rest, c)


def correlation_map(
    activation: str | Activation,
    c: float | np.ndarray,
    q_star: float | np.ndarray,
    sigma_w2: float | np.ndarray,
    sigma_b2: float | np.ndarray,
) -> np.ndarray:
    """One step of the correlation map at length ``q_star``:
    ``(sigma_w2 E[phi(u1) phi(u2)] + sigma_b2) / q_star`` (broadcast)."""
    phi = _act(activation)
    c, q, sw, sb = np.broadcast_arrays(
        *(np.asarray(v, dtype=np.float64) for v in (c, q_star, sigma_w2, sigma_b2))
    )
    pp, _ = _kernel(phi, c, q)
    return (sw * pp + sb) / q


# ---- fixed points and exponents, vectorized over (sigma_w2, sigma_b2) -----------------------


def _q_star(phi: Activation, sw: np.ndarray, sb: np.ndarray) -> np.ndarray:
    """The stable fixed point of the length map (the largest root), by safeguarded Newton from
    ``q = sigma_w2 + sigma_b2`` (for a bounded phi an upper bound; else iterate the map first).
    Piecewise-linear activations: see the module docstring."""
    if phi.name in _SLOPE:
        chi = sw * _expect(lambda u: phi.value(u) ** 2, np.ones_like(sw))
        with np.errstate(divide="ignore", invalid="ignore"):
            q = np.where(chi < 1, sb / (1 - chi), np.inf)
        return np.where((np.abs(chi - 1) <= CRITICAL_TOL) & (sb == 0), np.nan, q)
    q = _q_start(phi, sw, sb)
    active = np.ones(q.shape, dtype=bool)
    for _ in range(_ITERATIONS):
        qa, swa, sba = q[active], sw[active], sb[active]
        u = np.sqrt(qa)[:, None] * _X
        v = phi.value(u)
        f = swa * ((v * v) @ _W) + sba - qa
        slope = swa * ((phi.d1(u) ** 2 + v * phi.d2(u)) @ _W)  # d/dq of the map
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(slope < 1 - 1e-12, f / (1 - slope), f)  # Newton; the map's step if flat
        new = np.maximum(qa + step, 0.0)
        done = np.abs(new - qa) <= 1e-14 * (1 + qa)
        q[active] = new
        idx = np.flatnonzero(active)
        active[idx[done]] = False
        if not active.any():
            break
    return q


_Q_START = np.concatenate([[0.0], np.geomspace(1e-6, 1e4, 48)])


def _q_start(phi: Activation, sw: np.ndarray, sb: np.ndarray) -> np.ndarray:
    """A start for Newton near ``q*``: the largest sign change of ``sigma_w2 E[phi^2] + sigma_b2 - q``
    on a table of ``q``, interpolated linearly; one step of the map from ``sigma_w2 + sigma_b2``
    where the table ends first."""
    table = _expect(lambda u: phi.value(u) ** 2, _Q_START)
    h = sw[:, None] * table + sb[:, None] - _Q_START  # (G, len(table))
    above = h >= 0
    last = h.shape[1] - 1 - np.argmax(above[:, ::-1], axis=1)  # last index with h >= 0
    inside = above.any(axis=1) & (last < h.shape[1] - 1)
    i = np.minimum(last, h.shape[1] - 2)
    rows = np.arange(sw.size)
    h0, h1 = h[rows, i], h[rows, i + 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(h0 > h1, h0 / (h0 - h1), 0.0)
    q = _Q_START[i] + t * (_Q_START[i + 1] - _Q_START[i])
    return np.where(inside, q, length_map(phi, sw + sb, sw, sb))


def _c_star(phi: Activation, q: np.ndarray, sw: np.ndarray, sb: np.ndarray) -> np.ndarray:
    """The fixed point of the correlation map below 1 (chaotic points): Newton from ``c = 0``.
    The map is convex on [0, 1] with slope ``chi_1 > 1`` at ``c = 1``, so the iterates rise
    monotonically to the one root in [0, 1)."""
    c = np.zeros_like(q)
    closed = phi.name in _SLOPE
    a2, rest = (None, None) if closed else _mehler(phi, q)
    active = np.arange(q.size)
    for _ in range(_ITERATIONS):
        ca, qa, swa, sba = c[active], q[active], sw[active], sb[active]
        if closed:
            pp, dpp = _kernel(phi, ca, qa)
        else:
            assert a2 is not None and rest is not None
            pp, dpp = _series(a2[active], rest[active], ca)
        g = (swa * pp + sba) / qa - ca
        dg = swa * dpp / qa - 1
        with np.errstate(divide="ignore", invalid="ignore"):
            new = np.clip(np.where(dg < 0, ca - g / dg, ca), 0.0, 1.0)
        c[active] = new
        active = active[np.abs(new - ca) > 1e-14]
        if not active.size:
            break
    return c


def _solve(phi: Activation, sw: np.ndarray, sb: np.ndarray) -> dict[str, np.ndarray]:
    """Every quantity at every (sigma_w2, sigma_b2) pair (1-d arrays of one length)."""
    q = _q_star(phi, sw, sb)
    linear = phi.name in _SLOPE
    # positively homogeneous phi: chi_1 is the same at every q > 0, so where q* is 0 (no bias,
    # q^l -> 0 geometrically) or unbounded it is taken at q = 1 (phi'(0) would give 0)
    qe = np.where(np.isfinite(q) & (q > 0), q, 1.0) if linear else q
    u = np.sqrt(qe)[:, None] * _X
    v = phi.value(u)
    chi_1 = sw * (phi.d1(u) ** 2 @ _W)
    slope_q = chi_1 + sw * ((v * phi.d2(u)) @ _W)
    c = np.ones_like(q)
    chi_c = chi_1.copy()
    chaos = (chi_1 > 1 + CRITICAL_TOL) & np.isfinite(q) & (q > 0)
    if chaos.any():
        c[chaos] = _c_star(phi, q[chaos], sw[chaos], sb[chaos])
        _, dpp = _kernel(phi, c[chaos], q[chaos])
        chi_c[chaos] = sw[chaos] * dpp / q[chaos]
    unbounded = ~np.isfinite(q) & ~np.isnan(q)
    if linear:
        # q without bound, or q^l -> 0 without bias: q cancels from the correlation map
        # c -> E[phi(u1) phi(u2)] / E[phi^2], whose slope at c = 1 is 1 (xi_c infinite)
        scale_free = unbounded | (q == 0)
        c[scale_free] = 1.0
        chi_c[scale_free] = 1.0
    return {
        "q": q,
        "c": c,
        "chi_1": chi_1,
        "chi_c": chi_c,
        "xi_q": _depth_scale(slope_q),
        "xi_c": _depth_scale(chi_c),
    }


def _depth_scale(slope: np.ndarray) -> np.ndarray:
    """``-1 / log(slope)``; ``inf`` where the slope is within ``CRITICAL_TOL`` of 1 or above."""
    with np.errstate(divide="ignore"):
        xi = -1.0 / np.log(np.clip(slope, 0.0, 1.0))
    return np.where(slope < 1 - CRITICAL_TOL, xi, np.inf)


def _phase(chi_1: float) -> str:
    if abs(chi_1 - 1) <= CRITICAL_TOL:
        return "critical"
    return "ordered" if chi_1 < 1 else "chaotic"


# ---- the critical line ---------------------------------------------------------------------------

_Q_TABLE = np.concatenate([[0.0], np.geomspace(1e-8, 1e4, 481)])


def _critical_bias(phi: Activation, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """On the critical line, parametrized by ``q*``: ``sigma_w2 = 1 / E[phi'(sqrt(q) z)^2]`` and
    ``sigma_b2 = q - sigma_w2 E[phi(sqrt(q) z)^2]`` (the fixed-point equation solved for the
    bias)."""
    u = np.sqrt(q)[..., None] * _X
    sw = 1.0 / (phi.d1(u) ** 2 @ _W)
    return sw, q - sw * (phi.value(u) ** 2 @ _W)


def _critical_line(phi: Activation, sb: np.ndarray) -> np.ndarray:
    """The critical ``sigma_w2`` for each ``sigma_b2`` (NaN where none): the smallest ``q*`` whose
    critical bias is ``sigma_b2``, bracketed on a table of ``q`` and bisected (vectorized)."""
    if phi.name in _SLOPE:
        return np.full(sb.shape, 1.0 / _expect(lambda u: phi.value(u) ** 2, np.ones(1))[0])
    _, table = _critical_bias(phi, _Q_TABLE)
    diff = table[None, :] - sb[:, None]  # (B, len(table))
    cross = (diff[:, :-1] <= 0) & (diff[:, 1:] >= 0) & ~((diff[:, :-1] == 0) & (diff[:, 1:] == 0))
    has = cross.any(axis=1)
    i = np.argmax(cross, axis=1)
    lo, hi = _Q_TABLE[i], _Q_TABLE[i + 1]
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        below = _critical_bias(phi, mid)[1] < sb
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    exact = diff[np.arange(sb.size), i] == 0  # a table entry is the root (q = 0 at no bias)
    q = np.where(exact, _Q_TABLE[i], 0.5 * (lo + hi))
    return np.where(has, _critical_bias(phi, q)[0], np.nan)


def critical_sigma_w2(activation: str | Activation, sigma_b2: float) -> float | None:
    """The ``sigma_w2`` where ``chi_1 = 1`` at this ``sigma_b2``; None when there is none."""
    sb = np.array([float(sigma_b2)])
    _check(np.ones(1), sb)
    v = float(_critical_line(_act(activation), sb)[0])
    return v if math.isfinite(v) else None


# ---- results -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeanField:
    """The mean-field picture at one point (sigma_w2, sigma_b2).

    **Fields:**
    - ``activation``, ``sigma_w2``, ``sigma_b2``: the point.
    - ``q_star``: the length map's stable fixed point; ``math.inf`` when q grows without bound;
      None when every q is fixed (piecewise-linear activations at the critical point, no bias).
    - ``c_star``: the correlation map's stable fixed point (1 unless chaotic); None with no q*.
    - ``chi_1``: ``sigma_w2 E[phi'(sqrt(q*) z)^2]``, the per-layer growth of squared gradients.
    - ``chi_c``: the correlation map's slope at ``c*`` (``chi_1`` when ``c* = 1``).
    - ``xi_q``, ``xi_c``: depth scales (``math.inf`` where infinite).
    - ``phase``: "ordered", "critical" or "chaotic" (``CRITICAL_TOL``).
    - ``sigma_w2_critical``: the critical sigma_w2 at this sigma_b2, None if there is none.
    """

    activation: str
    sigma_w2: float
    sigma_b2: float
    q_star: float | None
    c_star: float | None
    chi_1: float
    chi_c: float
    xi_q: float
    xi_c: float
    phase: str
    sigma_w2_critical: float | None


def mean_field(activation: str | Activation, sigma_w2: float, sigma_b2: float) -> MeanField:
    """Fixed points, chi_1, depth scales, phase and critical sigma_w2 at one point."""
    phi = _act(activation)
    sw, sb = np.array([float(sigma_w2)]), np.array([float(sigma_b2)])
    _check(sw, sb)
    r = {k: float(v[0]) for k, v in _solve(phi, sw, sb).items()}
    q: float | None = None if math.isnan(r["q"]) else r["q"]
    return MeanField(
        activation=phi.name,
        sigma_w2=float(sigma_w2),
        sigma_b2=float(sigma_b2),
        q_star=q,
        c_star=None if q is None else r["c"],
        chi_1=r["chi_1"],
        chi_c=r["chi_c"],
        xi_q=r["xi_q"],
        xi_c=r["xi_c"],
        phase=_phase(r["chi_1"]),
        sigma_w2_critical=critical_sigma_w2(phi, sigma_b2),
    )


def gradient_growth(mf: MeanField, depth: int) -> np.ndarray:
    """``chi_1^(L - l)`` for layers ``l = 1 .. L``, shape (L,): the predicted
    ``E|dL/dh^l|^2 / E|dL/dh^L|^2`` (Schoenholz et al. 2017, Sec. 5)."""
    if depth < 1:
        raise SpecError(f"depth must be at least 1, got {depth}", field="depth")
    with np.errstate(over="ignore", under="ignore"):
        return mf.chi_1 ** (depth - np.arange(1, depth + 1, dtype=np.float64))


def layer_predictions(
    activation: str | Activation, sigma_w2: float, sigma_b2: float, input_q: float, depth: int
) -> tuple[np.ndarray, np.ndarray]:
    """The mean-field prediction layer by layer, from an input of per-unit second moment
    ``input_q``, for what ``lab.wide.simulate`` measures (Poole et al. 2016, Eq. 3; Schoenholz et
    al. 2017, Sec. 5):

    * ``q``, shape ``(depth + 1,)``: ``q^0 = input_q``, ``q^1 = sigma_w2 q^0 + sigma_b2`` (the
      input enters linearly), then ``q^l = sigma_w2 E[phi(sqrt(q^(l-1)) z)^2] + sigma_b2``;
    * ``ratio``, shape ``(depth,)``: ``E|dL/dh^l|^2 / E|dL/dh^L|^2 = prod_(k=l..L-1) sigma_w2
      E[phi'(sqrt(q^k) z)^2]``, which is ``chi_1^(L-l)`` once ``q^k`` has reached ``q*``.
    """
    phi = _act(activation)
    q = [float(input_q), sigma_w2 * float(input_q) + sigma_b2]
    for _ in range(depth - 1):
        q.append(float(length_map(phi, q[-1], sigma_w2, sigma_b2)))
    qs = np.array(q)
    factor = sigma_w2 * _expect(lambda u: phi.d1(u) ** 2, qs[1:depth])  # layers 1 .. L-1
    with np.errstate(over="ignore", under="ignore"):
        tail = np.cumprod(factor[::-1])[::-1]  # prod over k = l .. L-1
    return qs, np.append(tail, 1.0)


@dataclass(frozen=True, eq=False)
class PhaseDiagram:
    """The mean-field quantities on a grid, arrays of shape (len(sigma_b2), len(sigma_w2)).

    **Fields:** ``activation``; the axes ``sigma_w2`` (W,) and ``sigma_b2`` (B,); ``q_star``,
    ``c_star``, ``chi_1``, ``xi_c`` (inf where infinite), each (B, W); ``critical`` (B,): the
    critical sigma_w2 at each sigma_b2 (NaN where none).
    """

    activation: str
    sigma_w2: np.ndarray
    sigma_b2: np.ndarray
    q_star: np.ndarray
    c_star: np.ndarray
    chi_1: np.ndarray
    xi_c: np.ndarray
    critical: np.ndarray


def phase_diagram(
    activation: str | Activation, sigma_w2_grid: np.ndarray, sigma_b2_grid: np.ndarray
) -> PhaseDiagram:
    """Every grid point at once (vectorized Newton for q* and c*) and the critical line."""
    phi = _act(activation)
    w = np.asarray(sigma_w2_grid, dtype=np.float64).ravel()
    b = np.asarray(sigma_b2_grid, dtype=np.float64).ravel()
    _check(w, b)
    sw, sb = np.meshgrid(w, b)  # (B, W)
    r = _solve(phi, sw.ravel(), sb.ravel())
    shape = sw.shape
    return PhaseDiagram(
        activation=phi.name,
        sigma_w2=w,
        sigma_b2=b,
        q_star=r["q"].reshape(shape),
        c_star=r["c"].reshape(shape),
        chi_1=r["chi_1"].reshape(shape),
        xi_c=r["xi_c"].reshape(shape),
        critical=_critical_line(phi, b),
    )
