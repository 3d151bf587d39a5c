"""``gradtrace solve``, ``grad`` and ``derive``: the exercise, one chain's trace, its symbolic
gradients."""

from __future__ import annotations

from typing import Annotated

import typer

from gradtrace.cli.options import (
    ActivationOpt,
    Format,
    FormatOpt,
    JsonOpt,
    LossOpt,
    Numbers,
    OutputActivationOpt,
    PresetOpt,
    QuietOpt,
    ResidualOpt,
    TargetOpt,
    XOpt,
    numbers,
    option,
    whole,
)
from gradtrace.cli.output import emit, output, print_json, progress, show_bar
from gradtrace.present.exercise_doc import CLOSED_FORM_DEPTH
from gradtrace.present.trace_doc import MOST_LAYERS
from gradtrace.service.defaults import DERIVE, TRACE

__all__ = ["derive", "grad", "solve"]


def solve(fmt: FormatOpt = Format.text) -> None:
    """The exercise's worked solution, parts a-d, step by step.

    Every derivation, product and number of the 1-D sigmoid chain of docs/exercise.md.
    """
    from gradtrace.present.exercise_doc import solution_document
    from gradtrace.present.json import solution_dict
    from gradtrace.service import application

    output(application.solve(), fmt, False, solution_dict, solution_document)


def grad(
    preset: PresetOpt = None,
    weights: Annotated[
        Numbers | None, option(TRACE.weights, parser=numbers, metavar="W1,...,WL")
    ] = None,
    biases: Annotated[
        Numbers | None, option(TRACE.biases, parser=numbers, metavar="B1,...,BL")
    ] = None,
    x: XOpt = None,
    target: TargetOpt = None,
    activation: ActivationOpt = None,
    output_activation: OutputActivationOpt = None,
    loss: LossOpt = None,
    depth: Annotated[int | None, option(TRACE.depth, parser=whole)] = None,
    residual: ResidualOpt = False,
    log: Annotated[bool, option(TRACE.log, "--log")] = False,
    all_layers: Annotated[
        bool,
        typer.Option(
            "--all-layers",
            help=f"Print every layer (past {MOST_LAYERS} layers the text shows the first and "
            "last ones)",
        ),
    ] = False,
    as_json: JsonOpt = False,
    fmt: FormatOpt = Format.text,
) -> None:
    """Forward and backward pass of any chain, factor by factor.

    Every z, a, phi'(z), delta and dL/dw, with the chain-rule product that gives it.
    """
    from gradtrace.service import application

    result = application.grad(
        log=log,
        preset=preset,
        weights=weights,
        biases=biases,
        x=x,
        target=target,
        activation=activation,
        output_activation=output_activation,
        loss=loss,
        residual=residual,
        depth=depth,
    )
    if as_json or fmt is Format.json:
        print_json(application.grad_json(result))
        return
    from gradtrace.present.trace_doc import trace_document

    blocks = trace_document(
        result.trace,
        title=result.problem.title,
        log_trace=result.log_trace,
        most_layers=None if all_layers else MOST_LAYERS,
    )
    emit(blocks, fmt)


def derive(
    preset: PresetOpt = None,
    depth: Annotated[int | None, option(DERIVE.depth, parser=whole)] = None,
    activation: ActivationOpt = None,
    output_activation: OutputActivationOpt = None,
    loss: LossOpt = None,
    biases: Annotated[bool, option(DERIVE.biases, "--biases/--no-biases")] = False,
    closed_form: Annotated[
        bool | None,
        typer.Option(
            "--closed-form/--no-closed-form",
            help=f"Write the closed forms [default: up to depth {CLOSED_FORM_DEPTH}; JSON always]",
            show_default=False,
        ),
    ] = None,
    quiet: QuietOpt = False,
    fmt: FormatOpt = Format.text,
) -> None:
    """Symbolic gradients of a chain, derived by SymPy.

    dL/dw_k (and dL/db_k) of a chain, in chain-product and closed form.
    """
    from gradtrace.present.exercise_doc import derivation_document
    from gradtrace.present.json import derivation_dict
    from gradtrace.service import application

    deriv = application.derive(
        preset=preset,
        depth=depth,
        activation=activation,
        output_activation=output_activation,
        loss=loss,
        biases=biases,
    )
    if fmt is Format.json:
        closed = closed_form is not False
    else:
        closed = closed_form if closed_form is not None else deriv.spec.depth <= CLOSED_FORM_DEPTH
    bar = show_bar(quiet) and closed and deriv.spec.depth > CLOSED_FORM_DEPTH
    with progress(enabled=bar, description="closed forms") as update:
        output(
            deriv,
            fmt,
            False,
            lambda d: derivation_dict(d, closed=closed, progress=update),
            lambda d: derivation_document(d, closed=closed, progress=update),
        )
