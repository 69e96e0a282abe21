"""Tensor keys of a PEFT LoRA state dict → (module path, adapter name, role). Pure string work.

Forms PEFT writes (``save_pretrained`` drops the adapter name; a raw ``state_dict()`` keeps it)::

    base_model.model.<module>.lora_A.weight               lora_A.<adapter>.weight
    base_model.model.<module>.lora_B.weight               lora_B.<adapter>.weight
    base_model.model.<module>.lora_embedding_A            lora_embedding_A.<adapter>
    base_model.model.<module>.lora_embedding_B            lora_embedding_B.<adapter>
    base_model.model.<module>.lora_magnitude_vector       lora_magnitude_vector.<adapter>.weight  (DoRA)

The module path drops the leading ``base_model.model.``. Anything else (``modules_to_save`` copies, a
classifier head, ``lora_B.bias`` from ``lora_bias=True``) is not a LoRA factor: role ``None``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PREFIX = "base_model.model."
DEFAULT_ADAPTER = "default"
_ROLES = {
    "lora_A": "A",
    "lora_B": "B",
    "lora_embedding_A": "A",
    "lora_embedding_B": "B",
    "lora_magnitude_vector": "magnitude",
}
_KEY = re.compile(
    r"^(?P<module>.+?)\.(?P<role>lora_A|lora_B|lora_embedding_A|lora_embedding_B|lora_magnitude_vector)"
    r"(?:\.(?P<adapter>[^.]+))?(?:\.(?P<param>[^.]+))?$"
)


@dataclass(frozen=True)
class ParsedKey:
    module: str  # path in the base model
    adapter: str  # adapter name ("default" when the key carries none)
    role: str | None  # "A", "B", "magnitude", or None for a tensor that is not a LoRA factor
    embedding: bool  # lora_embedding_A/B


def strip_prefix(key: str) -> str:
    return key[len(PREFIX) :] if key.startswith(PREFIX) else key


def parse_key(key: str) -> ParsedKey:
    """Classify one state-dict key (see the module docs)."""
    m = _KEY.match(key)
    if not m:
        return ParsedKey(strip_prefix(key), DEFAULT_ADAPTER, None, False)
    adapter, param = m["adapter"], m["param"]
    if param is None and adapter in ("weight", "bias"):
        adapter, param = None, adapter
    role = _ROLES[m["role"]]
    if param == "bias" or (param is not None and param != "weight"):
        role = None  # lora_B.bias (lora_bias=True) and unknown extras are listed, not audited
    return ParsedKey(
        strip_prefix(m["module"]), adapter or DEFAULT_ADAPTER, role, m["role"].startswith("lora_embedding")
    )


def natural_key(name: str) -> tuple:
    """Sort key that orders ``layers.2`` before ``layers.10``."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name))
