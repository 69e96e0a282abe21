"""One base model in memory, many adapters: swap a variant's LoRA weights in without reloading the base.

An lm-eval bench evaluates the probe and every variant on the same base. Loading the base once and
changing only the adapter keeps start-up, imports and model loading out of the per-variant cost.

- In place: when the variant adapts the same modules with the same settings, at ranks no larger than
  the loaded ones (a truncation of the probe, or another adapter of the same shape), its factors are
  copied into the existing LoRA modules, zero-padded to the loaded rank, and each module's scale is
  set to the variant's (alpha/r, or alpha/√r with rsLoRA, r and alpha after ``rank_pattern`` /
  ``alpha_pattern``, matched as PEFT matches them). Zero rows of A and columns of B add nothing:
  B·A is the variant's (out, k)·(k, in) product exactly. # A: (r, in)  B: (out, r), r >= k
- Otherwise (another target list, a larger rank, DoRA, extra tensors): the variant is loaded as a new
  named adapter, made active, and the old one is deleted. The base weights are never touched.

Either way the model then computes exactly what ``PeftModel.from_pretrained(base, folder)`` computes
(tested on logits).
"""

from __future__ import annotations

import math
from pathlib import Path

from rankbench.errors import RankbenchError

WEIGHTS = "adapter_model.safetensors"
# adapter_config.json keys that change neither the tensors' shapes nor ΔW's scale at evaluation time
# ... and those that a zero-padded in-place copy takes care of (each module gets the variant's scale)
RANK_KEYS = {"r", "lora_alpha", "rank_pattern", "alpha_pattern"}
PREFIX = "base_model.model."
IGNORED_CONFIG_KEYS = {
    "base_model_name_or_path",
    "revision",
    "inference_mode",
    "lora_dropout",
    "peft_version",
    "auto_mapping",
}


def _layout_config(folder: Path) -> dict:
    from peft import PeftConfig

    d = PeftConfig.from_pretrained(str(folder)).to_dict()
    return {k: (sorted(v) if isinstance(v, set) else v) for k, v in d.items() if k not in IGNORED_CONFIG_KEYS}


def _weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    path = Path(folder) / WEIGHTS
    if not path.is_file():
        raise RankbenchError(
            f"no {WEIGHTS} in this adapter folder",
            path=folder,
            hint="save the adapter with save_pretrained() (safetensors is the default)",
        )
    return load_file(str(path))


class AdapterHost:
    """A PEFT model around a base loaded once; :meth:`load` makes a saved adapter the active one."""

    def __init__(self, base_model, first_adapter: Path):
        from peft import PeftModel

        self._count = 0
        self.adapter_name = self._next_name()
        self.model = PeftModel.from_pretrained(
            base_model, str(first_adapter), adapter_name=self.adapter_name, is_trainable=False
        ).eval()
        self._layout = _layout_config(first_adapter)
        self.folder = Path(first_adapter)
        self.last_swap = "loaded"

    def _next_name(self) -> str:
        self._count += 1
        return f"rankbench_{self._count}"

    def load(self, folder: Path) -> str:
        """Make the adapter saved in ``folder`` the active one; returns "in place" or "new adapter"."""
        folder = Path(folder)
        if folder == self.folder:
            return "unchanged"
        layout = _layout_config(folder)
        plan = None
        if _without(layout, RANK_KEYS) == _without(self._layout, RANK_KEYS) and not layout.get("use_dora"):
            plan = self._padded_plan(_weights(folder), layout)
        if plan is not None:
            _apply(plan, self.adapter_name)
            self.last_swap = "in place"
        else:
            self._replace(folder)
            self._layout = layout
            self.last_swap = "new adapter"
        self.folder = folder
        return self.last_swap

    def _lora_layers(self) -> dict[str, object]:
        """module path in the base model → its live LoRA layer holding the active adapter."""
        from peft.tuners.lora import LoraLayer

        out = {}
        for name, module in self.model.named_modules():
            if isinstance(module, LoraLayer) and self.adapter_name in module.lora_A:
                out[name.removeprefix(PREFIX)] = module
        return out

    def _padded_plan(self, weights: dict, layout: dict) -> list | None:
        """[(layer, A (k, in), B (out, k), scale)] for every live module, or None if a copy cannot fit."""
        from peft.utils.other import get_pattern_key

        layers, plan, used = self._lora_layers(), [], 0
        ranks, alphas = layout.get("rank_pattern") or {}, layout.get("alpha_pattern") or {}
        for key, layer in layers.items():
            a = weights.get(f"{PREFIX}{key}.lora_A.weight")
            b = weights.get(f"{PREFIX}{key}.lora_B.weight")
            live_a = layer.lora_A[self.adapter_name].weight
            if a is None or b is None or a.dim() != 2 or live_a.dim() != 2:
                return None
            k = a.shape[0]
            live_b = layer.lora_B[self.adapter_name].weight
            if k > live_a.shape[0] or a.shape[1] != live_a.shape[1] or b.shape != (live_b.shape[0], k):
                return None
            r = ranks.get(get_pattern_key(ranks.keys(), key), layout["r"])
            alpha = alphas.get(get_pattern_key(alphas.keys(), key), layout["lora_alpha"])
            if r != k:  # the config disagrees with the tensors: let PEFT load it and say so
                return None
            scale = alpha / math.sqrt(r) if layout.get("use_rslora") else alpha / r
            plan.append((layer, a, b, scale))
            used += 2
        return plan if used == len(weights) else None  # a tensor left over (modules_to_save, ...): no

    def _replace(self, folder: Path) -> None:
        old, name = self.adapter_name, self._next_name()
        self.model.load_adapter(str(folder), adapter_name=name, is_trainable=False)
        self.model.set_adapter(name)
        self.model.delete_adapter(old)
        self.model.eval()
        self.adapter_name = name


def _without(d: dict, keys: set) -> dict:
    return {k: v for k, v in d.items() if k not in keys}


def _apply(plan: list, name: str) -> None:
    """Copy each module's factors into its live LoRA weights, zero-padded, and set its scale."""
    import torch

    with torch.no_grad():
        for layer, a, b, scale in plan:
            live_a, live_b = layer.lora_A[name].weight, layer.lora_B[name].weight  # (r, in), (out, r)
            k = a.shape[0]
            live_a.zero_()
            live_b.zero_()
            live_a[:k].copy_(a)  # rows k.. of A stay zero
            live_b[:, :k].copy_(b)  # columns k.. of B stay zero
            layer.scaling[name] = scale
