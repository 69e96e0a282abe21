"""Best rank-k truncation of ΔW = scale·B·A from its factors, never forming the (out, in) product.

With R factors R_B (R_Bᵀ·R_B = BᵀB) and R_A (R_Aᵀ·R_A = A·Aᵀ) from :func:`r_factor`, and the SVD of the
small matrix R_B·R_Aᵀ = u·diag(s₀)·vt, the SVD of ΔW is U·diag(|scale|·s₀)·Vᵀ with U = sign·Q_B·u and
V = Q_A·vtᵀ, where Q_B = B·R_B⁻¹ and Q_A = Aᵀ·R_A⁻¹ have orthonormal columns. Q_B and Q_A are never
formed: since A·Q_A = R_Aᵀ and Q_Bᵀ·B = R_B,

    ΔW·V_k = scale·B·(R_Aᵀ·vt_kᵀ)          U_kᵀ·ΔW ∝ (u_kᵀ·R_B)·A

so the best rank-k approximation (Eckart–Young) is

    ΔW_k = scale · B·L_k · diag(1/s₀_k) · R_k·A,     L = R_Aᵀ·vtᵀ (r, m),  R = uᵀ·R_B (m, r).

The spectrum pass keeps only R_B, R_A and σ (:class:`CoreSVD`, what the audit computes); the vectors u,
vt of the r×r matrix are computed when a module is actually cut (:func:`truncation_weights`), and the
two big products (:func:`apply_truncation`) are a separate step, so a caller can run the tiny r×r SVD with
single-threaded BLAS (many tiny multi-threaded BLAS calls can crawl on a busy machine) and the big
products with all threads.

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
    """What a truncation of ΔW = scale·B·A needs besides B and A: O(r²) numbers.

    ``s`` are the singular values (as the audit computes them: R factors, then σ of R_B·R_Aᵀ without
    vectors); the vectors are only computed, by :func:`truncation_weights`, for a module that is cut.
    """

    s: np.ndarray  # (r,) σ of scale·B·A, descending, zeros kept
    RB: np.ndarray  # (p, r), R_Bᵀ·R_B = BᵀB, p = min(out, r)
    RA: np.ndarray  # (q, r), R_Aᵀ·R_A = A·Aᵀ, q = min(in, r)
    scale: float


def core_svd(B: np.ndarray, A: np.ndarray, scale: float) -> CoreSVD:
    """B: (out, r), A: (r, in) float64 → :class:`CoreSVD` (raises NonFiniteError on NaN/Inf)."""
    r = B.shape[1]
    RB, _ = r_factor(B, factor="B")  # (p, r)
    RA, _ = r_factor(A.T, factor="A")  # (q, r)
    s0 = np.linalg.svd(RB @ RA.T, compute_uv=False)  # (p, r) @ (r, q) -> (min(p, q),)
    s = np.zeros(r)
    s[: s0.size] = abs(scale) * s0
    return CoreSVD(s=s, RB=RB, RA=RA, scale=float(scale))


def numerical_rank(s: np.ndarray) -> int:
    """The number of σᵢ above len(σ)·ε·σ₁: the directions a truncation can write (the rest are rounding
    noise of an exactly rank-deficient product, and :func:`truncation_weights` writes them as zeros)."""
    s = np.sort(np.asarray(s, dtype=np.float64).ravel())[::-1]
    if not s.size or s[0] == 0:
        return 0
    return int(np.sum(s > s.size * _EPS * s[0]))


def discarded_energy(s: np.ndarray, k: int) -> float:
    """Σ_{i>k} σᵢ²: the squared Frobenius error of the best rank-k approximation."""
    return float(np.sum(np.asarray(s)[k:] ** 2))


def truncation_weights(core: CoreSVD, k: int, new_scale: float) -> tuple[np.ndarray, np.ndarray]:
    """The small matrices of the rank-k truncation: (left (r, m), right (m, r)), m = min(k, rank bound),
    with B' = B·left and A' = right·A (zero-padded to k) giving new_scale·B'·A' = ΔW_k."""
    if new_scale == 0:
        raise ValueError("new_scale must be non-zero")
    u, s0, vt = np.linalg.svd(core.RB @ core.RA.T, full_matrices=False)  # u (p, n), s0 (n,), vt (n, q)
    m = min(k, s0.size)
    live = s0[:m] > (s0.size * _EPS * s0[0] if s0.size else 0.0)
    c = core.scale / new_scale
    w = np.zeros(m)
    w[live] = np.sqrt(abs(c) / s0[:m][live])  # (m,)
    left = core.RA.T @ (vt[:m].T * (np.sign(c) * w))  # (r, q) @ (q, m): L·diag(sign·w)
    right = (u[:, :m].T * w[:, None]) @ core.RB  # (m, p) @ (p, r): diag(w)·R
    return left, right


def apply_truncation(B: np.ndarray, A: np.ndarray, left: np.ndarray, right: np.ndarray, k: int):
    """(B', A') = (B·left, right·A), zero-padded to rank k, in the factors' dtype (float32 stays so)."""
    dt = np.result_type(B.dtype, A.dtype)
    m = left.shape[1]
    B_new = np.zeros((B.shape[0], k), dtype=dt)
    A_new = np.zeros((k, A.shape[1]), dtype=dt)
    B_new[:, :m] = B @ left.astype(dt)  # (out, r) @ (r, m)
    A_new[:m] = right.astype(dt) @ A  # (m, r) @ (r, in)
    return B_new, A_new


def truncate_factors(
    B: np.ndarray, A: np.ndarray, core: CoreSVD, k: int, new_scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """(B', A') of shapes (out, k), (k, in) with new_scale·B'·A' = best rank-k approximation of ΔW."""
    if not 1 <= k <= B.shape[1]:
        raise ValueError(f"k must be in [1, r={B.shape[1]}], got {k}")
    left, right = truncation_weights(core, k, new_scale)
    return apply_truncation(B, A, left, right, k)


def random_subspace_factors(
    B: np.ndarray, A: np.ndarray, scale: float, k: int, new_scale: float, gaussian: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """A control at rank k: ΔW' = scale·B·Q·Qᵀ·A with Q a random (r, k) orthonormal basis.

    Same parameter count as the truncation, not optimal. ``gaussian``: an (r, k) standard normal draw
    (Q is its QR basis, uniformly distributed). Returns (B', A', ‖ΔW − ΔW'‖_F²), new_scale·B'·A' = ΔW'.
    """
    r = B.shape[1]
    if not 1 <= k <= r or gaussian.shape != (r, k):
        raise ValueError(f"k must be in [1, r={r}] and gaussian ({r}, k), got k={k}, {gaussian.shape}")
    Q, _ = np.linalg.qr(gaussian)  # (r, k) orthonormal columns
    c = np.sqrt(abs(scale / new_scale))
    B_new = (B @ Q) * (np.sign(scale / new_scale) * c)  # (out, r) @ (r, k)
    A_new = (Q.T @ A) * c  # (k, r) @ (r, in)
    RB, _ = r_factor(B, factor="B")  # (p, r)
    RA, _ = r_factor(A.T, factor="A")  # (q, r)
    residual = scale * (RB - (RB @ Q) @ Q.T) @ RA.T  # (p, r) @ (r, q): Q_Bᵀ·(ΔW − ΔW')·Q_A
    return B_new, A_new, float(np.sum(residual**2))
