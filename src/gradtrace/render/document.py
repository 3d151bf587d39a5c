"""A format-neutral document: the explanations are written once, here, and laid out by
``text.py`` (rich), ``markdown.py`` and ``latex.py``.

Blocks: ``Heading``, ``Paragraph`` (text with inline ``Math``), ``Equations``, ``Table``,
``Bullets``. ``Math`` carries a plain-text and a LaTeX form of the same formula. Every number
in a document comes from the data objects (``Trace``, ``Solution``, ``ChainDerivation``); the
builders only choose words and layout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import sympy as sp

from gradtrace.activations import get_activation
from gradtrace.backprop import Trace
from gradtrace.exercise import NumericPart, Solution
from gradtrace.lab.depth import DepthResult
from gradtrace.lab.montecarlo import MonteCarloResult
from gradtrace.lab.remedies import RemedyRow
from gradtrace.lab.training import TrainHistory
from gradtrace.logmode import LogTrace
from gradtrace.symbolic import ChainDerivation, GradientFormula, SigmoidAnalysis, to_latex

__all__ = [
    "Block",
    "Bullets",
    "Equations",
    "Heading",
    "Image",
    "Math",
    "Paragraph",
    "Table",
    "depth_document",
    "depth_table",
    "derivation_document",
    "fmt",
    "log_table",
    "montecarlo_document",
    "remedies_document",
    "solution_document",
    "trace_document",
    "train_document",
]


@dataclass(frozen=True)
class Math:
    """One formula in two spellings: ``plain`` (terminal) and ``latex``."""

    plain: str
    latex: str


Inline = str | Math


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 1


@dataclass(frozen=True)
class Paragraph:
    parts: tuple[Inline, ...]


@dataclass(frozen=True)
class Equations:
    """Displayed formulas, one per line."""

    lines: tuple[Math, ...]


@dataclass(frozen=True)
class Table:
    header: tuple[Inline, ...]
    rows: tuple[tuple[Inline, ...], ...]
    caption: str = ""


@dataclass(frozen=True)
class Bullets:
    items: tuple[Paragraph, ...]


@dataclass(frozen=True)
class Image:
    """A figure: PNG bytes, the file name it is saved under, and a caption."""

    png: bytes
    name: str
    caption: str


Block = Heading | Paragraph | Equations | Table | Bullets | Image


# ---- numbers and small formulas ----------------------------------------------------------------


def fmt(v: float, sig: int = 6) -> str:
    """``v`` to ``sig`` significant digits, plain ASCII (``-1.23e-05``)."""
    v = float(v)
    if not math.isfinite(v):
        return str(v)
    return f"{v:.{sig}g}"


def num(v: float, sig: int = 6) -> Math:
    """A number as ``Math`` (LaTeX writes ``1.2 \\times 10^{-5}``)."""
    text = fmt(v, sig)
    if "e" in text:
        mant, exp = text.split("e")
        latex = rf"{mant} \times 10^{{{int(exp)}}}"
    else:
        latex = text
    return Math(text, latex)


def par(*parts: Inline) -> Paragraph:
    return Paragraph(tuple(parts))


def m(plain: str, latex: str | None = None) -> Math:
    return Math(plain, plain if latex is None else latex)


def sym(expr: sp.Expr) -> Math:
    """A SymPy expression in both spellings."""
    return Math(sp.sstr(expr), to_latex(expr))


def _phi_name(name: str) -> tuple[str, str]:
    return {"sigmoid": ("s", "s")}.get(name, (name, rf"\operatorname{{{name}}}"))


# ---- part (a) ----------------------------------------------------------------------------------


def _part_a(a: SigmoidAnalysis) -> list[Block]:
    sig = get_activation("sigmoid")
    z_max, v_max = a.maximum
    (z_lo, d2_hi), (z_hi, d2_lo) = a.steepest
    tails = [(z, float(sig.d1(z))) for z in (5.0, 10.0, 20.0)]
    return [
        Heading("(a) The sigmoid's derivative and its extrema", 2),
        par(
            "With ",
            m("s(z) = 1/(1 + exp(-z))", r"s(z) = \frac{1}{1 + e^{-z}}"),
            ", SymPy differentiates and confirms the identity (",
            m("simplify(s' - s(1 - s)) = 0", r"\operatorname{simplify}(s' - s(1-s)) = 0"),
            ": " + ("holds" if a.d1_identity_holds else "FAILS") + "):",
        ),
        Equations(
            (
                Math(
                    f"s'(z) = {sp.sstr(a.d1)} = {sp.sstr(a.d1_in_s)}",
                    rf"s'(z) = {to_latex(a.d1)} = {to_latex(a.d1_in_s).replace('s', 's(z)')}",
                ),
                Math(
                    f"s''(z) = {sp.sstr(a.d2_in_s)}   (s = s(z))",
                    rf"s''(z) = {to_latex(a.d2_in_s)} \quad (s = s(z))",
                ),
            )
        ),
        par(
            "Maximum. ",
            m("s''(z) = 0", "s''(z) = 0"),
            " has the single real solution ",
            m(f"z = {z_max}"),
            " (of the roots of ",
            m(f"{sp.sstr(a.d2_in_s)} = 0", rf"{to_latex(a.d2_in_s)} = 0"),
            " only s = 1/2 lies in 0 < s < 1; s = 0 and s = 1 are limits), and ",
            m(f"s'''(0) = {a.d3_at_maximum} < 0", rf"s'''(0) = {to_latex(a.d3_at_maximum)} < 0"),
            ", so ",
            m(
                f"s'(0) = {v_max} = {fmt(float(v_max))}",
                rf"s'(0) = {to_latex(v_max)} = {fmt(float(v_max))}",
            ),
            " is a maximum, and the global one: it is the only critical point, and ",
            m("s' -> 0", r"s' \to 0"),
            " at both ends.",
        ),
        par(
            "Minimum. SymPy " + ("proves " if a.strictly_positive else "could not prove "),
            m("s'(z) > 0", "s'(z) > 0"),
            " for every real z, and ",
            m(
                f"lim s'(z) = {a.limits[0]} as z -> -oo and {a.limits[1]} as z -> +oo",
                rf"\lim_{{z\to-\infty}} s'(z) = {to_latex(a.limits[0])},\ "
                rf"\lim_{{z\to+\infty}} s'(z) = {to_latex(a.limits[1])}",
            ),
            ". So the infimum is ",
            m(f"inf s' = {a.infimum}", rf"\inf s' = {to_latex(a.infimum)}"),
            ", approached as |z| grows but never attained: s' has no minimum. ",
            "How fast it approaches 0: ",
            *_join(
                [
                    m(f"s'({fmt(z)}) = {fmt(v, 3)}", rf"s'({fmt(z)}) = {num(v, 3).latex}")
                    for z, v in tails
                ]
            ),
            " (s' is even, the same at -z).",
        ),
        par(
            "Where s' changes fastest (the extrema of s''): ",
            m("s'''(z) = 0", "s'''(z) = 0"),
            " at ",
            m(
                f"z = {z_lo} = {fmt(float(z_lo), 4)}",
                rf"z = {to_latex(z_lo)} \approx {fmt(float(z_lo), 4)}",
            ),
            " where s'' reaches its maximum ",
            m(
                f"{d2_hi} = {fmt(float(d2_hi), 4)}",
                rf"{to_latex(d2_hi)} \approx {fmt(float(d2_hi), 4)}",
            ),
            ", and at ",
            m(
                f"z = {z_hi} = {fmt(float(z_hi), 4)}",
                rf"z = {to_latex(z_hi)} \approx {fmt(float(z_hi), 4)}",
            ),
            " where s'' reaches its minimum ",
            m(
                f"{d2_lo} = {fmt(float(d2_lo), 4)}",
                rf"{to_latex(d2_lo)} \approx {fmt(float(d2_lo), 4)}",
            ),
            f" (s'''' there is {a.d4_at_steepest[0]} and {a.d4_at_steepest[1]}).",
        ),
        par(
            "What it means for backpropagation. Going back through a sigmoid layer multiplies the "
            "gradient by ",
            m("w_j s'(z_j)", "w_j\\, s'(z_j)"),
            ", whose size is at most ",
            m("|w_j|/4", r"|w_j|/4"),
            ". Through n layers the gradient shrinks by up to ",
            m("prod |w_j|/4", r"\prod_j |w_j|/4"),
            ": with weights of size 1 or less, by a factor 4 or more per layer, and far more where "
            f"units saturate (s'(5) is {fmt(100 * tails[0][1] / float(v_max), 2)}% of the maximum). "
            "Early layers therefore receive vanishing "
            "gradients and learn slowly; only weights larger than 4 in size can make a sigmoid layer "
            "amplify the gradient.",
        ),
    ]


def _join(items: list[Math], sep: str = ", ") -> list[Inline]:
    out: list[Inline] = []
    for i, item in enumerate(items):
        if i:
            out.append(sep)
        out.append(item)
    return out


# ---- a trace: forward and backward tables --------------------------------------------------------


def _layer_names(trace: Trace) -> list[tuple[str, str]]:
    return [_phi_name(trace.spec.phi(k + 1).name) for k in range(trace.depth)]


def forward_table(trace: Trace) -> Table:
    """``z_k`` and ``a_k`` per layer, with the product that gives ``z_k``."""
    rows = []
    inputs = trace.inputs
    for k in range(trace.depth):
        pn, pl = _layer_names(trace)[k]
        prev = "x" if k == 0 else f"a{k}"
        residual = trace.spec.residual and k < trace.depth - 1
        prev_l = "x" if k == 0 else f"a_{{{k}}}"
        skip, skip_l = (f"{prev} + ", f"{prev_l} + ") if residual else ("", "")
        zcalc = f"{fmt(trace.weights[k])} * {fmt(inputs[k])}"
        zcalc_l = rf"{num(trace.weights[k]).latex} \cdot {num(inputs[k]).latex}"
        zdef, zdef_l = f"w{k + 1} {prev}", rf"w_{{{k + 1}}} {prev_l}"
        if trace.biases is not None:
            zcalc += f" + {fmt(trace.biases[k])}"
            zcalc_l += rf" + {num(trace.biases[k]).latex}"
            zdef += f" + b{k + 1}"
            zdef_l += rf" + b_{{{k + 1}}}"
        rows.append(
            (
                str(k + 1),
                Math(f"z{k + 1} = {zdef} = {zcalc}", rf"z_{{{k + 1}}} = {zdef_l} = {zcalc_l}"),
                num(trace.z[k]),
                Math(
                    f"a{k + 1} = {skip}{pn}(z{k + 1})",
                    rf"a_{{{k + 1}}} = {skip_l}{pl}(z_{{{k + 1}}})",
                ),
                num(trace.a[k]),
            )
        )
    return Table(("layer", "pre-activation", "z", "activation", "a"), tuple(rows), "Forward pass")


def backward_table(trace: Trace) -> Table:
    """``phi'(z_k)``, ``delta_k`` with its chain-rule factors, and ``dL/dw_k`` per layer."""
    L = trace.depth
    names = _layer_names(trace)
    inputs = trace.inputs
    rows = []
    for k in range(L - 1, -1, -1):
        pn, pl = names[k]
        i = k + 1
        if k == L - 1:
            if trace.spec.fused_bce:
                rule = Math(
                    f"y - y_hat = {fmt(trace.prediction)} - {fmt(trace.target)}",
                    rf"y - \hat y = {num(trace.prediction).latex} - {num(trace.target).latex}",
                )
            else:
                rule = Math(
                    f"dL/dy * {pn}'(z{i}) = {fmt(trace.dloss_dprediction)} * {fmt(trace.activation_derivative[k])}",
                    rf"\frac{{\partial L}}{{\partial y}}\, {pl}'(z_{{{i}}}) = "
                    rf"{num(trace.dloss_dprediction).latex} \cdot {num(trace.activation_derivative[k]).latex}",
                )
        elif trace.spec.residual and k < L - 2 and trace.dloss_dactivation is not None:
            g = trace.dloss_dactivation[k]  # skip path: dL/da_i = dL/da_(i+1) + delta_(i+1) w_(i+1)
            rule = Math(
                f"(dL/da{i + 1} + delta{i + 1} * w{i + 1}) * {pn}'(z{i}) = {fmt(g)} * "
                f"{fmt(trace.activation_derivative[k])}",
                rf"\left(\tfrac{{\partial L}}{{\partial a_{{{i + 1}}}}} + \delta_{{{i + 1}}} w_{{{i + 1}}}\right) "
                rf"{pl}'(z_{{{i}}}) = {num(g).latex} \cdot {num(trace.activation_derivative[k]).latex}",
            )
        else:
            rule = Math(
                f"delta{i + 1} * w{i + 1} * {pn}'(z{i}) = {fmt(trace.delta[k + 1])} * "
                f"{fmt(trace.weights[k + 1])} * {fmt(trace.activation_derivative[k])}",
                rf"\delta_{{{i + 1}}}\, w_{{{i + 1}}}\, {pl}'(z_{{{i}}}) = {num(trace.delta[k + 1]).latex}"
                rf" \cdot {num(trace.weights[k + 1]).latex} \cdot {num(trace.activation_derivative[k]).latex}",
            )
        prev = "x" if k == 0 else f"a{k}"
        prev_l = "x" if k == 0 else f"a_{{{k}}}"
        grad = Math(
            f"delta{i} * {prev} = {fmt(trace.delta[k])} * {fmt(inputs[k])}",
            rf"\delta_{{{i}}}\, {prev_l} = {num(trace.delta[k]).latex} \cdot {num(inputs[k]).latex}",
        )
        row: tuple[Inline, ...] = (
            str(i),
            num(trace.activation_derivative[k]),
            rule,
            num(trace.delta[k]),
            grad,
            num(trace.grad_weight[k]),
        )
        if trace.grad_bias is not None:
            row = (*row, num(trace.grad_bias[k]))
        rows.append(row)
    header: tuple[Inline, ...] = (
        "layer",
        Math("phi'(z)", r"\phi'(z_k)"),
        Math("delta = dL/dz", r"\delta_k = \partial L/\partial z_k"),
        Math("delta", r"\delta_k"),
        Math("dL/dw = delta * a_(k-1)", r"\partial L/\partial w_k = \delta_k a_{k-1}"),
        Math("dL/dw", r"\partial L/\partial w_k"),
    )
    if trace.grad_bias is not None:
        header = (*header, Math("dL/db", r"\partial L/\partial b_k"))
    return Table(header, tuple(rows), "Backward pass (from the output back)")


