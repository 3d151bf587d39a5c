"""A sweep's grid, read from TOML (``tomllib``)::

    [sweep]
    name = "trainability"
    kind = "train"                 # train | theory | jacobian | montecarlo
    seeds = [0, 1]
    [sweep.fixed]                  # passed to every cell
    width = 64
    [sweep.grid]                   # the Cartesian product of these lists, times the seeds
    sigma_w2 = [1.0, 1.5, 2.0]
    depth = [5, 10, 20]

``Grid.cells()`` lists the cells: every combination of the grid's lists (in the order written,
the last list varying fastest) for each seed, each completed with the kind's defaults
(``cells.cell_params``). Everything is checked when read: an unknown table, key, kind or
parameter, an empty or repeated list, a value of the wrong type, a parameter both fixed and
swept, a required parameter missing, a value the cell's computation would refuse (each cell's
values go through the library's constructors, ``cells.check_cell``, nothing computed): each is
one SpecError naming it.
"""

from __future__ import annotations

import itertools
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gradtrace.core.errors import SpecError
from gradtrace.sweep.cells import (
    PARAMS,
    REQUIRED,
    CellParams,
    ParamValue,
    cell_key,
    cell_params,
    check_cell,
    check_kind,
    coerce,
)

__all__ = ["Cell", "Grid", "grid_from_dict", "read_grid"]


@dataclass(frozen=True)
class Cell:
    """One cell: ``key`` (its identity), ``kind``, complete ``params``, ``seed``."""

    key: str
    kind: str
    params: CellParams
    seed: int


@dataclass(frozen=True)
class Grid:
    """A checked grid. **Fields:** ``name``, ``kind``, ``seeds``, ``fixed`` (name -> value),
    ``axes`` (name -> the values swept, in order), ``source`` (the TOML as read, a dict)."""

    name: str
    kind: str
    seeds: tuple[int, ...]
    fixed: CellParams
    axes: dict[str, tuple[ParamValue, ...]]
    source: dict[str, Any]  # the TOML as parsed: arbitrary tables, checked into the fields above

    def cells(self) -> list[Cell]:
        """Every cell, seeds outermost, then the axes in the order written."""
        out = []
        names = list(self.axes)
        for seed in self.seeds:
            for values in itertools.product(*self.axes.values()):
                params = cell_params(
                    self.kind, {**self.fixed, **dict(zip(names, values, strict=True))}
                )
                out.append(Cell(cell_key(self.kind, params, seed), self.kind, params, seed))
        return out


def _fail(where: str, message: str, field: str) -> SpecError:
    return SpecError(f"{where}: {message}", field=field)


def grid_from_dict(data: dict[str, Any], *, where: str = "grid") -> Grid:
    """Check a parsed grid (the TOML's tables as dicts); ``where`` names it in messages."""
    extra = set(data) - {"sweep"}
    if extra:
        raise _fail(where, f"unknown table {sorted(extra)[0]!r} (only [sweep])", "sweep")
    sweep = data.get("sweep")
    if not isinstance(sweep, dict):
        raise _fail(where, "needs a [sweep] table", "sweep")
    extra = set(sweep) - {"name", "kind", "seeds", "fixed", "grid"}
    if extra:
        raise _fail(
            where,
            f"unknown key sweep.{sorted(extra)[0]} (choose from name, kind, seeds, fixed, grid)",
            "sweep",
        )
    name = sweep.get("name", "sweep")
    if not isinstance(name, str) or not name:
        raise _fail(where, f"sweep.name must be a non-empty string, got {name!r}", "name")
    try:
        kind = check_kind(sweep.get("kind"))
    except SpecError as e:
        raise _fail(where, f"sweep.kind: {e}", "kind") from None
    seeds = sweep.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds:
        raise _fail(where, f"sweep.seeds must be a non-empty list, got {seeds!r}", "seeds")
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, int) or s < 0:
            raise _fail(where, f"sweep.seeds must be whole numbers >= 0, got {s!r}", "seeds")
    if len(set(seeds)) != len(seeds):
        raise _fail(where, f"sweep.seeds repeats a seed: {seeds!r}", "seeds")
    fixed_raw = sweep.get("fixed", {})
    grid_raw = sweep.get("grid", {})
    for table, value in (("fixed", fixed_raw), ("grid", grid_raw)):
        if not isinstance(value, dict):
            raise _fail(where, f"sweep.{table} must be a table, got {value!r}", table)
    fixed: CellParams = {}
    for key, value in fixed_raw.items():
        try:
            fixed[key] = coerce(kind, key, value)
        except SpecError as e:
            raise _fail(where, f"sweep.fixed.{key}: {e}", key) from None
    axes: dict[str, tuple[ParamValue, ...]] = {}
    for key, values in grid_raw.items():
        if key in fixed:
            raise _fail(where, f"{key!r} is both in sweep.fixed and in sweep.grid", key)
        if not isinstance(values, list) or not values:
            raise _fail(where, f"sweep.grid.{key} must be a non-empty list, got {values!r}", key)
        try:
            checked = tuple(coerce(kind, key, v) for v in values)
        except SpecError as e:
            raise _fail(where, f"sweep.grid.{key}: {e}", key) from None
        if len(set(checked)) != len(checked):
            raise _fail(where, f"sweep.grid.{key} repeats a value: {values!r}", key)
        axes[key] = checked
    for key, (_, default) in PARAMS[kind].items():
        if default is REQUIRED and key not in fixed and key not in axes:
            raise _fail(where, f"kind {kind!r} needs {key!r} in sweep.fixed or sweep.grid", key)
    names = list(axes)
    for values in itertools.product(*axes.values()):  # every cell's values, dry
        swept = dict(zip(names, values, strict=True))
        try:
            check_cell(kind, cell_params(kind, {**fixed, **swept}))
        except SpecError as e:
            at = " ".join(f"{n}={v}" for n, v in swept.items())
            raise _fail(
                where, f"{e}" + (f" (in the cell {at})" if at else ""), e.field or "grid"
            ) from None
    return Grid(name, kind, tuple(seeds), fixed, axes, data)


def read_grid(path: str | Path) -> Grid:
    """Read and check the grid file ``path`` (SpecError naming the file and the bad value)."""
    p = Path(path)
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError(f"cannot read the grid {str(p)!r}: {e}", field="grid") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"{p}: not valid TOML ({e})", field="grid") from None
    return grid_from_dict(data, where=str(p))
