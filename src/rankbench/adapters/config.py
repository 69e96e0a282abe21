"""PEFT LoRA configuration rules, pure: per-module r and alpha, the scale, and config validation.

PEFT (0.21, ``peft.utils.other.get_pattern_key``) resolves ``rank_pattern`` / ``alpha_pattern`` by
trying each pattern key, in the dict's order, as the regex ``(.*\\.)?(KEY)$`` against the module path
(``re.match``, so anchored at the start); the first key that matches wins. If none matches, the module
path itself is looked up (an exact key), and otherwise the global ``r`` / ``lora_alpha`` apply. The
module path is the one in the base model, e.g. ``model.layers.0.self_attn.q_proj``.

The scale is alpha / r, or alpha / √r with ``use_rslora``.
"""

from __future__ import annotations

import math
import re

# PEFT LoraConfig defaults, used when a key is absent (as PEFT's dataclass would).
DEFAULT_R = 8
DEFAULT_ALPHA = 8


def pattern_key(patterns, module_name: str) -> str:
    """The key of ``patterns`` that PEFT would pick for ``module_name`` (the name itself if none)."""
    for key in patterns:
        if re.match(rf"(.*\.)?({key})$", module_name):
            return key
    return module_name


def resolve_r_alpha(config: dict, module_name: str) -> tuple[int, float]:
    """(r, alpha) that PEFT would give ``module_name`` under ``config`` (a raw adapter_config.json)."""
    rank_pattern = config.get("rank_pattern") or {}
    alpha_pattern = config.get("alpha_pattern") or {}
    r = rank_pattern.get(pattern_key(rank_pattern.keys(), module_name), config.get("r", DEFAULT_R))
    alpha = alpha_pattern.get(
        pattern_key(alpha_pattern.keys(), module_name), config.get("lora_alpha", DEFAULT_ALPHA)
    )
    return int(r), float(alpha)


def lora_scale(alpha: float, r: int, use_rslora: bool) -> float:
    """alpha / r, or alpha / √r for rsLoRA."""
    if r <= 0:
        raise ValueError(f"r must be positive, got {r}")
    return float(alpha) / (math.sqrt(r) if use_rslora else r)


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def config_problems(config) -> list[str]:
    """Everything wrong with a parsed adapter_config.json, all at once ([] when it is usable)."""
    if not isinstance(config, dict):
        return [f"must be a JSON object, got {type(config).__name__}"]
    problems = []
    peft_type = config.get("peft_type", "LORA")
    if peft_type != "LORA":
        problems.append(f"peft_type is {peft_type!r}; rankbench audits LoRA adapters only (peft_type 'LORA')")
    if "r" in config and not (_is_int(config["r"]) and config["r"] > 0):
        problems.append(f"'r' must be a positive integer, got {config['r']!r}")
    if "lora_alpha" in config and not _is_number(config["lora_alpha"]):
        problems.append(f"'lora_alpha' must be a number, got {config['lora_alpha']!r}")
    for key in ("use_rslora", "use_dora", "fan_in_fan_out"):
        if config.get(key) is not None and not isinstance(config[key], bool):
            problems.append(f"{key!r} must be true or false, got {config[key]!r}")
    rules = (
        ("rank_pattern", lambda v: _is_int(v) and v > 0, "a positive integer"),
        ("alpha_pattern", _is_number, "a number"),
    )
    for key, check, what in rules:
        pattern = config.get(key)
        if pattern is None:
            continue
        if not isinstance(pattern, dict):
            problems.append(f"{key!r} must be an object of pattern -> value, got {type(pattern).__name__}")
            continue
        for pat, value in pattern.items():
            if not check(value):
                problems.append(f"{key}[{pat!r}] must be {what}, got {value!r}")
            try:
                re.compile(pat)
            except re.error as exc:
                problems.append(f"{key} key {pat!r} is not a valid regular expression ({exc})")
    return problems
