"""The ``gradtrace`` command line: thin wrappers that parse flags, call one function, print.

Commands::

    gradtrace solve  [--format text|markdown|latex|json]
    gradtrace grad   (--preset NAME | --weights W1,W2,.. --x X --target T) [spec flags] [--json]
    gradtrace derive (--preset NAME | --depth N) [spec flags] [--format ...]
    gradtrace montecarlo (--preset NAME | --depth N) [spec flags] [--samples N --seed S ...]
    gradtrace depth [--activation A --std S --depths 1,10,100,... --samples N --seed S]
    gradtrace train (--preset NAME | --weights W1,..,WL) [--lr LR --steps T --dataset N ...]
    gradtrace remedies [--steps T --seed S]
    gradtrace report --out DIR [--samples N --seed S --quick --force]

Options take ``--name value`` or ``--name=value`` (``--weights=-1.2,0.4``). Bad input prints one
line on stderr naming the value and exits with status 2.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Annotated, Any

import typer

from gradtrace.errors import SpecError

__all__ = ["app", "main"]

app = typer.Typer(
    name="gradtrace",
    help="Exact, explained gradients of chain networks: watch them vanish and explode.",
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


class Format(StrEnum):
    text = "text"
    markdown = "markdown"
    latex = "latex"
    json = "json"


ACTIVATION_HELP = "sigmoid, tanh, relu, leaky_relu, softsign or identity"

PresetOpt = Annotated[
    str | None,
    typer.Option(
        help="exercise-classification or exercise-regression: supplies every other option "
        "(options given explicitly override it)"
    ),
]
ActivationOpt = Annotated[
    str | None, typer.Option(help=f"Hidden activation: {ACTIVATION_HELP} [default: sigmoid]")
]
OutputActivationOpt = Annotated[
    str | None, typer.Option(help=f"Output activation: {ACTIVATION_HELP} [default: sigmoid]")
]
LossOpt = Annotated[
    str | None, typer.Option(help="bce (needs a sigmoid output), l2 or huber [default: bce]")
]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (same as --format json)")]
QuietOpt = Annotated[bool, typer.Option("--quiet", help="No progress bar")]
ResidualOpt = Annotated[
    bool, typer.Option("--residual", help="Skip connections: hidden a_k = a_(k-1) + phi(z_k)")
]


def _floats(text: str, option: str) -> list[float]:
    """Comma-separated numbers; SpecError naming the item that is not a number."""
    items = [s.strip() for s in text.split(",")]
    out = []
    for i, item in enumerate(items, start=1):
        try:
            out.append(float(item))
        except ValueError:
            raise SpecError(f"{option}: {item!r} is not a number (item {i} of {text!r})") from None
    return out


def _float(text: str | None, option: str) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        raise SpecError(f"{option}: {text!r} is not a number") from None


def _int(text: str | None, option: str) -> int | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise SpecError(f"{option}: {text!r} is not a whole number") from None


def _write(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _json(obj: Any) -> None:
    _write(json.dumps(obj, indent=2, allow_nan=False))


def _console() -> Any:
    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else 110)


def _emit(blocks: list[Any], fmt: Format) -> None:
    if fmt is Format.text:
        from gradtrace.render.text import print_document

        print_document(blocks, _console())
    elif fmt is Format.markdown:
        from gradtrace.render.markdown import document_markdown

        _write(document_markdown(blocks))
    else:
        from gradtrace.render.latex import document_latex

        _write(document_latex(blocks))


def _output(
    result: Any, fmt: Format, as_json: bool, to_json: str, to_document: str, *args: Any
) -> None:
    """Print ``result`` as JSON (``render.json.<to_json>``) or as a document in ``fmt``
    (``render.document.<to_document>``); the renderers are imported only when used."""
    if as_json or fmt is Format.json:
        from gradtrace.render import json as render_json

        _json(getattr(render_json, to_json)(result))
        return
    from gradtrace.render import document

    _emit(getattr(document, to_document)(result, *args), fmt)


def _bar(quiet: bool, as_json: bool, fmt: Format) -> bool:
    """Whether to show a progress bar: on a terminal, unless --quiet or JSON output."""
    return not (quiet or as_json or fmt is Format.json) and sys.stderr.isatty()


@app.command()
def solve(fmt: FormatOpt = Format.text) -> None:
    """The worked solution of the exercise, parts a-d, step by step."""
    from gradtrace.exercise import solve as solve_exercise

    _output(solve_exercise(), fmt, False, "solution_dict", "solution_document")


def _weights_or_preset(weights: str | None, p: Any) -> list[float]:
    """``--weights``, else the preset's weights; SpecError when neither is given."""
    if weights is not None:
        return _floats(weights, "--weights")
    if p is not None:
        return [float(v) for v in p.network.weights]
    raise SpecError("give --weights (for example --weights=0.25,-0.11,0.78) or --preset")


