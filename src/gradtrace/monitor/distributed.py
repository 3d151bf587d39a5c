"""The monitor under ``torch.distributed``: whose shard counts, and the one collective per step.

Data parallelism leaves each rank either the whole parameter (DDP, or a DTensor with a
``Replicate`` placement: every rank holds the same gradient after the all-reduce) or a shard of
it (FSDP2's ``fully_shard``: a DTensor with ``Shard(0)``, each rank holding some rows). The
statistics of the full parameter follow from per-rank partial statistics:

* a sharded parameter: sums of squares add over its disjoint shards, so its norm is the norm of
  the shards' norms; ``max |g|`` is the maximum over shards; counts add;
* a replicated parameter: one rank's values (``contributes``: rank 0 of the default group for a
  plain tensor; for a DTensor, the rank at coordinate 0 along every ``Replicate`` mesh dimension),
  the others contribute zeros, so the same sum/max/norm reductions count it once.

Each rank puts all its partials of a recorded step into one flat float64 vector and
``gather`` issues one ``all_gather`` (``all_gather_single``) of it, on the vector's device and
without reading anything back; every rank then reduces the ``(world, k)`` result itself
(``_stats.reduce_ranks``), so all ranks end with the same numbers. This needs every rank to
record the same steps with the same parameters and activation modules (true of DDP and FSDP2,
where every rank runs the same model, optimizer and loop). Trainers that log the norm of each
rank's local shard under FSDP report a per-parameter norm too small by about
``sqrt(shards)`` (LlamaFactory issue 10640, torchtitan issue 766, Megatron-LM issue 5880).
"""

from __future__ import annotations

import sys

import torch
import torch.distributed as dist

from gradtrace.core.errors import SpecError

__all__ = ["contributes", "gather", "is_dtensor", "local", "world"]


def world() -> tuple[int, int]:
    """``(rank, size)`` in the default process group; ``(0, 1)`` without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_dtensor(t: torch.Tensor) -> bool:
    """Whether ``t`` is a ``DTensor`` (without importing ``torch.distributed.tensor``, which
    takes 0.7 s: a DTensor exists only once that module is loaded; ``_tensor`` before 2.4)."""
    for name in ("torch.distributed.tensor", "torch.distributed._tensor"):
        module = sys.modules.get(name)
        if module is not None and isinstance(t, getattr(module, "DTensor", ())):
            return True
    return False


def local(t: torch.Tensor) -> torch.Tensor:
    """This rank's part of ``t``: the local shard of a DTensor, else ``t`` itself."""
    return t.to_local() if is_dtensor(t) else t  # type: ignore[attr-defined]


def contributes(p: torch.Tensor, rank: int, name: str) -> bool:
    """Whether this rank's values of ``p`` count toward the full parameter's statistics."""
    if not is_dtensor(p):
        return rank == 0  # a whole parameter on every rank: counted once
    placements = p.placements  # type: ignore[attr-defined]
    if any(pl.is_partial() for pl in placements):
        raise SpecError(
            f"parameter {name!r} is a DTensor with a Partial placement {placements}: its "
            "gradient is not reduced yet; record after the reduction",
            field="model",
        )
    coordinate = p.device_mesh.get_coordinate()  # type: ignore[attr-defined]
    if coordinate is None:  # this rank is not in the parameter's mesh
        return False
    return all(c == 0 for c, pl in zip(coordinate, placements, strict=True) if pl.is_replicate())


def gather(vector: torch.Tensor, size: int) -> torch.Tensor:
    """Every rank's ``vector`` (shape ``(k,)``), stacked: ``(size, k)``. One collective."""
    out = vector.new_empty(size * vector.numel())  # flat: gloo refuses a (size, k) output
    # all_gather_single is the newer name (torch 2.13 deprecates all_gather_into_tensor)
    collective = getattr(dist, "all_gather_single", None) or dist.all_gather_into_tensor
    collective(out, vector.contiguous())
    return out.view(size, -1)
