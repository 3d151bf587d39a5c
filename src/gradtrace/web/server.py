"""``gradtrace serve``: the explorer on a socket, with the defences a server left running needs.

* The socket is bound here (``IPPROTO_TCP``, so accepted connections get ``TCP_NODELAY``); a
  busy port is one ``SpecError`` line.
* Requests must name a loopback host (``localhost``, ``127.0.0.1``, ``[::1]``) or the bound one
  in ``Host`` (DNS rebinding: a page on ``evil.example`` resolving to 127.0.0.1 gets 400).
* Binding beyond loopback prints a one-line warning on stderr.
* Idle keep-alive connections close after ``KEEP_ALIVE_S``; a connection must deliver its whole
  request (head and body) within ``REQUEST_TIMEOUT_S`` of its first byte, or of opening: uvicorn's
  h11 protocol has no such timeout, so slow-header ("slowloris") connections stayed open for
  ever. At most ``LIMIT_CONCURRENCY`` connections are served at once (then 503).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import sys
from typing import IO, Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from gradtrace.core.errors import SpecError
from gradtrace.web.app import LOOPBACK_HOSTS, create_app

__all__ = [
    "KEEP_ALIVE_S",
    "LIMIT_CONCURRENCY",
    "REQUEST_TIMEOUT_S",
    "allowed_hosts_for",
    "bind",
    "exposure_warning",
    "make_server",
    "serve",
]

KEEP_ALIVE_S = 5.0
"""Seconds an idle keep-alive connection stays open after its last response."""
REQUEST_TIMEOUT_S = 10.0
"""Seconds a connection has to send a whole request, from its first byte (or from opening)."""
LIMIT_CONCURRENCY = 64
"""Connections (and requests) served at once; beyond that uvicorn answers 503."""


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


class RequestTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol, plus a deadline for receiving each request whole.

    The clock starts when the connection opens, and again with the first byte of each later
    request; it stops once the request (head and body) is in. Trickling bytes do not reset it.
    """

    request_timeout_s = REQUEST_TIMEOUT_S

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._request_timer: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._arm_request_timer()

    def _arm_request_timer(self) -> None:
        if self._request_timer is None:
            self._request_timer = self.loop.call_later(
                self.request_timeout_s, self._request_timed_out
            )

    def _disarm_request_timer(self) -> None:
        if self._request_timer is not None:
            self._request_timer.cancel()
            self._request_timer = None

    def _request_timed_out(self) -> None:
        self._request_timer = None
        if self.conn.their_state in (h11.IDLE, h11.SEND_BODY) and not self.transport.is_closing():
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE:
            self._arm_request_timer()  # no-op while the clock already runs
        super().data_received(data)
        if self.conn.their_state not in (h11.IDLE, h11.SEND_BODY):
            self._disarm_request_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_request_timer()
        super().connection_lost(exc)


def make_server(
    app: Any,
    *,
    keep_alive_s: float = KEEP_ALIVE_S,
    request_timeout_s: float = REQUEST_TIMEOUT_S,
    limit_concurrency: int = LIMIT_CONCURRENCY,
) -> Any:
    """A ``uvicorn.Server`` for ``app`` with these timeouts (run it with ``sockets=[sock]``)."""
    import uvicorn

    protocol = type(
        "RequestTimeoutProtocol",
        (RequestTimeoutProtocol,),
        {"request_timeout_s": request_timeout_s},
    )
    config = uvicorn.Config(
        app,
        http=protocol,
        log_level="warning",
        timeout_keep_alive=keep_alive_s,  # type: ignore[arg-type]  # a float works (call_later)
        limit_concurrency=limit_concurrency,
        h11_max_incomplete_event_size=16 * 1024,  # a request head over 16 KB: 400
    )
    return uvicorn.Server(config)


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
    make_server(app).run(sockets=[sock])
