"""Documents of one gradient trace: the forward and backward tables, the log-magnitude table,
and ``trace_document`` (``gradtrace grad``). Every number comes from the ``Trace``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gradtrace.core.backprop import Trace
from gradtrace.core.logmode import LogTrace
from gradtrace.present.blocks import (
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


MOST_LAYERS = 40
"""Deeper traces are printed with their first and last ``MOST_LAYERS // 2`` layers only."""


def shown_layers(depth: int, most: int | None = MOST_LAYERS) -> list[int]:
    """The 0-based layers a document shows: all of them up to ``most`` (``None``: no limit),
    else the first and the last ``most // 2`` (where gradients start and where they end up)."""
    if most is None or depth <= most:
        return list(range(depth))
    half = max(most // 2, 1)
    return [*range(half), *range(depth - half, depth)]


def _with_gap(
    rows: Sequence[tuple[Inline, ...]], layers: list[int]
) -> tuple[tuple[Inline, ...], ...]:
    """``rows`` (one per entry of ``layers``, in that order) with a ``...`` row at each jump."""
    out: list[tuple[Inline, ...]] = []
    for i, row in enumerate(rows):
        if i and abs(layers[i] - layers[i - 1]) > 1:
            out.append(("...",) + ("",) * (len(row) - 1))
        out.append(row)
    return tuple(out)


def _input_name(k: int) -> str:
    """The input of layer ``k + 1``: ``x`` for the first, ``a_k`` after."""
    return "x" if k == 0 else f"a{k}"


def forward_table(trace: Trace, layers: list[int] | None = None) -> Table:
    """``z_k`` and ``a_k`` per layer (``layers``: the 0-based ones to show, default all), with
    the product that gives ``z_k``."""
    layers = list(range(trace.depth)) if layers is None else layers
    rows = []
    inputs = trace.inputs
    for k in layers:
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
    header: tuple[Inline, ...] = ("layer", "pre-activation", "z", "activation", "a")
    return Table(header, _with_gap(rows, layers), "Forward pass")


def backward_table(trace: Trace, layers: list[int] | None = None) -> Table:
    """``phi'(z_k)``, ``delta_k`` with its chain-rule factors, and ``dL/dw_k`` per layer
    (``layers``: the 0-based ones to show, default all), from the output back. The two columns
    of products (``delta_k = ...``, ``dL/dw_k = ...``) go under their row where the terminal is
    too narrow for them (``Table.under``)."""
    L = trace.depth
    layers = sorted(range(L) if layers is None else layers, reverse=True)
    inputs = trace.inputs
    rows = []
    for k in layers:
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
        grad = f"dL/dw{i} = delta{i} * {_input_name(k)} = {fmt(trace.delta[k])} * {fmt(inputs[k])}"
        row: tuple[Inline, ...] = (
            str(i),
            num(trace.activation_derivative[k]),
            m(f"delta{i} = {rule}"),
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
    caption = "Backward pass (from the output back)"
    return Table(header, _with_gap(rows, layers), caption, under=(2, 4))


def _listing(name: str, values: np.ndarray, layers: list[int]) -> str:
    """``w1 = 0.25, w2 = -0.11, ...`` over ``layers``, with ``...`` where layers are left out."""
    items: list[str] = []
    for i, k in enumerate(layers):
        if i and k - layers[i - 1] > 1:
            items.append("...")
        items.append(f"{name}{k + 1} = {fmt(values[k])}")
    return ", ".join(items)


def spec_line(trace: Trace, layers: list[int] | None = None) -> Paragraph:
    """The chain's architecture and numbers: weights, biases, input and target (``layers``: the
    0-based layers whose numbers to list, default all)."""
    sp_ = trace.spec
    shown = list(range(trace.depth)) if layers is None else layers

    def values(name: str, vs: np.ndarray) -> Math:
        return m(_listing(name, vs, shown))

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


def result_line(trace: Trace, layers: list[int] | None = None) -> Paragraph:
    """The prediction, the loss, ``dL/dy`` and ``dL/dw_k`` (``layers``: the 0-based layers to
    list, default all)."""
    shown = list(range(trace.depth)) if layers is None else layers
    grads = [m(_listing("dL/dw", trace.grad_weight, shown))]
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


def log_table(lt: LogTrace, layers: list[int] | None = None) -> Table:
    """Log-magnitude mode: ``log10|dL/dw_k|`` with its sign, and where float64 lost the value
    (``layers``: the 0-based layers to show, default all)."""
    if lt.loss.shape:
        raise ValueError("log_table needs an unbatched trace")
    layers = list(range(lt.spec.depth)) if layers is None else layers
    rows: list[tuple[Inline, ...]] = []
    for k in layers:
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
        header,
        _with_gap(rows, layers),
        "Log-magnitude mode (exact where float64 under- or overflows)",
    )


def trace_document(
    trace: Trace,
    title: str = "Gradient trace",
    *,
    log_trace: LogTrace | None = None,
    most_layers: int | None = MOST_LAYERS,
) -> list[Block]:
    """Forward and backward tables of an unbatched trace (``gradtrace grad``), and the
    log-magnitude table when ``log_trace`` is given. A chain deeper than ``most_layers`` shows
    its first and last layers only, and says so (``None``: every layer)."""
    if trace.batch_shape:
        raise ValueError("trace_document needs an unbatched trace")
    layers = shown_layers(trace.depth, most_layers)
    blocks: list[Block] = [Heading(title, 1), spec_line(trace, layers)]
    if len(layers) < trace.depth:
        half = len(layers) // 2
        blocks.append(
            par(
                f"Layers {half + 1} to {trace.depth - half} ({trace.depth - len(layers):,} of "
                f"{trace.depth:,}) are left out of the tables below; --all-layers prints every "
                "layer, and --json gives every number."
            )
        )
    blocks += [
        forward_table(trace, layers),
        backward_table(trace, layers),
        result_line(trace, layers),
    ]
    if trace.warnings:
        blocks.append(Bullets(tuple(par("warning: " + msg) for msg in trace.warnings)))
    if log_trace is not None:
        blocks.append(log_table(log_trace, layers))
    return blocks
