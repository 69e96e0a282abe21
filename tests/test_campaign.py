"""Multi-seed campaigns on the tiny BERT: local, through a local 2-CPU Ray, and `rankbench aggregate`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from helpers.schemas import assert_valid
from helpers.seed_format import check_superset
from helpers.tiny_bench import tiny_bench_config
from rankbench.cli import main

SEEDS = "42,43,44"
CAMPAIGN = {
    "compression": {"variants": ["uniform_median", "uniform_p90"], "methods": {}},
    "executor": {"cpus_per_task": 1},  # the same torch threads locally and in Ray: identical numbers
}


def _numbers(doc: dict) -> dict:
    return {
        k: (
            v["accuracy"]["values"],
            v["delta_vs_probe"]["values"],
            v["delta_ci_pooled"]["ci_low"],
            v["decision_ci"]["low"],
            v["pass_rate"],
            v["policy_result"]["passed"],
        )
        for k, v in doc["compressed"].items()
    }


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    root = tmp_path_factory.mktemp("campaign")
    mp = pytest.MonkeyPatch()
    mp.setenv("RANKBENCH_CACHE", str(root / "cache"))
    config = tiny_bench_config(root, **CAMPAIGN)
    out = root / "local"
    assert main(["run", "--config", str(config), "--seeds", SEEDS, "--output", str(out), "--quiet"]) == 0
    yield {
        "root": root,
        "config": config,
        "out": out,
        "doc": json.loads((out / "bench_aggregate.json").read_text()),
    }
    mp.undo()


def test_campaign_layout_and_seed_format(campaign):
    out, doc = campaign["out"], campaign["doc"]
    for seed in (42, 43, 44):
        assert (out / f"seed_{seed}" / "bench.json").is_file()
    assert doc["seeds"] == [42, 43, 44] and doc["n_seeds"] == 3
    assert_valid(doc, "bench_aggregate")
    for seed in (42, 43, 44):
        assert_valid(json.loads((out / f"seed_{seed}" / "bench.json").read_text()), "bench")
    assert (out / "bench_aggregate.md").read_text().startswith("# rankbench campaign: 3 seeds")
    assert doc["policy"]["name"] == "rankbench-default"
    assert doc["summary"]["statistical_power"] in ("sufficient", "marginal", "insufficient")
    assert doc["summary"]["power_rule"]
    assert doc["summary"]["confidence_level"] in ("low", "medium", "high")
    assert doc["summary"]["tolerance"] == doc["compressed"]["uniform_median"]["tolerance"]
    md = (out / "bench_aggregate.md").read_text()
    assert "Decision CI" in md and "Only variant / only probe" in md and "Decision interval: t-interval" in md


def test_aggregate_is_a_superset_of_the_seed_format(campaign):
    check_superset("bench_aggregate.json", campaign["out"] / "bench_aggregate.json")


def test_aggregate_numbers_follow_from_the_seed_runs(campaign):
    import numpy as np

    out, doc = campaign["out"], campaign["doc"]
    for key, block in doc["compressed"].items():
        per_seed = [
            json.loads((out / f"seed_{s}" / "bench.json").read_text())["compressed"][key]
            for s in (42, 43, 44)
        ]
        accs = [v["accuracy"] for v in per_seed]
        assert block["accuracy"]["values"] == pytest.approx(accs)
        assert block["accuracy"]["std"] == pytest.approx(np.std(accs, ddof=1))
        assert block["worst_seed_delta"] == pytest.approx(min(v["delta_vs_probe"] for v in per_seed))
        assert block["pass_rate"] == sum(v["verdict"] == "PASS" for v in per_seed) / 3
        # the decision interval: t across the per-seed Δ with S − 1 df (the seeds' eval items are their
        # own draws; shared ones widen it), never narrower than the plain t-interval
        d = block["decision_ci"]
        assert {"low", "high", "confidence", "method", "df"} <= set(d)
        assert (d["df"] is None) == d["floor_binds"]  # None: the item-level floor decided (normal)
        assert d["df"] is None or d["df"] >= 2
        assert d["method"].startswith("t-interval across per-seed Δ")
        assert d["low"] <= block["delta_ci_t"]["ci_low"] + 1e-12
        assert block["delta_ci_t"]["mean"] == pytest.approx(np.mean([v["delta_vs_probe"] for v in per_seed]))
        assert block["discordant"]["variant_only_correct"] == [
            v["ci"]["variant_only_correct"] for v in per_seed
        ]
        assert (block["decision_verdict"]["verdict"] == "PASS") == (d["low"] > -block["tolerance"])
        assert 0.0 <= block["policy_pass_probability"]["probability"] <= 1.0


def test_finished_seeds_are_skipped_on_a_rerun(campaign, capsys):
    before = (campaign["out"] / "seed_43" / "bench.json").stat().st_mtime_ns
    assert (
        main(["run", "--config", str(campaign["config"]), "--seeds", SEEDS, "--output", str(campaign["out"])])
        == 0
    )
    assert "seeds already finished, skipped: 42, 43, 44" in capsys.readouterr().err
    assert (campaign["out"] / "seed_43" / "bench.json").stat().st_mtime_ns == before


def test_ray_executor_gives_identical_numbers(campaign):
    pytest.importorskip("ray")
    out = campaign["root"] / "ray"
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        assert (
            main(
                [
                    "run",
                    "--config",
                    str(campaign["config"]),
                    "--seeds",
                    SEEDS,
                    "--output",
                    str(out),
                    "--executor",
                    "ray",
                    "--quiet",
                ]
            )
            == 0
        )
    finally:
        ray.shutdown()
    ray_doc = json.loads((out / "bench_aggregate.json").read_text())
    assert _numbers(ray_doc) == _numbers(campaign["doc"])
    for seed in (42, 43, 44):
        a = (campaign["out"] / f"seed_{seed}" / "probe_eval" / "predictions.jsonl").read_text()
        b = (out / f"seed_{seed}" / "probe_eval" / "predictions.jsonl").read_text()
        assert a == b


def test_aggregate_command_reproduces_the_campaign(campaign, tmp_path):
    runs = [str(campaign["out"] / f"seed_{s}") for s in (42, 43, 44)]
    assert main(["aggregate", *runs, "--output", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "bench_aggregate.json").read_text())
    assert _numbers(doc) == _numbers(campaign["doc"])


def test_mismatched_configs_are_refused(campaign, tmp_path, capsys):
    import yaml

    data = yaml.safe_load(campaign["config"].read_text())
    data["train"]["learning_rate"] = 4e-3
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump(data))
    assert (
        main(["run", "--config", str(other), "--seed", "45", "--output", str(tmp_path / "s45"), "--quiet"])
        == 0
    )
    runs = [str(campaign["out"] / "seed_42"), str(tmp_path / "s45")]
    assert main(["aggregate", *runs, "--output", str(tmp_path / "agg")]) == 2
    err = capsys.readouterr().err
    assert "runs differ in more than the seed: train.learning_rate" in err
    assert "Traceback" not in err


def test_smoke_runs_are_excluded_unless_asked(campaign, tmp_path, capsys):
    smoke = tmp_path / "smoke46"
    assert (
        main(
            [
                "run",
                "--config",
                str(campaign["config"]),
                "--seed",
                "46",
                "--smoke",
                "--output",
                str(smoke),
                "--quiet",
            ]
        )
        == 0
    )
    runs = [str(campaign["out"] / f"seed_{s}") for s in (42, 43)] + [str(smoke)]
    assert main(["aggregate", *runs, "--output", str(tmp_path / "a")]) == 0
    doc = json.loads((tmp_path / "a" / "bench_aggregate.json").read_text())
    assert doc["seeds"] == [42, 43]
    assert any("excluded 1 smoke run(s)" in n for n in doc["summary"]["notes"])
    # counted on request, the smoke run's smaller budgets make it another config: refused, named
    assert main(["aggregate", *runs, "--output", str(tmp_path / "b"), "--include-smoke"]) == 2
    assert "runs differ in more than the seed" in capsys.readouterr().err


def test_a_policy_file_changes_the_outcome(campaign, tmp_path):
    import yaml

    from rankbench.stats import load_policy

    shipped = load_policy()
    data = yaml.safe_load(Path(shipped.source).read_text())
    data["name"], data["version"] = "impossible", "9"
    data["clauses"]["min_seeds"] = 10  # no 3-seed campaign can meet this
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data))
    runs = [str(campaign["out"] / f"seed_{s}") for s in (42, 43, 44)]
    assert main(["aggregate", *runs, "--output", str(tmp_path / "strict"), "--policy", str(path)]) == 0
    doc = json.loads((tmp_path / "strict" / "bench_aggregate.json").read_text())
    assert doc["policy"]["name"] == "impossible"
    assert all(not v["policy_result"]["passed"] for v in doc["compressed"].values())
    assert all("min_seeds" in v["policy_result"]["failed"] for v in doc["compressed"].values())
    best = doc["summary"]["best_compression"]  # same keys, all null: the seed format's type is kept
    assert best["variant"] is None and best["param_reduction_mean"] is None
    assert best["reason"] == "no compression variant meets the policy"
    assert doc["summary"]["defensible_claims"] is False


def test_report_rerenders_both_artifacts(campaign, capsys):
    assert main(["report", str(campaign["out"])]) == 0
    assert capsys.readouterr().out == (campaign["out"] / "bench_aggregate.md").read_text()
    assert main(["report", str(campaign["out"] / "seed_42" / "bench.json")]) == 0
    assert capsys.readouterr().out == (campaign["out"] / "seed_42" / "bench.md").read_text()


def test_report_refuses_other_json(tmp_path, capsys):
    (tmp_path / "x.json").write_text('{"kind": "audit"}')
    assert main(["report", str(tmp_path / "x.json")]) == 2
    assert "not a rankbench artifact (kind='audit')" in capsys.readouterr().err
    shutil.rmtree(tmp_path)


def test_report_rebuild_gives_the_same_aggregate(campaign, tmp_path):
    """bench_aggregate.json rebuilt from the seed folders it lists equals the campaign's, byte for byte."""
    out = tmp_path / "rebuilt"
    assert main(["report", str(campaign["out"]), "--rebuild", "--output", str(out)]) == 0
    for name in ("bench_aggregate.json", "bench_aggregate.md"):
        assert (out / name).read_bytes() == (campaign["out"] / name).read_bytes(), name
    assert_valid(json.loads((out / "bench_aggregate.json").read_text()), "bench_aggregate")


def test_a_moved_campaign_rebuilds_from_its_own_seed_folders(campaign, tmp_path):
    moved = tmp_path / "moved"
    shutil.copytree(campaign["out"], moved)
    doc = json.loads((moved / "bench_aggregate.json").read_text())
    for r in doc["runs"]:
        r["path"] = f"gone/seed_{r['seed']}"  # written from another working directory
    (moved / "bench_aggregate.json").write_text(json.dumps(doc))
    assert main(["report", str(moved), "--rebuild"]) == 0
    rebuilt = json.loads((moved / "bench_aggregate.json").read_text())
    assert [r["path"] for r in rebuilt["runs"]] == [str(moved / f"seed_{s}") for s in (42, 43, 44)]
    assert rebuilt["compressed"] == campaign["doc"]["compressed"]
    assert rebuilt["summary"] == campaign["doc"]["summary"]
