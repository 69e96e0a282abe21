"""Best rank-k truncation of ΔW = scale·B·A from its factors, never forming the (out, in) product.

With R factors R_B (R_Bᵀ·R_B = BᵀB) and R_A (R_Aᵀ·R_A = A·Aᵀ) from :func:`r_factor`, and the SVD of the
small matrix R_B·R_Aᵀ = u·diag(s₀)·vt, the SVD of ΔW is U·diag(|scale|·s₀)·Vᵀ with U = sign·Q_B·u and
V = Q_A·vtᵀ, where Q_B = B·R_B⁻¹ and Q_A = Aᵀ·R_A⁻¹ have orthonormal columns. Q_B and Q_A are never
formed: since A·Q_A = R_Aᵀ and Q_Bᵀ·B = R_B,

    ΔW·V_k = scale·B·(R_Aᵀ·vt_kᵀ)          U_kᵀ·ΔW ∝ (u_kᵀ·R_B)·A

so the best rank-k approximation (Eckart–Young) is

    ΔW_k = scale · B·L_k · diag(1/s₀_k) · R_k·A,     L = R_Aᵀ·vtᵀ (r, m),  R = uᵀ·R_B (m, r).

To write it for PEFT with a new scale' (from the new alpha and rank) we split √σ evenly:
B' = B·L_k·diag(√(c/s₀_k)), A' = diag(√(c/s₀_k))·R_k·A with c = scale/scale' (a sign, if any, goes to
B'), so scale'·B'·A' = ΔW_k and each column of B' and row of A' has norm √(σ_i/|scale'|). The cost is
two thin products, (out, r)·(r, k) and (k, r)·(r, in), on top of the R factors the audit computes anyway.

Directions with s₀_i ≤ m·ε·s₀_1 (numerically zero) are written as zeros instead of being divided by a
rounding-noise value; they carry no more than that much energy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rankbench.spectral.factored import r_factor

_EPS = np.finfo(np.float64).eps


@dataclass(frozen=True, eq=False)
class CoreSVD:
    """The SVD of ΔW = scale·B·A kept in factor space (small: O(r²) numbers)."""

    s: np.ndarray  # (r,) σ of scale·B·A, descending, zeros kept
    s0: np.ndarray  # (m,) σ of R_B·R_Aᵀ, m = min(out, in, r)
    left: np.ndarray  # (r, m) L = R_Aᵀ·vtᵀ
    right: np.ndarray  # (m, r) R = uᵀ·R_B
    scale: float


def core_svd(B: np.ndarray, A: np.ndarray, scale: float) -> CoreSVD:
    """B: (out, r), A: (r, in) float64 → :class:`CoreSVD` (raises NonFiniteError on NaN/Inf)."""
    r = B.shape[1]
    RB, _ = r_factor(B, factor="B")  # (p, r), p = min(out, r)
    RA, _ = r_factor(A.T, factor="A")  # (q, r), q = min(in, r)
    u, s0, vt = np.linalg.svd(RB @ RA.T, full_matrices=False)  # (p, r)@(r, q) -> u (p, m), s0 (m,), vt (m, q)
    s = np.zeros(r)
    s[: s0.size] = abs(scale) * s0
    return CoreSVD(s=s, s0=s0, left=RA.T @ vt.T, right=u.T @ RB, scale=float(scale))  # (r, m), (m, r)


def discarded_energy(s: np.ndarray, k: int) -> float:
    """Σ_{i>k} σᵢ²: the squared Frobenius error of the best rank-k approximation."""
    return float(np.sum(np.asarray(s)[k:] ** 2))


def truncate_factors(
    B: np.ndarray, A: np.ndarray, core: CoreSVD, k: int, new_scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """(B', A') of shapes (out, k), (k, in) with new_scale·B'·A' = best rank-k approximation of ΔW."""
    if not 1 <= k <= B.shape[1]:
        raise ValueError(f"k must be in [1, r={B.shape[1]}], got {k}")
    if new_scale == 0:
        raise ValueError("new_scale must be non-zero")
    m = min(k, core.s0.size)
    s0 = core.s0[:m]
    live = s0 > (core.s0.size * _EPS * core.s0[0] if core.s0.size else 0.0)
    c = core.scale / new_scale
    w = np.zeros(m)
    w[live] = np.sqrt(abs(c) / s0[live])  # (m,)
    B_new = np.zeros((B.shape[0], k))
    A_new = np.zeros((k, A.shape[1]))
    B_new[:, :m] = B @ (core.left[:, :m] * (np.sign(c) * w))  # (out, r) @ (r, m)
    A_new[:m] = (core.right[:m] * w[:, None]) @ A  # (m, r) @ (r, in)
    return B_new, A_new


def random_subspace_factors(
    B: np.ndarray, A: np.ndarray, scale: float, k: int, new_scale: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, float]:
    """A control at rank k: ΔW' = scale·B·Q·Qᵀ·A with Q a random (r, k) orthonormal basis.

    Same parameter count as the truncation, not optimal. Returns (B', A', ‖ΔW − ΔW'‖_F²) with
    new_scale·B'·A' = ΔW'. Draws one (r, k) standard normal matrix from ``rng``.
    """
    r = B.shape[1]
    if not 1 <= k <= r:
        raise ValueError(f"k must be in [1, r={r}], got {k}")
    Q, _ = np.linalg.qr(rng.standard_normal((r, k)))  # (r, k) orthonormal columns
    c = np.sqrt(abs(scale / new_scale))
    B_new = (B @ Q) * (np.sign(scale / new_scale) * c)  # (out, r) @ (r, k)
    A_new = (Q.T @ A) * c  # (k, r) @ (r, in)
    RB, _ = r_factor(B, factor="B")  # (p, r)
    RA, _ = r_factor(A.T, factor="A")  # (q, r)
    residual = scale * (RB - (RB @ Q) @ Q.T) @ RA.T  # (p, r) @ (r, q): Q_Bᵀ·(ΔW − ΔW')·Q_A
    return B_new, A_new, float(np.sum(residual**2))
