"""The two distributions the statistics need: standard normal and Student's t.

Pure Python (stdlib ``math`` and ``statistics``), so ``rankbench.stats`` needs only numpy. The normal
comes from :class:`statistics.NormalDist` (Wichura's AS241 for the quantile, ~1e-16 relative).
Student's t is computed from the regularized incomplete beta function:

    P(T ≤ t) = 1 − ½·I_x(ν/2, ½)   for t ≥ 0,   with x = ν / (ν + t²)

and I_x(a, b) is evaluated with the continued fraction of Numerical Recipes §6.4 (modified Lentz).
The quantile inverts that CDF by bisection on the upper tail, to full double precision. Tests check
both against mpmath and against closed forms (ν = 1: t = tan(π(p − ½)); ν = 2: t = (2p−1)/√(2p(1−p))).
"""

from __future__ import annotations

import math
from statistics import NormalDist

from rankbench.errors import RankbenchError

_STD_NORMAL = NormalDist()
_EPS = 1e-16
_TINY = 1e-300


def _check_probability(p: float, name: str = "p") -> float:
    p = float(p)
    if not 0.0 < p < 1.0:
        raise RankbenchError(f"{name} must be strictly between 0 and 1, got {p}")
    return p


def normal_cdf(x: float) -> float:
    """Φ(x) = P(Z ≤ x) for Z ~ N(0, 1); Φ(±inf) = 1 or 0."""
    if math.isinf(x):
        return 1.0 if x > 0 else 0.0
    return _STD_NORMAL.cdf(float(x))


def normal_ppf(p: float) -> float:
    """z_p = Φ⁻¹(p), e.g. z_0.975 = 1.959964 and z_0.8 = 0.841621."""
    return _STD_NORMAL.inv_cdf(_check_probability(p))


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """Continued fraction for I_x(a, b) (Numerical Recipes §6.4), converges for x < (a+1)/(a+b+2)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, 1000):
        m2 = 2 * m
        even = m * (b - m) * x / ((qam + m2) * (a + m2))
        odd = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        for aa in (even, odd):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + aa / c
            c = c if abs(c) > _TINY else _TINY
            h *= d * c
        if abs(d * c - 1.0) < _EPS:
            return h
    raise ArithmeticError(f"incomplete beta continued fraction did not converge (a={a}, b={b}, x={x})")


def _betainc(a: float, b: float, x: float, y: float) -> float:
    """Regularized incomplete beta I_x(a, b), given x and y = 1 − x (passed separately for accuracy)."""
    if x <= 0.0:
        return 0.0
    if y <= 0.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(y)
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_continued_fraction(a, b, x) / a
    return 1.0 - front * _beta_continued_fraction(b, a, y) / b


def _t_upper_tail(t: float, df: float) -> float:
    """P(T > t) for t ≥ 0: ½·I_x(ν/2, ½) with x = ν/(ν + t²), 1 − x = t²/(ν + t²)."""
    t2 = t * t
    return 0.5 * _betainc(df / 2.0, 0.5, df / (df + t2), t2 / (df + t2))


def _check_df(df: float) -> float:
    df = float(df)
    if not (df > 0.0 and math.isfinite(df)):
        raise RankbenchError(f"degrees of freedom must be a positive finite number, got {df}")
    return df


def t_cdf(t: float, df: float) -> float:
    """P(T ≤ t) for Student's t with ν = df degrees of freedom (symmetric: F(−t) = 1 − F(t))."""
    df = _check_df(df)
    if math.isinf(t):
        return 1.0 if t > 0 else 0.0
    upper = _t_upper_tail(abs(float(t)), df)
    return 1.0 - upper if t >= 0 else upper


def t_ppf(p: float, df: float) -> float:
    """Quantile t_{p, ν}: the t with P(T ≤ t) = p, e.g. t_{0.975, 4} = 2.776445.

    Solved by bisection on the upper tail q = min(p, 1 − p) over t ∈ [0, hi], where hi doubles until
    P(T > hi) < q; the sign follows p − ½.
    """
    p = _check_probability(p)
    df = _check_df(df)
    if p == 0.5:
        return 0.0
    q = min(p, 1.0 - p)
    hi = max(1.0, 2.0 * abs(normal_ppf(q)))
    while _t_upper_tail(hi, df) > q:
        hi *= 2.0
    lo = 0.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if _t_upper_tail(mid, df) > q:
            lo = mid
        else:
            hi = mid
    t = 0.5 * (lo + hi)
    return t if p > 0.5 else -t
