"""Rank metrics of one ΔW, computed from its singular values σ₁ ≥ σ₂ ≥ … ≥ σ_r ≥ 0 (zeros included).

Every metric used in rankbench's outputs is defined here, once:

- ``frobenius_norm``  ‖ΔW‖_F = √(Σᵢ σᵢ²)
- ``spectral_norm``   ‖ΔW‖₂ = σ₁
- ``stable_rank``     Σᵢ σᵢ² / σ₁²  (between 1 and r; 0 for ΔW = 0)
- ``effective_rank``  exp(H(p)) with pᵢ = σᵢ / Σⱼ σⱼ and H(p) = −Σᵢ pᵢ·ln pᵢ (0·ln 0 = 0); Roy & Vetterli
  (2007). Between 1 and the number of non-zero σ; 0 for ΔW = 0.
- ``energy_rank``     the smallest k with Σᵢ≤ₖ σᵢ² ≥ τ·Σᵢ σᵢ². **Energy is the cumulative sum of σ², not
  of σ**: "90% energy rank" = how many directions hold 90% of ‖ΔW‖_F². 0 for ΔW = 0. A relative slack
  of 1e-12 on the threshold keeps it from flipping on rounding (e.g. σ = [1, 1], τ = 0.5 gives 1).
- ``utilization``     effective_rank / r: the fraction of the allotted rank that the spectrum spreads over
  (1 = all r directions equally strong; 1/r = a single direction; 0 for ΔW = 0).

Pure numpy; inputs are array-likes of non-negative values in any order (they are sorted descending).
"""

from __future__ import annotations

import numpy as np

ENERGY_TAUS = (0.9, 0.95, 0.99)
_ENERGY_SLACK = 1e-12

# The same definitions in one line each, copied into audit.json so the artifact describes itself.
METRIC_DEFINITIONS = {
    "singular_values": "sigma_1 >= ... >= sigma_r >= 0 of Delta W = scale * B @ A, exactly r values, zeros kept",
    "frobenius_norm": "sqrt(sum_i sigma_i^2)",
    "spectral_norm": "sigma_1",
    "stable_rank": "sum_i sigma_i^2 / sigma_1^2 (0 if Delta W = 0)",
    "effective_rank": "exp(-sum_i p_i ln p_i), p_i = sigma_i / sum_j sigma_j (Roy & Vetterli 2007)",
    "energy_rank": "smallest k with sum_{i<=k} sigma_i^2 >= tau * sum_i sigma_i^2 (energy = sigma^2, not sigma)",
    "utilization": "effective_rank / r",
}


def _sigma(s) -> np.ndarray:
    s = np.asarray(s, dtype=np.float64).ravel()
    if s.size and (not np.isfinite(s).all() or s.min() < 0):
        raise ValueError("singular values must be finite and non-negative")
    return np.sort(s)[::-1]


def frobenius_norm(s) -> float:
    """‖ΔW‖_F = √(Σ σᵢ²)."""
    s = _sigma(s)
    return float(np.sqrt(np.sum(s * s)))


def spectral_norm(s) -> float:
    """‖ΔW‖₂ = σ₁ (0 for an empty spectrum)."""
    s = _sigma(s)
    return float(s[0]) if s.size else 0.0


def stable_rank(s) -> float:
    """Σ σᵢ² / σ₁² (0 when σ₁ = 0)."""
    s = _sigma(s)
    if not s.size or s[0] == 0.0:
        return 0.0
    return float(np.sum((s / s[0]) ** 2))


def effective_rank(s) -> float:
    """exp(−Σ pᵢ ln pᵢ), pᵢ = σᵢ / Σ σⱼ (Roy & Vetterli 2007); 0 when all σ are 0."""
    s = _sigma(s)
    total = np.sum(s)
    if total == 0.0:
        return 0.0
    p = s / total
    p = p[p > 0]  # after the division: a subnormal σ can give p = 0, and 0·ln 0 counts as 0
    return float(np.exp(-np.sum(p * np.log(p))))


def energy_rank(s, tau: float) -> int:
    """Smallest k with Σᵢ≤ₖ σᵢ² ≥ τ·Σ σᵢ² (energy = σ², not σ); τ in (0, 1]; 0 when all σ are 0."""
    if not 0.0 < tau <= 1.0:
        raise ValueError(f"tau must be in (0, 1], got {tau}")
    s = _sigma(s)
    energy = np.cumsum(s * s)  # (r,), non-decreasing
    if not energy.size or energy[-1] == 0.0:
        return 0
    threshold = tau * energy[-1] * (1.0 - _ENERGY_SLACK)
    return int(np.searchsorted(energy, threshold, side="left")) + 1


def energy_ranks(s, taus=ENERGY_TAUS) -> dict[str, int]:
    """``{"0.9": k, "0.95": k, "0.99": k}``: energy_rank for each τ, keyed as in the JSON output."""
    return {f"{tau:g}": energy_rank(s, tau) for tau in taus}


def utilization(s, r: int) -> float:
    """effective_rank(s) / r, in [0, 1]."""
    if r <= 0:
        raise ValueError(f"r must be positive, got {r}")
    return effective_rank(s) / r
