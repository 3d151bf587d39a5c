"""One report of everything: the exercise solved, and the lab's results with figures and text that
reads them. ``compute_results`` runs the computations into a ``ReportResults``; ``build_report``
draws the figures (``plots``) and builds the document from those results
(``render.report.report_document``, where all the words are); ``write_report`` writes, into a
folder that appears only once complete:

* ``report.html``: one self-contained page (figures embedded, no scripts, opens without a network);
* ``report.md``: the same text, with the figures beside it as ``*.png`` and ``*.svg``;
* ``config.json``: every parameter, the seed and the package versions, so the run can be repeated.

``monitor_report`` does the same for a run the gradient monitor saved (``gradtrace
monitor-report RECORDS``): its verdict, figures and tables (``render.monitor``), in a folder of
the same shape (``write_monitor_report`` takes a ``MonitorRun`` from Python).
"""

from __future__ import annotations

import io
import json
import os
import platform
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gradtrace.core.errors import SpecError
from gradtrace.core.jsontypes import JSONObject
from gradtrace.core.network import ChainSpec, check_count, get_preset
from gradtrace.lab.depth import DepthConfig, run_depth
from gradtrace.lab.exercise import solve
from gradtrace.lab.montecarlo import MonteCarloConfig, run_montecarlo
from gradtrace.lab.remedies import run_remedies
from gradtrace.lab.training import TrainConfig, train
from gradtrace.lab.wide import WideConfig
from gradtrace.monitor.records import MonitorRun, load_run
from gradtrace.monitor.verdict import Thresholds, judge
from gradtrace.present.blocks import Block
from gradtrace.present.report_doc import ReportResults, TheoryResults, report_document
from gradtrace.theory.meanfield import critical_sigma_w2, mean_field, phase_diagram
from gradtrace.theory.simulation import simulate_against_theory

if TYPE_CHECKING:
    from matplotlib.figure import Figure

STAGES = (
    "solving the exercise",
    "Monte Carlo over initializations",
    "depth experiment",
    "training",
    "remedies",
    "mean-field theory",
)
"""What ``compute_results`` reports to ``progress``, in order."""

THEORY_BIAS = 0.05
"""sigma_b2 of the report's deep tanh nets (Schoenholz et al. 2017 use 0.05 in their figures)."""

__all__ = [
    "Report",
    "ReportConfig",
    "ReportResults",
    "build_report",
    "check_output_folder",
    "compute_results",
    "monitor_report",
    "write_monitor_report",
    "write_report",
]

COMMANDS = ("gradtrace report", "gradtrace monitor-report")
"""The commands whose folders ``--force`` may replace (their config.json names them)."""


@dataclass(frozen=True)
class ReportConfig:
    """Every parameter of a report run (written to config.json)."""

    seed: int = 0
    samples: int = 100_000  # Monte Carlo initializations per depth
    mc_depths: tuple[int, ...] = (3, 6, 10)
    depth_samples: int = 100  # chains per depth in the depth experiment
    depths: tuple[int, ...] = (1, 3, 10, 30, 100, 300, 1000)
    train_steps: int = 1000
    learning_rates: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0)
    remedies_steps: int = 300
    theory_width: int = 300  # units per layer of the simulated tanh nets
    theory_depth: int = 20
    theory_samples: int = 4

    def __post_init__(self) -> None:
        check_count("seed", self.seed, 0)
        if (
            self.samples < 1
            or self.depth_samples < 2
            or self.train_steps < 1
            or self.remedies_steps < 1
        ):
            raise SpecError("samples, depth samples and steps must be positive")


@dataclass(frozen=True, eq=False)
class Report:
    """The document and the figures' files, ready to write."""

    config: ReportConfig
    blocks: list[Block]
    figures: dict[str, Figure] = field(default_factory=dict)  # by name
    created: str = ""
    results: ReportResults | None = None  # what the figures and the words were built from


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")
    return buf.getvalue()


def _one(v: float) -> np.ndarray:
    """One sample as the (1,) array a ``TrainConfig`` holds."""
    return np.array([v])


