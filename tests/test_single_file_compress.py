"""Compressing single-file LoRAs: read → compress → read gives the rank-k truncation, in the same format.

The reference for every module is numpy's dense SVD of the source's ΔW as stored (fp16/bf16 values
widened to float64); the written ΔW' = alpha'/k · up'·down' must equal its best rank-k approximation up
to the output dtype's rounding.
"""

import json

import numpy as np
import pytest

from helpers.peft_fixtures import write_safetensors
from helpers.sd_keys import diffusers_tensors, kohya_tensors, small_sdxl_subset, write_kohya
from rankbench.adapters import open_adapter
from rankbench.adapters.safetensors_file import SafetensorsFile
from rankbench.auditor import audit
from rankbench.cli import main
from rankbench.suggest.compress_file import compress_file
from rankbench.suggest.plans import make_plan
from rankbench.suggest.spectra import compute_spectra

R = 16
TOL = {"F16": 4e-3, "BF16": 3e-2, "F32": 1e-5}


def deltas(path) -> dict[str, tuple[np.ndarray, float, int]]:
    """module → (ΔW as stored, float64; its alpha; its r), read by our reader."""
    with open_adapter(path) as adapter:
        out = {}
        for spec in adapter.specs:
            pair = adapter.read_pair(spec)
            out[spec.name] = (pair.scale * pair.B @ pair.A, pair.alpha, pair.r)
        return out


def best_rank_k(M: np.ndarray, k: int) -> np.ndarray:
    U, s, Vt = np.linalg.svd(M, full_matrices=False)
    return (U[:, :k] * s[:k]) @ Vt[:k]


def check_truncations(src, out, tol):
    before, after = deltas(src), deltas(out)
    assert set(before) == set(after)
    for name, (dw, _, _) in before.items():
        dw_k, _, k = after[name]
        ref = best_rank_k(dw, k)
        assert np.linalg.norm(dw_k - ref) <= tol * np.linalg.norm(ref), name
    return before, after


@pytest.mark.parametrize("dtype", ["F16", "BF16", "F32"])
def test_kohya_round_trip_per_layer(tmp_path, dtype):
    mods = small_sdxl_subset()
    src = write_kohya(
        tmp_path / "src.safetensors", mods, r=R, alpha=8.0, dtype=dtype, true_rank=lambda i: 2 + i
    )
    spectra = compute_spectra(src, workers=1)
    plan = make_plan(
        "per_layer", spectra, rule="sv_fro:0.95", allowed_ranks=range(1, R + 1), cap_numerical_rank=True
    )
    out = tmp_path / "out.safetensors"
    record = compress_file(src, plan, out, workers=1)
    assert record.format == "kohya"
    before, after = check_truncations(src, out, TOL[dtype])
    for name, (_, alpha, k) in after.items():  # effective scale kept: alpha'/k = alpha/r = 0.5
        assert alpha / k == pytest.approx(8.0 / R, rel=1e-2 if dtype != "F32" else 1e-7)
        assert k == plan.ranks[name]
    # the file really shrinks, and says so; dtypes are kept, alpha included
    assert record.out_bytes == out.stat().st_size < record.source_bytes == src.stat().st_size
    header = SafetensorsFile(out).tensors
    assert {t.dtype for t in header.values()} == {dtype}
    assert sum(key.endswith(".alpha") for key in header) == len(mods)
    # read again: the spectra are the first k of the source's
    res = audit(out, workers=1)
    src_s = {m.name: m.singular_values for m in spectra.modules}
    for m in res.modules:
        np.testing.assert_allclose(m.singular_values, src_s[m.name][: m.r], rtol=TOL[dtype] * 3, atol=1e-6)


def test_ranks_capped_at_nonzero_singular_values(tmp_path):
    mods = small_sdxl_subset(4)[:4]
    src = write_kohya(
        tmp_path / "src.safetensors", mods, r=R, dtype="F32", true_rank=lambda i: [1, 3, 8, 16][i]
    )
    out = tmp_path / "out.safetensors"
    assert main(["compress", str(src), "--plan", "rank:8", "--out", str(out), "--quiet"]) == 0
    ranks = [r for _, _, r in deltas(out).values()]
    assert sorted(ranks) == [1, 3, 8, 8]  # no padding with zero directions, no crash at true rank 1
    with SafetensorsFile(out) as f:
        for key in f.tensors:
            if key.endswith("lora_up.weight"):
                assert (np.linalg.norm(f.read(key), axis=0) > 0).all(), key


