"""Per-tensor statistics of one recorded step, and how partial statistics add up over ranks.

Two paths compute the same numbers (``measure``):

* **host** (every tensor on the CPU, float32 or float64, contiguous): BLAS ``nrm2`` on a zero-copy
  NumPy view of each tensor, one vectorized pass per tensor whose result is already a Python
  float. OpenBLAS's ``snrm2`` accumulates float32 squares in double precision, so float32
  gradients whose squares overflow float32 (entries above ~1e19) or underflow it (entries below
  ~1e-19, where ``torch.linalg.vector_norm`` of a float32 tensor returns 0) get their true norm;
  ``dnrm2`` keeps the range of float64 (measured here: 3.16e21 for 1000 entries of 1e20 in
  float32, 3.16e201 for 1000 of 1e200 in float64, 3.2e-24 for 1000 of 1e-25 in float32). An
  inf or nan entry makes the norm non-finite (some kernels return nan where inf is due,
  OpenBLAS issue #2998: either way non-finite), and only such a tensor, which is rare, is read
  a second time: its inf/nan entries are counted exactly, and when there are none (the result
  overflowed float32) its norm is recomputed in float64 with scaling (``exact_norms``). Other CPU
  tensors (float16, bfloat16, strided views) take ``torch.linalg.vector_norm`` in float64.
* **device** (anything else; also forced on the CPU by tests through ``HOST_BLAS``): fused
  ``torch._foreach_norm(..., dtype=torch.float64)`` (one launch for all tensors on a GPU,
  memory-bound; float64 accumulation, so float32/16/bf16 squares neither overflow nor underflow),
  and nothing read back: non-finite detection is ``~isfinite(norm)``, a device op, so ``nonfinite``
  is 1 for "at least one", or the exact count with ``count=True`` (one more pass, per tensor, still
  on the device). A float64 gradient whose norm exceeds float64's range (entries above ~1e154)
  reads as non-finite on this path.

Every statistic is a float64 vector of shape ``(n,)`` for ``n`` tensors, on one device, or on
the host path a list of ``n`` Python floats (no tensor is built for numbers already on the host).

Over ranks (``reduce_ranks``): each rank contributes the statistics of its local shard (zeros
where another rank holds the same values: see ``distributed.contributes``), and a gathered
``(world, k)`` matrix is reduced column by column: ``"sum"`` (counts), ``"max"`` (``max |g|``,
flags), ``"norm"`` (2-norms of disjoint shards: ``sqrt(sum_r n_r^2)``, computed as
``m sqrt(sum_r (n_r / m)^2)`` with ``m = max_r n_r`` so that it cannot overflow) and ``"or"``
(bit masks stored as float64 words, bitwise OR).
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import reduce

import numpy as np
import torch
from scipy.linalg import blas, cython_blas

__all__ = ["HOST_BLAS", "Segment", "as_tensor", "exact_norms", "measure", "norms", "reduce_ranks"]

HOST_BLAS = True
"""Use the host (BLAS) path for CPU tensors; tests set it False to run the device path on CPU."""

F64 = torch.float64


def _capsule_nrm2(
    name: str, restype: type[ctypes._SimpleCData[float]]
) -> Callable[[torch.Tensor], float]:
    """BLAS ``?nrm2`` called through ctypes on a contiguous tensor's data pointer (1.6 us a call
    here, against 3.6 us for the f2py wrapper on a NumPy view, which matters at 20-200 tensors
    per step); the function pointer is the one SciPy exports for Cython (``cython_blas``)."""
    # private prototypes: ctypes.pythonapi's own functions stay as other code set them
    get_name = ctypes.PYFUNCTYPE(ctypes.c_char_p, ctypes.py_object)(
        ("PyCapsule_GetName", ctypes.pythonapi)
    )
    get_pointer = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.py_object, ctypes.c_char_p)(
        ("PyCapsule_GetPointer", ctypes.pythonapi)
    )
    capsule = cython_blas.__pyx_capi__[name]
    pointer = get_pointer(capsule, get_name(capsule))
    f = ctypes.CFUNCTYPE(restype, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)(pointer)
    one = ctypes.c_int(1)
    pone = ctypes.addressof(one)

    def nrm2(t: torch.Tensor) -> float:
        n = ctypes.c_int(t.numel())  # (Fortran: n, x, incx by reference)
        return float(f(ctypes.addressof(n), t.data_ptr(), pone))

    nrm2.keep = (f, one)  # type: ignore[attr-defined]  # alive as long as the function
    return nrm2


def _f2py_nrm2(f: Callable[[np.ndarray], float]) -> Callable[[torch.Tensor], float]:
    return lambda t: float(f(t.numpy().reshape(-1)))


def _nrm2_table() -> dict[torch.dtype, Callable[[torch.Tensor], float]]:
    try:
        return {
            torch.float32: _capsule_nrm2("snrm2", ctypes.c_float),
            torch.float64: _capsule_nrm2("dnrm2", ctypes.c_double),
        }
    except (AttributeError, KeyError, ValueError):  # another SciPy: its Python wrappers
        return {torch.float32: _f2py_nrm2(blas.snrm2), torch.float64: _f2py_nrm2(blas.dnrm2)}


_NRM2 = _nrm2_table()

SUM, MAX, NORM, OR = "sum", "max", "norm", "or"


@dataclass(frozen=True)
class Segment:
    """A named piece of a step's flat float64 vector and how it adds up over ranks."""

    key: str
    how: str  # SUM, MAX, NORM or OR
    values: torch.Tensor | list[float]  # (length,) float64 on a device; floats on the host

    def tensor(self, device: torch.device) -> torch.Tensor:
        """The values as a float64 tensor on ``device``."""
        return as_tensor(self.values, device)

    def __len__(self) -> int:
        return len(self.values)


