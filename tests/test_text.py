"""The terminal layout (present/text.py): no line wider than the width, none ending in a space,
no number cut, and the fallbacks of a table too wide for the width."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from rich.console import Console

from gradtrace.present.blocks import Bullets, Equations, Heading, Math, Table, m, par
from gradtrace.present.text import document_lines, document_text, print_document, wrap


def check_lines(text: str, width: int) -> list[str]:
    lines = text.splitlines()
    for line in lines:
        assert cell_len(line) <= width, (width, line)
        assert line == line.rstrip(), repr(line)
    return lines


def test_wrap_breaks_between_words_and_keeps_operators_with_the_next_word() -> None:
    lines = wrap("delta2 = delta3 * w3 * s'(z2) = -0.406504 * 0.78 * 0.24978", 30)
    assert lines == ["delta2 = delta3 * w3 * s'(z2)", "= -0.406504 * 0.78 * 0.24978"]
    assert wrap("a <= b and c", 5) == ["a", "<= b", "and c"]
    assert wrap("as in Sec. 5 of it", 10) == ["as in", "Sec. 5 of", "it"]


def test_wrap_keeps_the_indentation_and_hangs_continuations() -> None:
    assert wrap("   = x + y", 8, "", "     ") == ["   = x", "     + y"]
    assert wrap("one two three", 9, "  - ") == ["  - one", "    two", "    three"]


def test_wrap_cuts_a_word_only_when_it_is_wider_than_the_line() -> None:
    assert wrap("abcdefghij k", 4) == ["abcd", "efgh", "ij k"]


def test_short_formulas_in_running_text_are_not_split() -> None:
    p = par("Gradients: ", m("dL/dw1 = 0.00136364, dL/dw2 = -0.0427113"), ", and so on.")
    assert document_text([p], 34).splitlines() == [
        "Gradients: dL/dw1 = 0.00136364,",
        "dL/dw2 = -0.0427113, and so on.",
        "",
    ]


def test_headings_fill_the_width_or_wrap_above_a_rule() -> None:
    lines = document_text([Heading("Title", 1), Heading("Part", 2)], 20).splitlines()
    assert lines == ["", "====== Title =======", "", "Part ---------------"]
    long = document_text([Heading("A title far too long for it", 1)], 20).splitlines()
    assert long == ["", "A title far too long", "for it", "=" * 20]


def test_displayed_formulas_keep_their_alignment() -> None:
    eq = Equations((Math("y = a + b\n    (a rule)", ""), Math("  = c", "")))
    assert document_text([eq], 40).splitlines() == [
        "    y = a + b",
        "        (a rule)",
        "      = c",
        "",
    ]


TABLE = Table(
    ("layer", "value", "note"),
    (("1", "0.00136364", "a short note"), ("2", "-0.0427113", "another note")),
    "Numbers",
)


def test_a_table_that_fits_is_one_line_per_row() -> None:
    assert document_text([TABLE], 80).splitlines() == [
        "Numbers",
        "  layer   value        note",
        "  " + "─" * 33,
        "  1       0.00136364   a short note",
        "  2       -0.0427113   another note",
        "",
    ]


def test_a_narrow_table_wraps_its_text_and_keeps_its_numbers() -> None:
    lines = check_lines(document_text([TABLE], 28), 28)
    assert lines[1:4] == [
        "  layer  value       note",
        "  " + "─" * 26,
        "  1      0.00136364  a short",
    ]
    assert "-0.0427113" in lines[5]


def test_columns_marked_under_go_below_their_row_when_the_table_is_too_wide() -> None:
    product = "delta2 = delta3 * w3 * s'(z2) = -0.406504 * 0.78 * 0.24978"
    row = ("2", product, "-0.0791986", "He et al. 2015")
    t = Table(("layer", m("product"), "delta", "source"), (row,), under=(1, 3))
    wide = document_text([t], 100).splitlines()
    assert wide[2] == f"  2       {product}   -0.0791986   He et al. 2015"
    narrow = document_text([t], 50).splitlines()
    assert narrow == [  # a formula's header names no value below: the product names itself
        "  layer   delta",
        "  " + "─" * 18,
        "  2       -0.0791986",
        "          delta2 = delta3 * w3 * s'(z2)",
        "              = -0.406504 * 0.78 * 0.24978",
        "          source: He et al. 2015",
        "",
    ]


def test_a_wide_table_of_few_rows_is_transposed_and_of_many_rows_split() -> None:
    header = ("layer", *(f"p{i:02d}" for i in range(12)))
    few = Table(header, tuple((str(k), *(f"0.00{k}{i:02d}" for i in range(12))) for k in (1, 2)))
    lines = check_lines(document_text([few], 60), 60)
    assert lines[0].split() == ["layer", "1", "2"] and lines[2].split() == [
        "p00",
        "0.00100",
        "0.00200",
    ]
    many = Table(header, tuple((str(k), *(f"0.00{k}{i:02d}" for i in range(12))) for k in range(9)))
    lines = check_lines(document_text([many], 60), 60)
    heads = [line.split() for line in lines if line.startswith("  layer")]
    assert len(heads) > 1 and sorted(w for h in heads for w in h[1:]) == list(header[1:])
    assert all(h[0] == "layer" for h in heads)


def test_a_table_too_wide_for_any_grid_is_written_row_by_row() -> None:
    t = Table(("name", "value"), (("first", "0.000123456789"),))
    assert document_text([t], 20).splitlines() == [
        "  name: first",
        "  value:",
        "      0.000123456789",
        "",
    ]


words = st.text(alphabet="ab0123456789.-e", min_size=1, max_size=10)
cells = st.lists(words, min_size=1, max_size=4).map(" ".join)


@settings(max_examples=60, deadline=None)
@given(
    ncols=st.integers(1, 7),
    data=st.data(),
    width=st.integers(24, 120),
)
def test_every_table_fits_and_keeps_every_word_whole(
    ncols: int, data: st.DataObject, width: int
) -> None:
    header = tuple(data.draw(st.lists(words, min_size=ncols, max_size=ncols)))
    rows = tuple(
        tuple(data.draw(st.lists(cells, min_size=ncols, max_size=ncols)))
        for _ in range(data.draw(st.integers(1, 5)))
    )
    text = document_text([Table(header, rows, "caption")], width)
    lines = check_lines(text, width)
    found = set(" ".join(lines).split())
    for row in rows:
        for cell in row:
            for word in cell.split():
                assert word in found, (word, text)


@pytest.mark.parametrize("width", [40, 80, 120])
def test_print_document_prints_the_laid_out_lines(width: int) -> None:
    blocks = [
        Heading("Title", 1),
        par("Some words ", m("x = 1"), " and more words " * 6),
        Bullets((par("an item " * 12),)),
        TABLE,
    ]
    buf = io.StringIO()
    print_document(blocks, Console(file=buf, width=width, color_system=None, force_terminal=False))
    assert buf.getvalue() == document_text(blocks, width)
    assert [line for line, _ in document_lines(blocks, width)] == buf.getvalue().splitlines()
    check_lines(buf.getvalue(), width)
