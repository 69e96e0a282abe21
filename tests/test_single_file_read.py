"""Single-file LoRAs (kohya / sd-scripts, diffusers, LyCORIS): detected from the keys, audited exactly.

Fixtures are generated from SDXL's real module names and shapes (helpers/sd_keys.py); every spectrum is
checked against numpy's dense SVD of the ΔW the format's convention defines.
"""

import json

import numpy as np
import pytest

from helpers.peft_fixtures import write_safetensors
from helpers.sd_keys import diffusers_name, diffusers_tensors, kohya_tensors, small_sdxl_subset, write_kohya
from rankbench.adapters import open_adapter
from rankbench.adapters.families import classify, detect_format
from rankbench.auditor import audit
from rankbench.cli import main


def dense_sigma(M: np.ndarray) -> np.ndarray:
    return np.linalg.svd(M, compute_uv=False)


def kohya_delta(tensors: dict, stem: str) -> np.ndarray:
    down = tensors[f"{stem}.lora_down.weight"]
    up = tensors[f"{stem}.lora_up.weight"]
    r = down.shape[0]
    alpha = float(tensors.get(f"{stem}.alpha", r))
    return alpha / r * up.reshape(up.shape[0], r) @ down.reshape(r, -1)  # (out, r) @ (r, in·k·k)


@pytest.mark.parametrize(
    ("key", "family", "stem", "role"),
    [
        ("lora_unet_input_blocks_4_1_proj_in.lora_down.weight", "kohya", "lora_unet_input_blocks_4_1_proj_in", "A"),
        ("lora_te2_text_model_encoder_layers_3_mlp_fc1.lora_up.weight", "kohya", "lora_te2_text_model_encoder_layers_3_mlp_fc1", "B"),
        ("lora_unet_double_blocks_0_img_attn_qkv.alpha", "shared", "lora_unet_double_blocks_0_img_attn_qkv", "alpha"),
        ("lora_unet_single_blocks_1_linear1.dora_scale", "shared", "lora_unet_single_blocks_1_linear1", "magnitude"),
        ("transformer.transformer_blocks.0.attn.to_q.lora_A.weight", "diffusers", "transformer.transformer_blocks.0.attn.to_q", "A"),
        ("unet.mid_block.attentions.0.proj_in.lora.up.weight", "diffusers_old", "unet.mid_block.attentions.0.proj_in", "B"),
        ("unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.processor.to_q_lora.down.weight", "diffusers_old", "unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.processor.to_q", "A"),
        ("text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora_linear_layer.down.weight", "diffusers_old", "text_encoder.text_model.encoder.layers.0.self_attn.q_proj", "A"),
        ("lora_unet_input_blocks_4_1_proj_in.hada_w1_a", "loha", "lora_unet_input_blocks_4_1_proj_in", "hada_w1_a"),
        ("lora_unet_input_blocks_4_1_proj_in.lokr_w2_b", "lokr", "lora_unet_input_blocks_4_1_proj_in", "lokr_w2_b"),
    ],
)  # fmt: skip
def test_classify_keys(key, family, stem, role):
    fk = classify(key)
    assert (fk.family, fk.stem, fk.role) == (family, stem, role)


def test_unknown_key_is_not_guessed():
    assert classify("lora_unet_x.ia3_w") is None
    assert detect_format({"shared"}) is None
    assert detect_format({"kohya", "lokr"}) == "lycoris"


@pytest.mark.parametrize("dtype", ["F16", "BF16", "F32"])
def test_kohya_sdxl_audit_matches_dense_svd(tmp_path, dtype):
    mods = small_sdxl_subset()
    path = write_kohya(tmp_path / "sdxl.safetensors", mods, r=16, dtype=dtype, true_rank=lambda i: 3 + i)
    res = audit(path, workers=1)
    assert res.adapter.format == "kohya"
    assert res.adapter.network["ss_network_dim"] == "32"
    assert len(res.modules) == len(mods)
    with open_adapter(path) as adapter:  # the stored (rounded) values are the reference
        stored = {}
        for spec in adapter.specs:
            pair = adapter.read_pair(spec)
            stored[spec.name] = pair.scale * pair.B @ pair.A
    kinds = {m.name: m.kind for m in res.modules}
    assert sum(k == "conv" for k in kinds.values()) == 3  # the LoCon 3×3 convs
    for m in res.modules:
        ref = dense_sigma(stored[m.name])[: m.r]
        np.testing.assert_allclose(m.singular_values, ref, rtol=1e-9, atol=1e-12 * ref[0])
        assert m.scale == pytest.approx(16.0 / 16)


def test_kohya_conv_shape_and_alpha_scale(tmp_path):
    mods = [("lora_unet_input_blocks_1_0_in_layers_2", 320, 320, 3)]
    tensors = kohya_tensors(mods, 8, np.random.default_rng(1), alpha=4.0)
    path = write_safetensors(tmp_path / "locon.safetensors", tensors, "F32")
    (m,) = audit(path, workers=1).modules
    assert (m.kind, m.shape, m.r, m.alpha, m.scale) == ("conv", (320, 320 * 9), 8, 4.0, 0.5)
    ref = dense_sigma(kohya_delta({k: v.astype(np.float32) for k, v in tensors.items()}, mods[0][0]))[:8]
    np.testing.assert_allclose(m.singular_values, ref, rtol=1e-5)