def as_tensor(values: torch.Tensor | list[float], device: torch.device) -> torch.Tensor:
    """Float64 on ``device``; a host list is copied there without waiting (``non_blocking``:
    pageable memory is staged at once, so no device synchronization)."""
    if isinstance(values, torch.Tensor):
        return values.to(device=device, dtype=F64)
    t = torch.from_numpy(np.array(values, dtype=np.float64))  # 3 us, against 9 for torch.tensor
    return t if device.type == "cpu" else t.to(device, non_blocking=True)


def exact_norms(t: torch.Tensor) -> tuple[float, float]:
    """``(||t||_2, max |t_i|)`` of a finite tensor, in float64, without overflow: the sum of
    squares is taken of ``t / max|t_i|`` (entries in [-1, 1]) and scaled back. Reads the result
    to the host (used on the host path only)."""
    x = t.detach().to(F64)
    m = float(x.abs().max()) if x.numel() else 0.0
    if not m > 0:
        return m, m
    return float(torch.linalg.vector_norm(x / m)) * m, m


def _host_norm(t: torch.Tensor) -> float:
    f = _NRM2.get(t.dtype)
    if f is not None and t.is_contiguous():
        return f(t)  # n = 0: BLAS returns 0 without reading
    return float(torch.linalg.vector_norm(t.detach(), dtype=F64))


def _host_max_abs(t: torch.Tensor) -> float:
    if t.numel() == 0:
        return 0.0
    lo, hi = torch.aminmax(t.detach())  # one vectorized pass; nan propagates through both
    return abs(max(-float(lo), float(hi)))  # abs(): +0.0 for an all-zero tensor, not -0.0


def _use_host(tensors: Sequence[torch.Tensor]) -> bool:
    return HOST_BLAS and all(t.is_cpu for t in tensors)


def measure(
    grads: Sequence[torch.Tensor | None],
    weights: Sequence[torch.Tensor | None] | None,
    *,
    detail: bool,
    count: bool,
    device: torch.device,
) -> list[Segment]:
    """The statistics of one step: ``grad_norm`` (norm), ``nonfinite`` (sum where counted
    exactly, max where a 1 means "at least one"), and with ``detail`` ``grad_max_abs`` (max);
    with ``weights`` also ``weight_norm`` (norm). A ``None`` gradient or weight (one that
    another rank accounts for) reads as 0. Shapes ``(n,)``, float64, on ``device``."""
    # the path follows the step's device, so that every rank (one holding no share of any
    # parameter included) sends the same kinds of segments
    present = [g for g in grads if g is not None]
    if (
        device.type == "cpu"
        and _use_host(present)
        and (weights is None or _use_host([w for w in weights if w is not None]))
    ):
        return _measure_host(grads, weights, detail=detail)
    return _measure_device(grads, weights, detail=detail, count=count, device=device)


def _measure_host(
    grads: Sequence[torch.Tensor | None],
    weights: Sequence[torch.Tensor | None] | None,
    *,
    detail: bool,
) -> list[Segment]:
    g2 = [0.0 if g is None else _host_norm(g) for g in grads]
    bad = [0.0] * len(g2)
    exact: dict[int, float] = {}  # max |g| of a tensor whose norm was recomputed
    for i, v in enumerate(g2):
        g = grads[i]
        if math.isfinite(v) or g is None:
            continue
        bad[i] = float((~torch.isfinite(g)).sum())  # rare: a second read of this tensor only
        if not bad[i]:  # all entries finite: the float32 result overflowed
            g2[i], exact[i] = exact_norms(g)
    out = [Segment("grad_norm", NORM, g2), Segment("nonfinite", SUM, bad)]
    if detail:
        ginf = [
            exact[i] if i in exact else 0.0 if g is None else _host_max_abs(g)
            for i, g in enumerate(grads)
        ]
        out.append(Segment("grad_max_abs", MAX, ginf))
    if weights is not None:
        w2 = [0.0 if w is None else _host_norm(w) for w in weights]
        out.append(Segment("weight_norm", NORM, w2))
    return out


