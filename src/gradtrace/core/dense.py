"""Dense (fully connected) networks: the spec, the parameters, and their forward/backward pass.

Layer ``k = 1 .. L`` has width ``n_k``; ``n_0`` is the input's width::

    forward     a_0 = x,  z_k = W_k a_(k-1) (+ b_k),  a_k = phi_k(z_k),  y = a_L
    output      delta_L = dL/dz_L = dL/dy ⊙ phi_L'(z_L)          (bce after sigmoid: s(z_L) - y_hat)
    recursion   delta_(k-1) = (W_k^T delta_k) ⊙ phi_(k-1)'(z_(k-1))
    gradients   dL/dW_k = delta_k a_(k-1)^T,   dL/db_k = delta_k

(Rumelhart, Hinton & Williams 1986, eq. 14; Goodfellow, Bengio & Courville 2016, Algorithm 6.4;
in matrix form, Nielsen 2015, *Neural Networks and Deep Learning*, ch. 2, eqs. BP1-BP4.)

This is the scalar recursion of ``gradtrace.core.backprop`` (the canonical one) with each weight a
matrix and each delta a vector. At width 1 every product ``W_k^T delta_k`` is the scalar product
``w_k delta_k``, computed in the same order, so ``dense_backprop`` of ``DenseNetwork.from_chain``
reproduces ``backprop`` of the chain (``tests/test_dense.py`` holds them to 1e-14 relative for
every activation and loss, and holds ``dense_backprop`` to torch.autograd in float64).

Losses: ``l2`` and ``huber`` are summed over the output units, ``L = sum_i l(y_i, y_hat_i)``
(no mean, so the width-1 case is the chain's loss). ``bce`` needs one output unit and a sigmoid
output, and is computed from the logit as in the chain engine.

Shapes (``(...)`` = batch shape): ``W_k`` ``(..., n_k, n_(k-1))``, ``b_k`` ``(..., n_k)``,
``x`` ``(..., n_0)``, ``target`` ``(..., n_L)``; per-layer quantities are tuples of length ``L``
whose ``k``-th entry is ``(..., n_k)`` (``(..., n_k, n_(k-1))`` for ``grad_weight``). Residual
connections are not part of the dense spec yet.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from gradtrace.core.activations import Activation, get_activation
from gradtrace.core.errors import SpecError
from gradtrace.core.losses import (
    Loss,
    bce_dloss_dprediction_from_logit,
    bce_from_logit,
    bce_grad_logit,
    get_loss,
)
from gradtrace.core.network import Network, check_finite, check_labels

__all__ = ["DenseNetwork", "DenseSpec", "DenseTrace", "dense_backprop"]

Array = np.ndarray


@dataclass(frozen=True)
class DenseSpec:
    """The architecture of a dense network, without numbers.

    **Fields:**
    - ``widths``: ``(n_0, n_1, ..., n_L)``, the input's width then each layer's; each at least 1,
      at least one layer.
    - ``activation``: hidden activation name (layers ``1 .. L-1``).
    - ``output_activation``: activation of layer ``L``.
    - ``loss``: ``"l2"`` or ``"huber"`` (summed over output units), or ``"bce"`` (one sigmoid
      output unit).
    - ``biases``: whether each layer adds a bias vector ``b_k``.
    """

    widths: tuple[int, ...]
    activation: str = "tanh"  # hidden layers 1 .. L-1
    output_activation: str = "identity"  # layer L
    loss: str = "l2"  # summed over the output units
    biases: bool = True

    def __post_init__(self) -> None:
        try:
            widths = tuple(self.widths)
        except TypeError:
            raise SpecError(
                f"widths must be a sequence of whole numbers, got {self.widths!r}", field="widths"
            ) from None
        if len(widths) < 2:
            raise SpecError(
                f"widths must give the input width and at least one layer, got {widths!r}",
                field="widths",
            )
        for i, n in enumerate(widths):
            if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
                raise SpecError(
                    f"widths must be whole numbers of at least 1, got {n!r} (item {i + 1})",
                    field="widths",
                )
        object.__setattr__(self, "widths", tuple(int(n) for n in widths))
        get_activation(self.activation)
        get_activation(self.output_activation, field="output_activation")
        get_loss(self.loss)
        if self.loss == "bce":
            if self.output_activation != "sigmoid":
                raise SpecError(
                    f"loss 'bce' needs output activation 'sigmoid' (a prediction in (0, 1)), "
                    f"got {self.output_activation!r}",
                    field="loss",
                )
            if self.widths[-1] != 1:
                raise SpecError(
                    f"loss 'bce' needs one output unit, got output width {self.widths[-1]}",
                    field="loss",
                )

    @property
    def depth(self) -> int:
        """Number of layers ``L``."""
        return len(self.widths) - 1

    def phi(self, k: int) -> Activation:
        """The activation of layer ``k`` (1-based)."""
        name = self.output_activation if k == self.depth else self.activation
        return get_activation(name)

    @property
    def loss_fn(self) -> Loss:
        """The ``Loss`` object named by ``loss``."""
        return get_loss(self.loss)

    def check_target(self, target: ArrayLike) -> np.ndarray:
        """The target as float64 ``(..., n_L)``; SpecError if not finite, of the wrong width, or
        outside the loss's label range."""
        t = check_finite("target", target)
        if t.ndim == 0 or t.shape[-1] != self.widths[-1]:
            got = "a scalar" if t.ndim == 0 else f"width {t.shape[-1]}"
            raise SpecError(
                f"target must have the output width {self.widths[-1]} on its last axis, got {got}",
                field="target",
            )
        return check_labels(t, self.loss)