def _depth_or_preset(depth: str | None, p: Any) -> int:
    """``--depth``, else the preset's depth; SpecError when neither is given."""
    depth_n = _int(depth, "--depth")
    if depth_n is not None:
        return depth_n
    if p is not None:
        return p.network.depth
    raise SpecError("give --depth (the number of layers) or --preset")


def _spec_values(
    preset: str | None, activation: str | None, output_activation: str | None, loss: str | None
) -> tuple[Any, dict[str, str]]:
    from gradtrace.network import get_preset

    p = get_preset(preset) if preset is not None else None
    base = p.network.spec if p is not None else None
    values = {
        "activation": activation or (base.activation if base else "sigmoid"),
        "output_activation": output_activation or (base.output_activation if base else "sigmoid"),
        "loss": loss or (base.loss if base else "bce"),
    }
    return p, values


@app.command()
def grad(
    preset: PresetOpt = None,
    weights: Annotated[
        str | None, typer.Option(help="Comma-separated w1,...,wL (the depth is their count)")
    ] = None,
    biases: Annotated[
        str | None, typer.Option(help="Comma-separated b1,...,bL (one per layer)")
    ] = None,
    x: Annotated[str | None, typer.Option("--x", help="The input x")] = None,
    target: Annotated[str | None, typer.Option(help="The label or target y_hat")] = None,
    activation: ActivationOpt = None,
    output_activation: OutputActivationOpt = None,
    loss: LossOpt = None,
    depth: Annotated[
        str | None, typer.Option(help="Check that --weights has this many entries")
    ] = None,
    residual: ResidualOpt = False,
    log: Annotated[
        bool, typer.Option("--log", help="Also give log10|dL/dw| exactly (log-magnitude mode)")
    ] = False,
    as_json: JsonOpt = False,
    fmt: FormatOpt = Format.text,
) -> None:
    """Forward and backward pass of any chain: every z, a, phi'(z), delta and dL/dw."""
    from gradtrace.backprop import backprop, backprop_log
    from gradtrace.network import ChainSpec, Network

    p, spec_values = _spec_values(preset, activation, output_activation, loss)
    depth_n, x_in, t_in = _int(depth, "--depth"), _float(x, "--x"), _float(target, "--target")
    w = _weights_or_preset(weights, p)
    if depth_n is not None:
        ChainSpec(depth=depth_n, **spec_values)  # validates the depth itself
        if depth_n != len(w):
            raise SpecError(
                f"--depth {depth_n} does not match the {len(w)} weights given in --weights"
            )
    b = _floats(biases, "--biases") if biases is not None else None
    if x_in is None and p is None:
        raise SpecError("give --x (the input) or --preset")
    if t_in is None and p is None:
        raise SpecError("give --target (the label y_hat) or --preset")
    x_val = x_in if x_in is not None else p.x  # type: ignore[union-attr]
    t_val = t_in if t_in is not None else p.target  # type: ignore[union-attr]

    net = Network.chain(w, biases=b, residual=residual, **spec_values)
    trace = backprop(net, x_val, t_val)
    log_trace = backprop_log(net, x_val, t_val) if log else None
    if as_json or fmt is Format.json:
        from gradtrace.render.json import log_trace_dict, trace_dict

        out = trace_dict(trace)
        if log_trace is not None:
            out["log_magnitude"] = log_trace_dict(log_trace)
        _json(out)
        return
    from gradtrace.render.document import log_table, trace_document

    blocks = trace_document(
        trace, title=p.title if p is not None and weights is None else "Gradient trace"
    )
    if log_trace is not None:
        blocks.append(log_table(log_trace))
    _emit(blocks, fmt)


