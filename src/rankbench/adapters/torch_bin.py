"""Reading a pickled ``adapter_model.bin`` without ever running code from it.

A pickle can execute arbitrary code when loaded. We only open one with ``torch.load(weights_only=True)``,
PyTorch's restricted unpickler that accepts tensors and plain containers and rejects everything else.
Without torch installed, the file is refused with a hint to convert it to safetensors.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from rankbench.adapters.safetensors_file import TensorInfo
from rankbench.errors import RankbenchError

CONVERT_HINT = (
    "convert it to safetensors where you trust the file: "
    "PeftModel.from_pretrained(...).save_pretrained(folder, safe_serialization=True)"
)
_TORCH_DTYPES = {"bfloat16": "BF16", "float16": "F16", "float32": "F32", "float64": "F64"}


class TorchBinFile:
    """A pickled PEFT state dict, loaded with ``weights_only=True``; same interface as SafetensorsFile."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            import torch
        except ImportError:
            raise RankbenchError(
                "is a pickled PyTorch file; rankbench never unpickles it without torch's safe "
                "weights_only loader, and torch is not installed",
                path=self.path,
                hint=CONVERT_HINT + ", or install torch",
            ) from None
        self._torch = torch
        self._state = self._load(torch)
        if not isinstance(self._state, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in self._state.items()
        ):
            raise RankbenchError("is not a state dict of named tensors", path=self.path, hint=CONVERT_HINT)
        self.metadata: dict = {}
        self.tensors = {
            key: TensorInfo(key, self._dtype(t), tuple(t.shape), 0, 0) for key, t in self._state.items()
        }

    def _load(self, torch):
        errors = (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError, AttributeError)
        try:
            return torch.load(self.path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError:
            pass  # legacy (non-zip) format cannot be memory-mapped; retry below without mmap
        except errors as exc:
            raise self._refused(exc) from None
        try:
            return torch.load(self.path, map_location="cpu", weights_only=True)
        except errors as exc:
            raise self._refused(exc) from None

    def _refused(self, exc: Exception) -> RankbenchError:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return RankbenchError(
            f"refused to load this pickle: torch.load(weights_only=True) rejected it ({first[:200]}); "
            "it is corrupt or holds more than tensors, possibly code",
            path=self.path,
            hint=CONVERT_HINT,
        )

    @staticmethod
    def _dtype(t) -> str:
        name = str(t.dtype).removeprefix("torch.")
        return _TORCH_DTYPES.get(name, name.upper())

    def read(self, key: str) -> np.ndarray:
        t = self._state[key]
        if self.tensors[key].dtype not in _TORCH_DTYPES.values():
            raise RankbenchError(
                f"tensor {key!r} has dtype {t.dtype}; LoRA factors must be float", path=self.path
            )
        return t.detach().to(self._torch.float64).numpy().copy()

    def close(self) -> None:
        self._state = {}

    def __enter__(self) -> TorchBinFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
