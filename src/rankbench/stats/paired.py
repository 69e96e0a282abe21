"""Single-seed paired comparison: Δ = variant − probe on the same items, its interval, the verdict.

Every variant is evaluated on exactly the probe's items, so the comparison is paired: per item,
dᵢ = variantᵢ − probeᵢ (i = 1..n), and Δ = mean(d).

- **1/0 scores** (correct or not): only the discordant items move Δ, b = items only the variant got
  right and c = items only the probe got right, Δ = (b − c)/n. The interval is Tango's score interval
  (:mod:`rankbench.stats.tango`). A paired t- or Wald interval runs at 1.3–1.8× its nominal one-sided
  error when only 1–2% of items are discordant, which is where good compressions sit, and collapses to
  zero width when none are; Tango's holds its level there and is monotone in the evidence.
  At n ≤ 5,000 the critical value is exact rather than z (:mod:`rankbench.stats.exact`): Tango's
  normal critical value lets the false-PASS rate reach 2.84% at n = 110; the exact one keeps it
  ≤ α/2 by construction. ``method`` says which one decided, ``critical_value`` is the value used.
- **Graded scores** in [0, 1] (F1, partial credit, a probability): the paired t-interval
  Δ ± t_{1−α/2, n−1}·s/√n with s = std(d, ddof=1). The differences are bounded, so their mean is close
  to normal at the item counts a bench uses, and the t quantile pays for estimating s. A constant d
  gives a zero-width interval, and a note says it reflects no item-level variation, not certainty.

``se`` is the standard error the interval implies: s/√n for the t-interval, and for Tango the lower
half-width over z_{1−α/2} (the score interval has no se of its own; this is the one a normal-theory
interval of the same lower width would have). Power and the resolvable margin are computed from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from rankbench.records import from_record
from rankbench.stats._validate import (
    check_confidence,
    check_tolerance,
    paired_differences,
    to_dict,
)
from rankbench.stats.distributions import normal_ppf, t_ppf
from rankbench.stats.exact import EXACT_METHOD, verdict_critical_value
from rankbench.stats.tango import TANGO_METHOD, tango_interval, tango_lower

PAIRED_METHOD = "paired t-interval on per-item differences (df = n - 1; graded scores)"
MARGIN_POWER = 0.8  # the resolvable margin is the one reached with this power when Δ = 0


def no_discordance_bound(n: int, confidence: float) -> float:
    """u = 1 − (α/2)^(1/n): the one-sided 1 − α/2 upper bound on a rate with 0 events in n trials."""
    alpha = 1.0 - confidence
    return 1.0 - (alpha / 2.0) ** (1.0 / n)


@dataclass(frozen=True)
class PairedDelta:
    """Paired Δ = variant − probe over n items, its interval and, for 1/0 scores, the discordant counts.

    ``method`` names the interval (Tango for 1/0 scores, paired t for graded ones); ``df`` is n − 1 for
    the t-interval and None for Tango (normal critical value). ``std`` is std(d, ddof=1). For graded
    scores with n < 2 there is no interval (``degenerate`` = "single_item"); "zero_variance" marks
    graded scores whose differences are all equal. ``variant_only_correct`` (b) counts items the variant
    got right and the probe wrong, ``probe_only_correct`` (c) the reverse; both None for graded scores.
    """

    n: int
    probe_mean: float
    variant_mean: float
    delta: float
    std: float | None
    se: float | None
    df: int | None
    ci_low: float | None
    ci_high: float | None
    confidence: float
    method: str
    binary: bool
    variant_only_correct: int | None
    probe_only_correct: int | None
    degenerate: str | None
    notes: tuple[str, ...]
    critical_value: float | None = None  # the quantile the interval used (Tango: z or the exact one)

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    from_dict = classmethod(from_record)  # the one rule: rankbench.records


def binary_method(critical: float, confidence: float) -> str:
    """The method name for a 1/0-score interval at ``critical``: Tango's, or the exact-critical one."""
    return TANGO_METHOD if critical <= normal_ppf(0.5 + confidence / 2.0) else EXACT_METHOD


