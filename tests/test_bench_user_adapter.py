"""`rankbench run --adapter`: the bench on an adapter the user trained elsewhere with plain PEFT.

The world: a tiny random BERT, the user's train CSV and a held-out test CSV; the adapter is trained on
the train CSV by a bare PEFT + torch loop (tests/helpers/tiny_bench.py), then benched on the test CSV
through the CLI. Bad inputs stop with exit 2 and a message before any stage runs.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml

from helpers.schemas import assert_valid
from helpers.tiny_bench import make_sentiment_csv, make_tiny_bert, train_user_adapter
from rankbench.cli import main

pytest.importorskip("peft")

TRUNCATED = {"uniform_median", "uniform_p90", "per_layer", "per_layer_shuffled", "random_subspace"}


def _tree_hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _config(root: Path, name: str = "bench.yaml", **sections) -> Path:
    cfg = {
        "model": {"max_length": 16},
        "task": {"dataset": str(root / "test.csv"), "eval_size": 300, "probe_gate": {"min_value": 0.6}},
        "eval": {"batch_size": 64, "tolerance": 0.05},
    }
    for section, values in sections.items():
        cfg.setdefault(section, {}).update(values)
    path = root / name
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def _run(args: list[str], root: Path, monkeypatch) -> int:
    monkeypatch.setenv("RANKBENCH_CACHE", str(root / "cache"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    return main(["run", *args, "--quiet"])


def _bench_on(world, config: Path, out: Path, monkeypatch) -> dict:
    """The bench of the world's adapter under ``config`` into ``out``: must exit 0; its bench.json."""
    args = ["--adapter", str(world["adapter"]), "--config", str(config), "--output", str(out)]
    assert _run(args, world["root"], monkeypatch) == 0
    return json.loads((out / "bench.json").read_text())


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("user_adapter")
    make_tiny_bert(root / "tiny-bert")
    make_sentiment_csv(root / "train.csv", 600, seed=1)
    make_sentiment_csv(root / "test.csv", 400, seed=2)
    adapter = train_user_adapter(root / "my-adapter", root / "tiny-bert", root / "train.csv")
    before = _tree_hashes(adapter)
    config = _config(root)
    out = root / "run"
    mp = pytest.MonkeyPatch()
    try:
        code = _run(["--adapter", str(adapter), "--config", str(config), "--output", str(out)], root, mp)
    finally:
        mp.undo()
    assert code == 0
    doc = json.loads((out / "bench.json").read_text())
    return {"root": root, "adapter": adapter, "config": config, "out": out, "doc": doc, "before": before}


def test_the_bench_runs_on_the_users_adapter(world):
    doc, out = world["doc"], world["out"]
    assert doc["probe"]["source"] == "user_adapter"
    assert doc["probe"]["train"] is None
    assert set(doc["compressed"]) == TRUNCATED  # no train budget given: truncations only
    assert {v["method"] for v in doc["compressed"].values()} == {"truncate"}
    assert doc["compressed"]["uniform_median"]["param_reduction"] > 0
    assert doc["probe"]["rank"] == 8 and doc["probe"]["params"] > 0
    assert doc["probe_quality_gate"]["passed"] is True
    assert (out / "probe" / "adapter" / "adapter_model.safetensors").is_file()
    assert (out / "audit" / "audit.json").is_file()
    assert "timings" in doc and "probe_import" in doc["timings"]
    assert "the user's own, not trained here" in (out / "bench.md").read_text()
    assert_valid(doc, "bench")


