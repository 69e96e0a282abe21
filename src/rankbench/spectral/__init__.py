"""Pure numpy spectral math: exact singular values of ΔW = scale·B·A and the rank metrics built on them.

No file, torch or printing here; see :mod:`rankbench.spectral.factored` and
:mod:`rankbench.spectral.metrics` for the definitions.
"""

from rankbench.spectral.factored import (
    METHODS,
    NonFiniteError,
    factored_svd,
    gram_singular_values,
    singular_values,
    singular_values_with_route,
)
from rankbench.spectral.metrics import (
    ENERGY_TAUS,
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
    "NonFiniteError",
    "effective_rank",
    "energy_rank",
    "energy_ranks",
    "factored_svd",
    "frobenius_norm",
    "gram_singular_values",
    "singular_values",
    "singular_values_with_route",
    "spectral_norm",
    "stable_rank",
    "utilization",
]
