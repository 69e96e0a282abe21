"""A validating, tensor-by-tensor safetensors reader in plain numpy (bf16 included, no torch).

The file layout is: 8 bytes little-endian header length N, N bytes of JSON
``{key: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}``, then the data;
offsets are relative to the end of the header. We check all of it before reading a tensor, so a
truncated or corrupt file is reported as such instead of failing somewhere inside a library.

bfloat16 is widened by hand: its 16 bits are the high half of a float32, so ``uint16 << 16`` viewed as
float32 is exact; float32 → float64 is exact too.
"""

from __future__ import annotations

import json
import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rankbench.errors import RankbenchError
from rankbench.io import loads_strict

HEADER_LIMIT = 100 * 1024 * 1024  # the safetensors library refuses larger headers too
FLOAT_DTYPES = {
    "F16": ("<f2", "float16"),
    "BF16": ("<u2", "bfloat16"),
    "F32": ("<f4", "float32"),
    "F64": ("<f8", "float64"),
}
ITEM_SIZES = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
    "F8_E8M0": 1,
    "I16": 2,
    "U16": 2,
    "F16": 2,
    "BF16": 2,
    "I32": 4,
    "U32": 4,
    "F32": 4,
    "I64": 8,
    "U64": 8,
    "F64": 8,
    "C64": 8,
}
_RESAVE = "re-save the adapter with save_pretrained(), or copy the file again if it was cut short"


def require_float(key: str, dtype: str, path) -> None:
    """LoRA factors are float tensors: a RankbenchError naming the tensor and its dtype otherwise."""
    if dtype not in FLOAT_DTYPES:
        raise RankbenchError(
            f"tensor {key!r} has dtype {dtype}; LoRA factors must be float16, bfloat16, float32 or float64",
            path=path,
        )


@dataclass(frozen=True)
class TensorInfo:
    key: str
    dtype: str  # safetensors name, e.g. "BF16"
    shape: tuple[int, ...]
    begin: int  # absolute byte offsets in the file
    end: int

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def dtype_name(self) -> str:
        """numpy/torch-style name: "bfloat16", "float32", ... (lower-case safetensors name otherwise)."""
        return FLOAT_DTYPES[self.dtype][1] if self.dtype in FLOAT_DTYPES else self.dtype.lower()


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n} bytes"


def _entry(key: str, meta, data_start: int) -> TensorInfo:
    """Validate one header entry; raise ValueError with what is wrong."""
    if not isinstance(meta, dict):
        raise ValueError(f"header entry {key!r} is not an object")
    dtype, shape, offsets = meta.get("dtype"), meta.get("shape"), meta.get("data_offsets")
    if dtype not in ITEM_SIZES:
        raise ValueError(f"tensor {key!r} has unknown dtype {dtype!r}")
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise ValueError(f"tensor {key!r} has an invalid shape {shape!r}")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(o, int) for o in offsets)
        or not 0 <= offsets[0] <= offsets[1]
    ):
        raise ValueError(f"tensor {key!r} has invalid data_offsets {offsets!r}")
    nbytes = math.prod(shape) * ITEM_SIZES[dtype]
    if offsets[1] - offsets[0] != nbytes:
        raise ValueError(
            f"tensor {key!r} ({dtype} {shape}) needs {nbytes} bytes but its data_offsets span "
            f"{offsets[1] - offsets[0]}"
        )
    return TensorInfo(key, dtype, tuple(shape), data_start + offsets[0], data_start + offsets[1])


def parse_header(prefix: bytes, file_size: int) -> tuple[dict[str, TensorInfo], dict]:
    """Parse and validate a safetensors header. ``prefix`` holds at least the first 8 + N bytes (or the
    whole file if shorter). Returns ``(tensors, metadata)``; raises ValueError naming the problem."""
    if file_size < 8:
        raise ValueError(
            f"is not a safetensors file: only {file_size} bytes, less than the 8-byte header size"
        )
    n = int.from_bytes(prefix[:8], "little")
    if n > HEADER_LIMIT:
        raise ValueError(f"is not a valid safetensors file: header length field says {n} bytes")
    if 8 + n > file_size:
        raise ValueError(f"is truncated: the header alone needs {_mb(8 + n)}, the file has {_mb(file_size)}")
    try:
        header = loads_strict(bytes(prefix[8 : 8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"has a corrupt header: not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise ValueError("has a corrupt header: not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    tensors = {key: _entry(key, meta, 8 + n) for key, meta in header.items()}
    spans = sorted((t.begin, t.end, t.key) for t in tensors.values() if t.end > t.begin)
    for (_, end0, key0), (begin1, _, key1) in zip(spans, spans[1:], strict=False):
        if begin1 < end0:
            raise ValueError(f"has a corrupt header: tensors {key0!r} and {key1!r} overlap")
    data_end = max((t.end for t in tensors.values()), default=8 + n)
    if data_end > file_size:
        raise ValueError(f"is truncated: the header says {_mb(data_end)}, the file has {_mb(file_size)}")
    # like the safetensors library: the tensors tile the data exactly, from its first byte to the
    # file's end; anything else means the header length or the offsets are off, and every tensor
    # would be read from the wrong bytes
    start = 8 + n
    for begin, end, key in spans:
        if begin != start:
            raise ValueError(
                f"has a corrupt header: {begin - start:+d} bytes between the data before tensor {key!r} "
                "and its offsets (the header length or the offsets are wrong)"
            )
        start = end
    if start != file_size:
        raise ValueError(
            f"has {file_size - start} bytes after its last tensor: the header length or the offsets are "
            "wrong, so every tensor would be read from the wrong bytes"
        )
    return tensors, metadata


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
        except ValueError as exc:
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
