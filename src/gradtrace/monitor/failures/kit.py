"""What the failure benchmark"s cases are built from: seeded synthetic data, small models, the
losses, the optimizers and the standard trial (``mlp_trial``: a 3/4 train, 1/4 held-out split
fed in a fixed, seeded order of minibatches). Both ``cases`` and ``heldout`` build on these.

The data: a teacher network"s classes (``classes``), a smooth regression target
(``regression``), sequences whose label is a sum over time (``sequences``), token streams with
a bigram rule (``tokens``) and 8x8 images of oriented bars (``images``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from gradtrace.monitor.failures.harness import MonitorOptions, Setup, Trial

__all__ = [
    "Residual",
    "adam",
    "batches",
    "ce",
    "classes",
    "deep_blocks",
    "evaluator",
    "images",
    "init_normal",
    "mlp",
    "mlp_trial",
    "mse",
    "regression",
    "seeded_generator",
    "sequences",
    "sgd",
    "standardizer",
    "tokens",
]


# ---- data ----------------------------------------------------------------------------------------


def seeded_generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def classes(n: int, n_in: int, k: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` points of N(0, I) in ``n_in`` dimensions, labelled by a random 2-layer teacher."""
    g = seeded_generator(seed)
    x = torch.randn(n, n_in, generator=g)
    h = torch.tanh(x @ torch.randn(n_in, 32, generator=g) / math.sqrt(n_in))
    y = (h @ torch.randn(32, k, generator=g)).argmax(dim=1)
    return x, y


def regression(
    n: int, n_in: int, seed: int, scale: float = 1.0, shift: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Targets ``shift + scale * sin(x . a)`` with a unit-norm ``a``."""
    g = seeded_generator(seed)
    x = torch.randn(n, n_in, generator=g)
    a = torch.randn(n_in, generator=g)
    y = shift + scale * torch.sin(x @ (a / a.norm()) * 2).unsqueeze(1)
    return x, y


def sequences(n: int, t: int, d: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sequences of N(0, 1) vectors; the target is the mean of the first feature over time."""
    g = seeded_generator(seed)
    x = torch.randn(n, t, d, generator=g)
    return x, x[:, :, :1].mean(dim=1)


def tokens(n: int, t: int, vocab: int, seed: int) -> torch.Tensor:
    """Token streams where each token is the previous one plus 1 or 2 (mod vocab)."""
    g = seeded_generator(seed)
    start = torch.randint(0, vocab, (n, 1), generator=g)
    steps = torch.randint(1, 3, (n, t - 1), generator=g)
    return torch.cat([start, start + steps.cumsum(dim=1)], dim=1) % vocab


def batches(
    x: torch.Tensor, y: torch.Tensor, size: int, seed: int
) -> Callable[[int], tuple[torch.Tensor, torch.Tensor]]:
    """A fixed, seeded order of minibatches: step t -> (x, y)."""
    g = seeded_generator(seed + 1)
    order = torch.randperm(x.shape[0], generator=g)

    def batch(t: int) -> tuple[torch.Tensor, torch.Tensor]:
        i = order[(t * size) % x.shape[0] :][:size]
        if i.numel() < size:
            i = order[:size]
        return x[i], y[i]

    return batch


def ce(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(model(x).float(), y)


def mse(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(model(x).float(), y.float())


def _dtype(model: nn.Module) -> torch.dtype:
    return next(model.parameters()).dtype


def evaluator(
    loss: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
) -> Callable[[nn.Module], float]:
    """The held-out loss, in float32 whatever the model"s dtype, nan when not finite."""

    @torch.no_grad()
    def evaluate(model: nn.Module) -> float:
        was = model.training
        model.eval()
        xx = x.to(_dtype(model)) if x.is_floating_point() else x
        v = float(loss(model, xx, y))
        model.train(was)
        return v if math.isfinite(v) else math.nan

    return evaluate


def images(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """8x8 one-channel images: a bright bar at one of 4 orientations plus noise; the label is the
    orientation."""
    g = seeded_generator(seed)
    y = torch.randint(0, 4, (n,), generator=g)
    img = 0.3 * torch.randn(n, 1, 8, 8, generator=g)
    bars = torch.zeros(4, 8, 8)
    bars[0, 3:5, :] = bars[1, :, 3:5] = 1.0
    bars[2] = torch.eye(8)
    bars[3] = torch.eye(8).flip(1)
    return img + bars[y].unsqueeze(1), y


# ---- models --------------------------------------------------------------------------------------


def mlp(widths: list[int], act: Callable[[], nn.Module], *, bias: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1], bias=bias))
        if i < len(widths) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


@torch.no_grad()
def init_normal(model: nn.Module, sigma_w2: float, sigma_b2: float = 0.0) -> None:
    for m in model.modules():
        if isinstance(m, nn.Linear):
            m.weight.normal_(0.0, math.sqrt(sigma_w2 / m.in_features))
            if m.bias is not None:
                if sigma_b2:
                    m.bias.normal_(0.0, math.sqrt(sigma_b2))
                else:
                    m.bias.zero_()


def standardizer(x: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    mean, std = x.mean(dim=0), x.std(dim=0).clamp_min(1e-8)
    return lambda v: (v - mean) / std


class Residual(nn.Module):
    """``a + f(a)``: a skip connection around ``f``."""

    def __init__(self, f: nn.Module) -> None:
        super().__init__()
        self.f = f

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return a + self.f(a)


def deep_blocks(
    width: int, depth: int, act: Callable[[], nn.Module], residual: bool
) -> list[nn.Module]:
    """``depth`` hidden blocks Linear -> act, plain or each inside a skip connection."""
    blocks: list[nn.Module] = []
    for _ in range(depth):
        block = nn.Sequential(nn.Linear(width, width), act())
        blocks.append(Residual(block) if residual else block)
    return blocks


# ---- optimizers and the standard trial -----------------------------------------------------------


def mlp_trial(
    s: Setup,
    model: nn.Module,
    data: tuple[torch.Tensor, torch.Tensor],
    *,
    opt: Callable[[list[nn.Parameter]], torch.optim.Optimizer],
    steps: int,
    batch: int = 64,
    loss: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor] = ce,
    seed: int = 0,
    supports: tuple[str, ...] = (),
    monitor: MonitorOptions | None = None,
) -> Trial:
    x, y = data
    n = x.shape[0] * 3 // 4
    if s.normalize_inputs and "normalize_inputs" in supports:
        std = standardizer(x[:n])
        x = std(x)
    train_x, train_y, test_x, test_y = x[:n], y[:n], x[n:], y[n:]
    return Trial(
        model,
        opt([p for p in model.parameters() if p.requires_grad]),
        batches(train_x, train_y, batch, seed),
        loss,
        evaluator(loss, test_x, test_y),
        steps,
        supports=supports,
        monitor=monitor or {},
    )


def sgd(lr: float, momentum: float = 0.0) -> Callable[[list[nn.Parameter]], torch.optim.Optimizer]:
    return lambda ps: torch.optim.SGD(ps, lr=lr, momentum=momentum)


def adam(lr: float, eps: float = 1e-8) -> Callable[[list[nn.Parameter]], torch.optim.Optimizer]:
    return lambda ps: torch.optim.Adam(ps, lr=lr, eps=eps)