def paired_delta(
    probe_scores: Any, variant_scores: Any, *, confidence: float = 0.95, tolerance: float | None = None
) -> PairedDelta:
    """Paired Δ = mean(variant − probe) with Tango's interval (1/0 scores) or a paired t-interval.

    With ``tolerance`` (the margin the verdict will use) a 1/0 interval takes the exact critical value
    of :mod:`rankbench.stats.exact` for that margin, so its lower bound is the one the verdict reads.
    Raises RankbenchError when the two score arrays differ in length, are empty, or hold scores
    outside [0, 1].
    """
    confidence = check_confidence(confidence)
    probe, variant, d = paired_differences(probe_scores, variant_scores)  # all (n,)
    n = int(d.size)
    binary = bool(np.isin(probe, (0.0, 1.0)).all() and np.isin(variant, (0.0, 1.0)).all())
    std = float(d.std(ddof=1)) if n > 1 else None
    common = {
        "n": n,
        "probe_mean": float(probe.mean()),
        "variant_mean": float(variant.mean()),
        "delta": float(d.mean()),
        "std": std,
        "confidence": confidence,
        "binary": binary,
    }
    if binary:
        b = int(np.sum((variant == 1.0) & (probe == 0.0)))
        c = int(np.sum((probe == 1.0) & (variant == 0.0)))
        return _tango(common, b, c, tolerance)
    return _paired_t(common)


def _tango(common: dict, b: int, c: int, tolerance: float | None) -> PairedDelta:
    n, confidence = common["n"], common["confidence"]
    z = normal_ppf(0.5 + confidence / 2.0)
    notes = []
    if tolerance is not None:
        exact = verdict_critical_value(n, check_tolerance(tolerance), round(1.0 - confidence, 12))
        if math.isfinite(exact):
            z = exact
        else:
            notes.append(too_few_items(n, tolerance))
    low, high = (float(x) for x in tango_interval(b, c, n, z))
    if b + c == 0:
        notes.append(
            f"the two agree on all {n} items; Tango's interval still has width ±{high:.4g}, the "
            "disagreement the run could have missed"
        )
    return PairedDelta(
        **common,
        se=(common["delta"] - low) / z,
        df=None,
        ci_low=low,
        ci_high=high,
        method=binary_method(z, confidence),
        variant_only_correct=b,
        probe_only_correct=c,
        degenerate=None,
        notes=tuple(notes),
        critical_value=z,
    )


def _paired_t(common: dict) -> PairedDelta:
    n, std, delta = common["n"], common["std"], common["delta"]
    fields = {"variant_only_correct": None, "probe_only_correct": None, "method": PAIRED_METHOD}
    if n < 2:
        note = "only 1 item: no spread can be estimated, so there is no interval"
        return PairedDelta(
            **common, **fields, se=None, df=None, ci_low=None, ci_high=None,
            degenerate="single_item", notes=(note,),
        )  # fmt: skip
    se = std / math.sqrt(n)
    half = t_ppf(0.5 + common["confidence"] / 2.0, n - 1) * se
    degenerate, notes = None, ()
    if std == 0.0:
        degenerate = "zero_variance"
        notes = (
            f"all {n} per-item differences equal {delta:g}: the interval has zero width; "
            "it shows no item-level variation, not certainty",
        )
    return PairedDelta(
        **common, **fields, se=se, df=n - 1, ci_low=delta - half, ci_high=delta + half,
        degenerate=degenerate, notes=notes,
    )  # fmt: skip


def minimum_detectable_effect(
    se: float, alpha: float = 0.05, power: float = MARGIN_POWER, df: float | None = None
) -> float:
    """The smallest margin resolvable with ``power`` when Δ = 0: (q_{1−α/2} + q_{power})·se.

    q is the standard normal quantile, or Student's t with ``df`` degrees of freedom when the interval
    uses t. α is the two-sided level of the interval whose lower bound decides the verdict, so the
    non-inferiority test is one-sided at α/2. With the tolerance equal to this margin and the true Δ
    equal to 0, the verdict is PASS with probability ``power``. E.g. se = 0.01, α = 0.05, power 0.8,
    normal: (1.959964 + 0.841621)·0.01 = 0.028016; with df = 4: (2.776445 + 0.940965)·0.01 = 0.037174.
    """
    se = float(se)
    if not (se >= 0.0 and math.isfinite(se)):
        raise ValueError(f"se must be a finite number ≥ 0, got {se}")
    if df is None:
        return (normal_ppf(1.0 - alpha / 2.0) + normal_ppf(power)) * se
    return (t_ppf(1.0 - alpha / 2.0, df) + t_ppf(power, df)) * se


