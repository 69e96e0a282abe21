"""The rules of a safetensors header, checked whole before any tensor is read (pure: bytes in).

The file is 8 bytes little-endian N, N bytes of UTF-8 JSON, then the data. The JSON is one object:

- ``__metadata__`` (optional, may be null): an object of string → string;
- every other key names a tensor, whose value is exactly ``{"dtype", "shape", "data_offsets"}``:
  ``dtype`` one of :data:`DTYPE_BITS`, ``shape`` a list of integers ≥ 0, ``data_offsets`` two
  integers ``[begin, end]`` with 0 ≤ begin ≤ end, relative to the end of the header;
- a tensor's element count × its dtype's width is exactly ``end - begin`` bytes (whole bytes);
- sorted by offsets, the tensors tile the data from its first byte to the end of the file.

These are the rules of the reference loader (the ``safetensors`` library, 0.8: serde types for the
header, then ``Metadata::validate``), with JSON booleans refused where it wants integers (Python's
``bool`` is an ``int``; serde's ``usize`` is not). We are stricter in two places it lets pass: a key
that appears twice in one JSON object (serde keeps the last tensor silently) and a key in a tensor
entry other than the three (serde ignores it). Both mean the file was not written by a safetensors
writer, and a reader that guesses which copy was meant can read the wrong bytes.

Each violation raises :class:`HeaderProblem`, whose message names the entry (a tensor's key or
``__metadata__``) and the rule; :class:`rankbench.adapters.safetensors_file.SafetensorsFile` adds
the file's path and a hint.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from rankbench.io import loads_strict

HEADER_LIMIT = 100 * 1024 * 1024  # the safetensors library refuses larger headers too
METADATA_KEY = "__metadata__"
U64_MAX = 2**64 - 1
ENTRY_FIELDS = ("dtype", "shape", "data_offsets")
# every dtype the reference loader (safetensors 0.8) names, with its width in bits
DTYPE_BITS = {
    "BOOL": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8,
    "F8_E8M0": 8, "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8, "I16": 16, "U16": 16, "F16": 16, "BF16": 16,
    "I32": 32, "U32": 32, "F32": 32, "C64": 64, "F64": 64, "I64": 64, "U64": 64,
}  # fmt: skip
# the float dtypes we decode: numpy layout and the numpy/torch-style name
FLOAT_DTYPES = {
    "F16": ("<f2", "float16"),
    "BF16": ("<u2", "bfloat16"),
    "F32": ("<f4", "float32"),
    "F64": ("<f8", "float64"),
}
# bytes per element, for the dtypes whose elements are whole bytes
ITEM_SIZES = {name: bits // 8 for name, bits in DTYPE_BITS.items() if bits % 8 == 0}


class HeaderProblem(ValueError):
    """A header that breaks a rule; the message reads after the file's path ("<path>: <message>")."""


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


class _Object(dict):
    """A JSON object that remembers the keys it saw more than once (the last value is kept)."""

    repeated: tuple[str, ...] = ()


def _object(pairs: list) -> _Object:
    obj = _Object()
    repeated = []
    for key, value in pairs:
        if key in obj:
            repeated.append(key)
        obj[key] = value
    if repeated:
        obj.repeated = tuple(repeated)
    return obj


def json_type(value) -> str:
    """The JSON name of a parsed value's type, for messages."""
    for kind, name in ((bool, "a boolean"), (int, "an integer"), (float, "a number"), (str, "a string"),
                       (list, "a list"), (dict, "an object")):  # fmt: skip
        if isinstance(value, kind):
            return name
    return "null"


def _is_count(x) -> bool:
    """A JSON integer the reference reads as a 64-bit unsigned count (a boolean is not one)."""
    return isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= U64_MAX


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _bad(entry: str, rule: str, value=None) -> HeaderProblem:
    got = f", got {json_type(value)}" + (f" {_short(value)}" if value is not None else "")
    return HeaderProblem(f"has a corrupt header: entry {entry!r}: {rule}{got}")


def _repeated(where: str, obj) -> None:
    if getattr(obj, "repeated", ()):
        keys = ", ".join(repr(k) for k in obj.repeated)
        raise HeaderProblem(
            f"has a corrupt header: {where} has the key {keys} more than once (each key may appear once)"
        )


def check_metadata(value) -> dict[str, str]:
    """``__metadata__``: absent/null → {}; otherwise an object of string → string."""
    if value is None:
        return {}
    rule = "__metadata__ must be an object of string -> string"
    if not isinstance(value, dict):
        raise _bad(METADATA_KEY, rule, value)
    _repeated(f"entry {METADATA_KEY!r}", value)
    for key, item in value.items():
        if not isinstance(item, str):
            raise _bad(METADATA_KEY, f"{rule}; key {key!r} holds no string", item)
    return dict(value)


