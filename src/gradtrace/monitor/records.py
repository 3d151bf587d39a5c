"""A monitored run as plain data, and its files (no torch here: a saved run renders without it).

A *record* is one dict per (optimizer step, parameter), with the keys of ``RECORD_KEYS``:

* ``step``: the optimizer's step count before this step (0 for the first step);
* ``name``: the parameter's name in ``model.named_parameters()``;
* ``grad_norm``: ``||g||_2`` of its gradient (after backward, before the step; unscaled under AMP);
* ``grad_max_abs``: ``max |g_i|`` (nan at a step where it was not measured: see
  ``GradientMonitor``'s ``detail_every``);
* ``weight_norm``: ``||w||_2`` of the parameter before the step (nan where not measured);
* ``nonfinite``: how many entries of ``g`` are inf or nan (0 where ``g`` is finite; see
  ``GradientMonitor`` for when the count is exact and when it is 1 for "at least one");

and, when tracked, ``update_ratio`` (``||w_after - w_before||_2 / ||w_before||_2`` of that step)
and ``skipped`` (True where a GradScaler skipped the step because it found inf/nan).

A *loss record* (``GradientMonitor.observe_loss``) is ``{"step", "loss"}``: the training loss
of that optimizer step, when the loop passes it.

An *activation record* is one dict per (step, activation module): ``step``, ``name`` (the
module's name in ``model.named_modules()``), ``kind`` (``"saturated"`` for sigmoid/tanh,
``"dead"`` for ReLU) and ``fraction`` (see ``GradientMonitor``).

Files: ``save_run`` writes ``.csv`` (always available), ``.parquet`` (needs pyarrow) or
``.json`` (the records, the activation records, the mean-field description of the model and the
``RunContext``, so that the report can compare with theory and the verdict knows the model);
``load_run`` reads any of them back.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from gradtrace.core.errors import SpecError
from gradtrace.core.jsontypes import JSONObject

__all__ = [
    "ACTIVATION_KEYS",
    "OPTIONAL_KEYS",
    "RECORD_KEYS",
    "MlpShape",
    "MonitorRun",
    "RunContext",
    "load_run",
    "norm_matrix",
    "save_run",
    "step_totals",
]

RECORD_KEYS = ("step", "name", "grad_norm", "grad_max_abs", "weight_norm", "nonfinite")
"""The keys every record has, in this order."""
OPTIONAL_KEYS = ("update_ratio", "skipped")
"""Keys a record has when tracked (``track_updates=True``; a GradScaler attached)."""
ACTIVATION_KEYS = ("step", "name", "kind", "fraction")
"""The keys of an activation record."""

Record = dict[str, Any]
"""A record (of any of the three kinds): each value has its key's type, listed above. A
``TypedDict`` per kind would say so to the type checker, but the records are read by keys held
in variables (``norm_matrix(records, key)``), which a ``TypedDict`` refuses."""


@dataclass(frozen=True)
class MlpShape:
    """A plain MLP (Linear layers with one elementwise activation between them), described for
    the mean-field comparison: its hidden weights' names in order, the activation, and the
    ``sigma_w2 = fan_in Var(W)`` and ``sigma_b2 = Var(b)`` of its hidden layers, estimated from
    the weights at construction (averaged over the hidden layers)."""

    activation: str
    weights: tuple[str, ...]  # the Linear weights' parameter names, input to output
    sigma_w2: float
    sigma_b2: float


@dataclass(frozen=True)
class RunContext:
    """What the monitor knows of the model and of the training loop around the records: the
    verdict reads it to tell a gradient that is zero by design from one that vanished, to say why
    a run has no records, and never to advise what the model already has. Every field has a
    default meaning "not known", so a run read from a CSV file (records only) is judged on its
    records alone.

    Structure (from the model when the monitor is built, and from its first training forward):

    * ``activations``: activation module kinds present, lower case, from the module classes
      (``"relu"``, ``"leaky_relu"``, ``"gelu"``, ``"sigmoid"``, ``"tanh"``, ...); functional
      activations (``torch.relu(x)``) are not seen.
    * ``norms``: normalization kinds present (``"batchnorm"``, ``"layernorm"``, ``"groupnorm"``,
      ``"instancenorm"``, ``"rmsnorm"``).
    * ``residual``: True where the model has known residual blocks (a skip path), False where it
      has none of the known kinds, None where not known.
    * ``recurrent``: module name -> ``"rnn"``, ``"lstm"`` or ``"gru"``, for each ``nn.RNN``/
      ``nn.LSTM``/``nn.GRU`` (their internal activations are invisible to the saturation and
      dead-unit checks).
    * ``cancelled``: bias parameters whose output goes straight into a BatchNorm, which subtracts
      the batch mean and so cancels them: their gradient is zero by design (up to rounding).
    * ``frozen``: parameters with ``requires_grad=False``; ``unused``: trainable parameters
      that got no gradient at any recorded step (no path to the loss).
    * ``tied``: a parameter's name -> its other names, for parameters shared by several modules
      (recorded once, under the first name).

    Training loop:

    * ``optimizers``: the attached optimizers' class names; ``adaptive``: whether they scale
      each update by a running gradient statistic (Adam, RMSprop, Adagrad, ...), which makes the
      update's size insensitive to the gradient's scale; ``lr``: the first parameter group's
      learning rate at the first recorded step.
    * ``scaler``: a GradScaler was passed to ``attach``; ``param_dtypes``: the parameters'
      dtypes (``"float32"``, ``"float16"``, ...).
    * ``backward_passes``: backward passes that reached the model's parameters;
      ``optimizer_steps``: optimizer steps seen (recorded or not). Backward passes with no step
      mean a GradScaler skipping every step without being attached, or a loop that never steps.
    * ``world_size``: processes in the ``torch.distributed`` group (1 without one): the records
      are of the full parameters, reduced over the ranks.
    """

    activations: tuple[str, ...] = ()
    norms: tuple[str, ...] = ()
    residual: bool | None = None
    recurrent: dict[str, str] = field(default_factory=dict)
    cancelled: tuple[str, ...] = ()
    frozen: tuple[str, ...] = ()
    unused: tuple[str, ...] = ()
    tied: dict[str, tuple[str, ...]] = field(default_factory=dict)
    optimizers: tuple[str, ...] = ()
    adaptive: bool | None = None
    lr: float | None = None
    scaler: bool = False
    param_dtypes: tuple[str, ...] = ()
    backward_passes: int | None = None
    optimizer_steps: int | None = None
    world_size: int = 1

    def to_json(self) -> JSONObject:
        """A JSON-ready dict (tuples as lists)."""
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> RunContext:
        """The inverse of ``to_json`` (``doc``: a file's JSON, as read); unknown keys are ignored,
        missing ones take defaults."""
        known = {f for f in cls.__dataclass_fields__}
        kw: dict[str, Any] = {}
        for k, v in doc.items():
            if k not in known:
                continue
            if k == "tied":
                v = {str(a): tuple(str(b) for b in bs) for a, bs in (v or {}).items()}
            elif k == "recurrent":
                v = {str(a): str(b) for a, b in (v or {}).items()}
            elif isinstance(v, list):
                v = tuple(v)
            kw[k] = v
        return cls(**kw)


@dataclass(frozen=True)
class MonitorRun:
    """Everything a monitor recorded: records, activation records, the MLP's shape when the
    model is one (else None), and the model's parameters that got no record at any step (frozen
    or unused: no gradient), where known (the monitor and JSON files know; CSV and Parquet
    files hold records only, so a run read from them has None)."""

    records: list[Record]
    activations: list[Record] = field(default_factory=list)
    mlp: MlpShape | None = None
    unrecorded: list[str] | None = None  # model parameters never recorded; None: not known
    context: RunContext = field(default_factory=RunContext)  # what is known around the records
    losses: list[Record] = field(default_factory=list)  # {"step", "loss"}: observe_loss


def norm_matrix(
    records: Sequence[Record], key: str = "grad_norm"
) -> tuple[list[str], list[int], np.ndarray]:
    """``(names, steps, values)``: ``values[i, j]`` is ``key`` of parameter ``names[i]`` at
    ``steps[j]``, shape ``(len(names), len(steps))``, nan where that parameter had no record
    (no gradient at that step). Names keep their first-seen order (the model's order)."""
    names = list(dict.fromkeys(r["name"] for r in records))
    steps = sorted({int(r["step"]) for r in records})
    row = {n: i for i, n in enumerate(names)}
    col = {s: j for j, s in enumerate(steps)}
    values = np.full((len(names), len(steps)), np.nan)
    for r in records:
        v = r.get(key)
        values[row[r["name"]], col[int(r["step"])]] = np.nan if v is None else float(v)
    return names, steps, values


def step_totals(records: Sequence[Record]) -> tuple[list[int], np.ndarray]:
    """``(steps, total)``: the global gradient norm ``sqrt(sum_p ||g_p||^2)`` per step, over the
    parameters recorded at that step, exact and without overflow (``math.hypot``). A step where
    any recorded norm is nan has a nan total, else one where any is inf an inf total: never the
    smaller sum of the finite ones (a step whose every gradient is nan is not a norm of 0)."""
    by_step: dict[int, list[float]] = {}
    for r in records:
        by_step.setdefault(int(r["step"]), []).append(float(r["grad_norm"]))
    steps = sorted(by_step)
    # math.hypot gives inf over nan (the IEEE convention); a nan norm must make the total nan
    totals = []
    for s in steps:
        g = by_step[s]
        totals.append(math.nan if any(map(math.isnan, g)) else math.hypot(*g))
    total = np.asarray(totals, dtype=float)
    return steps, total


# ---- files ---------------------------------------------------------------------------------------


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".json"):
        raise SpecError(
            f"records file {str(path)!r}: unknown format {suffix or '(no suffix)'!r}; "
            "use .csv, .parquet or .json",
            field="records",
        )
    return suffix


