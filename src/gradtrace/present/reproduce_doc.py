"""Documents for the reproductions (``gradtrace reproduce NAME``): what the paper claims, the
table, each anchor beside its measured value, and the reading."""

from __future__ import annotations

from gradtrace.present.blocks import Block, Heading, Inline, Table, fmt, par
from gradtrace.reproduce import REPRODUCTIONS, ReproductionResult

__all__ = ["CLAIMS", "anchors_table", "reproduction_document", "result_table"]

CLAIMS = {
    "he2015": (
        "In a deep ReLU net each layer keeps half the second moment of its input. Weights of "
        "variance 2/n (He) keep the scale through any depth; the Xavier variance 1/n (for "
        "n_in = n_out) halves the variance per layer, so the output's std falls as 2^(-L/2)."
    ),
    "glorot2010": (
        "With the standard init U(-1/sqrt(n), 1/sqrt(n)) the variance of the back-propagated "
        "gradients shrinks toward the lower layers (by n Var(W) = 1/3 per layer in the linear "
        "regime); the normalized init keeps it about constant. While training a deep sigmoid net "
        "with the standard init, the top hidden layer saturates toward 0."
    ),
    "schoenholz2017": (
        "Correlations between two inputs approach their fixed point as exp(-l / xi_c); xi_c "
        "diverges at the order-to-chaos transition, so only nets near criticality carry "
        "information (and gradients) through many layers."
    ),
    "pennington2017": "The input-output Jacobian's singular values: dynamical isometry.",
    "hanin2018": (
        "At finite width a ReLU net's output fluctuates beyond the Gaussian: for He-initialized "
        "Gaussian weights E[Z^4] / E[Z^2]^2 = 3 prod(1 + 5/n_j), about 3 exp(5 sum 1/n_j), "
        "so deep narrow nets have wildly varying activations and gradients."
    ),
    "trainability": (
        "A deep net trains only if signals and gradients cross it: the correlation between two "
        "inputs decays over xi_c layers, so a net deeper than a few xi_c (about 6 xi_c in the "
        "paper's experiments) does not train. xi_c diverges at the order-to-chaos transition, "
        "where the trainable depth is largest."
    ),
}


def _cell(v: str | float) -> Inline:
    return v if isinstance(v, str) else fmt(v, 4)


def result_table(result: ReproductionResult) -> Table:
    """The result's own table (``header`` and ``rows``)."""
    rows = tuple(tuple(_cell(v) for v in row) for row in result.rows)
    return Table(tuple(result.header), rows)


def anchors_table(result: ReproductionResult) -> Table:
    """Each anchor: the published or closed-form value beside the measured one."""
    rows = tuple(
        (
            a.name,
            fmt(a.expected, 4),
            fmt(a.measured, 4) if a.measurable else a.unmeasurable,
            (
                (f"{a.error:.3g}" if a.absolute else f"{100 * a.error:.1f}%")
                + (" (abs)" if a.absolute else "")
                if a.measurable
                else "-"
            ),
            (f"{a.tolerance:g}" if a.absolute else f"{100 * a.tolerance:g}%"),
            ("yes" if a.ok else "NO") if a.measurable else "n/a",
            a.source,
        )
        for a in result.anchors
    )
    header: tuple[Inline, ...] = (
        "anchor",
        "expected",
        "measured",
        "off by",
        "tolerance",
        "within",
        "source",
    )
    caption = "the paper's value (or the closed form) beside the measurement"
    return Table(header, rows, caption, under=(6,))  # a narrow terminal: the source below


def reproduction_document(result: ReproductionResult) -> list[Block]:
    """One reproduction: claim, table, anchors, reading."""
    entry = REPRODUCTIONS[result.name]
    measured = [a for a in result.anchors if a.measurable]
    held = sum(a.ok for a in measured)
    total = len(measured)
    return [
        Heading(entry.title, 1),
        par(entry.citation + "."),
        Heading("What the paper claims", 2),
        par(CLAIMS[result.name]),
        Heading("Measured", 2),
        result_table(result),
        *(par(note) for note in result.notes),
        Heading("Anchors", 2),
        anchors_table(result),
        Heading("Reading", 2),
        par(
            f"{held} of {total} anchors lie within their tolerance"
            + "".join(
                f" ({a.name}: {a.unmeasurable}; not counted)"
                for a in result.anchors
                if not a.measurable
            )
            + (": the result reproduces." if held == total else "; see the rows marked NO.")
        ),
    ]
