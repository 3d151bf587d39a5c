"""Depth: how log10|dL/dw_k| grows or shrinks per layer in deep random chains.

For a chain with i.i.d. weights ``w_j ~ N(0, std^2)`` (no biases),

    log|dL/dw_1| = log|delta_L| + sum_(j=2..L) [ log|w_j| + log|phi'(z_(j-1))| ] + log|x|,

so by the ergodic theorem the gradient changes by the **rate**

    r = E[log10 |w|] + E_pi[ E_w log10 |phi'(w a)| ]   decades per layer,

where ``pi`` is the stationary distribution of the activation chain ``a_k = phi(w_k a_(k-1))``
(Furstenberg & Kesten 1960 for products of random factors; Pennington, Schoenholz & Ganguli 2017
for the same quantity in wide networks). ``r < 0`` means vanishing, ``r > 0`` exploding.

``expected_rate`` computes ``r`` without simulating gradients: exactly for identity, relu and
leaky_relu, and for sigmoid, tanh and softsign from ``pi`` solved for (``pi T = pi``) on a
discretized transition kernel, with Gauss-Hermite quadrature over ``w``. ``run_depth`` simulates
chains up to depth 10,000 in the log-magnitude mode (nothing underflows) and fits the rate from
the profile of ``log10|delta_k|`` (``dL/dz_k``: the backward product alone; ``dL/dw_k`` also
carries the forward activation ``a_(k-1)``, which in a homogeneous chain grows or decays at the
same rate and flattens the profile); the tests compare the two.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from math import log, sqrt

import numpy as np

from gradtrace.core.activations import get_activation
from gradtrace.core.errors import SpecError
from gradtrace.core.logmode import backprop_log
from gradtrace.core.network import ChainSpec, Network, check_count, check_finite
from gradtrace.lab.draw import check_init, draw

__all__ = [
    "DepthConfig",
    "DepthPoint",
    "DepthResult",
    "expected_rate",
    "log_abs_weight_mean",
    "run_depth",
]

EULER_GAMMA = 0.5772156649015329
LN10 = log(10.0)
MAX_DEPTH = 10_000
DEFAULT_DEPTHS = (1, 3, 10, 30, 100, 300, 1000, 3000, 10000)


def log_abs_weight_mean(std: float, init: str = "normal") -> float:
    """``E[log10|w|]``: ``log10 std - (gamma + ln 2) / (2 ln 10)`` for N(0, std^2); for
    U(-a, a) with ``a = sqrt(3) std``, ``log10 a - 1 / ln 10``."""
    if init == "normal":
        return log(std) / LN10 - (EULER_GAMMA + log(2.0)) / (2 * LN10)
    return log(sqrt(3.0) * std) / LN10 - 1.0 / LN10


def _phi_cdf(v: np.ndarray) -> np.ndarray:
    from scipy.special import ndtr  # the standard normal CDF, vectorized

    return ndtr(v)


def expected_rate(activation: str, std: float, *, init: str = "normal", cells: int = 1500) -> float:
    """The stationary rate ``r`` (decades per layer) of a bias-free chain of ``activation``.

    **Arguments:** ``activation``; ``std`` of the weights; ``init`` (``"normal"`` only for the
    kernel-based activations); ``cells`` of the grid on the activation's range.
    """
    mean_log_w = log_abs_weight_mean(std, init)
    if activation in ("identity", "relu"):  # relu: given the path is alive (phi' = 1 on it)
        return mean_log_w
    if activation == "leaky_relu":  # z is symmetric: slope 1 or 0.01 with probability 1/2 each
        return mean_log_w + 0.5 * log(0.01) / LN10
    if init != "normal":
        raise SpecError(
            "the stationary rate of saturating activations is computed for init 'normal' only",
            field="init",
        )
    act = get_activation(activation)
    lo, hi = act.bounds
    # cells on the range of a, geometrically fine towards its ends and towards 0 (where pi may
    # concentrate: saturation at the ends, a contracting odd chain at 0)
    g = np.geomspace(1e-12, 0.5, cells // 4)
    even = np.linspace(0.0, 1.0, cells // 2 + 1)  # and uniformly fine in between
    unit = np.unique(np.concatenate([even, g, 1.0 - g]))  # [0, 1]
    if lo < 0:  # odd activations on (-1, 1)
        edges = np.concatenate([-unit[::-1], unit[1:]]) * hi
    else:  # sigmoid on (0, 1)
        edges = lo + (hi - lo) * unit
    mids = 0.5 * (edges[:-1] + edges[1:])
    z_edges = _inverse(activation, edges)  # phi^-1 of the edges (may be +-inf)
    # transition a -> a': P(a' <= u | a) = P(w a <= phi^-1(u)) = Phi(phi^-1(u) / (std a)) for a > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = z_edges[None, :] / (std * mids[:, None])
    cdf = np.where(mids[:, None] > 0, _phi_cdf(scaled), 1.0 - _phi_cdf(scaled))
    cdf = np.where(mids[:, None] == 0, (z_edges[None, :] >= 0).astype(float), cdf)
    T = np.abs(np.diff(cdf, axis=1))  # (cells, cells), rows sum to 1
    T /= T.sum(axis=1, keepdims=True)
    # the stationary distribution: pi T = pi with sum(pi) = 1, one linear solve
    A = T.T - np.eye(len(mids))
    A[-1, :] = 1.0
    rhs = np.zeros(len(mids))
    rhs[-1] = 1.0
    pi = np.clip(np.linalg.solve(A, rhs), 0.0, None)
    pi /= pi.sum()
    # E_w log10|phi'(w a)| per cell: phi' is even, so 2 * integral over w >= 0 of the normal
    # density, by the trapezoid rule on a fine grid (phi' may have a kink at 0, as softsign's
    # 1/(1+|z|)^2 does, where Gauss-Hermite converges slowly)
    t = np.linspace(0.0, 9.0, 4001)
    dens = 2.0 * np.exp(-0.5 * t * t) / sqrt(2.0 * np.pi)
    quad = dens * np.gradient(t)  # trapezoid weights
    quad[0] *= 0.5
    quad[-1] *= 0.5
    # log|phi'(z)|; where phi'(z) underflows to 0 (std 1e300: z ~ 1e300), the activation's
    # log-space rule gives it exactly (log s'(z) ~ -|z|)
    d1 = act.d1(std * t[None, :] * mids[:, None])
    with np.errstate(divide="ignore", over="ignore"):
        log_d1 = np.log(d1)
        log_z = np.log(std) + np.log(t[None, :] * np.abs(mids[:, None]))
    _, _, log_d1_tail = act.log_forward(log_z, np.where(np.isneginf(log_z), 0.0, 1.0))
    inner = (np.where(d1 > 0, log_d1, log_d1_tail) / LN10) @ quad
    return mean_log_w + float(pi @ inner)


def _inverse(activation: str, u: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        if activation == "sigmoid":
            return np.log(u) - np.log1p(-u)
        if activation == "tanh":
            return np.arctanh(u)
        if activation == "softsign":
            return u / (1.0 - np.abs(u))
    raise SpecError(f"no inverse for activation {activation!r}", field="activation")


@dataclass(frozen=True)
class DepthConfig:
    """A depth experiment: chains of ``activation`` (output identity, l2 loss to ``target``).

    **Fields:** ``activation``; ``std`` of N(0, std^2) (or uniform, same variance) weights;
    ``depths`` to simulate (each at most 10,000); ``samples`` chains per depth; ``seed``; ``x``
    and ``target`` of the sample; ``init``.
    """

    activation: str = "sigmoid"
    std: float = 1.0
    depths: tuple[int, ...] = DEFAULT_DEPTHS
    samples: int = 200
    seed: int = 0
    x: float = 1.0
    target: float = 0.0
    init: str = "normal"

    def __post_init__(self) -> None:
        get_activation(self.activation)
        check_init(self.init, self.std)
        if not self.depths:
            raise SpecError("give at least one depth", field="depths")
        for d in self.depths:
            if not 1 <= d <= MAX_DEPTH:
                raise SpecError(
                    f"depths must be between 1 and {MAX_DEPTH}, got {d}", field="depths"
                )
        check_count("seed", self.seed, 0)
        if self.samples < 2:
            raise SpecError(f"samples must be at least 2, got {self.samples}", field="samples")
        check_finite("x", self.x)
        check_finite("target", self.target)


@dataclass(frozen=True)
class DepthPoint:
    """``log10|dL/dw_1|`` over the samples at one depth (zeros: relu paths that died)."""

    depth: int
    mean_log10_abs_grad_first: float  # over samples with a nonzero gradient
    median_log10_abs_grad_first: float
    fraction_zero_first: float
    fraction_float64_lost_first: float  # plain float64 would give 0, inf or a wrong value


@dataclass(frozen=True, eq=False)
class DepthResult:
    """Points per depth, the per-layer profile of the deepest chain, and the two rates."""

    config: DepthConfig
    points: tuple[DepthPoint, ...]
    profile_depth: int
    profile_mean_log10_grad: np.ndarray  # mean over samples of log10|dL/dw_k|, k = 1 .. depth
    profile_mean_log10_delta: np.ndarray  # mean over samples of log10|dL/dz_k|
    fitted_rate: float  # decades per layer, from the delta profile (negative: vanishing)
    fitted_rate_se: float
    expected_rate: float | None


def run_depth(
    config: DepthConfig, *, progress: Callable[[int, int], None] | None = None
) -> DepthResult:
    """Simulate the chains in log-magnitude mode and fit the per-layer rate; ``progress(done,
    total)`` is called after each depth, counting layers."""
    rng = np.random.default_rng(config.seed)
    points = []
    profile_g = profile_d = np.array([])
    rate = se = float("nan")
    L_max = max(config.depths)
    todo = sorted(set(config.depths))
    total, done = sum(todo), 0
    for L in todo:
        w = draw(rng, config.init, config.std, (config.samples, L))
        spec = ChainSpec(L, config.activation, "identity", "l2")
        lt = backprop_log(Network(spec, w), config.x, config.target)
        g = lt.log10_abs_grad_weight  # (samples, L)
        first = g[:, 0]
        alive = np.isfinite(first)
        lost = lt.float64_underflow[:, 0] | lt.float64_overflow[:, 0] | lt.float64_inaccurate[:, 0]
        points.append(
            DepthPoint(
                depth=L,
                mean_log10_abs_grad_first=float(first[alive].mean())
                if alive.any()
                else float("-inf"),
                median_log10_abs_grad_first=float(np.median(first)),
                fraction_zero_first=float(1 - alive.mean()),
                fraction_float64_lost_first=float(lost.mean()),
            )
        )
        done += L
        if progress is not None:
            progress(done, total)
        if L == L_max:
            profile_g, _ = _mean_finite(g)
            profile_d, _ = _mean_finite(lt.log10_abs_delta)
            rate, se = _fit_rate(lt.log10_abs_delta)
    try:
        expected = expected_rate(config.activation, config.std, init=config.init)
    except SpecError:
        expected = None
    return DepthResult(config, tuple(points), L_max, profile_g, profile_d, rate, se, expected)


def _mean_finite(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over samples (axis 0) of the finite entries, and how many there were."""
    finite = np.isfinite(values)
    counts = finite.sum(axis=0)
    total = np.where(finite, values, 0.0).sum(axis=0)
    return np.where(counts > 0, total / np.maximum(counts, 1), -np.inf), counts


def _fit_rate(log10_delta: np.ndarray) -> tuple[float, float]:
    """The rate from ``log10|delta_k|`` (``(samples, L)``): each sample's change per layer across
    the middle 80 % of the chain (``delta_k = delta_L prod_(j>k) w_j phi'(z_(j-1))``), averaged.
    Samples are independent, so the standard error is their spread over ``sqrt(samples)``; a fit
    to the mean profile would understate it (its steps are correlated sums)."""
    _, L = log10_delta.shape
    if L < 10:
        return float("nan"), float("nan")
    k_lo, k_hi = L // 10, L - L // 10 - 1  # 0-based layer indices
    with np.errstate(invalid="ignore"):  # relu: a dead unit zeroes the path, -inf - -inf
        per_sample = (log10_delta[:, k_lo] - log10_delta[:, k_hi]) / (k_hi - k_lo)
    ok = np.isfinite(per_sample)
    if ok.sum() < 2:
        return float("nan"), float("nan")
    slopes = per_sample[ok]
    scale = float(np.abs(slopes).max()) or 1.0  # rates of 1e299 decades (std 1e300) square to inf
    return float(slopes.mean()), scale * float((slopes / scale).std(ddof=1) / np.sqrt(ok.sum()))
