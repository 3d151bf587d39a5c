"""``gradtrace serve``: the explorer on a socket, with the defences a server left running needs.

* The socket is bound here (``IPPROTO_TCP``, so accepted connections get ``TCP_NODELAY``); a
  busy port is one ``SpecError`` line.
* Requests must name a loopback host (``localhost``, ``127.0.0.1``, ``[::1]``) or the bound one
  in ``Host`` (DNS rebinding: a page on ``evil.example`` resolving to 127.0.0.1 gets 400).
* Binding beyond loopback prints a one-line warning on stderr.
* Connections that do no work cost no work: the limits are on the work (the job lanes' queues
  and deadlines, ``jobs.py``; the thread pool for ``/api/trace``), not on sockets. uvicorn's
  ``limit_concurrency`` counted every open connection, idle ones included, so 64 idle sockets
  made every other client get 503. Here an idle or half-sent connection is only closed:
  idle keep-alive connections after ``KEEP_ALIVE_S``; a request head must arrive whole within
  ``HEAD_TIMEOUT_S`` and the whole request within ``REQUEST_TIMEOUT_S`` of its first byte (or of
  the connection's opening); and past ``MAX_CONNECTIONS`` open connections, the one idle for
  longest makes room for a new one. uvicorn's h11 protocol has none of these.
* A request head over ``MAX_HEAD_BYTES`` gets 431 (h11's own limit applies only to a head that
  arrives in pieces, and answers 400).
* A response sent before its request's body was read (a 413, say) says ``Connection: close``,
  and the connection is closed after it: uvicorn would otherwise read the whole declared body to
  keep the connection alive.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
import resource
import socket
import sys
import time
from typing import IO, Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from gradtrace.core.errors import SpecError
from gradtrace.web.app import LOOPBACK_HOSTS, create_app
from gradtrace.web.headers import SECURITY_HEADERS

__all__ = [
    "HEAD_TIMEOUT_S",
    "KEEP_ALIVE_S",
    "MAX_CONNECTIONS",
    "MAX_HEAD_BYTES",
    "REQUEST_TIMEOUT_S",
    "allowed_hosts_for",
    "bind",
    "exposure_warning",
    "make_server",
    "serve",
]

KEEP_ALIVE_S = 5.0
"""Seconds an idle keep-alive connection stays open after its last response."""
HEAD_TIMEOUT_S = 5.0
"""Seconds a connection has to send a request head, from its first byte (or from opening)."""
REQUEST_TIMEOUT_S = 10.0
"""Seconds a connection has to send a whole request (head and body), from its first byte."""
MAX_HEAD_BYTES = 16 * 1024
"""Longest request head (request line and header lines); a longer one gets 431."""
MAX_CONNECTIONS = 1000
"""Open connections; one more closes the connection idle for longest (below the usual limit
of 1,024 open files, which ``serve`` raises where it can)."""


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server to this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a name: it may resolve to anything
        return False


def exposure_warning(host: str) -> str | None:
    """The one-line warning for a bind beyond loopback, or None."""
    if is_loopback(host):
        return None
    where = "every network interface" if host in ("0.0.0.0", "::", "") else "the network"
    return (
        f"gradtrace: warning: listening on {host} ({where}): anyone who can reach this machine "
        "can use the explorer and its CPU; the default, 127.0.0.1, keeps it to this machine\n"
    )


def allowed_hosts_for(host: str) -> list[str]:
    """``Host`` names to accept when bound to ``host``: loopback, and the bound name or address
    (for a wildcard bind, this machine's host name)."""
    hosts = list(LOOPBACK_HOSTS)
    if host in ("0.0.0.0", "::", ""):
        hosts.append(socket.gethostname().lower())
    elif not is_loopback(host):
        hosts.append(f"[{host}]" if ":" in host else host.lower())
    return hosts


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``; a busy or bad address is a one-line SpecError."""
    sock: socket.socket | None = None
    try:  # bind first, so a busy port is one clear line, not a traceback
        # proto IPPROTO_TCP, so asyncio sets TCP_NODELAY on accepted connections (with proto 0
        # it does not, and each response waits 40 ms for the client's delayed ACK)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)  # connections queue from here on, before uvicorn has started
    except (OSError, OverflowError) as e:
        if sock is not None:
            sock.close()
        raise SpecError(
            f"cannot listen on {host}:{port}: {getattr(e, 'strerror', None) or e}"
        ) from None
    return sock


_HEAD_END = re.compile(b"\n\r?\n")  # h11's end of a head (blank_line_regex)


class GuardedProtocol(H11Protocol):
    """uvicorn's h11 protocol, with deadlines for receiving each request, a head size limit, and
    a connection cap that closes idle connections first.

    The clock starts when the connection opens, and again with the first byte of each later
    request: the head must be in within ``head_timeout_s``, the whole request within
    ``request_timeout_s``; trickling bytes do not reset it. Once the request is in, the clock
    stops (the work has its own limits).
    """

    head_timeout_s = HEAD_TIMEOUT_S
    request_timeout_s = REQUEST_TIMEOUT_S
    max_head_bytes = MAX_HEAD_BYTES
    max_connections = MAX_CONNECTIONS

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._timer: asyncio.TimerHandle | None = None
        self.idle_since = time.monotonic()  # for the connection cap: idle longest goes first
        super().connection_made(transport)
        self._request_start = self.loop.time()
        self._arm(self._request_start + self.head_timeout_s)
        if len(self.connections) > self.max_connections:
            self._make_room()

    # deadlines for receiving a request (in the loop's clock)

    def _arm(self, when: float) -> None:
        if self._timer is None or self._timer.when() != when:
            self._disarm()
            self._timer = self.loop.call_at(when, self._timed_out)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timed_out(self) -> None:
        self._timer = None
        if self.receiving and not self.transport.is_closing():
            self.transport.close()

    @property
    def receiving(self) -> bool:
        """Whether the connection is idle or still sending its request (doing no work)."""
        return self.conn.their_state in (h11.IDLE, h11.SEND_BODY)

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE and self._timer is None:  # a new request's first byte
            self._request_start = self.loop.time()
        super().data_received(data)
        state = self.conn.their_state
        if state is h11.IDLE:  # the head is still coming (a request that came whole sets none)
            self._arm(self._request_start + self.head_timeout_s)
        elif state is h11.SEND_BODY:  # the head is in; the body is still coming
            self._arm(self._request_start + self.request_timeout_s)
        else:
            self._disarm()

    # the head size limit

    def handle_events(self) -> None:
        if self.conn.their_state is h11.IDLE:  # a head is (being) received: how long is it?
            buffered = self.conn.trailing_data[0]
            end = _HEAD_END.search(buffered)
            if (end.end() if end else len(buffered)) > self.max_head_bytes:
                self._refuse_head()
                return
        super().handle_events()

    def _refuse_head(self) -> None:
        body = json.dumps({"detail": f"request head over {self.max_head_bytes} bytes"}).encode()
        headers = b"".join(b"%s: %s\r\n" % h for h in SECURITY_HEADERS)
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: application/json\r\nconnection: close\r\n%s"
            b"content-length: %d\r\n\r\n%s" % (headers, len(body), body)
        )
        self.transport.close()

    # the connection cap

    def _make_room(self) -> None:
        """Close the connection idle for longest (this one if every other is working)."""
        idle = [c for c in self.connections if isinstance(c, GuardedProtocol) and c.receiving]
        oldest = min(idle, key=lambda c: c.idle_since, default=self)
        if not oldest.transport.is_closing():
            oldest.transport.close()

    def on_response_complete(self) -> None:
        self.idle_since = time.monotonic()
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


class CloseUnreadBody:
    """ASGI wrapper: a response that starts before its request's body was read whole says
    ``Connection: close`` (uvicorn then closes the connection after it, instead of reading and
    discarding the rest of the body to keep the connection)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        unread = headers.get(b"content-length", b"0") != b"0" or b"transfer-encoding" in headers

        async def receive_body() -> Any:
            nonlocal unread
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                unread = False
            return message

        async def send_response(message: Any) -> None:
            if message["type"] == "http.response.start" and unread:
                message = {**message, "headers": [*message.get("headers", []), _CLOSE]}
            await send(message)

        await self.app(scope, receive_body, send_response)


_CLOSE = (b"connection", b"close")


def make_server(
    app: Any,
    *,
    keep_alive_s: float = KEEP_ALIVE_S,
    head_timeout_s: float = HEAD_TIMEOUT_S,
    request_timeout_s: float = REQUEST_TIMEOUT_S,
    max_connections: int = MAX_CONNECTIONS,
) -> Any:
    """A ``uvicorn.Server`` for ``app`` with these limits (run it with ``sockets=[sock]``)."""
    import uvicorn

    protocol = type(
        "GuardedProtocol",
        (GuardedProtocol,),
        {
            "head_timeout_s": head_timeout_s,
            "request_timeout_s": request_timeout_s,
            "max_connections": max_connections,
        },
    )
    config = uvicorn.Config(
        CloseUnreadBody(app),
        http=protocol,
        log_level="warning",
        timeout_keep_alive=keep_alive_s,  # type: ignore[arg-type]  # a float works (call_later)
        # no limit_concurrency: it counts idle connections (see the module's docstring)
        h11_max_incomplete_event_size=2 * MAX_HEAD_BYTES,  # a backstop: 431 comes first
    )
    return uvicorn.Server(config)


def _raise_open_files_limit(wanted: int) -> None:
    """Raise the soft limit on open files to ``wanted`` where the hard limit allows, so that
    accepting connections never fails for want of descriptors before the cap closes one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def serve(
    host: str,
    port: int,
    *,
    out: IO[str] = sys.stdout,
    err: IO[str] = sys.stderr,
    allowed_hosts: list[str] | None = None,
) -> None:
    """Serve the explorer on ``host:port`` until interrupted (``gradtrace serve``)."""
    if not 0 <= port <= 65535:
        raise SpecError(f"--port must be between 0 and 65535, got {port}")
    sock = bind(host, port)
    warning = exposure_warning(host)
    if warning:
        err.write(warning)
        err.flush()
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    out.write(
        f"gradtrace explorer at http://{shown}:{bound}/ (API schema at /openapi.json; Ctrl+C stops)\n"
    )
    out.flush()
    app = create_app(allowed_hosts=allowed_hosts or allowed_hosts_for(host))
    _raise_open_files_limit(MAX_CONNECTIONS + 128)  # the workers' pipes, the static files
    # the workers warm up (seconds) before the first request is accepted: meanwhile requests
    # wait in the socket's backlog, and none has its 10 s deadline running against a warm-up
    app.state.jobs.wait_ready()
    make_server(app).run(sockets=[sock])
