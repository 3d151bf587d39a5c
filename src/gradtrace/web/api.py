"""The explorer's JSON API (FastAPI): the engine's numbers, validated and bounded.

Every endpoint is a thin wrapper: parse and validate a request model, call the same function the
CLI calls, return the same JSON contract (``render/json.py``). ``/api/trace`` answers exactly
what ``gradtrace grad --json`` prints for the same inputs.

Safety: every number must be finite, every size is bounded (``LIMITS``), request bodies over
``MAX_BODY_BYTES`` are refused with 413, bad values give 422 with the field named, nothing reads
or writes files except the package's own static folder, and requests share no mutable state (the
only caches hold symbolic derivations and their MathML, which are immutable). Long requests
run in a worker process (``Jobs``) so that they never hold up ``/api/trace``.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager
from functools import lru_cache
from importlib import resources
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from sympy.printing.mathml import mathml

import gradtrace
from gradtrace import application
from gradtrace.activations import ACTIVATIONS
from gradtrace.errors import SpecError
from gradtrace.lab.init import INITS
from gradtrace.lab.montecarlo import run_montecarlo
from gradtrace.lab.training import train
from gradtrace.losses import LOSSES
from gradtrace.network import PRESETS
from gradtrace.render.json import derivation_dict, montecarlo_dict, train_dict, train_heatmap
from gradtrace.symbolic import GradientFormula

__all__ = ["LIMITS", "MAX_BODY_BYTES", "create_app"]

LIMITS = {
    "depth": 1000,  # trace (the page offers 1 to 50)
    "derive_depth": 50,
    "montecarlo_depth": 100,
    "samples": 1_000_000,
    "steps": 100_000,
    "dataset": 1000,
    "train_work": 20_000_000,  # steps x depth x samples: about 10 s of training at most
    "curve_points": 2001,
    "heatmap_columns": 200,
}
"""The bounds every request is held to."""
MAX_BODY_BYTES = 256 * 1024
"""Larger request bodies are refused (413) before they are read whole."""

Finite = Annotated[float, Field(allow_inf_nan=False)]
# the engine's own name lists, so that a new activation or loss needs no second edit here
ActivationName = Literal[tuple(ACTIVATIONS)]  # type: ignore[valid-type]
LossName = Literal[tuple(LOSSES)]  # type: ignore[valid-type]
InitName = Literal[INITS]  # type: ignore[valid-type]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SpecIn(_Model):
    """The chain's shape: activations and loss (the depth comes from the weights)."""

    activation: ActivationName = "sigmoid"
    output_activation: ActivationName = "sigmoid"
    loss: LossName = "bce"
    residual: bool = False


class TraceIn(SpecIn):
    """One chain at one sample: ``gradtrace grad``'s inputs."""

    weights: Annotated[list[Finite], Field(min_length=1, max_length=LIMITS["depth"])]
    biases: Annotated[list[Finite], Field(max_length=LIMITS["depth"])] | None = None
    x: Finite
    target: Finite
    log: bool = False


class DeriveIn(SpecIn):
    """A chain's symbolic gradients."""

    depth: Annotated[int, Field(ge=1, le=LIMITS["derive_depth"])]
    biases: bool = False
    closed_form: bool = Field(
        True, description="Include the closed forms (large for deep chains; the page omits them)"
    )


class MonteCarloIn(SpecIn):
    """``gradtrace montecarlo``'s inputs."""

    depth: Annotated[int, Field(ge=1, le=LIMITS["montecarlo_depth"])]
    biases: bool = False
    init: InitName = "normal"
    std: Annotated[float, Field(gt=0, le=1e6, allow_inf_nan=False)] = 1.0
    samples: Annotated[int, Field(ge=1, le=LIMITS["samples"])] = 100_000
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)] = 0
    x: Finite | None = Field(None, description="default: part (b)'s input")
    target: Finite | None = Field(None, description="default: part (b)'s label")


class TrainIn(SpecIn):
    """``gradtrace train``'s inputs, with clipping and target scaling."""

    weights: Annotated[list[Finite], Field(min_length=1, max_length=LIMITS["depth"])]
    x: Finite | None = Field(None, description="default: part (b)'s input")
    target: Finite | None = Field(None, description="default: part (b)'s label")
    dataset: Annotated[int, Field(ge=1, le=LIMITS["dataset"])] | None = None
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)] = 0
    learning_rate: Annotated[float, Field(gt=0, le=1e6, allow_inf_nan=False)] = 0.01
    steps: Annotated[int, Field(ge=1, le=LIMITS["steps"])] = 1000
    tolerance: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 1e-6
    clip_norm: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    target_scale: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 1.0


