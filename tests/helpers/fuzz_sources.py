"""The single-file adapters the reader fuzzers mutate: an SDXL-style kohya file, a diffusers file whose
alpha lives in the header metadata, and a LyCORIS file (LoHa and LoKr modules). Numpy only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from helpers.peft_fixtures import write_safetensors
from helpers.sd_keys import diffusers_tensors, small_sdxl_subset, write_kohya

# metadata kinds that may change the spectra of a file whose alpha comes from its header metadata
# (diffusers' lora_adapter_metadata): dropping or replacing it leaves alpha = r
METADATA_KINDS = {"metadata", "metadata_type", "metadata_value"}


def kohya_file(path: Path, n_linear: int = 4) -> Path:
    """SDXL module names (U-Net, LoCon convs, text encoders), r=8, fp16, kohya's ss_* metadata."""
    return write_kohya(path, small_sdxl_subset(n_linear), r=8)


def diffusers_file(path: Path) -> Path:
    """diffusers/PEFT key names, r=4, alpha 8 from the header's ``lora_adapter_metadata``."""
    tensors = diffusers_tensors(small_sdxl_subset(4)[:3], 4, np.random.default_rng(3))
    meta = {"lora_adapter_metadata": json.dumps({"unet.r": 4, "unet.lora_alpha": 8}), "format": "pt"}
    return write_safetensors(path, tensors, "F32", meta)


def lycoris_file(path: Path) -> Path:
    """One LoHa module (r=3) and one LoKr module (w1 4x4, w2 low-rank 8x6), each with its alpha."""
    rng = np.random.default_rng(4)
    loha, lokr = "lora_unet_input_blocks_4_1_proj_in", "lora_unet_input_blocks_4_1_proj_out"
    t = {f"{loha}.hada_w{i}_a": rng.standard_normal((16, 3)) for i in (1, 2)}
    t |= {f"{loha}.hada_w{i}_b": rng.standard_normal((3, 12)) for i in (1, 2)}
    t[f"{loha}.alpha"] = np.array(3.0)
    t[f"{lokr}.lokr_w1"] = rng.standard_normal((4, 4))
    t[f"{lokr}.lokr_w2_a"] = rng.standard_normal((8, 2))
    t[f"{lokr}.lokr_w2_b"] = rng.standard_normal((2, 6))
    t[f"{lokr}.alpha"] = np.array(2.0)
    return write_safetensors(path, t, "F32", {"ss_network_module": "lycoris.kohya", "ss_network_dim": "3"})


SINGLE_FILES = {"kohya_file": kohya_file, "diffusers_file": diffusers_file, "lycoris_file": lycoris_file}
