"""The long runs: a classic paper's reproduction by name, and sweeps from a grid file into a
store (``gradtrace reproduce|sweep|sweep-status``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from gradtrace.core.errors import SpecError

if TYPE_CHECKING:  # dask and the reproductions' extras load only when a run asks for them
    from gradtrace.reproduce import ReproductionResult
    from gradtrace.sweep import Cell, Grid, Status, SweepReport

__all__ = ["reproduce", "sweep", "sweep_status"]


def reproduce(
    name: str,
    *,
    quick: bool = False,
    store: str | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    grid: str | None = None,
    **params: object,
) -> ReproductionResult:
    """``gradtrace reproduce NAME``: run the reproduction ``name``
    (``gradtrace.reproduce.REPRODUCTIONS``) with its defaults, the smaller ones of ``quick``,
    then ``params`` (``seed``, or any of its ``run``'s keywords). SpecError listing the names for
    a bad ``name``, and naming the option when a sweep option (``store``, ``workers``,
    ``scheduler``, ``grid``; None: not given) goes to another reproduction than
    ``trainability``. Both checks come before any work."""

    from gradtrace.reproduce import get_reproduction

    entry = get_reproduction(name)
    sweep_values = {"store": store, "workers": workers, "scheduler": scheduler, "grid": grid}
    given = {k: v for k, v in sweep_values.items() if v is not None}
    if given and name != "trainability":
        option = next(iter(given))
        raise SpecError(f"--{option} applies to 'trainability' only, not {name!r}", field=option)
    values: dict[str, object] = {**given, **params}
    seed = values.pop("seed", 0)
    if not isinstance(seed, int):
        raise SpecError(f"seed must be a whole number, got {seed!r}", field="seed")
    return entry.run(quick=quick, seed=seed, **values)


def sweep(
    grid: str,
    *,
    store: str,
    scheduler: str | None = None,
    workers: int | None = None,
    retry_failed: bool = False,
    prune: bool = False,
    on_plan: Callable[[Grid, tuple[Cell, ...], int], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SweepReport:
    """``gradtrace sweep``: read the grid file ``grid`` and run it into ``store`` on Dask
    (``gradtrace.sweep.run_sweep``). SpecError for a bad grid or store."""
    from gradtrace.sweep import read_grid, run_sweep

    return run_sweep(
        read_grid(grid),
        store,
        scheduler=scheduler,
        workers=workers,
        retry_failed=retry_failed,
        prune=prune,
        on_plan=on_plan,
        progress=progress,
    )


def sweep_status(store: str) -> Status:
    """``gradtrace sweep-status``: the store's cells total, done and failed."""
    from gradtrace.sweep import Store

    with Store(store, create=False, label="PATH") as db:  # the CLI's positional PATH
        return db.status()