def _unprocessable(message: str, field: str, where: str = "body") -> JSONResponse:
    """422 in FastAPI's own error shape, the field named in ``loc`` and in the message."""
    loc = [where] if field == where else [where, field]
    return JSONResponse(
        status_code=422,
        content={"detail": [{"loc": loc, "msg": message, "type": "value_error"}]},
    )


# ---- symbolic formulas as MathML (Chromium renders MathML Core without any script) -----------


@lru_cache(maxsize=4096)
def _mathml(expr: Any) -> str:
    """Presentation MathML of one factor (factors repeat across a chain's gradients: cached)."""
    text = mathml(expr, printer="presentation")
    return text.replace(
        "<msub><mi>y</mi><mi>hat</mi></msub>", "<mover><mi>y</mi><mo>^</mo></mover>"
    )


def _factor_mathml(g: GradientFormula) -> str:
    parts = []
    for f in g.factors:
        inner = _mathml(f.expr)
        if f.expr.is_Add or (f.expr.is_Mul and len(f.expr.args) > 1):
            inner = f"<mrow><mo>(</mo>{inner}<mo>)</mo></mrow>"
        parts.append(inner)
    name = f"<msub><mi>{g.parameter[0]}</mi><mn>{g.parameter[1:]}</mn></msub>"
    lhs = f"<mfrac><mrow><mo>∂</mo><mi>L</mi></mrow><mrow><mo>∂</mo>{name}</mrow></mfrac>"
    return f'<math display="block"><mrow>{lhs}<mo>=</mo>{"<mo>·</mo>".join(parts)}</mrow></math>'


# ---- the long jobs: run in a worker process, so the interactive path never waits on them -------


def derive_job(req: DeriveIn) -> dict[str, Any]:
    """``/api/derive``'s answer (in the worker: its derivations stay cached there)."""
    d = application.derive(application.resolve_spec(**req.model_dump(exclude={"closed_form"})))
    out = derivation_dict(d, closed=req.closed_form)
    out["mathml"] = {g.parameter: _factor_mathml(g) for g in d.gradients}
    return out


def montecarlo_job(req: MonteCarloIn) -> dict[str, Any]:
    """``/api/montecarlo``'s answer."""
    config = application.montecarlo_config(**req.model_dump())
    return montecarlo_dict(run_montecarlo(config))


def train_job(req: TrainIn) -> dict[str, Any]:
    """``/api/train``'s answer."""
    work = req.steps * len(req.weights) * (req.dataset or 1)
    if work > LIMITS["train_work"]:
        raise SpecError(
            f"steps: {req.steps} steps x {len(req.weights)} layers x {req.dataset or 1} "
            f"samples = {work:,}, over the limit of {LIMITS['train_work']:,}",
            field="steps",
        )
    if req.dataset is None:  # one sample: part (b)'s unless given
        part_b = PRESETS[application.DEFAULT_PRESET]
        req = req.model_copy(
            update={
                "x": part_b.x if req.x is None else req.x,
                "target": part_b.target if req.target is None else req.target,
            }
        )
    h = train(application.train_config(**req.model_dump()))
    out = train_dict(h)
    out["heatmap"] = train_heatmap(h, LIMITS["heatmap_columns"])
    out["target_scale"] = req.target_scale
    out["clip_norm"] = req.clip_norm
    return out


def _warm_job() -> None:
    """Start the worker and derive the presets' formulas: the page asks for them first (a
    request for the same chain builds an equal ``ChainSpec``, so the cache answers it)."""
    for p in PRESETS.values():
        application.derive(p.network.spec)


class Jobs:
    """One worker process for the long requests (derive, Monte Carlo, training).

    SymPy and the training loop hold the GIL: run in the server's own process, they delayed
    ``/api/trace`` by 70-110 ms while they ran. In a separate process they cannot. The worker
    is started with ``spawn`` (the server has threads) and warmed at once; jobs queue in it, one
    at a time, beside the server's own core.
    """

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.pool = ProcessPoolExecutor(max_workers=1, mp_context=ctx)
        self.pool.submit(_warm_job)

    async def run(self, job: Callable[[Any], dict[str, Any]], req: Any) -> dict[str, Any]:
        """``job(req)`` in the worker; its SpecError reaches the caller (and becomes a 422)."""
        return await asyncio.get_running_loop().run_in_executor(self.pool, job, req)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