def compute_results(
    config: ReportConfig, *, progress: Callable[[str], None] | None = None
) -> ReportResults:
    """Run every computation the report shows, in order; ``progress`` gets a line per stage."""
    step = progress or (lambda _msg: None)
    step(STAGES[0])
    sol = solve()
    step(STAGES[1])
    part_b = get_preset("exercise-classification")  # its sample: x and the label
    mcs = tuple(
        run_montecarlo(
            MonteCarloConfig(
                ChainSpec(L), config.samples, seed=config.seed, x=part_b.x, target=part_b.target
            )
        )
        for L in config.mc_depths
    )
    step(STAGES[2])
    runs = tuple(
        run_depth(
            DepthConfig(a, s, depths=config.depths, samples=config.depth_samples, seed=config.seed)
        )
        for a, s in (("sigmoid", 1.0), ("tanh", 1.0), ("identity", 3.0))
    )
    step(STAGES[3])
    reg = get_preset("exercise-regression")
    hs = tuple(
        train(TrainConfig(reg.network, _one(reg.x), _one(reg.target), lr, steps=config.train_steps))
        for lr in config.learning_rates
    )
    step(STAGES[4])
    rem = run_remedies(steps=config.remedies_steps, seed=config.seed)
    step(STAGES[5])
    crit = critical_sigma_w2("tanh", THEORY_BIAS)
    at = ((1.2, THEORY_BIAS), (crit if crit is not None else 1.0, THEORY_BIAS), (2.5, THEORY_BIAS))
    points = tuple(mean_field("tanh", sw, sb) for sw, sb in at)
    sims = tuple(
        simulate_against_theory(
            WideConfig(
                "tanh",
                sw,
                sb,
                width=config.theory_width,
                depth=config.theory_depth,
                samples=config.theory_samples,
                seed=config.seed,
            )
        )
        for sw, sb in at
    )
    diagram = phase_diagram("tanh", np.linspace(0.05, 4.0, 120), np.linspace(0.0, 0.3, 60))
    theory = TheoryResults(points, sims, diagram)
    return ReportResults(sol, mcs, runs, hs, rem, config.remedies_steps, theory)


