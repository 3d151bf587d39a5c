"""Headless Chromium for the browser tests: Debian's /usr/bin/chromium driven by Playwright.

``.ci/run`` installs the chromium package; Playwright's own browser download is not used.
"""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
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

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
"""axe-core, vendored from npm (MPL-2.0)."""

CSP = "default-src 'self'; frame-ancestors 'none'"
"""A strict Content-Security-Policy: no inline script or style, no data: URL; the page must work
under it (the server sends one like it)."""

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


@contextmanager
def explorer_server() -> Iterator[str]:
    """``gradtrace serve``'s app on a free loopback port, in a thread; yields its base URL."""
    import uvicorn

    from gradtrace.web.app import create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # TCP_NODELAY
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(), log_level="warning"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(10)


def open_with_csp(browser: Any, server: str, fragment: str, width: int) -> Any:
    """The explorer at ``fragment`` (``#explore``, ``#lesson-2``, ...), its page served with
    ``CSP``, once it shows its first trace. Violations land in ``page.errors`` (Chromium logs
    them) and in ``window.cspViolations``. (Playwright evaluates ``wait_for_function``'s
    expressions with ``eval``, which the CSP refuses: pass arrow functions.)"""
    page = new_page(browser, (server, "data:"), width=width, height=900)

    def with_csp(route: Any) -> None:
        response = route.fetch()
        route.fulfill(
            response=response, headers={**response.headers, "content-security-policy": CSP}
        )

    page.route(server + "/", with_csp)
    page.add_init_script(
        "window.cspViolations = []; document.addEventListener('securitypolicyviolation',"
        " e => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    page.goto(server + "/" + fragment)
    page.wait_for_function("() => window.gradtraceUpdates >= 1")
    return page


# what the page must hold at every width: chart text at 11 px or more (font size times the
# chart's scale), chart text 4.5:1 on white, data marks 3:1, the strip's numbers 4.5:1 on their
# cell, no chart text outside its chart, no sideways page overflow
READING = """() => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).slice(0, 3).map(Number);
  const lum = ([r, g, b]) => 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  const lin = c => (c /= 255) <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  const ratio = (a, b) => { const [x, y] = [lum(rgb(a)), lum(rgb(b))].sort((p, q) => q - p);
                            return (x + 0.05) / (y + 0.05); };
  const shown = e => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden';
  const out = {small: [], faint: [], faintMarks: [], outside: [], strip: [], texts: 0};
  for (const t of document.querySelectorAll('svg text')) {
    if (!shown(t) || !t.textContent.trim()) continue;
    out.texts++;
    const m = t.getScreenCTM(), px = parseFloat(getComputedStyle(t).fontSize) * Math.hypot(m.a, m.b);
    if (px < 11 - 1e-6) out.small.push(`${t.textContent} ${px.toFixed(1)}px`);
    // on the white panel, except the halo labels drawn over the phase diagram's colours
    if (!t.classList.contains('halo') && ratio(getComputedStyle(t).fill, 'rgb(255,255,255)') < 4.5)
      out.faint.push(`${t.textContent} ${getComputedStyle(t).fill}`);
    const b = t.getBoundingClientRect(), s = t.ownerSVGElement.getBoundingClientRect();
    if (b.left < s.left - 1 || b.right > s.right + 1 || b.top < s.top - 1 || b.bottom > s.bottom + 1)
      out.outside.push(t.textContent);
  }
  // data marks against white: 3:1 (WCAG 1.4.11, non-text contrast)
  const marks = 'svg rect[data-layer], svg path.curve, svg circle.zmark, svg path.predicted,' +
    ' svg path.predicted-layerwise, svg circle.simulated';
  for (const e of document.querySelectorAll(marks)) {
    if (!shown(e)) continue;
    const st = getComputedStyle(e), c = st.fill !== 'none' ? st.fill : st.stroke;
    if (ratio(c, 'rgb(255,255,255)') < 3) out.faintMarks.push(`${e.tagName}.${e.className.baseVal} ${c}`);
  }
  for (const c of document.querySelectorAll('#strip [role=option]')) {
    if (!c.textContent || !shown(c)) continue;
    const st = getComputedStyle(c), r = ratio(st.color, st.backgroundColor);
    if (r < 4.5) out.strip.push(`${c.textContent}: ${r.toFixed(2)}`);
  }
  out.stripCells = document.querySelectorAll('#strip [role=option]').length;
  out.overflow = document.documentElement.scrollWidth - window.innerWidth;
  return out;
}"""


def check_reading(page: Any, where: str, charts: bool = True) -> None:
    """``READING`` finds nothing wrong on ``page`` (``charts``: some chart text is shown)."""
    got = page.evaluate(READING)
    assert (got["texts"] > 0) == charts, where
    for key in ("small", "faint", "faintMarks", "outside", "strip"):
        assert got[key] == [], (where, key, got[key])
    assert got["overflow"] <= 0, (where, got["overflow"])


def axe_violations(page: Any) -> list[str]:
    """axe-core's WCAG 2 A and AA violations on ``page``, one line each."""
    page.evaluate(AXE.read_text() + "\n;0")  # (not a <script> tag: the CSP would refuse it)
    return page.evaluate(
        """async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa']})).violations
             .map(v => `${v.id}: ${v.nodes.map(n => n.target.join(' ')).join(', ')}`)"""
    )


def save_small(png: bytes, path: Path, colors: int = 128) -> None:
    """A screenshot for docs/images: 128 colours where Pillow is installed (a third the size)."""
    try:
        from PIL import Image
    except ImportError:
        path.write_bytes(png)
        return
    import io

    im = Image.open(io.BytesIO(png)).convert("RGB")
    im.quantize(colors=colors, dither=Image.Dither.NONE).save(path, optimize=True)
