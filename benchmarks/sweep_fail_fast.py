"""How fast `gradtrace sweep` refuses bad input: the wall-clock times that tests/test_sweep.py
used to assert (issue #18 moved them here; the tests now check that no cluster is started and
that the one connection try has a timeout).

  bad options (--workers 0, a bad --scheduler, a missing --store folder)   old bound: 5 s
  a scheduler that does not answer (tcp://127.0.0.1:1)                    old bound: 15 s

Each case is a fresh `python -m gradtrace sweep` process (so the times include Python's start and
the imports), in a temporary folder with a small grid; the median of the repeats is printed.

Run: ``PYTHONPATH=src python benchmarks/sweep_fail_fast.py [--repeats 3]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GRID = """\
[sweep]
name = "bench"
kind = "theory"
[sweep.grid]
sigma_w2 = [1.0, 2.0]
"""

CASES = [
    ("--workers 0", ["--workers", "0"], 5.0),
    ("--scheduler nonsense", ["--scheduler", "nonsense"], 5.0),
    ("--store in a missing folder", ["--store", "/nonexistent-gradtrace/dir/x.db"], 5.0),
    ("--scheduler tcp://127.0.0.1:1", ["--scheduler", "tcp://127.0.0.1:1"], 15.0),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with tempfile.TemporaryDirectory() as tmp:
        grid = Path(tmp) / "grid.toml"
        grid.write_text(GRID)
        for label, extra, bound in CASES:
            times = []
            for _ in range(args.repeats):
                store = Path(tmp) / "s.db"
                argv = ["sweep", str(grid), "--store", str(store), *extra]
                t0 = time.perf_counter()
                done = subprocess.run(
                    [sys.executable, "-m", "gradtrace", *argv],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                times.append(time.perf_counter() - t0)
                if done.returncode != 2:
                    raise SystemExit(f"{label}: exit {done.returncode}, expected 2\n{done.stderr}")
            med = statistics.median(times)
            print(
                f"{label:32s} {med:6.2f} s (median of {args.repeats}; old test bound {bound:g} s)"
            )


if __name__ == "__main__":
    main()
