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

from rankbench.errors import RankbenchError
from rankbench.records import from_record
from rankbench.stats._validate import check_confidence, check_tolerance, to_dict
from rankbench.stats.distributions import normal_cdf, normal_ppf, t_cdf, t_ppf
from rankbench.stats.paired import minimum_detectable_effect

POWER_LABEL_RULE = "sufficient if power ≥ 0.8, marginal if power ≥ 0.5, else insufficient"
CLAIM_STRENGTH_RULE = (
    "high if ≥ 3 seeds and the policy passes with probability ≥ 0.8 when Δ = 0 (computed from the "
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


PLAN_POWER = 0.8
MAX_PLAN_ITEMS = 10_000_000


@dataclass(frozen=True)
class EvalPlan:
    """Items a seed (and seeds) needed for ``power`` to PASS a variant as good as the probe (Δ = 0)."""

    discordance: float
    tolerance: float
    seeds: int
    seed_sd: float
    confidence: float
    power: float
    items_per_seed: int | None  # None: not reachable with this many seeds (training noise dominates)
    total_items: int | None  # items_per_seed × seeds
    achieved_power: float | None  # the power at items_per_seed, by the same formula
    method: str
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    from_dict = classmethod(from_record)  # the one rule: rankbench.records


def discordance_estimate(variant_only: int, probe_only: int, n: int) -> float:
    """(b + c)/n: the share of items on which a variant and the probe disagree (first rung vs probe)."""
    if n < 1 or variant_only < 0 or probe_only < 0 or variant_only + probe_only > n:
        raise ValueError(f"need 0 ≤ b, c and b + c ≤ n ≥ 1, got b={variant_only}, c={probe_only}, n={n}")
    return (variant_only + probe_only) / n


def single_seed_power(n: int, discordance: float, tolerance: float, confidence: float = 0.95) -> float:
    """Power of the single-seed 1/0 verdict at Δ = 0, from Tango's own statistic.

    At Δ = 0 about m = n·p items are discordant and b − c ≈ N(0, n·p). The verdict PASSes iff
    T(−τ) ≥ z_{1−α/2} with T Tango's score statistic, which for m discordant items rises with b − c;
    d* is where it crosses z (bisection), and power = Φ(−d*/√(n·p)).
    """
    from rankbench.stats.tango import score_statistic  # noqa: PLC0415 - keeps power light to import

    q = normal_ppf(0.5 + confidence / 2.0)
    m = n * discordance
    lo, hi = -m, m
    if score_statistic(m, 0.0, n, -tolerance) < q:
        return 0.0  # even every discordant item going the variant's way would not pass
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if score_statistic((m + mid) / 2.0, (m - mid) / 2.0, n, -tolerance) >= q:
            hi = mid
        else:
            lo = mid
    return normal_cdf(-hi / math.sqrt(n * discordance))


def _check_plan_inputs(
    discordance: float, tolerance: float, seeds: int, seed_sd: float, power: float
) -> None:
    problems = []
    if not (0.0 < discordance <= 1.0):
        problems.append(f"discordance must be in (0, 1], got {discordance:g}")
    if not (0.0 < tolerance < 1.0):
        problems.append(f"tolerance must be in (0, 1), got {tolerance:g}")
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        problems.append(f"seeds must be an integer ≥ 1, got {seeds!r}")
    if not (seed_sd >= 0.0 and math.isfinite(seed_sd)):
        problems.append(f"seed SD must be a finite number ≥ 0, got {seed_sd:g}")
    if not (0.0 < power < 1.0):
        problems.append(f"power must be in (0, 1), got {power:g}")
    if problems:
        raise RankbenchError(
            "; ".join(problems),
            hint="discordance: the share of items the variant and the probe disagree on, e.g. 0.02; "
            "tolerance: the accuracy loss you accept, e.g. 0.01",
        )


def plan_items(
    discordance: float,
    tolerance: float,
    *,
    seeds: int = 1,
    seed_sd: float = 0.0,
    confidence: float = 0.95,
    power: float = PLAN_POWER,
) -> EvalPlan:
    """The items a seed needed for ``power`` at Δ = 0, from the formulas the verdicts use.

    One seed: the smallest n with :func:`single_seed_power` ≥ power (closed form, then checked).
    Several seeds: the decision interval's pass probability at Δ = 0
    (:func:`rankbench.stats.policy_sim.decision_pass_probability`: t with S − 1 df, the item-level
    floor, seed effects of SD ``seed_sd``), searched by bisection over n. With seed noise the
    t-interval cannot get narrower than t_{S−1}·σᵤ/√S however many items there are; when that already
    stops ``power``, ``items_per_seed`` is None and a note says more seeds are needed.
    """
    confidence = check_confidence(confidence)
    _check_plan_inputs(discordance, tolerance, seeds, seed_sd, power)
    if seeds == 1:
        return _single_seed_plan(discordance, tolerance, seed_sd, confidence, power)
    from rankbench.stats.policy_sim import (  # noqa: PLC0415 - policy_sim imports this module
        CampaignModel,
        decision_pass_probability,
    )

    def achieved(n: int) -> float:
        within = discordance / n
        model = CampaignModel(seeds, seed_sd**2 + within, 0.0, within / seeds)
        return decision_pass_probability(model, tolerance, confidence)

    method = (
        f"decision interval over {seeds} seeds at Δ = 0 (t, S − 1 = {seeds - 1} df, item-level floor), "
        f"seed SD {seed_sd:g}, independent items"
    )
    if achieved(MAX_PLAN_ITEMS) < power:
        note = f"{seeds} seeds cannot reach {power:.0%} power at any number of items; add seeds"
        return EvalPlan(
            discordance, tolerance, seeds, seed_sd, confidence, power, None, None, None, method, (note,)
        )  # fmt: skip
    lo, hi = 1, MAX_PLAN_ITEMS  # achieved(hi) ≥ power; find the smallest such n
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if achieved(mid) >= power else (mid + 1, hi)
    return EvalPlan(
        discordance, tolerance, seeds, seed_sd, confidence, power, lo, lo * seeds, achieved(lo), method, ()
    )  # fmt: skip


def _single_seed_plan(discordance, tolerance, seed_sd, confidence, power) -> EvalPlan:
    def achieved(n: int) -> float:
        return single_seed_power(n, discordance, tolerance, confidence)

    lo, hi = 1, MAX_PLAN_ITEMS  # power rises with n: the smallest n reaching it, by bisection
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if achieved(mid) >= power else (mid + 1, hi)
    n = lo
    notes = []
    if seed_sd > 0:
        notes.append("one seed cannot speak for training noise: the seed SD is ignored; plan ≥ 3 seeds")
    method = "single-seed 1/0 verdict at Δ = 0: Tango's score statistic at −tolerance, b − c normal"
    return EvalPlan(
        discordance, tolerance, 1, seed_sd, confidence, power, n, n,
        single_seed_power(n, discordance, tolerance, confidence), method, tuple(notes),
    )  # fmt: skip
