"""The bench configuration: dataclasses loaded from YAML.

Precedence is command line > file > defaults. Defaults live in the dataclasses; validation lives in
:func:`validate`, which reports *every* problem at once, each with its key path
(``train.steps: expected a positive integer, got -3``). Unknown keys are errors too: a typo must never
silently fall back to a default.

The resolved config is what a run records; ``config_hash`` is the sha256 of its canonical JSON, so two
runs with the same hash ran the same experiment (the seed is part of it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rankbench.bench.variants import variant_names
from rankbench.errors import RankbenchError, yaml_error
from rankbench.names import (
    ALPHA_POLICIES,
    BENCH_METHODS,
    DEFAULT_DATASET,
    DEFAULT_MODEL,
    EVAL_BACKENDS,
    EVAL_HARNESSES,
    PROFILES,
)
from rankbench.suggest.document import DEFAULT_RULE

BENCH_VERSION = "0.1"


@dataclass
class ModelConfig:
    name: str = DEFAULT_MODEL  # builtin name, local folder, or hub id
    revision: str | None = None  # hub revision (branch, tag or commit)
    max_length: int = 64  # tokens per example after truncation
    trust_remote_code: bool = False
    gguf_file: str | None = None  # for GGUF checkpoints in a local folder or hub repo


@dataclass
class GateConfig:
    metric: str | None = None  # None: the profile's primary metric
    # None: 20% of the way from the majority-class share of the eval items to 1 (0.6 on a balanced
    # two-class task), or 0.0 where the items have no class labels (e.g. exact match)
    min_value: float | None = None


@dataclass
class TaskConfig:
    profile: str = "seqcls"  # a name in rankbench.names.PROFILES
    dataset: str = DEFAULT_DATASET  # builtin name, local CSV/JSONL file or folder, or hub dataset id
    subset: str | None = None  # hub dataset config name
    split: str = "train"  # the split we draw train and eval items from (hub/builtin)
    eval_split: str | None = None  # a separate split for eval items (e.g. "test"); None: carve from `split`
    revision: str | None = None
    text_column: str = "text"
    label_column: str = "label"
    prompt_field: str = "question"
    answer_field: str = "answer"
    prompt_template: str = "{prompt}"
    answer_template: str = " {answer}"
    train_size: int | None = None  # None: every item not in the eval set
    labels: list[int | str] | None = None  # seqcls class order (index i = class i); None: sorted values
    eval_size: int = 2000
    max_new_tokens: int = 256
    stop: list[str] = field(default_factory=list)
    probe_gate: GateConfig = field(default_factory=GateConfig)


@dataclass
class ProbeConfig:
    """Where the probe comes from: trained by the bench (the default) or the user's own adapter."""

    adapter: str | None = None  # a PEFT adapter folder to bench instead of training a probe
    adapter_sha256: str | None = None  # sha256 of its weights file: filled in when null, checked when set


@dataclass
class LoraConfig:
    probe_r: int = 16
    alpha: float = 16.0
    dropout: float = 0.0
    target_modules: list[str] | None = None  # None: the profile's default for the architecture
    use_rslora: bool = False


@dataclass
class TrainConfig:
    # 400 x 32 = 1.2 epochs of the default's 10,752 training items: 0.821 / 0.828 / 0.833 on its 2,000
    # held-out items at seeds 42 / 43 / 44 (600 x 16 gave 0.810 / 0.827 / 0.838); docs/results.md
    steps: int = 400
    batch_size: int = 32
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    warmup_ratio: float = 0.06
    max_grad_norm: float = 1.0
    seed: int = 42
    device: str = "auto"  # "auto" | "cpu" | "cuda" | "cuda:N"
    dtype: str = "auto"  # "auto" (bf16 on a GPU that has it, else fp32) | "float32" | "bfloat16"


