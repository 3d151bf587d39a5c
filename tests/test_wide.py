"""Wide random MLPs: one code path on NumPy and torch, exact cases, mean-field scalings, and the
width-1 case against the chain engine."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gradtrace import Network, SpecError, backprop
from gradtrace.core.activations import ACTIVATIONS
from gradtrace.lab.wide import (
    _RULES,
    WideConfig,
    draw_layer,
    jacobian_singular_values,
    simulate,
)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_backend_rules_equal_engine(name: str) -> None:
    z = np.concatenate([np.linspace(-40, 40, 2001), [0.0, 1e-300, -1e-300]])
    value, d1 = _RULES[name]
    act = ACTIVATIONS[name]
    np.testing.assert_allclose(value(np, z), act.value(z), rtol=1e-15, atol=0)
    np.testing.assert_allclose(d1(np, z), act.d1(z), rtol=1e-15, atol=0)


@pytest.mark.parametrize(
    "config",
    [
        WideConfig("tanh", 1.7, 0.1, width=40, depth=6, samples=3, seed=5),
        WideConfig("relu", 2.0, 0.0, width=30, depth=5, samples=2, seed=6, init="orthogonal"),
        WideConfig("sigmoid", 3.0, 0.2, width=20, depth=4, samples=2, seed=7, input_q=0.3),
    ],
)
def test_numpy_and_torch_give_the_same_numbers(config: WideConfig) -> None:
    """The same code on both backends, and the same draws: equal to 1e-10."""
    pytest.importorskip("torch")
    on_torch = dataclasses.replace(config, device="cpu")
    a, b = simulate(config), simulate(on_torch)
    for name in ("q", "c", "grad_norm_ratio"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-10, err_msg=name)
    for method in ("eigh", "svd"):
        s, t = (
            jacobian_singular_values(config, method=method),
            jacobian_singular_values(on_torch, method=method),
        )
        np.testing.assert_allclose(s, t, rtol=0, atol=1e-10 * s.max())


@pytest.mark.parametrize(
    "config",
    [
        WideConfig("tanh", 1.7, 0.1, width=12, depth=4, samples=2, seed=5),
        WideConfig("relu", 2.0, 0.3, width=10, depth=5, samples=2, seed=6, init="orthogonal"),
        WideConfig("sigmoid", 3.0, 0.2, width=9, depth=3, samples=2, seed=7, init="orthogonal"),
    ],
)
def test_simulations_equal_autograd_on_the_drawn_matrices(config: WideConfig) -> None:
    """An independent oracle: torch.autograd (float64) through the nets built from
    ``draw_layer``'s explicit matrices gives the same q^l, gradient-norm ratios and Jacobian
    singular values as the simulations, which apply orthogonal weights from their reflectors
    and accumulate J^T, never forming W."""
    torch = pytest.importorskip("torch")
    phi = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}[config.activation]
    layers = [
        tuple(torch.from_numpy(v) for v in draw_layer(config, k))
        for k in range(1, config.depth + 1)
    ]
    rng = np.random.default_rng([config.seed, 0])  # the inputs' stream (lab/wide's docstring)
    u = rng.standard_normal((config.samples, 2, config.width))
    x = np.empty_like(u)
    x[:, 0], x[:, 1] = u[:, 0], 0.5 * u[:, 0] + np.sqrt(0.75) * u[:, 1]
    x *= np.sqrt(config.input_q)
    direction = torch.from_numpy(rng.standard_normal((config.samples, 2, config.width)))

    def forward(a: torch.Tensor) -> list[torch.Tensor]:
        hs = []
        for w, b in layers:
            hs.append(a @ w.mT + b[:, None, :])
            a = phi(hs[-1])
        return hs

    hs = forward(torch.from_numpy(x).requires_grad_())
    for h in hs:
        h.retain_grad()
    (hs[-1] * direction).sum().backward()
    top = (direction**2).sum(-1)
    ratio = [float(((h.grad**2).sum(-1) / top).mean()) for h in hs]
    q = [float((h.detach() ** 2).mean()) for h in hs]
    run = simulate(config, c0=0.5)
    np.testing.assert_allclose(run.q[1:], q, rtol=1e-12)
    np.testing.assert_allclose(run.grad_norm_ratio, ratio, rtol=1e-10)

    def net_output(v: torch.Tensor) -> torch.Tensor:  # a^L = phi(h^L): one input, every net
        return phi(forward(v[:, None, :])[-1][:, 0, :])

    jac = torch.autograd.functional.jacobian(net_output, torch.from_numpy(x[:, 0]))
    jac = torch.stack([jac[s, :, s, :] for s in range(config.samples)])  # each net's own
    expected = torch.linalg.svdvals(jac).numpy() ** 2
    measured = jacobian_singular_values(config, method="svd")
    np.testing.assert_allclose(measured, expected, rtol=1e-9, atol=1e-14 * expected.max())


def test_orthogonal_linear_net_is_an_isometry() -> None:
    config = WideConfig("identity", 1.0, 0.0, width=60, depth=30, samples=2, init="orthogonal")
    for method in ("eigh", "svd"):
        s2 = jacobian_singular_values(config, method=method)
        assert s2.shape == (2, 60)
        np.testing.assert_allclose(s2, 1.0, rtol=0, atol=1e-12)
    run = simulate(config)
    np.testing.assert_allclose(run.grad_norm_ratio, 1.0, rtol=1e-12)  # norms are preserved


def test_relu_q_under_he_init_and_halving() -> None:
    """ReLU, no biases: q^1 = sigma_w2 q^0, then q^l = (sigma_w2 / 2) q^(l-1) in expectation.

    He init (sigma_w2 = 2) keeps q^l = q^1; sigma_w2 = 1 halves it per layer, q^L = 2^-(L-1) q^1.
    Tolerance: each layer's q is an average of N = 400 units over 4 nets and 2 inputs, relative
    standard error about sqrt(2 / 3200) = 2.5% per layer, compounding over 10 layers to about 8%
    at worst; 25% is over 3 of those, and a wrong law (a factor 2 per layer) is off by 500x.
    """
    base = WideConfig("relu", 2.0, 0.0, width=400, depth=10, samples=4, seed=3)
    he = simulate(base).q
    np.testing.assert_allclose(he[1:] / he[1], 1.0, rtol=0.25)
    half = simulate(dataclasses.replace(base, sigma_w2=1.0)).q
    expected = 2.0 ** -np.arange(10)
    np.testing.assert_allclose(half[1:] / half[1], expected, rtol=0.25)
    assert half[10] / half[1] < 0.01


def test_q_starts_at_input_q_and_c_at_c0() -> None:
    run = simulate(
        WideConfig("tanh", 1.0, 0.0, width=2000, depth=2, samples=4, input_q=0.7), c0=0.3
    )
    # 8,000 squares of N(0, 0.7): relative standard error sqrt(2/8000) = 1.6%; 5% allowed
    assert run.q[0] == pytest.approx(0.7, rel=0.05)
    assert run.c[0] == pytest.approx(0.3, abs=0.05)  # standard error ~ 1/sqrt(8000) = 0.011
    assert run.grad_norm_ratio[-1] == 1.0


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_width_one_is_the_chain(activation: str) -> None:
    """At width 1 (c0 = 1: both inputs equal) the measured quantities are the chain's:
    q^l = z_l^2, |dL/dh^l|^2 / |dL/dh^L|^2 = (delta_l / delta_L)^2, J = prod_l w_l phi'(z_l)."""
    config = WideConfig(activation, 1.3, 0.2, width=1, depth=7, samples=1, seed=11)
    run = simulate(config, c0=1.0)
    w = np.array([draw_layer(config, k)[0][0, 0, 0] for k in range(1, 8)])
    b = np.array([draw_layer(config, k)[1][0, 0] for k in range(1, 8)])
    rng = np.random.default_rng([config.seed, 0])
    x = rng.standard_normal((1, 2, 1))[0, 0, 0]
    net = Network.chain(w, biases=b, activation=activation, output_activation=activation, loss="l2")
    tr = backprop(net, x, 0.123)
    np.testing.assert_allclose(run.q, np.concatenate([[x * x], tr.z**2]), rtol=1e-13)
    if tr.delta[-1] != 0:
        np.testing.assert_allclose(
            run.grad_norm_ratio, (tr.delta / tr.delta[-1]) ** 2, rtol=1e-12, atol=1e-300
        )
    j2 = jacobian_singular_values(config)
    np.testing.assert_allclose(
        j2[0, 0], np.prod(w * tr.activation_derivative) ** 2, rtol=1e-12, atol=1e-300
    )