def _spec_line(trace: Trace) -> Paragraph:
    sp_ = trace.spec

    def values(name: str, vs: np.ndarray) -> Math:
        return Math(
            ", ".join(f"{name}{k + 1} = {fmt(v)}" for k, v in enumerate(vs)),
            r",\ ".join(f"{name}_{{{k + 1}}} = {num(v).latex}" for k, v in enumerate(vs)),
        )

    parts: list[Inline] = [
        f"Depth {sp_.depth}, hidden activation {sp_.activation}, output activation "
        f"{sp_.output_activation}, loss {sp_.loss}; ",
        values("w", trace.weights),
        ", ",
    ]
    if trace.biases is not None:
        parts += [values("b", trace.biases), ", "]
    parts += [
        m(f"x = {fmt(trace.x)}"),
        ", ",
        m(f"y_hat = {fmt(trace.target)}", rf"\hat y = {fmt(trace.target)}"),
        ".",
    ]
    return Paragraph(tuple(parts))


def _result_line(trace: Trace) -> Paragraph:
    grads = [
        m(
            f"dL/dw{k + 1} = {fmt(g)}",
            rf"\frac{{\partial L}}{{\partial w_{{{k + 1}}}}} = {num(g).latex}",
        )
        for k, g in enumerate(trace.grad_weight)
    ]
    return par(
        "Prediction ",
        m(f"y = {fmt(trace.prediction)}", f"y = {num(trace.prediction).latex}"),
        ", loss ",
        m(f"L = {fmt(trace.loss)}", f"L = {num(trace.loss).latex}"),
        ", ",
        m(
            f"dL/dy = {fmt(trace.dloss_dprediction)}",
            rf"\partial L/\partial y = {num(trace.dloss_dprediction).latex}",
        ),
        ". Gradients: ",
        *_join(grads),
        ".",
    )


