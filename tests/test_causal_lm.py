"""The causal-LM exact-match profile: formatting, response-only labels, data, and prepare/train/evaluate."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from helpers.gsm8k import FULL_SIZES, gsm8k_dir, has_full_copy, read_split  # noqa: E402
from helpers.tiny_llama import make_char_tokenizer, save_tiny_llama  # noqa: E402
from rankbench.bench.config import BenchConfig  # noqa: E402
from rankbench.bench.profiles import get_profile  # noqa: E402
from rankbench.bench.profiles.answers import gold_answer  # noqa: E402
from rankbench.bench.profiles.base import LoraSpec, TrainJob  # noqa: E402
from rankbench.bench.profiles.causal_lm import (  # noqa: E402
    GPT2_TARGETS,
    LLAMA_TARGETS,
    Formatter,
    collate_train,
    encode_train,
    infer_target_modules,
)
from rankbench.bench.profiles.prompt_data import PromptItem, load_prompt_splits  # noqa: E402
from rankbench.errors import RankbenchError, RankbenchWarning  # noqa: E402

GSM8K_DIR = gsm8k_dir()  # the full copy beside the checkout, else the excerpt in tests/data
needs_gsm8k = pytest.mark.skipif(not GSM8K_DIR.is_dir(), reason=f"no GSM8K copy at {GSM8K_DIR}")


def _cfg(model_dir, dataset, **task) -> BenchConfig:
    return BenchConfig.from_dict(
        {
            "model": {"name": str(model_dir), "max_length": 1800},
            "task": {"profile": "causal_lm_exact_match", "dataset": str(dataset), **task},
            "lora": {"probe_r": 4, "alpha": 8},
            "train": {"steps": 3, "batch_size": 8, "learning_rate": 1e-2, "seed": 3, "device": "cpu"},
            "eval": {"batch_size": 16},
        }
    )


def _task(**kw):
    return BenchConfig.from_dict({"task": kw}).task


# --- formatting and labels ----------------------------------------------------------------------


@pytest.mark.parametrize("chat", [False, True])
def test_formatting_is_the_same_for_training_and_generation(chat):
    tok = make_char_tokenizer(chat=chat)
    task = _task(prompt_template="Q: {prompt}\nA:", answer_template=" {answer}")
    fmt = Formatter(tok, task)
    prompt = tok.decode(fmt.prompt_ids("2+3?"))
    answer = tok.decode(fmt.answer_ids("5\n#### 5"))
    if chat:
        assert prompt == "<user>Q: 2+3?\nA:\n<assistant>"  # the generation prompt ends the prompt
        assert answer == "5\n#### 5</s>"  # the assistant turn has no leading space
    else:
        assert prompt == "<s>Q: 2+3?\nA:"  # BOS from the tokenizer
        assert answer == " 5\n#### 5</s>"  # EOS appended: the model learns to stop


def test_labels_mask_prompt_and_padding_and_keep_answer_and_eos():
    tok = make_char_tokenizer()
    fmt = Formatter(tok, _task(prompt_template="{prompt} =", answer_template=" {answer}"))
    items = [PromptItem("0", "1+1", "2", "2"), PromptItem("1", "10+10", "20", "20")]
    train, truncated, dropped = encode_train(fmt, items, max_length=64)
    assert (truncated, dropped) == (0, 0)
    batch = collate_train(train, [0, 1], tok.pad_token_id)
    ids, mask, labels = batch["input_ids"], batch["attention_mask"], batch["labels"]
    assert ids.shape == labels.shape == (2, 1 + len("10+10 = 20") + 1)  # BOS, characters, EOS
    eos = tok.eos_token_id
    for row, (prompt, answer) in enumerate([("1+1 =", " 2"), ("10+10 =", " 20")]):
        n_prompt = 1 + len(prompt)  # BOS + characters
        n_answer = len(answer) + 1  # characters + EOS
        assert (labels[row, :n_prompt] == -100).all()
        assert labels[row, n_prompt : n_prompt + n_answer].tolist() == [
            *tok(answer, add_special_tokens=False)["input_ids"],
            eos,
        ]
        assert (labels[row, n_prompt + n_answer :] == -100).all()
        assert (mask[row, n_prompt + n_answer :] == 0).all()
    assert (ids[0, -1] == tok.pad_token_id) and (labels[0, -1] == -100)


def test_too_long_items_lose_their_answer_end_or_are_dropped():
    tok = make_char_tokenizer()
    fmt = Formatter(tok, _task())
    items = [PromptItem("0", "short", "answer", "x"), PromptItem("1", "a" * 30, "b", "b")]
    train, truncated, dropped = encode_train(fmt, items, max_length=12)
    assert (truncated, dropped) == (2, 1)
    assert len(train.ids) == 1 and len(train.ids[0]) == 12
    assert tok.eos_token_id not in train.ids[0].tolist()  # cut: no EOS left


# --- LoRA targets -------------------------------------------------------------------------------


def test_default_targets_for_llama_gpt2_and_other_architectures():
    from transformers import (
        GPT2Config,
        GPT2LMHeadModel,
        GPTNeoXConfig,
        GPTNeoXForCausalLM,
        LlamaConfig,
        LlamaForCausalLM,
    )
    from transformers.pytorch_utils import Conv1D

    linear = (torch.nn.Linear, Conv1D)
    small = {"num_attention_heads": 2, "vocab_size": 50}
    llama = LlamaForCausalLM(LlamaConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1, **small))
    gpt2 = GPT2LMHeadModel(GPT2Config(n_embd=16, n_layer=1, n_head=2, vocab_size=50))
    neox = GPTNeoXForCausalLM(
        GPTNeoXConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1, **small)
    )
    assert infer_target_modules(llama, linear) == LLAMA_TARGETS
    assert infer_target_modules(gpt2, linear) == GPT2_TARGETS
    # neither: every linear layer's name, the output head (embed_out) excluded
    assert infer_target_modules(neox, linear) == [
        "dense",
        "dense_4h_to_h",
        "dense_h_to_4h",
        "query_key_value",
    ]


# --- data ---------------------------------------------------------------------------------------


@needs_gsm8k
def test_gsm8k_folder_splits_and_provenance():
    task = _task(dataset=str(GSM8K_DIR), split="train", eval_split="test", train_size=32, eval_size=16)
    s = load_prompt_splits(task, seed=7)
    assert len(s.train) == 32 and len(s.eval) == 16
    assert all(it.item_id.startswith("train/") for it in s.train)
    assert all(re.fullmatch(r"test/\d+", it.item_id) for it in s.eval)
    rows = [int(it.item_id.split("/")[1]) for it in s.eval]
    assert rows == sorted(rows)  # dataset order
    lines = (GSM8K_DIR / "test.jsonl").read_text(encoding="utf-8").splitlines()
    for it, row in zip(s.eval, rows, strict=True):
        assert it.prompt == json.loads(lines[row])["question"]
        assert it.gold == gold_answer(json.loads(lines[row])["answer"])
    p = s.provenance
    assert p["dataset_id"] == str(GSM8K_DIR)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", p["revision"])
    assert set(p["revisions"]) == {"train", "test"}
    assert p["split_sizes"] == {"train": 32, "eval": 16}
    # the full copy's 7,473 / 1,319 rows beside the checkout, else the shipped excerpt's
    sizes = {split: len(read_split(split, GSM8K_DIR)) for split in ("train", "test")}
    assert p["source_split_sizes"] == sizes
    assert sizes == (FULL_SIZES if has_full_copy() else {"train": 40, "test": 24})
    assert p["requested_split"] == "train" and p["eval_split"] == "test"
    again = load_prompt_splits(task, seed=7)
    assert again == s  # deterministic
    other = load_prompt_splits(task, seed=8)
    assert [it.item_id for it in other.eval] != [it.item_id for it in s.eval]


def test_generic_jsonl_carves_disjoint_eval_items(tmp_path):
    path = tmp_path / "qa.jsonl"
    path.write_text("".join(json.dumps({"q": f"{i}+{i}?", "a": str(2 * i)}) + "\n" for i in range(40)))
    task = _task(dataset=str(path), prompt_field="q", answer_field="a", eval_size=10, train_size=20)
    s = load_prompt_splits(task, seed=0)
    train_ids, eval_ids = {it.item_id for it in s.train}, [it.item_id for it in s.eval]
    assert len(train_ids) == 20 and len(eval_ids) == 10 and not train_ids & set(eval_ids)
    assert all(it.gold == str(2 * int(it.item_id)) for it in s.eval)
    assert s.provenance["split_sizes"] == {"train": 20, "eval": 10}
    with pytest.raises(RankbenchError, match="task.eval_split is 'test' but task.dataset is a single file"):
        load_prompt_splits(
            _task(dataset=str(path), prompt_field="q", answer_field="a", eval_split="test"), seed=0
        )
    with pytest.raises(RankbenchError, match="column 'question' not found; the columns are: q, a"):
        load_prompt_splits(_task(dataset=str(path), eval_size=10), seed=0)


def test_hub_dataset_without_the_datasets_package_is_a_clear_error(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "datasets", None)  # import datasets -> ImportError
    with pytest.raises(RankbenchError, match="needs the `datasets` package"):
        load_prompt_splits(_task(dataset="gsm8k", subset="main", eval_split="test"), seed=0)


# --- the profile end to end ----------------------------------------------------------------------


@needs_gsm8k
@pytest.mark.parametrize("chat", [False, True])
def test_prepare_train_evaluate_on_gsm8k(tmp_path, monkeypatch, chat):
    from transformers import LlamaForCausalLM

    model_dir = save_tiny_llama(tmp_path / "model", chat=chat)
    cfg = _cfg(
        model_dir,
        GSM8K_DIR,
        split="train",
        eval_split="test",
        train_size=32,
        eval_size=16,
        prompt_template="Question: {prompt}\nAnswer:",
        max_new_tokens=16,
        stop=["\n\n"],
    )
    profile = get_profile("causal_lm_exact_match")
    assert profile.default_target_modules(cfg) == LLAMA_TARGETS
    prov = profile.model_provenance(cfg)
    assert prov["model_id"] == str(model_dir) and prov["revision"].startswith("sha256:")

    data = profile.prepare(cfg, seed=3, cache_dir=tmp_path / "cache")
    assert len(data.train.ids) == 32 and len(data.eval) == 16
    assert data.eval_ids == [e.item_id for e in data.eval]
    assert data.extra["chat_template"] is chat and data.extra["train_truncated"] == 0

    # every batch that reaches the model's loss: -100 exactly on prompt and padding tokens
    seen = []
    original = LlamaForCausalLM.forward

    def spy(self, *args, **kwargs):
        if self.training:
            seen.append({k: kwargs[k].clone() for k in ("input_ids", "attention_mask", "labels")})
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LlamaForCausalLM, "forward", spy)
    lora = LoraSpec(r=4, alpha=8, target_modules=LLAMA_TARGETS)
    res = profile.train(cfg, data, TrainJob(lora, steps=3, seed=3, out_dir=tmp_path / "adapter"))
    monkeypatch.undo()
    assert len(seen) == 3 and res.steps == 3 and np.isfinite(res.final_loss)
    by_content = {
        tuple(ids.tolist()): int(p) for ids, p in zip(data.train.ids, data.train.prompt_lens, strict=True)
    }
    eos = data.extra["eos_token_id"]
    for batch in seen:
        for ids, mask, labels in zip(
            batch["input_ids"], batch["attention_mask"], batch["labels"], strict=True
        ):
            n = int(mask.sum())
            assert mask[:n].all() and not mask[n:].any()  # right padding
            p = by_content[tuple(ids[:n].tolist())]
            assert (labels[:p] == -100).all() and (labels[n:] == -100).all()
            assert torch.equal(labels[p:n], ids[p:n]) and labels[n - 1] == eos
    config = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    assert sorted(config["target_modules"]) == sorted(LLAMA_TARGETS) and config["r"] == 4

    result = profile.evaluate(cfg, data, tmp_path / "adapter")
    assert result.metric_key == "eval_exact_match"
    assert [r["item_id"] for r in result.records] == data.eval_ids
    for rec, item in zip(result.records, data.eval, strict=True):
        assert set(rec) >= {"item_id", "score", "extracted", "gold", "correct", "generated"}
        assert rec["score"] == (1.0 if rec["correct"] else 0.0)
        assert rec["gold"] == item.gold and rec["gold"].lstrip("-").isdigit()
        assert rec["n_new_tokens"] <= 16 and "\n\n" not in rec["generated"]
        assert rec["finish"] in ("eos", "stop", "length")
    assert result.value == pytest.approx(np.mean([r["score"] for r in result.records]))
    again = profile.evaluate(cfg, data, tmp_path / "adapter")
    assert again.records == result.records  # deterministic


def test_prompts_longer_than_max_length_are_dropped_with_a_warning(tmp_path):
    path = tmp_path / "qa.jsonl"
    path.write_text("".join(json.dumps({"question": "q" * (5 + i), "answer": "7"}) + "\n" for i in range(12)))
    model_dir = save_tiny_llama(tmp_path / "model")
    cfg = _cfg(model_dir, path, eval_size=2)
    cfg.model.max_length = 12  # prompts are 6..16 tokens with BOS
    profile = get_profile("causal_lm_exact_match")
    with pytest.warns(RankbenchWarning, match=r"training items are longer than model.max_length=12"):
        data = profile.prepare(cfg, seed=0, cache_dir=tmp_path)
    assert 0 < data.extra["train_dropped"] < 10 and len(data.train.ids) == 10 - data.extra["train_dropped"]
    cfg.model.max_length = 4
    with pytest.raises(RankbenchError, match="every training prompt is at least model.max_length=4"):
        profile.prepare(cfg, seed=0, cache_dir=tmp_path)
