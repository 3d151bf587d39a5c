"""The explorer API's models: every answer typed in ``/openapi.json``, strict request types, no
non-finite answer, and every default and bound read from the registry (``service.defaults``)."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient
from pydantic import BaseModel

from gradtrace.service import defaults
from gradtrace.web import schemas
from gradtrace.web.app import LIMITS, create_app

JSON = dict[str, Any]


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app(), base_url="http://127.0.0.1")


@pytest.fixture(scope="module")
def openapi(client: TestClient) -> JSON:
    spec: JSON = client.get("/openapi.json").json()
    return spec


def _untyped(schema: JSON, spec: JSON, where: str, seen: set[str]) -> list[str]:
    """Where ``schema`` (or a schema inside it) says nothing about a value: no type, or an
    object whose values may be anything."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return []
        seen.add(name)
        return _untyped(spec["components"]["schemas"][name], spec, name, seen)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return [
                bad
                for i, s in enumerate(schema[key])
                for bad in _untyped(s, spec, f"{where}|{i}", seen)
            ]
    kind = schema.get("type")
    if kind is None and "enum" not in schema and "const" not in schema:
        return [where]
    bad: list[str] = []
    if kind == "object":
        props = schema.get("properties", {})
        values = schema.get("additionalProperties")
        if not props and not isinstance(values, dict):
            return [f"{where} (an object of anything)"]
        for name, s in props.items():
            bad += _untyped(s, spec, f"{where}.{name}", seen)
        if isinstance(values, dict):
            bad += _untyped(values, spec, f"{where}[*]", seen)
    if kind == "array":
        bad += _untyped(schema.get("items", {}), spec, f"{where}[]", seen)
    return bad


def test_every_api_route_declares_a_typed_answer(openapi: JSON) -> None:
    routes = [
        (path, method, op)
        for path, ops in openapi["paths"].items()
        if path.startswith("/api/")
        for method, op in ops.items()
    ]
    assert len(routes) == 8
    for path, method, op in routes:
        where = f"{method.upper()} {path}"
        content = op["responses"].get("200", {}).get("content", {})
        assert "application/json" in content, f"{where}: no 200 answer declared"
        schema = content["application/json"].get("schema")
        assert schema, f"{where}: the 200 answer has no schema"
        assert not _untyped(schema, openapi, where, set()), (
            f"{where}: untyped parts of the answer: {_untyped(schema, openapi, where, set())}"
        )


def test_the_schema_finds_an_untyped_answer() -> None:
    """The walk above would catch the old ``dict[str, Any]`` answers."""
    spec: JSON = {"components": {"schemas": {}}}
    assert _untyped({"type": "object", "additionalProperties": True}, spec, "x", set())
    assert _untyped({"type": "array", "items": {}}, spec, "x", set()) == ["x[]"]
    assert not _untyped({"type": "array", "items": {"type": "number"}}, spec, "x", set())


# ---- issue 19, item 7: strict types --------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/trace", {"weights": [0.5], "x": "0.63", "target": 1}, "x"),
        ("/api/trace", {"weights": [0.5], "x": True, "target": 1}, "x"),
        ("/api/trace", {"weights": ["0.5"], "x": 0.63, "target": 1}, "0"),
        ("/api/trace", {"weights": [0.5], "x": 0.63, "target": 1, "log": "yes"}, "log"),
        ("/api/trace", {"weights": [0.5], "x": 0.63, "target": 1, "residual": 1}, "residual"),
        ("/api/derive", {"depth": 2, "biases": "true"}, "biases"),
        ("/api/derive", {"depth": "2"}, "depth"),
        ("/api/derive", {"depth": 2.0}, "depth"),
        ("/api/derive", {"depth": True}, "depth"),
        ("/api/montecarlo", {"depth": 3, "samples": "20"}, "samples"),
        ("/api/montecarlo", {"depth": 3, "std": "0.5"}, "std"),
        ("/api/train", {"weights": [0.5], "steps": "10"}, "steps"),
        ("/api/train", {"weights": [0.5], "learning_rate": True}, "learning_rate"),
        ("/api/theory", {"sigma_w2": "1.5"}, "sigma_w2"),
        ("/api/theory", {"simulate": "yes"}, "simulate"),
        ("/api/phase", {"activation": 1}, "activation"),
    ],
)
def test_loose_types_are_422_naming_the_field(
    client: TestClient, path: str, body: JSON, field: str
) -> None:
    r = client.post(path, json=body)
    assert r.status_code == 422, r.text
    assert any(d["loc"][-1] == field and field in d["msg"] for d in r.json()["detail"]), r.text


