"""The report: self-contained files, config for re-running, atomic writing, and a real render in
headless Chromium (Debian's chromium, driven by Playwright; .ci/run installs both)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from browser import launch, new_page, requires_chromium
from gradtrace import SpecError
from gradtrace.present.report import Report, ReportConfig, build_report, write_report

SMALL = ReportConfig(
    seed=3,
    samples=5000,
    mc_depths=(3, 6),
    depth_samples=10,
    depths=(1, 10, 50),
    train_steps=100,
    learning_rates=(1e-2, 1.0),
    remedies_steps=40,
)


@pytest.fixture(scope="module")
def built() -> Report:
    return build_report(SMALL)


@pytest.fixture(scope="module")
def folder(built: Report, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rep") / "report"
    write_report(built, out)
    return out


def test_files_and_config(folder: Path) -> None:
    names = {p.name for p in folder.iterdir()}
    assert {"report.html", "report.md", "config.json"} <= names
    figures = ("sigmoid", "exercise_gradients", "montecarlo", "depth", "training", "remedies")
    for f in figures:
        assert f"{f}.png" in names and f"{f}.svg" in names
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["parameters"]["seed"] == 3 and cfg["parameters"]["samples"] == 5000
    assert {"python", "numpy", "scipy", "sympy", "matplotlib", "gradtrace"} <= set(cfg["versions"])
    md = (folder / "report.md").read_text()
    for link in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md):
        assert (folder / link).exists()
    assert "0.00136364" in md and "Remedies" in md


def test_html_is_self_contained(folder: Path, built: Report) -> None:
    html = (folder / "report.html").read_text()
    assert html.count("data:image/png;base64,") == len(built.figures)  # each figure, inline
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing to fetch
    assert "<script" not in html


def test_numbers_in_the_report_come_from_the_runs(built: Report) -> None:
    from gradtrace.present.markdown import document_markdown

    md = document_markdown(built.blocks)
    # part (b)'s ratio, and the depth experiment's sigmoid rate, as computed
    assert "144.6" in md
    assert re.search(r"sigmoid chains lose 0\.9\d+ decades per layer", md)


def test_refuses_an_existing_folder_and_never_half_writes(
    built: Report, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "r"
    out.mkdir()
    with pytest.raises(SpecError, match="exists; choose another or pass --force"):
        write_report(built, out)

    import gradtrace.present.figures as plots

    def broken(*_a: object, **_k: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(plots, "save", broken)
    fresh = tmp_path / "fresh"
    with pytest.raises(SpecError, match=r"cannot write the report to .*: disk full"):
        write_report(built, fresh)
    assert not fresh.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["r"]  # no temporary folder left behind


@requires_chromium
def test_renders_in_headless_chromium(folder: Path, tmp_path: Path, built: Report) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = launch(pw)
        page = new_page(browser, ("file:", "data:"), 1200, 900)
        errors, outside = page.errors, page.outside
        page.goto((folder / "report.html").as_uri())
        page.wait_for_load_state("load")
        assert page.title().startswith("gradtrace report")
        assert "the exercise, solved" in page.inner_text("h1")
        widths = page.eval_on_selector_all(
            "img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)"
        )
        assert len(widths) == len(built.figures) and all(w > 100 for w in widths)
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=False)
        browser.close()
    assert errors == [] and outside == []
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_theory_section_quotes_its_results(built: Report) -> None:
    from gradtrace.present.markdown import document_markdown
    from gradtrace.theory.meanfield import mean_field

    md = document_markdown(built.blocks)
    t = built.results.theory
    assert "Deep, wide networks: mean-field theory" in md and "phase_diagram.png" in md
    assert [p.phase for p in t.points] == ["ordered", "critical", "chaotic"]
    for p in t.points:  # each point's theory, computed again
        assert mean_field("tanh", p.sigma_w2, p.sigma_b2).chi_1 == p.chi_1
    sim = t.simulations[0]
    assert f"measured at {sim.run.grad_norm_ratio[0]:.3g};" in md
    assert f"predicted at {sim.ratio_predicted[0]:.3g} of" in md


def test_force_replaces_a_report_folder(built: Report, tmp_path: Path) -> None:
    out = tmp_path / "r"
    write_report(built, out)
    (out / "stale.txt").write_text("from an older run")
    paths = write_report(built, out, force=True)
    assert (out / "report.html") in paths and not (out / "stale.txt").exists()
