"""Single-seed paired comparison: Δ = variant − probe on the same items, its t-interval, the verdict.

Every variant is evaluated on exactly the probe's items, so the comparison uses the per-item
differences dᵢ = variantᵢ − probeᵢ (i = 1..n) rather than two independent accuracies:

    Δ = mean(d)                     s = std(d, ddof=1)                se = s / √n
    CI = Δ ± t_{1−α/2, n−1} · se    with α = 1 − confidence           (paired t-interval)

With 1/0 scores, d ∈ {−1, 0, 1}; only the discordant items (one right, the other wrong) move Δ.

When 1/0 scores agree on every item, s = 0 and the t-interval collapses to [0, 0], which would let
any tolerance pass on a handful of items. The interval then comes from the discordance rate instead:
|Δ_true| ≤ p_disc (the chance that the two disagree on an item), and with 0 disagreements in n
items the exact one-sided (Clopper–Pearson) upper bound at level 1 − α/2 is u = 1 − (α/2)^(1/n).
The interval is [−u, +u]: e.g. n = 100 gives u = 0.0362 and n = 2000 gives u = 0.00184.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from rankbench.stats._validate import (
    check_confidence,
    check_tolerance,
    from_dict,
    paired_differences,
    to_dict,
)
from rankbench.stats.distributions import normal_ppf, t_ppf

PAIRED_METHOD = "paired t-interval on per-item differences (df = n - 1)"
NO_DISCORDANCE_METHOD = (
    "no discordant items: ±u, u = exact (Clopper-Pearson) upper bound on the discordance rate, "
    "1 - (alpha/2)^(1/n)"
)


def no_discordance_bound(n: int, confidence: float) -> float:
    """u = 1 − (α/2)^(1/n): the one-sided 1 − α/2 upper bound on a rate with 0 events in n trials."""
    alpha = 1.0 - confidence
    return 1.0 - (alpha / 2.0) ** (1.0 / n)


@dataclass(frozen=True)
class PairedDelta:
    """Paired Δ = variant − probe over n items, with its t-interval and (for 1/0 scores) discordant counts.

    ``std``, ``se``, ``ci_low``, ``ci_high`` are None when n < 2 (no spread can be estimated);
    ``degenerate`` is then "single_item", or "zero_variance" when every dᵢ is equal (the interval has
    zero width: it reflects no item-level variation, not certainty). ``variant_only_correct`` counts
    items the variant got right and the probe wrong, ``probe_only_correct`` the reverse; both are None
    unless every score is 0 or 1.
    """

    n: int
    probe_mean: float
    variant_mean: float
    delta: float
    std: float | None
    se: float | None
    ci_low: float | None
    ci_high: float | None
    confidence: float
    method: str
    binary: bool
    variant_only_correct: int | None
    probe_only_correct: int | None
    degenerate: str | None
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PairedDelta:
        return from_dict(cls, data)


def paired_delta(probe_scores: Any, variant_scores: Any, *, confidence: float = 0.95) -> PairedDelta:
    """Paired Δ = mean(variant − probe) with a t-interval: Δ ± t_{1−α/2, n−1}·s/√n, s = std(d, ddof=1).

    Raises RankbenchError when the two score arrays differ in length, are empty, or hold scores
    outside [0, 1].
    """
    confidence = check_confidence(confidence)
    probe, variant, d = paired_differences(probe_scores, variant_scores)  # all (n,)
    n = int(d.size)
    delta = float(d.mean())
    binary = bool(np.isin(probe, (0.0, 1.0)).all() and np.isin(variant, (0.0, 1.0)).all())
    variant_only = int(np.sum((variant == 1.0) & (probe == 0.0))) if binary else None
    probe_only = int(np.sum((probe == 1.0) & (variant == 0.0))) if binary else None
    std = se = ci_low = ci_high = None
    degenerate, notes, method = None, [], PAIRED_METHOD
    if n < 2:
        degenerate = "single_item"
        notes.append("only 1 item: no spread can be estimated, so there is no interval")
    else:
        std = float(d.std(ddof=1))
        se = std / math.sqrt(n)
        half = t_ppf(0.5 + confidence / 2.0, n - 1) * se
        ci_low, ci_high = delta - half, delta + half
        if std == 0.0:
            degenerate = "zero_variance"
            if binary and delta == 0.0:
                u = no_discordance_bound(n, confidence)
                ci_low, ci_high, method = -u, u, NO_DISCORDANCE_METHOD
                notes.append(
                    f"the two agree on all {n} items: the t-interval would have zero width, so the "
                    f"interval is ±{u:.4g}, the exact bound on how often they could disagree"
                )
            else:
                notes.append(
                    f"all {n} per-item differences equal {delta:g}: the interval has zero width; "
                    "it shows no item-level variation, not certainty"
                )
    return PairedDelta(
        n=n,
        probe_mean=float(probe.mean()),
        variant_mean=float(variant.mean()),
        delta=delta,
        std=std,
        se=se,
        ci_low=ci_low,
        ci_high=ci_high,
        confidence=confidence,
        method=method,
        binary=binary,
        variant_only_correct=variant_only,
        probe_only_correct=probe_only,
        degenerate=degenerate,
        notes=tuple(notes),
    )


def minimum_detectable_effect(se: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest margin the test can detect: MDE = (z_{1−α/2} + z_{power}) · se.

    α is the two-sided level of the interval whose lower bound decides the verdict (α = 1 − confidence),
    so the non-inferiority test is one-sided at α/2 = 0.025 for a 95% interval. If the true Δ is 0 and
    the tolerance equals the MDE, the verdict is PASS with probability ``power`` (normal approximation).
    E.g. se = 0.01, α = 0.05, power = 0.8: (1.959964 + 0.841621)·0.01 = 0.028016.
    """
    se = float(se)
    if not (se >= 0.0 and math.isfinite(se)):
        raise ValueError(f"se must be a finite number ≥ 0, got {se}")
    return (normal_ppf(1.0 - alpha / 2.0) + normal_ppf(power)) * se


