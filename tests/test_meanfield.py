"""Mean-field theory against independent computations: adaptive quadrature (scipy.integrate),
plain iteration of the maps, the closed ReLU critical point, and the JSON contract."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import integrate

from gradtrace.cli import main
from gradtrace.lab.wide import WideConfig, simulate
from gradtrace.theory import (
    correlation_map,
    critical_sigma_w2,
    gradient_growth,
    length_map,
    mean_field,
    phase_diagram,
)

GAUSS = 1.0 / math.sqrt(2.0 * math.pi)


def gauss_mean(f: object) -> float:
    """E[f(z)], z ~ N(0, 1), by adaptive quadrature (not Gauss-Hermite)."""
    value, _ = integrate.quad(
        lambda z: f(z) * GAUSS * math.exp(-z * z / 2), -np.inf, np.inf, epsabs=1e-14, epsrel=1e-13
    )  # type: ignore[operator]
    return value


def tanh_d1(x: float) -> float:
    e = math.exp(-2.0 * abs(x))
    return 4.0 * e / (1.0 + e) ** 2


@pytest.mark.parametrize("sigma_b2", [0.01, 0.05, 0.2])
def test_tanh_critical_line_matches_adaptive_quadrature(sigma_b2: float) -> None:
    sw = critical_sigma_w2("tanh", sigma_b2)
    assert sw is not None
    q = 1.0
    for _ in range(400):  # q* at the critical point, by iterating the length map (quad)
        q = sw * gauss_mean(lambda z, q=q: math.tanh(math.sqrt(q) * z) ** 2) + sigma_b2
    expected = 1.0 / gauss_mean(lambda z: tanh_d1(math.sqrt(q) * z) ** 2)
    assert sw == pytest.approx(expected, abs=1e-6)


def test_tanh_critical_at_no_bias_is_one() -> None:
    assert critical_sigma_w2("tanh", 0.0) == pytest.approx(1.0, abs=1e-12)


def test_relu_critical_point() -> None:
    mf = mean_field("relu", 2.0, 0.0)
    assert mf.chi_1 == pytest.approx(1.0, abs=1e-15)
    assert mf.phase == "critical" and mf.xi_c == math.inf and mf.q_star is None
    assert critical_sigma_w2("relu", 0.0) == pytest.approx(2.0, abs=1e-15)
    assert mean_field("relu", 1.9, 0.0).phase == "ordered"
    assert mean_field("relu", 2.1, 0.0).phase == "chaotic"
    assert mean_field("relu", 2.1, 0.1).q_star == math.inf  # q grows without bound
    assert mean_field("relu", 1.0, 0.1).q_star == pytest.approx(0.2, rel=1e-14)  # 0.1 / (1 - 0.5)


@pytest.mark.parametrize(
    ("act", "sw", "sb"),
    [
        ("tanh", 1.5, 0.05),
        ("tanh", 3.0, 0.3),
        ("tanh", 2.5, 0.01),
        ("sigmoid", 4.0, 0.05),
        ("softsign", 5.0, 0.05),
        ("relu", 1.5, 0.2),
    ],
)
def test_fixed_points_match_plain_iteration(act: str, sw: float, sb: float) -> None:
    mf = mean_field(act, sw, sb)
    q = 1.0
    for _ in range(2000):
        q = float(length_map(act, q, sw, sb))
    assert mf.q_star == pytest.approx(q, rel=1e-10)
    c = 0.3
    for _ in range(5000):
        c = float(correlation_map(act, c, q, sw, sb))
    assert mf.c_star == pytest.approx(c, abs=1e-8)
    assert (mf.c_star == 1.0) == (mf.phase == "ordered")
    if mf.phase == "chaotic":
        assert mf.c_star is not None and mf.c_star < 1


@pytest.mark.parametrize("c", [-0.5, 0.3, 0.9, 0.99])
def test_correlation_map_matches_two_dimensional_quadrature(c: float) -> None:
    q, sw, sb = 1.3, 2.0, 0.1
    s = math.sqrt(1 - c * c)

    def integrand(z2: float, z1: float) -> float:
        u1, u2 = math.sqrt(q) * z1, math.sqrt(q) * (c * z1 + s * z2)
        return math.tanh(u1) * math.tanh(u2) * GAUSS**2 * math.exp(-(z1 * z1 + z2 * z2) / 2)

    pp, _ = integrate.dblquad(integrand, -12, 12, -12, 12, epsabs=1e-13, epsrel=1e-12)
    assert float(correlation_map("tanh", c, q, sw, sb)) == pytest.approx(
        (sw * pp + sb) / q, abs=1e-9
    )


def test_chi_1_matches_adaptive_quadrature() -> None:
    mf = mean_field("tanh", 1.5, 0.05)
    assert mf.q_star is not None
    chi = 1.5 * gauss_mean(lambda z: tanh_d1(math.sqrt(mf.q_star) * z) ** 2)
    assert mf.chi_1 == pytest.approx(chi, rel=1e-10)


def test_xi_c_diverges_at_the_critical_line() -> None:
    sb = 0.05
    crit = critical_sigma_w2("tanh", sb)
    assert crit is not None
    xs = [mean_field("tanh", crit * (1 + e), sb).xi_c for e in (-1e-2, -1e-3, -1e-4)]
    assert xs[0] < xs[1] < xs[2] and xs[2] > 1000
    ys = [mean_field("tanh", crit * (1 + e), sb).xi_c for e in (1e-2, 1e-3, 1e-4)]
    assert ys[0] < ys[1] < ys[2] and ys[2] > 1000
    assert mean_field("tanh", crit, sb).phase == "critical"


def test_phase_diagram_agrees_with_mean_field() -> None:
    w, b = np.linspace(0.5, 4, 8), np.linspace(0, 0.3, 5)
    pd = phase_diagram("tanh", w, b)
    for i, j in [(0, 0), (2, 5), (4, 7), (1, 3)]:
        mf = mean_field("tanh", w[j], b[i])
        assert pd.chi_1[i, j] == pytest.approx(mf.chi_1, rel=1e-12)
        assert pd.xi_c[i, j] == pytest.approx(mf.xi_c, rel=1e-9)
        assert pd.critical[i] == pytest.approx(mf.sigma_w2_critical, rel=1e-12)


def test_gradient_growth() -> None:
    mf = mean_field("tanh", 3.0, 0.3)
    g = gradient_growth(mf, 5)
    np.testing.assert_allclose(g, mf.chi_1 ** np.array([4, 3, 2, 1, 0]), rtol=1e-15)


CONTRACT = {
    "activation",
    "sigma_w2",
    "sigma_b2",
    "q_star",
    "c_star",
    "chi_1",
    "xi_q",
    "xi_c",
    "phase",
    "sigma_w2_critical",
}


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys,
        "theory",
        "--activation",
        "tanh",
        "--sigma-w2",
        "1.5",
        "--sigma-b2",
        "0.05",
        "--json",
    )
    assert code == 0 and err == ""
    d = json.loads(out)
    assert set(d) == CONTRACT
    mf = mean_field("tanh", 1.5, 0.05)
    assert d["phase"] == "ordered" and d["chi_1"] == mf.chi_1 and d["c_star"] == 1.0
    assert d["sigma_w2_critical"] == mf.sigma_w2_critical


def test_json_nulls(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(
        capsys, "theory", "--activation", "relu", "--sigma-w2", "2", "--sigma-b2", "0", "--json"
    )
    d = json.loads(out)
    assert set(d) == CONTRACT
    assert d["phase"] == "critical" and d["xi_c"] is None and d["q_star"] is None
    assert d["sigma_w2_critical"] == 2.0
    _, out, _ = run(
        capsys,
        "theory",
        "--activation",
        "sigmoid",
        "--sigma-w2",
        "1",
        "--sigma-b2",
        "0",
        "--format",
        "json",
    )
    assert json.loads(out)["phase"] == "ordered"


@pytest.mark.parametrize(
    "args",
    [
        ["--sigma-w2", "-1"],
        ["--sigma-w2", "abc"],
        ["--sigma-b2", "-0.1"],
        ["--activation", "swish"],
        ["--depth", "0"],
    ],
)
def test_bad_input_is_one_line_exit_2(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    code, out, err = run(capsys, "theory", *args)
    assert code == 2 and out == ""
    assert err.startswith("gradtrace: error:") and err.count("\n") == 1


def test_text_explains_each_quantity(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "theory", "--sigma-w2", "3", "--sigma-b2", "0.3")
    assert code == 0
    for word in (
        "q*",
        "c*",
        "chi_1",
        "xi_q",
        "xi_c",
        "critical",  # "critical sigma_w2", wrapped in its table cell at 80 columns
        "Poole",
        "Schoenholz",
        "chaotic",
        "chi_1 = sigma_w2",  # its formula, wrapped in its table cell at 80 columns
        "E[phi'(sqrt(q*)",
    ):
        assert word in out


def test_figure(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("matplotlib")
    code, _, _ = run(capsys, "theory", "--figure", str(tmp_path / "pd.png"))
    assert code == 0 and (tmp_path / "pd.png").stat().st_size > 10_000


@pytest.mark.parametrize(
    ("act", "sw", "sb", "q_tol"),
    [
        # tanh, ordered and chaotic: per-layer q from 500 x 8 units fluctuates by ~2 %; 10 % is
        # about four standard deviations
        ("tanh", 1.5, 0.05, 0.10),
        ("tanh", 3.0, 0.3, 0.10),
        # relu at criticality: q is a product of per-layer fluctuations (Hanin 2018), which
        # accumulate over depth: measured 10-19 % at depth 15
        ("relu", 2.0, 0.0, 0.30),
    ],
)
def test_simulation_agrees_with_theory_within_finite_width_tolerances(
    capsys: pytest.CaptureFixture[str], act: str, sw: float, sb: float, q_tol: float
) -> None:
    args = ["theory", "--activation", act, f"--sigma-w2={sw}", f"--sigma-b2={sb}", "--depth", "15"]
    code = main([*args, "--simulate", "--width", "500", "--samples", "8", "--json"])
    out = capsys.readouterr().out
    assert code == 0
    d = json.loads(out)
    sim = d.pop("simulated")
    assert set(d) == {
        "activation", "sigma_w2", "sigma_b2", "q_star", "c_star", "chi_1", "xi_q", "xi_c",
        "phase", "sigma_w2_critical",
    }  # fmt: skip
    q, q_pred = np.array(sim["q"]), np.array(sim["q_predicted"])
    r, r_pred = np.array(sim["grad_norm_ratio"]), np.array(sim["grad_norm_ratio_predicted"])
    assert q.shape == q_pred.shape == (16,) and r.shape == r_pred.shape == (15,)
    assert np.all(np.abs(q / q_pred - 1) < q_tol)
    # squared gradient norms of 500 x 8 units: log ratios within 0.3 (a factor 1.35); measured
    # at most 0.16
    assert np.all(np.abs(np.log(r) - np.log(r_pred)) < 0.3)
    # once q has settled, the per-layer factor is chi_1 (the theory's prediction of vanishing or
    # exploding), checked on the prediction itself
    if act == "tanh":
        assert r_pred[-2] == pytest.approx(d["chi_1"], rel=1e-3)


def test_relu_without_bias_has_chi_1_half_sigma_w2_at_q_star_zero() -> None:
    """No bias and sigma_w2 < 2: q^l -> q* = 0, yet phi' is scale-free, so chi_1 = sigma_w2 / 2
    at every q > 0 (not phi'(0)^2 = 0), xi_q = -1 / log(sigma_w2 / 2) (q halves per layer at
    sigma_w2 = 1), and q cancels from the correlation map, whose slope at c = 1 is then 1 (xi_c
    infinite). The simulation's gradient-norm ratio falls by chi_1 per layer."""
    mf = mean_field("relu", 1.0, 0.0)
    assert mf.q_star == 0.0
    assert mf.chi_1 == pytest.approx(0.5, rel=1e-12)
    assert mf.xi_q == pytest.approx(1 / np.log(2), rel=1e-12)
    assert mf.xi_c == np.inf and mf.phase == "ordered"
    leaky = mean_field("leaky_relu", 1.0, 0.0)
    assert leaky.chi_1 == pytest.approx((1 + 0.01**2) / 2, rel=1e-12)
    run = simulate(WideConfig("relu", 1.0, 0.0, width=400, depth=6, samples=4, seed=1))
    np.testing.assert_allclose(run.grad_norm_ratio, 0.5 ** np.arange(5, -1, -1), rtol=0.2)
