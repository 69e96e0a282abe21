"""summary.findings: each kind from hand-built records, present and absent, in words and numbers.

The records are made item by item (helpers.judged) and judged by the project's own statistics, so the
intervals are those a bench would write. The issue's BBC/MiniLM case is reproduced with its counts.
"""

from __future__ import annotations

import math

import jsonschema
import numpy as np

from helpers.judged import bbc_compressed, entry, scores
from rankbench.artifacts.findings import (
    aggregate_findings,
    bench_findings,
    items_to_resolve,
    seeds_to_resolve,
)
from rankbench.artifacts.variant_block import aggregate_variant
from rankbench.keys import FINDING_KINDS
from rankbench.schemas import load_schema
from rankbench.stats import evaluate_policy, load_policy, minimum_detectable_effect

PROBE = {"accuracy": 0.922, "rank": 16, "rule": "energy:0.9"}


def found(compressed: dict, tolerance: float = 0.01, probe=PROBE, gate_passed: bool = True) -> list[dict]:
    return bench_findings(compressed, probe, tolerance=tolerance, confidence=0.95, gate_passed=gate_passed)


def by_kind(findings: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for f in findings:
        out.setdefault(f["kind"], []).append(f)
    return out


def test_the_issue_bbc_case_explains_the_passing_control():
    comp = bbc_compressed()
    rs = comp["random_subspace"]
    assert (rs["accuracy"], rs["ci"]["variant_only_correct"], rs["ci"]["probe_only_correct"]) == (
        0.956,
        26,
        9,
    )
    assert (round(rs["ci"]["low"], 3), round(rs["ci"]["high"], 3)) == (0.011, 0.059)  # the issue's interval
    kinds = by_kind(found(comp))
    [control] = kinds["control_passes"]
    assert control["variant"] == "random_subspace"
    assert "a random subspace of this adapter's rank at r=8 does as well as the probe" in control["text"]
    assert "the compression verdicts stand, but they do not show that the audit chose well" in control["text"]
    assert "[+0.011, +0.059]" in control["text"]
    [better] = kinds["better_than_probe"]
    assert better["variant"] == "random_subspace"
    assert "r=8 of the probe's r=16" in better["text"]
    assert "scores 0.956 against the probe's 0.922" in better["text"]
    assert "26 items only it got right, 9 only the probe" in better["text"]
    assert "lies wholly above 0" in better["text"] and "over-trained (over-fit)" in better["text"]
    assert (better["variant_only_correct"], better["probe_only_correct"], better["n_items"]) == (26, 9, 500)
    assert better["interval"] == [rs["ci"]["low"], rs["ci"]["high"]]


def test_the_bbc_case_names_the_variant_that_is_the_probe():
    [same] = by_kind(found(bbc_compressed()))["variant_is_probe"]
    assert same["variant"] == "uniform_p90" and same["param_reduction"] == 0.0
    assert "keeps the probe's rank in every module (r=16, 0% fewer LoRA parameters)" in same["text"]
    assert "counts it as a control" in same["text"] and "rule energy:0.9" in same["text"]


def test_findings_come_in_the_order_of_their_kinds():
    kinds = [f["kind"] for f in found(bbc_compressed())]
    assert kinds == ["control_passes", "better_than_probe", "variant_is_probe", "underpowered"]
    assert kinds == sorted(kinds, key=FINDING_KINDS.index)


def test_none_of_those_when_controls_fail_and_every_variant_saves_parameters():
    comp = {
        "uniform_median": entry("uniform_median", b=5, c=6, n=4000, probe_right=3600),
        "random_subspace": entry("random_subspace", b=5, c=200, n=4000, probe_right=3600, role="control"),
        "per_layer_shuffled": entry(
            "per_layer_shuffled", b=10, c=90, n=4000, probe_right=3600, role="control", rank=None
        ),
    }
    assert comp["random_subspace"]["verdict"] == "FAIL" and comp["uniform_median"]["verdict"] == "PASS"
    assert found(comp) == []


def test_a_passing_shuffled_control_says_the_allocation_carries_no_signal():
    comp = {
        "per_layer_shuffled": entry("per_layer_shuffled", b=6, c=5, n=4000, probe_right=3600, role="control")
    }
    [f] = found(comp)
    assert f["kind"] == "control_passes" and "per-module allocation carries no signal" in f["text"]


def test_better_than_probe_needs_the_whole_interval_above_zero():
    near = entry("uniform_median", b=17, c=9, n=500)  # Δ > 0 but the interval reaches below 0
    assert near["delta_vs_probe"] > 0 and near["ci"]["low"] < 0
    assert "better_than_probe" not in by_kind(found({"uniform_median": near}, tolerance=0.05))
    clear = entry("uniform_median", b=40, c=9, n=500)
    [f] = by_kind(found({"uniform_median": clear}, tolerance=0.05))["better_than_probe"]
    assert f["variant"] == "uniform_median" and "(truncate, r=8 of the probe's r=16)" in f["text"]


def test_retrain_and_truncation_that_disagree_both_ways():
    kw = {"n": 2000, "probe_right": 1800, "tolerance": 0.01}
    trunc_pass = entry("uniform_median", b=4, c=5, **kw)
    retrain_fail = entry("uniform_median", b=3, c=90, method="retrain", **kw)
    comp = {"uniform_median": trunc_pass, "uniform_median_retrain": retrain_fail}
    [f] = by_kind(found(comp))["retrain_fails_truncation_passes"]
    assert f["variant"] == "uniform_median_retrain" and f["truncate_variant"] == "uniform_median"
    assert "Compress the trained adapter rather than retrain" in f["text"]
    assert "r=8" in f["text"] and f"Δ {retrain_fail['delta_vs_probe']:+.3f}" in f["text"]
    reverse = {
        "per_layer": entry("per_layer", b=3, c=90, rank=None, **kw),
        "per_layer_retrain": entry("per_layer", b=4, c=5, method="retrain", rank=None, **kw),
    }
    [g] = by_kind(found(reverse))["truncation_fails_retrain_passes"]
    assert (
        g["variant"] == "per_layer_retrain"
        and "Retrain at the smaller rank rather than truncate" in g["text"]
    )
    agree = {
        "uniform_median": trunc_pass,
        "uniform_median_retrain": entry("uniform_median", b=5, c=4, method="retrain", **kw),
    }
    assert found(agree) == []


def test_underpowered_says_how_many_items_resolve_the_tolerance():
    comp = {"uniform_median": entry("uniform_median", b=15, c=18, n=500, probe_right=450)}
    mde = comp["uniform_median"]["mde"]
    assert mde > 0.01
    [f] = found(comp)
    assert (f["kind"], f["variant"], f["n_items"], f["mde"]) == ("underpowered", "uniform_median", 500, mde)
    assert f["items_needed"] == math.ceil(500 * (mde / 0.01) ** 2)
    assert f"about {f['items_needed']:,} eval items would resolve it" in f["text"]
    assert "(33 of 500 items)" in f["text"] and "shown all the same" not in f["text"]
    # reference: the same rate of disagreement on that many items gives a margin within the tolerance
    n = f["items_needed"]
    scaled = entry(
        "uniform_median", b=round(15 * n / 500), c=round(18 * n / 500), n=n, probe_right=round(450 * n / 500)
    )
    assert scaled["mde"] <= 0.01  # Tango's se is not exactly 1/√n: "about", on the safe side
    smaller = entry("uniform_median", b=round(15 * 0.8 * n / 500), c=round(18 * 0.8 * n / 500), n=round(0.8 * n),
                    probe_right=round(450 * 0.8 * n / 500))  # fmt: skip
    assert smaller["mde"] > 0.01


def test_not_underpowered_when_every_compression_resolves_the_tolerance():
    comp = {
        "uniform_median": entry("uniform_median", b=2, c=3, n=500, probe_right=450, tolerance=0.03),
        "random_subspace": entry("random_subspace", b=2, c=400, n=500, probe_right=450, role="control"),
    }
    assert comp["uniform_median"]["mde"] <= 0.03
    assert comp["random_subspace"]["mde"] > 0.03  # a control's blindness does not make the run underpowered
    assert "underpowered" not in by_kind(found(comp, tolerance=0.03))


def test_items_to_resolve_is_the_verdicts_margin_scaled():
    se = 0.01
    mde = minimum_detectable_effect(se)
    n = items_to_resolve(1000, mde, 0.02)
    assert (
        minimum_detectable_effect(se * math.sqrt(1000 / n))
        <= 0.02
        < minimum_detectable_effect(se * math.sqrt(1000 / (n - 1)))
    )


def test_no_findings_when_the_gate_failed():
    assert found(bbc_compressed(), gate_passed=False) == []


def test_seeds_to_resolve_is_the_smallest_count_by_brute_force():
    se, tol = 0.006, 0.01
    s = seeds_to_resolve(3, se, 2.0, tol, 0.05)
    margin = [minimum_detectable_effect(se * math.sqrt(3 / k), alpha=0.05, df=k - 1) for k in range(4, 60)]
    assert s == 4 + next(i for i, m in enumerate(margin) if m <= tol)
    assert seeds_to_resolve(3, 10.0, 2.0, tol, 0.05) is None  # beyond MAX_SEEDS


def _campaign(
    variants: dict[str, tuple[str, str, list[tuple[int, int]]]], n=2000, tol=0.01
) -> tuple[dict, dict]:
    """Aggregate blocks from per-seed discordant counts, judged by the default policy."""
    policy = load_policy()
    compressed = {}
    for key, (method, role, counts) in variants.items():
        recs = []
        for seed, (b, c) in enumerate(counts):
            probe, var = scores(n, 1700, b, c)
            recs.append({"seed": seed, "rank": 4, "accuracy": float(var.mean()),
                         "delta_vs_probe": float(var.mean() - probe.mean()), "param_reduction": 0.75,
                         "verdict": "PASS", "probe_scores": probe, "variant_scores": var})  # fmt: skip
        block = aggregate_variant(recs, tolerance=tol, confidence=0.95, policy=policy, n_boot=200)
        block.update(variant=key.removesuffix("_retrain"), method=method, role=role)
        block["policy_result"] = evaluate_policy(policy, block).to_dict()
        compressed[key] = block
    probe = {"rank": 16, "accuracy": {"mean": 0.85}}
    return compressed, probe


def test_campaign_findings_read_the_decision_interval_and_the_policy():
    compressed, probe = _campaign(
        {
            "uniform_median": ("truncate", "compression", [(20, 22), (18, 21), (25, 24)]),
            "uniform_median_retrain": ("retrain", "compression", [(10, 70), (12, 80), (9, 75)]),
            "random_subspace": ("truncate", "control", [(19, 20), (22, 21), (20, 20)]),
        }
    )
    assert compressed["random_subspace"]["policy_result"]["passed"]
    kinds = by_kind(aggregate_findings(compressed, probe, tolerance=0.01, confidence=0.95, n_seeds=3))
    [control] = kinds["control_passes"]
    assert "meets the policy" in control["text"] and "decision interval over 3 seeds" in control["text"]
    [pair] = kinds["retrain_fails_truncation_passes"]
    assert pair["variant"] == "uniform_median_retrain"


def test_campaign_underpowered_gives_the_seeds_that_would_resolve_it():
    compressed, probe = _campaign(
        {"uniform_median": ("truncate", "compression", [(60, 50), (40, 75), (70, 45)])}
    )
    power = compressed["uniform_median"]["power"]
    assert power["mde"] > 0.01
    [f] = aggregate_findings(compressed, probe, tolerance=0.01, confidence=0.95, n_seeds=3)
    assert f["kind"] == "underpowered" and f["n_seeds"] == 3
    expected = seeds_to_resolve(3, power["se"], power["df"], 0.01, 0.05)
    assert f["seeds_needed"] == expected
    assert (f"about {expected} seeds would resolve it" if expected else "More than 200 seeds") in f["text"]


def test_findings_validate_against_both_schemas_and_a_wrong_kind_does_not():
    items = found(bbc_compressed())
    for name in ("bench", "bench_aggregate"):
        schema = load_schema(name)
        assert schema["$defs"]["finding"]["properties"]["kind"]["enum"] == list(FINDING_KINDS)
        assert "findings" in schema["properties"]["summary"]["required"]
        validator = jsonschema.Draft202012Validator(
            {"$defs": schema["$defs"], **schema["properties"]["summary"]["properties"]["findings"]}
        )
        assert list(validator.iter_errors(items)) == []
        bad = [dict(items[0], kind="surprise")]
        assert any("surprise" in e.message for e in validator.iter_errors(bad))
        assert list(validator.iter_errors([{"kind": "underpowered", "variant": None}]))  # no text


def test_scores_helper_makes_the_counts_it_was_asked_for():
    probe, var = scores(500, 461, 26, 9)
    assert (int(np.sum((var == 1) & (probe == 0))), int(np.sum((probe == 1) & (var == 0)))) == (26, 9)
    assert (probe.mean(), var.mean()) == (0.922, 0.956)


def test_underpowered_says_when_a_blind_variants_loss_is_shown_anyway():
    comp = {
        "uniform_median": entry("uniform_median", b=1, c=2, n=300, probe_right=270, tolerance=0.05),
        "uniform_median_retrain": entry(
            "uniform_median", b=5, c=34, n=300, probe_right=270, method="retrain", tolerance=0.05
        ),
    }
    retrain = comp["uniform_median_retrain"]
    assert retrain["mde"] > 0.05 and retrain["ci"]["high"] < -0.05
    [under] = by_kind(found(comp, tolerance=0.05))["underpowered"]
    assert under["variants"] == ["uniform_median_retrain"]
    assert (
        "(uniform_median_retrain: the whole interval lies below −0.05, so that loss is shown all the same.)"
        in under["text"]
    )
