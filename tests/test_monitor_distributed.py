"""The monitor under torch.distributed, 2 CPU processes over gloo (tests/monitor_ranks.py): DDP,
FSDP2 (``fully_shard``, most parameters' first dimension uneven over the 2 shards) and HSDP
(replicated over the ranks). Every rank's records, activation fractions and losses equal a
direct float64 computation on the full model with the concatenated batches, and are identical
across ranks; one collective per recorded step; only rank 0 writes a file.

The ranks rendezvous through a file store in a fresh folder (no port to race for) and run under
a hard timeout: a hung rank fails the test instead of hanging the suite.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import monitor_ranks
from gradtrace.torch import load_run

WORLD = 2
TIMEOUT_S = 240  # both ranks, all three ways; about 15 s on 2 busy cores
WAYS = ("ddp", "fsdp", "hsdp")


@pytest.fixture(scope="module")
def ranks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run both ranks once; their outputs, one folder."""
    out = tmp_path_factory.mktemp("ranks")
    script = Path(__file__).with_name("monitor_ranks.py")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).parents[1] / "src"), env.get("PYTHONPATH", "")]
    )
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(r), str(WORLD), str(out / "store"), str(out)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        for r in range(WORLD)
    ]
    logs = []
    try:
        for p in procs:
            logs.append(p.communicate(timeout=TIMEOUT_S)[0])
    except subprocess.TimeoutExpired:
        for p in procs:
            p.kill()
        pytest.fail(f"a rank did not finish within {TIMEOUT_S} s (hung collective?)")
    for r, (p, log) in enumerate(zip(procs, logs, strict=True)):
        assert p.returncode == 0, f"rank {r} failed:\n{log[-3000:]}"
    return out


def reference() -> dict:
    """The same training on one process, full model, concatenated batches: what each record
    must be, computed directly in float64 from the tensors at the step."""
    model = monitor_ranks.build()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    want: dict = {"records": {}, "activations": {}, "losses": {}}
    for step in range(monitor_ranks.STEPS):
        x = monitor_ranks.batch(step)
        opt.zero_grad()
        loss = model(x).pow(2).mean()  # the mean over the ranks' equal halves
        loss.backward()
        if step == monitor_ranks.STEPS - 1:
            monitor_ranks.plant(model[0].weight.grad)
        before = {n: p.detach().double().clone() for n, p in model.named_parameters()}
        with torch.no_grad():
            h = model[1](model[0](x))
            s = model[3](model[2](h))
        for n, p in model.named_parameters():
            g = p.grad.double()
            want["records"][(step, n)] = {
                "grad_norm": float(torch.linalg.vector_norm(g)),
                "grad_max_abs": float(g.abs().max()) if step % 2 == 0 else math.nan,
                "weight_norm": float(torch.linalg.vector_norm(before[n])),
                "nonfinite": int((~torch.isfinite(g)).sum()),
            }
        if step % 2 == 0:  # detail steps: 0, 2
            want["activations"][(step, "1")] = float((h == 0).all(dim=0).double().mean())
            want["activations"][(step, "3")] = float(((s - 0.5).abs() > 0.49).double().mean())
        want["losses"][step] = float(loss.detach().double())
        opt.step()
        for n, p in model.named_parameters():
            delta = torch.linalg.vector_norm(p.detach().double() - before[n])
            want["records"][(step, n)]["update_ratio"] = float(
                delta / torch.linalg.vector_norm(before[n])
            )
    return want


@pytest.fixture(scope="module")
def want() -> dict:
    return reference()


def _read(ranks: Path, way: str, rank: int) -> dict:
    return json.loads((ranks / f"{way}-rank{rank}.json").read_text())


def _same(a: object, b: object) -> bool:
    """Equal, nan included (json keeps nan as NaN)."""
    return json.dumps(a) == json.dumps(b)


