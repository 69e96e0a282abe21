"""Could this run have shown non-inferiority? Power at the margin, its label, and the claim's strength.

The verdict is PASS iff Δ̂ − q_{1−α/2}·se > −tolerance (the lower bound of the interval actually used,
with q the normal or Student-t quantile that interval uses). If the true Δ is 0, that happens with
probability

    power = F(tolerance/se − q_{1−α/2})          (F: the normal or t_df CDF)

and the smallest margin reaching 80% power is (q_{1−α/2} + q_0.8)·se, the same formula as
:func:`~rankbench.stats.paired.minimum_detectable_effect`, so power(tolerance = that margin) = 0.8.
``se`` is the one the decision interval implies; it is never 0 for 1/0 scores (Tango's interval and
the decision interval's floor see to that), so power is never a degenerate 1.

Words used in the artifacts, each with one meaning:
- ``power``: the probability above; its ``label`` (sufficient / marginal / insufficient).
- ``confidence`` inside an interval (``ci.confidence``): the interval's coverage level, e.g. 0.95.
- ``confidence_level`` (campaign summary) and ``validation_classification.confidence`` (single run):
  the strength of the claim the artifact supports, low / medium / high, by :data:`CLAIM_STRENGTH_RULE`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from rankbench.records import from_record
from rankbench.stats._validate import check_confidence, check_tolerance, to_dict
from rankbench.stats.distributions import normal_cdf, normal_ppf, t_cdf, t_ppf
from rankbench.stats.paired import minimum_detectable_effect

POWER_LABEL_RULE = "sufficient if power ≥ 0.8, marginal if power ≥ 0.5, else insufficient"
CLAIM_STRENGTH_RULE = (
    "high if ≥ 3 seeds and the policy passes with probability ≥ 0.8 when Δ = 0 (simulated from the "
    "observed variances); medium if ≥ 2 seeds and that probability is ≥ 0.5; otherwise low. "
    "A single run is at most medium: one seed cannot speak for training noise"
)


@dataclass(frozen=True)
class PowerResult:
    """Power to declare non-inferiority when the true Δ is 0, its label, and the resolvable margin."""

    power: float | None
    label: str
    se: float | None
    df: float | None
    tolerance: float
    alpha: float
    n_seeds: int
    mde: float | None
    rule: str
    label_rule: str
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    from_dict = classmethod(from_record)  # the one rule: rankbench.records


def power_label(power: float | None) -> str:
    """Label: "sufficient" if power ≥ 0.8, "marginal" if power ≥ 0.5, else "insufficient" (also None)."""
    if power is None:
        return "insufficient"
    if power >= 0.8:
        return "sufficient"
    return "marginal" if power >= 0.5 else "insufficient"


def claim_strength(n_seeds: int, policy_pass_probability: float | None) -> str:
    """low / medium / high by :data:`CLAIM_STRENGTH_RULE`."""
    p = policy_pass_probability
    if p is None:
        return "low"
    if n_seeds >= 3 and p >= 0.8:
        return "high"
    if n_seeds >= 2 and p >= 0.5:
        return "medium"
    return "low"


def power_at_zero(se: float, tolerance: float, alpha: float, df: float | None = None) -> float:
    """F(tolerance/se − q_{1−α/2}) for se > 0 (normal when df is None, else Student t with df)."""
    if df is None:
        return normal_cdf(tolerance / se - normal_ppf(1.0 - alpha / 2.0))
    return t_cdf(tolerance / se - t_ppf(1.0 - alpha / 2.0, df), df)


def statistical_power(
    se: float | None,
    tolerance: float,
    *,
    n_seeds: int,
    confidence: float = 0.95,
    df: float | None = None,
) -> PowerResult:
    """Power = F(tolerance/se − q_{1−α/2}) with α = 1 − confidence, its label and the 80%-power margin.

    ``se`` and ``df`` are those of the interval the verdict uses (df None: normal quantiles). se None
    or 0 gives power None: no honest power can be stated without a spread. E.g. se = 0.004,
    tolerance = 0.01, normal: Φ(2.5 − 1.959964) = 0.7053; with df = 4: T₄(2.5 − 2.776445) = 0.3980.
    """
    tolerance = check_tolerance(tolerance)
    confidence = check_confidence(confidence)
    alpha = round(1.0 - confidence, 12)
    notes = []
    power = mde = None
    if se is not None:
        se = float(se)
        if not (se >= 0.0 and math.isfinite(se)):
            raise ValueError(f"se must be a finite number ≥ 0 or None, got {se}")
    if se is None or se == 0.0:
        notes.append("no spread in Δ could be estimated: power cannot be stated")
    else:
        mde = minimum_detectable_effect(se, alpha=alpha, df=df)
        power = power_at_zero(se, tolerance, alpha, df)
    q = "z" if df is None else f"t_{{{df:.3g}}}"
    dist = "normal" if df is None else f"Student t, df = {df:.3g}"
    return PowerResult(
        power=power,
        label=power_label(power),
        se=se,
        df=df,
        tolerance=tolerance,
        alpha=alpha,
        n_seeds=int(n_seeds),
        mde=mde,
        rule=(
            f"power = F(tolerance/se − {q}_{{1−α/2}}), α = {alpha:g}, F {dist}: probability that the "
            f"lower bound of the {confidence * 100:g}% decision interval exceeds −{tolerance:g} when the "
            "true Δ is 0, with the se that interval implies"
        ),
        label_rule=POWER_LABEL_RULE,
        notes=tuple(notes),
    )
