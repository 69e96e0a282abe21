"""Where the bench runs: device and dtype choice and seeding (threads: :mod:`rankbench.threads`).

``device: auto`` picks the first CUDA GPU when there is one and the CPU otherwise; ``dtype: auto``
picks bfloat16 on a GPU that supports it and float32 everywhere else (bf16 matmuls on CPU are slower
than fp32 on the machines we measured). The bench uses the dtype as the autocast dtype: master weights
and optimizer state stay in float32.
"""

from __future__ import annotations

import random

import numpy as np
import torch

from rankbench.errors import RankbenchError


def pick_device(spec: str = "auto") -> torch.device:
    """``auto`` | ``cpu`` | ``cuda`` | ``cuda:N`` -> a torch.device that exists on this machine."""
    if spec == "auto":
        return torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else _cpu()
    if spec == "cpu":
        return _cpu()
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RankbenchError(
                f"train.device is {spec!r} but this torch build sees no CUDA GPU",
                hint="set train.device: auto (or cpu), or install a CUDA build of torch",
            )
        device = torch.device(spec)
        index = 0 if device.index is None else device.index
        if index >= torch.cuda.device_count():
            raise RankbenchError(
                f"train.device is {spec!r} but only {torch.cuda.device_count()} GPU(s) are visible",
                hint="check CUDA_VISIBLE_DEVICES, or set train.device: auto",
            )
        return torch.device("cuda", index)
    raise RankbenchError(f"train.device: expected auto, cpu or cuda[:N], got {spec!r}")


def _cpu() -> torch.device:
    return torch.device("cpu")


def pick_dtype(spec: str, device: torch.device) -> torch.dtype:
    """``auto`` -> bf16 on a CUDA GPU with bf16 support, else fp32; ``float32`` | ``bfloat16`` as named."""
    if spec == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    if spec == "float32":
        return torch.float32
    if spec == "bfloat16":
        return torch.bfloat16
    raise RankbenchError(f"train.dtype: expected auto, float32 or bfloat16, got {spec!r}")


CPU_EVAL_BATCH = 32  # 500 MiniLM items, 1 thread: 5.4 s at 32 vs 6.5 s at 128 (activations fit the cache)
GPU_EVAL_BATCH = 128


def eval_batch_size(cfg, device: torch.device) -> int:
    """``eval.batch_size``, or when it is null the measured best for the device kind."""
    if cfg.eval.batch_size is not None:
        return int(cfg.eval.batch_size)
    return GPU_EVAL_BATCH if device.type == "cuda" else CPU_EVAL_BATCH


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (every CUDA device too). Data order uses its own generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
