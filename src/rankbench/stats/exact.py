"""Small-n verdicts that hold their level by construction: Tango's statistic with an exact critical value.

A single-seed non-inferiority verdict for 1/0 scores tests H0: Δ ≤ −τ against Δ > −τ with Tango's
score statistic T(−τ) (:mod:`rankbench.stats.tango`); PASS iff T(−τ) > z_{1−α/2}, which is the same as
the lower bound of Tango's interval lying above −τ. That normal critical value is an approximation: at a
few hundred items the exact false-PASS rate at Δ = −τ runs above α/2 for some discordance rates.

Here the critical value is exact instead. At the null boundary Δ = −τ the 2×2 table has one free
parameter, the discordance p = P(b-cell) + P(c-cell) ∈ [τ, 1], and (b, c, rest) is trinomial with
probabilities ((p − τ)/2, (p + τ)/2, 1 − p). For each p on a fine grid the tail P_p(T ≥ t) is summed
exactly over every table with non-negligible probability (the rest lies > 9 standard deviations away,
below 1e-18), and c_p is the smallest attained value of T whose tail is ≤ α/2. The verdict uses

    c* = max(z_{1−α/2}, max_p c_p)

so its false-PASS rate at Δ = −τ is ≤ α/2 at every p of the grid: the exact unconditional test of the
same score statistic, maximised over the discordance as the nuisance (Berger & Boos style, without the
confidence-set step). Where c* = z the verdict is plain Tango, and the method name says so. Results are
cached per (n, τ, α): a bench computes one value per eval-set size.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from rankbench.stats.distributions import normal_ppf
from rankbench.stats.tango import score_statistic

EXACT_MAX_N = 5000  # above this the enumeration gets slow (7 s at 5,000) and Tango's excess is < 0.01%
EXACT_METHOD = (
    "Tango score interval with an exact critical value (false PASS ≤ α/2 at Δ = −tolerance for every "
    "discordance)"
)
_SPAN = 9.0  # standard deviations kept around the trinomial's centre


def nuisance_grid(tolerance: float, points: int = 240) -> np.ndarray:
    """Discordance values p ∈ [τ, 1] to maximise over: dense near τ (where b is rare), then even."""
    lo = max(tolerance, 1e-6)
    span = 1.0 - lo
    geometric = lo + span * np.geomspace(1e-5, 1.0, points // 2)
    linear = np.linspace(lo, 1.0, points - points // 2)
    return np.unique(np.concatenate([[tolerance if tolerance > 0 else lo], geometric, linear]))


@functools.cache
def _log_factorial(n: int) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, n + 1, dtype=np.float64)))])


def _window(centre: float, sd: float, lo: int, hi: int) -> tuple[int, int]:
    return max(lo, int(math.floor(centre - _SPAN * sd - 2))), min(hi, int(math.ceil(centre + _SPAN * sd + 2)))


def trinomial_tables(
    n: int, p: float, tolerance: float, delta: float | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(b, c, probability) of every table with non-negligible probability at Δ = ``delta`` (default
    −τ, the null boundary) and discordance p ≥ |Δ|."""
    delta = -tolerance if delta is None else delta
    p_b, p_c = max((p + delta) / 2.0, 0.0), max((p - delta) / 2.0, 0.0)
    m_lo, m_hi = _window(n * p, math.sqrt(n * p * (1 - p)), 0, n)
    m = np.arange(m_lo, m_hi + 1)
    q = p_b / p if p > 0 else 0.0
    b_sd = math.sqrt(m_hi * q * (1 - q))
    b_lo, b_hi = _window(m_lo * q, b_sd, 0, m_lo)[0], _window(m_hi * q, b_sd, 0, m_hi)[1]
    b = np.arange(b_lo, b_hi + 1)
    bb, mm = np.meshgrid(b, m, indexing="ij")  # (B, M)
    ok = bb <= mm
    bb, mm = bb[ok], mm[ok]
    cc = mm - bb
    lf = _log_factorial(n)
    logp = lf[n] - lf[bb] - lf[cc] - lf[n - mm]
    logp = logp + _xlogy(bb, p_b) + _xlogy(cc, p_c) + _xlogy(n - mm, 1.0 - p)
    return bb, cc, np.exp(logp)


def _xlogy(x: np.ndarray, y: float) -> np.ndarray:
    if y <= 0.0:
        return np.where(x > 0, -np.inf, 0.0)
    return x * math.log(y)


def tail_probability(
    n: int, p: float, tolerance: float, critical: float, delta: float | None = None
) -> float:
    """P_p(T(−τ) ≥ critical) at Δ = ``delta`` (default −τ: the false-PASS rate of a verdict with that
    critical value; Δ = 0 gives its power)."""
    b, c, prob = trinomial_tables(n, p, tolerance, delta)
    t = score_statistic(b, c, n, -tolerance)
    return float(prob[t >= critical].sum())


def _critical_at(n: int, p: float, tolerance: float, level: float) -> float:
    """c_p: the smallest attained T whose tail P_p(T ≥ c_p) is ≤ level (+inf if none)."""
    b, c, prob = trinomial_tables(n, p, tolerance)
    t = score_statistic(b, c, n, -tolerance)
    order = np.argsort(-t, kind="stable")
    t, prob = t[order], prob[order]
    tail = np.cumsum(prob)  # tail[k] = P(T ≥ t[k]) once ties are grouped (take the last of each tie)
    last_of_tie = np.r_[t[1:] != t[:-1], True]
    ok = (tail <= level) & last_of_tie
    if not ok.any():
        return math.inf
    return float(t[np.nonzero(ok)[0][-1]])


@functools.cache
def exact_critical_value(n: int, tolerance: float, alpha: float = 0.05) -> float:
    """c* = max(z_{1−α/2}, max_p c_p) for n items at margin τ (see the module docstring); cached."""
    z = normal_ppf(1.0 - alpha / 2.0)
    worst = max(_critical_at(n, float(p), tolerance, alpha / 2.0) for p in nuisance_grid(tolerance))
    return max(z, worst)


def verdict_critical_value(n: int, tolerance: float, alpha: float = 0.05) -> float:
    """The critical value a single-seed 1/0 verdict uses: exact for n ≤ EXACT_MAX_N, else z."""
    if n <= EXACT_MAX_N:
        return exact_critical_value(int(n), float(tolerance), round(float(alpha), 12))
    return normal_ppf(1.0 - alpha / 2.0)


def exact_level(
    n: int, tolerance: float, critical: float, grid: np.ndarray | None = None
) -> tuple[float, float]:
    """(max over p of the false-PASS rate at Δ = −τ, the p where it is reached) for a critical value."""
    grid = nuisance_grid(tolerance, 601) if grid is None else grid
    rates = [tail_probability(n, float(p), tolerance, critical) for p in grid]
    k = int(np.argmax(rates))
    return rates[k], float(grid[k])
