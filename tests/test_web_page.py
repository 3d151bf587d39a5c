"""The explorer page in headless Chromium: the preset of part (d), a moved weight, and the
displayed gradients against the engine's; no console errors, no request leaving the server."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")


from browser import launch, new_page, requires_chromium, save_small
from gradtrace import Network, backprop, get_preset

SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "explorer.png"


@pytest.fixture
def page(server: str) -> Iterator[object]:
    """The explorer, loaded and showing its first trace, in headless Chromium."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = launch(pw)
        pg = new_page(browser, (server, "data:"))
        pg.goto(server + "/#explore")  # the free explorer (the page opens on the lesson)
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
    page.wait_for_selector("#error:not([hidden])")  # at once: the typed values name themselves
    assert "target ŷ: empty" in page.inner_text("#error")
    page.wait_for_function("document.querySelector('#error').textContent.includes('needs output')")
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


# ---- any depth, any width: layout, stale panels, errors, figures, keyboard -----------------------

IMAGES = SCREENSHOT.parent / "images"
WIDTHS = (375, 768, 1400)


def _edit(page, action) -> None:  # type: ignore[no-untyped-def]
    """Run ``action`` and wait for the trace it causes to be drawn."""
    n = page.evaluate("window.gradtraceUpdates")
    action()
    page.wait_for_function(f"window.gradtraceUpdates > {n}")


_LAYOUT = """() => {
  // (a phone's stacked table keeps its header row for screen readers, visually hidden)
  const cells = [...document.querySelectorAll('table td, table th')]
    .filter(c => !(c.closest('thead') && c.closest('thead').offsetWidth <= 1));
  const cut = cells.filter(c => c.scrollWidth > c.clientWidth + 1).map(c => c.textContent);
  const boxes = [...document.querySelectorAll('.scroll')].filter(b => b.offsetParent);
  const uncued = boxes.filter(b => (b.scrollWidth > b.clientWidth + 1 || b.scrollHeight >
      b.clientHeight + 1) && !(b.dataset.overflow && b.previousElementSibling.offsetHeight > 0))
    .map(b => b.id || b.className);
  const titles = [...document.querySelectorAll('#backward td.num')]
    .filter(c => Number(c.title) !== Number(c.dataset.value)).length;
  return {page: document.documentElement.scrollWidth, window: window.innerWidth, cut, uncued,
          titles};
}"""


@requires_chromium
def test_layout_at_three_widths_and_depth_50(page) -> None:  # type: ignore[no-untyped-def]
    """No horizontal page overflow at 375, 768 and 1400 px, in part (d) and at depth 50; no table
    cell cut; every box that scrolls says so; every number's full value on hover."""
    errors, outside = page.errors, page.outside
    _edit(page, lambda: page.click("#preset-d"))
    page.wait_for_function("window.gradtraceTheory && window.gradtraceTheory.n >= 1")
    page.wait_for_selector("#th-phase canvas")  # the theory panel, drawn, is measured too
    for depth in (3, 50):
        if depth == 50:
            _edit(page, lambda: page.fill("#depth", "50"))
            page.wait_for_function("document.querySelectorAll('#formulas math').length === 50")
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            page.evaluate("window.dispatchEvent(new Event('resize'))")
            got = page.evaluate(_LAYOUT)
            assert got["page"] <= got["window"], (width, depth, got)
            assert got["cut"] == [] and got["uncued"] == [] and got["titles"] == 0, got
            # controls above the content below 800 px, beside it above
            c, v = page.locator("#controls").bounding_box(), page.locator("#view").bounding_box()
            assert (c["y"] + c["height"] <= v["y"]) == (width < 800), (width, c, v)
            # the theory panel and its figures fit the window too
            for sel in ("#th-panel", "#th-phase", "#th-decay", "#th-numbers"):
                box = page.locator(sel).bounding_box()
                assert box["x"] >= 0 and box["x"] + box["width"] <= width, (width, sel, box)
            # the strip: one cell a layer, each wide enough to see and point at
            cells = page.eval_on_selector_all(
                "#strip [role=option]", "cs => cs.map(c => c.getBoundingClientRect().width)"
            )
            assert len(cells) == depth and min(cells) >= 4, (width, cells)
            if os.environ.get("GRADTRACE_UPDATE_SCREENSHOT"):
                name = f"explorer-{width}" + ("-depth50" if depth == 50 else "")
                save_small(page.screenshot(full_page=True), IMAGES / f"{name}.png")
    # deep chains' formulas: a product, with the differing lower limit in view
    formulas = page.eval_on_selector_all("#formulas math", "ms => ms.map(m => m.textContent)")
    assert all("∏" in f for f in formulas[:47]) and "∏" not in formulas[49]
    assert "j=2" in formulas[0].replace(" ", "") and "j=48" in formulas[46].replace(" ", "")
    assert page.locator("#chain svg").count() == 0  # 50 node boxes would not fit: the strip only
    assert errors == [] and outside == []


