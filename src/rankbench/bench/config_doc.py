"""The documentation of every config key, and the commented YAML that `rankbench init-config` writes.

The YAML is generated from the dataclass defaults, so it cannot drift from them; a test checks that
every key has a line here and that the written file loads back to the defaults.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

from rankbench.bench.config import BenchConfig
from rankbench.bench.variants import control_names, variant_names
from rankbench.names import (
    ALPHA_POLICIES,
    BENCH_METHODS,
    BUILTIN_DATASETS,
    BUILTIN_MODELS,
    EVAL_HARNESSES,
    profile_menu,
)


def _rule_doc() -> str:
    from rankbench.suggest.document import DEFAULT_RULE
    from rankbench.suggest.rules import (
        parse_rule,
        rule_menu,
    )  # the rules table: only when the YAML is written

    return f"per-module rank rule, one of: {rule_menu()}; the default {parse_rule(DEFAULT_RULE).describe()}"


# a value is the text, or a function that builds it from where the names live (rankbench.names, the
# rules table) when the YAML is written, so a name registered there shows up here without an edit
DOCS: dict[str, str | Callable[[], str]] = {
    "bench_version": "artifact format version this config targets",
    "model": "the base model",
    "model.name": lambda: f"builtin name ({', '.join(BUILTIN_MODELS)}), a local folder, or a hub id",
    "model.revision": "hub branch, tag or commit (null: the default branch); local folders are hashed",
    "model.max_length": "tokens per example after truncation",
    "model.trust_remote_code": "run code shipped with a hub model (off unless you trust it)",
    "model.gguf_file": "GGUF file name inside a local folder or hub repo (dequantised once, then cached)",
    "task": "data, splits and the metric",
    "task.profile": profile_menu,
    "task.dataset": lambda: (
        f"builtin ({', '.join(BUILTIN_DATASETS)}), a local CSV/JSONL file or folder, or a hub dataset id "
        "(e.g. gsm8k, with the hub extra)"
    ),
    "task.subset": "hub dataset config name (e.g. main for gsm8k)",
    "task.split": "the split train items (and, without eval_split, eval items) come from",
    "task.eval_split": "a separate split for eval items (e.g. test); null: carve eval from `split`",
    "task.revision": "hub dataset revision",
    "task.text_column": "seqcls: the text column",
    "task.label_column": "seqcls: the label column",
    "task.prompt_field": "causal LM: the prompt field of each JSONL row",
    "task.answer_field": "causal LM: the answer field of each JSONL row",
    "task.prompt_template": "causal LM: how a prompt is shown ({prompt} is replaced)",
    "task.answer_template": "causal LM: how an answer is written in training ({answer} is replaced)",
    "task.train_size": "training items (null: every item not held out for eval)",
    "task.labels": "seqcls: the class order, label i = class i (null: the sorted label values); part of "
    "an adapter's head, so give it when benching an adapter trained with another order",
    "task.eval_size": "held-out items every variant is evaluated on (the same items for all)",
    "task.max_new_tokens": "causal LM: generation limit per item",
    "task.stop": "causal LM: stop strings that end a generation",
    "task.probe_gate": "the probe must reach this before any variant is built",
    "task.probe_gate.metric": "metric name (null: the profile's primary metric)",
    "task.probe_gate.min_value": "minimum value; below it the bench stops (exit 1), or, with --smoke, goes on "
    "(null: 20% of the way from the majority-class share of the eval items to 1; 0.0 without class labels)",
    "probe": "where the probe comes from: trained here (default) or your own adapter",
    "probe.adapter": "a PEFT adapter folder to bench instead of training a probe (also `run --adapter`); "
    "the base model comes from its adapter_config.json unless model.name is set",
    "probe.adapter_sha256": "sha256 of the adapter's weights file (null: filled in; set: checked)",
    "lora": "the probe adapter (with probe.adapter: read from the adapter's config)",
    "lora.probe_r": "rank of the probe adapter",
    "lora.alpha": "LoRA alpha (scale = alpha/r, or alpha/sqrt(r) with rsLoRA)",
    "lora.dropout": "LoRA dropout",
    "lora.target_modules": "module names to adapt (null: the profile's default for the architecture)",
    "lora.use_rslora": "rank-stabilised scaling alpha/sqrt(r)",
    "train": "the training budget (the same for the probe and every retrained variant)",
    "train.steps": "optimizer steps",
    "train.batch_size": "examples per step",
    "train.learning_rate": "peak AdamW learning rate",
    "train.weight_decay": "AdamW weight decay",
    "train.warmup_ratio": "fraction of steps with linear warm-up, then linear decay",
    "train.max_grad_norm": "gradient clipping",
    "train.seed": "seeds everything: splits, init, data order",
    "train.device": "auto (a GPU if there is one), cpu, cuda or cuda:N",
    "train.dtype": "auto (bf16 on a GPU that supports it, else float32), float32 or bfloat16",
    "compression": "which smaller adapters to build from the probe",
    "compression.rule": _rule_doc,
    "compression.variants": lambda: (
        ", ".join(v for v in variant_names() if v not in control_names())
        + ", and the controls "
        + ", ".join(control_names())
    ),
    "compression.methods": lambda: "per variant: a list of " + ", ".join(BENCH_METHODS),
    "compression.default_method": "method for variants not listed in `methods`",
    "compression.allowed_ranks": "ranks a plan may round up to (null: powers of two up to probe_r)",
    "compression.alpha_policy": lambda: (
        f"{ALPHA_POLICIES[0]} (same effective scale, the default) or {ALPHA_POLICIES[1]}"
    ),
    "compression.finetune_steps": "extra steps for truncate+finetune",
    "compression.ladder": "the smallest safe rank: rungs from largest to smallest (rank:8, rank:4, ... or "
    "budget:0.5, budget:0.25, ...; [default]: the allowed uniform ranks below lora.probe_r), tested in that "
    "fixed order and stopping at the first failure; they replace the variants' compressions, the controls "
    "still run. null: no ladder",
    "compression.max_rank": "a serving cap (e.g. vLLM's max_lora_rank): ladder rungs above it are removed",
    "compression.evaluate_all": "evaluate the ladder's rungs after the first failure too (outside the claim)",
    "eval": "the verdict",
    "eval.tolerance": "non-inferiority margin: PASS when the CI's lower end of Δ is above -tolerance",
    "eval.confidence": "confidence level of the paired interval",
    "eval.batch_size": "examples per evaluation batch (null: 32 on a CPU, 128 on a GPU; lm_eval: 8)",
    "eval.harness": lambda: (
        "how items are scored: " + " or ".join(EVAL_HARNESSES) + " (profile: the task "
        "profile's own metric; lm_eval: lm-evaluation-harness tasks, `pip install rankbench[lmeval]`)"
    ),
    "eval.tasks": "lm_eval: task names (e.g. arc_easy), or paths to task YAML files or folders of them; "
    "relative data_files in a task YAML are read from the folder you run in, as lm_eval does",
    "eval.metric": "lm_eval: the per-item metric of the first (primary) task, e.g. acc, acc_norm, "
    "exact_match (null: its first); other tasks use it where they have it, else their first",
    "eval.filter": "lm_eval: the filter of a generation task, e.g. strict-match (null: its first)",
    "eval.num_fewshot": "lm_eval: shots per prompt (null: each task's own setting, 0 where it has none)",
    "eval.limit": "lm_eval: evaluate the first N documents of each task (null: all)",
    "eval.model_args": "lm_eval: extra from_pretrained arguments of the base model, e.g. {dtype: bfloat16}",
    "eval.backend": "lm_eval: hf (transformers) or vllm (needs vllm installed and a GPU)",
    "executor": "where campaign jobs run (not part of the experiment or its hash)",
    "executor.cpus_per_task": "torch threads and Ray CPUs per job (0: all cores)",
    "executor.gpus_per_task": "Ray GPUs per job",
}


def describe(key: str) -> str:
    """The documentation line of a dotted config key."""
    text = DOCS[key]
    return text() if callable(text) else text


def _scalar(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, dict)):
        return json.dumps(v)
    return repr(v)


def commented_yaml(cfg: BenchConfig | None = None) -> str:
    cfg = cfg or BenchConfig()
    out = ["# rankbench bench config. Every key is shown with its default; delete what you don't change.", ""]

    def emit(obj, prefix: str, indent: int) -> None:
        for f in dataclasses.fields(obj):
            key = f"{prefix}{f.name}"
            value = getattr(obj, f.name)
            pad = "  " * indent
            out.append(f"{pad}# {describe(key)}")
            if dataclasses.is_dataclass(value):
                out.append(f"{pad}{f.name}:")
                emit(value, key + ".", indent + 1)
            else:
                out.append(f"{pad}{f.name}: {_scalar(value)}")
        if indent == 0:
            return

    emit(cfg, "", 0)
    return "\n".join(out) + "\n"