def build_report(config: ReportConfig, *, progress: Callable[[str], None] | None = None) -> Report:
    """Compute everything the report shows, draw its figures and build its document
    (matplotlib required: the ``plots`` extra)."""
    from gradtrace.present import figures as plots

    r = compute_results(config, progress=progress)
    figures: dict[str, Figure] = {
        "sigmoid": plots.sigmoid_figure(r.solution.a),
        "exercise_gradients": plots.exercise_gradients_figure(r.solution),
        "montecarlo": plots.montecarlo_figure(r.montecarlo),
        "depth": plots.depth_figure(r.depth),
        "training": plots.training_figure(r.training_shown),
        "remedies": plots.remedies_figure(r.remedies),
        "phase_diagram": plots.phase_diagram_figure(
            r.theory.diagram, (r.theory.points[0].sigma_w2, r.theory.points[0].sigma_b2)
        ),
    }
    pngs = {name: _png(fig) for name, fig in figures.items()}
    blocks = report_document(r, pngs, plots.STATUS_COLOURS)
    return Report(config, blocks, figures, datetime.now(UTC).isoformat(timespec="seconds"), r)


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("gradtrace", "numpy", "scipy", "sympy", "matplotlib", "rich", "typer"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:  # pragma: no cover
            out[pkg] = "not installed"
    return out


def check_output_folder(out: Path, *, force: bool = False) -> None:
    """SpecError, naming the path, unless the report can be written to ``out``: ``out`` must
    not exist (with ``force``, it may be a folder, which is replaced), and its parent must be
    a folder we can create a folder in (tried, by creating and removing an empty one). The CLI
    calls this before any work, ``write_report`` again before writing."""
    out = Path(out)
    if out.exists() and not force:
        raise SpecError(
            f"output folder {str(out)!r} exists; choose another or pass --force", field="out"
        )
    if out.exists() and not out.is_dir():
        raise SpecError(
            f"{str(out)!r} is a file, not a folder; --force replaces only a report folder",
            field="out",
        )
    if out.exists() and not _is_report(out):
        raise SpecError(
            f"{str(out)!r} is not a gradtrace report folder (no config.json from gradtrace "
            "report); --force replaces only a report folder",
            field="out",
        )
    if out.exists() and Path.cwd().resolve().is_relative_to(out.resolve()):
        raise SpecError(
            f"{str(out)!r} holds the current folder; --force will not replace it", field="out"
        )
    parent = out.parent
    if not parent.exists():
        raise SpecError(
            f"cannot write the report: folder {str(parent)!r} does not exist", field="out"
        )
    if not parent.is_dir():
        raise SpecError(
            f"cannot write the report: {str(parent)!r} is a file, not a folder", field="out"
        )
    try:
        Path(tempfile.mkdtemp(prefix=f".{out.name}.check.", dir=parent)).rmdir()
    except OSError as e:
        raise SpecError(
            f"cannot create a folder in {str(parent)!r} ({e.strerror or e})", field="out"
        ) from None


def _is_report(folder: Path) -> bool:
    """Whether ``folder`` holds a report ``write_report`` wrote (its config.json says so)."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and config.get("command") in COMMANDS


def write_report(report: Report, out: Path, *, force: bool = False) -> list[Path]:
    """Write the report into ``out``, which appears only when complete (built in a temporary
    folder beside it, then renamed). An existing ``out`` is replaced only with ``force``."""
    config: JSONObject = {
        "created": report.created,
        "parameters": asdict(report.config),
        "versions": _versions(),
        "command": "gradtrace report",
        "platform": platform.platform(),
    }
    title = "gradtrace report: vanishing and exploding gradients"
    return _write_folder(report.blocks, report.figures, config, title, Path(out), force=force)


def _write_folder(
    blocks: list[Block],
    figures: dict[str, Figure],
    config: JSONObject,
    title: str,
    out: Path,
    *,
    force: bool,
    more: Callable[[Path], object] | None = None,
) -> list[Path]:
    """report.html, report.md, the figures and config.json (and what ``more`` writes into the
    folder it is given), written into ``out`` at once."""
    from gradtrace.present import figures as plots
    from gradtrace.present.html import document_html
    from gradtrace.present.markdown import document_markdown

    check_output_folder(out, force=force)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        (tmp / "report.html").write_text(document_html(blocks, title=title), encoding="utf-8")
        (tmp / "report.md").write_text(document_markdown(blocks, title=title), encoding="utf-8")
        for name, fig in figures.items():
            plots.save(fig, tmp / name)
        (tmp / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        if more is not None:
            more(tmp)
        tmp.chmod(0o755)  # mkdtemp makes it private; the report is an ordinary folder
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except OSError as e:  # a full disk, a folder removed under us: nothing half-written stays
        shutil.rmtree(tmp, ignore_errors=True)
        raise SpecError(f"cannot write the report to {str(out)!r}: {e.strerror or e}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return sorted(out.iterdir())


def write_monitor_report(
    run: MonitorRun,
    out: Path,
    *,
    thresholds: Thresholds | None = None,
    source: str | None = None,
    force: bool = False,
) -> list[Path]:
    """The gradient monitor's report of ``run`` (``GradientMonitor.run()`` or ``load_run``) in
    the folder ``out``: report.html (self-contained), report.md, the heat map and summary
    figures (PNG and SVG), the records as records.csv, and config.json (thresholds, source,
    versions). Needs the plots extra."""
    from gradtrace.monitor.records import save_run
    from gradtrace.present import figures as plots
    from gradtrace.present.monitor_doc import monitor_document

    out = Path(out)
    check_output_folder(out, force=force)
    verdict = judge(run, thresholds)
    figures: dict[str, Figure] = {
        "monitor_heatmap": plots.monitor_heatmap_figure(run),
        "monitor_summary": plots.monitor_summary_figure(run, verdict),
    }
    blocks = monitor_document(run, verdict, {k: _png(f) for k, f in figures.items()})
    config: JSONObject = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": source,
        "thresholds": asdict(verdict.thresholds),
        "status": verdict.status,
        "verdict": verdict.to_dict(),
        "versions": _versions(),
        "command": "gradtrace monitor-report",
        "platform": platform.platform(),
    }
    title = f"gradtrace monitor report: {verdict.status}"
    try:
        return _write_folder(
            blocks,
            figures,
            config,
            title,
            out,
            force=force,
            more=lambda folder: save_run(run, folder / "records.csv"),
        )
    finally:
        for fig in figures.values():
            plots.plt.close(fig)


def monitor_report(records: Path, out: Path, *, force: bool = False) -> list[Path]:
    """``gradtrace monitor-report``: read a saved run (.csv, .parquet or .json; ``load_run``)
    and write its report into ``out`` (``write_monitor_report``)."""
    out = Path(out)
    check_output_folder(out, force=force)  # before reading: fail fast, write nothing
    return write_monitor_report(load_run(records), out, source=str(records), force=force)
