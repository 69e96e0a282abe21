"""The safetensors header metadata of single-file LoRAs: what we read from it, and what we write.

The header's ``__metadata__`` reaches here already checked as an object of string → string
(:mod:`rankbench.adapters.safetensors_header`). The one value we parse is diffusers'
``lora_adapter_metadata``: the PEFT LoRA config, as JSON text, with keys either plain (``r``,
``lora_alpha``, ``rank_pattern``, …) or prefixed by a pipeline component (``unet.r``,
``transformer.lora_alpha``, …). :func:`check_header_metadata` holds it to the rules of an
adapter_config.json (:func:`rankbench.adapters.config.config_problems`), component by component,
since the module's alpha comes from it; anything else is an error naming the file and the key.

What we write: sd-scripts records the network's rank and alpha as ``ss_network_dim`` / ``ss_network_alpha`` (the
string ``"Dynamic"`` when they differ per module, as its resize script writes) and a free-text
``ss_training_comment``. Our resize updates the two numbers, prepends a note to the comment, records
the plan in ``rankbench_resize`` (JSON), and drops ``sshs_model_hash`` / ``sshs_legacy_hash``: those
hash the tensors, which changed, and a stale hash is worse than none (kohya's tools recompute them).
Every other key is kept as it was.
"""

from __future__ import annotations

import json

from rankbench.adapters.config import config_problems
from rankbench.adapters.families import diffusers_component
from rankbench.adapters.safetensors_header import json_type
from rankbench.errors import RankbenchError
from rankbench.io import loads_strict

DIFFUSERS_METADATA_KEY = "lora_adapter_metadata"
_HINT = "the header metadata was edited or written by another tool; re-export the LoRA from the trainer"
STALE_KEYS = ("sshs_model_hash", "sshs_legacy_hash")


def _one_or_dynamic(values) -> str:
    distinct = sorted(set(values))
    if len(distinct) != 1:
        return "Dynamic"
    v = distinct[0]
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def resized_metadata(metadata: dict, *, ranks: dict, alphas: dict, source_ranks: dict, note: dict) -> dict:
    """The new header metadata (all values strings) for a file resized to ``ranks`` / ``alphas``."""
    out = {k: str(v) for k, v in metadata.items() if k not in STALE_KEYS}
    dims = sorted(set(source_ranks.values()))
    before = str(dims[0]) if len(dims) == 1 else f"{dims[0]}..{dims[-1]}"
    after = _one_or_dynamic(ranks.values())
    how = note.get("plan", "")
    if note.get("rule"):
        how += f", rule {note['rule']}"
    comment = out.get("ss_training_comment", "")
    out["ss_training_comment"] = f"rankbench resize from {before} to {after} ({how})" + (
        f"; {comment}" if comment else ""
    )
    if "ss_network_dim" in out or "ss_network_module" in out:
        out["ss_network_dim"] = after
        out["ss_network_alpha"] = _one_or_dynamic(alphas.values())
    out["rankbench_resize"] = json.dumps(note, sort_keys=True)
    return out


def check_header_metadata(metadata: dict[str, str], path) -> None:
    """Refuse a ``lora_adapter_metadata`` that is not a usable PEFT config (see the module docs)."""
    raw = metadata.get(DIFFUSERS_METADATA_KEY)
    if raw is None:
        return
    where = f"header __metadata__ {DIFFUSERS_METADATA_KEY!r}"
    try:
        doc = loads_strict(raw)
    except json.JSONDecodeError as exc:
        raise RankbenchError(f"{where} is not valid JSON ({exc})", path=path, hint=_HINT) from None
    if not isinstance(doc, dict):
        raise RankbenchError(
            f"{where} must be a JSON object (a PEFT LoRA config), got {json_type(doc)}",
            path=path,
            hint=_HINT,
        )
    groups: dict[str, dict] = {}
    for key, value in doc.items():
        component = diffusers_component(key)
        name = key[len(component) + 1 :] if component else key
        groups.setdefault(component or "", {})[name] = value
    problems = [
        f"{component + ': ' if component else ''}{problem}"
        for component, config in groups.items()
        for problem in config_problems(config)
    ]
    if problems:
        raise RankbenchError(f"{where}: " + "; ".join(problems), path=path, hint=_HINT)
