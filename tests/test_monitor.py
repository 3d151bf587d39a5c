"""GradientMonitor: every recorded number against a direct float64 computation of the same
gradient, captured at the same moment; when it records (zero_grad modes, two optimizers, frozen
parameters, accumulation, AMP, torch.compile); and the verdict on planted cases."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import nn

from gradtrace.core.errors import SpecError
from gradtrace.monitor.records import RECORD_KEYS, RunContext
from gradtrace.torch import GradientMonitor, Thresholds

Expected = dict[tuple[int, str], dict[str, float]]


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(20261127)


def mlp(
    widths: list[int], act: type[nn.Module] = nn.Tanh, dtype: torch.dtype = torch.float32
) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1], dtype=dtype))
        if i < len(widths) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


def direct(model: nn.Module, step: int, out: Expected) -> None:
    """The expected record of every parameter with a gradient, computed now in float64."""
    for name, p in model.named_parameters():
        if p.grad is None or not p.requires_grad:
            continue
        g, w = p.grad.detach().double(), p.detach().double()
        out[(step, name)] = {
            "grad_norm": float(torch.linalg.vector_norm(g)),
            "grad_max_abs": float(g.abs().max()),
            "weight_norm": float(torch.linalg.vector_norm(w)),
            "nonfinite": float((~torch.isfinite(g)).sum()),
        }


DETAILED = ("grad_max_abs", "weight_norm")  # measured at detail steps only, else nan


def check(
    records: list[dict],
    expected: Expected,
    rtol: float,
    detail: Callable[[int], bool] = lambda step: step % 10 == 0,
) -> None:
    """Each record against the direct computation; at a step that is not a detail step
    (``detail(step)`` False; by default every 10th of ``every=1``) the detailed values are nan."""
    got = {(r["step"], r["name"]): r for r in records}
    assert len(got) == len(records), "one record per (step, parameter)"
    assert set(got) == set(expected)
    for key, want in expected.items():
        for k, v in want.items():
            if k in DETAILED and not detail(key[0]):
                assert math.isnan(got[key][k]), (key, k)
                continue
            assert got[key][k] == pytest.approx(v, rel=rtol, abs=0), (key, k)


def train(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    steps: int,
    *,
    batch: Callable[[int], torch.Tensor] | None = None,
    expected: Expected | None = None,
    set_to_none: bool = True,
) -> None:
    n_in = next(m for m in model.modules() if isinstance(m, nn.Linear)).in_features
    dtype = next(model.parameters()).dtype
    for t in range(steps):
        x = batch(t) if batch else torch.randn(16, n_in, dtype=dtype)
        opt.zero_grad(set_to_none=set_to_none)
        model(x).pow(2).mean().backward()
        if expected is not None:
            direct(model, t, expected)
        opt.step()


@pytest.mark.parametrize(("dtype", "rtol"), [(torch.float64, 1e-12), (torch.float32, 2e-6)])
def test_recorded_norms_equal_direct_computation(dtype: torch.dtype, rtol: float) -> None:
    model = mlp([5, 16, 16, 3], dtype=dtype)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    expected: Expected = {}
    with GradientMonitor(model, detail_every=1).attach(opt) as mon:
        train(model, opt, 4, expected=expected)
    records = mon.records()
    assert all(list(r) == list(RECORD_KEYS) for r in records)  # exactly these keys, in order
    assert [r["name"] for r in records[:6]] == [n for n, _ in model.named_parameters()]
    check(records, expected, rtol, detail=lambda step: True)
    assert all(r["nonfinite"] == 0 for r in records)


def test_nothing_recorded_until_attached_and_after_detach() -> None:
    model = mlp([3, 4, 1])
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    mon = GradientMonitor(model)
    train(model, opt, 2)
    assert mon.records() == []
    mon.attach(opt)
    train(model, opt, 2)
    mon.detach()
    train(model, opt, 2)
    assert sorted({r["step"] for r in mon.records()}) == [0, 1]  # the optimizer's own count
    assert mon.verdict().status == "healthy"


def test_every_records_every_nth_step() -> None:
    model = mlp([3, 4, 1])
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    expected: Expected = {}
    with GradientMonitor(model, every=10).attach(opt) as mon:
        train(model, opt, 25, expected=expected)
    # recorded steps 0, 10, 20: the first of every 10 recorded steps is a detail step
    want = {k: v for k, v in expected.items() if k[0] % 10 == 0}
    check(mon.records(), want, 2e-6, detail=lambda step: step == 0)
    assert sorted({r["step"] for r in mon.records()}) == [0, 10, 20]


class Branchy(nn.Module):
    """Two heads; only head ``b`` gets a gradient on odd steps (``use_b``)."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 1)
        self.b = nn.Linear(4, 1)
        self.use_b = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.a(x) + (self.b(x) if self.use_b else 0)


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad_modes(set_to_none: bool) -> None:
    """With set_to_none=True a parameter that got no gradient this step has none and is
    skipped; with False it holds zeros, which are recorded as zeros."""
    model = Branchy()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    expected: Expected = {}
    with GradientMonitor(model).attach(opt) as mon:
        for t in range(4):
            model.use_b = t == 1
            opt.zero_grad(set_to_none=set_to_none)
            model(torch.randn(8, 4)).pow(2).mean().backward()
            direct(model, t, expected)
            opt.step()
    check(mon.records(), expected, 2e-6)
    b_steps = {r["step"]: r["grad_norm"] for r in mon.records() if r["name"] == "b.weight"}
    if set_to_none:
        assert sorted(b_steps) == [1]
    else:
        assert sorted(b_steps) == [1, 2, 3] and b_steps[2] == b_steps[3] == 0.0
        assert b_steps[1] > 0


