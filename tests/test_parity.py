"""The same inputs give the same answer through every face: the CLI (``main([..., "--json"])``),
the web API (starlette's TestClient) and Python (the application layer's job function, with the
presenter the faces use). Floats agree to 1e-12; the API may add keys of its own (named here).

Every CLI command with a JSON output is here; those without an API route compare the CLI with
Python only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from gradtrace.cli import main
from gradtrace.present import json as present
from gradtrace.service import application

Json = Any  # a decoded JSON value: arbitrary by nature


def _close(a: Json, b: Json, where: str = "$") -> None:
    """``a == b`` as JSON, floats to 1e-12 (relative, or absolute near 0)."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), f"{where}: keys {sorted(a)} != {sorted(b)}"
        for k in a:
            _close(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), f"{where}: lengths {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{where}[{i}]")
    elif isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12), f"{where}: {a} != {b}"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def _flags(values: dict[str, Json]) -> list[str]:
    """CLI flags for ``values``: ``--name value``, lists as comma lists, True as a bare flag."""
    out: list[str] = []
    for k, v in values.items():
        flag = "--" + k.replace("_", "-")
        if v is True:
            out.append(flag)
        elif isinstance(v, list | tuple):
            out.append(f"{flag}={','.join(map(str, v))}")
        elif v is not False and v is not None:
            out.append(f"{flag}={v}")
    return out


def cli_json(capsys: pytest.CaptureFixture[str], *args: str) -> Json:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


@dataclass(frozen=True)
class Case:
    """One command: its CLI arguments before the values, the values, the Python answer, and the
    API route (None: no route) with the keys only the API adds."""

    command: list[str]
    values: dict[str, Json]
    python: Callable[[dict[str, Json]], Json]
    route: str | None = None
    api_only: frozenset[str] = field(default_factory=frozenset)

    @property
    def id(self) -> str:
        return self.command[0]


SMALL_TRAIN = {"weights": [0.5, -0.3, 0.8], "x": 0.4, "target": 1.0, "steps": 30}

CASES = [
    Case(
        ["grad", "--json"],
        {"weights": [0.25, -0.11, 0.78], "x": 0.63, "target": 1.0, "loss": "bce", "log": True},
        lambda v: application.grad_json(application.grad(**_trace(v))),
        "/api/trace",
    ),
    Case(
        ["derive", "--format", "json"],
        {"depth": 3, "activation": "tanh", "biases": True},
        lambda v: present.derivation_dict(application.derive(**v), closed=True),
        "/api/derive",
        frozenset({"mathml", "mathml_product"}),
    ),
    Case(
        ["montecarlo", "--json"],
        {"depth": 3, "samples": 2000, "seed": 7, "std": 1.5, "x": -0.2},
        lambda v: present.montecarlo_dict(application.montecarlo(**v)),
        "/api/montecarlo",
    ),
    Case(
        ["train", "--json"],
        {**SMALL_TRAIN, "learning_rate": 0.5, "clip_norm": 1.0},
        lambda v: present.train_dict(application.train(**v)),
        "/api/train",
        frozenset({"heatmap", "target_scale", "clip_norm"}),
    ),
    Case(  # a missing sample is part (b)'s on every face
        ["train", "--json"],
        {"weights": [0.5, -0.3, 0.8], "steps": 10},
        lambda v: present.train_dict(application.train(**v)),
        "/api/train",
        frozenset({"heatmap", "target_scale", "clip_norm"}),
    ),
    Case(
        ["theory", "--json"],
        {"activation": "tanh", "sigma_w2": 1.7, "sigma_b2": 0.1, "depth": 8},
        lambda v: _theory(application.theory(**v)),
        "/api/theory",
        frozenset({"depth", "growth"}),
    ),
    Case(
        ["theory", "--json"],
        {"sigma_w2": 2.0, "depth": 5, "simulate": True, "width": 20, "samples": 2, "seed": 3},
        lambda v: _theory(application.theory(**v)),
        "/api/theory",
        frozenset({"depth", "growth"}),
    ),
    Case(["solve", "--format", "json"], {}, lambda v: present.solution_dict(application.solve())),
    Case(
        ["depth", "--json"],
        {"depths": [1, 3], "samples": 4, "seed": 2},
        lambda v: present.depth_dict(application.depth(**v)),
    ),
    Case(
        ["remedies", "--json"],
        {"steps": 5, "seed": 1},
        lambda v: present.remedies_dict(application.remedies(**v)),
    ),
    Case(
        ["jacobian", "--json"],
        {"depth": 2, "width": 12, "samples": 2, "seed": 4, "init": "gaussian"},
        lambda v: present.jacobian_dict(application.jacobian(**v)),
    ),
    Case(
        ["reproduce", "he2015", "--json"],
        {"quick": True, "seed": 1},
        lambda v: present.reproduction_dict(application.reproduce("he2015", **v)),
    ),
]


