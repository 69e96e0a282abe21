"""The run folder as a user meets it through `rankbench run`: a failed first run leaves the folder
reusable, and rerunning a finished run rewrites nothing (bench.json byte for byte)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.tiny_bench import tiny_bench_config

pytestmark = pytest.mark.slow


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "RANKBENCH_CACHE": str(root / "cache"), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "rankbench", *args], env=env, capture_output=True, text=True, timeout=600
    )


def test_a_failed_first_run_leaves_the_folder_to_the_fixed_config(tmp_path):
    pytest.importorskip("peft")
    good = tiny_bench_config(tmp_path, train={"steps": 40}, task={"probe_gate": {"min_value": 0.0}})
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text().replace("sentiment.csv", "sentiment-typo.csv"))
    out = tmp_path / "run"
    failed = _cli(tmp_path, "run", "--config", str(bad), "--output", str(out))
    assert failed.returncode == 2 and "dataset file not found" in failed.stderr, failed.stderr
    assert (out / "run_config.json").is_file()  # the failed run had claimed the folder
    fixed = _cli(tmp_path, "run", "--config", str(good), "--output", str(out))
    assert fixed.returncode == 0, fixed.stderr
    assert "another config" not in fixed.stderr and "starting bench" in fixed.stderr
    # the transformers load report (a new head's weights "MISSING") is not the user's concern
    assert "LOAD REPORT" not in fixed.stderr and "MISSING" not in fixed.stderr

    first = {n: (out / n).read_bytes() for n in ("bench.json", "bench.md")}
    again = _cli(tmp_path, "run", "--config", str(good), "--output", str(out))
    assert again.returncode == 0, again.stderr
    assert {n: (out / n).read_bytes() for n in first} == first  # timestamp and machine facts kept
    # and once a stage has finished, the folder is locked to its config
    refused = _cli(tmp_path, "run", "--config", str(bad), "--output", str(out))
    assert refused.returncode == 2 and "another config (differs in: task.dataset)" in refused.stderr
