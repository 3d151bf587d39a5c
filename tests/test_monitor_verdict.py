"""The verdict's rules on hand-made runs whose answer is known by construction: no data, the
all-nan step, GradScaler start-up and persistence, the absolute explosion rule, recovery, exact
zeros and zeros by design, layer names for every finding, and the advice as data (vocabulary,
ranking from the diagnosis, never what the model has, plain-text form)."""

from __future__ import annotations

import math
import pickle

import pytest

from gradtrace.monitor.advice import REMEDIES, Advice
from gradtrace.monitor.records import MonitorRun, RunContext, step_totals
from gradtrace.monitor.verdict import PROBLEMS, STATUSES, Thresholds, judge


def rec(step: int, name: str, g: float, w: float = 1.0, **kw: object) -> dict:
    r = {
        "step": step,
        "name": name,
        "grad_norm": g,
        "grad_max_abs": g,
        "weight_norm": w,
        "nonfinite": int(not math.isfinite(g)),
    }
    r.update(kw)
    return r


def steady(steps: int = 20, names: tuple[str, ...] = ("a.weight", "b.weight")) -> list[dict]:
    return [rec(t, n, 0.1) for t in range(steps) for n in names]


# ---- no data --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("context", "words"),
    [
        (RunContext(), "never attached"),
        (
            RunContext(optimizers=("SGD",), backward_passes=7, optimizer_steps=0),
            "7 backward pass(es) reached the model but no optimizer step ran",
        ),
        (
            RunContext(optimizers=("SGD",), optimizer_steps=3),
            "none of the model's parameters had a gradient",
        ),
        (
            RunContext(optimizers=("SGD",), optimizer_steps=0, backward_passes=0),
            "no optimizer step and no backward pass",
        ),
    ],
)
def test_nothing_recorded_is_no_data_with_the_reason(context: RunContext, words: str) -> None:
    v = judge(MonitorRun([], context=context))
    assert (v.status, v.layers, v.steps, v.advice) == ("no data", [], [], [])
    assert v.findings[0].kind == "no_data" and words in v.findings[0].reason
    assert "no data" in STATUSES


def test_unattached_scaler_reason_names_the_fix() -> None:
    v = judge(
        MonitorRun(
            [], context=RunContext(optimizers=("SGD",), backward_passes=3, optimizer_steps=0)
        )
    )
    assert "attach(optimizer, scaler=scaler)" in v.findings[0].reason


# ---- non-finite steps -----------------------------------------------------------------------------


def test_an_all_nan_step_is_not_a_global_norm_of_zero() -> None:
    records = steady()
    records += [rec(20, "a.weight", math.nan), rec(20, "b.weight", math.nan)]
    steps, total = step_totals(records)
    assert steps[-1] == 20 and math.isnan(total[-1])
    assert total[0] == pytest.approx(math.hypot(0.1, 0.1), rel=1e-15)
    v = judge(MonitorRun(records))
    assert v.status == "nonfinite" and [f.kind for f in v.findings] == ["nonfinite"]  # no spike
    assert v.layers == ["a.weight", "b.weight"] and v.steps == [20]


def test_a_nan_loss_is_nonfinite_and_names_the_step() -> None:
    losses = [{"step": t, "loss": math.nan if t == 12 else 1.0} for t in range(20)]
    v = judge(MonitorRun(steady(), losses=losses))
    assert v.status == "nonfinite" and v.steps == [12]
    assert "the loss itself is not finite" in v.findings[0].reason


# ---- GradScaler -----------------------------------------------------------------------------------


def scaled(skips: set[int], steps: int = 60) -> list[dict]:
    out = []
    for t in range(steps):
        bad = t in skips
        out += [
            rec(t, "a.weight", math.inf if bad else 0.1, skipped=bad),
            rec(t, "b.weight", 0.1, skipped=bad),
        ]
    return out


def test_grad_scaler_start_up_streak_is_the_scaler_at_work() -> None:
    """A scale starting at 2**24 backs off 8 times (13 % of 60 steps): healthy."""
    v = judge(MonitorRun(scaled(set(range(8)))))
    assert v.status == "healthy"
    (f,) = v.findings
    assert f.kind == "skipped" and not f.problem and f.steps == list(range(8))
    assert "8 at start-up" in f.reason


