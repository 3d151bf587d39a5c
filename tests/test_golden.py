"""Golden outputs of every face: the CLI, the web API, the two reports and the page's files.

Issue #18 moves the package into new folders without changing what it does. These goldens were
captured from the code before the move and must pass unchanged after it. So this module uses only
interfaces that survive the move:
- the CLI through ``gradtrace.cli.main(argv)`` (in-process, output captured);
- the web API through the app factory, imported in ONE place below (``create_app``), and
  Starlette's ``TestClient``;
- the page's static files through ``importlib.resources`` (``STATIC_PACKAGE`` below).

Each golden is a file under ``tests/golden/``: ``cli/`` (``*.txt`` compared exactly, ``*.json``
structurally), ``api/`` (status code and JSON body), ``report/`` and ``monitor/`` (the files the
two report commands write; ``monitor/run.json`` is their committed input, a run recorded by
``GradientMonitor`` on an 8-layer sigmoid MLP, seed 11, see ``tests/test_monitor_outputs.py``),
and ``static.json`` (sha256 of each static file). JSON is compared structurally: the same keys
(in any order), lists of the same length, ints and bools exactly, floats at relative tolerance
1e-9; the message names the path of the first difference.

After a reviewed change of behaviour, rewrite them and review the diff:

    GRADTRACE_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py           # the fast ones
    GRADTRACE_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py -m slow   # the slow ones

What is left out or normalised, because it is not deterministic or not behaviour:
- ``--version``: the version number (``gradtrace <VERSION>``): a release bumps it;
- the reports' ``config.json``: ``created`` (a timestamp), ``versions`` and ``platform``;
- the reports' figures (PNG and SVG bytes depend on matplotlib and its fonts): only their file
  names are goldened, and the images inlined in ``report.html`` become ``<omitted>``;
- the API's headers (``server-timing`` holds the job's measured time) and its OpenAPI schema
  (the request schemas will change on purpose): only status codes and bodies are goldened;
- paths: every command that reads or writes files runs in a fresh temporary folder as the
  working directory and is given relative paths, so no temporary path reaches an output;
- ``gradtrace serve`` (it blocks): only its help and a bad-input line;
- ``--figure`` outputs (PNG bytes).
Terminal state is fixed: COLUMNS=80, LINES=24, TERM=dumb, NO_COLOR=1, no FORCE_COLOR. Every
text output is run twice, at COLUMNS=80 and piped with COLUMNS unset (stdout is not a terminal,
so it is laid out at 80 columns too), against the same golden; ``test_text_goldens_fit_80_columns``
holds every text golden to 80 columns and no trailing spaces.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import json
import math
import os
import re
import shutil
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from gradtrace.cli import main

HAS_WEB = importlib.util.find_spec("fastapi") is not None
HAS_PLOTS = importlib.util.find_spec("matplotlib") is not None
HAS_DASK = importlib.util.find_spec("distributed") is not None

# ---- the one place that names the web package (the move rewrites these two lines) ------------
STATIC_PACKAGE = "gradtrace.web"  # its "static" folder holds the page's files
if HAS_WEB:
    from gradtrace.web.app import create_app
# ----------------------------------------------------------------------------------------------

GOLDEN = Path(__file__).parent / "golden"
UPDATE = bool(os.environ.get("GRADTRACE_UPDATE_GOLDEN"))
REL_TOL = 1e-9

needs_web = pytest.mark.skipif(not HAS_WEB, reason="needs the web extra (fastapi)")
needs_plots = pytest.mark.skipif(not HAS_PLOTS, reason="needs the plots extra (matplotlib)")
needs_dask = pytest.mark.skipif(not HAS_DASK, reason="needs the dask extra (distributed)")


# ---- comparison -------------------------------------------------------------------------------


def json_diff(expected: Any, actual: Any, path: str = "$") -> str | None:
    """The first difference between two JSON values, as ``path: what``; None when equal (floats
    at relative tolerance ``REL_TOL``, everything else exactly, object keys in any order)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{path}: expected an object, got {actual!r:.200}"
        missing = [k for k in expected if k not in actual]
        extra = [k for k in actual if k not in expected]
        if missing or extra:
            return f"{path}: keys missing {missing}, unexpected {extra}"
        for k in expected:
            d = json_diff(expected[k], actual[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return f"{path}: expected a list, got {actual!r:.200}"
        if len(expected) != len(actual):
            return f"{path}: expected {len(expected)} items, got {len(actual)}"
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            d = json_diff(e, a, f"{path}[{i}]")
            if d:
                return d
        return None
    if isinstance(expected, float) and type(actual) is float:
        if math.isnan(expected) and math.isnan(actual):
            return None
        if math.isclose(expected, actual, rel_tol=REL_TOL, abs_tol=0.0):
            return None
        return f"{path}: expected {expected!r}, got {actual!r}"
    if type(expected) is not type(actual) or expected != actual:
        return f"{path}: expected {expected!r:.200}, got {actual!r:.200}"
    return None


def check_text(name: str, text: str) -> None:
    """``text`` against the golden file ``name`` (exactly); rewritten in update mode."""
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden {path}: run with GRADTRACE_UPDATE_GOLDEN=1"
    expected = path.read_text(encoding="utf-8")
    if text != expected:  # name the first differing line, then let pytest show the whole diff
        lines, golden = text.splitlines(), expected.splitlines()
        at = next(
            (i for i, (a, b) in enumerate(zip(lines, golden, strict=False)) if a != b),
            min(len(lines), len(golden)),
        )
        assert text == expected, f"{name}: first difference at line {at + 1}"


def check_json(name: str, value: Any) -> None:
    """``value`` against the golden JSON file ``name`` (structurally, see ``json_diff``)."""
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert path.exists(), f"no golden {path}: run with GRADTRACE_UPDATE_GOLDEN=1"
    expected = json.loads(path.read_text(encoding="utf-8"))
    d = json_diff(expected, value)
    assert d is None, f"{name}: {d}"


def test_the_comparer_names_the_first_difference() -> None:
    a = {"x": [1, 2.0, {"y": None, "z": "s"}], "b": True}
    assert json_diff(a, json.loads(json.dumps(a))) is None
    assert json_diff({"v": 1.0}, {"v": 1.0 + 1e-12}) is None
    assert json_diff({"v": 1.0}, {"v": 1.0 + 1e-6}) == "$.v: expected 1.0, got 1.000001"
    assert json_diff({"x": [1, 2.0]}, {"x": [1, 2]}) == "$.x[1]: expected 2.0, got 2"
    assert json_diff({"b": True}, {"b": 1}) == "$.b: expected True, got 1"
    assert json_diff({"a": 0.0}, {"a": 1e-300}) is not None
    assert json_diff({"a": [1]}, {"a": [1, 2]}) == "$.a: expected 1 items, got 2"
    assert json_diff({"a": 1}, {"b": 1}) == "$: keys missing ['a'], unexpected ['b']"
    assert json_diff({"a": {"b": [0, "x"]}}, {"a": {"b": [0, "y"]}}) == (
        "$.a.b[1]: expected 'x', got 'y'"
    )


# ---- the CLI ------------------------------------------------------------------------------------


def set_terminal(m: pytest.MonkeyPatch, columns: str = "80") -> None:
    """A fixed, colourless terminal of ``columns`` (help wraps at $COLUMNS; the text output's
    rich console takes its width from it when stdout is not a terminal)."""
    m.setenv("COLUMNS", columns)
    m.setenv("LINES", "24")
    m.setenv("TERM", "dumb")
    m.setenv("NO_COLOR", "1")
    for name in ("FORCE_COLOR", "PY_COLORS", "CLICOLOR_FORCE", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        m.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    set_terminal(monkeypatch)


@contextlib.contextmanager
def in_folder(folder: Path, columns: str = "80") -> Iterator[None]:
    """For the module-scoped fixtures: ``folder`` as the working directory, the fixed terminal."""
    with pytest.MonkeyPatch.context() as m:
        set_terminal(m, columns)
        m.chdir(folder)
        yield


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """``gradtrace ARGV`` in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


def check_run(name: str, argv: list[str], as_json: bool = False) -> None:
    """Run ``argv``: exit status 0, nothing on stderr, stdout as the golden ``cli/NAME``."""
    status, out, err = run_cli(argv)
    assert (status, err) == (0, ""), f"gradtrace {' '.join(argv)}: exit {status}\n{err}"
    if as_json:
        check_json(f"cli/{name}.json", json.loads(out))
    else:
        check_text(f"cli/{name}.txt", out)


COMMANDS = [
    "solve",
    "grad",
    "derive",
    "montecarlo",
    "depth",
    "train",
    "remedies",
    "theory",
    "jacobian",
    "report",
    "monitor-report",
    "reproduce",
    "sweep",
    "sweep-status",
    "serve",
]
"""Every command ``gradtrace --help`` lists (``test_every_command_is_covered`` holds this list
to the help itself; no command has subcommands: ``reproduce`` takes a NAME argument, and every
name is run below)."""


def _listed_commands() -> list[str]:
    """The commands ``gradtrace --help`` lists, in its order (read from the help itself, so
    that nothing here depends on how the CLI is built)."""
    status, out, _ = run_cli(["--help"])
    assert status == 0
    section = out.split("\nCommands:\n", 1)[1]
    return [
        line.split()[0] for line in section.splitlines() if line.startswith("  ") and line[2] != " "
    ]


def test_every_command_is_covered() -> None:
    assert _listed_commands() == COMMANDS
    covered = {argv[0] for _, argv, _ in OUTPUTS} | {argv[0] for _, argv in ERRORS}
    # files, stores or a server: covered by the functions below (reports, sweeps) or by help and
    # a bad input only (serve blocks)
    apart = {"report", "monitor-report", "sweep", "sweep-status", "serve"}
    assert set(COMMANDS) - covered <= apart
    assert set(COMMANDS) <= {argv[0] for _, argv in ERRORS}


@pytest.mark.parametrize(
    "argv",
    [["--help"], [], *[[c, "--help"] for c in COMMANDS]],
    ids=["root", "bare", *COMMANDS],
)
def test_help(argv: list[str]) -> None:
    name = "help/" + (argv[0] if len(argv) == 2 else "root" if argv else "bare")
    check_run(name, argv)


def test_version() -> None:
    """The version number itself is left out: a release bumps it."""
    status, out, err = run_cli(["--version"])
    assert (status, err) == (0, "")
    check_text("cli/version.txt", re.sub(r"^gradtrace \S+\n$", "gradtrace <VERSION>\n", out))


_W30 = "--weights=" + ",".join(["0.9", "-1.1", "1.3"] * 10)  # 30 layers: the text elides
_FAST_FORMATS = ["text", "markdown", "latex", "json"]

# (name, argv, compare as JSON): every command's text and JSON output on small, seeded inputs
OUTPUTS: list[tuple[str, list[str], bool]] = [
    *[
        (f"solve-{f}", ["solve", "--format", f], f == "json")
        for f in _FAST_FORMATS  # solve has --format but no --json
    ],
    *[
        (
            f"grad-regression-log-{f}",
            ["grad", "--preset", "exercise-regression", "--log", "-f", f],
            f == "json",
        )
        for f in _FAST_FORMATS
    ],
    ("grad-classification-json", ["grad", "--preset", "exercise-classification", "--json"], True),
    (
        "grad-tanh-huber-residual-text",
        [
            "grad",
            "--weights=1.5,-2,0.3,4",
            "--biases=0.1,0,-0.2,0.3",
            "--x=-0.5",
            "--target=0.2",
            "--activation",
            "tanh",
            "--output-activation",
            "identity",
            "--loss",
            "huber",
            "--residual",
        ],
        False,
    ),
    ("grad-depth30-text", ["grad", _W30, "--x", "0.5", "--target", "1"], False),
    (
        "grad-depth30-all-layers-text",
        ["grad", _W30, "--x", "0.5", "--target", "1", "--all-layers"],
        False,
    ),
    *[
        (f"derive-depth3-{f}", ["derive", "--depth", "3", "-f", f], f == "json")
        for f in _FAST_FORMATS  # derive has --format but no --json
    ],
    (
        "derive-tanh-l2-biases-text",
        [
            "derive",
            "--depth",
            "2",
            "--activation",
            "tanh",
            "--output-activation",
            "identity",
            "--loss",
            "l2",
            "--biases",
        ],
        False,
    ),
    *[
        (
            f"montecarlo-depth3-{f}",
            ["montecarlo", "--depth", "3", "--samples", "1000", "--seed", "1", "-f", f],
            f == "json",
        )
        for f in _FAST_FORMATS
    ],
    (
        "montecarlo-depth3-json-flag",
        ["montecarlo", "--depth", "3", "--samples", "1000", "--seed", "1", "--json"],
        True,
    ),
    (
        "montecarlo-regression-uniform-draws-json",
        [
            "montecarlo",
            "--preset",
            "exercise-regression",
            "--init",
            "uniform",
            "--std",
            "0.5",
            "--biases",
            "--draw-x",
            "--samples",
            "500",
            "--seed",
            "2",
            "--json",
        ],
        True,
    ),
    (
        "depth-tanh-text",
        ["depth", "--activation", "tanh", "--depths", "1,10,100", "--samples", "20", "--seed", "1"],
        False,
    ),
    (
        "depth-relu-text",
        ["depth", "--activation", "relu", "--depths", "1,10,100", "--samples", "20"],
        False,
    ),
    (
        "depth-relu-json",
        ["depth", "--activation", "relu", "--depths", "1,10,100", "--samples", "20", "--json"],
        True,
    ),
    (
        "depth-tanh-json",
        [
            "depth",
            "--activation",
            "tanh",
            "--depths",
            "1,10,100",
            "--samples",
            "20",
            "--seed",
            "1",
            "--json",
        ],
        True,
    ),
    *[
        (
            f"train-regression-{f}",
            ["train", "--preset", "exercise-regression", "--lr", "0.1", "--steps", "100", "-f", f],
            f == "json",
        )
        for f in _FAST_FORMATS
    ],
    (
        "train-regression-json-flag",
        ["train", "--preset", "exercise-regression", "--lr", "0.1", "--steps", "100", "--json"],
        True,
    ),
    (
        "train-clipped-text",
        [
            "train",
            "--preset",
            "exercise-regression",
            "--lr",
            "1",
            "--clip-norm",
            "1",
            "--steps",
            "60",
        ],
        False,
    ),
    (
        "train-dataset-text",
        ["train", "--dataset", "16", "--seed", "3", "--lr", "1", "--steps", "50"],
        False,
    ),
    (
        "train-dataset-json",
        [
            "train",
            "--dataset",
            "16",
            "--seed",
            "3",
            "--lr",
            "1",
            "--steps",
            "50",
            "--target-scale",
            "2",
            "--json",
        ],
        True,
    ),
    *[
        (f"remedies-{f}", ["remedies", "--steps", "20", "-f", f], f == "json")
        for f in _FAST_FORMATS
    ],
    ("remedies-json-flag", ["remedies", "--steps", "20", "--seed", "1", "--json"], True),
    *[(f"theory-{f}", ["theory", "-f", f], f == "json") for f in _FAST_FORMATS],
    (
        "theory-relu-json-flag",
        ["theory", "--activation", "relu", "--sigma-w2", "2", "--sigma-b2", "0", "--json"],
        True,
    ),
    (
        "theory-simulate-text",
        ["theory", "--simulate", "--width", "20", "--samples", "2", "--depth", "5"],
        False,
    ),
    (
        "theory-simulate-json",
        ["theory", "--simulate", "--width", "20", "--samples", "2", "--depth", "5", "--json"],
        True,
    ),
    *[
        (
            f"jacobian-{f}",
            ["jacobian", "--depth", "3", "--width", "20", "--samples", "2", "-f", f],
            f == "json",
        )
        for f in _FAST_FORMATS
    ],
    (
        "jacobian-gaussian-json-flag",
        [
            "jacobian",
            "--init",
            "gaussian",
            "--depth",
            "4",
            "--width",
            "16",
            "--samples",
            "2",
            "--seed",
            "3",
            "--json",
        ],
        True,
    ),
    *[
        (f"reproduce-he2015-{f}", ["reproduce", "he2015", "--quick", "-f", f], f == "json")
        for f in _FAST_FORMATS
    ],
    ("reproduce-he2015-json-flag", ["reproduce", "he2015", "--quick", "--json"], True),
]

SLOW_OUTPUTS = {"depth-tanh-text"}
"""Seconds each (the tanh chain's stationary rate is a 1500-cell linear solve): marked slow; its
numbers are goldened fast by ``depth-tanh-json``."""

TERMINALS = ["80", "piped"]
"""How each text output is run: at COLUMNS=80, and piped with COLUMNS unset (80 as well)."""


def set_columns(m: pytest.MonkeyPatch, terminal: str) -> None:
    if terminal == "piped":
        m.delenv("COLUMNS", raising=False)
    else:
        m.setenv("COLUMNS", terminal)


def _text_param(o: tuple[str, list[str], bool], terminal: str) -> Any:
    marks = [pytest.mark.slow] if o[0] in SLOW_OUTPUTS else []
    return pytest.param(*o, terminal, marks=marks, id=f"{o[0]}-{terminal}")


# the reproductions that take seconds to a minute even with --quick: text and JSON, marked slow
SLOW_REPRODUCTIONS = ["glorot2010", "pennington2017", "hanin2018", "schoenholz2017"]


@pytest.mark.parametrize(
    ("name", "argv", "as_json", "terminal"),
    [_text_param(o, t) for o in OUTPUTS for t in (["80"] if o[2] else TERMINALS)],
)
def test_output(
    name: str,
    argv: list[str],
    as_json: bool,
    terminal: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    set_columns(monkeypatch, terminal)
    check_run(name, argv, as_json)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("reproduction", SLOW_REPRODUCTIONS)
def test_slow_reproduction(
    reproduction: str, fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    # the text and JSON runs present one result: compute it once (schoenholz2017 takes a minute)
    from gradtrace.reproduce import Entry

    run = Entry.run

    def once(self: Entry, **kwargs: Any) -> Any:
        key = (self.name, tuple(sorted(kwargs.items())))
        if key not in _REPRODUCED:
            _REPRODUCED[key] = run(self, **kwargs)
        return _REPRODUCED[key]

    monkeypatch.setattr(Entry, "run", once)
    argv = ["reproduce", reproduction, "--quick", "--format", fmt]
    check_run(f"reproduce-{reproduction}-{fmt}", argv, fmt == "json")


_REPRODUCED: dict[tuple[object, ...], Any] = {}


# (name, argv): one bad input per command, and a few more paths to an error: exit status 2, one
# line on stderr (goldened), nothing on stdout. They run in an empty temporary folder.
ERRORS: list[tuple[str, list[str]]] = [
    ("root-unknown-command", ["nope"]),
    ("solve-format", ["solve", "--format", "pdf"]),
    ("grad-weights", ["grad", "--weights=0.1,x", "--x", "1", "--target", "1"]),
    (
        "grad-loss-output",
        ["grad", "--weights=0.1,2", "--x", "1", "--target", "1", "--output-activation", "identity"],
    ),
    (
        "grad-depth-mismatch",
        ["grad", "--weights=0.1,2", "--x", "1", "--target", "1", "--depth", "3"],
    ),
    ("grad-unknown-option", ["grad", "--wieghts=1"]),
    ("derive-depth", ["derive", "--depth", "0"]),
    ("montecarlo-samples", ["montecarlo", "--depth", "3", "--samples", "ten"]),
    ("depth-depths", ["depth", "--depths", "1,2.5"]),
    ("train-no-weights", ["train", "--x", "1"]),  # without x, train takes part (b)'s sample
    ("train-lr", ["train", "--preset", "exercise-regression", "--lr", "-1"]),
    ("remedies-steps", ["remedies", "--steps", "-1"]),
    ("theory-sigma-w2", ["theory", "--sigma-w2", "-1"]),
    ("jacobian-init", ["jacobian", "--init", "nope"]),
    ("report-no-out", ["report"]),
    ("monitor-report-missing-file", ["monitor-report", "nothing.csv"]),
    ("monitor-report-format", ["monitor-report", "run.xlsx"]),
    ("reproduce-name", ["reproduce", "nope"]),
    ("reproduce-store-not-trainability", ["reproduce", "he2015", "--store", "x.db"]),
    ("sweep-workers", ["sweep", "grid.toml", "--store", "s.db", "--workers", "0"]),
    ("sweep-missing-grid", ["sweep", "grid.toml", "--store", "s.db"]),
    ("sweep-status-missing", ["sweep-status", "missing.db"]),
    ("serve-port", ["serve", "--port", "70000"]),
]


@pytest.mark.parametrize(("name", "argv"), ERRORS, ids=[e[0] for e in ERRORS])
def test_error(name: str, argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    status, out, err = run_cli(argv)
    assert out == ""
    assert err.count("\n") == 1, err
    check_text(f"cli/errors/{name}.txt", f"exit status {status}\n{err}")
    assert status == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "an error wrote files"


# ---- sweeps: one real sweep on a one-worker local Dask cluster, then the commands on its store --

GRID = """\
[sweep]
name = "golden"
kind = "theory"
seeds = [0]
[sweep.fixed]
activation = "tanh"
[sweep.grid]
sigma_w2 = [1.0, 2.0]
sigma_b2 = [0.0, 0.05]
"""  # 4 theory cells, milliseconds each: the time is the cluster's start


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, str, str]:
    """A folder with grid.toml and s.db, swept once: (folder, status, stdout, stderr)."""
    folder = tmp_path_factory.mktemp("sweep")
    (folder / "grid.toml").write_text(GRID)
    with in_folder(folder):
        status, out, err = run_cli(["sweep", "grid.toml", "--store", "s.db", "--workers", "1"])
    return folder, status, out, err


@pytest.fixture
def swept_copy(
    swept: tuple[Path, int, str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A copy of the swept folder (the store and its grid) as the working directory."""
    for name in ("grid.toml", "s.db"):
        shutil.copy(swept[0] / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@needs_dask
def test_sweep_fresh(swept: tuple[Path, int, str, str]) -> None:
    _, status, out, err = swept
    assert (status, err) == (0, ""), err
    check_text("cli/sweep-fresh-text.txt", out)


RERUNS = [
    ("sweep-rerun-text", ["sweep", "grid.toml", "--store", "s.db"], False),
    ("sweep-rerun-json", ["sweep", "grid.toml", "--store", "s.db", "--json"], True),
    ("sweep-status-text", ["sweep-status", "s.db"], False),
    ("sweep-status-json", ["sweep-status", "s.db", "--json"], True),
]


@needs_dask
@pytest.mark.parametrize(
    ("name", "argv", "as_json", "terminal"),
    [_text_param(r, t) for r in RERUNS for t in (["80"] if r[2] else TERMINALS)],
)
def test_sweep_store(
    name: str,
    argv: list[str],
    as_json: bool,
    terminal: str,
    swept_copy: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Everything done already: no cluster is started."""
    set_columns(monkeypatch, terminal)
    check_run(name, argv, as_json)


@needs_dask
def test_sweep_shrunk_grid(swept_copy: Path) -> None:
    """A grid with one value fewer: the two stored cells that left it are reported, and
    ``--prune`` deletes them (nothing to run, so no cluster either)."""
    (swept_copy / "grid.toml").write_text(
        GRID.replace("sigma_b2 = [0.0, 0.05]", "sigma_b2 = [0.0]")
    )
    check_run("sweep-shrunk-text", ["sweep", "grid.toml", "--store", "s.db"])
    check_run(
        "sweep-shrunk-prune-json",
        ["sweep", "grid.toml", "--store", "s.db", "--prune", "--json"],
        True,
    )


@pytest.fixture(scope="module")
def trainability(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, str, str]:
    """``reproduce trainability --quick`` into a fresh store (a real sweep, tens of seconds)."""
    folder = tmp_path_factory.mktemp("trainability")
    argv = ["reproduce", "trainability", "--quick", "--store", "t.db", "--workers", "1"]
    with in_folder(folder):
        status, out, err = run_cli(argv)
    return folder, status, out, err


@needs_dask
@pytest.mark.slow
def test_reproduce_trainability_text(trainability: tuple[Path, int, str, str]) -> None:
    _, status, out, err = trainability
    assert (status, err) == (0, ""), err
    check_text("cli/reproduce-trainability-text.txt", out)


@needs_dask
@pytest.mark.slow
def test_reproduce_trainability_json(
    trainability: tuple[Path, int, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """From the store the text run filled: every cell done, nothing computed again."""
    monkeypatch.chdir(trainability[0])
    argv = ["reproduce", "trainability", "--quick", "--store", "t.db", "--json"]
    check_run("reproduce-trainability-json", argv, as_json=True)


# ---- the two reports: the files each command writes -----------------------------------------

VOLATILE_CONFIG = ("created", "versions", "platform")
"""``config.json`` fields left out: a timestamp, the installed versions, the machine."""

_INLINE_IMAGE = re.compile(r"data:image/([a-z+]+);base64,[A-Za-z0-9+/=]+")


def _report_files(folder: Path) -> dict[str, Any]:
    """The goldened content of a report folder: its file names, report.md, report.html with its
    inlined images left out, config.json without its volatile fields, and any CSV."""
    files: dict[str, Any] = {"files.json": sorted(p.name for p in folder.iterdir())}
    files["report.md"] = (folder / "report.md").read_text(encoding="utf-8")
    html = (folder / "report.html").read_text(encoding="utf-8")
    files["report.html"] = _INLINE_IMAGE.sub(r"data:image/\1;base64,<omitted>", html)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    for key in VOLATILE_CONFIG:
        assert key in config, key
        del config[key]
    files["config.json"] = config
    for p in sorted(folder.glob("*.csv")):
        files[p.name] = p.read_text(encoding="utf-8")
    return files


def _check_report_file(prefix: str, name: str, files: dict[str, Any]) -> None:
    assert name in files, f"{name} not written: {sorted(files)}"
    if name.endswith(".json"):
        check_json(f"{prefix}/{name}", files[name])
    else:
        check_text(f"{prefix}/{name}", files[name])


@pytest.fixture(scope="module")
def monitor_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``gradtrace monitor-report run.json --out rep`` on the committed run."""
    folder = tmp_path_factory.mktemp("monitor")
    shutil.copy(GOLDEN / "monitor" / "run.json", folder / "run.json")
    with in_folder(folder):
        status, out, err = run_cli(["monitor-report", "run.json", "--out", "rep"])
        again = run_cli(["monitor-report", "run.json", "--out", "rep"])  # exists: refused
    assert (status, err) == (0, ""), err
    return {"stdout.txt": out, "exists-error.txt": f"exit status {again[0]}\n{again[2]}"} | (
        _report_files(folder / "rep")
    )


MONITOR_FILES = [
    "stdout.txt",
    "exists-error.txt",
    "files.json",
    "report.md",
    "report.html",
    "config.json",
    "records.csv",
]


@needs_plots
@pytest.mark.parametrize("name", MONITOR_FILES)
def test_monitor_report(name: str, monitor_report: dict[str, Any]) -> None:
    _check_report_file("monitor/out", name, monitor_report)


def _h1(markdown: str) -> list[str]:
    """The level-1 headings of a Markdown file (outside its math blocks)."""
    return [
        line
        for line in re.sub(r"\$\$.*?\$\$", "", markdown, flags=re.S).splitlines()
        if line.startswith("# ")
    ]


@needs_plots
def test_monitor_report_has_one_title(monitor_report: dict[str, Any]) -> None:
    assert _h1(monitor_report["report.md"]) == ["# gradtrace monitor report: nonfinite"]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``gradtrace report --quick --samples 1000 --out rep``: the smallest report (about 25 s)."""
    folder = tmp_path_factory.mktemp("report")
    with in_folder(folder):
        status, out, err = run_cli(["report", "--quick", "--samples", "1000", "--out", "rep"])
    assert (status, err) == (0, ""), err
    return {"stdout.txt": out} | _report_files(folder / "rep")


REPORT_FILES = ["stdout.txt", "files.json", "report.md", "report.html", "config.json"]


@needs_plots
@pytest.mark.slow
@pytest.mark.parametrize("name", REPORT_FILES)
def test_report(name: str, report: dict[str, Any]) -> None:
    _check_report_file("report", name, report)


@needs_plots
@pytest.mark.slow
def test_report_has_one_title(report: dict[str, Any]) -> None:
    assert _h1(report["report.md"]) == ["# gradtrace report: vanishing and exploding gradients"]


# ---- the web API --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """The explorer app (its job workers stop when the module's tests are done)."""
    from fastapi.testclient import TestClient

    with TestClient(create_app(), base_url="http://127.0.0.1") as c:
        yield c


_CLASSIFICATION = {"weights": [0.25, -0.11, 0.78], "x": 0.63, "target": 1}

# (name, method, url, JSON body): one valid request per route under /api, then the 422s
API_OK: list[tuple[str, str, str, Any]] = [
    ("presets", "GET", "/api/presets", None),
    ("trace", "POST", "/api/trace", _CLASSIFICATION),
    (
        "trace-log-regression",
        "POST",
        "/api/trace",
        {
            "weights": [0.25, -0.11, 0.78],
            "x": 0.63,
            "target": 128,
            "output_activation": "identity",
            "loss": "l2",
            "log": True,
        },
    ),
    ("activation", "GET", "/api/activation/tanh?lo=-2&hi=2&points=9", None),
    ("derive", "POST", "/api/derive", {"depth": 3}),
    (
        "derive-product-form",
        "POST",
        "/api/derive",
        {
            "depth": 4,
            "activation": "tanh",
            "output_activation": "identity",
            "loss": "l2",
            "closed_form": False,
        },
    ),
    ("montecarlo", "POST", "/api/montecarlo", {"depth": 3, "samples": 1000, "seed": 1}),
    ("train", "POST", "/api/train", {**_CLASSIFICATION, "steps": 20, "learning_rate": 0.5}),
    (
        "train-dataset-clipped",
        "POST",
        "/api/train",
        {"weights": [0.25, -0.11, 0.78], "dataset": 8, "seed": 2, "steps": 30, "clip_norm": 0.1},
    ),
    ("theory", "POST", "/api/theory", {"depth": 5}),
    (
        "theory-simulate",
        "POST",
        "/api/theory",
        {"depth": 5, "simulate": True, "width": 10, "samples": 2},
    ),
    ("phase", "POST", "/api/phase", {}),
    ("phase-relu", "POST", "/api/phase", {"activation": "relu"}),
]

# each route's bad input (``/api/presets`` takes none): 422 naming the field
API_422: list[tuple[str, str, str, Any]] = [
    ("trace-422-extra-field", "POST", "/api/trace", {**_CLASSIFICATION, "bogus": 1}),
    ("trace-422-biases", "POST", "/api/trace", {**_CLASSIFICATION, "biases": [0.1]}),
    (
        "trace-422-loss-output",
        "POST",
        "/api/trace",
        {**_CLASSIFICATION, "output_activation": "identity"},
    ),
    ("activation-422-points", "GET", "/api/activation/tanh?points=1", None),
    ("activation-422-name", "GET", "/api/activation/nope", None),
    ("activation-422-lo-hi", "GET", "/api/activation/tanh?lo=2&hi=1", None),
    ("derive-422-depth", "POST", "/api/derive", {"depth": 0}),
    ("montecarlo-422-samples", "POST", "/api/montecarlo", {"depth": 3, "samples": "many"}),
    ("montecarlo-422-cost", "POST", "/api/montecarlo", {"depth": 100, "samples": 1_000_000}),
    ("train-422-learning-rate", "POST", "/api/train", {**_CLASSIFICATION, "learning_rate": -1}),
    ("theory-422-sigma-w2", "POST", "/api/theory", {"sigma_w2": 0}),
    ("phase-422-activation", "POST", "/api/phase", {"activation": "nope"}),
    ("trace-422-malformed-json", "POST", "/api/trace", "{not json"),
]


def _request(client: Any, method: str, url: str, body: Any) -> Any:
    if isinstance(body, str):  # raw, malformed
        return client.request(
            method, url, content=body, headers={"content-type": "application/json"}
        )
    return client.request(method, url, json=body)


@needs_web
@pytest.mark.parametrize(
    ("name", "method", "url", "body"), API_OK + API_422, ids=[a[0] for a in API_OK + API_422]
)
def test_api(name: str, method: str, url: str, body: Any, client: Any) -> None:
    r = _request(client, method, url, body)
    check_json(f"api/{name}.json", {"status": r.status_code, "body": r.json()})
    assert r.status_code == (422 if "-422-" in name else 200)


@needs_web
def test_every_api_route_is_covered(client: Any) -> None:
    # the app's routes as its OpenAPI schema lists them (routers may be nested or lazy)
    paths = client.app.openapi()["paths"]
    routes = {
        (m.upper(), path) for path, ops in paths.items() if path.startswith("/api/") for m in ops
    }
    requested = {(m, url.split("?")[0]) for _, m, url, _ in API_OK}
    requested = {
        (m, "/api/activation/{name}" if u.startswith("/api/activation/") else u)
        for m, u in requested
    }
    assert routes == requested
    bad = {
        (m, "/api/activation/{name}" if u.startswith("/api/activation/") else u.split("?")[0])
        for _, m, u, _ in API_422
    }
    assert routes - bad == {("GET", "/api/presets")}  # it takes no input


# ---- the page's static files --------------------------------------------------------------------


def _static_files() -> dict[str, bytes]:
    root = resources.files(STATIC_PACKAGE) / "static"
    out: dict[str, bytes] = {}

    def walk(node: Any, prefix: str) -> None:
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            if child.is_dir():
                if child.name != "__pycache__":
                    walk(child, f"{prefix}{child.name}/")
            else:
                out[prefix + child.name] = child.read_bytes()

    walk(root, "")
    return out


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


STATIC = _static_files()


def test_static_files_listed() -> None:
    """The page's files, each with its sha256: the golden ``static.json`` (rewritten here)."""
    check_json("static.json", {name: _sha256(data) for name, data in STATIC.items()})


@pytest.mark.parametrize("name", sorted(STATIC))
def test_static_file(name: str) -> None:
    golden = json.loads((GOLDEN / "static.json").read_text(encoding="utf-8"))
    assert _sha256(STATIC[name]) == golden[name], f"{name} changed"


@needs_web
@pytest.mark.parametrize(
    ("url", "name"),
    [("/", "index.html"), ("/static/app.js", "app.js"), ("/static/app.css", "app.css")],
)
def test_page_served(url: str, name: str, client: Any) -> None:
    """The app serves those same bytes."""
    r = client.get(url)
    assert r.status_code == 200
    golden = json.loads((GOLDEN / "static.json").read_text())
    assert _sha256(r.content) == golden[name]


# ---- every text golden fits the terminal ------------------------------------------------------

WIDTH = 80


def _laid_out(path: Path) -> bool:
    """Whether a golden is text laid out for the terminal: not JSON, not the Markdown and LaTeX
    outputs or the reports' files (source text, a paragraph per line), not an error (one line on
    stderr whatever its length, so that a log keeps it whole)."""
    rel = path.relative_to(GOLDEN).as_posix()
    return (
        path.suffix == ".txt"
        and not rel.endswith(("-markdown.txt", "-latex.txt", "error.txt"))
        and not rel.startswith("cli/errors/")
    )


def test_text_goldens_fit_80_columns() -> None:
    """Each command's text output, the help, the reports' printed lines and solve.txt: no line
    wider than 80 columns; every golden but JSON: no line ending in a space."""
    from rich.cells import cell_len

    files = sorted(p for p in GOLDEN.rglob("*") if p.is_file() and p.suffix != ".json")
    laid_out = [p for p in files if _laid_out(p)]
    assert len(laid_out) > 40
    for path in files:
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            where = f"{path.relative_to(GOLDEN)}:{i}"
            assert line == line.rstrip(), f"{where} ends in a space"
            if path in laid_out:
                assert cell_len(line) <= WIDTH, f"{where} is {cell_len(line)} columns wide"


# ---- no golden without its test -------------------------------------------------------------


def test_every_golden_file_has_its_test() -> None:
    """A renamed or removed case leaves no stale golden behind (and none is missing)."""
    expected = {"solve.txt", "static.json", "monitor/run.json"}  # solve.txt: test_exercise.py
    expected |= {f"cli/help/{n}.txt" for n in ["root", "bare", *COMMANDS]} | {"cli/version.txt"}
    expected |= {f"cli/{n}.{'json' if j else 'txt'}" for n, _, j in OUTPUTS + RERUNS}
    expected |= {
        f"cli/reproduce-{r}-{f}.{'json' if f == 'json' else 'txt'}"
        for r in SLOW_REPRODUCTIONS
        for f in ("text", "json")
    }
    expected |= {"cli/reproduce-trainability-text.txt", "cli/reproduce-trainability-json.json"}
    expected |= {
        "cli/sweep-fresh-text.txt",
        "cli/sweep-shrunk-text.txt",
        "cli/sweep-shrunk-prune-json.json",
    }
    expected |= {f"cli/errors/{n}.txt" for n, _ in ERRORS}
    expected |= {f"api/{a[0]}.json" for a in API_OK + API_422}
    expected |= {f"monitor/out/{n}" for n in MONITOR_FILES} | {f"report/{n}" for n in REPORT_FILES}
    found = {p.relative_to(GOLDEN).as_posix() for p in GOLDEN.rglob("*") if p.is_file()}
    assert found == expected, (
        f"stale: {sorted(found - expected)}; missing: {sorted(expected - found)}"
    )
