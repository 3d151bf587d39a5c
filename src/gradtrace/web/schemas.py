"""The explorer API's request and answer models: what ``/openapi.json`` describes.

**Requests** are strict: a number must be a JSON number (an integer is a number: ``1`` for
``1.0``), a boolean ``true`` or ``false``, a whole number an integer; ``"0.63"``, ``1`` for a
boolean or ``"yes"`` get 422 naming the field. A query parameter is a string, so it is held to
JSON's number grammar (``-1.5e3``; not ``inf``, ``1_000``, ``0x10``, `` 1`` or ``true``). Every
number must be finite, unknown fields are refused, and every default, bound and description is
read from ``gradtrace.service.defaults`` (``pydantic_field``), never typed here.

**Answers** are the JSON shapes of ``gradtrace.present.json``, typed key by key in the order
those shapes write them. ``Num`` is a float that is ``null`` where the value is infinite or NaN
(each shape says when that happens); a key a shape sometimes leaves out (``warnings`` when
there are none, ``bias`` without biases, ``gradients`` without the closed forms) has a default
here and stays out of the answer (the routes set ``response_model_exclude_unset``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from gradtrace.core.activations import ACTIVATIONS
from gradtrace.core.losses import LOSSES
from gradtrace.lab.draw import DRAW_LAWS
from gradtrace.service.defaults import (
    CURVE,
    DERIVE,
    MONTECARLO,
    SPEC,
    THEORY,
    TRACE,
    TRAIN,
    Param,
    pydantic_field,
)

__all__ = [
    "CurveOut",
    "CurveQuery",
    "DeriveIn",
    "DeriveOut",
    "MonteCarloIn",
    "MonteCarloOut",
    "PhaseIn",
    "PhaseOut",
    "PresetOut",
    "SpecIn",
    "TheoryIn",
    "TheoryOut",
    "TraceIn",
    "TraceOut",
    "TrainIn",
    "TrainOut",
]

if TYPE_CHECKING:  # to the type checker a name is a string
    ActivationName: TypeAlias = str
    LossName: TypeAlias = str
    InitName: TypeAlias = str
else:  # to pydantic, one of the engine's own names (validated, and listed in the schema), so
    # that a new activation or loss needs no second edit here
    ActivationName = Literal[tuple(ACTIVATIONS)]
    LossName = Literal[tuple(LOSSES)]
    InitName = Literal[DRAW_LAWS]

Finite = Annotated[float, Field(allow_inf_nan=False)]
Num: TypeAlias = float | None
"""An answer's number: ``null`` where it is infinite or NaN."""


def _field(p: Param[object], *, required: bool = False) -> Any:  # Any: what Field returns
    """``Field`` with ``p``'s web default, bounds and description."""
    return Field(**pydantic_field(p, required=required))


def _list_field(
    p: Param[object], *, required: bool = False, per: Param[object] | None = None
) -> Any:
    """``Field`` for a list of numbers, one per layer: ``p``'s web bound (or ``per``'s, the
    list it pairs with) is its longest, and a required list has one at least."""
    most = (per or p).web_max
    assert most is not None, f"{p.name}: no bound on its length"
    if required:
        return Field(min_length=1, max_length=int(most), description=p.help)
    return Field(p.default, max_length=int(most), description=p.help)


# ---- requests ----------------------------------------------------------------------------------


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class SpecIn(_Request):
    """The chain's shape: activations and loss (the depth comes from the weights)."""

    activation: ActivationName = _field(SPEC.activation)
    output_activation: ActivationName = _field(SPEC.output_activation)
    loss: LossName = _field(SPEC.loss)
    residual: bool = _field(SPEC.residual)


class TraceIn(SpecIn):
    """One chain at one sample: ``gradtrace grad``'s inputs."""

    weights: list[Finite] = _list_field(TRACE.weights, required=True)
    biases: list[Finite] | None = _list_field(TRACE.biases, per=TRACE.weights)
    x: Finite = _field(TRACE.x, required=True)
    target: Finite = _field(TRACE.target, required=True)
    log: bool = _field(TRACE.log)


class DeriveIn(SpecIn):
    """A chain's symbolic gradients."""

    depth: int = _field(DERIVE.depth, required=True)
    biases: bool = _field(DERIVE.biases)
    closed_form: bool = _field(DERIVE.closed_form)


class MonteCarloIn(SpecIn):
    """``gradtrace montecarlo``'s inputs."""

    depth: int = _field(MONTECARLO.depth, required=True)
    biases: bool = _field(MONTECARLO.biases)
    init: InitName = _field(MONTECARLO.init)
    std: Finite = _field(MONTECARLO.std)
    samples: int = _field(MONTECARLO.samples)
    seed: int = _field(MONTECARLO.seed)
    x: Finite | None = _field(MONTECARLO.x)
    target: Finite | None = _field(MONTECARLO.target)


