"""A fused gradient kernel for the Monte Carlo hot path: ``dL/dw_k`` only, no Trace.

It computes exactly what ``backprop`` computes (the same formulas, checked against it in
``tests/test_kernel.py`` to 1e-12 relative) with less work:

* one ``exp`` per sigmoid layer, shared by the value and the derivative
  (``e = exp(-|z|)``: ``s = 1/(1+e)`` or ``e/(1+e)``, ``s' = e/(1+e)^2``); other activations
  use the engine's own rules (tanh needs ``tanh`` and ``exp(-2|z|)`` to be exact at both ends);
* layer-major arrays ``(L, n)``, so every pass is over contiguous memory;
* no loss value, no dL/dy, no bookkeeping: only what the gradients need.

For the exercise's network that is 3 exponentials per sample, the floor any float64 method
pays (``benchmarks/montecarlo_kernel.py`` measures it).

``grad_weights`` runs the compiled twin of this kernel (``kernel_numba.py``: one fused loop per
layer over a cached tile, on all cores) when numba is installed, the ``fast`` extra, and the NumPy
kernel below otherwise. Both give the engine's numbers to 1e-12 relative.
"""

from __future__ import annotations

import importlib.util
from typing import Literal

import numpy as np

from gradtrace.core.errors import SpecError
from gradtrace.core.network import ChainSpec

__all__ = ["BACKENDS", "HAVE_NUMBA", "grad_weights", "grad_weights_numpy"]

HAVE_NUMBA = importlib.util.find_spec("numba") is not None
"""Whether the compiled kernel can run (``pip install gradtrace[fast]``)."""
BACKENDS = ("auto", "numba", "numpy")

Array = np.ndarray


TILE = 8192
"""Samples per inner pass: 64 KB arrays stay in cache and below malloc's mmap threshold, so the
temporaries of each NumPy operation are reused instead of faulted in."""
WORKING_SET = 4 << 20
"""Bytes a tile may use across all layers (deep chains get smaller tiles)."""


def grad_weights(
    spec: ChainSpec,
    weights: Array,
    biases: Array | None,
    x: Array,
    target: Array,
    *,
    backend: Literal["auto", "numba", "numpy"] = "auto",
) -> Array:
    """``dL/dw_k`` for a batch of chains, ``(n, L)``.

    **Arguments:** ``weights`` and ``biases`` ``(n, L)``; ``x`` and ``target`` ``(n,)``. Inputs
    are assumed validated (the Monte Carlo config draws them). Every operation is elementwise,
    so the result does not depend on the tiling or the number of threads. ``backend``: ``numba``
    (the compiled kernel), ``numpy``, or ``auto`` (numba when installed).
    """
    if backend not in BACKENDS:
        raise SpecError(
            f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}", field="backend"
        )
    if backend == "numba" or (backend == "auto" and HAVE_NUMBA):
        from gradtrace.lab import kernel_numba  # compiled on first use, then cached on disk

        return kernel_numba.grad_weights(spec, weights, biases, x, target)
    return grad_weights_numpy(spec, weights, biases, x, target)


def grad_weights_numpy(
    spec: ChainSpec, weights: Array, biases: Array | None, x: Array, target: Array
) -> Array:
    """``grad_weights`` in NumPy: tiles of up to 8,192 samples, every operation in place."""
    n = weights.shape[0]
    x = np.broadcast_to(np.asarray(x, dtype=np.float64), (n,))
    target = np.broadcast_to(np.asarray(target, dtype=np.float64), (n,))
    # a tile's working set is about 3 L tile doubles: keep it near 4 MB for deep chains
    tile = int(np.clip(WORKING_SET // (24 * spec.depth), 1024, TILE))
    if n <= tile:
        return _grad_weights_tile(spec, weights, biases, x, target)
    out = np.empty((n, spec.depth))
    for i in range(0, n, tile):
        sl = slice(i, i + tile)
        b = None if biases is None else biases[sl]
        out[sl] = _grad_weights_tile(spec, weights[sl], b, x[sl], target[sl])
    return out


def _grad_weights_tile(
    spec: ChainSpec, weights: Array, biases: Array | None, x: Array, target: Array
) -> Array:
    """One tile of ``grad_weights``: preallocated buffers, every NumPy call writing in place."""
    L = spec.depth
    wT = np.ascontiguousarray(weights.T)  # (L, n)
    bT = None if biases is None else np.ascontiguousarray(biases.T)
    n = wT.shape[1]
    acts = np.empty((L + 1, n))  # a_0 = x, a_1 .. a_L: row k is the input of layer k + 1
    d1 = np.empty((L, n))  # phi_k'(z_k)
    z, e, q, r = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    pos = np.empty(n, dtype=bool)
    acts[0] = x
    s_neg = None
    with np.errstate(over="ignore", invalid="ignore"):
        # 1. forward
        for k in range(L):
            np.multiply(wT[k], acts[k], out=z)
            if bT is not None:
                np.add(z, bT[k], out=z)
            phi = spec.phi(k + 1)
            if phi.name == "sigmoid":  # one exp: e = exp(-|z|), q = 1 + e
                # the engine's exact operations (divisions, not products with 1/q), so that s(z)
                # and s(-z) are bit-identical to its: bce's delta s(z) - y_hat cancels near
                # y_hat, and there an ulp of difference became 2e-11 relative (hypothesis found it)
                np.abs(z, out=e)
                np.negative(e, out=e)
                np.exp(e, out=e)
                np.add(e, 1.0, out=q)
                np.multiply(q, q, out=d1[k])
                np.divide(e, d1[k], out=d1[k])  # s'(z) = e/(1+e)^2
                np.divide(1.0, q, out=r)  # s(|z|)
                np.divide(e, q, out=e)  # s(-|z|)
                np.greater_equal(z, 0.0, out=pos)
                np.copyto(acts[k + 1], e)
                np.copyto(acts[k + 1], r, where=pos)  # s(z)
                if k == L - 1:
                    s_neg = np.where(pos, e, r)  # s(-z), for bce's delta
            else:  # tanh needs two transcendentals to be exact at both ends: the engine's rules
                acts[k + 1] = phi.value(z)
                d1[k] = phi.d1(z)
            if spec.residual and k < L - 1:  # skip connection around hidden layer k + 1
                np.add(acts[k + 1], acts[k], out=acts[k + 1])
        # 2. delta_L
        y = acts[L]
        t = np.asarray(target, dtype=np.float64)
        if spec.fused_bce:  # (1 - t) s(z_L) - t s(-z_L): both terms exact
            assert s_neg is not None  # set at the sigmoid output layer, which bce requires
            delta = (1.0 - t) * y - t * s_neg
        else:
            delta = spec.loss_fn.grad(y, t) * d1[L - 1]
        # 3. backward: dL/dw_k = delta_k a_(k-1); delta_(k-1) = delta_k w_k phi'(z_(k-1))
        grads = np.empty((L, n))
        g = np.zeros(n)  # dL/da along the skip path (residual chains)
        for k in range(L - 1, -1, -1):
            np.multiply(delta, acts[k], out=grads[k])
            if k:
                np.multiply(delta, wT[k], out=delta)  # now delta_k w_k: dL/da_(k-1) via layer k
                if spec.residual and k < L - 1:
                    np.add(delta, g, out=delta)
                if spec.residual:
                    g[:] = delta
                np.multiply(delta, d1[k - 1], out=delta)
    return grads.T
