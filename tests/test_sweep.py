"""Sweeps: the grid file, the cells, the store, and the Dask runner under real failures.

The reliability tests are process-level: the driver is ``python -m gradtrace sweep`` in a
subprocess, killed with SIGKILL mid-sweep; a worker process is killed mid-sweep; the same grid
runs on 1 and 2 local workers and on a cluster started separately (``dask scheduler`` and
``dask worker`` on 127.0.0.1). Every run's stores are compared cell by cell with one
uninterrupted run (``reference``). The cells are small train cells (about 0.1-0.3 s each), so
kills land while cells remain.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("distributed")
pd = pytest.importorskip("pandas")

import gradtrace  # noqa: E402
from gradtrace.cli import main  # noqa: E402
from gradtrace.sweep import load, read_grid, run_cell, status  # noqa: E402
from gradtrace.sweep.cells import cell_params  # noqa: E402
from gradtrace.sweep.store import Store  # noqa: E402

SRC = str(Path(gradtrace.__file__).parents[1])
ENV = {
    **os.environ,
    "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}

TRAIN = """
[sweep]
name = "test"
kind = "train"
seeds = [0, 1]
[sweep.fixed]
width = 24
depth = 3
steps = 150
[sweep.grid]
sigma_w2 = [1.0, 1.75, 3.0]
learning_rate = [0.01, 0.02]
"""  # 12 cells

RUN_COLUMNS = ["duration", "worker", "attempts"]  # how a cell ran, not what it gave


def _grid(tmp_path: Path, text: str = TRAIN, name: str = "grid.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _sweep(*args: str, **kwargs: Any) -> subprocess.Popen[str]:
    """``python -m gradtrace sweep ARGS`` in its own session (so its workers can be cleaned up)."""
    return subprocess.Popen(
        [sys.executable, "-m", "gradtrace", "sweep", *args],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        **kwargs,
    )


def _finish(p: subprocess.Popen[str], timeout: float = 120) -> tuple[str, str]:
    out, err = p.communicate(timeout=timeout)
    assert p.returncode == 0, err
    return out, err


def _done(store: Path) -> int:
    if not store.exists():
        return 0
    try:
        return status(store).cells_done
    except Exception:  # still being created
        return 0


def _wait_done(store: Path, n: int, p: subprocess.Popen[str], timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while _done(store) < n:
        assert p.poll() is None, p.communicate()
        assert time.monotonic() < end, "the sweep made no progress"
        time.sleep(0.05)


def _kill_group(p: subprocess.Popen[str]) -> None:
    """SIGKILL whatever is left of the sweep's session (orphaned worker processes)."""
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    p.wait()
    if p.stdout:
        p.stdout.close()
    if p.stderr:
        p.stderr.close()


