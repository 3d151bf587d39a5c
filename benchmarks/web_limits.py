"""The explorer's cost model against a real server: every endpoint's slow request at each corner
of its limits (the most the cost model accepts, in the slowest variant), and just over it.

Starts ``gradtrace serve --port 0`` (127.0.0.1) as a separate process, sends the corners one at
a time, and prints for each: the HTTP status, the request's wall-clock time, the job's own time
in the worker (``Server-Timing``), and the worst; then each worker process's peak resident set
(``VmHWM``). A corner must answer 200 within 10 s; one just over must answer 422 at once.

The other sections hold the server to its limits under abuse, each printing its figures:

* ``deadline``: four 3-second trainings sent at once; each request's status, seconds from send
  to answer, and ``Retry-After`` (every accepted request answered within 10 s of its arrival,
  the others refused at once);
* ``cancel``: five clients that leave a training half-way; worker processes started, and the
  seconds the next request then takes;
* ``theory``: mean-field theory (no simulation) while the compute lane is busy and its queue
  full: status and seconds;
* ``limits``: a 413 for a 1 GB body (bytes the client could push before the server closed) and
  request heads of 8 to 100 KB (status).

Run:
  python benchmarks/web_limits.py                       # every section
  python benchmarks/web_limits.py --sections deadline,cancel,theory,limits
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from gradtrace.lab.kernel import HAVE_NUMBA
from gradtrace.web.cost import (
    BUDGET_S,
    LIMITS,
    TIME_LIMIT_S,
    derive_cost,
    montecarlo_cost,
    train_cost,
)

TIMEOUT_S = 60.0  # per request: far past the server's own limit


def most(cost: Callable[[int], float], lo: int, hi: int) -> int:
    """The largest n in [lo, hi] with cost(n) within the budget (cost increasing in n)."""
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if cost(mid) <= BUDGET_S:
            lo = mid
        else:
            hi = mid - 1
    return lo


def corners() -> list[tuple[str, str, dict[str, Any], float]]:
    """(name, path, body, estimated seconds) for each corner and each just-over request."""
    out: list[tuple[str, str, dict[str, Any], float]] = []
    slow_train = {"tolerance": 0, "learning_rate": 1e-12, "clip_norm": 1e6}  # every step runs
    for depth, samples in [(1, 1), (1, 1000), (100, 1), (1000, 1), (1000, 1000)]:
        steps = min(
            most(lambda n, d=depth, s=samples: train_cost(d, n, s), 1, LIMITS["steps"]), 10**9
        )
        body = {"weights": [0.9] * depth, "steps": steps, **slow_train}
        if samples > 1:
            body["dataset"] = samples
        name = f"train {depth} layers x {samples} samples x {steps} steps"
        out.append((name, "/api/train", body, train_cost(depth, steps, samples)))
        if steps < LIMITS["steps"]:
            over = {**body, "steps": steps + 1}
            est = train_cost(depth, steps + 1, samples)
            out.append(
                (name.replace(f"{steps} steps", f"{steps + 1} steps"), "/api/train", over, est)
            )
    slow_mc = {"biases": True, "residual": True, "init": "uniform"}
    for act in ("leaky_relu", "sigmoid"):
        for depth in (1, 30, LIMITS["montecarlo_depth"]):
            n = most(lambda n, d=depth: montecarlo_cost(d, n), 1, LIMITS["samples"])
            body = {"depth": depth, "samples": n, "activation": act, **slow_mc}
            out.append(
                (
                    f"montecarlo {act} depth {depth} x {n} samples",
                    "/api/montecarlo",
                    body,
                    montecarlo_cost(depth, n),
                )
            )
            if n < LIMITS["samples"] and act == "sigmoid":
                out.append(
                    (
                        f"montecarlo depth {depth} x {n + 1} samples",
                        "/api/montecarlo",
                        {**body, "samples": n + 1},
                        montecarlo_cost(depth, n + 1),
                    )
                )
    for act in ("sigmoid", "tanh"):
        for biases in (False, True):
            d = most(lambda d, b=biases: derive_cost(d, True, b), 1, LIMITS["derive_depth"])
            body = {"depth": d, "biases": biases, "closed_form": True, "activation": act}
            out.append(
                (
                    f"derive {act} depth {d} closed forms biases={biases}",
                    "/api/derive",
                    body,
                    derive_cost(d, True, biases),
                )
            )
            if act == "sigmoid":
                out.append(
                    (
                        f"derive depth {d + 1} closed forms biases={biases}",
                        "/api/derive",
                        {**body, "depth": d + 1},
                        derive_cost(d + 1, True, biases),
                    )
                )
        body = {
            "depth": LIMITS["derive_depth"],
            "biases": True,
            "closed_form": False,
            "activation": act,
        }
        out.append(
            (
                f"derive {act} depth {LIMITS['derive_depth']} no closed forms biases",
                "/api/derive",
                body,
                derive_cost(LIMITS["derive_depth"], False, True),
            )
        )
    return out


def start_server() -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gradtrace", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    return proc, int(line.split("http://127.0.0.1:")[1].split("/")[0])


def post(port: int, path: str, body: dict[str, Any]) -> tuple[int, float, float | None, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
    start = time.perf_counter()
    conn.request("POST", path, json.dumps(body), {"content-type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    wall = time.perf_counter() - start
    conn.close()
    timing = r.getheader("server-timing")
    job = float(timing.split("dur=")[1]) / 1e3 if timing else None
    detail = "" if r.status == 200 else json.dumps(json.loads(data).get("detail"))[:110]
    return r.status, wall, job, detail


def children(pid: int) -> list[int]:
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        kids.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return kids


def status_kb(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def section_corners(proc: subprocess.Popen[str], port: int) -> None:
    """Every corner of the cost model, and one step over each."""
    worst = ("", 0.0)
    failures = []
    print(f"{'request':58} {'est s':>6} {'status':>6} {'wall s':>7} {'job s':>6}")
    for name, path, body, est in corners():
        status, wall, job, detail = post(port, path, body)
        over = est > BUDGET_S
        ok = (status == 422 and wall < 1) if over else (status == 200 and wall < TIME_LIMIT_S)
        if not ok:
            failures.append(name)
        if status == 200 and wall > worst[1]:
            worst = (name, wall)
        job_s = f"{job:6.2f}" if job is not None else "     -"
        print(f"{name:58} {est:6.2f} {status:6d} {wall:7.2f} {job_s}" + ("" if ok else " !!"))
        if detail and not over:
            print(f"    {detail}")
    print(f"worst accepted: {worst[1]:.2f} s ({worst[0]})")
    for kid in children(proc.pid):
        with open(f"/proc/{kid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode()[:60]
        print(
            f"worker {kid}: peak RSS (VmHWM) {status_kb(kid, 'VmHWM') / 1024:.0f} MB, "
            f"peak virtual {status_kb(kid, 'VmPeak') / 1024:.0f} MB  [{cmd}]"
        )
    print(f"server: RSS {status_kb(proc.pid, 'VmRSS') / 1024:.0f} MB")
    print("all corners as expected" if not failures else f"UNEXPECTED: {failures}")


def training(seconds: float) -> dict[str, Any]:
    """A training on 100 layers estimated at ``seconds`` by the cost model (every step runs)."""
    steps = int(seconds / train_cost(100, 1))
    return {"weights": [0.5] * 100, "steps": steps, "tolerance": 0, "learning_rate": 1e-12}


def timed_post(port: int, path: str, body: dict[str, Any]) -> tuple[int, float, str | None]:
    """(status, seconds from send to answer, Retry-After) of one request on its own connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
    start = time.perf_counter()
    conn.request("POST", path, json.dumps(body), {"content-type": "application/json"})
    r = conn.getresponse()
    r.read()
    conn.close()
    return r.status, time.perf_counter() - start, r.getheader("retry-after")


