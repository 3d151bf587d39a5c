"""Activations: values and derivatives against mpmath, stability, SymPy forms, log-space rules."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from gradtrace.core.activations import (
    ACTIVATIONS,
    LEAKY_SLOPE,
    get_activation,
    log_sigmoid,
    sigmoid,
)
from gradtrace.core.errors import SpecError
from oracles import mp_phi

SMOOTH = ["sigmoid", "tanh", "softsign", "identity"]
ZS = [-700.0, -40.0, -20.0, -5.0, -1.3, -1e-9, 1e-9, 0.3, 1.0, 5.0, 20.0, 40.0, 700.0]


def _rel(a: float, b: mp.mpf) -> float:
    return float(abs(mp.mpf(a) - b) / abs(b)) if b != 0 else abs(a)


@pytest.mark.parametrize("name", SMOOTH)
@pytest.mark.parametrize("z", ZS)
def test_value_and_derivatives_match_mpmath(name: str, z: float) -> None:
    act = get_activation(name)
    with mp.workdps(40):
        exact = [
            mp_phi(name, mp.mpf(z)),
            *(mp.diff(lambda u: mp_phi(name, u), mp.mpf(z), n) for n in (1, 2)),
        ]
    ours = [act.value(z), act.d1(z), act.d2(z)]
    for got, want in zip(ours, exact, strict=True):
        if abs(want) < mp.mpf("1e-300"):  # below float64's normal range
            assert abs(float(got)) < 1e-290
        else:
            assert _rel(float(got), want) < 1e-13, (name, z, got, want)


@pytest.mark.parametrize("name", ["relu", "leaky_relu"])
def test_piecewise_linear_rules(name: str) -> None:
    act = get_activation(name)
    slope = 0.0 if name == "relu" else LEAKY_SLOPE
    z = np.array([-3.0, -1e-12, 0.0, 1e-12, 2.5])
    np.testing.assert_array_equal(act.value(z), np.where(z > 0, z, slope * z))
    # at 0 the left slope, as PyTorch's backward uses
    np.testing.assert_array_equal(act.d1(z), np.where(z > 0, 1.0, slope))
    np.testing.assert_array_equal(act.d2(z), 0.0)


def test_sigmoid_is_stable_at_every_finite_float() -> None:
    # pytest turns any overflow RuntimeWarning into an error
    assert sigmoid(-1000.0) == 0.0
    assert sigmoid(1e308) == 1.0
    assert sigmoid(-1e308) == 0.0
    assert sigmoid(np.finfo(np.float64).max) == 1.0
    assert log_sigmoid(-1000.0) == -1000.0
    assert log_sigmoid(1000.0) == 0.0
    d1 = get_activation("sigmoid").d1(np.array([-1e308, 1e308, -800.0]))
    assert d1[0] == d1[1] == 0.0
    assert d1[2] == pytest.approx(float(mp.exp(-800)), rel=1e-13)  # exact in the tail


def test_tanh_derivative_keeps_relative_precision_in_the_tails() -> None:
    # 1 - tanh(z)**2 rounds to 0 at z = 20; sech^2 through exp(-2|z|) does not
    got = get_activation("tanh").d1(20.0)
    assert _rel(float(got), 1 / mp.cosh(20) ** 2) < 1e-14


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_sympy_form_matches_numpy(name: str) -> None:
    z = sp.Symbol("z", real=True)
    act = get_activation(name)
    expr = act.sympy(z)
    pts = [-3.1, -0.4, 0.7, 2.2]
    for p in pts:
        assert float(expr.subs(z, p)) == pytest.approx(float(act.value(p)), rel=1e-14, abs=1e-300)
        assert float(sp.diff(expr, z).subs(z, p)) == pytest.approx(float(act.d1(p)), rel=1e-14)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "identity"])
def test_sympy_inverse_inverts(name: str) -> None:
    act = get_activation(name)
    a = sp.Symbol("a", real=True)
    assert act.sympy_inverse is not None
    for v in [0.2, 0.5, 0.9]:
        z = act.sympy_inverse(sp.Float(v))
        assert float(act.sympy(z)) == pytest.approx(v, rel=1e-14)
    assert act.sympy_inverse(a) is not None


@pytest.mark.parametrize("name", list(ACTIVATIONS))
@given(z=st.floats(-50, 50, allow_nan=False).filter(lambda v: abs(v) > 1e-6))
def test_log_forward_matches_plain_logs(name: str, z: float) -> None:
    act = get_activation(name)
    lz, sz = np.log(np.abs(np.array([z]))), np.sign(np.array([z]))
    la, sa, ld1 = act.log_forward(lz, sz)
    a, d1 = act.value(z), act.d1(z)
    with np.errstate(divide="ignore"):
        assert la[0] == pytest.approx(np.log(np.abs(a)), rel=1e-12, abs=1e-12)
        assert ld1[0] == pytest.approx(np.log(d1), rel=1e-12, abs=1e-12)
    assert sa[0] == (np.sign(a) if a != 0 else sa[0])


def test_log_forward_beyond_float64() -> None:
    # z = -1e400 (log|z| = 921): log s(z) = z, log s'(z) = -|z| (both beyond float64 as values)
    lz, sz = np.array([921.0]), np.array([-1.0])
    la, _, ld1 = get_activation("sigmoid").log_forward(lz, sz)
    assert np.isneginf(la[0]) and np.isneginf(ld1[0])  # honestly -inf: e^921 is not a float
    # softsign of a tiny z: log|a| = log|z| - log1p(|z|) without underflow
    la, _, ld1 = get_activation("softsign").log_forward(np.array([-2000.0]), np.array([1.0]))
    assert la[0] == pytest.approx(-2000.0) and ld1[0] == pytest.approx(0.0, abs=1e-300)
    la, _, _ = get_activation("tanh").log_forward(np.array([-2000.0]), np.array([1.0]))
    assert la[0] == -2000.0


def test_unknown_activation_names_the_value() -> None:
    with pytest.raises(SpecError, match=r"unknown activation 'swish' \(choose from sigmoid"):
        get_activation("swish")
