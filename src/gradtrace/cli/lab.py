"""``gradtrace montecarlo``, ``depth``, ``train`` and ``remedies``: the experiments over random
initializations, depth and training."""

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
    Wholes,
    number,
    numbers,
    option,
    whole,
    wholes,
)
from gradtrace.cli.output import output, progress, show_bar
from gradtrace.service.defaults import DEPTH, MONTECARLO, REMEDIES, TRAIN

__all__ = ["depth", "montecarlo", "remedies", "train"]

MC = MONTECARLO
_DEPTHS = Wholes(DEPTH.depths.default)


def montecarlo(
    preset: PresetOpt = None,
    depth: Annotated[int | None, option(MC.depth, parser=whole)] = None,
    activation: ActivationOpt = None,
    output_activation: OutputActivationOpt = None,
    loss: LossOpt = None,
    biases: Annotated[bool, option(MC.biases, "--biases/--no-biases")] = False,
    residual: ResidualOpt = False,
    x: Annotated[float | None, option(MC.x, "--x", parser=number)] = None,
    target: Annotated[float | None, option(MC.target, parser=number)] = None,
    draw_x: Annotated[bool, typer.Option("--draw-x", help="Draw x ~ N(0, 1) per sample")] = False,
    draw_target: Annotated[
        bool,
        typer.Option("--draw-target", help="Draw the label per sample (bce: 0 or 1; l2: N(0, 1))"),
    ] = False,
    init: Annotated[str, option(MC.init, metavar="NAME")] = MC.init.default,
    std: Annotated[float, option(MC.std, parser=number)] = MC.std.default,
    samples: Annotated[int, option(MC.samples, parser=whole)] = MC.samples.default,
    seed: Annotated[int, option(MC.seed, parser=whole)] = MC.seed.default,
    chunk_size: Annotated[int, option(MC.chunk_size, parser=whole)] = MC.chunk_size.default,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
    fmt: FormatOpt = Format.text,
) -> None:
    """|dL/dw_k| per layer over random initializations.

    The distribution of each layer's gradient over random weights (N(0, 1) by default).
    """
    from gradtrace.present.json import montecarlo_dict
    from gradtrace.present.lab_doc import montecarlo_document
    from gradtrace.service import application

    with progress(enabled=show_bar(quiet, as_json, fmt)) as update:
        result = application.montecarlo(
            progress=update,
            preset=preset,
            depth=depth,
            activation=activation,
            output_activation=output_activation,
            loss=loss,
            biases=biases,
            residual=residual,
            x=x,
            target=target,
            draw_x=draw_x,
            draw_target=draw_target,
            init=init,
            std=std,
            samples=samples,
            seed=seed,
            chunk_size=chunk_size,
        )
    output(result, fmt, as_json, montecarlo_dict, montecarlo_document)


def depth(
    activation: Annotated[str, option(DEPTH.activation, metavar="NAME")] = DEPTH.activation.default,
    std: Annotated[float, option(DEPTH.std, parser=number)] = DEPTH.std.default,
    depths: Annotated[
        Wholes,
        option(
            DEPTH.depths,
            parser=wholes,
            metavar="D1,D2,...",
            show_default=",".join(map(str, _DEPTHS)),
        ),
    ] = _DEPTHS,
    samples: Annotated[int, option(DEPTH.samples, parser=whole)] = DEPTH.samples.default,
    seed: Annotated[int, option(DEPTH.seed, parser=whole)] = DEPTH.seed.default,
    init: Annotated[str, option(DEPTH.init, metavar="NAME")] = DEPTH.init.default,
    x: Annotated[float, option(DEPTH.x, "--x", parser=number)] = DEPTH.x.default,
    target: Annotated[float, option(DEPTH.target, parser=number)] = DEPTH.target.default,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
    fmt: FormatOpt = Format.text,
) -> None:
    """log10|dL/dw_1| against depth, up to 10,000 layers.

    With the per-layer rate, fitted and expected.
    """
    from gradtrace.present.json import depth_dict
    from gradtrace.present.lab_doc import depth_document
    from gradtrace.service import application

    with progress(enabled=show_bar(quiet, as_json, fmt)) as update:
        result = application.depth(
            progress=update,
            activation=activation,
            std=std,
            depths=depths,
            samples=samples,
            seed=seed,
            x=x,
            target=target,
            init=init,
        )
    output(result, fmt, as_json, depth_dict, depth_document)


def train(
    preset: PresetOpt = None,
    weights: Annotated[
        Numbers | None, option(TRAIN.weights, parser=numbers, metavar="W1,...,WL")
    ] = None,
    activation: ActivationOpt = None,
    output_activation: OutputActivationOpt = None,
    loss: LossOpt = None,
    residual: ResidualOpt = False,
    x: Annotated[float | None, option(TRAIN.x, "--x", parser=number)] = None,
    target: Annotated[float | None, option(TRAIN.target, parser=number)] = None,
    dataset: Annotated[int | None, option(TRAIN.dataset, parser=whole)] = None,
    seed: Annotated[int, option(TRAIN.seed, parser=whole)] = TRAIN.seed.default,
    learning_rate: Annotated[
        float, option(TRAIN.learning_rate, "--learning-rate", "--lr", parser=number)
    ] = TRAIN.learning_rate.default,
    steps: Annotated[int, option(TRAIN.steps, parser=whole)] = TRAIN.steps.default,
    tolerance: Annotated[float, option(TRAIN.tolerance, parser=number)] = TRAIN.tolerance.default,
    clip_norm: Annotated[
        float | None, option(TRAIN.clip_norm, parser=number)
    ] = TRAIN.clip_norm.default,
    target_scale: Annotated[
        float, option(TRAIN.target_scale, parser=number)
    ] = TRAIN.target_scale.default,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
    fmt: FormatOpt = Format.text,
) -> None:
    """Gradient descent step by step, and how each layer moved.

    Whether it converged, oscillated or diverged, and how far each layer's weight moved.
    """
    from gradtrace.present.json import train_dict
    from gradtrace.present.lab_doc import train_document
    from gradtrace.service import application

    with progress(enabled=show_bar(quiet, as_json, fmt)) as update:
        history = application.train(
            progress=update,
            preset=preset,
            weights=weights,
            activation=activation,
            output_activation=output_activation,
            loss=loss,
            residual=residual,
            x=x,
            target=target,
            dataset=dataset,
            seed=seed,
            learning_rate=learning_rate,
            steps=steps,
            tolerance=tolerance,
            clip_norm=clip_norm,
            target_scale=target_scale,
        )
    output(history, fmt, as_json, train_dict, train_document)


def remedies(
    steps: Annotated[int, option(REMEDIES.steps, parser=whole)] = REMEDIES.steps.default,
    seed: Annotated[int, option(REMEDIES.seed, parser=whole)] = REMEDIES.seed.default,
    as_json: JsonOpt = False,
    fmt: FormatOpt = Format.text,
) -> None:
    """Remedies for exploding and vanishing gradients, compared.

    Smaller steps, clipping, target scaling, Huber; tanh, relu, a larger init, skip connections.
    """
    from gradtrace.present.json import remedies_dict
    from gradtrace.present.lab_doc import remedies_document
    from gradtrace.service import application

    rows = application.remedies(steps=steps, seed=seed)
    output(rows, fmt, as_json, remedies_dict, lambda r: remedies_document(r, steps))
