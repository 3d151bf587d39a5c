"""The sweep store: one SQLite file (stdlib ``sqlite3``, WAL journal) holding a sweep's cells.

Tables::

    meta(key PRIMARY KEY, value)     format, gradtrace version, creation time
    grids(id, name, kind, grid, versions, started)   every grid run on the store, with the
                                     package versions of the driver that ran it
    cells(key UNIQUE, kind, params, seed, status, result, error, duration, worker,
          attempts, finished)        one row per cell; status pending | done | failed

The file carries ``PRAGMA application_id = 0x67747377`` ("gtsw") and ``user_version = 1``;
anything else (another SQLite database, a file that is not one) is refused with a SpecError
before anything is written. A cell's identity (``cells.key``: its kind, every parameter and its
seed) is unique, so a cell can be listed once only; its result is written by one ``UPDATE`` in
its own transaction, so a killed driver leaves every cell either done or still pending.

Only one sweep writes to a store at a time: ``Store.lock`` takes an exclusive ``fcntl`` lock on
the sidecar file ``PATH.lock`` (held by the open file, so it dies with the process, ``kill -9``
included). The lock is taken before the file is opened
(``Store(path, lock=True)``), so two sweeps never create one store at once. Readers
(``sweep-status``, ``load``) need no lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from gradtrace.core.errors import SpecError
from gradtrace.core.jsontypes import JSONObject
from gradtrace.sweep.cells import CellParams

__all__ = ["APPLICATION_ID", "CellRow", "Status", "Store"]

APPLICATION_ID = 0x67747377  # "gtsw"
FORMAT = 1  # PRAGMA user_version

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE grids (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    grid TEXT NOT NULL,
    versions TEXT NOT NULL,
    started REAL NOT NULL
);
CREATE TABLE cells (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    params TEXT NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
    result TEXT,
    error TEXT,
    duration REAL,
    worker TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    finished REAL
);
"""


@dataclass(frozen=True)
class Status:
    """How far a store is: ``cells_total`` listed, ``cells_done``, ``cells_failed``."""

    cells_total: int
    cells_done: int
    cells_failed: int


@dataclass(frozen=True)
class CellRow:
    """One cell as stored: its identity (``key``), ``kind``, ``params``, ``seed`` and, once
    run, ``status``, ``result`` (dict), ``error``, ``duration`` (seconds in the cell),
    ``worker`` (the Dask worker's address) and ``attempts``."""

    key: str
    kind: str
    params: CellParams
    seed: int
    status: str
    result: JSONObject | None
    error: str | None
    duration: float | None
    worker: str | None
    attempts: int


def _refuse(path: Path, why: str, label: str = "--store") -> SpecError:
    return SpecError(f"{label} {str(path)!r} is not a gradtrace sweep store ({why})", field="store")


