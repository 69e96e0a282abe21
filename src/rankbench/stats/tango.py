"""Tango's score interval for the difference of two paired proportions (1/0 scores on the same items).

Each item falls in one cell of a 2×2 table of (variant right?, probe right?). Only the discordant
cells move Δ = p_variant − p_probe:

    b = items only the variant got right        c = items only the probe got right
    n = all items                               Δ̂ = (b − c) / n

Tango (1998, Statistics in Medicine 17:891–908) tests H0: Δ = δ with the score statistic

    T(δ) = (b − c − n·δ) / √( n·(2·q̃ + δ·(1 − δ)) )

where q̃ is the maximum-likelihood estimate of P(c-cell) restricted to Δ = δ, in closed form:

    q̃ = (√(B² − 4·A·C) − B) / (2·A),   A = 2n,   B = −b − c + (2n − b + c)·δ,   C = −c·δ·(1 − δ)

The (1 − α) interval is {δ : |T(δ)| ≤ z_{1−α/2}}. T falls as δ grows, so each bound is the root of
T(δ) = ±z, found here by bisection on (−1, 1) to double precision. Unlike a Wald or t-interval it keeps
its one-sided level when only a handful of items are discordant, and it never collapses to zero width:
with b = c = 0 the bounds are ±z²/(n + z²).

Published check (Tango's table, a=59, b=6, c=16, d=80): 95% interval (−0.1240, −0.0054).
All functions accept numpy arrays for b, c (and n) so that calibration can enumerate whole grids.
"""

from __future__ import annotations

from typing import Any

import numpy as np

TANGO_METHOD = "Tango score interval for paired proportions (restricted MLE, score-test inversion)"
_BISECTIONS = 64  # halves the bracket to below 1e-18 of its width: beyond double precision


def restricted_mle(b: Any, c: Any, n: Any, delta: Any) -> np.ndarray:
    """q̃: the MLE of the probe-only cell probability under the constraint Δ = delta (Tango's closed form)."""
    b, c, n, delta = (np.asarray(x, dtype=np.float64) for x in (b, c, n, delta))
    a_ = 2.0 * n
    b_ = -b - c + (2.0 * n - b + c) * delta
    c_ = -c * delta * (1.0 - delta)
    disc = np.maximum(b_ * b_ - 4.0 * a_ * c_, 0.0)  # ≥ 0 in exact arithmetic; clip rounding
    return (np.sqrt(disc) - b_) / (2.0 * a_)


def score_statistic(b: Any, c: Any, n: Any, delta: Any) -> np.ndarray:
    """T(δ) = (b − c − nδ) / √(n(2q̃ + δ(1 − δ))); ±inf where the variance vanishes."""
    b, c, n, delta = (np.asarray(x, dtype=np.float64) for x in (b, c, n, delta))
    q = restricted_mle(b, c, n, delta)
    var = n * (2.0 * q + delta * (1.0 - delta))
    num = b - c - n * delta
    with np.errstate(divide="ignore", invalid="ignore"):
        t = num / np.sqrt(np.maximum(var, 0.0))
    return np.where(var > 0.0, t, np.where(num > 0, np.inf, np.where(num < 0, -np.inf, 0.0)))


def _root(b, c, n, target, lo, hi) -> np.ndarray:
    """δ in [lo, hi] where the decreasing T(δ) crosses ``target`` (bisection, elementwise)."""
    lo, hi = np.array(lo, dtype=np.float64), np.array(hi, dtype=np.float64)
    for _ in range(_BISECTIONS):
        mid = 0.5 * (lo + hi)
        above = score_statistic(b, c, n, mid) > target  # still left of the crossing
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
    return 0.5 * (lo + hi)


def tango_interval(b: Any, c: Any, n: Any, z: float) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) of the Tango interval at critical value z (z = 1.959964 for 95%), elementwise.

    ``b`` counts items only the variant got right, ``c`` items only the probe got right, out of ``n``.
    """
    b, c, n = np.broadcast_arrays(*(np.asarray(x, dtype=np.float64) for x in (b, c, n)))
    point = (b - c) / n
    low = _root(b, c, n, z, np.full_like(point, -1.0), point)
    high = _root(b, c, n, -z, point, np.full_like(point, 1.0))
    return low, high


def tango_lower(b: Any, c: Any, n: Any, z: float) -> np.ndarray:
    """The lower bound alone (what a non-inferiority verdict reads): half the work of the interval."""
    b, c, n = np.broadcast_arrays(*(np.asarray(x, dtype=np.float64) for x in (b, c, n)))
    point = (b - c) / n
    return _root(b, c, n, z, np.full_like(point, -1.0), point)
