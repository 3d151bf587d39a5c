"""The report agrees with itself: every number a note or reading quotes equals the table cell
(and the result field) it describes; legends match the captions' colour words and the plotted
colours; no two tick labels of a figure overlap.

``contradictions`` parses report.html with the standard library's parser and returns one line per
disagreement; the perturbation tests show that it fails when one number is changed."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib.collections import PathCollection
from matplotlib.colors import to_rgba
from matplotlib.lines import Line2D

from gradtrace.present.blocks import fmt
from gradtrace.present.report import Report, build_report, write_report
from gradtrace.present.report_doc import ReportResults
from test_report import SMALL

NUMBER = r"(-?[0-9][0-9.e+-]*)"


class _Page(HTMLParser):
    """Tables (caption, header, rows of cell text), and the text of every p, li and figcaption."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, tuple[list[str], list[list[str]]]] = {}
        self.texts: list[str] = []
        self._stack: list[str] = []
        self._buf: list[str] = []
        self._caption = ""
        self._header: list[str] = []
        self._rows: list[list[str]] = []
        self._row: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in ("p", "li", "figcaption", "caption", "td", "th"):
            self._stack.append(tag)
            self._buf = []
        elif tag == "table":
            self._header, self._rows = [], []
        elif tag == "tr":
            self._row = []

    def handle_endtag(self, tag: str) -> None:
        if self._stack and tag == self._stack[-1]:
            self._stack.pop()
            text = "".join(self._buf).strip()
            if tag == "caption":
                self._caption = text
            elif tag == "th":
                self._header.append(text)
            elif tag == "td":
                self._row.append(text)
            else:
                self.texts.append(text)
        elif tag == "tr" and self._row:
            self._rows.append(self._row)
        elif tag == "table":
            self.tables[self._caption] = (self._header, self._rows)

    def handle_data(self, data: str) -> None:
        if self._stack:
            self._buf.append(data)


def _page(html: str) -> _Page:
    p = _Page()
    p.feed(html)
    return p


def _table(p: _Page, starts: str) -> list[dict[str, str]]:
    """The rows of the table whose caption starts with ``starts``, as header -> cell."""
    ((header, rows),) = [v for k, v in p.tables.items() if k.startswith(starts)]
    return [dict(zip(header, row, strict=True)) for row in rows]


def _text(p: _Page, starts: str) -> str:
    (text,) = [t for t in p.texts if t.startswith(starts)]
    return text


