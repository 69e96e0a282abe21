"""Pure numpy spectral math: exact singular values of ΔW = scale·B·A and the rank metrics built on them.

No file, torch or printing here; see :mod:`rankbench.spectral.factored` and
:mod:`rankbench.spectral.metrics` for the definitions.
"""

from rankbench.spectral.factored import (
    METHODS,
    FactoredSpectrum,
    NonFiniteError,
    factored_spectrum,
    factored_svd,
    gram_singular_values,
    singular_values,
)
from rankbench.spectral.metrics import (
    ENERGY_TAUS,
    METRIC_DEFINITIONS,
    effective_rank,
    energy_rank,
    energy_ranks,
    frobenius_norm,
    spectral_norm,
    stable_rank,
    utilization,
)

__all__ = [
    "ENERGY_TAUS",
    "METHODS",
    "METRIC_DEFINITIONS",
    "FactoredSpectrum",
    "NonFiniteError",
    "effective_rank",
    "energy_rank",
    "energy_ranks",
    "factored_spectrum",
    "factored_svd",
    "frobenius_norm",
    "gram_singular_values",
    "singular_values",
    "spectral_norm",
    "stable_rank",
    "utilization",
]