def test_two_optimizers_each_record_their_own_parameters() -> None:
    model = mlp([4, 8, 2])
    body, head = model[0], model[2]
    opt_body = torch.optim.SGD(body.parameters(), lr=0.1)
    opt_head = torch.optim.Adam(head.parameters(), lr=1e-3)
    expected: Expected = {}
    mon = GradientMonitor(model).attach(opt_body).attach(opt_head)
    for t in range(3):
        opt_body.zero_grad()
        opt_head.zero_grad()
        model(torch.randn(8, 4)).pow(2).mean().backward()
        direct(model, t, expected)
        opt_body.step()
        opt_head.step()
    mon.detach()
    check(mon.records(), expected, 2e-6)  # also: no (step, parameter) twice
    with pytest.raises(SpecError, match="already attached"):
        GradientMonitor(model).attach(opt_body).attach(opt_body)


def test_frozen_then_unfrozen_parameters() -> None:
    model = mlp([4, 8, 8, 1])
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    for p in model[0].parameters():
        p.requires_grad_(False)
    expected: Expected = {}
    with GradientMonitor(model).attach(opt) as mon:
        train(model, opt, 2, expected=expected, set_to_none=False)
        for p in model[0].parameters():
            p.requires_grad_(True)
        for t in range(2, 4):
            opt.zero_grad(set_to_none=False)
            model(torch.randn(16, 4)).pow(2).mean().backward()
            direct(model, t, expected)
            opt.step()
    check(mon.records(), expected, 2e-6)
    first = {r["step"] for r in mon.records() if r["name"] == "0.weight"}
    assert first == {2, 3}  # skipped while frozen, not recorded as zero


def test_gradient_accumulation_one_record_per_optimizer_step() -> None:
    model = mlp([4, 8, 1])
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    expected: Expected = {}
    with GradientMonitor(model).attach(opt) as mon:
        for t in range(3):
            opt.zero_grad()
            for _ in range(4):  # micro-batches
                (model(torch.randn(4, 4)).pow(2).mean() / 4).backward()
            direct(model, t, expected)  # the accumulated gradient
            opt.step()
    records = mon.records()
    assert len(records) == 3 * 4
    check(records, expected, 2e-6)


def test_amp_grad_scaler_records_unscaled_norms_and_marks_skipped_steps() -> None:
    model = mlp([4, 8, 1])
    twin = mlp([4, 8, 1])
    twin.load_state_dict(model.state_dict())
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**12)
    expected: Expected = {}
    with GradientMonitor(model, detail_every=1).attach(opt, scaler=scaler) as mon:
        for t in range(3):
            x = torch.randn(8, 4)
            opt.zero_grad()
            twin.zero_grad()
            scaler.scale(model(x).pow(2).mean()).backward()
            twin.load_state_dict(model.state_dict())
            twin(x).pow(2).mean().backward()  # the same gradient, never scaled
            direct(twin, t, expected)
            if t == 1:  # an overflow in one layer: the scaler skips this step
                model[2].weight.grad[0, 3] = math.inf
                expected[(1, "2.weight")] = {"nonfinite": 1.0}
            before = model[0].weight.detach().clone()
            scaler.step(opt)
            scaler.update()
            assert torch.equal(model[0].weight, before) == (t == 1)
    assert scaler.step.__func__ is torch.amp.GradScaler.step  # detach restored it
    records = mon.records()
    check(records, expected, 1e-5, detail=lambda step: True)
    assert {r["step"]: r["skipped"] for r in records} == {0: False, 1: True, 2: False}
    assert mon.verdict().status == "nonfinite" and mon.verdict().layers == ["2.weight"]