class Store:
    """An open sweep store (module docstring). ``Store(path)`` opens or creates it;
    ``Store(path, create=False)`` only opens one that exists. SpecError for a file that is not
    a store, or a new one whose folder is missing or not writable. ``label`` names the path in
    messages (``--store``, ``PATH``, ``path``)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        create: bool = True,
        lock: bool = False,
        label: str = "--store",
    ) -> None:
        self.path = Path(path)
        self.label = label
        self._lock_file: IO[str] | None = None
        if self.path.is_dir():
            raise _refuse(self.path, "it is a folder", label)
        fresh = not self.path.exists() or self.path.stat().st_size == 0
        if fresh and not create:
            raise SpecError(f"{label} {str(self.path)!r}: no sweep store there", field="store")
        if fresh:
            folder = self.path.absolute().parent
            if not folder.is_dir():
                raise SpecError(
                    f"{label} {str(self.path)!r}: the folder {str(folder)!r} does not exist "
                    "(create it first)",
                    field="store",
                )
        if not fresh:
            try:
                with open(self.path, "rb") as f:
                    head = f.read(16)
            except OSError as e:
                raise SpecError(
                    f"{label} {str(self.path)!r}: cannot read it ({e.strerror})", field="store"
                ) from None
            if head != b"SQLite format 3\x00":
                raise _refuse(self.path, "not an SQLite file", label)
        if lock:
            self.lock()
        try:
            self.db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        except sqlite3.Error as e:
            self.close()
            raise _refuse(self.path, str(e), label) from None
        try:
            self._check_or_create(fresh)
        except sqlite3.DatabaseError as e:
            self.close()
            raise _refuse(self.path, str(e), label) from None
        except SpecError:
            self.close()
            raise

    def _check_or_create(self, fresh: bool) -> None:
        app = self.db.execute("PRAGMA application_id").fetchone()[0]
        if fresh or (app == 0 and not self._tables()):
            from gradtrace.sweep.versions import gradtrace_version

            __version__ = gradtrace_version()
            # executescript: one transaction, from BEGIN to COMMIT
            self.db.executescript(
                f"BEGIN IMMEDIATE; PRAGMA application_id = {APPLICATION_ID}; "
                f"PRAGMA user_version = {FORMAT};"
                + _SCHEMA
                + f"INSERT INTO meta VALUES ('format', '{FORMAT}'), "
                f"('gradtrace', '{__version__}'), ('created', '{time.time()!r}'); COMMIT;"
            )
        elif app != APPLICATION_ID:
            raise _refuse(self.path, "an SQLite database of another application", self.label)
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version != FORMAT:
            raise _refuse(
                self.path, f"store format {version}, this gradtrace reads {FORMAT}", self.label
            )
        if not {"meta", "grids", "cells"} <= self._tables():
            raise _refuse(self.path, "its tables are missing", self.label)
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA synchronous = NORMAL")  # WAL: a commit survives a killed process

    def _tables(self) -> set[str]:
        rows = self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {r[0] for r in rows}

    # ---- transactions and the writer's lock ---------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on an exception)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def lock(self, *, wait: bool = False) -> None:
        """Become the store's only writer (module docstring); SpecError if another sweep holds
        it and ``wait`` is false, else block until it is free."""
        try:
            f = open(f"{self.path}.lock", "a+")  # held open: the lock lives with it
        except OSError as e:
            raise SpecError(
                f"{self.label} {str(self.path)!r}: cannot write its lock file {self.path}.lock "
                f"({e.strerror})",
                field="store",
            ) from None
        try:
            fcntl.flock(f, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            f.close()
            raise SpecError(
                f"{self.label} {str(self.path)!r} is in use by another sweep ({holder}); wait for it "
                "to finish or stop it",
                field="store",
            ) from None
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()}\n")
        f.flush()
        self._lock_file = f

    def close(self) -> None:
        """Close the database and release the lock."""
        if hasattr(self, "db"):
            self.db.close()
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- writing ------------------------------------------------------------------------------

    def add_grid(
        self, name: str, kind: str, grid: Mapping[str, object], versions: dict[str, str]
    ) -> None:
        """Record a grid run on the store (``grids``)."""
        with self.transaction():
            self.db.execute(
                "INSERT INTO grids (name, kind, grid, versions, started) VALUES (?, ?, ?, ?, ?)",
                (name, kind, json.dumps(grid, sort_keys=True), json.dumps(versions), time.time()),
            )

    def kinds(self) -> set[str]:
        """The kinds of the cells listed."""
        return {r[0] for r in self.db.execute("SELECT DISTINCT kind FROM cells")}

    def add_cells(self, cells: list[tuple[str, str, CellParams, int]]) -> list[str]:
        """List ``(key, kind, params, seed)`` cells as pending, in one transaction; cells already
        listed are left as they are. Returns the keys that were new."""
        new = []
        with self.transaction():
            for key, kind, params, seed in cells:
                cur = self.db.execute(
                    "INSERT INTO cells (key, kind, params, seed, status) "
                    "VALUES (?, ?, ?, ?, 'pending') ON CONFLICT (key) DO NOTHING",
                    (key, kind, json.dumps(params), int(seed)),
                )
                if cur.rowcount:
                    new.append(key)
        return new

    def delete_cells(self, keys: list[str]) -> int:
        """Delete the cells ``keys`` (whatever their status), in one transaction; how many."""
        n = 0
        with self.transaction():
            for key in keys:
                n += self.db.execute("DELETE FROM cells WHERE key = ?", (key,)).rowcount
        return n

    def finish(
        self,
        key: str,
        *,
        result: JSONObject | None,
        error: str | None,
        duration: float,
        worker: str,
    ) -> bool:
        """Write a cell's outcome (``result``, or ``error`` when it raised) in one transaction;
        a cell already done is left alone. Returns whether the row changed."""
        status = "done" if error is None else "failed"
        with self.transaction():
            cur = self.db.execute(
                "UPDATE cells SET status = ?, result = ?, error = ?, duration = ?, worker = ?, "
                "attempts = attempts + 1, finished = ? WHERE key = ? AND status != 'done'",
                (
                    status,
                    None if result is None else json.dumps(result),
                    error,
                    duration,
                    worker,
                    time.time(),
                    key,
                ),
            )
        return bool(cur.rowcount)

    # ---- reading ------------------------------------------------------------------------------

    def status(self) -> Status:
        """Cells listed, done and failed."""
        total, done, failed = self.db.execute(
            "SELECT COUNT(*), COALESCE(SUM(status = 'done'), 0), "
            "COALESCE(SUM(status = 'failed'), 0) FROM cells"
        ).fetchone()
        return Status(int(total), int(done), int(failed))

    def cells(self, *, status: tuple[str, ...] | None = None) -> list[CellRow]:
        """The cells (those with one of ``status``, if given), in the order they were listed."""
        sql = "SELECT key, kind, params, seed, status, result, error, duration, worker, attempts FROM cells"
        args: tuple[str, ...] = ()
        if status is not None:
            sql += f" WHERE status IN ({', '.join('?' * len(status))})"
            args = status
        rows = self.db.execute(sql + " ORDER BY id", args).fetchall()
        return [
            CellRow(
                key=r[0],
                kind=r[1],
                params=json.loads(r[2]),
                seed=int(r[3]),
                status=r[4],
                result=None if r[5] is None else json.loads(r[5]),
                error=r[6],
                duration=r[7],
                worker=r[8],
                attempts=int(r[9]),
            )
            for r in rows
        ]

    def grids(self) -> list[JSONObject]:
        """Every grid run on the store: ``name``, ``kind``, ``grid``, ``versions``, ``started``."""
        rows = self.db.execute("SELECT name, kind, grid, versions, started FROM grids ORDER BY id")
        return [
            {
                "name": r[0],
                "kind": r[1],
                "grid": json.loads(r[2]),
                "versions": json.loads(r[3]),
                "started": r[4],
            }
            for r in rows
        ]
