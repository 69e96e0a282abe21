"""SeqClsProfile end to end on a tiny BERT built from a config and a tiny word-level tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from helpers.tiny_bench import TARGETS
from helpers.tiny_bench import make_sentiment_csv as _csv
from helpers.tiny_bench import make_tiny_bert as _bert
from rankbench.bench.config import load_config
from rankbench.bench.profiles import get_profile
from rankbench.bench.profiles.base import LoraSpec, TrainJob
from rankbench.bench.profiles.seqcls import SeqClsProfile
from rankbench.errors import RankbenchError

# peft calls a transformers property that transformers 5 deprecates; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing.*:FutureWarning")


def make_tiny_bert(folder: Path) -> Path:
    return _bert(folder, dropout=0.0)


def make_sentiment_csv(path: Path, n: int, seed: int = 0, labels=("neg", "pos")) -> Path:
    return _csv(path, n, seed=seed, labels=labels, filler=(1, 3))


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Ops this small only pay for thread synchronisation; set_torch_threads() honours OMP_NUM_THREADS."""
    threads = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OMP_NUM_THREADS", "1")
        yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def setup(tmp_path_factory, one_thread):
    root = tmp_path_factory.mktemp("seqcls")
    model = make_tiny_bert(root / "tiny-bert")
    csv = make_sentiment_csv(root / "sentiment.csv", 600)
    cfg = load_config(
        None,
        {
            "model.name": str(model),
            "model.max_length": 16,
            "task.dataset": str(csv),
            "task.eval_size": 200,
            "train.batch_size": 16,
            "train.learning_rate": 1e-2,
            "eval.batch_size": 64,
        },
    )
    profile = SeqClsProfile()
    data = profile.prepare(cfg, seed=0, cache_dir=root / "cache")
    lora = LoraSpec(r=4, alpha=8.0, target_modules=TARGETS)
    adapter = profile.train(cfg, data, TrainJob(lora, steps=100, seed=0, out_dir=root / "probe")).adapter_dir
    return {"root": root, "cfg": cfg, "profile": profile, "data": data, "lora": lora, "adapter": adapter}


def test_registry_name_and_metric():
    profile = get_profile("seqcls")
    assert isinstance(profile, SeqClsProfile)
    assert (profile.name, profile.primary_metric_key) == ("seqcls", "eval_accuracy")


def test_prepare_splits_labels_and_provenance(setup):
    data = setup["data"]
    assert data.provenance["split_sizes"] == {"train": 400, "eval": 200}
    assert data.extra["num_labels"] == 2 and data.extra["label_names"] == ["neg", "pos"]
    assert len(data.eval_ids) == 200 and len(set(data.eval_ids)) == 200
    assert not set(data.eval_ids) & set(data.train.item_ids)
    assert data.eval_ids == sorted(data.eval_ids, key=int)  # dataset order
    assert all(len(x) <= 16 for x in data.train.ids)
    assert data.provenance["revision"].startswith("sha256:")


def test_prepare_again_hits_the_token_cache_with_the_same_items(setup):
    s = setup
    again = SeqClsProfile().prepare(s["cfg"], seed=0, cache_dir=s["root"] / "cache")
    assert again.extra["tokens_cache_hit"] and not s["data"].extra["tokens_cache_hit"]
    assert again.eval_ids == s["data"].eval_ids
    assert all(np.array_equal(a, b) for a, b in zip(again.eval.ids, s["data"].eval.ids, strict=True))
    other_seed = SeqClsProfile().prepare(s["cfg"], seed=1, cache_dir=s["root"] / "cache")
    assert other_seed.eval_ids != s["data"].eval_ids


def test_default_target_modules_for_bert(setup):
    assert setup["profile"].default_target_modules(setup["cfg"]) == TARGETS


def test_adapter_folder_loads_with_peft_and_holds_the_head(setup):
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification

    adapter = setup["adapter"]
    assert not adapter.with_name("probe.tmp").exists()
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert config["r"] == 4 and config["task_type"] == "SEQ_CLS" and "classifier" in config["modules_to_save"]
    tensors = load_file(adapter / "adapter_model.safetensors")
    assert any("classifier" in k for k in tensors)
    assert sum(".lora_A." in k for k in tensors) == 2 * 6 + 1  # q,k,v,3 dense per layer + pooler
    base = AutoModelForSequenceClassification.from_pretrained(setup["cfg"].model.name, num_labels=2)
    model = PeftModel.from_pretrained(base, str(adapter))
    assert model.peft_config["default"].r == 4


def test_evaluate_records_one_per_item_in_order_and_learns(setup):
    s = setup
    result = s["profile"].evaluate(s["cfg"], s["data"], s["adapter"])
    assert result.metric_key == "eval_accuracy"
    assert [r["item_id"] for r in result.records] == s["data"].eval_ids
    assert [r["label"] for r in result.records] == s["data"].eval.labels.tolist()
    assert all(r["score"] == float(r["pred"] == r["label"]) for r in result.records)
    assert result.value == pytest.approx(np.mean([r["score"] for r in result.records]))
    assert result.value > 0.8  # the sentiment word decides the label
    assert result.forward == {"path": "first_token", "reason": None}  # BERT: last layer at [CLS] only