def test_metadata_updated(tmp_path, capsys):
    mods = small_sdxl_subset(3)[:3]
    src = write_kohya(tmp_path / "src.safetensors", mods, r=R, alpha=16.0, dtype="F16")
    out = tmp_path / "uniform.safetensors"
    assert main(["compress", str(src), "--plan", "rank:4", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert (
        err.rstrip().endswith("format kohya")
        and f"{src.stat().st_size:,} -> {out.stat().st_size:,} bytes" in err
    )
    meta = SafetensorsFile(out).metadata
    assert (meta["ss_network_dim"], meta["ss_network_alpha"]) == ("4", "4")  # alpha 16 at r 16 → 4 at k 4
    assert meta["ss_training_comment"] == "rankbench resize from 16 to 4 (rank:4); trained for a test"
    assert json.loads(meta["rankbench_resize"])["plan"] == "rank:4"
    assert "sshs_model_hash" not in meta and meta["ss_base_model_version"] == "sdxl_base_v1-0"
    out2 = tmp_path / "dynamic.safetensors"
    args = ["compress", str(src), "--plan", "per_layer", "--rule", "sv_ratio:3", "--out", str(out2), "--json"]
    assert main(args) == 0
    record = json.loads(capsys.readouterr().out)
    meta2 = SafetensorsFile(out2).metadata
    assert meta2["ss_network_dim"] == (
        "Dynamic" if len(set(record["plan"]["ranks"].values())) > 1 else meta2["ss_network_dim"]
    )
    assert record["format"] == "kohya" and record["out_bytes"] < record["source_bytes"]


def test_keep_alpha_policy_writes_alpha_for_modules_without_one(tmp_path):
    mods = small_sdxl_subset(2)[:2]
    tensors = kohya_tensors(mods, 8, np.random.default_rng(0))  # no alpha tensors: alpha = r = 8
    src = write_safetensors(tmp_path / "src.safetensors", tensors, "F32")
    out = tmp_path / "out.safetensors"
    assert (
        main(["compress", str(src), "--plan", "rank:2", "--alpha-policy", "keep_alpha", "--out", str(out)])
        == 0
    )
    header = SafetensorsFile(out).tensors
    assert sorted(k for k in header if k.endswith(".alpha")) == sorted(f"{m[0]}.alpha" for m in mods)
    check_truncations(src, out, TOL["F32"])
    assert all(alpha == 8.0 for _, alpha, _ in deltas(out).values())


def test_diffusers_round_trip_keeps_keys(tmp_path):
    mods = small_sdxl_subset(4)[:4]
    tensors = diffusers_tensors(mods, 8, np.random.default_rng(1), decay=1e-3)
    src = write_safetensors(tmp_path / "pytorch_lora_weights.safetensors", tensors, "BF16")
    out = tmp_path / "small.safetensors"
    assert main(["compress", str(tmp_path), "--plan", "rank:3", "--out", str(out), "--quiet"]) == 0
    header = SafetensorsFile(out).tensors
    assert set(header) == set(tensors)  # scale 1 kept at rank 3 means alpha 3 = k: no alpha tensor needed
    assert open_adapter(out).format == "diffusers"
    check_truncations(src, out, TOL["BF16"])


def test_official_safetensors_reads_the_output(tmp_path):
    safetensors = pytest.importorskip("safetensors.numpy")
    src = write_kohya(tmp_path / "src.safetensors", small_sdxl_subset(2)[:2], r=R, dtype="F16")
    out = tmp_path / "out.safetensors"
    assert main(["compress", str(src), "--plan", "rank:4", "--out", str(out), "--quiet"]) == 0
    loaded = safetensors.load_file(str(out))
    assert all(v.dtype == np.float16 for v in loaded.values())
    assert {v.shape[0] for k, v in loaded.items() if k.endswith("lora_down.weight")} == {4}


@pytest.mark.parametrize("rule", ["sv_ratio:8", "sv_cumulative:0.8", "sv_fro:0.9"])
def test_rules_choose_kohyas_ranks(tmp_path, rule):
    from helpers.sd_keys import kohya_rank

    mods = small_sdxl_subset()
    src = write_kohya(tmp_path / "src.safetensors", mods, r=R, dtype="F16", true_rank=lambda i: 4 + i)
    plan = make_plan("per_layer", compute_spectra(src, workers=1), rule=rule, allowed_ranks=range(1, R + 1))
    for name, (dw, _, r) in deltas(src).items():
        assert plan.ranks[name] == kohya_rank(np.linalg.svd(dw, compute_uv=False), rule, r), name
