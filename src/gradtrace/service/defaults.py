"""Every default and limit the faces show, in one place: the CLI's options, the web API's request
models and the application layer read them from here, and nothing types them again.

One job, one group: ``TRACE`` (``gradtrace grad``, ``/api/trace``), ``SPEC`` (the chain's shape,
shared by grad, derive, montecarlo and train), ``DERIVE``, ``MONTECARLO``, ``DEPTH``, ``TRAIN``,
``REMEDIES``, ``THEORY``, ``PHASE``, ``JACOBIAN``, ``REPORT``, ``SERVE``, ``CURVE`` (the
activation curves of ``/api/activation``) and ``WEB`` (the server's own sizes). Each field is a
``Param``: its ``default``, its ``help`` (the CLI's help text; the API's description), and its
bounds ``ge``/``gt``/``le``. A request to the web server may be held to tighter bounds than the
library's (``web_ge``/``web_le``: each request must finish within the cost model's budget) and
the page may start from smaller numbers (``web_default``); ``pydantic_field`` applies them.

Where the numbers come from (one source each):

* **A library default is the library's.** The engine's config dataclasses below this layer
  (``ChainSpec``, ``MonteCarloConfig``, ``DepthConfig``, ``TrainConfig`` and ``run_remedies``'s
  keywords) keep their own defaults, because a Python user calls them without
  any face, and ``service`` may import them but they may not import ``service`` (the layers run
  one way). This registry reads those defaults (``_field``, ``_keyword``) and their bounds
  (``MAX_STEPS``, ...) instead of typing them again.
* **A face-only default is typed here.** What no library function defaults (the learning rate,
  the theory point sigma_w2 = 1.5, sigma_b2 = 0.05, the Monte Carlo sample count, the Jacobian's
  point, the server's address and the web's tighter bounds) is typed once, here; the
  application layer's functions take their keyword defaults from here too.

Plain Python (the core install has no pydantic): ``pydantic_field`` returns keyword arguments for
``pydantic.Field``, and ``web_limits`` the size bounds the web's cost model holds requests to.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields
from typing import Any, Generic, TypeVar

from gradtrace.core.network import ChainSpec
from gradtrace.lab import depth as _depth
from gradtrace.lab import montecarlo as _mc
from gradtrace.lab import training as _training
from gradtrace.lab.depth import DepthConfig
from gradtrace.lab.montecarlo import MonteCarloConfig
from gradtrace.lab.remedies import run_remedies
from gradtrace.lab.training import TrainConfig
from gradtrace.symbolic import MAX_SYMBOLIC_DEPTH

__all__ = [
    "CURVE",
    "DEFAULT_PRESET",
    "DEPTH",
    "DERIVE",
    "JACOBIAN",
    "MONTECARLO",
    "PHASE",
    "REMEDIES",
    "REPORT",
    "SEED_MAX",
    "SERVE",
    "SPEC",
    "THEORY",
    "TRACE",
    "TRAIN",
    "WEB",
    "Param",
    "pydantic_field",
    "web_limits",
]

T = TypeVar("T", covariant=True)  # a Param[int] is a Param[object]: read-only

DEFAULT_PRESET = "exercise-classification"
"""The problem experiments fall back on: part (b)'s chain and sample."""

SEED_MAX = 2**63 - 1
"""The largest seed a request may give (NumPy takes any non-negative int; JSON clients need a
bound)."""


@dataclass(frozen=True)
class Param(Generic[T]):
    """One option of one job.

    **Fields:** ``name`` (the Python and JSON name; the CLI's ``--name`` with ``-`` for ``_``);
    ``default``; ``help`` (the CLI's help text, the API's description); ``ge``/``gt``/``le``
    (the bounds the library enforces, None: unbounded); ``web_default``, ``web_ge`` and
    ``web_le`` (the web request's own, where they differ: None means the same as the library's).
    """

    name: str
    default: T
    help: str = ""
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    web_default: T | None = None
    web_ge: float | None = None
    web_le: float | None = None

    @property
    def web_max(self) -> float | None:
        """The upper bound of a web request (its own, else the library's)."""
        return self.web_le if self.web_le is not None else self.le