def _json_number(v: object) -> object:
    """JSON has no inf/nan: write them as the strings "inf", "-inf", "nan"."""
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


def _pyarrow() -> ModuleType:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise SpecError(
            "Parquet needs pyarrow (pip install pyarrow); or save as .csv or .json",
            field="records",
        ) from None
    return pyarrow


def save_run(run: MonitorRun, path: str | Path) -> Path:
    """Write ``run`` to ``path``; the suffix picks the format (``.csv``, ``.parquet``,
    ``.json``). CSV and Parquet hold the records only; JSON holds the whole run."""
    path = Path(path)
    suffix = _suffix(path)
    keys = [*RECORD_KEYS, *(k for k in OPTIONAL_KEYS if run.records and k in run.records[0])]
    if suffix == ".csv":
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            w.writerows(run.records)  # floats as repr: exact round trip, inf and nan included
    elif suffix == ".parquet":
        pa = _pyarrow()
        table = pa.table({k: [r[k] for r in run.records] for k in keys})
        pa.parquet.write_table(table, path)
    else:
        doc = {
            "records": [{k: _json_number(v) for k, v in r.items()} for r in run.records],
            "activations": run.activations,
            "mlp": asdict(run.mlp) if run.mlp else None,
            "unrecorded": run.unrecorded,
            "context": run.context.to_json(),
            "losses": [{k: _json_number(v) for k, v in r.items()} for r in run.losses],
        }
        path.write_text(json.dumps(doc) + "\n", encoding="utf-8")
    return path


