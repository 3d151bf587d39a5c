"""Running a grid on Dask into a store.

``run_sweep(grid, store)`` locks the store (one writer at a time), records the grid and the
package versions, lists the grid's cells (new ones are reported), then computes the cells not
done yet (and, with ``retry_failed``, the failed ones) on a Dask cluster: a ``LocalCluster`` of
``workers`` processes with one thread each by default, or the cluster whose scheduler is at
``scheduler``. Each task runs ``cells.run_cell`` on a worker and returns the result or the
error's message, with the time spent and the worker's address; the driver alone writes the
store, one transaction per finished cell, as results arrive. A task whose worker dies is
resubmitted by the Dask scheduler (``distributed.scheduler.allowed-failures``, 3 by default);
past that the cell is recorded failed with the ``KilledWorker`` message and the others go on.

Determinism: a cell's result depends on its values and seed only (``cells.cell_rng``); the
workers of a ``LocalCluster`` run with one thread and ``OMP_NUM_THREADS=1`` (and the other BLAS
thread counts) set before they start, the Nanny's default, so a BLAS library never splits a
product differently on a different machine load.

The lock file ``STORE.lock`` stays after a sweep: deleting it could let two sweeps write at once
(one waiting on the old file while another creates a new one); it is empty of anything but the
last writer's pid, and harmless.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import re
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING, TypedDict

from gradtrace.core.errors import SpecError
from gradtrace.core.jsontypes import JSONObject
from gradtrace.sweep.cells import CellParams, run_cell
from gradtrace.sweep.grid import Cell, Grid
from gradtrace.sweep.store import CellRow, Status, Store
from gradtrace.sweep.versions import gradtrace_version

if TYPE_CHECKING:
    from distributed import Client, LocalCluster

__all__ = [
    "CellOutcome",
    "SweepReport",
    "check_scheduler",
    "check_workers",
    "package_versions",
    "run_sweep",
]

_BLAS_THREADS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@dataclass(frozen=True)
class SweepReport:
    """What a ``run_sweep`` did. **Fields:** ``new`` (cells this grid added to the store),
    ``ran`` (cells computed now), ``failed`` (of those, the ones that raised: the cell and the
    message),
    ``status`` (the store's totals afterwards), ``workers`` (how many the cluster had),
    ``stale`` (stored cells not in the grid), ``pruned`` (whether those were deleted)."""

    new: tuple[Cell, ...]
    ran: int
    failed: tuple[tuple[CellRow, str], ...]
    status: Status
    workers: int
    stale: int = 0
    pruned: bool = False


def package_versions() -> dict[str, str]:
    """The versions of gradtrace and what the cells compute with (recorded with each grid)."""
    out = {"python": platform.python_version()}
    for name in ("gradtrace", "numpy", "scipy", "scikit-learn", "dask", "distributed"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    out["gradtrace"] = gradtrace_version()
    return out


class CellOutcome(TypedDict):
    """What a worker sends back for one cell."""

    result: JSONObject | None  # run_cell's results; None when it raised
    error: str | None  # the exception's message; None when it did not
    duration: float  # seconds in the cell
    worker: str  # the Dask worker's address (or the process id outside Dask)


def compute_cell(kind: str, params: CellParams, seed: int) -> CellOutcome:
    """The task a worker runs: ``{"result" | "error", "duration", "worker"}``. An exception in
    the cell becomes its message (the sweep goes on); a dying worker is Dask's to retry."""
    try:
        from distributed import get_worker

        worker = str(get_worker().address)
    except (ImportError, ValueError):
        worker = f"pid {os.getpid()}"
    start = time.perf_counter()
    try:
        result: JSONObject | None = run_cell(kind, params, seed)
        error = None
    except Exception as e:  # recorded with the cell; its siblings go on
        result = None
        error = f"{type(e).__name__}: {e}" if str(e) else traceback.format_exc(limit=1)
    return {
        "result": result,
        "error": error,
        "duration": time.perf_counter() - start,
        "worker": worker,
    }


_ADDRESS = re.compile(r"(tcp|tls)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):([0-9]{1,5})")
CONNECT_TIMEOUT = 5  # seconds to wait for a scheduler to answer


def check_scheduler(scheduler: str) -> str:
    """``scheduler`` if it has the form ``tcp://HOST:PORT`` (or ``tls://``), before any
    connection is tried; SpecError naming it otherwise."""
    m = _ADDRESS.fullmatch(scheduler) if isinstance(scheduler, str) else None
    if m is None or not 1 <= int(m.group(3)) <= 65535:
        raise SpecError(
            f"--scheduler {scheduler!r} is not a scheduler address (give tcp://HOST:PORT, "
            "e.g. tcp://127.0.0.1:8786)",
            field="scheduler",
        )
    return scheduler


def check_workers(workers: object) -> int | None:
    """``workers`` if it is None or a whole number of at least 1; SpecError otherwise."""
    if workers is not None and (
        isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
    ):
        raise SpecError(f"--workers must be at least 1, got {workers!r}", field="workers")
    return workers


def _connect(scheduler: str) -> Client:
    """A client of the scheduler at ``scheduler`` (checked first), or one SpecError."""
    check_scheduler(scheduler)
    try:
        from distributed import Client
    except ImportError:
        raise SpecError(
            "sweeps run on Dask: pip install 'gradtrace[dask]'", field="scheduler"
        ) from None
    try:
        return Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError) as e:
        raise SpecError(
            f"--scheduler {scheduler!r}: no Dask scheduler answers there ({e})",
            field="scheduler",
        ) from None
    except ValueError as e:
        raise SpecError(f"--scheduler {scheduler!r}: {e}", field="scheduler") from None