def test_depth_prefix_and_seeding() -> None:
    deep = WideConfig("tanh", 1.2, 0.05, width=30, depth=6, samples=2, seed=9)
    shallow = dataclasses.replace(deep, depth=3)
    np.testing.assert_array_equal(simulate(deep).q[:4], simulate(shallow).q)
    assert not np.array_equal(simulate(deep).q, simulate(dataclasses.replace(deep, seed=10)).q)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"activation": "swish"}, "activation"),
        ({"sigma_w2": 0.0}, "sigma_w2"),
        ({"sigma_b2": -1.0}, "sigma_b2"),
        ({"width": 0}, "width"),
        ({"depth": 1.5}, "depth"),
        ({"samples": 0}, "samples"),
        ({"init": "xavier"}, "init"),
        ({"input_q": float("inf")}, "input_q"),
    ],
)
def test_config_validation(kwargs: dict, field: str) -> None:
    args = {"activation": "tanh", "sigma_w2": 1.0, "sigma_b2": 0.0, "width": 4, "depth": 2}
    with pytest.raises(SpecError) as err:
        WideConfig(**{**args, **kwargs})
    assert err.value.field == field


def test_bad_device_and_arguments() -> None:
    pytest.importorskip("torch")
    config = WideConfig("tanh", 1.0, 0.0, width=4, depth=2, device="nonsense")
    with pytest.raises(SpecError) as err:
        simulate(config)
    assert err.value.field == "device"
    ok = dataclasses.replace(config, device=None)
    with pytest.raises(SpecError) as err:
        simulate(ok, c0=1.5)
    assert err.value.field == "c0"
    with pytest.raises(SpecError) as err:
        jacobian_singular_values(ok, method="qr")
    assert err.value.field == "method"
