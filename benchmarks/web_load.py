"""Load on the explorer's API: POST /api/trace for the exercise network, from this process to a
`gradtrace serve` started as a separate process on loopback.

Reports requests per second, p50/p99 latency, errors, and the server's resident memory after a
warm-up and at the end (flat memory: no growth over the run).

Run:
  python benchmarks/web_load.py                        # 100,000 requests, 4 connections
  python benchmarks/web_load.py --requests 20000 --connections 8
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time

BODY = json.dumps(
    {"weights": [0.25, -0.11, 0.78], "x": 0.63, "target": 1.0}  # part (b) of the exercise
).encode()
HEADERS = {"content-type": "application/json"}


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def start_server() -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gradtrace", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # "gradtrace explorer at http://127.0.0.1:PORT/ ..."
    port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
    return proc, port


def worker(port: int, n: int, latencies: list[float], errors: list[str]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    for _ in range(n):
        start = time.perf_counter()
        try:
            conn.request("POST", "/api/trace", BODY, HEADERS)
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 200 or b"grad_weight" not in data:
                errors.append(f"status {resp.status}")
        except Exception as e:  # a dropped connection counts as an error, then reconnect
            errors.append(repr(e))
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port)
        latencies.append(time.perf_counter() - start)
    conn.close()


def run(port: int, total: int, connections: int) -> tuple[float, list[float], list[str]]:
    latencies: list[float] = []
    errors: list[str] = []
    per = total // connections
    threads = [
        threading.Thread(target=worker, args=(port, per, latencies, errors))
        for _ in range(connections)
    ]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, latencies, errors


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    proc, port = start_server()
    try:
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}; server: gradtrace serve (uvicorn, 1 process), "
            f"client: this process, {args.connections} keep-alive connections"
        )
        run(port, 2000, args.connections)  # warm-up
        rss_start = rss_mb(proc.pid)
        elapsed, lat, errors = run(port, args.requests, args.connections)
        rss_end = rss_mb(proc.pid)
        lat.sort()
        p50 = statistics.median(lat) * 1e3
        p99 = lat[int(0.99 * (len(lat) - 1))] * 1e3
        print(f"requests: {len(lat):,} in {elapsed:.1f} s = {len(lat) / elapsed:,.0f} requests/s")
        print(f"latency: p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {lat[-1] * 1e3:.1f} ms")
        print(f"errors: {len(errors)}" + (f" (first: {errors[0]})" if errors else ""))
        print(f"server RSS: {rss_start:.1f} MB after warm-up, {rss_end:.1f} MB at the end")
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