def log_table(lt: LogTrace) -> Table:
    """Log-magnitude mode: ``log10|dL/dw_k|`` with its sign, and where float64 lost the value."""
    if lt.loss.shape:
        raise ValueError("log_table needs an unbatched trace")
    rows = []
    for k in range(lt.spec.depth):
        sign = {1.0: "+", -1.0: "-", 0.0: "0"}[float(lt.sign_grad_weight[k])]
        status = (
            "underflows to 0"
            if lt.float64_underflow[k]
            else "overflows"
            if lt.float64_overflow[k]
            else "inaccurate"
            if lt.float64_inaccurate[k]
            else "ok"
        )
        rows.append(
            (
                str(k + 1),
                num(lt.log10_abs_delta[k], 8),
                num(lt.log10_abs_grad_weight[k], 8),
                sign,
                status,
            )
        )
    header: tuple[Inline, ...] = (
        "layer",
        Math("log10|delta|", r"\log_{10}|\delta_k|"),
        Math("log10|dL/dw|", r"\log_{10}|\partial L/\partial w_k|"),
        "sign",
        "float64",
    )
    return Table(
        header, tuple(rows), "Log-magnitude mode (exact where float64 under- or overflows)"
    )


def trace_document(trace: Trace, title: str = "Gradient trace") -> list[Block]:
    """Forward and backward tables of an unbatched trace (``gradtrace grad``)."""
    if trace.batch_shape:
        raise ValueError("trace_document needs an unbatched trace")
    blocks: list[Block] = [
        Heading(title, 1),
        _spec_line(trace),
        forward_table(trace),
        backward_table(trace),
        _result_line(trace),
    ]
    if trace.warnings:
        blocks.append(Bullets(tuple(par("warning: " + msg) for msg in trace.warnings)))
    return blocks