class IntervalEstimate(Protocol):
    """What a verdict needs: a point estimate Δ, the lower bound of its interval, its se, the level."""

    delta: float
    ci_low: float | None
    se: float | None
    confidence: float


@dataclass(frozen=True)
class Verdict:
    """A non-inferiority verdict with the rule that produced it, the point-estimate rule and the MDE."""

    verdict: str
    rule: str
    tolerance: float
    confidence: float
    delta: float
    ci_low: float | None
    point_rule: str
    point_rule_verdict: str
    mde: float | None
    mde_rule: str
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        return from_dict(cls, data)


def noninferiority(pd: IntervalEstimate, tolerance: float) -> Verdict:
    """Non-inferiority at margin −tolerance: PASS iff ci_low > −tolerance, else FAIL.

    Also reports the point-estimate rule (PASS iff Δ ≥ −tolerance) and the MDE at 80% power,
    (z_{1−α/2} + z_0.8)·se with α = 1 − confidence. Works for a :class:`PairedDelta` and for a pooled
    :class:`~rankbench.stats.bootstrap.BootstrapCI`. Without an interval (n < 2) the verdict is FAIL.
    """
    tolerance = check_tolerance(tolerance)
    level = f"{pd.confidence * 100:g}%"
    rule = f"PASS iff lower bound of {level} CI of Δ > −{tolerance:g}"
    notes = []
    if pd.ci_low is None:
        verdict = "FAIL"
        notes.append("no interval could be computed, so non-inferiority cannot be shown")
    else:
        verdict = "PASS" if pd.ci_low > -tolerance else "FAIL"
    alpha = round(1.0 - pd.confidence, 12)
    mde = None if pd.se is None else minimum_detectable_effect(pd.se, alpha=alpha, power=0.8)
    mde_rule = f"MDE = (z_{{1−α/2}} + z_0.8)·se with α = {alpha:g} (normal approximation)"
    if getattr(pd, "method", None) == NO_DISCORDANCE_METHOD:
        # se = 0 says nothing here: the interval's half-width is what the run cannot resolve
        mde = pd.ci_high - pd.delta
        mde_rule = "MDE = half-width of the exact no-discordance interval (se is 0)"
    return Verdict(
        verdict=verdict,
        rule=rule,
        tolerance=tolerance,
        confidence=pd.confidence,
        delta=pd.delta,
        ci_low=pd.ci_low,
        point_rule=f"PASS iff Δ ≥ −{tolerance:g}",
        point_rule_verdict="PASS" if pd.delta >= -tolerance else "FAIL",
        mde=mde,
        mde_rule=mde_rule,
        notes=tuple(notes),
    )