def test_provenance_names_the_adapter_its_sha256_and_config(world):
    adapter, doc = world["adapter"], world["doc"]
    rec = doc["probe"]["adapter"]
    weights = adapter / "adapter_model.safetensors"
    assert rec["path"] == str(adapter.resolve())
    assert rec["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert rec["adapter_config"] == json.loads((adapter / "adapter_config.json").read_text())
    assert rec["base_model"] == str(world["root"] / "tiny-bert")
    assert rec["base_model_source"] == "adapter_config.json base_model_name_or_path"
    assert rec["label_order"] == ["neg", "pos"] and rec["label_order_source"] == "sorted label values"
    resolved = doc["config_metadata"]["resolved_config"]
    assert resolved["probe"] == {"adapter": str(adapter.resolve()), "adapter_sha256": rec["sha256"]}
    assert resolved["lora"]["probe_r"] == 8 and resolved["lora"]["alpha"] == 16
    assert doc["protocol_invariants"]["train_eval_disjoint"] is None  # trained elsewhere: unknown
    # the copy the bench audits and truncates is byte-identical to the user's
    assert (
        world["out"] / "probe" / "adapter" / "adapter_model.safetensors"
    ).read_bytes() == weights.read_bytes()


def test_the_users_folder_is_never_modified(world):
    assert _tree_hashes(world["adapter"]) == world["before"]
    assert sorted(world["before"]) == ["README.md", "adapter_config.json", "adapter_model.safetensors"]


def test_predictions_match_peft_on_the_eval_items(world):
    """Every prediction of the benched adapter equals PEFT's own forward on the same rows."""
    import csv

    import torch
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    root = world["root"]
    rows = list(csv.DictReader((root / "test.csv").read_text().splitlines()))
    preds = [
        json.loads(x) for x in (world["out"] / "probe_eval" / "predictions.jsonl").read_text().splitlines()
    ]
    assert len(preds) == 300
    base = AutoModelForSequenceClassification.from_pretrained(str(root / "tiny-bert"), num_labels=2)
    model = PeftModel.from_pretrained(base, str(world["adapter"])).eval()
    tok = AutoTokenizer.from_pretrained(str(root / "tiny-bert"))
    texts = [rows[int(p["item_id"])]["text"] for p in preds]
    with torch.no_grad():
        enc = tok(texts, padding=True, truncation=True, max_length=16, return_tensors="pt")
        theirs = model(**enc).logits.argmax(-1).tolist()
    assert [p["pred"] for p in preds] == theirs
    assert [p["label"] for p in preds] == [
        ["neg", "pos"].index(rows[int(p["item_id"])]["label"]) for p in preds
    ]


def _perturb(folder: Path) -> None:
    """New bytes for the weights: every tensor scaled by 1.5 (the same keys and shapes)."""
    from safetensors.torch import load_file, save_file

    path = folder / "adapter_model.safetensors"
    save_file({k: v * 1.5 for k, v in load_file(str(path)).items()}, str(path), metadata={"format": "pt"})


def test_resume_and_another_adapter_on_the_same_folder(world, tmp_path, monkeypatch, capsys):
    root, small = (
        world["root"],
        _config(tmp_path, task={"dataset": str(world["root"] / "test.csv"), "eval_size": 100}),
    )
    mine = tmp_path / "mine"
    shutil.copytree(world["adapter"], mine)
    args = ["--adapter", str(mine), "--config", str(small), "--output", str(tmp_path / "run")]
    assert _run(args, root, monkeypatch) == 0
    capsys.readouterr()
    monkeypatch.delenv("RANKBENCH_QUIET", raising=False)
    assert main(["run", *args]) == 0  # the same adapter: resumed, nothing redone
    err = capsys.readouterr().err
    assert "resuming" in err and "importing" not in err and "evaluating" not in err
    _perturb(mine)  # the same path, other bytes: refused like another config
    assert _run(args, root, monkeypatch) == 2
    err = capsys.readouterr().err
    assert "holds a run of another config (differs in: probe.adapter_sha256)" in err
    assert "Traceback" not in err
    # another adapter folder on the world's run
    other = ["--adapter", str(mine), "--config", str(world["config"]), "--output", str(world["out"])]
    assert _run(other, root, monkeypatch) == 2
    assert "differs in: probe.adapter, probe.adapter_sha256" in capsys.readouterr().err


def test_the_label_order_comes_from_task_labels(world, tmp_path, monkeypatch):
    """A head's class order is part of the adapter: reversing task.labels flips every verdict of it."""
    config = _config(
        tmp_path,
        task={
            "dataset": str(world["root"] / "test.csv"),
            "labels": ["pos", "neg"],
            "probe_gate": {"min_value": 0.0},
        },
        compression={"variants": ["uniform_median"]},
    )
    doc = _bench_on(world, config, tmp_path / "run", monkeypatch)
    assert doc["probe"]["adapter"]["label_order"] == ["pos", "neg"]
    assert doc["probe"]["adapter"]["label_order_source"] == "config: task.labels"
    assert doc["probe"]["accuracy"] == pytest.approx(1 - world["doc"]["probe"]["accuracy"])


def test_retrain_runs_when_the_budget_and_training_data_are_given(world, tmp_path, monkeypatch):
    methods = {"uniform_median": ["truncate", "retrain", "truncate+finetune"]}
    config = _config(
        tmp_path,
        task={"dataset": str(world["root"] / "test.csv"), "train_size": 80},
        train={"steps": 20, "learning_rate": 5e-3},
        compression={"variants": ["uniform_median"], "methods": methods, "finetune_steps": 5},
    )
    doc = _bench_on(world, config, tmp_path / "run", monkeypatch)
    assert set(doc["compressed"]) == {"uniform_median", "uniform_median_retrain", "uniform_median_finetuned"}
    retrain = doc["compressed"]["uniform_median_retrain"]["build"]["train"]
    assert retrain["steps"] == 20
    assert retrain["lora"]["target_modules"] == sorted(
        world["doc"]["probe"]["adapter"]["adapter_config"]["target_modules"]
    )
    assert retrain["lora"]["r"] == doc["compressed"]["uniform_median"]["rank"]
    assert doc["env"]["dataset_info"]["split_sizes"]["train"] == 80


def test_retrain_adapts_the_modules_of_an_adapter_whose_targets_are_a_pattern(world, tmp_path, monkeypatch):
    """target_modules as a regex string (PEFT allows it): retraining adapts exactly the adapter's modules."""
    from rankbench.adapters.reader import open_adapter

    mine = tmp_path / "pattern"
    shutil.copytree(world["adapter"], mine)
    config = json.loads((mine / "adapter_config.json").read_text())
    config["target_modules"] = r".*\.(query|key|value|dense)"
    (mine / "adapter_config.json").write_text(json.dumps(config))
    with open_adapter(mine) as adapter:
        modules = list(adapter.pair_names)
    cfg = _config(
        tmp_path,
        task={"dataset": str(world["root"] / "test.csv"), "train_size": 80},
        train={"steps": 5},
        compression={"variants": ["uniform_median"], "methods": {"uniform_median": ["retrain"]}},
    )
    out = tmp_path / "run"
    args = ["--adapter", str(mine), "--config", str(cfg), "--output", str(out)]
    assert _run(args, world["root"], monkeypatch) == 0
    doc = json.loads((out / "bench.json").read_text())
    assert doc["config_metadata"]["resolved_config"]["lora"]["target_modules"] is None
    assert doc["compressed"]["uniform_median_retrain"]["build"]["train"]["lora"]["target_modules"] == modules
    assert len(modules) == 13  # 2 layers x (query, key, value, 3 dense) + the pooler's dense


def test_a_campaign_over_seeds_benches_the_same_adapter(world, tmp_path, monkeypatch):
    cfg = _config(
        tmp_path,
        task={"dataset": str(world["root"] / "test.csv"), "eval_size": 100, "probe_gate": {"min_value": 0.0}},
        compression={"variants": ["uniform_median"]},
    )
    out = tmp_path / "campaign"
    args = ["--adapter", str(world["adapter"]), "--config", str(cfg), "--seeds", "1,2", "--output", str(out)]
    assert _run(args, world["root"], monkeypatch) == 0
    docs = [json.loads((out / f"seed_{s}" / "bench.json").read_text()) for s in (1, 2)]
    assert [d["probe"]["adapter"]["sha256"] for d in docs] == [world["doc"]["probe"]["adapter"]["sha256"]] * 2
    assert docs[0]["probe"]["n_eval_items"] == docs[1]["probe"]["n_eval_items"] == 100
    assert_valid(json.loads((out / "bench_aggregate.json").read_text()), "bench_aggregate")


def test_report_rebuild_gives_the_same_bench_json(world, tmp_path):
    """The user-adapter run's bench.json (probe_import timing, the adapter's provenance) from its records."""
    out = tmp_path / "rebuilt"
    assert main(["report", str(world["out"]), "--rebuild", "--output", str(out)]) == 0
    for name in ("bench.json", "bench.md"):
        assert (out / name).read_bytes() == (world["out"] / name).read_bytes(), name
