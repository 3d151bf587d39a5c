"""Headless Chromium for the browser tests: Debian's /usr/bin/chromium driven by Playwright.

``.ci/run`` installs the chromium package; Playwright's own browser download is not used.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

requires_chromium = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None, reason="Debian's chromium not installed (.ci/run installs it)"
)


_FUNCTION = re.compile(r"\s*(async\s+)?(function\b|\([^)]*\)\s*=>|[\w$]+\s*=>)")


def _as_function(expression: str) -> str:
    """A bare expression as an arrow function. Playwright's ``wait_for_function`` evaluates a
    bare expression with ``eval`` at each poll, which the explorer's Content-Security-Policy
    (no ``'unsafe-eval'``) refuses; a function it compiles once, through the DevTools protocol."""
    return expression if _FUNCTION.match(expression) else f"() => ({expression})"


def launch(pw: Any) -> Any:
    """A headless Chromium browser from a ``sync_playwright()`` context."""
    return pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)


def new_page(browser: Any, allowed: tuple[str, ...], width: int = 1400, height: int = 1000) -> Any:
    """A page that records console errors and page errors in ``page.errors``, and every request
    whose URL starts with none of ``allowed`` in ``page.outside``. Under a strict
    Content-Security-Policy too: its ``wait_for_function`` takes a bare expression, and its
    ``add_script_tag(path=...)`` runs the file through the DevTools protocol (an inline
    ``<script>``, which is how Playwright adds one, is refused)."""
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    outside: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: None if r.url.startswith(allowed) else outside.append(r.url))
    page.errors, page.outside = errors, outside
    wait = page.wait_for_function
    page.wait_for_function = lambda expression, *a, **kw: wait(_as_function(expression), *a, **kw)
    page.add_script_tag = lambda *, path: page.evaluate(Path(path).read_text())
    return page
