"""The monitor's outputs: record files (CSV, Parquet, JSON) round trip exactly, TensorBoard
scalars read back, the Lightning callback against a direct capture, the figures against the
records, and ``gradtrace monitor-report`` (HTML checked in Chromium where installed)."""

from __future__ import annotations

import json
import math
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from browser import launch, requires_chromium
from gradtrace.cli import main
from gradtrace.core.errors import SpecError
from gradtrace.monitor.records import norm_matrix
from gradtrace.torch import GradientMonitor, MonitorRun, judge, load_run, save_run, write_scalars

DOCS_IMAGE = Path(__file__).parents[1] / "docs" / "images" / "monitor_report.png"


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(11)


def sigmoid_run(steps: int = 6, depth: int = 8) -> GradientMonitor:
    """A deep sigmoid MLP at PyTorch's default init (vanishing), with every option tracked and
    one non-finite gradient planted at step 3 under a GradScaler (that step is skipped)."""
    layers: list[nn.Module] = [nn.Linear(10, 16)]
    for _ in range(depth - 1):
        layers += [nn.Sigmoid(), nn.Linear(16, 16)]
    model = nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cpu", init_scale=8.0)
    mon = GradientMonitor(model, track_updates=True, activations=True)
    mon.attach(opt, scaler=scaler)
    for t in range(steps):
        opt.zero_grad()
        scaler.scale(model(torch.randn(32, 10)).pow(2).mean()).backward()
        if t == 3:
            model[2].weight.grad[0, 0] = math.nan
        scaler.step(opt)
        scaler.update()
    mon.detach()
    return mon


@pytest.fixture(scope="module")
def run() -> MonitorRun:
    torch.manual_seed(11)
    return sigmoid_run().run()


def _same(a: list[dict], b: list[dict]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.keys() == y.keys()
        for k in x:  # exact, inf and nan included
            assert x[k] == y[k] or (x[k] != x[k] and y[k] != y[k]), (k, x[k], y[k])


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".json"])
def test_record_files_round_trip_exactly(run: MonitorRun, tmp_path: Path, suffix: str) -> None:
    assert any(r["skipped"] for r in run.records) and any(r["nonfinite"] for r in run.records)
    back = load_run(save_run(run, tmp_path / f"run{suffix}"))
    _same(back.records, run.records)
    if suffix == ".json":  # the whole run
        assert back.activations == run.activations and back.mlp == run.mlp
        assert judge(back) == judge(run)


def test_parquet_without_pyarrow_is_one_clear_line(
    run: MonitorRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(
        SpecError,
        match=r"^Parquet needs pyarrow \(pip install pyarrow\); or save as .csv or .json$",
    ):
        save_run(run, tmp_path / "run.parquet")


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("run.txt", "", "unknown format '.txt'; use .csv, .parquet or .json"),
        ("none.csv", None, "does not exist"),
        (
            "run.csv",
            "step,name\n0,w\n",
            "record 1: missing grad_norm, grad_max_abs, weight_norm, nonfinite",
        ),
        (
            "run.csv",
            "step,name,grad_norm,grad_max_abs,weight_norm,nonfinite\n0,w,big,1,1,0\n",
            "record 1: could not convert string to float: 'big'",
        ),
        ("run.json", "[1, 2]", "expected a JSON object with a list 'records'"),
        ("run.json", "{", "cannot read"),
        ("run.csv", "step,name,grad_norm,grad_max_abs,weight_norm,nonfinite\n", "holds no records"),
    ],
)
def test_bad_record_files(tmp_path: Path, name: str, text: str | None, message: str) -> None:
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    with pytest.raises(SpecError, match=re.escape(message)) as e:
        load_run(path)
    assert "\n" not in str(e.value)