# ---- the app ---------------------------------------------------------------------------------


def create_app() -> FastAPI:
    """The explorer: the page at ``/``, its assets at ``/static``, the API under ``/api``."""
    jobs = Jobs()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        jobs.close()

    app = FastAPI(
        lifespan=lifespan,
        title="gradtrace explorer",
        version=gradtrace.__version__,
        description="The gradtrace engine over HTTP: exact gradients of sigmoid chains and more.",
        docs_url=None,  # Swagger UI and ReDoc load scripts from a CDN; the schema is enough
        redoc_url=None,
    )
    static = resources.files("gradtrace.web") / "static"

    @app.middleware("http")
    async def _limit_body(request: Request, call_next: Any) -> Any:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            return JSONResponse(
                status_code=413,
                content={"detail": f"request body over {MAX_BODY_BYTES} bytes: {length}"},
            )
        if length is None and request.method in ("POST", "PUT", "PATCH"):
            body = b""
            async for chunk in request.stream():
                body += chunk
                if len(body) > MAX_BODY_BYTES:
                    return JSONResponse(
                        status_code=413,
                        content={"detail": f"request body over {MAX_BODY_BYTES} bytes"},
                    )
            request._body = body  # read once, replayed to the endpoint
        return await call_next(request)

    @app.exception_handler(SpecError)
    async def _spec_error(request: Request, exc: SpecError) -> JSONResponse:
        return _unprocessable(str(exc), exc.field or "body")

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for e in exc.errors():
            loc = [str(p) for p in e.get("loc", ())]
            field = ".".join(p for p in loc[1:]) or "body"
            errors.append(
                {"loc": loc, "msg": f"{field}: {e.get('msg', 'invalid')}", "type": e.get("type")}
            )
        return JSONResponse(status_code=422, content={"detail": errors})

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(str(static / "index.html"))

    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    @app.get("/api/presets")
    def presets() -> dict[str, Any]:
        """The exercise's two problems: part (b) and part (d)."""
        return {
            name: {
                "title": p.title,
                "weights": [float(w) for w in p.network.weights],
                "x": float(p.x),
                "target": float(p.target),
                "activation": p.network.spec.activation,
                "output_activation": p.network.spec.output_activation,
                "loss": p.network.spec.loss,
            }
            for name, p in PRESETS.items()
        }

    @app.post("/api/trace")
    def trace(req: TraceIn) -> dict[str, Any]:
        """Forward and backward pass: the same JSON as ``gradtrace grad --json`` (``--log`` too)."""
        problem = application.resolve_problem(**req.model_dump(exclude={"log"}))
        return application.grad_json(application.grad(problem, log=req.log))

    @app.get("/api/activation/{name}")
    def activation(
        name: ActivationName,
        lo: float = -8.0,
        hi: float = 8.0,
        points: Annotated[int, Query(ge=2, le=LIMITS["curve_points"])] = 401,
    ) -> dict[str, Any]:
        """``phi``, ``phi'`` and ``phi''`` on a grid from ``lo`` to ``hi``."""
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            bad = "hi" if np.isfinite(lo) and not np.isfinite(hi) else "lo"
            return _unprocessable(  # type: ignore[return-value]
                f"{bad}: lo and hi must be finite with lo < hi, got lo={lo} hi={hi}", bad, "query"
            )
        act = ACTIVATIONS[name]
        z = np.linspace(lo, hi, points)
        return {
            "name": name,
            "z": z.tolist(),
            "value": act.value(z).tolist(),
            "derivative": act.d1(z).tolist(),
            "second_derivative": act.d2(z).tolist(),
        }

    @app.post("/api/derive")
    async def derive(req: DeriveIn) -> dict[str, Any]:
        """Symbolic gradients (``gradtrace derive --format json``), plus MathML of each."""
        return await jobs.run(derive_job, req)

    @app.post("/api/montecarlo")
    async def montecarlo(req: MonteCarloIn) -> dict[str, Any]:
        """``gradtrace montecarlo --json`` for the same inputs."""
        return await jobs.run(montecarlo_job, req)

    @app.post("/api/train")
    async def train_endpoint(req: TrainIn) -> dict[str, Any]:
        """``gradtrace train --json``, plus a layer x step map of log10|dL/dw|.

        ``target_scale`` divides the target (and trains on that); ``clip_norm`` clips the
        gradient's norm (Pascanu et al. 2013, Algorithm 1).
        """
        return await jobs.run(train_job, req)

    return app
