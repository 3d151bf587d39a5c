"""The cases of the failure benchmark: small models on synthetic data, each a well-known way for
gradients to fail (or a healthy baseline that must not be called a failure), with the verdict
it must get, the layers it must name and the remedy that fixes it.

Every case trains in a second or two on a CPU. The data are synthetic and seeded: a teacher
network's classes (``_classes``), a smooth regression target (``_regression``), sequences whose
label is a sum over time (``_sequences``) and token streams with a bigram rule (``_tokens``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from gradtrace.monitor.failures.harness import Case, Setup, Trial

__all__ = ["CASES"]

_REGISTRY: list[Case] = []


def case(
    group: str,
    expect: str,
    must_name: tuple[str, ...] = (),
    fix: str | None = None,
    *,
    fast: bool = False,
) -> Callable[[Callable[[Setup], Trial]], Callable[[Setup], Trial]]:
    """Register the decorated build function as a ``Case`` named after it, described by its
    docstring."""

    def register(build: Callable[[Setup], Trial]) -> Callable[[Setup], Trial]:
        about = " ".join((build.__doc__ or "").split())
        _REGISTRY.append(Case(build.__name__, group, about, build, expect, must_name, fix, fast))
        return build

    return register


# ---- data ----------------------------------------------------------------------------------------


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _classes(n: int, n_in: int, k: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` points of N(0, I) in ``n_in`` dimensions, labelled by a random 2-layer teacher."""
    g = _gen(seed)
    x = torch.randn(n, n_in, generator=g)
    h = torch.tanh(x @ torch.randn(n_in, 32, generator=g) / math.sqrt(n_in))
    y = (h @ torch.randn(32, k, generator=g)).argmax(dim=1)
    return x, y


