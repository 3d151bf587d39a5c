"""Reproductions of classic results on vanishing and exploding gradients, one module per paper.

Every paper module meets the ``Reproduction`` protocol (mypy checks each one, at the bottom of
this file): its ``TITLE`` and ``CITATION``; its parameters, a frozen dataclass whose fields
carry the defaults (``DEFAULTS``) and the smaller ones of ``--quick`` (``QUICK``); and
``run(params, *, seed=0)``, pure and seeded, built on the engine (``core.dense``,
``core.inits``) and the wide-net simulations (``lab.wide``). ``run`` returns a frozen dataclass
that meets ``ReproductionResult``: the table (``header``, ``rows``), ``notes`` on what the table
leaves out, and the comparison to the paper: ``anchors``, each the paper's published value (or
an independent closed form) beside what was measured (``Anchor``). The faces (the text, JSON
and figure of ``gradtrace reproduce NAME``) read only that, so they treat every paper alike.

``REPRODUCTIONS`` names them; an entry (``Entry``) imports its module only when it is run.
A new reproduction is one module meeting the protocol, its name in ``NAMES``, its claim in
``present.reproduce_doc.CLAIMS`` and its drawing in ``present.figures.reproduce``.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar, cast

from gradtrace.core.errors import SpecError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = [
    "NAMES",
    "REPRODUCTIONS",
    "Anchor",
    "Entry",
    "Reproduction",
    "ReproductionResult",
    "get_reproduction",
]


@dataclass(frozen=True)
class Anchor:
    """One number a reproduction is held to.

    **Fields:** ``name`` (what it is), ``expected`` (the paper's value or the closed form),
    ``measured``, ``tolerance`` (relative, or absolute when ``absolute``), ``source`` (where
    ``expected`` comes from: a figure, an equation, a derivation), ``unmeasurable`` (why the
    run could not measure it, e.g. ``"not measurable in this grid"``; empty when measured: then
    ``measured`` is NaN and the anchor is neither held nor failed).
    """

    name: str
    expected: float
    measured: float
    tolerance: float
    source: str
    absolute: bool = False
    unmeasurable: str = ""

    @property
    def measurable(self) -> bool:
        """Whether the run measured this anchor (``unmeasurable`` is empty)."""
        return not self.unmeasurable

    @property
    def error(self) -> float:
        """``|measured - expected|``, relative to ``|expected|`` unless ``absolute``."""
        diff = abs(self.measured - self.expected)
        return diff if self.absolute else diff / abs(self.expected)

    @property
    def ok(self) -> bool:
        """Whether the measured value lies within the tolerance; True for an anchor that could
        not be measured (not a failure; see ``measurable``)."""
        return not self.measurable or bool(self.error <= self.tolerance)


class ReproductionResult(Protocol):
    """What every paper module's ``run`` returns, as far as the faces read it."""

    @property
    def name(self) -> str:
        """The paper's name in ``REPRODUCTIONS``."""
        ...

    @property
    def seed(self) -> int:
        """The seed the run drew from."""
        ...

    @property
    def header(self) -> Sequence[str]:
        """The table's column names."""
        ...

    @property
    def rows(self) -> Sequence[Sequence[str | float]]:
        """The table: one tuple per row, strings and numbers."""
        ...

    @property
    def notes(self) -> Sequence[str]:
        """Sentences on what the table leaves out (may be empty)."""
        ...

    @property
    def anchors(self) -> Sequence[Anchor]:
        """The comparison to the paper: each number the reproduction is held to."""
        ...


P = TypeVar("P", bound="DataclassInstance")
"""A paper's parameters: a frozen dataclass whose fields carry the defaults."""


class Reproduction(Protocol[P]):
    """A paper module: what ``gradtrace reproduce NAME`` needs of it."""

    @property
    def TITLE(self) -> str:
        """What is reproduced, in a line."""
        ...

    @property
    def CITATION(self) -> str:
        """The paper, and the figures and equations reproduced."""
        ...

    @property
    def DEFAULTS(self) -> P:
        """The parameters of a full run."""
        ...

    @property
    def QUICK(self) -> P:
        """Smaller parameters (``--quick``): the same result, less precisely."""
        ...

    def run(self, params: P, *, seed: int = 0) -> ReproductionResult:
        """The reproduction at ``params``, drawn from ``seed``."""
        ...


NAMES = ("he2015", "glorot2010", "schoenholz2017", "pennington2017", "hanin2018", "trainability")
"""Every reproduction, in the order the CLI lists them; each is the name of its module here."""


@dataclass(frozen=True)
class Entry:
    """A reproduction by name; its module (``gradtrace.reproduce.<module>``, the name unless
    given) is imported only when asked for."""

    name: str
    module: str = ""

    @property
    def path(self) -> str:
        """The module's dotted path."""
        return f"{__name__}.{self.module or self.name}"

    @property
    def available(self) -> bool:
        """Whether the module is on this install."""
        return importlib.util.find_spec(self.path) is not None

    def paper(self) -> Reproduction[DataclassInstance]:
        """The paper module (imported now); SpecError when it is not on this install."""
        if not self.available:
            raise SpecError(
                f"reproduction {self.name!r} is not on this install ({self.path} is missing)",
                field="name",
            )
        # which parameters is known to the module only: any dataclass, as far as the registry knows
        return cast("Reproduction[DataclassInstance]", importlib.import_module(self.path))

    @property
    def title(self) -> str:
        """The paper module's ``TITLE``."""
        return self.paper().TITLE

    @property
    def citation(self) -> str:
        """The paper module's ``CITATION``."""
        return self.paper().CITATION

    def run(self, *, quick: bool = False, seed: int = 0, **params: object) -> ReproductionResult:
        """The module's ``run`` at its ``DEFAULTS`` (``QUICK`` when ``quick``) with ``params``
        replacing fields by name; SpecError naming the fields for an unknown one."""
        paper = self.paper()
        base = paper.QUICK if quick else paper.DEFAULTS
        fields = [f.name for f in dataclasses.fields(base)]
        unknown = [k for k in params if k not in fields]
        if unknown:
            raise SpecError(
                f"reproduction {self.name!r} has no parameter {unknown[0]!r} "
                f"(its parameters: {', '.join(fields)})",
                field=unknown[0],
            )
        return paper.run(dataclasses.replace(base, **params), seed=seed)


REPRODUCTIONS: dict[str, Entry] = {name: Entry(name) for name in NAMES}
"""Every reproduction by name."""


def get_reproduction(name: str) -> Entry:
    """The entry called ``name``; SpecError listing the names otherwise."""
    try:
        return REPRODUCTIONS[name]
    except (KeyError, TypeError):
        raise SpecError(
            f"unknown reproduction {name!r} (choose from {', '.join(REPRODUCTIONS)})",
            field="name",
        ) from None


if TYPE_CHECKING:  # mypy holds every paper module to the protocol
    from gradtrace.reproduce import (
        glorot2010,
        hanin2018,
        he2015,
        pennington2017,
        schoenholz2017,
        trainability,
    )

    _he2015: Reproduction[he2015.He2015Params] = he2015
    _glorot2010: Reproduction[glorot2010.Glorot2010Params] = glorot2010
    _schoenholz2017: Reproduction[schoenholz2017.Schoenholz2017Params] = schoenholz2017
    _pennington2017: Reproduction[pennington2017.Pennington2017Params] = pennington2017
    _hanin2018: Reproduction[hanin2018.Hanin2018Params] = hanin2018
    _trainability: Reproduction[trainability.TrainabilityParams] = trainability