def contradictions(html: str, r: ReportResults) -> list[str]:
    """Every number quoted in a reading or note that differs from its table cell or result."""
    p = _page(html)
    bad: list[str] = []

    def same(what: str, quoted: str, cell: str) -> None:
        if quoted != cell:
            bad.append(f"{what}: the text says {quoted}, the table {cell}")

    # remedies: each note's final loss is the table's final loss of that row, and the row's field
    table = _table(p, "Same starting weights")
    for row, res in zip(table, r.remedies, strict=True):
        note = _text(p, res.name + ":")
        (quoted,) = re.findall(rf"final loss {NUMBER}\.$", note)
        same(f"remedy {res.name!r} final loss", quoted, row["final loss"])
        same(f"remedy {res.name!r} final loss (result)", row["final loss"], fmt(res.final_loss, 4))
        if res.steps_to_tolerance is not None:
            (step,) = re.findall(r"reached the tolerance at step (\d+)", note)
            same(f"remedy {res.name!r} steps", step, row["steps to tolerance"])

    # the first-vs-last ratio r: one table; the exercise's and the Monte Carlo readings quote it
    ratios = _table(p, "How much smaller the first layer")
    b_row = next(x for x in ratios if x["over"].startswith("part (b)"))
    ex = _text(p, "Reading the dots")
    (times, rb) = re.findall(rf"factor {NUMBER} = 1 / r, where r = .*? = {NUMBER} ", ex)[0]
    same("part (b)'s r", rb, b_row["median r"])
    same("part (b)'s 1 / r", times, b_row["1 / median r"])
    sol = r.solution.b.gradients
    same("part (b)'s r (result)", rb, fmt(abs(sol[0]) / abs(sol[-1]), 4))
    mc_reading = _text(p, "Reading the figure: each dot is one layer")
    quoted_mc = re.findall(
        rf"at depth (\d+) the median r is {NUMBER} \(1 / r = {NUMBER}\)", mc_reading
    )
    if len(quoted_mc) != len(r.montecarlo):
        bad.append(f"the Monte Carlo reading quotes {len(quoted_mc)} depths")
    mc_rows = {x["depth L"]: x for x in ratios if not x["over"].startswith("part (b)")}
    for (depth, med, inv), mc in zip(quoted_mc, r.montecarlo, strict=False):
        same(f"median r at depth {depth}", med, mc_rows[depth]["median r"])
        same(f"1 / median r at depth {depth}", inv, mc_rows[depth]["1 / median r"])
        same(f"median r at depth {depth} (result)", med, fmt(mc.ratio_quantiles["p50"], 4))
        same(f"depth {depth} (result)", depth, str(mc.config.spec.depth))

    # training: the caption, the reading and the table's row describe the same run
    shown = r.training_shown
    lr = f"{shown.config.learning_rate:g}"
    caption = next(t for t in p.texts if t.startswith("The regression net at learning rate"))
    (cap_lr,) = re.findall(rf"learning rate {NUMBER} \(", caption)
    same("training caption's learning rate", cap_lr, lr)
    reading = _text(p, "Reading the figure: it shows the run")
    (read_lr,) = re.findall(rf"learning rate {NUMBER} \(", reading)
    same("training reading's learning rate", read_lr, lr)
    row = next(x for x in _table(p, "The exercise's regression net") if x["learning rate"] == lr)
    (l0, l1) = re.findall(rf"goes from {NUMBER} at step 0 to {NUMBER}\.", reading)[0]
    same("training loss at step 0", l0, row["loss at step 0"])
    same("training final loss", l1, row["final loss"])
    same("training final loss (result)", l1, fmt(shown.loss[-1], 4))
    (r0, r_end) = re.findall(rf"r = {NUMBER}; at the last step r = {NUMBER} ", reading)[0]
    same("training r at the last step", r_end, row["r at the last step"])
    same("training r at step 0 (part (b)'s r)", r0, b_row["median r"])

    # depth: the reading's rates and the deepest first gradient are the table's
    depth_rows = {x["activation"]: x for x in _table(p, "Decades per layer passed back")}
    dr = _text(p, "Reading the figure: each backward product")
    (lose,) = re.findall(rf"sigmoid chains lose {NUMBER} decades", dr)
    same("sigmoid rate", "-" + lose, depth_rows["sigmoid"]["fitted rate"])
    (gain,) = re.findall(rf"gains {NUMBER} per layer", dr)
    same("identity rate", gain, depth_rows["identity"]["fitted rate"])
    (deep,) = re.findall(rf"about 10\^{NUMBER} ", dr)
    col = next(k for k in depth_rows["sigmoid"] if k.startswith("mean log10"))
    same("sigmoid first gradient at the deepest depth", deep, depth_rows["sigmoid"][col])
    return bad


@pytest.fixture(scope="module")
def built() -> Report:
    return build_report(SMALL)


