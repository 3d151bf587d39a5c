"""Edit-to-render time of the explorer page: a weight typed in, until every panel shows the new
numbers (the page's own `performance.now()` around fetch + redraw), in headless Chromium.

Starts `gradtrace serve` as a separate process, loads the page with the part (d) preset (or
the part (b) chain made deeper with --depth), and types different values of w1 and w2 in turn.

Run:
  python benchmarks/explorer_render.py [--edits 200]
  python benchmarks/explorer_render.py --depth 50
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from web_load import start_server

from browser import launch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--edits", type=int, default=200)
    parser.add_argument("--depth", type=int, default=None, help="deepen the part (b) chain")
    args = parser.parse_args()
    proc, port = start_server()
    try:
        with sync_playwright() as pw:
            browser = launch(pw)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_function("window.gradtraceUpdates >= 1")
            if args.depth:
                page.fill("#depth", str(args.depth))
                page.wait_for_function(
                    f"document.querySelectorAll('#formulas math').length == {args.depth}",
                    timeout=60_000,
                )
            else:
                page.click("#preset-d")
            # edits start at once: derivations run in the worker process, not in the way
            times = []
            for i in range(args.edits):
                n = page.evaluate("window.gradtraceUpdates")
                page.fill(f"#w-{1 + i % 2}", f"{-1 + 2 * i / args.edits:.4f}")
                page.wait_for_function(f"window.gradtraceUpdates > {n}")
                times.append(page.evaluate("window.gradtraceLastUpdateMs"))
            browser.close()
    finally:
        proc.terminate()
        proc.wait(10)
    times.sort()
    what = f"the part (b) chain at depth {args.depth}" if args.depth else "part (d), depth 3"
    print(f"{len(times)} edits of {what}, Chromium headless:")
    print(
        f"edit-to-render ms: median {statistics.median(times):.1f}, "
        f"p95 {times[int(0.95 * (len(times) - 1))]:.1f}, max {times[-1]:.1f}"
    )


if __name__ == "__main__":
    main()