@app.command()
def derive(
    preset: PresetOpt = None,
    depth: Annotated[str | None, typer.Option(help="Number of layers L")] = None,
    activation: ActivationOpt = None,
    output_activation: OutputActivationOpt = None,
    loss: LossOpt = None,
    biases: Annotated[
        bool, typer.Option("--biases/--no-biases", help="Add a bias b_k to each layer")
    ] = False,
    fmt: FormatOpt = Format.text,
) -> None:
    """Symbolic gradients dL/dw_k (and dL/db_k) of a chain, in chain-product and closed form."""
    from gradtrace.network import ChainSpec
    from gradtrace.symbolic import derive_chain

    p, spec_values = _spec_values(preset, activation, output_activation, loss)
    depth_n = _depth_or_preset(depth, p)
    deriv = derive_chain(ChainSpec(depth=depth_n, biases=biases, **spec_values))
    _output(deriv, fmt, False, "derivation_dict", "derivation_document")


@app.command()
def montecarlo(
    preset: PresetOpt = None,
    depth: Annotated[str | None, typer.Option(help="Number of layers L (at most 100)")] = None,
    activation: ActivationOpt = None,
    output_activation: OutputActivationOpt = None,
    loss: LossOpt = None,
    biases: Annotated[
        bool, typer.Option("--biases/--no-biases", help="Draw a bias per layer too")
    ] = False,
    residual: ResidualOpt = False,
    x: Annotated[
        str | None, typer.Option("--x", help="The input x [default: 0.63, or the preset's]")
    ] = None,
    target: Annotated[
        str | None, typer.Option(help="The label y_hat [default: 1, or the preset's]")
    ] = None,
    draw_x: Annotated[bool, typer.Option("--draw-x", help="Draw x ~ N(0, 1) per sample")] = False,
    draw_target: Annotated[
        bool,
        typer.Option("--draw-target", help="Draw the label per sample (bce: 0 or 1; l2: N(0, 1))"),
    ] = False,
    init: Annotated[
        str, typer.Option(help="normal: N(0, std^2); uniform: the same variance")
    ] = "normal",
    std: Annotated[str, typer.Option(help="Standard deviation of the weights")] = "1",
    samples: Annotated[str, typer.Option(help="Number of initializations")] = "100000",
    seed: Annotated[str, typer.Option(help="Seed (the same seed gives the same result)")] = "0",
    chunk_size: Annotated[
        str, typer.Option(help="Samples between progress updates (results do not change)")
    ] = "262144",
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
    fmt: FormatOpt = Format.text,
) -> None:
    """Distribution of |dL/dw_k| per layer over random initializations (N(0, 1) by default)."""
    from gradtrace.lab.montecarlo import MonteCarloConfig, run_montecarlo
    from gradtrace.network import ChainSpec

    p, spec_values = _spec_values(preset, activation, output_activation, loss)
    depth_n = _depth_or_preset(depth, p)
    x_in, t_in = _float(x, "--x"), _float(target, "--target")
    default_x, default_t = (p.x, p.target) if p is not None else (0.63, 1.0)
    config = MonteCarloConfig(
        spec=ChainSpec(depth=depth_n, biases=biases, residual=residual, **spec_values),
        samples=_int(samples, "--samples"),  # type: ignore[arg-type]
        seed=_int(seed, "--seed"),  # type: ignore[arg-type]
        init=init,
        std=_float(std, "--std"),  # type: ignore[arg-type]
        x=None if draw_x else (x_in if x_in is not None else default_x),
        target=None if draw_target else (t_in if t_in is not None else default_t),
        chunk_size=_int(chunk_size, "--chunk-size"),  # type: ignore[arg-type]
    )
    with _progress(enabled=_bar(quiet, as_json, fmt)) as update:
        result = run_montecarlo(config, progress=update)
    _output(result, fmt, as_json, "montecarlo_dict", "montecarlo_document")