def test_predict_ways_agree_with_the_plain_forward(setup):
    """Side-by-side workers and the [CLS]-only last layer change the order of additions, not answers."""
    from peft import PeftModel

    from rankbench.bench.profiles.seqcls_eval import predict
    from rankbench.bench.profiles.seqcls_model import load_base

    s = setup
    data, cfg = s["data"], s["cfg"]
    base, _ = load_base(s["profile"].source(cfg), cfg, data.extra["num_labels"], data.extra["pad_token_id"])
    model = PeftModel.from_pretrained(base, str(s["adapter"])).merge_and_unload().eval()
    cpu, pad = torch.device("cpu"), data.extra["pad_token_id"]
    with torch.inference_mode():
        ids = [torch.as_tensor(x, dtype=torch.int64)[None] for x in data.eval.ids]
        plain = np.array([int(model(input_ids=i).logits.argmax(-1)) for i in ids])
    for workers in (1, 2, 3):
        for first in (True, False):
            preds, forward = predict(model, data.eval, pad, 16, cpu, cfg, workers=workers, first_token=first)
            assert (preds == plain).all(), (workers, first)
            assert forward["path"] == ("first_token" if first else "full")
    assert torch.get_num_threads() == 1


def test_reused_eval_base_gives_the_same_records_as_a_fresh_process(setup):
    s = setup
    other = (
        s["profile"]
        .train(
            s["cfg"],
            s["data"],
            TrainJob(
                LoraSpec(r=2, alpha=2.0, target_modules=["query", "value"]),
                steps=5,
                seed=1,
                out_dir=s["root"] / "other",
            ),
        )
        .adapter_dir
    )
    shared = s["profile"]
    first = shared.evaluate(s["cfg"], s["data"], s["adapter"]).records
    middle = shared.evaluate(s["cfg"], s["data"], other).records
    again = shared.evaluate(s["cfg"], s["data"], s["adapter"]).records
    fresh = SeqClsProfile().evaluate(s["cfg"], s["data"], s["adapter"]).records
    fresh_other = SeqClsProfile().evaluate(s["cfg"], s["data"], other).records
    assert first == again == fresh
    assert middle == fresh_other and middle != first


def test_training_is_reproducible_for_a_seed(setup):
    s = setup
    kw = {"lora": s["lora"], "steps": 3, "seed": 5}
    a = s["profile"].train(s["cfg"], s["data"], TrainJob(out_dir=s["root"] / "rep-a", **kw))
    b = SeqClsProfile().train(s["cfg"], s["data"], TrainJob(out_dir=s["root"] / "rep-b", **kw))
    assert a.losses == b.losses
    ta, tb = (
        load_file(a.adapter_dir / "adapter_model.safetensors"),
        load_file(b.adapter_dir / "adapter_model.safetensors"),
    )
    assert ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta)


def test_the_result_names_the_resolved_compute_dtype(setup):
    """train.dtype: auto resolves to float32 on a CPU; bfloat16 named by hand runs under autocast."""
    import dataclasses

    s = setup
    kw = {"lora": s["lora"], "steps": 2, "seed": 0}
    auto = s["profile"].train(s["cfg"], s["data"], TrainJob(out_dir=s["root"] / "dt-auto", **kw))
    bf16_cfg = dataclasses.replace(s["cfg"], train=dataclasses.replace(s["cfg"].train, dtype="bfloat16"))
    bf16 = s["profile"].train(bf16_cfg, s["data"], TrainJob(out_dir=s["root"] / "dt-bf16", **kw))
    assert (auto.device, auto.compute_dtype) == ("cpu", "float32")
    assert (bf16.device, bf16.compute_dtype) == ("cpu", "bfloat16")
    assert auto.losses != bf16.losses  # the autocast really ran in the other precision


def test_finetune_continues_from_the_init_adapter(setup, monkeypatch):
    """truncate+finetune: training starts from the init adapter's weights (and its ranks), not from scratch."""
    import rankbench.bench.train as train

    s = setup
    start = {}
    real = train.run_training

    def spy(model, batches, **kw):
        start.update({k: v.detach().clone() for k, v in model.named_parameters() if v.requires_grad})
        return real(model, batches, **kw)

    monkeypatch.setattr(train, "run_training", spy)
    out = (
        s["profile"]
        .train(
            s["cfg"],
            s["data"],
            TrainJob(s["lora"], steps=3, seed=2, out_dir=s["root"] / "ft", init_adapter=s["adapter"]),
        )
        .adapter_dir
    )
    init = load_file(s["adapter"] / "adapter_model.safetensors")
    key = next(k for k in init if k.endswith("layer.0.attention.self.query.lora_B.weight"))
    live = next(
        v for k, v in start.items() if k.endswith("layer.0.attention.self.query.lora_B.default.weight")
    )
    assert torch.equal(live, init[key]) and live.abs().sum() > 0  # trained B, not a fresh zero init
    tuned = load_file(out / "adapter_model.safetensors")
    assert tuned.keys() == init.keys() and not torch.equal(tuned[key], init[key])