def test_grad_scaler_streak_longer_than_start_up_is_persistent() -> None:
    v = judge(MonitorRun(scaled(set(range(17)))))
    assert v.status == "nonfinite" and v.findings[0].problem
    assert "streak of 17" in v.findings[0].reason
    assert (
        judge(MonitorRun(scaled(set(range(17)))), Thresholds(startup_skips=17)).status == "healthy"
    )


def test_grad_scaler_skips_after_start_up_above_the_fraction_are_persistent() -> None:
    later = {20, 25, 30, 35, 40, 45, 50}  # 7 of the 56 steps after a 4-step start-up: 12.5 %
    v = judge(MonitorRun(scaled(set(range(4)) | later)))
    assert v.status == "nonfinite" and "7 of the 56 steps after start-up" in v.findings[0].reason
    assert v.advice[0].remedy == "loss_scale" and v.advice[0].params == {"dtype": "bfloat16"}
    assert (
        judge(MonitorRun(scaled(set(range(4)) | later)), Thresholds(skipped_fraction=0.2)).status
        == "healthy"
    )


# ---- exploding --------------------------------------------------------------------------------------


def test_an_explosion_present_from_the_start_is_exploding_not_vanishing() -> None:
    """The plain-RNN shape: the recurrent weight's gradient 1e10 at every step, the head's
    1e-2; comparing layers alone would call the head vanishing."""
    records = []
    for t in range(20):
        records += [rec(t, "rnn.weight_hh_l0", 1e10, 5.0), rec(t, "head.weight", 1e-2, 2.0)]
    v = judge(MonitorRun(records))
    assert v.status == "exploding" and v.findings[0].kind == "large"
    assert v.layers == ["rnn.weight_hh_l0"]
    ratio = 1e10 / math.hypot(5.0, 2.0)
    assert f"{ratio:.3g}x the global weight norm" in v.findings[0].reason


@pytest.mark.parametrize(("ratio", "status"), [(99.0, "healthy"), (101.0, "exploding")])
def test_large_ratio_threshold(ratio: float, status: str) -> None:
    records = [rec(t, "w", ratio * 2.0, 2.0) for t in range(10)]
    assert judge(MonitorRun(records)).status == status


def test_plain_sgd_first_step_larger_than_the_weights_is_exploding() -> None:
    """lr G / W = 0.1 * 150 = 15 > 10 at step 0 only (the exercise's regression chain): under
    plain SGD that one step is the explosion; under Adam, whose step is bounded, it is not."""
    records = [rec(0, "w3.weight", 150.0, 1.0)] + [
        rec(t, "w3.weight", 1.0, 1.0) for t in range(1, 20)
    ]
    sgd = RunContext(optimizers=("SGD",), adaptive=False, lr=0.1)
    v = judge(MonitorRun(records, context=sgd))
    assert v.status == "exploding" and v.steps == [0] and "lr = 0.1" in v.findings[0].reason
    adam = RunContext(optimizers=("Adam",), adaptive=True, lr=0.1)
    assert judge(MonitorRun(records, context=adam)).status == "healthy"


def test_growth_and_spike_name_their_layers() -> None:
    records = []
    for t in range(40):
        records += [
            rec(t, "grows", 1.0 * 1.5**t, 1e30),
            rec(t, "flat", 1.0, 1e30),
        ]
    v = judge(MonitorRun(records))
    (growth,) = [f for f in v.findings if f.kind == "growth"]
    assert growth.layers == ["grows"]
    records = [
        rec(t, n, 1e3 if (t == 30 and n == "spiky") else 1.0, 1e9)
        for t in range(40)
        for n in ("spiky", "calm")
    ]
    v = judge(MonitorRun(records))
    (spike,) = [f for f in v.findings if f.kind == "spike"]
    assert spike.steps == [30] and spike.layers == ["spiky"]
    assert v.advice[0].remedy == "clip"


# ---- vanishing, recovery, zero ---------------------------------------------------------------------


def test_vanishing_that_recovers_is_healthy() -> None:
    """LayerScale-like: a branch's gradient starts at 1e-6 of the largest and grows to 1e-2."""
    records = []
    for t in range(40):
        records += [rec(t, "skip.weight", 1.0), rec(t, "branch.weight", 1e-6 * 10 ** (t / 10))]
    v = judge(MonitorRun(records))
    assert v.status == "healthy"
    (f,) = v.findings
    assert f.kind == "recovered" and f.layers == ["branch.weight"] and not f.problem


