"""Exact singular values and SVD of a low-rank product ΔW = scale·B·A, never forming ΔW.

With thin QR factorisations B = Q_B·R_B and Aᵀ = Q_A·R_A,

    ΔW = scale · Q_B · (R_B·R_Aᵀ) · Q_Aᵀ

and Q_B, Q_A have orthonormal columns, so the singular values of ΔW are those of the small r×r matrix
scale·R_B·R_Aᵀ. Only the R factors are needed for the spectrum. Everything runs in float64.

How an R factor is computed (:func:`r_factor`, ``method="exact"``):

1. **Cholesky QR**: G = XᵀX, R₁ = chol(G)ᵀ. Rounding perturbs G by ΔG with |ΔG_ij| ≲ ε·‖x_i‖‖x_j‖, so
   R₁ = W·R with W orthogonal up to ‖WᵀW − I‖ ≲ k·ε·κ_s², where κ_s is the condition number of X
   with unit-norm columns. That error is *multiplicative*: every singular value of R_B·R_Aᵀ, small ones
   included, keeps a relative error of that size. When κ_s < ``ONE_PASS_KAPPA`` (8) the bound is
   k·ε·64 (≈ 5e-13 for r = 64) and one pass is exact for our purposes. Random and typical trained
   factors (n ≫ r) have κ_s of 1 to 3. κ_s is never computed: a Cholesky of a shifted Gram matrix
   proves it is below the threshold (see :func:`_kappa_below`).
2. **CholeskyQR2**: otherwise Q₁ = X·R₁⁻¹ is re-orthogonalised by a second pass, R = R₂·R₁, which is
   backward stable (orthogonality O(ε)) for κ_s up to about ε^(-1/2); we use it up to ``TWO_PASS_KAPPA``.
3. **Householder QR** (LAPACK geqrf) when κ_s is larger still, when Cholesky breaks down, or when X is
   wide (fewer rows than the rank).

``method="gram"`` is the shortcut: eigenvalues of (BᵀB)(AAᵀ), i.e. σ². Squaring the matrix squares
its condition number, so singular values below ~1e-8·σ₁ come out wrong (often as zero or noise of
that size) even in float64. It is never used unless asked for.

``method="householder"`` always uses step 3 (a slower reference); ``method="cholqr2"`` always runs
both Cholesky passes (with the same Householder fallback).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

METHODS = ("exact", "gram", "cholqr2", "householder")
ONE_PASS_KAPPA = 8.0
TWO_PASS_KAPPA = 1e6


class NonFiniteError(ValueError):
    """A factor contains NaN or Inf; ``factor`` is "A" or "B"."""

    def __init__(self, factor: str) -> None:
        self.factor = factor
        super().__init__(f"lora_{factor} contains NaN or Inf")


def _as_factors(B, A) -> tuple[np.ndarray, np.ndarray]:
    B = np.asarray(B, dtype=np.float64)
    A = np.asarray(A, dtype=np.float64)
    if B.ndim != 2 or A.ndim != 2:
        raise ValueError(f"B and A must be 2-D, got B{B.shape} and A{A.shape}")
    if B.shape[1] != A.shape[0]:
        raise ValueError(f"B (out, r) and A (r, in) do not pair: B{B.shape}, A{A.shape}")
    return B, A


def _kappa_below(Gs: np.ndarray, kappa: float) -> bool:
    """Whether cond(X·D⁻¹) < ``kappa``, from its Gram matrix Gs (unit diagonal), at the cost of one
    Cholesky: Gs − (λ̄/κ²)·I is positive definite iff λ_min > λ̄/κ², and λ̄ ≥ λ_max (Gershgorin), so
    success proves λ_max/λ_min < κ² (a borderline case may take the slower route, never the reverse)."""
    lam_bound = np.abs(Gs).sum(axis=1).max()  # ≥ λ_max
    try:
        np.linalg.cholesky(Gs - (lam_bound / kappa**2) * np.eye(Gs.shape[0]))
    except np.linalg.LinAlgError:
        return False
    return True


def _householder_r(X: np.ndarray) -> np.ndarray:
    return np.linalg.qr(X, mode="r")  # X: (n, k) -> R: (min(n, k), k)


def r_factor(X: np.ndarray, *, passes: str = "auto", factor: str = "X") -> tuple[np.ndarray, str]:
    """R factor of the thin QR of X (n, k), and which route computed it.

    ``passes``: "auto" (one Cholesky pass when κ_s < ONE_PASS_KAPPA, else two), "two" (always two),
    "householder" (always Householder). Returns ``(R, route)`` with R of shape (min(n, k), k) and route
    one of "zero", "cholqr", "cholqr2", "householder". Raises :class:`NonFiniteError` on NaN/Inf.
    """
    n, k = X.shape
    G = X.T @ X  # X: (n, k) -> G: (k, k); NaN/Inf anywhere in X makes G non-finite
    if not np.isfinite(G).all():
        if not np.isfinite(X).all():
            raise NonFiniteError(factor)
        return _householder_r(X), "householder"  # finite entries above ~1e154 overflow the Gram matrix
    norms = np.sqrt(np.diag(G))  # column norms, (k,)
    if not norms.any() and not X.any():
        return np.zeros((min(n, k), k)), "zero"
    if passes == "householder" or n < k or not norms.all():  # also entries below ~1e-154 underflowing
        return _householder_r(X), "householder"
    Gs = G / np.outer(norms, norms)  # (k, k): Gram matrix of X with unit-norm columns
    if not _kappa_below(Gs, TWO_PASS_KAPPA):
        return _householder_r(X), "householder"
    try:
        R1 = np.linalg.cholesky(Gs).T * norms  # (k, k) upper triangular, R1ᵀR1 = G (scaled Cholesky)
        if passes == "auto" and _kappa_below(Gs, ONE_PASS_KAPPA):
            return R1, "cholqr"
        Q1 = X @ np.linalg.inv(R1)  # X: (n, k) @ R1⁻¹: (k, k) -> Q1: (n, k)
        R2 = np.linalg.cholesky(Q1.T @ Q1).T  # Q1ᵀQ1: (k, k)
    except np.linalg.LinAlgError:
        return _householder_r(X), "householder"
    return R2 @ R1, "cholqr2"  # (k, k) @ (k, k)


def _pad(s: np.ndarray, r: int) -> np.ndarray:
    out = np.zeros(r)
    out[: s.size] = np.sort(s)[::-1][:r]
    return out


def gram_singular_values(B: np.ndarray, A: np.ndarray) -> np.ndarray:
    """σ of B·A as square roots of the eigenvalues of (BᵀB)(AAᵀ): fast, loses tails below ~1e-8·σ₁."""
    GB = B.T @ B  # B: (out, r) -> (r, r)
    GA = A @ A.T  # A: (r, in) -> (r, r)
    if not np.isfinite(GB).all():
        raise NonFiniteError("B")
    if not np.isfinite(GA).all():
        raise NonFiniteError("A")
    lam = np.linalg.eigvals(GB @ GA).real  # (r, r) @ (r, r); eigenvalues = σ² (real up to rounding)
    return np.sqrt(np.clip(lam, 0.0, None))


@dataclass(frozen=True)
class FactoredSpectrum:
    """σ of scale·B·A (descending, r of them) and how each R factor was computed."""

    singular_values: np.ndarray  # (r,)
    route_B: str  # "zero" | "cholqr" | "cholqr2" | "householder" | "gram"
    route_A: str

    @property
    def route(self) -> str:
        """The costlier of the two routes (what the pair as a whole needed)."""
        order = ("zero", "gram", "cholqr", "cholqr2", "householder")
        return max(self.route_B, self.route_A, key=order.index)


def factored_spectrum(B, A, scale: float = 1.0, *, method: str = "exact") -> FactoredSpectrum:
    """Like :func:`singular_values`, also telling which route computed each factor's R."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    B, A = _as_factors(B, A)
    r = B.shape[1]
    if method == "gram":
        return FactoredSpectrum(_pad(abs(scale) * gram_singular_values(B, A), r), "gram", "gram")
    passes = {"exact": "auto", "cholqr2": "two", "householder": "householder"}[method]
    RB, route_b = r_factor(B, passes=passes, factor="B")  # (min(out, r), r)
    RA, route_a = r_factor(A.T, passes=passes, factor="A")  # Aᵀ: (in, r) -> (min(in, r), r)
    if "zero" in (route_b, route_a):
        return FactoredSpectrum(np.zeros(r), route_b, route_a)
    M = RB @ RA.T  # (min(out, r), r) @ (r, min(in, r))
    s = np.linalg.svd(M, compute_uv=False)
    return FactoredSpectrum(_pad(abs(scale) * s, r), route_b, route_a)