def pydantic_field(p: Param[object], *, required: bool = False) -> dict[str, Any]:
    """Keyword arguments for ``pydantic.Field`` from ``p``: the web's default (none when
    ``required``), bounds and description. Bounds that are None are left out."""
    out: dict[str, Any] = {}
    if not required:
        out["default"] = p.web_default if p.web_default is not None else p.default
    bounds = {
        "ge": p.web_ge if p.web_ge is not None else p.ge,
        "gt": p.gt,
        "le": p.web_max,
    }
    out.update({k: v for k, v in bounds.items() if v is not None})
    if p.help:
        out["description"] = p.help
    return out


# ---- reading the library's own defaults ------------------------------------------------------


def _field(cls: type, name: str) -> Any:
    """The default of dataclass ``cls``'s field ``name`` (the library's, not typed again)."""
    for f in fields(cls):
        if f.name == name:
            if f.default is not MISSING:
                return f.default
            if f.default_factory is not MISSING:
                return f.default_factory()
            break
    raise LookupError(f"{cls.__name__}.{name} has no default")


def _keyword(func: Callable[..., object], name: str) -> Any:
    """The default of ``func``'s keyword argument ``name``."""
    default = inspect.signature(func).parameters[name].default
    if default is inspect.Parameter.empty:
        raise LookupError(f"{func.__name__}({name}=...) has no default")
    return default


ACTIVATION_HELP = "sigmoid, tanh, relu, leaky_relu, softsign or identity"
LOSS_HELP = "bce (needs a sigmoid output), l2 or huber"


SEED: Param[int] = Param(
    "seed", 0, "Seed (the same seed gives the same result)", ge=0, web_le=SEED_MAX
)
"""The seed of most jobs."""


# ---- the chain's shape and one sample ----------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """The chain's shape (``ChainSpec``'s defaults)."""

    activation: Param[str] = Param(
        "activation",
        _field(ChainSpec, "activation"),
        f"Hidden activation: {ACTIVATION_HELP} [default: {_field(ChainSpec, 'activation')}]",
    )
    output_activation: Param[str] = Param(
        "output_activation",
        _field(ChainSpec, "output_activation"),
        f"Output activation: {ACTIVATION_HELP} [default: {_field(ChainSpec, 'output_activation')}]",
    )
    loss: Param[str] = Param(
        "loss", _field(ChainSpec, "loss"), f"{LOSS_HELP} [default: {_field(ChainSpec, 'loss')}]"
    )
    residual: Param[bool] = Param(
        "residual",
        _field(ChainSpec, "residual"),
        "Skip connections: hidden a_k = a_(k-1) + phi(z_k)",
    )


@dataclass(frozen=True)
class Trace:
    """``gradtrace grad`` and ``/api/trace``: one chain at one sample."""

    weights: Param[tuple[float, ...] | None] = Param(
        "weights",
        None,
        "Comma-separated weights (their count: depth)",
        web_le=1000,  # list length: one backprop of 1,000 layers is well under a millisecond
    )
    biases: Param[tuple[float, ...] | None] = Param(
        "biases", None, "Comma-separated biases, one per layer"
    )
    x: Param[float | None] = Param("x", None, "The input x")
    target: Param[float | None] = Param("target", None, "The label or target y_hat")
    depth: Param[int | None] = Param(
        "depth", None, "Check that --weights has this many entries", ge=1
    )
    log: Param[bool] = Param("log", False, "Also give log10|dL/dw| exactly (log-magnitude mode)")


# ---- the experiments --------------------------------------------------------------------------


