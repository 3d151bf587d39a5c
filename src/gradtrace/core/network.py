"""Chain networks: the architecture (``ChainSpec``), its parameters (``Network``) and presets.

A chain of depth ``L`` has one unit per layer (the 1-D networks of the exercise):

    a_0 = x,   z_k = w_k a_(k-1) (+ b_k),   a_k = phi_k(z_k),   y = a_L,

with ``phi_k`` the hidden activation for ``k < L`` and the output activation for ``k = L``.
Parameters may carry leading batch axes: ``weights`` has shape ``(..., L)`` (the layer axis
last), so one ``Network`` can hold a million initializations at once.

Everything is validated when built; a bad value raises ``SpecError`` (a ``ValueError``) with a
one-line message naming it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from gradtrace.core.activations import Activation, get_activation
from gradtrace.core.errors import SpecError
from gradtrace.core.losses import Loss, get_loss

__all__ = [
    "PRESETS",
    "ChainSpec",
    "Network",
    "Preset",
    "check_count",
    "check_finite",
    "check_labels",
    "get_preset",
]


def check_finite(name: str, value: ArrayLike, *, field: str | None = None) -> np.ndarray:
    """``value`` as a float64 array; SpecError naming ``name`` and the first non-finite entry
    (about ``field``, by default ``name``)."""
    field = name if field is None else field
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise SpecError(f"{name} must be numbers, got {value!r}", field=field) from None
    bad = ~np.isfinite(arr)
    if bad.any():
        first = arr[bad].flat[0]
        if arr.ndim == 0:
            where = ""
        elif arr.ndim == 1:
            where = f" (item {int(np.argwhere(bad)[0][0]) + 1})"
        else:
            where = f" at index {tuple(int(i) for i in np.argwhere(bad)[0])}"
        what = "a finite number" if arr.ndim == 0 else "finite numbers"
        raise SpecError(f"{name} must be {what}, got {first}{where}", field=field)
    return arr


def check_labels(target: np.ndarray, loss: str) -> np.ndarray:
    """``target`` if every entry lies in the label range of ``loss``; SpecError naming the first
    that does not (bce takes labels in [0, 1])."""
    lo, hi = get_loss(loss).label_range
    bad = (target < lo) | (target > hi)
    if bad.any():
        raise SpecError(
            f"target {target[bad].flat[0]:g} is outside [{lo:g}, {hi:g}], "
            f"the label range of the {loss} loss",
            field="target",
        )
    return target


def check_count(name: str, value: int, minimum: int) -> int:
    """``value`` if it is a whole number (not a bool) of at least ``minimum``; SpecError naming
    ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise SpecError(
            f"{name} must be a whole number of at least {minimum}, got {value!r}", field=name
        )
    return int(value)


@dataclass(frozen=True)
class ChainSpec:
    """The architecture of a chain network, without numbers.

    **Fields:**
    - ``depth``: number of layers ``L`` (one weight each), at least 1.
    - ``activation``: hidden activation name (layers ``1 .. L-1``).
    - ``output_activation``: activation of layer ``L``.
    - ``loss``: ``"bce"`` (needs a sigmoid output) or ``"l2"``.
    - ``biases``: whether each layer adds a bias ``b_k``.
    - ``residual``: whether each hidden layer keeps a skip connection, ``a_k = a_(k-1) +
      phi(z_k)`` (He et al. 2016); the output layer has none, its range may differ.
    """

    depth: int
    activation: str = "sigmoid"  # hidden layers 1 .. L-1
    output_activation: str = "sigmoid"  # layer L
    loss: str = "bce"
    biases: bool = False
    residual: bool = False  # hidden layers add a skip connection: a_k = a_(k-1) + phi(z_k)

    def __post_init__(self) -> None:
        if isinstance(self.depth, bool) or not isinstance(self.depth, int | np.integer):
            raise SpecError(f"depth must be a whole number, got {self.depth!r}", field="depth")
        if self.depth < 1:
            raise SpecError(f"depth must be at least 1, got {self.depth}", field="depth")
        get_activation(self.activation)
        get_activation(self.output_activation, field="output_activation")
        get_loss(self.loss)
        if self.loss == "bce" and self.output_activation != "sigmoid":
            raise SpecError(
                f"loss 'bce' needs output activation 'sigmoid' (a prediction in (0, 1)), "
                f"got {self.output_activation!r}",
                field="loss",
            )

    def phi(self, k: int) -> Activation:
        """The activation of layer ``k`` (1-based)."""
        name = self.output_activation if k == self.depth else self.activation
        return get_activation(name)

    @property
    def loss_fn(self) -> Loss:
        """The ``Loss`` object named by ``loss``."""
        return get_loss(self.loss)

    @property
    def fused_bce(self) -> bool:
        """True when the loss is computed from the output logit (bce after a sigmoid)."""
        return self.loss == "bce"

    def check_target(self, target: ArrayLike) -> np.ndarray:
        """The target as float64; SpecError if not finite or outside the loss's label range."""
        return check_labels(check_finite("target", target), self.loss)


