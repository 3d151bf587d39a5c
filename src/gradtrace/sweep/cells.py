"""The cells of a sweep: one function per kind, from plain values to a flat dict of results.

A cell is ``(kind, params, seed)``. ``PARAMS`` lists each kind's parameters with their type and
default (``REQUIRED`` where there is none); ``cell_params`` checks and completes a cell's values,
so that a cell's identity (``cell_key``) spells every value out. ``run_cell`` computes it through
the library, nothing copied:

* ``train``: a dense net (``dense.DenseSpec``) of ``depth`` layers of ``width`` units, weights
  ``N(0, sigma_w2 / fan_in)`` (``inits.gaussian``) and biases ``N(0, sigma_b2)`` (``inits.bias``),
  the initialization of Schoenholz et al. 2017 (Sec. 2), trained by SGD
  (``lab.classifier.train_classifier``) on scikit-learn's digits (``lab.datasets``, no download)
  with a seeded train/test split. Records the train and test accuracy and the loss curve's
  summary (first, last, lowest, mean over the last tenth of the steps).
* ``theory``: ``theory.meanfield.mean_field`` at ``(sigma_w2, sigma_b2)`` (q*, c*, chi_1, chi_c,
  xi_q, xi_c, phase, the critical sigma_w2).
* ``jacobian``: ``theory.spectra.jacobian_spectrum``: the spectrum of ``J J^T`` predicted by free
  probability and measured on ``samples`` nets (mean and variance over mean^2 of each).
* ``montecarlo``: ``lab.montecarlo.run_montecarlo`` on a chain of ``depth`` weights drawn ``init``
  with ``std``, input and label drawn per sample: the per-layer mean of ``log10 |dL/dw_k|``, the
  median and mean log10 of ``|dL/dw_1| / |dL/dw_L|``, and the share of ``|dL/dw_1|`` below 1e-6.

Randomness: every draw of a cell comes from ``numpy.random.default_rng([seed, crc32(identity)])``
(the train/test split from ``[seed, 0]``, shared by the cells of a seed), so a cell's result is
fixed by its values and seed, whichever process computes it and in which order.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final, TypeAlias, TypedDict, cast

import numpy as np

from gradtrace.core.errors import SpecError
from gradtrace.core.jsontypes import JSONObject

if TYPE_CHECKING:
    from gradtrace.lab.montecarlo import MonteCarloConfig
    from gradtrace.lab.wide import WideConfig

__all__ = [
    "KINDS",
    "MEANINGS",
    "PARAMS",
    "REQUIRED",
    "TYPED_PARAMS",
    "CellParams",
    "JacobianParams",
    "MonteCarloParams",
    "ParamValue",
    "TheoryParams",
    "TrainParams",
    "cell_key",
    "cell_params",
    "cell_rng",
    "check_cell",
    "params_markdown",
    "run_cell",
]

ParamValue: TypeAlias = bool | int | float | str
"""A cell parameter's value (``PARAMS`` gives each parameter's type)."""

CellParams: TypeAlias = dict[str, ParamValue]
"""A cell's parameters by name."""


class _Required:
    """The type of ``REQUIRED``."""

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Final = _Required()
"""Marks a parameter with no default."""

PARAMS: dict[str, dict[str, tuple[type[ParamValue], ParamValue | _Required]]] = {
    "train": {
        "activation": (str, "tanh"),
        "width": (int, 64),
        "depth": (int, REQUIRED),  # hidden layers; the net has depth + 1 weight layers
        "sigma_w2": (float, REQUIRED),
        "sigma_b2": (float, 0.05),
        "dataset": (str, "digits"),
        "steps": (int, 300),
        "learning_rate": (float, 0.01),
        "batch": (int, 32),
        "test_fraction": (float, 0.25),
    },
    "theory": {
        "activation": (str, "tanh"),
        "sigma_w2": (float, REQUIRED),
        "sigma_b2": (float, 0.05),
    },
    "jacobian": {
        "activation": (str, "tanh"),
        "sigma_w2": (float, REQUIRED),
        "sigma_b2": (float, 0.05),
        "depth": (int, REQUIRED),
        "width": (int, 100),
        "samples": (int, 2),
        "init": (str, "gaussian"),
    },
    "montecarlo": {
        "depth": (int, REQUIRED),
        "activation": (str, "sigmoid"),
        "output_activation": (str, "sigmoid"),
        "loss": (str, "bce"),
        "biases": (bool, False),
        "init": (str, "normal"),
        "std": (float, 1.0),
        "samples": (int, 10_000),
    },
}
"""Each kind's parameters: name -> (type, default or ``REQUIRED``)."""