@dataclass(frozen=True)
class Derive:
    """``gradtrace derive`` and ``/api/derive``: a chain's symbolic gradients."""

    depth: Param[int | None] = Param(
        "depth",
        None,
        "Number of layers L",
        ge=1,
        le=MAX_SYMBOLIC_DEPTH,  # closed forms grow as depth squared
        web_le=min(50, MAX_SYMBOLIC_DEPTH),  # the cost model: sigmoid depth 50 takes 19 s
    )
    biases: Param[bool] = Param("biases", False, "Add a bias b_k to each layer")
    closed_form: Param[bool | None] = Param(
        "closed_form",
        None,  # the CLI: up to a depth (``CLOSED_FORM_DEPTH``), and always in JSON
        "Include the closed forms (they grow as the cube of the depth; the page omits them)",
        web_default=True,
    )


@dataclass(frozen=True)
class MonteCarlo:
    """``gradtrace montecarlo`` and ``/api/montecarlo`` (``MonteCarloConfig``'s defaults)."""

    depth: Param[int | None] = Param(
        "depth", None, f"Number of layers L (at most {_mc.MAX_DEPTH})", ge=1, le=_mc.MAX_DEPTH
    )
    biases: Param[bool] = Param("biases", False, "Draw a bias per layer too")
    x: Param[float | None] = Param(
        "x", None, "The input x [default: the preset's, else part (b)'s]"
    )
    target: Param[float | None] = Param(
        "target", None, "The label y_hat [default: the preset's, else part (b)'s]"
    )
    init: Param[str] = Param(
        "init", _field(MonteCarloConfig, "init"), "normal: N(0, std^2); uniform: the same variance"
    )
    std: Param[float] = Param(
        "std",
        _field(MonteCarloConfig, "std"),
        "Standard deviation of the weights",
        gt=0,
        web_le=1e6,
    )
    samples: Param[int] = Param(
        "samples",
        100_000,
        "Number of initializations",
        ge=1,
        le=_mc.MAX_SAMPLES,  # int32 histogram counts
        web_le=1_000_000,
    )
    seed: Param[int] = SEED
    chunk_size: Param[int] = Param(
        "chunk_size",
        _field(MonteCarloConfig, "chunk_size"),
        "Samples between progress updates (results do not change)",
        ge=1,
    )


@dataclass(frozen=True)
class Depth:
    """``gradtrace depth`` (``DepthConfig``'s defaults)."""

    activation: Param[str] = Param(
        "activation",
        _field(DepthConfig, "activation"),
        f"Activation of every layer: {ACTIVATION_HELP}",
    )
    std: Param[float] = Param(
        "std", _field(DepthConfig, "std"), "Standard deviation of the weights", gt=0
    )
    depths: Param[tuple[int, ...]] = Param(
        "depths",
        _field(DepthConfig, "depths"),
        f"Comma-separated depths, each 1 to {_depth.MAX_DEPTH:,}",
        ge=1,
        le=_depth.MAX_DEPTH,
    )
    samples: Param[int] = Param("samples", _field(DepthConfig, "samples"), "Chains per depth", ge=2)
    seed: Param[int] = Param(
        "seed", _field(DepthConfig, "seed"), "Seed (the same seed gives the same result)", ge=0
    )
    init: Param[str] = Param(
        "init", _field(DepthConfig, "init"), "normal: N(0, std^2); uniform: the same variance"
    )
    x: Param[float] = Param("x", _field(DepthConfig, "x"), "The input x")
    target: Param[float] = Param(
        "target", _field(DepthConfig, "target"), "The target y_hat (l2 loss, identity output)"
    )


