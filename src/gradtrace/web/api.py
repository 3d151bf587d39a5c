"""The explorer's JSON API (FastAPI): the engine's numbers, validated and bounded.

Every endpoint is a thin wrapper: parse and validate a request model, call the same function the
CLI calls, return the same JSON contract (``render/json.py``). ``/api/trace`` answers exactly
what ``gradtrace grad --json`` prints for the same inputs.

Safety: every number must be finite, every size is bounded (``LIMITS``), a slow request whose
estimated cost is over its budget is refused with a 422 naming the cost (``cost.py``), request
bodies over ``MAX_BODY_BYTES`` are refused with 413, bad values (and malformed or too deeply
nested JSON) give 422 with the field named, ``Host`` must name a loopback host or the bound one
(400 otherwise), nothing reads or writes files except the package's own static folder, and
requests share no mutable state (the only caches hold symbolic derivations and their MathML,
which are immutable). Long requests run in worker processes (``jobs.py``: formulas in one lane,
Monte Carlo and training in another), with a wall-clock limit and a bounded queue, and are
cancelled when their client leaves; they never hold up ``/api/trace``. The phase diagram
(``/api/phase``) goes to the formulas' lane: like a derivation it is immutable and cached in its
worker, and it should not wait behind a seconds-long simulation in the compute lane.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias

import numpy as np
import sympy as sp
from fastapi import FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware
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
from gradtrace.render.json import (
    derivation_dict,
    montecarlo_dict,
    theory_dict,
    train_dict,
    train_heatmap,
)
from gradtrace.symbolic import GradientFormula
from gradtrace.web.cost import (
    LIMITS,
    PHASE_S,
    TIME_LIMIT_S,
    check_derive,
    check_montecarlo,
    check_theory,
    check_train,
)
from gradtrace.web.headers import SecurityHeaders
from gradtrace.web.jobs import JobCancelled, JobError, JobLimits, JobRunner, checkpoint

__all__ = ["LIMITS", "LOOPBACK_HOSTS", "MAX_BODY_BYTES", "create_app"]

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]", "::1")
"""``Host`` names always answered (any other gets 400: DNS rebinding)."""

MAX_BODY_BYTES = 256 * 1024
"""Larger request bodies are refused (413) before they are read whole."""

Finite = Annotated[float, Field(allow_inf_nan=False)]
if TYPE_CHECKING:  # to the type checker a name is a string
    ActivationName: TypeAlias = str
    LossName: TypeAlias = str
    InitName: TypeAlias = str
else:  # to pydantic, one of the engine's own names (validated, and listed in the schema), so
    # that a new activation or loss needs no second edit here
    ActivationName = Literal[tuple(ACTIVATIONS)]
    LossName = Literal[tuple(LOSSES)]
    InitName = Literal[INITS]


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
    x: Finite | None = Field(default=None, description="default: part (b)'s input")
    target: Finite | None = Field(default=None, description="default: part (b)'s label")


class TrainIn(SpecIn):
    """``gradtrace train``'s inputs, with clipping and target scaling."""

    weights: Annotated[list[Finite], Field(min_length=1, max_length=LIMITS["depth"])]
    x: Finite | None = Field(default=None, description="default: part (b)'s input")
    target: Finite | None = Field(default=None, description="default: part (b)'s label")
    dataset: Annotated[int, Field(ge=1, le=LIMITS["dataset"])] | None = None
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)] = 0
    learning_rate: Annotated[float, Field(gt=0, le=1e6, allow_inf_nan=False)] = 0.01
    steps: Annotated[int, Field(ge=1, le=LIMITS["steps"])] = 1000
    tolerance: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 1e-6
    clip_norm: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    target_scale: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 1.0


class TheoryIn(_Model):
    """``gradtrace theory``'s inputs (``--simulate``: random nets of ``width`` units)."""

    activation: ActivationName = "tanh"
    sigma_w2: Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)] = 1.5
    sigma_b2: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)] = 0.05
    depth: Annotated[int, Field(ge=1, le=LIMITS["theory_depth"])] = 20
    simulate: bool = False
    width: Annotated[int, Field(ge=10, le=LIMITS["theory_width"])] = 100
    samples: Annotated[int, Field(ge=1, le=LIMITS["theory_samples"])] = 2
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)] = 0


class PhaseIn(_Model):
    """The phase diagram of one activation."""

    activation: ActivationName = "tanh"


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


def _paren_mathml(expr: Any) -> str:
    inner = _mathml(expr)
    if expr.is_Add or (expr.is_Mul and len(expr.args) > 1):
        inner = f"<mrow><mo>(</mo>{inner}<mo>)</mo></mrow>"
    return inner


