"""The gradient-failure benchmark (issue 17): every case of ``gradtrace.monitor.failures.CASES``
(the original cases, written with the verdict rules) and of ``HELD_OUT`` (held-out cases, written
apart from the rules to measure how the verdict generalizes) run with the monitor, its verdict checked against the expected one, its first advice applied
literally and the case rerun, and the monitor's cost measured against the same run without it.

For each case it prints: the verdict (right or wrong), whether the verdict names the layers the
case must name, the first advice's remedy against the case's fix, and whether applying that
advice turned the verdict healthy *and* lowered the held-out loss (in the data's own units).
Then the overhead: the run's training loop timed with and without the monitor, interleaved,
``--repeats`` times (median of the paired ratios). A summary table follows for each set, in
Markdown, as published in docs/monitor.md, each with its own summary line: the held-out set's
numbers are the honest measure of the verdict, the original set's of its fit to the cases it was
written with.

Run:
  python benchmarks/monitor_failures.py                 # all cases, 5 timing repeats
  python benchmarks/monitor_failures.py --repeats 0     # verdicts and advice only
  python benchmarks/monitor_failures.py --held-out      # the held-out cases only
  python benchmarks/monitor_failures.py --cases deep_sigmoid,large_lr
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
import warnings

import torch

sys.path.insert(0, "/tmp/repro")

from gradtrace.monitor.failures import (
    ALL_CASES,
    HELD_OUT,
    Setup,
    apply_remedy,
    names_match,
    run_case,
)


def named(verdict: object) -> set[str]:
    """Every name the verdict gives: its layers and its findings' layers."""
    layers = set(getattr(verdict, "layers", []))
    return layers | {n for f in getattr(verdict, "findings", []) for n in f.layers}


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--repeats", type=int, default=5, help="timing repeats per case (0: none)")
    ap.add_argument("--cases", default="", help="comma-separated case names (default: all)")
    ap.add_argument("--held-out", action="store_true", help="run only the held-out cases")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    warnings.simplefilter("ignore")  # the cases provoke overflow warnings on purpose
    torch.set_num_threads(args.threads)
    pool = HELD_OUT if args.held_out else ALL_CASES
    chosen = [c for c in pool if not args.cases or c.name in args.cases.split(",")]
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads; load average at start {os.getloadavg()[0]:.2f}\n"
    )
    rows = []
    for c in chosen:
        start = time.perf_counter()
        out = run_case(c)
        v = out.verdict
        right = v.status == c.expect
        names_ok = names_match(named(v), c.must_name)
        first = v.advice[0] if v.advice else None
        fixed: bool | None = None
        after = "no advice"
        if c.fix is not None:
            fixed = False
            if first is not None:
                again = run_case(c, apply_remedy(Setup(), first))
                better = math.isfinite(again.loss_end) and (
                    not math.isfinite(out.loss_end) or again.loss_end < out.loss_end
                )
                fixed = again.applicable and again.verdict.status == "healthy" and better
                after = f"{again.verdict.status}, loss {out.loss_end:.3g} -> {again.loss_end:.3g}"
        overhead = per_step = math.nan
        if args.repeats:
            ratios, extra = [], []
            for _ in range(args.repeats):
                with_mon = run_case(c).seconds
                without = run_case(c, monitor=False).seconds
                ratios.append(with_mon / without)
                extra.append((with_mon - without) / max(len(out.losses), 1))
            overhead = 100 * (statistics.median(ratios) - 1)
            per_step = 1e6 * statistics.median(extra)
        rows.append(
            (
                c,
                v.status,
                right,
                names_ok,
                first.remedy if first else "-",
                fixed,
                overhead,
                per_step,
            )
        )
        print(
            f"{'[held-out] ' if c.held_out else ''}{c.name}: {v.status} ({'right' if right else 'WRONG, expected ' + c.expect}), "
            f"names {'ok' if names_ok else 'MISSING ' + ', '.join(c.must_name)}, "
            f"first advice {first.remedy if first else '-'}"
            f"{'' if first is None or not first.params else ' ' + str(first.params)}"
            f" (fix: {c.fix or '-'})"
            + (f", after it: {after} ({'fixed' if fixed else 'not fixed'})" if c.fix else "")
            + (f", overhead {overhead:+.1f}% ({per_step:.0f} us/step)" if args.repeats else "")
            + f" [{time.perf_counter() - start:.1f} s]",
            flush=True,
        )
    print(f"\n# load average at end {os.getloadavg()[0]:.2f}")
    for title, subset in (
        ("original cases", [r for r in rows if not r[0].held_out]),
        ("held-out cases", [r for r in rows if r[0].held_out]),
    ):
        if subset:
            table(title, subset, bool(args.repeats))


def table(title: str, rows: list, timed: bool) -> None:
    """One set's Markdown table and its summary line."""
    print(f"\n## {title}\n")
    print(
        "| case | group | expected | verdict | layers named | first advice | fixed by it | overhead (per step) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for c, status, right, names_ok, remedy, fixed, overhead, per_step in rows:
        print(
            f"| {c.name} | {c.group} | {c.expect} | {status}{'' if right else ' (wrong)'} | "
            f"{'yes' if names_ok else 'no'} | {remedy}{'' if c.fix in (None, remedy) else f' (fix: {c.fix})'} | "
            f"{'-' if fixed is None else 'yes' if fixed else 'no'} | "
            f"{'-' if math.isnan(overhead) else f'{overhead:+.1f}% ({per_step:.0f} us)'} |"
        )
    failures = [r for r in rows if r[0].fix is not None]
    healthy = [r for r in rows if r[0].expect == "healthy"]
    n = len(rows)
    print(
        f"\n{title}: verdicts right: {sum(r[2] for r in rows)} of {n}; "
        f"false alarms: {sum(r[1] != 'healthy' for r in healthy)} of {len(healthy)} healthy runs; "
        f"layers named: {sum(r[3] for r in rows)} of {n}; "
        f"first advice the expected fix: {sum(r[4] == r[0].fix for r in failures)} of {len(failures)}; "
        f"first advice fixed it (healthy and a lower held-out loss): {sum(bool(r[5]) for r in failures)} of {len(failures)}"
        + (
            f"; overhead median {statistics.median(r[6] for r in rows):+.1f}%, "
            f"{statistics.median(r[7] for r in rows):.0f} us per step"
            if timed
            else ""
        )
    )


if __name__ == "__main__":
    main()
