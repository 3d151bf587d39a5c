"""The monitor where people train: the Hugging Face ``Trainer`` callback and the Lightning
callback against gradients captured independently, in float64, at the moment each framework
clips them (before the clip); TensorBoard scalars with nan and inf read back from the event file;
and which process writes files."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from gradtrace.torch import write_scalars

Captured = dict[tuple[int, str], dict[str, float]]


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(20261206)


def capture(model: nn.Module, step: int, out: Captured) -> None:
    """Every parameter's gradient, now, in float64 (the oracle)."""
    for name, p in model.named_parameters():
        if p.grad is None:
            continue
        g, w = p.grad.detach().double(), p.detach().double()
        out[(step, name)] = {
            "grad_norm": float(torch.linalg.vector_norm(g)),
            "grad_max_abs": float(g.abs().max()),
            "weight_norm": float(torch.linalg.vector_norm(w)),
            "nonfinite": float((~torch.isfinite(g)).sum()),
        }


def total(c: Captured, step: int) -> float:
    return math.hypot(*(v["grad_norm"] for (s, _), v in c.items() if s == step))


def check(records: list[dict[str, Any]], want: Captured, rtol: float = 2e-6) -> None:
    """Every record against the oracle: the same (step, name) pairs, the same numbers (a
    ``grad_max_abs`` or ``weight_norm`` the monitor did not measure, nan, is not compared)."""
    got = {(r["step"], r["name"]): r for r in records}
    assert len(got) == len(records), "one record per (step, parameter)"
    assert set(got) == set(want)
    for key, w in want.items():
        assert got[key]["nonfinite"] == w["nonfinite"], key
        assert got[key]["grad_norm"] == pytest.approx(w["grad_norm"], rel=rtol, abs=0), key
        for k in ("grad_max_abs", "weight_norm"):
            if not math.isnan(got[key][k]):
                assert got[key][k] == pytest.approx(w[k], rel=rtol, abs=0), (key, k)


# ---- Lightning -----------------------------------------------------------------------------------


