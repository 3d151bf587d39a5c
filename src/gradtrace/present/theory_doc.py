"""The document of ``gradtrace theory``: the mean-field quantities at one point, each with its
formula, its meaning and its source, and the predicted gradient growth over depth."""

from __future__ import annotations

import math
import re

import numpy as np

from gradtrace.present.blocks import Block, Equations, Heading, Inline, Math, Table, human, par
from gradtrace.theory.meanfield import CRITICAL_TOL, MeanField
from gradtrace.theory.simulation import TheorySimulation

__all__ = ["POOLE", "SCHOENHOLZ", "theory_document"]

POOLE = (
    "Poole et al. 2016, Exponential expressivity in deep neural networks through transient chaos"
)
SCHOENHOLZ = "Schoenholz et al. 2017, Deep information propagation"


_TEX: tuple[tuple[str, str], ...] = (
    (r"sigma_w2", r"\sigma_w^2"),
    (r"sigma_b2", r"\sigma_b^2"),
    (r"chi_1", r"\chi_1"),
    (r"xi_q", r"\xi_q"),
    (r"xi_c", r"\xi_c"),
    (r"q\*", r"q^*"),
    (r"c\*", r"c^*"),
    (r"\bphi", r"\varphi"),
    (r"\bE\[", r"\mathbb{E}["),
    (r"\blog\b", r"\log"),
    (r"\boo\b", r"\infty"),
    (r"dL/dh", r"\partial L/\partial h"),
)


def m(plain: str) -> Math:
    """A formula of this page: the plain notation, and its LaTeX by the table above (powers
    ``^(..)`` to ``^{..}``, ``sqrt(..)`` to ``\\sqrt{..}``, ``z1`` to ``z_1``)."""
    tex = plain
    for pattern, latex in _TEX:
        tex = re.sub(pattern, latex.replace("\\", "\\\\"), tex)
    tex = re.sub(r"\^\(([^()]*(?:\([^()]*\))?[^()]*)\)", r"^{\1}", tex)
    tex = re.sub(r"sqrt\(([^()]*(?:\([^()]*\))?[^()]*)\)", lambda mt: "\\sqrt{" + mt[1] + "}", tex)
    tex = re.sub(r"\b([uz])(\d)\b", r"\1_\2", tex)
    return Math(plain, tex)


def _value(v: float | None, *, none: str = "undefined") -> Inline:
    if v is None:
        return none
    if math.isinf(v):
        return m("oo")
    return human(v, 6)


def _q_text(mf: MeanField) -> Inline:
    if mf.q_star is None:
        return "every q is fixed (the length map is the identity)"
    if math.isinf(mf.q_star):
        return "none: q grows without bound"
    return human(mf.q_star, 6)


