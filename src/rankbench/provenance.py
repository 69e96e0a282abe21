"""Where a result came from: the software, the machine, the code revision, the thread settings.

The keys of :func:`environment` are a superset of the seed format's ``env`` block. Values we cannot
know (no GPU, not a git checkout) are ``null``, never invented.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from rankbench.threads import THREAD_VARS, thread_env

RECORDED_VARS = ("CUDA_VISIBLE_DEVICES", "HF_HOME", "TORCH_HOME", "HF_HUB_OFFLINE", *THREAD_VARS)


def package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def git_info(start: Path | None = None) -> dict[str, str | None]:
    """The commit and tag of the rankbench checkout we run from (null for an installed wheel)."""
    root = Path(start or Path(__file__).resolve().parent)

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, timeout=5, check=False
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() or None if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    tag = git("describe", "--tags", "--exact-match") if commit else None
    dirty = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"git_commit": commit, "git_tag": tag, "git_dirty": bool(dirty) if commit else None}


def _torch_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cuda_available": False,
        "cuda_version": None,
        "cudnn_version": None,
        "cuda_device_count": 0,
        "gpu_devices": [],
        "current_cuda_device": None,
        "cuda_memory_allocated": None,
        "cuda_memory_reserved": None,
        "torch_num_threads": None,
    }
    if "torch" not in sys.modules and package_version("torch") is None:
        return info
    import torch

    info["torch_num_threads"] = torch.get_num_threads()
    info["cuda_version"] = torch.version.cuda
    if not torch.cuda.is_available():
        return info
    info.update(
        cuda_available=True,
        cudnn_version=torch.backends.cudnn.version(),
        cuda_device_count=torch.cuda.device_count(),
        current_cuda_device=torch.cuda.current_device(),
        cuda_memory_allocated=torch.cuda.memory_allocated(),
        cuda_memory_reserved=torch.cuda.memory_reserved(),
    )
    for i in range(torch.cuda.device_count()):
        p = torch.cuda.get_device_properties(i)
        info["gpu_devices"].append(
            {
                "device_id": i,
                "name": p.name,
                "total_memory": p.total_memory,
                "major": p.major,
                "minor": p.minor,
                "multi_processor_count": p.multi_processor_count,
            }
        )
    return info


def environment() -> dict[str, Any]:
    """The ``env`` block of bench.json (model_info, dataset_info and validation are added by the bench)."""
    env: dict[str, Any] = {
        "python_version": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "architecture": platform.architecture()[0],
        "hostname": socket.gethostname(),
        "cpu_count": os.cpu_count(),
        "rankbench_version": package_version("rankbench"),
    }
    for pkg in ("torch", "transformers", "peft", "datasets", "accelerate", "safetensors", "numpy"):
        env[f"{pkg}_version"] = package_version(pkg)
    env.update(_torch_info())
    env["environment_variables"] = {k: os.environ.get(k) for k in RECORDED_VARS}  # null: unset
    env["threads"] = thread_env(env.pop("torch_num_threads"))
    env.update(git_info())
    return env
