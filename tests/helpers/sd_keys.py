"""Real key names and shapes of image-model LoRAs, generated from the models' layouts (not hand-typed).

``sdxl_modules()`` lists the modules a kohya / sd-scripts SDXL LoRA trains (U-Net transformer blocks
in sd-scripts' original-UNet naming ``lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q``,
the ResNet 3×3 convs of a LoCon, and both text encoders ``lora_te1_`` / ``lora_te2_``);
``flux_modules()`` the ones of a Flux.1 LoRA (``lora_unet_double_blocks_0_img_attn_qkv``, …). Each entry
is (kohya stem, out, in, kernel) with kernel 1 for a linear layer. :func:`write_kohya` and friends
write a file of random factors with a chosen true rank (numpy only, any dtype, with header metadata).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from helpers.peft_fixtures import write_safetensors

SDXL_CONTEXT = 2048


def _sdxl_transformer(prefix: str, dim: int, blocks: int) -> list[tuple[str, int, int, int]]:
    out = [(f"{prefix}_proj_in", dim, dim, 1), (f"{prefix}_proj_out", dim, dim, 1)]
    for b in range(blocks):
        t = f"{prefix}_transformer_blocks_{b}"
        out += [(f"{t}_attn1_to_{p}", dim, dim, 1) for p in ("q", "k", "v")]
        out += [(f"{t}_attn1_to_out_0", dim, dim, 1), (f"{t}_attn2_to_q", dim, dim, 1)]
        out += [(f"{t}_attn2_to_{p}", dim, SDXL_CONTEXT, 1) for p in ("k", "v")]
        out += [(f"{t}_attn2_to_out_0", dim, dim, 1), (f"{t}_ff_net_0_proj", 8 * dim, dim, 1)]
        out += [(f"{t}_ff_net_2", dim, 4 * dim, 1)]
    return out


def sdxl_modules(*, text_encoders: bool = True, locon: bool = True, blocks_scale: int = 1) -> list:
    """SDXL's LoRA modules; ``blocks_scale`` > 1 keeps every n-th transformer block (a smaller subset)."""
    mods = []
    layout = [("input_blocks_4_1", 640, 2), ("input_blocks_5_1", 640, 2), ("input_blocks_7_1", 1280, 10),
              ("input_blocks_8_1", 1280, 10), ("middle_block_1", 1280, 10)]  # fmt: skip
    layout += [(f"output_blocks_{i}_1", 1280, 10) for i in range(3)]
    layout += [(f"output_blocks_{i}_1", 640, 2) for i in range(3, 6)]
    for name, dim, blocks in layout:
        mods += _sdxl_transformer(f"lora_unet_{name}", dim, max(1, blocks // blocks_scale))
    if locon:
        for i, ch in ((1, 320), (2, 320), (4, 640), (5, 640)):
            cin = 320 if i in (1, 2, 4) else 640
            mods += [(f"lora_unet_input_blocks_{i}_0_in_layers_2", ch, cin, 3)]
            mods += [(f"lora_unet_input_blocks_{i}_0_out_layers_3", ch, ch, 3)]
    if text_encoders:
        for te, dim, layers in (("lora_te1", 768, 12), ("lora_te2", 1280, 32)):
            for layer in range(0, layers, blocks_scale):
                p = f"{te}_text_model_encoder_layers_{layer}"
                mods += [(f"{p}_self_attn_{x}_proj", dim, dim, 1) for x in ("q", "k", "v", "out")]
                mods += [(f"{p}_mlp_fc1", 4 * dim, dim, 1), (f"{p}_mlp_fc2", dim, 4 * dim, 1)]
    return mods


def flux_modules(*, double_blocks: int = 19, single_blocks: int = 38) -> list:
    """Flux.1-dev's LoRA modules in kohya naming (hidden 3072, MLP 12288)."""
    h, mlp = 3072, 12288
    mods = []
    for b in range(double_blocks):
        for stream in ("img", "txt"):
            p = f"lora_unet_double_blocks_{b}_{stream}"
            mods += [(f"{p}_attn_qkv", 3 * h, h, 1), (f"{p}_attn_proj", h, h, 1), (f"{p}_mlp_0", mlp, h, 1)]
            mods += [(f"{p}_mlp_2", h, mlp, 1), (f"{p}_mod_lin", 6 * h, h, 1)]
    for b in range(single_blocks):
        p = f"lora_unet_single_blocks_{b}"
        mods += [(f"{p}_linear1", 3 * h + mlp, h, 1), (f"{p}_linear2", h, h + mlp, 1), (f"{p}_modulation_lin", 3 * h, h, 1)]  # fmt: skip
    return mods


def kohya_tensors(modules, r: int, rng, *, true_rank=None, alpha=None) -> dict[str, np.ndarray]:
    """Random kohya factors: down (r, in[, k, k]), up (out, r[, 1, 1]) and alpha; ``true_rank`` < r
    zeroes the last up columns so ΔW has exactly that rank (per module: an int or a callable(i))."""
    tensors = {}
    for i, (stem, out, n_in, k) in enumerate(modules):
        down = rng.standard_normal((r, n_in * k * k)) / np.sqrt(n_in * k * k)
        up = rng.standard_normal((out, r)) * np.geomspace(1.0, 0.01, r)
        tr = true_rank(i) if callable(true_rank) else true_rank
        if tr is not None:
            up[:, tr:] = 0.0
        tensors[f"{stem}.lora_down.weight"] = down.reshape((r, n_in, k, k) if k > 1 else (r, n_in))
        tensors[f"{stem}.lora_up.weight"] = up.reshape((out, r, 1, 1) if k > 1 else (out, r))
        if alpha is not None:
            tensors[f"{stem}.alpha"] = np.array(float(alpha))
    return tensors


KOHYA_METADATA = {
    "ss_network_module": "networks.lora",
    "ss_network_dim": "32",
    "ss_network_alpha": "16.0",
    "ss_base_model_version": "sdxl_base_v1-0",
    "ss_training_comment": "trained for a test",
    "sshs_model_hash": "0" * 64,
}


def write_kohya(path: Path, modules, *, r=32, dtype="F16", seed=0, alpha=16.0, true_rank=None, metadata=None):
    rng = np.random.default_rng(seed)
    tensors = kohya_tensors(modules, r, rng, true_rank=true_rank, alpha=alpha)
    return write_safetensors(path, tensors, dtype, KOHYA_METADATA if metadata is None else metadata)


_SDXL_TO_DIFFUSERS = [
    (r"^lora_unet_input_blocks_([45])_1_", lambda m: f"unet.down_blocks.1.attentions.{int(m[1]) - 4}."),
    (r"^lora_unet_input_blocks_([78])_1_", lambda m: f"unet.down_blocks.2.attentions.{int(m[1]) - 7}."),
    (r"^lora_unet_middle_block_1_", lambda m: "unet.mid_block.attentions.0."),
    (r"^lora_unet_output_blocks_([0-2])_1_", lambda m: f"unet.up_blocks.0.attentions.{m[1]}."),
    (r"^lora_unet_output_blocks_([3-5])_1_", lambda m: f"unet.up_blocks.1.attentions.{int(m[1]) - 3}."),
    (
        r"^lora_te1_text_model_encoder_layers_(\d+)_",
        lambda m: f"text_encoder.text_model.encoder.layers.{m[1]}.",
    ),
    (
        r"^lora_te2_text_model_encoder_layers_(\d+)_",
        lambda m: f"text_encoder_2.text_model.encoder.layers.{m[1]}.",
    ),
]
_TAILS = [
    (r"transformer_blocks_(\d+)_", r"transformer_blocks.\1."), (r"attn([12])_to_out_0$", r"attn\1.to_out.0"),
    (r"attn([12])_to_([qkv])$", r"attn\1.to_\2"), (r"ff_net_0_proj$", "ff.net.0.proj"), (r"ff_net_2$", "ff.net.2"),
    (r"mlp_fc([12])$", r"mlp.fc\1"),
]  # fmt: skip


def diffusers_name(stem: str) -> str | None:
    """The diffusers module path of an SDXL kohya stem (None for the LoCon convs, not mapped here)."""
    import re

    found = [(re.match(pattern, stem), head) for pattern, head in _SDXL_TO_DIFFUSERS]
    found = [(m, head) for m, head in found if m]
    if not found:
        return None
    m, head = found[0]
    tail = stem[m.end() :]
    tail = re.sub(r"^self_attn_(q|k|v|out)_proj$", r"self_attn.\1_proj", tail)
    for pattern, repl in _TAILS:
        tail = re.sub(pattern, repl, tail)
    return head(m) + tail


def diffusers_tensors(modules, r: int, rng, *, decay: float | None = None) -> dict[str, np.ndarray]:
    """PEFT-style diffusers factors (``{name}.lora_A/B.weight``) of rank ``r`` for SDXL linear stems;
    ``decay``: B's columns fall off geometrically to that factor, so truncations discard little."""
    tensors = {}
    for stem, out_dim, n_in, _ in modules:
        name = diffusers_name(stem)
        tensors[f"{name}.lora_A.weight"] = rng.standard_normal((r, n_in))
        B = rng.standard_normal((out_dim, r))
        tensors[f"{name}.lora_B.weight"] = B if decay is None else B * np.geomspace(1, decay, r)
    return tensors


def small_sdxl_subset(n_linear: int = 12) -> list:
    """A few SDXL modules that a dense SVD checks quickly: the 640-wide ones, the cross-attention
    k/v (2048 in), one text-encoder MLP, and the LoCon 3×3 convs."""
    mods = sdxl_modules(blocks_scale=10)
    linear = [m for m in mods if m[3] == 1 and m[1] * m[2] <= 640 * 2560][:n_linear]
    conv = [m for m in mods if m[3] > 1][:3]
    return linear + conv


def kohya_rank(S: np.ndarray, rule: str, old_rank: int) -> int:
    """The rank sd-scripts' resize_lora.py (48d368fa) writes for ``rule`` ("sv_ratio:q",
    "sv_cumulative:t", "sv_fro:t") from the full SVD's σ (descending, all min(out, in) of them), with
    ``--new_rank`` equal to the old rank: their definition, our code (tests/test_rules.py checks the
    rules against sd-scripts' own rank_resize when a snapshot is at hand). Index = count(σ > σ₁/q), or
    searchsorted(cumsum(σ)/Σσ, t) + 1, or searchsorted(cumsum(σ²)/Σσ², t²) + 1; clamped to
    [1, len(σ) − 1]; rank = index + 1, capped at the old rank; σ₁ ≤ 1e-6 gives rank 1."""
    name, _, raw = rule.partition(":")
    t = float(raw)
    if S[0] <= 1e-6:
        return 1
    if name == "sv_ratio":
        idx = int(np.sum(S[0] / t < S))
    elif name == "sv_cumulative":
        idx = int(np.searchsorted(np.cumsum(S) / S.sum(), t)) + 1
    else:
        sq = S.astype(np.float64) ** 2
        idx = int(np.searchsorted(np.cumsum(sq) / sq.sum(), t**2)) + 1
    idx = max(1, min(idx, len(S) - 1))
    return min(idx + 1, old_rank)
