"""Schoenholz et al. 2017: the trainability phase diagram, accuracy over (sigma_w2, depth) with
the theory's ``6 xi_c`` drawn over it.

Schoenholz, Gilmer, Ganguli & Sohl-Dickstein 2017 (Deep Information Propagation, ICLR, Sec. 6
and Fig. 5) trained tanh nets at ``sigma_b2 = 0.05`` over a grid of weight variances and depths
and found that a net trains only where its depth is below a few correlation depth scales: the
boundary of the trainable region follows ``6 xi_c`` (``xi_c = -1 / log chi_c``,
``theory.meanfield``), which diverges at the critical ``sigma_w2`` (about 1.76 for tanh at this
``sigma_b2``).

Here the grid is a shipped sweep (``gradtrace.sweep.shipped_grid``: ``trainability`` by
default, about 14 minutes on 2 shared cores; ``trainability-quick`` for ``--quick``;
``trainability-cluster`` at the paper's scale) run through the sweep machinery into a store, so
a second call reads the finished cells instead of training again. Each cell trains a tanh net
(``sweep.cells``: weights ``N(0, sigma_w2 / n)``, biases ``N(0, sigma_b2)``) on scikit-learn's
digits by SGD and reports its test accuracy. The **measured trainable depth** at a
``sigma_w2`` is where the test accuracy (mean over the grid's seeds) first falls below
``threshold`` (0.5; chance is 0.1), interpolated linearly between the two depths around the
crossing; it is a lower bound (``> L``) when the deepest net still trains.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gradtrace.reproduce import Anchor
from gradtrace.sweep import load, read_grid, run_sweep, shipped_grid
from gradtrace.sweep.grid import grid_from_dict
from gradtrace.theory.meanfield import mean_field

__all__ = [
    "CITATION",
    "DEFAULTS",
    "QUICK",
    "TITLE",
    "TrainabilityParams",
    "TrainabilityResult",
    "default_store",
    "run",
    "trainable_depth",
]

TITLE = "The trainability phase diagram: accuracy over (sigma_w^2, depth) against 6 xi_c"
CITATION = (
    "Schoenholz, Gilmer, Ganguli & Sohl-Dickstein 2017, Deep Information Propagation, "
    "ICLR, Sec. 6 and Fig. 5"
)

THRESHOLD = 0.5  # test accuracy at which a net counts as trained (chance: 0.1)


def default_store(grid: str) -> Path:
    """``$GRADTRACE_CACHE/sweeps/GRID.db`` (``~/.cache/gradtrace`` without the variable)."""
    root = os.environ.get("GRADTRACE_CACHE") or Path.home() / ".cache" / "gradtrace"
    return Path(root) / "sweeps" / f"{grid}.db"


def trainable_depth(depths: np.ndarray, accuracy: np.ndarray, threshold: float) -> float:
    """Where ``accuracy`` ``(D,)`` over increasing ``depths`` first falls below ``threshold``,
    interpolated linearly; ``inf`` if it never does, ``0`` if the shallowest net fails."""
    if not accuracy[0] >= threshold:
        return 0.0
    for i in range(1, len(depths)):
        a, b = accuracy[i - 1], accuracy[i]
        if not b >= threshold:  # NaN (a failed cell) counts as untrained
            frac = (a - threshold) / (a - b) if np.isfinite(b) else 0.0
            return float(depths[i - 1] + frac * (depths[i] - depths[i - 1]))
    return math.inf


def _median_ratio(
    trainable: np.ndarray, six_xi_c: np.ndarray, depths: np.ndarray, mask: np.ndarray
) -> float:
    """The median of ``trainable / six_xi_c`` over the ``mask`` ed sigma_w2 where both lie
    inside the grid's depths (a crossing measured, 6 xi_c at most the deepest net); NaN if
    there is none."""
    inside = mask & np.isfinite(trainable) & (trainable > 0) & (six_xi_c <= depths[-1])
    return float(np.median(trainable[inside] / six_xi_c[inside])) if inside.any() else math.nan


@dataclass(frozen=True, eq=False)
class TrainabilityResult:
    """**Fields:** ``seed``, ``grid`` (its name), ``store`` (the path), ``seeds`` (the cells'),
    ``activation``, ``sigma_b2``, ``width``, ``steps``; ``sigma_w2`` ``(S,)``, ``depths``
    ``(D,)``, ``accuracy`` and ``train_accuracy`` ``(D, S)`` (means over the seeds; NaN where a
    cell failed); ``six_xi_c`` ``(S,)`` and, for the curve, ``curve_sigma_w2``,
    ``curve_six_xi_c``; ``sigma_w2_critical``; ``trainable`` ``(S,)`` (the measured depth);
    ``threshold``; ``anchors``."""

    seed: int
    grid: str
    store: str
    seeds: tuple[int, ...]
    activation: str
    sigma_b2: float
    width: int
    steps: int
    sigma_w2: np.ndarray
    depths: np.ndarray
    accuracy: np.ndarray
    train_accuracy: np.ndarray
    chi_1: np.ndarray
    six_xi_c: np.ndarray
    curve_sigma_w2: np.ndarray
    curve_six_xi_c: np.ndarray
    sigma_w2_critical: float | None
    trainable: np.ndarray
    threshold: float
    anchors: tuple[Anchor, ...]

    name = "trainability"

    @property
    def header(self) -> tuple[str, ...]:
        return (
            "sigma_w2",
            "chi_1",
            "6 xi_c",
            "trainable depth",
            "trainable / 6 xi_c",
            *(f"acc. L={d}" for d in self.depths),
        )

    @property
    def rows(self) -> tuple[tuple[str | float, ...], ...]:
        out: list[tuple[str | float, ...]] = []
        deepest = int(self.depths[-1])
        for j, sw in enumerate(self.sigma_w2):
            t = self.trainable[j]
            depth: str | float = f"> {deepest}" if math.isinf(t) else float(t)
            ratio: str | float = (
                f"> {deepest / self.six_xi_c[j]:.3g}"
                if math.isinf(t)
                else float(t / self.six_xi_c[j])
            )
            out.append(
                (
                    float(sw),
                    float(self.chi_1[j]),
                    float(self.six_xi_c[j]),
                    depth,
                    ratio,
                    *(float(a) for a in self.accuracy[:, j]),
                )
            )
        return tuple(out)

    @property
    def notes(self) -> tuple[str, ...]:
        """How the diagram was made and what the anchor compares."""
        return (
            f"Test accuracy of {self.activation} nets of width {self.width} (sigma_b2 = "
            f"{self.sigma_b2:g}) after {self.steps} SGD steps on scikit-learn's digits, "
            f"{len(self.seeds)} seed(s) per cell, grid {self.grid!r} ({len(self.depths)} depths x "
            f"{len(self.sigma_w2)} sigma_w2), store {self.store}.",
            f"Trainable depth: where the test accuracy first falls below {self.threshold:g} "
            "(chance 0.1), interpolated between the depths around the crossing; '> L' where "
            "the deepest net still trains. Each anchor takes the median of trainable depth / "
            "6 xi_c over one phase's sigma_w2 (ordered: chi_1 < 1; chaotic: chi_1 > 1) where "
            "both the crossing and 6 xi_c lie inside the grid's depths.",
        )


@dataclass(frozen=True)
class TrainabilityParams:
    """The shipped grid, where its cells are stored and run, and the accuracy that counts as
    trained."""

    grid: str = "trainability"  # a shipped grid (gradtrace.sweep.shipped_grid)
    store: str | os.PathLike[str] | None = None  # default_store(grid) when None
    workers: int | None = None  # local Dask worker processes (None: one per core)
    scheduler: str | None = None  # a Dask cluster (tcp://HOST:PORT) instead
    threshold: float = THRESHOLD  # test accuracy at which a net counts as trained


DEFAULTS = TrainabilityParams()
QUICK = TrainabilityParams(grid="trainability-quick")


def run(params: TrainabilityParams = DEFAULTS, *, seed: int = 0) -> TrainabilityResult:
    """Run (or resume, or just read) the shipped ``grid`` into ``store`` (``default_store``
    without one) and measure the trainable depth against ``6 xi_c``. ``seed`` shifts the grid's
    seeds (0: as shipped)."""
    grid, store, workers, scheduler, threshold = (
        params.grid,
        params.store,
        params.workers,
        params.scheduler,
        params.threshold,
    )
    source = read_grid(shipped_grid(grid)).source
    sweep = dict(source["sweep"])
    sweep["seeds"] = [s + seed for s in sweep.get("seeds", [0])]
    g = grid_from_dict({"sweep": sweep}, where=grid)
    path = Path(store) if store is not None else default_store(grid)
    path.parent.mkdir(parents=True, exist_ok=True)
    run_sweep(g, path, scheduler=scheduler, workers=workers)

    df = load(path)  # the store may hold other grids' cells too: keep this grid's
    keep = df["seed"].isin(g.seeds) & (df["status"] == "done")
    for name, value in g.fixed.items():
        keep &= df[name] == value
    df = df[keep]
    sigma_w2 = np.array(g.axes["sigma_w2"], dtype=float)
    depths = np.array(g.axes["depth"], dtype=int)
    acc = np.full((len(depths), len(sigma_w2)), np.nan)
    train_acc = np.full_like(acc, np.nan)
    for i, d in enumerate(depths):
        for j, sw in enumerate(sigma_w2):
            cell = df[(df["depth"] == d) & (df["sigma_w2"] == sw)]
            if len(cell):
                acc[i, j] = float(cell["test_accuracy"].mean())
                train_acc[i, j] = float(cell["train_accuracy"].mean())
    cell_params = g.cells()[0].params  # the grid's fixed values, shared by every cell
    activation, sigma_b2 = str(cell_params["activation"]), float(cell_params["sigma_b2"])
    theory = [mean_field(activation, sw, sigma_b2) for sw in sigma_w2]
    six = np.array([6.0 * t.xi_c for t in theory])
    curve = np.linspace(sigma_w2.min(), sigma_w2.max(), 121)
    curve_six = np.array([6.0 * mean_field(activation, sw, sigma_b2).xi_c for sw in curve])
    trainable = np.array(
        [trainable_depth(depths, acc[:, j], threshold) for j in range(len(sigma_w2))]
    )
    chi_1 = np.array([t.chi_1 for t in theory])
    anchors = []
    for side, side_mask in (("ordered", chi_1 < 1.0), ("chaotic", chi_1 > 1.0)):
        measured = _median_ratio(trainable, six, depths, side_mask)
        anchors.append(
            Anchor(
                f"median of measured trainable depth / 6 xi_c, {side} side",
                1.0,
                measured,
                0.5,
                "Schoenholz et al. 2017, Sec. 6 and Fig. 5: nets train up to about 6 xi_c",
                # no sigma_w2 of this side with 6 xi_c and the crossing inside the depths
                unmeasurable="" if math.isfinite(measured) else "not measurable in this grid",
            )
        )
    return TrainabilityResult(
        seed=seed,
        grid=grid,
        store=str(path),
        seeds=g.seeds,
        activation=activation,
        sigma_b2=sigma_b2,
        width=int(cell_params["width"]),
        steps=int(cell_params["steps"]),
        sigma_w2=sigma_w2,
        depths=depths,
        accuracy=acc,
        train_accuracy=train_acc,
        chi_1=chi_1,
        six_xi_c=six,
        curve_sigma_w2=curve,
        curve_six_xi_c=curve_six,
        sigma_w2_critical=theory[0].sigma_w2_critical,
        trainable=trainable,
        threshold=threshold,
        anchors=tuple(anchors),
    )