def _typed(r: dict[str, Any], where: str) -> Record:
    """One record with its values converted from text (CSV) or JSON, checked."""
    missing = [k for k in RECORD_KEYS if k not in r]
    if missing:
        raise SpecError(f"{where}: missing {', '.join(missing)}", field="records")
    try:
        out: Record = {
            "step": int(r["step"]),
            "name": str(r["name"]),
            "grad_norm": float(r["grad_norm"]),
            "grad_max_abs": float(r["grad_max_abs"]),
            "weight_norm": float(r["weight_norm"]),
            "nonfinite": int(r["nonfinite"]),
        }
        if r.get("update_ratio") not in (None, ""):
            out["update_ratio"] = float(r["update_ratio"])
        if r.get("skipped") not in (None, ""):
            s = r["skipped"]
            out["skipped"] = s if isinstance(s, bool) else str(s).lower() in ("true", "1")
    except (TypeError, ValueError) as e:
        raise SpecError(f"{where}: {e}", field="records") from None
    return out


def load_run(path: str | Path) -> MonitorRun:
    """Read a run that ``save_run`` (or ``GradientMonitor.save``) wrote. Bad files raise
    ``SpecError`` naming the file and what is wrong."""
    path = Path(path)
    suffix = _suffix(path)
    if not path.is_file():
        raise SpecError(f"records file {str(path)!r} does not exist", field="records")
    activations: list[Record] = []
    mlp = None
    unrecorded: list[str] | None = None
    context = RunContext()
    losses: list[Record] = []
    try:
        if suffix == ".csv":
            with path.open(newline="", encoding="utf-8") as f:
                raw = list(csv.DictReader(f))
        elif suffix == ".parquet":
            raw = _pyarrow().parquet.read_table(path).to_pylist()
        else:
            doc = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(doc, dict) or not isinstance(doc.get("records"), list):
                raise SpecError(
                    f"{str(path)!r}: expected a JSON object with a list 'records'",
                    field="records",
                )
            raw = doc["records"]
            activations = [
                {
                    "step": int(a["step"]),
                    "name": str(a["name"]),
                    "kind": str(a["kind"]),
                    "fraction": float(a["fraction"]),
                }
                for a in doc.get("activations") or []
            ]
            if isinstance(doc.get("unrecorded"), list):
                unrecorded = [str(n) for n in doc["unrecorded"]]
            losses = [
                {"step": int(r["step"]), "loss": float(r["loss"])} for r in doc.get("losses") or []
            ]
            if isinstance(doc.get("context"), dict):
                context = RunContext.from_json(doc["context"])
            if doc.get("mlp"):
                m = doc["mlp"]
                mlp = MlpShape(
                    str(m["activation"]),
                    tuple(m["weights"]),
                    float(m["sigma_w2"]),
                    float(m["sigma_b2"]),
                )
    except SpecError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise SpecError(f"cannot read {str(path)!r}: {e}", field="records") from None
    except Exception as e:  # pyarrow's own errors (a file that is not Parquet)
        raise SpecError(f"cannot read {str(path)!r}: {e}", field="records") from None
    records = [_typed(r, f"{path.name}, record {i + 1}") for i, r in enumerate(raw)]
    if not records:
        raise SpecError(f"{str(path)!r} holds no records", field="records")
    return MonitorRun(records, activations, mlp, unrecorded, context, losses)