@pytest.fixture(scope="module")
def html(built: Report, tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("rep") / "report"
    write_report(built, out)
    return (out / "report.html").read_text(encoding="utf-8")


def test_every_quoted_number_is_its_tables(built: Report, html: str) -> None:
    assert built.results is not None
    assert contradictions(html, built.results) == []


@pytest.mark.parametrize(
    ("pattern", "what"),
    [
        (r"(Outcome: [^<]*; final loss <code>)([^<]+)", "final loss"),  # a remedies note
        (r"(factor )([0-9.]+)( = 1 / r)", "part (b)'s 1 / r"),  # the exercise's reading
        (r"(at depth \d+ the median r is )([0-9.e+-]+)", "median r at depth"),  # Monte Carlo
        (r"(at step 0 to <code>)([^<]+)", "training final loss"),  # the training reading
        (r"(sigmoid chains lose )([0-9.]+)", "sigmoid rate"),  # the depth reading
    ],
)
def test_a_changed_number_is_caught(built: Report, html: str, pattern: str, what: str) -> None:
    assert built.results is not None
    changed, n = re.subn(
        pattern,
        lambda mt: mt.group(1) + "1.234" + mt.group(0)[mt.end(2) - mt.start() :],
        html,
        count=1,
    )
    assert n == 1
    found = contradictions(changed, built.results)
    assert found and any(what in f for f in found), found


def _rgba(c: object) -> tuple[float, ...]:
    return tuple(np.round(to_rgba(c), 6))  # type: ignore[arg-type]


def test_remedies_legend_matches_the_dots_and_the_caption(built: Report, html: str) -> None:
    fig = built.figures["remedies"]
    (legend,) = fig.legends
    labels = [t.get_text() for t in legend.get_texts()]
    handles = {
        label: _rgba(h.get_color() if isinstance(h, Line2D) else h.get_facecolor())
        for label, h in zip(labels, legend.legend_handles, strict=True)
    }
    assert len(set(handles.values())) == len(handles)  # one colour per entry
    dots = [
        _rgba(c)
        for ax in fig.axes
        for coll in ax.collections
        if isinstance(coll, PathCollection)
        for c in coll.get_facecolors()
    ]
    assert built.results is not None
    rows = built.results.remedies
    assert [
        handles[r.status] for prob in ("exploding", "vanishing") for r in rows if r.problem == prob
    ] == dots
    assert set(dots) == set(handles.values())  # every colour drawn is in the legend
    caption = next(t for t in _page(html).texts if t.startswith("Final loss of each remedy"))
    words = dict(re.findall(r"(\w+): ([a-z ]+?)(?:;|\))", caption))
    assert words and {v: _rgba(f"tab:{k}") for k, v in words.items()} == handles


def test_legends_match_their_lines(built: Report) -> None:
    """In every figure, each legend entry's colour and marker are those of the line it names."""
    for name, fig in built.figures.items():
        for ax in fig.axes:
            legend = ax.get_legend()
            if legend is None:
                continue
            drawn = {ln.get_label(): ln for ln in ax.lines}
            for text, handle in zip(legend.get_texts(), legend.legend_handles, strict=True):
                line = drawn[text.get_text()]
                assert _rgba(handle.get_color()) == _rgba(line.get_color()), (name, text)
                assert handle.get_marker() == line.get_marker(), (name, text)


def _overlaps(fig: object) -> list[str]:
    fig.canvas.draw()  # type: ignore[attr-defined]
    found = []
    for ax in fig.axes:  # type: ignore[attr-defined]
        for axis in (ax.xaxis, ax.yaxis):
            labels = [
                t for t in axis.get_ticklabels(which="both") if t.get_visible() and t.get_text()
            ]
            boxes = [t.get_window_extent() for t in labels]
            for i in range(len(boxes)):
                for j in range(i + 1, len(boxes)):
                    if boxes[i].overlaps(boxes[j]):
                        found.append(f"{labels[i].get_text()!r} / {labels[j].get_text()!r}")
    return found


def test_no_tick_labels_overlap(built: Report) -> None:
    for name, fig in built.figures.items():
        assert _overlaps(fig) == [], name


def test_the_overlap_check_sees_an_overlap() -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.set_xscale("log")
    ax.set_xlim(0.19, 0.7)  # minor labels of a short log axis: the remedies figure's old panel
    ax.set_xticks([0.2, 0.21, 0.3], ["2 x 10^-1", "2.1 x 10^-1", "3 x 10^-1"])
    assert _overlaps(fig)
    plt.close(fig)