def _lhs_mathml(g: GradientFormula) -> str:
    name = f"<msub><mi>{g.parameter[0]}</mi><mn>{g.parameter[1:]}</mn></msub>"
    return f"<mfrac><mrow><mo>∂</mo><mi>L</mi></mrow><mrow><mo>∂</mo>{name}</mrow></mfrac>"


def _factor_mathml(g: GradientFormula) -> str:
    parts = [_paren_mathml(f.expr) for f in g.factors]
    body = "<mo>·</mo>".join(parts)
    return f'<math display="block"><mrow>{_lhs_mathml(g)}<mo>=</mo>{body}</mrow></math>'


PRODUCT_FROM = 3
"""A gradient with this many ``w_j phi'(z_(j-1))`` pairs or more is also written as a product."""

_INDEX = sp.Symbol("JINDEX", real=True)  # stands for a_(j-1) or z_(j-1) in the generic factor


def _product_mathml(g: GradientFormula) -> str:
    """``dL/dw_k = (dL/dz_L) · prod_(j=k+1)^L w_j phi'(z_(j-1)) · a_(k-1)``: the chain's repeated
    pairs folded into one product, so what differs between gradients (the lower limit and the
    last factor) stays in view. Below ``PRODUCT_FROM`` pairs: the factor form itself."""
    pairs = [f for f in g.factors if f.role == "derivative"]
    if len(pairs) < PRODUCT_FROM:
        return _factor_mathml(g)
    out = [f for f in g.factors if f.role == "output"]
    rest = [f for f in g.factors if f.role == "input"]
    first = min(f.layer for f in g.factors if f.role == "weight")  # = k + 1
    last = max(f.layer for f in g.factors if f.role == "weight")  # = L
    d = pairs[0]  # every hidden layer has the same activation: one generic factor
    generic = _paren_mathml(d.expr)  # identity: phi' = 1, no symbol in it
    for sym in d.expr.free_symbols:  # a_(j-1) or z_(j-1): the one symbol in phi'
        letter = str(sym)[0]
        generic = _paren_mathml(d.expr.subs(sym, _INDEX)).replace(
            "<mi>JINDEX</mi>",
            f"<msub><mi>{letter}</mi><mrow><mi>j</mi><mo>−</mo><mn>1</mn></mrow></msub>",
        )
    prod = (
        "<munderover><mo>∏</mo><mrow><mi>j</mi><mo>=</mo>"
        f"<mn>{first}</mn></mrow><mn>{last}</mn></munderover>"
        f"<mrow><mo>(</mo><msub><mi>w</mi><mi>j</mi></msub><mo>·</mo>{generic}<mo>)</mo></mrow>"
    )
    parts = [_paren_mathml(f.expr) for f in out] + [prod] + [_paren_mathml(f.expr) for f in rest]
    body = "<mo>·</mo>".join(parts)
    return f'<math display="block"><mrow>{_lhs_mathml(g)}<mo>=</mo>{body}</mrow></math>'


# ---- the long jobs: run in a worker process, so the interactive path never waits on them -------


def derive_job(req: DeriveIn) -> dict[str, Any]:
    """``/api/derive``'s answer (in the worker: its derivations stay cached there)."""
    d = application.derive(application.resolve_spec(**req.model_dump(exclude={"closed_form"})))
    out = derivation_dict(d, closed=req.closed_form)
    out["mathml"] = {g.parameter: _factor_mathml(g) for g in d.gradients}
    out["mathml_product"] = {g.parameter: _product_mathml(g) for g in d.gradients}
    return out


def montecarlo_job(req: MonteCarloIn) -> dict[str, Any]:
    """``/api/montecarlo``'s answer."""
    # one block (65,536 samples) per chunk: between chunks the job stops if its client left
    config = application.montecarlo_config(**req.model_dump(), chunk_size=1)
    return montecarlo_dict(run_montecarlo(config, progress=checkpoint))


def train_job(req: TrainIn) -> dict[str, Any]:
    """``/api/train``'s answer (its cost checked by ``check_train`` before it was queued)."""
    if req.dataset is None:  # one sample: part (b)'s unless given
        part_b = PRESETS[application.DEFAULT_PRESET]
        req = req.model_copy(
            update={
                "x": part_b.x if req.x is None else req.x,
                "target": part_b.target if req.target is None else req.target,
            }
        )
    h = train(application.train_config(**req.model_dump()), progress=checkpoint)
    out = train_dict(h)
    out["heatmap"] = train_heatmap(h, LIMITS["heatmap_columns"])
    out["target_scale"] = req.target_scale
    out["clip_norm"] = req.clip_norm
    return out