def test_vanishing_that_stays_is_vanishing() -> None:
    records = []
    for t in range(40):
        records += [rec(t, "out.weight", 1.0), rec(t, "in.weight", 1e-6)]
    v = judge(MonitorRun(records))
    assert v.status == "vanishing" and v.layers == ["in.weight"]


def test_exact_zero_is_its_own_finding_and_zero_by_design_is_healthy() -> None:
    records = []
    for t in range(20):
        records += [rec(t, "0.weight", 0.5), rec(t, "0.bias", 0.0), rec(t, "aux.weight", 0.0)]
    v = judge(MonitorRun(records))
    (zero,) = [f for f in v.findings if f.kind == "zero"]
    assert zero.layers == ["0.bias", "aux.weight"] and v.status == "vanishing"
    assert "vanishing" not in {f.kind for f in v.findings}
    assert v.advice[0].remedy == "check_graph"
    # 0.bias feeds a BatchNorm: zero by design; a rounding-level gradient too
    records = [dict(r, grad_norm=1e-9) if r["name"] == "0.bias" else r for r in records]
    ctx = RunContext(cancelled=("0.bias",), norms=("batchnorm",))
    v = judge(MonitorRun(records, context=ctx))
    (design,) = [f for f in v.findings if f.kind == "by_design"]
    assert design.layers == ["0.bias"] and not design.problem and "BatchNorm" in design.reason
    assert [f.layers for f in v.findings if f.kind == "zero"] == [["aux.weight"]]


def test_informational_findings_leave_the_status_alone() -> None:
    ctx = RunContext(
        frozen=("embed.weight",),
        unused=("aux.weight",),
        tied={"embed.weight": ("head.weight",)},
        recurrent={"lstm": "lstm"},
    )
    v = judge(MonitorRun(steady(), context=ctx))
    assert v.status == "healthy" and v.advice == []
    kinds = {f.kind: f for f in v.findings}
    assert set(kinds) == {"frozen", "unused", "tied", "unseen"}
    assert kinds["tied"].reason.endswith("embed.weight = head.weight")
    assert all(not f.problem for f in v.findings)


# ---- units ----------------------------------------------------------------------------------------


def dead_run(fractions: list[float], acts: tuple[str, ...] = ("relu",)) -> MonitorRun:
    activations = [
        {"step": t, "name": "3", "kind": "dead", "fraction": f} for t, f in enumerate(fractions)
    ]
    return MonitorRun(steady(len(fractions)), activations, context=RunContext(activations=acts))


def test_dead_from_the_start_advises_the_init_first() -> None:
    v = judge(dead_run([0.9] * 20))
    assert v.status == "vanishing" and v.layers == ["3"]
    assert [a.remedy for a in v.advice[:2]] == ["init", "activation"]


def test_dying_during_training_advises_a_lower_learning_rate_first() -> None:
    v = judge(dead_run([0.1] * 5 + [0.9] * 15))
    assert [a.remedy for a in v.advice[:2]] == ["lower_lr", "activation"]
    assert v.advice[1].params == {"to": "leaky_relu"}


def test_units_that_revive_by_the_end_are_not_dead() -> None:
    assert judge(dead_run([0.9] * 15 + [0.1] * 5)).status == "healthy"


# ---- advice as data -------------------------------------------------------------------------------


def test_never_advise_what_the_model_already_has() -> None:
    records = []
    for t in range(20):
        records += [rec(t, "out.weight", 1.0), rec(t, "in.weight", 1e-7)]
    bare = {
        a.remedy: a
        for a in judge(MonitorRun(records, context=RunContext(activations=("sigmoid",)))).advice
    }
    assert {"activation", "residual", "normalize"} <= set(bare)
    has = RunContext(activations=("relu",), norms=("layernorm",), residual=True)
    remedies = [(a.remedy, a.params) for a in judge(MonitorRun(records, context=has)).advice]
    assert ("activation", {"to": "relu", "init": "he"}) not in remedies
    assert "residual" not in {r for r, _ in remedies}
    assert ("normalize", {"where": "hidden"}) not in remedies
    # a GradScaler attached: never advise one
    fp16 = RunContext(param_dtypes=("float16",), scaler=True)
    bad = [rec(t, "w", math.nan if t == 5 else 1.0) for t in range(10)]
    assert "GradScaler" not in str(judge(MonitorRun(bad, context=fp16)).advice)


