"""Round trips through PEFT: compress a real adapter, load it with PeftModel.from_pretrained, and check
every module's delta (PEFT's get_delta_weight) against numpy's dense rank-k truncation of the source."""

import hashlib
import json
import re
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
peft = pytest.importorskip("peft")
transformers = pytest.importorskip("transformers")

from peft import LoraConfig, PeftModel, get_peft_model  # noqa: E402
from peft.tuners.lora import LoraLayer  # noqa: E402
from peft.utils.other import get_pattern_key  # noqa: E402

from helpers.schemas import assert_valid  # noqa: E402
from rankbench.auditor import audit  # noqa: E402
from rankbench.errors import RankbenchError  # noqa: E402
from rankbench.suggest.compress import CompressionRecord, compress_adapter  # noqa: E402
from rankbench.suggest.plans import make_plan  # noqa: E402
from rankbench.suggest.spectra import compute_spectra  # noqa: E402

PREFIX = "base_model.model."


def tiny_llama(dtype=torch.float64):
    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(
        hidden_size=16,
        intermediate_size=24,
        num_hidden_layers=12,
        num_attention_heads=2,
        num_key_value_heads=1,
        vocab_size=64,
        max_position_embeddings=32,
    )
    return transformers.LlamaForCausalLM(cfg).to(dtype)


def tiny_gpt2(dtype=torch.float64):
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(n_embd=16, n_layer=2, n_head=2, vocab_size=64, n_positions=32)
    return transformers.GPT2LMHeadModel(cfg).to(dtype)


def tiny_bert_cls(dtype=torch.float64):
    torch.manual_seed(0)
    cfg = transformers.BertConfig(
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=24,
        vocab_size=64,
        max_position_embeddings=32,
        num_labels=3,
    )
    return transformers.BertForSequenceClassification(cfg).to(dtype)


LLAMA_LORA = dict(
    r=8,
    lora_alpha=16,
    target_modules=["q_proj", "v_proj", "up_proj", "down_proj", "embed_tokens"],
    rank_pattern={"layers.1.mlp.up_proj": 6},
    alpha_pattern={"down_proj": 4},
    init_lora_weights=False,
)


def save_adapter(path, base, seed=1, save_dtype=None, **lora):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(seed)
        model = get_peft_model(base(), LoraConfig(**lora))
        if save_dtype is not None:
            model.to(save_dtype)
        model.save_pretrained(path)
    return path


def load(base, folder):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = PeftModel.from_pretrained(base(), folder)
    problems = [
        str(w.message) for w in caught if re.search("missing|unexpected|did not match", str(w.message))
    ]
    assert not problems, problems
    return model


def lora_layers(model):
    return {n.removeprefix(PREFIX): m for n, m in model.named_modules() if isinstance(m, LoraLayer)}


def delta(module):
    return module.get_delta_weight("default").detach().to(torch.float64).numpy()


def check_round_trip(base, src, out, plan, *, tol=1e-10, energy_rtol=1e-6):
    """Every module's new delta is the rank-k truncation of the source delta; returns how many modules."""
    old, new = lora_layers(load(base, src)), lora_layers(load(base, out))
    assert set(new) == set(old) == set(plan.ranks)
    for name, module in new.items():
        k = plan.ranks[name]
        assert module.r["default"] == k and module.scaling["default"] == pytest.approx(plan.scale_of(name))
        W, W_new = delta(old[name]), delta(module)
        U, s, Vt = np.linalg.svd(W, full_matrices=False)
        W_k = (U[:, :k] * s[:k]) @ Vt[:k]  # (out, k) @ (k, in)
        norm = np.linalg.norm(W)
        assert np.linalg.norm(W_new - W_k) <= tol * norm, name
        dropped = np.sqrt(np.sum(s[k:] ** 2))
        assert abs(np.linalg.norm(W - W_new) - dropped) <= energy_rtol * dropped + tol * norm, name
    return len(new)


def folder_digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def llama_src(tmp_path_factory):
    return save_adapter(tmp_path_factory.mktemp("src") / "llama", tiny_llama, **LLAMA_LORA)


@pytest.mark.parametrize("spec", ["per_layer", "budget:0.5"])
def test_llama_with_rank_pattern_and_embedding_round_trips(llama_src, tmp_path, spec):
    before = folder_digest(llama_src)
    plan = make_plan(spec, audit(llama_src), rule="energy:0.8")
    assert len(set(plan.ranks.values())) > 1  # a real per-module pattern
    record = compress_adapter(llama_src, plan, tmp_path / "out")
    assert check_round_trip(tiny_llama, llama_src, tmp_path / "out", plan) == 12 * 4 + 1
    assert folder_digest(llama_src) == before  # the source is never modified
    on_disk = json.loads((tmp_path / "out" / "compression.json").read_text())
    assert CompressionRecord.from_dict(on_disk) == record
    assert_valid(on_disk, "compression")
    assert (
        on_disk["source_sha256"]
        == hashlib.sha256((llama_src / "adapter_model.safetensors").read_bytes()).hexdigest()
    )
    assert (
        on_disk["rule"] == plan.rule and on_disk["plan"] == plan.to_dict() and on_disk["method"] == "truncate"
    )
    by_name = {m["name"]: m for m in on_disk["modules"]}
    for name, k in plan.ranks.items():
        assert by_name[name]["rank"] == k
        assert by_name[name]["discarded_energy"] == pytest.approx(
            plan.module_discarded_energy[name], rel=1e-9, abs=1e-15
        )
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "adapter_config.json",
        "adapter_model.safetensors",
        "compression.json",
    ]