def test_no_alpha_means_alpha_r_and_is_flagged(tmp_path):
    tensors = kohya_tensors(small_sdxl_subset(2), 8, np.random.default_rng(2))
    res = audit(write_safetensors(tmp_path / "noalpha.safetensors", tensors, "F32"), workers=1)
    assert all(m.scale == 1.0 and m.alpha == 8 for m in res.modules)
    assert "alpha_default" in res.flags


def test_diffusers_peft_keys_and_header_alpha(tmp_path):
    mods = small_sdxl_subset(4)[:4]
    tensors = diffusers_tensors(mods, 4, np.random.default_rng(3))
    meta = {"lora_adapter_metadata": json.dumps({"unet.r": 4, "unet.lora_alpha": 8})}
    write_safetensors(tmp_path / "pytorch_lora_weights.safetensors", tensors, "F32", meta)
    res = audit(tmp_path, workers=1)  # a folder with pytorch_lora_weights.safetensors and no PEFT config
    assert res.adapter.format == "diffusers"
    assert [m.name for m in res.modules] == sorted(diffusers_name(s) for s, *_ in mods)
    assert all(m.scale == 2.0 for m in res.modules)
    assert "alpha_default" not in res.flags
    m = res.modules[0]
    ref = (
        2.0
        * tensors[f"{m.name}.lora_B.weight"].astype(np.float32)
        @ tensors[f"{m.name}.lora_A.weight"].astype(np.float32)
    )
    np.testing.assert_allclose(m.singular_values, dense_sigma(ref)[:4], rtol=1e-5)


def test_diffusers_old_down_up_form(tmp_path):
    rng = np.random.default_rng(4)
    base = "unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.processor"
    tensors = {
        f"{base}.to_q_lora.down.weight": rng.standard_normal((4, 640)),
        f"{base}.to_q_lora.up.weight": rng.standard_normal((640, 4)),
        "text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora_linear_layer.down.weight": rng.standard_normal((4, 768)),
        "text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora_linear_layer.up.weight": rng.standard_normal((768, 4)),
    }  # fmt: skip
    res = audit(write_safetensors(tmp_path / "old.safetensors", tensors, "F32"), workers=1)
    assert res.adapter.format == "diffusers"
    assert {m.name for m in res.modules} == {
        f"{base}.to_q",
        "text_encoder.text_model.encoder.layers.0.self_attn.q_proj",
    }
    assert "alpha_default" in res.flags


def test_dora_and_unknown_keys_are_flagged(tmp_path):
    mods = small_sdxl_subset(2)[:2]
    tensors = kohya_tensors(mods, 4, np.random.default_rng(5), alpha=4)
    tensors[f"{mods[0][0]}.dora_scale"] = np.ones((1, mods[0][2]))
    tensors["lora_unet_time_embed_0.diff"] = np.ones((4, 4))  # LyCORIS "full": no LoRA family
    res = audit(write_safetensors(tmp_path / "dora.safetensors", tensors, "F32"), workers=1)
    assert {"dora", "unknown_keys", "non_lora_tensors"} <= set(res.flags)
    assert [t.key for t in res.adapter.other_tensors] == ["lora_unet_time_embed_0.diff"]
    assert [m.dora for m in res.modules] == [True, False]


def test_cli_audit_names_the_format(tmp_path, capsys):
    path = write_kohya(tmp_path / "k.safetensors", small_sdxl_subset(2)[:2], r=4, dtype="F16")
    assert main(["audit", str(path), "--summary-only", "--quiet"]) == 0
    assert "format kohya" in capsys.readouterr().out
    assert main(["audit", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["adapter"]["format"] == "kohya" and doc["adapter"]["base_model"] == "sdxl_base_v1-0"
    assert main(["suggest", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["format"] == "kohya"


def test_flux_shaped_kohya_file(tmp_path):
    """Flux.1's transformer prefixes and shapes (one double and one single block) in bf16; σ checked
    against the float64 Gram eigenvalues of the stored factors (well conditioned here, r = 4)."""
    from helpers.sd_keys import flux_modules

    mods = flux_modules(double_blocks=1, single_blocks=1)
    path = write_kohya(tmp_path / "flux.safetensors", mods, r=4, dtype="BF16", alpha=2.0)
    res = audit(path, workers=1)
    assert res.adapter.format == "kohya" and len(res.modules) == len(mods) == 13
    shapes = {m.name: m.shape for m in res.modules}
    assert shapes["lora_unet_single_blocks_0_linear1"] == (21504, 3072)
    assert shapes["lora_unet_double_blocks_0_img_mlp_2"] == (3072, 12288)
    with open_adapter(path) as adapter:
        for spec, m in zip(adapter.specs, res.modules, strict=True):
            pair = adapter.read_pair(spec)
            lam = np.linalg.eigvals((pair.B.T @ pair.B) @ (pair.A @ pair.A.T)).real
            ref = np.sort(np.sqrt(np.clip(lam, 0, None)))[::-1] * 0.5
            np.testing.assert_allclose(m.singular_values, ref, rtol=1e-8)
