"""One process of a two-process DDP (gloo, CPU) Hugging Face ``Trainer`` run with the gradient
monitor's callback, started by ``test_hf_callback_under_ddp`` through ``torch.distributed.run``.

Usage: ``python -m torch.distributed.run --standalone --nproc_per_node 2 hf_ddp_worker.py OUT``.
Each process writes ``OUT/rank{r}.json``: its records and the oracle, the gradients in float64
captured just before each ``Accelerator.clip_grad_norm_`` call (once per optimizer step); the
callback itself writes its files (``save``, TensorBoard) only from world process zero.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import accelerate
import torch
import transformers
from torch import nn

from gradtrace.torch import GradientMonitor, GradientMonitorTrainerCallback


class Regressor(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 1))

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"loss": (self.body(x).squeeze(-1) - labels).pow(2).mean()}


class Points(torch.utils.data.Dataset):
    def __init__(self, n: int) -> None:
        g = torch.Generator().manual_seed(1)
        self.x, self.y = torch.randn(n, 6, generator=g), 10 * torch.randn(n, generator=g)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.x[i], "labels": self.y[i]}


def main(out: Path) -> None:
    torch.manual_seed(0)  # the same initial weights in both processes (DDP also broadcasts)
    model = Regressor()
    oracle: dict[str, float] = {}
    original = accelerate.Accelerator.clip_grad_norm_

    def clip_grad_norm_(accelerator: Any, parameters: Any, max_norm: float, **kwargs: Any) -> Any:
        step = len(oracle) // 4  # 4 parameters
        for name, p in model.named_parameters():
            oracle[f"{step}/{name}"] = float(torch.linalg.vector_norm(p.grad.double()))
        return original(accelerator, parameters, max_norm, **kwargs)

    accelerate.Accelerator.clip_grad_norm_ = clip_grad_norm_  # type: ignore[method-assign]
    saves: list[str] = []  # the run files this process writes
    original_save = GradientMonitor.save

    def save(monitor: GradientMonitor, path: Any) -> Any:
        saves.append(str(path))
        return original_save(monitor, path)

    GradientMonitor.save = save  # type: ignore[method-assign]
    callback = GradientMonitorTrainerCallback(save="gradients.json")
    args = transformers.TrainingArguments(
        output_dir=str(out),
        use_cpu=True,
        ddp_backend="gloo",
        report_to=["tensorboard"],
        save_strategy="no",
        per_device_train_batch_size=4,
        gradient_accumulation_steps=2,
        num_train_epochs=1,
        max_grad_norm=0.01,
        disable_tqdm=True,
    )
    trainer = transformers.Trainer(
        model=model, args=args, train_dataset=Points(32), callbacks=[callback]
    )
    trainer.train()
    assert callback.monitor is not None
    records = {f"{r['step']}/{r['name']}": r["grad_norm"] for r in callback.monitor.records()}
    doc = {"world_size": args.world_size, "records": records, "oracle": oracle, "saves": saves}
    (out / f"rank{args.process_index}.json").write_text(json.dumps(doc))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
