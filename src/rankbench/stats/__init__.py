"""Statistics for claims about compressed adapters: pure numpy, no torch, no file I/O but the policy loader.

Single seed: :func:`paired_delta` (Δ = variant − probe with Tango's score interval for 1/0 scores, a
paired t-interval for graded ones) and :func:`noninferiority` (PASS iff the interval's lower bound >
−tolerance). Many seeds: :func:`decision_interval` (t across per-seed Δ, widened for shared items) is
what verdicts and the policy use; :func:`summarize`, :func:`t_interval` and
:func:`hierarchical_bootstrap_delta` are descriptive. :func:`statistical_power` comes from the interval
used (:mod:`rankbench.artifacts.variant_block` assembles one variant's block of bench_aggregate.json
from them). The claim policy (:func:`load_policy`, :func:`evaluate_policy`) says which of those
numbers a claim needs, and :func:`policy_pass_probability` how often it would pass at Δ = 0. Small
single-seed evaluations (n ≤ 5,000) decide at an exact critical value (:mod:`rankbench.stats.exact`).
Several candidates: :func:`run_fixed_sequence` (the ladder's family-wise claim,
:mod:`rankbench.stats.ladder`). Before a bench: :func:`plan_items` (items × seeds for 80% power).
"""

from __future__ import annotations

from rankbench.stats.bootstrap import BootstrapCI, hierarchical_bootstrap_delta
from rankbench.stats.decision import DecisionInterval, SeedDiffs, decision_interval
from rankbench.stats.distributions import normal_cdf, normal_ppf, t_cdf, t_ppf
from rankbench.stats.ladder import LadderResult, Rung, RungOutcome, cap_rungs, run_fixed_sequence
from rankbench.stats.paired import (
    PairedDelta,
    Verdict,
    minimum_detectable_effect,
    noninferiority,
    paired_delta,
)
from rankbench.stats.policy import (
    ClauseResult,
    Policy,
    PolicyResult,
    evaluate_policy,
    load_policy,
    parse_policy,
)
from rankbench.stats.policy_sim import policy_pass_probability
from rankbench.stats.power import (
    EvalPlan,
    PowerResult,
    claim_strength,
    plan_items,
    power_label,
    statistical_power,
)
from rankbench.stats.seeds import TInterval, summarize, t_interval
from rankbench.stats.tango import tango_interval

__all__ = [
    "BootstrapCI",
    "EvalPlan",
    "LadderResult",
    "Rung",
    "RungOutcome",
    "cap_rungs",
    "plan_items",
    "policy_pass_probability",
    "run_fixed_sequence",
    "ClauseResult",
    "PairedDelta",
    "Policy",
    "PolicyResult",
    "PowerResult",
    "TInterval",
    "Verdict",
    "claim_strength",
    "DecisionInterval",
    "SeedDiffs",
    "decision_interval",
    "tango_interval",
    "evaluate_policy",
    "hierarchical_bootstrap_delta",
    "load_policy",
    "minimum_detectable_effect",
    "noninferiority",
    "normal_cdf",
    "normal_ppf",
    "paired_delta",
    "parse_policy",
    "power_label",
    "statistical_power",
    "summarize",
    "t_cdf",
    "t_interval",
    "t_ppf",
]