def test_advice_is_data_in_the_documented_vocabulary() -> None:
    records = [rec(t, "w", 1.0 * 2.0**t, 1e30) for t in range(30)]
    v = judge(MonitorRun(records, context=RunContext(adaptive=False, lr=0.5)))
    assert v.status == "exploding" and v.advice
    for a in v.advice:
        assert isinstance(a, Advice) and isinstance(a, str)
        assert a.remedy in REMEDIES and set(a.params) <= set(REMEDIES[a.remedy])
        assert str(a) == f"{a.text}: {a.reason}"
        assert a.finding in PROBLEMS
        back = pickle.loads(pickle.dumps(a))
        assert back == a and back.to_dict() == a.to_dict()
    first = v.advice[0]
    assert (first.remedy, first.params) == ("lower_lr", {"factor": 0.1, "lr": 0.05})
    scores = [a.score for a in v.advice if a.finding in ("growth", "spike")]
    assert scores == sorted(scores, reverse=True)


def test_advice_rejects_unknown_remedies_and_parameters() -> None:
    with pytest.raises(ValueError, match="unknown remedy 'magic'"):
        Advice("magic", "t", "r")
    with pytest.raises(ValueError, match="remedy 'clip' takes no parameter 'factor'"):
        Advice("clip", "t", "r", {"factor": 2})


def test_verdict_reads_as_text_within_80_columns() -> None:
    records = []
    for t in range(30):
        records += [rec(t, f"layers.{k}.weight", 1e-7 if k < 8 else 1.0) for k in range(10)]
    v = judge(
        MonitorRun(records, context=RunContext(activations=("sigmoid",), unused=("aux.weight",)))
    )
    text = str(v)
    lines = text.splitlines()
    assert lines[0] == "gradient verdict: vanishing"
    assert all(len(line) <= 80 and line == line.rstrip() for line in lines)
    assert "  parameters: layers.0.weight, layers.1.weight" in text and "and 2 more" in text
    assert "advice, most likely fix first:" in text and "  1. Replace the sigmoids" in text
    assert "[activation: to=relu, init=he]" in text.replace("\n     ", " ")
    notes = lines.index("also noted:")
    assert lines[notes + 1].startswith("  - unused: 1 trainable parameter(s)")
    assert all(line.startswith("    ") for line in lines[notes + 2 :])
    assert text.index("findings:") < text.index("advice") < text.index("also noted:")


# ---- modules among parameters, zero against vanishing (issue #20) -------------------------------


def _lines_fit(text: str) -> bool:
    return all(len(line) <= 80 and line == line.rstrip() for line in text.splitlines())


def test_modules_are_named_apart_from_parameters() -> None:
    """The dead-unit finding names modules ('3', an nn.Sequential child), the zero finding
    parameters: the verdict keeps them apart in its data and in its words."""
    records = []
    for t in range(20):
        records += [rec(t, "0.weight", 0.0), rec(t, "0.bias", 0.0), rec(t, "6.weight", 0.5)]
    acts = [
        {"step": t, "name": n, "kind": "dead", "fraction": 0.9} for t in range(20) for n in "35"
    ]
    v = judge(MonitorRun(records, acts, context=RunContext(activations=("relu",))))
    assert v.status == "vanishing" and v.layers == ["0.weight", "0.bias", "3", "5"]
    assert v.parameters == ["0.weight", "0.bias"] and v.modules == {"3": "ReLU", "5": "ReLU"}
    zero, dead = v.findings[:2]
    assert (zero.kind, zero.modules, zero.parameters) == ("zero", {}, ["0.weight", "0.bias"])
    assert (dead.kind, dead.layers, dead.parameters) == ("dead", ["3", "5"], [])
    assert dead.modules == {"3": "ReLU", "5": "ReLU"}
    d = v.to_dict()
    assert d["parameters"] == ["0.weight", "0.bias"] and d["modules"] == v.modules
    assert [(f["parameters"], f["modules"]) for f in d["findings"][:2]] == [
        (["0.weight", "0.bias"], {}),
        ([], {"3": "ReLU", "5": "ReLU"}),
    ]
    text = str(v)
    lines = text.splitlines()
    assert lines[1:3] == ["  parameters: 0.weight, 0.bias", "  modules: 3 (ReLU), 5 (ReLU)"]
    assert "in the modules 3 (ReLU), 5 (ReLU)" in " ".join(text.split())
    assert _lines_fit(text)
    # the monitor report says the same
    from gradtrace.present.markdown import document_markdown
    from gradtrace.present.monitor_doc import monitor_document

    run = MonitorRun(records, acts, context=RunContext(activations=("relu",)))
    report = document_markdown(monitor_document(run, v, {}))
    assert "Named: parameters 0.weight, 0.bias; modules 3 (ReLU), 5 (ReLU); at steps" in report


