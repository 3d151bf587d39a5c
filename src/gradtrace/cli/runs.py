"""``gradtrace report``, ``monitor-report``, ``reproduce``, ``sweep`` and ``sweep-status``:
the long runs that write folders, stores and papers' results."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gradtrace.cli.options import (
    ForceOpt,
    Format,
    FormatOpt,
    JsonOpt,
    PlainJsonOpt,
    QuietOpt,
    figure_option,
    option,
    out_option,
    scheduler_address,
    whole,
    worker_count,
)
from gradtrace.cli.output import output, print_json, progress, save_figure, show_bar, write
from gradtrace.core.errors import SpecError
from gradtrace.service.defaults import REPORT, SEED

if TYPE_CHECKING:
    from gradtrace.sweep import Cell, Grid

__all__ = ["monitor_report", "report", "reproduce", "sweep", "sweep_status"]


def _wrote(paths: list[Path], target: Path) -> None:
    write(f"wrote {len(paths)} files to {target}/ (open {target / 'report.html'})")


def report(
    out: Annotated[str, out_option()],
    samples: Annotated[int, option(REPORT.samples, parser=whole)] = REPORT.samples.default,
    seed: Annotated[int, option(REPORT.seed, parser=whole)] = REPORT.seed.default,
    force: ForceOpt = False,
    quick: Annotated[
        bool, typer.Option("--quick", help="Fewer samples and steps (a draft in seconds)")
    ] = False,
    quiet: QuietOpt = False,
) -> None:
    """A self-contained HTML report of the whole lab, in --out.

    One HTML file, with a Markdown twin, the figures and config.json beside it.
    """
    from gradtrace.service import application

    with progress(enabled=not quiet and sys.stderr.isatty()) as update:
        paths = application.report(
            out, seed=seed, samples=samples, quick=quick, force=force, progress=update
        )
    _wrote(paths, Path(out))


def monitor_report(
    records: Annotated[
        str,
        typer.Argument(
            metavar="RECORDS",
            help="A run saved by GradientMonitor.save (.csv, .parquet or .json)",
            show_default=False,
        ),
    ],
    out: Annotated[str, out_option()] = "monitor-report",
    force: ForceOpt = False,
) -> None:
    """The report of a gradient-monitor run, in --out.

    Its verdict, heat map and per-parameter summary, as HTML and Markdown.
    """
    from gradtrace.service import application

    _wrote(application.monitor_report(records, out, force=force), Path(out))


def reproduce(
    name: Annotated[
        str,
        typer.Argument(
            metavar="NAME",
            help="he2015, glorot2010, schoenholz2017, pennington2017, hanin2018 or trainability",
            show_default=False,
        ),
    ],
    seed: Annotated[int, option(SEED, parser=whole)] = SEED.default,
    quick: Annotated[
        bool, typer.Option("--quick", help="Smaller nets and fewer samples (seconds)")
    ] = False,
    figure: Annotated[Path | None, figure_option("the reproduction's figure")] = None,
    store: Annotated[
        str | None,
        typer.Option(
            metavar="PATH",
            help="trainability: the sweep's store [default: ~/.cache/gradtrace/sweeps/GRID.db]",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            parser=worker_count,
            help="trainability: local Dask worker processes [default: one per core]",
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            metavar="tcp://HOST:PORT",
            parser=scheduler_address,
            help="trainability: run on this Dask cluster",
        ),
    ] = None,
    grid: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="trainability: the shipped grid (trainability, trainability-quick, "
            "trainability-cluster) [default: trainability; trainability-quick with --quick]",
        ),
    ] = None,
    as_json: JsonOpt = False,
    fmt: FormatOpt = Format.text,
) -> None:
    """A classic paper's result, reproduced.

    Its table, its anchors against the paper and (with --figure) its figure.
    """
    from gradtrace.present.json import reproduction_dict
    from gradtrace.present.reproduce_doc import reproduction_document
    from gradtrace.service import application

    result = application.reproduce(
        name,
        seed=seed,
        quick=quick,
        store=store,
        workers=workers,
        scheduler=scheduler,
        grid=grid,
    )
    if figure is not None:
        from gradtrace.present.figures import reproduction_figure

        save_figure(reproduction_figure(result), figure)
    output(result, fmt, as_json, reproduction_dict, reproduction_document)


def sweep(
    grid: Annotated[
        str, typer.Argument(metavar="GRID.toml", help="The grid file", show_default=False)
    ],
    store: Annotated[
        str,
        typer.Option(
            metavar="PATH", help="The SQLite store (created if missing; a rerun resumes it)"
        ),
    ],
    scheduler: Annotated[
        str | None,
        typer.Option(
            metavar="tcp://HOST:PORT",
            parser=scheduler_address,
            help="Run on this Dask cluster's scheduler",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            parser=worker_count,
            help="Worker processes of the local cluster [default: one per core]",
        ),
    ] = None,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Compute the failed cells again too")
    ] = False,
    prune: Annotated[
        bool,
        typer.Option(
            "--prune",
            help="Delete the stored cells that are not in this grid (kept otherwise)",
        ),
    ] = False,
    quiet: QuietOpt = False,
    as_json: PlainJsonOpt = False,
) -> None:
    """Run a grid of cells on Dask into a store.

    A rerun computes only what is not done yet.
    """
    from gradtrace.present.sweep_doc import plan_lines, report_dict, report_lines
    from gradtrace.service import application

    axes: tuple[str, ...] | None = None

    def on_plan(checked: Grid, new: tuple[Cell, ...], to_run: int) -> None:
        nonlocal axes
        axes = tuple(checked.axes)
        if not as_json:
            sys.stdout.write("\n".join(plan_lines(new, to_run, axes)) + "\n")
            sys.stdout.flush()

    try:
        with progress(enabled=show_bar(quiet, as_json), description="cells") as update:
            result = application.sweep(
                grid,
                store=store,
                scheduler=scheduler,
                workers=workers,
                retry_failed=retry_failed,
                prune=prune,
                on_plan=on_plan,
                progress=update,
            )
    except KeyboardInterrupt:
        try:
            done = application.sweep_status(store).cells_done
        except SpecError:
            done = 0
        sys.stdout.flush()
        sys.stderr.write(
            f"interrupted: {done} cell{'s' * (done != 1)} done {'are' if done != 1 else 'is'} "
            "kept; rerun the same command to resume\n"
        )
        raise typer.Exit(130) from None
    if as_json:
        print_json(report_dict(result))
    else:
        write("\n".join(report_lines(result, axes)))


def sweep_status(
    store: Annotated[str, typer.Argument(metavar="PATH", help="The store", show_default=False)],
    as_json: PlainJsonOpt = False,
) -> None:
    """How far a sweep's store is: cells total, done and failed."""
    from gradtrace.present.sweep_doc import status_dict, status_line
    from gradtrace.service import application

    status = application.sweep_status(store)
    if as_json:
        print_json(status_dict(status))
    else:
        write(status_line(status))
