"""A PEFT-layout adapter written with numpy alone (no torch): the fixture of the suggest and compress
command-line tests."""

from __future__ import annotations

import json

import numpy as np

from rankbench.adapters.writer import SafetensorsWriter, encode_float

MODULES = [f"model.layers.{i}.self_attn.{p}" for i in range(3) for p in ("q_proj", "v_proj")]


def write_adapter(folder, r=8, dtype="F32", dora=False, seed=0):
    """A PEFT-layout adapter: 6 modules (16x16, r=8) with decaying spectra, and a saved head."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    tensors = {}
    for name in MODULES:
        decay = 0.5 ** np.arange(r)
        tensors[f"base_model.model.{name}.lora_A.weight"] = rng.standard_normal((r, 16)) * decay[:, None]
        tensors[f"base_model.model.{name}.lora_B.weight"] = rng.standard_normal((16, r))
        if dora:
            tensors[f"base_model.model.{name}.lora_magnitude_vector"] = np.ones(16)
    tensors["base_model.model.lm_head.weight"] = rng.standard_normal((10, 16))
    entries = [(k, dtype, v.shape) for k, v in tensors.items()]
    with SafetensorsWriter(folder / "adapter_model.safetensors", entries, {"format": "pt"}) as w:
        for k, v in tensors.items():
            w.write(k, encode_float(v, dtype))
    config = {
        "peft_type": "LORA",
        "r": r,
        "lora_alpha": 2 * r,
        "target_modules": ["q_proj", "v_proj"],
        "use_dora": dora,
        "modules_to_save": ["lm_head"],
    }
    (folder / "adapter_config.json").write_text(json.dumps(config))
    return folder
