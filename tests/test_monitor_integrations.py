"""The monitor where people train: the Hugging Face ``Trainer`` callback and the Lightning
callback against gradients captured independently, in float64, at the moment each framework
clips them (before the clip); TensorBoard scalars with nan and inf read back from the event file;
and which process writes files."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from gradtrace.core.errors import SpecError
from gradtrace.torch import GradientMonitor, load_run, write_scalars

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


# ---- Hugging Face Trainer ------------------------------------------------------------------------

transformers = pytest.importorskip("transformers")


class Tokens(torch.utils.data.Dataset):
    """``n`` random token sequences, each its own label (causal LM)."""

    def __init__(self, n: int, length: int = 12, vocab: int = 64) -> None:
        self.x = torch.randint(0, vocab, (n, length))

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.x[i], "labels": self.x[i]}


def tiny_gpt2() -> nn.Module:
    config = transformers.GPT2Config(
        n_layer=2,
        n_embd=32,
        n_head=2,
        vocab_size=64,
        n_positions=32,
        bos_token_id=0,
        eos_token_id=0,
    )
    return transformers.GPT2LMHeadModel(config)


class Regressor(nn.Module):
    """A plain module with a ``loss`` output and no ``**kwargs``: the Trainer passes it no
    ``num_items_in_batch`` and averages its micro-batch losses."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 1))

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"loss": (self.body(x).squeeze(-1) - labels).pow(2).mean()}


class Points(torch.utils.data.Dataset):
    def __init__(self, n: int) -> None:
        self.x, self.y = torch.randn(n, 6), torch.randn(n)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.x[i], "labels": self.y[i]}


class Oracle(transformers.TrainerCallback):
    """The gradients in float64 where the Trainer clips them: just before (``pre``) and just
    after (``post``) each call of ``accelerate.Accelerator.clip_grad_norm_``, the public call
    through which the Trainer clips, once per optimizer step (see the ``oracle`` fixture); at a
    step without that call (``max_grad_norm`` 0 in older releases) ``pre`` is taken in
    ``on_pre_optimizer_step``, the gradients the optimizer gets. Independent of the callback's
    wrapping of ``torch.nn.utils``."""

    def __init__(self) -> None:
        self.pre: Captured = {}
        self.post: Captured = {}
        self.model: nn.Module | None = None
        self.state: Any = None
        self.calls = 0

    def step(self) -> int:
        """The Trainer's step; without the callback registered, the count of clip calls."""
        return int(self.state.global_step) if self.state is not None else self.calls

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.model, self.state = kwargs["model"], state

    def on_pre_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        assert self.model is not None
        if all(s != state.global_step for s, _ in self.pre):
            capture(self.model, state.global_step, self.pre)


@pytest.fixture
def oracle(monkeypatch: pytest.MonkeyPatch) -> Oracle:
    import accelerate

    o = Oracle()
    original = accelerate.Accelerator.clip_grad_norm_

    def clip_grad_norm_(accelerator: Any, parameters: Any, max_norm: float, **kwargs: Any) -> Any:
        assert o.model is not None
        step = o.step()
        capture(o.model, step, o.pre)
        norm = original(accelerator, parameters, max_norm, **kwargs)
        capture(o.model, step, o.post)
        o.calls += 1
        return norm

    monkeypatch.setattr(accelerate.Accelerator, "clip_grad_norm_", clip_grad_norm_)
    return o


class Logged(transformers.TrainerCallback):
    """The Trainer's own loss of each optimizer step (``logging_steps=1``; rounded to 4
    decimals before transformers 5)."""

    def __init__(self) -> None:
        self.loss: dict[int, float] = {}

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
        if logs and "loss" in logs:
            self.loss[state.global_step - 1] = logs["loss"]


def train(
    tmp_path: Path,
    model: nn.Module,
    data: torch.utils.data.Dataset,
    callbacks: list[Any],
    **overrides: Any,
) -> float:
    options: dict[str, Any] = {
        "output_dir": str(tmp_path / "out"),
        "use_cpu": True,
        "report_to": [],
        "save_strategy": "no",
        "per_device_train_batch_size": 4,
        "gradient_accumulation_steps": 2,
        "num_train_epochs": 2,
        "learning_rate": 5e-3,
        "logging_steps": 1,
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
    }
    options.update(overrides)
    trainer = transformers.Trainer(
        model=model,
        args=transformers.TrainingArguments(**options),
        train_dataset=data,
        callbacks=callbacks,
    )
    return trainer.train().training_loss  # the mean of the steps' losses


