"""Forward pass, explicit backward pass, and the Trace that records both.

Notation (the exercise's, layer ``k = 1 .. L``)::

    forward     a_0 = x,  z_k = w_k a_(k-1) (+ b_k),  a_k = phi_k(z_k),  y = a_L
    output      delta_L = dL/dz_L = dL/dy * phi_L'(z_L)          (bce after sigmoid: s(z_L) - y_hat)
    recursion   delta_k = delta_(k+1) * w_(k+1) * phi_k'(z_k)     (the chain rule, one layer back)
    residual    g_k = g_(k+1) + delta_(k+1) w_(k+1),  delta_k = g_k phi_k'(z_k)   (g_k = dL/da_k;
                hidden layers a_k = a_(k-1) + phi_k(z_k): the skip adds an identity path)
    gradients   dL/dw_k = delta_k * a_(k-1),   dL/db_k = delta_k

(Rumelhart, Hinton & Williams 1986, eq. 14; Goodfellow, Bengio & Courville 2016, Algorithm 6.4.)
The factor ``w_(k+1) phi_k'(z_k)`` passed back per layer is at most ``|w_(k+1)| / 4`` for the
sigmoid, which is why gradients vanish geometrically with depth.

Shapes: parameters ``(..., L)``, ``x`` and ``target`` broadcast against ``(...)``; every
per-layer array of a Trace is ``(..., L)`` with the layer axis last.

This module is the canonical backward recursion: the one every other copy is held to. There are
six other implementations of the chain rule, each kept for a reason this one cannot serve, and
each held to this one by a test:

1. ``gradtrace.core.logmode.backprop_log``: the same recursion on ``(log|.|, sign)`` pairs, for
   chains too deep for float64. ``tests/test_logmode.py::test_agrees_with_plain_float64_where_that_is_finite``
   (within 1e-11 in log10 wherever float64 is exact; ``test_depth_2000_sigmoid_chain_matches_mpmath``
   beyond float64).
2. ``gradtrace.lab.kernel.grad_weights_numpy`` (behind ``grad_weights``): gradients only, fused
   for the Monte Carlo hot path. ``tests/test_kernel.py::test_kernel_equals_engine`` and
   ``::test_kernel_on_the_exercise_batch`` (within 1e-12 relative, depth 30 included).
3. ``gradtrace.lab.kernel_numba`` (``grad_weights(..., backend="numba")``): the same kernel
   compiled with numba; the same two tests, run for each backend.
4. ``gradtrace.symbolic.chain.derive_chain``: the chain-product form in SymPy.
   ``tests/test_symbolic.py::test_closed_form_matches_backprop_to_1e12`` and
   ``::test_closed_form_matches_backprop_deep`` (lambdified at 30 digits, within 1e-12).
5. ``gradtrace.core.dense.dense_backprop``: the recursion with matrices for weights and vectors
   for deltas. ``tests/test_dense.py::test_width_one_equals_chain`` (at width 1, within 1e-14
   relative, every activation and loss).
6. ``gradtrace.lab.wide.simulate``: the backward pass of wide random nets,
   ``dL/dh^(l-1) = phi'(h^(l-1)) ⊙ (W^l)^T dL/dh^l``, from a random output direction.
   ``tests/test_wide.py::test_width_one_is_the_chain`` (at width 1 its gradient-norm ratios are
   ``(delta_l / delta_L)^2`` of this module, within 1e-12).

``backprop`` itself is held to torch.autograd, Ridders' finite differences and mpmath
(``tests/test_backprop.py``); ``dense_backprop`` and ``lab.wide`` to torch.autograd as well
(``tests/test_dense.py``, ``tests/test_wide.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradtrace.core.losses import bce_dloss_dprediction_from_logit, bce_from_logit, bce_grad_logit
from gradtrace.core.network import ChainSpec, Network, check_finite

__all__ = ["Trace", "backprop", "broadcast_inputs"]

Array = np.ndarray


@dataclass(frozen=True, eq=False)
class Trace:
    """Every intermediate of one forward and backward pass (plain data).

    **Fields** (``(...)`` = batch shape, ``L`` = depth):
    - ``spec``: the architecture; ``weights``, ``biases``: ``(..., L)`` (``biases`` may be None).
    - ``x``, ``target``: ``(...)``.
    - ``z``, ``a``: pre-activations and activations ``(..., L)``.
    - ``activation_derivative``: ``phi_k'(z_k)``, ``(..., L)``.
    - ``delta``: ``dL/dz_k``, ``(..., L)``.
    - ``grad_weight``: ``dL/dw_k``; ``grad_bias``: ``dL/db_k`` or None; ``(..., L)``.
    - ``loss``, ``prediction`` (``y = a_L``), ``dloss_dprediction`` (``dL/dy``): ``(...)``.
    - ``warnings``: one message per quantity where float64 gave inf or NaN, and one if gradients
      underflowed to 0 or to subnormals (empty if none).
    """

    spec: ChainSpec
    weights: Array
    biases: Array | None
    x: Array
    target: Array
    z: Array
    a: Array
    activation_derivative: Array
    delta: Array
    grad_weight: Array
    grad_bias: Array | None
    loss: Array
    prediction: Array
    dloss_dprediction: Array
    warnings: tuple[str, ...]
    dloss_dactivation: Array | None = None  # g_k = dL/da_k, (..., L)

    @property
    def depth(self) -> int:
        """Number of layers ``L``."""
        return self.spec.depth

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """Leading batch axes."""
        return self.loss.shape

    @property
    def inputs(self) -> Array:
        """``a_(k-1)``, the input of each layer, ``(..., L)``: ``x`` then ``a_1 .. a_(L-1)``."""
        return np.concatenate([self.x[..., None], self.a[..., :-1]], axis=-1)

    @property
    def backward_factor(self) -> Array:
        """``w_(k+1) phi_k'(z_k)`` for ``k = 1 .. L-1``: what ``delta`` is multiplied by per layer
        passed back, ``(..., L-1)``. With skip connections the gradient also flows along the
        identity path; see ``dloss_dactivation``."""
        return self.weights[..., 1:] * self.activation_derivative[..., :-1]


def broadcast_inputs(
    net: Network, x: Array | float, target: Array | float
) -> tuple[Array, Array | None, Array, Array]:
    """Weights, biases (or None), ``x`` and ``target``, checked and broadcast to one batch shape:
    ``(..., L)`` for the parameters, ``(...)`` for the sample."""
    x = check_finite("x", x)
    t = net.spec.check_target(target)
    shape = np.broadcast_shapes(net.batch_shape, x.shape, t.shape)
    w = np.broadcast_to(net.weights, (*shape, net.depth))
    b = None if net.biases is None else np.broadcast_to(net.biases, (*shape, net.depth))
    return w, b, np.broadcast_to(x, shape), np.broadcast_to(t, shape)


def backprop(net: Network, x: Array | float, target: Array | float) -> Trace:
    """Forward and backward pass of ``net`` on the sample ``(x, target)``.

    **Arguments:**
    - ``net``: the network; its parameters may carry batch axes ``(..., L)``.
    - ``x``, ``target``: input and label/target, broadcastable against the batch shape.

    **Returns:** a ``Trace`` (float64). Where float64 overflows, the Trace lists it in
    ``warnings`` rather than warning; ``backprop_log`` then gives the exact magnitudes.

    Raises ``SpecError`` for non-finite inputs or a label outside the loss's range.
    """
    spec, L = net.spec, net.depth
    w, b, x, t = broadcast_inputs(net, x, target)
    shape = x.shape
    z = np.empty((*shape, L))
    a = np.empty((*shape, L))
    d1 = np.empty((*shape, L))
    with np.errstate(over="ignore", invalid="ignore"):
        # 1. forward, caching z_k, a_k and phi_k'(z_k)
        a_prev = x
        for k in range(L):
            phi = spec.phi(k + 1)
            z[..., k] = w[..., k] * a_prev + (0.0 if b is None else b[..., k])
            a[..., k] = phi.value(z[..., k])
            if spec.residual and k < L - 1:  # skip connection around hidden layer k + 1
                a[..., k] += a_prev
            d1[..., k] = phi.d1(z[..., k])
            a_prev = a[..., k]
        y, z_out = a[..., -1], z[..., -1]

        # 2. loss and delta_L = dL/dz_L at the output
        delta = np.empty((*shape, L))
        if spec.fused_bce:
            loss = bce_from_logit(z_out, t)
            dloss_dy = bce_dloss_dprediction_from_logit(z_out, t)
            delta[..., -1] = bce_grad_logit(z_out, t)
        else:
            loss = spec.loss_fn.value(y, t)
            dloss_dy = spec.loss_fn.grad(y, t)
            delta[..., -1] = dloss_dy * d1[..., -1]

        # 3. backward: delta_k = delta_(k+1) w_(k+1) phi_k'(z_k); with skip connections the
        #    gradient reaching a_k is g_k = g_(k+1) + delta_(k+1) w_(k+1) and delta_k = g_k phi_k'
        dlda = np.empty((*shape, L))  # g_k = dL/da_k
        dlda[..., -1] = dloss_dy
        for k in range(L - 2, -1, -1):
            back = delta[..., k + 1] * w[..., k + 1]
            dlda[..., k] = back + dlda[..., k + 1] if spec.residual and k < L - 2 else back
            delta[..., k] = dlda[..., k] * d1[..., k]

        # 4. parameter gradients
        inputs = np.concatenate([x[..., None], a[..., :-1]], axis=-1)
        grad_w = delta * inputs
    grad_b = None if b is None else delta.copy()

    named = {
        "z": z,
        "a": a,
        "delta": delta,
        "grad_weight": grad_w,
        "loss": loss,
        "dloss_dprediction": dloss_dy,
    }
    messages = [
        f"{name} is not finite in float64 ({int(np.size(v) - np.isfinite(v).sum())} entries); "
        "use the log-magnitude mode"
        for name, v in named.items()
        if not np.isfinite(v).all()
    ]
    n_under = _count_underflow(w, x, inputs, d1, delta, grad_w)
    if n_under:
        messages.append(
            f"grad_weight underflowed in float64 ({n_under} entries are 0 or subnormal although no "
            "factor is 0); use the log-magnitude mode"
        )
    return Trace(
        spec=spec,
        weights=w,
        biases=b,
        x=x,
        target=t,
        z=z,
        a=a,
        activation_derivative=d1,
        delta=delta,
        grad_weight=grad_w,
        grad_bias=grad_b,
        loss=np.asarray(loss),
        prediction=y.copy(),
        dloss_dprediction=np.asarray(dloss_dy),
        warnings=tuple(messages),
        dloss_dactivation=dlda,
    )


def _count_underflow(
    w: Array, x: Array, inputs: Array, d1: Array, delta: Array, grad_w: Array
) -> int:
    """Entries of dL/dw_k that are 0 or subnormal in float64 although none of their factors is 0.

    ``dL/dw_k = delta_L * prod_(j>k) w_j phi'_(j-1) * a_(k-1)`` is truly zero only if a factor is
    (a relu switched off, a zero weight, a zero input, a zero residual)."""
    tiny = np.finfo(np.float64).tiny
    nonzero = (w[..., 1:] != 0) & (
        d1[..., :-1] != 0
    )  # the factor passed back per layer, (..., L-1)
    # all factors from the output down to layer k are nonzero: reverse cumulative AND
    path = np.flip(np.logical_and.accumulate(np.flip(nonzero, -1), axis=-1), -1)
    path = np.concatenate([path, np.ones((*path.shape[:-1], 1), dtype=bool)], axis=-1)
    expect = path & (delta[..., -1:] != 0) & (inputs != 0)
    lost = expect & (np.abs(grad_w) < tiny)
    return int(lost.sum())
