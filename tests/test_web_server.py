"""The explorer left running: slow jobs bounded and cancelled, Host checked, idle and slow
connections closed, a warning when bound beyond loopback. A real server on 127.0.0.1."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import re
import socket
import threading
import time
import types
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from gradtrace.web import server as web_server
from gradtrace.web.app import LIMITS, create_app
from gradtrace.web.cost import BUDGET_S, derive_cost, montecarlo_cost, train_cost
from gradtrace.web.jobs import JobLimits
from gradtrace.web.server import bind, exposure_warning, make_server

TIME_LIMIT_S = 10.0  # the server's own limit: accepted requests must finish within it
TIGHT_LIMIT_S = 0.3  # for the test of the limit itself: far below any real job
KEEP_ALIVE_S = 0.5
HEAD_TIMEOUT_S = 1.0
REQUEST_TIMEOUT_S = 2.0
HANG_S = 30.0  # how long a test waits for something that must happen, so that none can hang


class Server:
    def __init__(self, time_limit_s: float = TIME_LIMIT_S) -> None:
        self.app = create_app(job_limits=JobLimits(time_limit_s=time_limit_s))
        self.sock = bind("127.0.0.1", 0)
        self.port = self.sock.getsockname()[1]
        self.srv = make_server(
            self.app,
            keep_alive_s=KEEP_ALIVE_S,
            head_timeout_s=HEAD_TIMEOUT_S,
            request_timeout_s=REQUEST_TIMEOUT_S,
        )
        self.thread = threading.Thread(
            target=self.srv.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def lane(self, name: str) -> Any:
        return self.app.state.jobs.lanes[name]

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        """(status, JSON answer, headers with lower-case names)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=HANG_S)
        try:
            conn.request("POST", path, json.dumps(body), {"content-type": "application/json"})
            r = conn.getresponse()
            data = json.loads(r.read())
        finally:
            conn.close()
        return r.status, data, {k.lower(): v for k, v in r.getheaders()}

    def post_until_ok(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """Post until 200: a fresh worker's warm-up may outlast a request's deadline (503)."""
        deadline = time.monotonic() + 120  # a worker's start_timeout_s
        while True:
            status, data, _ = self.post(path, body)
            if status == 200:
                return data
            assert status == 503 and time.monotonic() < deadline, (status, data)
            time.sleep(0.2)


def _serve(time_limit_s: float) -> Iterator[Server]:
    s = Server(time_limit_s)
    s.thread.start()
    deadline = time.monotonic() + HANG_S
    while not s.srv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    # both workers warmed up (a fresh worker's start is not a request's time)
    s.post_until_ok("/api/derive", {"depth": 2, "closed_form": False})
    s.post_until_ok("/api/train", {"weights": [0.5], "steps": 1})
    yield s
    s.srv.should_exit = True
    s.thread.join(10)
    s.app.state.jobs.close()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    yield from _serve(TIME_LIMIT_S)


@pytest.fixture(scope="module")
def tight_server() -> Iterator[Server]:
    yield from _serve(TIGHT_LIMIT_S)


def _raw(port: int, timeout: float = HANG_S) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def _get(port: int, path: str = "/api/presets") -> int:
    """The status of one GET on a fresh connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HANG_S)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        r.read()
        return r.status
    finally:
        conn.close()


def _head(sock: socket.socket) -> tuple[int, dict[str, str]]:
    """Read a response's status and headers from ``sock`` (lower-case names)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed before a whole response head: {data!r}"
        data += chunk
    lines = data.split(b"\r\n\r\n")[0].decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers


@contextlib.contextmanager
def _tiny_server(**limits: Any) -> Iterator[int]:
    """``make_server`` around an app that answers 200 at once: the protocol's limits alone."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    sock = bind("127.0.0.1", 0)
    srv = make_server(app, **limits)
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + HANG_S
    while not srv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield sock.getsockname()[1]
    finally:
        srv.should_exit = True
        thread.join(HANG_S)


def _closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closes ``sock`` (reading whatever it sends), or None."""
    start = time.monotonic()
    sock.settimeout(0.1)
    while time.monotonic() - start < seconds:
        try:
            if sock.recv(65536) == b"":
                return time.monotonic() - start
        except TimeoutError:
            continue
        except ConnectionResetError:
            return time.monotonic() - start
    return None


# ---- the cost model: every request accepted finishes in time, or is refused naming its cost ----


def _over(cost: Any, lo: int, hi: int) -> int:
    """The smallest n in [lo, hi] with cost(n) over the budget (cost increasing in n)."""
    while lo < hi:
        mid = (lo + hi) // 2
        if cost(mid) > BUDGET_S:
            hi = mid
        else:
            lo = mid + 1
    return lo


def test_cheap_corners_finish_within_the_limit(server: Server) -> None:
    deep_train = {"weights": [0.5] * LIMITS["depth"], "steps": 1, "dataset": LIMITS["dataset"]}
    deep_mc = {"depth": LIMITS["montecarlo_depth"], "samples": 1}
    derive = {"depth": LIMITS["derive_depth"], "biases": True, "closed_form": False}
    for path, body in [
        ("/api/train", deep_train),
        ("/api/montecarlo", deep_mc),
        ("/api/derive", derive),
    ]:
        status, data, _ = server.post(path, body)
        assert status == 200, (path, status, data)


@pytest.mark.parametrize(
    ("path", "field"),
    [("/api/train", "steps"), ("/api/montecarlo", "samples"), ("/api/derive", "depth")],
)
def test_just_over_the_budget_is_422_naming_the_cost(server: Server, path: str, field: str) -> None:
    if path == "/api/train":
        steps = _over(lambda n: train_cost(LIMITS["depth"], n), 1, LIMITS["steps"])
        body: dict[str, Any] = {"weights": [0.5] * LIMITS["depth"], "steps": steps}
    elif path == "/api/montecarlo":
        n = _over(lambda n: montecarlo_cost(LIMITS["montecarlo_depth"], n), 1, LIMITS["samples"])
        body = {"depth": LIMITS["montecarlo_depth"], "samples": n}
    else:
        depth = _over(lambda d: derive_cost(d, closed_form=True), 1, LIMITS["derive_depth"])
        body = {"depth": depth}
    status, data, _ = server.post(path, body)
    assert status == 422
    (d,) = data["detail"]
    assert d["loc"] == ["body", field] and f"{BUDGET_S:g} s budget" in d["msg"], d


# ---- the job runner ----------------------------------------------------------------------------


def _long_train(seconds: float) -> dict[str, Any]:
    """A training estimated at about ``seconds`` (within the budget)."""
    steps = int(seconds / train_cost(100, 1))
    assert train_cost(100, steps) <= BUDGET_S
    return {"weights": [0.5] * 100, "steps": steps, "tolerance": 0, "learning_rate": 1e-9}


TINY_TRAIN = {"weights": [0.5, 0.5], "steps": 3}


def _wait_for(what: str, ready: Any) -> None:
    """Poll ``ready()`` until true; fail after HANG_S (the test would otherwise hang)."""
    deadline = time.monotonic() + HANG_S
    while not ready():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def _send_raw(server: Server, path: str, body: dict[str, Any]) -> socket.socket:
    """A request sent on a socket of its own, its answer never read (close it to leave)."""
    data = json.dumps(body).encode()
    sock = _raw(server.port)
    sock.sendall(
        b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\n\r\n%s" % (path.encode(), len(data), data)
    )
    return sock


@contextlib.contextmanager
def _full_compute_lane(server: Server) -> Iterator[None]:
    """The compute lane running a long training with three tiny ones queued behind it: as many
    as it holds (``JobLimits.max_queued``). Its clients leave on exit."""
    lane = server.lane("compute")
    started = lane.stats.started
    socks = [_send_raw(server, "/api/train", _long_train(5))]
    _wait_for("the training started", lambda: lane.stats.started > started)
    socks += [_send_raw(server, "/api/train", TINY_TRAIN) for _ in range(3)]
    _wait_for("the lane is full", lambda: lane.queued == lane.limits.max_queued)
    try:
        yield
    finally:
        for sock in socks:
            sock.close()
        _wait_for("the lane is empty", lambda: lane.queued == 0)


def test_a_job_over_its_wall_clock_limit_is_killed(tight_server: Server) -> None:
    server = tight_server
    lane = server.lane("compute")
    before, restarts = lane.stats.timed_out, lane.stats.restarts
    # the longest training the cost model accepts: 1 layer, about 13,000 steps (2.8-3.2 s in
    # three runs of benchmarks/web_limits.py, ten times the limit of this server)
    steps = max(n for n in range(1, LIMITS["steps"], 7) if train_cost(1, n) <= BUDGET_S)
    body = {"weights": [0.9], "steps": steps, "tolerance": 0, "learning_rate": 1e-12}
    status, data, _ = server.post("/api/train", body)
    assert status == 503 and f"{TIGHT_LIMIT_S:g} s wall-clock limit" in data["detail"]
    assert lane.stats.timed_out == before + 1  # killed, not finished late
    assert lane.stats.restarts == restarts + 1
    data = server.post_until_ok("/api/train", TINY_TRAIN)
    assert data["steps_taken"] == 3  # the replaced worker answers


def test_a_client_that_leaves_has_its_job_stopped_and_the_worker_stays(server: Server) -> None:
    """Cooperative cancellation: the job stops at its next checkpoint, no worker is killed."""
    lane = server.lane("compute")
    pid, restarts = lane.pid, lane.stats.restarts
    for _ in range(3):
        cancelled, started = lane.stats.cancelled, lane.stats.started
        sock = _send_raw(server, "/api/train", _long_train(4))
        _wait_for("the job started", lambda n=started: lane.stats.started > n)
        sock.close()
        _wait_for("the job was cancelled", lambda n=cancelled: lane.stats.cancelled > n)
    assert lane.pid == pid and lane.stats.restarts == restarts  # the same worker throughout
    assert lane.stats.stopped >= 3  # each at a checkpoint, not run to its end
    status, data, _ = server.post("/api/train", TINY_TRAIN)
    assert status == 200 and data["steps_taken"] == 3


def test_a_queued_job_whose_client_leaves_is_never_started(server: Server) -> None:
    lane = server.lane("compute")
    started, dropped = lane.stats.started, lane.stats.dropped
    first = _send_raw(server, "/api/train", _long_train(4))
    _wait_for("the first job started", lambda: lane.stats.started > started)
    queued = _send_raw(server, "/api/train", TINY_TRAIN)
    _wait_for("the second job is queued", lambda: lane.queued == 2)
    queued.close()
    _wait_for("the queued job was dropped", lambda: lane.stats.dropped > dropped)
    first.close()
    _wait_for("the lane is empty", lambda: lane.queued == 0)
    assert lane.stats.started == started + 1  # the dropped one never reached the worker


def test_a_full_queue_is_503_with_retry_after(server: Server) -> None:
    lane = server.lane("compute")
    with _full_compute_lane(server):
        done = lane.stats.done
        status, data, headers = server.post("/api/train", TINY_TRAIN)
        assert status == 503 and "busy" in data["detail"]
        assert int(headers["retry-after"]) >= 1
        assert lane.stats.done == done  # refused at once: nothing finished meanwhile


def test_a_request_that_could_not_be_answered_in_time_is_refused_at_once(
    server: Server,
) -> None:
    """Per request, not per job: the work ahead (5 + 4.5 s estimated) and this request's own
    (4.5 s) would pass the 10 s limit, so it is refused at once, not answered 14 s later."""
    lane = server.lane("compute")
    started, done = lane.stats.started, lane.stats.done
    socks = [_send_raw(server, "/api/train", _long_train(5))]
    try:
        _wait_for("the first job started", lambda: lane.stats.started > started)
        socks.append(_send_raw(server, "/api/train", _long_train(4.5)))  # 9.5 s: accepted
        _wait_for("the second job is queued", lambda: lane.queued == 2)
        status, data, headers = server.post("/api/train", _long_train(4.5))
        assert status == 503 and f"{TIME_LIMIT_S:g} s" in data["detail"], data
        assert 1 <= int(headers["retry-after"]) <= TIME_LIMIT_S
        assert lane.stats.done == done and lane.queued == 2  # refused before the first finished
    finally:
        for sock in reversed(socks):  # the queued one first
            sock.close()
        _wait_for("the lane is empty", lambda: lane.queued == 0)
    assert lane.stats.started == started + 1  # the second never started: its client left


def test_cheap_theory_and_formulas_are_answered_while_the_compute_lane_is_full(
    server: Server,
) -> None:
    with _full_compute_lane(server):
        status, data, _ = server.post("/api/theory", {"activation": "tanh", "depth": 20})
        assert status == 200 and data["depth"] == 20  # mean-field theory: not queued
        status, _, _ = server.post("/api/derive", {"depth": 3, "closed_form": False})
        assert status == 200  # formulas have their own lane
        status, _, headers = server.post("/api/theory", {"simulate": True, "depth": 2})
        assert status == 503 and "retry-after" in headers  # a simulation is heavy work


def test_montecarlo_time_is_measured_in_the_worker(server: Server) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
    conn.request(
        "POST",
        "/api/montecarlo",
        b'{"depth": 3, "samples": 1000}',
        {"content-type": "application/json"},
    )
    r = conn.getresponse()
    r.read()
    conn.close()
    timing = r.getheader("server-timing")
    assert r.status == 200 and timing is not None and timing.startswith("job;dur=")


# ---- Host header, timeouts, exposure -----------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("evil.example", 400),
        ("evil.example:8000", 400),
        ("127.0.0.1.evil.example", 400),
        ("localhost", 200),
        ("127.0.0.1:8000", 200),
        ("[::1]:8000", 200),
    ],
)
def test_host_header_must_name_loopback(server: Server, host: str, status: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.putrequest("GET", "/api/presets", skip_host=True)
    conn.putheader("Host", host)
    conn.endheaders()
    r = conn.getresponse()
    r.read()
    conn.close()
    assert r.status == status


@pytest.mark.parametrize(
    ("method", "path", "host", "status"),
    [
        ("GET", "/", "127.0.0.1", 200),
        ("GET", "/static/app.js", "127.0.0.1", 200),
        ("GET", "/api/presets", "127.0.0.1", 200),
        ("POST", "/api/trace", "127.0.0.1", 422),
        ("GET", "/no/such/page", "127.0.0.1", 404),
        ("GET", "/", "evil.example", 400),
    ],
)
def test_every_answer_carries_the_security_headers(
    server: Server, method: str, path: str, host: str, status: int
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=HANG_S)
    conn.putrequest(method, path, skip_host=True)
    conn.putheader("Host", host)
    conn.putheader("Content-Length", "0")
    conn.endheaders()
    r = conn.getresponse()
    r.read()
    conn.close()
    assert r.status == status
    assert r.getheader("x-content-type-options") == "nosniff"
    assert r.getheader("referrer-policy") == "no-referrer"
    csp = [d.strip() for d in r.getheader("content-security-policy", "").split(";")]
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    assert not any("unsafe" in d for d in csp)  # no inline script or style, no eval


def test_the_431_carries_the_security_headers(server: Server) -> None:
    sock = _raw(server.port)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: " + b"a" * 20000 + b"\r\n\r\n")
    status, headers = _head(sock)
    sock.close()
    assert status == 431 and headers["x-content-type-options"] == "nosniff"


def test_the_page_has_no_inline_script_or_style() -> None:
    """What the Content-Security-Policy refuses (the browser tests load the page under it)."""
    from importlib import resources

    static = resources.files("gradtrace.web") / "static"
    html = (static / "index.html").read_text()
    assert "<style" not in html and " style=" not in html
    assert re.findall(r"<script(?![^>]*\bsrc=)", html) == []  # only scripts from a file
    assert re.findall(r"\son[a-z]+=", html) == []  # no inline event handlers
    js = (static / "app.js").read_text()
    assert "style=" not in js  # markup built in the script carries no style attribute


def test_idle_keep_alive_connection_is_closed(server: Server) -> None:
    sock = _raw(server.port)
    sock.sendall(b"GET /api/presets HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert _closed_within(sock, HANG_S) is not None  # after its answer, once idle
    sock.close()


def _trickled_until_closed(sock: socket.socket, byte: bytes) -> bool:
    """Send ``byte`` every 0.2 s until the server closes ``sock`` (True), or HANG_S passes."""
    deadline = time.monotonic() + HANG_S
    while time.monotonic() < deadline:
        try:
            sock.sendall(byte)
        except OSError:
            return True
        if _closed_within(sock, 0.2) is not None:
            return True
    return False


@pytest.mark.parametrize(
    ("start", "byte"),
    [
        (b"", b""),  # silent
        (b"GET /api/presets HTTP/1.1\r\n", b"X"),  # a head, a byte at a time
        (  # a whole head, then its body a byte at a time
            b"POST /api/trace HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            b"content-length: 1000\r\n\r\n",
            b" ",
        ),
    ],
    ids=["silent", "slow-head", "slow-body"],
)
def test_silent_and_slow_connections_are_closed(server: Server, start: bytes, byte: bytes) -> None:
    """Trickled bytes do not keep a connection open past its deadlines (1 s for the head, 2 s
    for the whole request on this server)."""
    sock = _raw(server.port)
    sock.sendall(start)
    assert _trickled_until_closed(sock, byte)
    sock.close()


def test_idle_and_slow_connections_do_not_starve_a_request(server: Server) -> None:
    """200 connections that do no work (half silent, half with a head half-sent) hold no work
    slot: a request beside them is answered, not refused with 503."""
    socks = []
    try:
        for i in range(200):
            sock = _raw(server.port)
            if i % 2:
                sock.sendall(b"GET /api/presets HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            socks.append(sock)
        assert _get(server.port) == 200
        assert server.post("/api/trace", {"weights": [0.5, 0.5], "x": 1, "target": 1})[0] == 200
    finally:
        for sock in socks:
            sock.close()


def test_past_the_connection_cap_the_connection_idle_longest_is_closed() -> None:
    with _tiny_server(max_connections=10, head_timeout_s=HANG_S) as port:
        first = _raw(port)
        time.sleep(0.05)  # opened strictly before the others
        others = [_raw(port) for _ in range(9)]
        assert _get(port, "/") == 200  # the 11th connection made room: served
        assert _closed_within(first, HANG_S) is not None  # by closing the one idle longest
        for sock in [first, *others]:
            sock.close()


@pytest.mark.parametrize(("kb", "status"), [(15, 200), (17, 431), (100, 431)])
def test_a_request_head_over_16_kb_is_431(server: Server, kb: int, status: int) -> None:
    filler = b"X-Filler: " + b"a" * (kb * 1024 - 60) + b"\r\n"
    head = b"GET /api/presets HTTP/1.1\r\nHost: 127.0.0.1\r\n" + filler + b"\r\n"
    assert abs(len(head) - kb * 1024) < 100
    sock = _raw(server.port)
    sock.sendall(head)
    got, headers = _head(sock)
    sock.close()
    assert got == status
    if status == 431:
        assert headers["connection"] == "close"


def test_a_request_head_sent_in_pieces_is_431_past_16_kb(server: Server) -> None:
    sock = _raw(server.port)
    sock.sendall(b"GET /api/presets HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    try:
        for _ in range(20):  # 20 KB of one header, 1 KB at a time
            sock.sendall(b"X-Filler: " + b"a" * 1012 + b"\r\n")
            time.sleep(0.005)
    except OSError:  # the server closed it after its answer
        pass
    assert _head(sock)[0] == 431
    sock.close()


def test_a_413_closes_the_connection_without_reading_the_body(server: Server) -> None:
    sock = _raw(server.port)
    sock.sendall(
        b"POST /api/trace HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        b"content-length: 1000000000\r\n\r\n"
    )
    status, headers = _head(sock)
    assert status == 413 and headers["connection"] == "close"
    assert _closed_within(sock, HANG_S) is not None  # not kept open to read the 1 GB
    sock.close()


def test_a_413_for_a_chunked_body_closes_the_connection(server: Server) -> None:
    sock = _raw(server.port)
    sock.sendall(
        b"POST /api/trace HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        b"transfer-encoding: chunked\r\n\r\n"
    )
    chunk = b"%x\r\n%s\r\n" % (65536, b" " * 65536)
    try:
        for _ in range(5):  # 320 KB, over the 256 KB limit; the rest is never sent
            sock.sendall(chunk)
    except OSError:
        pass
    status, headers = _head(sock)
    assert status == 413 and headers["connection"] == "close"
    assert _closed_within(sock, HANG_S) is not None
    sock.close()


@pytest.mark.parametrize(
    ("host", "warned"),
    [
        ("127.0.0.1", False),
        ("localhost", False),
        ("::1", False),
        ("0.0.0.0", True),
        ("::", True),
        ("192.168.1.5", True),
    ],
)
def test_exposure_warning(host: str, warned: bool) -> None:
    w = exposure_warning(host)
    assert (w is not None) == warned
    if w:
        assert w.startswith(f"gradtrace: warning: listening on {host} ") and w.count("\n") == 1


def test_serve_prints_the_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    """``serve("0.0.0.0", ...)`` warns on stderr (bound on loopback here; nothing served)."""
    seen: dict[str, Any] = {}

    class Dummy:
        def run(self, sockets: list[socket.socket]) -> None:
            seen["sockets"] = sockets

    monkeypatch.setattr(web_server, "bind", lambda host, port: bind("127.0.0.1", 0))
    monkeypatch.setattr(web_server, "make_server", lambda app: Dummy())

    def create_app(allowed_hosts: list[str]) -> Any:
        seen["hosts"] = allowed_hosts
        jobs = types.SimpleNamespace(wait_ready=lambda: True)  # no workers to wait for
        return types.SimpleNamespace(state=types.SimpleNamespace(jobs=jobs))

    monkeypatch.setattr(web_server, "create_app", create_app)
    out, err = io.StringIO(), io.StringIO()
    web_server.serve("0.0.0.0", 0, out=out, err=err)
    seen["sockets"][0].close()
    assert err.getvalue() == exposure_warning("0.0.0.0")
    assert out.getvalue().startswith("gradtrace explorer at http://0.0.0.0:")
    assert {"localhost", "127.0.0.1", "[::1]"} <= set(seen["hosts"])


def test_a_job_over_the_memory_limit_is_503_and_the_worker_replaced() -> None:
    import asyncio

    import numpy as np

    from gradtrace.web.jobs import JobError, Lane

    lane = Lane("test", JobLimits(memory_headroom_mb=200))
    try:
        with pytest.raises(JobError, match="more memory than the worker's limit") as e:
            asyncio.run(lane.run(np.ones, 400 << 17))  # 400 MB of float64
        assert e.value.status == 503 and lane.stats.out_of_memory == 1
        assert asyncio.run(lane.run(np.ones, 10 << 17)).value.nbytes == 10 << 20  # replaced
    finally:
        lane.close()


def test_the_first_warm_up_is_not_a_requests_time() -> None:
    """A request that comes while the server starts waits for the lane's first worker, and
    its clock starts when the worker is ready (``serve`` itself waits before accepting)."""
    import asyncio

    from gradtrace.web.jobs import Lane

    lane = Lane("test", JobLimits(time_limit_s=0.05, memory_headroom_mb=None))
    try:
        assert asyncio.run(lane.run(abs, -3)).value == 3  # far longer than 0.05 s to start
        assert lane.stats.timed_out == 0
    finally:
        lane.close()
