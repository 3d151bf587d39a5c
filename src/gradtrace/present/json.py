"""JSON-ready dictionaries: the contract other tools read (keep the key names).

* ``trace_dict``: ``gradtrace grad --json``.
* ``solution_dict``: ``gradtrace solve --format json``.
* ``derivation_dict``: ``gradtrace derive --format json``.
* ``reproduction_dict``: ``gradtrace reproduce NAME --json``.
* ``theory_dict``: ``gradtrace theory --json``.
* ``jacobian_dict``: ``gradtrace jacobian --json``.
* ``pennington2017_dict``: the Pennington et al. 2017 reproduction.
* ``phase_dict``: the mean-field phase diagram (the explorer's ``/api/phase``).
* ``presets_dict``: the exercise's problems (the explorer's ``/api/presets``).
* ``curve_dict``: an activation and its derivatives on a grid (the explorer's ``/api/activation``).

Numbers go through ``numbers.finite``: ``null`` where a value is infinite or NaN.

Expression strings are SymPy-parseable in the symbols ``w1 .. wL``, ``b1 .. bL``, ``x``,
``y_hat``, with the sigmoid written out through ``exp``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import sympy as sp

from gradtrace.core.activations import ACTIVATIONS
from gradtrace.core.backprop import Trace
from gradtrace.core.jsontypes import JSON, JSONObject
from gradtrace.core.logmode import LogTrace
from gradtrace.core.network import Preset
from gradtrace.lab.depth import DepthResult
from gradtrace.lab.exercise import NumericPart, Solution
from gradtrace.lab.montecarlo import RESOLUTION, MonteCarloResult
from gradtrace.lab.remedies import RemedyRow
from gradtrace.lab.training import TrainHistory
from gradtrace.present.numbers import finite
from gradtrace.reproduce import ReproductionResult
from gradtrace.reproduce.pennington2017 import Pennington2017Result
from gradtrace.symbolic import ChainDerivation, SigmoidAnalysis
from gradtrace.symbolic.steps import Derivation
from gradtrace.theory.meanfield import MeanField, PhaseDiagram
from gradtrace.theory.simulation import TheorySimulation
from gradtrace.theory.spectra import JacobianSpectrum

__all__ = [
    "curve_dict",
    "depth_dict",
    "derivation_dict",
    "jacobian_dict",
    "log_trace_dict",
    "montecarlo_dict",
    "pennington2017_dict",
    "phase_dict",
    "presets_dict",
    "remedies_dict",
    "reproduction_dict",
    "solution_dict",
    "theory_dict",
    "trace_dict",
    "train_dict",
    "train_heatmap",
]


def presets_dict(presets: dict[str, Preset]) -> JSONObject:
    """Each preset by name: its title, chain (weights, activations, loss) and sample."""
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
        for name, p in presets.items()
    }


def curve_dict(name: str, z: np.ndarray) -> JSONObject:
    """The activation ``name``'s ``phi``, ``phi'`` and ``phi''`` on the grid ``z`` (1-D)."""
    act = ACTIVATIONS[name]
    return {
        "name": name,
        "z": z.tolist(),
        "value": act.value(z).tolist(),
        "derivative": act.d1(z).tolist(),
        "second_derivative": act.d2(z).tolist(),
    }


def trace_dict(trace: Trace) -> JSONObject:
    """An unbatched trace: loss, prediction, dL/dy and one object per layer."""
    if trace.batch_shape:
        raise ValueError("trace_dict needs an unbatched trace")
    layers = []
    for k in range(trace.depth):
        layer: JSONObject = {
            "layer": k + 1,
            "weight": finite(trace.weights[k]),
            "z": finite(trace.z[k]),
            "a": finite(trace.a[k]),
            "activation_derivative": finite(trace.activation_derivative[k]),
            "delta": finite(trace.delta[k]),
            "grad_weight": finite(trace.grad_weight[k]),
            # w_k phi'(z_(k-1)): the chain-rule factor the weight path carries from delta_k to
            # delta_(k-1) (a skip connection adds its own term beside it); none into the input
            "chain_factor": (
                finite(trace.weights[k] * trace.activation_derivative[k - 1]) if k else None
            ),
        }
        if trace.biases is not None and trace.grad_bias is not None:
            layer["bias"] = finite(trace.biases[k])
            layer["grad_bias"] = finite(trace.grad_bias[k])
        layers.append(layer)
    out: JSONObject = {
        "loss": finite(trace.loss),
        "prediction": finite(trace.prediction),
        "dloss_dprediction": finite(trace.dloss_dprediction),
        "layers": layers,
    }
    if trace.warnings:
        out["warnings"] = list(trace.warnings)
    return out


def log_trace_dict(lt: LogTrace) -> JSONObject:
    """Per layer: log10|dL/dw_k| and its sign (``null`` for an exact zero gradient), log10|delta_k|,
    and whether plain float64 underflowed, overflowed or lost accuracy there."""
    if lt.loss.shape:
        raise ValueError("log_trace_dict needs an unbatched trace")
    return {
        "layers": [
            {
                "layer": k + 1,
                "log10_abs_grad_weight": finite(lt.log10_abs_grad_weight[k]),
                "sign_grad_weight": int(lt.sign_grad_weight[k]),
                "log10_abs_delta": finite(lt.log10_abs_delta[k]),
                "float64_underflow": bool(lt.float64_underflow[k]),
                "float64_overflow": bool(lt.float64_overflow[k]),
                "float64_inaccurate": bool(lt.float64_inaccurate[k]),
            }
            for k in range(lt.spec.depth)
        ]
    }


def _num(e: sp.Expr) -> float:
    return float(e)


def _part_a(a: SigmoidAnalysis) -> JSONObject:
    return {
        "derivative": sp.sstr(a.d1),
        "derivative_in_s": sp.sstr(a.d1_in_s),
        "identity_verified": a.d1_identity_holds,
        "second_derivative": sp.sstr(a.d2),
        "second_derivative_in_s": sp.sstr(a.d2_in_s),
        "critical_points": [sp.sstr(z) for z in a.critical_points],
        "maximum": {
            "z": _num(a.maximum[0]),
            "value": _num(a.maximum[1]),
            "exact": sp.sstr(a.maximum[1]),
        },
        "infimum": {"value": _num(a.infimum), "attained": a.infimum_attained},
        "minimum": None,
        "limits": {"-oo": _num(a.limits[0]), "+oo": _num(a.limits[1])},
        "strictly_positive": a.strictly_positive,
        "steepest": [
            {"z": _num(z), "z_exact": sp.sstr(z), "second_derivative": _num(v), "exact": sp.sstr(v)}
            for z, v in a.steepest
        ],
        "backprop_factor_bound": "|w_j * s'(z_(j-1))| <= |w_j|/4",
    }


def _steps(d: Derivation) -> list[JSONObject]:
    """A derivation's lines: the equation (plain notation), its rule, and SymPy's check."""
    return [{"equation": st.plain, "rule": st.rule, "verified": st.verified} for st in d.steps]


def _numeric_part(p: NumericPart) -> JSONObject:
    t = p.trace
    names = [f"w{k + 1}" for k in range(t.depth)]
    return {
        "preset": p.preset.name,
        "weights": dict(zip(names, map(float, t.weights), strict=True)),
        "x": float(t.x),
        "y_hat": float(t.target),
        "loss": float(t.loss),
        "prediction": float(t.prediction),
        "dloss_dprediction": float(t.dloss_dprediction),
        "gradients": dict(zip(names, map(float, t.grad_weight), strict=True)),
        "trace": trace_dict(t),
        "ratio_to_last": dict(zip(names, map(float, p.ratio_to_last), strict=True)),
        "backward_factors": [float(f) for f in t.backward_factor],
        "gradient_steps": [
            {
                "learning_rate": st.learning_rate,
                "weights_after": dict(zip(names, map(float, st.weights_after), strict=True)),
                "relative_change": dict(zip(names, map(float, st.relative_change), strict=True)),
                "prediction_after": st.prediction_after,
                "loss_after": st.loss_after,
            }
            for st in p.steps
        ],
    }


def derivation_dict(
    d: ChainDerivation,
    *,
    closed: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> JSONObject:
    """Closed-form gradients by parameter name, plus the chain-product forms.

    ``closed=False`` leaves the closed forms out: printing them is most of the cost for deep
    chains (10 s at depth 50, against 0.4 s for the derivation itself). ``progress(done,
    total)`` is called after each closed form.
    """
    out: JSONObject = {}
    if closed:
        gradients: dict[str, JSON] = {}
        for i, g in enumerate(d.gradients):
            gradients[g.parameter] = g.closed_str()
            if progress is not None:
                progress(i + 1, len(d.gradients))
        out["gradients"] = gradients
    return out | {
        "chain": {g.parameter: g.chain_text("*") for g in d.gradients},
        "spec": {
            "depth": d.spec.depth,
            "activation": d.spec.activation,
            "output_activation": d.spec.output_activation,
            "loss": d.spec.loss,
            "biases": d.spec.biases,
        },
    }


def solution_dict(sol: Solution) -> JSONObject:
    """The worked solution: parts a-d."""
    return {
        "a": _part_a(sol.a)
        | {
            "derivative_steps": _steps(sol.a_first),
            "second_derivative_steps": _steps(sol.a_second),
        },
        "b": _numeric_part(sol.b) | {"output_delta_steps": _steps(sol.b_delta)},
        "c": derivation_dict(sol.c)
        | {
            "dloss_dprediction_steps": _steps(sol.c_dl_dy),
            "factored": {
                f.parameter: {
                    "factors": [{"role": r, "layer": k} for r, k in f.factors],
                    "expression": sp.sstr(f.expr),
                    "formula": f.plain,
                    "verified": f.verified,
                }
                for f in sol.c_factored
            },
        },
        "d": _numeric_part(sol.d),
    }


def montecarlo_dict(r: MonteCarloResult) -> JSONObject:
    """``gradtrace montecarlo --json``: per-layer statistics of |dL/dw_k|, and the config."""
    c = r.config
    return {
        "samples": c.samples,
        "seed": c.seed,
        "layers": [
            {
                "layer": s.layer,
                "abs_grad_quantiles": {k: finite(v) for k, v in s.abs_grad_quantiles.items()},
                "mean_log10_abs_grad": finite(s.mean_log10_abs_grad),
                "fraction_zero": s.fraction_zero,
                "fraction_below": s.fraction_below,
                "fraction_above": s.fraction_above,
            }
            for s in r.layers
        ],
        "ratio_first_to_last": {
            "abs_quantiles": {k: finite(v) for k, v in r.ratio_quantiles.items()},
            "mean_log10": finite(r.mean_log10_ratio),
        },
        "float64_nonfinite": r.float64_nonfinite,
        "config": {
            "depth": c.spec.depth,
            "activation": c.spec.activation,
            "output_activation": c.spec.output_activation,
            "loss": c.spec.loss,
            "biases": c.spec.biases,
            "residual": c.spec.residual,
            "init": c.init,
            "std": c.std,
            "x": c.x,
            "target": c.target,
            "quantile_resolution_log10": RESOLUTION,
        },
    }


def depth_dict(r: DepthResult) -> JSONObject:
    """``gradtrace depth --json``: log10|dL/dw_1| per depth, the profile of the deepest chain
    (every layer up to 1,000; thinned evenly beyond), and the fitted and expected rates."""
    c = r.config
    L = r.profile_depth
    keep = _evenly(L, 1000)
    return {
        "samples": c.samples,
        "seed": c.seed,
        "activation": c.activation,
        "std": c.std,
        "init": c.init,
        "depths": [
            {
                "depth": p.depth,
                "mean_log10_abs_grad_first": finite(p.mean_log10_abs_grad_first),
                "median_log10_abs_grad_first": finite(p.median_log10_abs_grad_first),
                "fraction_zero_first": p.fraction_zero_first,
                "fraction_float64_lost_first": p.fraction_float64_lost_first,
            }
            for p in r.points
        ],
        "profile": {
            "depth": L,
            "layer": [int(k) + 1 for k in keep],
            "mean_log10_abs_grad": [finite(v) for v in r.profile_mean_log10_grad[keep]],
            "mean_log10_abs_delta": [finite(v) for v in r.profile_mean_log10_delta[keep]],
        },
        "rate": {
            "fitted": finite(r.fitted_rate),
            "fitted_se": finite(r.fitted_rate_se),
            "expected": None if r.expected_rate is None else finite(r.expected_rate),
            "units": "decades per layer",
        },
    }


def _evenly(n: int, most: int) -> np.ndarray:
    """Indices ``0 .. n-1``: all of them up to ``most``, else ``most`` spread evenly (ends kept)."""
    return np.unique(np.linspace(0, n - 1, min(n, most)).astype(int))


def _curve_steps(n: int, points: int = 200) -> np.ndarray:
    """Step indices to show of a curve of length ``n``: all of them up to ``points``, else evenly
    spread on a log scale (the early steps are where things happen)."""
    if n <= points:
        return np.arange(n)
    return np.unique(np.concatenate([[0], np.geomspace(1, n - 1, points).astype(int), [n - 1]]))


def train_dict(h: TrainHistory) -> JSONObject:
    """``gradtrace train --json``: the outcome, per-layer movement, and the loss curve."""
    steps = _curve_steps(h.loss.size)
    rel = h.relative_update
    return {
        "outcome": h.outcome,
        "message": h.message,
        "converged_at": h.converged_at,
        "diverged_at": h.diverged_at,
        "steps_taken": h.steps_taken,
        "learning_rate": float(h.config.learning_rate),
        "samples": int(h.config.x.size),
        "final_loss": finite(h.loss[-1]) if h.loss.size else None,
        "layers": [
            {
                "layer": k + 1,
                "initial_weight": finite(h.weights[0, k]),
                "final_weight": finite(h.weights[-1, k]),
                "first_grad": finite(h.grads[0, k]) if h.steps_taken else None,
                "first_relative_update": finite(rel[0, k]) if h.steps_taken else None,
                "median_relative_update": finite(np.median(rel[:, k])) if h.steps_taken else None,
                "total_relative_change": finite(h.total_relative_change[k]),
            }
            for k in range(h.weights.shape[1])
        ],
        "loss_curve": {"step": [int(s) for s in steps], "loss": [finite(h.loss[s]) for s in steps]},
    }


def train_heatmap(h: TrainHistory, columns: int = 200) -> JSONObject:
    """log10|dL/dw_k| per layer (rows) at up to ``columns`` steps spread evenly (``null`` where a
    gradient was 0 or not finite): the explorer's layer x step map."""
    T = h.steps_taken
    steps = _evenly(T, columns) if T else np.array([], dtype=int)
    with np.errstate(divide="ignore", invalid="ignore"):
        logg = np.log10(np.abs(h.grads[steps]))  # (len(steps), L)
    return {
        "step": steps.tolist(),
        "log10_abs_grad": [[finite(v) for v in row] for row in logg.T],
    }


