"""One home for the names a user can type: task profiles, bench variants and methods, compression
methods, alpha policies and the plan menu.

Everything else (config validation, the init-config comments, the command-line choices, the bench
protocol, the plan builders) imports these. This module imports nothing, so the command-line parser
can be built from it without loading numpy or torch (BLAS thread pools are pinned before numpy starts).

Adding a task profile is one new module under ``rankbench/bench/profiles/`` (a class with the
:class:`rankbench.bench.profiles.base.TaskProfile` methods) plus one line in :data:`PROFILES`.
"""

from __future__ import annotations

# --- task profiles -------------------------------------------------------------------------------

# name -> ("module:Class", what it measures); the class is imported only when a bench asks for it, so
# a missing optional dependency of one profile does not break the others
PROFILES: dict[str, tuple[str, str]] = {
    "seqcls": ("rankbench.bench.profiles.seqcls:SeqClsProfile", "classification accuracy"),
    "causal_lm_exact_match": (
        "rankbench.bench.profiles.causal_lm:CausalLMExactMatchProfile",
        "generation, exact match",
    ),
}


def profile_menu() -> str:
    """``seqcls (classification accuracy) or causal_lm_exact_match (generation, exact match)``."""
    items = [f"{name} ({what})" for name, (_, what) in PROFILES.items()]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


# --- evaluators: how a bench scores items (rankbench.bench.evaluators) ------------------------------

# name -> "module:Class"; `profile` (the task profile's own metric) is the default
EVAL_HARNESSES: dict[str, str] = {
    "profile": "rankbench.bench.evaluators.profile:ProfileEvaluator",
    "lm_eval": "rankbench.bench.evaluators.lm_eval:LmEvalEvaluator",
}
EVAL_BACKENDS = ("hf", "vllm")  # the lm_eval harness's model backends


# --- bench variants ------------------------------------------------------------------------------

# the plan each variant is built from; controls derive from another plan
VARIANT_PLANS: dict[str, str] = {
    "uniform_median": "uniform_median",
    "uniform_p90": "uniform_p90",
    "per_layer": "per_layer",
    "per_layer_shuffled": "per_layer_shuffled",
    "random_subspace": "uniform_median",
}
VARIANTS = tuple(VARIANT_PLANS)
# the controls: a reviewer's questions, not compressions (see rankbench.bench.variants)
CONTROLS = ("per_layer_shuffled", "random_subspace")
# the plans every bench builds from the audit (the controls' plans derive from these)
BASE_PLANS = ("uniform_median", "uniform_p90", "per_layer")

# how a bench builds a variant -> the suffix of its key in bench.json's `compressed` block
BENCH_METHOD_SUFFIX: dict[str, str] = {
    "truncate": "",
    "retrain": "_retrain",
    "truncate+finetune": "_finetuned",
}
BENCH_METHODS = tuple(BENCH_METHOD_SUFFIX)

# --- compression of an adapter file (`rankbench compress`) ---------------------------------------

COMPRESS_METHODS = ("truncate", "random_subspace")  # random_subspace is a control
ALPHA_POLICIES = ("keep_scale", "keep_alpha")
PLAN_MENU = "uniform_median, uniform_p90, per_layer, budget:FRACTION, budget_params:N, rank:K"

# --- per-module rank rules (`--rule NAME[:PARAM]`; their formulas live in rankbench.suggest.rules) -----

RULE_NAMES = (
    "energy",
    "sv_fro",
    "sv_cumulative",
    "sv_ratio",
    "threshold",
    "gavish_donoho",
    "stable_rank",
    "effective_rank",
)
