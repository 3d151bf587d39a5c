"""Sweeps: a grid of cells (``train``, ``theory``, ``jacobian``, ``montecarlo``) run on Dask into
a resumable SQLite store.

* ``grid.py``: the grid file (TOML) and its cells; ``cells.py``: what each kind of cell computes,
  through the library; ``store.py``: the store; ``runner.py``: the Dask driver.
* ``read_grid(path)``, ``run_sweep(grid, store, ...)``, ``status(store)``, ``load(store)`` (a
  pandas DataFrame). ``grids/``: the shipped grids (``shipped_grid(name)``).

Export to Parquet: ``gradtrace.sweep.load("runs.db").to_parquet("runs.parquet")`` (pandas
writes it with pyarrow: ``pip install pyarrow``).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from gradtrace.core.errors import SpecError
from gradtrace.core.jsontypes import JSONObject
from gradtrace.sweep.cells import KINDS, run_cell
from gradtrace.sweep.grid import Cell, Grid, grid_from_dict, read_grid
from gradtrace.sweep.runner import SweepReport, run_sweep
from gradtrace.sweep.store import Status, Store

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "KINDS",
    "Cell",
    "Grid",
    "Status",
    "Store",
    "SweepReport",
    "grid_from_dict",
    "load",
    "read_grid",
    "run_cell",
    "run_sweep",
    "shipped_grid",
    "status",
]


def status(path: str | os.PathLike[str]) -> Status:
    """``cells_total``, ``cells_done``, ``cells_failed`` of the store at ``path`` (SpecError if
    there is none, or the file is not a store)."""
    with Store(path, create=False, label="path") as db:
        return db.status()


def load(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The store at ``path`` as a pandas DataFrame, one row per cell listed: its parameters, then
    ``seed``, ``status``, its result columns, ``error``, ``duration`` (seconds), ``worker`` and
    ``attempts``. A pending cell's results are missing (NaN/None)."""
    try:
        import pandas as pd
    except ImportError:
        raise SpecError("load needs pandas: pip install 'gradtrace[dask]'", field="store") from None
    with Store(path, create=False, label="path") as db:
        rows = db.cells()
    records = []
    params: dict[str, None] = {}
    results: dict[str, None] = {}
    for r in rows:
        params.update(dict.fromkeys(r.params))
        results.update(dict.fromkeys(r.result or {}))
    for r in rows:
        record: JSONObject = {"kind": r.kind, **r.params, "seed": r.seed, "status": r.status}
        record.update({k: (r.result or {}).get(k) for k in results})
        record.update(error=r.error, duration=r.duration, worker=r.worker, attempts=r.attempts)
        records.append(record)
    columns = [
        "kind",
        *params,
        "seed",
        "status",
        *results,
        "error",
        "duration",
        "worker",
        "attempts",
    ]
    return pd.DataFrame.from_records(records, columns=columns)


def shipped_grid(name: str) -> Path:
    """The path of a grid shipped with gradtrace (``grids/NAME.toml``); SpecError naming the
    choices otherwise."""
    folder = resources.files(__name__) / "grids"
    names = sorted(
        p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")
    )
    if name not in names:
        raise SpecError(
            f"unknown shipped grid {name!r} (choose from {', '.join(names)})", field="grid"
        )
    return Path(str(folder / f"{name}.toml"))