def _check_fields(key: str, meta) -> None:
    if not isinstance(meta, dict):
        raise _bad(key, "a tensor entry must be an object {dtype, shape, data_offsets}", meta)
    _repeated(f"entry {key!r}", meta)
    missing = [f for f in ENTRY_FIELDS if f not in meta]
    extra = sorted(set(meta) - set(ENTRY_FIELDS))
    if missing or extra:
        what = [f"lacks {', '.join(missing)}"] if missing else []
        what += [f"has unexpected {', '.join(map(repr, extra))}"] if extra else []
        raise HeaderProblem(
            f"has a corrupt header: entry {key!r}: a tensor entry has exactly the keys dtype, shape and "
            f"data_offsets; this one {' and '.join(what)}"
        )


def check_entry(key: str, meta, data_start: int) -> TensorInfo:
    """One tensor entry (every rule but the tiling, which needs all of them)."""
    _check_fields(key, meta)
    dtype, shape, offsets = meta["dtype"], meta["shape"], meta["data_offsets"]
    if not isinstance(dtype, str) or dtype not in DTYPE_BITS:
        raise _bad(key, "dtype must be a safetensors dtype name (F16, BF16, F32, F64, I8, U8, ...)", dtype)
    if not isinstance(shape, list) or not all(_is_count(d) for d in shape):
        raise _bad(key, "shape must be a list of integers >= 0 (64-bit)", shape)
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_count(o) for o in offsets)):
        raise _bad(key, "data_offsets must be a list of two integers >= 0 (64-bit) [begin, end]", offsets)
    begin, end = offsets
    if begin > end:
        raise _bad(key, "data_offsets [begin, end] must have begin <= end", offsets)
    numel = 1
    for d in shape:  # stop where the reference's 64-bit count would overflow (a huge list stays cheap)
        numel *= d
        if numel > U64_MAX:
            raise _bad(key, "shape's element count must fit in 64 bits", shape)
    bits = numel * DTYPE_BITS[dtype]
    if bits % 8 or bits // 8 != end - begin:
        need = f"{bits // 8} bytes" if bits % 8 == 0 else f"{bits} bits, not a whole number of bytes"
        raise HeaderProblem(
            f"has a corrupt header: entry {key!r}: a tensor's data_offsets span its shape times its dtype's "
            f"size; {dtype} {_short(shape)} needs {need} but its data_offsets span {end - begin}"
        )
    return TensorInfo(key, dtype, tuple(shape), data_start + begin, data_start + end)


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n} bytes"


def check_tiling(tensors: dict[str, TensorInfo], data_start: int, file_size: int) -> None:
    """Sorted by offsets, the tensors cover the data exactly, from its first byte to the file's end
    (the reference loader's rule): a gap or an overlap means the header length or the offsets are off,
    and every tensor would be read from the wrong bytes."""
    data_end = max((t.end for t in tensors.values()), default=data_start)
    if data_end > file_size:
        raise HeaderProblem(f"is truncated: the header says {_mb(data_end)}, the file has {_mb(file_size)}")
    start, last = data_start, None
    for t in sorted(tensors.values(), key=lambda t: (t.begin, t.end, t.key)):
        if t.begin < start:
            raise HeaderProblem(f"has a corrupt header: tensors {last!r} and {t.key!r} overlap")
        if t.begin > start:
            raise HeaderProblem(
                f"has a corrupt header: {t.begin - start:+d} bytes between the data before tensor "
                f"{t.key!r} and its offsets (the header length or the offsets are wrong)"
            )
        start, last = t.end, t.key
    if start != file_size:
        raise HeaderProblem(
            f"has {file_size - start} bytes after its last tensor: the header length or the offsets are "
            "wrong, so every tensor would be read from the wrong bytes"
        )


def _load_json(blob: bytes):
    try:
        header = loads_strict(blob.decode("utf-8"), object_pairs_hook=_object)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HeaderProblem(f"has a corrupt header: not valid JSON ({exc})") from None
    except RecursionError:
        raise HeaderProblem("has a corrupt header: JSON nested too deeply") from None
    if not isinstance(header, dict):
        raise HeaderProblem(f"has a corrupt header: must be a JSON object, got {json_type(header)}")
    _repeated("the header", header)
    return header


def parse_header(prefix: bytes, file_size: int) -> tuple[dict[str, TensorInfo], dict[str, str]]:
    """Parse and check a whole safetensors header. ``prefix`` holds at least the first 8 + N bytes (or
    the whole file if shorter). Returns ``(tensors, metadata)``; raises :class:`HeaderProblem`."""
    if file_size < 8:
        raise HeaderProblem(
            f"is not a safetensors file: only {file_size} bytes, less than the 8-byte header size"
        )
    n = int.from_bytes(prefix[:8], "little")
    if n > HEADER_LIMIT:
        raise HeaderProblem(f"is not a valid safetensors file: header length field says {n} bytes")
    if 8 + n > file_size:
        raise HeaderProblem(
            f"is truncated: the header alone needs {_mb(8 + n)}, the file has {_mb(file_size)}"
        )
    header = _load_json(bytes(prefix[8 : 8 + n]))
    metadata = check_metadata(header.pop(METADATA_KEY, None))
    tensors = {key: check_entry(key, meta, 8 + n) for key, meta in header.items()}
    check_tiling(tensors, 8 + n, file_size)
    return tensors, metadata
