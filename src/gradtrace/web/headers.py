"""Security headers on every response of the explorer: a plain ASGI middleware.

* ``Content-Security-Policy``: nothing loads but from the server itself (``default-src
  'none'``, then ``'self'`` for scripts, styles, images and ``fetch``; ``data:`` images for the
  favicon and the heat maps drawn on a canvas); no inline script or style, so a value that
  reached the page as markup could not run; no framing (``frame-ancestors 'none'``:
  clickjacking), no ``<base>``, no form posts.
* ``X-Content-Type-Options: nosniff``: a browser takes each response for what its
  ``Content-Type`` says (a JSON answer is never run as a script).
* ``Referrer-Policy: no-referrer``: the explorer's URLs are not sent to other sites.

A response that sets one of these itself keeps its own.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CONTENT_SECURITY_POLICY", "SECURITY_HEADERS", "SecurityHeaders"]

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]
"""The headers added to every response, as ASGI (name, value) pairs."""


class SecurityHeaders:
    """Adds ``SECURITY_HEADERS`` to every HTTP response of ``app``."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(n, v) for n, v in SECURITY_HEADERS if n not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
