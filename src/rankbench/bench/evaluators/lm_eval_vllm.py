"""The vllm backend of the lm_eval evaluator: one vLLM engine with LoRA enabled, one LoRARequest per adapter.

vLLM keeps the base weights on the GPU and applies the adapter named by each request, so switching
adapters is a new ``LoRARequest`` (a new id, the variant's folder), never a reload. Chosen with
``eval.backend: vllm``; :func:`rankbench.bench.evaluators.lm_eval.check_backend` has already checked
that vllm is installed and a GPU is present. Not exercised by the CPU test suite (no vllm there).
"""

from __future__ import annotations

import json
from pathlib import Path

VLLM_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)  # the max_lora_rank values vLLM accepts


def max_lora_rank(folder: Path) -> int:
    """The smallest rank vLLM accepts that holds every module's rank of the adapter in ``folder``."""
    cfg = json.loads((Path(folder) / "adapter_config.json").read_text(encoding="utf-8"))
    need = max([int(cfg.get("r", 8)), *(int(v) for v in (cfg.get("rank_pattern") or {}).values())])
    return next((k for k in VLLM_LORA_RANKS if k >= need), VLLM_LORA_RANKS[-1])


class VllmHost:
    """lm-eval's VLLM model with LoRA on; :meth:`load` points it at another adapter folder."""

    def __init__(self, base: str, first_adapter: Path, settings, device: str):
        from lm_eval.models.vllm_causallms import VLLM

        self._next_id = 0
        self.lm = VLLM(
            pretrained=base,
            lora_local_path=str(first_adapter),
            max_lora_rank=max_lora_rank(first_adapter),
            batch_size=settings.batch_size or "auto",
            device=device,
            **settings.model_args,
        )
        self.load(first_adapter)

    def load(self, folder: Path) -> str:
        from vllm.lora.request import LoRARequest

        self._next_id += 1
        self.lm.lora_request = LoRARequest(f"rankbench_{self._next_id}", self._next_id, str(folder))
        return "new adapter"