@dataclass(frozen=True, eq=False)
class Network:
    """A chain network with numbers: a ``ChainSpec`` plus weights (and biases).

    **Fields:**
    - ``spec``: the architecture.
    - ``weights``: float64 array ``(..., L)``.
    - ``biases``: float64 array ``(..., L)`` or ``None`` (``spec.biases`` says which).

    Build one with ``Network.chain(weights, ...)``.
    """

    spec: ChainSpec
    weights: np.ndarray
    biases: np.ndarray | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "weights", self._per_layer("weights", self.weights))
        if self.spec.biases != (self.biases is not None):
            raise SpecError("spec.biases must say whether biases are given", field="biases")
        if self.biases is not None:
            object.__setattr__(self, "biases", self._per_layer("biases", self.biases))

    def _per_layer(self, name: str, value: np.ndarray) -> np.ndarray:
        """``value`` as finite float64 ``(..., L)``; SpecError if the count per layer is wrong."""
        arr = check_finite(name, value)
        if arr.ndim == 0 or arr.shape[-1] != self.spec.depth:
            got = 1 if arr.ndim == 0 else arr.shape[-1]
            raise SpecError(
                f"expected {self.spec.depth} {name} (one per layer for depth {self.spec.depth}), "
                f"got {got}",
                field=name,
            )
        return arr

    @classmethod
    def chain(
        cls,
        weights: np.ndarray | list[float] | tuple[float, ...],
        *,
        biases: np.ndarray | list[float] | tuple[float, ...] | None = None,
        activation: str = "sigmoid",
        output_activation: str = "sigmoid",
        loss: str = "bce",
        residual: bool = False,
    ) -> Network:
        """A chain whose depth is the length of the last axis of ``weights``."""
        w = check_finite("weights", weights)
        if w.ndim == 0:
            w = w[None]
        spec = ChainSpec(
            depth=int(w.shape[-1]),
            activation=activation,
            output_activation=output_activation,
            loss=loss,
            biases=biases is not None,
            residual=residual,
        )
        return cls(spec, w, None if biases is None else np.asarray(biases, dtype=np.float64))

    @property
    def depth(self) -> int:
        """Number of layers ``L``."""
        return self.spec.depth

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """Leading batch axes of the parameters."""
        shape = self.weights.shape[:-1]
        if self.biases is not None:
            shape = np.broadcast_shapes(shape, self.biases.shape[:-1])
        return shape


@dataclass(frozen=True, eq=False)
class Preset:
    """A named problem: a network plus one sample ``(x, target)``."""

    name: str
    title: str
    network: Network
    x: float
    target: float
    notes: tuple[str, ...] = field(default=())


_EXERCISE_WEIGHTS = (0.25, -0.11, 0.78)  # w1, w2, w3 of parts (b) and (d)
_EXERCISE_X = 0.63

PRESETS: dict[str, Preset] = {
    "exercise-classification": Preset(
        name="exercise-classification",
        title="Part (b): sigmoid chain, cross-entropy, label 1",
        network=Network.chain(_EXERCISE_WEIGHTS, output_activation="sigmoid", loss="bce"),
        x=_EXERCISE_X,
        target=1.0,
    ),
    "exercise-regression": Preset(
        name="exercise-regression",
        title="Part (d): final sigmoid removed, L2 loss, target 128",
        network=Network.chain(_EXERCISE_WEIGHTS, output_activation="identity", loss="l2"),
        x=_EXERCISE_X,
        target=128.0,
    ),
}
"""The exercise's two problems, by name."""


def get_preset(name: str) -> Preset:
    """The preset called ``name``; SpecError naming the choices for an unknown name."""
    try:
        return PRESETS[name]
    except (KeyError, TypeError):
        raise SpecError(
            f"unknown preset {name!r} (choose from {', '.join(PRESETS)})", field="preset"
        ) from None