def _trace(v: dict[str, Json]) -> dict[str, Json]:
    return {"log": v.get("log", False), **{k: x for k, x in v.items() if k != "log"}}


def _theory(r: application.TheoryResult) -> Json:
    return present.theory_dict(r.mean_field, r.simulated)


@pytest.fixture(scope="module")
def client() -> Any:
    """The API (imported in one place: ``gradtrace.web`` moves under its own redesign)."""
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from gradtrace.web.app import create_app

    with TestClient(create_app(), base_url="http://127.0.0.1") as c:
        yield c


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_cli_equals_python(capsys: pytest.CaptureFixture[str], case: Case) -> None:
    got = cli_json(capsys, *case.command, *_flags(case.values))
    _close(got, case.python(dict(case.values)))


API = [c for c in CASES if c.route is not None]


@pytest.mark.parametrize("case", API, ids=[c.id for c in API])
def test_api_equals_cli(capsys: pytest.CaptureFixture[str], client: Any, case: Case) -> None:
    r = client.post(case.route, json=case.values)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert case.api_only <= answer.keys()
    common = {k: v for k, v in answer.items() if k not in case.api_only}
    got = cli_json(capsys, *case.command, *_flags(case.values))
    _close(common, got)


def test_phase_api_equals_python(client: Any) -> None:
    """``/api/phase`` has no CLI twin (``gradtrace theory --figure`` draws it)."""
    g = application.phase("tanh")
    d = client.post("/api/phase", json={"activation": "tanh"}).json()
    _close(d["sigma_w2"], g.sigma_w2.tolist())
    _close(d["sigma_b2"], g.sigma_b2.tolist())


def test_sweep_and_status_cli_equal_python(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A finished store: ``sweep`` has nothing to run (no cluster starts) and reports the
    same through both faces; so does ``sweep-status``."""
    pytest.importorskip("dask")
    from gradtrace.present.sweep_doc import report_dict, status_dict
    from gradtrace.sweep import Store, read_grid

    grid = tmp_path / "g.toml"
    grid.write_text(
        '[sweep]\nname = "p"\nkind = "train"\nseeds = [0]\n[sweep.fixed]\nwidth = 4\n'
        "depth = 2\nsteps = 2\n[sweep.grid]\nsigma_w2 = [1.0, 2.0]\n"
    )
    store = str(tmp_path / "s.db")
    g = read_grid(str(grid))
    with Store(store) as db:
        db.add_grid(g.name, g.kind, g.source, {})
        db.add_cells([(c.key, c.kind, c.params, c.seed) for c in g.cells()])
        for c in g.cells():
            db.finish(c.key, result={"x": 1}, error=None, duration=0.0, worker="w")
    got = cli_json(capsys, "sweep", str(grid), "--store", store, "--json")
    _close(got, report_dict(application.sweep(str(grid), store=store)))
    got = cli_json(capsys, "sweep-status", store, "--json")
    _close(got, status_dict(application.sweep_status(store)))
