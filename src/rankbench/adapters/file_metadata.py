"""The safetensors header metadata of a resized single-file LoRA (kohya's ``ss_*`` conventions).

sd-scripts records the network's rank and alpha as ``ss_network_dim`` / ``ss_network_alpha`` (the
string ``"Dynamic"`` when they differ per module, as its resize script writes) and a free-text
``ss_training_comment``. Our resize updates the two numbers, prepends a note to the comment, records
the plan in ``rankbench_resize`` (JSON), and drops ``sshs_model_hash`` / ``sshs_legacy_hash``: those
hash the tensors, which changed, and a stale hash is worse than none (kohya's tools recompute them).
Every other key is kept as it was. Pure dict work.
"""

from __future__ import annotations

import json

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
