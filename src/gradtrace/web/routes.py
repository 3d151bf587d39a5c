"""The explorer's JSON API: one thin function per route.

Each route takes a request model (``schemas.py``: strict, bounded, 422 naming the field), calls
the application layer (``gradtrace.service.application``, what the CLI calls for the same
inputs), shapes the answer with the presentation layer (``gradtrace.present.json``: the same
JSON contract as the CLI's ``--json``) and declares it with a response model, so that
``/openapi.json`` describes every answer. ``/api/trace`` answers exactly what
``gradtrace grad --json`` prints for the same inputs.

The slow routes are held to the cost model first (``cost.py``: 422 naming the cost) and run in
worker processes (``jobs.py``): formulas and the phase diagram in the ``derive`` lane (like a
derivation, a phase diagram is immutable and cached in its worker, and should not wait behind a
seconds-long simulation), Monte Carlo, training and theory in the ``compute`` lane. They never
hold up ``/api/trace``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Annotated, TypeVar

import numpy as np
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from gradtrace.core.jsontypes import JSONObject
from gradtrace.core.network import PRESETS
from gradtrace.present.json import (
    curve_dict,
    derivation_dict,
    montecarlo_dict,
    phase_dict,
    presets_dict,
    theory_dict,
    train_dict,
    train_heatmap,
)
from gradtrace.present.mathml import derivation_mathml
from gradtrace.present.numbers import finite
from gradtrace.service import application
from gradtrace.service.defaults import THEORY, WEB
from gradtrace.web.cost import (
    PHASE_S,
    check_derive,
    check_montecarlo,
    check_theory,
    check_train,
)
from gradtrace.web.jobs import JobRunner, checkpoint
from gradtrace.web.schemas import (
    ActivationName,
    CurveOut,
    CurveQuery,
    DeriveIn,
    DeriveOut,
    MonteCarloIn,
    MonteCarloOut,
    PhaseIn,
    PhaseOut,
    PresetOut,
    TheoryIn,
    TheoryOut,
    TraceIn,
    TraceOut,
    TrainIn,
    TrainOut,
)

__all__ = ["router", "warm_compute", "warm_derive"]

Answer = JSONObject
"""An answer as the presentation layer shapes it; its route's response model types it."""
Req = TypeVar("Req", bound=BaseModel)

# Every route sets response_model_exclude_unset: a key a shape leaves out stays out, rather than
# coming back as its model's default. The answer is written by pydantic's JSON serializer, as it
# was before the response models (FastAPI read ``dict[str, Any]`` off the return annotations).
router = APIRouter(prefix="/api")


# ---- the long jobs: run in a worker process, so the interactive path never waits on them -------


def derive_job(req: DeriveIn) -> Answer:
    """``/api/derive``'s answer (in the worker: its derivations stay cached there)."""
    d = application.derive(application.resolve_spec(**req.model_dump(exclude={"closed_form"})))
    return {**derivation_dict(d, closed=req.closed_form), **derivation_mathml(d)}


def montecarlo_job(req: MonteCarloIn) -> Answer:
    """``/api/montecarlo``'s answer."""
    # one block (65,536 samples) per chunk: between chunks the job stops if its client left
    result = application.montecarlo(**req.model_dump(), chunk_size=1, progress=checkpoint)
    return montecarlo_dict(result)


def train_job(req: TrainIn) -> Answer:
    """``/api/train``'s answer (its cost checked by ``check_train`` before it was queued)."""
    h = application.train(**req.model_dump(), progress=checkpoint)
    return train_dict(h) | {
        "heatmap": train_heatmap(h, WEB.heatmap_columns),
        "target_scale": req.target_scale,
        "clip_norm": req.clip_norm,
    }


def theory_job(req: TheoryIn) -> Answer:
    """``/api/theory``'s answer: ``gradtrace theory --json`` plus the predicted growth."""
    r = application.theory(**req.model_dump())
    return theory_dict(r.mean_field, r.simulated) | {
        "depth": req.depth,
        "growth": [finite(v) for v in r.growth],
    }


@lru_cache(maxsize=16)
def phase_job(activation: str) -> Answer:
    """``/api/phase``'s answer, cached (immutable) in the worker."""
    return phase_dict(application.phase(activation))


def _phase_request(req: PhaseIn) -> Answer:
    return phase_job(req.activation)


def warm_derive() -> None:
    """The derive worker's warm-up: the presets' formulas, which the page asks for first (a
    request for the same chain builds an equal ``ChainSpec``, so the cache answers it), and the
    theory panel's first phase diagram."""
    for p in PRESETS.values():
        application.derive(p.network.spec)
    phase_job(THEORY.activation.default)