@pytest.fixture
def losses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """What the callback passes to ``GradientMonitor.observe_loss``, in order (the method
    stands in for the monitor's own, which keeps the step's loss)."""
    seen: list[float] = []
    monkeypatch.setattr(
        GradientMonitor, "observe_loss", lambda self, loss: seen.append(loss), raising=False
    )
    return seen


def test_hf_callback_records_each_optimizer_step_before_clipping(
    tmp_path: Path, oracle: Oracle, losses: list[float]
) -> None:
    from gradtrace.torch import GradientMonitorTrainerCallback

    clippers = {n: getattr(torch.nn.utils, n) for n in ("clip_grads_with_norm_", "clip_grad_norm_")}
    pre, post = oracle.pre, oracle.post
    logged = Logged()
    callback = GradientMonitorTrainerCallback()
    # 20 sequences in micro-batches of 4: 5 per epoch, 2 per optimizer step, so 3 optimizer
    # steps per epoch (the last with one micro-batch); 2 epochs: steps 0..5
    mean_loss = train(
        tmp_path,
        tiny_gpt2(),
        Tokens(20),
        [callback, logged, oracle],
        max_grad_norm=0.05,
    )
    assert callback.monitor is not None
    records = callback.monitor.records()
    assert sorted({r["step"] for r in records}) == [0, 1, 2, 3, 4, 5]
    check(records, pre)
    for step in range(6):  # clipping was active: the records are not what the optimizer got
        assert total(pre, step) > 10 * 0.05
        assert total(post, step) == pytest.approx(0.05, rel=1e-4)
    # the loss: GPT-2 takes num_items_in_batch, so the step's loss is the sum of its
    # micro-batches' losses; against the Trainer's own, logged at each step and averaged
    assert losses == pytest.approx([logged.loss[s] for s in range(6)], rel=1e-6, abs=5e-5)
    assert sum(losses) / 6 == pytest.approx(mean_loss, rel=1e-6)
    assert {n: getattr(torch.nn.utils, n) for n in clippers} == clippers  # unwrapped
    assert callback.verdict().status == "healthy"


def test_hf_callback_without_clipping_averages_micro_batch_losses(
    tmp_path: Path, oracle: Oracle, losses: list[float]
) -> None:
    from gradtrace.torch import GradientMonitorTrainerCallback

    pre = oracle.pre
    logged = Logged()
    callback = GradientMonitorTrainerCallback(every=2)
    mean_loss = train(
        tmp_path,
        Regressor(),
        Points(24),
        [callback, logged, oracle],
        max_grad_norm=0.0,
        gradient_accumulation_steps=3,
    )  # 6 micro-batches per epoch, 3 per step: steps 0..3, every second one recorded
    assert callback.monitor is not None
    check(callback.monitor.records(), {k: v for k, v in pre.items() if k[0] % 2 == 0})
    assert sorted({s for s, _ in pre}) == [0, 1, 2, 3]
    assert losses == pytest.approx([logged.loss[0], logged.loss[2]], rel=1e-6, abs=5e-5)
    assert sum(losses) + logged.loss[1] + logged.loss[3] == pytest.approx(4 * mean_loss, rel=1e-4)


