"""Initializations: empirical variances against their formulas, orthogonality, reproducibility.

Variance tolerance: the sample variance of N iid draws with kurtosis kappa has relative standard
error sqrt((kappa - 1) / N) (sqrt(2/N) for a Gaussian, sqrt(0.8/N) for a uniform). With N = 400,000
draws that is 0.22%; the tests allow 1% (over 4 standard errors, so a fixed seed cannot fail by
chance, and a wrong factor such as 2/fan vs 1/fan fails by a mile).
"""

from __future__ import annotations

import numpy as np
import pytest

from gradtrace import SpecError
from gradtrace.inits import INITS, bias, get_init, orthogonal

FAN_OUT, FAN_IN, BATCH = 400, 250, (4,)  # 400,000 draws

CASES = [
    ("normal", {"std": 0.3}, 0.09, "normal"),
    ("gaussian", {"sigma_w2": 1.7}, 1.7 / FAN_IN, "normal"),
    ("lecun_normal", {}, 1.0 / FAN_IN, "normal"),
    ("xavier_normal", {}, 2.0 / (FAN_IN + FAN_OUT), "normal"),
    ("xavier_uniform", {}, 2.0 / (FAN_IN + FAN_OUT), "uniform"),
    ("he_normal", {"mode": "fan_in"}, 2.0 / FAN_IN, "normal"),
    ("he_normal", {"mode": "fan_out"}, 2.0 / FAN_OUT, "normal"),
]


@pytest.mark.parametrize(("name", "params", "var", "law"), CASES)
def test_variance_matches_formula(name: str, params: dict, var: float, law: str) -> None:
    w = get_init(name)(np.random.default_rng(1), FAN_OUT, FAN_IN, batch_shape=BATCH, **params)
    assert w.shape == (*BATCH, FAN_OUT, FAN_IN)
    assert w.dtype == np.float64
    assert np.var(w) == pytest.approx(var, rel=0.01)
    assert abs(np.mean(w)) < 5 * np.sqrt(var / w.size)
    if law == "uniform":  # the bound of Glorot & Bengio's Eq. 16
        r = np.sqrt(6.0 / (FAN_IN + FAN_OUT))
        assert np.abs(w).max() <= r
        assert np.abs(w).max() > 0.999 * r


def test_bias_variance() -> None:
    b = bias(np.random.default_rng(2), 1000, sigma_b2=0.05, batch_shape=(400,))
    assert b.shape == (400, 1000)
    assert np.var(b) == pytest.approx(0.05, rel=0.01)
    assert not bias(np.random.default_rng(2), 3, sigma_b2=0.0).any()


@pytest.mark.parametrize(("fan_out", "fan_in"), [(50, 50), (80, 30), (30, 80)])
def test_orthogonal_is_orthogonal(fan_out: int, fan_in: int) -> None:
    gain = 1.5
    w = orthogonal(np.random.default_rng(3), fan_out, fan_in, gain=gain, batch_shape=(3,))
    q = w / gain
    small = min(fan_out, fan_in)
    gram = q.swapaxes(-1, -2) @ q if fan_out >= fan_in else q @ q.swapaxes(-1, -2)
    np.testing.assert_allclose(gram, np.broadcast_to(np.eye(small), gram.shape), rtol=0, atol=1e-12)


def test_orthogonal_is_haar_not_biased() -> None:
    """With the sign fix the diagonal of Q has mean 0; without it (raw QR) it is positive-biased."""
    w = orthogonal(np.random.default_rng(4), 20, 20, batch_shape=(2000,))
    diag = np.diagonal(w, axis1=-2, axis2=-1)
    # each entry has variance 1/20: the mean of 40,000 is within 5 standard errors of 0
    assert abs(diag.mean()) < 5 * np.sqrt(1 / 20 / diag.size)


@pytest.mark.parametrize("name", list(INITS))
def test_seeded_reproducibility(name: str) -> None:
    params = {"std": 1.0} if name == "normal" else {}
    a = INITS[name](np.random.default_rng(7), 5, 3, **params)
    b = INITS[name](np.random.default_rng(7), 5, 3, **params)
    c = INITS[name](np.random.default_rng(8), 5, 3, **params)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda r: get_init("kaiming"), "init"),
        (lambda r: INITS["normal"](r, 3, 2, std=-1.0), "std"),
        (lambda r: INITS["gaussian"](r, 3, 2, sigma_w2=float("nan")), "sigma_w2"),
        (lambda r: INITS["he_normal"](r, 3, 2, mode="fan_avg"), "mode"),
        (lambda r: INITS["orthogonal"](r, 3, 2, gain="big"), "gain"),
        (lambda r: INITS["lecun_normal"](r, 0, 2), "fan_out"),
        (lambda r: INITS["lecun_normal"](r, 3, 2.0), "fan_in"),
        (lambda r: bias(r, 3, sigma_b2=-0.1), "sigma_b2"),
    ],
)
def test_bad_parameters(call, field: str, rng: np.random.Generator) -> None:
    with pytest.raises(SpecError) as err:
        call(rng)
    assert err.value.field == field