def remedies_dict(rows: tuple[RemedyRow, ...]) -> JSONObject:
    """``gradtrace remedies --json``: one object per run."""
    return {
        "rows": [
            {
                "problem": r.problem,
                "remedy": r.name,
                "why": r.why,
                "outcome": r.outcome,
                "steps_to_tolerance": r.steps_to_tolerance,
                "diverged": r.diverged,
                "final_loss": finite(r.final_loss),
                "min_abs_grad": finite(r.min_abs_grad),
                "max_abs_grad": finite(r.max_abs_grad),
            }
            for r in rows
        ]
    }


def theory_dict(mf: MeanField, simulated: TheorySimulation | None = None) -> JSONObject:
    """``gradtrace theory --json``: exactly the contract's keys; ``null`` for infinite or
    undefined values (``xi_c`` at the critical line, ``q_star`` when q grows without bound).
    With ``simulated`` (``--simulate``), also ``"simulated"``: the measured per-layer ``q``
    (``q[0]`` the input's) and ``grad_norm_ratio`` (``|dL/dh^l|^2 / |dL/dh^L|^2``, layers 1 .. L)
    beside the layer-by-layer predictions from the same input."""

    def opt(v: float | None) -> float | None:
        return None if v is None else finite(v)

    out: JSONObject = {
        "activation": mf.activation,
        "sigma_w2": mf.sigma_w2,
        "sigma_b2": mf.sigma_b2,
        "q_star": opt(mf.q_star),
        "c_star": opt(mf.c_star),
        "chi_1": finite(mf.chi_1),
        "xi_q": finite(mf.xi_q),
        "xi_c": finite(mf.xi_c),
        "phase": mf.phase,
        "sigma_w2_critical": opt(mf.sigma_w2_critical),
    }
    if simulated is not None:
        out["simulated"] = _simulated(simulated)
    return out


