"""One report of everything: the exercise solved, and the lab's results with figures and text that
reads them. ``build_report`` computes and returns data (a document and its config); ``write_report``
writes, into a folder that appears only once complete:

* ``report.html``: one self-contained page (figures embedded, no scripts, opens without a network);
* ``report.md``: the same text, with the figures beside it as ``*.png`` and ``*.svg``;
* ``config.json``: every parameter, the seed and the package versions, so the run can be repeated.
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
from typing import Any

import numpy as np

from gradtrace.errors import SpecError
from gradtrace.exercise import solve
from gradtrace.lab.depth import DepthConfig, run_depth
from gradtrace.lab.montecarlo import MonteCarloConfig, run_montecarlo
from gradtrace.lab.remedies import run_remedies
from gradtrace.lab.training import TrainConfig, train
from gradtrace.network import ChainSpec, check_count, get_preset
from gradtrace.render.blocks import Block, Heading, Image, Table, fmt, num, par
from gradtrace.render.exercise import solution_document
from gradtrace.render.lab import depth_table, montecarlo_document, remedies_document

__all__ = ["Report", "ReportConfig", "build_report", "check_output_folder", "write_report"]


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
    figures: dict[str, Any] = field(default_factory=dict)  # name -> matplotlib Figure
    created: str = ""


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")
    return buf.getvalue()


def build_report(config: ReportConfig, *, progress: Callable[[str], None] | None = None) -> Report:
    """Compute everything the report shows (matplotlib required: the ``plots`` extra)."""
    from gradtrace import plots

    step = progress or (lambda _msg: None)
    figures: dict[str, Any] = {}
    blocks: list[Block] = []

    def figure(name: str, fig: Any, caption: str) -> None:
        figures[name] = fig
        blocks.append(Image(_png(fig), f"{name}.png", caption))

    # 1. the exercise
    step("solving the exercise")
    sol = solve()
    blocks += solution_document(sol)
    blocks.append(Heading("Figures of the exercise", 2))
    figure(
        "sigmoid",
        plots.sigmoid_figure(sol.a),
        "The sigmoid, its derivative, the maximum s'(0) = 1/4 and the steepest points",
    )
    figure(
        "exercise_gradients",
        plots.exercise_gradients_figure(sol),
        "|dL/dw_k| per layer, parts (b) and (d), log scale",
    )
    gb, gd = np.abs(sol.b.gradients), np.abs(sol.d.gradients)
    blocks.append(
        par(
            f"Reading the bars: in (b) they fall by a factor {fmt(gb[-1] / gb[0], 4)} from w3 to w1; in (d) every bar is "
            f"{fmt(gd[0] / gb[0], 4)} times taller than in (b), the residual's factor, and they fall by the same "
            f"{fmt(gd[-1] / gd[0], 4)} from w3 to w1.",
        )
    )

    # 2. Monte Carlo over initializations
    step("Monte Carlo over initializations")
    blocks.append(Heading("Over random initializations", 1))
    x, t = 0.63, 1.0
    mcs = [
        run_montecarlo(
            MonteCarloConfig(ChainSpec(L), config.samples, seed=config.seed, x=x, target=t)
        )
        for L in config.mc_depths
    ]
    blocks += montecarlo_document(mcs[0])[1:]
    figure(
        "montecarlo",
        plots.montecarlo_figure(mcs),
        "Median and 5-95 % band of |dL/dw_k| per layer, for each depth",
    )
    medians = [
        (
            r.config.spec.depth,
            r.layers[0].abs_grad_quantiles["p50"],
            r.layers[-1].abs_grad_quantiles["p50"],
        )
        for r in mcs
    ]
    blocks.append(
        par(
            "Reading the figure: the first layer's median gradient is "
            + "; ".join(
                f"{fmt(last / first, 3)} times below the last layer's at depth {L}"
                for L, first, last in medians
            )
            + ". The gap grows with depth, geometrically, as the per-layer factor |w s'(z)| <= |w|/4 predicts.",
        )
    )

    # 3. depth
    step("depth experiment")
    blocks.append(Heading("Against depth", 1))
    runs = [
        run_depth(
            DepthConfig(a, s, depths=config.depths, samples=config.depth_samples, seed=config.seed)
        )
        for a, s in (("sigmoid", 1.0), ("tanh", 1.0), ("identity", 3.0))
    ]
    rows = tuple(
        (
            r.config.activation,
            fmt(r.config.std),
            num(r.fitted_rate, 4),
            num(r.fitted_rate_se, 2),
            num(r.expected_rate, 4) if r.expected_rate is not None else "-",
            num(r.points[-1].mean_log10_abs_grad_first, 5),
        )
        for r in runs
    )
    blocks.append(
        Table(
            (
                "activation",
                "std",
                "fitted rate",
                "+-",
                "expected rate",
                f"mean log10|dL/dw_1| at depth {config.depths[-1]}",
            ),
            rows,
            "Decades per layer passed back (negative: vanishing)",
        )
    )
    figure(
        "depth",
        plots.depth_figure(runs),
        "First-layer gradient against depth, and the backward product against the expected rate",
    )
    blocks.append(
        par(
            "Reading the figure: each backward product is a straight line in log scale whose slope is the "
            "stationary rate; sigmoid chains lose "
            f"{fmt(-runs[0].fitted_rate, 3)} decades per layer whatever the weights' sign, while an identity "
            f"chain with std 3 gains {fmt(runs[2].fitted_rate, 3)} per layer (it explodes once std > 1.887). "
            f"At depth {config.depths[-1]} the sigmoid chain's first gradient is about 10^{fmt(runs[0].points[-1].mean_log10_abs_grad_first, 4)}, "
            "far below float64's smallest number, so it is computed in log space.",
        )
    )
    blocks.append(depth_table(runs[0]))

    # 4. training
    step("training")
    blocks.append(Heading("Training dynamics", 1))
    reg = get_preset("exercise-regression")
    hs = [
        train(TrainConfig(reg.network, reg.x, reg.target, lr, steps=config.train_steps))
        for lr in config.learning_rates
    ]
    blocks.append(
        Table(
            ("learning rate", "outcome"),
            tuple((f"{h.config.learning_rate:g}", h.message) for h in hs),
            f"The exercise's regression net (target 128), {config.train_steps} steps",
        )
    )
    worst = next((h for h in hs if h.outcome != "converged"), hs[-1])
    figure(
        "training",
        plots.training_figure(worst),
        f"Loss and |dL/dw_k| per step at learning rate {worst.config.learning_rate:g}",
    )
    cls = get_preset("exercise-classification")
    first = train(TrainConfig(cls.network, cls.x, cls.target, 0.1, steps=1)).relative_update[0]
    blocks.append(
        par(
            f"Reading the figure: the run at learning rate {worst.config.learning_rate:g} ends '{worst.outcome}'. In the "
            f"classification net the first step moves w1 by {fmt(100 * first[0], 3)}% of its value and w3 by "
            f"{fmt(100 * first[-1], 3)}%: the first layer learns {fmt(first[-1] / first[0], 3)} times more slowly.",
        )
    )

    # 5. remedies
    step("remedies")
    rem = run_remedies(steps=config.remedies_steps, seed=config.seed)
    blocks += remedies_document(rem, config.remedies_steps)
    figure(
        "remedies",
        plots.remedies_figure(rem),
        "Final loss per remedy (green: reached the tolerance)",
    )
    return Report(config, blocks, figures, datetime.now(UTC).isoformat(timespec="seconds"))


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("gradtrace", "numpy", "scipy", "sympy", "matplotlib", "rich", "typer"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:  # pragma: no cover
            out[pkg] = "not installed"
    return out


def check_output_folder(out: Path, *, force: bool = False) -> None:
    """SpecError if ``out`` exists (unless ``force``) or its parent folder does not: the CLI
    calls this before any work, ``write_report`` again before writing."""
    if out.exists() and not force:
        raise SpecError(f"output folder {str(out)!r} exists; choose another or pass --force")
    if not out.parent.exists():
        raise SpecError(f"cannot write the report: folder {str(out.parent)!r} does not exist")


def write_report(report: Report, out: Path, *, force: bool = False) -> list[Path]:
    """Write the report into ``out``, which appears only when complete (built in a temporary
    folder beside it, then renamed). An existing ``out`` is replaced only with ``force``."""
    from gradtrace import plots
    from gradtrace.render.html import document_html
    from gradtrace.render.markdown import document_markdown

    out = Path(out)
    check_output_folder(out, force=force)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        title = "gradtrace report: vanishing and exploding gradients"
        (tmp / "report.html").write_text(
            document_html(report.blocks, title=title), encoding="utf-8"
        )
        (tmp / "report.md").write_text(
            f"# {title}\n\n" + document_markdown(report.blocks), encoding="utf-8"
        )
        for name, fig in report.figures.items():
            plots.save(fig, tmp / name)
        config = {
            "created": report.created,
            "parameters": asdict(report.config),
            "versions": _versions(),
            "command": "gradtrace report",
            "platform": platform.platform(),
        }
        (tmp / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        tmp.chmod(0o755)  # mkdtemp makes it private; the report is an ordinary folder
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return sorted(out.iterdir())