def theory_job(req: TheoryIn) -> dict[str, Any]:
    """``/api/theory``'s answer: ``gradtrace theory --json`` plus the predicted growth."""
    r = application.theory(
        req.activation,
        req.sigma_w2,
        req.sigma_b2,
        depth=req.depth,
        simulate=req.simulate,
        width=req.width,
        samples=req.samples,
        seed=req.seed,
    )
    out = theory_dict(r.mean_field, r.simulated)
    out["depth"] = req.depth
    out["growth"] = [_sig(v) for v in r.growth]
    return out


PHASE_POINTS = 80
"""The page's phase diagram: ``PHASE_POINTS`` x ``PHASE_POINTS`` grid points."""


def _sig(v: float, digits: int | None = None) -> float | None:
    """``v`` as JSON allows: None when not finite; rounded to ``digits`` significant digits."""
    v = float(v)
    if not np.isfinite(v):
        return None
    return float(f"{v:.{digits - 1}e}") if digits else v


@lru_cache(maxsize=16)
def phase_job(activation: str) -> dict[str, Any]:
    """``/api/phase``'s answer, cached (immutable) in the worker: ``application.theory_grid``
    around the CLI's default point (``gradtrace theory --figure``'s diagram), on
    ``PHASE_POINTS`` x ``PHASE_POINTS`` points; chi_1 and log10 xi_c to 4 significant digits
    (null where infinite: xi_c on the critical line and past it)."""
    mf = application.theory(activation, 1.5, 0.05, depth=1).mean_field
    g = application.theory_grid(mf, PHASE_POINTS)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_xi = np.log10(g.xi_c)

    def grid(a: np.ndarray) -> list[list[float | None]]:
        return [[_sig(v, 4) for v in row] for row in a]

    return {
        "activation": g.activation,
        "sigma_w2": [_sig(v) for v in g.sigma_w2],
        "sigma_b2": [_sig(v) for v in g.sigma_b2],
        "chi_1": grid(g.chi_1),
        "log10_xi_c": grid(log_xi),
        "critical_sigma_w2": [_sig(v) for v in g.critical],
    }


def _phase_request(req: PhaseIn) -> dict[str, Any]:
    return phase_job(req.activation)


def _warm_job() -> None:
    """The derive worker's warm-up: the presets' formulas, which the page asks for first (a
    request for the same chain builds an equal ``ChainSpec``, so the cache answers it), and the
    theory panel's first phase diagram."""
    for p in PRESETS.values():
        application.derive(p.network.spec)
    phase_job("tanh")  # the theory panel's first diagram


