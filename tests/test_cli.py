"""The command line: JSON contract, formats, presets, and every kind of bad input."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import mpmath as mp
import pytest
import sympy as sp

from gradtrace.cli import main
from oracles import mp_grads

EXERCISE_B = [
    "--weights",
    "0.25,-0.11,0.78",
    "--x",
    "0.63",
    "--target",
    "1",
    "--activation",
    "sigmoid",
    "--output-activation",
    "sigmoid",
    "--loss",
    "bce",
]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_grad_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "grad", *EXERCISE_B, "--json")
    assert code == 0 and err == ""
    d = json.loads(out)
    assert set(d) == {"loss", "prediction", "dloss_dprediction", "layers"}
    assert [layer["layer"] for layer in d["layers"]] == [1, 2, 3]
    for layer in d["layers"]:
        assert set(layer) == {
            "layer",
            "weight",
            "z",
            "a",
            "activation_derivative",
            "delta",
            "grad_weight",
            "chain_factor",
        }
        assert all(isinstance(v, int | float) for v in layer.values() if v is not None)
    exact, _ = mp_grads([0.25, -0.11, 0.78], None, 0.63, 1.0, "sigmoid", "sigmoid", "bce")
    for layer, g in zip(d["layers"], exact, strict=True):
        assert layer["grad_weight"] == pytest.approx(float(g), rel=1e-13)
    # the chain-rule factor w_k s'(z_(k-1)), against mpmath's sigmoid at 30 digits
    assert d["layers"][0]["chain_factor"] is None
    with mp.workdps(30):
        a = mp.mpf("0.63")
        for k, w in enumerate([0.25, -0.11, 0.78]):
            s = 1 / (1 + mp.exp(-w * a))
            if k < 2:
                want = [0.25, -0.11, 0.78][k + 1] * s * (1 - s)
                assert d["layers"][k + 1]["chain_factor"] == pytest.approx(float(want), rel=1e-14)
            a = s


def test_grad_with_biases_and_equals_form(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "grad",
        "--weights=-1.2,0.4,0.3",
        "--biases=0.1,0,-0.2",
        "--x=-0.5",
        "--target=0",
        "--json",
    )
    assert code == 0
    d = json.loads(out)
    assert [layer["bias"] for layer in d["layers"]] == [0.1, 0.0, -0.2]
    assert d["layers"][0]["weight"] == -1.2
    _, gb = mp_grads([-1.2, 0.4, 0.3], [0.1, 0.0, -0.2], -0.5, 0.0, "sigmoid", "sigmoid", "bce")
    for layer, g in zip(d["layers"], gb, strict=True):
        assert layer["grad_bias"] == pytest.approx(float(g), rel=1e-12)


def test_preset_supplies_and_options_override(capsys: pytest.CaptureFixture[str]) -> None:
    _, preset_out, _ = run(capsys, "grad", "--preset", "exercise-regression", "--json")
    _, explicit_out, _ = run(
        capsys,
        "grad",
        "--weights=0.25,-0.11,0.78",
        "--x",
        "0.63",
        "--target",
        "128",
        "--output-activation",
        "identity",
        "--loss",
        "l2",
        "--json",
    )
    assert json.loads(preset_out) == json.loads(explicit_out)
    _, changed, _ = run(
        capsys, "grad", "--preset", "exercise-regression", "--target", "1", "--json"
    )
    assert (
        json.loads(changed)["layers"][2]["grad_weight"]
        != json.loads(preset_out)["layers"][2]["grad_weight"]
    )


def test_grad_text_and_log_mode(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "grad", "--preset", "exercise-classification", "--log")
    assert code == 0
    exact, _ = mp_grads([0.25, -0.11, 0.78], None, 0.63, 1.0, "sigmoid", "sigmoid", "bce")
    log_g1 = float(mp.log10(abs(exact[0])))
    assert "0.00136364" in out and "Log-magnitude mode" in out and f"{log_g1:.8g}" in out
    code, out, _ = run(capsys, "grad", "--preset", "exercise-classification", "--log", "--json")
    layers = json.loads(out)["log_magnitude"]["layers"]
    assert layers[0]["log10_abs_grad_weight"] == pytest.approx(log_g1, rel=1e-14)
    assert layers[0]["sign_grad_weight"] == 1
    assert layers[0]["float64_underflow"] is False and layers[0]["float64_inaccurate"] is False


def test_grad_log_mode_flags_underflow(capsys: pytest.CaptureFixture[str]) -> None:
    # 40 sigmoid layers of weight 1e-10: dL/dw1 ~ 1e-400 is 0 in float64, finite in log space
    weights = ",".join(["1e-10"] * 40)
    code, out, _err = run(
        capsys, "grad", f"--weights={weights}", "--x", "1", "--target", "1", "--log", "--json"
    )
    assert code == 0
    d = json.loads(out)
    assert d["layers"][0]["grad_weight"] == 0.0
    assert any("underflowed" in w for w in d["warnings"])
    first = d["log_magnitude"]["layers"][0]
    assert first["float64_underflow"] is True and first["log10_abs_grad_weight"] < -324


def test_derive_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "derive",
        "--depth",
        "3",
        "--activation",
        "sigmoid",
        "--output-activation",
        "identity",
        "--loss",
        "l2",
        "--format",
        "json",
    )
    assert code == 0
    d = json.loads(out)
    assert set(d["gradients"]) == {"w1", "w2", "w3"}
    syms = {n: sp.Symbol(n) for n in ("w1", "w2", "w3", "x", "y_hat")}
    vals = {
        syms["w1"]: 0.25,
        syms["w2"]: -0.11,
        syms["w3"]: 0.78,
        syms["x"]: 0.63,
        syms["y_hat"]: 128,
    }
    exact, _ = mp_grads([0.25, -0.11, 0.78], None, 0.63, 128.0, "sigmoid", "identity", "l2")
    for k, name in enumerate(("w1", "w2", "w3")):
        assert float(sp.sympify(d["gradients"][name], locals=syms).subs(vals)) == pytest.approx(
            float(exact[k]), rel=1e-13
        )
    # the chain-product strings parse too; at the forward values a_k they give the same numbers
    _, fwd, _ = run(capsys, "grad", "--preset", "exercise-regression", "--json")
    a_vals = {
        sp.Symbol(f"a{k + 1}"): layer["a"] for k, layer in enumerate(json.loads(fwd)["layers"])
    }
    for k, name in enumerate(("w1", "w2", "w3")):
        chain = sp.sympify(d["chain"][name], locals=syms).subs({**vals, **a_vals})
        assert float(chain) == pytest.approx(float(exact[k]), rel=1e-13)


@pytest.mark.parametrize("fmt", ["text", "markdown", "latex", "json"])
def test_solve_every_format(capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    code, out, err = run(capsys, "solve", "--format", fmt)
    assert code == 0 and err == ""
    assert "0.00136364" in out or (
        fmt == "json" and json.loads(out)["b"]["gradients"]["w1"] == pytest.approx(0.0013636421727)
    )
    assert "-123.837" in out or fmt == "json"


BAD = [
    (["grad", "--weights", "0.2,abc", "--x", "1", "--target", "1"], "'abc' is not a number"),
    (["grad", "--weights", "0.2", "--x", "one", "--target", "1"], "--x: 'one' is not a number"),
    (
        ["grad", "--weights", "0.2,nan", "--x", "1", "--target", "1"],
        "weights must be finite numbers, got nan",
    ),
    (["grad", "--weights", "0.2,inf", "--x", "1", "--target", "1"], "got inf"),
    (
        ["grad", "--weights", "0.2", "--x", "nan", "--target", "1"],
        "x must be a finite number, got nan",
    ),
    (
        ["grad", "--weights", "0.2", "--x", "1", "--target", "-inf"],
        "target must be a finite number, got -inf",
    ),
    (
        ["grad", "--weights", "0.2,0.3", "--depth", "3", "--x", "1", "--target", "1"],
        "--depth 3 does not match the 2 weights",
    ),
    (
        ["grad", "--weights", "0.2,0.3", "--biases", "1", "--x", "1", "--target", "1"],
        "expected 2 biases",
    ),
    (
        ["grad", "--weights", "0.2", "--activation", "swish", "--x", "1", "--target", "1"],
        "unknown activation 'swish'",
    ),
    (
        ["grad", "--weights", "0.2", "--loss", "hinge", "--x", "1", "--target", "1"],
        "unknown loss 'hinge'",
    ),
    (["grad", "--preset", "exercise-b"], "unknown preset 'exercise-b'"),
    (["grad", "--weights", "0.2", "--x", "1", "--target", "1.5"], "target 1.5 is outside [0, 1]"),
    (["grad", "--weights", "0.2", "--x", "1", "--target", "-0.1"], "target -0.1 is outside [0, 1]"),
    (
        ["grad", "--weights", "0.2", "--output-activation", "tanh", "--x", "1", "--target", "1"],
        "needs output activation 'sigmoid'",
    ),
    (["derive", "--depth", "0"], "depth must be at least 1, got 0"),
    (["derive", "--depth", "-3"], "depth must be at least 1, got -3"),
    (["derive", "--depth", "2.5"], "--depth: '2.5' is not a whole number"),
    (["derive", "--depth", "3", "--activation", "gelu"], "unknown activation 'gelu'"),
    (
        ["grad", "--weights", "0.2", "--depth", "0", "--x", "1", "--target", "1"],
        "depth must be at least 1, got 0",
    ),
    (["grad", "--x", "1", "--target", "1"], "give --weights"),
    (["grad", "--weights", "0.2", "--bogus", "1"], "No such option: --bogus"),
    (["solve", "--format", "pdf"], "'pdf' is not one of"),
    (["nonsense"], "No such command 'nonsense'"),
    (["montecarlo", "--depth", "3", "--samples", "ten"], "--samples: 'ten' is not a whole number"),
    (
        ["montecarlo", "--depth", "3", "--samples", "0"],
        "samples must be a whole number of at least 1, got 0",
    ),
    (["montecarlo", "--depth", "3", "--std", "-1"], "std must be positive, got -1"),
    (["montecarlo", "--depth", "3", "--init", "cauchy"], "unknown init 'cauchy'"),
    (["montecarlo", "--depth", "3", "--seed", "-4"], "seed must be a whole number of at least 0"),
    (["montecarlo", "--depth", "101"], "depth must be at most 100"),
    (["montecarlo"], "give --depth"),
    (["depth", "--depths", "0,5"], "depths must be between 1 and 10000, got 0"),
    (["depth", "--depths", "1.5"], "--depths: 1.5 is not a whole number"),
    (["depth", "--std", "0"], "std must be positive, got 0"),
    (["depth", "--activation", "gelu"], "unknown activation 'gelu'"),
    (
        ["train", "--preset", "exercise-regression", "--lr=-1"],
        "learning rate must be positive, got -1",
    ),
    (
        ["train", "--preset", "exercise-regression", "--steps", "0"],
        "steps must be between 1 and 100000",
    ),
    (
        ["train", "--preset", "exercise-regression", "--dataset", "0"],
        "dataset size must be at least 1",
    ),
    (["train", "--x", "1"], "give --weights"),
    (["remedies", "--steps", "0"], "steps must be between 1 and 100000"),
    (
        ["report", "--out", "/nonexistent-gradtrace-dir/r"],
        "folder '/nonexistent-gradtrace-dir' does not exist",
    ),
    (["report", "--out", "."], "output folder '.' exists; choose another or pass --force"),
    (["report"], "Missing option '--out'"),
    (["report", "--out", "/proc/gradtrace-report"], "cannot create a folder in '/proc'"),
    (["montecarlo", "--depth", "3", "--std", "wide"], "--std: 'wide' is not a number"),
    (["train", "--dataset", "64", "--steps", "1e3"], "--steps: '1e3' is not a whole number"),
    (["serve", "--port", "70000"], "--port must be between 0 and 65535"),
]


@pytest.mark.parametrize(("args", "message"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = run(capsys, *args)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("gradtrace: error: ")
    assert message in err
    assert "Traceback" not in err


def test_console_script_and_module_entry_point() -> None:
    for cmd in (["gradtrace"], [sys.executable, "-m", "gradtrace"]):
        ok = subprocess.run(
            [*cmd, "grad", "--preset", "exercise-regression", "--json"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert ok.returncode == 0 and json.loads(ok.stdout)["layers"][0][
            "grad_weight"
        ] == pytest.approx(0.8562278, rel=1e-6)
        bad = subprocess.run(
            [*cmd, "grad", "--weights=1,x", "--x", "1", "--target", "1"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


def test_bare_command_shows_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys)
    assert code == 0 and "solve" in out and "grad" in out and "derive" in out


def test_montecarlo_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "montecarlo",
        "--depth",
        "3",
        "--activation",
        "sigmoid",
        "--output-activation",
        "sigmoid",
        "--loss",
        "bce",
        "--x",
        "0.63",
        "--target",
        "1",
        "--samples",
        "70000",
        "--seed",
        "7",
        "--json",
    ]
    code, out, err = run(capsys, *args)
    assert code == 0 and err == ""
    d = json.loads(out)
    assert d["samples"] == 70000 and d["seed"] == 7
    assert [layer["layer"] for layer in d["layers"]] == [1, 2, 3]
    for layer in d["layers"]:
        assert set(layer["abs_grad_quantiles"]) == {"p05", "p25", "p50", "p75", "p95"}
        assert set(layer["fraction_below"]) == {"1e-3", "1e-6"} and set(
            layer["fraction_above"]
        ) == {"1e2"}
        q = layer["abs_grad_quantiles"]
        assert q["p05"] <= q["p25"] <= q["p50"] <= q["p75"] <= q["p95"]
    # vanishing: the first layer's median gradient is far below the last's
    assert (
        d["layers"][0]["abs_grad_quantiles"]["p50"]
        < d["layers"][2]["abs_grad_quantiles"]["p50"] / 10
    )
    # the same command again gives the same numbers
    _, again, _ = run(capsys, *args)
    assert json.loads(again) == d


def test_depth_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "depth",
        "--activation",
        "sigmoid",
        "--depths",
        "10,2000",
        "--samples",
        "40",
        "--json",
    )
    assert code == 0
    d = json.loads(out)
    assert [p["depth"] for p in d["depths"]] == [10, 2000]
    assert d["depths"][1]["mean_log10_abs_grad_first"] < -1500  # finite, far below float64's range
    assert d["profile"]["depth"] == 2000 and len(d["profile"]["layer"]) == 1000
    assert abs(d["rate"]["fitted"] - d["rate"]["expected"]) < 4 * d["rate"]["fitted_se"] + 1e-3


def test_train_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "train",
        "--preset",
        "exercise-regression",
        "--lr",
        "0.1",
        "--steps",
        "500",
        "--json",
    )
    assert code == 0
    d = json.loads(out)
    assert d["outcome"] == "converged" and d["converged_at"] == d["steps_taken"]
    assert d["final_loss"] <= 1e-6 and d["loss_curve"]["loss"][0] == pytest.approx(
        16287.2637, rel=1e-8
    )
    assert [layer["layer"] for layer in d["layers"]] == [1, 2, 3]
    code, out, _ = run(
        capsys,
        "train",
        "--weights=1,1",
        "--activation",
        "identity",
        "--output-activation",
        "identity",
        "--loss",
        "l2",
        "--x",
        "3",
        "--target",
        "0",
        "--lr",
        "1",
        "--json",
    )
    assert code == 0 and json.loads(out)["outcome"] == "diverged"


def test_remedies_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "remedies", "--steps", "100", "--json")
    assert code == 0
    rows = json.loads(out)["rows"]
    assert {r["problem"] for r in rows} == {"exploding", "vanishing"} and len(rows) == 10
    assert all(
        set(r) >= {"remedy", "why", "steps_to_tolerance", "diverged", "final_loss"} for r in rows
    )


def test_residual_flag_matches_torch(capsys: pytest.CaptureFixture[str]) -> None:
    from oracles import torch_grads

    code, out, _ = run(
        capsys,
        "grad",
        "--weights=0.5,-1.2,0.8",
        "--x",
        "0.7",
        "--target",
        "1",
        "--residual",
        "--json",
    )
    assert code == 0
    gw, _, _ = torch_grads(
        [0.5, -1.2, 0.8], None, 0.7, 1.0, "sigmoid", "sigmoid", "bce", residual=True
    )
    got = [layer["grad_weight"] for layer in json.loads(out)["layers"]]
    assert got == pytest.approx(list(gw), rel=1e-12)
    code, _, _ = run(
        capsys, "grad", "--weights=0.5,-1.2,0.8", "--x", "0.7", "--target", "1", "--residual"
    )
    assert code == 0


def test_train_diverging_at_once_is_reported_not_a_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["train", "--weights=1e200,1e200", "--activation", "identity"]
    args += ["--output-activation", "identity", "--loss", "l2", "--x", "1", "--target", "0"]
    code, out, err = run(capsys, *args, "--json")
    assert code == 0 and err == ""
    d = json.loads(out)
    assert d["outcome"] == "diverged" and d["diverged_at"] == 0 and d["final_loss"] is None
    code, out, _ = run(capsys, *args)
    assert code == 0 and "diverged at step 0" in out


def test_report_refuses_a_bad_output_folder_before_computing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gradtrace.present.report

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("computed before checking the output folder")

    monkeypatch.setattr(gradtrace.present.report, "build_report", never)
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep me")
    cases = [
        (["--out", str(a_file / "report")], "is a file, not a folder"),
        (["--out", str(a_file), "--force"], "--force replaces only a report folder"),
        (["--out", str(tmp_path)], "exists; choose another or pass --force"),
        (["--out", str(tmp_path), "--force"], "is not a gradtrace report folder"),
    ]
    for args, message in cases:
        code, out, err = run(capsys, "report", "--quick", *args)
        assert code == 2 and out == "" and err.count("\n") == 1 and message in err, err
    assert a_file.read_text() == "keep me" and sorted(tmp_path.iterdir()) == [a_file]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    import gradtrace

    code, out, _ = run(capsys, "--version")
    assert code == 0 and out == f"gradtrace {gradtrace.__version__}\n"


def test_help_shows_types_and_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "montecarlo", "--help")
    assert code == 0 and "<str>" not in out
    assert "--samples <int>" in out and "--std <float>" in out and "[default: 100000]" in out
    code, out, _ = run(capsys, "grad", "--help")
    assert "--weights W1,...,WL" in out and "--x <float>" in out and "<str>" not in out


def test_text_width_is_columns_else_the_terminals_else_80(monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import os

    from gradtrace.cli import output

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    size = os.terminal_size((132, 40))
    monkeypatch.setattr(output.shutil, "get_terminal_size", lambda *a, **k: size)
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr(sys, "stdout", io.StringIO())  # a pipe, a file
    assert output.text_width() == 80
    monkeypatch.setattr(sys, "stdout", Terminal())
    assert output.text_width() == 132
    for columns, width in (("100", 100), ("60", 60), ("", 132), ("wide", 132), ("0", 132)):
        monkeypatch.setenv("COLUMNS", columns)
        assert output.text_width() == width, columns
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    monkeypatch.setenv("COLUMNS", "100")
    assert output.text_width() == 100


def test_help_lists_every_command_with_its_whole_summary_at_80_columns(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = run(capsys, "--help")
    commands = out.split("\nCommands:\n", 1)[1].splitlines()
    assert code == 0 and len(commands) == 15
    for line in commands:  # one line each, its summary a whole sentence (click cuts with "...")
        assert len(line) <= 80 and line.endswith(".") and not line.endswith("..."), line


@pytest.mark.parametrize(
    ("command", "usage"),
    [
        ("monitor-report", "[OPTIONS] RECORDS"),
        ("reproduce", "[OPTIONS] NAME"),
        ("sweep", "[OPTIONS] GRID.toml"),
        ("sweep-status", "[OPTIONS] PATH"),
    ],
)
def test_usage_names_the_arguments_as_their_help_does(
    capsys: pytest.CaptureFixture[str], command: str, usage: str
) -> None:
    code, out, _ = run(capsys, command, "--help")
    assert code == 0 and out.splitlines()[0] == f"Usage: gradtrace {command} {usage}"


@pytest.mark.parametrize(
    "args",
    [
        ["depth", "--activation", "relu", "--samples", "20", "--depths", "1,10,100"],
        ["depth", "--std", "1e300", "--samples", "20", "--depths", "1,10"],
    ],
)
def test_no_numpy_warning_reaches_the_user(
    capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    # the suite turns every warning into an error (pyproject: filterwarnings = error)
    code, out, err = run(capsys, *args, "--json")
    assert code == 0 and err == ""
    rate = json.loads(out)["rate"]
    if "1e300" in args:  # saturated: a huge but finite rate, fitted and expected agree in order
        assert rate["fitted"] < -1e298 and rate["expected"] < -1e298
        assert math.isfinite(rate["fitted_se"])


def test_train_on_a_dataset_defaults_to_part_b(capsys: pytest.CaptureFixture[str]) -> None:
    from gradtrace.core.network import PRESETS
    from gradtrace.lab.training import TrainConfig, make_dataset, train

    code, out, err = run(capsys, "train", "--dataset", "64", "--seed", "3", "--json")
    assert code == 0 and err == ""
    b = PRESETS["exercise-classification"]
    xs, ts = make_dataset(b.network.spec, 64, 3)
    h = train(TrainConfig(b.network, xs, ts, learning_rate=0.01))
    d = json.loads(out)
    assert d["loss_curve"]["loss"][0] == pytest.approx(float(h.loss[0]), rel=1e-15)
    assert d["outcome"] == h.outcome and d["steps_taken"] == h.steps_taken


def test_grad_text_of_a_deep_chain_elides_the_middle(capsys: pytest.CaptureFixture[str]) -> None:
    weights = "--weights=" + ",".join(["0.9"] * 300)
    code, out, _ = run(capsys, "grad", weights, "--x", "1", "--target", "1", "--log")
    assert code == 0
    assert "Layers 21 to 280 (260 of 300) are left out" in out and "--all-layers" in out
    assert "a20 = s(z20)" in out and "a281 = s(z281)" in out and "a21 = s(z21)" not in out
    code, out_json, _ = run(capsys, "grad", weights, "--x", "1", "--target", "1", "--json")
    g = json.loads(out_json)["layers"]
    assert f"dL/dw300 = {g[-1]['grad_weight']:.6g}" in out and "..." in out
    code, everything, _ = run(capsys, "grad", weights, "--x", "1", "--target", "1", "--all-layers")
    assert code == 0 and "left out" not in everything and "a150 = s(z150)" in everything


def test_derive_leaves_deep_closed_forms_out_and_says_so(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "derive", "--depth", "13")
    assert code == 0 and "Left out: past depth 12" in out and "--closed-form" in out
    code, shallow, _ = run(capsys, "derive", "--depth", "12")
    assert "Left out" not in shallow and "dL/dw1 = " in shallow.split("Closed form")[1]
    code, forced, _ = run(capsys, "derive", "--depth", "13", "--closed-form")
    assert "Left out" not in forced and "dL/dw13 = " in forced.split("Closed form")[1]
    code, as_json, _ = run(capsys, "derive", "--depth", "13", "--format", "json")
    assert len(json.loads(as_json)["gradients"]) == 13  # the JSON contract keeps them


def test_report_force_replaces_only_a_report_folder(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gradtrace.present.report

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("computed before checking the output folder")

    monkeypatch.setattr(gradtrace.present.report, "build_report", never)
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "data.txt").write_text("keep me")
    code, _, err = run(capsys, "report", "--quick", "--out", str(precious), "--force")
    assert code == 2 and "not a gradtrace report folder" in err
    assert (precious / "data.txt").read_text() == "keep me"
    # a report folder holding the current folder is never replaced
    report = tmp_path / "old"
    (report / "inner").mkdir(parents=True)
    (report / "config.json").write_text('{"command": "gradtrace report"}')
    monkeypatch.chdir(report / "inner")
    code, _, err = run(capsys, "report", "--quick", "--out", str(report), "--force")
    assert code == 2 and "holds the current folder" in err and (report / "inner").is_dir()


def test_report_without_the_plots_extra_is_one_line(tmp_path: Path) -> None:
    # matplotlib made unimportable in a fresh interpreter: the state after `pip install -e .`
    code = (
        "import builtins, sys\n"
        "real = builtins.__import__\n"
        "def fake(name, *a, **k):\n"
        "    if name.startswith('matplotlib'):\n"
        "        raise ImportError(\"No module named 'matplotlib'\")\n"
        "    return real(name, *a, **k)\n"
        "builtins.__import__ = fake\n"
        "from gradtrace.cli import main\n"
        f"sys.exit(main(['report', '--out', {str(tmp_path / 'r')!r}, '--quick']))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "report needs the plots extra" in done.stderr and "gradtrace[plots]" in done.stderr
    assert not (tmp_path / "r").exists()


def test_figure_is_one_option_for_every_command(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """``--figure PATH`` is checked before any work (suffix, folder, plots extra) and saved by
    one rule: the suffix picks the format, and a PNG gets an SVG twin."""
    pytest.importorskip("matplotlib")
    for command in (["theory"], ["jacobian"], ["reproduce", "he2015"]):
        code, out, err = run(capsys, *command, "--figure", str(tmp_path / "f.jpg"))
        assert code == 2 and out == "" and "--figure: " in err and ".png, .svg or .pdf" in err
        code, _, err = run(capsys, *command, "--figure", str(tmp_path / "no" / "f.png"))
        assert code == 2 and "does not exist" in err
    code, _, _ = run(capsys, "theory", "--depth", "3", "--figure", str(tmp_path / "t.svg"))
    assert code == 0 and sorted(p.name for p in tmp_path.iterdir()) == ["t.svg"]
    code, _, _ = run(capsys, "theory", "--depth", "3", "--figure", str(tmp_path / "t.png"))
    assert code == 0 and (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "t.svg").exists()
