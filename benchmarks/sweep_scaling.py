"""Sweep throughput on Dask: cells per minute on 1 local worker, 2 local workers and a cluster
of 2 workers started separately (``dask scheduler`` + ``dask worker --nworkers 2`` on
127.0.0.1), for small ``train`` cells; and the scheduler's overhead per cell on trivial cells.

  train cells     width 32, depth 8, 300 SGD steps on the digits (about 0.3-0.5 s each)
                  goal: at least 1.8x cells/min from 1 to 2 workers
  trivial cells   ``theory`` cells (one mean-field solve, a few ms)
                  overhead per cell = (wall - sum of cell durations / workers) / cells
                  goal: at most 5 ms

Each run goes into a fresh store. Wall time is taken from the moment the cluster is up (the
sweep's first progress call, before the tasks are submitted) to the last cell committed, so it
includes submission, scheduling, transfer and the store's commits, but not the cluster's start.

Run:
  PYTHONPATH=src python benchmarks/sweep_scaling.py               # 2 repeats of each
  PYTHONPATH=src python benchmarks/sweep_scaling.py --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from gradtrace.sweep import grid_from_dict, load, run_sweep

TRAIN = {
    "sweep": {
        "name": "bench-train",
        "kind": "train",
        "seeds": [0, 1, 2],
        "fixed": {"width": 32, "depth": 8, "steps": 300},
        "grid": {"sigma_w2": [1.0, 1.5, 2.0, 2.5, 3.0, 4.0], "learning_rate": [0.01, 0.02]},
    }
}  # 36 cells
TRIVIAL = {
    "sweep": {
        "name": "bench-trivial",
        "kind": "theory",
        "seeds": list(range(10)),
        "grid": {"sigma_w2": [1.0 + 0.05 * i for i in range(50)]},
    }
}  # 500 cells


def _timed(grid: dict[str, Any], **where: Any) -> dict[str, float]:
    """One sweep into a fresh store: wall time after the cluster is up, cells, summed cell time."""
    marks: list[float] = []

    def progress(done: int, total: int) -> None:
        marks.append(time.perf_counter())

    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "s.db"
        report = run_sweep(grid_from_dict(grid), store, progress=progress, **where)
        df = load(store)
    assert report.status.cells_done == len(df), report
    return {
        "wall": marks[-1] - marks[0],
        "cells": float(len(df)),
        "cell_time": float(df["duration"].sum()),
        "workers": float(report.workers),
    }


def _cluster(n: int) -> tuple[list[subprocess.Popen[bytes]], str]:
    """A scheduler and ``n`` one-thread workers on 127.0.0.1, started as separate processes."""
    info = Path(tempfile.mkdtemp()) / "scheduler.json"
    quiet: dict[str, Any] = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen(
        ["dask", "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
         "--scheduler-file", str(info)],
        **quiet,
    )  # fmt: skip
    while not info.exists():
        time.sleep(0.1)
    worker = subprocess.Popen(
        ["dask", "worker", "--scheduler-file", str(info), "--nworkers", str(n), "--nthreads",
         "1", "--host", "127.0.0.1", "--no-dashboard"],
        **quiet,
    )  # fmt: skip
    from distributed import Client

    address = json.loads(info.read_text())["address"]
    with Client(address, set_as_default=False) as client:
        client.wait_for_workers(n, timeout=60)
    return [worker, scheduler], address


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    print(f"load average before: {os.getloadavg()}")
    rows = []
    setups: list[tuple[str, dict[str, Any]]] = [
        ("1 local worker", {"workers": 1}),
        ("2 local workers", {"workers": 2}),
    ]
    procs, address = _cluster(2)
    setups.append(("separate cluster, 2 workers", {"scheduler": address}))
    try:
        for label, where in setups:
            train = [_timed(TRAIN, **where) for _ in range(args.repeats)]
            trivial = [_timed(TRIVIAL, **where) for _ in range(args.repeats)]
            rate = statistics.median(60 * r["cells"] / r["wall"] for r in train)
            cell = statistics.median(r["cell_time"] / r["cells"] for r in train)
            overhead = statistics.median(
                (r["wall"] - r["cell_time"] / r["workers"]) / r["cells"] for r in trivial
            )
            trivial_rate = statistics.median(60 * r["cells"] / r["wall"] for r in trivial)
            rows.append((label, rate, cell, trivial_rate, overhead))
            print(f"{label}: {rate:.1f} train cells/min, {overhead * 1e3:.2f} ms/cell", flush=True)
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=30)
    print(f"load average after: {os.getloadavg()}\n")
    print("| setup | train cells/min | s per train cell | speedup vs 1 worker | "
          "trivial cells/min | overhead per trivial cell |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for label, rate, cell, trivial_rate, overhead in rows:
        print(
            f"| {label} | {rate:.1f} | {cell:.2f} | {rate / rows[0][1]:.2f}x | "
            f"{trivial_rate:,.0f} | {overhead * 1e3:.2f} ms |"
        )


if __name__ == "__main__":
    main()
