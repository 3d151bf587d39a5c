"""Theory of deep random networks: mean-field signal propagation (``meanfield``) and the
Jacobian spectra of free probability (``spectra``)."""

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
from gradtrace.theory.spectra import (
    JacobianSpectrum,
    SpectrumTheory,
    jacobian_spectrum,
    predicted_moments,
    spectrum_theory,
)

__all__ = [
    "CRITICAL_TOL",
    "JacobianSpectrum",
    "MeanField",
    "PhaseDiagram",
    "SpectrumTheory",
    "correlation_map",
    "critical_sigma_w2",
    "gradient_growth",
    "jacobian_spectrum",
    "length_map",
    "mean_field",
    "phase_diagram",
    "predicted_moments",
    "spectrum_theory",
]
