"""Headless Chromium for the browser tests: Debian's /usr/bin/chromium driven by Playwright.

``.ci/run`` installs the chromium package; Playwright's own browser download is not used.
"""

from __future__ import annotations

import shutil
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


def launch(pw: Any) -> Any:
    """A headless Chromium browser from a ``sync_playwright()`` context."""
    return pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)


def new_page(browser: Any, allowed: tuple[str, ...], width: int = 1400, height: int = 1000) -> Any:
    """A page that records console errors and page errors in ``page.errors``, and every request
    whose URL starts with none of ``allowed`` in ``page.outside``."""
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    outside: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: None if r.url.startswith(allowed) else outside.append(r.url))
    page.errors, page.outside = errors, outside
    return page