def test_tensorboard_scalars_read_back(run: MonitorRun, tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(tmp_path) as writer:
        n = write_scalars(run.records, writer)
    acc = EventAccumulator(str(tmp_path), size_guidance={"scalars": 0})
    acc.Reload()
    tags = acc.Tags()["scalars"]
    names = {r["name"] for r in run.records}
    assert set(tags) == {
        f"{k}/{p}"
        for k in ("grad_norm", "grad_max_abs", "weight_norm", "update_ratio")
        for p in names
    } | {"grad_norm/_global"}
    assert n == sum(len(acc.Scalars(t)) for t in tags)
    for r in run.records:  # stored as float32
        (event,) = [e for e in acc.Scalars(f"grad_norm/{r['name']}") if e.step == r["step"]]
        assert event.value == pytest.approx(r["grad_norm"], rel=1e-6, nan_ok=True)
    total = {e.step: e.value for e in acc.Scalars("grad_norm/_global")}
    g0 = math.sqrt(sum(r["grad_norm"] ** 2 for r in run.records if r["step"] == 0))
    assert total[0] == pytest.approx(g0, rel=1e-6)


@pytest.mark.filterwarnings(
    # raised inside Lightning 2.6 against torch 2.13, and its advice for tiny CPU loaders
    r"ignore:`isinstance\(treespec, LeafSpec\)` is deprecated:FutureWarning",
    "ignore:The 'train_dataloader' does not have many workers",
)
def test_lightning_callback_records_each_optimizer_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lightning.pytorch as pl

    from gradtrace.torch import GradientMonitorCallback

    captured: dict[tuple[int, str], float] = {}

    class Net(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))

        def training_step(self, batch: list[torch.Tensor], _i: int) -> torch.Tensor:
            x, y = batch
            return (self.body(x) - y).pow(2).mean()

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=0.05)

    class Capture(pl.Callback):  # runs after the monitor's callback: the same gradients
        def on_before_optimizer_step(
            self, trainer: pl.Trainer, module: pl.LightningModule, opt: object
        ) -> None:
            for name, p in module.named_parameters():
                captured[(trainer.global_step, name)] = float(
                    torch.linalg.vector_norm(p.grad.double())
                )

    data = torch.utils.data.TensorDataset(torch.randn(48, 4), torch.randn(48, 1))
    callback = GradientMonitorCallback()
    trainer = pl.Trainer(
        max_epochs=1,
        accumulate_grad_batches=2,
        callbacks=[callback, Capture()],
        logger=pl.loggers.TensorBoardLogger(tmp_path),
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=1,
        default_root_dir=tmp_path,
    )
    trainer.fit(Net(), torch.utils.data.DataLoader(data, batch_size=8))
    assert callback.monitor is not None
    got = {(r["step"], r["name"]): r["grad_norm"] for r in callback.monitor.records()}
    assert sorted({s for s, _ in got}) == [0, 1, 2]  # 6 batches, 2 per optimizer step
    assert got == pytest.approx(captured, rel=2e-6)
    assert callback.verdict().status == "healthy"
    assert list(Path(trainer.logger.log_dir).glob("events.out.tfevents.*"))


def test_heat_map_draws_the_records(run: MonitorRun) -> None:
    from gradtrace.present import figures as plots

    fig = plots.monitor_heatmap_figure(run)
    names, steps, g = norm_matrix(run.records)
    drawn = fig.axes[0].images[0].get_array()
    with np.errstate(divide="ignore", invalid="ignore"):
        want = np.log10(g)
    ok = np.isfinite(want)
    np.testing.assert_array_equal(np.asarray(drawn)[ok], want[ok])
    assert np.ma.getmaskarray(drawn)[~ok].all()
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == names
    # the planted nan is crossed out where it is: 2.weight at step 3
    crosses = fig.axes[0].collections[0].get_offsets()
    assert [steps[int(c)] for c, r in crosses if names[int(r)] == "2.weight"] == [3]
    plots.plt.close(fig)


