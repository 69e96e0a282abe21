"""`rankbench run --adapter` on bad input: exit 2, a message that names the mismatch, no traceback, and
nothing claimed in the output folder (so the fixed command can use it)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from helpers.peft_fixtures import build_llama_rslora
from helpers.tiny_bench import TARGETS, make_sentiment_csv, make_tiny_bert
from rankbench.cli import main

pytest.importorskip("peft")


def _save_seqcls_adapter(folder: Path, model, **lora) -> Path:
    """A seqcls LoRA adapter as PEFT saves it, with random factors (not trained: it only has to load)."""
    import torch
    from peft import LoraConfig, TaskType, get_peft_model

    torch.manual_seed(0)
    kwargs = {"r": 4, "lora_alpha": 8, "target_modules": TARGETS, "init_lora_weights": False, **lora}
    get_peft_model(model, LoraConfig(task_type=TaskType.SEQ_CLS, **kwargs)).save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from transformers import AutoModelForSequenceClassification

    root = tmp_path_factory.mktemp("user_adapter_errors")
    model = make_tiny_bert(root / "tiny-bert")
    make_sentiment_csv(root / "test.csv", 300, seed=2)
    two = AutoModelForSequenceClassification.from_pretrained(str(model), num_labels=2)
    three = AutoModelForSequenceClassification.from_pretrained(str(model), num_labels=3)
    cfg = {
        "model": {"max_length": 16},
        "task": {"dataset": str(root / "test.csv"), "eval_size": 100, "probe_gate": {"min_value": 0.0}},
        "compression": {"variants": ["uniform_median"]},
        "eval": {"batch_size": 64},
    }
    (root / "bench.yaml").write_text(yaml.safe_dump(cfg))
    return {
        "root": root,
        "model": model,
        "config": root / "bench.yaml",
        "adapter": _save_seqcls_adapter(root / "adapter", two),
        "three_labels": _save_seqcls_adapter(root / "three", three),
    }


def _run(world, monkeypatch, capsys, *args, config: Path | None = None, out: Path | None = None):
    """(exit code, stderr) of `rankbench run ... --quiet`; the output folder must stay unclaimed on exit 2."""
    monkeypatch.setenv("RANKBENCH_CACHE", str(world["root"] / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = out or world["root"] / "out-never"
    capsys.readouterr()
    code = main(["run", *args, "--config", str(config or world["config"]), "--output", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if code == 2:
        assert not (out / "run_config.json").exists()
    return code, err


def _with_config(world, tmp_path, **sections) -> Path:
    cfg = yaml.safe_load(world["config"].read_text())
    for section, values in sections.items():
        cfg.setdefault(section, {}).update(values)
    path = tmp_path / "bench.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _moved(world, tmp_path, base: str) -> Path:
    """The adapter as it arrives from another machine: its config names a base that is not here."""
    folder = tmp_path / "from-elsewhere"
    shutil.copytree(world["adapter"], folder)
    config = json.loads((folder / "adapter_config.json").read_text())
    (folder / "adapter_config.json").write_text(json.dumps({**config, "base_model_name_or_path": base}))
    return folder


def test_a_base_path_that_is_not_here_names_the_override(world, tmp_path, monkeypatch, capsys):
    adapter = _moved(world, tmp_path, "/home/someone/models/tiny-bert")
    out = tmp_path / "run"
    code, err = _run(world, monkeypatch, capsys, "--adapter", str(adapter), out=out)
    assert code == 2
    assert (
        "the base model '/home/someone/models/tiny-bert' named in adapter_config.json "
        "(base_model_name_or_path) does not exist on this machine" in err
    )
    assert (
        "hint: name the base model here: `--base-model NAME_OR_FOLDER`, or model.name in the --config" in err
    )
    # the override, on the same output folder
    code, err = _run(
        world, monkeypatch, capsys, "--adapter", str(adapter), "--base-model", str(world["model"]), out=out
    )
    assert code == 0, err
    rec = json.loads((out / "bench.json").read_text())["probe"]["adapter"]
    assert rec["base_model"] == str(world["model"])
    assert rec["base_model_source"] == (
        "config model.name (the adapter's adapter_config.json names '/home/someone/models/tiny-bert')"
    )


def test_a_hub_base_that_cannot_be_loaded_names_the_override(world, tmp_path, monkeypatch, capsys):
    adapter = _moved(world, tmp_path, "someone/tiny-bert-sentiment")
    code, err = _run(world, monkeypatch, capsys, "--adapter", str(adapter))
    assert code == 2
    assert "cannot load the base model 'someone/tiny-bert-sentiment' for the adapter" in err
    assert "--base-model NAME_OR_FOLDER" in err


def test_an_adapter_that_names_no_base(world, tmp_path, monkeypatch, capsys):
    adapter = _moved(world, tmp_path, "")
    code, err = _run(world, monkeypatch, capsys, "--adapter", str(adapter))
    assert code == 2
    assert "adapter_config.json names no base model (base_model_name_or_path is empty)" in err


def test_wrong_shapes_name_the_first_module(world, tmp_path, monkeypatch, capsys):
    import transformers

    wide = transformers.BertConfig(vocab_size=32, hidden_size=48, num_hidden_layers=2, num_attention_heads=2,
                                   intermediate_size=37, max_position_embeddings=64, num_labels=2)  # fmt: skip
    adapter = _save_seqcls_adapter(tmp_path / "wide", transformers.BertForSequenceClassification(wide))
    args = ("--adapter", str(adapter), "--base-model", str(world["model"]))
    code, err = _run(world, monkeypatch, capsys, *args)
    assert code == 2
    assert f"{adapter / 'adapter_model.safetensors'}: does not fit the base model {world['model']}: " in err
    assert (
        "module bert.encoder.layer.0.attention.output.dense: lora_B·lora_A is (48, 48), "
        "the base model's Linear needs (32, 32)" in err
    )
    assert "hint: the adapter was trained on another model" in err


def test_another_architecture_names_a_module_the_base_lacks(world, tmp_path, monkeypatch, capsys):
    adapter = build_llama_rslora(tmp_path / "llama").folder
    code, err = _run(
        world, monkeypatch, capsys, "--adapter", str(adapter), "--base-model", str(world["model"])
    )
    assert code == 2
    assert "module model.layers.0.mlp.down_proj: the base model has no such module" in err
    assert "the base here is a BertForSequenceClassification" in err


def test_a_head_for_another_number_of_labels(world, monkeypatch, capsys):
    code, err = _run(world, monkeypatch, capsys, "--adapter", str(world["three_labels"]))
    assert code == 2
    assert (
        "the adapter's head does not fit the task: classifier.bias is (3,), the base model needs (2,) "
        "(2 labels)" in err
    )
    assert "hint: the head's first dimension is the number of classes" in err


def test_retrain_without_data_or_budget_is_refused_up_front(world, tmp_path, monkeypatch, capsys):
    methods = {"methods": {"uniform_median": ["truncate", "retrain"]}}
    config = _with_config(world, tmp_path, compression=methods)
    code, err = _run(world, monkeypatch, capsys, "--adapter", str(world["adapter"]), config=config)
    assert code == 2
    assert (
        "with probe.adapter, uniform_median_retrain need(s) training, but the config lacks a train budget "
        "(train.steps) and training data (task.train_size, or task.eval_split and task.split to train on)"
    ) in err
    config = _with_config(world, tmp_path, compression=methods, train={"steps": 5})
    code, err = _run(world, monkeypatch, capsys, "--adapter", str(world["adapter"]), config=config)
    assert code == 2
    assert "but the config lacks training data (task.train_size" in err


def test_a_pinned_sha256_that_differs(world, tmp_path, monkeypatch, capsys):
    config = _with_config(world, tmp_path, probe={"adapter_sha256": "0" * 64})
    code, err = _run(world, monkeypatch, capsys, "--adapter", str(world["adapter"]), config=config)
    assert code == 2
    assert f"probe.adapter_sha256 is {'0' * 64}, but adapter_model.safetensors has sha256 " in err


def test_a_lora_key_that_contradicts_the_adapter(world, tmp_path, monkeypatch, capsys):
    config = _with_config(world, tmp_path, lora={"probe_r": 16})
    code, err = _run(world, monkeypatch, capsys, "--adapter", str(world["adapter"]), config=config)
    assert code == 2
    assert "lora.probe_r is 16, but the adapter's adapter_config.json says 4" in err


def test_a_model_folder_is_not_an_adapter(world, monkeypatch, capsys):
    code, err = _run(world, monkeypatch, capsys, "--adapter", str(world["model"]))
    assert code == 2
    assert "is a full model folder, not a PEFT adapter: no adapter_config.json" in err


def test_labels_the_config_does_not_list(world, tmp_path, monkeypatch, capsys):
    config = _with_config(world, tmp_path, task={"labels": ["neg", "positive"]})
    code, err = _run(world, monkeypatch, capsys, "--adapter", str(world["adapter"]), config=config)
    assert code == 2
    assert "column 'label' has the label 'pos', which task.labels does not list ('neg', 'positive')" in err
