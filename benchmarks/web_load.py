"""Load on the explorer's API: POST /api/trace for the exercise network, from this process to a
`gradtrace serve` started as a separate process on loopback.

Reports requests per second, p50/p99 latency, errors, the server's resident memory after a
warm-up and at the end (flat memory: no growth over the run), and the server's CPU time per
request (which a busy machine changes far less than requests per second).

With ``--slow-jobs``, the same load is measured three times in one run, side by side: idle,
while a training runs back to back in the compute worker, and while formulas (closed forms,
a new chain each time) run in the derive worker as well.

With ``--idle N``, N more connections stay open for the whole run and do no work: half of them
silent, half sending a request head one byte every 0.5 s (reopened whenever the server closes
one); the run reports how many the server closed, and any 503 among the load's answers.

Run:
  python benchmarks/web_load.py                        # 100,000 requests, 4 connections
  python benchmarks/web_load.py --requests 20000 --connections 8
  python benchmarks/web_load.py --requests 20000 --slow-jobs
  python benchmarks/web_load.py --requests 20000 --connections 50 --idle 200
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import platform
import socket
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


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the process has used: a cost per request that, unlike
    requests/s, hardly depends on what else the machine runs."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


SLOW_TRAIN = json.dumps(  # about 3 s in the worker, within the cost budget
    {"weights": [0.9] * 100, "steps": 1000, "tolerance": 0, "learning_rate": 1e-12}
).encode()
ACTIVATIONS = ("sigmoid", "tanh", "softsign", "relu", "leaky_relu", "identity")


def slow_jobs(port: int, stop: threading.Event, derive: bool, log: list[str]) -> None:
    """Back-to-back slow requests until ``stop`` (at most 200 of them)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for i in range(200):
        if stop.is_set():
            break
        if derive:  # a chain not derived before (the worker caches derivations)
            act, biases = ACTIVATIONS[i % 6], bool(i // 6 % 2)
            body = json.dumps(
                {"depth": 12 + i // 12, "activation": act, "biases": biases, "closed_form": True}
            ).encode()
            conn.request("POST", "/api/derive", body, HEADERS)
        else:
            conn.request("POST", "/api/train", SLOW_TRAIN, HEADERS)
        resp = conn.getresponse()
        resp.read()
        log.append(f"{'derive' if derive else 'train'} {resp.status}")
    conn.close()


class Idle:
    """``n`` connections that hold a socket and do no work: half silent, half trickling a
    request head; each one the server closes is reopened (``closed`` counts them)."""

    def __init__(self, port: int, n: int) -> None:
        self.port, self.n, self.closed = port, n, 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._hold)

    def _open(self, slow: bool) -> socket.socket:
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        if slow:
            s.sendall(b"GET /api/presets HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        s.setblocking(False)
        return s

    def _hold(self) -> None:
        socks = [(self._open(i % 2 == 1), i % 2 == 1) for i in range(self.n)]
        while not self.stop.wait(0.5):
            for i, (s, slow) in enumerate(socks):
                try:
                    if s.recv(4096) == b"":  # closed by the server
                        raise ConnectionResetError
                except BlockingIOError:  # still open, nothing to read
                    try:
                        if slow:
                            s.send(b"X")
                        continue
                    except OSError:
                        pass
                except OSError:
                    pass
                s.close()
                self.closed += 1
                socks[i] = (self._open(slow), slow)
        for s, _ in socks:
            s.close()

    def __enter__(self) -> Idle:
        self.thread.start()
        time.sleep(1.0)  # all open
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(30)


def summary(elapsed: float, lat: list[float]) -> tuple[float, float, float, float]:
    lat = sorted(lat)
    p99 = lat[int(0.99 * (len(lat) - 1))]
    return len(lat) / elapsed, statistics.median(lat) * 1e3, p99 * 1e3, lat[-1] * 1e3


def compare(port: int, total: int, connections: int) -> None:
    """/api/trace idle, during a training, during a training and formulas: side by side."""
    rows = {}
    for name, lanes in [("idle", ()), ("training", (False,)), ("training+formulas", (False, True))]:
        stop, log = threading.Event(), []
        jobs = [threading.Thread(target=slow_jobs, args=(port, stop, d, log)) for d in lanes]
        for t in jobs:
            t.start()
        time.sleep(0.5 if lanes else 0)  # the jobs are running
        elapsed, lat, errors = run(port, total, connections)
        stop.set()
        for t in jobs:
            t.join(60)
        rows[name] = (*summary(elapsed, lat), len(errors), len(log))
    print(f"{'/api/trace':>22} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} errors jobs")
    for name, (rps, p50, p99, mx, nerr, njobs) in rows.items():
        print(f"{name:>22} {rps:8,.0f} {p50:8.2f} {p99:8.2f} {mx:8.1f} {nerr:6d} {njobs:4d}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--slow-jobs", action="store_true", help="idle vs during slow jobs")
    parser.add_argument("--idle", type=int, default=0, help="connections held open, no work")
    args = parser.parse_args()
    proc, port = start_server()
    try:
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}; server: gradtrace serve (uvicorn, 1 process), "
            f"client: this process, {args.connections} keep-alive connections"
            + (f", {args.idle} idle or slow ones" if args.idle else "")
            + f"; load average {os.getloadavg()[0]:.1f}"
        )
        run(port, 2000, args.connections)  # warm-up
        if args.slow_jobs:
            compare(port, args.requests, args.connections)
            return
        idle = Idle(port, args.idle)
        rss_start, cpu_start = rss_mb(proc.pid), cpu_s(proc.pid)
        if args.idle:
            with idle:
                elapsed, lat, errors = run(port, args.requests, args.connections)
        else:
            elapsed, lat, errors = run(port, args.requests, args.connections)
        rss_end, cpu = rss_mb(proc.pid), cpu_s(proc.pid) - cpu_start
        lat.sort()
        p50 = statistics.median(lat) * 1e3
        p99 = lat[int(0.99 * (len(lat) - 1))] * 1e3
        print(f"requests: {len(lat):,} in {elapsed:.1f} s = {len(lat) / elapsed:,.0f} requests/s")
        print(f"latency: p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {lat[-1] * 1e3:.1f} ms")
        kinds = collections.Counter(e.split("(")[0] for e in errors).most_common(3)
        print(f"errors: {len(errors)}" + (f" ({kinds})" if errors else ""))
        if args.idle:
            print(f"idle or slow connections closed by the server (and reopened): {idle.closed}")
        print(f"server RSS: {rss_start:.1f} MB after warm-up, {rss_end:.1f} MB at the end")
        print(f"server CPU: {cpu * 1e3 / len(lat):.3f} ms per request (user + system)")
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