# The complete parameters of each kind as the computations read them (``PARAMS``'s types, which
# ``cell_params`` has checked; tests/test_sweep.py holds the two to the same names and types).


class TrainParams(TypedDict):
    activation: str
    width: int
    depth: int
    sigma_w2: float
    sigma_b2: float
    dataset: str
    steps: int
    learning_rate: float
    batch: int
    test_fraction: float


class TheoryParams(TypedDict):
    activation: str
    sigma_w2: float
    sigma_b2: float


class JacobianParams(TypedDict):
    activation: str
    sigma_w2: float
    sigma_b2: float
    depth: int
    width: int
    samples: int
    init: str


class MonteCarloParams(TypedDict):
    depth: int
    activation: str
    output_activation: str
    loss: str
    biases: bool
    init: str
    std: float
    samples: int


TYPED_PARAMS: dict[str, type] = {
    "train": TrainParams,
    "theory": TheoryParams,
    "jacobian": JacobianParams,
    "montecarlo": MonteCarloParams,
}
"""Each kind's ``TypedDict``: ``PARAMS``'s names and types, for the type checker."""

KINDS = tuple(PARAMS)
"""The kinds of cell."""

MEANINGS: dict[str, dict[str, str]] = {
    "train": {
        "activation": "hidden activation (sigmoid, tanh, relu, leaky_relu, softsign, identity)",
        "width": "units per hidden layer",
        "depth": "hidden layers (the net has depth + 1 weight layers)",
        "sigma_w2": "weight variance: weights N(0, sigma_w2 / fan_in)",
        "sigma_b2": "bias variance: biases N(0, sigma_b2)",
        "dataset": "the data set (digits: scikit-learn's, no download)",
        "steps": "SGD steps",
        "learning_rate": "SGD step size",
        "batch": "minibatch size",
        "test_fraction": "share of the examples held out for the test accuracy",
    },
    "theory": {
        "activation": "activation of the mean-field recursion",
        "sigma_w2": "weight variance",
        "sigma_b2": "bias variance",
    },
    "jacobian": {
        "activation": "activation of every layer",
        "sigma_w2": "weight variance",
        "sigma_b2": "bias variance",
        "depth": "layers of the net whose input-output Jacobian J is measured",
        "width": "units per layer",
        "samples": "random nets measured",
        "init": "weights: gaussian or orthogonal",
    },
    "montecarlo": {
        "depth": "layers of the one-unit chain",
        "activation": "hidden activation",
        "output_activation": "activation of the last layer",
        "loss": "bce or l2",
        "biases": "whether the layers have biases",
        "init": "weights: normal or uniform (same variance)",
        "std": "the weights' standard deviation",
        "samples": "initializations drawn",
    },
}
"""What each parameter of each kind means (the README's tables: ``params_markdown``)."""


def params_markdown() -> str:
    """Each kind's parameters as Markdown tables: name, type, default, meaning (the README's
    "Cell parameters", checked against this by ``tests/test_readme.py``)."""
    names = {bool: "bool", int: "int", float: "float", str: "str"}
    out = []
    for kind, params in PARAMS.items():
        out += [f"`{kind}`:", "", "| parameter | type | default | meaning |", "|---|---|---|---|"]
        for name, (typ, default) in params.items():
            shown = "required" if default is REQUIRED else f"`{json.dumps(default)}`"
            out.append(f"| `{name}` | {names[typ]} | {shown} | {MEANINGS[kind][name]} |")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def check_kind(kind: object) -> str:
    """``kind`` if it is one of ``KINDS``; SpecError naming the choices otherwise."""
    if kind not in PARAMS:
        raise SpecError(f"unknown kind {kind!r} (choose from {', '.join(KINDS)})", field="kind")
    return str(kind)


def coerce(kind: str, name: str, value: object) -> ParamValue:
    """``value`` as parameter ``name`` of ``kind`` takes it (SpecError on an unknown name or a
    value of the wrong type): whole numbers stay whole, numbers become floats."""
    if name not in PARAMS[kind]:
        raise SpecError(
            f"unknown parameter {name!r} for kind {kind!r} (choose from {', '.join(PARAMS[kind])})",
            field=name,
        )
    typ = PARAMS[kind][name][0]
    if typ is bool:
        if isinstance(value, bool):
            return value
    elif typ is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif typ is float:
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    elif isinstance(value, str):
        return value
    what = {bool: "true or false", int: "a whole number", float: "a finite number"}.get(
        typ, "a string"
    )
    raise SpecError(f"{name} must be {what}, got {value!r}", field=name)