def section_deadline(proc: subprocess.Popen[str], port: int) -> None:
    """Four trainings of about 3 s each, sent 50 ms apart to the compute lane."""
    print("four 3 s trainings sent at once (compute lane): each request's answer")
    results: dict[int, tuple[int, float, str | None]] = {}

    def one(i: int) -> None:
        results[i] = timed_post(port, "/api/train", training(3.0))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
        time.sleep(0.05)
    for t in threads:
        t.join(TIMEOUT_S)
    for i in range(4):
        status, seconds, retry = results[i]
        print(f"  request {i + 1}: {status}  {seconds:6.2f} s  Retry-After: {retry}")
    accepted = [s for st, s, _ in results.values() if st == 200]
    refused = [s for st, s, _ in results.values() if st == 503]
    print(
        f"  longest accepted: {max(accepted, default=0):.2f} s; slowest refusal: "
        f"{max(refused, default=0):.2f} s (limit {TIME_LIMIT_S:g} s from arrival)"
    )


def section_cancel(proc: subprocess.Popen[str], port: int) -> None:
    """Clients that leave a running training: are workers killed, and what does it cost?"""
    before = set(children(proc.pid))
    seen = set(before)
    print("five clients leave a 3 s training after 0.5 s; then one small training")
    body = json.dumps(training(3.0)).encode()
    waits = []
    for _ in range(5):
        sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S)
        sock.sendall(
            b"POST /api/train HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n%s" % (len(body), body)
        )
        time.sleep(0.5)
        sock.close()
        status, seconds, _ = timed_post(port, "/api/train", {"weights": [0.5, 0.5], "steps": 3})
        waits.append(seconds)
        seen |= set(children(proc.pid))
        print(f"  next small training: {status} after {seconds:.2f} s")
    started = seen - before
    print(
        f"  worker processes started meanwhile: {len(started)}; next request waited "
        f"{min(waits):.2f}-{max(waits):.2f} s"
    )