@app.command()
def depth(
    activation: Annotated[
        str, typer.Option(help=f"Activation of every layer: {ACTIVATION_HELP}")
    ] = "sigmoid",
    std: Annotated[str, typer.Option(help="Standard deviation of the weights")] = "1",
    depths: Annotated[
        str, typer.Option(help="Comma-separated depths, each 1 to 10,000")
    ] = "1,3,10,30,100,300,1000,3000,10000",
    samples: Annotated[str, typer.Option(help="Chains per depth")] = "200",
    seed: Annotated[str, typer.Option(help="Seed (the same seed gives the same result)")] = "0",
    init: Annotated[
        str, typer.Option(help="normal: N(0, std^2); uniform: the same variance")
    ] = "normal",
    x: Annotated[str, typer.Option("--x", help="The input x")] = "1",
    target: Annotated[str, typer.Option(help="The target y_hat (l2 loss, identity output)")] = "0",
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
    fmt: FormatOpt = Format.text,
) -> None:
    """log10|dL/dw_1| against depth (up to 10,000) and the per-layer rate, fitted and expected."""
    from gradtrace.lab.depth import DepthConfig, run_depth

    depth_list = tuple(int(v) for v in _floats(depths, "--depths") if _whole(v, "--depths"))
    config = DepthConfig(
        activation=activation,
        std=_float(std, "--std"),  # type: ignore[arg-type]
        depths=depth_list,
        samples=_int(samples, "--samples"),  # type: ignore[arg-type]
        seed=_int(seed, "--seed"),  # type: ignore[arg-type]
        x=_float(x, "--x"),  # type: ignore[arg-type]
        target=_float(target, "--target"),  # type: ignore[arg-type]
        init=init,
    )
    with _progress(enabled=_bar(quiet, as_json, fmt)) as update:
        result = run_depth(config, progress=update)
    _output(result, fmt, as_json, "depth_dict", "depth_document")


@app.command()
def train(
    preset: PresetOpt = None,
    weights: Annotated[
        str | None, typer.Option(help="Comma-separated starting weights w1,...,wL")
    ] = None,
    activation: ActivationOpt = None,
    output_activation: OutputActivationOpt = None,
    loss: LossOpt = None,
    residual: ResidualOpt = False,
    x: Annotated[str | None, typer.Option("--x", help="The input x (one sample)")] = None,
    target: Annotated[
        str | None, typer.Option(help="The label or target y_hat (one sample)")
    ] = None,
    dataset: Annotated[
        str | None, typer.Option(help="Train on N seeded 1-D samples instead of one")
    ] = None,
    seed: Annotated[str, typer.Option(help="Seed of --dataset")] = "0",
    learning_rate: Annotated[
        str, typer.Option("--learning-rate", "--lr", help="Step size")
    ] = "0.01",
    steps: Annotated[str, typer.Option(help="Most steps to take (at most 100,000)")] = "1000",
    tolerance: Annotated[
        str, typer.Option(help="A loss at or below this counts as converged")
    ] = "1e-6",
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
    fmt: FormatOpt = Format.text,
) -> None:
    """Gradient descent step by step: converged, oscillating or diverged, and how each layer moved."""
    from gradtrace.lab.training import TrainConfig, make_dataset
    from gradtrace.lab.training import train as run_training
    from gradtrace.network import Network

    p, spec_values = _spec_values(preset, activation, output_activation, loss)
    w = _weights_or_preset(weights, p)
    net = Network.chain(w, residual=residual, **spec_values)
    if dataset is not None:
        xs, ts = make_dataset(net.spec, _int(dataset, "--dataset"), _int(seed, "--seed"))  # type: ignore[arg-type]
    else:
        x_in, t_in = _float(x, "--x"), _float(target, "--target")
        if x_in is None and p is None:
            raise SpecError("give --x and --target, --dataset N, or --preset")
        if t_in is None and p is None:
            raise SpecError("give --target (the label y_hat), --dataset N, or --preset")
        xs = x_in if x_in is not None else p.x  # type: ignore[union-attr]
        ts = t_in if t_in is not None else p.target  # type: ignore[union-attr]
    config = TrainConfig(
        network=net,
        x=xs,
        target=ts,  # type: ignore[arg-type]
        learning_rate=_float(learning_rate, "--learning-rate"),  # type: ignore[arg-type]
        steps=_int(steps, "--steps"),  # type: ignore[arg-type]
        tolerance=_float(tolerance, "--tolerance"),  # type: ignore[arg-type]
    )
    with _progress(enabled=_bar(quiet, as_json, fmt)) as update:
        history = run_training(config, progress=update)
    _output(history, fmt, as_json, "train_dict", "train_document")


