"""Documents of one gradient trace: the forward and backward tables, the log-magnitude table,
and ``trace_document`` (``gradtrace grad``). Every number comes from the ``Trace``."""

from __future__ import annotations

import numpy as np

from gradtrace.backprop import Trace
from gradtrace.logmode import LogTrace
from gradtrace.render.blocks import (
    Block,
    Bullets,
    Heading,
    Inline,
    Math,
    Paragraph,
    Table,
    fmt,
    join,
    m,
    num,
    par,
    phi_name,
)

__all__ = [
    "backward_table",
    "forward_table",
    "log_table",
    "result_line",
    "spec_line",
    "trace_document",
]


def _input_name(k: int) -> str:
    """The input of layer ``k + 1``: ``x`` for the first, ``a_k`` after."""
    return "x" if k == 0 else f"a{k}"


def forward_table(trace: Trace) -> Table:
    """``z_k`` and ``a_k`` per layer, with the product that gives ``z_k``."""
    rows = []
    inputs = trace.inputs
    for k in range(trace.depth):
        prev = _input_name(k)
        skip = f"{prev} + " if trace.spec.residual and k < trace.depth - 1 else ""
        zdef, zcalc = f"w{k + 1} {prev}", f"{fmt(trace.weights[k])} * {fmt(inputs[k])}"
        if trace.biases is not None:
            zdef += f" + b{k + 1}"
            zcalc += f" + {fmt(trace.biases[k])}"
        phi = phi_name(trace.spec.phi(k + 1).name)
        rows.append(
            (
                str(k + 1),
                m(f"z{k + 1} = {zdef} = {zcalc}"),
                num(trace.z[k]),
                m(f"a{k + 1} = {skip}{phi}(z{k + 1})"),
                num(trace.a[k]),
            )
        )
    return Table(("layer", "pre-activation", "z", "activation", "a"), tuple(rows), "Forward pass")


def backward_table(trace: Trace) -> Table:
    """``phi'(z_k)``, ``delta_k`` with its chain-rule factors, and ``dL/dw_k`` per layer."""
    L = trace.depth
    inputs = trace.inputs
    rows = []
    for k in range(L - 1, -1, -1):
        phi = phi_name(trace.spec.phi(k + 1).name)
        i = k + 1
        d_phi = fmt(trace.activation_derivative[k])
        if k == L - 1:
            if trace.spec.fused_bce:
                rule = f"y - y_hat = {fmt(trace.prediction)} - {fmt(trace.target)}"
            else:
                rule = f"dL/dy * {phi}'(z{i}) = {fmt(trace.dloss_dprediction)} * {d_phi}"
        elif trace.spec.residual and k < L - 2 and trace.dloss_dactivation is not None:
            g = trace.dloss_dactivation[k]  # skip path: dL/da_i = dL/da_(i+1) + delta_(i+1) w_(i+1)
            rule = f"(dL/da{i + 1} + delta{i + 1} * w{i + 1}) * {phi}'(z{i}) = {fmt(g)} * {d_phi}"
        else:
            rule = (
                f"delta{i + 1} * w{i + 1} * {phi}'(z{i}) = {fmt(trace.delta[k + 1])} * "
                f"{fmt(trace.weights[k + 1])} * {d_phi}"
            )
        grad = f"delta{i} * {_input_name(k)} = {fmt(trace.delta[k])} * {fmt(inputs[k])}"
        row: tuple[Inline, ...] = (
            str(i),
            num(trace.activation_derivative[k]),
            m(rule),
            num(trace.delta[k]),
            m(grad),
            num(trace.grad_weight[k]),
        )
        if trace.grad_bias is not None:
            row = (*row, num(trace.grad_bias[k]))
        rows.append(row)
    header: tuple[Inline, ...] = (
        "layer",
        m("phi'(z)"),
        m("delta = dL/dz"),
        m("delta"),
        m("dL/dw = delta * a_(k-1)"),
        m("dL/dw"),
    )
    if trace.grad_bias is not None:
        header = (*header, m("dL/db"))
    return Table(header, tuple(rows), "Backward pass (from the output back)")


def spec_line(trace: Trace) -> Paragraph:
    """The chain's architecture and numbers: weights, biases, input and target."""
    sp_ = trace.spec

    def values(name: str, vs: np.ndarray) -> Math:
        return m(", ".join(f"{name}{k + 1} = {fmt(v)}" for k, v in enumerate(vs)))

    parts: list[Inline] = [
        f"Depth {sp_.depth}, hidden activation {sp_.activation}, output activation "
        f"{sp_.output_activation}, loss {sp_.loss}; ",
        values("w", trace.weights),
        ", ",
    ]
    if trace.biases is not None:
        parts += [values("b", trace.biases), ", "]
    parts += [m(f"x = {fmt(trace.x)}"), ", ", m(f"y_hat = {fmt(trace.target)}"), "."]
    return Paragraph(tuple(parts))


def result_line(trace: Trace) -> Paragraph:
    """The prediction, the loss, ``dL/dy`` and every ``dL/dw_k``."""
    grads = [m(f"dL/dw{k + 1} = {fmt(g)}") for k, g in enumerate(trace.grad_weight)]
    return par(
        "Prediction ",
        m(f"y = {fmt(trace.prediction)}"),
        ", loss ",
        m(f"L = {fmt(trace.loss)}"),
        ", ",
        m(f"dL/dy = {fmt(trace.dloss_dprediction)}"),
        ". Gradients: ",
        *join(grads),
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
    header: tuple[Inline, ...] = ("layer", m("log10|delta|"), m("log10|dL/dw|"), "sign", "float64")
    return Table(
        header, tuple(rows), "Log-magnitude mode (exact where float64 under- or overflows)"
    )


def trace_document(trace: Trace, title: str = "Gradient trace") -> list[Block]:
    """Forward and backward tables of an unbatched trace (``gradtrace grad``)."""
    if trace.batch_shape:
        raise ValueError("trace_document needs an unbatched trace")
    blocks: list[Block] = [
        Heading(title, 1),
        spec_line(trace),
        forward_table(trace),
        backward_table(trace),
        result_line(trace),
    ]
    if trace.warnings:
        blocks.append(Bullets(tuple(par("warning: " + msg) for msg in trace.warnings)))
    return blocks
