"""The monitor's recording engine: no host read inside a recorded step on the device path (run on
the CPU with every device-to-host read of a tensor made to raise), what ``nonfinite`` counts on
each path, the detail steps and the activation sampling, dead units and nan, loss records, and
one host copy per flush. Every number against a direct float64 computation of the same tensors,
captured at the same moment."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch
from torch import nn

from gradtrace.core.errors import SpecError
from gradtrace.monitor import _stats
from gradtrace.monitor import recorder as monitor_module
from gradtrace.torch import GradientMonitor

HOST_READS = ("item", "tolist", "cpu", "numpy", "__bool__", "__float__", "__int__", "__index__")


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(20261206)


@pytest.fixture
def device_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The device (non-BLAS) statistics path, on the CPU."""
    monkeypatch.setattr(_stats, "HOST_BLAS", False)


@contextmanager
def no_host_reads() -> Iterator[None]:
    """Every way of reading a tensor's values to the host raises inside this block."""
    saved = {name: getattr(torch.Tensor, name) for name in HOST_READS}

    def forbid(name: str) -> object:
        def f(*args: object, **kwargs: object) -> None:
            raise AssertionError(f"host read inside a recorded step: Tensor.{name}")

        return f

    try:
        for name in HOST_READS:
            setattr(torch.Tensor, name, forbid(name))
        yield
    finally:
        for name, f in saved.items():
            setattr(torch.Tensor, name, f)


def net() -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.Sigmoid(), nn.Linear(16, 2)
    )


def direct(grads: dict[str, torch.Tensor], weights: dict[str, torch.Tensor]) -> dict:
    """The expected statistics, in float64, of gradients and weights cloned at the step."""
    out = {}
    for name, g in grads.items():
        g64, w64 = g.double(), weights[name].double()
        finite = g64[torch.isfinite(g64)]
        out[name] = {
            "grad_norm": float(torch.linalg.vector_norm(g64)),
            "grad_max_abs": float(g64.abs().max()),
            "weight_norm": float(torch.linalg.vector_norm(w64)),
            "nonfinite": int((~torch.isfinite(g64)).sum()),
            "finite_norm": float(torch.linalg.vector_norm(finite)),
        }
    return out


def test_the_guard_catches_host_reads() -> None:
    t = torch.ones(3)
    with no_host_reads():
        for read in (
            lambda: bool(t[0]),
            lambda: float(t[0]),
            lambda: t[0].item(),
            lambda: t.tolist(),
            lambda: t.cpu(),
            lambda: t.numpy(),
            lambda: int(t[0]),
        ):
            with pytest.raises(AssertionError, match="host read"):
                read()
    assert bool(t[0]) and t.tolist() == [1.0, 1.0, 1.0]  # restored


@pytest.mark.parametrize("count_nonfinite", [False, True])
def test_device_path_reads_nothing_back_inside_a_step(
    device_path: None, count_nonfinite: bool
) -> None:
    """Forward (activation hooks armed), observe_loss, backward, a planted nan and inf, and the
    optimizer step with every hook (statistics, update ratios, the backward counter) run with
    host reads forbidden; the records, read afterwards, equal a direct computation."""
    model = net()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    mon = GradientMonitor(
        model,
        detail_every=2,
        track_updates=True,
        activations=True,
        count_nonfinite=count_nonfinite,
    ).attach(opt)
    want: dict[int, dict] = {}
    updates: dict[tuple[int, str], float] = {}
    losses, acts = {}, {}
    for t in range(5):
        x = torch.randn(32, 6)
        with no_host_reads():
            opt.zero_grad()
            out = model(x)
            loss = out.pow(2).mean()
            mon.observe_loss(loss)
            loss.backward()
            if t == 4:  # three inf/nan entries in one gradient, at the last (a detail) step
                g = model[2].weight.grad
                g[0, 0], g[1, 1], g[2, 2] = math.nan, math.inf, -math.inf
            grads = {n: p.grad.clone() for n, p in model.named_parameters()}
            weights = {n: p.detach().clone() for n, p in model.named_parameters()}
            with torch.no_grad():  # the activations of this forward, before the update
                h = model[1](model[0](x))
                s = model[3](model[2](h))
            opt.step()
        want[t] = direct(grads, weights)
        for n, p in model.named_parameters():
            updates[(t, n)] = float(
                torch.linalg.vector_norm(p.detach().double() - weights[n].double())
                / torch.linalg.vector_norm(weights[n].double())
            )
        losses[t] = float(loss.detach().double())
        acts[(t, "1")] = float((h == 0).all(dim=0).double().mean())
        acts[(t, "3")] = float(((s - 0.5).abs() > 0.49).double().mean())
    records = mon.records()
    assert len(records) == 5 * 6 and sum(r["nonfinite"] > 0 for r in records) == 1
    for r in records:
        w = want[r["step"]][r["name"]]
        detail = r["step"] % 2 == 0
        bad = w["nonfinite"]
        if bad:  # inf and nan entries: the norm is nan, the count 3 or "at least one"
            assert math.isnan(r["grad_norm"])
            assert r["nonfinite"] == (bad if count_nonfinite else 1)
        else:
            assert r["grad_norm"] == pytest.approx(w["grad_norm"], rel=1e-12)
            assert r["nonfinite"] == 0
        assert r["weight_norm"] == pytest.approx(w["weight_norm"], rel=1e-12)  # track_updates
        if detail:
            assert r["grad_max_abs"] == pytest.approx(w["grad_max_abs"], rel=1e-7, nan_ok=True)
        else:
            assert math.isnan(r["grad_max_abs"])
        if not math.isnan(updates[(r["step"], r["name"])]):  # w_after - w_before in float32
            assert r["update_ratio"] == pytest.approx(updates[(r["step"], r["name"])], rel=1e-6)
    assert {r["step"]: r["loss"] for r in mon.run().losses} == pytest.approx(losses, rel=1e-12)
    got = {(a["step"], a["name"]): a["fraction"] for a in mon.activation_records()}
    assert got == pytest.approx({k: v for k, v in acts.items() if k[0] % 2 == 0}, rel=1e-12)
    assert mon.run().context.backward_passes == 5
    mon.detach()