def singular_values(B, A, scale: float = 1.0, *, method: str = "exact") -> np.ndarray:
    """Singular values of scale·B·A, descending, float64, exactly r = B.shape[1] of them (zeros kept).

    B: (out, r), A: (r, in). ``method``: "exact" (Cholesky QR, CholeskyQR2 when needed, Householder
    fallback; see the module docs), "gram" (fast eigenvalue shortcut, inaccurate tails), "cholqr2" or
    "householder" (fixed routes, for reference). Raises :class:`NonFiniteError` on NaN/Inf and
    ValueError when the shapes don't pair.
    """
    return factored_spectrum(B, A, scale, method=method).singular_values


def factored_svd(B, A, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact thin SVD of scale·B·A without forming the (out, in) product: U (out, r), s (r,), Vt (r, in).

    U·diag(s)·Vt == scale·B·A. s is descending. When r > min(out, in) the trailing columns of U, entries
    of s and rows of Vt are zero. Householder QR throughout (this also returns the vectors, so it is
    used for truncation rather than for the audit's hot path).
    """
    B, A = _as_factors(B, A)
    if not np.isfinite(B).all():
        raise NonFiniteError("B")
    if not np.isfinite(A).all():
        raise NonFiniteError("A")
    (out, r), n_in = B.shape, A.shape[1]
    QB, RB = np.linalg.qr(B)  # B: (out, r) -> QB: (out, p), RB: (p, r), p = min(out, r)
    QA, RA = np.linalg.qr(A.T)  # Aᵀ: (in, r) -> QA: (in, q), RA: (q, r), q = min(in, r)
    Um, s, Vmt = np.linalg.svd(RB @ RA.T, full_matrices=False)  # (p, r) @ (r, q) -> (p, m), (m,), (m, q)
    m = s.size
    U = np.zeros((out, r))
    Vt = np.zeros((r, n_in))
    U[:, :m] = QB @ Um  # (out, p) @ (p, m)
    Vt[:m] = Vmt @ QA.T  # (m, q) @ (q, in)
    if scale < 0:
        U[:, :m] *= -1.0
    s_out = np.zeros(r)
    s_out[:m] = abs(scale) * s
    return U, s_out, Vt
