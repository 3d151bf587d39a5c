"""The explorer's application: the page, its assets and the JSON API (``routes.py``), wired
with its limits.

Safety: every number must be finite and every size is bounded (``schemas.py``), a slow request
whose estimated cost is over its budget is refused with a 422 naming the cost (``cost.py``),
request bodies over ``MAX_BODY_BYTES`` are refused with 413, bad values (and malformed or too
deeply nested JSON) give 422 with the field named, ``Host`` must name a loopback host or the
bound one (400 otherwise), nothing reads or writes files except the package's own static
folder, and requests share no mutable state (the only caches hold symbolic derivations, their
MathML and phase diagrams, which are immutable). Long requests run in worker processes
(``jobs.py``), with a wall-clock limit and a bounded queue, and are cancelled when their client
leaves.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

import gradtrace
from gradtrace.core.errors import SpecError
from gradtrace.web.cost import LIMITS, TIME_LIMIT_S
from gradtrace.web.headers import SecurityHeaders
from gradtrace.web.jobs import JobCancelled, JobError, JobLimits, JobRunner
from gradtrace.web.routes import router, warm_compute, warm_derive

__all__ = ["LIMITS", "LOOPBACK_HOSTS", "MAX_BODY_BYTES", "create_app"]

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]", "::1")
"""``Host`` names always answered (any other gets 400: DNS rebinding)."""

MAX_BODY_BYTES = 256 * 1024
"""Larger request bodies are refused (413) before they are read whole."""

# ASGI's scope and messages: dicts whose values vary with their type (arbitrary: Any)
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _unprocessable(message: str, field: str, where: str = "body") -> JSONResponse:
    """422 in FastAPI's own error shape, the field named in ``loc`` and in the message."""
    loc = [where] if field == where else [where, field]
    return JSONResponse(
        status_code=422,
        content={"detail": [{"loc": loc, "msg": message, "type": "value_error"}]},
    )


class _BodyLimit:
    """Refuses request bodies over ``MAX_BODY_BYTES`` with 413, before they are read whole: by
    ``content-length``, or (without one) counted as the body streams in, then replayed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            detail = f"request body over {MAX_BODY_BYTES} bytes: {length}"
            await JSONResponse(status_code=413, content={"detail": detail})(scope, receive, send)
            return
        if length is None and scope["method"] in ("POST", "PUT", "PATCH"):
            body, more = b"", True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                body += message.get("body", b"")
                more = message.get("more_body", False)
                if len(body) > MAX_BODY_BYTES:
                    detail = f"request body over {MAX_BODY_BYTES} bytes"
                    response = JSONResponse(status_code=413, content={"detail": detail})
                    await response(scope, receive, send)
                    return
            replayed = False
            upstream = receive

            async def receive() -> Message:  # the body once, then the server's own messages
                nonlocal replayed
                if replayed:
                    return await upstream()
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, receive, send)


def _add_error_handlers(app: FastAPI) -> None:
    """Every refusal in one shape: ``{"detail": [{"loc", "msg", "type"}]}`` for a 422, the
    message naming the field; ``{"detail": reason}`` otherwise."""

    @app.exception_handler(SpecError)
    async def _spec_error(request: Request, exc: SpecError) -> JSONResponse:
        return _unprocessable(str(exc), exc.field or "body")

    @app.exception_handler(JobCancelled)
    async def _job_cancelled(request: Request, exc: JobCancelled) -> JSONResponse:
        # nobody reads this answer (499: nginx's "client closed request")
        return JSONResponse(status_code=499, content={"detail": "client left"})

    @app.exception_handler(JobError)
    async def _job_error(request: Request, exc: JobError) -> JSONResponse:
        return JSONResponse(
            status_code=exc.status, content={"detail": str(exc)}, headers=exc.headers
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # FastAPI answers 400 for a body json.loads cannot parse at all (nested too deeply for
        # its recursion limit): the body is a bad value like any other, so 422 naming it
        if exc.status_code == 400 and request.url.path.startswith("/api/"):
            return _unprocessable("body: not valid JSON (malformed or nested too deeply)", "body")
        return JSONResponse(
            status_code=exc.status_code, content={"detail": exc.detail}, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for e in exc.errors():
            loc = [str(p) for p in e.get("loc", ())]
            if e.get("type") == "json_invalid":  # loc: body, the character where parsing failed
                msg = f"body: malformed JSON at character {loc[1] if len(loc) > 1 else 0}"
                errors.append({"loc": ["body"], "msg": msg, "type": "json_invalid"})
                continue
            field = ".".join(p for p in loc[1:]) or "body"
            errors.append(
                {"loc": loc, "msg": f"{field}: {e.get('msg', 'invalid')}", "type": e.get("type")}
            )
        return JSONResponse(status_code=422, content={"detail": errors})


def create_app(
    allowed_hosts: Sequence[str] | None = None, job_limits: JobLimits | None = None
) -> FastAPI:
    """The explorer: the page at ``/``, its assets at ``/static``, the API under ``/api``.

    ``allowed_hosts``: the ``Host`` names answered (default: the loopback names; others get
    400). ``job_limits``: the slow jobs' wall-clock limit, memory limit and queue bound.
    """
    jobs = JobRunner(
        job_limits or JobLimits(time_limit_s=TIME_LIMIT_S),
        warm={"derive": warm_derive, "compute": warm_compute},
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        jobs.close()

    app = FastAPI(
        lifespan=lifespan,
        title="gradtrace explorer",
        version=gradtrace.__version__,
        description="The gradtrace engine over HTTP: exact gradients of sigmoid chains and more.",
        docs_url=None,  # Swagger UI and ReDoc load scripts from a CDN; the schema is enough
        redoc_url=None,
    )
    app.state.jobs = jobs  # the routes run their jobs here; tests read its lanes' counters
    static = resources.files("gradtrace.web") / "static"

    # a plain ASGI middleware (not @app.middleware): the endpoint's receive stays the server's,
    # so a job sees its client leave (request.is_disconnected) and is cancelled
    app.add_middleware(_BodyLimit)
    # then: a request naming another host is refused before anything else runs
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts or LOOPBACK_HOSTS))
    app.add_middleware(SecurityHeaders)  # outermost: on every answer, the host check's 400 too
    _add_error_handlers(app)

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(str(static / "index.html"))

    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    app.include_router(router)
    return app
