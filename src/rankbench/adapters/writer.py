"""Writing adapters: a streaming safetensors writer (bf16 without torch) and an all-or-nothing folder.

A safetensors file is 8 bytes of header length, the JSON header, then the tensors' bytes back to back.
Shapes and dtypes are known before any data is computed, so :class:`SafetensorsWriter` writes the
header first and then each tensor as it is produced; memory stays at one module's worth.

float64 → bfloat16 rounds to nearest even via float32 (the rounding torch uses for float32 → bf16):
add 0x7FFF plus the lowest kept bit to the float32 bits and keep the high 16. NaN stays NaN.

:func:`staged_dir` writes a whole folder under a temporary name next to the target and renames it into
place at the end, so a reader (or a crash) never sees half an adapter.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from rankbench.adapters.safetensors_file import ITEM_SIZES
from rankbench.errors import RankbenchError
from rankbench.io import give_normal_modes

NUMPY_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2"}


def encode_float(x: np.ndarray, dtype: str) -> bytes:
    """A float array as the little-endian bytes of safetensors dtype ``dtype`` (F64, F32, F16, BF16)."""
    x = np.ascontiguousarray(x)
    if dtype in NUMPY_DTYPES:
        return x.astype(NUMPY_DTYPES[dtype], copy=False).tobytes()
    if dtype != "BF16":
        raise ValueError(f"cannot encode dtype {dtype}")
    x32 = x.astype(np.float32, copy=False)
    bits = x32.view(np.uint32)
    rounded = (bits >> 16) & np.uint32(1)  # round half to even: + 0x7FFF + the lowest kept bit
    rounded += np.uint32(0x7FFF)
    rounded += bits
    rounded >>= 16
    out = rounded.astype("<u2")
    if not np.isfinite(np.sum(x32)):  # rare: only then look for NaNs (the rounding could make one inf)
        out[np.isnan(x32)] = np.uint16(0x7FC0)
    return out.tobytes()


class SafetensorsWriter:
    """Write ``entries`` = [(key, dtype, shape), …] to ``path``; then :meth:`write` each, in that order."""

    def __init__(self, path: str | Path, entries: list[tuple[str, str, tuple[int, ...]]], metadata=None):
        self.path = Path(path)
        header: dict = {}
        if metadata:
            header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
        offset = 0
        self._sizes = []
        for key, dtype, shape in entries:
            size = math.prod(shape) * ITEM_SIZES[dtype]
            header[key] = {
                "dtype": dtype,
                "shape": [int(d) for d in shape],
                "data_offsets": [offset, offset + size],
            }
            self._sizes.append((key, size))
            offset += size
        raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
        raw += b" " * (-len(raw) % 8)  # pad so the data starts 8-byte aligned
        self._fh = open(self.path, "wb")  # noqa: SIM115 -- closed by close()
        self._fh.write(len(raw).to_bytes(8, "little") + raw)
        self._next = 0

    def write(self, key: str, data: bytes) -> None:
        want_key, want_size = self._sizes[self._next]
        if key != want_key or len(data) != want_size:
            raise ValueError(f"expected {want_key!r} ({want_size} bytes), got {key!r} ({len(data)} bytes)")
        self._fh.write(data)
        self._next += 1

    def close(self) -> None:
        done = self._next == len(self._sizes)
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        if not done:
            raise ValueError(f"{self.path}: only {self._next} of {len(self._sizes)} tensors were written")

    def __enter__(self) -> SafetensorsWriter:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            self.close()
        else:
            self._fh.close()


def check_out_dir(out_dir: str | Path) -> Path:
    """Refuse an output path that exists and is not an empty folder."""
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        what = "is not empty" if out.is_dir() else "exists and is not a folder"
        raise RankbenchError(
            f"output folder {what}",
            path=out,
            hint="choose a new --out folder (rankbench never overwrites an existing adapter)",
        )
    return out


@contextlib.contextmanager
def staged_dir(out_dir: str | Path) -> Iterator[Path]:
    """Yield a temporary folder next to ``out_dir``; on success rename it to ``out_dir``, else remove it."""
    out = check_out_dir(out_dir)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    except OSError as exc:
        raise RankbenchError(f"cannot create the output folder ({exc.strerror})", path=out) from None
    try:
        yield tmp
        give_normal_modes(tmp)  # mkdtemp made it 0700: a normal mkdir's mode, for other readers
        if out.is_dir():
            out.rmdir()  # empty (checked above); fails if something appeared meanwhile
        os.rename(tmp, out)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RankbenchError(f"cannot write the output folder ({exc.strerror})", path=out) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
