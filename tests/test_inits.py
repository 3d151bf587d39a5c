"""Initializations: empirical variances against their formulas, orthogonality, reproducibility.

Variance tolerance: the sample variance of N iid draws with kurtosis kappa has relative standard
error sqrt((kappa - 1) / N) (sqrt(2/N) for a Gaussian, sqrt(0.8/N) for a uniform). With N = 400,000
draws that is 0.22%; the tests allow 1% (over 4 standard errors, so a fixed seed cannot fail by
chance, and a wrong factor such as 2/fan vs 1/fan fails by a mile).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from gradtrace import SpecError
from gradtrace.core.inits import WEIGHT_SCHEMES, bias, get_init, haar_reflectors, orthogonal

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


@pytest.mark.parametrize("name", list(WEIGHT_SCHEMES))
def test_seeded_reproducibility(name: str) -> None:
    params = {"std": 1.0} if name == "normal" else {}
    a = WEIGHT_SCHEMES[name](np.random.default_rng(7), 5, 3, **params)
    b = WEIGHT_SCHEMES[name](np.random.default_rng(7), 5, 3, **params)
    c = WEIGHT_SCHEMES[name](np.random.default_rng(8), 5, 3, **params)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda r: get_init("kaiming"), "init"),
        (lambda r: WEIGHT_SCHEMES["normal"](r, 3, 2, std=-1.0), "std"),
        (lambda r: WEIGHT_SCHEMES["gaussian"](r, 3, 2, sigma_w2=float("nan")), "sigma_w2"),
        (lambda r: WEIGHT_SCHEMES["he_normal"](r, 3, 2, mode="fan_avg"), "mode"),
        (lambda r: WEIGHT_SCHEMES["orthogonal"](r, 3, 2, gain="big"), "gain"),
        (lambda r: WEIGHT_SCHEMES["lecun_normal"](r, 0, 2), "fan_out"),
        (lambda r: WEIGHT_SCHEMES["lecun_normal"](r, 3, 2.0), "fan_in"),
        (lambda r: bias(r, 3, sigma_b2=-0.1), "sigma_b2"),
    ],
)
def test_bad_parameters(call, field: str, rng: np.random.Generator) -> None:
    with pytest.raises(SpecError) as err:
        call(rng)
    assert err.value.field == field


@pytest.mark.parametrize("n", [1, 2, 7, 40])
def test_haar_reflectors_apply_an_orthogonal_matrix(n: int) -> None:
    """Q from the reflectors is orthogonal; applying Q, Q^T by rows or by columns equals the
    explicit matrix products (LAPACK's dormqr against a matmul)."""
    r = haar_reflectors(np.random.default_rng(5), n, batch_shape=(3,))
    q = r.matrix()
    np.testing.assert_allclose(
        q @ q.swapaxes(-1, -2), np.broadcast_to(np.eye(n), q.shape), atol=1e-13
    )
    c = np.random.default_rng(6).standard_normal((3, n, 4))
    np.testing.assert_allclose(r.apply(c), q @ c, atol=1e-13)
    np.testing.assert_allclose(r.apply(c, transpose=True), q.swapaxes(-1, -2) @ c, atol=1e-13)
    rows = c.swapaxes(-1, -2)  # (3, 4, n), not C-contiguous: copied, the input left alone
    before = rows.copy()
    np.testing.assert_allclose(r.apply_rows(rows), rows @ q.swapaxes(-1, -2), atol=1e-13)
    np.testing.assert_array_equal(rows, before)
    own = np.ascontiguousarray(rows)
    out = r.apply_rows(own, transpose=True, inplace=True)
    assert out is own
    np.testing.assert_allclose(out, before @ q, atol=1e-13)
    with pytest.raises(ValueError, match="expected rows"):
        r.apply_rows(np.zeros((3, 4, n + 1)))


def test_haar_reflectors_are_haar() -> None:
    """The law of Haar O(n): E[tr Q] = 0 and E[(tr Q)^2] = 1 (Diaconis & Shahshahani 1994),
    each entry squared ~ Beta(1/2, (n-1)/2) (the first and the last entry: the first and the
    last reflector), and the same law of tr Q as the QR draw (``orthogonal``). Without the sign
    fix (all signs +1) this draw gives E[tr Q] = -2.7 and E[(tr Q)^2] = 7.8, far outside."""
    n, k = 20, 4000
    q = haar_reflectors(np.random.default_rng(8), n, batch_shape=(k,)).matrix()
    tr = np.trace(q, axis1=-2, axis2=-1)
    assert abs(tr.mean()) < 5 / np.sqrt(k)  # sd of tr Q is 1
    # (tr Q)^2 has sd about sqrt(2) for a standard-normal-like trace: 5 standard errors
    assert abs((tr**2).mean() - 1.0) < 5 * np.sqrt(2 / k)
    entry = stats.beta(0.5, (n - 1) / 2)
    assert stats.kstest(q[:, 0, 0] ** 2, entry.cdf).pvalue > 1e-3
    assert stats.kstest(q[:, -1, -1] ** 2, entry.cdf).pvalue > 1e-3
    qr = orthogonal(np.random.default_rng(9), n, n, batch_shape=(k,))
    assert stats.ks_2samp(tr, np.trace(qr, axis1=-2, axis2=-1)).pvalue > 1e-3
