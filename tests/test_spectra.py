"""Jacobian spectra: free probability's moments against independent computations (scipy
quadrature, Fuss-Catalan numbers, exact isometries), against simulation at finite width, the
`gradtrace jacobian` JSON contract, and the Pennington et al. 2017 reproduction at a small size.

Finite-width tolerances, measured before they were set (tanh at criticality, sigma_b2 = 0.05,
q* = 0.57, width 200, depth 10, 4 nets, 12 seeds): the measured mean scattered by +-15 % at
most (std 9 %: a net's mean squared singular value fluctuates with its input's q^l), the
Gaussian variance ratio was 7 % high on average (an O(L/N) correction; at most 19 %), the
orthogonal one within 6 %. With 8 nets the tests allow 20 % on the mean (3 std) and 25 % on
the variance ratio.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import comb

from gradtrace.cli import main
from gradtrace.core.activations import get_activation
from gradtrace.lab.wide import WideConfig
from gradtrace.reproduce.pennington2017 import (
    SERIES,
    Pennington2017Config,
    Pennington2017Result,
    simulate,
)
from gradtrace.theory.meanfield import critical_sigma_w2, mean_field
from gradtrace.theory.spectra import jacobian_spectrum, predicted_moments, spectrum_theory

SIGMA_B2 = 0.05


def _gauss(f, q: float) -> float:  # type: ignore[no-untyped-def]
    """E[f(h)], h ~ N(0, q), by adaptive quadrature (scipy), independent of Gauss-Hermite."""
    s = math.sqrt(q)
    val, _ = quad(
        lambda z: f(s * z) * math.exp(-z * z / 2) / math.sqrt(2 * math.pi), -40, 40, points=[0]
    )
    return val


@pytest.mark.parametrize(
    ("activation", "sigma_w2", "sigma_b2", "depth"),
    [
        ("tanh", 1.5, 0.05, 7),
        ("tanh", 1.05, 0.0, 20),
        ("sigmoid", 4.0, 0.1, 5),
        ("softsign", 2.0, 0.2, 9),
    ],
)
@pytest.mark.parametrize("init", ["gaussian", "orthogonal"])
def test_predicted_moments_equal_quadrature(
    activation: str, sigma_w2: float, sigma_b2: float, depth: int, init: str
) -> None:
    phi = get_activation(activation)
    q = mean_field(activation, sigma_w2, sigma_b2).q_star
    assert q is not None and q > 0
    d1 = lambda h: float(phi.d1(np.float64(h)))  # noqa: E731
    mu1 = _gauss(lambda h: d1(h) ** 2, q)
    mu2 = _gauss(lambda h: d1(h) ** 4, q)
    s1 = -1.0 if init == "gaussian" else 0.0
    mean, ratio = predicted_moments(activation, sigma_w2, sigma_b2, depth, init)
    assert mean == pytest.approx((sigma_w2 * mu1) ** depth, rel=1e-10)
    assert ratio == pytest.approx(depth * (mu2 / mu1**2 - 1 - s1), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("depth", [1, 2, 5, 30])
def test_linear_gaussian_is_fuss_catalan(depth: int) -> None:
    """A product of L square Gaussian matrices: m2 / m1^2 = FC_L(2) = C(2L+2, 2) / (2L+1) = L+1."""
    mean, ratio = predicted_moments("identity", 1.0, 0.0, depth, "gaussian")
    assert mean == pytest.approx(1.0)
    assert 1 + ratio == pytest.approx(comb(2 * depth + 2, 2, exact=True) / (2 * depth + 1))


def test_linear_gaussian_simulation_near_fuss_catalan() -> None:
    r = jacobian_spectrum(WideConfig("identity", 1.0, 0.0, width=200, depth=4, samples=4))
    assert r.measured_mean == pytest.approx(1.0, rel=0.1)
    assert r.measured_variance_over_mean2 == pytest.approx(4.0, rel=0.25)


def test_linear_orthogonal_is_an_isometry() -> None:
    r = jacobian_spectrum(
        WideConfig("identity", 1.0, 0.0, width=40, depth=6, samples=2, init="orthogonal")
    )
    np.testing.assert_allclose(r.squared_singular_values, 1.0, rtol=1e-12)
    assert r.predicted_mean == pytest.approx(1.0, rel=1e-12)
    assert r.predicted_variance_over_mean2 == pytest.approx(0.0, abs=1e-12)
    assert abs(r.measured_variance_over_mean2) < 1e-12


def test_input_sits_at_the_fixed_point() -> None:
    """input_q = E[phi(h)^2] at q*, so h^1 has second moment sigma_w2 input_q + sigma_b2 = q*."""
    t = spectrum_theory("tanh", 1.5, 0.05, 3, "orthogonal")
    assert t.q_star is not None
    assert 1.5 * t.input_q + 0.05 == pytest.approx(t.q_star, rel=1e-10)


@pytest.fixture(scope="module")
def critical() -> dict[str, object]:
    sw = critical_sigma_w2("tanh", SIGMA_B2)
    assert sw is not None
    return {
        init: jacobian_spectrum(
            WideConfig("tanh", sw, SIGMA_B2, width=200, depth=10, samples=8, seed=3, init=init)
        )
        for init in ("gaussian", "orthogonal")
    }


@pytest.mark.parametrize("init", ["gaussian", "orthogonal"])
def test_simulation_agrees_with_theory(critical: dict, init: str) -> None:  # type: ignore[type-arg]
    r = critical[init]
    assert r.predicted_mean == pytest.approx(1.0, abs=1e-8)  # at criticality chi = 1
    assert r.measured_mean == pytest.approx(r.predicted_mean, rel=0.20)
    assert r.measured_variance_over_mean2 == pytest.approx(
        r.predicted_variance_over_mean2, rel=0.25
    )


def test_gaussian_spectrum_wider_than_orthogonal(critical: dict) -> None:  # type: ignore[type-arg]
    g, o = critical["gaussian"], critical["orthogonal"]
    assert g.theory.chi == o.theory.chi
    # the prediction: Gaussian adds exactly L to the ratio
    assert g.predicted_variance_over_mean2 - o.predicted_variance_over_mean2 == pytest.approx(10)
    assert g.measured_variance_over_mean2 > 2 * o.measured_variance_over_mean2
    spread = {k: np.quantile(r.squared_singular_values, [0.05, 0.95]) for k, r in critical.items()}
    assert np.log(spread["gaussian"][1] / spread["gaussian"][0]) > 2 * np.log(
        spread["orthogonal"][1] / spread["orthogonal"][0]
    )


def test_cli_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    args = "jacobian --activation tanh --sigma-w2 1.05 --sigma-b2 0.0 --depth 4 --width 30"
    code = main([*args.split(), "--init", "orthogonal", "--samples", "2", "--seed", "0", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out)[:2] == ["predicted", "measured"]
    assert set(out["predicted"]) == {"mean", "variance_over_mean2"}
    assert set(out["measured"]) == {"mean", "variance_over_mean2", "samples"}
    assert out["measured"]["samples"] == 2
    mean, ratio = predicted_moments("tanh", 1.05, 0.0, 4, "orthogonal")
    assert out["predicted"] == {"mean": mean, "variance_over_mean2": ratio}
    r = jacobian_spectrum(
        WideConfig("tanh", 1.05, 0.0, width=30, depth=4, samples=2, init="orthogonal")
    )
    assert out["measured"]["mean"] == r.measured_mean
    assert out["q_star"] == pytest.approx(0.0254974, rel=1e-5)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--width", "ten"], "--width: 'ten' is not a whole number"),
        (["--width", "0"], "width"),
        (["--init", "uniform"], "unknown init 'uniform'"),
        (["--sigma-b2", "-1"], "sigma_b2"),
        (["--activation", "relu", "--sigma-w2", "3"], "q grows without bound"),
        (["--figure", "/no/such/folder/x.png"], "does not exist"),
        (["--samples", "1000", "--width", "1000"], "samples x width^2 must be at most"),
    ],
)
def test_cli_bad_input_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    code = main(["jacobian", "--depth", "2", "--width", "5", *args])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and needle in err


@pytest.fixture(scope="module")
def reproduction() -> Pennington2017Result:
    return simulate(Pennington2017Config(depths=(2, 4, 8), width=100, samples=4))


def test_pennington2017_reproduction(reproduction: Pennington2017Result) -> None:
    """Gaussian: the ratio grows like L mu2/mu1^2 >= L; orthogonal: like L (mu2/mu1^2 - 1),
    several times smaller at the same critical point, and flat when q* is tuned to the depth;
    the simulation follows all three."""
    r = reproduction
    assert r.slopes["gaussian"] == pytest.approx(r.slopes["orthogonal"] + 1)
    assert r.slopes["gaussian"] > 1 and r.slopes["orthogonal"] < 0.5
    for row in r.rows:
        assert row.predicted_mean == pytest.approx(1.0, abs=1e-8)
        mf = mean_field("tanh", row.sigma_w2, row.sigma_b2)  # critical_point, independently
        assert mf.q_star == pytest.approx(row.q_star) and mf.chi_1 == pytest.approx(1.0)
        assert row.measured_mean == pytest.approx(1.0, rel=0.25)
        assert row.measured_variance_over_mean2 == pytest.approx(
            row.predicted_variance_over_mean2, rel=0.3
        )
        if row.init == "gaussian":
            assert row.measured_variance_over_mean2 > row.depth
    by = {name: [x for x in r.rows if x.series == name] for name in SERIES}
    for g, o in zip(by["gaussian"], by["orthogonal"], strict=True):
        assert g.measured_variance_over_mean2 > 2 * o.measured_variance_over_mean2
    # linear growth: the measured slope between the shallowest and the deepest
    gauss = by["gaussian"]
    slope = (gauss[-1].measured_variance_over_mean2 - gauss[0].measured_variance_over_mean2) / 6
    assert slope == pytest.approx(r.slopes["gaussian"], rel=0.3)
    # tuned: q* falls with depth, the predicted ratio is the target, the measured one stays flat
    tuned = by["orthogonal, q* tuned"]
    assert [x.q_star for x in tuned] == sorted((x.q_star for x in tuned), reverse=True)
    for x in tuned:
        assert x.predicted_variance_over_mean2 == pytest.approx(0.25, rel=1e-9)
    measured = [x.measured_variance_over_mean2 for x in tuned]
    assert max(measured) < 1.5 * min(measured)


def test_figures(
    reproduction: Pennington2017Result, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plots = pytest.importorskip("gradtrace.present.figures")
    fig = plots.pennington2017_figure(reproduction)
    assert len(fig.axes) == 2
    assert len(fig.axes[0].lines) == 6  # measured dots and predicted line per series
    plots.save(fig, tmp_path / "p2017")
    code = main(["jacobian", "--depth", "3", "--width", "20", "--figure", str(tmp_path / "j.png")])
    assert code == 0
    assert (tmp_path / "j.png").stat().st_size > 0 and (tmp_path / "j.svg").exists()
    assert "variance / mean^2" in capsys.readouterr().out


def test_reproduction_document_and_json(reproduction: Pennington2017Result) -> None:
    from gradtrace.present.json import pennington2017_dict
    from gradtrace.present.markdown import document_markdown
    from gradtrace.present.spectra_doc import pennington2017_document

    d = json.loads(json.dumps(pennington2017_dict(reproduction), allow_nan=False))
    assert len(d["rows"]) == 3 * 3
    first = reproduction.rows[0]
    assert d["rows"][0]["measured"]["variance_over_mean2"] == first.measured_variance_over_mean2
    text = document_markdown(pennington2017_document(reproduction))
    assert "orthogonal, q* tuned" in text and f"{reproduction.slopes['gaussian']:.4g}" in text
