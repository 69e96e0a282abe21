"""Structured updates that are not a plain B·A: Hadamard (LoHa) and Kronecker (LoKr) products.

Both are turned into an exact factored form ΔW = B·A (never forming ΔW) or their σ are computed from
the factors' own σ:

- **Hadamard of two low-rank products** (face-splitting identity): (P₁Q₁) ⊙ (P₂Q₂) = (P₁ • P₂)(Q₁ * Q₂),
  with P₁ • P₂ the row-wise Kronecker product (out, r₁r₂) and Q₁ * Q₂ the column-wise one (r₁r₂, in).
  The update is then a product of two factors of inner size r₁r₂, and the exact factored spectrum of
  :mod:`rankbench.spectral.factored` applies. Worth it while r₁r₂ < min(out, in); otherwise the dense
  matrix is no larger.
- **Kronecker**: kron(W₁, W₂) = kron(U₁, U₂)·kron(S₁, S₂)·kron(V₁, V₂)ᵀ, so its singular values are all
  the products σᵢ(W₁)·σⱼ(W₂) and its singular vectors are Kronecker products of the factors' vectors.
  The top k directions are therefore built from the two small SVDs alone.

Pure numpy, float64.
"""

from __future__ import annotations

import numpy as np


def face_split_factors(P1, Q1, P2, Q2) -> tuple[np.ndarray, np.ndarray]:
    """(B, A) with B·A = (P1·Q1) ⊙ (P2·Q2). P: (out, rᵢ), Q: (rᵢ, in) → B (out, r₁r₂), A (r₁r₂, in)."""
    P1, Q1, P2, Q2 = (np.asarray(x, dtype=np.float64) for x in (P1, Q1, P2, Q2))
    out, n_in = P1.shape[0], Q1.shape[1]
    B = (P1[:, :, None] * P2[:, None, :]).reshape(out, -1)  # (out, r1, r2) -> (out, r1·r2)
    A = (Q1[:, None, :] * Q2[None, :, :]).reshape(-1, n_in)  # (r1, r2, in) -> (r1·r2, in)
    return B, A


def kron_singular_values(s1, s2) -> np.ndarray:
    """All products σᵢ·σⱼ of two spectra, descending: the singular values of kron(W₁, W₂)."""
    return np.sort(np.outer(np.asarray(s1, float), np.asarray(s2, float)).ravel())[::-1]


def kron_top_factors(svd1, svd2, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The k strongest directions of kron(W₁, W₂) from the factors' thin SVDs (U, s, Vt) each.

    Returns U_k (m₁m₂, k), s_k (k,), Vt_k (k, n₁n₂) with U_k·diag(s_k)·Vt_k the best rank-k approximation
    of kron(W₁, W₂) (ties broken by index order). Nothing of size (m₁m₂, n₁n₂) is formed.
    """
    (U1, s1, V1), (U2, s2, V2) = svd1, svd2
    prod = np.outer(s1, s2)  # (n1, n2)
    order = np.argsort(-prod.ravel(), kind="stable")[:k]
    i, j = np.unravel_index(order, prod.shape)
    U = (U1[:, i][:, None, :] * U2[:, j][None, :, :]).reshape(-1, order.size)  # kron of columns
    Vt = (V1[i][:, :, None] * V2[j][:, None, :]).reshape(order.size, -1)  # kron of rows
    return U, prod.ravel()[order], Vt