# ---- parts (b) and (d) -------------------------------------------------------------------------


def _formula_lines(
    deriv: ChainDerivation, params: list[GradientFormula] | None = None
) -> Equations:
    lines = []
    for g in params if params is not None else deriv.gradients:
        k = g.parameter[1:]
        lines.append(
            Math(
                f"dL/d{g.parameter} = {g.chain_text()}",
                rf"\frac{{\partial L}}{{\partial {g.parameter[0]}_{{{k}}}}} = {g.chain_latex()}",
            )
        )
    return Equations(tuple(lines))


def _numeric_part(p: NumericPart, heading: str) -> list[Block]:
    t = p.trace
    L = t.depth
    ratios = p.ratio_to_last
    blocks: list[Block] = [Heading(heading, 2), _spec_line(t)]
    blocks.append(
        par(
            "Backpropagation computes, from the output back, ",
            m("delta_k = dL/dz_k", r"\delta_k = \partial L/\partial z_k"),
            " and then ",
            m("dL/dw_k = delta_k a_(k-1)", r"\partial L/\partial w_k = \delta_k\, a_{k-1}"),
            " (with ",
            m("a_0 = x", "a_0 = x"),
            "). In symbols (derived by SymPy):",
        )
    )
    blocks.append(_formula_lines(p.derivation))
    blocks += [forward_table(t), backward_table(t), _result_line(t)]

    # observations, every figure computed from the trace
    obs: list[Paragraph] = []
    smaller = [
        m(
            f"|dL/dw{k + 1}| is {fmt(r, 4)} times smaller than |dL/dw{L}|",
            rf"|\partial L/\partial w_{{{k + 1}}}|\text{{ is }}{fmt(r, 4)}\text{{ times smaller than }}"
            rf"|\partial L/\partial w_{{{L}}}|",
        )
        for k, r in enumerate(ratios[:-1])
    ]
    if L > 1:
        factors = t.backward_factor
        frac = p.derivative_fraction_of_max
        per_layer = [
            m(
                f"w{k + 2} {_phi_name(t.spec.phi(k + 1).name)[0]}'(z{k + 1}) = {fmt(f, 4)}",
                rf"w_{{{k + 2}}}\, {_phi_name(t.spec.phi(k + 1).name)[1]}'(z_{{{k + 1}}}) = {fmt(f, 4)}",
            )
            for k, f in enumerate(factors)
        ]
        obs.append(par("Magnitudes: ", *_join(smaller, "; "), "."))
        why: list[Inline] = [
            "Why: every layer passed back multiplies the gradient by ",
            m("w_j phi'(z_(j-1))", r"w_j\, \phi'(z_{j-1})"),
            ", here ",
            *_join(per_layer),
            ".",
        ]
        if not np.isnan(frac[:-1]).all():
            why += [
                " The sigmoid units are far from saturation (",
                *_join(
                    [
                        m(
                            f"s'(z{k + 1}) is {fmt(100 * f, 3)}% of its maximum 1/4",
                            rf"s'(z_{{{k + 1}}})\text{{ is }}{fmt(100 * f, 3)}\%\text{{ of its maximum }}1/4",
                        )
                        for k, f in enumerate(frac[:-1])
                        if not np.isnan(f)
                    ]
                ),
                "), so the shrinking comes from the bound ",
                *_join(
                    [
                        m(f"|w{k + 2}|/4 = {fmt(bd, 4)}", rf"|w_{{{k + 2}}}|/4 = {fmt(bd, 4)}")
                        for k, bd in enumerate(p.factor_bound)
                    ]
                ),
                ": a sigmoid layer with a small weight cannot pass the gradient back undiminished.",
            ]
        obs.append(Paragraph(tuple(why)))
    if not t.spec.fused_bce:
        obs.append(
            par(
                "The residual: ",
                m(
                    f"dL/dy = -2(y_hat - y) = {fmt(t.dloss_dprediction)}",
                    rf"\partial L/\partial y = -2(\hat y - y) = {num(t.dloss_dprediction).latex}",
                ),
                " multiplies every gradient. Divided by it, the gradients are ",
                *_join(
                    [
                        m(
                            f"dy/dw{k + 1} = {fmt(v, 4)}",
                            rf"\partial y/\partial w_{{{k + 1}}} = {fmt(v, 4)}",
                        )
                        for k, v in enumerate(p.sensitivity)
                    ]
                ),
                ": ordinary sizes, shrinking towards the input as in (b). The gradients are huge only because "
                "the target is far from anything the network can output now; the ratios between layers are "
                "unchanged, so vanishing (across layers) and exploding (in scale) happen at once.",
            )
        )
        if t.spec.output_activation == "identity" and t.inputs[-1] != 0:
            need = t.target / t.inputs[-1]
            obs.append(
                par(
                    f"The scale of the problem: to reach the target through the last layer alone, w{L} would "
                    "have to be ",
                    m(
                        f"y_hat / a{L - 1} = {fmt(need, 4)}",
                        rf"\hat y / a_{{{L - 1}}} = {fmt(need, 4)}",
                    ),
                    f", {fmt(abs(need / t.weights[-1]), 3)} times its present value.",
                    *_step_contrast(p),
                )
            )
    for st in p.steps:
        changes = [
            m(
                f"w{k + 1}: {fmt(w0, 4)} -> {fmt(w1, 4)} ({fmt(100 * rc, 3)}%)",
                rf"w_{{{k + 1}}}\colon {fmt(w0, 4)} \to {fmt(w1, 4)}\ ({fmt(100 * rc, 3)}\%)",
            )
            for k, (w0, w1, rc) in enumerate(
                zip(t.weights, st.weights_after, st.relative_change, strict=True)
            )
        ]
        obs.append(
            par(
                "One gradient step with learning rate ",
                m(f"{st.learning_rate:g}"),
                ": ",
                *_join(changes),
                "; the prediction goes from ",
                m(fmt(t.prediction)),
                " to ",
                m(fmt(st.prediction_after)),
                " and the loss from ",
                m(fmt(t.loss)),
                " to ",
                m(fmt(st.loss_after)),
                ".",
            )
        )
    blocks += [Heading("Observations", 3), Bullets(tuple(obs))]
    return blocks


