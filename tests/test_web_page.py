"""The explorer page in headless Chromium: the preset of part (d), a moved weight, and the
displayed gradients against the engine's; no console errors, no request leaving the server."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

import uvicorn

from browser import launch, new_page, requires_chromium
from gradtrace import Network, backprop, get_preset
from gradtrace.web.api import create_app

SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "explorer.png"


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
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
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


@pytest.fixture
def page(server: str) -> Iterator[object]:
    """The explorer, loaded and showing its first trace, in headless Chromium."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = launch(pw)
        pg = new_page(browser, (server, "data:"))
        pg.goto(server + "/")
        pg.wait_for_function("window.gradtraceUpdates >= 1")
        yield pg
        browser.close()


def _shown(page, field: str) -> list[tuple[float, str]]:  # type: ignore[no-untyped-def]
    return page.eval_on_selector_all(
        f"#backward td[data-field={field}]",
        "cs => cs.map(c => [Number(c.dataset.value), c.textContent])",
    )


@requires_chromium
def test_part_d_preset_then_a_moved_weight(page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    errors, outside = page.errors, page.outside
    assert page.title() == "gradtrace explorer"

    # part (d) in one click: the regression chain with target 128
    n = page.evaluate("window.gradtraceUpdates")
    page.click("#preset-d")
    page.wait_for_function(f"window.gradtraceUpdates > {n}")
    d = get_preset("exercise-regression")
    want = backprop(d.network, d.x, d.target).grad_weight
    shown = _shown(page, "grad_weight")
    assert [v for v, _ in shown] == [float(g) for g in want]  # the engine's float64, exactly
    for (_, text), g in zip(shown, want, strict=True):
        assert float(text) == pytest.approx(float(g), rel=1e-5)  # and as displayed
    assert [round(v, 4) for v, _ in shown] == [0.8562, -26.8184, -123.8373]

    # move w2: type a new value; the page re-renders from the API
    n = page.evaluate("window.gradtraceUpdates")
    page.fill("#w-2", "-0.5")
    page.wait_for_function(f"window.gradtraceUpdates > {n}")
    w = np.array([float(v) for v in d.network.weights])
    w[1] = -0.5
    want = backprop(Network.chain(w, output_activation="identity", loss="l2"), d.x, d.target)
    assert [v for v, _ in _shown(page, "grad_weight")] == [float(g) for g in want.grad_weight]
    assert [v for v, _ in _shown(page, "delta")] == [float(g) for g in want.delta]
    assert float(page.get_attribute("[data-field=loss]", "data-value")) == float(want.loss)

    # the slider path too, and the time from the edit to the re-rendered page
    times = []
    for value in ("0.1", "0.2", "0.3", "0.4", "0.5"):
        n = page.evaluate("window.gradtraceUpdates")
        page.fill("#w-1", value)
        page.wait_for_function(f"window.gradtraceUpdates > {n}")
        times.append(page.evaluate("window.gradtraceLastUpdateMs"))
    assert float(page.input_value("#w-range-1")) == 0.5
    print(f"edit-to-render ms: {times}")  # the figure in docs/benchmarks.md comes from here

    # the other panels draw from the API: formulas as MathML, bars, the curve's marks
    page.wait_for_selector("#formulas math")
    assert page.locator("#formulas math").count() == 3
    assert page.locator("#bars rect").count() == 3
    assert page.locator("#curve circle").count() == 2  # hidden layers; the output is identity

    assert errors == []
    shot = tmp_path / "explorer.png"
    page.screenshot(path=str(shot), full_page=False)
    if os.environ.get("GRADTRACE_UPDATE_SCREENSHOT"):  # the README's picture
        page.screenshot(path=str(SCREENSHOT), full_page=False)

    # a bad value names itself and leaves the last good numbers on the page
    page.fill("#target", "")
    page.fill("#x", "1e999")
    page.select_option("#output_activation", "tanh")
    page.select_option("#loss", "bce")
    page.wait_for_selector("#error:not([hidden])")
    assert "loss 'bce' needs output activation 'sigmoid'" in page.inner_text("#error")

    # the only console line: Chromium logging the 422 answer to the bad request itself
    assert errors and all("status of 422" in e for e in errors) and outside == []
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@requires_chromium
def test_montecarlo_and_training_panels(page) -> None:  # type: ignore[no-untyped-def]
    errors, outside = page.errors, page.outside
    page.select_option("#mc-samples", "10000")
    page.click("#mc-run")
    page.wait_for_selector("#mc-table tbody tr")
    assert page.locator("#mc-table tbody tr").count() == 3
    assert page.locator("#mc-plot rect").count() == 3
    # the time shown is the worker's (Server-Timing), not the request's
    assert re.fullmatch(r"10,000 samples in \d+\.\d\d s", page.inner_text("#mc-status"))

    page.click("#preset-d")
    page.fill("#tr-lr", "5")
    page.fill("#tr-steps", "100")
    page.click("#tr-run")
    page.wait_for_selector("#tr-message b")
    assert page.inner_text("#tr-message b") == "diverged"
    page.fill("#tr-lr", "0.1")
    page.fill("#tr-scale", "128")
    page.click("#tr-run")
    page.wait_for_function("document.querySelector('#tr-message').textContent.includes('/ 128')")
    assert page.inner_text("#tr-message b") == "converged"
    assert errors == [] and outside == []


@requires_chromium
def test_biases_on_the_page(page) -> None:  # type: ignore[no-untyped-def]
    errors, outside = page.errors, page.outside
    n = page.evaluate("window.gradtraceUpdates")
    page.check("#biases")
    page.wait_for_function(f"window.gradtraceUpdates > {n}")
    n = page.evaluate("window.gradtraceUpdates")
    page.fill("#b-2", "0.3")
    page.wait_for_function(f"window.gradtraceUpdates > {n}")
    want = backprop(Network.chain([0.25, -0.11, 0.78], biases=[0.0, 0.3, 0.0]), 0.63, 1.0)
    assert [v for v, _ in _shown(page, "grad_bias")] == want.grad_bias.tolist()
    assert [v for v, _ in _shown(page, "grad_weight")] == want.grad_weight.tolist()
    assert errors == [] and outside == []