@app.command()
def remedies(
    steps: Annotated[
        str, typer.Option(help="Steps per run (the same budget for every row)")
    ] = "300",
    seed: Annotated[str, typer.Option(help="Seed of the vanishing case's weights and data")] = "0",
    as_json: JsonOpt = False,
    fmt: FormatOpt = Format.text,
) -> None:
    """Remedies side by side: smaller steps, clipping, target scaling, Huber; tanh, relu, init scale."""
    from gradtrace.lab.remedies import run_remedies

    n_steps = _int(steps, "--steps")
    rows = run_remedies(steps=n_steps, seed=_int(seed, "--seed"))  # type: ignore[arg-type]
    _output(rows, fmt, as_json, "remedies_dict", "remedies_document", n_steps)


@app.command()
def report(
    out: Annotated[
        str, typer.Option("--out", help="Folder to create (it must not exist, unless --force)")
    ],
    samples: Annotated[str, typer.Option(help="Monte Carlo initializations per depth")] = "100000",
    seed: Annotated[str, typer.Option(help="Seed of every random draw")] = "0",
    force: Annotated[bool, typer.Option("--force", help="Replace the folder if it exists")] = False,
    quick: Annotated[
        bool, typer.Option("--quick", help="Fewer samples and steps (a draft in seconds)")
    ] = False,
    quiet: QuietOpt = False,
) -> None:
    """One self-contained HTML report (and a Markdown twin, figures, config.json) in --out."""
    from pathlib import Path

    try:
        from gradtrace.report import (
            ReportConfig,
            build_report,
            check_output_folder,
            write_report,
        )
    except ImportError as e:
        raise SpecError(str(e)) from None
    n, s = _int(samples, "--samples"), _int(seed, "--seed")
    if quick:
        config = ReportConfig(
            seed=s,
            samples=min(n, 20_000),
            depth_samples=30,
            depths=(1, 10, 100, 1000),  # type: ignore[arg-type]
            train_steps=300,
            remedies_steps=100,
        )
    else:
        config = ReportConfig(seed=s, samples=n)  # type: ignore[arg-type]
    target = Path(out)
    check_output_folder(target, force=force)  # before any work: fail fast, write nothing
    with _progress(enabled=not quiet and sys.stderr.isatty()) as update:
        stages = iter(range(1, 6))
        built = build_report(
            config, progress=(lambda _m: update(next(stages), 5)) if update else None
        )
    paths = write_report(built, target, force=force)
    sys.stdout.write(f"wrote {len(paths)} files to {target}/ (open {target / 'report.html'})\n")


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="Address to bind (only this machine by default)")
    ] = "127.0.0.1",
    port: Annotated[str, typer.Option(help="Port to listen on (0: any free port)")] = "8000",
) -> None:
    """Start the explorer page and its JSON API (needs the web extra: pip install gradtrace[web])."""
    port_n = _int(port, "--port")
    if port_n is None or not 0 <= port_n <= 65535:
        raise SpecError(f"--port must be between 0 and 65535, got {port}")
    try:
        from gradtrace.web.server import serve as serve_explorer
    except ImportError as e:
        raise SpecError(
            f"serve needs the web extra ({e.name} is missing): pip install 'gradtrace[web]'"
        ) from None
    serve_explorer(host, port_n)


def _whole(value: float, option: str) -> bool:
    if value != int(value):
        raise SpecError(f"{option}: {value:g} is not a whole number")
    return True


@contextmanager
def _progress(*, enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on stderr, or nothing (not a terminal, --quiet, --json)."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("sampling", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _fail(message: str) -> int:
    sys.stderr.write(f"gradtrace: error: {' '.join(message.split())}\n")
    return 2


def _is_usage_error(e: Exception) -> bool:
    """A click-style parse error (click's or the copy that typer vendors)."""
    return hasattr(e, "format_message") and isinstance(getattr(e, "exit_code", None), int)


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
        if _is_usage_error(e):
            ctx = getattr(e, "ctx", None)
            hint = (
                f" (see 'gradtrace {ctx.info_name} --help')"
                if ctx is not None and ctx.parent
                else ""
            )
            return _fail(e.format_message() + hint)  # type: ignore[attr-defined]
        if isinstance(e, typer.Abort):
            return _fail("aborted")
        raise
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