def _step_contrast(p: NumericPart) -> list[Inline]:
    """How unevenly the largest step moves the layers (one learning rate serves all of them)."""
    if not p.steps or p.trace.depth < 2:
        return []
    st = p.steps[-1]
    rc = st.relative_change
    k = int(np.argmax(rc[:-1]))
    return [
        f" With learning rate {st.learning_rate:g}, w{len(rc)} moves by {fmt(100 * rc[-1], 3)}% of its "
        f"value while w{k + 1} moves by {fmt(100 * rc[k], 3)}%: one learning rate cannot suit layers "
        "whose gradients differ this much, which is what scaling the target or clipping the gradient "
        "norm addresses."
    ]


def _part_c(c: ChainDerivation) -> list[Block]:
    return [
        Heading("(c) Regression: the gradients derived", 2),
        par(
            "Without the final sigmoid, ",
            m("y = z3 = w3 a2", r"y = z_3 = w_3 a_2"),
            " and ",
            m("L = (y_hat - y)^2", r"L = (\hat y - y)^2"),
            ", so SymPy gives ",
            m(
                f"dL/dz3 = dL/dy = {sp.sstr(c.output_delta)}",
                rf"\partial L/\partial z_3 = \partial L/\partial y = {to_latex(c.output_delta)}",
            ),
            " and, by the chain rule, the product of the factors met going back (with ",
            m("s'(z) = a (1 - a)", "s'(z) = a(1-a)"),
            " for a = s(z)):",
        ),
        _formula_lines(c),
        par("Written out in the inputs (closed form, each factor simplified by SymPy):"),
        Equations(
            tuple(
                Math(
                    f"dL/d{g.parameter} = {g.closed_str()}",
                    rf"\frac{{\partial L}}{{\partial w_{{{g.parameter[1:]}}}}} = {g.closed_latex()}",
                )
                for g in c.gradients
            )
        ),
        par(
            "Each gradient is the residual factor ",
            m("2(y - y_hat)", r"2(y - \hat y)"),
            " times the sensitivity ",
            m("dy/dw_k", r"\partial y/\partial w_k"),
            " of the prediction; only the last factor depends on the target.",
        ),
    ]


