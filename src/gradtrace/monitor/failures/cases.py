"""The cases of the failure benchmark: small models on synthetic data, each a well-known way for
gradients to fail (or a healthy baseline that must not be called a failure), with the verdict
it must get, the layers it must name and the remedy that fixes it.

Every case trains in a second or two on a CPU, on synthetic, seeded data; the data, models and
the standard trial come from ``kit``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from gradtrace.monitor.failures.harness import Case, Setup, Trial
from gradtrace.monitor.failures.kit import (
    Residual,
    adam,
    ce,
    classes,
    deep_blocks,
    evaluator,
    images,
    init_normal,
    mlp,
    mlp_trial,
    mse,
    regression,
    seeded_generator,
    sequences,
    sgd,
    tokens,
)

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


# ---- vanishing -----------------------------------------------------------------------------------


@case("vanishing", "vanishing", ("0.weight",), "activation", fast=True)
def deep_sigmoid(s: Setup) -> Trial:
    """12 sigmoid layers at PyTorch's default init, plain SGD: each layer passes back at most
    1/4 of the gradient."""
    body = deep_blocks(32, 11, nn.Sigmoid, s.residual)
    model = nn.Sequential(nn.Linear(16, 32), nn.Sigmoid(), *body, nn.Linear(32, 4))
    return mlp_trial(
        s, model, classes(2048, 16, 4, 1), opt=sgd(0.5), steps=60, supports=("residual",)
    )


@case("vanishing", "vanishing", ("0.weight",), "init")
def deep_tanh_small_init(s: Setup) -> Trial:
    """16 tanh layers with W ~ N(0, 0.25/fan_in): the ordered phase (chi_1 ~ 0.25), gradients
    halve per layer toward the input."""
    model = mlp([16] + [64] * 16 + [4], nn.Tanh)
    init_normal(model, 0.25, 0.0)
    return mlp_trial(s, model, classes(2048, 16, 4, 2), opt=sgd(0.05, momentum=0.9), steps=60)


@case("vanishing", "vanishing", ("0.weight",), "init")
def deep_relu_small_init(s: Setup) -> Trial:
    """20 ReLU layers with W ~ N(0, 0.5/fan_in) and small biases: the signal and the gradient
    shrink by sqrt(sigma_w2 / 2) = 1/2 per layer."""
    model = mlp([16] + [64] * 20 + [4], nn.ReLU)
    init_normal(model, 0.5, 1e-4)
    return mlp_trial(s, model, classes(2048, 16, 4, 3), opt=sgd(0.05, momentum=0.9), steps=60)


# ---- exploding -----------------------------------------------------------------------------------


@case("exploding", "exploding", ("24.weight",), "init")
def deep_relu_large_init(s: Setup) -> Trial:
    """12 ReLU layers with W ~ N(0, 8/fan_in): activations and gradients double per layer."""
    model = mlp([16] + [64] * 12 + [4], nn.ReLU)
    init_normal(model, 8.0, 0.0)
    return mlp_trial(s, model, classes(2048, 16, 4, 4), opt=adam(1e-3), steps=40)


@case("exploding", "exploding", ("weight",), "lower_lr", fast=True)
def large_lr(s: Setup) -> Trial:
    """Least squares on a linear model with plain SGD at 1.1 times the largest stable rate
    2 / lambda_max (lambda_max: the top eigenvalue of the loss's Hessian (2/n) X^T X): the
    gradient grows by |1 - lr lambda_max| = 1.2 per step."""
    x, y = regression(2048, 8, 5)
    xb = torch.cat([x[:1536], torch.ones(1536, 1)], dim=1)  # the bias as an input
    lam = float(torch.linalg.eigvalsh(2 * xb.T @ xb / 1536)[-1])
    model = nn.Linear(8, 1)
    return mlp_trial(s, model, (x, y), opt=sgd(2.2 / lam), steps=60, batch=1536, loss=mse)


@case("exploding", "exploding", ("w3.weight",), "scale_targets", fast=True)
def exercise_regression(s: Setup) -> Trial:
    """The exercise's chain x -> s(w1 x) -> s(w2 a1) -> w3 a2 regressing targets
    128 + 8 tanh(2x), near the exercise's 128 (part d): the residual, and with it every
    gradient, is about 250 times too large."""
    g = seeded_generator(6)
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

    trial = mlp_trial(
        s, model, (x, y), opt=sgd(0.5), steps=150, loss=train_loss, supports=("scale_targets",)
    )
    trial.evaluate = evaluator(held_out, x[768:], y[768:])
    return trial


@case("exploding", "exploding", ("rnn.weight_hh_l0",), "init", fast=True)
def rnn_exploding(s: Setup) -> Trial:
    """A ReLU RNN over 60 time steps with recurrent weights 1.25 I: the gradient is about 1e10
    at the first step, and Adam trains on."""
    cell = "lstm" if s.gated else None
    x, y = sequences(512, 60, 4, 7)

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

    return mlp_trial(
        s, Net(), (x, y), opt=adam(1e-3), steps=40, batch=32, loss=mse, supports=("gated",)
    )


# ---- dead and saturated units --------------------------------------------------------------------


@case("dead units", "vanishing", ("3",), "init", fast=True)
def dead_relu(s: Setup) -> Trial:
    """A 4-layer ReLU net whose hidden biases start at -3: most units output 0 for every input."""
    model = mlp([16, 64, 64, 64, 4], nn.ReLU)
    with torch.no_grad():
        for m in list(model)[2:-1]:
            if isinstance(m, nn.Linear):
                m.bias.fill_(-3.0)
    return mlp_trial(
        s,
        model,
        classes(2048, 16, 4, 8),
        opt=sgd(0.05, momentum=0.9),
        steps=60,
        monitor={"activations": True},
    )


@case("saturation", "vanishing", ("1",), "normalize")
def saturated_tanh(s: Setup) -> Trial:
    """A tanh net fed raw features of scale 50 (no standardization): the first layer saturates."""
    x, y = classes(2048, 16, 4, 9)
    x = x * 50.0 + 20.0
    model = mlp([16, 64, 64, 4], nn.Tanh)
    return mlp_trial(
        s,
        model,
        (x, y),
        opt=sgd(0.05, momentum=0.9),
        steps=60,
        supports=("normalize_inputs",),
        monitor={"activations": True},
    )


# ---- non-finite ----------------------------------------------------------------------------------


@case("non-finite", "nonfinite", ("0.weight",), "check_inputs", fast=True)
def nan_input(s: Setup) -> Trial:
    """One NaN feature in one sample of the batch at step 20 (a corrupt record)."""
    x, y = classes(2048, 16, 4, 10)
    x = x.clone()
    model = mlp([16, 64, 64, 4], nn.ReLU)
    trial = mlp_trial(s, model, (x, y), opt=sgd(0.05, momentum=0.9), steps=40)
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
    x, y = regression(2048, 8, 11)
    model = mlp([8, 64, 64, 1], nn.Tanh)
    trial = mlp_trial(s, model, (x, y), opt=adam(1e-3), steps=40, loss=mse)
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
    g = seeded_generator(12)
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

    trial = mlp_trial(s, Pool(), (x, y), opt=sgd(0.05, momentum=0.9), steps=30, batch=32)
    trial.autocast = torch.float16
    trial.scaler = torch.amp.GradScaler("cpu")
    return trial


@case("fp16 transient", "healthy", fast=True)
def grad_scaler_startup(s: Setup) -> Trial:
    """float16 autocast with a GradScaler starting at 2**24: it skips its first steps while the
    scale backs off, then trains (the scaler at work)."""
    x, y = classes(2048, 16, 4, 13)
    model = mlp([16, 64, 64, 4], nn.ReLU)
    trial = mlp_trial(s, model, (x, y), opt=sgd(0.05, momentum=0.9), steps=60)
    trial.autocast = torch.float16
    trial.scaler = torch.amp.GradScaler("cpu", init_scale=2.0**24)
    return trial


@case("no data", "no data")
def grad_scaler_unattached(s: Setup) -> Trial:
    """A GradScaler that skips every step (a float16 activation overflows in the forward pass),
    with the monitor attached to the optimizer but not told about the scaler: no step runs."""
    x, y = classes(2048, 16, 4, 14)
    model = mlp([16, 64, 64, 4], nn.ReLU)

    def loss(m: nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(m(xb * 1e5).float(), yb)  # 1e5 * |w x| overflows float16

    trial = mlp_trial(s, model, (x, y), opt=sgd(0.05), steps=20, loss=loss)
    trial.autocast = torch.float16
    trial.scaler = torch.amp.GradScaler("cpu")
    trial.attach_scaler = False
    return trial


# ---- spikes --------------------------------------------------------------------------------------


@case("loss spike", "exploding", ("4.weight",), "clip", fast=True)
def outlier_batch(s: Setup) -> Trial:
    """Regression with plain SGD; the batch of step 40 carries targets 1000 times too large (a
    unit error in the data): one huge gradient that wrecks the weights."""
    x, y = regression(4096, 8, 15)
    model = mlp([8, 64, 64, 1], nn.Tanh)
    trial = mlp_trial(s, model, (x, y), opt=sgd(0.05, momentum=0.9), steps=70, loss=mse)
    clean = trial.batch

    def batch(t: int) -> tuple[torch.Tensor, torch.Tensor]:
        xb, yb = clean(t)
        return (xb, yb * 1000.0) if t == 40 else (xb, yb)

    trial.batch = batch
    return trial


# ---- by design, frozen, unused, tied, accumulation -----------------------------------------------


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
    return mlp_trial(
        s, _cnn(True), images(1024, 16), opt=sgd(0.05, momentum=0.9), steps=40, batch=32
    )


@case("healthy", "healthy")
def cnn_batchnorm(s: Setup) -> Trial:
    """The same CNN with bias=False before BatchNorm: healthy."""
    return mlp_trial(
        s, _cnn(False), images(1024, 17), opt=sgd(0.05, momentum=0.9), steps=40, batch=32
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
    return mlp_trial(s, model, regression(2048, 16, 18), opt=adam(3e-3), steps=80, loss=mse)


@case("frozen", "healthy", ("0.weight",))
def frozen_layers(s: Setup) -> Trial:
    """A pretrained-style MLP whose first two layers are frozen (fine-tuning the head)."""
    model = mlp([16, 64, 64, 4], nn.ReLU)
    for p in list(model.parameters())[:4]:
        p.requires_grad_(False)
    return mlp_trial(s, model, classes(2048, 16, 4, 19), opt=adam(1e-3), steps=40)


@case("unused", "healthy", ("aux.weight",))
def unused_branch(s: Setup) -> Trial:
    """A model with an auxiliary head that the loss never uses: its parameters get no
    gradient."""

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = mlp([16, 64, 64], nn.ReLU)
            self.head = nn.Linear(64, 4)
            self.aux = nn.Linear(64, 2)

        def forward(self, v: torch.Tensor) -> torch.Tensor:
            return self.head(torch.relu(self.body(v)))

    return mlp_trial(s, Net(), classes(2048, 16, 4, 20), opt=adam(1e-3), steps=40)


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
    tok = tokens(512, 16, 32, seed)

    def loss(m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        logits = m(x[:, :-1])
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), x[:, 1:].reshape(-1))

    return mlp_trial(s, model, (tok, tok), opt=adam(3e-3), steps=steps, batch=32, loss=loss)


@case("tied", "healthy", ("embed.weight",))
def tied_embedding(s: Setup) -> Trial:
    """A tiny language model whose output head shares the embedding matrix."""
    return _lm_trial(s, _TinyLM(32, 32), 40, 21)


@case("accumulation", "healthy")
def gradient_accumulation(s: Setup) -> Trial:
    """Four micro-batches per optimizer step: one record per step, of the summed gradient."""
    trial = mlp_trial(
        s,
        mlp([16, 64, 64, 4], nn.ReLU),
        classes(2048, 16, 4, 22),
        opt=adam(1e-3),
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
    model = mlp([16] + [64] * 16 + [4], nn.Tanh)
    init_normal(model, 1.76, 0.05)
    return mlp_trial(s, model, classes(2048, 16, 4, 24), opt=sgd(0.05, momentum=0.9), steps=60)


@case("healthy", "healthy")
def residual_mlp(s: Setup) -> Trial:
    """12 residual ReLU blocks with LayerNorm: deep but healthy."""
    blocks = [
        Residual(nn.Sequential(nn.LayerNorm(64), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64)))
        for _ in range(12)
    ]
    model = nn.Sequential(nn.Linear(16, 64), *blocks, nn.LayerNorm(64), nn.Linear(64, 4))
    return mlp_trial(s, model, classes(2048, 16, 4, 25), opt=adam(1e-3), steps=60)


@case("healthy", "healthy")
def tiny_loss_scale(s: Setup) -> Trial:
    """A healthy MLP whose loss is multiplied by 1e-8 (a mean over a huge count, say): every
    gradient is tiny, uniformly, and Adam's normalized update does not mind."""
    model = mlp([16, 64, 64, 4], nn.ReLU)

    def loss(m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return 1e-8 * F.cross_entropy(m(x), y)

    trial = mlp_trial(
        s, model, classes(2048, 16, 4, 26), opt=adam(1e-3, eps=1e-16), steps=60, loss=loss
    )
    trial.evaluate = evaluator(ce, *classes(2048, 16, 4, 26))
    return trial


@case("healthy", "healthy", ("rnn",))
def lstm(s: Setup) -> Trial:
    """An LSTM on a sequence-averaging task: healthy (its gates' activations are not seen)."""
    x, y = sequences(512, 30, 4, 27)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = nn.LSTM(4, 32, batch_first=True)
            self.head = nn.Linear(32, 1)

        def forward(self, v: torch.Tensor) -> torch.Tensor:
            out, _ = self.rnn(v)
            return self.head(out[:, -1])

    return mlp_trial(s, Net(), (x, y), opt=adam(3e-3), steps=40, batch=32, loss=mse)


@case("no data", "no data", fast=True)
def never_attached(s: Setup) -> Trial:
    """A monitor built on the model but never attached: it must say it saw nothing."""
    trial = mlp_trial(
        s, mlp([16, 32, 4], nn.ReLU), classes(512, 16, 4, 28), opt=adam(1e-3), steps=5
    )
    trial.attach = False
    return trial


CASES: tuple[Case, ...] = tuple(_REGISTRY)
"""The benchmark's cases, in the order of docs/monitor.md's table."""
