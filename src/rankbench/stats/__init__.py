"""Statistics for claims about compressed adapters: pure numpy, no torch, no file I/O but the policy loader.

Single seed: :func:`paired_delta` (paired t-interval of Δ = variant − probe) and :func:`noninferiority`
(PASS iff the interval's lower bound > −tolerance). Many seeds: :func:`summarize`, :func:`t_interval`,
:func:`hierarchical_bootstrap_delta` (seeds, then items), :func:`statistical_power`, and
:func:`aggregate_variant`, which assembles one variant's block of bench_aggregate.json. The claim policy
(:func:`load_policy`, :func:`evaluate_policy`) says which of those numbers a claim needs.
"""

from __future__ import annotations

from rankbench.stats.aggregate import aggregate_variant
from rankbench.stats.bootstrap import BootstrapCI, hierarchical_bootstrap_delta
from rankbench.stats.distributions import normal_cdf, normal_ppf, t_cdf, t_ppf
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
from rankbench.stats.power import PowerResult, confidence_level, power_label, statistical_power
from rankbench.stats.seeds import TInterval, summarize, t_interval

__all__ = [
    "BootstrapCI",
    "ClauseResult",
    "PairedDelta",
    "Policy",
    "PolicyResult",
    "PowerResult",
    "TInterval",
    "Verdict",
    "aggregate_variant",
    "confidence_level",
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