def test_escaped_patterns_hit_exactly_one_module(llama_src, tmp_path):
    plan = make_plan("per_layer", audit(llama_src), rule="energy:0.8")
    cfg = plan.peft_config_update(json.loads((llama_src / "adapter_config.json").read_text()))
    names = [n for n, _ in tiny_llama().named_modules() if n]
    assert len(cfg["rank_pattern"]) == len(plan.ranks) == 49
    for key, k in cfg["rank_pattern"].items():
        hits = [n for n in names if get_pattern_key([key], n) == key]  # PEFT's own matching
        assert len(hits) == 1 and plan.ranks[hits[0]] == k, (key, hits)
    assert {n for n in names if get_pattern_key(["layers.1.mlp.up_proj"], n) != n} == {
        "model.layers.1.mlp.up_proj"
    }


def test_reused_spectra_give_the_same_adapter(llama_src, tmp_path):
    spectra = compute_spectra(llama_src)
    plan = make_plan("per_layer", spectra, rule="energy:0.8")
    from_audit = make_plan("per_layer", audit(llama_src), rule="energy:0.8")
    assert plan.ranks == from_audit.ranks and plan.alphas == from_audit.alphas
    assert plan.discarded_energy == pytest.approx(from_audit.discarded_energy, rel=1e-12)  # σ to rounding
    compress_adapter(llama_src, plan, tmp_path / "warm", spectra=spectra)
    compress_adapter(llama_src, plan, tmp_path / "cold")
    compress_adapter(llama_src, plan, tmp_path / "threads", spectra=spectra, workers=2)
    warm = (tmp_path / "warm" / "adapter_model.safetensors").read_bytes()
    assert warm == (tmp_path / "cold" / "adapter_model.safetensors").read_bytes()
    assert warm == (tmp_path / "threads" / "adapter_model.safetensors").read_bytes()


@pytest.mark.parametrize("policy", ["keep_scale", "keep_alpha"])
def test_rslora_round_trips(tmp_path, policy):
    src = save_adapter(
        tmp_path / "src",
        tiny_llama,
        use_rslora=True,
        r=8,
        lora_alpha=8,
        target_modules=["q_proj", "up_proj"],
        init_lora_weights=False,
    )
    plan = make_plan("rank:3", audit(src), alpha_policy=policy)
    assert plan.use_rslora
    compress_adapter(src, plan, tmp_path / "out")
    cfg = json.loads((tmp_path / "out" / "adapter_config.json").read_text())
    assert cfg["use_rslora"] is True and cfg["r"] == 3
    assert cfg["lora_alpha"] == pytest.approx(8 * np.sqrt(3 / 8) if policy == "keep_scale" else 8)
    assert check_round_trip(tiny_llama, src, tmp_path / "out", plan) == 24


def test_gpt2_conv1d_round_trips(tmp_path):
    src = save_adapter(
        tmp_path / "src",
        tiny_gpt2,
        r=8,
        lora_alpha=32,
        target_modules=["c_attn", "c_proj", "c_fc"],
        fan_in_fan_out=True,
        init_lora_weights=False,
    )
    plan = make_plan("budget:0.4", audit(src))
    assert {m.kind for m in audit(src).modules} == {"conv1d"}
    compress_adapter(src, plan, tmp_path / "out")
    assert check_round_trip(tiny_gpt2, src, tmp_path / "out", plan) == 2 * 4


def test_sequence_classifier_keeps_its_head(tmp_path):
    src = save_adapter(
        tmp_path / "src",
        tiny_bert_cls,
        task_type="SEQ_CLS",
        r=4,
        lora_alpha=8,
        target_modules=["query", "value"],
        init_lora_weights=False,
    )
    others = {t.key for t in audit(src).adapter.other_tensors}
    assert any("classifier" in key for key in others)
    plan = make_plan("rank:2", audit(src))
    assert plan.other_params == sum(t.numel for t in audit(src).adapter.other_tensors)
    record = compress_adapter(src, plan, tmp_path / "out")
    assert record.other_tensors_copied == len(others)
    assert check_round_trip(tiny_bert_cls, src, tmp_path / "out", plan) == 4
    old, new = load(tiny_bert_cls, src), load(tiny_bert_cls, tmp_path / "out")
    heads = [k for k in old.state_dict() if "classifier" in k]
    assert heads and all(torch.equal(old.state_dict()[k], new.state_dict()[k]) for k in heads)
    x = torch.randint(0, 64, (2, 5))
    assert not torch.allclose(old(input_ids=x).logits, new(input_ids=x).logits)  # rank 2 < 4 changed it


