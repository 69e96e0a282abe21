"""Bench an adapter the user already trained (``probe.adapter`` / ``run --adapter``) instead of a probe.

Three steps, all before any stage runs:

1. :func:`load_bench_config` fills the config from the adapter: ``model.name`` from its
   ``base_model_name_or_path`` (unless the user set one), the ``lora`` section from its
   ``adapter_config.json``, and ``probe.adapter_sha256`` from its weights file, so the run folder is
   locked to these bytes (another adapter on the same folder is refused like another config).
   Retraining needs training data and a train budget the adapter cannot tell us: without
   ``train.steps`` and ``task.train_size`` / ``task.eval_split`` the variants are truncations only,
   and a config that asks for retrain or truncate+finetune anyway is refused.
2. :func:`check_fit` checks every tensor against the base model built on the meta device (no weights
   read): each LoRA pair's ΔW shape, and a head's shape against the task's number of labels.
3. :func:`import_adapter` copies the adapter into the ``probe/`` stage; the user's folder is only read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rankbench.adapters.adapter import Adapter
from rankbench.adapters.reader import CONFIG_NAME, SAFETENSORS_NAME, open_adapter
from rankbench.bench.config import BenchConfig, get_key, raw_config, set_key
from rankbench.bench.sources import BUILTIN_HUB_IDS, is_hub_name
from rankbench.bench.variants import variant_jobs
from rankbench.errors import RankbenchError

OVERRIDE_HINT = "name the base model here: `--base-model NAME_OR_FOLDER`, or model.name in the --config file"
# lora.<key> <- adapter_config.json <key>
LORA_KEYS = {"alpha": "lora_alpha", "dropout": "lora_dropout", "use_rslora": "use_rslora"}


def load_bench_config(path, overrides: dict, derived: dict | None = None) -> tuple[BenchConfig, list[str]]:
    """The config with ``probe.adapter`` resolved (see the module doc), and notes for stderr.

    ``derived`` (e.g. --smoke budgets) is applied after the checks of what the user gave.
    """
    data, source = raw_config(path, overrides)
    notes: list[str] = []
    folder = get_key(data, "probe.adapter")
    if folder is not None and not isinstance(folder, str):
        folder = None  # a type error: BenchConfig.from_dict reports it
    budget = get_key(data, "train.steps") is not None
    train_data = get_key(data, "task.train_size") is not None or get_key(data, "task.eval_split") is not None
    if folder is not None:
        notes = _fill_from_adapter(data, Path(folder).expanduser(), source)
        if not (budget and train_data):
            notes += _truncate_only_by_default(data)
    for key, value in (derived or {}).items():
        set_key(data, key, value)
    cfg = BenchConfig.from_dict(data, source=source)
    if cfg.eval.harness != "profile":  # the tasks are lm-eval's: training data is the profile's own
        train_data = train_data and get_key(data, "task.dataset") is not None
    if folder is not None:
        check_methods(cfg, train_data, budget, source)
    return cfg, notes


def open_user_adapter(folder: Path) -> Adapter:
    adapter = open_adapter(folder)
    if adapter.weights_path.name != SAFETENSORS_NAME:
        adapter.close()
        raise RankbenchError(
            "the adapter has only pickled weights (adapter_model.bin)",
            path=folder,
            hint="re-save it with save_pretrained() (safetensors is the default)",
        )
    if adapter.use_dora or len(adapter.adapter_names) > 1:
        adapter.close()
        raise RankbenchError(
            "DoRA adapters cannot be benched (truncating one is not a plain rank cut)"
            if adapter.use_dora
            else f"the weights file holds several adapters ({', '.join(adapter.adapter_names)})",
            path=folder,
            hint="bench a plain LoRA adapter saved alone with save_pretrained()",
        )
    return adapter


def _fill_from_adapter(data: dict, folder: Path, source) -> list[str]:
    with open_user_adapter(folder.resolve()) as adapter:  # absolute: never taken for a hub id
        folder, config, sha = adapter.path, adapter.config, adapter.sha256
        ranks = [s.r for s in adapter.specs]
    pinned = get_key(data, "probe.adapter_sha256")
    if pinned is not None and pinned != sha:
        raise RankbenchError(
            f"probe.adapter_sha256 is {pinned}, but {SAFETENSORS_NAME} has sha256 {sha}",
            path=folder / SAFETENSORS_NAME,
            hint="the adapter changed since the config was written: check it, then update or remove the pin",
        )
    set_key(data, "probe.adapter", str(folder))
    set_key(data, "probe.adapter_sha256", sha)
    notes = [f"benching the adapter {folder} (sha256 {sha[:12]}…) instead of training a probe"]
    if get_key(data, "model.name") is None:
        set_key(data, "model.name", _base_model(config, folder))
        notes.append(f"base model from its {CONFIG_NAME}: {get_key(data, 'model.name')}")
    _fill_lora(data, config, max(ranks), source)
    profile = PROFILE_OF_TASK_TYPE.get(str(config.get("task_type")))
    if get_key(data, "task.profile") is None and profile is not None:
        set_key(data, "task.profile", profile)
        notes.append(f"task profile {profile}, from the adapter's task_type {config.get('task_type')}")
    return notes


# the profile an adapter's PEFT task_type implies when the config names none
PROFILE_OF_TASK_TYPE = {"CAUSAL_LM": "causal_lm_exact_match", "SEQ_CLS": "seqcls"}


def _base_model(config: dict, folder: Path) -> str:
    base = config.get("base_model_name_or_path")
    if not base:
        raise RankbenchError(
            f"{CONFIG_NAME} names no base model (base_model_name_or_path is empty)",
            path=folder / CONFIG_NAME,
            hint=OVERRIDE_HINT,
        )
    builtin = {hub: name for name, hub in BUILTIN_HUB_IDS.items()}.get(base)
    if builtin is not None:  # what the bench writes: the builtin ships this model, no hub needed
        return builtin
    local = Path(base).expanduser()
    looks_local = "\\" in base or not is_hub_name(base)
    if looks_local and not local.exists():
        raise RankbenchError(
            f"the base model {base!r} named in {CONFIG_NAME} (base_model_name_or_path) does not exist "
            "on this machine (the adapter was probably trained elsewhere)",
            path=folder / CONFIG_NAME,
            hint=OVERRIDE_HINT,
        )
    return base


def _fill_lora(data: dict, config: dict, r_max: int, source) -> None:
    """The lora section describes the adapter: filled from its config, and a different value is refused."""
    wanted: dict[str, Any] = {"probe_r": r_max}
    for key, theirs in LORA_KEYS.items():
        if config.get(theirs) is not None:
            wanted[key] = config[theirs]
    if isinstance(config.get("target_modules"), list):
        wanted["target_modules"] = sorted(config["target_modules"])
    for key, value in wanted.items():
        given = get_key(data, f"lora.{key}")
        same_list = key == "target_modules" and isinstance(given, list) and sorted(map(str, given)) == value
        if given is not None and given != value and not same_list:
            raise RankbenchError(
                f"lora.{key} is {given!r}, but the adapter's {CONFIG_NAME} says {value!r}",
                path=source,
                hint="with probe.adapter the lora section comes from the adapter: remove the key",
            )
        set_key(data, f"lora.{key}", value)


def _truncate_only_by_default(data: dict) -> list[str]:
    """The default methods retrain uniform_median: without data and budget, truncations only."""
    if get_key(data, "compression.methods") is not None:
        return []  # the user asked: check_methods decides
    set_key(data, "compression.methods", {})
    return ["truncate variants only: retraining needs train.steps and task.train_size or task.eval_split"]


def check_methods(cfg: BenchConfig, data_given: bool, budget_given: bool, source=None) -> None:
    """Refuse up front the variants that train when the user gave no training data or budget."""
    training = [j.key for j in variant_jobs(cfg.compression) if j.method != "truncate"]
    if not training or (data_given and budget_given):
        return
    missing = [
        what
        for what, ok in (
            ("a train budget (train.steps)", budget_given),
            ("training data (task.train_size, or task.eval_split and task.split to train on)", data_given),
        )
        if not ok
    ]
    raise RankbenchError(
        f"with probe.adapter, {', '.join(training)} need(s) training, but the config lacks "
        + " and ".join(missing),
        path=source,
        hint="give the budget your adapter was trained with and the data to train on, or keep only "
        "truncate in compression.methods and compression.default_method",
    )
