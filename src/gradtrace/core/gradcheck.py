"""Finite-difference gradients, an oracle independent of the backward pass.

Ridders' method (Ridders 1982; Press et al., *Numerical Recipes*, 3rd ed., 5.7): central
differences ``(L(p + h) - L(p - h)) / 2h`` at a shrinking sequence of steps ``h``, extrapolated
to ``h -> 0`` by Neville's tableau, keeping per parameter the estimate whose error estimate is
smallest. It adapts to the scale on which the loss varies, which in a deep chain can be far
smaller than the weight itself (a tanh chain of weight-2 layers varies on a scale ``2^-depth``).
Only the forward pass is used (``backprop(...).loss``), so a bug in the backward recursion
cannot hide here. Every parameter's perturbation is evaluated in one batched forward call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gradtrace.core.backprop import backprop
from gradtrace.core.network import Network

__all__ = ["FiniteDifferences", "GradCheck", "check_gradients", "numerical_gradients"]

Array = np.ndarray


@dataclass(frozen=True, eq=False)
class FiniteDifferences:
    """Ridders' estimates: ``grad_weight`` / ``grad_bias`` ``(..., L)`` and their error estimates."""

    grad_weight: Array
    grad_bias: Array | None
    error_weight: Array
    error_bias: Array | None


def _central(
    net: Network, w: Array, b: Array | None, x: Array, t: Array, which: str, h: Array
) -> Array:
    """``(L(p + h e_k) - L(p - h e_k)) / 2h`` for every k at once, ``(..., L)``."""
    L = net.depth
    eye = np.eye(L)  # (k, L): perturb parameter k
    params = w if which == "w" else b
    assert params is not None
    step = h[..., None, :] * eye  # (..., k, L)
    out = []
    for sign in (1.0, -1.0):
        moved = params[..., None, :] + sign * step  # (..., k, L)
        if which == "w":
            net_m = Network(net.spec, moved, None if b is None else b[..., None, :])
        else:
            net_m = Network(net.spec, w[..., None, :], moved)
        out.append(backprop(net_m, x[..., None], t[..., None]).loss)  # (..., k)
    return (out[0] - out[1]) / (2.0 * h)


def _ridders(
    central: Callable[[Array], Array],
    h0: Array,
    *,
    ntab: int = 24,
    con: float = 1.4,
    safe: float = 2.0,
) -> tuple[Array, Array]:
    """Ridders' extrapolation, elementwise: ``central(h)`` -> (estimate, error estimate)."""
    con2 = con * con
    h = h0.copy()
    prev = [central(h)]
    ans = prev[0].copy()
    err = np.full_like(ans, np.inf)
    done = np.zeros(ans.shape, dtype=bool)
    for _ in range(1, ntab):
        h = h / con
        row = [central(h)]
        fac = con2
        for j in range(1, len(prev) + 1):
            row.append((row[j - 1] * fac - prev[j - 1]) / (fac - 1.0))
            fac *= con2
            errt = np.maximum(np.abs(row[j] - row[j - 1]), np.abs(row[j] - prev[j - 1]))
            better = (errt <= err) & ~done
            ans = np.where(better, row[j], ans)
            err = np.where(better, errt, err)
        # stop where higher order is getting worse (elementwise: freeze those entries)
        done |= np.abs(row[-1] - prev[-1]) >= safe * err
        if done.all():
            break
        prev = row
    return ans, err


def numerical_gradients(
    net: Network, x: Array | float, target: Array | float, *, rel_step: float = 1e-2
) -> FiniteDifferences:
    """``dL/dw`` (and ``dL/db``) by Ridders' extrapolated central differences.

    **Arguments:**
    - ``net``, ``x``, ``target``: as for ``backprop`` (batch axes allowed).
    - ``rel_step``: the first step, ``h = rel_step * max(1, |p|)``; it shrinks by 1.4 per round.

    **Returns:** ``FiniteDifferences`` with estimates and error estimates, each ``(..., L)``.
    """
    x = np.asarray(x, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    shape = np.broadcast_shapes(net.batch_shape, x.shape, target.shape)
    w = np.broadcast_to(net.weights, (*shape, net.depth)).copy()
    b = None if net.biases is None else np.broadcast_to(net.biases, (*shape, net.depth)).copy()
    x, target = np.broadcast_to(x, shape), np.broadcast_to(target, shape)

    def run(which: str) -> tuple[Array, Array]:
        params = w if which == "w" else b
        assert params is not None
        h0 = rel_step * np.maximum(1.0, np.abs(params))
        return _ridders(lambda h: _central(net, w, b, x, target, which, h), h0)

    gw, ew = run("w")
    gb, eb = run("b") if b is not None else (None, None)
    return FiniteDifferences(gw, gb, ew, eb)


@dataclass(frozen=True)
class GradCheck:
    """Result of ``check_gradients``: the largest errors and whether they pass."""

    max_abs_error: float
    max_rel_error: float
    passed: bool


def check_gradients(
    net: Network,
    x: Array | float,
    target: Array | float,
    *,
    rtol: float = 1e-7,
    atol: float = 1e-10,
) -> GradCheck:
    """Compare ``backprop``'s gradients with finite differences: ``|g - fd| <= atol + rtol |fd|``."""
    trace = backprop(net, x, target)
    fd = numerical_gradients(net, x, target)
    pairs = [(trace.grad_weight, fd.grad_weight)]
    if fd.grad_bias is not None and trace.grad_bias is not None:
        pairs.append((trace.grad_bias, fd.grad_bias))
    abs_err = max(float(np.max(np.abs(g - f))) for g, f in pairs)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = [np.abs(g - f) / np.abs(f) for g, f in pairs]
    rel_err = max(float(np.nanmax(np.where(np.isfinite(r), r, 0.0))) for r in rel)
    passed = all(bool(np.all(np.abs(g - f) <= atol + rtol * np.abs(f))) for g, f in pairs)
    return GradCheck(abs_err, rel_err, passed)