def warm_compute() -> None:
    """The compute worker's warm-up: import the engine and run one tiny job of each kind (numba,
    when installed, compiles on first use)."""
    montecarlo_job(MonteCarloIn(depth=2, samples=1))
    train_job(TrainIn(weights=[0.5, 0.5], steps=1))


async def _run(
    lane: str,
    job: Callable[[Req], Answer],
    req: Req,
    request: Request,
    response: Response,
    cost_s: float,
) -> Answer:
    """``job(req)`` in a worker lane (``cost_s``: its estimated seconds); the worker's own time
    goes in ``Server-Timing`` (queue wait excluded: the page shows it as the Monte Carlo run's
    time)."""
    jobs: JobRunner = request.app.state.jobs
    done = await jobs.run(lane, job, req, request.is_disconnected, cost_s=cost_s)  # 499 if left
    response.headers["server-timing"] = f"job;dur={done.seconds * 1e3:.1f}"
    answer: Answer = done.value
    return answer


# ---- the routes -------------------------------------------------------------------------------


@router.get("/presets", response_model=dict[str, PresetOut], response_model_exclude_unset=True)
def presets() -> Answer:
    """The exercise's two problems: part (b) and part (d)."""
    return presets_dict(PRESETS)


@router.post("/trace", response_model=TraceOut, response_model_exclude_unset=True)
def trace(req: TraceIn) -> Answer:
    """Forward and backward pass: the same JSON as ``gradtrace grad --json`` (``--log`` too)."""
    problem = application.resolve_problem(**req.model_dump(exclude={"log"}))
    return application.grad_json(application.grad(problem, log=req.log))


@router.get("/activation/{name}", response_model=CurveOut, response_model_exclude_unset=True)
def activation(name: ActivationName, query: Annotated[CurveQuery, Query()]) -> Answer:
    """``phi``, ``phi'`` and ``phi''`` on a grid from ``lo`` to ``hi``."""
    return curve_dict(name, np.linspace(query.lo, query.hi, query.points))


@router.post("/derive", response_model=DeriveOut, response_model_exclude_unset=True)
async def derive(req: DeriveIn, request: Request, response: Response) -> Answer:
    """Symbolic gradients (``gradtrace derive --format json``), plus MathML of each."""
    cost = check_derive(req.depth, req.closed_form, req.biases)
    return await _run("derive", derive_job, req, request, response, cost)


@router.post("/montecarlo", response_model=MonteCarloOut, response_model_exclude_unset=True)
async def montecarlo(req: MonteCarloIn, request: Request, response: Response) -> Answer:
    """``gradtrace montecarlo --json`` for the same inputs."""
    cost = check_montecarlo(req.depth, req.samples)
    return await _run("compute", montecarlo_job, req, request, response, cost)


@router.post("/train", response_model=TrainOut, response_model_exclude_unset=True)
async def train_endpoint(req: TrainIn, request: Request, response: Response) -> Answer:
    """``gradtrace train --json``, plus a layer x step map of log10|dL/dw|.

    ``target_scale`` divides the target (and trains on that); ``clip_norm`` clips the
    gradient's norm (Pascanu et al. 2013, Algorithm 1).
    """
    cost = check_train(len(req.weights), req.steps, req.dataset or 1)
    return await _run("compute", train_job, req, request, response, cost)


@router.post("/theory", response_model=TheoryOut, response_model_exclude_unset=True)
async def theory(req: TheoryIn, request: Request, response: Response) -> Answer:
    """``gradtrace theory --json`` for the same inputs, plus ``"depth"`` and ``"growth"``
    (``chi_1^(L-l)``, l = 1 .. L: the predicted ``E|dL/dh^l|^2 / E|dL/dh^L|^2``)."""
    if not req.simulate:  # the quadrature alone: milliseconds, answered at once
        return await run_in_threadpool(theory_job, req)
    cost = check_theory(req.depth, req.width, req.samples)
    return await _run("compute", theory_job, req, request, response, cost)


@router.post("/phase", response_model=PhaseOut, response_model_exclude_unset=True)
async def phase(req: PhaseIn, request: Request, response: Response) -> Answer:
    """The mean-field phase diagram of an activation: the ``sigma_w2`` (columns) and
    ``sigma_b2`` (rows) grids, ``chi_1`` and ``log10 xi_c`` on them (null: infinite), and the
    critical ``sigma_w2`` at each ``sigma_b2`` (null: none)."""
    return await _run("derive", _phase_request, req, request, response, PHASE_S)