@pytest.mark.parametrize("path", ["host", "device"])
@pytest.mark.parametrize("count_nonfinite", [False, True])
def test_nonfinite_counts_exactly_on_the_cpu_and_flags_on_a_device(
    monkeypatch: pytest.MonkeyPatch, path: str, count_nonfinite: bool
) -> None:
    monkeypatch.setattr(_stats, "HOST_BLAS", path == "host")
    model = net()
    mon = GradientMonitor(model, count_nonfinite=count_nonfinite)
    model(torch.randn(8, 6)).sum().backward()
    g = model[0].weight.grad
    g[0, :3] = math.nan
    g[1, :2] = math.inf
    model[2].bias.grad[4] = -math.inf  # inf alone: the norm is inf
    mon.record()
    got = {r["name"]: r for r in mon.records()}
    exact = path == "host" or count_nonfinite
    assert got["0.weight"]["nonfinite"] == (5 if exact else 1)
    assert got["2.bias"]["nonfinite"] == 1
    assert math.isnan(got["0.weight"]["grad_norm"]) and got["2.bias"]["grad_norm"] == math.inf
    assert all(r["nonfinite"] == 0 for n, r in got.items() if n not in ("0.weight", "2.bias"))


def test_detail_steps_with_every_and_gradient_accumulation() -> None:
    """every=2, detail_every=3: recorded steps 0, 2, 4, ...; details at the 0th, 3rd, 6th record
    (steps 0, 6, 12); activations from the last training forward before each detail step."""
    model = net()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    mon = GradientMonitor(model, every=2, detail_every=3, activations=True).attach(opt)
    want: dict[tuple[int, str], dict] = {}
    acts = {}
    for t in range(14):
        opt.zero_grad()
        for _ in range(2):  # micro-batches: the last forward counts
            x = torch.randn(16, 6)
            (model(x).pow(2).mean() / 2).backward()
        with torch.no_grad():
            model(torch.randn(4, 6))  # an evaluation pass in between is not seen
        if t % 2 == 0:
            grads = {n: p.grad.clone() for n, p in model.named_parameters()}
            weights = {n: p.detach().clone() for n, p in model.named_parameters()}
            for n, w in direct(grads, weights).items():
                want[(t, n)] = w
            h = model[1](model[0](x))
            acts[(t, "1")] = float((h == 0).all(dim=0).double().mean())
            acts[(t, "3")] = float(((model[3](model[2](h)) - 0.5).abs() > 0.49).double().mean())
        opt.step()
    records = mon.records()
    assert sorted({r["step"] for r in records}) == list(range(0, 14, 2))
    for r in records:
        w = want[(r["step"], r["name"])]
        assert r["grad_norm"] == pytest.approx(w["grad_norm"], rel=1e-7)
        if r["step"] in (0, 6, 12):
            assert r["grad_max_abs"] == pytest.approx(w["grad_max_abs"], rel=1e-7)
            assert r["weight_norm"] == pytest.approx(w["weight_norm"], rel=1e-7)
        else:
            assert math.isnan(r["grad_max_abs"]) and math.isnan(r["weight_norm"])
    got = {(a["step"], a["name"]): a["fraction"] for a in mon.activation_records()}
    assert got == pytest.approx({k: v for k, v in acts.items() if k[0] in (0, 6, 12)}, rel=1e-12)


