"""The compiled Monte Carlo kernel: ``lab/kernel.py``'s formulas in one fused numba loop.

``kernel.grad_weights`` uses it when numba is installed (the ``fast`` extra); it computes the
same ``dL/dw_k`` as the NumPy kernel and the engine (``tests/test_kernel.py`` holds all three
together at 1e-12 relative), but makes one pass per layer over a tile of samples that stays in
cache, instead of about fifteen NumPy passes, and splits the tiles over all cores.

The sigmoid's exponential is the cost that remains, so it is written here as straight-line
arithmetic that the compiler vectorizes (numba's ``math.exp`` calls libm one value at a time,
and numba's SVML path needs an SVML-patched LLVM that current llvmlite wheels do not ship):

* only ``exp(u)`` for ``u <= 0`` is needed (the sigmoid and tanh use ``exp(-|z|)``);
* argument reduction ``u = n ln 2 + r``, ``|r| <= ln(2)/2``, with ``ln 2`` split in two parts so
  that ``n ln 2`` is exact (Cody & Waite, *Software Manual for the Elementary Functions*, 1980);
* ``exp(r)`` by its Taylor polynomial of degree 12 (truncation below 2e-16 relative on that
  interval), evaluated by Horner's rule with fused multiply-adds;
* ``2^n`` built from its IEEE-754 bits; for ``n < -1022`` the scaling is done in two steps so
  that a subnormal result is rounded once.

``tests/test_kernel.py`` checks it against ``numpy.exp`` over its whole domain (within 3 units in
the last place for normal results).
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

from gradtrace.core.activations import LEAKY_SLOPE
from gradtrace.core.network import ChainSpec

__all__ = ["ACTIVATION_CODES", "LOSS_CODES", "exp_nonpositive", "grad_weights"]

Array = np.ndarray

ACTIVATION_CODES = {
    "sigmoid": 0,
    "tanh": 1,
    "relu": 2,
    "leaky_relu": 3,
    "softsign": 4,
    "identity": 5,
}
"""Each activation's number inside the compiled loop."""
LOSS_CODES = {"bce": 0, "l2": 1, "huber": 2}
"""Each loss's number; bce is always taken from the logit (its output is the sigmoid)."""

WORKING_SET = 3 << 20
"""Bytes a tile may use across all layers (about 3 L doubles per sample)."""
MAX_TILE = 512
MIN_TILE = 128
"""Tiles below 128 samples cost more in loop overhead than they save in cache misses (measured at
L = 1,000: 32 samples 2.0 ns per sample-layer, 128 samples 1.7 ns)."""

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # the upper bits of ln 2: n * _LN2_HI is exact for |n| < 2^11
_LN2_LO = 1.90821492927058770002e-10
_TAYLOR = tuple(1.0 / math.factorial(k) for k in range(13))
_C2, _C3, _C4, _C5, _C6, _C7, _C8, _C9, _C10, _C11, _C12 = _TAYLOR[2:]
_TWO_M60 = 2.0**-60
_LOCK = threading.Lock()
_FLAGS = {"contract"}  # fused multiply-adds only: no reassociation, no assumptions about NaN


