"""`rankbench run` with an evaluator its stages cannot drive yet is refused up front, not silently scored
by the profile's own metric."""

from __future__ import annotations

from helpers.tiny_bench import tiny_bench_config
from rankbench.cli import main


def test_an_lm_eval_harness_is_refused_before_anything_runs(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RANKBENCH_CACHE", str(tmp_path / "cache"))
    config = tiny_bench_config(tmp_path, eval={"harness": "lm_eval", "tasks": ["some_task"]})
    out = tmp_path / "run"
    assert main(["run", "--config", str(config), "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert "eval.harness 'lm_eval' is not available in `rankbench run` yet" in err
    assert "rankbench compare" in err and "Traceback" not in err
    assert not out.exists()  # nothing trained, no folder claimed