@dataclass(frozen=True)
class Train:
    """``gradtrace train`` and ``/api/train`` (``TrainConfig``'s defaults)."""

    weights: Param[tuple[float, ...] | None] = Param(
        "weights", None, "Comma-separated starting weights", web_le=1000
    )
    x: Param[float | None] = Param(
        "x", None, "The input x (one sample) [default: the preset's, else part (b)'s]"
    )
    target: Param[float | None] = Param(
        "target",
        None,
        "The label or target y_hat (one sample) [default: the preset's, else part (b)'s]",
    )
    dataset: Param[int | None] = Param(
        "dataset",
        None,
        "Train on N seeded 1-D samples instead of one (the preset's chain, else part (b)'s)",
        ge=1,
        web_le=1000,
    )
    seed: Param[int] = Param("seed", 0, "Seed of --dataset", ge=0, web_le=SEED_MAX)
    learning_rate: Param[float] = Param("learning_rate", 0.01, "Step size", gt=0, web_le=1e6)
    steps: Param[int] = Param(
        "steps",
        _field(TrainConfig, "steps"),
        f"Most steps to take (at most {_training.MAX_STEPS:,})",
        ge=1,
        le=_training.MAX_STEPS,
    )
    tolerance: Param[float] = Param(
        "tolerance",
        _field(TrainConfig, "tolerance"),
        "A loss at or below this counts as converged",
        ge=0,
    )
    clip_norm: Param[float | None] = Param(
        "clip_norm",
        _field(TrainConfig, "clip_norm"),
        "Clip the gradient's norm to this (Pascanu et al. 2013) [default: no clipping]",
        gt=0,
    )
    target_scale: Param[float] = Param(
        "target_scale", 1.0, "Divide every target by this and train on that", gt=0
    )


@dataclass(frozen=True)
class Remedies:
    """``gradtrace remedies`` (``run_remedies``'s defaults)."""

    steps: Param[int] = Param(
        "steps",
        _keyword(run_remedies, "steps"),
        "Steps per run (the same budget for every row)",
        ge=1,
        le=_training.MAX_STEPS,
    )
    seed: Param[int] = Param(
        "seed",
        _keyword(run_remedies, "seed"),
        "Seed of the vanishing case's weights and data",
        ge=0,
    )


# ---- theory -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Theory:
    """``gradtrace theory`` and ``/api/theory``: mean-field theory at one point (the default
    point is also the centre of the page's phase diagram)."""

    activation: Param[str] = Param(
        "activation", "tanh", f"Activation of every layer: {ACTIVATION_HELP}"
    )
    sigma_w2: Param[float] = Param(
        "sigma_w2", 1.5, "Weight variance: W_ij ~ N(0, sigma_w2 / N)", gt=0, web_le=100
    )
    sigma_b2: Param[float] = Param(
        "sigma_b2", 0.05, "Bias variance: b_i ~ N(0, sigma_b2)", ge=0, web_le=10
    )
    depth: Param[int] = Param(
        "depth",
        20,
        "Layers L of the predicted gradient growth",
        ge=1,
        le=100_000,
        web_le=100,
    )
    width: Param[int] = Param(
        "width",
        500,
        "Units per layer of the simulated nets",
        ge=1,
        le=2000,  # a simulated layer costs width^2 per sample: seconds at these bounds
        web_default=100,
        web_ge=10,
        web_le=1000,
    )
    samples: Param[int] = Param("samples", 4, "Simulated nets", ge=1, web_default=2, web_le=16)
    simulate: Param[bool] = Param(
        "simulate", False, "Also simulate random nets of --width units and --depth layers"
    )
    seed: Param[int] = SEED
    simulated_depth_max: int = 200
    """Deepest simulated net (``--simulate``); the prediction alone goes to ``depth.le``."""


@dataclass(frozen=True)
class Phase:
    """``/api/phase`` (and ``gradtrace theory --figure``'s diagram): around ``THEORY``'s point."""

    points: int = 80
    """The page's phase diagram: ``points`` x ``points`` grid points."""