def _client(scheduler: str | None, workers: int | None) -> tuple[Client, LocalCluster | None]:
    """A Dask client: on the cluster at ``scheduler``, or on a new LocalCluster (returned too, to
    be closed)."""
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError:
        raise SpecError(
            "sweeps run on Dask: pip install 'gradtrace[dask]'", field="scheduler"
        ) from None
    if scheduler is not None:
        return _connect(scheduler), None
    n = check_workers(workers) or (os.cpu_count() or 1)
    environ = dict.fromkeys(_BLAS_THREADS, 1)
    with (
        dask.config.set({"distributed.nanny.pre-spawn-environ": environ}),
        _workers_ignore_ctrl_c(),
    ):
        cluster = LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            # no dashboard, but the scheduler's HTTP routes still bind a port: any free one, not
            # 8787 (a second sweep on the machine would warn that it is taken)
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            silence_logs=50,  # logging.CRITICAL: worker restarts are reported per cell
        )
    return Client(cluster, set_as_default=False), cluster


@contextlib.contextmanager
def _workers_ignore_ctrl_c() -> Iterator[None]:
    """SIGINT ignored while the worker processes start (they inherit it): Ctrl-C in a terminal
    reaches the whole process group, and the driver alone should handle it (it stops the
    cluster) instead of every worker printing a traceback."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def _task_key(cell_key: str) -> str:
    """The Dask key of a cell's task: fixed by the cell, so a cluster that still holds the task
    from a killed driver hands its result to the next one instead of computing it again."""
    return "gradtrace-cell-" + hashlib.sha1(cell_key.encode()).hexdigest()


def run_sweep(
    grid: Grid,
    store: str | os.PathLike[str],
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    retry_failed: bool = False,
    prune: bool = False,
    on_plan: Callable[[Grid, tuple[Cell, ...], int], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SweepReport:
    """Run ``grid`` into the store at ``store`` (module docstring).

    **Arguments:**
    - ``scheduler``: a Dask scheduler's address (``tcp://HOST:PORT``); None for a LocalCluster.
    - ``workers``: the LocalCluster's worker processes (default: one per core).
    - ``retry_failed``: compute the failed cells again too.
    - ``prune``: delete the stored cells that are not in ``grid`` (they are kept otherwise, and
      counted in ``SweepReport.stale``).
    - ``on_plan``: called once as ``on_plan(grid, new_cells, cells_to_run)`` before computing.
    - ``progress``: called as ``progress(done, total)`` after each finished cell.

    **Returns:** a ``SweepReport``. SpecError before anything is written for bad ``workers`` or
    ``scheduler`` (the scheduler is connected to first), a store that is not one, one another
    sweep is writing, or one holding another sweep (another grid name or kind).
    """
    if scheduler is not None and workers is not None:
        raise SpecError("give --scheduler or --workers, not both", field="workers")
    check_workers(workers)
    remote = _connect(scheduler) if scheduler is not None else None
    client = cluster = None
    try:
        with Store(store, lock=True) as db:
            _check_same_sweep(db, grid)
            cells = grid.cells()
            keys = {c.key for c in cells}
            stored = {r.key: r.status for r in db.cells()}
            stale = [k for k in stored if k not in keys]
            wanted = ("pending", "failed") if retry_failed else ("pending",)
            todo_keys = {c.key for c in cells if stored.get(c.key, "pending") in wanted}
            if todo_keys:  # the cluster is up (or answered) before anything is written
                client, cluster = (remote, None) if remote is not None else _client(None, workers)
            db.add_grid(grid.name, grid.kind, grid.source, package_versions())
            new_keys = set(db.add_cells([(c.key, c.kind, c.params, c.seed) for c in cells]))
            if prune and stale:
                db.delete_cells(stale)
            new = tuple(c for c in cells if c.key in new_keys)
            todo = [c for c in db.cells(status=wanted) if c.key in todo_keys]
            if on_plan is not None:
                on_plan(grid, new, len(todo))
            if not todo:
                return SweepReport(new, 0, (), db.status(), 0, len(stale), prune)
            assert client is not None
            failed = _compute(client, db, todo, progress)
            n_workers = len(client.scheduler_info(n_workers=-1)["workers"])
            return SweepReport(
                new, len(todo), tuple(failed), db.status(), n_workers, len(stale), prune
            )
    finally:
        for c in (client, remote, cluster):
            if c is not None:
                c.close()


def _check_same_sweep(db: Store, grid: Grid) -> None:
    """SpecError if the store holds another sweep: cells of another kind, or a grid of another
    name or kind run on it before."""
    where = f"{db.label} {str(db.path)!r}"
    kinds = db.kinds() - {grid.kind}
    if kinds:
        raise SpecError(
            f"{where} holds {sorted(kinds)[0]!r} cells; the grid's kind is {grid.kind!r} "
            "(give another --store)",
            field="kind",
        )
    for g in db.grids():
        if (g["name"], g["kind"]) != (grid.name, grid.kind):
            raise SpecError(
                f"{where} holds the sweep {g['name']!r} ({g['kind']}), not {grid.name!r} "
                f"({grid.kind}): give another --store",
                field="store",
            )


def _compute(
    client: Client, db: Store, todo: list[CellRow], progress: Callable[[int, int], None] | None
) -> list[tuple[CellRow, str]]:
    """Compute ``todo`` on ``client``, writing each result as it arrives; the failures."""
    failed: list[tuple[CellRow, str]] = []
    if progress is not None:
        progress(0, len(todo))  # the cluster is up: the bar starts
    # one map call submits every cell (a submit per cell cost about 1 ms more each)
    submitted = client.map(
        compute_cell,
        [c.kind for c in todo],
        [c.params for c in todo],
        [c.seed for c in todo],
        key=[_task_key(c.key) for c in todo],
    )
    futures = dict(zip(submitted, todo, strict=True))
    from distributed import as_completed

    done = 0
    finished = as_completed(submitted, loop=client.loop, with_results=True, raise_errors=False)
    for future, out in finished:  # results come with their futures, in batches
        cell = futures.pop(future)
        if isinstance(out, BaseException):  # KilledWorker: its workers died too often
            out = CellOutcome(
                result=None,
                error=f"{type(out).__name__}: {out}",
                duration=float("nan"),
                worker="",
            )
        future.release()
        db.finish(
            cell.key,
            result=out["result"],
            error=out["error"],
            duration=out["duration"],
            worker=out["worker"],
        )
        if out["error"] is not None:
            failed.append((cell, out["error"]))
        done += 1
        if progress is not None:
            progress(done, len(todo))
    return failed