@dataclass
class CompressionConfig:
    rule: str = DEFAULT_RULE
    variants: list[str] = field(
        default_factory=lambda: list(variant_names())
    )  # every variant, controls included
    # how each variant is built: "truncate" | "retrain" | "truncate+finetune"; a variant may list several
    methods: dict[str, list[str]] = field(default_factory=lambda: {"uniform_median": ["truncate", "retrain"]})
    default_method: str = "truncate"
    allowed_ranks: list[int] | None = None  # None: powers of two up to probe_r
    alpha_policy: str = "keep_scale"
    finetune_steps: int = 100
    # the smallest safe rank (rankbench.bench.variants.ladder_rows): candidate plans from largest to
    # smallest, tested in that fixed order, stopping at the first failure; "default" = the allowed
    # uniform ranks below the probe's. With a ladder, its rungs take the place of the menu's
    # compressions; the controls listed in `variants` still run, outside the family.
    ladder: list[str] | None = None
    max_rank: int | None = None  # a serving cap: rungs with a module above it are removed
    evaluate_all: bool = False  # evaluate the rungs after the first failure too (outside the claim)


@dataclass
class EvalConfig:
    tolerance: float = 0.01  # non-inferiority margin on the primary metric
    confidence: float = 0.95
    batch_size: int | None = None  # None: 32 on a CPU (cache-sized: faster than 128 there), 128 on a GPU
    # how items are scored (rankbench.names.EVAL_HARNESSES): the profile's own metric, or lm-eval tasks
    harness: str = "profile"
    tasks: list[str] = field(default_factory=list)  # lm_eval: task names, or task YAML files / folders
    metric: str | None = None  # lm_eval: the primary task's per-item metric (None: its first one)
    filter: str | None = None  # lm_eval: the filter of a generation task (None: its first one)
    num_fewshot: int | None = None  # lm_eval: None keeps each task's own setting (0 where it has none)
    limit: int | None = None  # lm_eval: the first N documents of each task (None: all)
    model_args: dict[str, str | int | float | bool] = field(default_factory=dict)  # lm_eval: from_pretrained
    backend: str = "hf"  # lm_eval: hf, or vllm (installed, on a GPU)


@dataclass
class ExecutorConfig:
    """Where campaign jobs run. Not part of the experiment: left out of the config hash."""

    cpus_per_task: int = 0  # 0: all cores; else torch threads and the Ray CPU request per job
    gpus_per_task: float = 0.0  # Ray GPU request per job