@dataclass(frozen=True)
class Jacobian:
    """``gradtrace jacobian``: squared singular values of deep random nets' Jacobians."""

    activation: Param[str] = Param(
        "activation", "tanh", f"Activation of every layer: {ACTIVATION_HELP}"
    )
    sigma_w2: Param[float] = Param(
        "sigma_w2",
        1.05,
        "Weight variance: W_ij ~ N(0, sigma_w2 / N), or sqrt(sigma_w2) Q",
        gt=0,
    )
    sigma_b2: Param[float] = Param("sigma_b2", 0.0, "Bias variance: b_i ~ N(0, sigma_b2)", ge=0)
    depth: Param[int] = Param("depth", 10, "Layers L", ge=1, le=4000)
    width: Param[int] = Param(
        "width",
        200,
        "Units N per layer",
        ge=1,
        le=4000,  # each layer costs samples N^3
    )
    init: Param[str] = Param("init", "orthogonal", "gaussian or orthogonal (scaled Haar) weights")
    samples: Param[int] = Param("samples", 4, "Random nets drawn", ge=1)
    seed: Param[int] = SEED
    entries_max: int = 128_000_000
    """Most ``samples x width^2``: 1 GB per float64 array (the Jacobians take 3)."""


# ---- the report, the server, the page -----------------------------------------------------------


@dataclass(frozen=True)
class Serve:
    """``gradtrace serve``: where the explorer listens."""

    host: Param[str] = Param("host", "127.0.0.1", "Address to bind (only this machine by default)")
    port: Param[int] = Param("port", 8000, "Port to listen on (0: any free port)", ge=0, le=65535)


@dataclass(frozen=True)
class Curve:
    """``/api/activation/{name}``: phi, phi' and phi'' on a grid."""

    # |z| up to 1e6: every activation and both derivatives stay finite (softsign's square
    # overflows past 1e154, and hi - lo past 1.8e308 leaves the grid itself not finite)
    lo: Param[float] = Param("lo", -8.0, "Left end of the grid", ge=-1e6, le=1e6)
    hi: Param[float] = Param("hi", 8.0, "Right end of the grid (above lo)", ge=-1e6, le=1e6)
    points: Param[int] = Param("points", 401, "Grid points", ge=2, le=2001)


@dataclass(frozen=True)
class Web:
    """The web server's own sizes."""

    heatmap_columns: int = 200
    """Steps shown in ``/api/train``'s layer x step map (longer runs are thinned)."""


SPEC = Spec()
TRACE = Trace()
DERIVE = Derive()
MONTECARLO = MonteCarlo()
DEPTH = Depth()
TRAIN = Train()
REMEDIES = Remedies()
THEORY = Theory()
PHASE = Phase()
JACOBIAN = Jacobian()
SERVE = Serve()
CURVE = Curve()
WEB = Web()


@dataclass(frozen=True)
class Report:
    """``gradtrace report``. ``ReportConfig`` (in ``present``, whose import pulls in the whole
    lab and theory: too slow to read for ``--help``) keeps equal defaults for Python callers;
    ``tests/test_defaults.py`` holds the two equal, and the CLI always passes these."""

    samples: Param[int] = Param(
        "samples", MONTECARLO.samples.default, "Monte Carlo initializations per depth", ge=1
    )
    seed: Param[int] = Param("seed", 0, "Seed of every random draw", ge=0)


REPORT = Report()


def _int(v: float | None) -> int:
    assert v is not None
    return int(v)


def web_limits() -> dict[str, int]:
    """The size bounds every web request is held to (``gradtrace.web.cost.LIMITS``): the
    library's own where the server has none tighter."""
    return {
        "depth": _int(TRACE.weights.web_max),
        "derive_depth": _int(DERIVE.depth.web_max),
        "montecarlo_depth": _int(MONTECARLO.depth.web_max),
        "samples": _int(MONTECARLO.samples.web_max),
        "steps": _int(TRAIN.steps.web_max),
        "dataset": _int(TRAIN.dataset.web_max),
        "curve_points": _int(CURVE.points.web_max),
        "heatmap_columns": WEB.heatmap_columns,
        "theory_depth": _int(THEORY.depth.web_max),
        "theory_width": _int(THEORY.width.web_max),
        "theory_samples": _int(THEORY.samples.web_max),
    }