def _at(trace: Trace) -> str:
    ws = ", ".join(fmt(w) for w in trace.weights)
    return f"w = ({ws}), x = {fmt(trace.x)}, y_hat = {fmt(trace.target)}"


def solution_document(sol: Solution) -> list[Block]:
    """The whole worked solution, parts a-d."""
    intro = par(
        "The network is a chain of three one-unit layers without biases: ",
        m(
            "z1 = w1 x, a1 = s(z1), z2 = w2 a1, a2 = s(z2), z3 = w3 a2",
            r"z_1 = w_1 x,\ a_1 = s(z_1),\ z_2 = w_2 a_1,\ a_2 = s(z_2),\ z_3 = w_3 a_2",
        ),
        ". Classification: ",
        m("y = s(z3)", "y = s(z_3)"),
        " with ",
        m(
            "L = -(y_hat log y + (1 - y_hat) log(1 - y))",
            r"L = -(\hat y \log y + (1 - \hat y)\log(1 - y))",
        ),
        ". Regression: ",
        m("y = z3", "y = z_3"),
        " with ",
        m("L = (y_hat - y)^2", r"L = (\hat y - y)^2"),
        ". As in the exercise, y is the prediction and ",
        m("y_hat", r"\hat y"),
        " the label or target.",
    )
    return [
        Heading("Vanishing and exploding gradients: the exercise, solved", 1),
        intro,
        *_part_a(sol.a),
        *_numeric_part(sol.b, f"(b) Classification at {_at(sol.b.trace)}"),
        *_part_c(sol.c),
        *_numeric_part(sol.d, f"(d) Regression at {_at(sol.d.trace)}"),
    ]


def derivation_document(deriv: ChainDerivation) -> list[Block]:
    """Symbolic gradients of a chain (``gradtrace derive``)."""
    s = deriv.spec
    return [
        Heading("Symbolic gradients", 1),
        par(
            f"Depth {s.depth}, hidden activation {s.activation}, output activation {s.output_activation}, "
            f"loss {s.loss}, biases {'on' if s.biases else 'off'}. ",
            m(
                f"z_k = w_k a_(k-1){' + b_k' if s.biases else ''}, a_k = phi_k(z_k), a_0 = x",
                rf"z_k = w_k a_{{k-1}}{' + b_k' if s.biases else ''},\ a_k = \phi_k(z_k),\ a_0 = x",
            ),
            "; ",
            m(
                f"dL/dz_L = {sp.sstr(deriv.output_delta)}",
                rf"\partial L/\partial z_L = {to_latex(deriv.output_delta)}",
            ),
            ".",
        ),
        Heading("Chain-product form", 2),
        _formula_lines(deriv),
        Heading("Closed form", 2),
        Equations(
            tuple(
                Math(
                    f"dL/d{g.parameter} = {g.closed_str()}",
                    rf"\frac{{\partial L}}{{\partial {g.parameter[0]}_{{{g.parameter[1:]}}}}} = {g.closed_latex()}",
                )
                for g in deriv.gradients
            )
        ),
    ]


