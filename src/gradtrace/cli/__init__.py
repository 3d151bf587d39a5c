"""The ``gradtrace`` command line: thin wrappers that parse flags, call one function, print.

Commands::

    gradtrace solve  [--format text|markdown|latex|json]
    gradtrace grad   (--preset NAME | --weights W1,W2,.. --x X --target T) [spec flags] [--json]
    gradtrace derive (--preset NAME | --depth N) [spec flags] [--format ...]
    gradtrace montecarlo (--preset NAME | --depth N) [spec flags] [--samples N --seed S ...]
    gradtrace depth [--activation A --std S --depths 1,10,100,... --samples N --seed S]
    gradtrace train (--preset NAME | --weights W1,..,WL | --dataset N) [--lr LR --steps T ...]
    gradtrace remedies [--steps T --seed S]
    gradtrace jacobian [--activation A --sigma-w2 S --sigma-b2 B --depth L --width N --init I ...]
    gradtrace theory [--activation A --sigma-w2 S --sigma-b2 B --depth L --figure PATH]
    gradtrace report --out DIR [--samples N --seed S --quick --force]
    gradtrace reproduce NAME [--seed S --quick --json --format ... --figure PATH --store PATH]
    gradtrace sweep GRID.toml --store PATH [--scheduler tcp://HOST:PORT | --workers N] [--retry-failed] [--prune]
    gradtrace sweep-status PATH [--json]
    gradtrace serve [--host H --port P]

Options are typed (numbers, whole numbers, comma lists) and parsed here; every command then
calls the application layer (``gradtrace.service.application``), which the web API calls too. Options take
``--name value`` or ``--name=value`` (``--weights=-1.2,0.4``). Bad input prints one line on
stderr naming the option or the value and exits with status 2.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Annotated, Any

import typer

from gradtrace import __version__
from gradtrace.core.errors import SpecError
from gradtrace.lab.depth import DEFAULT_DEPTHS
from gradtrace.present.exercise_doc import CLOSED_FORM_DEPTH
from gradtrace.present.trace_doc import MOST_LAYERS

__all__ = ["app", "main"]

app = typer.Typer(
    name="gradtrace",
    help="Exact, explained gradients of chain networks: watch them vanish and explode.",
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"gradtrace {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit"
        ),
    ] = False,
) -> None:
    """Exact, explained gradients of chain networks: watch them vanish and explode."""


class Format(StrEnum):
    text = "text"
    markdown = "markdown"
    latex = "latex"
    json = "json"


# ---- option types: a number, a whole number, comma lists of either ---------------------------


class Numbers(tuple[float, ...]):
    """A comma list of numbers, as parsed from ``--weights=0.25,-0.11,0.78``."""


class Wholes(tuple[int, ...]):
    """A comma list of whole numbers, as parsed from ``--depths 1,10,100``."""


def _number(text: str | float) -> float:
    if isinstance(text, float | int):
        return float(text)
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None


def _whole(text: str | int) -> int:
    if isinstance(text, int):
        return text
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None


def _workers(text: str | int) -> int:
    n = _whole(text)
    if n < 1:
        raise ValueError(f"must be at least 1, got {n}")
    return n


def _scheduler(text: str) -> str:
    from gradtrace.sweep.runner import check_scheduler

    try:
        return check_scheduler(text)
    except SpecError as e:
        raise ValueError(str(e).removeprefix("--scheduler ")) from None


def _numbers(text: str | Numbers) -> Numbers:
    if isinstance(text, Numbers):
        return text
    items = [s.strip() for s in text.split(",")]
    out = []
    for i, item in enumerate(items, start=1):
        try:
            out.append(float(item))
        except ValueError:
            raise ValueError(f"{item!r} is not a number (item {i} of {text!r})") from None
    return Numbers(out)


def _wholes(text: str | Wholes) -> Wholes:
    if isinstance(text, Wholes):
        return text
    out = []
    for v in _numbers(text):
        if v != int(v):
            raise ValueError(f"{v:g} is not a whole number")
        out.append(int(v))
    return Wholes(out)


_DEPTHS = Wholes(DEFAULT_DEPTHS)

ACTIVATION_HELP = "sigmoid, tanh, relu, leaky_relu, softsign or identity"

PresetOpt = Annotated[
    str | None,
    typer.Option(
        metavar="NAME",
        help="exercise-classification or exercise-regression: supplies every other option "
        "(options given explicitly override it)",
    ),
]
ActivationOpt = Annotated[
    str | None,
    typer.Option(metavar="NAME", help=f"Hidden activation: {ACTIVATION_HELP} [default: sigmoid]"),
]
OutputActivationOpt = Annotated[
    str | None,
    typer.Option(metavar="NAME", help=f"Output activation: {ACTIVATION_HELP} [default: sigmoid]"),
]
LossOpt = Annotated[
    str | None,
    typer.Option(metavar="NAME", help="bce (needs a sigmoid output), l2 or huber [default: bce]"),
]
WeightsOpt = Annotated[
    Numbers | None,
    typer.Option(
        parser=_numbers, metavar="W1,...,WL", help="Comma-separated weights (their count: depth)"
    ),
]
XOpt = Annotated[float | None, typer.Option("--x", parser=_number, help="The input x")]
TargetOpt = Annotated[float | None, typer.Option(parser=_number, help="The label or target y_hat")]
DepthOpt = Annotated[int | None, typer.Option(parser=_whole, help="Number of layers L")]
SeedOpt = Annotated[
    int, typer.Option(parser=_whole, help="Seed (the same seed gives the same result)")
]
StdOpt = Annotated[float, typer.Option(parser=_number, help="Standard deviation of the weights")]
InitOpt = Annotated[
    str,
    typer.Option(metavar="NAME", help="normal: N(0, std^2); uniform: the same variance"),
]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (same as --format json)")]
# for the commands without --format
PlainJsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON")]
QuietOpt = Annotated[bool, typer.Option("--quiet", help="No progress bar")]
ResidualOpt = Annotated[
    bool, typer.Option("--residual", help="Skip connections: hidden a_k = a_(k-1) + phi(z_k)")
]


# ---- output ---------------------------------------------------------------------------------


def _write(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _json(obj: Any) -> None:
    _write(json.dumps(obj, indent=2, allow_nan=False))


def _console() -> Any:
    """A rich console: the terminal's width; piped, ``$COLUMNS`` if set, else 110."""
    import shutil

    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else shutil.get_terminal_size((110, 24))[0])


