"""Real PEFT-saved adapters, one per convention: names, r, alpha, scale and every module's singular
values against numpy's dense SVD of PEFT's own get_delta_weight (to 1e-9·σ₁)."""

import numpy as np
import pytest

from helpers.peft_fixtures import build_two_adapters_one_file, dense_singular_values
from rankbench.adapters import open_adapter, resolve_r_alpha
from rankbench.auditor import audit
from rankbench.spectral import singular_values

pytest.importorskip("peft")

CONVENTIONS = (
    "bert_query_value",
    "gpt2_conv1d_patterns",
    "llama_rslora",
    "bert_embedding",
    "bert_dora",
    "conv2d",
)
EXPECTED_COUNTS = {  # modules PEFT wrapped; the adapter must yield exactly these
    "bert_query_value": 4,
    "gpt2_conv1d_patterns": 6,
    "llama_rslora": 14,
    "bert_embedding": 3,
    "bert_dora": 4,
    "bert_default_init": 4,
    "bert_embedding_default_init": 3,
    "conv2d": 1,
}


def check_against_peft(folder, deltas, scales):
    pairs = list(open_adapter(folder).iter_pairs())
    assert sorted(p.name for p in pairs) == sorted(deltas)
    for pair in pairs:
        ref = dense_singular_values(deltas[pair.name], pair.r)
        ours = singular_values(pair.B, pair.A, pair.scale)
        assert pair.scale == pytest.approx(scales[pair.name], rel=1e-12), pair.name
        assert np.max(np.abs(ours - ref)) <= 1e-9 * ref[0], pair.name
    return pairs


@pytest.mark.parametrize("name", CONVENTIONS)
def test_singular_values_match_peft_delta_weight(peft_adapters, name):
    built = peft_adapters[name]
    pairs = check_against_peft(built.folder, built.deltas, built.scales)
    assert len(pairs) == EXPECTED_COUNTS[name]


def test_module_names_are_paths_in_the_base_model(peft_adapters):
    names = open_adapter(peft_adapters["llama_rslora"].folder).pair_names
    assert "model.layers.0.self_attn.q_proj" in names
    assert all(not n.startswith("base_model.model.") and ".lora_" not in n for n in names)
    bert = open_adapter(peft_adapters["bert_embedding"].folder).pair_names
    assert bert[0] == "bert.embeddings.word_embeddings"  # BertForSequenceClassification paths


def test_gpt2_conv1d_rank_and_alpha_patterns(peft_adapters):
    built = peft_adapters["gpt2_conv1d_patterns"]
    pairs = {p.name: p for p in open_adapter(built.folder).iter_pairs()}
    expect = {  # (kind, r, alpha) as PEFT resolved them
        "transformer.h.0.attn.c_attn": (2, 8.0),
        "transformer.h.1.attn.c_attn": (4, 5.0),
        "transformer.h.0.attn.c_proj": (4, 3.0),
        "transformer.h.0.mlp.c_proj": (6, 3.0),
    }
    for name, (r, alpha) in expect.items():
        p = pairs[name]
        assert (p.kind, p.r, p.alpha, p.fan_in_fan_out) == ("conv1d", r, alpha, True), name
        assert resolve_r_alpha(built.config, name) == (r, alpha)
    assert pairs["transformer.h.0.attn.c_attn"].shape == (
        96,
        32,
    )  # (out, in) although Conv1D stores (in, out)


def test_resolve_r_alpha_agrees_with_peft_get_pattern_key():
    from peft.utils.other import get_pattern_key

    config = {"r": 8, "lora_alpha": 16, "rank_pattern": {"q_proj": 4, r"layers\.1\..*v_proj": 2, "^mlp": 32},
              "alpha_pattern": {"layers.0.self_attn.q_proj": 7, "proj": 3}}  # fmt: skip
    names = ["model.layers.0.self_attn.q_proj", "model.layers.1.self_attn.v_proj", "model.layers.0.self_attn.v_proj",
             "model.layers.10.mlp.down_proj", "mlp", "model.layers.0.self_attn.k_proj", "q_proj"]  # fmt: skip
    for name in names:
        r_key = get_pattern_key(config["rank_pattern"].keys(), name)
        a_key = get_pattern_key(config["alpha_pattern"].keys(), name)
        peft = (config["rank_pattern"].get(r_key, 8), config["alpha_pattern"].get(a_key, 16))
        assert resolve_r_alpha(config, name) == peft, name


