"""The ladder inside a bench: rungs from largest to smallest, tested in that fixed order, stopping at the
first failure; the ladder block rebuilt from the run folder; config checks; the serving cap."""

from __future__ import annotations

import json
import shutil

import pytest

from helpers.schemas import assert_valid
from helpers.tiny_bench import tiny_bench_config
from rankbench.bench.config import BenchConfig
from rankbench.bench.variants import rung_jobs, variant_jobs
from rankbench.cli import main
from rankbench.errors import RankbenchError

RUNGS = ["rank:4", "rank:2", "rank:1"]


def _config(**compression) -> BenchConfig:
    return BenchConfig.from_dict({"lora": {"probe_r": 8}, "compression": compression})


def test_default_ladder_is_the_allowed_ranks_below_the_probe_largest_first():
    cfg = _config(ladder=["default"])
    assert cfg.compression.ladder == ["rank:4", "rank:2", "rank:1"]
    cfg = _config(ladder=["default"], allowed_ranks=[2, 6, 8])
    assert cfg.compression.ladder == ["rank:6", "rank:2"]


@pytest.mark.parametrize(
    ("ladder", "message"),
    [
        (["rank:2", "rank:4"], "largest to smallest"),
        (["rank:4", "rank:4"], "listed twice"),
        (["rank:8"], "below lora.probe_r=8"),
        (["rank:4", "budget:0.25"], "mixes rung kinds"),
        (["budget:1.5"], r"in \(0, 1\)"),
        (["per_layer"], "expected rank:K, budget:FRACTION or budget_params:N"),
    ],
)
def test_a_bad_ladder_is_refused_naming_the_key(ladder, message):
    with pytest.raises(RankbenchError, match=message) as info:
        _config(ladder=ladder)
    assert "compression.ladder" in info.value.message


def test_with_a_ladder_the_rungs_replace_the_menus_compressions_and_the_controls_stay():
    cfg = _config(ladder=RUNGS)
    jobs = variant_jobs(cfg.compression)
    assert [j.key for j in rung_jobs(jobs)] == ["rank_4", "rank_2", "rank_1"]
    assert [j.key for j in jobs if j.rung is None] == ["per_layer_shuffled", "random_subspace"]
    assert {j.row.base_plan for j in rung_jobs(jobs)} == set(RUNGS)


def _bench(root, monkeypatch, name: str, *, tolerance: float, extra: list[str] = ()) -> dict:
    monkeypatch.setenv("RANKBENCH_CACHE", str(root / "cache"))
    config = tiny_bench_config(
        root,
        compression={"variants": ["random_subspace"], "methods": {}},
        eval={"batch_size": 64, "tolerance": tolerance},
    )
    out = root / name
    args = ["run", "--config", str(config), "--output", str(out), "--quiet", "--ladder", ",".join(RUNGS)]
    assert main([*args, *extra]) == 0
    return {"out": out, "doc": json.loads((out / "bench.json").read_text())}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("ladder")


def test_the_sequence_stops_at_the_first_failure_and_evaluates_nothing_after_it(root, monkeypatch):
    # 300 items cannot resolve a tolerance of 1e-4: the largest rung FAILs whatever it scores
    run = _bench(root, monkeypatch, "stops", tolerance=1e-4)
    ladder = run["doc"]["ladder"]
    assert [r["status"] for r in ladder["rungs"]] == ["failed", "not evaluated", "not evaluated"]
    assert ladder["smallest_safe"] is None and ladder["claim"].startswith("No rung is claimed")
    assert ladder["evaluated"] == 1 and ladder["evaluations_saved"] == 2
    assert (run["out"] / "variants" / "rank_4").is_dir()
    assert not (run["out"] / "variants" / "rank_2").exists()  # never built, never evaluated
    assert not (run["out"] / "variants" / "rank_1").exists()
    assert set(run["doc"]["compressed"]) == {"rank_4", "random_subspace"}  # the control still ran
    assert_valid(run["doc"], "bench")
    md = (run["out"] / "bench.md").read_text()
    assert md.index("## Smallest safe rank") < md.index("## Probe quality gate")  # the claim opens it
    assert ladder["claim"] in (run["out"] / "bench.html").read_text()


