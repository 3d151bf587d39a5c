"""The page's reading in headless Chromium: chart text at 11 px or more, WCAG contrast of the
chart text and the strip, a phone's tables, axe-core, a busy server (503), and all of it under a
strict Content-Security-Policy."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from browser import (
    axe_violations,
    check_reading,
    open_with_csp,
    requires_chromium,
)


@requires_chromium
def test_explorer_reads_on_a_phone_and_a_desktop(server: str, browser: Any) -> None:
    """The free explorer with every panel drawn (a 10-layer strip, Monte Carlo, training, the
    theory panel's simulation): chart text at 11 px or more and contrast at 375 and 1400 px; on a
    phone the backward table's gradients show without a sideways scroll, and a box's scroll cue
    sits above it; full values on touch and keyboard; the bars' floor said; a skip link; axe."""
    page = open_with_csp(browser, server, "#explore", 375)
    # the skip link: the first stop of the keyboard, and it leads past the header
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    assert page.is_visible(".skip-link")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "content"
    assert page.evaluate("document.body.dataset.mode") == "explore"  # #content keeps the mode
    count = page.evaluate("window.gradtraceUpdates")
    page.fill("#depth", "10")  # the new layers get weight 1: the strip spans its whole scale
    page.wait_for_function(f"() => window.gradtraceUpdates > {count}")
    page.select_option("#mc-samples", "1000")
    page.click("#mc-run")
    page.fill("#tr-steps", "20")
    page.click("#tr-run")
    page.check("#th-sim")
    for sel in (
        "#mc-table tbody tr",
        "#tr-heat canvas",
        "#th-decay circle.simulated",
        "#th-phase canvas",
    ):
        page.wait_for_selector(sel)
    page.wait_for_selector("#formulas math")
    page.wait_for_function(
        "() => document.querySelector('#th-decay-note').textContent.includes('dashed line')"
    )

    # a phone: the columns that matter in view, no sideways scroll; cues above their box
    table = page.evaluate(
        """() => { const box = document.querySelector('#table-panel .scroll');
          const cells = [...document.querySelectorAll('#backward td[data-field=delta], #backward td[data-field=grad_weight]')];
          return {wide: box.scrollWidth - box.clientWidth, right: Math.max(...cells.map(c => c.getBoundingClientRect().right)),
                  boxRight: box.getBoundingClientRect().right};}"""
    )
    assert table["wide"] <= 0 and table["right"] <= table["boxRight"], table
    assert page.evaluate(
        "document.querySelector('#mc-table').scrollWidth <= document.querySelector('#mc-table').clientWidth"
    )
    cues = page.evaluate(
        """() => [...document.querySelectorAll('.scroll[data-overflow]')].filter(b => b.offsetParent)
             .map(b => { const c = b.previousElementSibling;
               return [b.id || b.className, c.classList.contains('scroll-cue') && c.offsetHeight > 0 &&
                       c.getBoundingClientRect().bottom <= b.getBoundingClientRect().top + 1]; })"""
    )
    assert cues and all(ok for _, ok in cues), cues  # (the 10 stacked rows scroll: cued above)
    check_reading(page, "explorer at 375 px")
    assert axe_violations(page) == []

    # the bars' floor: the decade below the smallest gradient, and the note says so
    floor = int(page.get_attribute("#bars-note", "data-floor"))
    shown = page.eval_on_selector_all(
        "#bars rect[data-layer]", "rs => rs.map(r => Math.abs(Number(r.dataset.value)))"
    )
    assert floor < math.log10(min(shown)) <= floor + 1
    assert f"rise from 1e{floor}, the whole decade below" in page.inner_text("#bars-note")

    # every digit of each float64, for touch and keyboard: a box to tick
    page.focus("#full-values")
    page.keyboard.press("Space")
    cells = page.eval_on_selector_all(
        "#backward td.num", "cs => cs.map(c => [c.textContent, c.dataset.value])"
    )
    assert cells and all(text == value for text, value in cells)

    # a desktop: the charts are drawn again for the wider boxes, and still read
    redraws = page.evaluate("window.gradtraceRedraws || 0")
    page.set_viewport_size({"width": 1400, "height": 900})
    page.wait_for_function(f"() => window.gradtraceRedraws > {redraws}")
    check_reading(page, "explorer at 1400 px")

    assert page.evaluate("window.cspViolations") == [] and page.errors == [] and page.outside == []
    page.close()


@requires_chromium
def test_a_busy_server_asks_for_a_retry(server: str, browser: Any) -> None:
    """503 with Retry-After, and a body that is not JSON: a plain message and a Retry button
    that waits for Retry-After; a retry that goes through clears it. A bad value's button names
    its control by its label, not by its id."""
    page = open_with_csp(browser, server, "#explore", 1400)
    busy = {"on": True}

    def answer(route: Any) -> None:
        if busy["on"]:
            route.fulfill(status=503, headers={"Retry-After": "1"}, body="Service Unavailable")
        else:
            route.continue_()

    page.route("**/api/trace", answer)
    page.fill("#w-2", "-0.5")
    page.wait_for_selector("#error:not([hidden]) button.retry")
    text = page.inner_text("#error")
    assert "busy" in text and not re.search(r"JSON|Unexpected token|SyntaxError", text), text
    assert page.is_disabled("#error button.retry") and "in 1 s" in page.inner_text(
        "#error button.retry"
    )
    page.wait_for_function(
        "() => !document.querySelector('#error button.retry').disabled", timeout=3000
    )
    busy["on"] = False
    count = page.evaluate("window.gradtraceUpdates")
    page.click("#error button.retry")
    page.wait_for_function(f"() => window.gradtraceUpdates > {count}")
    assert page.is_hidden("#error")
    assert (
        float(page.get_attribute("#backward td[data-field=weight][data-layer='2']", "data-value"))
        == -0.5
    )

    # a bad value: the button says where it goes in the page's words
    page.fill("#tr-steps", "0")
    page.click("#tr-run")
    page.wait_for_selector("#tr-steps-error")
    buttons = page.eval_on_selector_all("#error button", "bs => bs.map(b => b.textContent)")
    assert buttons == ["go to steps"], buttons
    assert page.evaluate("window.cspViolations") == []
    assert all("status of 503" in e or "status of 422" in e for e in page.errors), page.errors
    page.close()
