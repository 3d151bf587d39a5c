"""The reproductions (gradtrace reproduce NAME): each held, at a small size, to its paper's result
or an independent closed form, with the tolerance stated; the registry, the JSON and bad names."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gradtrace.cli import main
from gradtrace.core.errors import SpecError
from gradtrace.reproduce import REPRODUCTIONS, get_reproduction
from gradtrace.service import application


def test_registry_names_the_papers() -> None:
    assert list(REPRODUCTIONS) == [
        "he2015",
        "glorot2010",
        "schoenholz2017",
        "pennington2017",
        "hanin2018",
        "trainability",
    ]
    for name in ("he2015", "glorot2010", "schoenholz2017", "hanin2018"):
        assert REPRODUCTIONS[name].available


def test_bad_name_lists_the_names() -> None:
    with pytest.raises(SpecError, match="unknown reproduction 'he2016' \\(choose from he2015, "):
        get_reproduction("he2016")


def test_he2015_xavier_halves_the_variance_per_relu_layer() -> None:
    # He et al. 2015, Sec. 2.2: log2 std falls by 1/2 per layer under Xavier (within 10 %),
    # stays flat under He (within 0.05 per layer)
    r = application.reproduce("he2015", width=100, depth=12, samples=4)
    assert r.slope["xavier"] == pytest.approx(-0.5, rel=0.1)
    assert abs(r.slope["he"]) < 0.05
    assert all(a.ok for a in r.anchors)
    # the closed forms themselves: q^1 = sigma_w2 q^0, then (sigma_w2 / 2) per layer
    assert r.closed_form_std["xavier"][5] == pytest.approx(r.std["xavier"][0] * 2.0**-2)
    assert r.closed_form_std["he"][5] == pytest.approx(r.std["he"][0] * np.sqrt(2.0))


def test_hanin2018_fourth_moment_matches_the_product() -> None:
    # E[Z^4] / E[Z^2]^2 = 3 prod(1 + 5/n_j), within 10 % at 10,000 nets; exactly 3 with no
    # hidden layer (Z is then Gaussian given the fixed input)
    r = application.reproduce("hanin2018", widths=((10,) * 4, (20,) * 4), samples=10_000)
    for ratio, closed in zip(r.ratio, r.closed, strict=True):
        assert ratio[0] == pytest.approx(3.0, rel=0.05)
        assert ratio[-1] == pytest.approx(closed[-1], rel=0.1)
    assert r.closed[0][-1] == pytest.approx(3 * 1.5**4)
    assert all(a.ok for a in r.anchors)


def test_glorot2010_gradients_and_saturation() -> None:
    pytest.importorskip("sklearn")
    # standard init: the back-propagated variance shrinks by about n Var(W) = 1/3 per layer
    # (within 25 %); normalized: kept within 25 % of 1 (tanh' < 1 takes a little)
    r = application.reproduce("glorot2010", width=60, inputs=60, epochs=1)
    v = r.grad_variance
    assert v["standard"][0] / v["standard"][-1] < 0.05
    kept = v["normalized"][0] / v["normalized"][-1]  # about 0.8 per layer: tanh'(z)^2 < 1
    assert 0.3 < kept <= 1.0 and kept > 10 * v["standard"][0] / v["standard"][-1]
    assert r.factor["standard"] == pytest.approx(1 / 3, rel=0.25)
    assert r.factor["normalized"] == pytest.approx(1.0, rel=0.25)
    # Fig. 2: the top hidden sigmoid layer starts near 0.5 and saturates toward 0 in epoch 1
    top = r.mean_activation[:, -1]
    assert top[0] == pytest.approx(0.5, abs=0.05)
    assert top[1] < 0.1
    assert all(a.ok for a in r.anchors)


def test_schoenholz2017_xi_c_away_from_criticality() -> None:
    # the simulated depth scale within 25 % of mean-field theory in the ordered phase (1.0 and
    # 1.3) and within 30 % in the chaotic phase (4.0: 768 nets of width 100, the limit fitted
    # free; see the module docstring); the theory peaks at the critical sigma_w^2 (about 1.76
    # for tanh at sigma_b^2 = 0.05)
    r = application.reproduce("schoenholz2017", sigma_w2=(1.0, 1.3, 4.0), width=300, samples=8)
    np.testing.assert_allclose(r.xi_simulated[:2], r.xi_theory[:2], rtol=0.25)
    assert r.xi_simulated[2] == pytest.approx(r.xi_theory[2], rel=0.30)
    assert list(r.c_star[:2]) == [1.0, 1.0] and 0 < r.c_star[2] < 1
    peak = r.curve_sigma_w2[np.argmax(r.curve_xi)]
    assert peak == pytest.approx(r.critical, abs=0.03)
    assert r.critical == pytest.approx(1.76, abs=0.01)
    assert len(r.anchors) == 3 and all(a.ok for a in r.anchors)


def test_schoenholz2017_free_limit_fit_recovers_a_known_decay() -> None:
    from gradtrace.reproduce.schoenholz2017 import fit_xi_c_free

    layers = np.arange(41)
    c = 0.31 + 0.3 * np.exp(-layers / 9.0)  # a chaotic-phase decay, the limit off c* = 0.30
    assert fit_xi_c_free(c) == pytest.approx(9.0, rel=1e-6)
    assert np.isnan(fit_xi_c_free(0.3 + 0.3 * np.exp(-layers / 500.0)))  # beyond the depth


def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["reproduce", "he2015", "--quick", "--json", "--seed", "1"])
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    d = json.loads(out)
    assert d["name"] == "he2015" and d["seed"] == 1
    assert d["table"]["header"][0] == "layer l"
    assert len(d["table"]["rows"]) == 17
    assert [a["ok"] for a in d["anchors"]] == [True, True, True]
    assert d["anchors"][0]["expected"] == -0.5


def test_cli_bad_name(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["reproduce", "nope"])
    _, err = capsys.readouterr()
    assert code == 2
    assert err.count("\n") == 1
    assert "he2015, glorot2010, schoenholz2017, pennington2017, hanin2018" in err


def test_cli_markdown_and_figure(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    pytest.importorskip("matplotlib")
    path = tmp_path / "he.png"
    code = main(["reproduce", "he2015", "--quick", "--format", "markdown", "--figure", str(path)])
    out, _ = capsys.readouterr()
    assert code == 0
    assert path.read_bytes()[:4] == b"\x89PNG"
    assert "2^(-L/2)" in out and "3 of 3 anchors lie within their tolerance" in out


def test_glorot2010_without_scikit_learn_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # import fails as if missing
    assert main(["reproduce", "glorot2010", "--quick"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'gradtrace[reproduce]'" in err


def test_pennington2017_through_the_registry() -> None:
    # the registry's contract (name, seed, header, rows, anchors) at a small size: each series'
    # spread at the deepest depth within 25 % of free probability (measured within 10 % at
    # width 300 up to depth 32; width 200 here keeps it fast)
    r = application.reproduce("pennington2017", depths=(2, 4, 8), width=200, samples=4, seed=1)
    assert r.name == "pennington2017" and r.seed == 1 and len(r.rows) == 9
    assert len(r.anchors) == 3 and all(a.ok for a in r.anchors), r.anchors
    gauss = [row for row in r.result.rows if row.series == "gaussian"]
    tuned = [row for row in r.result.rows if row.series == "orthogonal, q* tuned"]
    assert gauss[-1].measured_variance_over_mean2 > 3 * gauss[0].measured_variance_over_mean2
    assert max(t.measured_variance_over_mean2 for t in tuned) < 0.4  # flat near 0.25


def test_an_entry_whose_module_is_missing_says_so() -> None:
    from gradtrace.reproduce import Entry

    entry = Entry("future2030")
    assert not entry.available
    with pytest.raises(SpecError, match="not on this install"):
        entry.run()
    assert all(e.available for e in REPRODUCTIONS.values())


def test_each_paper_carries_its_parameters_and_an_unknown_one_is_named() -> None:
    # the protocol (mypy checks it statically): title, citation, DEFAULTS and QUICK of one type
    import dataclasses

    for entry in REPRODUCTIONS.values():
        paper = entry.paper()
        assert entry.title == paper.TITLE and entry.citation == paper.CITATION
        assert dataclasses.is_dataclass(paper.DEFAULTS)
        assert type(paper.QUICK) is type(paper.DEFAULTS) and paper.QUICK != paper.DEFAULTS
    with pytest.raises(
        SpecError, match="'he2015' has no parameter 'widht' \\(its parameters: width, "
    ):
        get_reproduction("he2015").run(widht=10)