def margin_rule(alpha: float, df: float | None) -> str:
    q = "z" if df is None else f"t_{{{df:g}}}"
    return (
        f"smallest margin resolvable with {MARGIN_POWER:.0%} power when Δ = 0: "
        f"({q}_{{1−α/2}} + {q}_{{{MARGIN_POWER:g}}})·se, α = {alpha:g}, se implied by the interval used"
    )


class IntervalEstimate(Protocol):
    """What a verdict needs: Δ, the lower bound of its interval, the se it implies, the level, its df."""

    delta: float
    ci_low: float | None
    se: float | None
    confidence: float


@dataclass(frozen=True)
class Verdict:
    """A non-inferiority verdict with the rule that produced it, the point-estimate rule and the
    smallest resolvable margin (``mde``: resolvable with 80% power when Δ = 0)."""

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
    method: str | None = None  # the interval that decided (Tango, exact-critical Tango, paired t, ...)
    critical_value: float | None = None  # its quantile, where it has one

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    from_dict = classmethod(from_record)  # the one rule: rankbench.records


def noninferiority(pd: IntervalEstimate, tolerance: float) -> Verdict:
    """Non-inferiority at margin −tolerance: PASS iff ci_low > −tolerance, else FAIL.

    Also reports the point-estimate rule (PASS iff Δ ≥ −tolerance) and the smallest margin resolvable
    with 80% power when Δ = 0, from the se the interval implies (t quantiles when it has ``df``).
    Works for a :class:`PairedDelta` and for any interval with those fields. Without an interval
    (graded scores, n < 2) the verdict is FAIL. A 1/0-score :class:`PairedDelta` is decided at the
    critical value for this tolerance (exact for n ≤ 5,000, :mod:`rankbench.stats.exact`), whatever
    critical value its own interval used; ``method`` and ``critical_value`` say which decided.
    """
    tolerance = check_tolerance(tolerance)
    level = f"{pd.confidence * 100:g}%"
    alpha = round(1.0 - pd.confidence, 12)
    notes = []
    ci_low, se, method, critical = pd.ci_low, pd.se, getattr(pd, "method", None), None
    if getattr(pd, "binary", False) and pd.variant_only_correct is not None:
        ci_low, se, method, critical = _binary_bound(pd, tolerance, alpha)
    if critical is not None and not math.isfinite(critical):
        verdict, ci_low, se, critical = "FAIL", None, None, None
        notes.append(too_few_items(pd.n, tolerance))
    elif ci_low is None:
        verdict = "FAIL"
        notes.append("no interval could be computed, so non-inferiority cannot be shown")
    else:
        verdict = "PASS" if ci_low > -tolerance else "FAIL"
    df = getattr(pd, "df", None)
    mde = None if se is None else minimum_detectable_effect(se, alpha=alpha, df=df)
    return Verdict(
        verdict=verdict,
        rule=f"PASS iff lower bound of {level} CI of Δ > −{tolerance:g}",
        tolerance=tolerance,
        confidence=pd.confidence,
        delta=pd.delta,
        ci_low=ci_low,
        point_rule=f"PASS iff Δ ≥ −{tolerance:g}",
        point_rule_verdict="PASS" if pd.delta >= -tolerance else "FAIL",
        mde=mde,
        mde_rule=margin_rule(alpha, df),
        notes=tuple(notes),
        method=method,
        critical_value=critical,
    )


def too_few_items(n: int, tolerance: float) -> str:
    return (
        f"{n} item(s) cannot show non-inferiority at tolerance {tolerance:g}: even the best outcome "
        "would PASS a variant that is tolerance worse more often than the level allows"
    )


def _binary_bound(pd: PairedDelta, tolerance: float, alpha: float) -> tuple[float, float, str, float]:
    """(lower bound, implied se, method, critical value) of a 1/0 comparison at this tolerance."""
    critical = verdict_critical_value(pd.n, tolerance, alpha)
    if not math.isfinite(critical):
        return pd.ci_low, pd.se, EXACT_METHOD, critical
    b, c = pd.variant_only_correct, pd.probe_only_correct
    low = float(tango_lower(b, c, pd.n, critical))
    return low, (pd.delta - low) / critical, binary_method(critical, pd.confidence), critical
