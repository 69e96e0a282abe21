"""The keys of bench.json and bench_aggregate.json that more than one module writes or reads.

A leaf module (it imports nothing of ours), so every layer may use it: the builders
(:mod:`rankbench.artifacts`), the statistics (:mod:`rankbench.stats`), the reports
(:mod:`rankbench.report`) and the command line import these, so renaming a key edits one line here
(and the JSON Schema in :mod:`rankbench.schemas`).
"""

from __future__ import annotations

# --- a variant: bench.json compressed[key], and each seed's record in the aggregate -----------------
DELTA = "delta_vs_probe"
PARAM_REDUCTION = "param_reduction"
VERDICT = "verdict"
ACCURACY_RETENTION = "accuracy_retention"

# --- a variant block of bench_aggregate.json ------------------------------------------------------
PASS_RATE = "pass_rate"
DECISION_CI = "decision_ci"
POLICY_RESULT = "policy_result"

# --- the summary of either document ---------------------------------------------------------------
BEST_COMPRESSION = "best_compression"
BENCH_BEST_KEYS = ("variant", PARAM_REDUCTION, ACCURACY_RETENTION, DELTA, "ci_low", "method")
AGGREGATE_BEST_KEYS = (
    "variant",
    f"{PARAM_REDUCTION}_mean",
    f"{PARAM_REDUCTION}_std",
    f"{DELTA}_mean",
    f"{DELTA}_std",
    PASS_RATE,
    f"{DECISION_CI}_low",
    "method",
)

# --- summary.findings: what a surprising result means (rankbench.artifacts.findings) --------------
FINDINGS = "findings"
CONTROL_PASSES = "control_passes"
BETTER_THAN_PROBE = "better_than_probe"
VARIANT_IS_PROBE = "variant_is_probe"
RETRAIN_FAILS_TRUNCATION_PASSES = "retrain_fails_truncation_passes"
TRUNCATION_FAILS_RETRAIN_PASSES = "truncation_fails_retrain_passes"
UNDERPOWERED = "underpowered"
# in the order the findings are listed (then the variants' order)
FINDING_KINDS = (
    CONTROL_PASSES,
    BETTER_THAN_PROBE,
    VARIANT_IS_PROBE,
    RETRAIN_FAILS_TRUNCATION_PASSES,
    TRUNCATION_FAILS_RETRAIN_PASSES,
    UNDERPOWERED,
)
