"""The explorer's JSON API: the CLI's numbers, 422 naming the field, bounded sizes."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from gradtrace import Network, backprop, get_activation
from gradtrace.cli import main
from gradtrace.web.app import LIMITS, MAX_BODY_BYTES, create_app


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app(), base_url="http://127.0.0.1")


def cli_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    capsys.readouterr()
    assert main(list(args)) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    ("body", "flags"),
    [
        (
            {"weights": [0.25, -0.11, 0.78], "x": 0.63, "target": 1},
            ["--preset", "exercise-classification"],
        ),
        (
            {
                "weights": [0.25, -0.11, 0.78],
                "x": 0.63,
                "target": 128,
                "output_activation": "identity",
                "loss": "l2",
                "log": True,
            },
            ["--preset", "exercise-regression", "--log"],
        ),
        (
            {
                "weights": [1.5, -2, 0.3, 4],
                "biases": [0.1, 0, -0.2, 0.3],
                "x": -0.5,
                "target": 0.2,
                "activation": "tanh",
                "output_activation": "identity",
                "loss": "huber",
                "residual": True,
            },
            [
                "--weights=1.5,-2,0.3,4",
                "--biases=0.1,0,-0.2,0.3",
                "--x=-0.5",
                "--target=0.2",
                "--activation",
                "tanh",
                "--output-activation",
                "identity",
                "--loss",
                "huber",
                "--residual",
            ],
        ),
    ],
)
def test_trace_equals_the_cli(
    client: TestClient, capsys: pytest.CaptureFixture[str], body: dict, flags: list[str]
) -> None:
    r = client.post("/api/trace", json=body)
    assert r.status_code == 200
    assert r.json() == cli_json(capsys, "grad", *flags, "--json")


def test_trace_numbers_are_the_engines(client: TestClient) -> None:
    w = [0.7, -1.3, 2.2, 0.4, -0.9]
    got = client.post("/api/trace", json={"weights": w, "x": 1.1, "target": 0}).json()
    want = backprop(Network.chain(w), 1.1, 0.0)
    assert [ly["grad_weight"] for ly in got["layers"]] == want.grad_weight.tolist()
    assert [ly["delta"] for ly in got["layers"]] == want.delta.tolist()
    assert got["loss"] == float(want.loss)


def test_derive_and_montecarlo_equal_the_cli(
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    d = client.post("/api/derive", json={"depth": 3, "biases": True}).json()
    mathml, product = d.pop("mathml"), d.pop("mathml_product")
    assert d == cli_json(capsys, "derive", "--depth", "3", "--biases", "--format", "json")
    assert set(mathml) == set(product) == {"w1", "w2", "w3", "b1", "b2", "b3"}
    assert all(m.startswith('<math display="block">') for m in mathml.values())
    assert product == mathml  # at most 2 pairs w_j phi'(z_(j-1)): the factor form itself
    body = {
        "depth": 4,
        "activation": "tanh",
        "samples": 20000,
        "seed": 5,
        "std": 0.5,
        "x": 0.3,
        "target": 1,
    }
    m = client.post("/api/montecarlo", json=body).json()
    flags = [
        "--depth",
        "4",
        "--activation",
        "tanh",
        "--samples",
        "20000",
        "--seed",
        "5",
        "--std",
        "0.5",
        "--x",
        "0.3",
        "--target",
        "1",
    ]
    assert m == cli_json(capsys, "montecarlo", *flags, "--json")


def test_train_with_target_scaling_and_clipping(
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    base = {
        "weights": [0.25, -0.11, 0.78],
        "x": 0.63,
        "target": 128,
        "output_activation": "identity",
        "loss": "l2",
    }
    plain = client.post("/api/train", json={**base, "learning_rate": 0.1, "steps": 200}).json()
    heat = plain.pop("heatmap")
    assert plain.pop("target_scale") == 1.0 and plain.pop("clip_norm") is None
    flags = ["--preset", "exercise-regression", "--lr", "0.1", "--steps", "200"]
    assert plain == cli_json(capsys, "train", *flags, "--json")
    assert len(heat["log10_abs_grad"]) == 3 and len(heat["step"]) == min(
        plain["steps_taken"], LIMITS["heatmap_columns"]
    )
    # the first column is log10|dL/dw| at the start: the engine's part (d)
    g0 = backprop(
        Network.chain([0.25, -0.11, 0.78], output_activation="identity", loss="l2"), 0.63, 128.0
    ).grad_weight
    assert [row[0] for row in heat["log10_abs_grad"]] == pytest.approx(
        np.log10(np.abs(g0)).tolist(), rel=1e-12
    )
    assert (
        client.post("/api/train", json={**base, "learning_rate": 5, "steps": 100}).json()["outcome"]
        == "diverged"
    )
    scaled = client.post(
        "/api/train", json={**base, "learning_rate": 0.1, "steps": 300, "target_scale": 128}
    ).json()
    assert scaled["outcome"] == "converged"
    clipped = client.post(
        "/api/train", json={**base, "learning_rate": 5, "steps": 100, "clip_norm": 1}
    ).json()
    assert clipped["outcome"] != "diverged" and clipped["clip_norm"] == 1


def test_activation_curve_is_the_engines(client: TestClient) -> None:
    c = client.get("/api/activation/tanh?lo=-3&hi=3&points=7").json()
    z = np.linspace(-3, 3, 7)
    act = get_activation("tanh")
    assert (
        c["z"] == z.tolist()
        and c["derivative"] == act.d1(z).tolist()
        and c["value"] == act.value(z).tolist()
    )


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/trace", {"weights": [1, 2], "x": "NaN", "target": 1}, "x"),
        ("/api/trace", {"weights": [1, 2], "x": 1, "target": 2}, "target"),
        ("/api/trace", {"weights": [], "x": 1, "target": 1}, "weights"),
        ("/api/trace", {"weights": [1.0] * (LIMITS["depth"] + 1), "x": 1, "target": 1}, "weights"),
        ("/api/trace", {"weights": [1, 2], "biases": [1], "x": 1, "target": 1}, "biases"),
        ("/api/trace", {"weights": [1], "x": 1, "target": 1, "activation": "gelu"}, "activation"),
        ("/api/trace", {"weights": [1], "x": 1, "target": 1, "output_activation": "tanh"}, "loss"),
        ("/api/trace", {"weights": [1], "x": 1, "target": 1, "code": "import os"}, "code"),
        ("/api/derive", {"depth": LIMITS["derive_depth"] + 1}, "depth"),
        ("/api/montecarlo", {"depth": 3, "samples": LIMITS["samples"] + 1}, "samples"),
        ("/api/montecarlo", {"depth": LIMITS["montecarlo_depth"] + 1}, "depth"),
        ("/api/montecarlo", {"depth": 3, "std": 0}, "std"),
        ("/api/train", {"weights": [1], "steps": LIMITS["steps"] + 1}, "steps"),
        ("/api/train", {"weights": [1.0] * 50, "steps": 100000, "dataset": 100}, "steps"),
        ("/api/train", {"weights": [1], "learning_rate": -1}, "learning_rate"),
        ("/api/theory", {"sigma_w2": 0}, "sigma_w2"),
        ("/api/theory", {"sigma_b2": 11}, "sigma_b2"),
        ("/api/theory", {"depth": 101}, "depth"),
        ("/api/theory", {"width": 5, "simulate": True}, "width"),
        ("/api/theory", {"activation": "gelu"}, "activation"),
        ("/api/phase", {"activation": "gelu"}, "activation"),
    ],
)
def test_bad_input_is_422_naming_the_field(
    client: TestClient, path: str, body: dict, field: str
) -> None:
    r = client.post(path, json=body)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert any(d["loc"][-1] == field and field in d["msg"] for d in detail), detail


def test_bad_query_and_oversized_body(client: TestClient) -> None:
    r = client.get("/api/activation/sigmoid?lo=inf")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "lo"]
    assert client.get("/api/activation/sigmoid?points=1").status_code == 422
    big = b'{"weights": [' + b"1," * MAX_BODY_BYTES + b'1], "x": 1, "target": 1}'
    r = client.post("/api/trace", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413

    def chunks(body: bytes) -> Iterator[bytes]:  # no content-length: counted as it streams in
        for i in range(0, len(body), 4096):
            yield body[i : i + 4096]

    headers = {"content-type": "application/json"}
    assert client.post("/api/trace", content=chunks(big), headers=headers).status_code == 413
    small = b'{"weights": [0.25, -0.11, 0.78], "x": 0.63, "target": 1}'
    r = client.post("/api/trace", content=chunks(small), headers=headers)
    assert r.status_code == 200 and len(r.json()["layers"]) == 3


def test_openapi_schema_lists_the_endpoints(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/trace", "/api/derive", "/api/montecarlo", "/api/train", "/api/presets"} <= set(
        paths
    )
    page = client.get("/")
    assert page.status_code == 200 and "gradtrace explorer" in page.text
    assert "http" not in page.text.replace("http://www.w3.org", "")  # nothing fetched from outside
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/../api.py").status_code == 404


def test_concurrent_requests_do_not_share_state(client: TestClient) -> None:
    rng = np.random.default_rng(3)
    ws = [rng.standard_normal(int(rng.integers(1, 20))).tolist() for _ in range(40)]

    def one(w: list[float]) -> bool:
        got = client.post("/api/trace", json={"weights": w, "x": 0.5, "target": 1}).json()
        return [ly["grad_weight"] for ly in got["layers"]] == backprop(
            Network.chain(w), 0.5, 1.0
        ).grad_weight.tolist()

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(one, ws))


def test_derive_without_closed_forms(client: TestClient) -> None:
    full = client.post("/api/derive", json={"depth": 4, "activation": "tanh"}).json()
    lean = client.post(
        "/api/derive", json={"depth": 4, "activation": "tanh", "closed_form": False}
    ).json()
    assert (
        "gradients" not in lean
        and lean["chain"] == full["chain"]
        and lean["mathml"] == full["mathml"]
    )


def test_serve_refuses_a_bad_or_busy_port(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--port", "99999"]) == 2
    assert (
        capsys.readouterr().err
        == "gradtrace: error: --port must be between 0 and 65535, got 99999\n"
    )
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    try:
        assert main(["serve", "--port", str(port)]) == 2
        err = capsys.readouterr().err
        assert (
            err.startswith(f"gradtrace: error: cannot listen on 127.0.0.1:{port}: ")
            and err.count("\n") == 1
        )
    finally:
        busy.close()


def test_serve_starts_on_loopback_and_answers() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gradtrace", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("gradtrace explorer at http://127.0.0.1:")
        url = line.split()[3]
        with urllib.request.urlopen(url + "api/presets", timeout=20) as r:
            presets = json.load(r)
        assert presets["exercise-regression"]["target"] == 128.0
        req = urllib.request.Request(
            url + "api/trace",
            data=json.dumps({"weights": [0.25, -0.11, 0.78], "x": 0.63, "target": 1}).encode(),
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=20) as r:
            layers = json.load(r)["layers"]
        want = backprop(Network.chain([0.25, -0.11, 0.78]), 0.63, 1.0).grad_weight
        assert [ly["grad_weight"] for ly in layers] == want.tolist()
        # a long job goes to the worker process (spawned from `python -m gradtrace`)
        req = urllib.request.Request(
            url + "api/derive", data=b'{"depth": 2}', headers={"content-type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=60) as r:
            assert set(json.load(r)["chain"]) == {"w1", "w2"}
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.mark.parametrize(
    "body",
    [
        b'{"weights": [1, 2',  # cut short
        b"\xff\xfe",  # not text
        b"[" * 10_000 + b"]" * 10_000,  # nested past json.loads' recursion limit
        b'{"depth": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
    ],
)
def test_malformed_or_deeply_nested_json_is_422(client: TestClient, body: bytes) -> None:
    for path in ("/api/trace", "/api/derive"):
        r = client.post(path, content=body, headers={"content-type": "application/json"})
        assert r.status_code == 422, (path, r.status_code, r.text)
        assert all(d["loc"][0] == "body" for d in r.json()["detail"])


@pytest.mark.parametrize("activation", ["sigmoid", "relu", "identity"])
def test_derive_product_form(client: TestClient, activation: str) -> None:
    """Past a few layers each gradient is also written with a product: the repeated pairs
    w_j phi'(z_(j-1)) folded into one term, the lower limit and the last factor in view."""
    d = client.post(
        "/api/derive", json={"depth": 30, "activation": activation, "closed_form": False}
    ).json()
    product = d["mathml_product"]
    assert set(product) == set(d["mathml"])
    assert product["w30"] == d["mathml"]["w30"]  # no pair at all
    assert product["w28"] == d["mathml"]["w28"]  # two pairs: short enough as it is
    for k in (1, 2, 27):
        m = product[f"w{k}"]
        assert m.count("∏") == 1 and len(m) < 1200
        assert f"<mi>j</mi><mo>=</mo><mn>{k + 1}</mn></mrow><mn>30</mn></munderover>" in m
        last = "<mi>x</mi>" if k == 1 else f"<msub><mi>a</mi><mi>{k - 1}</mi></msub>"
        assert m.endswith(f"{last}</mrow></math>")
    if activation != "identity":  # phi' written in the generic index j-1
        assert "<mrow><mi>j</mi><mo>−</mo><mn>1</mn></mrow>" in product["w1"]