def cell_params(kind: str, values: Mapping[str, object]) -> CellParams:
    """Every parameter of ``kind``: ``values`` (checked, ``coerce``) over the defaults, in the
    order of ``PARAMS``; SpecError naming a missing required one."""
    check_kind(kind)
    given = {name: coerce(kind, name, v) for name, v in values.items()}
    out: CellParams = {}
    for name, (_, default) in PARAMS[kind].items():
        if name in given:
            out[name] = given[name]
        elif isinstance(default, _Required):
            raise SpecError(f"kind {kind!r} needs a value for {name!r}", field=name)
        else:
            out[name] = default
    return out


def _identity(kind: str, params: CellParams) -> str:
    return json.dumps({"kind": kind, "params": params}, sort_keys=True, separators=(",", ":"))


def cell_key(kind: str, params: CellParams, seed: int) -> str:
    """The cell's identity as text (its kind, every parameter and its seed): the store's unique
    key."""
    return _identity(kind, params)[:-1] + f',"seed":{int(seed)}}}'


def cell_rng(kind: str, params: CellParams, seed: int) -> np.random.Generator:
    """The cell's random stream: ``default_rng([seed, crc32(kind and params)])``."""
    return np.random.default_rng([int(seed), zlib.crc32(_identity(kind, params).encode())])


def _f(v: float | None) -> float | None:
    return None if v is None else float(v)


def _train_checks(p: TrainParams) -> None:
    """The train cell's values through the library's own checks, without data or training."""
    from gradtrace.core.dense import DenseSpec
    from gradtrace.core.inits import bias, gaussian
    from gradtrace.core.network import check_count
    from gradtrace.lab.datasets import check_dataset, split

    check_count("depth", p["depth"], 1)
    check_count("width", p["width"], 1)
    check_count("steps", p["steps"], 0)
    check_count("batch", p["batch"], 1)
    if not p["learning_rate"] > 0:
        raise SpecError(
            f"learning_rate must be positive, got {p['learning_rate']!r}", field="learning_rate"
        )
    check_dataset(p["dataset"])
    DenseSpec(
        (1, p["width"], 2), activation=p["activation"], output_activation="identity", loss="l2"
    )
    rng = np.random.default_rng(0)
    gaussian(rng, 1, 1, sigma_w2=p["sigma_w2"])
    bias(rng, 1, sigma_b2=p["sigma_b2"])
    split(np.zeros((2, 1)), np.zeros(2), test_fraction=p["test_fraction"], rng=rng)


