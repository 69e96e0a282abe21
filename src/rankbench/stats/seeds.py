"""Across seeds: a summary of per-seed values and the t-interval of their mean."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from rankbench.errors import RankbenchError
from rankbench.records import from_record
from rankbench.stats._validate import check_confidence, to_dict
from rankbench.stats.distributions import t_ppf

T_INTERVAL_METHOD = "t-interval of the mean across seeds (df = n - 1)"


def _as_values(values: Any, what: str = "values") -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise RankbenchError(f"{what} must be a non-empty 1-D sequence of numbers, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise RankbenchError(f"{what} contains NaN or infinite values")
    return arr


def summarize(values: Any) -> dict[str, Any]:
    """{"mean", "std", "values", "min", "max", "n"} of per-seed values.

    mean = Σxᵢ/n; std = √(Σ(xᵢ − mean)²/(n − 1)) (ddof=1), and None for a single value (undefined,
    written as null rather than a misleading 0.0). ``values`` are plain floats in the given order.
    """
    arr = _as_values(values)
    return {
        "mean": float(arr.mean()),
        "std": float(arr.std(ddof=1)) if arr.size > 1 else None,
        "values": [float(v) for v in arr],
        "min": float(arr.min()),
        "max": float(arr.max()),
        "n": int(arr.size),
    }


@dataclass(frozen=True)
class TInterval:
    """Mean of n values with its t-interval: mean ± t_{1−α/2, n−1}·s/√n; no interval when n < 2."""

    n: int
    mean: float
    std: float | None
    se: float | None
    df: int | None
    ci_low: float | None
    ci_high: float | None
    confidence: float
    method: str
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    from_dict = classmethod(from_record)  # the one rule: rankbench.records


def t_interval(values: Any, confidence: float = 0.95) -> TInterval:
    """t-interval of the mean across seeds: x̄ ± t_{1−α/2, n−1}·s/√n, s = std(x, ddof=1), α = 1 − confidence.

    It treats seeds as independent draws; with few seeds the t quantile is large (t_{0.975, 2} = 4.303),
    which is the honest price of three seeds. One value gives no interval (fields None, a note says so).
    """
    confidence = check_confidence(confidence)
    arr = _as_values(values)
    n = int(arr.size)
    mean = float(arr.mean())
    if n < 2:
        note = "only 1 value: no spread across seeds can be estimated, so there is no interval"
        return TInterval(n, mean, None, None, None, None, None, confidence, T_INTERVAL_METHOD, (note,))
    std = float(arr.std(ddof=1))
    se = std / math.sqrt(n)
    half = t_ppf(0.5 + confidence / 2.0, n - 1) * se
    notes = ("all values are equal: the interval has zero width",) if std == 0.0 else ()
    return TInterval(n, mean, std, se, n - 1, mean - half, mean + half, confidence, T_INTERVAL_METHOD, notes)
