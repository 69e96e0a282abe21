"""Open a single-file LoRA (kohya / sd-scripts, diffusers, LyCORIS) as an :class:`Adapter`.

The format is detected from the keys (:mod:`rankbench.adapters.families`). LoRA pairs become the same
:class:`PairSpec` a PEFT folder gives, so the audit, the plans and compression need not know where they
came from; LoHa and LoKr modules go to :mod:`rankbench.adapters.lycoris`. alpha comes from the
module's ``.alpha`` tensor (a scalar; scale = alpha/r), else from diffusers' ``lora_adapter_metadata``
in the header, else alpha = r (scale 1, flagged ``alpha_default``). Keys that no family knows are listed
and flagged ``unknown_keys``, never guessed. A pickled ``.ckpt`` / ``.pt`` is only read with
``torch.load(weights_only=True)`` (:mod:`rankbench.adapters.torch_bin`).
"""

from __future__ import annotations

import json
from pathlib import Path

from rankbench.adapters.adapter import Adapter
from rankbench.adapters.alpha import REEXPORT_HINT as _HINT
from rankbench.adapters.alpha import read_alpha
from rankbench.adapters.config import resolve_r_alpha
from rankbench.adapters.families import classify, detect_format, diffusers_component
from rankbench.adapters.file_metadata import DIFFUSERS_METADATA_KEY, check_header_metadata
from rankbench.adapters.keys import natural_key
from rankbench.adapters.pairs import OtherTensor, PairSpec, factors_pair
from rankbench.adapters.safetensors_file import SafetensorsFile, TensorInfo, require_float
from rankbench.errors import RankbenchError

# what each family calls its two factors, for messages
FACTOR_NAMES = {
    "kohya": ("lora_down", "lora_up"),
    "diffusers": ("lora_A", "lora_B"),
    "diffusers_old": ("lora.down", "lora.up"),
}


def _open_weights(path: Path):
    if path.suffix == ".safetensors":
        return SafetensorsFile(path)
    from rankbench.adapters.torch_bin import TorchBinFile

    return TorchBinFile(path)  # torch.load(weights_only=True), or refused without torch


def diffusers_config(metadata: dict, stem: str) -> dict | None:
    """PEFT config entries diffusers saves in the header (``lora_adapter_metadata``) for this module's
    component (keys ``r``, ``lora_alpha``, … or ``transformer.r``, …); None when absent or unreadable."""
    raw = metadata.get(DIFFUSERS_METADATA_KEY)
    try:
        doc = json.loads(raw) if isinstance(raw, str) else None
    except json.JSONDecodeError:
        return None
    if not isinstance(doc, dict):
        return None
    component = diffusers_component(stem)
    if component and any(k.startswith(component + ".") for k in doc):
        doc = {k[len(component) + 1 :]: v for k, v in doc.items() if k.startswith(component + ".")}
    return doc if "lora_alpha" in doc else None


def _check_factors(path: Path, stem: str, family: str, a: TensorInfo, b: TensorInfo) -> None:
    down, up = FACTOR_NAMES[family]
    for info in (a, b):
        require_float(info.key, info.dtype, path)
    if not factors_pair(a, b):
        raise RankbenchError(
            f"module {stem}: {down} {list(a.shape)} and {up} {list(b.shape)} do not pair "
            f"(expected {down} (r, in[, kh, kw]) and {up} (out, r[, 1, 1]) with the same r)",
            path=path,
            hint=_HINT,
        )


def _pair_spec(weights, stem: str, family: str, slot: dict, metadata: dict) -> tuple[PairSpec, bool]:
    """The PairSpec of one LoRA module, and whether its alpha was a default (alpha = r)."""
    down, up = FACTOR_NAMES[family]
    if "A" not in slot or "B" not in slot:
        have, lack = (down, up) if "A" in slot else (up, down)
        raise RankbenchError(f"module {stem}: has {have} but no {lack}", path=weights.path, hint=_HINT)
    a, b = slot["A"], slot["B"]
    _check_factors(weights.path, stem, family, a, b)
    r = a.shape[0]
    default = False
    if "alpha" in slot:
        alpha = read_alpha(weights, slot["alpha"], stem)
    elif (config := diffusers_config(metadata, stem)) is not None:
        component = diffusers_component(stem)
        _, alpha = resolve_r_alpha(config, stem[len(component) + 1 :] if component else stem)
    else:
        alpha, default = float(r), True
    kind = "conv" if len(a.shape) > 2 else "linear"
    return PairSpec(stem, "default", kind, a, b, slot.get("magnitude"), r, alpha, alpha / r), default


def group_file(
    weights,
) -> tuple[str, list[PairSpec], list, list[OtherTensor], dict[str, TensorInfo], list[str]]:
    """(format, pair specs, LyCORIS modules, unknown tensors, alpha tensors by module, flags)."""
    from rankbench.adapters.lycoris import LYCORIS_FAMILIES, lycoris_module

    slots: dict[str, dict] = {}
    families: dict[str, str] = {}
    unknown = []
    for key, info in weights.tensors.items():
        fk = classify(key)
        if fk is None:
            unknown.append(OtherTensor(key, info.shape, info.dtype_name, info.numel))
            continue
        slot = slots.setdefault(fk.stem, {})
        if fk.role in slot:
            raise RankbenchError(
                f"module {fk.stem}: two tensors play the role {fk.role} ({slot[fk.role].key!r} and {key!r})",
                path=weights.path,
                hint="the file mixes two LoRA formats for one module; keep one of them",
            )
        slot[fk.role] = info
        if fk.family != "shared":
            families[fk.stem] = fk.family
    fmt = detect_format(set(families.values()))
    if fmt is None:
        sample = ", ".join(list(weights.tensors)[:3]) or "no tensors"
        raise RankbenchError(
            f"holds no LoRA weights of a known format (first keys: {sample})",
            path=weights.path,
            hint="rankbench reads PEFT folders, kohya/sd-scripts, diffusers and LyCORIS LoHa/LoKr files",
        )
    specs, structured, alphas, defaults = [], [], {}, 0
    for stem in sorted(slots, key=natural_key):
        slot, family = slots[stem], families.get(stem)
        if family is None:
            lonely = ", ".join(sorted(slot))
            raise RankbenchError(
                f"module {stem}: has {lonely} but no LoRA factors", path=weights.path, hint=_HINT
            )
        if "alpha" in slot:
            alphas[stem] = slot["alpha"]
        if family in LYCORIS_FAMILIES:
            structured.append(lycoris_module(weights, stem, family, slot))
            continue
        spec, default = _pair_spec(weights, stem, family, slot, weights.metadata)
        specs.append(spec)
        defaults += default
    flags = (["alpha_default"] if defaults else []) + (["unknown_keys"] if unknown else [])
    return fmt, specs, structured, unknown, alphas, flags


def open_single_file(path: Path, *, source: str) -> Adapter:
    """Open and validate a single-file adapter (see the module docs); reads only the header and alphas."""
    weights = _open_weights(Path(path))
    try:
        check_header_metadata(weights.metadata, weights.path)
        fmt, specs, structured, unknown, alphas, flags = group_file(weights)
        adapter = Adapter(Path(path), {}, weights, source, grouped=(specs, unknown, []), fmt=fmt)
    except BaseException:
        weights.close()
        raise
    adapter.structured = structured
    adapter.alpha_tensors = alphas
    adapter.format_flags = flags
    adapter.base_model = weights.metadata.get("ss_base_model_version") or weights.metadata.get(
        "ss_sd_model_name"
    )
    return adapter
