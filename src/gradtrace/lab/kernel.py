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
"""

from __future__ import annotations

import numpy as np

from gradtrace.network import ChainSpec

__all__ = ["grad_weights"]

Array = np.ndarray


def _sigmoid_and_d1(z: Array) -> tuple[Array, Array, Array]:
    """``s(z)``, ``s(-z)`` and ``s'(z)`` from one exponential."""
    e = np.exp(-np.abs(z))
    r = 1.0 / (1.0 + e)
    er = e * r
    pos = z >= 0
    return np.where(pos, r, er), np.where(pos, er, r), er * r


TILE = 4096
"""Samples per inner pass: 32 KB arrays stay in cache and below malloc's mmap threshold, so the
temporaries of each NumPy operation are reused instead of faulted in."""


def grad_weights(
    spec: ChainSpec, weights: Array, biases: Array | None, x: Array, target: Array
) -> Array:
    """``dL/dw_k`` for a batch of chains, ``(n, L)``.

    **Arguments:** ``weights`` and ``biases`` ``(n, L)``; ``x`` and ``target`` ``(n,)``. Inputs
    are assumed validated (the Monte Carlo config draws them). Every operation is elementwise,
    so the result does not depend on the tiling.
    """
    n = weights.shape[0]
    x = np.broadcast_to(np.asarray(x, dtype=np.float64), (n,))
    target = np.broadcast_to(np.asarray(target, dtype=np.float64), (n,))
    if n <= TILE:
        return _grad_weights_tile(spec, weights, biases, x, target)
    out = np.empty((n, spec.depth))
    for i in range(0, n, TILE):
        sl = slice(i, i + TILE)
        b = None if biases is None else biases[sl]
        out[sl] = _grad_weights_tile(spec, weights[sl], b, x[sl], target[sl])
    return out


def _grad_weights_tile(
    spec: ChainSpec, weights: Array, biases: Array | None, x: Array, target: Array
) -> Array:
    """One tile of ``grad_weights``."""
    L = spec.depth
    wT = np.ascontiguousarray(weights.T)  # (L, n)
    bT = None if biases is None else np.ascontiguousarray(biases.T)
    n = wT.shape[1]
    inputs = np.empty((L, n))  # a_(k-1)
    d1 = np.empty((L, n))  # phi_k'(z_k)
    a = np.broadcast_to(np.asarray(x, dtype=np.float64), (n,))
    s_neg = None
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(L):
            inputs[k] = a
            z = wT[k] * a
            if bT is not None:
                z += bT[k]
            name = spec.phi(k + 1).name
            if name == "sigmoid":
                a, s_neg, d1[k] = _sigmoid_and_d1(z)
            else:  # tanh needs two transcendentals to be exact at both ends: the engine's rules
                phi = spec.phi(k + 1)
                a, d1[k] = phi.value(z), phi.d1(z)
        t = np.asarray(target, dtype=np.float64)
        if spec.fused_bce:  # delta_L = (1 - t) s(z_L) - t s(-z_L), both terms exact
            delta = (1.0 - t) * a - t * s_neg
        else:
            delta = spec.loss_fn.grad(a, t) * d1[L - 1]
        grads = np.empty((L, n))
        for k in range(L - 1, -1, -1):
            grads[k] = delta * inputs[k]
            if k:
                delta = delta * wT[k] * d1[k - 1]
    return grads.T
