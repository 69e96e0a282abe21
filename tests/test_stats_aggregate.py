"""aggregate_variant(): one variant's block of bench_aggregate.json from per-seed records."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers.seed_format import seed_example, superset_misses
from rankbench.artifacts.variant_block import aggregate_variant
from rankbench.errors import RankbenchError
from rankbench.stats import (
    hierarchical_bootstrap_delta,
    load_policy,
    paired_delta,
    statistical_power,
)

TOL = 0.05


def _record(seed, probe, variant, verdict, **extra):
    probe, variant = np.asarray(probe, float), np.asarray(variant, float)
    return {
        "seed": seed,
        "accuracy": variant.mean(),
        "delta_vs_probe": variant.mean() - probe.mean(),
        "param_reduction": 0.5,
        "verdict": verdict,
        "probe_scores": probe,
        "variant_scores": variant,
        **extra,
    }


def _records():
    # seed 42: 10 items, probe 8/10, variant identical → Δ 0; no discordant item, so the interval is
    #          ±(1 − 0.025^(1/10)) = ±0.3084971: ten agreeing items cannot show a 0.05 margin → FAIL
    p42 = [1] * 8 + [0] * 2
    # seed 43: 100 items, probe 70/100, variant fixes one → Δ 0.01; s = √((1 − 100·0.01²)/99) = 0.1,
    #          se = 0.01, ci_low = 0.01 − 1.984217·0.01 = −0.0098422 > −0.05 → PASS
    p43 = [1] * 70 + [0] * 30
    v43 = [1] * 71 + [0] * 29
    # seed 44: 10 items, probe 8/10, variant breaks one → Δ −0.1; se = 0.1, ci_low = −0.326 → FAIL
    v44 = [1] * 7 + [0] * 3
    return [
        _record(42, p42, p42, "FAIL", rank=8),
        _record(43, p43, v43, "PASS", rank=8),
        _record(44, p42, v44, "FAIL", rank=8),
    ]


def test_hand_worked_block():
    block = aggregate_variant(_records(), tolerance=TOL, n_boot=500)
    # accuracy 0.8, 0.71, 0.7: mean 0.7366667; Σ squared deviations 0.0060667; std = √(0.0060667/2) = 0.0550757
    assert block["accuracy"]["mean"] == pytest.approx(0.7366667, abs=1e-7)
    assert block["accuracy"]["std"] == pytest.approx(0.0550757, abs=1e-7)
    # Δ 0, 0.01, −0.1: mean −0.03; Σ squared deviations 0.0009 + 0.0016 + 0.0049 = 0.0074; std = √0.0037
    assert block["delta_vs_probe"]["mean"] == pytest.approx(-0.03, abs=1e-12)
    assert block["delta_vs_probe"]["std"] == pytest.approx(0.0608276, abs=1e-7)
    assert block["param_reduction"] == {
        "mean": 0.5,
        "std": 0.0,
        "values": [0.5] * 3,
        "min": 0.5,
        "max": 0.5,
        "n": 3,
    }
    assert block["pass_rate"] == pytest.approx(1 / 3)
    assert block["verdict_distribution"] == {"PASS": 1, "FAIL": 2}
    assert (block["worst_seed"], block["worst_seed_delta"]) == (44, pytest.approx(-0.1))
    assert (block["rank"], block["n_seeds"], block["seeds"]) == (8, 3, [42, 43, 44])
    # t-interval of Δ: se = 0.0608276/√3 = 0.0351188, t_{0.975,2} = 4.302653, half 0.1511040
    assert block["delta_ci_t"]["ci_low"] == pytest.approx(-0.1811040, abs=1e-6)
    assert block["delta_ci_t"]["ci_high"] == pytest.approx(0.1211040, abs=1e-6)
    # the recorded verdicts are what the scores give; no item ids were given
    assert block["notes"] == ["item ids unknown: seeds treated as evaluated on disjoint items"]
    # per seed: Tango intervals; discordant counts b (only variant) and c (only probe)
    assert block["discordant"]["variant_only_correct"] == [0, 1, 0]
    assert block["discordant"]["probe_only_correct"] == [0, 0, 1]
    assert (block["discordant"]["variant_only_total"], block["discordant"]["probe_only_total"]) == (1, 1)
    assert block["per_seed_verdicts"] == ["FAIL", "PASS", "FAIL"]


def test_pooled_parts_are_the_library_functions():
    records = _records()
    block = aggregate_variant(records, tolerance=TOL, n_boot=500, boot_seed=3)
    direct = hierarchical_bootstrap_delta(
        [(r["probe_scores"], r["variant_scores"]) for r in records], n_boot=500, seed=3
    )
    assert block["delta_ci_pooled"] == direct.to_dict()
    assert block["delta_ci_pooled"]["delta"] == pytest.approx(-0.03)  # (0 + 0.01 − 0.1)/3
    # P(all three picks are seed 44) = 1/27 > 2.5%, so the lower bound sits near −0.1: FAIL at −0.05
    assert block["pooled_verdict"]["verdict"] == "FAIL"
    assert block["pooled_verdict"]["rule"] == "PASS iff lower bound of 95% CI of Δ > −0.05"
    # power comes from the decision interval (its se and df), not from the bootstrap
    d = block["decision_ci"]
    assert block["power"] == statistical_power(d["se"], TOL, n_seeds=3, df=d["df"]).to_dict()
    # the t-interval decides: 4.302653·0.0351188 = 0.1511040 beats the item-level floor
    # z·√(Σ seₛ²)/3 with the seeds' own Tango se
    per_seed = [paired_delta(r["probe_scores"], r["variant_scores"]) for r in records]
    floor_half = 1.959964 * np.sqrt(sum(p.se**2 for p in per_seed)) / 3
    assert floor_half < 0.1511040
    assert d["se"] == pytest.approx(0.0351188, abs=1e-7) and d["low"] == pytest.approx(-0.1811040, abs=1e-6)
    assert d["df"] == 2 and not d["floor_binds"] and d["item_sharing"] == "unknown"
    assert block["decision_verdict"]["verdict"] == "FAIL" and d["low"] < -TOL


def test_block_is_a_json_ready_superset_of_the_seed_format():
    # The variant block of the seed bench_aggregate.json (compressed.uniform_median), key by key.
    seed_block = seed_example("bench_aggregate.json")["compressed"]["uniform_median"]
    assert {"rank", "pass_rate", "verdict_distribution", "accuracy", "delta_vs_probe"} <= set(seed_block)
    block = json.loads(json.dumps(aggregate_variant(_records(), tolerance=TOL, n_boot=200)))
    assert superset_misses(seed_block, block) == []


def test_numpy_seeds_and_reproducibility():
    records = _records()
    for r in records:
        r["seed"] = np.int64(r["seed"])
    first = aggregate_variant(records, tolerance=TOL, n_boot=200)
    assert json.dumps(first) == json.dumps(aggregate_variant(records, tolerance=TOL, n_boot=200))


def test_single_seed_is_reported_as_weak():
    block = aggregate_variant(_records()[1:2], tolerance=TOL, n_boot=200)
    assert block["delta_ci_t"]["ci_low"] is None and block["delta_vs_probe"]["std"] is None
    assert block["decision_ci"]["low"] is None and block["power"]["power"] is None
    assert block["decision_verdict"]["verdict"] == "FAIL"
    assert block["delta_ci_pooled"]["notes"][0].startswith("1 seed")


def test_a_recorded_verdict_the_scores_do_not_reproduce_is_noted():
    records = _records()
    records[2]["verdict"] = "PASS"
    block = aggregate_variant(records, tolerance=TOL, n_boot=200)
    assert block["notes"][0] == "seed 44: recorded verdict PASS, but its scores give FAIL at tolerance 0.05"
    assert block["pass_rate"] == pytest.approx(1 / 3)  # verdicts are recomputed at the tolerance in force


def test_a_tolerance_other_than_the_recorded_one_redecides_every_seed():
    block = aggregate_variant(_records(), tolerance=0.5, n_boot=200)
    # at 0.5 every seed passes: Tango lower bounds −0.278 (seed 42), > −0.04 (43), about −0.4 (44)
    assert block["per_seed_verdicts"] == ["PASS", "PASS", "PASS"] and block["tolerance"] == 0.5
    assert sum("recorded verdict FAIL" in n for n in block["notes"]) == 2


def test_item_ids_are_used_and_the_policy_probability_is_reported():
    records = _records()
    for r in records:
        r["item_ids"] = [f"{r['seed']}-{i}" for i in range(len(r["probe_scores"]))]
    block = aggregate_variant(records, tolerance=TOL, n_boot=200, policy=load_policy())
    assert block["decision_ci"]["item_sharing"] == "independent"
    sim = block["policy_pass_probability"]
    assert 0.0 <= sim["probability"] <= 1.0 and sim["n_sim"] == 0 and sim["mc_se"] is None  # computed


def test_records_without_rank_or_with_mixed_ranks_have_no_rank():
    records = _records()
    records[0]["rank"] = 4
    assert "rank" not in aggregate_variant(records, tolerance=TOL, n_boot=200)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda rs: rs[1].pop("probe_scores"), r"seed record #1 \(seed 43\) lacks key\(s\): probe_scores"),
        (lambda rs: rs[2].update(verdict="pass"), r"seed record #2 \(seed 44\) has verdict 'pass'"),
        (lambda rs: rs[2].update(seed=42), r"seed record #2 \(seed 42\): seed 42 appears twice"),
        (
            lambda rs: rs[0].update(delta_vs_probe=0.01),
            r"seed record #0 \(seed 42\): delta_vs_probe is 0.01 "
            r"but its scores give 0",
        ),
        (
            lambda rs: rs[1].update(variant_scores=np.ones(99)),
            r"\(seed 43\): probe has 100 items but variant",
        ),
        (lambda rs: rs.__setitem__(0, "x"), r"seed record #0 must be a mapping, got str"),
    ],
)
def test_bad_records_are_refused(mutate, message):
    records = _records()
    mutate(records)
    with pytest.raises(RankbenchError, match=message):
        aggregate_variant(records, tolerance=TOL, n_boot=200)


def test_empty_and_bad_arguments_are_refused():
    with pytest.raises(RankbenchError, match=r"no per-seed records to aggregate"):
        aggregate_variant([], tolerance=TOL)
    with pytest.raises(RankbenchError, match=r"tolerance must be a finite number ≥ 0"):
        aggregate_variant(_records(), tolerance=-1)
