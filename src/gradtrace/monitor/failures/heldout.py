"""Held-out cases of the failure benchmark: written after the verdict rules and apart from them,
to measure how well the verdict and its advice generalize beyond the cases (``cases.CASES``)
that the rules were written with.

Each case was written from its failure's mechanism and the literature, and its expected status,
the names a good diagnosis must give (``must_name``) and the remedy a practitioner would apply
first (``fix``) were decided from those, before the monitor was run on it; what the monitor then
said was recorded, not tuned for. Whether each failure is real (the run fails to learn, or
diverges) and whether the chosen fix mends it was checked with the monitor off. The test suite
runs them as measurements only (each builds, trains and yields a verdict), never as a check of
the monitor's answer.

The cases differ in architecture from the original ones: a deep plain CNN, a vanilla RNN
summing over 100 steps, a post-LN transformer, a GRU over frozen embeddings, a residual CNN,
heavy dropout, bfloat16 autocast, a learning-rate schedule gone wrong, a gradient-accumulation
bug, a hand-written binary cross-entropy, targets in the thousands under Adam, ReLUs killed by a
large learning rate, and a fit that converges. Every case trains in a second or two on a CPU, on synthetic,
seeded data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch
from torch import nn
from torch.nn import functional as F

from gradtrace.monitor.failures.harness import Case, Setup, Trial
from gradtrace.monitor.failures.kit import (
    adam,
    classes,
    evaluator,
    images,
    mlp,
    mlp_trial,
    mse,
    regression,
    seeded_generator,
    sgd,
)

__all__ = ["HELD_OUT"]

_REGISTRY: list[Case] = []


def held_out(
    group: str,
    expect: str,
    must_name: tuple[str, ...] = (),
    fix: str | None = None,
) -> Callable[[Callable[[Setup], Trial]], Callable[[Setup], Trial]]:
    """Register the decorated build function as a held-out ``Case`` named after it, described by
    its docstring."""

    def register(build: Callable[[Setup], Trial]) -> Callable[[Setup], Trial]:
        about = " ".join((build.__doc__ or "").split())
        _REGISTRY.append(
            Case(build.__name__, group, about, build, expect, must_name, fix, held_out=True)
        )
        return build

    return register


def _scaled_targets(
    s: Setup, y: torch.Tensor
) -> tuple[
    Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor],
    Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor],
]:
    """The training loss (on standardized targets when ``s.scale_targets``) and the held-out
    loss in the targets' own units."""
    if s.scale_targets:
        mean, std = y.mean(), y.std()
    else:
        mean, std = torch.tensor(0.0), torch.tensor(1.0)

    def train_loss(m: nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(m(xb).float(), (yb - mean) / std)

    def held(m: nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(m(xb).float() * std + mean, yb)

    return train_loss, held


# ---- vanishing -----------------------------------------------------------------------------------


@held_out("vanishing", "vanishing", ("0.weight",), "init")
def deep_plain_cnn(s: Setup) -> Trial:
    """A 12-layer plain CNN (3x3 convolutions, ReLU, no normalization, no skip connections) at
    PyTorch's default init, kaiming_uniform with a = sqrt(5), that is Var(W) = 1/(3 fan_in): each
    ReLU layer passes back about sqrt(1/6) = 0.41 of the gradient, 0.41^12 ~ 2e-5 at the first
    layer, and the net does not learn. He et al. 2015 (Sec. 2.2, Fig. 3): deep plain rectifier
    nets need Var(W) = 2/fan_in to train; the fix is that init."""
    layers: list[nn.Module] = [nn.Conv2d(1, 16, 3, padding=1), nn.ReLU()]
    for _ in range(11):
        layers += [nn.Conv2d(16, 16, 3, padding=1), nn.ReLU()]
    model = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 4))
    return mlp_trial(s, model, images(1024, 101), opt=sgd(0.02, momentum=0.9), steps=60, batch=32)