def test_bf16_source_round_trips_with_bf16_tolerance(tmp_path):
    src = save_adapter(
        tmp_path / "src",
        tiny_llama,
        save_dtype=torch.bfloat16,
        r=8,
        lora_alpha=16,
        target_modules=["q_proj", "v_proj", "up_proj"],
        init_lora_weights=False,
    )
    plan = make_plan("rank:5", audit(src))
    compress_adapter(src, plan, tmp_path / "out")
    header_len = int.from_bytes((tmp_path / "out" / "adapter_model.safetensors").read_bytes()[:8], "little")
    header = json.loads((tmp_path / "out" / "adapter_model.safetensors").read_bytes()[8 : 8 + header_len])
    assert {v["dtype"] for k, v in header.items() if "lora_" in k} == {"BF16"}
    # the source delta is exact (bf16 factors multiplied in float64); the new factors are rounded to bf16
    bf16 = lambda: tiny_llama(torch.bfloat16)  # noqa: E731
    old, new = lora_layers(load(bf16, src)), lora_layers(load(bf16, tmp_path / "out"))
    for name, module in new.items():
        W = (
            old[name].scaling["default"]
            * (
                old[name].lora_B["default"].weight.double() @ old[name].lora_A["default"].weight.double()
            ).numpy()
        )
        W_new = (
            module.scaling["default"]
            * (module.lora_B["default"].weight.double() @ module.lora_A["default"].weight.double()).numpy()
        )
        U, s, Vt = np.linalg.svd(W, full_matrices=False)
        W_k = (U[:, :5] * s[:5]) @ Vt[:5]
        assert np.linalg.norm(W_new - W_k) <= 1e-2 * np.linalg.norm(W_k), name  # bf16 has 8 bits
        assert np.allclose(delta(module), W_new, rtol=2e-2, atol=2e-2 * np.abs(W_new).max())
    assert len(new) == 36


def test_dora_is_refused(tmp_path):
    src = save_adapter(
        tmp_path / "src", tiny_llama, use_dora=True, r=4, target_modules=["q_proj"], init_lora_weights=False
    )
    plan = make_plan("rank:2", audit(src))
    with pytest.raises(
        RankbenchError,
        match=r"src: is a DoRA adapter; compression by truncation is not supported "
        r"for DoRA\nhint: DoRA's magnitude vector rescales",
    ):
        compress_adapter(src, plan, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_existing_output_and_foreign_plans_are_refused(llama_src, tmp_path):
    plan = make_plan("rank:2", audit(llama_src))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(
        RankbenchError, match=r"out: output folder is not empty\nhint: choose a new --out folder"
    ):
        compress_adapter(llama_src, plan, tmp_path / "out")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["keep.txt"]
    other = save_adapter(
        tmp_path / "gpt2",
        tiny_gpt2,
        r=8,
        target_modules=["c_attn"],
        fan_in_fan_out=True,
        init_lora_weights=False,
    )
    with pytest.raises(RankbenchError, match=r"plan 'rank:2' does not match the adapter's modules"):
        compress_adapter(other, plan, tmp_path / "new")
    with pytest.raises(RankbenchError, match="unknown compression method 'svd'"):
        compress_adapter(llama_src, plan, tmp_path / "new", method="svd")


def test_random_subspace_control_loads_and_is_worse(llama_src, tmp_path):
    plan = make_plan("rank:4", audit(llama_src))
    best = compress_adapter(llama_src, plan, tmp_path / "best")
    rand = compress_adapter(llama_src, plan, tmp_path / "rand", method="random_subspace", seed=3)
    again = compress_adapter(llama_src, plan, tmp_path / "again", method="random_subspace", seed=3)
    assert rand.method == "random_subspace" and rand.seed == 3 and rand.lora_params == best.lora_params
    assert rand.discarded_energy > best.discarded_energy
    same = (tmp_path / "again" / "adapter_model.safetensors").read_bytes()
    assert same == (tmp_path / "rand" / "adapter_model.safetensors").read_bytes() and again.seed == 3
    old, new = lora_layers(load(tiny_llama, llama_src)), lora_layers(load(tiny_llama, tmp_path / "rand"))
    by_name = {m.name: m for m in rand.modules}
    for name, module in new.items():
        error = np.linalg.norm(delta(old[name]) - delta(module)) ** 2
        assert error == pytest.approx(by_name[name].discarded_energy, rel=1e-8, abs=1e-20)