def _results(store: Path) -> pd.DataFrame:
    """The store's cells by identity, without how they ran."""
    df = load(store).drop(columns=RUN_COLUMNS)
    return df.sort_values(list(df.columns[:12])).reset_index(drop=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """The grid run uninterrupted on one local worker."""
    tmp = tmp_path_factory.mktemp("reference")
    store = tmp / "ref.db"
    out, err = _finish(_sweep(str(_grid(tmp)), "--store", str(store), "--workers", "1"))
    assert err == ""  # no warnings, no log lines, no progress bar off a terminal
    assert "12 new cells in the store" in out and "12 cells: 12 done, 0 failed" in out
    df = _results(store)
    assert len(df) == 12 and (df["status"] == "done").all()
    return store, df


# ---- the grid file ---------------------------------------------------------------------------


def test_grid_lists_the_product_times_the_seeds(tmp_path: Path) -> None:
    grid = read_grid(_grid(tmp_path))
    cells = grid.cells()
    assert len(cells) == 12 and len({c.key for c in cells}) == 12
    assert [c.seed for c in cells] == [0] * 6 + [1] * 6
    assert [(c.params["sigma_w2"], c.params["learning_rate"]) for c in cells[:3]] == [
        (1.0, 0.01),
        (1.0, 0.02),
        (1.75, 0.01),
    ]
    assert cells[0].params["activation"] == "tanh"  # the kind's default, spelled out


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[sweep]\nkind = "nope"\n', "unknown kind 'nope'"),
        ('[sweep]\nkind = "theory"\nspeed = 1\n', "unknown key sweep.speed"),
        ('[sweep]\nkind = "theory"\n[other]\n', "unknown table 'other'"),
        ('[sweep]\nkind = "theory"\n[sweep.grid]\nsigma_w2 = []\n', "sigma_w2 must be a non-empty"),
        ('[sweep]\nkind = "theory"\n[sweep.grid]\nsigma_w2 = [1, 1.0]\n', "repeats a value"),
        (
            '[sweep]\nkind = "theory"\n[sweep.grid]\nsigmaw2 = [1.0]\n',
            "unknown parameter 'sigmaw2'",
        ),
        ('[sweep]\nkind = "theory"\n[sweep.grid]\nsigma_w2 = ["a"]\n', "must be a finite number"),
        ('[sweep]\nkind = "train"\n[sweep.fixed]\nsigma_w2 = 1.0\n', "needs 'depth'"),
        ('[sweep]\nkind = "theory"\nseeds = []\n', "seeds must be a non-empty list"),
        ("[sweep\n", "not valid TOML"),
        # values the cells' own constructors refuse, caught when the grid is read
        (
            '[sweep]\nkind = "train"\n[sweep.fixed]\ndepth = 2\nsigma_w2 = 1.0\n'
            'activation = "tanhh"\n',
            "unknown activation 'tanhh'",
        ),
        (
            '[sweep]\nkind = "train"\n[sweep.fixed]\ndepth = 2\n[sweep.grid]\n'
            "sigma_w2 = [1.0, -1.0]\n",
            "got -1.0 (in the cell sigma_w2=-1.0)",
        ),
        (
            '[sweep]\nkind = "train"\n[sweep.fixed]\ndepth = 2\nsigma_w2 = 1.0\n'
            'dataset = "mnist"\n',
            "unknown dataset 'mnist'",
        ),
        ('[sweep]\nkind = "montecarlo"\n[sweep.grid]\ndepth = [10, 100000]\n', "got 100000"),
        ('[sweep]\nkind = "theory"\n[sweep.fixed]\nsigma_w2 = -2.0\n', "got -2.0"),
        (
            '[sweep]\nkind = "jacobian"\n[sweep.fixed]\nsigma_w2 = 1.0\ndepth = 2\ninit = "nope"\n',
            "unknown init 'nope'",
        ),
        (
            '[sweep]\nkind = "theory"\n[sweep.fixed]\nsigma_w2 = 1.0\n[sweep.grid]\nsigma_w2 = [2.0]\n',
            "both in sweep.fixed and in sweep.grid",
        ),
    ],
)
def test_a_bad_grid_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    store = tmp_path / "s.db"
    assert main(["sweep", str(_grid(tmp_path, text)), "--store", str(store)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not store.exists()  # nothing written


def _spy_on_dask(
    monkeypatch: pytest.MonkeyPatch, connect: bool = False
) -> list[tuple[str, object, object]]:
    """Record every Dask client or local cluster the sweep starts, as (kind, address, timeout).
    A local cluster is refused (raises); a client too unless ``connect``, then it is the real
    one (the sweep imports both from ``distributed`` when it needs them)."""
    import distributed

    started: list[tuple[str, object, object]] = []
    real_client = distributed.Client

    def client(address: object = None, *args: Any, **kwargs: Any) -> Any:
        started.append(("Client", address, kwargs.get("timeout")))
        if not connect:
            raise AssertionError("a Dask client was started")
        return real_client(address, *args, **kwargs)

    def cluster(*args: Any, **kwargs: Any) -> Any:
        started.append(("LocalCluster", None, None))
        raise AssertionError("a local Dask cluster was started")

    monkeypatch.setattr(distributed, "Client", client)
    monkeypatch.setattr(distributed, "LocalCluster", cluster)
    return started


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "0"], "--workers: must be at least 1, got 0"),
        (["--workers", "-1"], "--workers: must be at least 1, got -1"),
        (["--scheduler", "nonsense"], "'nonsense' is not a scheduler address"),
        (["--scheduler", "tcp://127.0.0.1"], "is not a scheduler address"),
        (["--store", "/nonexistent-gradtrace/dir/x.db"], "the folder '/nonexistent-gradtrace/dir'"),
    ],
    ids=["workers-0", "workers-negative", "scheduler-nonsense", "scheduler-no-port", "no-folder"],
)
def test_bad_options_are_one_line_and_exit_2_before_anything_is_written(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    store = tmp_path / "s.db"
    argv = ["sweep", str(_grid(tmp_path)), "--store", str(store), *args]
    started = _spy_on_dask(monkeypatch)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err, err
    assert started == []  # no connection tried, no cluster started
    assert not store.exists() and not Path(f"{store}.lock").exists()


def test_a_scheduler_that_does_not_answer_fails_fast_before_cells_are_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "s.db"
    argv = ["sweep", str(_grid(tmp_path)), "--store", str(store)]
    started = _spy_on_dask(monkeypatch, connect=True)
    assert main([*argv, "--scheduler", "tcp://127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no Dask scheduler answers there" in err, err
    # one try at that address, bounded by a timeout (so it fails, never hangs); no local
    # cluster instead (its time: benchmarks/sweep_fail_fast.py)
    assert len(started) == 1, started
    (kind, address, timeout) = started[0]
    assert (kind, address) == ("Client", "tcp://127.0.0.1:1")
    assert timeout is not None and 0 < timeout <= 30, timeout
    assert not store.exists()  # connected before the store is opened


# ---- the store -------------------------------------------------------------------------------


def _all_done(store: Path, grid: Any, name: str | None = None) -> None:
    """List ``grid``'s cells in ``store`` as a sweep would, every one done (no cluster needed)."""
    with Store(store) as db:
        db.add_grid(name or grid.name, grid.kind, grid.source, {})
        db.add_cells([(c.key, c.kind, c.params, c.seed) for c in grid.cells()])
        for c in grid.cells():
            db.finish(c.key, result={"x": 1}, error=None, duration=0.0, worker="w")


def test_a_store_of_another_sweep_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "s.db"
    _all_done(store, read_grid(_grid(tmp_path)), name="other")
    before = store.read_bytes()
    assert main(["sweep", str(_grid(tmp_path)), "--store", str(store)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds the sweep 'other'" in err, err
    assert "give another --store" in err
    argv = ["reproduce", "trainability", "--quick", "--store", str(store)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "holds the sweep 'other'" in err and "'trainability-quick'" in err, err
    assert store.read_bytes() == before and status(store).cells_total == 12


def test_cells_no_longer_in_the_grid_are_reported_and_prune_deletes_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "s.db"
    grid = read_grid(_grid(tmp_path))
    _all_done(store, grid)
    stale = grid.cells()[0]
    with Store(store) as db:  # a failed cell of an older version of the grid
        key = stale.key.replace('"depth":3', '"depth":4')
        db.add_cells([(key, "train", {**stale.params, "depth": 4}, 0)])
        db.finish(key, result=None, error="boom", duration=0.0, worker="w")
    argv = ["sweep", str(_grid(tmp_path)), "--store", str(store), "--retry-failed"]
    assert main(argv) == 0  # nothing to run: no cluster
    out = capsys.readouterr().out
    assert "1 stored cell is not in this grid; kept (--prune deletes them)" in out, out
    assert "13 cells: 12 done, 1 failed" in out
    assert main([*argv, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["not_in_grid"] == 1
    assert main([*argv, "--prune"]) == 0
    out = capsys.readouterr().out
    assert "1 stored cell not in this grid: deleted" in out and "12 cells: 12 done, 0 failed" in out
    assert status(store).cells_failed == 0
    assert main(["sweep", "--help"]) == 0
    assert "--prune" in capsys.readouterr().out


def test_help_and_errors_name_the_right_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in ("sweep", "sweep-status"):
        assert main([command, "--help"]) == 0
        assert "--format" not in capsys.readouterr().out
    assert main(["reproduce", "--help"]) == 0
    assert "trainability-quick" in capsys.readouterr().out
    assert main(["sweep-status", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"PATH {str(tmp_path)!r}" in err and "--store" not in err, err
    with pytest.raises(gradtrace.SpecError, match=r"^path '"):
        load(tmp_path / "missing.db")


def test_output_lines_interrupt_and_singular_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from gradtrace.present.sweep_doc import report_lines, status_line
    from gradtrace.service import application
    from gradtrace.sweep import Status, SweepReport

    grid = read_grid(_grid(tmp_path))
    cell = grid.cells()[0]
    with Store(tmp_path / "f.db") as db:
        db.add_cells([(cell.key, cell.kind, cell.params, cell.seed)])
        row = db.cells()[0]
    report = SweepReport((), 1, ((row, "boom"),), Status(1, 0, 1), 1)
    lines = report_lines(report, tuple(grid.axes))
    assert "  failed: sigma_w2=1.0 learning_rate=0.01 seed=0: boom" in lines
    assert status_line(Status(1, 1, 0)) == "1 cell: 1 done, 0 failed, 0 pending"

    store = tmp_path / "s.db"
    _all_done(store, grid)

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(application, "sweep", interrupted)
    assert main(["sweep", str(_grid(tmp_path)), "--store", str(store)]) == 130
    err = capsys.readouterr().err
    assert err == "interrupted: 12 cells done are kept; rerun the same command to resume\n"


def _foreign_sqlite(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE cells (x)")
    db.commit()
    db.close()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b"not a database at all\n" * 40), "not an SQLite file"),
        (lambda p: p.write_bytes(b"SQLite format 3\x00" + b"\xff" * 3000), "not a gradtrace"),
        (_foreign_sqlite, "another application"),
        (lambda p: p.mkdir(), "it is a folder"),
    ],
    ids=["text", "corrupt", "foreign-sqlite", "folder"],
)
def test_a_corrupt_or_foreign_store_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: Any, message: str
) -> None:
    store = tmp_path / "store.db"
    make(store)
    before = store.read_bytes() if store.is_file() else None
    grid = _grid(tmp_path)
    for argv in (["sweep", str(grid), "--store", str(store)], ["sweep-status", str(store)]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
        assert "Traceback" not in err
    if before is not None:
        assert store.read_bytes() == before  # left as it was


def test_the_store_lists_a_cell_once(tmp_path: Path) -> None:
    grid = read_grid(_grid(tmp_path))
    cells = [(c.key, c.kind, c.params, c.seed) for c in grid.cells()]
    with Store(tmp_path / "s.db") as db:
        assert len(db.add_cells(cells)) == 12
        assert db.add_cells(cells) == []  # listed already
        with pytest.raises(sqlite3.IntegrityError):
            db.db.execute(
                "INSERT INTO cells (key, kind, params, seed, status) VALUES (?, 'train', '{}', 0, "
                "'pending')",
                (cells[0][0],),
            )
        assert db.finish(cells[0][0], result={"a": 1}, error=None, duration=0.1, worker="w")
        assert not db.finish(cells[0][0], result={"a": 2}, error=None, duration=0.1, worker="w")
        assert db.cells(status=("done",))[0].result == {"a": 1}
        assert db.status().cells_total == 12


def test_sweep_status_json_is_exactly_the_contract(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "s.db"
    grid = read_grid(_grid(tmp_path))
    with Store(store) as db:
        db.add_cells([(c.key, c.kind, c.params, c.seed) for c in grid.cells()])
        db.finish(grid.cells()[0].key, result=None, error="boom", duration=0.0, worker="w")
    assert main(["sweep-status", str(store), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "cells_total": 12,
        "cells_done": 0,
        "cells_failed": 1,
    }
    assert main(["sweep-status", str(store)]) == 0
    assert capsys.readouterr().out == "12 cells: 0 done, 1 failed, 11 pending\n"
    assert main(["sweep-status", str(tmp_path / "missing.db")]) == 2


# ---- the cells -------------------------------------------------------------------------------


def test_a_cell_is_fixed_by_its_values_and_seed() -> None:
    p = cell_params("train", {"sigma_w2": 1.5, "depth": 2, "width": 16, "steps": 60})
    a, b = run_cell("train", p, 3), run_cell("train", p, 3)
    assert a == b
    assert run_cell("train", p, 4) != a
    assert set(a) >= {"train_accuracy", "test_accuracy", "loss_first", "loss_last", "loss_min"}
    assert a["loss_last"] < a["loss_first"]


def test_cells_compute_through_the_library() -> None:
    from gradtrace.theory.meanfield import mean_field

    t = run_cell("theory", cell_params("theory", {"sigma_w2": 2.0}), 0)
    mf = mean_field("tanh", 2.0, 0.05)
    assert t["xi_c"] == mf.xi_c and t["chi_1"] == mf.chi_1 and t["phase"] == "chaotic"
    j = run_cell("jacobian", cell_params("jacobian", {"sigma_w2": 1.5, "depth": 4, "width": 30}), 0)
    # free probability's mean of J J^T is chi_1^L (theory.spectra), measured near it
    assert j["predicted_mean"] == pytest.approx(mean_field("tanh", 1.5, 0.05).chi_1 ** 4, rel=1e-6)
    assert j["measured_mean"] == pytest.approx(j["predicted_mean"], rel=0.5)
    m = run_cell("montecarlo", cell_params("montecarlo", {"depth": 3, "samples": 2000}), 0)
    assert len(m["mean_log10_abs_grad"]) == 3
    assert m == run_cell("montecarlo", cell_params("montecarlo", {"depth": 3, "samples": 2000}), 0)


# ---- the runner, process by process -----------------------------------------------------------


def test_one_and_two_workers_give_identical_stores(
    tmp_path: Path, reference: tuple[Path, pd.DataFrame]
) -> None:
    store = tmp_path / "two.db"
    _finish(_sweep(str(_grid(tmp_path)), "--store", str(store), "--workers", "2"))
    pd.testing.assert_frame_equal(_results(store), reference[1])
    assert load(store)["worker"].nunique() == 2


def test_a_separately_started_cluster_gives_an_identical_store(
    tmp_path: Path, reference: tuple[Path, pd.DataFrame]
) -> None:
    info = tmp_path / "scheduler.json"
    common = {"env": ENV, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen(
        [
            "dask",
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dashboard",
            "--scheduler-file",
            str(info),
        ],
        **common,  # type: ignore[call-overload]
    )
    worker = None
    try:
        end = time.monotonic() + 30
        while not info.exists():
            assert time.monotonic() < end and scheduler.poll() is None
            time.sleep(0.1)
        address = json.loads(info.read_text())["address"]
        worker = subprocess.Popen(
            [
                "dask",
                "worker",
                "--scheduler-file",
                str(info),
                "--nworkers",
                "2",
                "--nthreads",
                "1",
                "--host",
                "127.0.0.1",
                "--no-dashboard",
            ],
            **common,  # type: ignore[call-overload]
        )
        store = tmp_path / "cluster.db"
        _, err = _finish(
            _sweep(str(_grid(tmp_path)), "--store", str(store), "--scheduler", address)
        )
        assert err == ""
        pd.testing.assert_frame_equal(_results(store), reference[1])
    finally:
        for p in (worker, scheduler):
            if p is not None:
                p.terminate()
                p.wait(timeout=30)


def test_driver_killed_mid_sweep_resumes_without_losing_or_repeating_a_cell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], reference: tuple[Path, pd.DataFrame]
) -> None:
    grid, store = _grid(tmp_path), tmp_path / "killed.db"
    p = _sweep(str(grid), "--store", str(store), "--workers", "2")
    try:
        _wait_done(store, 3, p)
        # a second sweep on the same store while the first one writes it: refused, nothing written
        assert main(["sweep", str(grid), "--store", str(store), "--workers", "1"]) == 2
        assert "in use by another sweep" in capsys.readouterr().err
        os.kill(p.pid, signal.SIGKILL)  # the driver only; its workers are orphaned
        p.wait()
    finally:
        _kill_group(p)
    before = load(store)
    done = before[before["status"] == "done"]
    assert 3 <= len(done) < 12, "the kill did not land mid-sweep"
    # the fcntl lock died with the driver: the resume starts at once
    out, _ = _finish(_sweep(str(grid), "--store", str(store), "--workers", "2"))
    assert "0 new cells in the store" in out and f"{12 - len(done)} cells to run" in out
    after = load(store)
    assert len(after) == 12 and after["attempts"].max() == 1  # none computed twice
    kept = after.merge(done, how="inner")  # done cells untouched: same duration, same worker
    assert len(kept) == len(done)
    pd.testing.assert_frame_equal(_results(store), reference[1])


def test_a_worker_killed_mid_task_is_retried_and_the_sweep_completes(
    tmp_path: Path, reference: tuple[Path, pd.DataFrame]
) -> None:
    psutil = pytest.importorskip("psutil", reason="psutil comes with distributed (dask extra)")
    grid, store = _grid(tmp_path), tmp_path / "worker.db"
    p = _sweep(str(grid), "--store", str(store), "--workers", "2")
    try:
        _wait_done(store, 2, p)
        workers = [
            c
            for c in psutil.Process(p.pid).children(recursive=True)
            if "spawn_main" in " ".join(c.cmdline())
            and "resource_tracker" not in " ".join(c.cmdline())
        ]
        assert len(workers) == 2, [c.cmdline() for c in workers]
        workers[0].send_signal(signal.SIGKILL)
        _finish(p)
    finally:
        _kill_group(p)
    assert _done(store) == 12
    pd.testing.assert_frame_equal(_results(store), reference[1])


JACOBIAN = """
[sweep]
kind = "jacobian"
[sweep.fixed]
activation = "relu"
sigma_b2 = 0.05
depth = 3
width = 20
[sweep.grid]
sigma_w2 = {values}
"""


def test_a_failed_cell_is_recorded_its_siblings_go_on_and_retry_failed_reruns_it(
    tmp_path: Path,
) -> None:
    store = str(tmp_path / "j.db")

    def sweep(values: str, *extra: str) -> dict[str, Any]:
        grid = _grid(tmp_path, JACOBIAN.format(values=values))
        out, err = _finish(_sweep(str(grid), "--store", store, "--workers", "1", "--json", *extra))
        assert err == ""
        return json.loads(out)

    # sigma_w2 = 2.5: relu's q grows without bound, so there is no spectrum: the cell raises
    first = sweep("[1.0, 2.5]")
    assert (first["ran"], first["cells_done"], first["cells_failed"]) == (2, 1, 1)
    assert "q grows without bound" in first["failed"][0]["error"]
    assert first["failed"][0]["params"]["sigma_w2"] == 2.5
    again = sweep("[1.0, 2.5]")
    assert (again["new"], again["ran"]) == ([], 0)  # a rerun resumes: nothing left to do
    retried = sweep("[1.0, 2.5]", "--retry-failed")
    assert (retried["ran"], retried["cells_failed"]) == (1, 1)
    grown = sweep("[1.0, 1.5, 2.5]")  # a changed grid: only its new cell runs
    assert [c["params"]["sigma_w2"] for c in grown["new"]] == [1.5] and grown["ran"] == 1
    df = load(store)
    assert df.set_index("sigma_w2")["attempts"].to_dict() == {1.0: 1, 2.5: 2, 1.5: 1}
    assert np.isfinite(df[df["status"] == "done"]["measured_mean"]).all()


# ---- the trainability phase diagram -----------------------------------------------------------


def test_each_kinds_typed_params_are_its_params() -> None:
    # the TypedDicts the computations read are PARAMS's names and types, in order
    import typing

    from gradtrace.sweep.cells import PARAMS, TYPED_PARAMS

    assert set(TYPED_PARAMS) == set(PARAMS)
    for kind, typed in TYPED_PARAMS.items():
        hints = typing.get_type_hints(typed)
        assert list(hints) == list(PARAMS[kind]), kind
        assert all(hints[name] is typ for name, (typ, _) in PARAMS[kind].items()), kind


def test_trainable_depth_is_where_accuracy_crosses_the_threshold() -> None:
    from gradtrace.reproduce.trainability import trainable_depth

    depths = np.array([4, 8, 16])
    assert trainable_depth(depths, np.array([0.9, 0.7, 0.3]), 0.5) == pytest.approx(12.0)
    assert trainable_depth(depths, np.array([0.9, 0.9, 0.9]), 0.5) == np.inf
    assert trainable_depth(depths, np.array([0.2, 0.9, 0.9]), 0.5) == 0.0
    # a failed cell counts as untrained: the crossing is the last depth that trained
    assert trainable_depth(depths, np.array([0.9, np.nan, 0.9]), 0.5) == 4.0


def test_reproduce_trainability_quick_runs_the_shipped_grid_into_a_store(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    store, figure = tmp_path / "t.db", tmp_path / "t.png"
    argv = [sys.executable, "-m", "gradtrace", "reproduce", "trainability", "--quick"]
    argv += ["--store", str(store), "--workers", "2", "--json", "--figure", str(figure)]
    done = subprocess.run(argv, env=ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    d = json.loads(done.stdout)
    assert d["name"] == "trainability" and len(d["table"]["rows"]) == 3
    assert figure.read_bytes()[:4] == b"\x89PNG"
    df = load(store)
    assert len(df) == 6 and (df["status"] == "done").all()
    acc = df.set_index(["sigma_w2", "depth"])["test_accuracy"]
    # shallow nets learn the digits; 30 layers deep in the ordered phase (6 xi_c = 22) do not
    assert acc[(1.0, 2)] > 0.8 and acc[(1.75, 2)] > 0.8 and acc[(1.0, 30)] < 0.3
    assert main(["reproduce", "he2015", "--store", str(store)]) == 2  # trainability's only
    # the quick grid's deepest net (30) is below 6 xi_c on the chaotic side: not a failure
    chaotic = d["anchors"][1]
    assert chaotic["unmeasurable"] == "not measurable in this grid" and chaotic["ok"] is None


def test_trainability_anchor_figure_and_title_read_well(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from rich.console import Console

    from gradtrace.present import figures as plots
    from gradtrace.present.reproduce_doc import anchors_table, reproduction_document
    from gradtrace.present.text import print_document
    from gradtrace.reproduce import Anchor
    from gradtrace.reproduce.trainability import TrainabilityResult

    unmeasured = Anchor("chaotic", 1.0, float("nan"), 0.5, "paper", unmeasurable="not measurable")
    assert unmeasured.ok and not unmeasured.measurable
    measured = Anchor("ordered", 1.0, 1.2, 0.5, "paper")
    sw = np.array([1.0, 1.75, 3.0])
    depths = np.array([2, 30])
    result = TrainabilityResult(
        seed=0,
        grid="g",
        store="s.db",
        seeds=(0,),
        activation="tanh",
        sigma_b2=0.05,
        width=24,
        steps=150,
        sigma_w2=sw,
        depths=depths,
        accuracy=np.array([[0.9, 0.9, 0.9], [0.1, 0.9, 0.2]]),
        train_accuracy=np.full((2, 3), 0.9),
        chi_1=np.array([0.6, 1.0, 1.4]),
        six_xi_c=np.array([20.0, 600.0, 40.0]),
        curve_sigma_w2=np.linspace(1.0, 3.0, 5),
        curve_six_xi_c=np.array([20.0, 40.0, 600.0, 60.0, 40.0]),
        sigma_w2_critical=1.76,
        trainable=np.array([26.0, np.inf, 28.0]),
        threshold=0.5,
        anchors=(measured, unmeasured),
    )
    rows = anchors_table(result).rows
    assert rows[1][2:4] == ("not measurable", "-") and rows[1][5] == "n/a", rows[1]
    console = Console(width=80, record=True, force_terminal=False)
    print_document(reproduction_document(result), console)
    text = console.export_text()
    assert "1 of 1 anchors lie within their tolerance (chaotic: not measurable; not counted)" in (
        " ".join(text.split())
    )
    assert "against 6 xi_c" in " ".join(text.split()), text[:400]  # the title, not cut
    fig = plots.reproduction_figure(result)
    ax = fig.axes[0]
    assert ax.get_ylim()[0] >= 0  # no negative depths
    fig.canvas.draw()
    legend = ax.get_legend().get_window_extent()
    assert legend.y1 <= ax.get_window_extent().y0  # below the axes, off the curves
    assert "\n" in ax.get_title()
    plots.save_figure(fig, tmp_path / "t.png")


def test_worker_processes_start_with_ctrl_c_ignored_and_the_driver_keeps_it() -> None:
    from gradtrace.sweep.runner import _workers_ignore_ctrl_c

    before = signal.getsignal(signal.SIGINT)
    with _workers_ignore_ctrl_c():  # what the LocalCluster's processes inherit
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    assert signal.getsignal(signal.SIGINT) is before