@dataclass
class BenchConfig:
    bench_version: str = BENCH_VERSION
    model: ModelConfig = field(default_factory=ModelConfig)
    task: TaskConfig = field(default_factory=TaskConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    lora: LoraConfig = field(default_factory=LoraConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    compression: CompressionConfig = field(default_factory=CompressionConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def experiment_dict(self) -> dict[str, Any]:
        """The resolved config that defines the experiment: everything but where it runs."""
        d = self.to_dict()
        d.pop("executor")
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str | None = None) -> BenchConfig:
        errors: list[str] = []
        cfg = _build(cls, data or {}, "", errors)
        _resolve_default_ladder(cfg)
        errors.extend(validate(cfg))  # value checks too, so one run reports everything
        if errors:
            raise RankbenchError(
                "invalid config:\n  " + "\n  ".join(errors),
                path=source,
                hint="`rankbench init-config` writes a commented file with every key and its default",
            )
        return cfg

    def config_hash(self) -> str:
        return hashlib.sha256(canonical_json(self.experiment_dict()).encode()).hexdigest()


def _resolve_default_ladder(cfg: BenchConfig) -> None:
    """``ladder: [default]`` becomes the allowed uniform ranks below the probe's, largest first, so the
    locked config names every rung before anything is evaluated."""
    c = cfg.compression
    if c.ladder in (["default"], "default") and cfg.lora.probe_r >= 2:
        from rankbench.bench.variants import default_ladder_specs

        c.ladder = default_ladder_specs(cfg.lora.probe_r, c.allowed_ranks)


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


# --- loading with every error reported at once --------------------------------------------------


def _build(cls: type, data: Any, prefix: str, errors: list[str]) -> Any:
    if not isinstance(data, dict):
        errors.append(f"{prefix.rstrip('.') or '<top>'}: expected a mapping, got {type(data).__name__}")
        return cls()
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key in data:
        if key not in names:
            errors.append(f"{prefix}{key}: unknown key (known: {', '.join(sorted(names))})")
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        path = f"{prefix}{f.name}"
        typ = hints[f.name]
        if dataclasses.is_dataclass(typ):
            kwargs[f.name] = _build(typ, data[f.name], path + ".", errors)
        else:
            ok, value = _coerce(typ, data[f.name])
            if ok:
                kwargs[f.name] = value
            else:
                errors.append(f"{path}: expected {_type_name(typ)}, got {data[f.name]!r}")
    return cls(**kwargs)


MAX_INT = 2**31 - 1


def _coerce(typ: Any, value: Any) -> tuple[bool, Any]:
    origin = typing.get_origin(typ)
    args = typing.get_args(typ)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return True, None
        for arg in args:
            if arg is type(None):
                continue
            ok, out = _coerce(arg, value)
            if ok:
                return True, out
        return False, None
    if origin is list:
        if not isinstance(value, list):
            return False, None
        out = []
        for item in value:
            ok, v = _coerce(args[0], item)
            if not ok:
                return False, None
            out.append(v)
        return True, out
    if origin is dict:
        if not isinstance(value, dict):
            return False, None
        out = {}
        for k, v in value.items():
            ok_k, kk = _coerce(args[0], k)
            ok_v, vv = _coerce(args[1], v)
            if not (ok_k and ok_v):
                return False, None
            out[kk] = vv
        return True, out
    if typ is bool:
        return (True, value) if isinstance(value, bool) else (False, None)
    if typ is int:  # a 32-bit range: no setting needs more, and 2**70 steps must not reach torch
        ok = isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_INT
        return (True, value) if ok else (False, None)
    if typ is float:  # finite only: inf or nan in a learning rate or alpha is never meant
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return True, float(value)
        return False, None
    if typ is str:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and typ is str:
            return False, None
        return (True, value) if isinstance(value, str) else (False, None)
    return False, None


def _type_name(typ: Any) -> str:
    origin = typing.get_origin(typ)
    args = typing.get_args(typ)
    if origin in (typing.Union, types.UnionType):
        return " or ".join("null" if a is type(None) else _type_name(a) for a in args)
    if origin is list:
        return f"a list of {_type_name(args[0])}"
    if origin is dict:
        return f"a mapping of {_type_name(args[0])} to {_type_name(args[1])}"
    names = {
        int: f"an integer up to {MAX_INT:,}",
        float: "a finite number",
        str: "a string",
        bool: "true or false",
    }
    return names.get(typ, str(typ))


# --- value checks -------------------------------------------------------------------------------


class _Problems(list):
    """The problems found so far, each ``key.path: what is wrong``."""

    def need(self, cond: bool, path: str, msg: str) -> None:
        if not cond:
            self.append(f"{path}: {msg}")


def validate(cfg: BenchConfig) -> list[str]:
    """Every value problem in a structurally valid config, each with its key path."""
    errs = _Problems()
    need = errs.need
    _check_model_task_lora(cfg, need)
    _check_train(cfg, need)
    _check_compression(cfg, need)
    e = cfg.eval
    need(0 <= e.tolerance < 1, "eval.tolerance", f"expected in [0, 1), got {e.tolerance}")
    need(0.5 < e.confidence < 1, "eval.confidence", f"expected in (0.5, 1), got {e.confidence}")
    need(e.batch_size is None or e.batch_size >= 1, "eval.batch_size", f"expected >= 1, got {e.batch_size}")
    _check_harness(e, need)
    x = cfg.executor
    need(x.cpus_per_task >= 0, "executor.cpus_per_task", f"expected >= 0, got {x.cpus_per_task}")
    need(x.gpus_per_task >= 0, "executor.gpus_per_task", f"expected >= 0, got {x.gpus_per_task}")
    return list(errs)


def _check_harness(e: EvalConfig, need) -> None:
    harnesses = ", ".join(EVAL_HARNESSES)
    need(e.harness in EVAL_HARNESSES, "eval.harness", f"expected one of {harnesses}, got {e.harness!r}")
    need(
        e.backend in EVAL_BACKENDS,
        "eval.backend",
        f"expected {' or '.join(EVAL_BACKENDS)}, got {e.backend!r}",
    )
    need(
        e.num_fewshot is None or e.num_fewshot >= 0, "eval.num_fewshot", f"expected >= 0, got {e.num_fewshot}"
    )
    need(e.limit is None or e.limit >= 1, "eval.limit", f"expected >= 1, got {e.limit}")
    need(len(set(e.tasks)) == len(e.tasks), "eval.tasks", "duplicate names")
    if e.harness == "lm_eval":
        need(len(e.tasks) > 0, "eval.tasks", "eval.harness lm_eval needs at least one task name or path")
    else:
        only = f"only for eval.harness lm_eval (harness is {e.harness})"
        for key in ("tasks", "metric", "filter", "num_fewshot", "limit", "model_args"):
            need(getattr(e, key) in (None, [], {}), f"eval.{key}", only)
        need(e.backend == "hf", "eval.backend", only)


def _check_model_task_lora(cfg: BenchConfig, need) -> None:
    need(cfg.bench_version == BENCH_VERSION, "bench_version", f"this rankbench writes {BENCH_VERSION}")
    need(cfg.model.max_length >= 8, "model.max_length", f"expected >= 8, got {cfg.model.max_length}")
    t = cfg.task
    need(t.profile in PROFILES, "task.profile", f"expected one of {', '.join(PROFILES)}, got {t.profile!r}")
    need(t.eval_size >= 2, "task.eval_size", f"expected >= 2, got {t.eval_size}")
    need(t.train_size is None or t.train_size >= 1, "task.train_size", f"expected >= 1, got {t.train_size}")
    if t.labels is not None:
        need(len(t.labels) >= 2, "task.labels", f"expected 2 or more labels, got {len(t.labels)}")
        need(len({str(x) for x in t.labels}) == len(t.labels), "task.labels", "duplicate labels")
    need(t.max_new_tokens >= 1, "task.max_new_tokens", f"expected >= 1, got {t.max_new_tokens}")
    need("{prompt}" in t.prompt_template, "task.prompt_template", "must contain {prompt}")
    need("{answer}" in t.answer_template, "task.answer_template", "must contain {answer}")
    lo = cfg.lora
    need(lo.probe_r >= 1, "lora.probe_r", f"expected >= 1, got {lo.probe_r}")
    need(lo.alpha > 0, "lora.alpha", f"expected > 0, got {lo.alpha}")
    need(0 <= lo.dropout < 1, "lora.dropout", f"expected in [0, 1), got {lo.dropout}")
    need(lo.target_modules is None or len(lo.target_modules) > 0, "lora.target_modules", "empty list")


def _check_train(cfg: BenchConfig, need) -> None:
    tr = cfg.train
    need(tr.steps >= 1, "train.steps", f"expected >= 1, got {tr.steps}")
    need(tr.batch_size >= 1, "train.batch_size", f"expected >= 1, got {tr.batch_size}")
    need(tr.learning_rate > 0, "train.learning_rate", f"expected > 0, got {tr.learning_rate}")
    need(tr.weight_decay >= 0, "train.weight_decay", f"expected >= 0, got {tr.weight_decay}")
    need(0 <= tr.warmup_ratio < 1, "train.warmup_ratio", f"expected in [0, 1), got {tr.warmup_ratio}")
    need(tr.max_grad_norm > 0, "train.max_grad_norm", f"expected > 0, got {tr.max_grad_norm}")
    need(tr.seed >= 0, "train.seed", f"expected >= 0, got {tr.seed}")
    need(
        tr.device == "auto" or tr.device == "cpu" or tr.device.startswith("cuda"),
        "train.device",
        f"expected auto, cpu or cuda[:N], got {tr.device!r}",
    )
    need(
        tr.dtype in ("auto", "float32", "bfloat16"),
        "train.dtype",
        f"expected auto, float32 or bfloat16, got {tr.dtype!r}",
    )


def _check_compression(cfg: BenchConfig, need) -> None:
    c = cfg.compression
    for i, v in enumerate(c.variants):
        need(
            v in variant_names(),
            f"compression.variants[{i}]",
            f"expected one of {', '.join(variant_names())}",
        )
    need(len(set(c.variants)) == len(c.variants), "compression.variants", "duplicate names")
    need(
        c.default_method in BENCH_METHODS,
        "compression.default_method",
        f"expected one of {', '.join(BENCH_METHODS)}",
    )
    for name, methods in c.methods.items():
        need(name in c.variants, f"compression.methods.{name}", "not in compression.variants")
        for m in methods:
            need(m in BENCH_METHODS, f"compression.methods.{name}", f"unknown method {m!r}")
    if c.allowed_ranks is not None:
        need(
            all(1 <= k <= cfg.lora.probe_r for k in c.allowed_ranks) and len(c.allowed_ranks) > 0,
            "compression.allowed_ranks",
            f"expected ranks in [1, lora.probe_r={cfg.lora.probe_r}]",
        )
    try:
        from rankbench.suggest.rules import parse_rule

        parse_rule(c.rule)
    except RankbenchError as exc:
        need(False, "compression.rule", exc.message + (f" ({exc.hint})" if exc.hint else ""))
    need(c.finetune_steps >= 1, "compression.finetune_steps", f"expected >= 1, got {c.finetune_steps}")
    if c.ladder is not None:
        from rankbench.bench.variants import ladder_problem

        problem = ladder_problem(c.ladder, cfg.lora.probe_r)
        need(problem is None, "compression.ladder", problem or "")
    if c.max_rank is not None:
        need(c.max_rank >= 1, "compression.max_rank", f"expected >= 1, got {c.max_rank}")
    need(c.alpha_policy in ALPHA_POLICIES, "compression.alpha_policy", "|".join(ALPHA_POLICIES))


def load_config(path: str | Path | None, overrides: dict[str, Any] | None = None) -> BenchConfig:
    """Defaults, then the YAML file (if any), then command-line overrides ({"train.seed": 43})."""
    data, source = raw_config(path, overrides)
    return BenchConfig.from_dict(data, source=source)


def raw_config(path: str | Path | None, overrides: dict[str, Any] | None = None) -> tuple[dict, str | None]:
    """(the keys the user gave, the file they came from): the YAML file with the overrides set on it."""
    data: dict[str, Any] = {}
    source = None
    if path is not None:
        source = str(path)
        data = _read_yaml(Path(path))
    for dotted, value in (overrides or {}).items():
        set_key(data, dotted, value)
    return data, source


def set_key(data: dict, dotted: str, value: Any) -> None:
    """``data["a"]["b"] = value`` for ``"a.b"``, creating the sections on the way."""
    node = data
    *parents, leaf = dotted.split(".")
    for p in parents:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            return  # the section is malformed: BenchConfig.from_dict reports it
    node[leaf] = value


def get_key(data: dict, dotted: str, default: Any = None) -> Any:
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml

    if not path.is_file():
        raise RankbenchError("config file not found", path=path, hint="`rankbench init-config` writes one")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise RankbenchError("not a UTF-8 text file", path=path) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise yaml_error(exc, path, text) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RankbenchError("expected a mapping with sections model, task, lora, ...", path=path)
    return data