@pytest.mark.filterwarnings(
    # raised inside Lightning 2.6 against torch 2.13, and its advice for tiny CPU loaders
    r"ignore:`isinstance\(treespec, LeafSpec\)` is deprecated:FutureWarning",
    "ignore:The 'train_dataloader' does not have many workers",
)
def test_lightning_callback_records_before_clipping(tmp_path: Path) -> None:
    import lightning.pytorch as pl

    from gradtrace.torch import GradientMonitorCallback

    pre: Captured = {}
    post: Captured = {}

    class Net(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))

        def training_step(self, batch: list[torch.Tensor], _i: int) -> torch.Tensor:
            x, y = batch
            return (self.body(x) - y).pow(2).mean()

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=0.05)

        def configure_gradient_clipping(self, optimizer: Any, **kwargs: Any) -> None:
            capture(self, self.trainer.global_step, pre)  # where Lightning clips
            super().configure_gradient_clipping(optimizer, **kwargs)
            capture(self, self.trainer.global_step, post)

    data = torch.utils.data.TensorDataset(torch.randn(48, 4), 10 * torch.randn(48, 1))
    callback = GradientMonitorCallback()
    trainer = pl.Trainer(
        max_epochs=1,
        accumulate_grad_batches=2,
        gradient_clip_val=0.01,
        callbacks=[callback],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(Net(), torch.utils.data.DataLoader(data, batch_size=8))
    assert callback.monitor is not None
    check(callback.monitor.records(), pre)
    for step in range(3):  # 6 batches, 2 per optimizer step; every step clipped
        assert total(post, step) == pytest.approx(0.01, rel=1e-4) and total(pre, step) > 1


class Writer:
    """Keeps what a SummaryWriter would be given."""

    def __init__(self) -> None:
        self.scalars: list[tuple[str, float, int]] = []
        self.flushed = False

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        self.scalars.append((tag, value, step))

    def flush(self) -> None:
        self.flushed = True


@pytest.mark.parametrize("rank", [0, 1])
def test_lightning_callback_writes_scalars_on_global_rank_zero_only(rank: int) -> None:
    from gradtrace.torch import GradientMonitorCallback

    model = nn.Linear(3, 2)
    callback = GradientMonitorCallback()
    writer = Writer()
    trainer = SimpleNamespace(
        global_step=0, is_global_zero=rank == 0, logger=SimpleNamespace(experiment=writer)
    )
    callback.on_fit_start(trainer, model)
    model(torch.randn(5, 3)).pow(2).sum().backward()
    callback.on_before_optimizer_step(trainer, model, None)
    callback.on_fit_end(trainer, model)
    assert callback.monitor is not None
    want = {
        (f"grad_norm/{n}", 0): float(torch.linalg.vector_norm(p.grad.double()))
        for n, p in model.named_parameters()
    }
    got = {
        (t, s): v
        for t, v, s in writer.scalars
        if t.startswith("grad_norm/") and t != "grad_norm/_global"
    }
    if rank:
        assert writer.scalars == [] and not writer.flushed
    else:
        assert got == pytest.approx(want, rel=2e-6) and writer.flushed


# ---- TensorBoard: nan that means "not measured", inf, and the global norm ---------------------


def test_tensorboard_skips_unmeasured_nan_writes_inf_and_a_nan_global_norm(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from torch.utils.tensorboard import SummaryWriter

    nan, inf = math.nan, math.inf

    def rec(step: int, name: str, g: float, m: float, w: float, bad: int = 0) -> dict[str, Any]:
        return {
            "step": step,
            "name": name,
            "grad_norm": g,
            "grad_max_abs": m,
            "weight_norm": w,
            "nonfinite": bad,
        }

    records = [
        rec(0, "a", 3.0, 2.0, 5.0),
        rec(0, "b", 4.0, 4.0, 1.0),
        rec(1, "a", 0.5, nan, nan),  # grad_max_abs, weight_norm not measured: skipped
        rec(1, "b", 1e30, nan, 2.0),  # its square overflows float32
        rec(2, "a", inf, inf, 5.0, bad=1),  # an overflow: written
        rec(2, "b", 1.0, 1.0, 2.0),
        rec(3, "a", nan, nan, 5.0, bad=3),  # a nan gradient: its nan max |g| is written
        rec(3, "b", inf, inf, 2.0, bad=1),
    ]
    with SummaryWriter(tmp_path) as writer:
        n = write_scalars(records, writer)
    acc = EventAccumulator(str(tmp_path), size_guidance={"scalars": 0})
    acc.Reload()
    read = {(t, e.step): e.value for t in acc.Tags()["scalars"] for e in acc.Scalars(t)}
    assert n == len(read)
    written = {
        (f"{k}/{r['name']}", r["step"]): r[k]
        for r in records
        for k in ("grad_norm", "grad_max_abs", "weight_norm")
        if not (math.isnan(r[k]) and k != "grad_norm" and not r["nonfinite"])
    }
    assert ("grad_max_abs/a", 1) not in written and ("weight_norm/a", 1) not in written
    assert ("grad_max_abs/a", 3) in written and ("grad_max_abs/a", 2) in written
    # the global norm, independently: NumPy's float64 norm of the same numbers, in which nan
    # and inf propagate as they do through the norm of the whole gradient
    for step in range(4):
        g = np.array([r["grad_norm"] for r in records if r["step"] == step])
        written[("grad_norm/_global", step)] = float(np.linalg.norm(g))
    assert set(read) == set(written)
    for key, want in written.items():  # TensorBoard keeps float32
        assert read[key] == pytest.approx(want, rel=1e-6, nan_ok=True), key
    assert math.isnan(read[("grad_norm/_global", 3)]) and read[("grad_norm/_global", 2)] == inf


def test_global_norm_of_huge_finite_norms_does_not_overflow() -> None:
    from gradtrace.torch.tensorboard import global_norms

    records = [
        {"step": 7, "name": n, "grad_norm": g} for n, g in (("a", 3e200), ("b", 4e200))
    ]  # the sum of squares, 2.5e401, is beyond float64
    assert global_norms(records) == {7: pytest.approx(5e200, rel=1e-15)}