def _norms64(ts: list[torch.Tensor]) -> Sequence[torch.Tensor]:
    try:
        return torch._foreach_norm(ts, 2, dtype=F64)
    except TypeError:  # torch before the dtype argument: one kernel per tensor
        return [torch.linalg.vector_norm(t, dtype=F64) for t in ts]


def _fused_norms(tensors: Sequence[torch.Tensor | None], device: torch.device) -> torch.Tensor:
    """2-norms in float64, fused per device; zeros for ``None``; no host read."""
    return _scatter(tensors, _norms64, device)


def _scatter(
    tensors: Sequence[torch.Tensor | None],
    f: Callable[[list[torch.Tensor]], Sequence[torch.Tensor]],
    device: torch.device,
) -> torch.Tensor:
    """``f`` applied to the present tensors grouped by device (one fused call per device), as a
    ``(n,)`` float64 vector on ``device`` with zeros where a tensor is ``None``."""
    groups: dict[torch.device, list[tuple[int, torch.Tensor]]] = {}
    for i, t in enumerate(tensors):
        if t is not None:
            groups.setdefault(t.device, []).append((i, t))
    out: list[torch.Tensor] = [torch.zeros((), dtype=F64, device=device)] * len(tensors)
    for group in groups.values():
        values = f([t for _, t in group])
        for (i, _), v in zip(group, values, strict=True):
            out[i] = v.to(device=device, dtype=F64)  # mixed devices: a copy (may wait)
    if not out:
        return torch.zeros(0, dtype=F64, device=device)
    return torch.stack(out)


def _max_abs_device(ts: list[torch.Tensor]) -> list[torch.Tensor]:
    # the fused inf-norm refuses empty tensors (no identity for max): their max |g| is 0
    full = [t for t in ts if t.numel()]
    norms = iter(torch._foreach_norm(full, math.inf) if full else [])
    return [next(norms) if t.numel() else t.new_zeros((), dtype=F64) for t in ts]


def _measure_device(
    grads: Sequence[torch.Tensor | None],
    weights: Sequence[torch.Tensor | None] | None,
    *,
    detail: bool,
    count: bool,
    device: torch.device,
) -> list[Segment]:
    g2 = _fused_norms(grads, device)
    if count:  # exact: one more pass, on the device
        bad = _scatter(grads, lambda ts: [(~torch.isfinite(t)).sum() for t in ts], device)
        out = [Segment("grad_norm", NORM, g2), Segment("nonfinite", SUM, bad)]
    else:  # an inf or nan entry makes the float64 norm inf or nan
        out = [Segment("grad_norm", NORM, g2), Segment("nonfinite", MAX, (~g2.isfinite()).to(F64))]
    if detail:
        out.append(Segment("grad_max_abs", MAX, _scatter(grads, _max_abs_device, device)))
    if weights is not None:
        out.append(Segment("weight_norm", NORM, _fused_norms(weights, device)))
    return out


def norms(
    tensors: Sequence[torch.Tensor | None], device: torch.device
) -> torch.Tensor | list[float]:
    """2-norms ``(n,)`` float64 on ``device`` (zeros for ``None``): the host path on the CPU,
    the fused device path elsewhere (used for the weights' change under ``track_updates``)."""
    present = [t for t in tensors if t is not None]
    if device.type == "cpu" and _use_host(present):
        return [0.0 if t is None else _host_norm(t) for t in tensors]
    return _fused_norms(tensors, device)


# ---- over ranks ----------------------------------------------------------------------------------


def reduce_ranks(gathered: torch.Tensor, segments: Sequence[Segment]) -> torch.Tensor:
    """The ``(world, k)`` matrix of every rank's flat vector, reduced to ``(k,)`` segment by
    segment (see the module docstring); stays on its device."""
    parts = []
    start = 0
    for s in segments:
        cols = gathered[:, start : start + len(s)]
        start += len(s)
        if s.how == SUM:
            parts.append(cols.sum(dim=0))
        elif s.how == MAX:
            parts.append(cols.amax(dim=0))  # nan propagates
        elif s.how == NORM:
            m = cols.amax(dim=0)
            ok = torch.isfinite(m) & (m > 0)
            scale = torch.where(ok, m, torch.ones_like(m))
            total = scale * (cols / scale).square().sum(dim=0).sqrt()
            parts.append(torch.where(ok, total, m))  # 0, inf or nan as the largest part is
        else:  # OR: bit masks as float64 words
            words = cols.contiguous().view(torch.int64)
            parts.append(reduce(torch.bitwise_or, words.unbind(0)).view(F64))
    return torch.cat(parts) if parts else gathered.new_zeros(0)