def test_evaluate_all_evaluates_the_rest_outside_the_claim(root, monkeypatch):
    run = _bench(root, monkeypatch, "all", tolerance=1e-4, extra=["--evaluate-all"])
    ladder = run["doc"]["ladder"]
    assert [r["status"] for r in ladder["rungs"]] == ["failed", "outside the claim", "outside the claim"]
    assert [r["in_claim"] for r in ladder["rungs"]] == [True, False, False]
    assert ladder["smallest_safe"] is None and ladder["evaluations_saved"] == 0
    assert all((run["out"] / "variants" / k).is_dir() for k in ("rank_4", "rank_2", "rank_1"))


def test_all_rungs_pass_at_a_wide_tolerance_the_cap_removes_rungs_and_rebuild_is_identical(root, monkeypatch):
    run = _bench(root, monkeypatch, "capped", tolerance=0.5, extra=["--max-rank", "2"])
    ladder, out = run["doc"]["ladder"], run["out"]
    assert ladder["removed_by_cap"] == ["rank:4"] and ladder["max_rank"] == 2
    assert ladder["order"] == ["rank:2", "rank:1"] and not (out / "variants" / "rank_4").exists()
    assert [r["status"] for r in ladder["rungs"]] == ["passed", "passed"]
    assert ladder["smallest_safe"] == "rank:1"
    for rung in ladder["rungs"]:  # the block agrees with the rung's own entry
        entry = run["doc"]["compressed"][rung["variant"]]
        assert rung["verdict"] == entry["verdict"] and rung["interval"]["low"] == entry["ci"]["low"]
    assert_valid(run["doc"], "bench")
    before = {n: (out / n).read_bytes() for n in ("bench.json", "bench.md")}
    assert main(["report", str(out), "--rebuild"]) == 0
    assert {n: (out / n).read_bytes() for n in before} == before
    # a rung whose stage was lost (a kill mid-ladder) is built again by the same command
    shutil.rmtree(out / "variants" / "rank_1")
    again = _bench(root, monkeypatch, "capped", tolerance=0.5, extra=["--max-rank", "2"])
    assert again["doc"]["ladder"]["rungs"] == ladder["rungs"]


def test_a_campaign_ladder_applies_the_fixed_sequence_to_the_pooled_verdicts(root, monkeypatch):
    monkeypatch.setenv("RANKBENCH_CACHE", str(root / "cache"))
    config = tiny_bench_config(
        root,
        compression={"variants": [], "methods": {}},
        eval={"batch_size": 64, "tolerance": 0.5},
    )
    out = root / "campaign"
    args = ["run", "--config", str(config), "--output", str(out), "--quiet", "--seeds", "42,43,44"]
    assert main([*args, "--ladder", "rank:4,rank:2,rank:1"]) == 0
    doc = json.loads((out / "bench_aggregate.json").read_text())
    ladder = doc["ladder"]
    assert_valid(doc, "bench_aggregate")
    for seed in (42, 43, 44):  # every seed evaluated every rung: the campaign's claim needs them all
        seed_doc = json.loads((out / f"seed_{seed}" / "bench.json").read_text())
        assert seed_doc["ladder"]["evaluate_all"] is True
        assert all(r["evaluated"] for r in seed_doc["ladder"]["rungs"])
    for rung in ladder["rungs"]:  # each rung is decided by the claim policy over the seeds
        block = doc["compressed"][rung["variant"]]
        assert rung["verdict"] == ("PASS" if block["policy_result"]["passed"] else "FAIL")
        assert rung["interval"]["low"] == block["decision_ci"]["low"]
    assert [r["status"] for r in ladder["rungs"]] == ["passed", "passed", "passed"]
    assert ladder["smallest_safe"] == "rank:1" and "claim policy over the seeds" in ladder["claim"]
    md = (out / "bench_aggregate.md").read_text()
    assert ladder["claim"] in md and md.index("## Smallest safe rank") < md.index(
        ladder["rungs"][0]["variant"] + " "
    )