def test_torch_compile_on_cpu() -> None:
    # backend="aot_eager": dynamo and AOTAutograd build the compiled forward and backward
    # graphs as inductor does; inductor's C++ code generation takes about 40 s here, cold.
    model = mlp([4, 8, 8, 2])
    compiled = torch.compile(model, backend="aot_eager")
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    expected: Expected = {}
    with GradientMonitor(compiled).attach(opt) as mon:
        for t in range(3):
            opt.zero_grad()
            compiled(torch.randn(8, 4)).pow(2).mean().backward()
            direct(model, t, expected)  # the user's names: no "_orig_mod."
            opt.step()
    check(mon.records(), expected, 2e-6)
    assert mon.records()[0]["name"] == "0.weight"


def test_update_ratio_equals_the_weights_change() -> None:
    model = mlp([4, 8, 1], dtype=torch.float64)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    want = {}
    with GradientMonitor(model, track_updates=True).attach(opt) as mon:
        for t in range(3):
            opt.zero_grad()
            model(torch.randn(8, 4, dtype=torch.float64)).pow(2).mean().backward()
            before = {n: p.detach().clone() for n, p in model.named_parameters()}
            opt.step()
            for n, p in model.named_parameters():
                want[(t, n)] = float(
                    torch.linalg.vector_norm(p.detach() - before[n])
                    / torch.linalg.vector_norm(before[n])
                )
    got = {(r["step"], r["name"]): r["update_ratio"] for r in mon.records()}
    assert got == pytest.approx(want, rel=1e-12)


def test_activation_fractions_equal_direct_counts() -> None:
    model = nn.Sequential(
        nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 32), nn.Sigmoid(), nn.Linear(32, 1)
    )
    with torch.no_grad():
        model[0].bias[:10] = -100.0  # ten dead units
        model[2].weight.mul_(8.0)  # saturate some sigmoid outputs
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    want = {}
    with GradientMonitor(model, activations=True, detail_every=1).attach(opt) as mon:
        for t in range(2):
            x = torch.randn(64, 6)
            opt.zero_grad()
            model(x).pow(2).mean().backward()
            h = model[1](model[0](x))
            s = model[3](model[2](h))
            want[(t, "1")] = float((h <= 0).all(dim=0).double().mean())
            want[(t, "3")] = float(((s - 0.5).abs() > 0.49).double().mean())
            opt.step()
            with torch.no_grad():
                model(x)  # an evaluation pass, not counted
    got = {(a["step"], a["name"]): a["fraction"] for a in mon.activation_records()}
    assert got == pytest.approx(want, rel=1e-6)
    assert want[(0, "1")] >= 10 / 32 and 0 < want[(0, "3")] < 1


def test_manual_record() -> None:
    model = mlp([3, 4, 1])
    mon = GradientMonitor(model)
    expected: Expected = {}
    for t in range(2):
        model.zero_grad()
        model(torch.randn(5, 3)).sum().backward()
        mon.record()
        direct(model, t, expected)
    mon.record(step=7)
    direct(model, 7, expected)
    check(mon.records(), expected, 2e-6)


