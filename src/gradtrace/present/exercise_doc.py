"""The document of the worked exercise (``gradtrace solve``, parts a-d). Every number and formula
comes from ``Solution``; the builders only choose words and layout. Part (a) is built in
``sigmoid_doc``; the derivations and chain products in ``derive_doc``, which also holds the
document of ``gradtrace derive`` (re-exported here, where the CLI imports it)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from gradtrace.core.backprop import Trace
from gradtrace.lab.exercise import NumericPart, Solution
from gradtrace.present.blocks import (
    Block,
    Bullets,
    Equations,
    Heading,
    Inline,
    Math,
    Paragraph,
    Table,
    change,
    fmt,
    formula,
    human,
    join,
    latex_of,
    par,
    pct,
    unicode_of,
)
from gradtrace.present.derive_doc import (
    CLOSED_FORM_DEPTH,
    chain_product_lines,
    derivation_document,
    derivation_lines,
    verified_note,
)
from gradtrace.present.sigmoid_doc import sigmoid_part
from gradtrace.present.trace_doc import backward_table, forward_table, result_line

__all__ = ["CLOSED_FORM_DEPTH", "derivation_document", "solution_document"]


# ---- the terminal's spelling of the trace tables --------------------------------------------------


# the regression output is y, not a3 (which names s(z3) in part b)
_REGRESSION_NAMES = {"a3 = identity(z3)": "y = z3", "identity'(z3)": "dy/dz3"}


def _uni(x: Inline, names: dict[str, str]) -> Inline:
    if not isinstance(x, Math):
        return x
    plain, latex = x.plain, x.latex
    for old, new in names.items():
        if old in plain:
            plain = plain.replace(old, new)
            latex = latex_of(plain)
    return Math(unicode_of(plain), latex)


def _unicode(block: Block, names: dict[str, str]) -> Block:
    """A table or paragraph built in the plain notation (``trace_doc``), spelled in unicode
    for the terminal (its LaTeX unchanged), with ``names`` replaced."""
    if isinstance(block, Table):
        rows = tuple(tuple(_uni(c, names) for c in row) for row in block.rows)
        return replace(block, header=tuple(_uni(h, names) for h in block.header), rows=rows)
    if isinstance(block, Paragraph):
        return Paragraph(tuple(_uni(p, names) for p in block.parts))
    return block


def _grads(t: Trace) -> list[Inline]:
    return join([formula(f"dL/dw{k + 1} = ", human(g)) for k, g in enumerate(t.grad_weight)])


# ---- parts (b) to (d) ---------------------------------------------------------------------------


def _tables(p: NumericPart) -> list[Block]:
    t = p.trace
    names = _REGRESSION_NAMES if t.spec.output_activation == "identity" else {}
    return [_unicode(b, names) for b in (forward_table(t), backward_table(t), result_line(t))]


def _ratio_working(p: NumericPart) -> Math:
    """``|dL/dw3| / |dL/dw1| = a2 / |w3 s'(z2) · w2 s'(z1) · x| = ... = 144.6``."""
    t = p.trace
    L = t.depth
    factors = [f"w{j + 1} s'(z{j})" for j in range(L - 1, 0, -1)]
    # five digits, so that the shown arithmetic gives the quoted ratio to its four
    values = " * ".join(fmt(abs(f), 5) for f in t.backward_factor[::-1])
    return formula(
        f"|dL/dw{L}| / |dL/dw1| = a{L - 1} / |{' * '.join(factors)} * x| = ",
        f"{fmt(t.inputs[-1], 5)} / ({values} * {fmt(abs(t.x), 5)}) = ",
        human(p.ratio_to_last[0], 4),
    )


def _steps_bullet(p: NumericPart, *, explain: bool = False) -> list[Paragraph]:
    """One bullet per gradient step of ``p``; ``explain`` says, once, what the percentages are."""
    t = p.trace
    out = []
    for i, st in enumerate(p.steps):
        note = explain and i == 0
        changes = [
            [formula(f"w{k + 1}: "), change(w0, w1)]
            for k, (w0, w1) in enumerate(zip(t.weights, st.weights_after, strict=True))
        ]
        out.append(
            par(
                "One gradient step ",
                formula("w <- w - eta dL/dw"),
                " with ",
                formula(f"eta = {st.learning_rate:g}"),
                ": ",
                *join(changes, "; "),
                ". The loss goes ",
                change(t.loss, st.loss_after),
                *(
                    [" (each percentage: the change over ", formula("|w|"), " or over the loss)."]
                    if note
                    else ["."]
                ),
            )
        )
    return out


def _part_b(sol: Solution) -> list[Block]:
    p = sol.b
    t = p.trace
    frac = p.derivative_fraction_of_max
    ratios = p.ratio_to_last
    y, d_out = float(t.prediction), float(t.activation_derivative[-1])
    bound = [formula(f"|w{k + 2}|/4 = ", human(b, 4)) for k, b in enumerate(p.factor_bound)]
    first_lr = p.steps[-1]
    return [
        Heading("(b) Classification: backpropagation at the given point", 2),
        par(
            "Answer. At ",
            formula(_point(t)),
            ": ",
            *_grads(t),
            ". The gradient shrinks towards the input: ",
            formula("|dL/dw1|"),
            f" is {fmt(ratios[0], 4)} times smaller than ",
            formula("|dL/dw3|"),
            ", and ",
            formula("|dL/dw2|"),
            f" {fmt(ratios[1], 4)} times smaller.",
        ),
        Heading("Working: the output delta (cross-entropy through the sigmoid)", 3),
        par(
            "With ",
            formula("y = s(z3)"),
            " and ",
            formula("L = -(y_hat log y + (1 - y_hat) log(1 - y))"),
            ", the chain rule gives",
        ),
        derivation_lines(sol.b_delta, "delta3 = dL/dz3"),
        par(
            verified_note([sol.b_delta]),
            " This is why the sigmoid's own derivative ",
            formula("s'(z3) = y(1 - y) = "),
            human(d_out),
            ", printed for layer 3 in the table below, does not appear in ",
            formula("delta3"),
            ": it cancels against the denominators ",
            formula("y"),
            " and ",
            formula("1 - y"),
            " of ",
            formula("dL/dy = "),
            human(float(t.dloss_dprediction)),
            ". Here ",
            formula(f"delta3 = y - y_hat = {fmt(y)} - {fmt(t.target)} = "),
            human(float(t.delta[-1])),
            ".",
        ),
        Heading("Working: backpropagation", 3),
        par(
            "Going back, ",
            formula("delta_(k-1) = delta_k w_k s'(z_(k-1))"),
            " and ",
            formula("dL/dw_k = delta_k a_(k-1)"),
            " (with ",
            formula("a_0 = x"),
            ", ",
            formula("a_k = s(z_k)"),
            " and ",
            formula("s'(z_k) = a_k (1 - a_k)"),
            " from (a)). Written out:",
        ),
        chain_product_lines(sol.c, "(y - y_hat)"),
        *_tables(p),
        Heading("Why the gradients have these sizes", 3),
        Bullets(
            (
                par(
                    "Each layer passed back multiplies the gradient by ",
                    formula("w_j s'(z_(j-1))"),
                    ": here ",
                    *join(
                        [
                            formula(f"w{k + 2} s'(z{k + 1}) = ", human(f, 4))
                            for k, f in enumerate(t.backward_factor)
                        ]
                    ),
                    ". So ",
                    _ratio_working(p),
                    ".",
                ),
                par(
                    "The units are not saturated: ",
                    *join(
                        [
                            [formula(f"s'(z{k + 1})"), " is ", pct(f, 3), " of its maximum 1/4"]
                            for k, f in enumerate(frac[:-1])
                        ]
                    ),
                    ". The shrinking comes from the small weights: ",
                    *join(bound),
                    " are the most those factors could be. A sigmoid layer with a weight below 4 "
                    "in size cannot pass the gradient back undiminished.",
                ),
                *_steps_bullet(p, explain=True),
                par(
                    f"So with a learning rate of {first_lr.learning_rate:g}, ",
                    formula("w1"),
                    " moves by ",
                    pct(first_lr.relative_change[0], 2),
                    " of its value and ",
                    formula(f"w{t.depth}"),
                    " by ",
                    pct(first_lr.relative_change[-1], 3),
                    ": the first layer barely learns.",
                ),
            )
        ),
    ]


def _part_c(sol: Solution) -> list[Block]:
    c = sol.c
    verified = all(f.verified for f in sol.c_factored)
    return [
        Heading("(c) Regression: the gradients derived", 2),
        par(
            "Answer. Name the pre-activations ",
            formula("z1 = w1 x"),
            ", ",
            formula("z2 = w2 s(z1)"),
            " and the output ",
            formula("y = z3 = w3 s(z2)"),
            " (no sigmoid on it, so no ",
            formula("a3"),
            " here). Then",
        ),
        chain_product_lines(c, "2(y - y_hat)"),
        par(
            "with ",
            formula("s'(z) = s(z) (1 - s(z)) = (exp(-z))/((1 + exp(-z))^2)"),
            " from (a). Substituting ",
            formula("z1, z2"),
            " and y into each factor gives each gradient in ",
            formula("w1, w2, w3, x, y_hat"),
            " alone:",
        ),
        Equations(
            tuple(formula(f"dL/d{f.parameter} = {f.plain}") for f in reversed(sol.c_factored))
        ),
        Heading("Working", 3),
        par("The loss is ", formula("L = (y_hat - y)^2"), ", so"),
        derivation_lines(sol.c_dl_dy),
        par(
            "and, since the output has no activation, ",
            formula("delta3 = dL/dz3 = dL/dy * dy/dz3 = 2(y - y_hat) * 1"),
            ". Going back as in (b), ",
            formula("delta2 = delta3 w3 s'(z2)"),
            ", ",
            formula("delta1 = delta2 w2 s'(z1)"),
            ", and ",
            formula("dL/dw3 = delta3 s(z2)"),
            ", ",
            formula("dL/dw2 = delta2 s(z1)"),
            ", ",
            formula("dL/dw1 = delta1 x"),
            ": the formulas above. "
            + verified_note([sol.c_dl_dy])
            + (
                " SymPy also differentiates the whole loss "
                if verified
                else " SymPy differentiated the whole loss "
            ),
            formula("L = (y_hat - w3 s(w2 s(w1 x)))^2"),
            " by each weight directly and "
            + (
                "finds the same three gradients."
                if verified
                else "finds that some of the formulas above do NOT match."
            ),
        ),
        par(
            "Observation. Only the first factor, ",
            formula("2(y - y_hat)"),
            ", involves the target. It scales all three gradients alike; the rest is the "
            "sensitivity ",
            formula("dy/dw_k"),
            " of the prediction, the same chain of ",
            formula("w_j s'(z_(j-1))"),
            " factors as in (b). So the target can make the gradients large or small, but not "
            "change their ratios between layers.",
        ),
    ]


def _part_d(sol: Solution) -> list[Block]:
    p, b = sol.d, sol.b
    t = p.trace
    ratios = p.ratio_to_last
    scale = abs(float(t.grad_weight[-1] / b.trace.grad_weight[-1]))
    big = p.steps[-1]
    k_big = int(np.argmax(big.relative_change))
    blocks: list[Block] = [
        Heading("(d) Regression: the gradients at the given point", 2),
        par(
            "Answer. At ",
            formula(_point(t)),
            ": ",
            *_grads(t),
            ". They are ",
            human(scale, 4),
            " times larger than in (b), with the same ratios between layers (",
            formula("|dL/dw1|"),
            f" is {fmt(ratios[0], 4)} times smaller than ",
            formula("|dL/dw3|"),
            "): vanishing across layers and exploding in scale at once.",
        ),
        Heading("Working: the formulas of (c) at these numbers", 3),
        par(
            "The forward pass gives ",
            formula("y = "),
            human(float(t.prediction)),
            ", far from the target, so ",
            formula(f"dL/dy = 2(y - y_hat) = 2({fmt(t.prediction)} - {fmt(t.target)}) = "),
            human(float(t.dloss_dprediction)),
            ". This is ",
            formula("delta3"),
            ", since ",
            formula("dy/dz3 = 1"),
            ".",
        ),
        *_tables(p),
        Heading("Why the gradients have these sizes", 3),
    ]
    why = [
        par(
            "Behind the output, the chain is the one of (b): the same factors ",
            *join(
                [
                    formula(f"w{k + 2} s'(z{k + 1}) = ", human(f, 4))
                    for k, f in enumerate(t.backward_factor)
                ]
            ),
            ", hence the same ratio ",
            human(ratios[0], 4),
            ". What differs is the factor in front: ",
            formula("delta3 = 2(y - y_hat) = "),
            human(float(t.delta[-1])),
            " here, against ",
            formula("delta3 = y - y_hat = "),
            human(float(b.trace.delta[-1])),
            " in (b). That factor, ",
            human(abs(float(t.delta[-1] / b.trace.delta[-1])), 4),
            " times larger, is the whole difference.",
        ),
        par(
            "Divided by ",
            formula("dL/dy"),
            ", the gradients are the sensitivities ",
            *join([formula(f"dy/dw{k + 1} = ", human(v, 4)) for k, v in enumerate(p.sensitivity)]),
            ": ordinary sizes. The gradients are huge only because the target is far from "
            "anything the network outputs now.",
        ),
    ]
    if t.inputs[-1] != 0:
        need = t.target / t.inputs[-1]
        why.append(
            par(
                "The scale of the problem: to reach the target through the last layer alone, ",
                formula("w3"),
                " would have to be ",
                formula("y_hat / a2 = "),
                human(need, 4),
                ", ",
                human(abs(need / t.weights[-1]), 3),
                " times its present value.",
            )
        )
    why += _steps_bullet(p)
    why.append(
        par(
            f"So at a learning rate of {big.learning_rate:g}, ",
            formula(f"w{k_big + 1}"),
            " jumps by ",
            pct(big.relative_change[k_big], 3),
            " of its value",
            *(
                [" and changes sign"]
                if np.sign(big.weights_after[k_big]) != np.sign(t.weights[k_big])
                else []
            ),
            ", while ",
            formula("w1"),
            " moves by ",
            pct(big.relative_change[0], 3),
            ". Scaling the target or clipping the gradient norm tames the overall blow-up, but "
            "both rescale every layer's gradient by the same factor; the imbalance between "
            "layers needs per-parameter step sizes (RMSProp, Adam), a better initialization, or "
            "activations that do not saturate.",
        )
    )
    blocks.append(Bullets(tuple(why)))
    return blocks


def _point(t: Trace) -> str:
    ws = ", ".join(fmt(w) for w in t.weights)
    return f"w = ({ws}), x = {fmt(t.x)}, y_hat = {fmt(t.target)}"


def solution_document(sol: Solution) -> list[Block]:
    """The whole worked solution, parts a-d: each part opens with the answer, then the working
    (every derivation step checked by SymPy), then the observations, computed from the numbers."""
    intro = par(
        "The network is a chain of three one-unit layers without biases: ",
        formula("z1 = w1 x, a1 = s(z1), z2 = w2 a1, a2 = s(z2), z3 = w3 a2"),
        ", with the sigmoid ",
        formula("s(z) = (1)/(1 + exp(-z))"),
        ". Classification: ",
        formula("y = a3 = s(z3)"),
        " with the cross-entropy ",
        formula("L = -(y_hat log y + (1 - y_hat) log(1 - y))"),
        ". Regression: ",
        formula("y = z3"),
        " with ",
        formula("L = (y_hat - y)^2"),
        ". As in the exercise, ",
        formula("y"),
        " is the prediction and ",
        formula("y_hat"),
        " the label or target.",
    )
    return [
        Heading("Vanishing and exploding gradients: the exercise, solved", 1),
        intro,
        *sigmoid_part(sol),
        *_part_b(sol),
        *_part_c(sol),
        *_part_d(sol),
    ]
