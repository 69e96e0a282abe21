"""Key families of single-file LoRA formats: a tensor key → (family, module stem, role). Pure string work.

The formats people share as one ``.safetensors`` file, detected from their keys (never from the file
name)::

    kohya / sd-scripts   lora_unet_<path>.lora_down.weight (A, r×in[×kh×kw])   .lora_up.weight (B, out×r[×1×1])
                         <stem>.alpha (scalar; scale = alpha/r, no alpha: alpha = r)   <stem>.dora_scale (DoRA)
                         prefixes lora_unet_, lora_te_, lora_te1_, lora_te2_, lora_te3_, lora_transformer_, …
    diffusers (PEFT)     unet.<path>.lora_A.weight / transformer.<path>.lora_B.weight, no adapter_config.json
    diffusers (old)      <path>.lora.down.weight, <path>_lora.down.weight, <path>.lora_linear_layer.down.weight
    LyCORIS LoHa         <stem>.hada_w1_a, hada_w1_b, hada_w2_a, hada_w2_b [, hada_t1, hada_t2]
    LyCORIS LoKr         <stem>.lokr_w1 | lokr_w1_a + lokr_w1_b, lokr_w2 | lokr_w2_a + lokr_w2_b [, lokr_t2]

Roles: "A" (down), "B" (up), "alpha", "magnitude" (DoRA), or the LyCORIS tensor name (``hada_w1_a``, …).
A key that matches no family is ``None``: it is listed and flagged, never guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FORMATS = ("peft", "kohya", "diffusers", "lycoris")
LOHA_ROLES = ("hada_w1_a", "hada_w1_b", "hada_w2_a", "hada_w2_b", "hada_t1", "hada_t2")
LOKR_ROLES = ("lokr_w1", "lokr_w1_a", "lokr_w1_b", "lokr_w2", "lokr_w2_a", "lokr_w2_b", "lokr_t2")

# (family, pattern); the first match wins. Each pattern captures the module stem and the role.
_PATTERNS: tuple[tuple[str, re.Pattern], ...] = (
    ("kohya", re.compile(r"^(?P<stem>.+)\.(?P<role>lora_down|lora_up)\.weight$")),
    ("diffusers", re.compile(r"^(?P<stem>.+)\.(?P<role>lora_A|lora_B)\.weight$")),
    (
        "diffusers_old",
        re.compile(r"^(?P<stem>.+?)(?:\.lora|_lora|\.lora_linear_layer)\.(?P<role>down|up)\.weight$"),
    ),
    ("loha", re.compile(r"^(?P<stem>.+)\.(?P<role>" + "|".join(LOHA_ROLES) + r")$")),
    ("lokr", re.compile(r"^(?P<stem>.+)\.(?P<role>" + "|".join(LOKR_ROLES) + r")$")),
    ("shared", re.compile(r"^(?P<stem>.+)\.(?P<role>alpha|dora_scale|lora_magnitude_vector)$")),
)
_ROLE = {"lora_down": "A", "lora_up": "B", "lora_A": "A", "lora_B": "B", "down": "A", "up": "B"}
_SHARED = {"alpha": "alpha", "dora_scale": "magnitude", "lora_magnitude_vector": "magnitude"}
_DIFFUSERS_PREFIXES = (
    "unet.",
    "transformer.",
    "text_encoder.",
    "text_encoder_2.",
    "text_encoder_3.",
    "prior.",
)


@dataclass(frozen=True)
class FamilyKey:
    family: str  # "kohya" | "diffusers" | "diffusers_old" | "loha" | "lokr" | "shared"
    stem: str  # the module's name in every output
    role: str  # "A" | "B" | "alpha" | "magnitude" | a LyCORIS tensor name


def classify(key: str) -> FamilyKey | None:
    """The family, module stem and role of one key, or None when no family knows it."""
    for family, pattern in _PATTERNS:
        m = pattern.match(key)
        if m:
            role = m["role"]
            role = _SHARED.get(role, role) if family == "shared" else _ROLE.get(role, role)
            return FamilyKey(family, m["stem"], role)
    return None


def detect_format(families: set[str]) -> str | None:
    """The format a file is in, from the families of its keys (None: no LoRA family found).

    LyCORIS wins when any LoHa/LoKr module is present (LyCORIS files mix in plain lora_down/lora_up
    modules); kohya's lora_down/lora_up next; the two diffusers forms last.
    """
    if families & {"loha", "lokr"}:
        return "lycoris"
    if "kohya" in families:
        return "kohya"
    if families & {"diffusers", "diffusers_old"}:
        return "diffusers"
    return None


def diffusers_component(stem: str) -> str | None:
    """``unet`` / ``transformer`` / ``text_encoder`` … for a diffusers module path, when it has one."""
    for prefix in _DIFFUSERS_PREFIXES:
        if stem.startswith(prefix):
            return prefix[:-1]
    return None
