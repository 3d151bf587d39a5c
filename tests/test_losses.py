"""Losses: values and derivatives against mpmath, finite in saturation."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest

from gradtrace.core.errors import SpecError
from gradtrace.core.losses import (
    bce,
    bce_dloss_dprediction_from_logit,
    bce_from_logit,
    bce_grad,
    bce_grad_logit,
    get_loss,
    l2,
    l2_grad,
)


def mp_bce_logit(z: float, t: float) -> mp.mpf:
    s = 1 / (1 + mp.exp(-mp.mpf(z)))
    return -(t * mp.log(s) + (1 - t) * mp.log(1 - s))


@pytest.mark.parametrize("z", [-800.0, -30.0, -2.0, 0.0, 0.378, 4.0, 30.0, 800.0])
@pytest.mark.parametrize("t", [0.0, 0.25, 1.0])
def test_bce_from_logit_matches_mpmath(z: float, t: float) -> None:
    with mp.workdps(400):  # 1 - s(800) = e^-800 needs ~350 digits
        exact = mp_bce_logit(z, t)
        dz = mp.diff(lambda u: mp_bce_logit(u, t), mp.mpf(z))
        s = 1 / (1 + mp.exp(-mp.mpf(z)))
        dy = -t / s + (1 - t) / (1 - s)
    got = float(bce_from_logit(z, t))
    assert got == pytest.approx(float(exact), rel=1e-13, abs=1e-300)
    assert float(bce_grad_logit(z, t)) == pytest.approx(float(dz), rel=1e-12, abs=1e-300)
    assert float(bce_dloss_dprediction_from_logit(z, t)) == pytest.approx(float(dy), rel=1e-12)


def test_saturated_prediction_gives_finite_loss_and_exact_gradient() -> None:
    # y = s(40) rounds to 1.0 in float64; from the logit the loss for label 0 is finite, exact
    assert float(bce(1.0, 0.0)) == np.inf  # the naive form, for contrast
    assert float(bce_from_logit(40.0, 0.0)) == pytest.approx(
        40.0 + float(mp.log1p(mp.exp(-40))), rel=1e-15
    )
    assert float(bce_grad_logit(40.0, 0.0)) == pytest.approx(1.0)
    assert float(bce_grad_logit(-40.0, 1.0)) == pytest.approx(-1.0)


def test_bce_on_probabilities() -> None:
    assert float(bce(0.8, 1.0)) == pytest.approx(-np.log(0.8), rel=1e-15)
    assert float(bce(0.8, 0.0)) == pytest.approx(-np.log(0.2), rel=1e-15)
    assert float(bce_grad(0.8, 0.3)) == pytest.approx(-0.3 / 0.8 + 0.7 / 0.2, rel=1e-15)


def test_l2_is_the_exercise_form() -> None:
    # (y_hat - y)^2 with no factor 1/2, and its derivative -2 (y_hat - y)
    assert float(l2(0.5, 128.0)) == 127.5**2
    assert float(l2_grad(0.5, 128.0)) == -255.0


def test_unknown_loss() -> None:
    with pytest.raises(SpecError, match="unknown loss 'hinge'"):
        get_loss("hinge")


@pytest.mark.parametrize("r", [-5.0, -1.0, -0.3, 0.0, 0.7, 1.0, 2.5, 255.0])
def test_huber_matches_its_definition(r: float) -> None:
    from gradtrace.core.losses import huber, huber_grad

    with mp.workdps(30):
        f = lambda y: (y**2 / 2) if abs(y) <= 1 else abs(y) - mp.mpf(1) / 2  # noqa: E731
        want = f(mp.mpf(r))
        slope = (
            mp.diff(f, mp.mpf(r)) if abs(r) != 1 else mp.sign(r)
        )  # the kink's one-sided slopes agree
    assert float(huber(r, 0.0)) == pytest.approx(float(want), rel=1e-15, abs=1e-300)
    assert float(huber_grad(r, 0.0)) == pytest.approx(float(slope), rel=1e-12, abs=1e-300)
    assert abs(float(huber_grad(r, 0.0))) <= 1.0  # bounded: the point of the remedy