def _emit(blocks: list[Any], fmt: Format) -> None:
    if fmt is Format.text:
        from gradtrace.present.text import print_document

        print_document(blocks, _console())
    elif fmt is Format.markdown:
        from gradtrace.present.markdown import document_markdown

        _write(document_markdown(blocks))
    else:
        from gradtrace.present.latex import document_latex

        _write(document_latex(blocks))


def _output(
    result: Any,
    fmt: Format,
    as_json: bool,
    to_json: Callable[[Any], dict[str, Any]],
    to_document: Callable[[Any], list[Any]],
) -> None:
    """Print ``result`` as JSON (``to_json``) or as a document in ``fmt`` (``to_document``)."""
    if as_json or fmt is Format.json:
        _json(to_json(result))
    else:
        _emit(to_document(result), fmt)


def _bar(quiet: bool, as_json: bool, fmt: Format) -> bool:
    """Whether to show a progress bar: on a terminal, unless --quiet or JSON output."""
    return not (quiet or as_json or fmt is Format.json) and sys.stderr.isatty()


# ---- commands -------------------------------------------------------------------------------


@app.command()
def solve(fmt: FormatOpt = Format.text) -> None:
    """The worked solution of the exercise, parts a-d, step by step."""
    from gradtrace.lab.exercise import solve as solve_exercise
    from gradtrace.present.exercise_doc import solution_document
    from gradtrace.present.json import solution_dict

    _output(solve_exercise(), fmt, False, solution_dict, solution_document)