def test_an_integer_is_a_number(client: TestClient) -> None:
    """JSON ``1`` for ``1.0``: an integer is accepted where a float is meant."""
    ints = client.post("/api/trace", json={"weights": [1, -2], "x": 1, "target": 0}).json()
    floats = client.post("/api/trace", json={"weights": [1.0, -2.0], "x": 1.0, "target": 0.0})
    assert ints == floats.json() and ints["layers"][0]["weight"] == 1.0


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("lo=true", "lo"),
        ("lo=1_0&hi=20", "lo"),
        ("lo=%201&hi=3", "lo"),
        ("lo=0x10", "lo"),
        ("lo=inf", "lo"),
        ("hi=nan", "hi"),
        ("points=2.0", "points"),
        ("points=1e2", "points"),
        ("points=true", "points"),
    ],
)
def test_a_query_number_is_written_as_in_json(client: TestClient, query: str, field: str) -> None:
    r = client.get(f"/api/activation/sigmoid?{query}")
    assert r.status_code == 422, r.text
    (d,) = r.json()["detail"]
    assert d["loc"] == ["query", field] and d["msg"].startswith(f"{field}: ")


def test_a_query_in_json_number_form_is_accepted(client: TestClient) -> None:
    r = client.get("/api/activation/tanh?lo=-1.5e0&hi=2&points=3")
    assert r.status_code == 200 and r.json()["z"] == [-1.5, 0.25, 2.0]


# ---- issue 19, item 6: no answer with non-finite numbers where the input is at fault ---------


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ("lo=-1e308&hi=1e308", {"lo", "hi"}),  # hi - lo overflows: the grid itself is not finite
        ("lo=-1e300&hi=0", {"lo"}),
        ("lo=0&hi=1e7", {"hi"}),
        ("lo=2&hi=2", {"hi"}),
        ("lo=3&hi=-3", {"hi"}),
    ],
)
def test_an_extreme_grid_is_422_naming_the_field(
    client: TestClient, query: str, fields: set[str]
) -> None:
    r = client.get(f"/api/activation/sigmoid?{query}")
    assert r.status_code == 422, r.text
    assert {d["loc"][-1] for d in r.json()["detail"]} == fields


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu", "softsign", "identity"])
def test_the_widest_grid_is_finite(client: TestClient, name: str) -> None:
    lo, hi = defaults.CURVE.lo.ge, defaults.CURVE.hi.le
    r = client.get(f"/api/activation/{name}", params={"lo": f"{lo:g}", "hi": f"{hi:g}"})
    assert r.status_code == 200 and "null" not in r.text


# ---- one source: the registry ---------------------------------------------------------------

_GROUPS: list[tuple[type[BaseModel], tuple[object, ...]]] = [
    (schemas.TraceIn, (defaults.TRACE, defaults.SPEC)),
    (schemas.DeriveIn, (defaults.DERIVE, defaults.SPEC)),
    (schemas.MonteCarloIn, (defaults.MONTECARLO, defaults.SPEC)),
    (schemas.TrainIn, (defaults.TRAIN, defaults.SPEC)),
    (schemas.TheoryIn, (defaults.THEORY,)),
    (schemas.PhaseIn, (defaults.THEORY,)),
    (schemas.CurveQuery, (defaults.CURVE,)),
]


@pytest.mark.parametrize(("model", "groups"), _GROUPS, ids=lambda v: getattr(v, "__name__", ""))
def test_every_request_field_is_read_from_the_registry(
    model: type[BaseModel], groups: tuple[object, ...]
) -> None:
    props = model.model_json_schema()["properties"]
    for name, prop in props.items():
        param = next((getattr(g, name) for g in groups if hasattr(g, name)), None)
        assert isinstance(param, defaults.Param), f"{model.__name__}.{name}: not in the registry"
        assert prop.get("description") == param.help, name
        want = defaults.pydantic_field(param)
        if name not in ("weights", "biases"):  # lists: the bound is on their length
            for key, word in (("ge", "minimum"), ("gt", "exclusiveMinimum"), ("le", "maximum")):
                got = prop.get(word, next((s.get(word) for s in prop.get("anyOf", ())), None))
                assert got == want.get(key), (name, key)
        if name in model.model_fields and not model.model_fields[name].is_required():
            assert model.model_fields[name].default == want["default"], name


def test_limits_are_the_registrys() -> None:
    assert LIMITS == defaults.web_limits()
    weights = schemas.TraceIn.model_json_schema()["properties"]["weights"]
    assert weights["maxItems"] == LIMITS["depth"] == defaults.TRACE.weights.web_max