def test_rank_pattern_reaches_the_saved_adapter(setup):
    s = setup
    lora = LoraSpec(r=4, alpha=4.0, target_modules=TARGETS, rank_pattern={"layer.0.attention.self.query": 2})
    out = (
        s["profile"]
        .train(s["cfg"], s["data"], TrainJob(lora, steps=1, seed=0, out_dir=s["root"] / "rp"))
        .adapter_dir
    )
    tensors = load_file(out / "adapter_model.safetensors")
    shapes = {k: v.shape for k, v in tensors.items() if "lora_A" in k and "attention.self.query" in k}
    assert sorted(shape[0] for shape in shapes.values()) == [2, 4]


def test_string_and_numeric_labels_map_to_classes(tmp_path, setup):
    csv = make_sentiment_csv(tmp_path / "num.csv", 60, labels=("0", "1"))
    cfg = load_config(None, {**_overrides(setup), "task.dataset": str(csv), "task.eval_size": 20})
    data = SeqClsProfile().prepare(cfg, seed=0, cache_dir=None)
    assert data.extra["label_names"] == [0, 1]


def test_a_single_label_is_an_error(tmp_path, setup):
    csv = tmp_path / "one.csv"
    csv.write_text("text,label\n" + "good film,pos\n" * 30)
    cfg = load_config(None, {**_overrides(setup), "task.dataset": str(csv), "task.eval_size": 10})
    with pytest.raises(RankbenchError, match=r"column 'label' has a single label value \('pos'\)"):
        SeqClsProfile().prepare(cfg, seed=0, cache_dir=None)


def test_too_few_rows_names_the_file(tmp_path, setup):
    csv = make_sentiment_csv(tmp_path / "small.csv", 30)
    cfg = load_config(None, {**_overrides(setup), "task.dataset": str(csv), "task.eval_size": 200})
    with pytest.raises(RankbenchError, match=r"small\.csv: the dataset has 30 rows, fewer than needed"):
        SeqClsProfile().prepare(cfg, seed=0, cache_dir=None)


def test_bad_adapter_folders(setup, tmp_path):
    s = setup
    with pytest.raises(RankbenchError, match="not an adapter folder: no adapter_config.json"):
        s["profile"].evaluate(s["cfg"], s["data"], tmp_path)
    (tmp_path / "adapter_config.json").write_text("{}")
    (tmp_path / "adapter_model.bin").write_bytes(b"pickle")
    with pytest.raises(RankbenchError, match=r"only pickled weights \(adapter_model.bin\)"):
        s["profile"].evaluate(s["cfg"], s["data"], tmp_path)


def test_adapter_for_another_label_count_is_refused(setup, tmp_path):
    s = setup
    csv = tmp_path / "three.csv"
    make_sentiment_csv(csv, 90)
    text = csv.read_text().splitlines()
    csv.write_text(
        "\n".join(text[:30] + [line.rsplit(",", 1)[0] + ",mid" for line in text[30:40]] + text[40:])
    )
    cfg = load_config(None, {**_overrides(setup), "task.dataset": str(csv), "task.eval_size": 30})
    data = SeqClsProfile().prepare(cfg, seed=0, cache_dir=None)
    assert data.extra["num_labels"] == 3
    with pytest.raises(RankbenchError, match="the adapter does not fit this model and task"):
        SeqClsProfile().evaluate(cfg, data, s["adapter"])


def _overrides(setup) -> dict:
    cfg = setup["cfg"]
    return {"model.name": cfg.model.name, "model.max_length": 16, "eval.batch_size": 64}


@pytest.mark.slow
def test_embedded_default_end_to_end_smoke(tmp_path):
    """The real MiniLM + Rotten Tomatoes path: a few steps, a small eval; the numbers live in benchmarks/."""
    cfg = load_config(None, {"task.eval_size": 200, "task.train_size": 500})
    profile = SeqClsProfile()
    data = profile.prepare(cfg, seed=0, cache_dir=tmp_path)
    assert data.provenance["split_sizes"] == {"train": 500, "eval": 200}
    assert data.extra["label_names"] == [0, 1] and all(i.startswith("rt") for i in data.eval_ids)
    targets = profile.default_target_modules(cfg)
    assert targets == TARGETS
    lora = LoraSpec(r=16, alpha=16.0, target_modules=targets)
    result = profile.train(cfg, data, TrainJob(lora, steps=4, seed=0, out_dir=tmp_path / "probe"))
    assert result.steps == 4 and len(result.losses) == 1
    tensors = load_file(result.adapter_dir / "adapter_model.safetensors")
    assert sum(".lora_A." in k for k in tensors) == 6 * 6 + 1  # 6 layers x (q, k, v, 3 dense) + pooler
    evaluated = profile.evaluate(cfg, data, result.adapter_dir)
    assert [r["item_id"] for r in evaluated.records] == data.eval_ids