def _growth_rows(mf: MeanField, growth: np.ndarray) -> tuple[tuple[Inline, ...], ...]:
    L = growth.size
    layers = sorted({1, 2, L // 4, L // 2, (3 * L) // 4, L - 1, L} & set(range(1, L + 1)))
    return tuple((str(k), str(L - k), human(growth[k - 1], 4)) for k in layers)


def simulation_blocks(sim: TheorySimulation) -> list[Block]:
    """The measured ``q^l`` and gradient-norm ratios of finite-width nets beside the prediction
    from the same input."""
    c = sim.run.config
    L = c.depth
    shown = sorted({*range(0, min(L, 5) + 1), *range(max(L - 3, 0), L + 1)})
    rows: list[tuple[Inline, ...]] = []
    for layer in shown:
        ratio = (
            (human(sim.run.grad_norm_ratio[layer - 1], 4), human(sim.ratio_predicted[layer - 1], 4))
            if layer >= 1
            else ("", "")
        )
        rows.append(
            (str(layer), human(sim.run.q[layer], 4), human(sim.q_predicted[layer], 4), *ratio)
        )
    return [
        Heading("Simulated beside the theory", 2),
        par(
            f"{c.samples} random nets of width {c.width:,} and depth {L} (seed {c.seed}), weights "
            "and biases drawn as above; one pair of inputs of per-unit second moment ",
            m(f"q^0 = {sim.run.q[0]:.4g}"),
            " and one random output gradient each. The prediction starts from the same input: ",
            m("q^1 = sigma_w2 q^0 + sigma_b2"),
            ", then the length map; the gradient ratio is ",
            m("prod_(k=l..L-1) sigma_w2 E[phi'(sqrt(q^k) z)^2]"),
            ", which is chi_1^(L-l) once q has settled. At finite width both fluctuate around "
            "the prediction by a few per cent per layer (Hanin 2018: more for small widths and "
            "deep nets).",
        ),
        Table(
            (
                "layer l",
                m("q^l measured"),
                m("q^l predicted"),
                m("|dL/dh^l|^2 / |dL/dh^L|^2 measured"),
                "predicted",
            ),
            tuple(rows),
            "Finite-width nets against the mean-field prediction",
        ),
    ]


def theory_document(
    mf: MeanField, growth: np.ndarray, simulated: TheorySimulation | None = None
) -> list[Block]:
    """The mean-field picture at (sigma_w2, sigma_b2), quantity by quantity; ``growth`` is
    ``gradient_growth(mf, L)``."""
    L = growth.size
    crit = mf.sigma_w2_critical
    phase_why = {
        "ordered": "chi_1 < 1: nearby inputs converge (c* = 1 is stable) and gradients vanish "
        "backwards by a factor chi_1 per layer",
        "chaotic": "chi_1 > 1: nearby inputs decorrelate (c* < 1) and gradients explode backwards "
        "by a factor chi_1 per layer",
        "critical": f"chi_1 = 1 (within {CRITICAL_TOL:g}): the edge of chaos, where xi_c diverges "
        "and gradients neither vanish nor explode",
    }[mf.phase]
    rows: tuple[tuple[Inline, ...], ...] = (
        (
            m("q*"),
            _q_text(mf),
            m("q^l = sigma_w2 E[phi(sqrt(q^(l-1)) z)^2] + sigma_b2"),
            "squared length per neuron that signals settle to",
        ),
        (
            m("c*"),
            _value(mf.c_star),
            m("c^l = (sigma_w2 E[phi(u1) phi(u2)] + sigma_b2) / q*"),
            "the correlation two inputs settle to",
        ),
        (
            m("chi_1"),
            _value(mf.chi_1),
            m("chi_1 = sigma_w2 E[phi'(sqrt(q*) z)^2]"),
            "per-layer factor of squared gradients; slope of the c map at c = 1",
        ),
        (
            m("xi_q"),
            _value(mf.xi_q),
            m("xi_q = -1/log(chi_1 + sigma_w2 E[phi''(u) phi(u)])"),
            "layers over which lengths approach q*",
        ),
        (
            m("xi_c"),
            _value(mf.xi_c),
            m("xi_c = -1/log(sigma_w2 E[phi'(u1) phi'(u2)]) at c*"),
            "layers over which correlations approach c*",
        ),
        (
            "critical sigma_w2",
            _value(crit, none="none at this sigma_b2"),
            m("chi_1(sigma_w2, sigma_b2) = 1"),
            "where order turns into chaos at this sigma_b2",
        ),
    )
    return [
        Heading(f"Mean-field theory: {mf.activation}", 1),
        par(
            "Weights W_ij ~ N(0, sigma_w2/N) and biases b_i ~ N(0, sigma_b2) in a fully connected "
            "net of infinite width, at ",
            m(f"sigma_w2 = {mf.sigma_w2:g}, sigma_b2 = {mf.sigma_b2:g}"),
            ". Expectations are over z, z1, z2 ~ N(0, 1), with ",
            m("u = sqrt(q*) z"),
            ", ",
            m("u1 = sqrt(q*) z1"),
            ", ",
            m("u2 = sqrt(q*) (c z1 + sqrt(1 - c^2) z2)"),
            "; computed by Gauss-Hermite quadrature.",
        ),
        Table(("quantity", "value", "formula", "meaning"), rows, "At the fixed point"),
        par(
            f"Sources: the length and correlation maps, q*, c* and chi_1: {POOLE}; the depth "
            f"scales, the critical line and the gradients: {SCHOENHOLZ}.",
        ),
        par(f"Phase: {mf.phase}. ", m(phase_why), "."),
        Heading("Gradients over depth", 2),
        par(
            f"Backpropagating through L = {L} layers, the mean squared gradient at layer l is "
            "predicted to be chi_1^(L-l) times the last layer's (Schoenholz et al. 2017, Sec. 5):",
        ),
        Equations((m("E|dL/dh^l|^2 = chi_1^(L-l) E|dL/dh^L|^2"),)),
        Table(
            ("layer l", "layers passed back", m("chi_1^(L-l)")),
            _growth_rows(mf, growth),
            f"Predicted gradient growth, chi_1 = {mf.chi_1:.6g}",
        ),
        *([] if simulated is None else simulation_blocks(simulated)),
    ]