def test_to_frame_matches_records() -> None:
    model = mlp([3, 4, 1])
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with GradientMonitor(model, track_updates=True).attach(opt) as mon:
        train(model, opt, 3)
    frame = mon.to_frame()
    assert list(frame.columns) == [*RECORD_KEYS, "update_ratio"]
    rows = frame.to_dict("records")
    records = mon.records()
    assert [list(r) for r in rows] == [list(r) for r in records]
    for row, r in zip(rows, records, strict=True):  # equal, or both nan (not measured)
        assert all(row[k] == r[k] or (math.isnan(row[k]) and math.isnan(r[k])) for k in r)
    assert {r["step"] for r in records if math.isnan(r["grad_max_abs"])} == {1, 2}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"every": 0}, "every must be a whole number >= 1, got 0"), ({"every": 2.5}, "got 2.5")],
)
def test_bad_arguments_are_one_line_naming_the_value(kwargs: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        GradientMonitor(mlp([2, 2]), **kwargs)


def test_bad_thresholds() -> None:
    with pytest.raises(SpecError, match="vanishing_ratio must be a positive number, got -1"):
        Thresholds(vanishing_ratio=-1)
    with pytest.raises(SpecError, match="sustained must be in"):
        Thresholds(sustained=1.5)


# ---- the verdict on planted cases ----------------------------------------------------------------


def digits_like(n: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(n, 16)
    y = (x[:, :4].sum(dim=1) > 0).long()
    return x, y


def test_nan_injected_in_one_layer_is_named() -> None:
    model = mlp([8, 16, 16, 16, 2])
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    poison = {"on": False}

    def hook(g: torch.Tensor) -> torch.Tensor:
        if poison["on"]:
            g = g.clone()
            g[3, 5] = math.nan
        return g

    model[4].weight.register_hook(hook)
    with GradientMonitor(model).attach(opt) as mon:
        for t in range(6):
            poison["on"] = t == 4
            train(model, opt, 1)
            assert opt.param_groups  # keep stepping
    v = mon.verdict()
    assert v.status == "nonfinite"
    # the nan entered 4.weight's gradient at step 4; SGD then wrote it into the weights, so from
    # step 5 on every gradient is nan: the verdict names the parameter where it started
    assert v.layers == ["4.weight"] and v.steps == [4, 5]
    bad = [r for r in mon.records() if r["nonfinite"] and r["step"] == 4]
    assert [(r["name"], r["nonfinite"]) for r in bad] == [("4.weight", 1)]
    assert v.advice and "inf/nan" in v.advice[0]


def test_deep_sigmoid_mlp_with_small_init_is_vanishing_naming_its_first_layers() -> None:
    model = mlp([16] + [32] * 19 + [2], act=nn.Sigmoid)
    with torch.no_grad():
        for m in model:
            if isinstance(m, nn.Linear):
                m.weight.normal_(0.0, 0.5 / math.sqrt(m.in_features))
                m.bias.zero_()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = digits_like()
    with GradientMonitor(model).attach(opt) as mon:
        for _ in range(5):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    v = mon.verdict()
    assert v.status == "vanishing"
    assert v.layers[:4] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert "38.weight" not in v.layers  # the output layer keeps its gradient
    assert v.steps == [0, 1, 2, 3, 4]
    # the first fix follows from the diagnosis: the sigmoids' derivative, with the mean field
    first = v.advice[0]
    assert (first.remedy, first.params) == ("activation", {"to": "relu", "init": "he"})
    assert "sigmoid's derivative is at most 1/4" in first.reason
    # the mean-field prediction: sigma_w2 = 0.25, ordered phase, gradients shrink per layer
    t = v.theory
    assert t is not None and t.mean_field.phase == "ordered"
    assert t.mean_field.sigma_w2 == pytest.approx(0.25, rel=0.1)
    assert t.measured_factor == pytest.approx(t.predicted_factor, rel=0.25)
    assert "mean-field theory puts this init in the ordered phase" in first.reason


def test_huge_learning_rate_is_exploding() -> None:
    """Least squares on a linear net: gradient descent diverges once lr > 2 / lambda_max of the
    Hessian H = (2/n) X^T X, the gradient growing by |1 - lr lambda_max| per step."""
    model = nn.Linear(8, 1, dtype=torch.float64)
    x = torch.randn(64, 8, dtype=torch.float64)
    y = torch.randn(64, 1, dtype=torch.float64)
    xb = torch.cat([x, torch.ones(64, 1, dtype=torch.float64)], dim=1)  # the bias as an input
    lam = float(torch.linalg.eigvalsh(2 * xb.T @ xb / 64)[-1])
    lr = 3.0 / lam  # 1.5x the largest stable rate
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    with GradientMonitor(model).attach(opt) as mon:
        for _ in range(16):
            opt.zero_grad()
            (model(x) - y).pow(2).mean().backward()
            opt.step()
    v = mon.verdict()
    assert v.status == "exploding", v.findings
    kinds = [f.kind for f in v.findings]  # doubling per step also outruns the spike window
    assert kinds[0] == "growth" and set(kinds) <= {"growth", "spike"}
    assert v.findings[0].steps == [12, 13, 14, 15] and v.steps[-4:] == [12, 13, 14, 15]
    assert any("Lower the learning rate" in a for a in v.advice)
    g = [math.hypot(*(r["grad_norm"] for r in mon.records() if r["step"] == s)) for s in (14, 15)]
    assert g[1] / g[0] == pytest.approx(abs(1 - lr * lam), rel=1e-2)


def test_a_sensible_run_is_healthy() -> None:
    model = mlp([16, 32, 32, 2], act=nn.ReLU)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = digits_like()
    with GradientMonitor(model, activations=True).attach(opt) as mon:
        for _ in range(30):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    v = mon.verdict()
    assert (v.status, v.layers, v.findings) == ("healthy", [], [])


def test_manual_record_has_no_update_ratio() -> None:
    """Update ratios need an attached optimizer's post-step hook; record() marks them nan."""
    model = mlp([3, 4, 1])
    mon = GradientMonitor(model, track_updates=True)
    model(torch.randn(5, 3)).sum().backward()
    mon.record()
    ratios = [r["update_ratio"] for r in mon.records()]
    assert len(ratios) == 4 and all(math.isnan(u) for u in ratios)


@pytest.fixture(params=["host", "device"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both statistics paths on the CPU: BLAS on the host, and the device path (forced)."""
    from gradtrace.monitor import _stats

    monkeypatch.setattr(_stats, "HOST_BLAS", request.param == "host")
    return str(request.param)


@pytest.mark.parametrize(
    ("entries", "what"),
    [
        ((3e30, -2e30, 1.5e30), "squares overflow float32; the norm fits"),
        ((3e38, -3e38, 1e38), "the norm itself exceeds float32's range"),
        ((3e-25, -2e-25, 1.5e-25), "squares underflow float32"),
    ],
)
def test_float32_norm_overflow_is_recomputed_exactly_and_not_nonfinite(
    path: str, entries: tuple[float, float, float], what: str
) -> None:
    model = mlp([4, 8, 2])
    mon = GradientMonitor(model)
    huge = torch.zeros(8, 4)
    huge[0, 0], huge[3, 2], huge[7, 1] = entries
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    model[0].weight.grad = huge.clone()
    mon.record()
    got = {r["name"]: r for r in mon.records()}
    want = float(torch.linalg.vector_norm(huge.double()))
    naive = float(torch.linalg.vector_norm(huge))  # torch's float32 norm: inf or 0
    assert math.isfinite(want) and want > 0 and (not math.isfinite(naive) or naive == 0)
    # a float32 norm within float32's range comes out of BLAS snrm2 (double accumulation)
    # rounded to float32; the device path and the recomputation beyond float32's range are
    # float64 throughout
    rounded = path == "host" and want < torch.finfo(torch.float32).max
    assert got["0.weight"]["grad_norm"] == pytest.approx(want, rel=1e-7 if rounded else 1e-12)
    assert got["0.weight"]["grad_max_abs"] == pytest.approx(abs(entries[0]), rel=1e-7)
    assert got["0.weight"]["nonfinite"] == 0
    assert mon.verdict().status != "nonfinite"
    # an all-zero gradient: max |g| is +0.0, not -0.0
    assert math.copysign(1.0, got["0.bias"]["grad_max_abs"]) == 1.0
    assert got["0.bias"]["grad_norm"] == 0.0


def _scaled_run(skipped_steps: set[int], steps: int = 20) -> list[dict]:
    """Records of a two-parameter run under a GradScaler; the skipped steps hold an inf."""
    out = []
    for t in range(steps):
        for name, g in (("a", 1.0), ("b", 0.5)):
            bad = t in skipped_steps and name == "b"
            out.append(
                {
                    "step": t,
                    "name": name,
                    "grad_norm": math.inf if bad else g,
                    "grad_max_abs": math.inf if bad else g,
                    "weight_norm": 1.0,
                    "nonfinite": 1 if bad else 0,
                    "skipped": t in skipped_steps,
                }
            )
    return out


def test_a_rare_grad_scaler_skip_is_a_finding_not_a_nonfinite_run() -> None:
    from gradtrace.monitor.records import MonitorRun
    from gradtrace.monitor.verdict import judge

    v = judge(MonitorRun(_scaled_run({7})))
    assert v.status == "healthy"
    (f,) = [f for f in v.findings if f.kind == "skipped"]
    assert f.steps == [7] and f.layers == ["b"]
    assert "skipped 1 of 20 steps" in f.reason and "the scaler at work" in f.reason
    assert not f.problem and v.advice == []


def test_persistent_grad_scaler_skips_are_nonfinite_without_advising_a_scaler() -> None:
    from gradtrace.monitor.records import MonitorRun
    from gradtrace.monitor.verdict import judge

    run = MonitorRun(_scaled_run({2, 5, 9}))  # 3 of 20 > 10 %
    v = judge(run)
    assert v.status == "nonfinite" and v.layers == ["b"] and v.steps == [2, 5, 9]
    assert "persistent" in v.findings[0].reason
    assert v.advice and not any("train with torch.amp.GradScaler" in a for a in v.advice)
    assert judge(run, Thresholds(skipped_fraction=0.2)).status == "healthy"  # 3 of 20 <= 20 %
    # without a scaler, the same inf is a non-finite run; a scaler is advised for a float16
    # model, first, and not for a float32 one (whose inf comes from elsewhere)
    plain = [{k: v for k, v in r.items() if k != "skipped"} for r in run.records]
    v = judge(MonitorRun(plain, context=RunContext(param_dtypes=("float16",))))
    assert v.status == "nonfinite" and v.advice[0].remedy == "loss_scale"
    assert v.advice[0].params == {"how": "GradScaler"}
    v = judge(MonitorRun(plain, context=RunContext(param_dtypes=("float32",))))
    assert v.status == "nonfinite" and "loss_scale" not in {a.remedy for a in v.advice}


def _first_step(model: nn.Module, n_in: int) -> GradientMonitor:
    mon = GradientMonitor(model)
    x, y = torch.randn(256, n_in), torch.randint(0, 10, (256,))
    nn.functional.cross_entropy(model(x), y).backward()
    mon.record()
    return mon


def _fitted_factor(model: nn.Module, weights: list[str]) -> float:
    """Independently: the least-squares per-layer factor of the named weights' gradient norms,
    computed in float64 from the .grad tensors themselves."""
    p = dict(model.named_parameters())
    v = np.log10([float(p[n].grad.detach().double().norm()) for n in weights])
    return float(10.0 ** -np.polyfit(np.arange(len(v), dtype=float), v, 1)[0])


def test_a_shallow_relu_net_gets_no_mean_field_comparison() -> None:
    model = mlp([16, 32, 32, 10], act=nn.ReLU)  # 3 Linear layers: 1 hidden weight
    assert _first_step(model, 16).verdict().theory is None
    deeper = mlp([16] + [32] * 4 + [10], act=nn.ReLU)  # 3 hidden weights: compared
    assert _first_step(deeper, 16).verdict().theory is not None
    mon = _first_step(deeper, 16)
    assert mon.verdict(Thresholds(theory_min_hidden=4)).theory is None


def test_deep_relu_mlp_at_pytorch_default_init_predicted_matches_measured() -> None:
    """PyTorch's default init: W, b ~ U(+-1/sqrt(fan_in)), sigma_w2 = 1/3, sigma_b2 > 0, so q
    reaches q* > 0 and the weight-gradient factor is sqrt(chi_1) = sqrt(sigma_w2 / 2) past the
    transient (the output-side half). Tolerance: 15 % (one batch of 256 at width 128)."""
    model = mlp([32] + [128] * 21 + [10], act=nn.ReLU)
    t = _first_step(model, 32).verdict().theory
    assert t is not None and t.basis == "sqrt(chi_1)"
    lins = [m for m in model if isinstance(m, nn.Linear)][1:]
    sw = float(
        np.mean([m.in_features * float(m.weight.detach().double().pow(2).mean()) for m in lins])
    )
    assert t.predicted_factor == pytest.approx(math.sqrt(sw / 2), rel=1e-9)
    assert len(t.layers) == 10 and t.layers[-1] == "40.weight"
    assert t.measured_factor == pytest.approx(_fitted_factor(model, t.layers), rel=1e-6)
    assert t.measured_factor == pytest.approx(t.predicted_factor, rel=0.15)


def test_deep_relu_mlp_without_bias_predicts_flat_weight_gradients() -> None:
    """No bias: q has no fixed point > 0, activations change by sqrt(sigma_w2 / 2) per layer
    forward and delta by sqrt(chi_1) = sqrt(sigma_w2 / 2) backward: a factor of 1 (within 15 %)."""
    lins = [nn.Linear(32, 128, bias=False)]
    lins += [nn.Linear(128, 128, bias=False) for _ in range(10)] + [nn.Linear(128, 10, bias=False)]
    with torch.no_grad():
        for m in lins:
            m.weight.normal_(0.0, 1.0 / math.sqrt(m.in_features))  # sigma_w2 = 1: ordered
    model = nn.Sequential(*[m for lin in lins for m in (lin, nn.ReLU())][:-1])
    v = _first_step(model, 32).verdict()
    t = v.theory
    assert t is not None and t.basis == "sqrt(chi_1) sqrt(2/sigma_w2)"
    assert t.predicted_factor == pytest.approx(1.0, rel=1e-9)
    assert t.measured_factor == pytest.approx(_fitted_factor(model, t.layers), rel=1e-6)
    assert t.measured_factor == pytest.approx(1.0, rel=0.15)
    assert not any("Mean-field theory" in a for a in v.advice)


def test_mean_field_advice_only_when_the_phase_explains_the_verdict() -> None:
    from gradtrace.monitor.records import MonitorRun
    from gradtrace.monitor.verdict import judge

    model = mlp([16] + [32] * 6 + [10], act=nn.Sigmoid)  # ordered phase (sigma_w2 ~ 1/3)
    mon = _first_step(model, 16)
    run = mon.run()
    assert run.mlp is not None and judge(run).theory.mean_field.phase == "ordered"
    # a learning-rate explosion on the same net: growth, but the ordered phase does not explain it
    grown = [
        dict(r, step=s, grad_norm=r["grad_norm"] * 10.0**s) for s in range(12) for r in run.records
    ]
    v = judge(MonitorRun(grown, mlp=run.mlp))
    assert v.status == "exploding"
    assert not any("Mean-field theory" in a for a in v.advice)
    steady = [dict(r, step=s) for s in range(12) for r in run.records]
    v = judge(MonitorRun(steady, mlp=run.mlp), Thresholds(vanishing_ratio=1e-12))
    assert v.status == "healthy" and not any("Mean-field theory" in a for a in v.advice)


def test_readme_example_theory_numbers() -> None:
    """README, "Watching a real PyTorch model": 0.141 predicted against 0.133 measured."""
    load_digits = pytest.importorskip("sklearn.datasets").load_digits
    torch.manual_seed(0)
    x, y = (torch.tensor(a) for a in load_digits(return_X_y=True))
    layers = [nn.Linear(64, 32)] + [m for _ in range(9) for m in (nn.Sigmoid(), nn.Linear(32, 32))]
    model = nn.Sequential(*layers, nn.Sigmoid(), nn.Linear(32, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    with GradientMonitor(model).attach(opt) as mon:
        for _ in range(30):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x.float() / 16), y).backward()
            opt.step()
    v = mon.verdict()
    t = v.theory
    assert t is not None
    assert (f"{t.predicted_factor:.3g}", f"{t.measured_factor:.3g}") == ("0.141", "0.133")
    assert v.status == "vanishing" and "mean-field theory" in v.advice[0]


def test_each_fix_is_advised_once() -> None:
    """Growth, a spike and a nan in one run: three findings whose rules each propose to clip
    the gradient norm; it is advised once, and every remedy appears at most once."""
    from gradtrace.monitor.records import MonitorRun
    from gradtrace.monitor.verdict import judge

    records = [
        {
            "step": t,
            "name": "w",
            "grad_norm": math.nan if t == 19 else (1.0 if t < 10 else 1e6),
            "grad_max_abs": math.nan if t == 19 else 1.0,
            "weight_norm": 1e9,
            "nonfinite": int(t == 19),
        }
        for t in range(20)
    ]
    v = judge(MonitorRun(records))
    assert {f.kind for f in v.findings} == {"nonfinite", "growth", "spike"}
    remedies = [a.remedy for a in v.advice]
    assert remedies.count("clip") == 1 and len(remedies) == len(set(remedies))
    # the norm rose a millionfold before the nan: a divergence, so the learning rate comes first
    assert remedies[:2] == ["lower_lr", "clip"]
