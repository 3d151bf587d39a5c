"""Reproductions of classic results on vanishing and exploding gradients, one module per paper.

Each module has ``run(..., seed=0) -> Result``: pure and seeded, built on the engine (``dense``,
``inits``) and the wide-net simulations (``lab.wide``), returning a frozen dataclass with its
table, its figure's data and its anchors: the paper's published value or an independent closed
form, side by side with what was measured (``Anchor``).

``REPRODUCTIONS`` names them (``gradtrace reproduce NAME``). An entry points at its module by
name and is imported only when run, so an entry whose module has not landed yet
stays listed and says so when asked (``Reproduction.available``).

The contract a module meets to be served by ``gradtrace reproduce``: ``run(*, seed=0, **params)``
returning a result with ``name`` (the registry key), ``seed``, ``header`` and ``rows`` (the
table: strings and numbers) and ``anchors`` (``Anchor`` s); ``plots.reproduction_figure`` draws
it by ``name``. ``pennington2017``'s ``run`` takes a config object (``gradtrace jacobian`` shares it), so its
entry names ``reproduce``, the function that meets the contract.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass, field
from typing import Any

from gradtrace.core.errors import SpecError

__all__ = ["REPRODUCTIONS", "Anchor", "Reproduction", "get_reproduction"]


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


@dataclass(frozen=True)
class Reproduction:
    """A registry entry: ``title``, ``citation``, the module under ``gradtrace.reproduce`` that
    holds ``run``, its default parameters and the smaller ones of ``--quick``."""

    name: str
    title: str
    citation: str
    module: str
    defaults: dict[str, Any] = field(default_factory=dict)
    quick: dict[str, Any] = field(default_factory=dict)
    function: str = "run"  # the module's function meeting the contract below

    @property
    def available(self) -> bool:
        """Whether the module is on this install (``pennington2017`` lands with the spectra)."""
        return importlib.util.find_spec(f"{__name__}.{self.module}") is not None

    def run(self, *, quick: bool = False, **params: Any) -> Any:
        """``module.run(**defaults, **quick, **params)``: explicit values win."""
        if not self.available:
            raise SpecError(
                f"reproduction {self.name!r} is not on this install yet "
                f"(gradtrace.reproduce.{self.module} is missing)",
                field="name",
            )
        module = importlib.import_module(f"{__name__}.{self.module}")
        values = {**self.defaults, **(self.quick if quick else {}), **params}
        return getattr(module, self.function)(**values)


REPRODUCTIONS: dict[str, Reproduction] = {
    r.name: r
    for r in (
        Reproduction(
            "he2015",
            "Output scale against depth in deep ReLU nets: Xavier against He initialization",
            "He, Zhang, Ren & Sun 2015, Delving Deep into Rectifiers, ICCV, Sec. 2.2 (Eq. 10)",
            "he2015",
            defaults={"width": 500, "depth": 30, "samples": 8},
            quick={"width": 200, "depth": 16, "samples": 4},
        ),
        Reproduction(
            "glorot2010",
            "Back-propagated gradients and top-layer saturation: standard against normalized init",
            "Glorot & Bengio 2010, Understanding the difficulty of training deep feedforward "
            "neural networks, AISTATS, Figs. 2 and 7, Eqs. 1, 12 and 16",
            "glorot2010",
            defaults={"epochs": 10},
            quick={"epochs": 2},
        ),
        Reproduction(
            "schoenholz2017",
            "The correlation depth scale xi_c against sigma_w^2: theory against simulation",
            "Schoenholz, Gilmer, Ganguli & Sohl-Dickstein 2017, Deep Information Propagation, "
            "ICLR, Fig. 2 and Eq. 9",
            "schoenholz2017",
            quick={"sigma_w2": (1.0, 1.3, 3.0, 4.0)},
        ),
        Reproduction(
            "pennington2017",
            "Jacobian spectra: dynamical isometry",
            "Pennington, Schoenholz & Ganguli 2017, Resurrecting the sigmoid in deep learning "
            "through dynamical isometry, NeurIPS",
            "pennington2017",
            defaults={"depths": (2, 4, 8, 16, 32), "width": 300, "samples": 4},
            quick={"depths": (2, 4, 8), "width": 200, "samples": 2},
            function="reproduce",
        ),
        Reproduction(
            "hanin2018",
            "Fluctuations of a ReLU net's output: E[Z^4] / E[Z^2]^2 against 3 prod(1 + 5/n_j)",
            "Hanin 2018, Which Neural Net Architectures Give Rise to Exploding and Vanishing "
            "Gradients?, NeurIPS, Thm. 1; Hanin & Rolnick 2018, How to Start Training, Thm. 5",
            "hanin2018",
            defaults={"samples": 40_000},
            quick={"samples": 10_000},
        ),
        Reproduction(
            "trainability",
            "The trainability phase diagram: accuracy over (sigma_w^2, depth) against 6 xi_c",
            "Schoenholz, Gilmer, Ganguli & Sohl-Dickstein 2017, Deep Information Propagation, "
            "ICLR, Sec. 6 and Fig. 5",
            "trainability",
            quick={"grid": "trainability-quick"},
        ),
    )
}
"""Every reproduction by name."""


def get_reproduction(name: str) -> Reproduction:
    """The entry called ``name``; SpecError listing the names otherwise."""
    try:
        return REPRODUCTIONS[name]
    except (KeyError, TypeError):
        raise SpecError(
            f"unknown reproduction {name!r} (choose from {', '.join(REPRODUCTIONS)})",
            field="name",
        ) from None