@dataclass(frozen=True, eq=False)
class DenseNetwork:
    """A dense network with numbers: a ``DenseSpec`` plus weight matrices (and bias vectors).

    **Fields:**
    - ``spec``: the architecture.
    - ``weights``: ``L`` float64 arrays, ``W_k`` of shape ``(..., n_k, n_(k-1))``.
    - ``biases``: ``L`` float64 arrays ``(..., n_k)``, or ``None`` (``spec.biases`` says which).
    """

    spec: DenseSpec
    weights: tuple[Array, ...]
    biases: tuple[Array, ...] | None = None

    def __post_init__(self) -> None:
        L, n = self.spec.depth, self.spec.widths
        ws = tuple(self.weights)
        if len(ws) != L:
            raise SpecError(
                f"expected {L} weight matrices (one per layer for depth {L}), got {len(ws)}",
                field="weights",
            )
        checked = []
        for k, w in enumerate(ws, start=1):
            arr = check_finite(f"weights[{k}]", w, field="weights")
            if arr.ndim < 2 or arr.shape[-2:] != (n[k], n[k - 1]):
                raise SpecError(
                    f"weights[{k}] must end in shape ({n[k]}, {n[k - 1]}) (n_{k}, n_{k - 1}), "
                    f"got {arr.shape}",
                    field="weights",
                )
            checked.append(arr)
        object.__setattr__(self, "weights", tuple(checked))
        if self.spec.biases != (self.biases is not None):
            raise SpecError("spec.biases must say whether biases are given", field="biases")
        if self.biases is not None:
            bs = tuple(self.biases)
            if len(bs) != L:
                raise SpecError(
                    f"expected {L} bias vectors (one per layer for depth {L}), got {len(bs)}",
                    field="biases",
                )
            checked_b = []
            for k, b in enumerate(bs, start=1):
                arr = check_finite(f"biases[{k}]", b, field="biases")
                if arr.ndim < 1 or arr.shape[-1] != n[k]:
                    raise SpecError(
                        f"biases[{k}] must end in width {n[k]} (n_{k}), got shape {arr.shape}",
                        field="biases",
                    )
                checked_b.append(arr)
            object.__setattr__(self, "biases", tuple(checked_b))

    @classmethod
    def from_chain(cls, net: Network) -> DenseNetwork:
        """The width-1 dense network equal to the chain ``net``: ``W_k = [[w_k]]``, ``b_k =
        [b_k]``. Its input and target take a trailing axis of length 1 (``x[..., None]``).

        SpecError for a chain with skip connections (not part of the dense spec yet)."""
        cs = net.spec
        if cs.residual:
            raise SpecError(
                "a residual chain has no dense equivalent yet (skip connections are not part "
                "of DenseSpec)",
                field="residual",
            )
        spec = DenseSpec(
            widths=(1,) * (cs.depth + 1),
            activation=cs.activation,
            output_activation=cs.output_activation,
            loss=cs.loss,
            biases=cs.biases,
        )
        weights = tuple(net.weights[..., k, None, None] for k in range(cs.depth))
        biases = (
            None if net.biases is None else tuple(net.biases[..., k, None] for k in range(cs.depth))
        )
        return cls(spec, weights, biases)

    @property
    def depth(self) -> int:
        """Number of layers ``L``."""
        return self.spec.depth

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """Leading batch axes of the parameters (broadcast over all layers)."""
        shapes = [w.shape[:-2] for w in self.weights]
        if self.biases is not None:
            shapes += [b.shape[:-1] for b in self.biases]
        return np.broadcast_shapes(*shapes)