def test_hf_callback_warns_when_the_clip_is_out_of_sight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import accelerate

    from gradtrace.torch import GradientMonitorTrainerCallback

    model = Regressor()
    pre: Captured = {}
    post: Captured = {}

    def clip_grad_norm_(accelerator: Any, parameters: Any, max_norm: float, **kwargs: Any) -> Any:
        capture(model, len(pre) // 4, pre)  # 4 parameters
        with torch.no_grad():  # clips without torch.nn.utils, as DeepSpeed would
            grads = [p.grad for p in parameters if p.grad is not None]
            norm = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
            for g in grads:
                g.mul_(torch.clamp(max_norm / (norm + 1e-6), max=1.0))
        capture(model, len(post) // 4, post)
        return norm

    monkeypatch.setattr(accelerate.Accelerator, "clip_grad_norm_", clip_grad_norm_)
    callback = GradientMonitorTrainerCallback()
    with pytest.warns(RuntimeWarning, match=r"did not see the Trainer clip .*max_grad_norm=0\.01"):
        train(tmp_path, model, Points(16), [callback], max_grad_norm=0.01)
    assert callback.monitor is not None
    check(callback.monitor.records(), post)  # as the warning says: after clipping
    assert sorted({s for s, _ in post}) == [0, 1, 2, 3]
    assert total(pre, 0) > total(post, 0) * 10


@pytest.mark.parametrize("main", [True, False])
def test_hf_callback_writes_files_on_world_process_zero_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, main: bool
) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from gradtrace.torch import GradientMonitorTrainerCallback

    monkeypatch.delenv("TENSORBOARD_LOGGING_DIR", raising=False)
    # process_index 0 makes the Trainer's world process zero; another index is a later rank
    monkeypatch.setattr(transformers.Trainer, "is_world_process_zero", lambda self: main)
    callback = GradientMonitorTrainerCallback(save="gradients.json")
    train(tmp_path, Regressor(), Points(16), [callback], report_to=["tensorboard"])
    assert callback.monitor is not None
    records = callback.monitor.records()
    assert len({r["step"] for r in records}) == 4
    run_file = tmp_path / "out" / "gradients.json"
    events = sorted((tmp_path / "out" / "runs" / "gradtrace").glob("events.out.tfevents.*"))
    if not main:
        assert not run_file.exists() and not events
        return
    assert json.dumps(load_run(run_file).records) == json.dumps(records)  # nan-aware
    acc = EventAccumulator(str(events[0].parent), size_guidance={"scalars": 0})
    acc.Reload()
    for r in records:  # stored as float32
        (event,) = [e for e in acc.Scalars(f"grad_norm/{r['name']}") if e.step == r["step"]]
        assert event.value == pytest.approx(r["grad_norm"], rel=1e-6)


@pytest.mark.slow
def test_hf_callback_under_ddp(tmp_path: Path) -> None:
    """Two CPU processes (gloo) under ``torch.distributed.run``: both record the reduced,
    unclipped gradients (the same in both, as the oracle captured at the clip in each); only
    world process zero writes the run file and the TensorBoard scalars."""
    import gradtrace

    env = {k: v for k, v in os.environ.items() if k != "TENSORBOARD_LOGGING_DIR"}
    src = str(Path(gradtrace.__file__).parents[1])  # this gradtrace, installed or not
    env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [env.get("PYTHONPATH")])])
    env["OMP_NUM_THREADS"] = "1"
    worker = Path(__file__).with_name("hf_ddp_worker.py")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    done = subprocess.run(
        [*command, "--nproc_per_node", "2", str(worker), str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    for doc in ranks:
        assert doc["world_size"] == 2
        assert set(doc["records"]) == set(doc["oracle"]) and len(doc["oracle"]) == 2 * 4
        for key, want in doc["oracle"].items():
            assert doc["records"][key] == pytest.approx(want, rel=2e-6), key
    assert ranks[0]["oracle"] == pytest.approx(ranks[1]["oracle"], rel=1e-6)  # reduced
    assert any(v > 1 for v in ranks[0]["oracle"].values())  # clipped to 0.01 afterwards
    assert ranks[0]["saves"] == [str(tmp_path / "gradients.json")] and ranks[1]["saves"] == []
    assert len(list((tmp_path / "runs" / "gradtrace").glob("events.out.tfevents.*"))) == 1
    saved = load_run(tmp_path / "gradients.json").records
    assert {f"{r['step']}/{r['name']}": r["grad_norm"] for r in saved} == ranks[0]["records"]


def test_without_transformers_the_callback_says_what_to_install() -> None:
    code = (
        "import sys; sys.modules['transformers'] = None\n"  # as without the hf extra
        "try:\n    from gradtrace.torch import GradientMonitorTrainerCallback\n"
        "except ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
    )
    assert out.stdout == (
        "GradientMonitorTrainerCallback needs transformers: pip install 'gradtrace[hf]'\n"
    )


@pytest.mark.parametrize(
    "make", ["GradientMonitorTrainerCallback", "GradientMonitorCallback"], ids=["hf", "lightning"]
)
@pytest.mark.parametrize("every", [0, -3, 1.5, True])
def test_callbacks_refuse_a_bad_every_in_one_line(make: str, every: Any) -> None:
    import gradtrace.torch

    with pytest.raises(
        SpecError, match=re.escape(f"every must be a whole number >= 1, got {every!r}")
    ) as e:
        getattr(gradtrace.torch, make)(every=every)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("save", ["run.txt", "run", "out/run.JSONL"])
def test_hf_callback_refuses_a_bad_save_path_before_training(save: str) -> None:
    from gradtrace.torch import GradientMonitorTrainerCallback

    message = f"save must name a .csv, .parquet or .json file, got {save!r}"
    with pytest.raises(SpecError, match=re.escape(message)) as e:
        GradientMonitorTrainerCallback(save=save)
    assert "\n" not in str(e.value)


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
    from gradtrace.monitor.records import step_totals

    records = [
        {"step": 7, "name": n, "grad_norm": g} for n, g in (("a", 3e200), ("b", 4e200))
    ]  # the sum of squares, 2.5e401, is beyond float64
    steps, total = step_totals(records)
    assert steps == [7] and total.tolist() == [pytest.approx(5e200, rel=1e-15)]
    both = [{"step": 1, "name": n, "grad_norm": g} for n, g in (("a", math.inf), ("b", math.nan))]
    assert math.isnan(step_totals(both)[1][0])  # nan wins over inf


# ---- the README's "Attach it where you train" snippets, run with tiny models ----------------------

README = (Path(__file__).parents[1] / "README.md").read_text()


def snippet(marker: str) -> str:
    """The python block of the README's "Attach it where you train" subsection that uses
    ``marker``."""
    found = re.search(r"\n### Attach it where you train\n(.*?)(?=\n## )", README, flags=re.S)
    assert found, "the README's 'Attach it where you train' subsection is missing"
    blocks = re.findall(r"```python\n(.*?)```", found.group(1), flags=re.S)
    assert len(blocks) == 3
    (code,) = [b for b in blocks if marker in b]
    return code


def run_snippet(code: str, namespace: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    """Run ``code``; its last line prints the verdict's status, and its comment says which."""
    capsys.readouterr()
    exec(compile(code, "README.md", "exec"), namespace)
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    assert printed == code.strip().splitlines()[-1].split("# ")[-1]


def test_readme_attach_snippet_plain_pytorch(capsys: pytest.CaptureFixture[str]) -> None:
    model = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    seen: Captured = {}
    steps = iter(range(100))
    opt.register_step_pre_hook(lambda *_: capture(model, next(steps), seen))  # the oracle
    batches = [(torch.randn(8, 5), torch.randn(8, 1)) for _ in range(6)]
    ns = {"model": model, "opt": opt, "batches": batches, "loss_fn": nn.functional.mse_loss}
    run_snippet(snippet(".attach(opt)"), ns, capsys)
    check(ns["mon"].records(), seen)
    assert len(seen) == 6 * 4


@pytest.mark.filterwarnings(
    # raised inside Lightning 2.6 against torch 2.13, and its advice for tiny CPU loaders and
    # for fewer batches than the default logging interval
    r"ignore:`isinstance\(treespec, LeafSpec\)` is deprecated:FutureWarning",
    "ignore:The 'train_dataloader' does not have many workers",
    "ignore:The number of training batches .* is smaller than the logging interval",
)
def test_readme_attach_snippet_lightning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import lightning.pytorch as pl

    monkeypatch.chdir(tmp_path)  # the default Trainer logs under ./lightning_logs
    seen: Captured = {}

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
            capture(self, self.trainer.global_step, seen)  # the oracle
            super().configure_gradient_clipping(optimizer, **kwargs)

    data = torch.utils.data.TensorDataset(torch.randn(24, 4), torch.randn(24, 1))
    loader = torch.utils.data.DataLoader(data, batch_size=8)
    ns: dict[str, Any] = {"lit_model": Net(), "loader": loader}
    run_snippet(snippet("GradientMonitorCallback()"), ns, capsys)
    check(ns["callback"].monitor.records(), seen)
    assert sorted({s for s, _ in seen}) == list(range(6))  # 2 epochs of 3 batches
    assert list(tmp_path.glob("lightning_logs/version_0/events.out.tfevents.*"))


def test_readme_attach_snippet_hf_trainer(
    tmp_path: Path, oracle: Oracle, capsys: pytest.CaptureFixture[str]
) -> None:
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"),
        use_cpu=True,
        report_to=[],
        save_strategy="no",
        per_device_train_batch_size=4,
        num_train_epochs=1,
        disable_tqdm=True,
    )
    ns = {"model": tiny_gpt2(), "args": args, "data": Tokens(12)}
    oracle.model = ns["model"]  # not among the snippet's callbacks: steps are clip calls
    run_snippet(snippet("GradientMonitorTrainerCallback()"), ns, capsys)
    check(ns["callback"].monitor.records(), oracle.pre)  # max_grad_norm 1 by default: clipped
    assert sorted({s for s, _ in oracle.pre}) == [0, 1, 2]