def _train(p: TrainParams, seed: int, rng: np.random.Generator) -> JSONObject:
    from gradtrace.core.dense import DenseSpec
    from gradtrace.core.inits import bias, gaussian
    from gradtrace.lab.classifier import accuracy, train_classifier
    from gradtrace.lab.datasets import load_dataset, split

    _train_checks(p)
    x, labels = load_dataset(p["dataset"])
    x_train, y_train, x_test, y_test = split(
        x, labels, test_fraction=p["test_fraction"], rng=np.random.default_rng([seed, 0])
    )
    classes = int(labels.max()) + 1
    widths = (x.shape[1], *([p["width"]] * p["depth"]), classes)
    spec = DenseSpec(widths, activation=p["activation"], output_activation="identity", loss="l2")
    weights = tuple(
        gaussian(rng, widths[k + 1], widths[k], sigma_w2=p["sigma_w2"])
        for k in range(len(widths) - 1)
    )
    biases = tuple(bias(rng, n, sigma_b2=p["sigma_b2"]) for n in widths[1:])
    run = train_classifier(
        spec,
        weights,
        biases,
        x_train,
        y_train,
        learning_rate=p["learning_rate"],
        batch=p["batch"],
        steps=p["steps"],
        rng=rng,
    )
    losses = run.losses
    tail = losses[-max(1, len(losses) // 10) :]
    nan = math.nan
    return {
        "train_accuracy": accuracy(spec, run.weights, run.biases, x_train, y_train),
        "test_accuracy": accuracy(spec, run.weights, run.biases, x_test, y_test),
        "loss_first": float(losses[0]) if len(losses) else nan,
        "loss_last": float(losses[-1]) if len(losses) else nan,
        "loss_min": float(losses.min()) if len(losses) else nan,
        "loss_tail_mean": float(tail.mean()) if len(losses) else nan,
        "steps_taken": len(losses),
        "diverged": run.diverged,
    }


def _theory(p: TheoryParams) -> JSONObject:
    from gradtrace.theory.meanfield import mean_field

    mf = mean_field(p["activation"], p["sigma_w2"], p["sigma_b2"])
    return {
        "q_star": _f(mf.q_star),
        "c_star": _f(mf.c_star),
        "chi_1": mf.chi_1,
        "chi_c": mf.chi_c,
        "xi_q": mf.xi_q,
        "xi_c": mf.xi_c,
        "phase": mf.phase,
        "sigma_w2_critical": _f(mf.sigma_w2_critical),
    }


def _theory_checks(p: TheoryParams | JacobianParams) -> None:
    from gradtrace.core.activations import get_activation
    from gradtrace.theory.meanfield import check_point

    get_activation(p["activation"])
    check_point(p["sigma_w2"], p["sigma_b2"])


def _jacobian_config(p: JacobianParams, seed: int) -> WideConfig:
    from gradtrace.lab.wide import WideConfig

    return WideConfig(
        p["activation"],
        p["sigma_w2"],
        p["sigma_b2"],
        width=p["width"],
        depth=p["depth"],
        samples=p["samples"],
        seed=seed,
        init=p["init"],
    )


def _jacobian(p: JacobianParams, rng: np.random.Generator) -> JSONObject:
    from gradtrace.theory.spectra import jacobian_spectrum

    r = jacobian_spectrum(_jacobian_config(p, int(rng.integers(2**31))))
    return {
        "q_star": _f(r.theory.q_star),
        "predicted_mean": r.predicted_mean,
        "predicted_variance_over_mean2": r.predicted_variance_over_mean2,
        "measured_mean": r.measured_mean,
        "measured_variance_over_mean2": r.measured_variance_over_mean2,
    }


def _montecarlo_config(p: MonteCarloParams, seed: int) -> MonteCarloConfig:
    from gradtrace.core.network import ChainSpec
    from gradtrace.lab.montecarlo import MonteCarloConfig

    spec = ChainSpec(
        p["depth"],
        activation=p["activation"],
        output_activation=p["output_activation"],
        loss=p["loss"],
        biases=p["biases"],
    )
    return MonteCarloConfig(
        spec, p["samples"], seed=seed, init=p["init"], std=p["std"], x=None, target=None
    )


def _montecarlo(p: MonteCarloParams, rng: np.random.Generator) -> JSONObject:
    from gradtrace.lab.montecarlo import run_montecarlo

    r = run_montecarlo(_montecarlo_config(p, int(rng.integers(2**31))))
    return {
        "mean_log10_abs_grad": [layer.mean_log10_abs_grad for layer in r.layers],
        "fraction_first_below_1e-6": r.layers[0].fraction_below["1e-6"],
        "ratio_p50": r.ratio_quantiles.get("p50", math.nan),
        "mean_log10_ratio": r.mean_log10_ratio,
        "float64_nonfinite": r.float64_nonfinite,
    }


def check_cell(kind: str, params: CellParams) -> None:
    """Check a cell's complete ``params`` through the constructors its computation uses
    (``DenseSpec``, the inits, ``WideConfig``, ``ChainSpec``, ``MonteCarloConfig``, ...), with
    no data loaded and nothing computed: the SpecError a bad value would raise in the cell."""
    check_kind(kind)
    # complete params (cell_params) have PARAMS's types: the kind's TypedDict
    if kind == "train":
        _train_checks(cast(TrainParams, params))
    elif kind == "theory":
        _theory_checks(cast(TheoryParams, params))
    elif kind == "jacobian":
        _theory_checks(cast(JacobianParams, params))
        _jacobian_config(cast(JacobianParams, params), 0)
    else:
        _montecarlo_config(cast(MonteCarloParams, params), 0)


def run_cell(kind: str, params: CellParams, seed: int) -> JSONObject:
    """Compute one cell: its results as a flat dict (numbers, strings, booleans; the Monte
    Carlo's per-layer means as a list). ``params`` must be complete (``cell_params``); bad
    values raise the engine's SpecError."""
    check_kind(kind)
    rng = cell_rng(kind, params, seed)
    # complete params (cell_params) have PARAMS's types: the kind's TypedDict
    if kind == "train":
        return _train(cast(TrainParams, params), seed, rng)
    if kind == "theory":
        return _theory(cast(TheoryParams, params))
    if kind == "jacobian":
        return _jacobian(cast(JacobianParams, params), rng)
    return _montecarlo(cast(MonteCarloParams, params), rng)
