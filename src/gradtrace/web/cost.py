"""What a slow request costs, and the limits the explorer's API holds requests to.

Each ``*_cost`` function estimates the seconds a request takes in a worker on a 2-core
AMD EPYC (``docs/benchmarks.md``, ``benchmarks/web_limits.py``), from per-unit costs measured
on the slowest variant (activation, loss, backend), rounded up. A request whose estimate is
over ``BUDGET_S`` is refused with a 422 that names the cost, before it is queued, so that every
accepted request finishes well within ``TIME_LIMIT_S`` (the wall-clock limit the job runner
enforces, the backstop for what this model did not foresee). The ``check_*`` functions return
the estimate, and the job runner adds up the estimates of the jobs queued in a lane to refuse at
once a request that could not be answered within ``TIME_LIMIT_S`` of its arrival.

Where the time goes:

* **train**: the engine's ``train`` calls ``backprop`` once per step, and ``backprop`` loops over
  the layers in Python (a few NumPy calls on arrays of ``samples`` numbers each): 21-40 us per
  layer and step, 0.06-0.17 us per layer, step and sample, and about 0.3 ms per step of
  bookkeeping. The old limit (steps x layers x samples <= 2e7) ignored the per-layer cost:
  1,000 layers x 20,000 steps is 2e7 layer-steps, 185 s or more. It also keeps the history
  (weights, gradients and relative updates, 3 x 8 bytes per layer and step, held twice while
  lists become arrays): 1 GB there, under 40 MB within the budget.
* **montecarlo**: about 9 ms per layer (two histograms of 2.6 MB per layer, filled and read) and
  50-120 ns per layer and sample (both kernels: the histograms dominate, so numba, when
  installed, hardly helps); memory about 5 MB per layer.
* **derive**: SymPy. Without the closed forms (what the page asks for) about 10 ms per gradient;
  the closed forms grow as the cube of the depth (each gradient's product has up to ``depth``
  factors, printed and simplified): sigmoid depth 25 took 2.5 s, depth 50 took 19 s (biases:
  about twice); tanh is 4-5 times cheaper, sigmoid is the slowest.
* **theory** (``/api/theory``): the mean-field quadrature is milliseconds at any accepted depth;
  ``simulate`` costs per sample and layer about ``2 x width^2`` multiply-adds forward (two
  inputs) plus the backward, with each ``width x width`` weight matrix drawn twice (forward, and
  again for the backward pass): measured 3.2-7.7e-8 s per ``samples x depth x width^2 x 2`` up
  to width 500 and 1.0-1.3e-7 s at width 1000 (the matrices no longer fit the cache), plus about
  0.8-1.5 ms per sample and layer (depth 10 width 100 2 samples: 0.03 s; depth 100 width 100 16
  samples: 1.3 s; depth 10 width 1000 1 sample: 2.6 s; depth 20 width 1000 4 samples: 16 s).
* **phase** (``/api/phase``): the 80 x 80 grid of ``theory_grid`` takes 0.4-0.5 s per
  activation, once: the derive worker caches it.
"""

from __future__ import annotations

from gradtrace.core.errors import SpecError
from gradtrace.service.defaults import web_limits

__all__ = [
    "BUDGET_S",
    "LIMITS",
    "PHASE_S",
    "TIME_LIMIT_S",
    "check_derive",
    "check_montecarlo",
    "check_theory",
    "check_train",
    "derive_cost",
    "montecarlo_cost",
    "theory_cost",
    "train_cost",
]

TIME_LIMIT_S = 10.0
"""Wall-clock seconds from a slow request's arrival to its answer, queue wait included; a job
still running then has its worker killed (503)."""
BUDGET_S = 5.0
"""The most a request may cost by the estimates below: half the wall-clock limit, the margin for
a busy machine and for the variance of the measurements."""

LIMITS = web_limits()
"""The size bounds every request is held to (the costs below bound their products): the
library's own bounds where the server has none tighter (``service.defaults.web_limits``)."""

