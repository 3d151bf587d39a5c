"""One rank of the distributed monitor tests (tests/test_monitor_distributed.py starts two):

    python tests/monitor_ranks.py RANK WORLD STORE_FILE OUT_DIR

Over gloo on the CPU, in one process group, it trains the same small network three ways, DDP,
FSDP2 (``fully_shard``: every parameter a ``Shard(0)`` DTensor, most of them with a first
dimension that 2 does not divide) and HSDP (a 2 x 1 mesh: ``(Replicate(), Shard(0))``), each rank
on its half of each global batch, and writes for each way its records, activation records, loss
records and context, the number of collectives the monitor issued, each parameter's norm of
this rank's local shard at step 0 and, under FSDP2, the mean-field description of a sharded MLP (what trainers that log local norms report) to
``OUT_DIR/{way}-rank{RANK}.json``. ``save`` is called on every rank with a path of its own.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

STEPS = 4
BATCH = 16  # global; each rank takes BATCH / world of it
COLLECTIVES = (
    "all_gather_single",
    "all_gather_into_tensor",
    "all_gather",
    "all_reduce",
    "broadcast",
    "reduce_scatter_tensor",
    "barrier",
)


def build() -> nn.Sequential:
    """Weights (5, 6), (7, 5), (3, 7): uneven over 2 shards. Unit 0 of the ReLU layer is dead
    on every sample; unit 1 is alive only on the second half of each batch (rank 1's)."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 7), nn.Sigmoid(), nn.Linear(7, 3)
    )
    with torch.no_grad():
        model[0].bias[0] = -100.0
        model[0].weight[1] = torch.tensor([1.0, 0, 0, 0, 0, 0])
        model[0].bias[1] = 0.0
        model[2].weight.mul_(6.0)  # some saturated sigmoid outputs
    return model


def tanh_mlp() -> nn.Sequential:
    """A plain MLP (one activation kind) for the mean-field description under FSDP2."""
    torch.manual_seed(1)
    return nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 5), nn.Tanh(), nn.Linear(5, 3))


def batch(step: int) -> torch.Tensor:
    """The global batch of a step: feature 0 is -10 in the first half, +10 in the second."""
    x = torch.randn(BATCH, 6, generator=torch.Generator().manual_seed(100 + step))
    x[: BATCH // 2, 0] = -10.0
    x[BATCH // 2 :, 0] = 10.0
    return x


def plant(grad: torch.Tensor) -> None:
    """An inf at row 3, column 0 of the first weight's gradient."""
    grad[3, 0] = math.inf


def count_collectives(counter: list[str]) -> None:
    """Count the collectives that gradtrace's own code issues."""
    for name in COLLECTIVES:
        original = getattr(dist, name)

        def wrapped(*args: Any, _name: str = name, _f: Any = original, **kwargs: Any) -> Any:
            if sys._getframe(1).f_globals.get("__name__", "").startswith("gradtrace"):
                counter.append(_name)
            return _f(*args, **kwargs)

        setattr(dist, name, wrapped)


def train(way: str, rank: int, world: int, out: Path, counter: list[str]) -> None:
    from gradtrace.torch import GradientMonitor

    model = build()
    if way == "ddp":
        wrapped: nn.Module = nn.parallel.DistributedDataParallel(model)
    else:
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import fully_shard

        mesh = (
            init_device_mesh("cpu", (world,))
            if way == "fsdp"
            else init_device_mesh("cpu", (world, 1), mesh_dim_names=("replicate", "shard"))
        )
        for layer in model:
            if isinstance(layer, nn.Linear):
                fully_shard(layer, mesh=mesh)
        wrapped = fully_shard(model, mesh=mesh)
    mlp = None
    if way == "fsdp":  # its weights are gathered from the shards (a collective at construction)
        from gradtrace.monitor.recorder import mlp_shape

        plain = tanh_mlp()
        for layer in plain:
            if isinstance(layer, nn.Linear):
                fully_shard(layer, mesh=mesh)
        shape = mlp_shape(fully_shard(plain, mesh=mesh))
        mlp = None if shape is None else [shape.weights, shape.sigma_w2, shape.sigma_b2]
    opt = torch.optim.SGD(wrapped.parameters(), lr=0.1)
    mon = GradientMonitor(wrapped, detail_every=2, track_updates=True, activations=True)
    mon.attach(opt)
    del counter[:]  # from here on: the steps
    local_norms: dict[str, float] = {}
    for step in range(STEPS):
        x = batch(step).chunk(world)[rank]
        opt.zero_grad()
        loss = wrapped(x).pow(2).mean()
        mon.observe_loss(loss)
        loss.backward()
        first = next(wrapped.parameters())
        if step == STEPS - 1:
            if way == "fsdp":  # 5 rows over 2 shards (torch.chunk): rows 3-4 on rank 1
                local = first.grad.to_local()  # type: ignore[union-attr]
                assert local.shape[0] == (3 if rank == 0 else 2)
                if rank == 1:
                    local[0, 0] = math.inf
            elif way == "ddp":
                plant(first.grad)  # type: ignore[arg-type]
            else:  # replicated: every rank holds the whole gradient
                plant(first.grad.to_local())  # type: ignore[union-attr]
        if step == 0:
            for name, p in model.named_parameters():
                g = p.grad.to_local() if hasattr(p.grad, "to_local") else p.grad  # type: ignore[union-attr]
                local_norms[name] = float(torch.linalg.vector_norm(g.double()))
        opt.step()
    calls = list(counter)
    run = mon.run()
    mon.save(out / f"{way}-saved{rank}.json")
    doc = {
        "records": run.records,
        "activations": run.activations,
        "losses": run.losses,
        "context": run.context.to_json(),
        "collectives": calls,
        "local_norms": local_norms,
        "verdict": mon.verdict().status,
        "mlp": mlp,
    }
    (out / f"{way}-rank{rank}.json").write_text(json.dumps(doc))
    mon.detach()


def main() -> None:
    rank, world = int(sys.argv[1]), int(sys.argv[2])
    store, out = sys.argv[3], Path(sys.argv[4])
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    counter: list[str] = []
    count_collectives(counter)
    try:
        for way in ("ddp", "fsdp", "hsdp"):
            train(way, rank, world, out, counter)
            dist.barrier()
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
