"""Theory of deep random networks: mean-field signal propagation (``meanfield``)."""

from gradtrace.theory.meanfield import (
    CRITICAL_TOL,
    MeanField,
    PhaseDiagram,
    correlation_map,
    critical_sigma_w2,
    gradient_growth,
    length_map,
    mean_field,
    phase_diagram,
)

__all__ = [
    "CRITICAL_TOL",
    "MeanField",
    "PhaseDiagram",
    "correlation_map",
    "critical_sigma_w2",
    "gradient_growth",
    "length_map",
    "mean_field",
    "phase_diagram",
]