@pytest.mark.parametrize(
    ("present", "named"),
    [(("tanh",), "Tanh"), (("sigmoid",), "Sigmoid"), (("sigmoid", "tanh"), "Sigmoid or Tanh")],
)
def test_saturated_and_recurrent_modules_carry_their_class(
    present: tuple[str, ...], named: str
) -> None:
    acts = [{"step": t, "name": "1", "kind": "saturated", "fraction": 0.9} for t in range(20)]
    ctx = RunContext(activations=present, recurrent={"rnn": "gru"})
    v = judge(MonitorRun(steady(), acts, context=ctx))
    assert v.modules == {"1": named} and v.parameters == []
    (unseen,) = [f for f in v.findings if f.kind == "unseen"]
    assert unseen.modules == {"rnn": "GRU"} and "the modules rnn (GRU)" in unseen.reason


def test_a_real_sequential_with_dead_relus() -> None:
    """The reproduction: a Sequential MLP whose ReLUs 3 and 5 are dead from the start (biases
    far below 0), monitored with activations=True."""
    import torch

    from gradtrace.monitor import GradientMonitor

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(8, 16),
        torch.nn.ReLU(),
        torch.nn.Linear(16, 16),
        torch.nn.ReLU(),
        torch.nn.Linear(16, 16),
        torch.nn.ReLU(),
        torch.nn.Linear(16, 1),
    )
    with torch.no_grad():
        for i in (2, 4):
            model[i].bias.fill_(-10.0)
    x, y = torch.randn(32, 8), torch.randn(32, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    with GradientMonitor(model, activations=True).attach(opt) as mon:
        for _ in range(10):
            opt.zero_grad()
            torch.nn.functional.mse_loss(model(x), y).backward()
            opt.step()
    v = mon.verdict()
    assert v.status == "vanishing" and v.modules == {"3": "ReLU", "5": "ReLU"}
    assert v.parameters and all("." in p for p in v.parameters)
    assert {f.kind for f in v.findings if f.problem} == {"zero", "dead"}
    text = str(v)
    assert "  modules: 3 (ReLU), 5 (ReLU)" in text.splitlines() and _lines_fit(text)
    (params,) = [line for line in text.splitlines() if line.startswith("  parameters:")]
    assert " 3" not in params and " 5" not in params


def test_an_exactly_zero_gradient_is_named_zero_not_vanishing() -> None:
    records = []
    for t in range(20):
        records += [rec(t, "out.weight", 1.0), rec(t, "in.weight", 0.0)]
    v = judge(MonitorRun(records))
    text = str(v)
    assert [f.kind for f in v.findings] == ["zero"] and "vanishing:" not in text
    assert "- zero: in.weight: gradient exactly 0 at every recorded step" in text
    assert "dead units upstream" in " ".join(text.split()) and _lines_fit(text)
    # zero at most steps, small at the others: vanishing, but the words say zero, not "ratio 0"
    records = []
    for t in range(20):
        records += [rec(t, "out.weight", 1.0), rec(t, "in.weight", 0.0 if t % 5 else 1e-3)]
    (f,) = judge(MonitorRun(records)).findings
    assert f.kind == "vanishing" and "median ratio 0)" not in f.reason
    assert f.reason.endswith("(smallest: in.weight, exactly 0 at 16 of 20 recorded steps)")