def montecarlo_document(r: MonteCarloResult) -> list[Block]:
    """Per-layer quantiles of |dL/dw_k| over random initializations (``gradtrace montecarlo``)."""
    c = r.config
    init = (
        f"N(0, {fmt(c.std)}^2)"
        if c.init == "normal"
        else f"U(-sqrt(3) {fmt(c.std)}, sqrt(3) {fmt(c.std)})"
    )
    x = "x ~ N(0, 1)" if c.x is None else f"x = {fmt(c.x)}"
    t = "y_hat drawn" if c.target is None else f"y_hat = {fmt(c.target)}"
    rows = []
    for s in r.layers:
        q = s.abs_grad_quantiles
        rows.append(
            (
                str(s.layer),
                *(num(q[k], 3) for k in ("p05", "p25", "p50", "p75", "p95")),
                num(s.mean_log10_abs_grad, 4),
                f"{100 * s.fraction_below['1e-3']:.2f}%",
                f"{100 * s.fraction_below['1e-6']:.3f}%",
                f"{100 * s.fraction_above['1e2']:.3f}%",
            )
        )
    header: tuple[Inline, ...] = (
        "layer",
        "p05",
        "p25",
        "median",
        "p75",
        "p95",
        Math("mean log10|g|", r"\overline{\log_{10}|g|}"),
        "< 1e-3",
        "< 1e-6",
        "> 1e2",
    )
    ratio = r.ratio_quantiles
    blocks: list[Block] = [
        Heading("Gradients over random initializations", 1),
        par(
            f"{c.samples:,} samples (seed {c.seed}); depth {c.spec.depth}, hidden activation "
            f"{c.spec.activation}, output activation {c.spec.output_activation}, loss {c.spec.loss}"
            f"{', biases on' if c.spec.biases else ''}; weights ~ {init}; {x}, {t}.",
        ),
        Table(header, tuple(rows), "|dL/dw_k| per layer"),
    ]
    if ratio:
        blocks.append(
            par(
                f"|dL/dw1| / |dL/dw{c.spec.depth}|: median {fmt(ratio['p50'], 3)} (p05 {fmt(ratio['p05'], 3)}, "
                f"p95 {fmt(ratio['p95'], 3)}); on average the first layer's gradient is "
                f"{fmt(10**-r.mean_log10_ratio, 3)} times smaller than the last's (geometric mean).",
            )
        )
    if r.float64_nonfinite:
        blocks.append(
            par(
                f"warning: {r.float64_nonfinite} gradients were not finite in float64 and are left out."
            )
        )
    return blocks


def depth_table(r: DepthResult) -> Table:
    """log10|dL/dw_1| per depth: mean, median, exact zeros, and where float64 lost it."""
    rows = tuple(
        (
            str(p.depth),
            num(p.mean_log10_abs_grad_first, 5),
            num(p.median_log10_abs_grad_first, 5),
            f"{100 * p.fraction_zero_first:.1f}%",
            f"{100 * p.fraction_float64_lost_first:.1f}%",
        )
        for p in r.points
    )
    header: tuple[Inline, ...] = (
        "depth L",
        Math("mean log10|dL/dw1|", r"\overline{\log_{10}|\partial L/\partial w_1|}"),
        Math("median log10|dL/dw1|", r"\operatorname{median}\log_{10}|\partial L/\partial w_1|"),
        "exactly 0",
        "float64 lost it",
    )
    return Table(header, rows, f"log10|dL/dw_1|, {r.config.activation} chains")