def _regression(
    n: int, n_in: int, seed: int, scale: float = 1.0, shift: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Targets ``shift + scale * sin(x . a)`` with a unit-norm ``a``."""
    g = _gen(seed)
    x = torch.randn(n, n_in, generator=g)
    a = torch.randn(n_in, generator=g)
    y = shift + scale * torch.sin(x @ (a / a.norm()) * 2).unsqueeze(1)
    return x, y


def _sequences(n: int, t: int, d: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sequences of N(0, 1) vectors; the target is the mean of the first feature over time."""
    g = _gen(seed)
    x = torch.randn(n, t, d, generator=g)
    return x, x[:, :, :1].mean(dim=1)


def _tokens(n: int, t: int, vocab: int, seed: int) -> torch.Tensor:
    """Token streams where each token is the previous one plus 1 or 2 (mod vocab)."""
    g = _gen(seed)
    start = torch.randint(0, vocab, (n, 1), generator=g)
    steps = torch.randint(1, 3, (n, t - 1), generator=g)
    return torch.cat([start, start + steps.cumsum(dim=1)], dim=1) % vocab


def _batches(
    x: torch.Tensor, y: torch.Tensor, size: int, seed: int
) -> Callable[[int], tuple[torch.Tensor, torch.Tensor]]:
    """A fixed, seeded order of minibatches: step t -> (x, y)."""
    g = _gen(seed + 1)
    order = torch.randperm(x.shape[0], generator=g)

    def batch(t: int) -> tuple[torch.Tensor, torch.Tensor]:
        i = order[(t * size) % x.shape[0] :][:size]
        if i.numel() < size:
            i = order[:size]
        return x[i], y[i]

    return batch


def _ce(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(model(x).float(), y)


def _mse(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(model(x).float(), y.float())


def _dtype(model: nn.Module) -> torch.dtype:
    return next(model.parameters()).dtype


def _evaluator(
    loss: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
) -> Callable[[nn.Module], float]:
    """The held-out loss, in float32 whatever the model's dtype, nan when not finite."""

    @torch.no_grad()
    def evaluate(model: nn.Module) -> float:
        was = model.training
        model.eval()
        xx = x.to(_dtype(model)) if x.is_floating_point() else x
        v = float(loss(model, xx, y))
        model.train(was)
        return v if math.isfinite(v) else math.nan

    return evaluate


def _mlp(widths: list[int], act: Callable[[], nn.Module], *, bias: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1], bias=bias))
        if i < len(widths) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


@torch.no_grad()
def _init(model: nn.Module, sigma_w2: float, sigma_b2: float = 0.0) -> None:
    for m in model.modules():
        if isinstance(m, nn.Linear):
            m.weight.normal_(0.0, math.sqrt(sigma_w2 / m.in_features))
            if m.bias is not None:
                if sigma_b2:
                    m.bias.normal_(0.0, math.sqrt(sigma_b2))
                else:
                    m.bias.zero_()


def _standardizer(x: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    mean, std = x.mean(dim=0), x.std(dim=0).clamp_min(1e-8)
    return lambda v: (v - mean) / std


class _Residual(nn.Module):
    """``a + f(a)``: a skip connection around ``f``."""

    def __init__(self, f: nn.Module) -> None:
        super().__init__()
        self.f = f

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return a + self.f(a)


def _deep(width: int, depth: int, act: Callable[[], nn.Module], residual: bool) -> list[nn.Module]:
    """``depth`` hidden blocks Linear -> act, plain or each inside a skip connection."""
    blocks: list[nn.Module] = []
    for _ in range(depth):
        block = nn.Sequential(nn.Linear(width, width), act())
        blocks.append(_Residual(block) if residual else block)
    return blocks


def _mlp_trial(
    s: Setup,
    model: nn.Module,
    data: tuple[torch.Tensor, torch.Tensor],
    *,
    opt: Callable[[list[nn.Parameter]], torch.optim.Optimizer],
    steps: int,
    batch: int = 64,
    loss: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor] = _ce,
    seed: int = 0,
    supports: tuple[str, ...] = (),
    monitor: dict | None = None,
) -> Trial:
    x, y = data
    n = x.shape[0] * 3 // 4
    if s.normalize_inputs and "normalize_inputs" in supports:
        std = _standardizer(x[:n])
        x = std(x)
    train_x, train_y, test_x, test_y = x[:n], y[:n], x[n:], y[n:]
    return Trial(
        model,
        opt([p for p in model.parameters() if p.requires_grad]),
        _batches(train_x, train_y, batch, seed),
        loss,
        _evaluator(loss, test_x, test_y),
        steps,
        supports=supports,
        monitor=monitor or {},
    )


def _sgd(lr: float, momentum: float = 0.0) -> Callable[[list[nn.Parameter]], torch.optim.Optimizer]:
    return lambda ps: torch.optim.SGD(ps, lr=lr, momentum=momentum)


def _adam(lr: float, eps: float = 1e-8) -> Callable[[list[nn.Parameter]], torch.optim.Optimizer]:
    return lambda ps: torch.optim.Adam(ps, lr=lr, eps=eps)


# ---- vanishing -----------------------------------------------------------------------------------


@case("vanishing", "vanishing", ("0.weight",), "activation", fast=True)
def deep_sigmoid(s: Setup) -> Trial:
    """12 sigmoid layers at PyTorch's default init, plain SGD: each layer passes back at most
    1/4 of the gradient."""
    body = _deep(32, 11, nn.Sigmoid, s.residual)
    model = nn.Sequential(nn.Linear(16, 32), nn.Sigmoid(), *body, nn.Linear(32, 4))
    return _mlp_trial(
        s, model, _classes(2048, 16, 4, 1), opt=_sgd(0.5), steps=60, supports=("residual",)
    )


@case("vanishing", "vanishing", ("0.weight",), "init")
def deep_tanh_small_init(s: Setup) -> Trial:
    """16 tanh layers with W ~ N(0, 0.25/fan_in): the ordered phase (chi_1 ~ 0.25), gradients
    halve per layer toward the input."""
    model = _mlp([16] + [64] * 16 + [4], nn.Tanh)
    _init(model, 0.25, 0.0)
    return _mlp_trial(s, model, _classes(2048, 16, 4, 2), opt=_sgd(0.05, momentum=0.9), steps=60)


@case("vanishing", "vanishing", ("0.weight",), "init")
def deep_relu_small_init(s: Setup) -> Trial:
    """20 ReLU layers with W ~ N(0, 0.5/fan_in) and small biases: the signal and the gradient
    shrink by sqrt(sigma_w2 / 2) = 1/2 per layer."""
    model = _mlp([16] + [64] * 20 + [4], nn.ReLU)
    _init(model, 0.5, 1e-4)
    return _mlp_trial(s, model, _classes(2048, 16, 4, 3), opt=_sgd(0.05, momentum=0.9), steps=60)


# ---- exploding -----------------------------------------------------------------------------------


@case("exploding", "exploding", ("24.weight",), "init")
def deep_relu_large_init(s: Setup) -> Trial:
    """12 ReLU layers with W ~ N(0, 8/fan_in): activations and gradients double per layer."""
    model = _mlp([16] + [64] * 12 + [4], nn.ReLU)
    _init(model, 8.0, 0.0)
    return _mlp_trial(s, model, _classes(2048, 16, 4, 4), opt=_adam(1e-3), steps=40)


@case("exploding", "exploding", ("weight",), "lower_lr", fast=True)
def large_lr(s: Setup) -> Trial:
    """Least squares on a linear model with plain SGD at 1.1 times the largest stable rate
    2 / lambda_max (lambda_max: the top eigenvalue of the loss's Hessian (2/n) X^T X): the
    gradient grows by |1 - lr lambda_max| = 1.2 per step."""
    x, y = _regression(2048, 8, 5)
    xb = torch.cat([x[:1536], torch.ones(1536, 1)], dim=1)  # the bias as an input
    lam = float(torch.linalg.eigvalsh(2 * xb.T @ xb / 1536)[-1])
    model = nn.Linear(8, 1)
    return _mlp_trial(s, model, (x, y), opt=_sgd(2.2 / lam), steps=60, batch=1536, loss=_mse)


@case("exploding", "exploding", ("w3.weight",), "scale_targets", fast=True)
def exercise_regression(s: Setup) -> Trial:
    """The exercise's chain x -> s(w1 x) -> s(w2 a1) -> w3 a2 regressing targets
    128 + 8 tanh(2x), near the exercise's 128 (part d): the residual, and with it every
    gradient, is about 250 times too large."""
    g = _gen(6)
    x = torch.randn(1024, 1, generator=g)
    y = 128.0 + 8.0 * torch.tanh(2.0 * x)
    if s.scale_targets:
        mean, std = y.mean(), y.std()
    else:
        mean, std = torch.tensor(0.0), torch.tensor(1.0)

    class Chain(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w1 = nn.Linear(1, 1)
            self.w2 = nn.Linear(1, 1)
            self.w3 = nn.Linear(1, 1)

        def forward(self, v: torch.Tensor) -> torch.Tensor:
            return self.w3(torch.sigmoid(self.w2(torch.sigmoid(self.w1(v)))))

    model = Chain()

    def train_loss(m: nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(m(xb), (yb - mean) / std)

    def held_out(m: nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(m(xb) * std + mean, yb)

    trial = _mlp_trial(
        s, model, (x, y), opt=_sgd(0.5), steps=150, loss=train_loss, supports=("scale_targets",)
    )
    trial.evaluate = _evaluator(held_out, x[768:], y[768:])
    return trial


@case("exploding", "exploding", ("rnn.weight_hh_l0",), "init", fast=True)
def rnn_exploding(s: Setup) -> Trial:
    """A ReLU RNN over 60 time steps with recurrent weights 1.25 I: the gradient is about 1e10
    at the first step, and Adam trains on."""
    cell = "lstm" if s.gated else None
    x, y = _sequences(512, 60, 4, 7)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            if cell:
                self.rnn: nn.Module = nn.LSTM(4, 32, batch_first=True)
            else:
                rnn = nn.RNN(4, 32, nonlinearity="relu", batch_first=True)
                with torch.no_grad():
                    rnn.get_parameter("weight_hh_l0").copy_(1.25 * torch.eye(32))
                self.rnn = rnn
            self.head = nn.Linear(32, 1)

        def forward(self, v: torch.Tensor) -> torch.Tensor:
            out, _ = self.rnn(v)
            return self.head(out[:, -1])

    return _mlp_trial(
        s, Net(), (x, y), opt=_adam(1e-3), steps=40, batch=32, loss=_mse, supports=("gated",)
    )


# ---- dead and saturated units --------------------------------------------------------------------


@case("dead units", "vanishing", ("3",), "init", fast=True)
def dead_relu(s: Setup) -> Trial:
    """A 4-layer ReLU net whose hidden biases start at -3: most units output 0 for every input."""
    model = _mlp([16, 64, 64, 64, 4], nn.ReLU)
    with torch.no_grad():
        for m in list(model)[2:-1]:
            if isinstance(m, nn.Linear):
                m.bias.fill_(-3.0)
    return _mlp_trial(
        s,
        model,
        _classes(2048, 16, 4, 8),
        opt=_sgd(0.05, momentum=0.9),
        steps=60,
        monitor={"activations": True},
    )


@case("saturation", "vanishing", ("1",), "normalize")
def saturated_tanh(s: Setup) -> Trial:
    """A tanh net fed raw features of scale 50 (no standardization): the first layer saturates."""
    x, y = _classes(2048, 16, 4, 9)
    x = x * 50.0 + 20.0
    model = _mlp([16, 64, 64, 4], nn.Tanh)
    return _mlp_trial(
        s,
        model,
        (x, y),
        opt=_sgd(0.05, momentum=0.9),
        steps=60,
        supports=("normalize_inputs",),
        monitor={"activations": True},
    )


# ---- non-finite ----------------------------------------------------------------------------------


@case("non-finite", "nonfinite", ("0.weight",), "check_inputs", fast=True)
def nan_input(s: Setup) -> Trial:
    """One NaN feature in one sample of the batch at step 20 (a corrupt record)."""
    x, y = _classes(2048, 16, 4, 10)
    x = x.clone()
    model = _mlp([16, 64, 64, 4], nn.ReLU)
    trial = _mlp_trial(s, model, (x, y), opt=_sgd(0.05, momentum=0.9), steps=40)
    clean = trial.batch

    def batch(t: int) -> tuple[torch.Tensor, torch.Tensor]:
        xb, yb = clean(t)
        if t == 20:
            xb = xb.clone()
            xb[3, 5] = math.nan
        return xb, yb

    trial.batch = batch
    return trial


@case("non-finite", "nonfinite", ("4.weight",), "check_inputs")
def inf_target(s: Setup) -> Trial:
    """A regression whose targets hold an inf in one record, drawn at step 15."""
    x, y = _regression(2048, 8, 11)
    model = _mlp([8, 64, 64, 1], nn.Tanh)
    trial = _mlp_trial(s, model, (x, y), opt=_adam(1e-3), steps=40, loss=_mse)
    clean = trial.batch

    def batch(t: int) -> tuple[torch.Tensor, torch.Tensor]:
        xb, yb = clean(t)
        if t == 15:
            yb = yb.clone()
            yb[0, 0] = math.inf
        return xb, yb

    trial.batch = batch
    return trial


@case("fp16 persistent", "nonfinite", ("embed.weight",), "loss_scale", fast=True)
def fp16_overflow(s: Setup) -> Trial:
    """float16 autocast with a GradScaler over a model that sum-pools 64 positions of raw
    features of scale 5000: the pooled sums pass float16's 65504 in every forward pass, so the
    loss is not finite and the scaler skips every step however far it backs off."""
    g = _gen(12)
    x = 5000.0 * torch.rand(1024, 64, 8, generator=g)
    y = (x[:, :, 0].mean(dim=1) > x[:, :, 1].mean(dim=1)).long()

    class Pool(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Linear(8, 32)
            self.norm = nn.LayerNorm(32)
            self.head = nn.Linear(32, 2)

        def forward(self, v: torch.Tensor) -> torch.Tensor:
            return self.head(self.norm(torch.relu(self.embed(v)).sum(dim=1)))

    trial = _mlp_trial(s, Pool(), (x, y), opt=_sgd(0.05, momentum=0.9), steps=30, batch=32)
    trial.autocast = torch.float16
    trial.scaler = torch.amp.GradScaler("cpu")
    return trial


@case("fp16 transient", "healthy", fast=True)
def grad_scaler_startup(s: Setup) -> Trial:
    """float16 autocast with a GradScaler starting at 2**24: it skips its first steps while the
    scale backs off, then trains (the scaler at work)."""
    x, y = _classes(2048, 16, 4, 13)
    model = _mlp([16, 64, 64, 4], nn.ReLU)
    trial = _mlp_trial(s, model, (x, y), opt=_sgd(0.05, momentum=0.9), steps=60)
    trial.autocast = torch.float16
    trial.scaler = torch.amp.GradScaler("cpu", init_scale=2.0**24)
    return trial


@case("no data", "no data")
def grad_scaler_unattached(s: Setup) -> Trial:
    """A GradScaler that skips every step (a float16 activation overflows in the forward pass),
    with the monitor attached to the optimizer but not told about the scaler: no step runs."""
    x, y = _classes(2048, 16, 4, 14)
    model = _mlp([16, 64, 64, 4], nn.ReLU)

    def loss(m: nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(m(xb * 1e5).float(), yb)  # 1e5 * |w x| overflows float16

    trial = _mlp_trial(s, model, (x, y), opt=_sgd(0.05), steps=20, loss=loss)
    trial.autocast = torch.float16
    trial.scaler = torch.amp.GradScaler("cpu")
    trial.attach_scaler = False
    return trial


# ---- spikes --------------------------------------------------------------------------------------


@case("loss spike", "exploding", ("4.weight",), "clip", fast=True)
def outlier_batch(s: Setup) -> Trial:
    """Regression with plain SGD; the batch of step 40 carries targets 1000 times too large (a
    unit error in the data): one huge gradient that wrecks the weights."""
    x, y = _regression(4096, 8, 15)
    model = _mlp([8, 64, 64, 1], nn.Tanh)
    trial = _mlp_trial(s, model, (x, y), opt=_sgd(0.05, momentum=0.9), steps=70, loss=_mse)
    clean = trial.batch

    def batch(t: int) -> tuple[torch.Tensor, torch.Tensor]:
        xb, yb = clean(t)
        return (xb, yb * 1000.0) if t == 40 else (xb, yb)

    trial.batch = batch
    return trial


# ---- by design, frozen, unused, tied, accumulation -----------------------------------------------


def _images(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """8x8 one-channel images: a bright bar at one of 4 orientations plus noise; the label is the
    orientation."""
    g = _gen(seed)
    y = torch.randint(0, 4, (n,), generator=g)
    img = 0.3 * torch.randn(n, 1, 8, 8, generator=g)
    bars = torch.zeros(4, 8, 8)
    bars[0, 3:5, :] = bars[1, :, 3:5] = 1.0
    bars[2] = torch.eye(8)
    bars[3] = torch.eye(8).flip(1)
    return img + bars[y].unsqueeze(1), y


def _cnn(bias: bool) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, bias=bias),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1, bias=bias),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(32, 4),
    )


@case("zero by design", "healthy", ("0.bias", "3.bias"), fast=True)
def conv_bias_batchnorm(s: Setup) -> Trial:
    """Conv layers with bias=True (PyTorch's default) in front of BatchNorm: BatchNorm subtracts
    the batch mean, so those biases get a zero gradient by design."""
    return _mlp_trial(
        s, _cnn(True), _images(1024, 16), opt=_sgd(0.05, momentum=0.9), steps=40, batch=32
    )


@case("healthy", "healthy")
def cnn_batchnorm(s: Setup) -> Trial:
    """The same CNN with bias=False before BatchNorm: healthy."""
    return _mlp_trial(
        s, _cnn(False), _images(1024, 17), opt=_sgd(0.05, momentum=0.9), steps=40, batch=32
    )


class _LayerScale(nn.Module):
    """``a + gamma * f(a)`` with ``gamma`` initialized at 1e-6 (Touvron et al. 2021, CaiT)."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.f = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Linear(d, d))
        self.gamma = nn.Parameter(torch.full((d,), 1e-6))

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return a + self.gamma * self.f(a)


@case("recovers", "healthy", fast=True)
def layerscale(s: Setup) -> Trial:
    """Residual blocks scaled by LayerScale gammas starting at 1e-6: the blocks' inner weights
    start with gradients about 1e-6 of the rest, then grow as Adam moves the gammas."""
    model = nn.Sequential(nn.Linear(16, 64), *[_LayerScale(64) for _ in range(4)], nn.Linear(64, 1))
    return _mlp_trial(s, model, _regression(2048, 16, 18), opt=_adam(3e-3), steps=80, loss=_mse)


@case("frozen", "healthy", ("0.weight",))
def frozen_layers(s: Setup) -> Trial:
    """A pretrained-style MLP whose first two layers are frozen (fine-tuning the head)."""
    model = _mlp([16, 64, 64, 4], nn.ReLU)
    for p in list(model.parameters())[:4]:
        p.requires_grad_(False)
    return _mlp_trial(s, model, _classes(2048, 16, 4, 19), opt=_adam(1e-3), steps=40)


@case("unused", "healthy", ("aux.weight",))
def unused_branch(s: Setup) -> Trial:
    """A model with an auxiliary head that the loss never uses: its parameters get no
    gradient."""

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = _mlp([16, 64, 64], nn.ReLU)
            self.head = nn.Linear(64, 4)
            self.aux = nn.Linear(64, 2)

        def forward(self, v: torch.Tensor) -> torch.Tensor:
            return self.head(torch.relu(self.body(v)))

    return _mlp_trial(s, Net(), _classes(2048, 16, 4, 20), opt=_adam(1e-3), steps=40)


class _TinyLM(nn.Module):
    """Embedding -> 1 transformer layer -> output head sharing the embedding's weight."""

    def __init__(self, vocab: int, d: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(0.02 * torch.randn(16, d))
        self.block = nn.TransformerEncoderLayer(d, 2, 2 * d, dropout=0.0, batch_first=True)
        self.out = nn.Linear(d, vocab, bias=False)
        self.out.weight = self.embed.weight  # tied

    def forward(self, tok: torch.Tensor) -> torch.Tensor:
        h = self.embed(tok) + self.pos[: tok.shape[1]]
        mask = nn.Transformer.generate_square_subsequent_mask(tok.shape[1])
        return self.out(self.block(h, src_mask=mask, is_causal=True))


def _lm_trial(s: Setup, model: nn.Module, steps: int, seed: int) -> Trial:
    tok = _tokens(512, 16, 32, seed)

    def loss(m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        logits = m(x[:, :-1])
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), x[:, 1:].reshape(-1))

    return _mlp_trial(s, model, (tok, tok), opt=_adam(3e-3), steps=steps, batch=32, loss=loss)


@case("tied", "healthy", ("embed.weight",))
def tied_embedding(s: Setup) -> Trial:
    """A tiny language model whose output head shares the embedding matrix."""
    return _lm_trial(s, _TinyLM(32, 32), 40, 21)


@case("accumulation", "healthy")
def gradient_accumulation(s: Setup) -> Trial:
    """Four micro-batches per optimizer step: one record per step, of the summed gradient."""
    trial = _mlp_trial(
        s,
        _mlp([16, 64, 64, 4], nn.ReLU),
        _classes(2048, 16, 4, 22),
        opt=_adam(1e-3),
        steps=30,
        batch=16,
    )
    trial.accumulate = 4
    return trial


# ---- healthy baselines ---------------------------------------------------------------------------


@case("healthy", "healthy")
def transformer(s: Setup) -> Trial:
    """A 2-layer transformer encoder (pre-norm) on a next-token task."""

    class LM(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(32, 32)
            self.pos = nn.Parameter(0.02 * torch.randn(16, 32))
            layer = nn.TransformerEncoderLayer(
                32, 2, 64, dropout=0.0, batch_first=True, norm_first=True
            )
            self.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.out = nn.Linear(32, 32)

        def forward(self, tok: torch.Tensor) -> torch.Tensor:
            mask = nn.Transformer.generate_square_subsequent_mask(tok.shape[1])
            return self.out(
                self.enc(self.embed(tok) + self.pos[: tok.shape[1]], mask=mask, is_causal=True)
            )

    return _lm_trial(s, LM(), 40, 23)


@case("healthy", "healthy", fast=True)
def critical_tanh(s: Setup) -> Trial:
    """16 tanh layers at the mean-field critical point (sigma_w2 = 1.76, sigma_b2 = 0.05):
    gradients keep their size through depth (Schoenholz et al. 2017)."""
    model = _mlp([16] + [64] * 16 + [4], nn.Tanh)
    _init(model, 1.76, 0.05)
    return _mlp_trial(s, model, _classes(2048, 16, 4, 24), opt=_sgd(0.05, momentum=0.9), steps=60)


@case("healthy", "healthy")
def residual_mlp(s: Setup) -> Trial:
    """12 residual ReLU blocks with LayerNorm: deep but healthy."""
    blocks = [
        _Residual(nn.Sequential(nn.LayerNorm(64), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64)))
        for _ in range(12)
    ]
    model = nn.Sequential(nn.Linear(16, 64), *blocks, nn.LayerNorm(64), nn.Linear(64, 4))
    return _mlp_trial(s, model, _classes(2048, 16, 4, 25), opt=_adam(1e-3), steps=60)


@case("healthy", "healthy")
def tiny_loss_scale(s: Setup) -> Trial:
    """A healthy MLP whose loss is multiplied by 1e-8 (a mean over a huge count, say): every
    gradient is tiny, uniformly, and Adam's normalized update does not mind."""
    model = _mlp([16, 64, 64, 4], nn.ReLU)

    def loss(m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return 1e-8 * F.cross_entropy(m(x), y)

    trial = _mlp_trial(
        s, model, _classes(2048, 16, 4, 26), opt=_adam(1e-3, eps=1e-16), steps=60, loss=loss
    )
    trial.evaluate = _evaluator(_ce, *_classes(2048, 16, 4, 26))
    return trial


@case("healthy", "healthy", ("rnn",))
def lstm(s: Setup) -> Trial:
    """An LSTM on a sequence-averaging task: healthy (its gates' activations are not seen)."""
    x, y = _sequences(512, 30, 4, 27)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = nn.LSTM(4, 32, batch_first=True)
            self.head = nn.Linear(32, 1)

        def forward(self, v: torch.Tensor) -> torch.Tensor:
            out, _ = self.rnn(v)
            return self.head(out[:, -1])

    return _mlp_trial(s, Net(), (x, y), opt=_adam(3e-3), steps=40, batch=32, loss=_mse)


@case("no data", "no data", fast=True)
def never_attached(s: Setup) -> Trial:
    """A monitor built on the model but never attached: it must say it saw nothing."""
    trial = _mlp_trial(
        s, _mlp([16, 32, 4], nn.ReLU), _classes(512, 16, 4, 28), opt=_adam(1e-3), steps=5
    )
    trial.attach = False
    return trial


CASES: tuple[Case, ...] = tuple(_REGISTRY)
"""The benchmark's cases, in the order of docs/monitor.md's table."""