@app.command()
def grad(
    preset: PresetOpt = None,
    weights: WeightsOpt = None,
    biases: Annotated[
        Numbers | None,
        typer.Option(
            parser=_numbers, metavar="B1,...,BL", help="Comma-separated biases, one per layer"
        ),
    ] = None,
    x: XOpt = None,
    target: TargetOpt = None,
    activation: ActivationOpt = None,
    output_activation: OutputActivationOpt = None,
    loss: LossOpt = None,
    depth: Annotated[
        int | None, typer.Option(parser=_whole, help="Check that --weights has this many entries")
    ] = None,
    residual: ResidualOpt = False,
    log: Annotated[
        bool, typer.Option("--log", help="Also give log10|dL/dw| exactly (log-magnitude mode)")
    ] = False,
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
    """Forward and backward pass of any chain: every z, a, phi'(z), delta and dL/dw."""
    from gradtrace.service import application

    problem = application.resolve_problem(
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
    result = application.grad(problem, log=log)
    if as_json or fmt is Format.json:
        _json(application.grad_json(result))
        return
    from gradtrace.present.trace_doc import trace_document

    blocks = trace_document(
        result.trace,
        title=problem.title,
        log_trace=result.log_trace,
        most_layers=None if all_layers else MOST_LAYERS,
    )
    _emit(blocks, fmt)


@app.command()
def derive(
    preset: PresetOpt = None,
    depth: DepthOpt = None,
    activation: ActivationOpt = None,
    output_activation: OutputActivationOpt = None,
    loss: LossOpt = None,
    biases: Annotated[
        bool, typer.Option("--biases/--no-biases", help="Add a bias b_k to each layer")
    ] = False,
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
    """Symbolic gradients dL/dw_k (and dL/db_k) of a chain, in chain-product and closed form."""
    from gradtrace.present.exercise_doc import derivation_document
    from gradtrace.present.json import derivation_dict
    from gradtrace.service import application

    spec = application.resolve_spec(
        preset=preset,
        depth=depth,
        activation=activation,
        output_activation=output_activation,
        loss=loss,
        biases=biases,
    )
    deriv = application.derive(spec)
    if fmt is Format.json:
        closed = closed_form is not False
    else:
        closed = closed_form if closed_form is not None else spec.depth <= CLOSED_FORM_DEPTH
    bar = _bar(quiet, False, Format.text) and closed and spec.depth > CLOSED_FORM_DEPTH
    with _progress(enabled=bar, description="closed forms") as update:
        _output(
            deriv,
            fmt,
            False,
            lambda d: derivation_dict(d, closed=closed, progress=update),
            lambda d: derivation_document(d, closed=closed, progress=update),
        )


@app.command()
def montecarlo(
    preset: PresetOpt = None,
    depth: Annotated[
        int | None, typer.Option(parser=_whole, help="Number of layers L (at most 100)")
    ] = None,
    activation: ActivationOpt = None,
    output_activation: OutputActivationOpt = None,
    loss: LossOpt = None,
    biases: Annotated[
        bool, typer.Option("--biases/--no-biases", help="Draw a bias per layer too")
    ] = False,
    residual: ResidualOpt = False,
    x: Annotated[
        float | None,
        typer.Option(
            "--x", parser=_number, help="The input x [default: the preset's, else part (b)'s]"
        ),
    ] = None,
    target: Annotated[
        float | None,
        typer.Option(
            parser=_number, help="The label y_hat [default: the preset's, else part (b)'s]"
        ),
    ] = None,
    draw_x: Annotated[bool, typer.Option("--draw-x", help="Draw x ~ N(0, 1) per sample")] = False,
    draw_target: Annotated[
        bool,
        typer.Option("--draw-target", help="Draw the label per sample (bce: 0 or 1; l2: N(0, 1))"),
    ] = False,
    init: InitOpt = "normal",
    std: StdOpt = 1.0,
    samples: Annotated[
        int, typer.Option(parser=_whole, help="Number of initializations")
    ] = 100_000,
    seed: SeedOpt = 0,
    chunk_size: Annotated[
        int,
        typer.Option(
            parser=_whole, help="Samples between progress updates (results do not change)"
        ),
    ] = 262_144,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
    fmt: FormatOpt = Format.text,
) -> None:
    """Distribution of |dL/dw_k| per layer over random initializations (N(0, 1) by default)."""
    from gradtrace.lab.montecarlo import run_montecarlo
    from gradtrace.present.json import montecarlo_dict
    from gradtrace.present.lab_doc import montecarlo_document
    from gradtrace.service import application

    config = application.montecarlo_config(
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
    with _progress(enabled=_bar(quiet, as_json, fmt)) as update:
        result = run_montecarlo(config, progress=update)
    _output(result, fmt, as_json, montecarlo_dict, montecarlo_document)


@app.command()
def depth(
    activation: Annotated[
        str, typer.Option(metavar="NAME", help=f"Activation of every layer: {ACTIVATION_HELP}")
    ] = "sigmoid",
    std: StdOpt = 1.0,
    depths: Annotated[
        Wholes,
        typer.Option(
            parser=_wholes,
            metavar="D1,D2,...",
            help="Comma-separated depths, each 1 to 10,000",
            show_default=",".join(map(str, _DEPTHS)),
        ),
    ] = _DEPTHS,
    samples: Annotated[int, typer.Option(parser=_whole, help="Chains per depth")] = 200,
    seed: SeedOpt = 0,
    init: InitOpt = "normal",
    x: Annotated[float, typer.Option("--x", parser=_number, help="The input x")] = 1.0,
    target: Annotated[
        float, typer.Option(parser=_number, help="The target y_hat (l2 loss, identity output)")
    ] = 0.0,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
    fmt: FormatOpt = Format.text,
) -> None:
    """log10|dL/dw_1| against depth (up to 10,000) and the per-layer rate, fitted and expected."""
    from gradtrace.lab.depth import run_depth
    from gradtrace.present.json import depth_dict
    from gradtrace.present.lab_doc import depth_document
    from gradtrace.service import application

    config = application.depth_config(
        activation=activation,
        std=std,
        depths=depths,
        samples=samples,
        seed=seed,
        x=x,
        target=target,
        init=init,
    )
    with _progress(enabled=_bar(quiet, as_json, fmt)) as update:
        result = run_depth(config, progress=update)
    _output(result, fmt, as_json, depth_dict, depth_document)


@app.command()
def train(
    preset: PresetOpt = None,
    weights: Annotated[
        Numbers | None,
        typer.Option(parser=_numbers, metavar="W1,...,WL", help="Comma-separated starting weights"),
    ] = None,
    activation: ActivationOpt = None,
    output_activation: OutputActivationOpt = None,
    loss: LossOpt = None,
    residual: ResidualOpt = False,
    x: Annotated[
        float | None, typer.Option("--x", parser=_number, help="The input x (one sample)")
    ] = None,
    target: Annotated[
        float | None,
        typer.Option(parser=_number, help="The label or target y_hat (one sample)"),
    ] = None,
    dataset: Annotated[
        int | None,
        typer.Option(
            parser=_whole,
            help="Train on N seeded 1-D samples instead of one (the preset's chain, else part (b)'s)",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(parser=_whole, help="Seed of --dataset")] = 0,
    learning_rate: Annotated[
        float, typer.Option("--learning-rate", "--lr", parser=_number, help="Step size")
    ] = 0.01,
    steps: Annotated[
        int, typer.Option(parser=_whole, help="Most steps to take (at most 100,000)")
    ] = 1000,
    tolerance: Annotated[
        float, typer.Option(parser=_number, help="A loss at or below this counts as converged")
    ] = 1e-6,
    clip_norm: Annotated[
        float | None,
        typer.Option(
            parser=_number,
            help="Clip the gradient's norm to this (Pascanu et al. 2013) [default: no clipping]",
        ),
    ] = None,
    target_scale: Annotated[
        float, typer.Option(parser=_number, help="Divide every target by this and train on that")
    ] = 1.0,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
    fmt: FormatOpt = Format.text,
) -> None:
    """Gradient descent step by step: converged, oscillating or diverged, and how each layer moved."""
    from gradtrace.lab.training import train as run_training
    from gradtrace.present.json import train_dict
    from gradtrace.present.lab_doc import train_document
    from gradtrace.service import application

    if dataset is None and x is None and preset is None:
        raise SpecError("give --x and --target, --dataset N, or --preset", field="x")
    if dataset is None and target is None and preset is None:
        raise SpecError("give --target (the label y_hat), --dataset N, or --preset", field="target")
    config = application.train_config(
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
    with _progress(enabled=_bar(quiet, as_json, fmt)) as update:
        history = run_training(config, progress=update)
    _output(history, fmt, as_json, train_dict, train_document)


@app.command()
def remedies(
    steps: Annotated[
        int, typer.Option(parser=_whole, help="Steps per run (the same budget for every row)")
    ] = 300,
    seed: Annotated[
        int, typer.Option(parser=_whole, help="Seed of the vanishing case's weights and data")
    ] = 0,
    as_json: JsonOpt = False,
    fmt: FormatOpt = Format.text,
) -> None:
    """Remedies side by side: smaller steps, clipping, target scaling, Huber; tanh, relu, a larger
    init, skip connections."""
    from gradtrace.lab.remedies import run_remedies
    from gradtrace.present.json import remedies_dict
    from gradtrace.present.lab_doc import remedies_document

    rows = run_remedies(steps=steps, seed=seed)
    _output(rows, fmt, as_json, remedies_dict, lambda r: remedies_document(r, steps))


@app.command()
def theory(
    activation: Annotated[
        str, typer.Option(metavar="NAME", help=f"Activation of every layer: {ACTIVATION_HELP}")
    ] = "tanh",
    sigma_w2: Annotated[
        float,
        typer.Option(
            "--sigma-w2", parser=_number, help="Weight variance: W_ij ~ N(0, sigma_w2 / N)"
        ),
    ] = 1.5,
    sigma_b2: Annotated[
        float,
        typer.Option("--sigma-b2", parser=_number, help="Bias variance: b_i ~ N(0, sigma_b2)"),
    ] = 0.05,
    depth: Annotated[
        int, typer.Option(parser=_whole, help="Layers L of the predicted gradient growth")
    ] = 20,
    figure: Annotated[
        str | None,
        typer.Option(
            "--figure",
            metavar="PATH",
            help="Save the phase diagram (critical line, xi_c contours, your point) as PNG",
        ),
    ] = None,
    simulate: Annotated[
        bool,
        typer.Option(
            "--simulate", help="Also simulate random nets of --width units and --depth layers"
        ),
    ] = False,
    width: Annotated[
        int, typer.Option(parser=_whole, help="Units per layer of the simulated nets")
    ] = 500,
    samples: Annotated[int, typer.Option(parser=_whole, help="Simulated nets")] = 4,
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
    fmt: FormatOpt = Format.text,
) -> None:
    """Mean-field theory: q*, c*, chi_1, depth scales, phase and the critical line."""
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
        try:
            from gradtrace.present.figures import phase_diagram_figure, save
        except ImportError as e:
            raise SpecError(f"--figure needs the plots extra: {e}") from None
        from pathlib import Path

        mf = result.mean_field
        fig = phase_diagram_figure(application.theory_grid(mf), (mf.sigma_w2, mf.sigma_b2))
        target = Path(figure)
        if not target.parent.is_dir():
            raise SpecError(f"--figure: folder {str(target.parent)!r} does not exist")
        save(fig, target.with_suffix(""))
    _output(
        result,
        fmt,
        as_json,
        lambda r: theory_dict(r.mean_field, r.simulated),
        lambda r: theory_document(r.mean_field, r.growth, r.simulated),
    )


@app.command()
def jacobian(
    activation: Annotated[
        str, typer.Option(metavar="NAME", help=f"Activation of every layer: {ACTIVATION_HELP}")
    ] = "tanh",
    sigma_w2: Annotated[
        float,
        typer.Option(
            "--sigma-w2",
            parser=_number,
            help="Weight variance: W_ij ~ N(0, sigma_w2 / N), or sqrt(sigma_w2) Q",
        ),
    ] = 1.05,
    sigma_b2: Annotated[
        float,
        typer.Option("--sigma-b2", parser=_number, help="Bias variance: b_i ~ N(0, sigma_b2)"),
    ] = 0.0,
    depth: Annotated[int, typer.Option(parser=_whole, help="Layers L")] = 10,
    width: Annotated[int, typer.Option(parser=_whole, help="Units N per layer")] = 200,
    init: Annotated[
        str, typer.Option(metavar="NAME", help="gaussian or orthogonal (scaled Haar) weights")
    ] = "orthogonal",
    samples: Annotated[int, typer.Option(parser=_whole, help="Random nets drawn")] = 4,
    seed: SeedOpt = 0,
    figure: Annotated[
        str | None,
        typer.Option(
            "--figure",
            metavar="PATH",
            help="Save the histogram of the squared singular values as PNG (and SVG)",
        ),
    ] = None,
    as_json: JsonOpt = False,
    fmt: FormatOpt = Format.text,
) -> None:
    """Squared singular values of deep random nets' Jacobians, measured and predicted."""
    from gradtrace.present.json import jacobian_dict
    from gradtrace.present.spectra_doc import jacobian_document
    from gradtrace.service import application

    target = None
    if figure is not None:
        from pathlib import Path

        target = Path(figure)
        if not target.parent.is_dir():  # before any work: fail fast, write nothing
            raise SpecError(f"--figure: folder {str(target.parent)!r} does not exist")
        try:
            from gradtrace.present.figures import jacobian_histogram_figure, save
        except ImportError as e:
            raise SpecError(f"--figure needs the plots extra: {e}") from None
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
    if target is not None:
        save(jacobian_histogram_figure([result]), target.with_suffix(""))
    _output(result, fmt, as_json, jacobian_dict, jacobian_document)


@app.command()
def report(
    out: Annotated[
        str,
        typer.Option(
            "--out", metavar="DIR", help="Folder to create (it must not exist, unless --force)"
        ),
    ],
    samples: Annotated[
        int, typer.Option(parser=_whole, help="Monte Carlo initializations per depth")
    ] = 100_000,
    seed: Annotated[int, typer.Option(parser=_whole, help="Seed of every random draw")] = 0,
    force: Annotated[bool, typer.Option("--force", help="Replace the folder if it exists")] = False,
    quick: Annotated[
        bool, typer.Option("--quick", help="Fewer samples and steps (a draft in seconds)")
    ] = False,
    quiet: QuietOpt = False,
) -> None:
    """One self-contained HTML report (and a Markdown twin, figures, config.json) in --out."""
    from pathlib import Path

    try:  # the plots extra: checked before any work, one line if it is missing
        import gradtrace.present.figures  # noqa: F401
        from gradtrace.present.report import STAGES, build_report, check_output_folder, write_report
        from gradtrace.service.application import report_config
    except ImportError as e:
        raise SpecError(f"report needs the plots extra ({e})") from None
    target = Path(out)
    check_output_folder(target, force=force)  # before any work: fail fast, write nothing
    config = report_config(seed=seed, samples=samples, quick=quick)
    with _progress(enabled=not quiet and sys.stderr.isatty()) as update:
        stages = iter(range(1, len(STAGES) + 1))
        built = build_report(
            config, progress=(lambda _m: update(next(stages), len(STAGES))) if update else None
        )
    paths = write_report(built, target, force=force)
    sys.stdout.write(f"wrote {len(paths)} files to {target}/ (open {target / 'report.html'})\n")


@app.command("monitor-report")
def monitor_report(
    records: Annotated[
        str,
        typer.Argument(
            metavar="RECORDS",
            help="A run saved by GradientMonitor.save (.csv, .parquet or .json)",
            show_default=False,
        ),
    ],
    out: Annotated[
        str,
        typer.Option(
            "--out", metavar="DIR", help="Folder to create (it must not exist, unless --force)"
        ),
    ] = "monitor-report",
    force: Annotated[bool, typer.Option("--force", help="Replace the folder if it exists")] = False,
) -> None:
    """Render a gradient-monitor run: verdict, heat map, per-parameter summary (HTML in --out)."""
    from pathlib import Path

    try:  # the plots extra: one line if it is missing
        import gradtrace.present.figures  # noqa: F401
        from gradtrace.present.report import monitor_report as write
    except ImportError as e:
        raise SpecError(f"monitor-report needs the plots extra ({e})") from None
    target = Path(out)
    paths = write(Path(records), target, force=force)
    sys.stdout.write(f"wrote {len(paths)} files to {target}/ (open {target / 'report.html'})\n")


@app.command()
def reproduce(
    name: Annotated[
        str,
        typer.Argument(
            metavar="NAME",
            help="he2015, glorot2010, schoenholz2017, pennington2017, hanin2018 or trainability",
            show_default=False,
        ),
    ],
    seed: SeedOpt = 0,
    quick: Annotated[
        bool, typer.Option("--quick", help="Smaller nets and fewer samples (seconds)")
    ] = False,
    figure: Annotated[
        str | None,
        typer.Option(metavar="PATH", help="Also draw the figure to PATH (.png, .svg or .pdf)"),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(
            metavar="PATH",
            help="trainability: the sweep's store [default: ~/.cache/gradtrace/sweeps/GRID.db]",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            parser=_workers,
            help="trainability: local Dask worker processes [default: one per core]",
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            metavar="tcp://HOST:PORT",
            parser=_scheduler,
            help="trainability: run on this Dask cluster",
        ),
    ] = None,
    grid: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="trainability: the shipped grid (trainability, trainability-quick, "
            "trainability-cluster) [default: trainability; trainability-quick with --quick]",
        ),
    ] = None,
    as_json: JsonOpt = False,
    fmt: FormatOpt = Format.text,
) -> None:
    """A classic paper's result, reproduced: its table, anchors and (with --figure) figure."""
    from pathlib import Path

    from gradtrace.present.json import reproduction_dict
    from gradtrace.present.reproduce_doc import reproduction_document
    from gradtrace.reproduce import get_reproduction
    from gradtrace.service import application

    get_reproduction(name)  # a bad name fails before any work
    if figure is not None:
        try:
            from gradtrace.present import figures as plots
        except ImportError as e:
            raise SpecError(str(e), field="figure") from None
    sweep = {"store": store, "workers": workers, "scheduler": scheduler, "grid": grid}
    given = {k: v for k, v in sweep.items() if v is not None}
    if given and name != "trainability":
        option = next(iter(given))
        raise SpecError(f"--{option} applies to 'trainability' only, not {name!r}", field=option)
    result = application.reproduce(name, seed=seed, quick=quick, **given)
    if figure is not None:
        plots.save_figure(plots.reproduction_figure(result), Path(figure))
    _output(result, fmt, as_json, reproduction_dict, reproduction_document)


@app.command()
def sweep(
    grid: Annotated[
        str, typer.Argument(metavar="GRID.toml", help="The grid file", show_default=False)
    ],
    store: Annotated[
        str,
        typer.Option(
            metavar="PATH", help="The SQLite store (created if missing; a rerun resumes it)"
        ),
    ],
    scheduler: Annotated[
        str | None,
        typer.Option(
            metavar="tcp://HOST:PORT",
            parser=_scheduler,
            help="Run on this Dask cluster's scheduler",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            parser=_workers, help="Worker processes of the local cluster [default: one per core]"
        ),
    ] = None,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Compute the failed cells again too")
    ] = False,
    prune: Annotated[
        bool,
        typer.Option(
            "--prune",
            help="Delete the stored cells that are not in this grid (kept otherwise)",
        ),
    ] = False,
    quiet: QuietOpt = False,
    as_json: PlainJsonOpt = False,
) -> None:
    """Run a grid of cells on Dask into a store; a rerun computes only what is not done yet."""
    from gradtrace.present.sweep_doc import plan_lines, report_dict, report_lines
    from gradtrace.service import application

    axes: tuple[str, ...] | None = None

    def on_plan(checked: Any, new: Any, to_run: int) -> None:
        nonlocal axes
        axes = tuple(checked.axes)
        if not as_json:
            sys.stdout.write("\n".join(plan_lines(new, to_run, axes)) + "\n")
            sys.stdout.flush()

    try:
        with _progress(enabled=_bar(quiet, as_json, Format.text), description="cells") as update:
            report = application.sweep(
                grid,
                store=store,
                scheduler=scheduler,
                workers=workers,
                retry_failed=retry_failed,
                prune=prune,
                on_plan=on_plan,
                progress=update,
            )
    except KeyboardInterrupt:
        try:
            done = application.sweep_status(store).cells_done
        except SpecError:
            done = 0
        sys.stdout.flush()
        sys.stderr.write(
            f"interrupted: {done} cell{'s' * (done != 1)} done {'are' if done != 1 else 'is'} "
            "kept; rerun the same command to resume\n"
        )
        raise typer.Exit(130) from None
    if as_json:
        _json(report_dict(report))
    else:
        _write("\n".join(report_lines(report, axes)))


@app.command("sweep-status")
def sweep_status(
    store: Annotated[str, typer.Argument(metavar="PATH", help="The store", show_default=False)],
    as_json: PlainJsonOpt = False,
) -> None:
    """How far a sweep's store is: cells total, done and failed."""
    from gradtrace.present.sweep_doc import status_dict, status_line
    from gradtrace.service import application

    status = application.sweep_status(store)
    if as_json:
        _json(status_dict(status))
    else:
        _write(status_line(status))


@app.command()
def serve(
    host: Annotated[
        str,
        typer.Option(metavar="HOST", help="Address to bind (only this machine by default)"),
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(parser=_whole, help="Port to listen on (0: any free port)")
    ] = 8000,
) -> None:
    """Start the explorer page and its JSON API (needs the web extra: pip install gradtrace[web])."""
    if not 0 <= port <= 65535:
        raise SpecError(f"--port must be between 0 and 65535, got {port}", field="port")
    try:
        from gradtrace.web.server import serve as serve_explorer
    except ImportError as e:
        raise SpecError(
            f"serve needs the web extra ({e.name} is missing): pip install 'gradtrace[web]'"
        ) from None
    serve_explorer(host, port)


@contextmanager
def _progress(
    *, enabled: bool, description: str = "sampling"
) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on stderr, or nothing (not a terminal, --quiet, --json)."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = bar.add_task(description, total=None)
    started = False

    def update(done: int, total: int) -> None:
        nonlocal started
        bar.update(task, completed=done, total=total)
        if not started:  # the bar starts with the work: lines printed before it stay above it
            bar.start()
            started = True

    try:
        yield update
    finally:
        if started:
            bar.stop()


# ---- errors: one line on stderr, exit status 2 ----------------------------------------------


def _fail(message: str) -> int:
    sys.stderr.write(f"gradtrace: error: {' '.join(message.split())}\n")
    return 2


def _usage_message(e: Any) -> str:
    """A click-style parse error (typer vendors click, so it is matched by its shape) as one
    line: ``--option: what is wrong``, with a hint to the command's help."""
    param = getattr(e, "param", None)
    if type(e).__name__ == "BadParameter" and param is not None and getattr(param, "opts", None):
        message = f"{param.opts[0]}: {str(e.message).removeprefix('Value error, ')}"
    else:
        message = e.format_message()
    ctx = getattr(e, "ctx", None)
    if ctx is not None and ctx.parent:
        message = message.rstrip(".") + f" (see 'gradtrace {ctx.info_name} --help')"
    return message


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 2 bad input)."""
    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name="gradtrace", standalone_mode=False)
    except SpecError as e:
        return _fail(str(e))
    except BrokenPipeError:  # e.g. `gradtrace solve | head`
        return 0
    except Exception as e:
        if type(e).__name__ == "NoArgsIsHelpError":  # bare `gradtrace`: show the help
            ctx = getattr(e, "ctx", None)
            sys.stdout.write((ctx.get_help() if ctx else "") + "\n")
            return 0
        if hasattr(e, "format_message") and isinstance(getattr(e, "exit_code", None), int):
            return _fail(_usage_message(e))
        if isinstance(e, typer.Abort):
            return _fail("aborted")
        raise
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
