"""The ``gradtrace`` command line: the Typer app, its commands in order, and ``main``.

Commands::

    gradtrace solve  [--format text|markdown|latex|json]
    gradtrace grad   (--preset NAME | --weights W1,W2,.. --x X --target T) [spec flags] [--json]
    gradtrace derive (--preset NAME | --depth N) [spec flags] [--format ...]
    gradtrace montecarlo (--preset NAME | --depth N) [spec flags] [--samples N --seed S ...]
    gradtrace depth [--activation A --std S --depths 1,10,100,... --samples N --seed S]
    gradtrace train (--preset NAME | --weights W1,..,WL | --dataset N) [--lr LR --steps T ...]
    gradtrace remedies [--steps T --seed S]
    gradtrace theory [--activation A --sigma-w2 S --sigma-b2 B --depth L --figure PATH]
    gradtrace jacobian [--activation A --sigma-w2 S --sigma-b2 B --depth L --width N --init I ...]
    gradtrace report --out DIR [--samples N --seed S --quick --force]
    gradtrace monitor-report RECORDS [--out DIR --force]
    gradtrace reproduce NAME [--seed S --quick --json --format ... --figure PATH --store PATH]
    gradtrace sweep GRID.toml --store PATH [--scheduler tcp://HOST:PORT | --workers N] [--retry-failed] [--prune]
    gradtrace sweep-status PATH [--json]
    gradtrace serve [--host H --port P]

Each command lives in its group's module (``exercise``, ``lab``, ``theory``, ``runs``,
``serve``), takes its options (``options``: defaults and help from the registry,
``gradtrace.service.defaults``), calls one function of the application layer
(``gradtrace.service.application``, which the web API calls too) and prints the result
(``output``). Bad input prints one line on stderr naming the option or the value and exits with
status 2.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer
import typer.core

from gradtrace import __version__
from gradtrace.cli import exercise, lab, runs, serve, theory
from gradtrace.core.errors import SpecError

if TYPE_CHECKING:
    from typer import _click  # the click that typer vendors: its Context

__all__ = ["app", "main"]

HELP = "Exact, explained gradients of chain networks: watch them vanish and explode."

app = typer.Typer(
    name="gradtrace",
    help=HELP,
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


class _Command(typer.core.TyperCommand):
    """A command whose usage line names a required argument as its help does (``RECORDS``),
    not in typer's braces (``{RECORDS}``, which reads as a set or a template)."""

    def collect_usage_pieces(self, ctx: _click.Context) -> list[str]:
        pieces = super().collect_usage_pieces(ctx)
        return [p[1:-1] if p.startswith("{") and p.endswith("}") else p for p in pieces]


# the order of `gradtrace --help`
for command in (
    exercise.solve,
    exercise.grad,
    exercise.derive,
    lab.montecarlo,
    lab.depth,
    lab.train,
    lab.remedies,
    theory.theory,
    theory.jacobian,
    runs.report,
    runs.monitor_report,
    runs.reproduce,
    runs.sweep,
    runs.sweep_status,
    serve.serve,
):
    app.command(command.__name__.replace("_", "-"), cls=_Command)(command)


# ---- errors: one line on stderr, exit status 2 ----------------------------------------------


def _fail(message: str) -> int:
    sys.stderr.write(f"gradtrace: error: {' '.join(message.split())}\n")
    return 2


def _usage_message(e: Exception) -> str:
    """A click-style parse error (typer vendors click, so it is matched by its shape; a
    MissingParameter is a BadParameter too, with its own message) as one
    line: ``--option: what is wrong``, with a hint to the command's help."""
    param = getattr(e, "param", None)
    if type(e) is typer.BadParameter and param is not None and getattr(param, "opts", None):
        message = f"{param.opts[0]}: {str(e.message).removeprefix('Value error, ')}"
    else:
        message = str(getattr(e, "format_message", e.__str__)())
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
