"""What watching gradients costs: a plain training step against the same step with each way of
logging per-parameter gradients, interleaved in one process (issue 11).

Models (CPU sizes; the issue's anchors are an H100 at larger sizes):
  mlp          10 Linear layers of width 256 with ReLU, batch 64
  resnet       a small ResNet on 32x32 images: a 3x3 stem and 6 BasicBlocks (BatchNorm, widths
               32-64-128), batch 8
  transformer  a 4-layer nn.TransformerEncoder, d_model 128, 4 heads, sequence 64, batch 8

Methods, run after backward and before AdamW's step, on every step:
  baseline       nothing
  monitor/1      GradientMonitor(model, every=1) built before the clock starts; attach(opt), the
                 steps, records() and detach() timed (details, max |g| and ||w||, at every 10th
                 recorded step: the default detail_every=10)
  monitor/10     the same with every=10
  monitor+act/1  every=1 with activations=True (dead/saturated fractions, sampled at the detail
                 steps; the models' nn.ReLU modules: the MLP's 9, the ResNet's stem, none in the
                 Transformer, whose layers call relu as a function)
  one pass       the floor of any exact per-step norm: one read of every gradient and nothing
                 else (CPU: BLAS snrm2/dnrm2 on each gradient; GPU: one fused float64
                 _foreach_norm, not read back), at the monitor's point (after backward, before
                 the step)
  item loop      [p.grad.norm().item() for each parameter]
  histograms     [torch.histc(p.grad, bins=64).cpu() for each parameter] (wandb.watch-style)
  lightning      Lightning's grad_norm dict: {name: p.grad.norm(2)}, the total norm from a stack,
                 then .item() on every value (what logging does)

Each round runs every method for --steps steps in a rotated order, and the overhead of a method
is the median over rounds of (its time / baseline's time in the same round) - 1: paired, so the
load of a shared machine cancels as far as it can. A second row per model compares each
method's fastest block with the baseline's fastest (the least disturbed by other processes).
Also printed: the monitor's own cost per recorded step (``record()``), timed alone, at a plain
step and at a detail step.

Run (``--device cuda`` runs the same models on a GPU, synchronizing at the end of each block):
  python benchmarks/monitor_overhead.py                      # 15 rounds of 10 steps per method
  python benchmarks/monitor_overhead.py --rounds 5 --models mlp
  python benchmarks/monitor_overhead.py --device cuda
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

import torch
from scipy.linalg import blas
from torch import nn

from gradtrace.torch import GradientMonitor


def mlp(device: torch.device) -> tuple[nn.Module, Callable[[], torch.Tensor]]:
    layers: list[nn.Module] = []
    for _ in range(9):
        layers += [nn.Linear(256, 256), nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(256, 10)).to(device)
    x = torch.randn(64, 256, device=device)
    y = torch.randint(0, 10, (64,), device=device)
    return model, lambda: nn.functional.cross_entropy(model(x), y)


class Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.skip = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
            if stride != 1 or cin != cout
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(h)) + self.skip(x))


def resnet(device: torch.device) -> tuple[nn.Module, Callable[[], torch.Tensor]]:
    widths = [(32, 32, 1), (32, 32, 1), (32, 64, 2), (64, 64, 1), (64, 128, 2), (128, 128, 1)]
    model = nn.Sequential(
        nn.Conv2d(3, 32, 3, 1, 1, bias=False),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        *[Block(a, b, s) for a, b, s in widths],
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(128, 10),
    ).to(device)
    x = torch.randn(8, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (8,), device=device)
    return model, lambda: nn.functional.cross_entropy(model(x), y)


def transformer(device: torch.device) -> tuple[nn.Module, Callable[[], torch.Tensor]]:
    layer = nn.TransformerEncoderLayer(128, 4, 512, dropout=0.0, batch_first=True)
    model = nn.Sequential(
        nn.TransformerEncoder(layer, 4, enable_nested_tensor=False), nn.Linear(128, 1)
    ).to(device)
    x = torch.randn(8, 64, 128, device=device)
    return model, lambda: model(x).pow(2).mean()


MODELS = {"mlp": mlp, "resnet": resnet, "transformer": transformer}
METHODS = [
    "baseline",
    "monitor/1",
    "monitor/10",
    "monitor+act/1",
    "one pass",
    "item loop",
    "histograms",
    "lightning",
]


def item_loop(model: nn.Module) -> object:
    return [p.grad.norm().item() for p in model.parameters() if p.grad is not None]


_NRM2 = {torch.float32: blas.snrm2, torch.float64: blas.dnrm2}


def one_pass(model: nn.Module) -> object:
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    if grads[0].device.type == "cpu":
        return [_NRM2[g.dtype](g.numpy().reshape(-1)) for g in grads]
    return torch._foreach_norm(grads, 2, dtype=torch.float64)


def histograms(model: nn.Module) -> object:
    return [torch.histc(p.grad, bins=64).cpu() for p in model.parameters() if p.grad is not None]


def lightning_dict(model: nn.Module) -> object:
    norms = {
        f"grad_2.0_norm/{n}": p.grad.norm(2)
        for n, p in model.named_parameters()
        if p.grad is not None
    }
    norms["grad_2.0_norm_total"] = torch.stack(list(norms.values())).norm(2)
    return {k: v.item() for k, v in norms.items()}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def monitor_for(model: nn.Module, method: str) -> GradientMonitor | None:
    if not method.startswith("monitor"):
        return None
    every = int(method.split("/")[1])
    return GradientMonitor(model, every=every, activations="+act" in method)


def block(
    model: nn.Module,
    loss: Callable[[], torch.Tensor],
    opt: torch.optim.Optimizer,
    method: str,
    steps: int,
    device: torch.device,
) -> float:
    """Seconds for ``steps`` training steps with ``method``. A monitor is built before the clock
    starts (once per script in real use); attaching, the steps and reading its records are
    timed."""
    log = {
        "one pass": one_pass,
        "item loop": item_loop,
        "histograms": histograms,
        "lightning": lightning_dict,
    }.get(method)
    mon = monitor_for(model, method)
    sync(device)
    start = time.perf_counter()
    if mon is not None:
        mon.attach(opt)
    for _ in range(steps):
        opt.zero_grad()
        loss().backward()
        if log is not None:
            log(model)
        opt.step()
    if mon is not None:
        mon.records()  # the deferred read is part of the cost
        mon.detach()
    sync(device)
    return time.perf_counter() - start


def capture_cost(
    model: nn.Module,
    loss: Callable[[], torch.Tensor],
    device: torch.device,
    *,
    detail: bool,
    repeats: int = 200,
) -> float:
    """Microseconds per ``record()`` at a plain step (the gradient norms) or a detail step (also
    max |g| and the weight norms), median of blocks; the flush is not included."""
    loss().backward()
    mon = GradientMonitor(model, detail_every=1 if detail else 10**9)
    mon.record()  # the first record() is a detail step either way
    times = []
    for _ in range(repeats // 20):
        sync(device)
        start = time.perf_counter()
        for _ in range(20):
            mon.record()
        sync(device)
        times.append((time.perf_counter() - start) / 20)
    mon.records()
    mon.detach()
    return statistics.median(times) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    ap.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: robust to a shared machine)"
    )
    args = ap.parse_args()
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    where = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    )
    print(
        f"# {where}, torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"load average at start {os.getloadavg()[0]:.2f}"
    )
    methods = METHODS[1:]
    rows = []
    for name in args.models.split(","):
        model, loss = MODELS[name](device)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        for m in METHODS:  # warm-up: allocator, AdamW state, first-call costs
            block(model, loss, opt, m, 2, device)
        ratios: dict[str, list[float]] = {m: [] for m in methods}
        times: dict[str, list[float]] = {m: [] for m in METHODS}
        base: list[float] = []
        for r in range(args.rounds):
            order = METHODS[r % len(METHODS) :] + METHODS[: r % len(METHODS)]
            t = {m: block(model, loss, opt, m, args.steps, device) for m in order}
            base.append(t["baseline"] / args.steps)
            for m in METHODS:
                times[m].append(t[m])
            for m in methods:
                ratios[m].append(t[m] / t["baseline"])
        n_params = sum(1 for _ in model.parameters())
        row = {m: 100 * (statistics.median(v) - 1) for m, v in ratios.items()}
        best = {m: 100 * (min(times[m]) / min(times["baseline"]) - 1) for m in methods}
        cost = (
            capture_cost(model, loss, device, detail=False),
            capture_cost(model, loss, device, detail=True),
        )
        rows.append((name, n_params, 1e3 * statistics.median(base), row, cost))
        rows.append((name + " (fastest block)", n_params, 1e3 * min(base), best, cost))
        print(
            f"{name}: {n_params} tensors, step {1e3 * statistics.median(base):.1f} ms, "
            + ", ".join(f"{m} {v:+.1f}%" for m, v in row.items())
            + f"; record() {cost[0]:.0f} us, at a detail step {cost[1]:.0f} us",
            flush=True,
        )
    print(
        f"\n# load average at end {os.getloadavg()[0]:.2f}; median overhead over baseline, "
        f"paired per round ({args.rounds} rounds x {args.steps} steps)\n"
    )
    print("| model (tensors, step) | " + " | ".join(methods) + " | record(): plain / detail |")
    print("|---|" + "---|" * (len(methods) + 1))
    for name, n, step, row, cost in rows:
        print(
            f"| {name} ({n}, {step:.1f} ms) | "
            + " | ".join(f"{row[m]:+.1f}%" for m in methods)
            + f" | {cost[0]:.0f} / {cost[1]:.0f} us |"
        )


if __name__ == "__main__":
    main()