@dataclass(frozen=True, eq=False)
class DenseTrace:
    """Every intermediate of one dense forward and backward pass (plain data).

    **Fields** (``(...)`` = batch shape; tuples have one entry per layer ``k = 1 .. L``):
    - ``spec``; ``weights`` ``(..., n_k, n_(k-1))`` and ``biases`` ``(..., n_k)`` or None, as
      given (not broadcast).
    - ``x`` ``(..., n_0)``, ``target`` ``(..., n_L)``.
    - ``z``, ``a``, ``activation_derivative`` (``phi_k'(z_k)``), ``delta`` (``dL/dz_k``):
      tuples of ``(..., n_k)``.
    - ``grad_weight``: ``dL/dW_k = delta_k a_(k-1)^T``, tuple of ``(..., n_k, n_(k-1))``.
    - ``grad_bias``: ``dL/db_k = delta_k``, tuple of ``(..., n_k)``, or None.
    - ``loss`` ``(...)``; ``prediction`` ``y = a_L`` and ``dloss_dprediction`` ``(..., n_L)``.
    - ``warnings``: one message per quantity where float64 gave inf or NaN (empty if none).
    """

    spec: DenseSpec
    weights: tuple[Array, ...]
    biases: tuple[Array, ...] | None
    x: Array
    target: Array
    z: tuple[Array, ...]
    a: tuple[Array, ...]
    activation_derivative: tuple[Array, ...]
    delta: tuple[Array, ...]
    grad_weight: tuple[Array, ...]
    grad_bias: tuple[Array, ...] | None
    loss: Array
    prediction: Array
    dloss_dprediction: Array
    warnings: tuple[str, ...]

    @property
    def depth(self) -> int:
        """Number of layers ``L``."""
        return self.spec.depth

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """Leading batch axes."""
        return self.loss.shape

    @property
    def inputs(self) -> tuple[Array, ...]:
        """``a_(k-1)``, the input of each layer: ``x`` then ``a_1 .. a_(L-1)``."""
        return (self.x, *self.a[:-1])


def _matvec(w: Array, v: Array) -> Array:
    """``W v`` over batch axes: ``(..., m, n) @ (..., n) -> (..., m)``."""
    return np.matmul(w, v[..., None])[..., 0]


def _rmatvec(w: Array, v: Array) -> Array:
    """``W^T v`` over batch axes: ``(..., m, n), (..., m) -> (..., n)``."""
    return np.matmul(v[..., None, :], w)[..., 0, :]