def _long_sums(n: int, t: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sequences of ``t`` N(0, 1) pairs; the target is the sum of the first feature over all
    the steps, over sqrt(t) (variance 1): the net must carry a running sum through ``t`` steps."""
    g = seeded_generator(seed)
    x = torch.randn(n, t, 2, generator=g)
    return x, x[:, :, :1].sum(dim=1) / math.sqrt(t)


@held_out("vanishing", "vanishing", ("rnn.weight_hh_l0",), "gated")
def tanh_rnn_long_sum(s: Setup) -> Trial:
    """A vanilla tanh RNN (PyTorch's default init: recurrent spectral radius about 0.6) asked for
    the sum of a feature over 100 time steps: the gradient from the loss back to step t - k is a
    product of k Jacobians of norm below 1, so the inputs more than a few steps back get almost
    none and the net learns only the last few (its loss stays near the target's variance).
    Bengio et al. 1994; Pascanu et al. 2013 (Sec. 2-3). The fix from Hochreiter and
    Schmidhuber 1997 on: a gated cell (LSTM, GRU), whose additive memory path carries the
    gradient through time."""
    x, y = _long_sums(1024, 100, 102)
    cell = s.gated

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            if cell == "gru":
                self.rnn: nn.Module = nn.GRU(2, 32, batch_first=True)
            elif cell:
                self.rnn = nn.LSTM(2, 32, batch_first=True)
            else:
                self.rnn = nn.RNN(2, 32, nonlinearity="tanh", batch_first=True)
            self.head = nn.Linear(32, 1)

        def forward(self, v: torch.Tensor) -> torch.Tensor:
            out, _ = self.rnn(v)
            return self.head(out[:, -1])

    return mlp_trial(
        s, Net(), (x, y), opt=adam(3e-3), steps=120, batch=64, loss=mse, supports=("gated",)
    )


@held_out("dead units", "vanishing", ("3",), "lower_lr")
def relu_killed_by_lr(s: Setup) -> Trial:
    """A ReLU MLP at He init trained with plain SGD at a learning rate 10 times too large: the
    first large steps push most of the second hidden layer's units (module ``3``) below 0 for
    every input (90 % of them, measured with the monitor off), and a dead ReLU passes back no gradient, so it never comes back ("dying ReLU": CS231n notes;
    Lu et al. 2019). The fix: a smaller learning rate, so that the units are never pushed out.
    The monitor records activations (``activations=True``), as one looking for dead units would
    ask it to."""
    x, y = classes(2048, 16, 4, 103)
    x = x * 3.0
    model = mlp([16, 128, 128, 4], nn.ReLU)
    for m in model:
        if isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)
    return mlp_trial(s, model, (x, y), opt=sgd(1.0), steps=60, monitor={"activations": True})


# ---- exploding -----------------------------------------------------------------------------------


class _MilestoneSGD(torch.optim.SGD):
    """SGD under a step schedule gone wrong: from step ``milestone`` on, the learning rate is
    multiplied by ``gamma`` = 10, as ``MultiStepLR(milestones=[milestone], gamma=10)`` (a typo
    for 0.1) sets it. A step pre-hook of its own raises the rate before each such step (before
    any hook registered later, a monitor's included) and a post-hook restores it, so that a
    loop's own rate changes (warm-up, a lower rate) still apply."""

    milestone = 40
    gamma = 10.0

    def __init__(self, params: Iterable[nn.Parameter], *, lr: float, momentum: float = 0.0) -> None:
        super().__init__(params, lr=lr, momentum=momentum)
        self._t = 0
        self._saved: list[float] = []
        self.register_step_pre_hook(lambda _opt, _args, _kwargs: self._raise())
        self.register_step_post_hook(lambda _opt, _args, _kwargs: self._restore())

    def _raise(self) -> None:
        self._saved = [g["lr"] for g in self.param_groups]
        if self._t >= self.milestone:
            for g in self.param_groups:
                g["lr"] = g["lr"] * self.gamma

    def _restore(self) -> None:
        for g, lr in zip(self.param_groups, self._saved, strict=True):
            g["lr"] = lr
        self._t += 1


@held_out("schedule", "nonfinite", (), "lower_lr")
def lr_milestone_typo(s: Setup) -> Trial:
    """A GELU MLP regressing a smooth target with SGD (momentum 0.9) at a sound rate for 40 steps;
    then the schedule's milestone multiplies the rate by 10 instead of 0.1, past the stable rate
    2 (1 + momentum) / lambda_max of the loss's sharpest direction, and the iterates diverge
    exponentially from there (Cohen et al. 2021 on the stability edge) until the loss and the
    gradients overflow to inf and nan within about 10 steps: by the statuses' definitions the
    run is non-finite, its cause the rate. The cause is global, so no layer in particular must
    be named; the fix: lower the rate by 10."""
    model = mlp([8, 64, 64, 1], nn.GELU)
    return mlp_trial(
        s,
        model,
        regression(2048, 8, 104),
        opt=lambda ps: _MilestoneSGD(ps, lr=0.1, momentum=0.9),
        steps=80,
        loss=mse,
    )


@held_out("accumulation", "nonfinite", (), "lower_lr")
def accumulation_not_averaged(s: Setup) -> Trial:
    """Gradient accumulation over 8 micro-batches whose loop forgets to divide each micro-batch's
    loss by 8: the summed gradient is 8 times the mean one, and plain SGD at a rate chosen for the
    mean takes steps 8 times too long, past the stable rate: the run diverges, its loss and gradients
    overflowing to inf and nan within about 20 steps (non-finite by the statuses' definitions,
    its cause the rate). (The harness
    divides by ``accumulate`` as a correct loop does; this loss multiplies by 8 to undo it.)
    The true fix, dividing the loss, is not a remedy of the vocabulary; its exact equivalent
    under SGD is a rate 8 times lower, so the fix is lower_lr. No layer in particular must be
    named."""
    k = 8
    x, y = regression(4096, 8, 105)
    model = mlp([8, 64, 64, 1], nn.Tanh)

    def summed(m: nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        return k * mse(m, xb, yb)

    trial = mlp_trial(s, model, (x, y), opt=sgd(0.1, momentum=0.9), steps=40, batch=32)
    trial.loss = summed
    trial.evaluate = evaluator(mse, x[3072:], y[3072:])
    trial.accumulate = k
    return trial


class _PostLN(nn.Module):
    """A 4-layer post-LN transformer encoder (``norm_first=False``, as in Vaswani et al. 2017)
    with a causal mask, on next-token prediction."""

    def __init__(self, vocab: int, d: int, layers: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(0.02 * torch.randn(32, d))
        layer = nn.TransformerEncoderLayer(d, 4, 4 * d, dropout=0.0, batch_first=True)
        self.enc = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.out = nn.Linear(d, vocab)

    def forward(self, tok: torch.Tensor) -> torch.Tensor:
        mask = nn.Transformer.generate_square_subsequent_mask(tok.shape[1])
        h = self.embed(tok) + self.pos[: tok.shape[1]]
        return self.out(self.enc(h, mask=mask, is_causal=True))


def _copy_tokens(n: int, t: int, vocab: int, seed: int) -> torch.Tensor:
    """Token streams whose second half repeats the first half (an induction task)."""
    g = seeded_generator(seed)
    half = torch.randint(0, vocab, (n, t // 2), generator=g)
    return torch.cat([half, half], dim=1)


@held_out("transformer", "exploding", ("enc.layers.3.*",), "warmup")
def post_ln_no_warmup(s: Setup) -> Trial:
    """A post-LN transformer trained with Adam at 1e-2 from the first step, without warm-up. In
    post-LN the expected gradient of the last layers' weights does not shrink with depth
    (Xiong et al. 2020, Thm. 1), and Adam's first steps, with a second-moment estimate from a
    handful of gradients, are as large as the rate allows (Liu et al. 2020): the early updates
    throw the model into a bad region and training stalls (here at about the unigram entropy,
    where 20 warm-up steps bring it 0.4 nats lower). The large gradients are those of the last
    block (``enc.layers.3``). The fix in both papers, and in Vaswani et al. 2017: a
    learning-rate warm-up."""
    tok = _copy_tokens(1024, 24, 16, 106)

    def loss(m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        logits = m(x[:, :-1])[:, 11:]
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), x[:, 12:].reshape(-1))

    return mlp_trial(
        s, _PostLN(16, 64, 4), (tok, tok), opt=adam(1e-2), steps=60, batch=32, loss=loss
    )


@held_out("targets", "exploding", ("4.weight",), "scale_targets")
def large_targets_adam(s: Setup) -> Trial:
    """A ReLU MLP regressing prices around 3000 (3000 + 400 sin(.)) with Adam at 1e-3, targets not
    standardized: the residual, and every gradient, is thousands of times the weights' scale,
    and Adam's steps of about 1e-3 per weight cannot bring the output to 3000 in the run: it
    underfits by orders of magnitude. The fix: standardize the targets (LeCun et al. 1998,
    Efficient BackProp, Sec. 4.3 on the inputs; the same for the outputs)."""
    x, y = regression(2048, 8, 107, scale=400.0, shift=3000.0)
    train_loss, held = _scaled_targets(s, y[:1536])
    model = mlp([8, 64, 64, 1], nn.ReLU)
    trial = mlp_trial(
        s,
        model,
        (x, y),
        opt=adam(1e-3),
        steps=80,
        loss=train_loss,
        supports=("scale_targets",),
    )
    trial.evaluate = evaluator(held, x[1536:], y[1536:])
    return trial


# ---- non-finite ----------------------------------------------------------------------------------


def _separable(n: int, n_in: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two classes split by a random hyperplane with a margin, features of scale 3."""
    g = seeded_generator(seed)
    x = 3.0 * torch.randn(n, n_in, generator=g)
    w = torch.randn(n_in, generator=g)
    m = x @ (w / w.norm())
    keep = m.abs() > 0.5
    x, m = x[keep], m[keep]
    return x, (m > 0).float().unsqueeze(1)


@held_out("non-finite", "nonfinite", ("2.weight",), "check_inputs")
def handmade_bce(s: Setup) -> Trial:
    """Binary cross-entropy written by hand, -(y log p + (1 - y) log(1 - p)) with p = sigmoid(z),
    on separable data: once the net is confident, z > 17 for some positive sample, p rounds to
    exactly 1 in float32, log(1 - p) = -inf and 0 * -inf = nan in the loss and in every gradient
    (why PyTorch's BCELoss clamps the log at -100 and its docs point to BCEWithLogitsLoss). The
    non-finite values start in the loss, so the output layer is where they arise; the remedy
    of the vocabulary for non-finite loss terms is check_inputs (the true fix, a log-sigmoid
    computed from the logit, is not one of its words)."""
    x, y = _separable(3000, 10, 108)
    model = mlp([10, 32, 1], nn.ReLU)

    def by_hand(m: nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        p = torch.sigmoid(m(xb).float())
        return -(yb * torch.log(p) + (1 - yb) * torch.log(1 - p)).mean()

    def stable(m: nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(m(xb).float(), yb)

    n = x.shape[0] * 3 // 4
    trial = mlp_trial(s, model, (x, y), opt=sgd(0.1, momentum=0.9), steps=60, loss=by_hand)
    trial.evaluate = evaluator(stable, x[n:], y[n:])
    return trial


# ---- healthy baselines ---------------------------------------------------------------------------


@held_out("healthy", "healthy")
def bf16_autocast(s: Setup) -> Trial:
    """A GELU MLP under bfloat16 autocast (float32 weights, no GradScaler): bfloat16 has
    float32's exponent range, so nothing overflows or underflows and no loss scaling is
    needed (Kalamkar et al. 2019). Healthy."""
    model = mlp([16, 128, 128, 4], nn.GELU)
    trial = mlp_trial(s, model, classes(2048, 16, 4, 109), opt=sgd(0.05, momentum=0.9), steps=60)
    trial.autocast = torch.bfloat16
    return trial


def _count_task(n: int, t: int, vocab: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token sequences; the label is whether more than half the tokens are in the lower half of
    the vocabulary."""
    g = seeded_generator(seed)
    tok = torch.randint(0, vocab, (n, t), generator=g)
    return tok, ((tok < vocab // 2).sum(dim=1) > t // 2).long()


@held_out("frozen", "healthy", ("embed.weight",))
def frozen_embedding_gru(s: Setup) -> Trial:
    """A frozen (pretrained-style) embedding, a trainable GRU over 20 tokens and a linear head:
    the embedding gets no gradient by the user's choice, and the GRU's gates keep its gradient
    alive over 20 steps (Cho et al. 2014). Healthy; a good diagnosis notes the frozen
    embedding."""
    tok, y = _count_task(2048, 20, 16, 110)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(16, 16)
            self.embed.weight.requires_grad_(False)
            self.rnn = nn.GRU(16, 32, batch_first=True)
            self.head = nn.Linear(32, 2)

        def forward(self, v: torch.Tensor) -> torch.Tensor:
            out, _ = self.rnn(self.embed(v))
            return self.head(out[:, -1])

    return mlp_trial(s, Net(), (tok, y), opt=adam(3e-3), steps=60, batch=64)


@held_out("healthy", "healthy")
def heavy_dropout(s: Setup) -> Trial:
    """A ReLU MLP with dropout 0.5 after every hidden layer (Srivastava et al. 2014): each step's
    gradient comes from a random half of the units, noisier but not smaller in any layer.
    Healthy."""
    model = nn.Sequential(
        nn.Linear(16, 256),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(256, 256),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(256, 4),
    )
    return mlp_trial(s, model, classes(2048, 16, 4, 111), opt=adam(1e-3), steps=60)


@held_out("converges", "healthy")
def converged_fit(s: Setup) -> Trial:
    """A tanh MLP fitting a linear target on 192 points, full batch, with Adam: the training loss
    falls by orders of magnitude and every gradient with it, uniformly, because the task is
    solved. Shrinking gradients at convergence are not vanishing gradients. Healthy."""
    g = seeded_generator(112)
    x = torch.randn(256, 8, generator=g)
    y = x @ torch.randn(8, 1, generator=g) / math.sqrt(8)
    model = mlp([8, 64, 64, 1], nn.Tanh)
    return mlp_trial(s, model, (x, y), opt=adam(1e-2), steps=150, batch=192, loss=mse)


@held_out("healthy", "healthy")
def resnet_cnn(s: Setup) -> Trial:
    """A residual CNN: a stem and 4 basic blocks (conv, BatchNorm, ReLU, conv, BatchNorm, plus
    the identity; He et al. 2016) with bias-free convolutions, SGD with momentum. Healthy."""

    class Block(nn.Module):
        def __init__(self, c: int) -> None:
            super().__init__()
            self.f = nn.Sequential(
                nn.Conv2d(c, c, 3, padding=1, bias=False),
                nn.BatchNorm2d(c),
                nn.ReLU(),
                nn.Conv2d(c, c, 3, padding=1, bias=False),
                nn.BatchNorm2d(c),
            )

        def forward(self, a: torch.Tensor) -> torch.Tensor:
            return torch.relu(a + self.f(a))

    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, bias=False),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        *[Block(16) for _ in range(4)],
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 4),
    )
    return mlp_trial(s, model, images(1024, 113), opt=sgd(0.05, momentum=0.9), steps=40, batch=32)


HELD_OUT: tuple[Case, ...] = tuple(_REGISTRY)
"""The held-out cases (``Case.held_out`` True), written apart from the verdict rules."""
