"""The bench end to end on the causal-LM profile: a tiny random Llama on 32 GSM8K train items and 16 test
items, through the CLI. Asserts the pipeline, the artifacts and the masking, not accuracy."""

from __future__ import annotations

import json

import pytest
import yaml

pytest.importorskip("torch")
pytest.importorskip("transformers")

from helpers.gsm8k import gsm8k_dir  # noqa: E402
from helpers.seed_format import check_superset  # noqa: E402
from helpers.tiny_llama import save_tiny_llama  # noqa: E402
from rankbench.cli import main  # noqa: E402

GSM8K_DIR = gsm8k_dir()  # the full copy beside the checkout, else the excerpt in tests/data


def test_causal_bench_end_to_end(tmp_path, monkeypatch):
    import torch
    from transformers import LlamaForCausalLM

    monkeypatch.setenv("RANKBENCH_CACHE", str(tmp_path / "cache"))
    model = save_tiny_llama(tmp_path / "tiny-llama", chat=True)
    config = {
        "model": {"name": str(model), "max_length": 1024},
        "task": {
            "profile": "causal_lm_exact_match",
            "dataset": str(GSM8K_DIR),
            "split": "train",
            "eval_split": "test",
            "train_size": 32,
            "eval_size": 16,
            "max_new_tokens": 8,
            "prompt_template": "Question: {prompt}\nAnswer:",
            "probe_gate": {"min_value": 0.0},
        },
        "lora": {"probe_r": 4, "alpha": 8},
        "train": {"steps": 3, "batch_size": 8, "learning_rate": 1e-2},
        "compression": {
            "variants": ["uniform_median", "per_layer"],
            "methods": {"uniform_median": ["truncate", "retrain"]},
        },
    }
    path = tmp_path / "bench.yaml"
    path.write_text(yaml.safe_dump(config))

    labels_seen = []
    original = LlamaForCausalLM.forward

    def spy(self, *args, **kwargs):
        if self.training:
            labels_seen.append(kwargs["labels"].clone())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LlamaForCausalLM, "forward", spy)
    out = tmp_path / "run"
    assert main(["run", "--config", str(path), "--output", str(out), "--quiet"]) == 0

    # probe (3 steps) + retrain (3 steps) reached the loss, each with prompt and padding masked
    assert len(labels_seen) == 6
    for labels in labels_seen:
        assert (labels == -100).any() and (labels != -100).any()
        assert (labels[:, 0] == -100).all()  # every row starts with its (masked) prompt

    doc = json.loads((out / "bench.json").read_text())
    assert doc["config_metadata"]["primary_metric_key"] == "eval_exact_match"
    assert doc["probe_quality_gate"]["metric_key"] == "eval_exact_match"
    assert set(doc["compressed"]) == {"uniform_median", "uniform_median_retrain", "per_layer"}
    assert doc["config_metadata"]["embedded_config"]["model"]["type"] == "causal_lm"
    assert doc["env"]["dataset_info"]["split_sizes"]["train"] == 32
    assert doc["probe"]["n_eval_items"] == 16
    rows = [json.loads(x) for x in (out / "probe_eval" / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 16 and all(r["item_id"].startswith("test/") for r in rows)
    assert all({"extracted", "gold", "correct", "score"} <= set(r) for r in rows)
    for key in doc["compressed"]:
        v_rows = [
            json.loads(x) for x in (out / "variants" / key / "predictions.jsonl").read_text().splitlines()
        ]
        assert [r["item_id"] for r in v_rows] == [r["item_id"] for r in rows]
    assert torch.is_grad_enabled()  # the bench leaves no global no-grad state behind
    # last, since it skips in a bare clone; "compressed" skipped: this config runs other variants
    check_superset("bench.json", out / "bench.json", "compressed")
