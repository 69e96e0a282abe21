"""Could this campaign have shown non-inferiority? Power at the margin, and a confidence label.

The verdict is PASS iff Δ̂ − z_{1−α/2}·se > −tolerance (lower bound of the (1−α) interval). If the true
Δ is 0 and Δ̂ ~ N(0, se²), that happens with probability

    power = Φ(tolerance/se − z_{1−α/2})

(normal approximation; α is the two-sided level of the interval, so the test is one-sided at α/2).
The smallest margin reaching 80% power is MDE = (z_{1−α/2} + z_0.8)·se, the same formula as
:func:`~rankbench.stats.paired.minimum_detectable_effect`, so power(tolerance = MDE) = 0.8 exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from rankbench.stats._validate import check_confidence, check_tolerance, from_dict, to_dict
from rankbench.stats.distributions import normal_cdf, normal_ppf
from rankbench.stats.paired import minimum_detectable_effect

POWER_LABEL_RULE = "sufficient if power ≥ 0.8, marginal if power ≥ 0.5, else insufficient"
CONFIDENCE_RULE = "high if ≥ 3 seeds and power ≥ 0.8; medium if ≥ 2 seeds and power ≥ 0.5; else low"


@dataclass(frozen=True)
class PowerResult:
    """Power to declare non-inferiority when the true Δ is 0, its label, and the confidence level."""

    power: float | None
    label: str
    confidence_level: str
    se: float | None
    tolerance: float
    alpha: float
    n_seeds: int
    mde: float | None
    rule: str
    label_rule: str
    confidence_rule: str
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PowerResult:
        return from_dict(cls, data)


def power_label(power: float | None) -> str:
    """Label: "sufficient" if power ≥ 0.8, "marginal" if power ≥ 0.5, else "insufficient" (also None)."""
    if power is None:
        return "insufficient"
    if power >= 0.8:
        return "sufficient"
    return "marginal" if power >= 0.5 else "insufficient"


def confidence_level(n_seeds: int, power: float | None) -> str:
    """Level: "high" if n_seeds ≥ 3 and power ≥ 0.8; "medium" if ≥ 2 seeds and power ≥ 0.5; else "low"."""
    if power is None:
        return "low"
    if n_seeds >= 3 and power >= 0.8:
        return "high"
    if n_seeds >= 2 and power >= 0.5:
        return "medium"
    return "low"


def statistical_power(
    se: float | None, tolerance: float, *, n_seeds: int, confidence: float = 0.95
) -> PowerResult:
    """Power = Φ(tolerance/se − z_{1−α/2}) with α = 1 − confidence, plus its label and confidence level.

    ``se`` is the standard error of the pooled Δ (the bootstrap se across seeds). se = 0 gives power 1
    when tolerance > 0 (and 0 when tolerance = 0, since ci_low > 0 = Δ is impossible); se None gives
    power None, "insufficient", "low". E.g. se = 0.004, tolerance = 0.01: Φ(2.5 − 1.959964) = 0.7053.
    """
    tolerance = check_tolerance(tolerance)
    confidence = check_confidence(confidence)
    alpha = round(1.0 - confidence, 12)
    z = normal_ppf(1.0 - alpha / 2.0)
    notes = []
    if se is None:
        power = mde = None
        notes.append("no standard error: power cannot be computed")
    else:
        se = float(se)
        if not (se >= 0.0 and math.isfinite(se)):
            raise ValueError(f"se must be a finite number ≥ 0 or None, got {se}")
        mde = minimum_detectable_effect(se, alpha=alpha, power=0.8)
        if se == 0.0:
            power = 1.0 if tolerance > 0.0 else 0.0
            notes.append("se = 0: the data show no variation in Δ, so power is degenerate (0 or 1)")
        else:
            power = normal_cdf(tolerance / se - z)
    return PowerResult(
        power=power,
        label=power_label(power),
        confidence_level=confidence_level(n_seeds, power),
        se=se,
        tolerance=tolerance,
        alpha=alpha,
        n_seeds=int(n_seeds),
        mde=mde,
        rule=(
            f"power = Φ(tolerance/se − z_{{1−α/2}}), α = {alpha:g}: probability that the lower bound of "
            f"the {confidence * 100:g}% interval of Δ exceeds −{tolerance:g} when the true Δ is 0 "
            "(normal approximation)"
        ),
        label_rule=POWER_LABEL_RULE,
        confidence_rule=CONFIDENCE_RULE,
        notes=tuple(notes),
    )
