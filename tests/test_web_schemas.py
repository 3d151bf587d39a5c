"""The explorer API's models: every answer typed in ``/openapi.json``, and every default and bound
read from the registry (``service.defaults``)."""

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
