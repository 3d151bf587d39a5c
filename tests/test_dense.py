"""Dense backprop against torch.autograd in float64, and at width 1 against the chain engine."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chains import chains
from gradtrace import DenseNetwork, DenseSpec, Network, SpecError, backprop, dense_backprop
from gradtrace.core.activations import ACTIVATIONS
from oracles import torch_activations

ACTS = list(ACTIVATIONS)


def torch_dense(net: DenseNetwork, x: np.ndarray, t: np.ndarray):
    """dL/dW_k, dL/db_k, dL/dz_k and the loss by torch.autograd in float64 (independent of the
    engine's backward pass)."""
    import torch
    import torch.nn.functional as F

    acts = torch_activations()
    spec = net.spec
    Ws = [torch.tensor(w, requires_grad=True) for w in net.weights]
    Bs = None if net.biases is None else [torch.tensor(b, requires_grad=True) for b in net.biases]
    a = torch.tensor(x)
    T = torch.tensor(t)
    zs = []
    for k, W in enumerate(Ws):
        z = (W @ a[..., None])[..., 0] + (Bs[k] if Bs is not None else 0.0)
        z.retain_grad()
        zs.append(z)
        name = spec.output_activation if k == len(Ws) - 1 else spec.activation
        a = acts[name](z)
    if spec.loss == "bce":
        lo = F.binary_cross_entropy_with_logits(z, T.expand_as(z), reduction="none")
    elif spec.loss == "huber":
        lo = F.huber_loss(a, T.expand_as(a), reduction="none", delta=1.0)
    else:
        lo = (T - a) ** 2
    lo = lo.sum(-1)
    lo.sum().backward()
    return (
        [W.grad.numpy() for W in Ws],
        None if Bs is None else [B.grad.numpy() for B in Bs],
        [z.grad.numpy() for z in zs],
        lo.detach().numpy(),
    )


@st.composite
def dense_problems(draw):
    """A random dense net (widths 1-6, depth 1-5, a batch axis or none) with x and target."""
    depth = draw(st.integers(1, 5))
    loss = draw(st.sampled_from(["l2", "huber", "bce"]))
    widths = [draw(st.integers(1, 6)) for _ in range(depth + 1)]
    if loss == "bce":
        widths[-1] = 1
    act = draw(st.sampled_from(ACTS))
    out = "sigmoid" if loss == "bce" else draw(st.sampled_from(ACTS))
    biases = draw(st.booleans())
    batch = draw(st.sampled_from([(), (3,)]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    spec = DenseSpec(tuple(widths), act, out, loss, biases)
    ws = tuple(
        rng.normal(0, 1.5 / np.sqrt(widths[k]), (*batch, widths[k + 1], widths[k]))
        for k in range(depth)
    )
    bs = (
        tuple(rng.normal(0, 0.5, (*batch, widths[k + 1])) for k in range(depth)) if biases else None
    )
    x = rng.normal(0, 1, (*batch, widths[0]))
    t = rng.uniform(0, 1, (*batch, 1)) if loss == "bce" else rng.normal(0, 2, (*batch, widths[-1]))
    return DenseNetwork(spec, ws, bs), x, t


@settings(max_examples=40)
@given(problem=dense_problems())
def test_dense_matches_torch_autograd(problem) -> None:
    net, x, t = problem
    tr = dense_backprop(net, x, t)
    gw, gb, gz, lo = torch_dense(net, x, t)
    assert tr.warnings == ()
    # float64 rounding only: 1e-12 relative to each layer's largest entry
    for k in range(net.depth):
        for ours, ref in [(tr.grad_weight[k], gw[k]), (tr.delta[k], gz[k])]:
            scale = np.max(np.abs(ref)) + 1e-300
            np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12 * scale)
        if gb is not None:
            assert tr.grad_bias is not None
            np.testing.assert_allclose(tr.grad_bias[k], gb[k], rtol=1e-10, atol=1e-12 * scale)
    np.testing.assert_allclose(tr.loss, lo, rtol=1e-12, atol=1e-14)


@settings(max_examples=50)
@given(p=chains(max_depth=12, batch=True))
def test_width_one_equals_chain(p: dict) -> None:
    """Every activation and loss the chain supports (skip connections aside): the same numbers."""
    net = Network.chain(
        p["weights"],
        biases=p["biases"],
        activation=p["activation"],
        output_activation=p["output_activation"],
        loss=p["loss"],
    )
    chain = backprop(net, p["x"], p["target"])
    dense = dense_backprop(DenseNetwork.from_chain(net), p["x"][..., None], p["target"][..., None])
    for name in ("z", "a", "activation_derivative", "delta", "grad_weight"):
        got = np.stack(
            [
                v[..., 0] if v.ndim == chain.x.ndim + 1 else v[..., 0, 0]
                for v in getattr(dense, name)
            ],
            axis=-1,
        )
        np.testing.assert_allclose(got, getattr(chain, name), rtol=1e-14, atol=0, err_msg=name)
    if chain.grad_bias is not None:
        assert dense.grad_bias is not None
        got = np.stack([v[..., 0] for v in dense.grad_bias], axis=-1)
        np.testing.assert_allclose(got, chain.grad_bias, rtol=1e-14, atol=0)
    np.testing.assert_allclose(dense.loss, chain.loss, rtol=1e-14, atol=0)
    np.testing.assert_allclose(dense.prediction[..., 0], chain.prediction, rtol=1e-14, atol=0)


def test_exercise_as_dense() -> None:
    """The exercise's part (b) numbers, through the dense engine."""
    net = Network.chain([0.25, -0.11, 0.78], output_activation="sigmoid", loss="bce")
    tr = dense_backprop(DenseNetwork.from_chain(net), [0.63], [1.0])
    got = [g[0, 0] for g in tr.grad_weight]
    np.testing.assert_allclose(got, [0.0013636, -0.042711, -0.19723], rtol=5e-5)


def test_batched_equals_one_by_one(rng: np.random.Generator) -> None:
    spec = DenseSpec((4, 5, 3), "tanh", "identity", "l2")
    ws = (rng.normal(size=(6, 5, 4)), rng.normal(size=(6, 3, 5)))
    bs = (rng.normal(size=(6, 5)), rng.normal(size=(6, 3)))
    x, t = rng.normal(size=(6, 4)), rng.normal(size=(6, 3))
    whole = dense_backprop(DenseNetwork(spec, ws, bs), x, t)
    for i in range(6):
        one = dense_backprop(
            DenseNetwork(spec, (ws[0][i], ws[1][i]), (bs[0][i], bs[1][i])), x[i], t[i]
        )
        for k in range(2):
            np.testing.assert_allclose(whole.grad_weight[k][i], one.grad_weight[k], rtol=1e-15)
        assert whole.loss[i] == pytest.approx(one.loss, rel=1e-15)


def test_non_finite_is_reported() -> None:
    spec = DenseSpec((1, 1, 1), "identity", "identity", "l2", biases=False)
    net = DenseNetwork(spec, (np.array([[1e200]]), np.array([[1e200]])))
    tr = dense_backprop(net, [1e10], [0.0])
    assert any(m.startswith("z is not finite") for m in tr.warnings)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"widths": (3,)}, "widths"),
        ({"widths": (3, 0)}, "widths"),
        ({"widths": (3, 2.5)}, "widths"),
        ({"widths": (3, True)}, "widths"),
        ({"widths": (3, 2), "activation": "swish"}, "activation"),
        ({"widths": (3, 2), "output_activation": "swish"}, "output_activation"),
        ({"widths": (3, 2), "loss": "hinge"}, "loss"),
        ({"widths": (3, 1), "loss": "bce"}, "loss"),  # identity output
        ({"widths": (3, 2), "loss": "bce", "output_activation": "sigmoid"}, "loss"),
    ],
)
def test_spec_validation(kwargs: dict, field: str) -> None:
    with pytest.raises(SpecError) as err:
        DenseSpec(**kwargs)
    assert err.value.field == field


