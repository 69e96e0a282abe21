"""Input checks shared by the statistics: every problem becomes a RankbenchError that says what and where."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from rankbench.errors import RankbenchError


def check_confidence(confidence: float) -> float:
    confidence = float(confidence)
    if not 0.0 < confidence < 1.0:
        raise RankbenchError(
            f"confidence must be strictly between 0 and 1, got {confidence}",
            hint="use e.g. 0.95 for a 95% interval",
        )
    return confidence


def check_tolerance(tolerance: float) -> float:
    tolerance = float(tolerance)
    if not (tolerance >= 0.0 and math.isfinite(tolerance)):
        raise RankbenchError(
            f"tolerance must be a finite number ≥ 0, got {tolerance}",
            hint="the tolerance is the largest accuracy loss you accept, e.g. 0.01 for one point",
        )
    return tolerance


def as_scores(values: Any, what: str) -> np.ndarray:
    """A 1-D float64 array of per-item scores in [0, 1], or a RankbenchError naming ``what``."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise RankbenchError(f"{what} must be a 1-D sequence of per-item scores, got shape {arr.shape}")
    if arr.size == 0:
        raise RankbenchError(f"{what} is empty: there are no items to compare")
    if not np.all(np.isfinite(arr)):
        raise RankbenchError(f"{what} contains NaN or infinite scores")
    if arr.min() < 0.0 or arr.max() > 1.0:
        raise RankbenchError(
            f"{what} has scores outside [0, 1] (min {arr.min():g}, max {arr.max():g})",
            hint="per-item scores are 1/0 correctness or a score in [0, 1], not percentages",
        )
    return arr


def paired_differences(probe_scores: Any, variant_scores: Any, where: str = "") -> tuple[np.ndarray, ...]:
    """(probe, variant, variant − probe) as float64 arrays, after checking they pair item by item."""
    prefix = f"{where}: " if where else ""
    probe = as_scores(probe_scores, f"{prefix}probe scores")
    variant = as_scores(variant_scores, f"{prefix}variant scores")
    if probe.shape != variant.shape:
        raise RankbenchError(
            f"{prefix}probe has {probe.size} items but variant has {variant.size}; a paired comparison "
            "needs the same items in the same order",
            hint="evaluate every variant on exactly the probe's evaluation items",
        )
    return probe, variant, variant - probe


def to_dict(obj: Any) -> dict[str, Any]:
    """dataclasses.asdict with tuples turned into lists (JSON has no tuples)."""
    out = dataclasses.asdict(obj)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}
