"""A validating, tensor-by-tensor safetensors reader in plain numpy (bf16 included, no torch).

The header is checked whole before any tensor is read (:mod:`rankbench.adapters.safetensors_header`
holds its rules), so a truncated or corrupt file is reported as such, naming the entry and the rule,
instead of failing somewhere inside a library. Every reader of a safetensors file (PEFT folders,
kohya, diffusers, LyCORIS, compression) opens it through :class:`SafetensorsFile`.

bfloat16 is widened by hand: its 16 bits are the high half of a float32, so ``uint16 << 16`` viewed as
float32 is exact; float32 → float64 is exact too.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from rankbench.adapters.safetensors_header import (
    FLOAT_DTYPES,
    HEADER_LIMIT,
    ITEM_SIZES,
    HeaderProblem,
    TensorInfo,
    parse_header,
)
from rankbench.errors import RankbenchError

__all__ = [
    "FLOAT_DTYPES",
    "ITEM_SIZES",
    "SafetensorsFile",
    "TensorInfo",
    "decode_float",
    "parse_header",
    "require_float",
]

_RESAVE = (
    "re-save it with the tool that wrote it (PEFT: save_pretrained(); safetensors: save_file()), "
    "or copy the file again if it was cut short"
)


def require_float(key: str, dtype: str, path) -> None:
    """LoRA factors are float tensors: a RankbenchError naming the tensor and its dtype otherwise."""
    if dtype not in FLOAT_DTYPES:
        raise RankbenchError(
            f"tensor {key!r} has dtype {dtype}; LoRA factors must be float16, bfloat16, float32 or float64",
            path=path,
        )


def decode_float(raw, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    """Bytes of a float tensor → a new float64 array of ``shape`` (bf16 widened by a bit shift)."""
    fmt = FLOAT_DTYPES[dtype][0]
    flat = np.frombuffer(raw, dtype=fmt)
    if dtype == "BF16":
        flat = np.left_shift(flat, 16, dtype=np.uint32).view(np.float32)  # exact: bf16 = high half of f32
    return flat.astype(np.float64).reshape(shape)


class SafetensorsFile:
    """A validated safetensors file. ``tensors`` maps key → :class:`TensorInfo`.

    :meth:`read` returns one tensor as a new float64 array; only that tensor's bytes are read. It is
    safe to call from several threads at once (positional reads, one scratch buffer per thread). The
    file descriptor opens on the first read and stays open until :meth:`close`.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None
        self._lock = threading.Lock()
        self._local = threading.local()
        try:
            with open(self.path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                head = fh.read(8)
                n = int.from_bytes(head, "little") if len(head) == 8 else 0
                prefix = head + (fh.read(n) if 0 < n <= HEADER_LIMIT else b"")
        except OSError as exc:
            raise RankbenchError(f"cannot be read ({exc.strerror})", path=self.path) from None
        try:
            self.tensors, self.metadata = parse_header(prefix, size)
        except HeaderProblem as exc:
            raise RankbenchError(str(exc), path=self.path, hint=_RESAVE) from None

    def _scratch(self, size: int) -> memoryview:
        buf = getattr(self._local, "buf", None)
        if buf is None or len(buf) < size:
            buf = self._local.buf = bytearray(size)
        return memoryview(buf)[:size]

    def _read_into(self, view: memoryview, offset: int) -> int:
        with self._lock:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
            fd = self._fd
            if not hasattr(os, "preadv"):  # e.g. Windows: serialise seek + read
                os.lseek(fd, offset, os.SEEK_SET)
                return os.readv(fd, [view])
        got = 0
        while got < len(view):  # preadv may return short counts
            n = os.preadv(fd, [view[got:]], offset + got)
            if n == 0:
                break
            got += n
        return got

    def read(self, key: str) -> np.ndarray:
        """Tensor ``key`` as float64 (raises RankbenchError for a non-float dtype)."""
        info = self.tensors[key]
        require_float(key, info.dtype, self.path)
        view = self._scratch(info.end - info.begin)
        if self._read_into(view, info.begin) != len(view):
            raise RankbenchError(f"is truncated while reading {key!r}", path=self.path, hint=_RESAVE)
        return decode_float(view, info.dtype, info.shape)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
        self._local = threading.local()

    def __enter__(self) -> SafetensorsFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