def depth_document(r: DepthResult) -> list[Block]:
    """log10|dL/dw_1| against depth and the per-layer rate (``gradtrace depth``)."""
    c = r.config
    init = f"N(0, {fmt(c.std)}^2)" if c.init == "normal" else f"uniform with std {fmt(c.std)}"
    blocks: list[Block] = [
        Heading("Gradients against depth", 1),
        par(
            f"{c.samples} chains per depth (seed {c.seed}) of {c.activation} layers, weights ~ {init}, "
            f"identity output, l2 loss; x = {fmt(c.x)}, y_hat = {fmt(c.target)}. Computed in the "
            "log-magnitude mode, so nothing underflows.",
        ),
        depth_table(r),
    ]
    fitted = (
        "n/a (no sample kept a nonzero path)"
        if np.isnan(r.fitted_rate)
        else (f"{fmt(r.fitted_rate, 4)} +- {fmt(r.fitted_rate_se, 2)}")
    )
    expected = "n/a" if r.expected_rate is None else fmt(r.expected_rate, 4)
    trend = ""
    if not np.isnan(r.fitted_rate):
        trend = (
            " The gradient vanishes" if r.fitted_rate < 0 else " The gradient explodes"
        ) + f" by about {fmt(abs(r.fitted_rate), 3)} decades per layer passed back."
    blocks.append(
        par(
            f"Per-layer rate of log10|dL/dz_k| along the depth-{r.profile_depth} chain: fitted {fitted}; "
            f"expected E[log10|w phi'(z)|] at the stationary distribution: {expected} (decades per layer)."
            + trend,
        )
    )
    return blocks


def train_document(h: TrainHistory) -> list[Block]:
    """The outcome of a gradient-descent run, per-layer movement and the loss curve."""
    c = h.config
    spec = c.network.spec
    T = h.steps_taken
    rows = []
    for k in range(spec.depth):
        rows.append(
            (
                str(k + 1),
                num(h.weights[0, k], 4),
                num(h.weights[-1, k], 4),
                num(h.grads[0, k], 4) if T else "-",
                f"{100 * h.relative_update[0, k]:.3g}%" if T else "-",
                f"{100 * np.median(h.relative_update[:, k]):.3g}%" if T else "-",
                f"{100 * h.total_relative_change[k]:.3g}%",
            )
        )
    header: tuple[Inline, ...] = (
        "layer",
        "w start",
        "w end",
        "dL/dw at start",
        "first step |dw|/|w|",
        "median |dw|/|w|",
        "total change",
    )
    marks = [
        s
        for s in (
            0,
            1,
            2,
            5,
            10,
            20,
            50,
            100,
            200,
            500,
            1000,
            2000,
            5000,
            10000,
            20000,
            50000,
            100000,
        )
        if s < h.loss.size
    ]
    if h.loss.size and h.loss.size - 1 not in marks:
        marks.append(h.loss.size - 1)
    curve = Table(("step", "loss"), tuple((str(s), num(h.loss[s], 6)) for s in marks), "Loss")
    blocks: list[Block] = [
        Heading("Gradient descent", 1),
        par(
            f"Depth {spec.depth}, hidden activation {spec.activation}, output activation "
            f"{spec.output_activation}, loss {spec.loss}; {c.x.size} sample{'s' if c.x.size > 1 else ''}; "
            f"learning rate {c.learning_rate:g}, up to {c.steps} steps.",
        ),
        par("Outcome: " + h.message + "."),
        Table(header, tuple(rows), "Per layer"),
        *([curve] if marks else []),  # no finite loss at all: nothing to draw
    ]
    if T and spec.depth > 1:
        first, last = h.relative_update[0, 0], h.relative_update[0, -1]
        if first > 0 and last > 0:
            moves = (
                f"At the first step w1 moves by {fmt(100 * first, 3)}% of its value and "
                f"w{spec.depth} by {fmt(100 * last, 3)}%"
            )
            smaller = (
                f": the first layer's update is {fmt(last / first, 3)} times smaller in relative terms"
                if last > first
                else ""
            )
            blocks.append(par(moves + smaller + "."))
    return blocks


def remedies_document(rows: tuple[RemedyRow, ...], steps: int) -> list[Block]:
    """The remedies table: one row per run, with the reason it helps or not."""
    header: tuple[Inline, ...] = (
        "problem",
        "remedy",
        "steps to tolerance",
        "diverged",
        "final loss",
        Math("min |dL/dw|", r"\min_k |\partial L/\partial w_k|"),
        Math("max |dL/dw|", r"\max_k |\partial L/\partial w_k|"),
    )
    table = Table(
        header,
        tuple(
            (
                r.problem,
                r.name,
                str(r.steps_to_tolerance) if r.steps_to_tolerance is not None else "-",
                "yes" if r.diverged else "no",
                num(r.final_loss, 4),
                num(r.min_abs_grad, 3),
                num(r.max_abs_grad, 3),
            )
            for r in rows
        ),
        f"Same starting weights, {steps} steps each",
    )
    return [
        Heading("Remedies for exploding and vanishing gradients", 1),
        par(
            "Exploding: the exercise's regression net (target 128) at learning rate 1, tolerance 1e-6 "
            "on the l2 loss. Vanishing: a depth-6 sigmoid chain, N(0, 1) weights, 64 seeded 1-D "
            "classification samples, learning rate 1, tolerance 0.2 on the bce loss. Gradients are at the "
            "start (full batch).",
        ),
        table,
        Bullets(tuple(par(f"{r.name}: {r.why}. Outcome: {r.outcome}.") for r in rows)),
    ]
