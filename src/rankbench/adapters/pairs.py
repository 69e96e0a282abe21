"""LoRA pairs: what one module's factors are, and how a file's tensor keys group into them (no I/O).

Shapes are the truth for r; the config gives alpha (and r only to warn when it disagrees). Kinds:
"linear", "conv1d" (GPT-2 Conv1D, ``fan_in_fan_out``: PEFT stores A (r, in) and B (out, r) as usual and
transposes the delta), "embedding" (lora_embedding_A (r, vocab), lora_embedding_B (dim, r)), and
"conv" (nn.Conv*d: A (r, in, k…) flattened to (r, in·k…), B (out, r, 1…) to (out, r)).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rankbench.adapters.config import lora_scale, resolve_r_alpha
from rankbench.adapters.keys import natural_key, parse_key
from rankbench.adapters.safetensors_file import TensorInfo, require_float
from rankbench.errors import RankbenchError
from rankbench.records import from_record


@dataclass(frozen=True)
class OtherTensor:
    """A tensor in the adapter file that is not a LoRA factor (modules_to_save, a head, a lora bias)."""

    key: str
    shape: tuple[int, ...]
    dtype: str
    numel: int

    def to_dict(self) -> dict:
        return {"key": self.key, "shape": list(self.shape), "dtype": self.dtype, "numel": self.numel}

    from_dict = classmethod(from_record)  # the one rule: rankbench.records


@dataclass(frozen=True)
class PairSpec:
    """Where one LoRA pair lives in the file, before any tensor is read."""

    name: str
    adapter_name: str
    kind: str  # "linear" | "conv1d" | "embedding" | "conv"
    info_A: TensorInfo
    info_B: TensorInfo
    info_magnitude: TensorInfo | None
    r: int
    alpha: float
    scale: float

    @property
    def shape(self) -> tuple[int, int]:
        """Shape of B·A: (out, in); for an embedding (embedding_dim, num_embeddings)."""
        return self.info_B.shape[0], int(np.prod(self.info_A.shape[1:]))


@dataclass(frozen=True)
class LoraPair:
    """One LoRA module's factors in float64 as stored: ΔW = scale·B·A (transposed for conv1d/embedding)."""

    name: str  # path in the base model, e.g. "model.layers.0.self_attn.q_proj"
    adapter_name: str
    kind: str  # "linear" | "conv1d" (GPT-2 Conv1D, fan_in_fan_out) | "embedding" | "conv" (nn.ConvNd)
    A: np.ndarray  # (r, in); embedding: lora_embedding_A (r, vocab); conv: flattened to (r, in·k…)
    B: np.ndarray  # (out, r); embedding: lora_embedding_B (dim, r)
    r: int
    alpha: float
    scale: float
    fan_in_fan_out: bool
    dtype: str  # original dtype name, e.g. "bfloat16"
    key_A: str
    key_B: str
    magnitude: np.ndarray | None  # DoRA lora_magnitude_vector, if present

    @property
    def shape(self) -> tuple[int, int]:
        return self.B.shape[0], self.A.shape[1]


def _kind(parsed_embedding: bool, info_A: TensorInfo, fan_in_fan_out: bool) -> str:
    if parsed_embedding:
        return "embedding"
    if len(info_A.shape) > 2:
        return "conv"
    return "conv1d" if fan_in_fan_out else "linear"


def factors_pair(a: TensorInfo, b: TensorInfo) -> bool:
    """Whether A (r, in[, kh, kw]) and B (out, r[, 1, 1]) share one rank r > 0."""
    return (
        len(a.shape) >= 2
        and len(b.shape) >= 2
        and a.shape[0] == b.shape[1]
        and a.shape[0] > 0
        and all(d == 1 for d in b.shape[2:])
    )


def _check_pair(file_path: Path, name: str, a: TensorInfo, b: TensorInfo) -> None:
    for info in (a, b):
        require_float(info.key, info.dtype, file_path)
    if not factors_pair(a, b):
        raise RankbenchError(
            f"module {name}: lora_A {list(a.shape)} and lora_B {list(b.shape)} do not pair "
            "(expected A (r, in) and B (out, r) with the same r)",
            path=file_path,
            hint="the file was edited or mixes two adapters; re-save it with save_pretrained()",
        )


def group_pairs(
    tensors: dict[str, TensorInfo], config: dict, path: Path
) -> tuple[list[PairSpec], list[OtherTensor], list[tuple[str, int, int]]]:
    """Group tensor keys into LoRA pair specs (adapter, then natural module order), the other tensors, and
    (module, config r, tensor r) for every module whose config r disagrees with its tensors."""
    fan_in_fan_out = bool(config.get("fan_in_fan_out", False))
    use_rslora = bool(config.get("use_rslora", False))
    groups: dict[tuple[str, str], dict] = {}
    others = []
    for key, info in tensors.items():
        parsed = parse_key(key)
        if parsed.role is None:
            others.append(OtherTensor(key, info.shape, info.dtype_name, info.numel))
            continue
        slot = groups.setdefault((parsed.adapter, parsed.module), {"embedding": parsed.embedding})
        slot[parsed.role] = info
    specs, mismatches = [], []
    for (adapter, name), slot in sorted(groups.items(), key=lambda kv: (kv[0][0], natural_key(kv[0][1]))):
        missing = [role for role in ("A", "B") if role not in slot]
        if missing:
            present = "lora_B" if missing == ["A"] else "lora_A"
            raise RankbenchError(
                f"module {name}: has {present} but no lora_{missing[0]}"
                if len(missing) == 1
                else f"module {name}: has a DoRA magnitude vector but no lora_A/lora_B",
                path=path,
                hint="the file is incomplete; re-save the adapter with save_pretrained()",
            )
        _check_pair(path, name, slot["A"], slot["B"])
        r = slot["A"].shape[0]
        config_r, alpha = resolve_r_alpha(config, name)
        if config_r != r:
            mismatches.append((name, config_r, r))
        kind = _kind(slot["embedding"], slot["A"], fan_in_fan_out)
        scale = lora_scale(alpha, r, use_rslora)
        specs.append(
            PairSpec(name, adapter, kind, slot["A"], slot["B"], slot.get("magnitude"), r, alpha, scale)
        )
    return specs, others, mismatches