# measured per-unit seconds (slowest variant, numpy backend), rounded up
TRAIN_STEP_S = 350e-6
TRAIN_LAYER_STEP_S = 40e-6
TRAIN_SAMPLE_S = 0.2e-6  # per layer, step and sample
MONTECARLO_LAYER_S = 15e-3
MONTECARLO_SAMPLE_S = 150e-9  # per layer and sample
DERIVE_PARAM_S = 0.02  # per gradient (one per weight, one per bias)
DERIVE_CLOSED_S = 4e-4  # closed forms: per gradient and squared depth
SIMULATE_LAYER_S = 1e-3  # per simulated layer and sample
SIMULATE_UNIT_S = 6e-8  # per samples x depth x width^2 x 2, width up to SIMULATE_CACHED_WIDTH
SIMULATE_WIDE_UNIT_S = 1.5e-7  # the same, wider (a weight matrix past the cache)
SIMULATE_CACHED_WIDTH = 700
PHASE_S = 1.0  # a phase diagram not yet cached in the worker: 0.4-0.5 s, 1.5 s when loaded


def train_cost(depth: int, steps: int, samples: int = 1) -> float:
    """Estimated seconds of a training run (every step taken, none stopping early)."""
    return steps * (TRAIN_STEP_S + depth * (TRAIN_LAYER_STEP_S + samples * TRAIN_SAMPLE_S))


def montecarlo_cost(depth: int, samples: int) -> float:
    """Estimated seconds of a Monte Carlo run."""
    return depth * (MONTECARLO_LAYER_S + samples * MONTECARLO_SAMPLE_S)


def derive_cost(depth: int, closed_form: bool = True, biases: bool = False) -> float:
    """Estimated seconds of a symbolic derivation and its MathML (uncached)."""
    params = depth * (2 if biases else 1)
    cost = params * DERIVE_PARAM_S
    if closed_form:
        cost += params * depth * depth * DERIVE_CLOSED_S
    return cost


def theory_cost(depth: int, width: int, samples: int) -> float:
    """Estimated seconds of ``/api/theory`` with ``simulate`` (the quadrature is negligible)."""
    unit = SIMULATE_UNIT_S if width <= SIMULATE_CACHED_WIDTH else SIMULATE_WIDE_UNIT_S
    return samples * depth * (SIMULATE_LAYER_S + 2 * width * width * unit)


def _refuse(field: str, what: str, cost: float) -> float:
    if cost > BUDGET_S:
        raise SpecError(
            f"{field}: {what} would take about {cost:.1f} s, over the explorer's "
            f"{BUDGET_S:g} s budget per request; ask for less, or use the CLI",
            field=field,
        )
    return cost


def check_train(depth: int, steps: int, samples: int = 1) -> float:
    """The estimated seconds of a training run; SpecError (a 422 naming ``steps``) when over
    the budget."""
    what = f"{steps:,} steps x {depth:,} layers x {samples:,} samples"
    return _refuse("steps", what, train_cost(depth, steps, samples))


def check_montecarlo(depth: int, samples: int) -> float:
    """The estimated seconds of a Monte Carlo run; SpecError (a 422 naming ``samples``) when
    over the budget."""
    what = f"{samples:,} samples x {depth:,} layers"
    return _refuse("samples", what, montecarlo_cost(depth, samples))


def check_derive(depth: int, closed_form: bool = True, biases: bool = False) -> float:
    """The estimated seconds of a derivation; SpecError (a 422 naming ``depth``) when over the
    budget."""
    what = f"a depth-{depth} derivation" + (" with closed forms" if closed_form else "")
    return _refuse("depth", what, derive_cost(depth, closed_form, biases))


def check_theory(depth: int, width: int, samples: int) -> float:
    """The estimated seconds of a simulation; SpecError (a 422 naming ``width``) when over the
    budget."""
    what = f"simulating {samples:,} nets of width {width:,} and depth {depth:,}"
    return _refuse("width", what, theory_cost(depth, width, samples))