class _BodyLimit:
    """Refuses request bodies over ``MAX_BODY_BYTES`` with 413, before they are read whole: by
    ``content-length``, or (without one) counted as the body streams in, then replayed."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            detail = f"request body over {MAX_BODY_BYTES} bytes: {length}"
            await JSONResponse(status_code=413, content={"detail": detail})(scope, receive, send)
            return
        if length is None and scope["method"] in ("POST", "PUT", "PATCH"):
            body, more = b"", True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                body += message.get("body", b"")
                more = message.get("more_body", False)
                if len(body) > MAX_BODY_BYTES:
                    detail = f"request body over {MAX_BODY_BYTES} bytes"
                    response = JSONResponse(status_code=413, content={"detail": detail})
                    await response(scope, receive, send)
                    return
            replayed = False
            upstream = receive

            async def receive() -> Any:  # the body once, then the server's own messages
                nonlocal replayed
                if replayed:
                    return await upstream()
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, receive, send)


def _warm_compute() -> None:
    """The compute worker's warm-up: import the engine and run one tiny job of each kind (numba,
    when installed, compiles on first use)."""
    montecarlo_job(MonteCarloIn(depth=2, samples=1))
    train_job(TrainIn(weights=[0.5, 0.5], steps=1))


# ---- the app ---------------------------------------------------------------------------------


def create_app(
    allowed_hosts: Sequence[str] | None = None, job_limits: JobLimits | None = None
) -> FastAPI:
    """The explorer: the page at ``/``, its assets at ``/static``, the API under ``/api``.

    ``allowed_hosts``: the ``Host`` names answered (default: the loopback names; others get
    400). ``job_limits``: the slow jobs' wall-clock limit, memory limit and queue bound.
    """
    jobs = JobRunner(
        job_limits or JobLimits(time_limit_s=TIME_LIMIT_S),
        warm={"derive": _warm_job, "compute": _warm_compute},
    )

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
    app.state.jobs = jobs  # tests and benchmarks read its lanes' counters
    static = resources.files("gradtrace.web") / "static"

    # a plain ASGI middleware (not @app.middleware): the endpoint's receive stays the server's,
    # so a job sees its client leave (request.is_disconnected) and is cancelled
    app.add_middleware(_BodyLimit)
    # then: a request naming another host is refused before anything else runs
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts or LOOPBACK_HOSTS))
    app.add_middleware(SecurityHeaders)  # on every answer, the host check's 400 included

    @app.exception_handler(SpecError)
    async def _spec_error(request: Request, exc: SpecError) -> JSONResponse:
        return _unprocessable(str(exc), exc.field or "body")

    @app.exception_handler(JobCancelled)
    async def _job_cancelled(request: Request, exc: JobCancelled) -> JSONResponse:
        # nobody reads this answer (499: nginx's "client closed request")
        return JSONResponse(status_code=499, content={"detail": "client left"})

    @app.exception_handler(JobError)
    async def _job_error(request: Request, exc: JobError) -> JSONResponse:
        return JSONResponse(
            status_code=exc.status, content={"detail": str(exc)}, headers=exc.headers
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # FastAPI answers 400 for a body json.loads cannot parse at all (nested too deeply for
        # its recursion limit): the body is a bad value like any other, so 422 naming it
        if exc.status_code == 400 and request.url.path.startswith("/api/"):
            return _unprocessable("body: not valid JSON (malformed or nested too deeply)", "body")
        return JSONResponse(
            status_code=exc.status_code, content={"detail": exc.detail}, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for e in exc.errors():
            loc = [str(p) for p in e.get("loc", ())]
            if e.get("type") == "json_invalid":  # loc: body, the character where parsing failed
                msg = f"body: malformed JSON at character {loc[1] if len(loc) > 1 else 0}"
                errors.append({"loc": ["body"], "msg": msg, "type": "json_invalid"})
                continue
            field = ".".join(p for p in loc[1:]) or "body"
            errors.append(
                {"loc": loc, "msg": f"{field}: {e.get('msg', 'invalid')}", "type": e.get("type")}
            )
        return JSONResponse(status_code=422, content={"detail": errors})

    async def run_job(
        lane: str,
        job: Callable[[Any], dict[str, Any]],
        req: Any,
        request: Request,
        response: Response,
        cost_s: float,
    ) -> dict[str, Any]:
        """``job(req)`` in a worker lane (``cost_s``: its estimated seconds); the worker's own
        time goes in ``Server-Timing`` (queue wait excluded: the page shows it as the Monte
        Carlo run's time)."""
        done = await jobs.run(lane, job, req, request.is_disconnected, cost_s=cost_s)  # 499 if left
        response.headers["server-timing"] = f"job;dur={done.seconds * 1e3:.1f}"
        return done.value

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
    async def derive(req: DeriveIn, request: Request, response: Response) -> dict[str, Any]:
        """Symbolic gradients (``gradtrace derive --format json``), plus MathML of each."""
        cost = check_derive(req.depth, req.closed_form, req.biases)
        return await run_job("derive", derive_job, req, request, response, cost)

    @app.post("/api/montecarlo")
    async def montecarlo(req: MonteCarloIn, request: Request, response: Response) -> dict[str, Any]:
        """``gradtrace montecarlo --json`` for the same inputs."""
        cost = check_montecarlo(req.depth, req.samples)
        return await run_job("compute", montecarlo_job, req, request, response, cost)

    @app.post("/api/train")
    async def train_endpoint(req: TrainIn, request: Request, response: Response) -> dict[str, Any]:
        """``gradtrace train --json``, plus a layer x step map of log10|dL/dw|.

        ``target_scale`` divides the target (and trains on that); ``clip_norm`` clips the
        gradient's norm (Pascanu et al. 2013, Algorithm 1).
        """
        cost = check_train(len(req.weights), req.steps, req.dataset or 1)
        return await run_job("compute", train_job, req, request, response, cost)

    @app.post("/api/theory")
    async def theory(req: TheoryIn, request: Request, response: Response) -> dict[str, Any]:
        """``gradtrace theory --json`` for the same inputs, plus ``"depth"`` and ``"growth"``
        (``chi_1^(L-l)``, l = 1 .. L: the predicted ``E|dL/dh^l|^2 / E|dL/dh^L|^2``)."""
        if not req.simulate:  # the quadrature alone: milliseconds, answered at once
            return await run_in_threadpool(theory_job, req)
        cost = check_theory(req.depth, req.width, req.samples)
        return await run_job("compute", theory_job, req, request, response, cost)

    @app.post("/api/phase")
    async def phase(req: PhaseIn, request: Request, response: Response) -> dict[str, Any]:
        """The mean-field phase diagram of an activation: the ``sigma_w2`` (columns) and
        ``sigma_b2`` (rows) grids, ``chi_1`` and ``log10 xi_c`` on them (null: infinite), and the
        critical ``sigma_w2`` at each ``sigma_b2`` (null: none)."""
        return await run_job("derive", _phase_request, req, request, response, PHASE_S)

    return app
