"""The ``gradtrace`` command line (``main``: the console script; ``app``: the Typer app).

One module per command group (``exercise``, ``lab``, ``theory``, ``runs``, ``serve``), the
shared options (``options``) and printing (``output``), and ``main`` (the app, in order).
"""

from gradtrace.cli.main import app, main

__all__ = ["app", "main"]
