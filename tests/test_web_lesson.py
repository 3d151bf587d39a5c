"""The guided lesson in headless Chromium, at 375 and 1400 px, under a strict CSP: every step
sets its controls, shows its panels and only those, asks its question and reveals an answer whose
numbers are the engine's (backprop, the training job); the page reads at every step (chart text,
contrast; tests/browser.py check_reading) and axe-core finds nothing."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from browser import (
    axe_violations,
    check_reading,
    open_with_csp,
    requires_chromium,
    save_small,
)
from gradtrace import ACTIVATIONS, Network, backprop, get_preset
from gradtrace.lab.training import train
from gradtrace.service import application

IMAGES = Path(__file__).resolve().parents[1] / "docs" / "images"
PANELS = ("chain-panel", "table-panel", "bars-box", "curve-box", "formulas-panel", "mc-panel")
PANELS += ("tr-panel", "th-panel")


# ---- the lesson, step by step, against the engine -----------------------------------------------


def _values(page: Any, field: str) -> list[float]:
    return page.eval_on_selector_all(
        f"#lesson-answer [data-field={field}]", "es => es.map(e => Number(e.dataset.value))"
    )


def _value(page: Any, field: str) -> float:
    (v,) = _values(page, field)
    return v


def _answer_text(page: Any) -> str:
    return page.inner_text("#lesson-answer")


def _chain(preset: str, **change: Any) -> tuple[Network, float, float]:
    p = get_preset(preset)
    spec = p.network.spec
    w = change.pop("weights", [float(v) for v in p.network.weights])
    net = Network.chain(
        w,
        activation=change.pop("activation", spec.activation),
        output_activation=spec.output_activation,
        loss=spec.loss,
    )
    return net, float(p.x), float(p.target)


def _grads(page: Any, tr: Any) -> None:
    got = [_value(page, f"grad_w{k}") for k in (1, 2, 3)]
    assert got == [float(g) for g in tr.grad_weight]  # the engine's float64, exactly


def _step_a(page: Any) -> None:
    assert _value(page, "s_prime_max") == float(ACTIVATIONS["sigmoid"].d1(0.0)) == 0.25
    assert "no smallest value" in _answer_text(page)


def _step_b(page: Any) -> None:
    tr = backprop(*_chain("exercise-classification"))
    _grads(page, tr)
    assert _value(page, "factor3") == float(tr.backward_factor[1])  # w3 s'(z2)
    assert _value(page, "factor2") == float(tr.backward_factor[0])  # w2 s'(z1)
    assert _value(page, "delta3") == float(tr.delta[2])
    ratio = abs(tr.grad_weight[2] / tr.grad_weight[0])
    assert f"{ratio:.4g}" == "144.6" and "144.6 times smaller" in _answer_text(page)


def _step_c(page: Any) -> None:
    assert page.locator("#lesson-answer math").count() == 3
    assert "2(y − ŷ), involves the target" in _answer_text(page)


def _step_d(page: Any) -> None:
    d = backprop(*_chain("exercise-regression"))
    b = backprop(*_chain("exercise-classification"))
    _grads(page, d)
    assert _value(page, "delta3") == float(d.delta[2])
    assert _value(page, "prediction") == float(d.prediction)
    text = _answer_text(page)
    ratio = f"{abs(d.delta[2] / b.delta[2]):.4g}"
    assert ratio == "627.9" and f"{ratio} times larger than in (b)" in text
    assert "2,438%" in text and "34.2%" in text  # the first step at eta = 0.1, as in the solution


def _deep(activation: str) -> Any:
    net, x, target = _chain("exercise-classification", weights=[1.0] * 10, activation=activation)
    return backprop(net, x, target)


def _step_depth(page: Any) -> None:
    tr = _deep("sigmoid")
    assert _value(page, "grad_w1") == abs(float(tr.grad_weight[0]))
    assert _value(page, "product") == pytest.approx(float(np.prod(tr.backward_factor)), rel=1e-13)
    assert _value(page, "bound") == 0.25**9
    assert all(f <= 0.25 for f in tr.backward_factor)


def _step_scale(page: Any) -> None:
    p = get_preset("exercise-regression")
    body = {
        "weights": [float(w) for w in p.network.weights],
        "x": float(p.x),
        "target": float(p.target),
        "activation": "sigmoid",
        "output_activation": "identity",
        "loss": "l2",
        "learning_rate": 5.0,
        "steps": 300,
    }
    want = [  # the engine's training, as gradtrace train runs it
        train(application.train_config(**body, **extra)).outcome
        for extra in ({}, {"target_scale": 128.0}, {"clip_norm": 1.0})
    ]
    assert (
        page.eval_on_selector_all(
            "#lesson-answer b[data-field=outcome]", "bs => bs.map(b => b.textContent)"
        )
        == want
    )
    assert page.inner_text("#tr-message b") == want[0] == "diverged"
    scaled = backprop(*_chain("exercise-regression")[:2], float(p.target) / 128)
    assert _value(page, "delta3_scaled") == float(scaled.delta[2])


def _step_relu(page: Any) -> None:
    tr = _deep("relu")
    assert set(tr.backward_factor.tolist()) == {1.0} and _value(page, "factor") == 1.0
    assert _value(page, "ratio") == abs(float(tr.grad_weight[0] / tr.grad_weight[-1]))


def _form(page: Any) -> dict[str, Any]:
    return page.evaluate(
        """() => ({depth: $('depth').value, activation: $('activation').value, loss: $('loss').value,
                   out: $('output_activation').value, target: $('target').value, x: $('x').value,
                   weights: [...document.querySelectorAll('#weights input[type=number]')].map(i => Number(i.value)),
                   lr: $('tr-lr').value, scale: $('tr-scale').value, clip: $('tr-clip-on').checked})"""
    )


B_FORM = {
    "loss": "bce",
    "out": "sigmoid",
    "target": "1",
    "x": "0.63",
    "weights": [0.25, -0.11, 0.78],
}
D_FORM = {
    "loss": "l2",
    "out": "identity",
    "target": "128",
    "x": "0.63",
    "weights": [0.25, -0.11, 0.78],
}
DEEP_FORM = {"depth": "10", "loss": "bce", "weights": [1.0] * 10}
# each step: the controls it sets, the panels it shows, its hand control, its answer's checks
STEPS: list[tuple[dict[str, Any], tuple[str, ...], str, Callable[[Any], None]]] = [
    (B_FORM, ("curve-box",), "#ls-w1", _step_a),
    (B_FORM, ("chain-panel", "table-panel"), "#ls-w2", _step_b),
    (D_FORM, ("formulas-panel",), "#ls-chain-exercise-regression", _step_c),
    (D_FORM, ("table-panel", "bars-box"), "#ls-target", _step_d),
    ({**DEEP_FORM, "activation": "sigmoid"}, ("chain-panel", "bars-box"), "#ls-depth", _step_depth),
    ({**D_FORM, "lr": "5", "scale": "1", "clip": False}, ("tr-panel",), "#ls-scale", _step_scale),
    (
        {**DEEP_FORM, "activation": "relu"},
        ("chain-panel", "bars-box", "curve-box"),
        "#ls-activation",
        _step_relu,
    ),
]


@requires_chromium
@pytest.mark.parametrize("width", [375, 1400])
def test_guided_path(server: str, browser: Any, width: int) -> None:
    """Step 1 to 7 by the Next link: each sets the explorer's controls, shows its panels and only
    those, hands the reader a control, asks a question, and reveals an answer whose numbers are
    the engine's; chart text and contrast hold at every step; axe-core finds nothing."""
    page = open_with_csp(browser, server, "", width)
    assert page.evaluate("document.body.dataset.mode") == "lesson"
    assert (
        page.is_hidden("#controls") and page.get_attribute("#mode-lesson", "aria-current") == "page"
    )
    for n, (form, shown, hand, check) in enumerate(STEPS, start=1):
        if n > 1:
            count = page.evaluate("window.gradtraceUpdates")
            page.click("#lesson a[rel=next]")
            page.wait_for_function(f"() => window.gradtraceUpdates > {count}")
        page.wait_for_function(
            f"() => window.gradtraceLesson && window.gradtraceLesson.step === {n}"
        )
        assert page.evaluate("location.hash") in ((f"#lesson-{n}",) + (("",) if n == 1 else ()))
        got = _form(page)
        assert {k: got[k] for k in form} == form, n  # the step set the controls
        for panel in PANELS:  # its panels, and only those
            assert page.is_visible(f"#{panel}") == (panel in shown), (n, panel)
        assert page.is_visible(hand), n
        assert page.inner_text("#lesson-question").startswith("Question.")
        assert page.is_hidden("#lesson-answer")
        page.click("#lesson-reveal")
        page.wait_for_selector("#lesson-answer[data-ready=true]")
        assert page.get_attribute("#lesson-reveal", "aria-expanded") == "true"
        if n == 6:
            page.wait_for_selector("#tr-message b")
        check(page)
        check_reading(page, f"step {n} at {width} px", charts=n != 3)  # (3: formulas only)
        if os.environ.get("GRADTRACE_UPDATE_SCREENSHOT") and n in (2, 5):  # README's pictures
            save_small(page.screenshot(full_page=True), IMAGES / f"lesson-step{n}-{width}.png")
        if (n, width) in ((2, 1400), (6, 375)):
            assert axe_violations(page) == [], n
    assert page.inner_text("#lesson a[rel=next]") == "Free explorer →"
    page.click("#lesson a[rel=next]")  # the free explorer, one click away
    page.wait_for_function("() => document.body.dataset.mode === 'explore'")
    assert page.is_visible("#controls") and page.is_visible("#th-panel")
    assert page.evaluate("window.cspViolations") == [] and page.errors == [] and page.outside == []
    page.close()