class TrainIn(SpecIn):
    """``gradtrace train``'s inputs, with clipping and target scaling."""

    weights: list[Finite] = _list_field(TRAIN.weights, required=True)
    x: Finite | None = _field(TRAIN.x)
    target: Finite | None = _field(TRAIN.target)
    dataset: int | None = _field(TRAIN.dataset)
    seed: int = _field(TRAIN.seed)
    learning_rate: Finite = _field(TRAIN.learning_rate)
    steps: int = _field(TRAIN.steps)
    tolerance: Finite = _field(TRAIN.tolerance)
    clip_norm: Finite | None = _field(TRAIN.clip_norm)
    target_scale: Finite = _field(TRAIN.target_scale)


class TheoryIn(_Request):
    """``gradtrace theory``'s inputs (``simulate``: random nets of ``width`` units)."""

    activation: ActivationName = _field(THEORY.activation)
    sigma_w2: Finite = _field(THEORY.sigma_w2)
    sigma_b2: Finite = _field(THEORY.sigma_b2)
    depth: int = _field(THEORY.depth)
    simulate: bool = _field(THEORY.simulate)
    width: int = _field(THEORY.width)
    samples: int = _field(THEORY.samples)
    seed: int = _field(THEORY.seed)


class PhaseIn(_Request):
    """The phase diagram of one activation (around ``gradtrace theory``'s default point)."""

    activation: ActivationName = _field(THEORY.activation)


_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_JSON_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]*)")


def _query_number(v: object) -> object:
    """A query string written as a JSON number, as a float (anything else: 422)."""
    if isinstance(v, str):
        if not _JSON_NUMBER.fullmatch(v):
            raise PydanticCustomError(
                "float_parsing", "not a JSON number: {value}", {"value": repr(v)}
            )
        return float(v)
    return v


def _query_integer(v: object) -> object:
    """A query string written as a JSON integer, as an int (anything else: 422)."""
    if isinstance(v, str):
        if not _JSON_INTEGER.fullmatch(v):
            raise PydanticCustomError(
                "int_parsing", "not a JSON integer: {value}", {"value": repr(v)}
            )
        return int(v)
    return v


QueryFloat = Annotated[float, BeforeValidator(_query_number), Field(allow_inf_nan=False)]
QueryInt = Annotated[int, BeforeValidator(_query_integer)]


class CurveQuery(BaseModel):
    """``/api/activation/{name}``'s query: the grid ``lo`` to ``hi`` in ``points`` points."""

    model_config = ConfigDict(strict=True)  # other query parameters are ignored, as before

    lo: QueryFloat = _field(CURVE.lo)
    hi: QueryFloat = _field(CURVE.hi)
    points: QueryInt = _field(CURVE.points)

    @field_validator("hi")
    @classmethod
    def _above_lo(cls, hi: float, info: ValidationInfo) -> float:
        lo = info.data.get("lo")
        if lo is not None and not lo < hi:
            raise PydanticCustomError(
                "value_error", "must be above lo, got lo={lo} hi={hi}", {"lo": lo, "hi": hi}
            )
        return hi


# ---- answers -----------------------------------------------------------------------------------


class _Answer(BaseModel):
    # a key the shape writes and the model lacks fails loudly (500 in the tests), not dropped
    model_config = ConfigDict(extra="forbid")


class PresetOut(_Answer):
    """One of the exercise's problems (``/api/presets`` answers them by name)."""

    title: str
    weights: list[float]
    x: float
    target: float
    activation: str
    output_activation: str
    loss: str


class TraceLayerOut(_Answer):
    """One layer of the trace (``layer`` 1 .. L, from the input)."""

    layer: int
    weight: Num
    z: Num
    a: Num
    activation_derivative: Num
    delta: Num
    grad_weight: Num
    chain_factor: Num = Field(
        description="w_k phi'(z_(k-1)): the factor carrying delta_k to delta_(k-1); "
        "null into the input"
    )
    bias: Num = Field(None, description="present with biases")
    grad_bias: Num = Field(None, description="present with biases")


class LogLayerOut(_Answer):
    """One layer in log-magnitude mode (exact where float64 under- or overflows)."""

    layer: int
    log10_abs_grad_weight: Num = Field(description="null for an exact zero gradient")
    sign_grad_weight: int
    log10_abs_delta: Num
    float64_underflow: bool
    float64_overflow: bool
    float64_inaccurate: bool


class LogMagnitudeOut(_Answer):
    layers: list[LogLayerOut]


