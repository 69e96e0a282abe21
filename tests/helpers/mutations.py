"""Mutations of adapter files and configs, shared by the fuzz benchmark and the property tests.

Each returns the mutated bytes or text and the kind of mutation, so that an accepted input whose
numbers changed can be judged: kinds in :data:`EXPLAINED` may change them legitimately.
"""

from __future__ import annotations

import json

import numpy as np


def _header(raw: bytes) -> tuple[int, dict]:
    n = int.from_bytes(raw[:8], "little")
    return n, json.loads(raw[8 : 8 + n])


def _with_header(raw: bytes, header: dict | str) -> bytes:
    """``raw`` with a new header (a dict, or JSON text: one that repeats a key, which a dict cannot hold)."""
    n, _ = _header(raw)
    blob = (header if isinstance(header, str) else json.dumps(header)).encode()
    return len(blob).to_bytes(8, "little") + blob + raw[8 + n :]


# one value of every JSON type (and the ints that Python or the reader could confuse: bool, negative,
# past u64, a float that equals an int)
JSON_VALUES = ("x", "", "F32", 0, 1, -1, 2**64, 1.0, 2.5, True, False, None, [], [1], ["a", "b"], [[2]], {},
               {"a": "b"}, {"a": 1}, {"a": None}, {"a": {"b": "c"}})  # fmt: skip
# strings that header metadata readers parse (ss_network_dim, lora_adapter_metadata, ...)
METADATA_STRINGS = ("", "x", "NaN", "-1", "1e400", "Dynamic", "{", "[]", "null", "{}",
                    '{"r": "x", "lora_alpha": 8}', '{"r": 4, "lora_alpha": NaN}', '{"r": [4], "lora_alpha": {}}',
                    '{"unet.r": 0, "unet.lora_alpha": -2}', '{"lora_alpha": 8, "rank_pattern": "x"}',
                    '{"lora_alpha": 8, "alpha_pattern": {"(": 1}}', '{"lora_alpha": true}')  # fmt: skip
HEADER_KINDS = ["metadata_type", "metadata_value", "metadata_key", "entry_type", "field_type",
                "element_type", "extra_key", "missing_key", "duplicate_key"]  # fmt: skip
_SPLICE = "@@rankbench-splice@@"


def _pick(rng, seq):
    return seq[int(rng.integers(len(seq)))]


def _pairs(obj: dict, again: str, value) -> str:
    """JSON text of ``obj`` with the key ``again`` written a second time, holding ``value``."""
    items = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in obj.items()]
    return "{" + ", ".join([*items, f"{json.dumps(again)}: {json.dumps(value)}"]) + "}"


def _duplicate_key(rng, header: dict, key: str) -> str:
    """Header JSON that repeats one key: a tensor's name, a field of an entry, or a metadata key."""
    where = _pick(rng, ["tensor", "field", "metadata"])
    if where == "tensor":
        entry = header[key]
        return _pairs(header, key, dict(entry) if rng.random() < 0.5 else {**entry, "dtype": "F16"})
    if where == "field":
        field = _pick(rng, list(header[key]))
        inner = _pairs(header[key], field, header[key][field])
    else:
        key = "__metadata__"
        meta = header.get(key) or {"format": "pt"}
        inner = _pairs(meta, _pick(rng, list(meta)), "again")
    header[key] = _SPLICE
    return json.dumps(header).replace(json.dumps(_SPLICE), inner, 1)