@requires_chromium
def test_stale_panels_and_errors_beside_their_control(page) -> None:  # type: ignore[no-untyped-def]
    errors, outside = page.errors, page.outside
    stale = "el => el.dataset.stale === 'true'"
    page.select_option("#mc-samples", "1000")
    page.click("#mc-run")
    page.wait_for_selector("#mc-table tbody tr")
    page.fill("#tr-steps", "20")
    page.click("#tr-run")
    page.wait_for_selector("#tr-message b")
    for panel in ("#mc-panel", "#tr-panel"):
        assert not page.eval_on_selector(panel, stale)
        assert page.locator(f"{panel} .stale-note").is_hidden()

    # another network: both panels say their result is for an older one, until rerun
    _edit(page, lambda: page.fill("#depth", "4"))
    for panel in ("#mc-panel", "#tr-panel"):
        assert page.eval_on_selector(panel, stale)
        assert "older network" in page.inner_text(f"{panel} .stale-note")
    page.click("#mc-run")
    page.wait_for_function(f"!({stale})(document.querySelector('#mc-panel'))")
    assert page.locator("#mc-table tbody tr").count() == 4
    assert page.eval_on_selector("#tr-panel", stale)  # not rerun: still stale
    _edit(page, lambda: page.fill("#w-2", "-0.5"))  # training used the weights; Monte Carlo not
    assert page.eval_on_selector("#tr-panel", stale) and not page.eval_on_selector(
        "#mc-panel", stale
    )

    # a bad weight, typed deep in the list: named beside it and in the banner at the top, which
    # stays in view; the numbers on the page are marked as those of the last valid input
    _edit(page, lambda: page.fill("#depth", "40"))
    page.fill("#w-37", "")
    page.wait_for_selector("#error:not([hidden])")
    assert page.get_attribute("#w-37", "aria-invalid") == "true"
    described = page.get_attribute("#w-37", "aria-describedby").split()
    assert "w-37-error" in described and "w37" in page.inner_text("#w-37-error")
    assert "w37" in page.inner_text("#error")
    top = page.evaluate("document.querySelector('#error').getBoundingClientRect().top")
    assert page.evaluate("window.scrollY") > 0 and 0 <= top < 5  # sticky at the top
    for panel in ("#chain-panel", "#table-panel", "#plots-panel"):
        assert page.eval_on_selector(panel, stale)
    _edit(page, lambda: page.fill("#w-37", "0.5"))
    assert page.is_hidden("#error") and page.get_attribute("#w-37", "aria-invalid") is None
    assert not page.eval_on_selector("#table-panel", stale)

    # an error from the engine names its control too
    page.select_option("#output_activation", "tanh")
    page.select_option("#loss", "bce")
    page.wait_for_selector("#loss-error")
    assert "needs output activation 'sigmoid'" in page.inner_text("#loss-error")
    assert page.get_attribute("#loss", "aria-invalid") == "true"
    assert page.eval_on_selector("#table-panel", stale)
    assert all("status of 422" in e for e in errors) and outside == []


