"""``GradientMonitor.run().context``: what the monitor knows of the model and the loop, each field
on a small model built to have (or lack) it, against what the model is by construction and,
where a number is involved, against a direct computation."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from gradtrace.monitor.records import RunContext
from gradtrace.torch import GradientMonitor, load_run


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(20261207)


def steps(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    x: torch.Tensor,
    n: int = 2,
    *,
    micro: int = 1,
    loss: object = None,
) -> None:
    for _ in range(n):
        opt.zero_grad()
        for _ in range(micro):
            out = model(x)
            (out.float().pow(2).mean() if loss is None else loss(out)).backward()  # type: ignore[operator]
        opt.step()


def test_an_mlp_context() -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    with GradientMonitor(model).attach(opt) as mon:
        steps(model, opt, torch.randn(8, 4), 3)
    ctx = mon.run().context
    assert ctx == RunContext(
        activations=("tanh",),
        norms=(),
        residual=False,
        recurrent={},
        cancelled=(),
        frozen=(),
        unused=(),
        tied={},
        optimizers=("SGD",),
        adaptive=False,
        lr=0.05,
        scaler=False,
        param_dtypes=("float32",),
        backward_passes=3,
        optimizer_steps=3,
        world_size=1,
    )


class ConvBn(nn.Module):
    """conv1 (bias) -> bn1: cancelled; conv2 (bias) -> relu -> bn2: not cancelled; head (bias)
    -> BatchNorm1d: cancelled; conv3 (no bias) -> bn3."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, bias=True)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 4, 3, bias=True)
        self.bn2 = nn.BatchNorm2d(4)
        self.conv3 = nn.Conv2d(4, 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(4)
        self.head = nn.Linear(4, 5)
        self.bn_head = nn.BatchNorm1d(5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.bn1(self.conv1(x))
        h = self.bn2(torch.relu(self.conv2(h)))
        h = self.bn3(self.conv3(h)).mean(dim=(2, 3))
        return self.bn_head(self.head(h))


def test_biases_cancelled_by_batchnorm_are_found_by_dataflow() -> None:
    model = ConvBn()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    with torch.no_grad():
        model.eval()
        model(torch.randn(2, 3, 8, 8))  # an evaluation pass: running statistics, no cancelling
        model.train()
    mon = GradientMonitor(model, **{"detail_every": 1}).attach(opt)
    hooked = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())
    assert hooked == 7 + 4  # the 7 modules with a bias (BatchNorms too); the 4 BatchNorms' inputs
    x = torch.randn(6, 3, 8, 8)
    steps(model, opt, x, 2, loss=lambda out: (out * torch.arange(5.0)).pow(3).mean())
    ctx = mon.run().context
    assert ctx.cancelled == ("conv1.bias", "head.bias")
    assert ctx.norms == ("batchnorm",)
    # the hooks are gone after the first step
    assert sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules()) == 0
    # independently: the cancelled biases' gradients are 0 up to rounding, conv2's is not
    g = {r["name"]: r["grad_norm"] for r in mon.records() if r["step"] == 1}
    assert g["conv1.bias"] < 1e-5 * g["conv1.weight"] and g["head.bias"] < 1e-5 * g["head.weight"]
    assert g["conv2.bias"] > 1e-3 * g["conv2.weight"]
    mon.detach()


