"""The bench config: defaults, YAML loading, every error at once with its key path, the hash."""

from __future__ import annotations

import pytest

from rankbench.bench.config import BenchConfig, load_config
from rankbench.bench.config_doc import DOCS, commented_yaml
from rankbench.cli import main
from rankbench.errors import RankbenchError


def test_defaults_are_valid_and_hash_is_stable():
    a, b = BenchConfig(), BenchConfig.from_dict({})
    assert a == b
    assert a.config_hash() == b.config_hash()
    assert len(a.config_hash()) == 64


def test_hash_changes_with_the_experiment_but_not_the_executor():
    base = BenchConfig()
    seed = BenchConfig.from_dict({"train": {"seed": 43}})
    executor = BenchConfig.from_dict({"executor": {"cpus_per_task": 1}})
    assert seed.config_hash() != base.config_hash()
    assert executor.config_hash() == base.config_hash()
    assert "executor" not in base.experiment_dict()


def test_every_error_is_reported_at_once_with_its_key_path(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "train:\n  steps: -3\n  bogus: 1\nlora:\n  alpha: x\ncompression:\n  variants: [uniform_median, nope]\n"
    )
    with pytest.raises(RankbenchError) as info:
        load_config(path)
    text = info.value.render()
    assert str(path) in text
    for expected in (
        "train.steps: expected >= 1, got -3",
        "train.bogus: unknown key",
        "lora.alpha: expected a finite number, got 'x'",
        "compression.variants[1]: expected one of",
    ):
        assert expected in text
    assert "hint: `rankbench init-config`" in text


def test_type_errors_name_the_expected_type():
    with pytest.raises(
        RankbenchError, match=r"train.steps: expected an integer up to 2,147,483,647, got 1.5"
    ):
        BenchConfig.from_dict({"train": {"steps": 1.5}})
    with pytest.raises(RankbenchError, match=r"task.probe_gate: expected a mapping"):
        BenchConfig.from_dict({"task": {"probe_gate": 3}})
    with pytest.raises(RankbenchError, match=r"compression.methods.uniform_median: unknown method 'retrian'"):
        BenchConfig.from_dict({"compression": {"methods": {"uniform_median": ["retrian"]}}})


def test_the_rank_rule_is_checked_with_the_config():
    with pytest.raises(RankbenchError, match=r"compression.rule: unknown rule 'energi'"):
        BenchConfig.from_dict({"compression": {"rule": "energi:0.9"}})


def test_overrides_beat_the_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  seed: 7\n  steps: 11\n")
    cfg = load_config(path, {"train.seed": 9})
    assert (cfg.train.seed, cfg.train.steps) == (9, 11)


@pytest.mark.parametrize(
    "text, message",
    [
        ("train: [1, 2\n", "not valid YAML"),
        ("- a\n- b\n", "expected a mapping with sections"),
    ],
)
def test_bad_yaml_files(tmp_path, text, message):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(RankbenchError, match=message):
        load_config(path)


def test_missing_file():
    with pytest.raises(RankbenchError, match="config file not found"):
        load_config("/nonexistent/c.yaml")


def test_init_config_documents_every_key_and_loads_back_to_the_defaults(tmp_path, capsys):
    path = tmp_path / "c.yaml"
    assert main(["init-config", str(path)]) == 0
    assert load_config(path) == BenchConfig()
    # one comment per key, so the file documents everything the dataclasses define
    n_keys = sum(
        1 for line in path.read_text().splitlines() if line.strip() and not line.lstrip().startswith("#")
    )
    assert n_keys == len(DOCS)
    assert main(["init-config", str(path)]) == 2
    assert "file exists" in capsys.readouterr().err
    assert commented_yaml() == path.read_text()


def test_eval_batch_size_follows_the_device_unless_set():
    import torch

    from rankbench.bench.device import CPU_EVAL_BATCH, GPU_EVAL_BATCH, eval_batch_size

    auto = load_config(None, {})
    assert auto.eval.batch_size is None
    assert eval_batch_size(auto, torch.device("cpu")) == CPU_EVAL_BATCH == 32
    assert eval_batch_size(auto, torch.device("cuda", 0)) == GPU_EVAL_BATCH == 128
    fixed = load_config(None, {"eval.batch_size": 7})
    assert eval_batch_size(fixed, torch.device("cuda", 0)) == 7
    with pytest.raises(RankbenchError, match="eval.batch_size"):
        load_config(None, {"eval.batch_size": 0})


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "train.steps",
            2**70,
            r"train.steps: expected an integer up to 2,147,483,647, got 1180591620717411303424",
        ),
        ("lora.probe_r", 2**40, r"lora.probe_r: expected an integer up to 2,147,483,647"),
        ("train.learning_rate", float("inf"), r"train.learning_rate: expected a finite number, got inf"),
        ("lora.alpha", float("nan"), r"lora.alpha: expected a finite number, got nan"),
    ],
)
def test_absurd_numbers_are_refused_up_front(key, value, message):
    # found by benchmarks/fuzz_readers.py: these passed validation and would only fail deep in a run
    with pytest.raises(RankbenchError, match=message):
        load_config(None, {key: value})