def _simulated(sim: TheorySimulation) -> JSONObject:
    c = sim.run.config
    return {
        "width": c.width,
        "depth": c.depth,
        "samples": c.samples,
        "seed": c.seed,
        "q": [finite(v) for v in sim.run.q],
        "q_predicted": [finite(v) for v in sim.q_predicted],
        "grad_norm_ratio": [finite(v) for v in sim.run.grad_norm_ratio],
        "grad_norm_ratio_predicted": [finite(v) for v in sim.ratio_predicted],
    }


def reproduction_dict(result: ReproductionResult) -> JSONObject:
    """``gradtrace reproduce NAME --json``: the table (header and rows), notes (sentences about
    what the table leaves out; may be empty) and every anchor."""

    def cell(v: str | float) -> JSON:
        return v if isinstance(v, str) else finite(v)

    return {
        "name": result.name,
        "seed": result.seed,
        "table": {
            "header": list(result.header),
            "rows": [[cell(v) for v in row] for row in result.rows],
        },
        "notes": list(result.notes),
        "anchors": [
            {
                "name": a.name,
                "expected": finite(a.expected),
                "measured": finite(a.measured),
                "error": finite(a.error),
                "tolerance": a.tolerance,
                "absolute": a.absolute,
                "ok": a.ok if a.measurable else None,
                "source": a.source,
                **({} if a.measurable else {"unmeasurable": a.unmeasurable}),
            }
            for a in result.anchors
        ],
    }