def test_rslora_scale_is_alpha_over_sqrt_r(peft_adapters):
    pairs = list(open_adapter(peft_adapters["llama_rslora"].folder).iter_pairs())
    assert {p.scale for p in pairs} == {16 / np.sqrt(8)}
    assert {p.name.rsplit(".", 1)[1] for p in pairs} == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                         "up_proj", "down_proj"}  # fmt: skip


def test_embedding_lora_and_modules_to_save(peft_adapters):
    adapter = open_adapter(peft_adapters["bert_embedding"].folder)
    emb = next(p for p in adapter.iter_pairs() if p.kind == "embedding")
    assert emb.key_A.endswith("word_embeddings.lora_embedding_A")
    assert emb.A.shape == (4, 64) and emb.B.shape == (32, 4) and emb.shape == (32, 64)
    others = {t.key for t in adapter.others}
    assert others == {"base_model.model.classifier.weight", "base_model.model.classifier.bias"}


def test_dora_magnitude_is_read_and_flagged(peft_adapters):
    adapter = open_adapter(peft_adapters["bert_dora"].folder)
    assert adapter.use_dora
    pairs = list(adapter.iter_pairs())
    assert all(p.magnitude is not None and p.magnitude.shape == (p.shape[0],) for p in pairs)
    assert "dora" in audit(peft_adapters["bert_dora"].folder).flags


@pytest.mark.parametrize("name", ["bert_default_init", "bert_embedding_default_init"])
def test_default_init_is_untrained(peft_adapters, name):
    built = peft_adapters[name]
    assert all(not d.any() for d in built.deltas.values())  # PEFT agrees: ΔW = 0 everywhere
    result = audit(built.folder)
    assert "untrained" in result.flags
    assert len(result.modules) == EXPECTED_COUNTS[name]
    assert all(m.singular_values == (0.0,) * 4 and m.delta_is_zero for m in result.modules)
    assert result.summary.utilization_mean == 0.0


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_low_precision_adapters(low_precision_adapters, dtype):
    built = low_precision_adapters[dtype]
    pairs = check_against_peft(built.folder, built.deltas, built.scales)
    assert len(pairs) == 4 and {p.dtype for p in pairs} == {dtype}


def test_two_adapters_in_one_file(tmp_path):
    deltas = build_two_adapters_one_file(tmp_path / "two")
    adapter = open_adapter(tmp_path / "two")
    assert adapter.adapter_names == ["default", "second"]
    pairs = list(adapter.iter_pairs())
    assert len(pairs) == 4
    for pair in pairs:
        ref = dense_singular_values(deltas[pair.adapter_name][pair.name], pair.r)
        assert np.max(np.abs(singular_values(pair.B, pair.A, pair.scale) - ref)) <= 1e-9 * ref[0]
    assert "multiple_adapters" in audit(tmp_path / "two").flags


def test_save_pretrained_subfolder_adapters(tmp_path, peft_adapters):
    # PEFT writes a second adapter into a subfolder; a parent folder of adapters says where they are
    from rankbench.errors import RankbenchError

    parent = tmp_path / "many"
    parent.mkdir()
    for name in ("bert_dora", "bert_query_value"):
        (parent / name).symlink_to(peft_adapters[name].folder, target_is_directory=True)
    with pytest.raises(
        RankbenchError, match="adapters were found in subfolders: bert_dora, bert_query_value"
    ):
        open_adapter(parent)


def test_reading_a_pair_reads_only_its_tensors(peft_adapters):
    adapter = open_adapter(peft_adapters["llama_rslora"].folder)
    spec = adapter.specs[3]
    pair = adapter.read_pair(spec)
    assert (pair.key_A, pair.key_B) == (spec.info_A.key, spec.info_B.key)
    assert pair.A.dtype == np.float64
    assert (pair.A.base if pair.A.base is not None else pair.A).flags.owndata  # not a view of a read buffer