def dense_backprop(
    net: DenseNetwork, x: ArrayLike, target: ArrayLike, *, batch_mean: bool = False
) -> DenseTrace:
    """Forward and backward pass of the dense ``net`` on the sample ``(x, target)``.

    **Arguments:**
    - ``net``: the network; its parameters may carry batch axes.
    - ``x``: input ``(..., n_0)``; ``target``: ``(..., n_L)``; both broadcast against the
      parameters' batch axes.
    - ``batch_mean``: give ``grad_weight`` and ``grad_bias`` as their means over the batch axes,
      ``(n_k, n_(k-1))`` and ``(n_k,)`` (minibatch SGD): ``mean_b delta_k a_(k-1)^T`` as one
      matrix product, without the per-sample outer products. Needs parameters without batch
      axes; every other field is per sample as usual.

    **Returns:** a ``DenseTrace`` (float64). Where float64 overflows, the trace lists it in
    ``warnings`` rather than warning.

    Raises ``SpecError`` for non-finite inputs, wrong widths, or a label outside the loss's range.
    """
    spec, L, n = net.spec, net.depth, net.spec.widths
    if batch_mean and net.batch_shape:
        raise SpecError(
            f"batch_mean needs parameters without batch axes, got batch shape {net.batch_shape}",
            field="weights",
        )
    x = check_finite("x", x)
    if x.ndim == 0 or x.shape[-1] != n[0]:
        got = "a scalar" if x.ndim == 0 else f"width {x.shape[-1]}"
        raise SpecError(
            f"x must have the input width {n[0]} on its last axis, got {got}", field="x"
        )
    t = spec.check_target(target)
    shape = np.broadcast_shapes(net.batch_shape, x.shape[:-1], t.shape[:-1])
    x = np.broadcast_to(x, (*shape, n[0]))
    t = np.broadcast_to(t, (*shape, n[-1]))

    z: list[Array] = []
    a: list[Array] = []
    d1: list[Array] = []
    with np.errstate(over="ignore", invalid="ignore"):
        # 1. forward, caching z_k, a_k and phi_k'(z_k)
        a_prev = x
        for k in range(L):
            phi = spec.phi(k + 1)
            z_k = _matvec(net.weights[k], a_prev)
            if net.biases is not None:
                z_k = z_k + net.biases[k]
            z_k = np.broadcast_to(z_k, (*shape, n[k + 1])).copy()
            z.append(z_k)
            a.append(phi.value(z_k))
            d1.append(phi.d1(z_k))
            a_prev = a[-1]
        y, z_out = a[-1], z[-1]

        # 2. loss (summed over output units) and delta_L = dL/dz_L
        delta: list[Array] = [np.empty(0)] * L
        if spec.loss == "bce":
            loss = bce_from_logit(z_out, t)
            dloss_dy = bce_dloss_dprediction_from_logit(z_out, t)
            delta[-1] = bce_grad_logit(z_out, t)
        else:
            loss = spec.loss_fn.value(y, t)
            dloss_dy = spec.loss_fn.grad(y, t)
            delta[-1] = dloss_dy * d1[-1]
        loss = np.sum(loss, axis=-1)

        # 3. backward: delta_(k-1) = (W_k^T delta_k) ⊙ phi_(k-1)'(z_(k-1))
        for k in range(L - 1, 0, -1):
            delta[k - 1] = _rmatvec(net.weights[k], delta[k]) * d1[k - 1]

        # 4. parameter gradients: dL/dW_k = delta_k a_(k-1)^T (an outer product per sample)
        inputs = (x, *a[:-1])
        if batch_mean:  # mean_b delta_k a_(k-1)^T: (samples, n_k)^T @ (samples, n_(k-1))
            count = max(1, int(np.prod(shape)))
            flat = [
                (d.reshape(-1, d.shape[-1]), i.reshape(-1, i.shape[-1]))
                for d, i in zip(delta, inputs, strict=True)
            ]
            grad_w = tuple(d.T @ i / count for d, i in flat)
        else:
            grad_w = tuple(
                d[..., :, None] * i[..., None, :] for d, i in zip(delta, inputs, strict=True)
            )
    if net.biases is None:
        grad_b = None
    elif batch_mean:
        grad_b = tuple(d.reshape(-1, d.shape[-1]).mean(0) for d in delta)
    else:
        grad_b = tuple(d.copy() for d in delta)

    named = {
        "z": z,
        "a": a,
        "delta": delta,
        "grad_weight": list(grad_w),
        "loss": [loss],
        "dloss_dprediction": [dloss_dy],
    }
    messages = []
    for name, arrays in named.items():
        bad = sum(int(np.size(v) - np.isfinite(v).sum()) for v in arrays)
        if bad:
            messages.append(f"{name} is not finite in float64 ({bad} entries)")
    return DenseTrace(
        spec=spec,
        weights=net.weights,
        biases=net.biases,
        x=x,
        target=t,
        z=tuple(z),
        a=tuple(a),
        activation_derivative=tuple(d1),
        delta=tuple(delta),
        grad_weight=grad_w,
        grad_bias=grad_b,
        loss=np.asarray(loss),
        prediction=y.copy(),
        dloss_dprediction=np.asarray(dloss_dy),
        warnings=tuple(messages),
    )