class TraceOut(_Answer):
    """``gradtrace grad --json``: ``null`` where float64 over- or underflowed (``warnings`` say
    where; ``log_magnitude`` has the exact magnitudes)."""

    loss: Num
    prediction: Num
    dloss_dprediction: Num
    layers: list[TraceLayerOut]
    warnings: list[str] = Field(default_factory=list, description="present when any")
    log_magnitude: LogMagnitudeOut | None = Field(None, description="present with log")


class CurveOut(_Answer):
    """``phi``, ``phi'`` and ``phi''`` on the grid ``z``."""

    name: str
    z: list[float]
    value: list[float]
    derivative: list[float]
    second_derivative: list[float]


class DeriveSpecOut(_Answer):
    depth: int
    activation: str
    output_activation: str
    loss: str
    biases: bool


class DeriveOut(_Answer):
    """``gradtrace derive --format json`` plus MathML, each by parameter name (``w1``, ``b1``)."""

    gradients: dict[str, str] = Field(
        default_factory=dict, description="the closed forms; present with closed_form"
    )
    chain: dict[str, str] = Field(description="each gradient as its chain of factors")
    spec: DeriveSpecOut
    mathml: dict[str, str] = Field(description="the chain of factors as MathML")
    mathml_product: dict[str, str] = Field(
        description="the same with the repeated factors folded into a product"
    )


class MonteCarloLayerOut(_Answer):
    layer: int
    abs_grad_quantiles: dict[str, Num] = Field(description="p05 .. p95 of |dL/dw_k|")
    mean_log10_abs_grad: Num = Field(description="over nonzero gradients; null: all zero")
    fraction_zero: float
    fraction_below: dict[str, float]
    fraction_above: dict[str, float]


class RatioOut(_Answer):
    abs_quantiles: dict[str, Num]
    mean_log10: Num


class MonteCarloConfigOut(_Answer):
    depth: int
    activation: str
    output_activation: str
    loss: str
    biases: bool
    residual: bool
    init: str
    std: float
    x: float | None
    target: float | None
    quantile_resolution_log10: float


class MonteCarloOut(_Answer):
    """``gradtrace montecarlo --json``: per-layer statistics of ``|dL/dw_k|``, the config."""

    samples: int
    seed: int
    layers: list[MonteCarloLayerOut]
    ratio_first_to_last: RatioOut = Field(description="of |dL/dw_1| / |dL/dw_L|")
    float64_nonfinite: int
    config: MonteCarloConfigOut


class TrainLayerOut(_Answer):
    layer: int
    initial_weight: Num
    final_weight: Num
    first_grad: Num
    first_relative_update: Num
    median_relative_update: Num
    total_relative_change: Num


class LossCurveOut(_Answer):
    step: list[int]
    loss: list[Num]


class HeatmapOut(_Answer):
    step: list[int]
    log10_abs_grad: list[list[Num]] = Field(
        description="rows: layers; columns: the steps; null where a gradient was 0 or not finite"
    )


class TrainOut(_Answer):
    """``gradtrace train --json``, a layer x step map of ``log10|dL/dw|`` and the options."""

    outcome: str
    message: str
    converged_at: int | None
    diverged_at: int | None
    steps_taken: int
    learning_rate: float
    samples: int
    final_loss: Num
    layers: list[TrainLayerOut]
    loss_curve: LossCurveOut
    heatmap: HeatmapOut
    target_scale: float
    clip_norm: float | None


class SimulatedOut(_Answer):
    """Random nets against the layer-by-layer predictions."""

    width: int
    depth: int
    samples: int
    seed: int
    q: list[Num]
    q_predicted: list[Num]
    grad_norm_ratio: list[Num]
    grad_norm_ratio_predicted: list[Num]


class TheoryOut(_Answer):
    """``gradtrace theory --json`` (``null``: infinite or undefined, e.g. ``xi_c`` on the
    critical line), plus ``depth`` and the predicted ``growth`` ``chi_1^(L-l)``."""

    activation: str
    sigma_w2: float
    sigma_b2: float
    q_star: Num
    c_star: Num
    chi_1: Num
    xi_q: Num
    xi_c: Num
    phase: str
    sigma_w2_critical: Num
    simulated: SimulatedOut | None = Field(None, description="present with simulate")
    depth: int
    growth: list[Num]


class PhaseOut(_Answer):
    """The phase diagram (``present.json.phase_dict``): rows by ``sigma_b2``, columns by
    ``sigma_w2``, 4 significant digits, ``null`` where infinite."""

    activation: str
    sigma_w2: list[Num]
    sigma_b2: list[Num]
    chi_1: list[list[Num]]
    log10_xi_c: list[list[Num]]
    critical_sigma_w2: list[Num] = Field(description="at each sigma_b2; null: none")