def test_network_validation() -> None:
    spec = DenseSpec((3, 2, 1))
    w = (np.zeros((2, 3)), np.zeros((1, 2)))
    b = (np.zeros(2), np.zeros(1))
    DenseNetwork(spec, w, b)
    for bad_w, bad_b, field in [
        (w[:1], b, "weights"),
        ((np.zeros((3, 2)), w[1]), b, "weights"),
        ((np.full((2, 3), np.nan), w[1]), b, "weights"),
        (w, None, "biases"),
        (w, (np.zeros(3), np.zeros(1)), "biases"),
    ]:
        with pytest.raises(SpecError) as err:
            DenseNetwork(spec, bad_w, bad_b)
        assert err.value.field == field
    net = DenseNetwork(spec, w, b)
    with pytest.raises(SpecError, match="input width 3") as err:
        dense_backprop(net, np.zeros(2), np.zeros(1))
    assert err.value.field == "x"
    with pytest.raises(SpecError, match="output width 1") as err:
        dense_backprop(net, np.zeros(3), np.zeros(2))
    assert err.value.field == "target"


def test_from_chain_refuses_residual() -> None:
    net = Network.chain(
        [1.0, 2.0], activation="tanh", output_activation="identity", loss="l2", residual=True
    )
    with pytest.raises(SpecError) as err:
        DenseNetwork.from_chain(net)
    assert err.value.field == "residual"