def mutate_header(rng, raw: bytes, kind: str) -> bytes:
    """A header whose JSON types or keys break a rule of the format (``kind`` in HEADER_KINDS)."""
    _, header = _header(raw)
    key = _pick(rng, [k for k in header if k != "__metadata__"])
    if kind == "metadata_type":
        header["__metadata__"] = _pick(rng, JSON_VALUES)
    elif kind == "metadata_value":  # a metadata value of another JSON type, or an odd string
        meta = header.get("__metadata__") or {"format": "pt"}
        name = _pick(rng, [*meta, "ss_network_dim", "lora_adapter_metadata"])
        meta[name] = _pick(rng, JSON_VALUES) if rng.random() < 0.5 else _pick(rng, METADATA_STRINGS)
        header["__metadata__"] = meta
    elif kind == "metadata_key":  # "__metadata__" misspelt: then it is a tensor entry, and a bad one
        header["__metadata__ "] = header.pop("__metadata__", {"format": "pt"})
    elif kind == "entry_type":
        header[key] = _pick(rng, JSON_VALUES)
    elif kind == "field_type":
        header[key][_pick(rng, ["dtype", "shape", "data_offsets"])] = _pick(rng, JSON_VALUES)
    elif kind == "element_type":
        values = header[key][_pick(rng, ["shape", "data_offsets"])]
        if values:
            values[int(rng.integers(len(values)))] = _pick(rng, JSON_VALUES)
        else:
            values.append(_pick(rng, JSON_VALUES))
    elif kind == "extra_key":
        header[key][_pick(rng, ["offsets", "dtype ", "Shape", "x", ""])] = _pick(rng, JSON_VALUES)
    elif kind == "missing_key":
        del header[key][_pick(rng, ["dtype", "shape", "data_offsets"])]
    elif kind == "duplicate_key":
        return _with_header(raw, _duplicate_key(rng, header, key))
    return _with_header(raw, header)


def mutate_weights(rng, raw: bytes) -> tuple[bytes, str]:
    """(mutated bytes, kind). Kinds in EXPLAINED may change the numbers legitimately."""
    n, header = _header(raw)
    kind = rng.choice(
        ["flip_header", "flip_data", "truncate", "insert", "delete", "header_len", "dtype", "shape",
         "offsets", "rename", "drop", "duplicate_entry", "metadata", *HEADER_KINDS]
    )  # fmt: skip
    if kind in HEADER_KINDS:
        return mutate_header(rng, raw, str(kind)), str(kind)
    b = bytearray(raw)
    keys = [k for k in header if k != "__metadata__"]
    key = keys[rng.integers(len(keys))]
    if kind == "flip_header":
        for _ in range(rng.integers(1, 4)):
            b[rng.integers(8, 8 + n)] ^= 1 << rng.integers(8)
    elif kind == "flip_data" and len(b) > 8 + n:
        for _ in range(rng.integers(1, 4)):
            b[rng.integers(8 + n, len(b))] ^= 1 << rng.integers(8)
    elif kind == "truncate":
        b = b[: rng.integers(0, len(b))]
    elif kind == "insert":
        at = rng.integers(0, len(b))
        b[at:at] = bytes(rng.integers(0, 256, size=rng.integers(1, 16), dtype=np.uint8))
    elif kind == "delete":
        at = rng.integers(0, len(b))
        del b[at : at + rng.integers(1, 16)]
    elif kind == "header_len":
        b[:8] = int(rng.choice([0, 1, n - 1, n + 1, 2**40, 2**63 - 1, len(b)])).to_bytes(8, "little")
    elif kind == "dtype":
        header[key]["dtype"] = str(
            rng.choice(["F16", "BF16", "F32", "F64", "I8", "U8", "I64", "BOOL", "F8_E4M3", "XX"])
        )
        return _with_header(raw, header), kind
    elif kind == "shape":
        shape = list(header[key]["shape"])
        choice = rng.integers(5)
        shape = [
            shape[::-1],
            shape + [1],
            shape[:1],
            [2**40, 2**40],
            [s + int(rng.integers(-2, 3)) for s in shape],
        ][choice]
        header[key]["shape"] = shape
        return _with_header(raw, header), kind
    elif kind == "offsets":
        lo, hi = header[key]["data_offsets"]
        header[key]["data_offsets"] = [
            int(x) for x in rng.choice([[hi, lo], [lo, hi + 4], [lo - 4, hi], [0, 2**62], [lo, lo]])
        ]
        return _with_header(raw, header), kind
    elif kind == "rename":
        new = key.replace(
            str(rng.choice(["lora_A", "lora_B", "weight", "base_model.model."])),
            str(rng.choice(["lora_C", "", "w", "x."])),
            1,
        )
        header[new] = header.pop(key)
        return _with_header(raw, header), kind
    elif kind == "drop":
        header.pop(key)
        return _with_header(raw, header), kind
    elif kind == "duplicate_entry":
        header[key + ".copy"] = dict(header[key])
        return _with_header(raw, header), kind
    elif kind == "metadata":
        header["__metadata__"] = {
            "format": str(rng.choice(["pt", "np", ""])),
            "note": "x" * int(rng.integers(0, 50)),
        }
        return _with_header(raw, header), kind
    return bytes(b), kind


