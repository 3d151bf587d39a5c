"""Wall-clock times of the commands whose speed the README and the help promise, each run as a
user runs it (a fresh `gradtrace` process, output to a file), median of a few repeats.

  grad, 10,000 layers (text)    goal: at most 2 s (the middle layers elided)
  grad, 32,000 layers (text)
  grad, 10,000 layers, --all-layers
  derive --depth 60 (text)      closed forms left out past depth 12
  derive --depth 15 --closed-form
  solve (text)
  report --quick / report       the README quotes both

Run:
  python benchmarks/cli_times.py                 # 3 repeats, the full report once
  python benchmarks/cli_times.py --repeats 5 --no-report
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _weights(n: int) -> str:
    return "--weights=" + ",".join(["0.9"] * n)


def _time(args: list[str], repeats: int, cwd: Path) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "gradtrace", *args],
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"gradtrace {args[0]} failed: {done.stderr.strip()}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-report", action="store_true", help="skip the full report")
    opts = parser.parse_args()
    sample = ["--x", "1", "--target", "1"]
    cases: list[tuple[str, list[str], int]] = [
        ("gradtrace --version (start-up)", ["--version"], opts.repeats),
        ("grad, 10,000 layers, text", ["grad", _weights(10_000), *sample], opts.repeats),
        ("grad, 32,000 layers, text", ["grad", _weights(32_000), *sample], opts.repeats),
        (
            "grad, 10,000 layers, --all-layers",
            ["grad", _weights(10_000), *sample, "--all-layers"],
            1,
        ),
        ("derive --depth 60", ["derive", "--depth", "60"], opts.repeats),
        ("derive --depth 15 --closed-form", ["derive", "--depth", "15", "--closed-form"], 1),
        ("solve", ["solve"], opts.repeats),
        ("report --quick", ["report", "--out", "quick", "--quick", "--force"], opts.repeats),
    ]
    if not opts.no_report:
        cases.append(("report (full)", ["report", "--out", "full", "--force"], 1))
    cpu = platform.processor() or platform.machine()
    print(f"{platform.python_version()} on {cpu}, {os.cpu_count()} cores; median of the repeats")
    print(f"{'command':<36} {'median s':>9} {'min s':>7} {'max s':>7}  runs")
    with tempfile.TemporaryDirectory() as tmp:
        for name, args, repeats in cases:
            t = _time(args, repeats, Path(tmp))
            print(
                f"{name:<36} {statistics.median(t):9.2f} {min(t):7.2f} {max(t):7.2f}  {len(t)}",
                flush=True,
            )


if __name__ == "__main__":
    main()