def test_activation_hooks_exist_only_before_detail_steps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The hooks are registered before a detail step and removed after it: the other forward
    passes run no hook (and no tensor op for the monitor)."""
    model = net()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    mon = GradientMonitor(model, detail_every=4, activations=True).attach(opt)
    measured = []
    hooked = []
    real_detach = torch.Tensor.detach

    def detach(self: torch.Tensor) -> torch.Tensor:  # the hooks' first tensor op
        measured.append(step[0])
        return real_detach(self)

    step = [0]
    for t in range(9):
        step[0] = t
        hooked.append(len(model[1]._forward_hooks) + len(model[3]._forward_hooks))
        opt.zero_grad()
        with monkeypatch.context() as m:
            m.setattr(torch.Tensor, "detach", detach)
            loss = model(torch.randn(8, 6)).pow(2).mean()
        loss.backward()
        opt.step()
    assert hooked == [2, 0, 0, 0, 2, 0, 0, 0, 2]
    assert measured == [0, 0, 4, 4, 8, 8]  # two activation modules measured per forward
    assert sorted({a["step"] for a in mon.activation_records()}) == [0, 4, 8]
    mon.detach()
    assert len(model[1]._forward_hooks) == 0


class NanUnits(nn.Module):
    """A ReLU whose input has a nan unit (0), a dead unit (1) and live ones."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 6)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.lin(x).clone()
        z[:, 0] = math.nan
        z[:, 1] = -1.0
        z[:, 2] = torch.where(torch.arange(len(x)) == 3, 0.5, -0.5)  # alive in one sample only
        return self.act(z).nan_to_num().sum(dim=1)


def test_nan_activations_are_not_dead_units() -> None:
    model = NanUnits()
    mon = GradientMonitor(model, activations=True)
    x = torch.randn(8, 4)
    model(x).sum().backward()
    mon.record()
    with torch.no_grad():
        a = model.act(torch.cat([torch.full((8, 1), math.nan), model.lin(x)[:, 1:]], dim=1))
    (r,) = mon.activation_records()
    assert (r["name"], r["kind"]) == ("act", "dead")
    z = model.lin(x).detach().clone()
    z[:, 0], z[:, 1] = math.nan, -1.0
    z[:, 2] = torch.where(torch.arange(8) == 3, 0.5, -0.5)
    dead = (torch.relu(z) == 0).all(dim=0)  # nan == 0 is False: unit 0 is not dead
    assert dead[1] and not dead[0] and not dead[2]
    assert r["fraction"] == pytest.approx(float(dead.double().mean()), rel=1e-12)
    assert a.isnan()[:, 0].all()


def test_observe_loss_averages_micro_batches_and_checks_its_input() -> None:
    model = net()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    mon = GradientMonitor(model, every=2).attach(opt)
    want = {}
    for t in range(4):
        opt.zero_grad()
        parts = []
        for _ in range(3):
            loss = model(torch.randn(4, 6)).pow(2).mean()
            mon.observe_loss(loss)
            (loss / 3).backward()
            parts.append(float(loss.detach().double()))
        want[t] = sum(parts) / 3
        opt.step()
    mon.observe_loss(2.5)  # a number, for a step that never comes
    assert {r["step"]: r["loss"] for r in mon.run().losses} == pytest.approx(
        {0: want[0], 2: want[2]}, rel=1e-12
    )
    with pytest.raises(SpecError, match=r"observe_loss needs a scalar loss, got .* shape \(3,\)"):
        mon.observe_loss(torch.ones(3))
    with pytest.raises(SpecError, match="observe_loss needs a scalar tensor or a number, got str"):
        mon.observe_loss("0.5")  # type: ignore[arg-type]


def test_one_host_copy_per_flush(monkeypatch: pytest.MonkeyPatch, device_path: None) -> None:
    """Recorded steps stay as tensors until a flush, which copies them all in one transfer; a
    flush every FLUSH_EVERY steps keeps memory bounded and loses nothing."""
    monkeypatch.setattr(monitor_module, "FLUSH_EVERY", 4)
    model = net()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    mon = GradientMonitor(model, track_updates=True).attach(opt)
    copies = []
    real_cpu = torch.Tensor.cpu

    def cpu(self: torch.Tensor, *args: object, **kwargs: object) -> torch.Tensor:
        copies.append(self.numel())
        return real_cpu(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "cpu", cpu)
    norms = {}
    for t in range(10):
        opt.zero_grad()
        model(torch.randn(8, 6)).pow(2).mean().backward()
        norms[t] = float(torch.linalg.vector_norm(model[0].weight.grad.double()))
        opt.step()
    assert len(copies) == 2  # after the 4th and 8th recorded step
    records = mon.records()
    assert len(copies) == 3  # the two left
    got = {r["step"]: r["grad_norm"] for r in records if r["name"] == "0.weight"}
    assert got == pytest.approx(norms, rel=1e-12)
    assert mon.records() == records and len(copies) == 3  # nothing pending: no copy


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"detail_every": 0}, "detail_every must be a whole number >= 1, got 0"),
        ({"detail_every": 1.5}, "detail_every must be a whole number >= 1, got 1.5"),
        ({"every": True}, "every must be a whole number >= 1, got True"),
    ],
)
def test_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(SpecError, match=f"^{message}$"):
        GradientMonitor(net(), **kwargs)