class Tied(nn.Module):
    """A language-model shape: the head shares the embedding's weight; ``spare`` is unused."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(10, 8)
        self.body = nn.Sequential(nn.Linear(8, 8), nn.GELU(), nn.LayerNorm(8))
        self.spare = nn.Linear(8, 8)
        self.head = nn.Linear(8, 10, bias=False)
        self.head.weight = self.emb.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(self.emb(x)))


def test_tied_frozen_and_unused_parameters() -> None:
    model = Tied()
    model.body[2].weight.requires_grad_(False)  # frozen: the LayerNorm's scale
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-4)
    mon = GradientMonitor(model).attach(opt)
    x = torch.randint(0, 10, (4, 5))
    steps(
        model,
        opt,
        x,
        2,
        loss=lambda out: nn.functional.cross_entropy(out.flatten(0, 1), x.flatten()),
    )
    run = mon.run()
    ctx = run.context
    assert ctx.tied == {"emb.weight": ("head.weight",)}
    assert ctx.frozen == ("body.2.weight",)
    assert ctx.unused == ("spare.weight", "spare.bias")
    assert run.unrecorded == ["body.2.weight", "spare.weight", "spare.bias"]
    assert (ctx.activations, ctx.norms) == (("gelu",), ("layernorm",))
    assert (ctx.optimizers, ctx.adaptive, ctx.lr) == (("AdamW",), True, 3e-4)
    # the shared weight is recorded once, under its first name, with both uses' gradient
    names = [r["name"] for r in run.records if r["step"] == 1]
    assert "head.weight" not in names and names.count("emb.weight") == 1
    mon.detach()


class Recurrent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(3, 6, batch_first=True)
        self.gru = nn.GRU(6, 4, batch_first=True)
        self.out = nn.Linear(4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.gru(self.lstm(x)[0])[0][:, -1])


def test_recurrent_modules_and_residual_blocks() -> None:
    assert GradientMonitor(Recurrent()).context().recurrent == {"lstm": "lstm", "gru": "gru"}
    plain = GradientMonitor(nn.RNN(4, 8, nonlinearity="relu")).context().recurrent
    assert plain == {"": "rnn"}
    encoder = nn.TransformerEncoder(
        nn.TransformerEncoderLayer(16, 2, 32, batch_first=True), 2, enable_nested_tensor=False
    )
    ctx = GradientMonitor(encoder).context()
    assert (ctx.residual, ctx.norms, ctx.activations) == (True, ("layernorm",), ("relu",))

    class BasicBlock(nn.Module):  # torchvision's name for a ResNet block
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(2, 2, 3, padding=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + self.conv(x)

    assert GradientMonitor(nn.Sequential(BasicBlock(), nn.ReLU())).context().residual is True
    assert GradientMonitor(nn.Sequential(nn.Linear(2, 2), nn.ReLU())).context().residual is False


def test_accumulation_counts_backward_passes_and_optimizer_steps() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    mon = GradientMonitor(model, every=2).attach(opt)
    steps(model, opt, torch.randn(8, 4), 3, micro=4)
    ctx = mon.run().context
    assert (ctx.backward_passes, ctx.optimizer_steps) == (12, 3)
    assert sorted({r["step"] for r in mon.records()}) == [0, 2]
    mon.detach()


def poisoned_scaled_steps(
    model: nn.Module, opt: torch.optim.Optimizer, scaler: torch.amp.GradScaler, n: int
) -> None:
    """Steps whose gradients always hold an inf: the scaler skips every optimizer step."""
    for _ in range(n):
        opt.zero_grad()
        scaler.scale(model(torch.randn(4, 3)).pow(2).mean()).backward()
        model[0].weight.grad[0, 0] = math.inf
        scaler.step(opt)
        scaler.update()


def test_a_grad_scaler_that_skips_every_step_without_being_attached() -> None:
    model = nn.Sequential(nn.Linear(3, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cpu")
    mon = GradientMonitor(model).attach(opt)  # no scaler=: the skipped steps are not seen
    poisoned_scaled_steps(model, opt, scaler, 3)
    run = mon.run()
    assert run.records == [] and run.context.scaler is False
    assert (run.context.backward_passes, run.context.optimizer_steps) == (3, 0)
    assert run.context.lr is None  # no recorded step
    mon.detach()
    # attached with the scaler: each skipped step is recorded, marked, and counted
    mon = GradientMonitor(model).attach(opt, scaler=scaler)
    poisoned_scaled_steps(model, opt, scaler, 2)
    run = mon.run()
    assert run.context.scaler is True and run.context.optimizer_steps == 2
    assert {r["step"] for r in run.records if r["skipped"]} == {0, 1}
    mon.detach()


def test_dtypes_two_optimizers_and_a_manual_record() -> None:
    model = nn.Sequential(nn.Linear(3, 3), nn.Sigmoid(), nn.Linear(3, 1, dtype=torch.float64))
    body = torch.optim.SGD(model[0].parameters(), lr=0.1)
    head = torch.optim.RMSprop(model[2].parameters(), lr=0.01)
    mon = GradientMonitor(model).attach(body).attach(head)
    for _ in range(2):
        body.zero_grad()
        head.zero_grad()
        model[2](model[1](model[0](torch.randn(4, 3))).double()).sum().backward()
        body.step()
        head.step()
    ctx = mon.run().context
    assert ctx.param_dtypes == ("float32", "float64")
    assert (ctx.optimizers, ctx.adaptive, ctx.optimizer_steps) == (("SGD", "RMSprop"), True, 2)
    assert ctx.lr == 0.1  # the first recorded step's optimizer
    mon.detach()
    manual = GradientMonitor(model)
    model[2](model[1](model[0](torch.randn(4, 3))).double()).sum().backward()
    manual.record()
    ctx = manual.run().context
    assert (ctx.optimizers, ctx.adaptive, ctx.optimizer_steps, ctx.lr) == ((), None, None, None)


def test_compiled_model_names_and_no_dataflow_hooks() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))
    compiled = torch.compile(model, backend="aot_eager")
    mon = GradientMonitor(compiled)
    assert sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules()) == 0
    compiled(torch.randn(5, 3)).sum().backward()
    mon.record()
    assert [r["name"] for r in mon.records()][:2] == ["0.weight", "0.bias"]
    assert mon.run().context.cancelled == ()  # not looked for under torch.compile


def test_the_context_round_trips_through_json(tmp_path: Path) -> None:
    model = Tied()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    mon = GradientMonitor(model).attach(opt)
    x = torch.randint(0, 10, (4, 5))
    for _ in range(2):
        opt.zero_grad()
        loss = model(x).pow(2).mean()
        mon.observe_loss(loss)
        loss.backward()
        opt.step()
    run = mon.run()
    back = load_run(mon.save(tmp_path / "run.json"))
    assert back.context == run.context and back.losses == run.losses and len(back.losses) == 2
    mon.detach()
