"""``gradtrace theory`` and ``jacobian``: mean-field theory at a point, and the Jacobian spectra
of deep random nets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from gradtrace.cli.options import (
    Format,
    FormatOpt,
    JsonOpt,
    figure_option,
    number,
    option,
    whole,
)
from gradtrace.cli.output import output, save_figure
from gradtrace.service.defaults import JACOBIAN, THEORY

__all__ = ["jacobian", "theory"]

TH, JAC = THEORY, JACOBIAN


def theory(
    activation: Annotated[str, option(TH.activation, metavar="NAME")] = TH.activation.default,
    sigma_w2: Annotated[
        float, option(TH.sigma_w2, "--sigma-w2", parser=number)
    ] = TH.sigma_w2.default,
    sigma_b2: Annotated[
        float, option(TH.sigma_b2, "--sigma-b2", parser=number)
    ] = TH.sigma_b2.default,
    depth: Annotated[int, option(TH.depth, parser=whole)] = TH.depth.default,
    figure: Annotated[
        Path | None,
        figure_option("the phase diagram (critical line, xi_c contours, your point)"),
    ] = None,
    simulate: Annotated[bool, option(TH.simulate, "--simulate")] = TH.simulate.default,
    width: Annotated[int, option(TH.width, parser=whole)] = TH.width.default,
    samples: Annotated[int, option(TH.samples, parser=whole)] = TH.samples.default,
    seed: Annotated[int, option(TH.seed, parser=whole)] = TH.seed.default,
    as_json: JsonOpt = False,
    fmt: FormatOpt = Format.text,
) -> None:
    """Mean-field theory of deep, wide random nets.

    q*, c*, chi_1, the depth scales, the phase and the critical line.
    """
    from gradtrace.present.json import theory_dict
    from gradtrace.present.theory_doc import theory_document
    from gradtrace.service import application

    result = application.theory(
        activation,
        sigma_w2,
        sigma_b2,
        depth=depth,
        simulate=simulate,
        width=width,
        samples=samples,
        seed=seed,
    )
    if figure is not None:
        from gradtrace.present.figures import phase_diagram_figure

        mf = result.mean_field
        grid = application.theory_grid(mf)
        save_figure(phase_diagram_figure(grid, (mf.sigma_w2, mf.sigma_b2)), figure)
    output(
        result,
        fmt,
        as_json,
        lambda r: theory_dict(r.mean_field, r.simulated),
        lambda r: theory_document(r.mean_field, r.growth, r.simulated),
    )


def jacobian(
    activation: Annotated[str, option(JAC.activation, metavar="NAME")] = JAC.activation.default,
    sigma_w2: Annotated[
        float, option(JAC.sigma_w2, "--sigma-w2", parser=number)
    ] = JAC.sigma_w2.default,
    sigma_b2: Annotated[
        float, option(JAC.sigma_b2, "--sigma-b2", parser=number)
    ] = JAC.sigma_b2.default,
    depth: Annotated[int, option(JAC.depth, parser=whole)] = JAC.depth.default,
    width: Annotated[int, option(JAC.width, parser=whole)] = JAC.width.default,
    init: Annotated[str, option(JAC.init, metavar="NAME")] = JAC.init.default,
    samples: Annotated[int, option(JAC.samples, parser=whole)] = JAC.samples.default,
    seed: Annotated[int, option(JAC.seed, parser=whole)] = JAC.seed.default,
    figure: Annotated[
        Path | None, figure_option("the histogram of the squared singular values")
    ] = None,
    as_json: JsonOpt = False,
    fmt: FormatOpt = Format.text,
) -> None:
    """Jacobian spectra of random deep nets: measured, predicted.

    The squared singular values of the input-output Jacobian, against free probability.
    """
    from gradtrace.present.json import jacobian_dict
    from gradtrace.present.spectra_doc import jacobian_document
    from gradtrace.service import application

    result = application.jacobian(
        activation,
        sigma_w2,
        sigma_b2,
        depth=depth,
        width=width,
        init=init,
        samples=samples,
        seed=seed,
    )
    if figure is not None:
        from gradtrace.present.figures import jacobian_histogram_figure

        save_figure(jacobian_histogram_figure([result]), figure)
    output(result, fmt, as_json, jacobian_dict, jacobian_document)