def section_theory(proc: subprocess.Popen[str], port: int) -> None:
    """Mean-field theory while the compute lane runs a training and holds more."""
    print("mean-field theory (no simulation) while 3 s trainings fill the compute lane")
    stop = threading.Event()

    def busy() -> None:
        while not stop.is_set():
            timed_post(port, "/api/train", training(3.0))

    threads = [threading.Thread(target=busy) for _ in range(4)]
    for t in threads:
        t.start()
        time.sleep(0.05)
    time.sleep(0.5)
    times, statuses = [], []
    for _ in range(5):
        status, seconds, _ = timed_post(port, "/api/theory", {"activation": "tanh"})
        times.append(seconds)
        statuses.append(status)
        print(f"  /api/theory: {status} after {seconds * 1e3:.1f} ms")
        time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join(TIMEOUT_S)
    print(
        f"  theory answered in {min(times) * 1e3:.1f}-{max(times) * 1e3:.1f} ms, "
        f"{statuses.count(200)} of {len(statuses)} with 200"
    )


def section_limits(proc: subprocess.Popen[str], port: int) -> None:
    """A 413 for a declared 1 GB body, and request heads of growing size."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(
        b"POST /api/trace HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        b"content-length: 1000000000\r\n\r\n"
    )
    head = sock.recv(4096).split(b"\r\n\r\n")[0].decode(errors="replace")
    chunk = b"0" * 65536
    pushed, start = 0, time.perf_counter()
    try:
        while pushed < 10**9 and time.perf_counter() - start < 3:
            sock.sendall(chunk)
            pushed += len(chunk)
        outcome = "the server read on (3 s)" if pushed < 10**9 else "the server read it all"
    except OSError as e:
        outcome = f"closed: {type(e).__name__}"
    sock.close()
    print(f"413 for a declared 1 GB body: {head.splitlines()[0]!r}")
    print(f"  Connection: close sent: {'connection: close' in head.lower()}")
    print(
        f"  the client then pushed {pushed / 2**20:.1f} MB in "
        f"{time.perf_counter() - start:.2f} s; {outcome}"
    )
    for kb in (8, 15, 17, 32, 100):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        filler = b"X-Filler: " + b"a" * (kb * 1024 - 80) + b"\r\n"
        sock.sendall(b"GET /api/presets HTTP/1.1\r\nHost: 127.0.0.1\r\n" + filler + b"\r\n")
        try:
            line = sock.recv(4096).split(b"\r\n")[0].decode()
        except OSError as e:
            line = type(e).__name__
        sock.close()
        print(f"  request head of {kb} KB: {line}")


SECTIONS = {
    "corners": section_corners,
    "deadline": section_deadline,
    "cancel": section_cancel,
    "theory": section_theory,
    "limits": section_limits,
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sections", default=",".join(SECTIONS), help="comma list")
    args = parser.parse_args()
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    print(
        f"machine: {model}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"Monte Carlo kernel: {'numba' if HAVE_NUMBA else 'numpy'}; budget {BUDGET_S:g} s, "
        f"wall-clock limit {TIME_LIMIT_S:g} s; load average {os.getloadavg()[0]:.1f}"
    )
    proc, port = start_server()
    try:
        # one small request per lane: each waits for its worker's warm-up, not timed
        for _ in range(60):
            a = post(port, "/api/derive", {"depth": 2, "closed_form": False})[0]
            b = post(port, "/api/train", {"weights": [0.5], "steps": 1})[0]
            if a == b == 200:
                break
            time.sleep(1)
        for name in args.sections.split(","):
            print(f"\n== {name}")
            SECTIONS[name](proc, port)
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