@requires_chromium
def test_figures_axes_colour_bar_labels_and_max(page) -> None:  # type: ignore[no-untyped-def]
    errors, outside = page.errors, page.outside
    # eight layers whose z's sit close together: their labels must not overlap
    _edit(page, lambda: page.fill("#depth", "8"))
    for k in range(1, 9):
        _edit(page, lambda k=k: page.fill(f"#w-{k}", str(0.1 * k)))
    boxes = page.eval_on_selector_all(
        "#curve text.zlabel",
        "ts => ts.map(t => { const b = t.getBBox(); return [b.x, b.y, b.width, b.height]; })",
    )
    assert len(boxes) >= 7
    for i, (x, y, w, h) in enumerate(boxes):
        for x2, y2, w2, h2 in boxes[i + 1 :]:
            assert x + w <= x2 or x2 + w2 <= x or y + h <= y2 or y2 + h2 <= y, boxes
    ticks = page.eval_on_selector_all("#curve text", "ts => ts.map(t => t.textContent)")
    assert "0.25" in ticks and "max 0.25" in ticks  # sigmoid' peaks at 1/4

    page.fill("#tr-steps", "30")
    page.click("#tr-run")
    page.wait_for_selector("#tr-heat canvas")
    labels = page.eval_on_selector_all(
        "#tr-heat text.heat-axis", "ts => ts.map(t => t.textContent)"
    )
    assert labels == ["layer k", "step", "log10|∂L/∂w_k|"]
    assert page.locator("#tr-heat rect.colour-bar").count() == 1
    assert page.locator("#tr-heat text").count() >= 8  # layer and step ticks, colour-bar values
    assert errors == [] and outside == []


@requires_chromium
def test_keyboard_and_labels(page) -> None:  # type: ignore[no-untyped-def]
    errors, outside = page.errors, page.outside
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, button')].filter(c =>
             !(c.labels && c.labels.length) && !c.getAttribute('aria-label') &&
             !c.getAttribute('aria-labelledby') && !(c.tagName === 'BUTTON' &&
             c.textContent.trim())).map(c => c.id || c.outerHTML)"""
    )
    assert unlabelled == []
    # Tab reaches the depth control; the arrow keys step it and the page follows
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "depth":
            break
    assert page.evaluate("document.activeElement.id") == "depth"
    _edit(page, lambda: page.keyboard.press("ArrowUp"))
    assert page.input_value("#depth") == "4" and page.locator("#backward tbody tr").count() == 4
    assert page.locator("#weights input[type=number]").count() == 4
    # the strip: arrow keys select a layer and show its numbers
    page.focus("#strip")
    page.keyboard.press("End")
    page.keyboard.press("ArrowLeft")
    assert page.get_attribute("#strip-3", "aria-selected") == "true"
    assert page.inner_text("#layer-detail").startswith("layer 3")
    assert errors == [] and outside == []


AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"


@requires_chromium
@pytest.mark.skipif(not AXE.exists(), reason="tests/vendor/axe-core/axe.min.js not present")
def test_accessibility_scan(page) -> None:  # type: ignore[no-untyped-def]
    """axe-core (vendored from npm, MPL-2.0) finds no WCAG 2 A/AA violation, with every panel
    filled, an error shown and the results marked stale."""
    errors, outside = page.errors, page.outside
    page.select_option("#mc-samples", "1000")
    page.click("#mc-run")
    page.wait_for_selector("#mc-table tbody tr")
    page.fill("#tr-steps", "20")
    page.click("#tr-run")
    page.wait_for_selector("#tr-message b")
    page.wait_for_selector("#th-phase canvas")  # the theory panel, drawn, with simulated points
    page.check("#th-sim")
    page.wait_for_selector("#th-decay circle.simulated")
    page.fill("#w-2", "")
    page.wait_for_selector("#w-2-error")
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa']})).violations
             .map(v => `${v.id}: ${v.nodes.map(n => n.target.join(' ')).join(', ')}`)"""
    )
    assert found == []
    assert errors == [] and outside == []


# ---- the theory panel: mean-field theory of deep, wide nets ------------------------------------


def _theory(page, action, check: str = "true") -> dict:  # type: ignore[no-untyped-def]
    """Run ``action`` and wait for the theory answer it causes (``check`` on its body ``b``)."""
    n = page.evaluate("window.gradtraceTheory ? window.gradtraceTheory.n : 0")
    action()
    page.wait_for_function(
        f"(t => t && t.n > {n} && (b => {check})(t.body))(window.gradtraceTheory)"
    )
    return page.evaluate("window.gradtraceTheory")