def test_theory_equals_the_cli_plus_growth(
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    body = {"activation": "tanh", "sigma_w2": 1.2, "sigma_b2": 0.1, "depth": 10}
    sim = {"simulate": True, "width": 100, "samples": 2, "seed": 3}
    flags = ["--activation", "tanh", "--sigma-w2", "1.2", "--sigma-b2", "0.1", "--depth", "10"]
    for extra, more in (({}, []), (sim, ["--simulate", "--width=100", "--samples=2", "--seed=3"])):
        got = client.post("/api/theory", json=body | extra).json()
        growth = got.pop("growth")
        assert got.pop("depth") == 10
        assert got == cli_json(capsys, "theory", *flags, *more, "--json")
        assert growth == pytest.approx([got["chi_1"] ** (10 - k) for k in range(1, 11)], rel=1e-12)
    assert len(got["simulated"]["grad_norm_ratio"]) == 10


def test_theory_over_budget_is_422_naming_the_cost(client: TestClient) -> None:
    r = client.post("/api/theory", json={"simulate": True, "depth": 50, "width": 500, "samples": 4})
    assert r.status_code == 422
    (d,) = r.json()["detail"]
    assert d["loc"] == ["body", "width"] and "6.2 s" in d["msg"] and "budget" in d["msg"]
    # the same request without simulating is quadrature only: no cost to refuse
    assert client.post("/api/theory", json={"depth": 50, "width": 500}).status_code == 200


def test_phase_diagram_contract(client: TestClient) -> None:
    from gradtrace.service import application

    r = client.post("/api/phase", json={"activation": "tanh"})
    assert r.status_code == 200
    d = r.json()
    g = application.theory_grid(application.theory("tanh", 1.5, 0.05, depth=1).mean_field, 80)
    assert d["sigma_w2"] == g.sigma_w2.tolist() and d["sigma_b2"] == g.sigma_b2.tolist()
    assert len(d["chi_1"]) == len(d["log10_xi_c"]) == 80 and len(d["chi_1"][0]) == 80
    assert d["chi_1"][7][33] == float(f"{g.chi_1[7, 33]:.3e}")
    assert d["log10_xi_c"][7][33] == float(f"{np.log10(g.xi_c[7, 33]):.3e}")
    # infinite xi_c (chaotic at no bias, or critical) is null, not Infinity: the JSON is strict
    assert any(v is None for row in d["log10_xi_c"] for v in row)
    assert "Infinity" not in r.text and "NaN" not in r.text
    crit = [v for v in d["critical_sigma_w2"]]
    assert crit[0] == pytest.approx(1.0) and crit == pytest.approx(
        [None if not np.isfinite(v) else v for v in g.critical]
    )