CONFIG_KEYS = ("r", "lora_alpha", "target_modules", "rank_pattern", "alpha_pattern", "use_rslora", "peft_type",
               "fan_in_fan_out", "use_dora", "base_model_name_or_path", "modules_to_save")  # fmt: skip
ODD_VALUES = (None, "NaN", float("inf"), -1, 0, 2**70, 1.5, "x", [], {}, True, [1, 2], {"a": "b"}, {".*": -3})


def mutate_config(rng, text: str) -> tuple[str, str]:
    config = json.loads(text)
    key = str(rng.choice(CONFIG_KEYS))
    action = rng.integers(4)
    if action == 0:
        config.pop(key, None)
        kind = "config_drop"
    elif action == 1:
        value = ODD_VALUES[rng.integers(len(ODD_VALUES))]
        if value == "NaN":
            return json.dumps(config)[:-1] + f', "{key}": NaN}}', "config_nan"
        config[key] = value
        kind = "config_value"
    elif action == 2:
        config["r"] = int(rng.integers(1, 9))
        config["lora_alpha"] = float(rng.integers(1, 33))
        kind = "config_scale"
    else:
        return text[: rng.integers(0, len(text))], "config_truncate"
    return json.dumps(config), kind


# values that may legitimately change the spectra when the file is still accepted
EXPLAINED = {"flip_data", "dtype", "config_value", "config_scale", "config_drop", "insert", "delete"}


# --- eval logs (rankbench compare) ---------------------------------------------------------------

LOG_VALUES = (None, "NaN", 2.0, -1.0, 0.5, "x", True, False, [], {}, 1e308)


def mutate_samples(rng, text: str) -> tuple[str, str]:
    """An lm-eval samples file (JSONL), mutated by line, by value or by byte; returns (text, kind).

    Expected outcomes by kind: ``swap_lines`` must give the same numbers (items join on ids, not
    order); ``metric_flip`` (a 0/1 score flipped) may change them; every other accepted mutation must
    leave them unchanged, or be refused (dropped or duplicated items, a changed doc_hash, odd values).
    """
    lines = [line for line in text.splitlines() if line.strip()]
    i = int(rng.integers(len(lines)))
    row = json.loads(lines[i])
    kind = str(rng.choice(["drop_line", "duplicate_line", "swap_lines", "metric_value", "metric_flip",
                           "doc_id", "doc_hash", "remove_key", "truncate", "flip_byte"]))  # fmt: skip
    if kind == "drop_line":
        del lines[i]
    elif kind == "duplicate_line":
        lines.insert(i, lines[i])
    elif kind == "swap_lines":
        j = int(rng.integers(len(lines)))
        lines[i], lines[j] = lines[j], lines[i]
    elif kind in ("metric_value", "metric_flip"):
        metric = next(m for m in ("acc", "exact_match", "acc_norm") if m in row)
        if kind == "metric_flip":
            row[metric] = 1.0 - float(row[metric])
        else:
            value = LOG_VALUES[int(rng.integers(len(LOG_VALUES)))]
            row[metric] = float("nan") if value == "NaN" else value
        lines[i] = json.dumps(row)
    elif kind == "doc_id":
        row["doc_id"] = [None, "0", -1, 1.5, 10**30, row["doc_id"] + 1][int(rng.integers(6))]
        lines[i] = json.dumps(row)
    elif kind == "doc_hash":
        row["doc_hash"] = "0" * 64
        lines[i] = json.dumps(row)
    elif kind == "remove_key":
        row.pop(str(rng.choice(["doc_id", "doc_hash", "filter", "metrics", "doc"])), None)
        lines[i] = json.dumps(row)
    out = "\n".join(lines) + "\n"
    if kind == "truncate":
        out = out[: int(rng.integers(0, len(out)))]
    elif kind == "flip_byte":
        b = bytearray(out.encode())
        b[int(rng.integers(len(b)))] ^= 1 << int(rng.integers(8))
        out = b.decode("utf-8", errors="replace")
    return out, kind


LOG_EXPLAINED = {"metric_flip", "flip_byte", "metric_value"}