def jacobian_dict(r: JacobianSpectrum) -> JSONObject:
    """``gradtrace jacobian --json``: ``predicted`` and ``measured`` first (the contract), then
    the net (``config``) and what the prediction is made of (``theory``)."""
    c, t = r.config, r.theory
    return {
        "predicted": {
            "mean": finite(t.mean),
            "variance_over_mean2": finite(t.variance_over_mean2),
        },
        "measured": {
            "mean": finite(r.measured_mean),
            "variance_over_mean2": finite(r.measured_variance_over_mean2),
            "samples": c.samples,
        },
        "config": {
            "activation": c.activation,
            "sigma_w2": c.sigma_w2,
            "sigma_b2": c.sigma_b2,
            "depth": c.depth,
            "width": c.width,
            "init": c.init,
            "seed": c.seed,
        },
        "q_star": None if t.q_star is None else finite(t.q_star),
        "theory": {
            "q": t.q,
            "input_q": t.input_q,
            "mu1": t.mu1,
            "mu2": t.mu2,
            "s1": t.s1,
            "chi": t.chi,
        },
    }


def pennington2017_dict(r: Pennington2017Result) -> JSONObject:
    """The reproduction: its config, the fixed critical point, the slopes, one row per series
    and depth."""
    c = r.config
    return {
        "config": {
            "activation": c.activation,
            "sigma_b2": c.sigma_b2,
            "isometry_ratio": c.isometry_ratio,
            "depths": list(c.depths),
            "width": c.width,
            "samples": c.samples,
            "seed": c.seed,
        },
        "sigma_w2": r.sigma_w2,
        "q_star": r.q_star,
        "slopes": dict(r.slopes),
        "rows": [
            {
                "series": row.series,
                "depth": row.depth,
                "init": row.init,
                "sigma_w2": row.sigma_w2,
                "sigma_b2": row.sigma_b2,
                "q_star": row.q_star,
                "predicted": {
                    "mean": finite(row.predicted_mean),
                    "variance_over_mean2": finite(row.predicted_variance_over_mean2),
                },
                "measured": {
                    "mean": finite(row.measured_mean),
                    "variance_over_mean2": finite(row.measured_variance_over_mean2),
                },
            }
            for row in r.rows
        ],
    }


def phase_dict(g: PhaseDiagram, digits: int = 4) -> JSONObject:
    """The phase diagram: the ``sigma_w2`` (columns) and ``sigma_b2`` (rows) axes, ``chi_1`` and
    ``log10 xi_c`` on the grid (rows by ``sigma_b2``) to ``digits`` significant digits (``null``
    where infinite: ``xi_c`` on the critical line and past it), and the critical ``sigma_w2``
    at each ``sigma_b2`` (``null``: none)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        log_xi = np.log10(g.xi_c)

    def grid(a: np.ndarray) -> list[list[float | None]]:
        return [[finite(v, digits) for v in row] for row in a]

    return {
        "activation": g.activation,
        "sigma_w2": [finite(v) for v in g.sigma_w2],
        "sigma_b2": [finite(v) for v in g.sigma_b2],
        "chi_1": grid(g.chi_1),
        "log10_xi_c": grid(log_xi),
        "critical_sigma_w2": [finite(v) for v in g.critical],
    }