@intrinsic
def _bits_to_float(typingctx: Any, bits: Any) -> Any:
    """Reinterpret an int64 as the float64 with the same bits (an LLVM bitcast)."""
    sig = types.float64(types.int64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


@njit(inline="always", fastmath=_FLAGS)
def _exp_nonpositive(u: float) -> float:
    """``exp(u)`` for ``u <= 0`` (NaN in, NaN out), branch-free so that loops vectorize."""
    uc = max(u, -746.0)  # exp(-746) rounds to 0
    nf = math.floor(uc * _LOG2E + 0.5)
    r = (uc - nf * _LN2_HI) - nf * _LN2_LO
    p = _C12
    p = p * r + _C11
    p = p * r + _C10
    p = p * r + _C9
    p = p * r + _C8
    p = p * r + _C7
    p = p * r + _C6
    p = p * r + _C5
    p = p * r + _C4
    p = p * r + _C3
    p = p * r + _C2
    p = p * r + 1.0
    p = p * r + 1.0
    n = np.int64(nf)
    deep = n < -1022
    n_scaled = n + 60 if deep else n
    last = _TWO_M60 if deep else 1.0
    # an intrinsic: numba supplies typingctx, the call passes the bits only
    result = (p * _bits_to_float((n_scaled + 1023) << 52)) * last  # type: ignore[call-arg]
    return u if u != u else result


@njit(fastmath=_FLAGS, error_model="numpy")
def _exp_array(u: Array) -> Array:
    out = np.empty_like(u)
    for i in range(u.size):
        out[i] = _exp_nonpositive(u[i])
    return out


def exp_nonpositive(u: Array) -> Array:
    """The kernel's ``exp`` on an array of values ``<= 0`` (for tests and the docs)."""
    return _exp_array(np.ascontiguousarray(u, dtype=np.float64).ravel()).reshape(np.shape(u))


@njit(inline="always", fastmath=_FLAGS)
def _layer(code: int, z: Array, a: Array, d1: Array, s_neg: Array, m: int) -> None:
    """``a = phi(z)`` and ``d1 = phi'(z)`` on ``m`` values: the engine's formulas per activation.

    A sigmoid layer also writes ``s(-z)`` to ``s_neg`` (bce's delta needs it at the output).
    """
    if code == 0:  # sigmoid: e = exp(-|z|) shared by value and derivative
        for i in range(m):
            zi = z[i]
            e = _exp_nonpositive(-abs(zi))
            r = 1.0 / (1.0 + e)
            s_neg_abs = e * r  # s(-|z|)
            pos = zi >= 0.0
            a[i] = r if pos else s_neg_abs
            s_neg[i] = s_neg_abs if pos else r
            d1[i] = s_neg_abs * r
    elif code == 1:  # tanh: tanh itself (exact near 0), sech^2 from exp(-2|z|)
        for i in range(m):
            zi = z[i]
            e = _exp_nonpositive(-2.0 * abs(zi))
            a[i] = math.tanh(zi)
            d1[i] = 4.0 * e / ((1.0 + e) * (1.0 + e))
    elif code == 2:  # relu
        for i in range(m):
            zi = z[i]
            a[i] = max(zi, 0.0) if zi == zi else zi
            d1[i] = 1.0 if zi > 0.0 else 0.0
    elif code == 3:  # leaky relu
        for i in range(m):
            zi = z[i]
            a[i] = zi if zi > 0.0 else LEAKY_SLOPE * zi
            d1[i] = 1.0 if zi > 0.0 else LEAKY_SLOPE
    elif code == 4:  # softsign: z / (1 + |z|), +-1 at +-inf
        for i in range(m):
            zi = z[i]
            q = 1.0 + abs(zi)
            a[i] = zi / q if abs(zi) != math.inf else math.copysign(1.0, zi)
            d1[i] = 1.0 / (q * q)
    else:  # identity
        for i in range(m):
            a[i] = z[i]
            d1[i] = 1.0


@njit(parallel=True, nogil=True, cache=True, fastmath=_FLAGS, error_model="numpy")
def _grad_weights(
    codes: Array,
    loss: int,
    residual: bool,
    weights: Array,
    biases: Array,
    has_bias: bool,
    x: Array,
    target: Array,
    tile: int,
    out: Array,
) -> None:
    n, L = weights.shape
    for j in prange((n + tile - 1) // tile):
        lo = j * tile
        m = min(n, lo + tile) - lo
        # layer-major copies, so the inner loops run over samples; rows padded by one cache line
        # (a row of 512 doubles is 4 KB, and rows 4 KB apart contend for the same L1 sets: 3.3x)
        width = tile + 8
        w = np.empty((L, width))
        b = np.zeros((L, width))
        acts = np.empty((L + 1, width))  # a_0 = x, a_1 .. a_L
        d1 = np.empty((L, width))
        z = np.empty(tile)
        s_neg = np.empty(tile)  # s(-z) of the latest sigmoid layer
        delta = np.empty(tile)
        g = np.zeros(tile)  # dL/da along the skip path
        grads = np.empty((L, width))
        for i in range(m):
            for k in range(L):
                w[k, i] = weights[lo + i, k]
            acts[0, i] = x[lo + i]
        if has_bias:
            for i in range(m):
                for k in range(L):
                    b[k, i] = biases[lo + i, k]
        # forward
        for k in range(L):
            wk, bk, a_in = w[k], b[k], acts[k]
            for i in range(m):
                z[i] = wk[i] * a_in[i] + bk[i]
            _layer(codes[k], z, acts[k + 1], d1[k], s_neg, m)
            if residual and k < L - 1:  # skip connection around hidden layer k + 1
                a_out = acts[k + 1]
                for i in range(m):
                    a_out[i] += a_in[i]
        # delta_L = dL/dz_L
        y, dL = acts[L], d1[L - 1]
        if loss == 0:  # bce from the logit: (1 - t) s(z) - t s(-z), both terms exact
            for i in range(m):
                t = target[lo + i]
                delta[i] = (1.0 - t) * y[i] - t * s_neg[i]
        elif loss == 1:  # l2: dL/dy = -2 (t - y)
            for i in range(m):
                delta[i] = -2.0 * (target[lo + i] - y[i]) * dL[i]
        else:  # huber: dL/dy = clip(y - t, -1, 1)
            for i in range(m):
                res = y[i] - target[lo + i]
                delta[i] = min(max(res, -1.0), 1.0) * dL[i]
        # backward: dL/dw_k = delta_k a_(k-1); delta_(k-1) = (delta_k w_k [+ g]) phi'(z_(k-1))
        for k in range(L - 1, -1, -1):
            gk, a_in = grads[k], acts[k]
            for i in range(m):
                gk[i] = delta[i] * a_in[i]
            if k:
                wk, dk = w[k], d1[k - 1]
                skip = residual and k < L - 1
                for i in range(m):
                    da = delta[i] * wk[i]  # dL/da_(k-1) through layer k
                    if skip:
                        da += g[i]
                    if residual:
                        g[i] = da
                    delta[i] = da * dk[i]
        for i in range(m):
            for k in range(L):
                out[lo + i, k] = grads[k, i]


def tile_size(depth: int) -> int:
    """Samples per tile for a chain of ``depth`` layers: its working set stays near 3 MB."""
    return int(np.clip(WORKING_SET // (24 * depth), MIN_TILE, MAX_TILE))


def grad_weights(
    spec: ChainSpec, weights: Array, biases: Array | None, x: Array, target: Array
) -> Array:
    """``dL/dw_k`` for a batch of chains, ``(n, L)``, on all cores (as ``kernel.grad_weights``)."""
    weights = np.ascontiguousarray(weights, dtype=np.float64)
    n, L = weights.shape
    codes = np.array([ACTIVATION_CODES[spec.phi(k + 1).name] for k in range(L)], dtype=np.int64)
    has_bias = biases is not None
    b = np.ascontiguousarray(biases, dtype=np.float64) if has_bias else np.empty((0, 0))
    xs = np.ascontiguousarray(np.broadcast_to(np.asarray(x, dtype=np.float64), (n,)))
    ts = np.ascontiguousarray(np.broadcast_to(np.asarray(target, dtype=np.float64), (n,)))
    out = np.empty((n, L))
    with _LOCK:  # numba's default thread pool runs one parallel region at a time
        _grad_weights(
            codes,
            LOSS_CODES[spec.loss],
            spec.residual,
            weights,
            b,
            has_bias,
            xs,
            ts,
            tile_size(L),
            out,
        )
    return out
