"""``gradtrace serve``: the explorer page and its JSON API."""

from __future__ import annotations

from typing import Annotated

from gradtrace.cli.options import option, whole
from gradtrace.core.errors import SpecError
from gradtrace.service.defaults import SERVE

__all__ = ["serve"]


def serve(
    host: Annotated[str, option(SERVE.host, metavar="HOST")] = SERVE.host.default,
    port: Annotated[int, option(SERVE.port, parser=whole)] = SERVE.port.default,
) -> None:
    """Start the explorer page and its JSON API.

    Needs the web extra: pip install gradtrace[web].
    """
    lo, hi = int(SERVE.port.ge or 0), int(SERVE.port.le or 0)
    if not lo <= port <= hi:
        raise SpecError(f"--port must be between {lo} and {hi}, got {port}", field="port")
    try:
        from gradtrace.web.server import serve as serve_explorer
    except ImportError as e:
        raise SpecError(
            f"serve needs the web extra ({e.name} is missing): pip install 'gradtrace[web]'"
        ) from None
    serve_explorer(host, port)
