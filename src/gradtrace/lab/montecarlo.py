"""Monte Carlo over random initializations: the distribution of |dL/dw_k| per layer.

The exercise draws its weights from N(0, 1); one draw shows one snapshot. Here N weight vectors
are drawn and every gradient is computed, block by block, so that 10^8 samples run in bounded memory,
by the fused kernel of ``kernel.py`` (the engine's formulas with one exponential per sigmoid
layer; the tests hold it to the engine's ``backprop`` at 1e-12).

Reproducibility: the random stream is cut into fixed blocks of ``BLOCK`` samples, block ``i``
drawn from ``numpy.random.default_rng([seed, i])``. Chunks are whole numbers of blocks and every
sum is taken per block and added in block order, so the result is bit-identical for every chunk
size (and blocks could be farmed out to other processes).

Quantiles come from integer histograms of ``log10|g|`` with bins of ``RESOLUTION`` decades and
linear interpolation inside a bin, so memory does not grow with N. The fractions below 1e-3 and
1e-6 and above 1e2 are counted exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypedDict

import numpy as np

from gradtrace.core.errors import SpecError
from gradtrace.core.network import PRESETS, ChainSpec, check_count, check_finite
from gradtrace.lab.draw import check_init, draw
from gradtrace.lab.kernel import grad_weights

__all__ = [
    "BLOCK",
    "QUANTILES",
    "RESOLUTION",
    "LayerStats",
    "MonteCarloConfig",
    "MonteCarloResult",
    "draw_block",
    "run_montecarlo",
]

BLOCK = 1 << 16
"""Samples per random block (the unit of reproducibility)."""

RESOLUTION = 1e-3
"""Histogram bin width in decades of |g| (interpolated inside a bin)."""

QUANTILES = (0.05, 0.25, 0.50, 0.75, 0.95)
LOG10_RANGE = (-340.0, 320.0)  # every finite nonzero float64 magnitude, with a margin
RATIO_RANGE = (-700.0, 700.0)  # log10 of |g_1| / |g_L|
THRESHOLDS_BELOW = (1e-3, 1e-6)
THRESHOLDS_ABOVE = (1e2,)
MAX_DEPTH = 100  # histograms take 2.6 MB per layer; deeper chains: the depth experiment
MAX_SAMPLES = 2_000_000_000  # int32 bin counts
_PART_B = PRESETS["exercise-classification"]  # its sample is the default one


@dataclass(frozen=True)
class MonteCarloConfig:
    """What to sample.

    **Fields:**
    - ``spec``: the chain architecture.
    - ``samples``: number of initializations N (at least 1).
    - ``seed``: the seed of the block stream.
    - ``init``: ``"normal"`` (N(0, std^2), the exercise's N(0, 1) by default) or ``"uniform"``
      (U(-sqrt(3) std, sqrt(3) std), the same variance).
    - ``std``: the weights' standard deviation (> 0); biases, when on, are drawn the same way.
    - ``x``, ``target``: fixed input and label, or None to draw them per sample (x ~ N(0, 1);
      the label ~ Bernoulli(1/2) for bce, N(0, 1) for l2).
    - ``chunk_size``: samples between progress reports, rounded up to whole blocks. Each block
      is drawn and computed on its own, so memory is bounded by ``BLOCK`` whatever this is.
    """

    spec: ChainSpec
    samples: int
    seed: int = 0
    init: str = "normal"  # normal | uniform
    std: float = 1.0
    x: float | None = _PART_B.x  # None: x ~ N(0, 1) per sample
    target: float | None = _PART_B.target  # None: drawn per sample
    chunk_size: int = 4 * BLOCK

    def __post_init__(self) -> None:
        check_count("samples", self.samples, 1)
        if self.samples > MAX_SAMPLES:
            raise SpecError(
                f"samples must be at most {MAX_SAMPLES:.0e}, got {self.samples}", field="samples"
            )
        if self.spec.depth > MAX_DEPTH:
            raise SpecError(
                f"depth must be at most {MAX_DEPTH} for Monte Carlo, got {self.spec.depth}",
                field="depth",
            )
        check_init(self.init, self.std)
        check_count("seed", self.seed, 0)
        if self.x is not None:
            check_finite("x", self.x)
        if self.target is not None:
            self.spec.check_target(self.target)
        if self.chunk_size < 1:
            raise SpecError(
                f"chunk size must be at least 1, got {self.chunk_size}", field="chunk_size"
            )


class Draws(TypedDict):
    """One block's samples: ``weights``, ``biases`` (or None) ``(n, L)``; ``x``, ``target``
    ``(n,)``."""

    weights: np.ndarray
    biases: np.ndarray | None
    x: np.ndarray
    target: np.ndarray


def draw_block(config: MonteCarloConfig, index: int, n: int | None = None) -> Draws:
    """The samples of block ``index``: ``weights`` ``(n, L)``, ``biases`` or None, ``x``, ``target``
    ``(n,)``; ``n`` (default ``BLOCK``) truncates the last block. Draw order is fixed."""
    n = BLOCK if n is None else n
    rng = np.random.default_rng([config.seed, index])
    shape = (n, config.spec.depth)
    weights = draw(rng, config.init, config.std, shape)
    biases = draw(rng, config.init, config.std, shape) if config.spec.biases else None
    x = np.full(n, config.x) if config.x is not None else rng.standard_normal(n)
    if config.target is not None:
        target = np.full(n, float(config.target))
    elif config.spec.loss == "bce":
        target = rng.integers(0, 2, n).astype(np.float64)
    else:
        target = rng.standard_normal(n)
    return {"weights": weights, "biases": biases, "x": x, "target": target}


class _Histogram:
    """Counts of log10 values in fixed bins, per column; zeros and non-finite counted apart."""

    def __init__(self, columns: int, lo: float, hi: float) -> None:
        self.lo, self.hi = lo, hi
        self.bins = round((hi - lo) / RESOLUTION)
        self.counts = np.zeros((columns, self.bins), dtype=np.int32)  # 2.6 MB per column
        self.zeros = np.zeros(columns, dtype=np.int64)

    def add(self, log10: np.ndarray) -> None:
        """``log10`` ``(n, columns)``; ``-inf`` counts as zero, NaN (a value float64 could not
        hold, reported apart) is left out."""
        for c in range(log10.shape[1]):
            col = log10[:, c]
            finite = np.isfinite(col)
            self.zeros[c] += int(np.count_nonzero(np.isneginf(col)))
            idx = np.clip(((col[finite] - self.lo) / RESOLUTION).astype(np.int64), 0, self.bins - 1)
            if idx.size:  # count only over the bins this block occupies (a few decades, not 660)
                lo = int(idx.min())
                part = np.bincount(idx - lo)
                self.counts[c, lo : lo + part.size] += part.astype(np.int32)

    def quantiles(self, c: int, qs: tuple[float, ...]) -> list[float]:
        """The ``qs`` quantiles of column ``c`` as values (not log10); 0 where they fall on zeros."""
        cum = np.cumsum(self.counts[c], dtype=np.int64) + self.zeros[c]
        total = int(cum[-1])
        out = []
        for q in qs:
            rank = q * total
            if rank <= self.zeros[c]:
                out.append(0.0)
                continue
            i = int(np.searchsorted(cum, rank))
            before = cum[i - 1] if i > 0 else self.zeros[c]
            frac = (rank - before) / self.counts[c, i]
            out.append(float(10.0 ** (self.lo + (i + frac) * RESOLUTION)))
        return out


@dataclass(frozen=True)
class LayerStats:
    """Statistics of ``|dL/dw_k|`` for one layer over all samples."""

    layer: int
    abs_grad_quantiles: dict[str, float]
    mean_log10_abs_grad: float  # over samples with a nonzero gradient
    fraction_zero: float
    fraction_below: dict[str, float]
    fraction_above: dict[str, float]


@dataclass(frozen=True)
class MonteCarloResult:
    """The per-layer statistics and the distribution of ``|dL/dw_1| / |dL/dw_L|``."""

    config: MonteCarloConfig
    layers: tuple[LayerStats, ...]
    ratio_quantiles: dict[str, float]  # of |dL/dw_1| / |dL/dw_L|
    mean_log10_ratio: float
    float64_nonfinite: int  # gradients that were inf or NaN in float64 (counted as excluded)


def _qkey(q: float) -> str:
    return f"p{round(100 * q):02d}"


def run_montecarlo(
    config: MonteCarloConfig, *, progress: Callable[[int, int], None] | None = None
) -> MonteCarloResult:
    """Sample ``config.samples`` initializations and summarize ``|dL/dw_k|`` per layer.

    **Arguments:**
    - ``config``: what to sample.
    - ``progress``: called as ``progress(done, total)`` after each chunk (the CLI's progress bar).

    **Returns:** a ``MonteCarloResult``; memory stays bounded by the block size.
    """
    spec, N, L = config.spec, config.samples, config.spec.depth
    blocks_per_chunk = max(1, -(-config.chunk_size // BLOCK))
    n_blocks = -(-N // BLOCK)
    hist = _Histogram(L, *LOG10_RANGE)
    ratio_hist = _Histogram(1, *RATIO_RANGE)
    below = np.zeros((len(THRESHOLDS_BELOW), L), dtype=np.int64)
    above = np.zeros((len(THRESHOLDS_ABOVE), L), dtype=np.int64)
    log_sum = np.zeros(L)
    ratio_sum, ratio_n, nonfinite = 0.0, 0, 0

    for start in range(0, n_blocks, blocks_per_chunk):
        for b in range(start, min(start + blocks_per_chunk, n_blocks)):
            n = min(BLOCK, N - b * BLOCK)
            d = draw_block(config, b, n)
            g = np.abs(grad_weights(spec, d["weights"], d["biases"], d["x"], d["target"]))  # (n, L)
            bad = ~np.isfinite(g)
            nonfinite += int(bad.sum())
            g = np.where(bad, np.nan, g)
            with np.errstate(divide="ignore", invalid="ignore"):
                lg = np.log10(g)  # NaN where g was not finite: left out of the histogram
            hist.add(lg)
            for i, th in enumerate(THRESHOLDS_BELOW):
                below[i] += np.count_nonzero(g < th, axis=0)
            for i, th in enumerate(THRESHOLDS_ABOVE):
                above[i] += np.count_nonzero(g > th, axis=0)
            # sums per block, added in block order: independent of the chunk size
            log_sum += np.where(np.isfinite(lg), lg, 0.0).sum(axis=0)
            with np.errstate(invalid="ignore"):  # -inf - -inf where both gradients are 0
                r = lg[:, 0] - lg[:, -1]
            ok = np.isfinite(r)
            ratio_hist.add(np.where(ok, r, -np.inf)[:, None])
            ratio_sum += float(r[ok].sum())
            ratio_n += int(ok.sum())
        if progress is not None:
            progress(min((start + blocks_per_chunk) * BLOCK, N), N)

    layers = []
    for k in range(L):
        nonzero = int(hist.counts[k].sum(dtype=np.int64))
        layers.append(
            LayerStats(
                layer=k + 1,
                abs_grad_quantiles=dict(
                    zip(map(_qkey, QUANTILES), hist.quantiles(k, QUANTILES), strict=True)
                ),
                mean_log10_abs_grad=float(log_sum[k] / nonzero) if nonzero else float("-inf"),
                fraction_zero=float(hist.zeros[k] / N),
                fraction_below={
                    f"{th:.0e}".replace("e-0", "e-"): float(below[i, k] / N)
                    for i, th in enumerate(THRESHOLDS_BELOW)
                },
                fraction_above={
                    f"{th:.0e}".replace("e+0", "e"): float(above[i, k] / N)
                    for i, th in enumerate(THRESHOLDS_ABOVE)
                },
            )
        )
    ratio_q = (
        dict(zip(map(_qkey, QUANTILES), ratio_hist.quantiles(0, QUANTILES), strict=True))
        if ratio_n
        else {}
    )
    return MonteCarloResult(
        config=config,
        layers=tuple(layers),
        ratio_quantiles=ratio_q,
        mean_log10_ratio=ratio_sum / ratio_n if ratio_n else float("nan"),
        float64_nonfinite=nonfinite,
    )
