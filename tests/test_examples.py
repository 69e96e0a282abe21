"""The shipped example configs validate: a user who copies one gets a bench, not a list of errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from rankbench.bench.config import load_config

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.yaml"))


def test_there_are_examples():
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_config_validates(path):
    cfg = load_config(path, {})
    assert cfg.train.steps >= 1 and cfg.config_hash()


def test_the_gpu_example_is_three_epochs_of_the_full_split():
    cfg = load_config(Path(__file__).resolve().parents[1] / "examples" / "minilm_full_split_gpu.yaml", {})
    assert cfg.task.train_size is None  # every item not held out
    assert cfg.train.steps * cfg.train.batch_size == 3 * 10_752
