"""Where the bench runs: device and dtype choice, seeding, and thread pinning.

``device: auto`` picks the first CUDA GPU when there is one and the CPU otherwise; ``dtype: auto``
picks bfloat16 on a GPU that supports it and float32 everywhere else (bf16 matmuls on CPU are slower
than fp32 on the machines we measured). The bench uses the dtype as the autocast dtype: master weights
and optimizer state stay in float32.

Thread counts are pinned once per process and recorded: an oversubscribed BLAS on 2 cores made one
measured run 100x slower, so the numbers we report must say which settings produced them.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from rankbench.errors import RankbenchError

_THREAD_ENV = (
    "OMP_NUM_THREADS",
    "OMP_WAIT_POLICY",  # how idle OpenMP workers wait: see rankbench.openmp
    "GOMP_SPINCOUNT",
    "RANKBENCH_OPENMP_WAIT",  # why rankbench chose those two
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "TOKENIZERS_PARALLELISM",
)


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


def usable_cpus() -> int:
    """CPUs this process may run on (the affinity mask in a container, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def pin_threads() -> dict:
    """Set torch's intra-op threads to the usable CPUs unless the user set OMP_NUM_THREADS.

    Idempotent; returns the settings for provenance: what torch uses and where that number came from.
    """
    # the fast tokenizers' own thread pool fights torch's on small machines; we tokenise once, cached
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    env = {k: os.environ[k] for k in _THREAD_ENV if k in os.environ}
    if "OMP_NUM_THREADS" in env:
        try:
            threads = max(1, int(env["OMP_NUM_THREADS"]))
            source = "OMP_NUM_THREADS"
        except ValueError:
            threads, source = usable_cpus(), "cpu_count (OMP_NUM_THREADS not an integer)"
    else:
        threads, source = usable_cpus(), "cpu_count"
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return {
        "torch_num_threads": torch.get_num_threads(),
        "torch_num_interop_threads": torch.get_num_interop_threads(),
        "source": source,
        "usable_cpus": usable_cpus(),
        "env": env,
    }