@requires_chromium
def test_theory_panel(page) -> None:  # type: ignore[no-untyped-def]
    """Click the phase diagram: the inputs take the clicked point, and the phase and chi_1 shown
    are application.theory's for what the page sent; Simulate adds the measured points; the
    arrow keys move the mark and Enter computes; an over-budget simulation names its control."""
    from gradtrace.service import application

    errors, outside = page.errors, page.outside
    page.wait_for_function("window.gradtraceTheory && window.gradtraceTheory.n >= 1")
    page.wait_for_selector("#th-phase canvas")
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('#th-panel input, #th-panel select')]
             .filter(c => !(c.labels && c.labels.length)).map(c => c.id)"""
    )
    assert unlabelled == []
    assert page.locator("#th-phase path.critical").count() == 1
    assert page.locator("#th-phase rect.colour-bar").count() == 1
    axis = page.eval_on_selector_all(
        "#th-phase text.axis-label", "ts => ts.map(t => t.textContent)"
    )
    assert [a.split(" ")[0] for a in axis] == ["σ_b²", "σ_w²", "log10"]
    _theory(page, lambda: page.fill("#th-depth", "10"), "b.depth === 10")

    grid = application.theory_grid(application.theory("tanh", 1.5, 0.05, depth=1).mean_field, 80)
    dw, db = grid.sigma_w2[1] - grid.sigma_w2[0], grid.sigma_b2[1] - grid.sigma_b2[0]
    frame = page.locator("#th-phase rect.plot-frame")
    frame.scroll_into_view_if_needed()
    box = frame.bounding_box()
    fx, fy = 0.3, 0.4  # from the left, from the bottom
    click = (box["x"] + fx * box["width"], box["y"] + (1 - fy) * box["height"])
    got = _theory(page, lambda: page.mouse.click(*click), "b.sigma_w2 !== 1.5")
    sw, sb = float(page.input_value("#th-sw")), float(page.input_value("#th-sb"))
    assert abs(sw - fx * grid.sigma_w2[-1]) <= dw and abs(sb - fy * grid.sigma_b2[-1]) <= db
    body = got["body"]
    assert (body["sigma_w2"], body["sigma_b2"], body["depth"]) == (sw, sb, 10)
    want = application.theory("tanh", sw, sb, depth=10).mean_field
    assert float(page.get_attribute("#th-numbers [data-field=chi_1]", "data-value")) == want.chi_1
    assert page.inner_text("#th-numbers [data-field=phase]") == want.phase
    assert page.locator("#th-decay path.predicted").count() == 1
    assert page.locator("#th-decay circle.simulated").count() == 0

    # Simulate: the measured points beside the prediction, layer by layer
    page.fill("#th-width", "100")
    got = _theory(page, lambda: page.check("#th-sim"), "b.simulate")
    assert got["body"]["width"] == 100 and got["body"]["samples"] == 16
    assert page.locator("#th-decay circle.simulated").count() == 10
    assert got["result"]["chi_1"] == want.chi_1

    # the keyboard: arrows move the mark by a grid step, Enter computes
    page.focus("#th-phase-box")
    page.keyboard.press("ArrowRight")
    assert float(page.input_value("#th-sw")) == pytest.approx(sw + dw, abs=0.01)
    assert page.eval_on_selector("#th-panel", "el => el.dataset.stale === 'true'")
    got = _theory(page, lambda: page.keyboard.press("Enter"), f"b.sigma_w2 !== {sw}")
    assert not page.eval_on_selector("#th-panel", "el => el.dataset.stale === 'true'")

    # over the budget: a 422 naming the cost, beside the width and in the banner; marked stale
    page.fill("#th-width", "1000")
    page.wait_for_selector("#th-width-error")
    assert "budget" in page.inner_text("#th-width-error")
    assert page.get_attribute("#th-width", "aria-invalid") == "true"
    assert "Theory: width" in page.inner_text("#error")
    assert page.eval_on_selector("#th-panel", "el => el.dataset.stale === 'true'")
    if os.environ.get("GRADTRACE_UPDATE_SCREENSHOT"):
        _theory(page, lambda: page.fill("#th-width", "100"), "b.width === 100")
        for width in (1400, 375):
            page.set_viewport_size({"width": width, "height": 900})
            panel = page.locator("#th-panel")
            panel.scroll_into_view_if_needed()
            # 256 colours: the phase diagram's colour scale survives
            save_small(panel.screenshot(), IMAGES / f"explorer-theory-{width}.png", 256)
    assert all("status of 422" in e for e in errors) and outside == []
