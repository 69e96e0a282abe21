"""Reading the LoRA factors of a live PEFT model, module by module, without copying the model.

PEFT's LoRA layers carry ``lora_A`` / ``lora_B`` (module dicts of Linear or Conv layers),
``lora_embedding_A`` / ``lora_embedding_B`` (parameter dicts) and ``scaling``, the number PEFT itself
multiplies B·A by: alpha/r or alpha/√r (rsLoRA), after ``rank_pattern`` / ``alpha_pattern``. Reading
the scale from the layer rather than from the config honours all three. Layers are found by those
attributes (duck typing), so no PEFT import is needed. Only the factors are copied to the host, in
float64 (r·(in + out) numbers per module); ΔW is never formed.

Sharded factors (DeepSpeed ZeRO-3 partitions, FSDP's flat or DTensor shards, freed storage) are not
gathered: gathering is a collective every rank must join, and the monitor runs on rank 0 only. A
module whose factors look sharded raises :class:`ShardedFactors`, and the caller skips the sample.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

# Wrappers whose names end up in module paths: PeftModel, DDP / DeepSpeed, torch.compile, FSDP.
_PREFIXES = (
    "base_model.model.",
    "module.",
    "_orig_mod.",
    "_fsdp_wrapped_module.",
    "_checkpoint_wrapped_module.",
)


class ShardedFactors(RuntimeError):
    """A module's factors are partitioned across processes; reading them would need a collective."""


def module_path(name: str) -> str:
    """The module's path in the base model, as ``rankbench audit`` names it (wrapper prefixes dropped)."""
    for _ in range(8):  # wrappers nest, e.g. module.base_model.model.
        stripped = next((name[len(p) :] for p in _PREFIXES if name.startswith(p)), name)
        stripped = stripped.replace("._fsdp_wrapped_module", "").replace("._checkpoint_wrapped_module", "")
        if stripped == name:
            break
        name = stripped
    return name


@dataclass(frozen=True)
class LivePair:
    """One adapter's factors in one live LoRA layer, shaped like :class:`rankbench.adapters.LoraPair`
    so that :meth:`rankbench.auditor.ModuleAudit.of` accepts it."""

    name: str
    adapter_name: str
    kind: str  # "linear" | "conv1d" | "embedding" | "conv"
    A: np.ndarray  # (r, in); conv: flattened to (r, in·k…); embedding: (r, vocab)
    B: np.ndarray  # (out, r)
    r: int
    alpha: float
    scale: float
    dtype: str
    magnitude: object | None  # the DoRA magnitude parameter, if any (only its presence is used)

    @property
    def shape(self) -> tuple[int, int]:
        return self.B.shape[0], self.A.shape[1]


def _is_sharded(t) -> bool:
    return (
        hasattr(t, "ds_id")  # DeepSpeed ZeRO-3 parameter
        or type(t).__name__ == "DTensor"  # FSDP2 / tensor parallel shard
        or t.numel() == 0  # FSDP1 original parameter outside forward, freed storage
    )


def _host(t, name: str) -> np.ndarray:
    if _is_sharded(t):
        raise ShardedFactors(f"{name}: {type(t).__name__} of shape {tuple(t.shape)} is sharded")
    return t.detach().to("cpu").double().numpy()  # (r, …) or (out, r, …) in float64, a small copy


def lora_layers(model) -> Iterator[tuple[str, object]]:
    """(path in the base model, layer) for every PEFT LoRA layer of ``model``, in module order."""
    for name, module in model.named_modules():
        if hasattr(module, "lora_A") and hasattr(module, "lora_B") and hasattr(module, "scaling"):
            yield module_path(name), module


def _factors(layer, adapter: str) -> tuple[str, object, object]:
    if adapter in getattr(layer, "lora_embedding_A", {}):
        return "embedding", layer.lora_embedding_A[adapter], layer.lora_embedding_B[adapter]
    A, B = layer.lora_A[adapter].weight, layer.lora_B[adapter].weight
    if A.dim() > 2:
        return "conv", A, B
    return ("conv1d" if getattr(layer, "fan_in_fan_out", False) else "linear"), A, B


def read_pair(name: str, layer, adapter: str) -> LivePair:
    """The factors of ``adapter`` in ``layer`` as float64 arrays, with PEFT's live scale."""
    kind, A_t, B_t = _factors(layer, adapter)
    A = _host(A_t, f"{name}.lora_A")
    B = _host(B_t, f"{name}.lora_B")
    A = A.reshape(A.shape[0], -1)  # conv: (r, in, k…) -> (r, in·k…)
    B = B.reshape(B.shape[0], -1)  # conv: (out, r, 1…) -> (out, r)
    if A.shape[0] != B.shape[1]:
        raise ShardedFactors(f"{name}: lora_A {A.shape} and lora_B {B.shape} do not pair")
    magnitudes = getattr(layer, "lora_magnitude_vector", None) or {}
    alphas = getattr(layer, "lora_alpha", None) or {}
    return LivePair(
        name=name,
        adapter_name=adapter,
        kind=kind,
        A=A,
        B=B,
        r=int(A.shape[0]),
        alpha=float(alphas.get(adapter, float("nan"))),
        scale=float(layer.scaling[adapter]),
        dtype=str(A_t.dtype).removeprefix("torch."),
        magnitude=magnitudes[adapter] if adapter in magnitudes else None,  # noqa: SIM401 (ModuleDict has no get)
    )


def adapter_names(layer) -> list[str]:
    names = list(getattr(layer, "lora_A", {}).keys()) + list(getattr(layer, "lora_embedding_A", {}).keys())
    return [n for n in names if n in layer.scaling]


def live_pairs(model) -> Iterator[LivePair]:
    """Every LoRA pair of ``model`` (all adapters), read one at a time."""
    for name, layer in lora_layers(model):
        for adapter in adapter_names(layer):
            yield read_pair(name, layer, adapter)