def test_monitor_report_command(
    run: MonitorRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = save_run(run, tmp_path / "run.json")
    out = tmp_path / "rep"
    assert main(["monitor-report", str(records), "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"wrote 8 files to {out}/ (open {out / 'report.html'})\n"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["config.json", "records.csv", "report.html", "report.md"]
        + [f"monitor_{n}.{e}" for n in ("heatmap", "summary") for e in ("png", "svg")]
    )
    html = (out / "report.html").read_text()
    verdict = judge(run)
    assert verdict.status == "nonfinite" and verdict.layers == ["2.weight"]
    assert "<h1>Gradient flow: nonfinite</h1>" in html
    assert "Named: 2.weight; at steps 3." in html
    assert "<script" not in html and "http" not in html.split("<body>")[1].replace("data:image", "")
    config = json.loads((out / "config.json").read_text())
    assert config["command"] == "gradtrace monitor-report" and config["status"] == "nonfinite"
    _same(load_run(out / "records.csv").records, run.records)
    # again: the folder exists
    assert main(["monitor-report", str(records), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == f"gradtrace: error: output folder {str(out)!r} exists; choose another or pass --force\n"
    )
    assert main(["monitor-report", str(records), "--out", str(out), "--force"]) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nothing.csv"], "records file 'nothing.csv' does not exist"),
        (["run.xlsx"], "unknown format '.xlsx'"),
    ],
)
def test_monitor_report_bad_input_is_one_line(
    args: list[str],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["monitor-report", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gradtrace: error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "monitor-report").exists()


def readme_run(steps: int = 50) -> MonitorRun:
    """The README's example (an 11-layer sigmoid MLP on scikit-learn's digits), with activation
    records and update ratios, for the README's screenshot."""
    from sklearn.datasets import load_digits

    torch.manual_seed(0)
    x, y = (torch.tensor(a) for a in load_digits(return_X_y=True))
    layers = [nn.Linear(64, 32)] + [m for _ in range(9) for m in (nn.Sigmoid(), nn.Linear(32, 32))]
    model = nn.Sequential(*layers, nn.Sigmoid(), nn.Linear(32, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    with GradientMonitor(model, activations=True, track_updates=True).attach(opt) as mon:
        for _ in range(steps):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x.float() / 16), y).backward()
            opt.step()
    return mon.run()


@requires_chromium
def test_monitor_report_page_in_chromium(run: MonitorRun, tmp_path: Path) -> None:
    """No horizontal overflow at phone and desktop widths, both figures load; with
    GRADTRACE_UPDATE_SCREENSHOT=1 the README's screenshot is rewritten from the README's run."""
    from playwright.sync_api import sync_playwright

    from gradtrace.present.report import write_monitor_report

    update = bool(os.environ.get("GRADTRACE_UPDATE_SCREENSHOT"))
    write_monitor_report(readme_run() if update else run, tmp_path / "rep")
    with sync_playwright() as pw:
        browser = launch(pw)
        for width in (375, 1400):
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto((tmp_path / "rep" / "report.html").as_uri())
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            sizes = page.evaluate("[...document.images].map(i => i.naturalWidth)")
            assert len(sizes) == 2 and min(sizes) > 300
            if width == 1400 and update:
                clip = {"x": 150, "y": 0, "width": 1100, "height": 2330}
                page.screenshot(path=str(DOCS_IMAGE), full_page=True, clip=clip)
        browser.close()


def test_without_torch_a_saved_run_still_renders_and_the_monitor_says_what_is_missing(
    run: MonitorRun, tmp_path: Path
) -> None:
    import subprocess

    records = save_run(run, tmp_path / "run.json")
    code = (
        "import sys; sys.modules['torch'] = None\n"  # as on the core install
        "import gradtrace, gradtrace.torch\n"
        "from gradtrace.present.report import monitor_report\n"
        f"monitor_report({str(records)!r}, {str(tmp_path / 'rep')!r})\n"
        "try:\n    from gradtrace.torch import GradientMonitor\n"
        "except ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
    )
    assert (
        out.stdout
        == "gradtrace.torch.GradientMonitor needs PyTorch: pip install 'gradtrace[torch]'\n"
    )
    assert (tmp_path / "rep" / "report.html").is_file()


def test_thresholds_change_the_verdict(run: MonitorRun) -> None:
    from gradtrace.torch import Thresholds

    clean = MonitorRun([r for r in run.records if r["step"] != 3 and r["step"] < 3], [], run.mlp)
    assert judge(clean).status == "vanishing"  # PyTorch's default init, 8 sigmoid layers
    assert judge(clean, Thresholds(vanishing_ratio=1e-30)).status == "healthy"


def zeros_run() -> MonitorRun:
    """Three parameters over six steps: "c" exactly 0 throughout, "b" 0 at step 2, "a" nan at
    step 3, and every gradient 0 at step 5."""
    records = []
    for t in range(6):
        for i, name in enumerate("abc"):
            g = 0.0 if name == "c" or (name == "b" and t == 2) or t == 5 else 10.0 ** -(i + t)
            bad = name == "a" and t == 3
            records.append(
                {
                    "step": t,
                    "name": name,
                    "grad_norm": math.nan if bad else g,
                    "grad_max_abs": math.nan if bad else g,
                    "weight_norm": 1.0,
                    "nonfinite": 1 if bad else 0,
                }
            )
    return MonitorRun(records)


def _box(artist: object, fig: object) -> object:
    return artist.get_window_extent(fig.canvas.get_renderer())  # type: ignore[attr-defined]


def test_heat_map_draws_zeros_black_and_keeps_legend_and_label_clear() -> None:
    from gradtrace.present import figures as plots

    run = zeros_run()
    fig = plots.monitor_heatmap_figure(run)
    fig.canvas.draw()
    _, _, g = norm_matrix(run.records)
    ax = fig.axes[0]
    zero = ax.images[1].get_array()
    np.testing.assert_array_equal(~np.ma.getmaskarray(zero), g == 0)  # black exactly at 0
    assert ax.images[1].cmap(0.0) == (0.0, 0.0, 0.0, 1.0)
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["inf/nan", "exactly 0"]
    assert _box(legend, fig).y0 >= _box(ax, fig).y1 - 1  # above the axes: covers no cell
    colorbar = fig.axes[1]
    assert not _box(ax.xaxis.label, fig).overlaps(_box(colorbar, fig))
    assert _box(ax.xaxis.label, fig).y0 >= 0  # inside the figure
    plots.plt.close(fig)


def test_summary_figure_leaves_zeros_out_and_draws_no_point_at_a_nan_step() -> None:
    from gradtrace.monitor.verdict import judge
    from gradtrace.present import figures as plots

    run = zeros_run()
    fig = plots.monitor_summary_figure(run, judge(run))
    fig.canvas.draw()
    ax1, ax2 = fig.axes
    _, _, g = norm_matrix(run.records)
    dots = ax1.collections[1].get_offsets()
    want = [np.median(row[np.isfinite(row) & (row > 0)]) for row in g[:2]]
    np.testing.assert_allclose(np.asarray(dots)[:, 0], want, rtol=1e-12)  # "a", "b"; no "c"
    np.testing.assert_array_equal(np.asarray(dots)[:, 1], [0, 1])
    assert [t.get_text() for t in ax1.texts] == ["all 0"] and ax1.texts[0].xy[1] == 2
    x, y = ax2.lines[0].get_data()
    drawn = np.isfinite(np.asarray(y, float))
    assert list(np.asarray(x)[drawn]) == [0, 1, 2, 4]  # none at the nan step 3 or all-0 step 5
    np.testing.assert_allclose(np.asarray(y)[drawn], [np.hypot(*g[:2, j]) for j in (0, 1, 2, 4)])
    red = sorted(float(line.get_xdata()[0]) for line in ax2.lines[1:])
    assert red == [3.0, 5.0]
    ticks = ax2.get_xticks()
    assert np.array_equal(ticks, np.round(ticks))
    plots.plt.close(fig)


def test_report_of_a_run_with_zeros_warns_not_and_keeps_numbers_whole(tmp_path: Path) -> None:
    from gradtrace.monitor.verdict import judge
    from gradtrace.present.html import document_html
    from gradtrace.present.monitor_doc import monitor_document
    from gradtrace.present.report import write_monitor_report

    run = zeros_run()
    blocks = monitor_document(run, judge(run), {})  # filterwarnings = error: no RuntimeWarning
    table = next(b for b in blocks if getattr(b, "caption", "").startswith("Per parameter"))
    ratio = {row[0].split()[0]: row[5] for row in table.rows}
    _, _, g = norm_matrix(run.records)
    largest = np.nanmax(g, axis=0)
    a = [g[0, j] / largest[j] for j in range(6) if np.isfinite(g[0, j]) and largest[j] > 0]
    assert ratio["a"] == f"{np.median(a):.3g}" and ratio["c"] == "0"
    html = document_html(blocks, title="t")
    assert '<td class="num">5.5e-05</td>' in html and "<td>a (named)</td>" in html
    assert "td.num { white-space: nowrap; }" in html
    assert "non-finite above 10% of the steps" in html and "from 3 hidden weight matrices" in html
    write_monitor_report(run, tmp_path / "rep")  # the whole command, warnings as errors


def test_report_md_table_header_escapes_bars_for_github(tmp_path: Path) -> None:
    from gradtrace.present.report import write_monitor_report

    write_monitor_report(zeros_run(), tmp_path / "rep")
    md = (tmp_path / "rep" / "report.md").read_text()
    header = next(line for line in md.splitlines() if line.startswith("| parameter"))
    assert r"| median \|\|g\|\| |" in header and "vert" not in md
    # GitHub splits a row at unescaped bars only: as many cells as columns
    cells = re.split(r"(?<!\\)\|", header.strip())[1:-1]
    assert len(cells) == 7


def test_report_says_which_parameters_were_not_recorded(tmp_path: Path) -> None:
    from gradtrace.monitor.verdict import judge as judge_run
    from gradtrace.present.monitor_doc import monitor_document

    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 1))
    for p in model[2].parameters():
        p.requires_grad_(False)  # frozen: never recorded
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    with GradientMonitor(model).attach(opt) as mon:
        for _ in range(3):
            opt.zero_grad()
            model(torch.randn(8, 4)).pow(2).mean().backward()
            opt.step()
    run = mon.run()
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert run.unrecorded == frozen == ["2.weight", "2.bias"]

    def text(r: MonitorRun) -> str:
        return " ".join(str(b) for b in monitor_document(r, judge_run(r), {}))

    assert "2 of the model's 6 parameters had no gradient at any recorded step" in text(run)
    assert "2.weight, 2.bias" in text(run)
    back = load_run(save_run(run, tmp_path / "run.json"))
    assert back.unrecorded == frozen
    csv_run = load_run(save_run(run, tmp_path / "run.csv"))
    assert csv_run.unrecorded is None
    assert "whether the model had such parameters is not known" in text(csv_run)