@pytest.mark.parametrize("way", WAYS)
def test_every_rank_records_the_full_parameters(ranks: Path, want: dict, way: str) -> None:
    docs = [_read(ranks, way, r) for r in range(WORLD)]
    for key in ("records", "activations", "losses", "context", "verdict"):
        assert _same(docs[0][key], docs[1][key]), key  # identical on every rank
    doc = docs[0]
    got = {(r["step"], r["name"]): r for r in doc["records"]}
    assert set(got) == set(want["records"])  # the user's names: no "module." under DDP
    for key, w in want["records"].items():
        for k, v in w.items():
            # float32 gradients summed in another order on 2 ranks: rounding-level differences
            assert got[key][k] == pytest.approx(v, rel=1e-5, nan_ok=True), (key, k)
    assert got[(3, "0.weight")]["nonfinite"] == 1  # counted once, whichever rank holds it
    acts = {(a["step"], a["name"]): a["fraction"] for a in doc["activations"]}
    assert acts == pytest.approx(want["activations"], rel=1e-12)
    # unit 1 is dead on rank 0's half and alive on rank 1's: not dead for the global batch
    assert acts[(0, "1")] == pytest.approx(1 / 5)
    losses = {r["step"]: r["loss"] for r in doc["losses"]}
    assert losses == pytest.approx(want["losses"], rel=1e-6)
    ctx = doc["context"]
    assert (ctx["world_size"], ctx["backward_passes"], ctx["optimizer_steps"]) == (2, 4, 4)
    assert doc["collectives"] == ["all_gather_single"] * monitor_ranks.STEPS  # one per step


def test_fsdp_shard_norms_are_too_small_and_the_records_are_not(ranks: Path, want: dict) -> None:
    """What a trainer logging each rank's local shard norm reports under FSDP (each shard's
    norm, smaller than the parameter's: sqrt(shards) for equal shares) against the records."""
    full = {n: w["grad_norm"] for (s, n), w in want["records"].items() if s == 0}
    local = [_read(ranks, "fsdp", r)["local_norms"] for r in range(WORLD)]
    got = {r["name"]: r["grad_norm"] for r in _read(ranks, "fsdp", 0)["records"] if r["step"] == 0}
    for name, norm in full.items():
        assert got[name] == pytest.approx(norm, rel=1e-6)
        assert max(local[0][name], local[1][name]) < norm * (1 - 1e-3)
        assert math.hypot(local[0][name], local[1][name]) == pytest.approx(norm, rel=1e-6)
    assert local[0]["0.weight"] < 0.8 * full["0.weight"]  # 22 % short here
    ddp = _read(ranks, "ddp", 1)["local_norms"]  # DDP: every rank holds the whole gradient
    assert ddp == pytest.approx(_read(ranks, "ddp", 0)["local_norms"], rel=0)


def test_the_mlp_description_of_a_sharded_model_is_the_full_model_s(ranks: Path) -> None:
    """sigma_w2 = fan_in mean(W^2) and sigma_b2 = mean(b^2) over the hidden Linear layers, from
    the full weights, not one shard's."""
    model = monitor_ranks.tanh_mlp()
    hidden = [m for m in model if isinstance(m, nn.Linear)][1:]
    sw = [m.in_features * float(m.weight.detach().double().pow(2).mean()) for m in hidden]
    sb = [float(m.bias.detach().double().pow(2).mean()) for m in hidden]
    for r in range(WORLD):
        weights, sigma_w2, sigma_b2 = _read(ranks, "fsdp", r)["mlp"]
        assert weights == ["0.weight", "2.weight", "4.weight"]
        assert sigma_w2 == pytest.approx(sum(sw) / 2, rel=1e-12)
        assert sigma_b2 == pytest.approx(sum(sb) / 2, rel=1e-12)


@pytest.mark.parametrize("way", WAYS)
def test_only_rank_zero_writes(ranks: Path, way: str) -> None:
    assert not (ranks / f"{way}-saved1.json").exists()
    run = load_run(ranks / f"{way}-saved0.json")
    assert _same(run.records, _read(ranks, way, 0)["records"])
    assert run.context.world_size == 2
