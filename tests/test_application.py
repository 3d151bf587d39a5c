"""The application layer: presets with overrides, configs from plain values, one trace path."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pytest

from gradtrace.core.backprop import backprop
from gradtrace.core.errors import SpecError
from gradtrace.core.logmode import backprop_log
from gradtrace.core.network import PRESETS, Network
from gradtrace.lab.training import make_dataset
from gradtrace.service import application


def test_a_preset_supplies_every_value_and_explicit_values_win() -> None:
    p = PRESETS["exercise-regression"]
    prob = application.resolve_problem(preset="exercise-regression")
    assert prob.title == p.title and prob.x == p.x and prob.target == p.target
    np.testing.assert_array_equal(prob.network.weights, p.network.weights)
    assert prob.network.spec == p.network.spec
    over = application.resolve_problem(preset="exercise-regression", target=1.0, loss="huber")
    assert over.target == 1.0 and over.x == p.x and over.network.spec.loss == "huber"
    assert over.title == "Gradient trace"  # no longer the preset's network


@pytest.mark.parametrize(
    ("values", "field", "words"),
    [
        ({"x": 1.0, "target": 1.0}, "weights", "give --weights"),
        ({"weights": [1.0], "target": 1.0}, "x", "give --x"),
        ({"weights": [1.0], "x": 1.0}, "target", "give --target"),
        ({"weights": [1.0, 2.0], "x": 1.0, "target": 1.0, "depth": 3}, "depth", "--depth 3"),
        ({"weights": [1.0, 2.0], "biases": [1.0], "x": 1.0, "target": 1.0}, "biases", "expected 2"),
        ({"weights": [1.0], "x": 1.0, "target": 2.0}, "target", "outside [0, 1]"),
        ({"weights": [1.0], "x": 1.0, "target": 1.0, "activation": "gelu"}, "activation", "gelu"),
        ({"preset": "part-e"}, "preset", "unknown preset"),
    ],
)
def test_resolve_problem_errors_name_their_field(values: dict, field: str, words: str) -> None:
    with pytest.raises(SpecError, match=re.escape(words)) as e:
        application.resolve_problem(**values)
    assert e.value.field == field


def test_spec_error_keeps_its_field_through_pickle() -> None:
    # the web worker process sends SpecErrors back to the server
    e = pickle.loads(pickle.dumps(SpecError("steps must be positive", field="steps")))
    assert isinstance(e, SpecError) and str(e) == "steps must be positive" and e.field == "steps"


def test_grad_reuses_the_float64_pass_and_equals_the_engine() -> None:
    prob = application.resolve_problem(preset="exercise-classification")
    r = application.grad(prob, log=True)
    assert r.log_trace is not None
    plain = backprop(prob.network, prob.x, prob.target)
    np.testing.assert_array_equal(r.trace.grad_weight, plain.grad_weight)
    alone = backprop_log(prob.network, prob.x, prob.target)
    np.testing.assert_array_equal(r.log_trace.log10_abs_grad_weight, alone.log10_abs_grad_weight)
    out = application.grad_json(r)
    assert [v["grad_weight"] for v in out["layers"]] == plain.grad_weight.tolist()
    assert "log_magnitude" in out and "log_magnitude" not in application.grad_json(
        application.grad(prob)
    )


def test_montecarlo_config_takes_its_sample_from_the_presets() -> None:
    b, d = PRESETS["exercise-classification"], PRESETS["exercise-regression"]
    c = application.montecarlo_config(depth=5)
    assert (c.x, c.target, c.spec.depth) == (b.x, b.target, 5)
    c = application.montecarlo_config(preset="exercise-regression")
    assert (c.x, c.target, c.spec) == (d.x, d.target, d.network.spec)
    c = application.montecarlo_config(depth=2, draw_x=True, draw_target=True, target=0.0)
    assert c.x is None and c.target is None
    with pytest.raises(SpecError) as e:
        application.montecarlo_config()
    assert e.value.field == "depth"


def test_train_config_on_a_dataset_defaults_to_part_b_chain() -> None:
    b = PRESETS["exercise-classification"]
    c = application.train_config(dataset=64, seed=3)
    assert c.network.spec == b.network.spec
    np.testing.assert_array_equal(c.network.weights, b.network.weights)
    xs, ts = make_dataset(b.network.spec, 64, 3)
    np.testing.assert_array_equal(c.x, xs)
    np.testing.assert_array_equal(c.target, ts)


def test_train_config_scales_the_target_and_checks_the_scale() -> None:
    c = application.train_config(preset="exercise-regression", target_scale=128.0)
    np.testing.assert_array_equal(c.target, [1.0])
    with pytest.raises(SpecError) as e:
        application.train_config(preset="exercise-regression", target_scale=0.0)
    assert e.value.field == "target_scale"


def test_limits_are_the_engines_own() -> None:
    from gradtrace.lab import depth, montecarlo, training
    from gradtrace.symbolic import MAX_SYMBOLIC_DEPTH

    lim = application.LIMITS
    assert lim.montecarlo_depth == montecarlo.MAX_DEPTH
    assert lim.depth_experiment == depth.MAX_DEPTH
    assert lim.steps == training.MAX_STEPS
    assert lim.symbolic_depth == MAX_SYMBOLIC_DEPTH
    net = Network.chain([1.0] * (lim.montecarlo_depth + 1))
    with pytest.raises(SpecError, match="at most"):
        application.montecarlo_config(depth=net.depth)


def test_train_config_takes_a_missing_sample_from_the_preset_else_part_b() -> None:
    """The CLI and the web API agree: a sample not given is the preset's, else part (b)'s."""
    b, d = PRESETS["exercise-classification"], PRESETS["exercise-regression"]
    c = application.train_config(weights=[0.5, -0.3])
    np.testing.assert_array_equal(c.x, [b.x])
    np.testing.assert_array_equal(c.target, [b.target])
    c = application.train_config(preset="exercise-regression", x=0.1)
    np.testing.assert_array_equal(c.x, [0.1])
    np.testing.assert_array_equal(c.target, [d.target])
    with pytest.raises(SpecError, match="--dataset N, or --preset") as e:
        application.train_config()
    assert e.value.field == "weights"
